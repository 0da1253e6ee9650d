package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// The end of an issued card: void (Art. 22), revoke (Art. 20), supersede
// (Art. 16). Only the issuing county acts (Allowed), with a reason class
// and a note.

// ErrReason: a status change or refusal needs its reason.
var ErrReason = errors.New("a reason class and a note are required")

// ErrNewCard: superseding names the new card, another issued card of the
// same county.
var ErrNewCard = errors.New("superseding names another issued card of the same county")

// ReasonClasses are the reason classes of each status change.
var ReasonClasses = map[card.Status][]string{
	card.StatusVoided:     {"pregnancy_ended_without_certificate", "infant_death_without_proof", "other"}, // Art. 22
	card.StatusRevoked:    {"false_commitment", "false_materials", "other"},                               // Art. 20
	card.StatusSuperseded: {"formal_card_reissued", "data_corrected", "other"},                            // Art. 16
}

// endings maps each ending status to the action that reaches it and its
// audit action.
var endings = map[card.Status]struct {
	act Action
	ev  audit.Action
}{
	card.StatusVoided:     {VoidCard, audit.CardVoid},
	card.StatusRevoked:    {RevokeCard, audit.CardRevoke},
	card.StatusSuperseded: {SupersedeCard, audit.CardSupersede},
}

// ActionFor is the action that moves an issued card to status to.
func ActionFor(to card.Status) (Action, bool) {
	e, ok := endings[to]
	return e.act, ok
}

// CardRef names a card by its ID or, when ID is empty, its number.
type CardRef struct{ ID, Number string }

func (s *Service) lookup(ctx context.Context, r CardRef) (card.Card, error) {
	switch {
	case r.ID != "":
		return s.reg.GetCard(ctx, r.ID)
	case r.Number != "":
		return s.reg.GetCardByNumber(ctx, r.Number)
	}
	return card.Card{}, card.ErrNotFound
}

// SetStatus voids, revokes or supersedes an issued card; superseding
// names the new card. A revocation found today; Revoke names the day.
func (s *Service) SetStatus(ctx context.Context, a Actor, id string, to card.Status, reason, note string, newCard CardRef) (*card.Card, error) {
	return s.setStatus(ctx, a, id, to, reason, note, newCard, "")
}

// Revoke revokes an issued re-birth card whose couple made a commitment
// (Art. 20) on the county's finding that it was false, made on foundOn
// (YYYY-MM-DD, China time; "" is today): the finding is kept for the
// social credit system (CreditReport).
func (s *Service) Revoke(ctx context.Context, a Actor, id, reason, note, foundOn string) (*card.Card, error) {
	return s.setStatus(ctx, a, id, card.StatusRevoked, reason, note, CardRef{}, foundOn)
}

func (s *Service) setStatus(ctx context.Context, a Actor, id string, to card.Status, reason, note string, newCard CardRef, foundOn string) (*card.Card, error) {
	e, ok := endings[to]
	if !ok {
		return nil, fmt.Errorf("%w: unknown status %q", ErrState, to)
	}
	c, err := s.card(ctx, a, id, e.act)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ReasonClasses[to], reason) || len(note) == 0 || len(note) > 1000 {
		return nil, fmt.Errorf("%w: reason must be one of %v", ErrReason, ReasonClasses[to])
	}
	if err := card.CheckText("note", note); err != nil {
		return nil, err
	}
	newID := ""
	if to == card.StatusSuperseded {
		n, err := s.lookup(ctx, newCard)
		if errors.Is(err, card.ErrNotFound) {
			return nil, fmt.Errorf("%w: no card %+v", ErrNewCard, newCard)
		} else if err != nil {
			return nil, err
		}
		if n.ID == c.ID || n.Status != card.StatusIssued || n.CountyCode != c.CountyCode {
			return nil, fmt.Errorf("%w: card %s is %s in county %s", ErrNewCard, n.Number, n.Status, n.CountyCode)
		}
		newID = n.ID
	}
	if to == card.StatusRevoked {
		err = s.revoke(ctx, a, c, reason, note, foundOn)
	} else {
		ev := s.event(a, e.ev, id, reason, map[string]any{"note": note, "superseded_by": newID})
		err = s.reg.SetStatus(ctx, id, []card.Status{card.StatusIssued}, to, reason, note, newID, ev)
	}
	if err != nil {
		if errors.Is(err, card.ErrConflict) {
			return nil, fmt.Errorf("%w: card is %s: %w", ErrState, c.Status, err)
		}
		return nil, err
	}
	n, err := s.reg.GetCard(ctx, id)
	return &n, err
}
