package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
)

// Art. 16: the holder asks for the official card (正式证件) by post; staff
// of the card's jurisdiction print it and record the posting; the holder
// sees the state in the tracking answer.

var (
	kindPostingOpen = kind{409, "posting-open", "A postal request is open", "该服务卡已有邮寄正式证件的申请正在办理，请凭申请编号查询进度。"}
	kindPosting     = kind{422, "bad-posting", "Malformed postal request", "请填写收件人（30 字以内）、联系电话和邮寄地址（200 字以内）；登记邮寄时须填写邮寄日期、快递公司和运单号。"}
)

// PostingRequest is the body of the holder's request.
type PostingRequest struct {
	IDNumber string `json:"id_number"`
	lifecycle.PostalAddress
}

// PostingView is a request as the holder or staff see it.
type PostingView struct {
	CardID      string    `json:"card_id,omitempty"`
	CardNumber  string    `json:"card_number"`
	Seq         int       `json:"seq"`
	State       string    `json:"state"`
	RequestedAt time.Time `json:"requested_at"`
	PostedOn    string    `json:"posted_on,omitempty"`
	Carrier     string    `json:"carrier,omitempty"`
	Tracking    string    `json:"tracking_number,omitempty"`
	// Address is shown to staff only.
	Address *lifecycle.PostalAddress `json:"address,omitempty"`
}

func postingView(number string, p card.Posting) PostingView {
	return PostingView{CardNumber: number, Seq: p.Seq, State: p.State, RequestedAt: p.RequestedAt, PostedOn: p.PostedOn, Carrier: p.Carrier, Tracking: p.Tracking}
}

// requestPosting records the holder's request (application number and a
// spouse's ID number, checked as the tracking check is).
func (s *server) requestPosting(c echo.Context) error {
	number := c.Param("number")
	if !applicationNumberRE.MatchString(number) {
		return fail(kindNotFound, errors.New("malformed application number"))
	}
	var req PostingRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.IDNumber == "" {
		return fail(kindMissingParam, errors.New("no id_number"))
	}
	p, err := s.svc.RequestPosting(c.Request().Context(), number, req.IDNumber, c.RealIP(), req.PostalAddress)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusCreated, postingView(number, *p))
}

// openPostings lists the open requests of the caller's jurisdiction, with
// their addresses (staff).
func (s *server) openPostings(c echo.Context) error {
	a, _ := actorOf(c)
	ps, err := s.svc.OpenPostings(c.Request().Context(), a)
	if err != nil {
		return err
	}
	out := make([]PostingView, 0, len(ps))
	for _, p := range ps {
		v := postingView(p.Card.Number, p.Posting)
		v.CardID, v.Address = p.Card.ID, &p.Address
		out = append(out, v)
	}
	return writeJSON(c, http.StatusOK, map[string]any{"postings": out})
}

// PostingUpdate is the body of a posting record.
type PostingUpdate struct {
	State    string `json:"state"` // printed | posted
	PostedOn string `json:"posted_on,omitempty"`
	Carrier  string `json:"carrier,omitempty"`
	Tracking string `json:"tracking_number,omitempty"`
}

func postingSeq(c echo.Context) (int, error) {
	seq, err := strconv.Atoi(c.Param("seq"))
	if err != nil || seq < 1 || seq > 1000 {
		return 0, fail(kindNotFound, errors.New("malformed request number"))
	}
	return seq, nil
}

// recordPosting records that the official card was printed or posted.
func (s *server) recordPosting(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	seq, err := postingSeq(c)
	if err != nil {
		return err
	}
	var req PostingUpdate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.svc.RecordPosting(c.Request().Context(), a, id, seq, req.State, req.PostedOn, req.Carrier, req.Tracking); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type postingsData struct {
	consoleBase
	Rows []PostingView
}

// consolePostings is the console's list of open requests, each with the
// forms to record printing and posting.
func (s *server) consolePostings(c echo.Context) error {
	a, _ := actorOf(c)
	ps, err := s.svc.OpenPostings(c.Request().Context(), a)
	if err != nil {
		return err
	}
	d := postingsData{consoleBase: s.base(c, "邮寄正式证件", "postings"), Rows: []PostingView{}}
	for _, p := range ps {
		v := postingView(p.Card.Number, p.Posting)
		v.CardID, v.Address = p.Card.ID, &p.Address
		d.Rows = append(d.Rows, v)
	}
	return s.pages.render(c, http.StatusOK, "console_postings.html", d)
}

// consoleRecordPosting records printing or posting from the console form.
func (s *server) consoleRecordPosting(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	seq, err := postingSeq(c)
	if err != nil {
		return err
	}
	state := c.FormValue("state")
	if err := s.svc.RecordPosting(c.Request().Context(), a, id, seq, state, c.FormValue("posted_on"), c.FormValue("carrier"), c.FormValue("tracking_number")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/cards/%s?done=%s", id, state))
}
