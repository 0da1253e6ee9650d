package audit

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/store"
)

// Signer is what RunAuditSigner needs of the store; store.Store provides
// it.
type Signer interface {
	AuditEvents(ctx context.Context, cardID string, limit int) ([]store.AuditEvent, error)
	SignAuditHead(ctx context.Context, id *keys.Identity) (store.AuditCheckpoint, error)
	LastAuditCheckpoint(ctx context.Context) (store.AuditCheckpoint, error)
}

// shutdownTimeout bounds the final signature once ctx has ended.
const shutdownTimeout = 10 * time.Second

// RunAuditSigner signs the audit chain's head every interval when the log
// has events after the newest checkpoint, and once more when ctx ends, then
// returns. Run it in a goroutine and wait for it before closing the store,
// so the final checkpoint is written. Failures are logged (a broken chain
// at error level) and retried at the next tick.
func RunAuditSigner(ctx context.Context, st Signer, id *keys.Identity, every time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sign := func(ctx context.Context) {
		// Ask the store every time: another instance may have signed.
		var signed int64
		switch cp, err := st.LastAuditCheckpoint(ctx); {
		case err == nil:
			signed = cp.UpToID
		case !errors.Is(err, store.ErrNotFound):
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
		cp, err := st.SignAuditHead(ctx, id)
		switch {
		case errors.Is(err, store.ErrAuditBroken):
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
