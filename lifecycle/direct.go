package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/verifier"
)

// The county's direct issue of a re-birth card (Art. 17): the village or
// the township reports the couple's application to the county
// (预审上报); the county issues the card from that list with its own seal
// alone, the seal claiming the rebirth-direct policy with the report and
// the re-birth approval form (审批表) it rests on; the village and the
// township add their seals to the form afterwards (补盖, SealForm). The
// card names the form (its seal's claim) and the form the card (its
// number is the card's, RebirthFormNumber).

// ErrReported: the actor's level reported the card to the pre-review
// list already.
var ErrReported = errors.New("this level reported the application already")

// SubmitPreReview reports a re-birth application to the county's
// pre-review list: village or township staff of its jurisdiction, while
// no level has sealed it. Each level reports a card once
// (card.ErrDuplicate).
func (s *Service) SubmitPreReview(ctx context.Context, a Actor, id string) (*card.PreReview, error) {
	c, err := s.card(ctx, a, id, PreReview)
	if err != nil {
		return nil, err
	}
	pid, err := card.NewID()
	if err != nil {
		return nil, err
	}
	p := &card.PreReview{ID: pid, CardID: c.ID, Level: a.Org.Level, OrgCode: a.Org.Code, By: a.Username}
	ev := s.event(a, audit.CardPreReview, c.ID, "", map[string]any{"pre_review": pid, "level": a.Org.Level})
	if err := s.reg.AddPreReview(ctx, p, ev); errors.Is(err, card.ErrDuplicate) {
		return nil, fmt.Errorf("%w: %w", ErrReported, err)
	} else if err != nil {
		return nil, err
	}
	return p, nil
}

// PreReviewItem is one card of the pre-review list with its reports.
type PreReviewItem struct {
	Card    card.Card
	Reports []card.PreReview
}

// PreReviewList returns the pre-review list of the actor's jurisdiction:
// every re-birth application reported and not sealed yet, oldest report
// first, each with the reports of it, for the cards the actor may read.
func (s *Service) PreReviewList(ctx context.Context, a Actor) ([]PreReviewItem, error) {
	reports, err := s.reg.PreReviewList(ctx, a.Org.Code)
	if err != nil {
		return nil, err
	}
	var out []PreReviewItem
	at := map[string]int{}
	for _, p := range reports {
		if i, ok := at[p.CardID]; ok {
			out[i].Reports = append(out[i].Reports, p)
			continue
		}
		c, err := s.reg.GetCard(ctx, p.CardID)
		if err != nil {
			return nil, err
		}
		if Allowed(a, &c, ReadCard) != nil {
			continue
		}
		at[p.CardID] = len(out)
		out = append(out, PreReviewItem{Card: c, Reports: []card.PreReview{p}})
	}
	return out, nil
}

// PreReviews returns the reports of a card the actor may read.
func (s *Service) PreReviews(ctx context.Context, a Actor, id string) ([]card.PreReview, error) {
	if _, err := s.card(ctx, a, id, ReadCard); err != nil {
		return nil, err
	}
	return s.reg.PreReviews(ctx, id)
}

// IssueDirect issues a re-birth card on the pre-review list with the
// county's seal alone (Art. 17): the county of the card, which must carry
// no seal yet (IssueDirect, OnPreReviewList). The card's re-birth
// approval form is the one drawn up already, or drawn up now with reason
// and conditions. The seal is applied as every county seal is — one
// revision committed with its record, the card issued, in one
// transaction that also checks the Art. 22 bar — and claims the
// rebirth-direct policy, the report and the form. The county's seal goes
// on the form first, with the same decision (the village and the township
// add theirs afterwards, 补盖): a card seal refused after it leaves a form
// sealed by the county, as SealForm could have, and a retry finds it so.
func (s *Service) IssueDirect(ctx context.Context, a Actor, id, reason, conditions string) (*card.Card, *card.Form, error) {
	c, app, err := s.draft(ctx, a, id, IssueDirect)
	if err != nil {
		return nil, nil, err
	}
	reports, err := s.reg.PreReviews(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	report, err := OnPreReviewList(c, reports)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.reg.CardForm(ctx, id)
	var form *card.Form
	switch {
	case errors.Is(err, card.ErrNotFound):
		if form, err = s.drawForm(ctx, a, c, app, reason, conditions); err != nil {
			return nil, nil, err
		}
	case err != nil:
		return nil, nil, err
	default:
		form = &f
	}
	if err := s.countySealsForm(ctx, a, c, form); err != nil {
		return nil, nil, err
	}
	if err := s.applySeal(ctx, a, c, s.Now(), a.Username, &direct{preReview: report.ID, form: form.Number}); err != nil {
		return nil, nil, err
	}
	issued, err := s.reg.GetCard(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return &issued, form, nil
}

// DirectInfo is what the public learns of a card issued directly
// (Art. 17): that it was (县级直接办理（第十七条）) and whether the village
// and the township have added their seals to its re-birth approval form.
type DirectInfo struct {
	Direct bool `json:"direct"`
	// LowerSealsComplete: the form carries the village's and the
	// township's seals, verified.
	LowerSealsComplete bool `json:"form_lower_seals_complete"`
}

// directInfo reads a card's verified report: nil for a card that follows
// the ordinary chain. The form's lower seals count only when the stored
// form verifies as a genuine re-birth approval form of this card.
func (ch *Checker) directInfo(ctx context.Context, c *card.Card, rep *verifier.Report) (*DirectInfo, error) {
	if rep.Policy != chain.RebirthDirect.Name {
		return nil, nil
	}
	d := &DirectInfo{Direct: true}
	f, err := ch.Service.reg.CardForm(ctx, c.ID)
	if errors.Is(err, card.ErrNotFound) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	if f.Number != rep.Form {
		return d, nil
	}
	crls, err := ch.Service.CRLs()
	if err != nil {
		return nil, err
	}
	// The form's report is cached like a card's, by the SM3 of its PDF
	// (and the CRLs): a form's verdict changes only with a new seal.
	key := reportKey(f.PDF, crls)
	frep, ok := ch.reports.Get(key)
	if !ok || frep.DocID != f.Number || frep.Policy != chain.RebirthForm.Name {
		if frep, err = ch.Service.verifyForm(ctx, &f, crls); err != nil {
			return nil, fmt.Errorf("verify the form of card %s: %w", c.ID, err)
		}
		ch.reports.Put(key, frep)
	}
	lower := formLevels(frep)
	d.LowerSealsComplete = lower[org.Village] && lower[org.Township]
	return d, nil
}

// CardForm returns the re-birth approval form of a card the actor may
// read (card.ErrNotFound if none was drawn up).
func (s *Service) CardForm(ctx context.Context, a Actor, id string) (*card.Form, error) {
	if _, err := s.card(ctx, a, id, ReadCard); err != nil {
		return nil, err
	}
	f, err := s.reg.CardForm(ctx, id)
	if err != nil {
		return nil, err
	}
	return &f, nil
}
