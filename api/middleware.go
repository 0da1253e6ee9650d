package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
)

// Context keys.
const (
	keyRequestID = "cardseal.request_id"
	keyHTML      = "cardseal.html"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// requestID gives every request an id: a well-formed incoming one (from a
// reverse proxy) is kept, otherwise a random one is drawn. It is echoed
// in the response and in every log line and problem.
func (s *server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(HeaderRequestID)
		if !wellFormedID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(keyRequestID, id)
		c.Response().Header().Set(HeaderRequestID, id)
		return next(c)
	}
}

// wellFormedID accepts 8–64 characters of [A-Za-z0-9_-], so a client
// cannot inject anything into the logs through the id.
func wellFormedID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(keyRequestID).(string)
	return id
}

// routeOf is the matched route template (never the raw path, which may
// hold a QR token), or "unmatched".
func routeOf(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}

// observe writes the access log line and the request metrics. It
// handles the handler's error itself so that it sees the final status.
func (s *server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		d := time.Since(start)
		status := c.Response().Status
		route := routeOf(c)
		s.metrics.observe(c.Request().Method, route, status, d)
		attrs := []any{"request_id", requestIDOf(c), "method", c.Request().Method, "route", route,
			"status", status, "bytes", c.Response().Size, "duration_ms", float64(d.Microseconds()) / 1000, "ip", c.RealIP()}
		if a, ok := actorOf(c); ok {
			attrs = append(attrs, "user", a.Username)
		}
		s.log.Info("request", attrs...)
		return nil
	}
}

// recoverPanic turns a panic into a 500 with the stack in the log.
func (s *server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic", "request_id", requestIDOf(c), "route", routeOf(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fail(kindInternal, fmt.Errorf("panic: %v", r))
			}
		}()
		return next(c)
	}
}

// securityHeaders are sent with every response. The pages use no script,
// no inline style and nothing from elsewhere; the referrer is never sent
// because page URLs carry the QR token. Over HTTPS — the request came in
// over TLS, or Options.HTTPS says TLS ends at a proxy in front — the
// browser is told to use nothing else for a year (HSTS), so a later
// plain-HTTP link or a downgrading network cannot expose a staff cookie
// or a holder's ID number.
func (s *server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if s.opt.HTTPS || c.Request().TLS != nil {
			h.Set("Strict-Transport-Security", strictTransportSecurity)
		}
		return next(c)
	}
}

// strictTransportSecurity: one year, this host only (other hosts of the
// domain are not ours to decide for).
const strictTransportSecurity = "max-age=31536000"

// contentSecurityPolicy allows the page's own stylesheet and the
// same-origin form, nothing else.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// timeout bounds the request's context: store and verification work
// stops when it expires, and the client gets a 503.
func (s *server) timeout(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.opt.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// bodyLimit bounds the request body; reading past it fails with
// *http.MaxBytesError, which becomes a 413.
func bodyLimit(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > n {
				return fail(kindTooLarge, fmt.Errorf("content length %d > %d", r.ContentLength, n))
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			return next(c)
		}
	}
}

// html marks a route whose errors are shown as HTML pages.
func html(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(keyHTML, true)
		return next(c)
	}
}

func isHTML(c echo.Context) bool {
	b, _ := c.Get(keyHTML).(bool)
	return b
}

// noStore marks answers that must not be cached: a card's status changes.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	return enc.Encode(v)
}

// writeJSON sends v with the status.
func writeJSON(c echo.Context, status int, v any) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(status)
	return jsonEncode(c.Response(), v)
}

// jsonOnly refuses a body that is not declared application/json (415).
// A browser sends a cross-site form or a text/plain body without asking
// the server first, but not application/json: so no page of another site
// can make its visitors' browsers send passwords (guesses, or a seal's
// confirmation) to these routes.
func jsonOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ct := c.Request().Header.Get(echo.HeaderContentType)
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != echo.MIMEApplicationJSON {
			return fail(kindNotJSON, fmt.Errorf("content type %q, want application/json", ct))
		}
		return next(c)
	}
}

// postValue is a field of a POST form body (URL-encoded or multipart),
// never of the query string: secrets (a password, the CSRF token) in a
// URL end up in logs, browser history and Referer headers. echo's
// FormValue reads both.
func postValue(c echo.Context, name string) string {
	return c.Request().PostFormValue(name)
}

// decodeJSON reads a JSON object body strictly: no unknown fields, no
// trailing data.
func decodeJSON(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return err
		}
		return fail(kindBadJSON, err)
	}
	if dec.More() {
		return fail(kindBadJSON, fmt.Errorf("trailing data"))
	}
	return nil
}
