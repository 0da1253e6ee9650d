package api

import (
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
