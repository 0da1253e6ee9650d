package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// Holders' requests to post the official card (Art. 16).

const postingCols = `card_id, seq, village_code, address, requested_at, state, posted_on, carrier, tracking, updated_by, updated_at`

func scanPosting(r interface{ Scan(...any) error }) (card.Posting, error) {
	var p card.Posting
	err := r.Scan(&p.CardID, &p.Seq, &p.VillageCode, &p.Address, dbTime{&p.RequestedAt}, &p.State, &p.PostedOn,
		&p.Carrier, &p.Tracking, &p.UpdatedBy, dbTime{&p.UpdatedAt})
	return p, err
}

func (s *DB) AddPosting(ctx context.Context, p *card.Posting, ev audit.Event) error {
	if len(p.Address) == 0 || p.VillageCode == "" {
		return fmt.Errorf("add posting: %w: address and village required", ErrInvalid)
	}
	t := now()
	ev.CardID = p.CardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, _, err := s.lockCard(ctx, tx, p.CardID); err != nil {
			return err
		}
		var open, n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN state <> 'posted' THEN 1 ELSE 0 END), 0)
			FROM postings WHERE card_id = $1`, p.CardID).Scan(&n, &open); err != nil {
			return s.wrap(err)
		}
		if open > 0 {
			return fmt.Errorf("%w: a request is open", card.ErrConflict)
		}
		p.Seq, p.State, p.RequestedAt, p.UpdatedAt = n+1, card.PostingRequested, t, t
		_, err := tx.ExecContext(ctx, `INSERT INTO postings (`+postingCols+`) VALUES ($1, $2, $3, $4, $5, $6, '', '', '', '', $5)`,
			p.CardID, p.Seq, p.VillageCode, p.Address, s.d.timeArg(t), p.State)
		if err != nil {
			return s.wrap(err)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("add posting of card %s: %w", p.CardID, err)
	}
	return nil
}

func (s *DB) UpdatePosting(ctx context.Context, p card.Posting, from []string, ev audit.Event) error {
	t := now()
	ev.CardID = p.CardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, _, err := s.lockCard(ctx, tx, p.CardID); err != nil {
			return err
		}
		var st string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM postings WHERE card_id = $1 AND seq = $2`, p.CardID, p.Seq).Scan(&st); err != nil {
			return s.wrap(err)
		}
		if !slices.Contains(from, st) {
			return fmt.Errorf("%w: request is %s", card.ErrConflict, st)
		}
		_, err := tx.ExecContext(ctx, `UPDATE postings SET state = $1, posted_on = $2, carrier = $3, tracking = $4,
			updated_by = $5, updated_at = $6 WHERE card_id = $7 AND seq = $8`,
			p.State, p.PostedOn, p.Carrier, p.Tracking, p.UpdatedBy, s.d.timeArg(t), p.CardID, p.Seq)
		if err != nil {
			return s.wrap(err)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("update posting %d of card %s: %w", p.Seq, p.CardID, err)
	}
	return nil
}

func (s *DB) postings(ctx context.Context, q string, args ...any) ([]card.Posting, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postings: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []card.Posting
	for rows.Next() {
		p, err := scanPosting(rows)
		if err != nil {
			return nil, fmt.Errorf("postings: %w", s.wrap(err))
		}
		out = append(out, p)
	}
	return out, s.wrap(rows.Err())
}

func (s *DB) Postings(ctx context.Context, cardID string) ([]card.Posting, error) {
	return s.postings(ctx, `SELECT `+postingCols+` FROM postings WHERE card_id = $1 ORDER BY seq`, cardID)
}

func (s *DB) OpenPostings(ctx context.Context, prefix string) ([]card.Posting, error) {
	if !digitsRE.MatchString(prefix) {
		return nil, fmt.Errorf("open postings: %w: prefix %q", ErrInvalid, prefix)
	}
	return s.postings(ctx, `SELECT `+postingCols+` FROM postings WHERE state IN ('requested', 'printed')
		AND village_code >= $1 AND village_code < $2 ORDER BY requested_at, card_id, seq LIMIT 500`, prefix, prefix+":")
}
