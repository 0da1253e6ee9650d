package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/jilin-health/cardseal/audit"
)

// appendAudit appends ev inside tx: it locks the chain head, assigns the
// next ID, links and hashes the event, and moves the head. Callers lock
// any card row before calling, so locks are always taken card → head.
func (s *DB) appendAudit(ctx context.Context, tx *sql.Tx, ev *audit.Event) (int64, error) {
	if ev.Action == "" || ev.Actor == "" {
		return 0, fmt.Errorf("audit: %w: actor and action are required", ErrInvalid)
	}
	if len(ev.Detail) > 0 && !json.Valid(ev.Detail) {
		return 0, fmt.Errorf("audit %s: %w: detail is not JSON", ev.Action, ErrInvalid)
	}
	var lastID int64
	var prev []byte
	if err := tx.QueryRowContext(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`+s.d.forUpdate).
		Scan(&lastID, &prev); err != nil {
		return 0, fmt.Errorf("audit: read chain head: %w", s.wrap(err))
	}
	if prev == nil {
		prev = []byte{}
	}
	ev.ID = lastID + 1
	ev.At = normTime(ev.At)
	if ev.At.IsZero() {
		ev.At = now()
	}
	ev.PrevHash = prev
	ev.Hash = audit.Hash(prev, ev)
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_events
		(id, at, actor, org_code, action, card_id, reason, detail, remote_addr, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		ev.ID, s.d.timeArg(ev.At), ev.Actor, ev.OrgCode, ev.Action, ev.CardID, ev.Reason,
		string(ev.Detail), ev.RemoteAddr, ev.PrevHash, ev.Hash)
	if err != nil {
		return 0, fmt.Errorf("audit: insert event %d: %w", ev.ID, s.wrap(err))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1`,
		ev.ID, ev.Hash); err != nil {
		return 0, fmt.Errorf("audit: move chain head: %w", s.wrap(err))
	}
	return ev.ID, nil
}

func (s *DB) AppendAudit(ctx context.Context, ev audit.Event) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("append audit event: %w", err)
	}
	return id, nil
}

const auditCols = `id, at, actor, org_code, action, card_id, reason, detail, remote_addr, prev_hash, hash`

func scanAudit(row interface{ Scan(...any) error }) (audit.Event, error) {
	var ev audit.Event
	var detail string
	err := row.Scan(&ev.ID, dbTime{&ev.At}, &ev.Actor, &ev.OrgCode, &ev.Action, &ev.CardID,
		&ev.Reason, &detail, &ev.RemoteAddr, &ev.PrevHash, &ev.Hash)
	if detail != "" {
		ev.Detail = json.RawMessage(detail)
	}
	return ev, err
}

func (s *DB) AuditEvents(ctx context.Context, cardID string, limit int) ([]audit.Event, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	q := `SELECT ` + auditCols + ` FROM audit_events ORDER BY id DESC LIMIT $1`
	args := []any{limit}
	if cardID != "" {
		q = `SELECT ` + auditCols + ` FROM audit_events WHERE card_id = $2 ORDER BY id DESC LIMIT $1`
		args = append(args, cardID)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit events: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		ev, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("audit events: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit events: %w", s.wrap(err))
	}
	return out, nil
}

func (s *DB) VerifyAudit(ctx context.Context) (int64, error) {
	// One read transaction, so the events and the head are one snapshot
	// (SQLite WAL readers and PostgreSQL REPEATABLE READ both give that).
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: s.d.snapshot})
	if err != nil {
		return 0, fmt.Errorf("verify audit: %w", s.wrap(err))
	}
	defer func() { _ = tx.Rollback() }()

	var headID int64
	var headHash []byte
	if err := tx.QueryRowContext(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`).
		Scan(&headID, &headHash); err != nil {
		return 0, fmt.Errorf("verify audit: read chain head: %w", s.wrap(err))
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_events ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("verify audit: %w", s.wrap(err))
	}
	defer rows.Close()
	prev := []byte{}
	want := int64(1)
	for rows.Next() {
		ev, err := scanAudit(rows)
		if err != nil {
			return 0, fmt.Errorf("verify audit: %w", err)
		}
		switch {
		case ev.ID != want:
			return want, fmt.Errorf("%w: event %d is missing (next is %d)", audit.ErrBroken, want, ev.ID)
		case !bytes.Equal(ev.PrevHash, prev):
			return ev.ID, fmt.Errorf("%w: event %d does not link to its predecessor", audit.ErrBroken, ev.ID)
		case !bytes.Equal(audit.Hash(prev, &ev), ev.Hash):
			return ev.ID, fmt.Errorf("%w: event %d was altered", audit.ErrBroken, ev.ID)
		}
		prev = ev.Hash
		want++
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("verify audit: %w", s.wrap(err))
	}
	last := want - 1
	switch {
	case headID > last:
		return last + 1, fmt.Errorf("%w: events %d to %d are missing", audit.ErrBroken, last+1, headID)
	case headID < last:
		return headID + 1, fmt.Errorf("%w: event %d is past the chain head %d", audit.ErrBroken, headID+1, headID)
	case !bytes.Equal(headHash, prev) && !(last == 0 && len(headHash) == 0):
		return last, fmt.Errorf("%w: chain head does not match event %d", audit.ErrBroken, last)
	}
	return 0, nil
}
