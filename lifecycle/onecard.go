package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/jilin-health/cardseal/card"
)

// One valid card per couple and type: a couple holding an issued card of
// a type gets no second one of that type, unless the new application is
// the re-issue (换发, Art. 16) of that very card, which the county then
// supersedes by the new one. The registry checks it in the transaction
// that creates the card (Cards.CreateCard, card.ErrHeld), for the couple
// whichever spouse is named first.

// ErrCardHeld: the couple holds an issued card of this type already.
var ErrCardHeld = errors.New("the couple holds a valid card of this type")

// ErrReissue: the card a re-issue names is not the couple's issued card
// of this type in this county.
var ErrReissue = errors.New("a re-issue names the couple's issued card of the same type and county")

// reissueTarget returns the ID of the card an application replaces, ""
// if it replaces none.
func (s *Service) reissueTarget(ctx context.Context, app *card.Applicant, county, coupleKey string) (string, error) {
	if app.ReissueOf == "" {
		return "", nil
	}
	old, err := s.reg.GetCardByNumber(ctx, app.ReissueOf)
	if errors.Is(err, card.ErrNotFound) {
		return "", fmt.Errorf("%w: no card %s", ErrReissue, app.ReissueOf)
	} else if err != nil {
		return "", err
	}
	if old.Status != card.StatusIssued || old.Type != app.Type || old.CountyCode != county || old.CoupleKey != coupleKey {
		return "", fmt.Errorf("%w: card %s is a %s %s card of county %s", ErrReissue, old.Number, old.Status, old.Type, old.CountyCode)
	}
	return old.ID, nil
}

// heldError translates the registry's refusal of a second valid card.
func heldError(err error, t card.Type) error {
	if errors.Is(err, card.ErrHeld) {
		return fmt.Errorf("%w: %s: %w", ErrCardHeld, t, err)
	}
	return err
}
