package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store"
)

// The citizen download (Art. 16: couples print the card themselves). The
// QR token identifies the card; one spouse's ID number, checked against
// the registry's encrypted applicant record (never against anything in
// the token), proves the right to the PDF. Every attempt is rate-limited
// per client IP and per card, and audited; nothing lists cards.

var idNumberRE = regexp.MustCompile(`^[0-9]{17}[0-9X]$`)

// downloadCard resolves a token to the card it names; nil means the token
// is forged, malformed or unknown (all answered alike).
func (s *server) downloadCard(c echo.Context) (*store.Card, error) {
	tok := tokenParam(c)
	if tok == "" {
		return nil, nil
	}
	sc, err := s.checker.CardByToken(c.Request().Context(), tok)
	if errors.Is(err, lifecycle.ErrForgedToken) || errors.Is(err, lifecycle.ErrUnknownToken) {
		return nil, nil
	}
	return sc, err
}

// downloadForm asks for one spouse's ID number.
func (s *server) downloadForm(c echo.Context) error {
	sc, err := s.downloadCard(c)
	if err != nil {
		return err
	}
	if sc == nil {
		return fail(kindNotFound, errors.New("download form for an unknown or forged token"))
	}
	return s.pages.renderDownload(c, http.StatusOK, sc, "")
}

// download checks the ID number and sends the card's current PDF.
func (s *server) download(c echo.Context) error {
	sc, err := s.downloadCard(c)
	if err != nil {
		return err
	}
	if sc == nil {
		s.metrics.downloads.WithLabelValues("unknown").Inc()
		return fail(kindNotFound, errors.New("download for an unknown or forged token"))
	}
	id := strings.ToUpper(strings.TrimSpace(c.FormValue("id_number")))
	if !idNumberRE.MatchString(id) {
		s.metrics.downloads.WithLabelValues("malformed").Inc()
		return s.pages.renderDownload(c, http.StatusBadRequest, sc, "请输入 18 位公民身份号码（最后一位可以是 X）。")
	}
	ctx := c.Request().Context()
	// Per card, across clients and instances: a distributed guess of ID
	// numbers meets the same limit.
	allowed, err := s.store.Hit(ctx, "download:"+sc.ID, time.Hour, s.opt.DownloadsPerCard)
	if err != nil {
		return err
	}
	if !allowed {
		s.metrics.rateLimited.WithLabelValues("download_card").Inc()
		return &apiError{kind: kindTooMany, cause: errors.New("download attempts per card"), retryAfter: 3600}
	}
	audit := func(reason string) error {
		detail, _ := json.Marshal(map[string]any{"number": sc.Number})
		_, err := s.store.AppendAudit(ctx, store.AuditEvent{Actor: "public", Action: "card.download", CardID: sc.ID, Reason: reason, RemoteAddr: c.RealIP(), Detail: detail})
		return err
	}
	holder, err := s.svc.IsHolder(sc, id)
	if err != nil {
		return err
	}
	if !holder {
		s.metrics.downloads.WithLabelValues("holder_mismatch").Inc()
		if err := audit("holder_mismatch"); err != nil {
			return err
		}
		return s.pages.renderDownload(c, http.StatusForbidden, sc, "身份证号码与该服务卡的持卡人不符。")
	}
	if sc.Status != store.StatusIssued {
		s.metrics.downloads.WithLabelValues("not_issued").Inc()
		return fail(kindNotIssued, errors.New("card is "+string(sc.Status)))
	}
	_, pdf, err := s.store.CurrentPDF(ctx, sc.ID)
	if err != nil {
		return err
	}
	if err := audit("ok"); err != nil {
		return err
	}
	s.metrics.downloads.WithLabelValues("ok").Inc()
	return sendPDF(c, sc.Number, pdf)
}
