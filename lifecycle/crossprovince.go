package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/workday"
)

// MaxCrossProvinceReason bounds the reason of a cross-province finding.
const MaxCrossProvinceReason = 100

// SetCrossProvince records staff's finding that another province must
// verify the couple's facts (on: 20 working days) or that it need not
// (10), with the reason, on a draft application (Art. 19). The level
// whose turn it is or a higher one decides (Allowed, MarkCrossProvince);
// the finding is audited with its reason, and the due date follows at
// once (DeadlineOf). A reason is required either way: an empty one, or
// one over MaxCrossProvinceReason characters or with a line break, is
// refused and nothing changes.
func (s *Service) SetCrossProvince(ctx context.Context, a Actor, id string, on bool, reason string) (*card.Card, error) {
	c, err := s.card(ctx, a, id, MarkCrossProvince)
	if err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, fmt.Errorf("%w: cross-province verification states why", ErrReason)
	}
	if utf8.RuneCountInString(reason) > MaxCrossProvinceReason {
		return nil, &card.FieldError{Field: "reason", Reason: fmt.Sprintf("at most %d characters", MaxCrossProvinceReason)}
	}
	if err := card.CheckLine("reason", reason); err != nil {
		return nil, err
	}
	ev := s.event(a, audit.CardCrossProvince, id, reason, map[string]any{
		"cross_province": on, "was": c.CrossProvince, "reason": reason, "limit": workday.Limit(on),
	})
	if err := s.reg.SetCrossProvince(ctx, id, on, reason, ev); err != nil {
		if errors.Is(err, card.ErrConflict) {
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
		return nil, err
	}
	n, err := s.reg.GetCard(ctx, id)
	return &n, err
}
