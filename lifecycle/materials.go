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
// missing (Art. 19), and the approvals of the levels that have not
// sealed yet are cancelled (Art. 15).
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
	before, err := s.reg.Approvals(ctx, c.ID)
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
	// The approvals given before the change were of another application
	// (Art. 15): the registry cancelled them; their approvers are told.
	if err := s.unapproved(ctx, a, c.ID, before); err != nil {
		return nil, err
	}
	n, err := s.reg.GetCard(ctx, id)
	return &n, err
}
