package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/token"
	"github.com/jilin-health/cardseal/verifier"
)

// maxTokenParam bounds the token taken from a path: a version-2 token has
// 26 characters, a version-1 one 180.
const maxTokenParam = 256

// tokenParam returns the path's token in upper case: Base32 is case
// insensitive, the registry stores it upper case, and /v/… may arrive
// lower-cased by a scanner or a person.
func tokenParam(c echo.Context) string {
	t := c.Param("token")
	if len(t) > maxTokenParam {
		return ""
	}
	return strings.ToUpper(t)
}

// check answers a scanned token; an overlong token is forged without
// further work.
func (s *server) check(c echo.Context, channel string) (*lifecycle.Answer, error) {
	tok := tokenParam(c)
	var ans *lifecycle.Answer
	if tok == "" {
		ans = &lifecycle.Answer{Status: lifecycle.PublicForged, CheckedAt: s.opt.Now().UTC(), Seals: []lifecycle.PublicSeal{}}
	} else {
		var err error
		if ans, err = s.checker.Check(c.Request().Context(), tok); err != nil {
			return nil, err
		}
	}
	s.metrics.verification.WithLabelValues(channel, ans.Status).Inc()
	return ans, nil
}

// verifyToken is the JSON answer about a scanned token.
func (s *server) verifyToken(c echo.Context) error {
	ans, err := s.check(c, "json")
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, ans)
}

// verifyPage is the page a phone opens from the QR code. A token cut
// short (token.Truncated: a half-read QR code, a link broken by a chat
// program) gets the amber "link incomplete" page, not the forgery page:
// it says nothing about the card.
func (s *server) verifyPage(c echo.Context) error {
	raw := c.Param("token")
	if len(raw) <= maxTokenParam && strings.Contains(raw, "/") {
		return s.damagedLink(c, raw)
	}
	if len(raw) <= maxTokenParam && token.Truncated(raw) {
		return s.incompleteLink(c)
	}
	ans, err := s.check(c, "page")
	if err != nil {
		return err
	}
	return s.pages.renderVerify(c, ans)
}

// verifyDamaged answers a QR link that /V/:token does not match: one
// that ends at /V/, or carries a stray "/" (/V/TOKEN/, /V/TOK/EN). With
// the slashes taken out, a complete token is sent to its canonical URL;
// anything else is classified as verifyPage does.
func (s *server) verifyDamaged(c echo.Context) error {
	return s.damagedLink(c, c.Param("*"))
}

// damagedLink answers the path after /V/ when it holds a "/" (echo gives
// the rest of the path to the last parameter of /V/:token, or to /V/*).
func (s *server) damagedLink(c echo.Context, raw string) error {
	if len(raw) > maxTokenParam {
		raw = raw[:maxTokenParam+1] // overlong: answered forged by check
	}
	tok := strings.ToUpper(strings.ReplaceAll(raw, "/", ""))
	if token.Truncated(tok) {
		return s.incompleteLink(c)
	}
	if _, err := token.ParseHandle(tok); err == nil {
		return c.Redirect(http.StatusFound, "/V/"+tok)
	}
	c.SetParamNames("token")
	c.SetParamValues(tok)
	return s.verifyPage(c)
}

// incompleteLink is the page for a link cut short.
func (s *server) incompleteLink(c echo.Context) error {
	s.metrics.verification.WithLabelValues("page", "incomplete_link").Inc()
	return s.pages.renderVerify(c, &lifecycle.Answer{Status: incompleteLink, CheckedAt: s.opt.Now().UTC(), Seals: []lifecycle.PublicSeal{}})
}

// verifyNumber is the manual check by card number and verification code.
func (s *server) verifyNumber(c echo.Context) error {
	number, code := c.QueryParam("number"), c.QueryParam("code")
	if number == "" || code == "" || len(number) > 32 || len(code) > 32 {
		return fail(kindMissingParam, errors.New("number and code are required"))
	}
	ans, err := s.checker.CheckNumber(c.Request().Context(), number, code)
	if err != nil {
		return err
	}
	s.metrics.verification.WithLabelValues("number", ans.Status).Inc()
	return writeJSON(c, http.StatusOK, ans)
}

// UploadAnswer is the answer about an uploaded PDF.
type UploadAnswer = lifecycle.UploadAnswer

// verifyUpload checks an uploaded PDF (≤ MaxUpload) sent as
// application/pdf or as the "file" part of multipart/form-data.
func (s *server) verifyUpload(c echo.Context) error {
	data, err := s.readUpload(c)
	if err != nil {
		return err
	}
	out, err := s.checkUpload(c.Request().Context(), data)
	if err != nil {
		return err
	}
	status := string(out.Report.Verdict)
	if out.Registry != nil {
		status = out.Registry.Status
	}
	s.metrics.verification.WithLabelValues("upload", status).Inc()
	return writeJSON(c, http.StatusOK, out)
}

// checkUpload answers an uploaded PDF (lifecycle.Checker.CheckUpload) in a slot of the
// upload gate (gate.go), under the request's context: an upload that
// finds every slot taken gets 503 busy at once, and when the request
// ends or times out the verifier stops and the client gets 503, not a
// verdict.
func (s *server) checkUpload(ctx context.Context, data []byte) (*UploadAnswer, error) {
	release, err := s.uploads.enter()
	if err != nil {
		s.metrics.rateLimited.WithLabelValues("verify_busy").Inc()
		return nil, err
	}
	defer release()
	if s.opt.inGate != nil {
		s.opt.inGate()
	}
	out, err := s.checker.CheckUpload(ctx, data)
	if errors.Is(err, verifier.ErrCanceled) {
		return nil, fail(kindUnavailable, err)
	}
	return out, err
}

// readUpload reads the PDF of an upload, bounded by MaxUpload.
func (s *server) readUpload(c echo.Context) ([]byte, error) {
	r := c.Request()
	mt, params, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil {
		return nil, fail(kindUnsupportedType, err)
	}
	var src io.Reader
	switch mt {
	case "application/pdf", "application/octet-stream":
		src = r.Body
	case "multipart/form-data":
		if params["boundary"] == "" {
			return nil, fail(kindUnsupportedType, errors.New("multipart without boundary"))
		}
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, fail(kindBadRequest, err)
		}
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, fail(kindMissingParam, errors.New("no file part"))
			}
			if err != nil {
				var mb *http.MaxBytesError
				if errors.As(err, &mb) {
					return nil, err
				}
				return nil, fail(kindBadRequest, err)
			}
			if p.FormName() == "file" {
				src = p
				break
			}
		}
	default:
		return nil, fail(kindUnsupportedType, fmt.Errorf("content type %q", mt))
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(src, s.opt.MaxUpload+1))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, err
		}
		return nil, fail(kindBadRequest, err)
	}
	if n > s.opt.MaxUpload {
		return nil, fail(kindTooLarge, fmt.Errorf("upload over %d bytes", s.opt.MaxUpload))
	}
	if n == 0 {
		return nil, fail(kindNotPDF, errors.New("empty upload"))
	}
	return buf.Bytes(), nil
}
