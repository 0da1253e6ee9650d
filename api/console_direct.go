package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
)

// The console's doors of Art. 17: the village's or township's pre-review
// report from the card page, the pre-review list, and the county's
// direct issue confirmed with the password like a seal. The same
// lifecycle calls as the JSON API (direct.go), which decide who may.

// directView is the card page's part of Art. 17.
type directView struct {
	Reports      []reportRow
	CanPreReview bool // the actor's level may report the card now
	CanIssue     bool // the county may issue it directly now
	// Issued: the county issued the card directly; its chain is the
	// county's seal alone (the ordinary chain never ends at one seal).
	Issued bool
}

type reportRow struct{ Level, Org, By, At string }

// directOf is what the card page shows and offers of Art. 17: nothing for
// a card that is not a re-birth application.
func (s *server) directOf(ctx context.Context, a lifecycle.Actor, sc *card.Card) (*directView, error) {
	if sc.Type != card.Rebirth {
		return nil, nil
	}
	reports, err := s.svc.PreReviews(ctx, a, sc.ID)
	if err != nil {
		return nil, err
	}
	d := &directView{Issued: sc.Seq == 1 && sc.Status != card.StatusDraft && sc.Status != card.StatusRefused}
	reported := false
	for _, p := range reports {
		d.Reports = append(d.Reports, reportRow{Level: p.Level.Chinese(), Org: s.svc.OrgName(ctx, p.OrgCode), By: p.By, At: chinaTime(p.CreatedAt)})
		reported = reported || p.Level == a.Org.Level
	}
	d.CanPreReview = lifecycle.Can(a, sc, lifecycle.PreReview) && !reported
	if lifecycle.Can(a, sc, lifecycle.IssueDirect) {
		_, err := lifecycle.OnPreReviewList(sc, reports)
		d.CanIssue = err == nil
	}
	return d, nil
}

// directSteps are the seal steps the card page shows: the county's alone
// for a card issued directly.
func directSteps(steps []step, d *directView) []step {
	if d == nil || !d.Issued {
		return steps
	}
	return steps[len(steps)-1:]
}

// consolePreReview reports the card to the county's pre-review list.
func (s *server) consolePreReview(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	if _, err := s.svc.SubmitPreReview(c.Request().Context(), a, id); err != nil {
		return err
	}
	s.log.Info("pre-review reported", "request_id", requestIDOf(c), "card_id", id, "user", a.Username, "via", "console")
	return c.Redirect(http.StatusSeeOther, "/console/cards/"+id+"?done=prereviewed")
}

type preReviewsData struct {
	consoleBase
	Items []preReviewRow
}

type preReviewRow struct {
	ID, Number, Village string
	Reports             []reportRow
	CanIssue            bool
}

// consolePreReviews is the pre-review list of the caller's jurisdiction.
func (s *server) consolePreReviews(c echo.Context) error {
	a, _ := actorOf(c)
	ctx := c.Request().Context()
	items, err := s.svc.PreReviewList(ctx, a)
	if err != nil {
		return err
	}
	d := preReviewsData{consoleBase: s.base(c, "预审上报名单", "prereviews")}
	for _, it := range items {
		r := preReviewRow{ID: it.Card.ID, Number: it.Card.Number, Village: s.svc.OrgName(ctx, it.Card.VillageCode),
			CanIssue: lifecycle.Can(a, &it.Card, lifecycle.IssueDirect)}
		for _, p := range it.Reports {
			r.Reports = append(r.Reports, reportRow{Level: p.Level.Chinese(), Org: s.svc.OrgName(ctx, p.OrgCode), By: p.By, At: chinaTime(p.CreatedAt)})
		}
		d.Items = append(d.Items, r)
	}
	return s.pages.render(c, http.StatusOK, "console_prereviews.html", d)
}

type directData struct {
	consoleBase
	Card *CardView
	// NeedsForm: the card has no re-birth approval form yet; the page
	// asks for its reason.
	NeedsForm bool
	Reason    string
}

func (s *server) directPage(c echo.Context, a lifecycle.Actor, id string) (directData, error) {
	v, err := s.sealView(c, a, id)
	if err != nil {
		return directData{}, err
	}
	_, err = s.svc.CardForm(c.Request().Context(), a, id)
	if err != nil && !errors.Is(err, card.ErrNotFound) {
		return directData{}, err
	}
	return directData{consoleBase: s.base(c, "确认县级直接办理", "card"), Card: v, NeedsForm: err != nil}, nil
}

// consoleDirectConfirm is the confirmation step of the direct issue.
func (s *server) consoleDirectConfirm(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	d, err := s.directPage(c, a, id)
	if err != nil {
		return err
	}
	return s.pages.render(c, http.StatusOK, "console_direct.html", d)
}

// consoleDirect checks the re-entered password and issues the card
// directly with the county's seal.
func (s *server) consoleDirect(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	reason, conditions := postValue(c, "reason"), postValue(c, "conditions")
	if err := s.confirmPassword(c, postValue(c, "password")); err != nil {
		k, ok := passwordRefusal(c, err, "未办理。")
		if !ok {
			return err
		}
		d, derr := s.directPage(c, a, id)
		if derr != nil {
			return derr
		}
		d.Error, d.Reason = k.detail, reason
		return s.pages.render(c, k.status, "console_direct.html", d)
	}
	sc, _, err := s.svc.IssueDirect(c.Request().Context(), a, id, reason, conditions)
	if err != nil {
		return err
	}
	s.metrics.seals.WithLabelValues(string(a.Org.Level)).Inc()
	s.log.Info("card issued directly", "request_id", requestIDOf(c), "card_id", sc.ID, "org", a.Org.Code, "user", a.Username, "via", "console")
	return c.Redirect(http.StatusSeeOther, "/console/cards/"+sc.ID+"?done=direct")
}
