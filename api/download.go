package api

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
)

// The citizen download (Art. 16: couples print the card themselves). The
// QR token identifies the card; one spouse's ID number, checked by the
// lifecycle against the registry's encrypted applicant record (never
// against anything in the token), proves the right to the PDF. Every
// attempt is rate-limited per client IP and per card, and audited;
// nothing lists cards.

var idNumberRE = regexp.MustCompile(`^[0-9]{17}[0-9X]$`)

// downloadForm asks for one spouse's ID number.
func (s *server) downloadForm(c echo.Context) error {
	sc, err := s.checker.CardForDownload(c.Request().Context(), tokenParam(c))
	if err != nil {
		return err
	}
	return s.pages.renderDownload(c, http.StatusOK, sc, "")
}

// download checks the ID number and sends the card's current PDF.
func (s *server) download(c echo.Context) error {
	ctx := c.Request().Context()
	tok := tokenParam(c)
	id := strings.ToUpper(strings.TrimSpace(c.FormValue("id_number")))
	if !idNumberRE.MatchString(id) {
		sc, err := s.checker.CardForDownload(ctx, tok)
		if err != nil {
			s.metrics.downloads.WithLabelValues("unknown").Inc()
			return err
		}
		s.metrics.downloads.WithLabelValues("malformed").Inc()
		return s.pages.renderDownload(c, http.StatusBadRequest, sc, "请输入 18 位公民身份号码（最后一位可以是 X）。")
	}
	sc, pdf, err := s.checker.Download(ctx, tok, id, c.RealIP())
	var le *lifecycle.LimitError
	switch {
	case errors.Is(err, card.ErrNotFound):
		s.metrics.downloads.WithLabelValues("unknown").Inc()
		return err
	case errors.As(err, &le):
		s.metrics.rateLimited.WithLabelValues("download_card").Inc()
		return err
	case errors.Is(err, lifecycle.ErrHolderMismatch):
		s.metrics.downloads.WithLabelValues("holder_mismatch").Inc()
		return s.pages.renderDownload(c, http.StatusForbidden, sc, "身份证号码与该服务卡的持卡人不符。")
	case errors.Is(err, lifecycle.ErrNotIssued):
		s.metrics.downloads.WithLabelValues("not_issued").Inc()
		return err
	case err != nil:
		return err
	}
	s.metrics.downloads.WithLabelValues("ok").Inc()
	return sendPDF(c, sc.Number, pdf)
}
