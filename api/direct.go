package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// The county's direct issue of a re-birth card (Art. 17) over HTTP: the
// village's or township's pre-review report (预审上报), the county's list
// and its direct issue, confirmed with the password like a seal. Who may
// do each is lifecycle.Allowed's (PreReview, IssueDirect).

var (
	kindNotPreReviewed = kind{409, "not-pre-reviewed", "Not on the pre-review list", "该申请不在村、乡预审上报名单中，县级不能直接办理（第十七条）。"}
	kindReported       = kind{409, "already-reported", "Already reported", "本级已将该申请预审上报，无需重复上报。"}
)

// PreReviewView is one pre-review report.
type PreReviewView struct {
	ID        string    `json:"id"`
	CardID    string    `json:"card_id"`
	Level     org.Level `json:"level"`
	OrgCode   string    `json:"org_code"`
	By        string    `json:"by"`
	CreatedAt time.Time `json:"created_at"`
}

func preReviewView(p card.PreReview) PreReviewView {
	return PreReviewView{ID: p.ID, CardID: p.CardID, Level: p.Level, OrgCode: p.OrgCode, By: p.By, CreatedAt: p.CreatedAt}
}

// PreReviewListItem is one card of the pre-review list.
type PreReviewListItem struct {
	Card    *CardView       `json:"card"`
	Reports []PreReviewView `json:"reports"`
}

// IssueDirectRequest is the body of a direct issue: the caller's password
// (as for a seal) and, when the card has no re-birth approval form yet,
// the form's reason and optional conditions.
type IssueDirectRequest struct {
	Password   string `json:"password"`
	Reason     string `json:"reason,omitempty"`
	Conditions string `json:"conditions,omitempty"`
}

// IssueDirectView is a card issued directly and its form.
type IssueDirectView struct {
	Card *CardView `json:"card"`
	Form FormView  `json:"form"`
}

// preReview reports a re-birth application to the county (village or
// township).
func (s *server) preReview(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	p, err := s.svc.SubmitPreReview(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusCreated, preReviewView(*p))
}

// preReviewList is the pre-review list of the caller's jurisdiction.
func (s *server) preReviewList(c echo.Context) error {
	a, _ := actorOf(c)
	items, err := s.svc.PreReviewList(c.Request().Context(), a)
	if err != nil {
		return err
	}
	out := make([]PreReviewListItem, 0, len(items))
	for i := range items {
		v, err := s.view(c, &items[i].Card, false)
		if err != nil {
			return err
		}
		it := PreReviewListItem{Card: v}
		for _, p := range items[i].Reports {
			it.Reports = append(it.Reports, preReviewView(p))
		}
		out = append(out, it)
	}
	return writeJSON(c, http.StatusOK, map[string]any{"pre_reviews": out})
}

// issueDirect checks the caller's password again and issues the card
// directly with the county's seal alone.
func (s *server) issueDirect(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	var req IssueDirectRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.confirmPassword(c, req.Password); err != nil {
		return err
	}
	sc, f, err := s.svc.IssueDirect(c.Request().Context(), a, id, req.Reason, req.Conditions)
	if err != nil {
		return err
	}
	s.metrics.seals.WithLabelValues(string(a.Org.Level)).Inc()
	s.log.Info("card issued directly", "request_id", requestIDOf(c), "card_id", sc.ID, "org", a.Org.Code, "user", a.Username)
	v, err := s.view(c, sc, false)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, IssueDirectView{Card: v, Form: formView(f)})
}
