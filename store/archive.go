package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// AddArchive implements lifecycle.Seals: a new PDF revision of a card
// whose chain is complete, without a seal record (an archive timestamp,
// issue 17), and its audit event, in one transaction.
func (s *DB) AddArchive(ctx context.Context, cardID string, expectSeq int, pdf []byte, ev audit.Event) error {
	if len(pdf) == 0 {
		return fmt.Errorf("archive card %s: %w: empty PDF", cardID, ErrInvalid)
	}
	ev.CardID = cardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, seq, err := s.lockCard(ctx, tx, cardID)
		if err != nil {
			return err
		}
		if seq != expectSeq {
			return fmt.Errorf("%w: card is at revision %d, not %d", card.ErrConflict, seq, expectSeq)
		}
		if st == card.StatusDraft || st == card.StatusRefused {
			return fmt.Errorf("%w: card is %s: its seal chain is not complete", card.ErrConflict, st)
		}
		t := now()
		if err := s.insertPDF(ctx, tx, cardID, expectSeq+1, pdf, t); err != nil {
			return asConflict(err)
		}
		res, err := tx.ExecContext(ctx,
			`UPDATE cards SET seq = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND seq = $4`,
			expectSeq+1, s.d.timeArg(t), cardID, expectSeq)
		if err != nil {
			return s.wrap(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("%w: card moved during the archive", card.ErrConflict)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("archive card %s: %w", cardID, err)
	}
	return nil
}
