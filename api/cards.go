package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/token"
)

// SealView is one seal record of a card.
type SealView struct {
	Seq          int       `json:"seq"`
	Level        org.Level `json:"level"`
	OrgCode      string    `json:"org_code"`
	Organisation string    `json:"organisation,omitempty"`
	SignedAt     time.Time `json:"signed_at"`
	ByUser       string    `json:"by_user"`
	CertSerial   string    `json:"cert_serial"`
	// The approval the seal carried out (Art. 15): it may precede the
	// signature when the level approved before the level below sealed.
	ApprovedAt *time.Time `json:"approved_at,omitempty"`
	ApprovedBy string     `json:"approved_by,omitempty"`
}

// CardView is a card as staff see it. Summaries (lists, the answers to
// create, seal and status changes) carry masked holders only; the full
// application appears only in GET /cards/{id}, whose read is audited
// (Art. 13).
type CardView struct {
	ID               string             `json:"id"`
	Number           string             `json:"number"`
	Type             card.Type          `json:"type"`
	Title            string             `json:"title"`
	Status           card.Status        `json:"status"`
	VillageCode      string             `json:"village_code"`
	CountyCode       string             `json:"county_code"`
	Seq              int                `json:"seq"`
	NextLevel        org.Level          `json:"next_level,omitempty"`
	Seals            []SealView         `json:"seals"`
	Review           []ReviewView       `json:"review,omitempty"` // drafts: each level's state (Art. 15)
	Holders          []lifecycle.Holder `json:"holders"`
	StatusReason     string             `json:"status_reason,omitempty"`
	StatusNote       string             `json:"status_note,omitempty"`
	SupersededBy     string             `json:"superseded_by,omitempty"`
	CreatedAt        time.Time          `json:"created_at"`
	UpdatedAt        time.Time          `json:"updated_at"`
	CreatedBy        string             `json:"created_by"`
	Version          int                `json:"version"`
	Applicant        *card.Applicant    `json:"applicant,omitempty"`
	VerificationURL  string             `json:"verification_url,omitempty"`
	VerificationCode string             `json:"verification_code,omitempty"`
	// Form: a re-birth card's approval form (Art. 17) and the levels
	// whose seal on it verifies; on GET /api/v1/cards/{id} only.
	Form *CardFormView `json:"form,omitempty"`
	// Art. 19: when the file became complete (absent while it is not),
	// whether another province must verify and why (staff's finding),
	// and, for a draft whose file is complete, the due date.
	CompleteAt          *time.Time `json:"complete_at,omitempty"`
	CrossProvince       bool       `json:"cross_province"`
	CrossProvinceReason string     `json:"cross_province_reason,omitempty"`
	Due                 string     `json:"due,omitempty"`
}

var cardIDRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// cardID returns the :id parameter; a malformed id is simply not found.
func cardID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !cardIDRE.MatchString(id) {
		return "", fail(kindNotFound, fmt.Errorf("malformed card id"))
	}
	return id, nil
}

// view builds a card's view for the actor; full adds the application and
// the QR URL.
func (s *server) view(c echo.Context, sc *card.Card, full bool) (*CardView, error) {
	a, _ := actorOf(c)
	ctx := c.Request().Context()
	app, err := s.svc.Applicant(sc)
	if err != nil {
		return nil, err
	}
	v := &CardView{
		ID: sc.ID, Number: sc.Number, Type: sc.Type, Title: sc.Type.Title(), Status: sc.Status,
		VillageCode: sc.VillageCode, CountyCode: sc.CountyCode, Seq: sc.Seq, NextLevel: sc.NextLevel,
		Seals: []SealView{}, StatusReason: sc.StatusReason, StatusNote: sc.StatusNote, SupersededBy: sc.SupersededBy,
		CreatedAt: sc.CreatedAt, UpdatedAt: sc.UpdatedAt, CreatedBy: sc.CreatedBy, Version: sc.Version,
		Holders: lifecycle.MaskHolders(app),
	}
	seals, err := s.svc.Seals(ctx, a, sc)
	if err != nil {
		return nil, err
	}
	for _, x := range seals {
		v.Seals = append(v.Seals, SealView{Seq: x.Seq, Level: x.Level, OrgCode: x.OrgCode, Organisation: s.svc.OrgName(ctx, x.OrgCode),
			SignedAt: x.SignedAt, ByUser: x.ByUser, CertSerial: x.CertSerial, ApprovedAt: timeOrNil(x.ApprovedAt), ApprovedBy: x.ApprovedBy})
	}
	v.CompleteAt, v.CrossProvince, v.CrossProvinceReason = timeOrNil(sc.CompleteAt), sc.CrossProvince, sc.CrossProvinceReason
	if sc.Status == card.StatusDraft {
		if v.Review, err = s.reviewViews(ctx, a, sc); err != nil {
			return nil, err
		}
		v.Due = s.svc.Deadline(sc).DueDate()
	}
	if full {
		v.Applicant = app
		if sc.QRToken != "" {
			v.VerificationURL, _ = token.URL(s.svc.PublicURL(), sc.QRToken)
			v.VerificationCode = token.VerificationCode(sc.QRToken)
		}
	}
	return v, nil
}

// createCard records an application (Art. 3; Art. 14 at the counter).
func (s *server) createCard(c echo.Context) error {
	a, _ := actorOf(c)
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	app, err := card.ParseApplicant(body)
	if err != nil {
		return err
	}
	sc, err := s.svc.Apply(c.Request().Context(), a, app)
	if err != nil {
		return err
	}
	v, err := s.view(c, sc, false)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/cards/"+sc.ID)
	return writeJSON(c, http.StatusCreated, v)
}

// queue lists the drafts awaiting the caller's level in its jurisdiction,
// a page at a time (?after=ID&limit=N; the answer's next is the cursor of
// the following page, empty on the last).
func (s *server) queue(c echo.Context) error {
	a, _ := actorOf(c)
	after, limit, err := pageParams(c)
	if err != nil {
		return err
	}
	cards, err := s.svc.Queue(c.Request().Context(), a, after, limit)
	if err != nil {
		return err
	}
	out := make([]*CardView, 0, len(cards))
	for i := range cards {
		v, err := s.view(c, &cards[i], false)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return writeJSON(c, http.StatusOK, map[string]any{"cards": out, "next": nextCursor(cards, limit)})
}

// pageParams reads ?after=ID&limit=N (default 100, at most 1000).
func pageParams(c echo.Context) (string, int, error) {
	after := c.QueryParam("after")
	if after != "" && !cardIDRE.MatchString(after) {
		return "", 0, fail(kindBadRequest, errors.New("malformed cursor"))
	}
	limit := 100
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return "", 0, fail(kindBadRequest, errors.New("limit must be 1 to 1000"))
		}
		limit = n
	}
	return after, limit, nil
}

// nextCursor is the cursor of the page after a full one, "" after the
// last.
func nextCursor(cards []card.Card, limit int) string {
	if len(cards) < limit || len(cards) == 0 {
		return ""
	}
	return cards[len(cards)-1].ID
}

// getCard returns a card with its full application, to staff whose
// jurisdiction holds it; the service audits the read.
func (s *server) getCard(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	sc, err := s.svc.Get(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	v, err := s.view(c, sc, true)
	if err != nil {
		return err
	}
	st, err := s.svc.CardFormState(c.Request().Context(), a, sc.ID)
	if err != nil {
		return err
	}
	if st != nil {
		v.Form = &CardFormView{ID: st.Form.ID, Number: st.Form.Number, PDF: "/api/v1/forms/" + st.Form.ID + "/pdf",
			SealedLevels: st.SealedLevels(), Complete: st.Complete(), Broken: st.Broken}
	}
	return writeJSON(c, http.StatusOK, v)
}

// CardFormView is a card's re-birth approval form as the card's JSON
// names it: the card names the form, the form (FormView) the card.
type CardFormView struct {
	ID           string      `json:"id"`
	Number       string      `json:"number"`
	PDF          string      `json:"pdf"`
	SealedLevels []org.Level `json:"sealed_levels"`
	Complete     bool        `json:"complete"`
	Broken       bool        `json:"broken,omitempty"`
}

// cardPDF sends the card's newest PDF revision.
func (s *server) cardPDF(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sc, err := s.svc.Get(ctx, a, id)
	if err != nil {
		return err
	}
	pdf, err := s.svc.PDF(ctx, a, sc)
	if err != nil {
		return err
	}
	return sendPDF(c, sc.Number, pdf)
}

func sendPDF(c echo.Context, number string, pdf []byte) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="card-%s.pdf"`, number))
	h.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "application/pdf", pdf)
}

// sealCard checks the caller's password again (SealRequest) and applies
// the caller's organisation's seal.
func (s *server) sealCard(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	if err := s.confirmSeal(c); err != nil {
		return err
	}
	sc, err := s.svc.Seal(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	s.metrics.seals.WithLabelValues(string(a.Org.Level)).Inc()
	s.log.Info("card sealed", "request_id", requestIDOf(c), "card_id", sc.ID, "level", a.Org.Level, "org", a.Org.Code, "user", a.Username, "status", sc.Status)
	v, err := s.view(c, sc, false)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, v)
}

// StatusRequest is the body of void, revoke and supersede; superseding
// names the new card by its ID or its number.
type StatusRequest struct {
	Reason        string `json:"reason"`
	Note          string `json:"note"`
	NewCardID     string `json:"new_card_id,omitempty"`
	NewCardNumber string `json:"new_card_number,omitempty"`
	// FoundOn is the day of the county's finding of a false commitment
	// (revoke only, Art. 20; YYYY-MM-DD, default today).
	FoundOn string `json:"found_on,omitempty"`
}

// setStatus returns the handler that moves an issued card to status to.
func (s *server) setStatus(to card.Status) echo.HandlerFunc {
	return func(c echo.Context) error {
		a, _ := actorOf(c)
		id, err := cardID(c)
		if err != nil {
			return err
		}
		var req StatusRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		var sc *card.Card
		if to == card.StatusRevoked {
			sc, err = s.svc.Revoke(c.Request().Context(), a, id, req.Reason, req.Note, req.FoundOn)
		} else if req.FoundOn != "" {
			return fail(kindBadRequest, errors.New("found_on belongs to a revocation"))
		} else {
			sc, err = s.svc.SetStatus(c.Request().Context(), a, id, to, req.Reason, req.Note,
				lifecycle.CardRef{ID: req.NewCardID, Number: req.NewCardNumber})
		}
		if err != nil {
			return err
		}
		s.log.Info("card status changed", "request_id", requestIDOf(c), "card_id", sc.ID, "status", to, "reason", req.Reason, "user", a.Username)
		v, err := s.view(c, sc, false)
		if err != nil {
			return err
		}
		return writeJSON(c, http.StatusOK, v)
	}
}
