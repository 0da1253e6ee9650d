package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/templates"
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
	// A deficiency's reason stays while the material stays deficient.
	var notes map[card.Material]string
	for m, n := range app.MaterialNotes {
		if materials[m] == card.Deficient {
			if notes == nil {
				notes = map[card.Material]string{}
			}
			notes[m] = n
		}
	}
	app.MaterialNotes = notes
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
	// Art. 19: the clock starts the day the file is complete.
	done := completeAt(c.CompleteAt, app, s.Now())
	ev := s.event(a, audit.CardMaterials, id, "", map[string]any{"materials": materials, "commitment": app.Commitment, "complete": !done.IsZero()})
	if err := s.reg.UpdateApplicant(ctx, c.ID, sealed, done, ev); err != nil {
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

// ReviewMaterial records staff's review of one required material of a
// draft application, typically one a citizen sent online (Submitted):
// accepted, it is Provided; not accepted, it is Deficient with the
// reason, which the one-time notice prints beside it (Art. 19). The
// application changes, so a notice may follow. An application without a
// materials record (counter service: every material checked) gets one,
// every other material accepted.
func (s *Service) ReviewMaterial(ctx context.Context, a Actor, id string, m card.Material, accept bool, reason string) (*card.Card, error) {
	c, app, err := s.draft(ctx, a, id, ReviewMaterial)
	if err != nil {
		return nil, err
	}
	if !card.Requires(app, m) {
		return nil, fmt.Errorf("%w: %q", ErrNotRequired, m)
	}
	reason = strings.TrimSpace(reason)
	if !accept {
		if reason == "" {
			return nil, fmt.Errorf("%w: a deficient material states why", ErrReason)
		}
		if utf8.RuneCountInString(reason) > card.MaxMaterialNote {
			return nil, &card.FieldError{Field: "reason", Reason: fmt.Sprintf("at most %d characters", card.MaxMaterialNote)}
		}
		if err := card.CheckLine("reason", reason); err != nil {
			return nil, err
		}
		// The notice prints it: refuse now what its font cannot draw.
		if err := templates.CheckText("reason", reason); err != nil {
			return nil, err
		}
	}
	materials := maps.Clone(app.Materials)
	if materials == nil {
		materials = map[card.Material]card.MaterialState{}
		for _, r := range card.RequiredMaterials(card.CaseOf(app)) {
			materials[r] = card.Provided
		}
	}
	notes := maps.Clone(app.MaterialNotes)
	if notes == nil {
		notes = map[card.Material]string{}
	}
	if accept {
		materials[m] = card.Provided
		delete(notes, m)
	} else {
		materials[m] = card.Deficient
		notes[m] = reason
	}
	if len(notes) == 0 {
		notes = nil
	}
	app.Materials, app.MaterialNotes = materials, notes
	if err := app.Validate(); err != nil {
		return nil, err
	}
	sealed, err := s.sealApplicant(c.ID, app)
	if err != nil {
		return nil, err
	}
	// Art. 19: accepting the last material outstanding completes the
	// file, and the clock starts.
	done := completeAt(c.CompleteAt, app, s.Now())
	detail := map[string]any{"material": m, "accepted": accept, "complete": !done.IsZero()}
	// The history's 原因 column says which material and, when deficient,
	// why: what the one-time notice will print.
	why := m.Chinese() + "：合格"
	if !accept {
		detail["reason"] = reason
		why = m.Chinese() + "：不合格，" + reason
	}
	ev := s.event(a, audit.CardReview, id, why, detail)
	if err := s.reg.UpdateApplicant(ctx, c.ID, sealed, done, ev); err != nil {
		if errors.Is(err, card.ErrConflict) {
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
		return nil, err
	}
	n, err := s.reg.GetCard(ctx, id)
	return &n, err
}
