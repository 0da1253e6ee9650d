package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
)

// The console's side of the re-birth approval form (再生育审批表, Art. 17):
// the card page shows the form's seals, verified, and offers the staff
// whose level has not sealed it yet to add their seal (补盖), confirmed
// with the password like a card's seal. The same lifecycle calls as the
// JSON API (procedure.go: sealForm, formPDF) decide who may.

// formPanel is the card page's part of the form.
type formPanel struct {
	ID, Number string
	Levels     []formLevel
	// Complete: every level's seal is on the form and verifies.
	Complete bool
	// Broken: the stored form does not verify; nobody is offered to seal.
	Broken  bool
	CanSeal bool
}

type formLevel struct {
	Label  string
	Sealed bool
}

// formOf is the form panel of a card: nil when it has no form.
func (s *server) formOf(ctx context.Context, a lifecycle.Actor, id string) (*formPanel, error) {
	st, err := s.svc.CardFormState(ctx, a, id)
	if err != nil || st == nil {
		return nil, err
	}
	p := &formPanel{ID: st.Form.ID, Number: st.Form.Number, Broken: st.Broken, CanSeal: st.CanSeal, Complete: st.Complete()}
	for _, l := range org.Levels {
		p.Levels = append(p.Levels, formLevel{Label: l.Chinese(), Sealed: st.Sealed[l]})
	}
	return p, nil
}

// consoleFormPDF sends the form's newest revision.
func (s *server) consoleFormPDF(c echo.Context) error { return s.formPDF(c) }

type formSealData struct {
	consoleBase
	Card   *CardView
	FormID string
	Number string
}

func (s *server) formSealPage(c echo.Context, a lifecycle.Actor) (formSealData, error) {
	id, err := formID(c)
	if err != nil {
		return formSealData{}, err
	}
	f, err := s.svc.Form(c.Request().Context(), a, id)
	if err != nil {
		return formSealData{}, err
	}
	v, err := s.sealView(c, a, f.CardID)
	if err != nil {
		return formSealData{}, err
	}
	return formSealData{consoleBase: s.base(c, "确认在再生育审批表上补盖印章", "card"), Card: v, FormID: f.ID, Number: f.Number}, nil
}

// consoleFormSealConfirm is the confirmation step before sealing a form.
func (s *server) consoleFormSealConfirm(c echo.Context) error {
	a, _ := actorOf(c)
	d, err := s.formSealPage(c, a)
	if err != nil {
		return err
	}
	return s.pages.render(c, http.StatusOK, "console_formseal.html", d)
}

// consoleFormSeal checks the re-entered password and adds the actor's
// organisation's seal to the form.
func (s *server) consoleFormSeal(c echo.Context) error {
	a, _ := actorOf(c)
	d, err := s.formSealPage(c, a)
	if err != nil {
		return err
	}
	if err := s.confirmPassword(c, postValue(c, "password")); err != nil {
		k, ok := passwordRefusal(c, err, "未盖章。")
		if !ok {
			return err
		}
		d.Error = k.detail
		return s.pages.render(c, k.status, "console_formseal.html", d)
	}
	f, err := s.svc.SealForm(c.Request().Context(), a, d.FormID)
	if err != nil {
		return err
	}
	s.metrics.seals.WithLabelValues(string(a.Org.Level)).Inc()
	s.log.Info("form sealed", "request_id", requestIDOf(c), "card_id", f.CardID, "form", f.ID, "level", a.Org.Level, "org", a.Org.Code, "user", a.Username, "via", "console")
	return c.Redirect(http.StatusSeeOther, "/console/cards/"+f.CardID+"?done=formsealed#form-section")
}
