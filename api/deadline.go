package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
)

// The Art. 19 clock through HTTP: each application's due date, the
// overdue report, and staff's finding that another province must verify.

// DeadlineView is an application's Art. 19 time limit.
type DeadlineView struct {
	ID      string      `json:"id"`
	Number  string      `json:"number"`
	Status  card.Status `json:"status"`
	Village string      `json:"village_code"`
	Created time.Time   `json:"created_at"`
	// Complete is when the file became complete (Art. 19: the clock
	// starts the day after); absent while it is not, and then Due is
	// absent too.
	Complete      *time.Time `json:"complete_at,omitempty"`
	CrossProvince bool       `json:"cross_province"`
	Limit         int        `json:"limit_working_days"`
	Due           string     `json:"due,omitempty"`
	DaysLeft      int        `json:"days_left"`
	Overdue       bool       `json:"overdue"`
}

func deadlineView(c *card.Card, d lifecycle.Deadline) DeadlineView {
	v := DeadlineView{ID: c.ID, Number: c.Number, Status: c.Status, Village: c.VillageCode, Created: c.CreatedAt,
		CrossProvince: c.CrossProvince, Limit: d.Limit, Due: d.DueDate(), DaysLeft: d.Left, Overdue: d.Overdue()}
	if d.Running() {
		t := d.Started
		v.Complete = &t
	}
	return v
}

// queueDeadlines is the caller's queue with each application's due date
// and working days left (Art. 19).
func (s *server) queueDeadlines(c echo.Context) error {
	a, _ := actorOf(c)
	after, limit, err := pageParams(c)
	if err != nil {
		return err
	}
	cards, err := s.svc.Queue(c.Request().Context(), a, after, limit)
	if err != nil {
		return err
	}
	out := make([]DeadlineView, 0, len(cards))
	for i := range cards {
		out = append(out, deadlineView(&cards[i], s.svc.Deadline(&cards[i])))
	}
	return writeJSON(c, http.StatusOK, map[string]any{"cards": out, "next": nextCursor(cards, limit)})
}

// overdue reports the applications of the county past their time limit
// (Art. 19, 24).
func (s *server) overdue(c echo.Context) error {
	a, _ := actorOf(c)
	rows, err := s.svc.OverdueReport(c.Request().Context(), a)
	if err != nil {
		return err
	}
	out := make([]DeadlineView, 0, len(rows))
	for i := range rows {
		out = append(out, deadlineView(&rows[i].Card, rows[i].Deadline))
	}
	return writeJSON(c, http.StatusOK, map[string]any{"county": a.Org.Code, "overdue": out})
}

// CrossProvinceRequest records staff's finding of whether another
// province must verify the couple's facts (Art. 19: 20 working days
// instead of 10), with the reason.
type CrossProvinceRequest struct {
	CrossProvince bool   `json:"cross_province"`
	Reason        string `json:"reason"`
}

// crossProvince is POST /api/v1/cards/{id}/cross-province; lifecycle's
// SetCrossProvince decides who may and checks the reason.
func (s *server) crossProvince(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	var req CrossProvinceRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	sc, err := s.svc.SetCrossProvince(c.Request().Context(), a, id, req.CrossProvince, req.Reason)
	if err != nil {
		return err
	}
	v, err := s.view(c, sc, false)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, v)
}

// consoleCrossProvince is the card page's form for the same finding: the
// same lifecycle call as the JSON API.
func (s *server) consoleCrossProvince(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	on := c.FormValue("cross_province") == "on"
	if _, err := s.svc.SetCrossProvince(c.Request().Context(), a, id, on, c.FormValue("reason")); err != nil {
		// No reason (or one too long): the clerk stays on the card
		// page and is told, as for a status change.
		if k, _ := classify(err); k.slug == kindReason.slug {
			return s.renderCard(c, k.status, "外省核实未登记：请填写理由（1 至 100 字，一行）。", changeForm{})
		}
		return err
	}
	s.log.Info("cross-province verification set", "request_id", requestIDOf(c), "card_id", id, "cross_province", on, "user", a.Username, "via", "console")
	return c.Redirect(http.StatusSeeOther, "/console/cards/"+id+"?done=cross-province")
}
