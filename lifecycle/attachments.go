package lifecycle

import (
	"context"
	"fmt"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// ViewMaterial returns one material a citizen sent (attachment seq) of a
// card the actor may read, and records the view (Art. 13: every look at
// personal data is an audit event). page names what was shown of it (the
// page of a PDF rendered to an image, 0 for a photo); a page of what is
// not a PDF is card.ErrNotFound, and nothing is recorded.
func (s *Service) ViewMaterial(ctx context.Context, a Actor, id string, seq, page int) (*card.Attachment, error) {
	c, err := s.card(ctx, a, id, ReadCard)
	if err != nil {
		return nil, err
	}
	atts, err := s.reg.Attachments(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for i := range atts {
		if atts[i].Seq != seq {
			continue
		}
		if page > 0 && atts[i].ContentType != "application/pdf" {
			return nil, fmt.Errorf("material %d of card %s has no pages: %w", seq, id, card.ErrNotFound)
		}
		detail := map[string]any{"seq": seq, "material": atts[i].Material}
		if page > 0 {
			detail["page"] = page
		}
		if _, err := s.reg.AppendAudit(ctx, s.event(a, audit.CardMaterial, c.ID, "", detail)); err != nil {
			return nil, err
		}
		return &atts[i], nil
	}
	return nil, fmt.Errorf("material %d of card %s: %w", seq, id, card.ErrNotFound)
}
