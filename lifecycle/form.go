package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/verifier"
)

// The re-birth approval form (再生育审批表, Art. 6, 17): the county draws
// it up from a pre-reviewed application; each level seals it once, in any
// order (the county first, the village and township afterwards, 补盖).

// MaxFormText bounds the form's reason and conditions, in characters.
const MaxFormText = 200

// ErrNotRebirth: a re-birth approval form needs a re-birth application.
var ErrNotRebirth = errors.New("not a re-birth application")

// CreateRebirthForm draws up the re-birth approval form of a re-birth
// application; county staff of the card's county only. One form per
// application.
func (s *Service) CreateRebirthForm(ctx context.Context, a Actor, id, reason, conditions string) (*card.Form, error) {
	c, app, err := s.draft(ctx, a, id, DrawForm)
	if err != nil {
		return nil, err
	}
	return s.drawForm(ctx, a, c, app, reason, conditions)
}

// drawForm draws up and stores the form of c, whose application is app,
// after the caller's Allowed.
func (s *Service) drawForm(ctx context.Context, a Actor, c *card.Card, app *card.Applicant, reason, conditions string) (*card.Form, error) {
	id := c.ID
	if app.Type != card.Rebirth {
		return nil, fmt.Errorf("%w: %w", ErrState, ErrNotRebirth)
	}
	// What the printed form holds: a reason, and optional conditions.
	if strings.TrimSpace(reason) == "" || utf8.RuneCountInString(reason) > MaxFormText {
		return nil, &card.FieldError{Field: "reason", Reason: fmt.Sprintf("required, at most %d characters", MaxFormText)}
	}
	if utf8.RuneCountInString(conditions) > MaxFormText {
		return nil, &card.FieldError{Field: "conditions", Reason: fmt.Sprintf("at most %d characters", MaxFormText)}
	}
	for _, f := range []struct{ name, v string }{{"reason", reason}, {"conditions", conditions}} {
		if err := card.CheckText(f.name, f.v); err != nil {
			return nil, err
		}
	}
	d, err := NewRebirthForm(ctx, s.reg, app, RebirthFormNumber(c.Number), reason, conditions, nil, s.Now())
	if err != nil {
		return nil, err
	}
	pdf, err := templates.RenderRebirthForm(d)
	if err != nil {
		return nil, err
	}
	fid, err := card.NewID()
	if err != nil {
		return nil, err
	}
	f := &card.Form{ID: fid, CardID: id, Number: d.Number, PDF: pdf, CreatedBy: a.Username}
	if err := s.reg.CreateForm(ctx, f, s.event(a, audit.FormCreate, id, "", map[string]any{"form": fid, "number": d.Number})); err != nil {
		return nil, err
	}
	return f, nil
}

// SealForm applies the actor's organisation's seal to a re-birth approval
// form: any order, each level once, within the card's jurisdiction, while
// the card is under review or issued, and only on a form whose seals
// verify (FormState.sealRefusal).
func (s *Service) SealForm(ctx context.Context, a Actor, formID string) (*card.Form, error) {
	f, err := s.reg.GetForm(ctx, formID)
	if err != nil {
		return nil, err
	}
	c, err := s.card(ctx, a, f.CardID, SealForm)
	if err != nil {
		return nil, err
	}
	st, err := s.formState(ctx, a, c, &f)
	if err != nil {
		return nil, err
	}
	if err := st.sealRefusal(a, c); err != nil {
		return nil, err
	}
	if err := s.addFormSeal(ctx, a, &f); err != nil {
		return nil, err
	}
	g, err := s.reg.GetForm(ctx, f.ID)
	return &g, err
}

// addFormSeal applies the actor's seal to form f of its card and stores
// the new revision (if f is still the revision read), updating f.
func (s *Service) addFormSeal(ctx context.Context, a Actor, f *card.Form) error {
	sealed, err := s.sealer.SealRebirthForm(f.PDF, a.Org, f.Number, s.Now())
	if err != nil {
		return err
	}
	ev := s.event(a, audit.FormSeal, f.CardID, Reason(a.Org.Level), map[string]any{"form": f.ID, "level": a.Org.Level, "seq": f.Seq + 1})
	if err := s.reg.UpdateForm(ctx, f.ID, f.Seq, sealed, ev); err != nil {
		return err
	}
	f.PDF, f.Seq = sealed, f.Seq+1
	return nil
}

// Form returns a form whose card the actor may read.
func (s *Service) Form(ctx context.Context, a Actor, formID string) (*card.Form, error) {
	f, err := s.reg.GetForm(ctx, formID)
	if err != nil {
		return nil, err
	}
	if _, err := s.card(ctx, a, f.CardID, ReadCard); err != nil {
		return nil, err
	}
	return &f, nil
}

// verifyForm verifies a stored form as the re-birth approval form
// numbered f.Number, against the platform's trust list and crls.
func (s *Service) verifyForm(ctx context.Context, f *card.Form, crls []*smx509.RevocationList) (*verifier.Report, error) {
	return verifier.VerifyContext(ctx, f.PDF, verifier.Options{
		Trust: s.keys.TrustList(), Policy: chain.RebirthForm, SealBoxes: RebirthFormSealBoxes(),
		DocID: f.Number, CRLs: crls,
	})
}

// formLevels are the levels whose seal on a form verifies: none when the
// form as a whole does not.
func formLevels(rep *verifier.Report) map[org.Level]bool {
	levels := map[org.Level]bool{}
	if rep.Verdict == verifier.Invalid {
		return levels
	}
	for _, s := range rep.Seals {
		if s.OK {
			levels[org.Level(s.Level)] = true
		}
	}
	return levels
}

// FormState is a card's re-birth approval form as staff see it: which
// levels' seals it carries, verified, and whether the actor may add its
// own now (补盖, Art. 17).
type FormState struct {
	Form *card.Form
	// Sealed: the levels whose seal on the stored form verifies.
	Sealed map[org.Level]bool
	// Broken: the stored form carries seals but does not verify.
	Broken bool
	// CanSeal: sealRefusal has nothing against the actor's seal.
	CanSeal bool
}

// SealedLevels are the levels of Sealed, village first.
func (st *FormState) SealedLevels() []org.Level {
	out := []org.Level{}
	for _, l := range org.Levels {
		if st.Sealed[l] {
			out = append(out, l)
		}
	}
	return out
}

// Complete: every level's seal is on the form and verifies.
func (st *FormState) Complete() bool {
	return !st.Broken && len(st.SealedLevels()) == len(org.Levels)
}

// sealRefusal is the one rule of adding a seal to a form, for SealForm,
// the county's direct issue and what the console offers: the rules'
// SealForm action on the card, a form whose seals verify and lack one,
// and one seal per level (the errors the chain policy would give).
func (st *FormState) sealRefusal(a Actor, c *card.Card) error {
	if err := Allowed(a, c, SealForm); err != nil {
		return err
	}
	if st.Broken {
		return fmt.Errorf("%w: the re-birth approval form %s does not verify", ErrState, st.Form.Number)
	}
	if st.Complete() {
		return fmt.Errorf("%w: form %s carries every level's seal", chain.ErrComplete, st.Form.Number)
	}
	if st.Sealed[a.Org.Level] {
		return fmt.Errorf("%w: the %s seal is on form %s already", chain.ErrRepeated, a.Org.Level, st.Form.Number)
	}
	return nil
}

// formState verifies form f of card c and decides whether a may seal it.
func (s *Service) formState(ctx context.Context, a Actor, c *card.Card, f *card.Form) (*FormState, error) {
	st := &FormState{Form: f, Sealed: map[org.Level]bool{}}
	if f.Seq > 0 {
		crls, err := s.CRLs()
		if err != nil {
			return nil, err
		}
		rep, err := s.verifyForm(ctx, f, crls)
		if err != nil {
			return nil, fmt.Errorf("verify the form of card %s: %w", c.ID, err)
		}
		st.Sealed, st.Broken = formLevels(rep), rep.Verdict == verifier.Invalid
	}
	st.CanSeal = st.sealRefusal(a, c) == nil
	return st, nil
}

// CardFormState returns the form of a card the actor may read, nil if the
// card is not a re-birth card or no form was drawn up.
func (s *Service) CardFormState(ctx context.Context, a Actor, id string) (*FormState, error) {
	c, err := s.card(ctx, a, id, ReadCard)
	if err != nil || c.Type != card.Rebirth {
		return nil, err
	}
	f, err := s.reg.CardForm(ctx, id)
	if errors.Is(err, card.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.formState(ctx, a, c, &f)
}

// countySealsForm applies the county's seal to the card's form with its
// direct issue, updating form, unless its verified seal is on it already.
func (s *Service) countySealsForm(ctx context.Context, a Actor, c *card.Card, form *card.Form) error {
	st, err := s.formState(ctx, a, c, form)
	if err != nil {
		return err
	}
	if !st.Broken && st.Sealed[a.Org.Level] {
		return nil
	}
	if err := st.sealRefusal(a, c); err != nil {
		return err
	}
	return s.addFormSeal(ctx, a, form)
}
