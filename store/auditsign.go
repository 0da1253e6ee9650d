package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/jilin-health/cardseal/keys"
)

// AuditCheckpoint is the platform's signed statement that the audit chain
// ended at event UpToID, whose hash was Hash, at SignedAt. An attacker with
// database access can edit an event and recompute every later hash, but
// cannot make the checkpoint's hash match the rewritten chain.
type AuditCheckpoint struct {
	ID        int64     // assigned by the store: 1, 2, 3, …
	UpToID    int64     // the newest audit event when signed
	Hash      []byte    // that event's Hash
	SignedAt  time.Time // UTC, whole seconds: the message carries RFC 3339
	Signature []byte    // SM2 over Message(), DER SEQUENCE{r, s}
	Cert      []byte    // the signing platform certificate, DER
}

// auditCheckpointLabel opens every checkpoint message; a new message
// format gets a new label.
const auditCheckpointLabel = "cardseal-audit-v1"

// Message returns the bytes the checkpoint's signature covers:
//
//	cardseal-audit-v1\n<UpToID>\n<lower-case hex Hash>\n<SignedAt, RFC 3339, UTC>\n
func (c AuditCheckpoint) Message() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%x\n%s\n", auditCheckpointLabel, c.UpToID, c.Hash,
		c.SignedAt.UTC().Format(time.RFC3339))
}

// AuditHash returns the hash an audit event must carry given the hash of
// its predecessor: SM3(prev || canonical encoding). Verifiers recompute
// the chain with it.
func AuditHash(prev []byte, ev *AuditEvent) []byte { return auditHash(prev, ev) }

// SignAuditHead signs the current head of the audit chain with the
// platform identity and stores the checkpoint. It first checks the events
// since the newest checkpoint (that they link to it and to each other and
// match their hashes), so it never signs a chain broken since then: that
// is an error wrapping ErrAuditBroken. An empty log is ErrNotFound. The
// head stays locked while signing, so no event slips in between.
func (s *sqlStore) SignAuditHead(ctx context.Context, id *keys.Identity) (AuditCheckpoint, error) {
	if id == nil || id.Signer == nil || id.Cert == nil || !keys.IsPlatform(id.Cert) {
		return AuditCheckpoint{}, fmt.Errorf("sign audit head: %w: a platform identity is required", ErrInvalid)
	}
	var cp AuditCheckpoint
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var headID int64
		var headHash []byte
		if err := tx.QueryRowContext(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`+s.d.forUpdate).
			Scan(&headID, &headHash); err != nil {
			return fmt.Errorf("read chain head: %w", s.wrap(err))
		}
		if headID == 0 {
			return fmt.Errorf("%w: no audit events to sign", ErrNotFound)
		}
		if err := s.checkSinceCheckpoint(ctx, tx, headID, headHash); err != nil {
			return err
		}
		cp = AuditCheckpoint{UpToID: headID, Hash: headHash, SignedAt: time.Now().UTC().Truncate(time.Second), Cert: id.Cert.Raw}
		sig, err := id.Signer.Sign(rand.Reader, cp.Message(), sm2.DefaultSM2SignerOpts)
		if err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		cp.Signature = sig
		err = tx.QueryRowContext(ctx, `INSERT INTO audit_checkpoints (up_to_id, hash, signed_at, signature, cert)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			cp.UpToID, cp.Hash, s.d.timeArg(cp.SignedAt), cp.Signature, cp.Cert).Scan(&cp.ID)
		if err != nil {
			return fmt.Errorf("insert checkpoint: %w", s.wrap(err))
		}
		return nil
	})
	if err != nil {
		return AuditCheckpoint{}, fmt.Errorf("sign audit head: %w", err)
	}
	return cp, nil
}

// checkSinceCheckpoint checks, inside tx, the events from the newest
// checkpoint's event to the head. The checkpoint's own signature is not
// checked here (the store holds no trust list); audit verification does.
func (s *sqlStore) checkSinceCheckpoint(ctx context.Context, tx *sql.Tx, headID int64, headHash []byte) error {
	var fromID int64
	fromHash := []byte{}
	err := tx.QueryRowContext(ctx, `SELECT up_to_id, hash FROM audit_checkpoints ORDER BY up_to_id DESC, id DESC LIMIT 1`).
		Scan(&fromID, &fromHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read newest checkpoint: %w", s.wrap(err))
	}
	if fromID > headID {
		return fmt.Errorf("%w: a checkpoint covers event %d but the chain ends at %d", ErrAuditBroken, fromID, headID)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_events WHERE id >= $1 ORDER BY id`, max(fromID, 1))
	if err != nil {
		return fmt.Errorf("read events since checkpoint: %w", s.wrap(err))
	}
	defer rows.Close()
	prev, want := fromHash, fromID+1
	first := true
	for rows.Next() {
		ev, err := scanAudit(rows)
		if err != nil {
			return fmt.Errorf("read events since checkpoint: %w", err)
		}
		if first && fromID > 0 {
			first = false
			if ev.ID != fromID || !bytes.Equal(ev.Hash, fromHash) {
				return fmt.Errorf("%w: event %d is not the one the newest checkpoint signed", ErrAuditBroken, fromID)
			}
			continue
		}
		first = false
		switch {
		case ev.ID != want:
			return fmt.Errorf("%w: event %d is missing", ErrAuditBroken, want)
		case !bytes.Equal(ev.PrevHash, prev):
			return fmt.Errorf("%w: event %d does not link to its predecessor", ErrAuditBroken, ev.ID)
		case !bytes.Equal(auditHash(prev, &ev), ev.Hash):
			return fmt.Errorf("%w: event %d was altered", ErrAuditBroken, ev.ID)
		}
		prev = ev.Hash
		want++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events since checkpoint: %w", s.wrap(err))
	}
	switch {
	case first && fromID > 0:
		return fmt.Errorf("%w: event %d, signed by the newest checkpoint, is missing", ErrAuditBroken, fromID)
	case want-1 != headID:
		return fmt.Errorf("%w: the chain head names event %d but the log ends at %d", ErrAuditBroken, headID, want-1)
	case !bytes.Equal(prev, headHash):
		return fmt.Errorf("%w: the chain head does not match event %d", ErrAuditBroken, headID)
	}
	return nil
}

func (s *sqlStore) AuditCheckpoints(ctx context.Context) ([]AuditCheckpoint, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT id, up_to_id, hash, signed_at, signature, cert FROM audit_checkpoints ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []AuditCheckpoint
	for rows.Next() {
		var c AuditCheckpoint
		if err := rows.Scan(&c.ID, &c.UpToID, &c.Hash, dbTime{&c.SignedAt}, &c.Signature, &c.Cert); err != nil {
			return nil, fmt.Errorf("audit checkpoints: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", s.wrap(err))
	}
	return out, nil
}

func (s *sqlStore) LastAuditCheckpoint(ctx context.Context) (AuditCheckpoint, error) {
	var c AuditCheckpoint
	err := s.r.QueryRowContext(ctx, `SELECT id, up_to_id, hash, signed_at, signature, cert FROM audit_checkpoints
		ORDER BY up_to_id DESC, id DESC LIMIT 1`).
		Scan(&c.ID, &c.UpToID, &c.Hash, dbTime{&c.SignedAt}, &c.Signature, &c.Cert)
	if err != nil {
		return AuditCheckpoint{}, fmt.Errorf("last audit checkpoint: %w", s.wrap(err))
	}
	return c, nil
}

func (s *sqlStore) AuditChain(ctx context.Context, fn func(AuditEvent) error) (int64, []byte, error) {
	// One read transaction: the events and the head are one snapshot, as
	// in VerifyAudit.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: s.d.snapshot})
	if err != nil {
		return 0, nil, fmt.Errorf("audit chain: %w", s.wrap(err))
	}
	defer func() { _ = tx.Rollback() }()
	var headID int64
	var headHash []byte
	if err := tx.QueryRowContext(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`).
		Scan(&headID, &headHash); err != nil {
		return 0, nil, fmt.Errorf("audit chain: read chain head: %w", s.wrap(err))
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_events ORDER BY id`)
	if err != nil {
		return 0, nil, fmt.Errorf("audit chain: %w", s.wrap(err))
	}
	defer rows.Close()
	for rows.Next() {
		ev, err := scanAudit(rows)
		if err != nil {
			return 0, nil, fmt.Errorf("audit chain: %w", err)
		}
		if err := fn(ev); err != nil {
			return 0, nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("audit chain: %w", s.wrap(err))
	}
	return headID, headHash, nil
}
