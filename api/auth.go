package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/throttle"
)

// Staff logins over the JSON API (bearer tokens) and the console
// (cookies): both go through package staff, which decides who is
// recognised; this file only carries tokens in and out of HTTP.

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// OrgView is an organisation as the API shows it.
type OrgView struct {
	Code  string    `json:"code"`
	Level org.Level `json:"level"`
	Name  string    `json:"name"`
}

// UserView is the logged-in user.
type UserView struct {
	Username string  `json:"username"`
	Org      OrgView `json:"org"`
}

// LoginResponse is the answer to a successful login.
type LoginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      UserView  `json:"user"`
}

func orgView(o org.Org) OrgView { return OrgView{Code: o.Code, Level: o.Level, Name: o.Name} }

// login checks a username and password and returns a bearer token. Every
// refusal gets the same answer; the password and the token are never
// logged.
func (s *server) login(c echo.Context) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	tok, p, err := s.startSession(c, staff.APISession, req.Username, req.Password)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeJSON(c, http.StatusOK, LoginResponse{Token: tok, ExpiresAt: p.ExpiresAt, User: UserView{Username: p.User.Username, Org: orgView(p.Org)}})
}

// startSession logs in through package staff, starting a session of the
// kind, and counts the outcome.
func (s *server) startSession(c echo.Context, kind staff.SessionKind, username, password string) (string, staff.Principal, error) {
	tok, p, err := s.staff.Login(c.Request().Context(), kind, username, password, c.RealIP())
	s.countLogin(err)
	if errors.Is(err, staff.ErrBadCredentials) {
		return "", p, fail(kindBadCredentials, err)
	}
	return tok, p, err
}

// countLogin counts a login or password confirmation by its outcome.
func (s *server) countLogin(err error) {
	var le *staff.LoginError
	var we *throttle.WaitError
	switch {
	case err == nil:
		s.metrics.logins.WithLabelValues(string(staff.OutcomeOK)).Inc()
	case errors.As(err, &le):
		s.metrics.logins.WithLabelValues(string(le.Outcome)).Inc()
	case errors.As(err, &we):
		s.metrics.logins.WithLabelValues(string(staff.OutcomeThrottled)).Inc()
	}
}

// logout ends the caller's session.
func (s *server) logout(c echo.Context) error {
	if err := s.endSession(c); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// endSession ends the caller's session (both the JSON API and the
// console).
func (s *server) endSession(c echo.Context) error {
	p, _ := c.Get(keyPrincipal).(staff.Principal)
	return s.staff.Logout(c.Request().Context(), p, c.RealIP())
}

// me returns the logged-in user.
func (s *server) me(c echo.Context) error {
	a, _ := actorOf(c)
	return writeJSON(c, http.StatusOK, UserView{Username: a.Username, Org: orgView(a.Org)})
}

// authenticate requires a valid API session (a console cookie's token is
// none) as the bearer token and makes the caller the request's actor.
func (s *server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, tok, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") {
			return fail(kindUnauthorized, errors.New("no bearer token"))
		}
		p, err := s.staff.Authenticate(c.Request().Context(), staff.APISession, tok)
		if errors.Is(err, staff.ErrNoSession) {
			return fail(kindUnauthorized, err)
		} else if err != nil {
			return err
		}
		s.setPrincipal(c, p)
		return next(c)
	}
}

const (
	keyActor     = "cardseal.actor"
	keyPrincipal = "cardseal.principal"
)

// setPrincipal makes a recognised staff member the request's actor.
func (s *server) setPrincipal(c echo.Context, p staff.Principal) {
	c.Set(keyPrincipal, p)
	c.Set(keyActor, lifecycle.Actor{Username: p.User.Username, Org: p.Org, RemoteAddr: c.RealIP()})
}

func actorOf(c echo.Context) (lifecycle.Actor, bool) {
	a, ok := c.Get(keyActor).(lifecycle.Actor)
	return a, ok
}

// SealRequest is the body of POST /api/v1/cards/{id}/seal and
// /api/v1/forms/{id}/seal: the caller's password again, as the console
// asks for it before a seal.
type SealRequest struct {
	Password string `json:"password"`
}

// confirmSeal reads a SealRequest and checks its password (staff.Confirm).
func (s *server) confirmSeal(c echo.Context) error {
	var req SealRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	return s.confirmPassword(c, req.Password)
}

// confirmPassword checks the caller's password again before an act that
// needs it (sealing), for the JSON API and the console alike: a wrong one
// is kindBadCredentials and counts towards the caller's delay, during
// which the answer is a *throttle.WaitError (429).
func (s *server) confirmPassword(c echo.Context, password string) error {
	p, _ := c.Get(keyPrincipal).(staff.Principal)
	err := s.staff.Confirm(c.Request().Context(), p, password, c.RealIP())
	if errors.Is(err, staff.ErrBadCredentials) {
		return fail(kindBadCredentials, err)
	}
	return err
}
