package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// consoleLogin logs in through the form and returns the session cookie.
func (v *env) consoleLogin(t *testing.T, username, password string) (*http.Cookie, *resp) {
	t.Helper()
	r := v.do(http.MethodGet, "/console/login", "", "", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("login form: %d", r.Code)
	}
	var csrf *http.Cookie
	for _, c := range r.Result().Cookies() {
		if c.Name == loginCSRFCookie {
			csrf = c
		}
	}
	if csrf == nil {
		t.Fatal("login form sets no CSRF cookie")
	}
	form := url.Values{"username": {username}, "password": {password}, "csrf": {csrf.Value}, "next": {"/console/new"}}
	req := httptest.NewRequest(http.MethodPost, "/console/login", strings.NewReader(form.Encode()))
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(csrf)
	r = v.serve(req)
	for _, c := range r.Result().Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return c, r
		}
	}
	return nil, r
}

func TestConsoleLoginCookie(t *testing.T) {
	v := newEnv(t, Options{})
	ck, r := v.consoleLogin(t, "220102001001", testPassword)
	if ck == nil {
		t.Fatalf("no session cookie: %d %s", r.Code, r.body)
	}
	if r.Code != http.StatusSeeOther || r.Header().Get("Location") != "/console/new" {
		t.Fatalf("login answered %d to %q", r.Code, r.Header().Get("Location"))
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Fatalf("session cookie %+v, want HttpOnly, SameSite=Strict", ck)
	}
	if ck.Secure {
		t.Fatal("session cookie Secure over plain HTTP")
	}

	// A wrong password gets the form again with the one message.
	if ck, r := v.consoleLogin(t, "220102001001", "wrong"); ck != nil || r.Code != http.StatusUnauthorized || !strings.Contains(string(r.body), "用户名或密码错误") {
		t.Fatalf("wrong password: cookie %v, %d", ck, r.Code)
	}
}

func TestConsoleNeedsSessionAndCSRF(t *testing.T) {
	v := newEnv(t, Options{})
	r := v.do(http.MethodGet, "/console", "", "", nil)
	if r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header().Get("Location"), "/console/login") {
		t.Fatalf("/console without a session: %d %q", r.Code, r.Header().Get("Location"))
	}
	ck, _ := v.consoleLogin(t, "220102001001", testPassword)
	c := v.newCard()
	post := func(path string, form url.Values) *resp {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		req.RemoteAddr = "192.0.2.10:40000"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(ck)
		return v.serve(req)
	}
	if r := post("/console/cards/"+c.ID+"/seal", url.Values{"password": {testPassword}}); r.Code != http.StatusForbidden {
		t.Fatalf("seal without CSRF token: %d", r.Code)
	}
	if r := post("/console/cards/"+c.ID+"/seal", url.Values{"password": {testPassword}, "csrf": {"forged"}}); r.Code != http.StatusForbidden {
		t.Fatalf("seal with a wrong CSRF token: %d", r.Code)
	}
	if r := post("/console/cards/"+c.ID+"/seal", url.Values{"password": {"wrong"}, "csrf": {csrfToken(ck.Value)}}); r.Code != http.StatusUnauthorized {
		t.Fatalf("seal with a wrong password: %d", r.Code)
	}
	if r := post("/console/cards/"+c.ID+"/seal", url.Values{"password": {testPassword}, "csrf": {csrfToken(ck.Value)}}); r.Code != http.StatusSeeOther {
		t.Fatalf("seal: %d %s", r.Code, r.body)
	}
	// Village staff may not void.
	if r := post("/console/cards/"+c.ID+"/status", url.Values{"action": {"void"}, "csrf": {csrfToken(ck.Value)}}); r.Code != http.StatusForbidden {
		t.Fatalf("village void: %d", r.Code)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "/console",
		"/console":             "/console",
		"/console/cards/ab":    "/console/cards/ab",
		"//evil.example/x":     "/console",
		"https://evil.example": "/console",
		"/consolex":            "/console",
		"/v/ABC":               "/console",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPublicPages(t *testing.T) {
	v := newEnv(t, Options{})
	for _, path := range []string{"/guide", "/check", "/upload"} {
		r := v.do(http.MethodGet, path, "", "", nil)
		if r.Code != http.StatusOK || !strings.Contains(r.Header().Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("%s: %d, CSP %q", path, r.Code, r.Header().Get("Content-Security-Policy"))
		}
		if strings.Contains(string(r.body), "<script") || strings.Contains(string(r.body), "http://") || strings.Contains(string(r.body), "https://") {
			t.Fatalf("%s has a script or an external reference", path)
		}
	}
	r := v.do(http.MethodGet, "/check?number=2201022026999999&code=AAAA-BBBB", "", "", nil)
	// A typing slip is the likely cause: amber, the form refilled, not
	// the forgery page (issue 16).
	if b := string(r.body); r.Code != http.StatusOK || !strings.Contains(b, "卡号或核验码不符，请核对") || strings.Contains(b, "无法核验") || !strings.Contains(b, `value="AAAA-BBBB"`) {
		t.Fatalf("manual check of an unknown card: %d", r.Code)
	}
}

func TestConsoleRefuse(t *testing.T) {
	v := newEnv(t, Options{})
	ck, _ := v.consoleLogin(t, "220102001001", testPassword)
	c := v.newCard()
	form := url.Values{"reasons": {"不符合办理条件\n材料不实"}, "csrf": {csrfToken(ck.Value)}}
	req := httptest.NewRequest(http.MethodPost, "/console/cards/"+c.ID+"/refuse", strings.NewReader(form.Encode()))
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(ck)
	r := v.serve(req)
	loc := r.Header().Get("Location")
	if r.Code != http.StatusSeeOther || !strings.Contains(loc, "done=refused&notice=") {
		t.Fatalf("refuse: %d %q %s", r.Code, loc, r.body)
	}
	get := func(path string) *resp {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "192.0.2.10:40000"
		req.AddCookie(ck)
		return v.serve(req)
	}
	page := get(loc)
	if page.Code != http.StatusOK || !strings.Contains(string(page.body), "不予办理") || !strings.Contains(string(page.body), "notice-link") {
		t.Fatalf("card after refusal: %d", page.Code)
	}
	seq := loc[strings.LastIndex(loc, "=")+1:]
	if pdf := get("/console/cards/" + c.ID + "/notices/" + seq + "/pdf"); pdf.Code != http.StatusOK || !strings.HasPrefix(string(pdf.body), "%PDF") {
		t.Fatalf("notice PDF: %d", pdf.Code)
	}
}
