package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/token"
)

// SealView is one seal record of a card.
type SealView struct {
	Seq          int        `json:"seq"`
	Level        keys.Level `json:"level"`
	OrgCode      string     `json:"org_code"`
	Organisation string     `json:"organisation,omitempty"`
	SignedAt     time.Time  `json:"signed_at"`
	ByUser       string     `json:"by_user"`
	CertSerial   string     `json:"cert_serial"`
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
	Status           store.Status       `json:"status"`
	VillageCode      string             `json:"village_code"`
	CountyCode       string             `json:"county_code"`
	Seq              int                `json:"seq"`
	NextLevel        keys.Level         `json:"next_level,omitempty"`
	Seals            []SealView         `json:"seals"`
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

// view builds a card's view; full adds the application and the QR URL.
func (s *server) view(c echo.Context, sc *store.Card, full bool) (*CardView, error) {
	app, err := s.svc.Applicant(sc)
	if err != nil {
		return nil, err
	}
	v := &CardView{
		ID: sc.ID, Number: sc.Number, Type: sc.Type, Title: sc.Type.Title(), Status: sc.Status,
		VillageCode: sc.VillageCode, CountyCode: sc.CountyCode, Seq: sc.Seq,
		Seals: []SealView{}, StatusReason: sc.StatusReason, StatusNote: sc.StatusNote, SupersededBy: sc.SupersededBy,
		CreatedAt: sc.CreatedAt, UpdatedAt: sc.UpdatedAt, CreatedBy: sc.CreatedBy, Version: sc.Version,
		Holders: []lifecycle.Holder{
			{Role: "male", Name: card.MaskName(app.Male.Name), IDNumber: card.MaskID(app.Male.IDNumber)},
			{Role: "female", Name: card.MaskName(app.Female.Name), IDNumber: card.MaskID(app.Female.IDNumber)},
		},
	}
	seals, err := s.store.Seals(c.Request().Context(), sc.ID)
	if err != nil {
		return nil, err
	}
	var prev []chain.Seal
	for _, x := range seals {
		sv := SealView{Seq: x.Seq, Level: x.Level, OrgCode: x.OrgCode, SignedAt: x.SignedAt, ByUser: x.ByUser, CertSerial: x.CertSerial}
		if o, err := s.svc.Keys.Org(x.OrgCode); err == nil {
			sv.Organisation = o.Name
		}
		v.Seals = append(v.Seals, sv)
		prev = append(prev, chain.Seal{Level: x.Level, Code: x.OrgCode})
	}
	if sc.Status == store.StatusDraft {
		if l, ok := chain.Card.Next(prev); ok {
			v.NextLevel = l
		}
	}
	if full {
		v.Applicant = app
		if sc.QRToken != "" {
			v.VerificationURL, _ = token.URL(s.svc.PublicURL, sc.QRToken)
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

// queue lists the drafts awaiting the caller's level in its jurisdiction.
func (s *server) queue(c echo.Context) error {
	a, _ := actorOf(c)
	cards, err := s.svc.Queue(c.Request().Context(), a)
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
	return writeJSON(c, http.StatusOK, map[string]any{"cards": out})
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
	return writeJSON(c, http.StatusOK, v)
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
	_, pdf, err := s.store.CurrentPDF(ctx, id)
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

// sealCard applies the caller's organisation's seal.
func (s *server) sealCard(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
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

// StatusRequest is the body of void, revoke and supersede.
type StatusRequest struct {
	Reason    string `json:"reason"`
	Note      string `json:"note"`
	NewCardID string `json:"new_card_id,omitempty"`
}

// setStatus returns the handler that moves an issued card to status to.
func (s *server) setStatus(to store.Status) echo.HandlerFunc {
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
		if to == store.StatusSuperseded {
			if !cardIDRE.MatchString(req.NewCardID) {
				return fail(kindNewCard, errors.New("new_card_id missing or malformed"))
			}
			if _, err := s.store.GetCard(c.Request().Context(), req.NewCardID); errors.Is(err, store.ErrNotFound) {
				return fail(kindNewCard, err)
			}
		}
		sc, err := s.svc.SetStatus(c.Request().Context(), a, id, to, req.Reason, req.Note, req.NewCardID)
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
