package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/throttle"
)

// The staff console: server-rendered pages over the same lifecycle
// service as the JSON API. A session is a store session of the console's
// kind (an API bearer token is none, and a console cookie is no bearer
// token), carried in an HttpOnly, SameSite=Strict cookie (Secure over
// TLS); every POST form carries, in its body, a CSRF token derived from
// the session token, so a page of another origin cannot forge one.

const (
	sessionCookie   = "cardseal_session"
	loginCSRFCookie = "cardseal_login_csrf"
	consoleHome     = "/console"
	consoleLoginURL = "/console/login"
)

// csrfToken derives a session's CSRF token: only someone holding the
// session token can compute it.
func csrfToken(session string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte("cardseal console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func sameToken(a, b string) bool {
	return a != "" && hmac.Equal([]byte(a), []byte(b))
}

func (s *server) setCookie(c echo.Context, name, value string, maxAge int) {
	c.SetCookie(&http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Scheme() == "https",
	})
}

// consoleAuth requires a console session cookie; without one the browser
// is sent to the login page. POST requests must carry the CSRF token.
func (s *server) consoleAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Cookie(sessionCookie)
		if err != nil {
			return s.toLogin(c)
		}
		p, err := s.staff.Authenticate(c.Request().Context(), staff.ConsoleSession, ck.Value)
		if errors.Is(err, staff.ErrNoSession) {
			return s.toLogin(c)
		} else if err != nil {
			return err
		}
		csrf := csrfToken(ck.Value)
		if c.Request().Method == http.MethodPost && !sameToken(postValue(c, "csrf"), csrf) {
			return fail(kindForbidden, errors.New("console: missing or wrong CSRF token"))
		}
		s.setPrincipal(c, p)
		c.Set(keyCSRF, csrf)
		return next(c)
	}
}

const keyCSRF = "cardseal.csrf"

func (s *server) toLogin(c echo.Context) error {
	if c.Request().Method != http.MethodGet {
		return fail(kindUnauthorized, errors.New("console: no session"))
	}
	return c.Redirect(http.StatusSeeOther, consoleLoginURL+"?next="+url.QueryEscape(c.Request().URL.Path))
}

// consoleBase is what every console page shows in its frame.
type consoleBase struct {
	Title string
	User  UserView
	CSRF  string
	Flash string
	Error string
	Nav   string
}

func (s *server) base(c echo.Context, title, nav string) consoleBase {
	a, _ := actorOf(c)
	csrf, _ := c.Get(keyCSRF).(string)
	return consoleBase{Title: title, User: UserView{Username: a.Username, Org: orgView(a.Org)}, CSRF: csrf, Flash: flashText[c.QueryParam("done")], Nav: nav}
}

// flashText are the confirmations shown after a redirect (?done=…).
var flashText = map[string]string{
	"created":    "申请已受理，服务卡已生成。",
	"sealed":     "已审核通过并加盖本机构电子印章。",
	"voided":     "服务卡已作废。",
	"revoked":    "服务卡已取消。",
	"superseded": "服务卡已标记为换发。",
	"refused":    "已不予办理，并出具不予办理告知书。",
	"printed":    "已登记：正式证件已打印。",
	"posted":     "已登记：正式证件已邮寄。",
	"reviewed":   "材料审核结果已记录。",
}

type loginData struct {
	Title string
	CSRF  string
	Next  string
	Error string
}

// safeNext keeps a post-login redirect inside the console.
func safeNext(n string) string {
	if len(n) > 200 || len(n) < len(consoleHome) || n[:len(consoleHome)] != consoleHome || (len(n) > len(consoleHome) && n[len(consoleHome)] != '/') {
		return consoleHome
	}
	if u, err := url.Parse(n); err != nil || u.Host != "" || u.Scheme != "" {
		return consoleHome
	}
	return n
}

// consoleLoginForm shows the login form with a fresh login CSRF token
// (double submit: cookie and hidden field).
func (s *server) consoleLoginForm(c echo.Context) error {
	return s.renderLogin(c, http.StatusOK, "")
}

func (s *server) renderLogin(c echo.Context, status int, msg string) error {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	s.setCookie(c, loginCSRFCookie, tok, 1800)
	return s.pages.render(c, status, "console_login.html", loginData{Title: "工作人员登录", CSRF: tok, Next: safeNext(c.FormValue("next")), Error: msg})
}

// consoleLogin checks the username and password with the same rules as
// POST /api/v1/login (package staff) and starts a cookie session.
func (s *server) consoleLogin(c echo.Context) error {
	ck, err := c.Cookie(loginCSRFCookie)
	if err != nil || !sameToken(postValue(c, "csrf"), ck.Value) {
		return s.renderLogin(c, http.StatusForbidden, "页面已过期，请重新登录。")
	}
	tok, _, err := s.startSession(c, staff.ConsoleSession, postValue(c, "username"), postValue(c, "password"))
	if err != nil {
		var ae *apiError
		var we *throttle.WaitError
		switch {
		case errors.As(err, &ae) && ae.kind == kindBadCredentials:
			return s.renderLogin(c, http.StatusUnauthorized, "用户名或密码错误，或账号已停用。")
		case errors.As(err, &we):
			c.Response().Header().Set("Retry-After", retrySeconds(we.RetryAfter))
			return s.renderLogin(c, http.StatusTooManyRequests, waitText(we))
		}
		return err
	}
	s.setCookie(c, loginCSRFCookie, "", -1)
	s.setCookie(c, sessionCookie, tok, int(s.staff.Policy().SessionTTL/time.Second))
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
}

// consoleLogout ends the session.
func (s *server) consoleLogout(c echo.Context) error {
	if err := s.endSession(c); err != nil {
		return err
	}
	s.setCookie(c, sessionCookie, "", -1)
	return c.Redirect(http.StatusSeeOther, consoleLoginURL)
}

// waitText tells a person how long to wait after too many wrong
// passwords from their computer.
func waitText(we *throttle.WaitError) string {
	return "密码错误次数过多，请 " + retrySeconds(we.RetryAfter) + " 秒后再试。"
}
