package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// SetCrossProvince records whether another province must verify a draft
// card's facts (Art. 19: 20 working days instead of 10) with staff's
// reason, and appends ev, in one transaction; ErrConflict if the card is
// not a draft. The lifecycle decides who may and checks the reason; the
// store refuses an empty one.
func (s *DB) SetCrossProvince(ctx context.Context, cardID string, on bool, reason string, ev audit.Event) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("set cross-province verification of card %s: %w: no reason", cardID, ErrInvalid)
	}
	t := now()
	ev.CardID = cardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, _, err := s.lockCard(ctx, tx, cardID)
		if err != nil {
			return err
		}
		if st != card.StatusDraft {
			return fmt.Errorf("%w: card is %s", card.ErrConflict, st)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE cards SET cross_province = $1, cross_province_reason = $2, updated_at = $3,
			version = version + 1 WHERE id = $4`, on, reason, s.d.timeArg(t), cardID); err != nil {
			return s.wrap(err)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("set cross-province verification of card %s: %w", cardID, err)
	}
	return nil
}
