package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
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
		stale := c.Request().Method == http.MethodPost && !sameToken(postValue(c, "csrf"), csrf)
		s.setPrincipal(c, p)
		c.Set(keyCSRF, csrf)
		if stale {
			return s.staleForm(c)
		}
		return next(c)
	}
}

const keyCSRF = "cardseal.csrf"

// staleForm answers a POST whose CSRF token is not the session's — a
// form opened before the clerk logged in again (in another tab, or after
// the session ended): nothing is done (403), and the clerk stays in the
// console. A new application comes back filled in with the page's new
// token; an action on a card shows the card again with a message.
// (SameSite=Strict keeps the cookie off other sites' requests, so only
// the clerk's own stale pages get here with a session.)
func (s *server) staleForm(c echo.Context) error {
	s.log.Warn("console: stale form", "request_id", requestIDOf(c), "path", c.Request().URL.Path)
	const msg = "页面已过期（可能已在其他窗口重新登录），本次操作未执行。"
	path := c.Request().URL.Path
	switch {
	case path == "/console/new":
		a, _ := actorOf(c)
		return s.againNew(c, a, readAppForm(c), http.StatusForbidden, msg+"填写的申请信息已保留，请核对后重新提交。", nil)
	case strings.HasPrefix(path, "/console/cards/"):
		if id := strings.Split(strings.TrimPrefix(path, "/console/cards/"), "/")[0]; cardIDRE.MatchString(id) {
			c.SetParamNames("id")
			c.SetParamValues(id)
			return s.renderCard(c, http.StatusForbidden, msg+"请重新操作。", changeForm{})
		}
	}
	return s.renderQueue(c, http.StatusForbidden, msg, "")
}

func (s *server) toLogin(c echo.Context) error {
	if c.Request().Method == http.MethodPost && c.Request().URL.Path == "/console/new" {
		// The session ended while the clerk filled in an application:
		// the login page carries the draft, and the form comes back
		// filled in after logging in (consoleLogin).
		return s.renderLoginDraft(c, http.StatusUnauthorized, "登录已过期，请重新登录。填写的申请信息已保留，登录后请核对并提交。", draftFields(c))
	}
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
	// Find is what is in the search box (after a search).
	Find string
	// Person is the name of the person logged in ("" for an account
	// without one).
	Person string
}

func (s *server) base(c echo.Context, title, nav string) consoleBase {
	a, _ := actorOf(c)
	csrf, _ := c.Get(keyCSRF).(string)
	p, _ := c.Get(keyPrincipal).(staff.Principal)
	return consoleBase{Title: title, User: UserView{Username: a.Username, Org: orgView(a.Org)}, CSRF: csrf, Flash: flashText[c.QueryParam("done")], Nav: nav,
		Person: p.User.DisplayName}
}

// flashText are the confirmations shown after a redirect (?done=…).
var flashText = map[string]string{
	"created":        "申请已受理，服务卡已生成。",
	"sealed":         "已审核通过并加盖本机构电子印章。",
	"voided":         "服务卡已作废。",
	"revoked":        "服务卡已取消。",
	"superseded":     "服务卡已标记为换发。",
	"refused":        "已不予办理，并出具不予办理告知书。",
	"notice":         "已出具一次性告知书，请将告知书交给申请人（申请人也可在“进度查询”中下载）。",
	"reviewed":       "材料审核结果已记录。",
	"printed":        "已登记：正式证件已打印。",
	"posted":         "已登记：正式证件已邮寄。",
	"prereviewed":    "已预审上报县级卫生健康部门（第十七条）。",
	"direct":         "县级已直接办理：服务卡和再生育审批表已加盖县级电子印章，服务卡已办结；请村、乡在审批表上补盖印章（第十七条）。",
	"cross-province": "是否需外省核实已登记，办结期限随之更新。",
	"formsealed":     "已在再生育审批表上加盖本机构电子印章（第十七条）。",
}

type loginData struct {
	Title string
	CSRF  string
	Next  string
	Error string
	// Draft is an application being filled in when the session ended,
	// carried through the login form.
	Draft []draftField
}

type draftField struct{ Name, Value string }

// draftFieldNames are the new application form's fields.
var draftFieldNames = []string{"village", "type", "channel", "child_order",
	"male_name", "male_id", "male_hukou", "male_residence", "female_name", "female_id", "female_hukou", "female_residence",
	"marriage_date", "marriage_cert", "status_number", "status_issuer", "retroactive", "birth_cert", "commitment",
	"proxy_name", "proxy_id", "proxy_relationship",
	"child_name_0", "child_sex_0", "child_birth_0", "child_name_1", "child_sex_1", "child_birth_1", "child_name_2", "child_sex_2", "child_birth_2"}

func draftFields(c echo.Context) []draftField {
	var out []draftField
	for _, n := range draftFieldNames {
		if v := postValue(c, n); v != "" {
			out = append(out, draftField{n, v})
		}
	}
	return out
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
	var draft []draftField
	if postValue(c, "draft") == "1" {
		draft = draftFields(c)
	}
	return s.renderLoginDraft(c, status, msg, draft)
}

func (s *server) renderLoginDraft(c echo.Context, status int, msg string, draft []draftField) error {
	next := safeNext(c.FormValue("next"))
	if draft != nil {
		next = "/console/new"
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	s.setCookie(c, loginCSRFCookie, tok, 1800)
	return s.pages.render(c, status, "console_login.html", loginData{Title: "工作人员登录", CSRF: tok, Next: next, Error: msg, Draft: draft})
}

// consoleLogin checks the username and password with the same rules as
// POST /api/v1/login (package staff) and starts a cookie session.
func (s *server) consoleLogin(c echo.Context) error {
	ck, err := c.Cookie(loginCSRFCookie)
	if err != nil || !sameToken(postValue(c, "csrf"), ck.Value) {
		return s.renderLogin(c, http.StatusForbidden, "页面已过期，请重新登录。")
	}
	tok, p, err := s.startSession(c, staff.ConsoleSession, postValue(c, "username"), postValue(c, "password"))
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
	if postValue(c, "draft") == "1" {
		// Back to the application the session ended on, not yet submitted.
		s.setPrincipal(c, p)
		c.Set(keyCSRF, csrfToken(tok))
		a, _ := actorOf(c)
		return s.againNew(c, a, readAppForm(c), http.StatusOK, "已重新登录。申请尚未提交，请核对后点击“受理并生成服务卡”。", nil)
	}
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

// passwordRefusal is the console's answer when confirmPassword refused a
// re-entered password: the problem, whose Chinese detail ends with what
// was therefore not done (notDone, e.g. "未盖章。"); ok is false for any
// other error, which the caller returns as it is.
func passwordRefusal(c echo.Context, err error, notDone string) (k kind, ok bool) {
	var ae *apiError
	var we *throttle.WaitError
	switch {
	case errors.As(err, &ae) && ae.kind == kindBadCredentials:
		k = kindBadCredentials
		k.detail = "密码错误，" + notDone + "连续多次错误后须等待一段时间才能再试。"
		return k, true
	case errors.As(err, &we):
		c.Response().Header().Set("Retry-After", retrySeconds(we.RetryAfter))
		k = kindTooMany
		k.detail = waitText(we) + notDone
		return k, true
	}
	return kind{}, false
}
