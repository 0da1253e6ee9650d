package audit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
)

// Checkpointer is the log a checkpoint is written to; package store
// provides it.
type Checkpointer interface {
	AuditEvents(ctx context.Context, cardID string, limit int) ([]Event, error)
	LastAuditCheckpoint(ctx context.Context) (Checkpoint, error)
	// CheckpointAuditHead checks the chain since the newest checkpoint
	// and stores the checkpoint sign makes of its head, which stays
	// locked meanwhile.
	CheckpointAuditHead(ctx context.Context, sign func(upToID int64, hash []byte) (Checkpoint, error)) (Checkpoint, error)
}

// ErrNotPlatform: a checkpoint must be signed by the platform identity.
var ErrNotPlatform = errors.New("audit checkpoints are signed by the platform identity")

// Sign signs the head of the log's audit chain with the platform identity
// and stores the checkpoint. A chain broken since the newest checkpoint is
// an error wrapping ErrBroken, and nothing is signed.
func Sign(ctx context.Context, lg Checkpointer, id *keys.Identity, now time.Time) (Checkpoint, error) {
	if id == nil || id.Signer == nil || id.Cert == nil || !keys.IsPlatform(id.Cert) {
		return Checkpoint{}, ErrNotPlatform
	}
	return lg.CheckpointAuditHead(ctx, func(upToID int64, hash []byte) (Checkpoint, error) {
		cp := Checkpoint{UpToID: upToID, Hash: hash, SignedAt: now.UTC().Truncate(time.Second), Cert: id.Cert.Raw}
		sig, err := id.Signer.Sign(rand.Reader, cp.Message(), sm2.DefaultSM2SignerOpts)
		if err != nil {
			return Checkpoint{}, fmt.Errorf("sign audit checkpoint: %w", err)
		}
		cp.Signature = sig
		return cp, nil
	})
}

// shutdownTimeout bounds the final signature once ctx has ended.
const shutdownTimeout = 10 * time.Second

// RunAuditSigner signs the audit chain's head every interval when the log
// has events after the newest checkpoint, and once more when ctx ends, then
// returns. Run it in a goroutine and wait for it before closing the store,
// so the final checkpoint is written. Failures are logged (a broken chain
// at error level) and retried at the next tick.
func RunAuditSigner(ctx context.Context, st Checkpointer, id *keys.Identity, every time.Duration, now func() time.Time, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sign := func(ctx context.Context) {
		// Ask the store every time: another instance may have signed.
		var signed int64
		switch cp, err := st.LastAuditCheckpoint(ctx); {
		case err == nil:
			signed = cp.UpToID
		case !errors.Is(err, card.ErrNotFound):
			log.Warn("audit signer: read newest checkpoint", "err", err)
			return
		}
		evs, err := st.AuditEvents(ctx, "", 1)
		if err != nil {
			log.Warn("audit signer: read chain head", "err", err)
			return
		}
		if len(evs) == 0 || evs[0].ID <= signed {
			return
		}
		cp, err := Sign(ctx, st, id, now())
		switch {
		case errors.Is(err, ErrBroken):
			log.Error("audit signer: the audit chain is broken; not signing (run 'cardseal audit verify')", "err", err)
			return
		case err != nil:
			log.Warn("audit signer: sign chain head", "err", err)
			return
		}
		log.Info("audit chain head signed", "checkpoint", cp.ID, "event", cp.UpToID)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			sign(ctx)
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
			sign(sctx)
			cancel()
			return
		}
	}
}
