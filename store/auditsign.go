package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// CheckpointAuditHead writes a checkpoint of the audit chain's current
// head. It first checks the events since the newest checkpoint (that they
// link to it and to each other and match their hashes), so no checkpoint
// ever covers a chain broken since then: that is an error wrapping
// audit.ErrBroken. An empty log is card.ErrNotFound. The head stays
// locked while sign runs, so no event slips in between. The store only
// keeps the checkpoint: sign (package audit) makes it.
func (s *DB) CheckpointAuditHead(ctx context.Context, sign func(upToID int64, hash []byte) (audit.Checkpoint, error)) (audit.Checkpoint, error) {
	var cp audit.Checkpoint
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var headID int64
		var headHash []byte
		if err := tx.QueryRowContext(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`+s.d.forUpdate).
			Scan(&headID, &headHash); err != nil {
			return fmt.Errorf("read chain head: %w", s.wrap(err))
		}
		if headID == 0 {
			return fmt.Errorf("%w: no audit events to sign", card.ErrNotFound)
		}
		if err := s.checkSinceCheckpoint(ctx, tx, headID, headHash); err != nil {
			return err
		}
		var err error
		if cp, err = sign(headID, headHash); err != nil {
			return err
		}
		if cp.UpToID != headID || !bytes.Equal(cp.Hash, headHash) || len(cp.Signature) == 0 {
			return fmt.Errorf("%w: the checkpoint does not sign the chain head", ErrInvalid)
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO audit_checkpoints (up_to_id, hash, signed_at, signature, cert)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			cp.UpToID, cp.Hash, s.d.timeArg(cp.SignedAt), cp.Signature, cp.Cert).Scan(&cp.ID)
		if err != nil {
			return fmt.Errorf("insert checkpoint: %w", s.wrap(err))
		}
		return nil
	})
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("checkpoint audit head: %w", err)
	}
	return cp, nil
}

// checkSinceCheckpoint checks, inside tx, the events from the newest
// checkpoint's event to the head. The checkpoint's own signature is not
// checked here (the store holds no trust list); audit verification does.
func (s *DB) checkSinceCheckpoint(ctx context.Context, tx *sql.Tx, headID int64, headHash []byte) error {
	var fromID int64
	fromHash := []byte{}
	err := tx.QueryRowContext(ctx, `SELECT up_to_id, hash FROM audit_checkpoints ORDER BY up_to_id DESC, id DESC LIMIT 1`).
		Scan(&fromID, &fromHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read newest checkpoint: %w", s.wrap(err))
	}
	if fromID > headID {
		return fmt.Errorf("%w: a checkpoint covers event %d but the chain ends at %d", audit.ErrBroken, fromID, headID)
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
				return fmt.Errorf("%w: event %d is not the one the newest checkpoint signed", audit.ErrBroken, fromID)
			}
			continue
		}
		first = false
		switch {
		case ev.ID != want:
			return fmt.Errorf("%w: event %d is missing", audit.ErrBroken, want)
		case !bytes.Equal(ev.PrevHash, prev):
			return fmt.Errorf("%w: event %d does not link to its predecessor", audit.ErrBroken, ev.ID)
		case !bytes.Equal(audit.Hash(prev, &ev), ev.Hash):
			return fmt.Errorf("%w: event %d was altered", audit.ErrBroken, ev.ID)
		}
		prev = ev.Hash
		want++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events since checkpoint: %w", s.wrap(err))
	}
	switch {
	case first && fromID > 0:
		return fmt.Errorf("%w: event %d, signed by the newest checkpoint, is missing", audit.ErrBroken, fromID)
	case want-1 != headID:
		return fmt.Errorf("%w: the chain head names event %d but the log ends at %d", audit.ErrBroken, headID, want-1)
	case !bytes.Equal(prev, headHash):
		return fmt.Errorf("%w: the chain head does not match event %d", audit.ErrBroken, headID)
	}
	return nil
}

func (s *DB) AuditCheckpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT id, up_to_id, hash, signed_at, signature, cert FROM audit_checkpoints ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		var c audit.Checkpoint
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

func (s *DB) LastAuditCheckpoint(ctx context.Context) (audit.Checkpoint, error) {
	var c audit.Checkpoint
	err := s.r.QueryRowContext(ctx, `SELECT id, up_to_id, hash, signed_at, signature, cert FROM audit_checkpoints
		ORDER BY up_to_id DESC, id DESC LIMIT 1`).
		Scan(&c.ID, &c.UpToID, &c.Hash, dbTime{&c.SignedAt}, &c.Signature, &c.Cert)
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("last audit checkpoint: %w", s.wrap(err))
	}
	return c, nil
}

func (s *DB) AuditChain(ctx context.Context, fn func(audit.Event) error) (int64, []byte, error) {
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
