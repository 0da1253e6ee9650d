package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
)

// Simultaneous review (网上同时审核, Art. 15) at the doors: the approval
// through the JSON API and the console, and each level's state in the
// card's view and the console queue.

// ReviewView is one level's state on an application under review
// (simultaneous review, Art. 15): pending (待审), approved (已同意待盖章)
// or sealed (已盖章); cancelled tells that the level's approval was
// cancelled because the application changed after it.
type ReviewView struct {
	Level        org.Level             `json:"level"`
	State        lifecycle.ReviewState `json:"state"`
	Label        string                `json:"label"`
	Organisation string                `json:"organisation,omitempty"`
	ApprovedBy   string                `json:"approved_by,omitempty"`
	ApprovedAt   *time.Time            `json:"approved_at,omitempty"`
	SealedAt     *time.Time            `json:"sealed_at,omitempty"`
	Cancelled    bool                  `json:"cancelled,omitempty"`
	CancelledAt  *time.Time            `json:"cancelled_at,omitempty"`
}

// timeOrNil is t, or nil for the zero time (left out of the JSON).
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// approveCard records the caller's level's approval (simultaneous review,
// Art. 15), confirmed with the password like a seal: the seal follows at
// once when it is the level's turn, else as soon as the level below has
// sealed.
func (s *server) approveCard(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	if err := s.confirmSeal(c); err != nil {
		return err
	}
	sc, err := s.svc.Approve(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	s.log.Info("card approved", "request_id", requestIDOf(c), "card_id", sc.ID, "level", a.Org.Level, "org", a.Org.Code, "user", a.Username, "status", sc.Status, "next_level", sc.NextLevel)
	v, err := s.view(c, sc, false)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, v)
}

// reviewViews are the levels' states on a draft the actor may read.
func (s *server) reviewViews(ctx context.Context, a lifecycle.Actor, sc *card.Card) ([]ReviewView, error) {
	rs, err := s.svc.Review(ctx, a, sc)
	if err != nil {
		return nil, err
	}
	out := make([]ReviewView, 0, len(rs))
	for _, r := range rs {
		rv := ReviewView{Level: r.Level, State: r.State, Label: r.State.Label(), ApprovedBy: r.ApprovedBy,
			ApprovedAt: timeOrNil(r.ApprovedAt), SealedAt: timeOrNil(r.SealedAt), Cancelled: r.Cancelled, CancelledAt: timeOrNil(r.CancelledAt)}
		if r.OrgCode != "" {
			rv.Organisation = s.svc.OrgName(ctx, r.OrgCode)
		}
		out = append(out, rv)
	}
	return out, nil
}

// approvedBy reports whether the level's approval is in force: the
// console then offers no second one.
func approvedBy(rs []ReviewView, l org.Level) bool {
	for _, r := range rs {
		if r.Level == l && r.State == lifecycle.ReviewApproved {
			return true
		}
	}
	return false
}

// LevelLabel is a level's name for the console's review states.
func (r ReviewView) LevelLabel() string { return r.Level.Chinese() }

// consoleApprove checks the re-entered password and records the
// approval (the seal follows at once when it is the caller's turn).
func (s *server) consoleApprove(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	if err := s.confirmPassword(c, postValue(c, "password")); err != nil {
		k, ok := passwordRefusal(c, err, "未记录审核同意。")
		if !ok {
			return err
		}
		return s.pages.renderError(c, k)
	}
	sc, err := s.svc.Approve(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	s.log.Info("card approved", "request_id", requestIDOf(c), "card_id", sc.ID, "level", a.Org.Level, "org", a.Org.Code, "user", a.Username, "status", sc.Status, "via", "console")
	return c.Redirect(http.StatusSeeOther, "/console/cards/"+sc.ID+"?done=approved")
}
