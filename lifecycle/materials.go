package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// UpdateMaterials records how each required material of a draft
// application is now satisfied (a material arrived, was found in the
// population database, or is covered by the commitment). The application
// changes, so a new one-time notice may be given for what is still
// missing (Art. 19).
func (s *Service) UpdateMaterials(ctx context.Context, a Actor, id string, materials map[card.Material]card.MaterialState) (*card.Card, error) {
	c, app, err := s.draft(ctx, a, id, ChangeMaterials)
	if err != nil {
		return nil, err
	}
	app.Materials = materials
	if err := app.Validate(); err != nil {
		return nil, err
	}
	sealed, err := s.sealApplicant(c.ID, app)
	if err != nil {
		return nil, err
	}
	ev := s.event(a, audit.CardMaterials, id, "", map[string]any{"materials": materials, "commitment": app.Commitment})
	if err := s.reg.UpdateApplicant(ctx, c.ID, sealed, ev); err != nil {
		if errors.Is(err, card.ErrConflict) {
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
		return nil, err
	}
	n, err := s.reg.GetCard(ctx, id)
	return &n, err
}
