package api

import (
	"encoding/pem"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Media types of RFC 3161 §3.4.
const (
	mediaTimestampQuery = "application/timestamp-query"
	mediaTimestampReply = "application/timestamp-reply"
)

// timestamp answers an RFC 3161 request (POST /tsa) for the province's
// other systems. A refused request is a rejection reply (200, as RFC 3161
// §3.4 has it); a TSA that cannot issue — its clock drifted beyond the
// allowed limit, no serial number — answers 503 with the rejection reply,
// and the error is logged.
func (s *server) timestamp(c echo.Context) error {
	if mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); err != nil || mt != mediaTimestampQuery {
		return fail(kindNotTSQuery, errors.New("POST /tsa takes "+mediaTimestampQuery))
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return fail(kindTooLarge, err)
	}
	reply, err := s.tsa.Respond(c.Request().Context(), body)
	status := http.StatusOK
	if err != nil {
		s.log.Error("tsa: no timestamp issued", "err", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		status = http.StatusServiceUnavailable
		c.Response().Header().Set("Retry-After", "60")
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(status, mediaTimestampReply, reply)
}

// crl serves the current certificate revocation list (DER,
// application/pkix-crl) at the stable URL new certificates name as their
// CRL distribution point; 404 until one is installed ('cardseal keys
// crl').
func (s *server) crl(c echo.Context) error {
	b, err := s.svc.CRL()
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "X509 CRL" {
		return fail(kindNotFound, errors.New("no CRL installed"))
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, "application/pkix-crl", blk.Bytes)
}
