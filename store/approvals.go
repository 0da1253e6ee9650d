package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// The approvals of simultaneous review (Art. 15): one row per card and
// level (migration 0007).

func (s *DB) Approve(ctx context.Context, ap card.Approval, ev audit.Event) error {
	if !ap.Level.Valid() || ap.OrgCode == "" || ap.ByUser == "" || len(ap.ByUser) > 128 || ap.ApprovedAt.IsZero() {
		return fmt.Errorf("approve card %s: %w: level, organisation, user and time are required", ap.CardID, ErrInvalid)
	}
	ev.CardID = ap.CardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, _, err := s.lockCard(ctx, tx, ap.CardID)
		if err != nil {
			return err
		}
		if st != card.StatusDraft {
			return fmt.Errorf("%w: card is %s", card.ErrConflict, st)
		}
		var sealed, inForce int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM seals WHERE card_id = $1 AND level = $2`,
			ap.CardID, string(ap.Level)).Scan(&sealed); err != nil {
			return s.wrap(err)
		}
		if sealed > 0 {
			return fmt.Errorf("%w: %s level sealed the card already", card.ErrConflict, ap.Level)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM approvals WHERE card_id = $1 AND level = $2 AND cancelled_at IS NULL`,
			ap.CardID, string(ap.Level)).Scan(&inForce); err != nil {
			return s.wrap(err)
		}
		if inForce > 0 {
			return fmt.Errorf("%w: the %s level's approval is in force", card.ErrDuplicate, ap.Level)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM approvals WHERE card_id = $1 AND level = $2`, ap.CardID, string(ap.Level)); err != nil {
			return s.wrap(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO approvals (card_id, level, org_code, by_user, approved_at)
			VALUES ($1, $2, $3, $4, $5)`, ap.CardID, string(ap.Level), ap.OrgCode, ap.ByUser,
			s.d.timeArg(normTime(ap.ApprovedAt))); err != nil {
			return s.wrap(err)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("approve card %s at %s: %w", ap.CardID, ap.Level, err)
	}
	return nil
}

func (s *DB) Approvals(ctx context.Context, cardID string) ([]card.Approval, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT card_id, level, org_code, by_user, approved_at, cancelled_at
		FROM approvals WHERE card_id = $1`, cardID)
	if err != nil {
		return nil, fmt.Errorf("approvals of card %s: %w", cardID, s.wrap(err))
	}
	defer rows.Close()
	var out []card.Approval
	for rows.Next() {
		var a card.Approval
		if err := rows.Scan(&a.CardID, &a.Level, &a.OrgCode, &a.ByUser, dbTime{&a.ApprovedAt}, dbTime{&a.CancelledAt}); err != nil {
			return nil, fmt.Errorf("approvals of card %s: %w", cardID, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("approvals of card %s: %w", cardID, s.wrap(err))
	}
	slices.SortFunc(out, func(a, b card.Approval) int {
		return slices.Index(org.Levels, a.Level) - slices.Index(org.Levels, b.Level)
	})
	return out, nil
}

// cancelApprovals cancels, inside tx, the approvals in force of the
// levels that have not sealed the card.
func (s *DB) cancelApprovals(ctx context.Context, tx *sql.Tx, cardID string, at any) error {
	_, err := tx.ExecContext(ctx, `UPDATE approvals SET cancelled_at = $1
		WHERE card_id = $2 AND cancelled_at IS NULL
		AND level NOT IN (SELECT level FROM seals WHERE card_id = $2)`, at, cardID)
	return s.wrap(err)
}
