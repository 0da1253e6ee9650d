package lifecycletest

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// AddArchive implements lifecycle.Seals.
func (r *Registry) AddArchive(ctx context.Context, cardID string, expectSeq int, pdf []byte, ev audit.Event) error {
	if len(pdf) == 0 {
		return invalid("archive card %s: empty PDF", cardID)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(cardID)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	switch {
	case rec.c.Seq != expectSeq:
		return fmt.Errorf("archive card %s: %w: card is at revision %d, not %d", cardID, card.ErrConflict, rec.c.Seq, expectSeq)
	case rec.c.Status == card.StatusDraft || rec.c.Status == card.StatusRefused:
		return fmt.Errorf("archive card %s: %w: card is %s", cardID, card.ErrConflict, rec.c.Status)
	}
	ev.CardID = cardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	rec.pdfs = append(rec.pdfs, bytes.Clone(pdf))
	c := &rec.c
	c.Seq, c.UpdatedAt, c.Version = expectSeq+1, r.now(), c.Version+1
	return nil
}
