package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// Art. 19: the notice is one-time (一次性告知). After the first notice N1
// a later one may name only materials the applicant sent after N1 that
// staff then found deficient; a material N1 named and still missing is
// not named again (N1 told it), and a material N1 did not name may never
// be asked for afterwards.

// ErrNotOneTime: a later notice would name a material the first one did
// not, or nothing sent after the first notice was found deficient.
var ErrNotOneTime = errors.New("the one-time notice was given: a later one names only materials sent after it and found deficient (Art. 19)")

// laterNoticeItems returns the materials a notice after the first may
// name, nil if no missing-materials notice was given yet.
func (s *Service) laterNoticeItems(ctx context.Context, c *card.Card, app *card.Applicant, prev []card.Notice) ([]card.Material, error) {
	i := slices.IndexFunc(prev, func(n card.Notice) bool { return n.Kind == card.NoticeMissing })
	if i < 0 {
		return nil, nil
	}
	first := prev[i]
	known, err := s.noticeMissing(ctx, c.ID, first.Number)
	if err != nil {
		return nil, err
	}
	atts, err := s.reg.Attachments(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	sentAfter := map[card.Material]bool{}
	for _, at := range atts {
		if at.CreatedAt.After(first.CreatedAt) {
			sentAfter[card.Material(at.Material)] = true
		}
	}
	var items, refused []card.Material
	for _, m := range app.MissingMaterials() {
		switch {
		case app.Materials[m] == card.Deficient && sentAfter[m]:
			items = append(items, m)
		case slices.Contains(known, m):
			// Named by the first notice and still outstanding.
		default:
			refused = append(refused, m)
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("%w: %v not named by notice %s", ErrNotOneTime, refused, first.Number)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: nothing sent after notice %s was found deficient", ErrNotOneTime, first.Number)
	}
	return items, nil
}

// noticeMissing reads the materials a one-time notice named from its
// audit event.
func (s *Service) noticeMissing(ctx context.Context, cardID, number string) ([]card.Material, error) {
	evs, err := s.reg.AuditEvents(ctx, cardID, 1000)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		if e.Action != audit.CardNotice {
			continue
		}
		var d struct {
			Number  string
			Missing []card.Material
		}
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			return nil, fmt.Errorf("notice event of card %s: %w", cardID, err)
		}
		if d.Number == number {
			return d.Missing, nil
		}
	}
	return nil, fmt.Errorf("notice %s of card %s: %w: no audit event", number, cardID, card.ErrNotFound)
}

// itemsOf are the printed items of the materials ms (MissingItems'
// wording), for a later notice.
func itemsOf(app *card.Applicant, ms []card.Material) []string {
	var out []string
	for _, m := range ms {
		it := m.Chinese()
		if app.Materials[m] == card.Deficient {
			it += "（已提交的材料不符合要求：" + app.MaterialNotes[m] + "）"
		}
		out = append(out, it)
	}
	return out
}
