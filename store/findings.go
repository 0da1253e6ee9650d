package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// The county's findings of a false commitment (Art. 20), each stored with
// the revocation it led to.

func validFinding(f *card.Finding) error {
	if _, err := time.Parse("2006-01-02", f.FoundOn); err != nil {
		return fmt.Errorf("%w: finding date %q is not YYYY-MM-DD", ErrInvalid, f.FoundOn)
	}
	if f.CountyCode == "" || f.Reason == "" || f.RecordedBy == "" {
		return fmt.Errorf("%w: a finding names its county, reason and recorder", ErrInvalid)
	}
	return nil
}

func (s *DB) Revoke(ctx context.Context, cardID string, f card.Finding, ev audit.Event) error {
	if err := validFinding(&f); err != nil {
		return fmt.Errorf("revoke card %s: %w", cardID, err)
	}
	t := now()
	ev.CardID = cardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, _, err := s.lockCard(ctx, tx, cardID)
		if err != nil {
			return err
		}
		if st != card.StatusIssued {
			return fmt.Errorf("%w: card is %s", card.ErrConflict, st)
		}
		_, err = tx.ExecContext(ctx, `UPDATE cards SET status = $1, status_reason = $2, status_note = $3,
			next_level = '', updated_at = $4, version = version + 1 WHERE id = $5`,
			string(card.StatusRevoked), f.Reason, f.Note, s.d.timeArg(t), cardID)
		if err != nil {
			return s.wrap(err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO findings (card_id, county_code, found_on, reason, note, recorded_by, recorded_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			cardID, f.CountyCode, f.FoundOn, f.Reason, f.Note, f.RecordedBy, s.d.timeArg(t))
		if err != nil {
			return s.wrap(err)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke card %s: %w", cardID, err)
	}
	return nil
}

func (s *DB) Findings(ctx context.Context, countyCode string) ([]card.Finding, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT card_id, county_code, found_on, reason, note, recorded_by, recorded_at
		FROM findings WHERE county_code = $1 ORDER BY found_on, card_id`, countyCode)
	if err != nil {
		return nil, fmt.Errorf("findings of %s: %w", countyCode, s.wrap(err))
	}
	defer rows.Close()
	var out []card.Finding
	for rows.Next() {
		var f card.Finding
		if err := rows.Scan(&f.CardID, &f.CountyCode, &f.FoundOn, &f.Reason, &f.Note, &f.RecordedBy, dbTime{&f.RecordedAt}); err != nil {
			return nil, fmt.Errorf("findings of %s: %w", countyCode, s.wrap(err))
		}
		out = append(out, f)
	}
	return out, s.wrap(rows.Err())
}
