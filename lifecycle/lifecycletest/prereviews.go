package lifecycletest

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// The pre-review list (Art. 17) and the form of a card.

func (r *Registry) AddPreReview(ctx context.Context, p *card.PreReview, ev audit.Event) error {
	if !cardIDRE.MatchString(p.ID) || !cardIDRE.MatchString(p.CardID) || (p.Level != org.Village && p.Level != org.Township) ||
		p.OrgCode == "" || p.By == "" {
		return invalid("add pre-review: id, card, village or township level, organisation and user are required")
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(p.CardID)
	if err != nil {
		return fmt.Errorf("add pre-review: %w", err)
	}
	if rec.c.Status != card.StatusDraft {
		return fmt.Errorf("add pre-review of card %s: %w: card is %s", p.CardID, card.ErrConflict, rec.c.Status)
	}
	if slices.ContainsFunc(r.preReviews, func(x card.PreReview) bool { return x.CardID == p.CardID && x.Level == p.Level }) ||
		slices.ContainsFunc(r.preReviews, func(x card.PreReview) bool { return x.ID == p.ID }) {
		return fmt.Errorf("add pre-review of card %s: %w", p.CardID, card.ErrDuplicate)
	}
	if _, ok := r.orgs[p.OrgCode]; !ok {
		return fmt.Errorf("add pre-review: %w: organisation %s", card.ErrNotFound, p.OrgCode)
	}
	ev.CardID = p.CardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	p.CreatedAt = r.now()
	r.preReviews = append(r.preReviews, *p)
	return nil
}

func (r *Registry) PreReviews(ctx context.Context, cardID string) ([]card.PreReview, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []card.PreReview
	for _, p := range r.preReviews {
		if p.CardID == cardID {
			out = append(out, p)
		}
	}
	return out, nil
}

func (r *Registry) PreReviewList(ctx context.Context, prefix string) ([]card.PreReview, error) {
	if !digitsRE.MatchString(prefix) {
		return nil, invalid("pre-review list: prefix %q", prefix)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []card.PreReview
	for _, p := range r.preReviews {
		rec, ok := r.cards[p.CardID]
		if !ok || rec.c.Status != card.StatusDraft || rec.c.Seq != 0 || !strings.HasPrefix(rec.c.VillageCode, prefix) {
			continue
		}
		if out = append(out, p); len(out) == 500 {
			break
		}
	}
	return out, nil
}

func (r *Registry) CardForm(ctx context.Context, cardID string) (card.Form, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.formOf[cardID]
	if !ok {
		return card.Form{}, fmt.Errorf("form of card %s: %w", cardID, card.ErrNotFound)
	}
	return *r.forms[id], nil
}
