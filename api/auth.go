package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store"
)

// Session tokens are 32 random bytes, sent as unpadded Base64url; the
// store keeps only their SHA-256.
const (
	tokenBytes  = 32
	tokenLength = 43
)

func newSessionToken() (string, []byte, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("session token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, hashToken(tok), nil
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// OrgView is an organisation as the API shows it.
type OrgView struct {
	Code  string     `json:"code"`
	Level keys.Level `json:"level"`
	Name  string     `json:"name"`
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

func orgView(o keys.Org) OrgView { return OrgView{Code: o.Code, Level: o.Level, Name: o.Name} }

// login checks a username and password. Unknown users, disabled and
// locked accounts and wrong passwords all get the same answer after the
// same work; MaxFailedLogins consecutive failures lock the account for
// LockoutPeriod. The password and the token are never logged.
func (s *server) login(c echo.Context) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" || len(req.Username) > 64 || len(req.Password) > 256 {
		return fail(kindBadCredentials, errors.New("empty or oversized username or password"))
	}
	u, org, err := s.authenticateUser(c, req.Username, req.Password)
	if err != nil {
		return err
	}
	tok, exp, err := s.startSession(c, u, org)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeJSON(c, http.StatusOK, LoginResponse{Token: tok, ExpiresAt: exp, User: UserView{Username: u.Username, Org: orgView(org)}})
}

// authenticateUser checks a username and password for both logins (the
// JSON API and the console). Unknown users, disabled and locked accounts
// and wrong passwords all fail with kindBadCredentials after the same
// work (one password hash); a wrong password counts towards the lockout.
func (s *server) authenticateUser(c echo.Context, username, password string) (store.User, keys.Org, error) {
	ctx := c.Request().Context()
	now := s.opt.Now()
	u, err := s.store.GetUserByName(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_, _ = CheckPassword(dummyHash(), password)
		s.metrics.logins.WithLabelValues("unknown_user").Inc()
		return u, keys.Org{}, fail(kindBadCredentials, errors.New("unknown user"))
	case err != nil:
		return u, keys.Org{}, err
	case u.Disabled, now.Before(u.LockedUntil):
		_, _ = CheckPassword(dummyHash(), password)
		s.metrics.logins.WithLabelValues("locked").Inc()
		return u, keys.Org{}, fail(kindBadCredentials, fmt.Errorf("user %q is disabled or locked until %s", u.Username, u.LockedUntil.Format(time.RFC3339)))
	}
	if err := s.checkPassword(c, u, password); err != nil {
		return u, keys.Org{}, err
	}
	org, err := s.svc.Keys.Org(u.OrgCode)
	if err != nil {
		return u, keys.Org{}, fmt.Errorf("user %q: %w", u.Username, err)
	}
	return u, org, nil
}

// startSession creates a session for an authenticated user and audits
// the login; it returns the bearer token (stored only as its hash).
func (s *server) startSession(c echo.Context, u store.User, org keys.Org) (string, time.Time, error) {
	ctx := c.Request().Context()
	now := s.opt.Now()
	tok, hash, err := newSessionToken()
	if err != nil {
		return "", time.Time{}, err
	}
	exp := now.Add(s.opt.SessionTTL).UTC().Truncate(time.Second)
	if err := s.store.CreateSession(ctx, store.Session{TokenHash: hash, UserID: u.ID, CreatedAt: now.UTC(), ExpiresAt: exp}); err != nil {
		return "", time.Time{}, err
	}
	if _, err := s.store.AppendAudit(ctx, store.AuditEvent{Actor: u.Username, OrgCode: org.Code, Action: "user.login", RemoteAddr: c.RealIP()}); err != nil {
		return "", time.Time{}, err
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	return tok, exp, nil
}

// loginFailed counts a wrong password and locks the account after
// MaxFailedLogins in a row.
func (s *server) loginFailed(c echo.Context, u store.User, now time.Time) error {
	ctx := c.Request().Context()
	failed, until, action := u.FailedLogins+1, time.Time{}, "user.login_failed"
	if failed >= s.opt.MaxFailedLogins {
		failed, until, action = 0, now.Add(s.opt.LockoutPeriod), "user.locked"
	}
	if err := s.store.UpdateUserLogin(ctx, u.ID, failed, until); err != nil {
		return err
	}
	detail, _ := json.Marshal(map[string]any{"consecutive_failures": u.FailedLogins + 1})
	if _, err := s.store.AppendAudit(ctx, store.AuditEvent{Actor: u.Username, OrgCode: u.OrgCode, Action: action, RemoteAddr: c.RealIP(), Detail: detail}); err != nil {
		return err
	}
	s.metrics.logins.WithLabelValues("bad_password").Inc()
	return fail(kindBadCredentials, fmt.Errorf("user %q: wrong password (%d in a row)", u.Username, u.FailedLogins+1))
}

// logout ends the caller's session.
func (s *server) logout(c echo.Context) error {
	if err := s.endSession(c); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// endSession deletes the caller's session and audits the logout (both
// the JSON API and the console).
func (s *server) endSession(c echo.Context) error {
	hash, _ := c.Get(keySession).([]byte)
	if err := s.store.DeleteSession(c.Request().Context(), hash); err != nil {
		return err
	}
	if a, ok := actorOf(c); ok {
		if _, err := s.store.AppendAudit(c.Request().Context(), store.AuditEvent{Actor: a.Username, OrgCode: a.Org.Code, Action: "user.logout", RemoteAddr: a.RemoteAddr}); err != nil {
			return err
		}
	}
	return nil
}

// me returns the logged-in user.
func (s *server) me(c echo.Context) error {
	a, _ := actorOf(c)
	return writeJSON(c, http.StatusOK, UserView{Username: a.Username, Org: orgView(a.Org)})
}

// authenticate requires a valid bearer session and makes the caller the
// request's actor.
func (s *server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, tok, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") || len(tok) != tokenLength {
			return fail(kindUnauthorized, errors.New("no bearer token"))
		}
		hash := hashToken(tok)
		ctx := c.Request().Context()
		se, err := s.store.GetSession(ctx, hash)
		if errors.Is(err, store.ErrNotFound) {
			return fail(kindUnauthorized, errors.New("unknown or expired session"))
		} else if err != nil {
			return err
		}
		u, err := s.store.GetUser(ctx, se.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return fail(kindUnauthorized, errors.New("session of a deleted user"))
		} else if err != nil {
			return err
		}
		if u.Disabled {
			return fail(kindUnauthorized, fmt.Errorf("user %q is disabled", u.Username))
		}
		org, err := s.svc.Keys.Org(u.OrgCode)
		if err != nil {
			return fmt.Errorf("user %q: %w", u.Username, err)
		}
		c.Set(keyActor, lifecycle.Actor{Username: u.Username, Org: org, RemoteAddr: c.RealIP()})
		c.Set(keySession, hash)
		return next(c)
	}
}

func actorOf(c echo.Context) (lifecycle.Actor, bool) {
	a, ok := c.Get(keyActor).(lifecycle.Actor)
	return a, ok
}

// allow admits the levels named; others get 403.
func allow(levels ...keys.Level) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			a, ok := actorOf(c)
			if !ok {
				return fail(kindUnauthorized, errors.New("no actor"))
			}
			for _, l := range levels {
				if a.Org.Level == l {
					return next(c)
				}
			}
			return fail(kindLevel, fmt.Errorf("%s staff may not call %s", a.Org.Level, c.Path()))
		}
	}
}

// anyLevel is every staff level.
var anyLevel = keys.Levels
