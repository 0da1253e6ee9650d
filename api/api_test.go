package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/staff"
)

// Full personal data of examples/applicant.json that no public answer
// may contain.
var secrets = []string{"220102199003071235", "220102199208152346", "王喆堃", "李四"}

func noSecrets(t *testing.T, where string, body []byte) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(body, []byte(s)) {
			t.Errorf("%s contains %q", where, s)
		}
	}
}

// documentedOps reads the paths and methods of the OpenAPI document.
func documentedOps(t *testing.T) map[string]bool {
	t.Helper()
	ops := map[string]bool{}
	pathRE := regexp.MustCompile(`^  (/[^ ]*):\s*$`)
	methodRE := regexp.MustCompile(`^    (get|put|post|delete|patch|head|options):`)
	sc := bufio.NewScanner(bytes.NewReader(OpenAPI()))
	inPaths, cur := false, ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
		case len(line) > 0 && line[0] != ' ' && line[0] != '#':
			inPaths = false
		case !inPaths:
		case pathRE.MatchString(line):
			cur = pathRE.FindStringSubmatch(line)[1]
		case methodRE.MatchString(line):
			ops[strings.ToUpper(methodRE.FindStringSubmatch(line)[1])+" "+cur] = true
		}
	}
	if len(ops) == 0 {
		t.Fatal("no operations found in openapi.yaml")
	}
	return ops
}

// TestRoutesDocumented fails for a registered route missing from the
// OpenAPI document, and for a documented operation that is not a route.
func TestRoutesDocumented(t *testing.T) {
	v := newEnv(t, Options{MetricsToken: "scrape"}) // every route, /metrics too
	doc := documentedOps(t)
	param := regexp.MustCompile(`:([a-zA-Z_]+)`)
	seen := map[string]bool{}
	for _, r := range v.e.Routes() {
		if strings.HasPrefix(r.Method, "echo_") { // echo's internal not-found routes
			continue
		}
		op := r.Method + " " + param.ReplaceAllString(r.Path, "{$1}")
		seen[op] = true
		if !doc[op] {
			t.Errorf("route %s is not documented in api/openapi.yaml", op)
		}
	}
	for op := range doc {
		if !seen[op] {
			t.Errorf("openapi.yaml documents %s, which is not a route", op)
		}
	}
	r := v.do(http.MethodGet, "/api/v1/openapi.yaml", "", "", nil)
	if r.Code != 200 || !bytes.Equal(r.body, OpenAPI()) {
		t.Errorf("GET /api/v1/openapi.yaml: %d", r.Code)
	}
}

func TestLogin(t *testing.T) {
	v := newEnv(t, Options{})
	r := v.postJSON("/api/v1/login", "", map[string]string{"username": "220102001001", "password": testPassword})
	if r.Code != http.StatusOK {
		t.Fatalf("login: %d %s", r.Code, r.body)
	}
	var lr LoginResponse
	r.json(t, &lr)
	if len(lr.Token) != staff.TokenLength || lr.User.Username != "220102001001" || lr.User.Org.Level != "village" || lr.User.Org.Name == "" {
		t.Fatalf("login response %+v", lr)
	}
	if d := time.Until(lr.ExpiresAt); d < 7*time.Hour || d > 8*time.Hour+time.Minute {
		t.Errorf("expires in %v, want 8h", d)
	}
	// Only the hash is stored.
	if _, err := v.st.GetSession(context.Background(), []byte(lr.Token)); !errors.Is(err, staff.ErrNotFound) {
		t.Errorf("session found by the raw token: %v", err)
	}
	if _, err := v.st.GetSession(context.Background(), staff.HashToken(lr.Token)); err != nil {
		t.Errorf("session by hash: %v", err)
	}
	if strings.Contains(v.logs.String(), lr.Token) || strings.Contains(v.logs.String(), testPassword) {
		t.Error("the log contains the token or the password")
	}
	me := v.do(http.MethodGet, "/api/v1/me", lr.Token, "", nil)
	if me.Code != 200 || !strings.Contains(me.Body.String(), `"220102001001"`) {
		t.Fatalf("me: %d %s", me.Code, me.body)
	}
	if r := v.do(http.MethodPost, "/api/v1/logout", lr.Token, "", nil); r.Code != http.StatusNoContent {
		t.Fatalf("logout: %d", r.Code)
	}
	expectProblem(t, v.do(http.MethodGet, "/api/v1/me", lr.Token, "", nil), 401, "unauthorized")
}

func TestLoginFailuresLookAlike(t *testing.T) {
	v := newEnv(t, Options{})
	bad := v.postJSON("/api/v1/login", "", map[string]string{"username": "220102001001", "password": "wrong"})
	unknown := v.postJSON("/api/v1/login", "", map[string]string{"username": "nobody", "password": "wrong"})
	p1 := expectProblem(t, bad, 401, "bad-credentials")
	p2 := expectProblem(t, unknown, 401, "bad-credentials")
	p1.RequestID, p2.RequestID = "", ""
	if p1 != p2 {
		t.Errorf("unknown user %+v differs from wrong password %+v", p2, p1)
	}
	expectProblem(t, v.do(http.MethodPost, "/api/v1/login", "", "application/json", []byte(`{"username":`)), 400, "bad-json")
	expectProblem(t, v.do(http.MethodPost, "/api/v1/login", "", "application/json", []byte(`{"username":"a","password":"b","x":1}`)), 400, "bad-json")
}

// TestLoginDelayAudited: wrong passwords are audited with their count
// and the delay they start; a success clears the count.
func TestLoginDelayAudited(t *testing.T) {
	v := newEnv(t, Options{})
	login := func(pw string) *resp {
		return v.postJSON("/api/v1/login", "", map[string]string{"username": "220102001", "password": pw})
	}
	free := v.staff.Policy().Throttle.Free
	for i := 0; i <= free; i++ {
		expectProblem(t, login("wrong"), 401, "bad-credentials")
	}
	r := login(testPassword)
	expectProblem(t, r, 429, "rate-limited")
	v.clock.Add(retryAfter(t, r))
	if r := login(testPassword); r.Code != 200 {
		t.Fatalf("login after the delay: %d %s", r.Code, r.body)
	}
	if r := login("wrong"); r.Code != 401 {
		t.Fatalf("a success did not clear the count: %d", r.Code)
	}
	evs, _ := v.st.AuditEvents(context.Background(), "", 100)
	delayed := 0
	for _, e := range evs {
		if e.Action == "user.login_failed" && e.Actor == "220102001" && strings.Contains(string(e.Detail), `"delay_seconds":`) {
			delayed++
		}
	}
	if delayed != 1 {
		t.Errorf("%d audited failures that started a delay, want 1", delayed)
	}
	if m := v.metrics(); !strings.Contains(m, `cardseal_logins_total{outcome="throttled"} 1`) {
		t.Errorf("login metrics:\n%s", grepLines(m, "cardseal_logins"))
	}
}

func TestLoginRateLimit(t *testing.T) {
	v := newEnv(t, Options{LoginBurst: 2, LoginRate: 0.001})
	for i := 0; i < 2; i++ {
		expectProblem(t, v.postJSON("/api/v1/login", "", map[string]string{"username": "x", "password": "y"}), 401, "bad-credentials")
	}
	r := v.postJSON("/api/v1/login", "", map[string]string{"username": "x", "password": "y"})
	expectProblem(t, r, 429, "rate-limited")
	if r.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestAuthRequired(t *testing.T) {
	v := newEnv(t, Options{})
	for _, tc := range []struct{ method, path, auth string }{
		{"GET", "/api/v1/queue", ""},
		{"POST", "/api/v1/cards", ""},
		{"GET", "/api/v1/cards/0123456789abcdef", "Bearer short"},
		{"POST", "/api/v1/cards/0123456789abcdef/seal", "Basic abc"},
		{"GET", "/api/v1/queue", "Bearer " + strings.Repeat("A", staff.TokenLength)},
	} {
		req := httptestRequest(tc.method, tc.path, tc.auth)
		r := v.serve(req)
		p := expectProblem(t, r, 401, "unauthorized")
		if r.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: no WWW-Authenticate", tc.method, tc.path)
		}
		_ = p
	}
}

func TestProblems(t *testing.T) {
	v := newEnv(t, Options{})
	tok := v.session("220102001001")
	expectProblem(t, v.do("GET", "/nothing/here", "", "", nil), 404, "not-found")
	expectProblem(t, v.do("DELETE", "/api/v1/login", "", "", nil), 405, "method-not-allowed")
	expectProblem(t, v.do("GET", "/api/v1/cards/not-an-id", tok, "", nil), 404, "not-found")
	expectProblem(t, v.do("GET", "/api/v1/cards/0123456789abcdef", tok, "", nil), 404, "not-found")
	// Invalid application: the field is named.
	p := expectProblem(t, v.do("POST", "/api/v1/cards", tok, "application/json", []byte(`{"type":"fourth"}`)), 422, "invalid-application")
	if p.Field != "type" {
		t.Errorf("invalid application names field %q, want type", p.Field)
	}
	bad := bytes.Replace(exampleApplicant(t), []byte(`"220102199003071235"`), []byte(`"220102199003071234"`), 1)
	p = expectProblem(t, v.do("POST", "/api/v1/cards", tok, "application/json", bad), 422, "invalid-application")
	if !strings.Contains(p.Field, "id_number") {
		t.Errorf("bad ID number: field %q", p.Field)
	}
	// A village outside the caller's organisation.
	other := bytes.Replace(exampleApplicant(t), []byte(`"village": "220102001001"`), []byte(`"village": "220102002001"`), 1)
	expectProblem(t, v.do("POST", "/api/v1/cards", tok, "application/json", other), 403, "forbidden")
	// Too large.
	big := append([]byte(`{"type":"first","x":"`), bytes.Repeat([]byte("a"), 70<<10)...)
	expectProblem(t, v.do("POST", "/api/v1/cards", tok, "application/json", append(big, `"}`...)), 413, "too-large")
	if !strings.Contains(v.logs.String(), `"level":"WARN","msg":"request refused"`) || strings.Contains(v.logs.String(), `"level":"ERROR"`) {
		t.Error("4xx are not logged at warn level (and only there)")
	}
}

func TestRequestTimeout(t *testing.T) {
	v := newEnv(t, Options{RequestTimeout: time.Nanosecond})
	expectProblem(t, v.postJSON("/api/v1/login", "", map[string]string{"username": "220102", "password": testPassword}), 503, "timeout")
}

// TestInternalErrorsNotSent: the client gets a constant message, the log
// gets the error at error level with the request id.
func TestInternalErrorsNotSent(t *testing.T) {
	v := newEnv(t, Options{})
	sv := staff.NewService(failingStore{v.st}, v.st, v.st, staff.Policy{})
	v.e = New(Deps{Service: v.svc, Staff: sv, Quotas: v.st, Logger: slogTo(v.logs), Options: Options{LoginBurst: 100}})
	r := v.postJSON("/api/v1/login", "", map[string]string{"username": "220102", "password": testPassword})
	p := expectProblem(t, r, 500, "internal")
	if strings.Contains(string(r.body), "exploded") {
		t.Error("internal error text sent to the client")
	}
	logs := v.logs.String()
	if !strings.Contains(logs, "database exploded") || !strings.Contains(logs, p.RequestID) || !strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("the log lacks the error, its request id or the error level:\n%s", logs)
	}
}

func TestSealing(t *testing.T) {
	v := newEnv(t, Options{})
	c := v.newCard()
	if c.Status != card.StatusDraft || c.NextLevel != "village" || c.Applicant != nil {
		t.Fatalf("new card %+v", c)
	}
	noSecrets(t, "create answer", mustJSON(t, c))
	// Out of order: the township before the village.
	expectProblem(t, v.seal(c.ID, "220102001"), 409, "out-of-order")
	// Outside the jurisdiction: the other village, the other township.
	expectProblem(t, v.seal(c.ID, "220102002001"), 403, "forbidden")
	expectProblem(t, v.seal(c.ID, "220102002"), 403, "forbidden")
	expectProblem(t, v.do("GET", "/api/v1/cards/"+c.ID, v.session("220102002001"), "", nil), 403, "forbidden")
	expectProblem(t, v.do("GET", "/api/v1/cards/"+c.ID+"/pdf", v.session("220102002"), "", nil), 403, "forbidden")
	// The village's queue holds it; the other village's does not.
	var q struct{ Cards []CardView }
	v.do("GET", "/api/v1/queue", v.session("220102001001"), "", nil).json(t, &q)
	if len(q.Cards) != 1 || q.Cards[0].ID != c.ID {
		t.Errorf("village queue %+v", q.Cards)
	}
	v.do("GET", "/api/v1/queue", v.session("220102002001"), "", nil).json(t, &q)
	if len(q.Cards) != 0 {
		t.Errorf("other village's queue %+v", q.Cards)
	}
	if r := v.seal(c.ID, "220102001001"); r.Code != 200 {
		t.Fatalf("village seal: %d %s", r.Code, r.body)
	}
	expectProblem(t, v.seal(c.ID, "220102001001"), 409, "already-sealed")
	if r := v.seal(c.ID, "220102001"); r.Code != 200 {
		t.Fatalf("township seal: %d %s", r.Code, r.body)
	}
	r := v.seal(c.ID, "220102")
	if r.Code != 200 {
		t.Fatalf("county seal: %d %s", r.Code, r.body)
	}
	var issued CardView
	r.json(t, &issued)
	if issued.Status != card.StatusIssued || len(issued.Seals) != 3 || issued.NextLevel != "" {
		t.Fatalf("after three seals %+v", issued)
	}
	expectProblem(t, v.seal(c.ID, "220102"), 409, "wrong-state")
	// Full data within the jurisdiction, and the read is audited.
	var full CardView
	v.do("GET", "/api/v1/cards/"+c.ID, v.session("220102001"), "", nil).json(t, &full)
	if full.Applicant == nil || full.Applicant.Male.IDNumber != "220102199003071235" || full.VerificationURL == "" || full.VerificationCode == "" {
		t.Fatalf("full card %+v", full)
	}
	evs, _ := v.st.AuditEvents(context.Background(), c.ID, 100)
	found := false
	for _, e := range evs {
		found = found || (e.Action == "card.read" && e.Actor == "220102001")
	}
	if !found {
		t.Error("the staff read is not audited")
	}
	pdf := v.do("GET", "/api/v1/cards/"+c.ID+"/pdf", v.session("220102"), "", nil)
	if pdf.Code != 200 || pdf.Header().Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf.body, []byte("%PDF-")) {
		t.Fatalf("pdf: %d %s", pdf.Code, pdf.Header().Get("Content-Type"))
	}
	m := v.metrics()
	if !strings.Contains(m, `cardseal_seals_applied_total{level="county"} 1`) ||
		!strings.Contains(m, `cardseal_http_requests_total{code="409",method="POST",route="/api/v1/cards/:id/seal"}`) {
		t.Errorf("metrics lack the seals or the 409s:\n%s", grepLines(m, "cardseal_"))
	}
}

func TestStatusChanges(t *testing.T) {
	v := newEnv(t, Options{})
	c := v.newCard()
	county := v.session("220102")
	body := map[string]string{"reason": "pregnancy_ended_without_certificate", "note": "未提供医学证明"}
	expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/void", county, body), 409, "wrong-state")
	v.issue(c.ID)
	expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/void", v.session("220102001"), body), 403, "wrong-level")
	expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/void", county, map[string]string{"reason": "false_commitment", "note": "x"}), 422, "reason-required")
	expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/supersede", county, map[string]string{"reason": "formal_card_reissued", "note": "x"}), 422, "new-card-required")
	r := v.postJSON("/api/v1/cards/"+c.ID+"/void", county, body)
	if r.Code != 200 {
		t.Fatalf("void: %d %s", r.Code, r.body)
	}
	expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/revoke", county, map[string]string{"reason": "false_commitment", "note": "x"}), 409, "wrong-state")
	tok := v.cardToken(c.ID)
	var a lifecycle.Answer
	v.do("GET", "/api/v1/verify/"+tok, "", "", nil).json(t, &a)
	if a.Status != lifecycle.PublicVoided || len(a.Seals) != 3 {
		t.Fatalf("answer after void %+v", a)
	}
	page := v.do("GET", "/V/"+tok, "", "", nil)
	// Art. 13: the status, never its reason.
	if !strings.Contains(page.Body.String(), "已作废") || strings.Contains(page.Body.String(), "终止妊娠未提供医学证明") {
		t.Errorf("page after void lacks 已作废 or shows the reason")
	}
}

func (v *env) cardToken(id string) string {
	v.t.Helper()
	c, err := v.st.GetCard(context.Background(), id)
	if err != nil {
		v.t.Fatal(err)
	}
	return c.QRToken
}

func TestPublicAnswers(t *testing.T) {
	v := newEnv(t, Options{})
	c := v.newCard()
	tok := v.cardToken(c.ID)
	check := func(want string) {
		t.Helper()
		r := v.do("GET", "/api/v1/verify/"+tok, "", "", nil)
		var a lifecycle.Answer
		r.json(t, &a)
		if a.Status != want {
			t.Fatalf("status %q, want %q", a.Status, want)
		}
		noSecrets(t, "JSON answer", r.body)
		for _, path := range []string{"/V/" + tok, "/v/" + strings.ToLower(tok)} {
			p := v.do("GET", path, "", "", nil)
			if p.Code != 200 || !strings.HasPrefix(p.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("page %d %s", p.Code, p.Header().Get("Content-Type"))
			}
			noSecrets(t, "page", p.body)
			if word := map[string]string{lifecycle.PublicIncomplete: "<h1>审批未完成</h1>", lifecycle.PublicValid: "<h1>有效</h1>"}[want]; !bytes.Contains(p.body, []byte(word)) {
				t.Errorf("%s: page lacks %s", path, word)
			}
			if csp := p.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("CSP %q", csp)
			}
			body := p.Body.String()
			if strings.Contains(body, "<script") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
				t.Error("the page has script or an external resource")
			}
		}
	}
	// (An unsealed draft answers "forged": lifecycle.Checker does not
	// special-case revision 0 — reported to its owner.)
	if r := v.seal(c.ID, "220102001001"); r.Code != 200 {
		t.Fatal(r.Code)
	}
	check(lifecycle.PublicIncomplete)
	for _, u := range []string{"220102001", "220102"} {
		if r := v.seal(c.ID, u); r.Code != 200 {
			t.Fatal(r.Code)
		}
	}
	check(lifecycle.PublicValid)
	if m := v.metrics(); !strings.Contains(m, `cardseal_verifications_total{channel="json",status="valid"} 1`) ||
		!strings.Contains(m, `cardseal_verifications_total{channel="page",status="valid"} 2`) ||
		strings.Contains(m, `status="unknown"`) {
		t.Errorf("verification metrics:\n%s", grepLines(m, "cardseal_verifications"))
	}
	page := v.do("GET", "/V/"+tok, "", "", nil).Body.String()
	for _, want := range []string{"有效", "王*堃", "2201**********1235", "永安社区居民委员会", "永吉街道办事处", "长春市南关区卫生健康局", "核验时间"} {
		if !strings.Contains(page, want) {
			t.Errorf("valid page lacks %q", want)
		}
	}
	// A forged token and an overlong one.
	forged := []byte(tok)
	if i := len(forged) / 2; forged[i] == 'A' {
		forged[i] = 'B'
	} else {
		forged[i] = 'A'
	}
	var a lifecycle.Answer
	v.do("GET", "/api/v1/verify/"+string(forged), "", "", nil).json(t, &a)
	if a.Status != lifecycle.PublicForged && a.Status != lifecycle.PublicUnknown {
		t.Errorf("forged token: %q", a.Status)
	}
	v.do("GET", "/api/v1/verify/"+strings.Repeat("A", 300), "", "", nil).json(t, &a)
	if a.Status != lifecycle.PublicForged {
		t.Errorf("overlong token: %q", a.Status)
	}
	if !strings.Contains(v.do("GET", "/V/"+strings.Repeat("A", 300), "", "", nil).Body.String(), "无法核验") {
		t.Error("overlong token page is not 无法核验")
	}
	// Manual check.
	full := v.fullCard(c.ID)
	q := "/api/v1/verify?number=" + c.Number + "&code=" + url.QueryEscape(strings.ToLower(full.VerificationCode))
	v.do("GET", q, "", "", nil).json(t, &a)
	if a.Status != lifecycle.PublicValid {
		t.Errorf("manual check: %q", a.Status)
	}
	var wrong lifecycle.Answer
	v.do("GET", "/api/v1/verify?number="+c.Number+"&code=AAAA-AAAA", "", "", nil).json(t, &wrong)
	if wrong.Status != lifecycle.PublicUnknown || wrong.Number != "" || len(wrong.Holders) != 0 {
		t.Errorf("manual check with a wrong code: %+v", wrong)
	}
	expectProblem(t, v.do("GET", "/api/v1/verify?number="+c.Number, "", "", nil), 400, "missing-parameter")
}

func (v *env) fullCard(id string) CardView {
	v.t.Helper()
	var c CardView
	v.do("GET", "/api/v1/cards/"+id, v.session("220102"), "", nil).json(v.t, &c)
	return c
}

func TestUpload(t *testing.T) {
	v := newEnv(t, Options{MaxUpload: 1 << 20})
	c := v.newCard()
	v.issue(c.ID)
	pdf := v.currentPDF(c.ID)
	var ua UploadAnswer
	r := v.do("POST", "/api/v1/verify", "", "application/pdf", pdf)
	r.json(t, &ua)
	if ua.Report == nil || ua.Report.Verdict != "valid" || len(ua.Report.Seals) != 3 || ua.Registry == nil || ua.Registry.Status != lifecycle.PublicValid || !ua.Current {
		t.Fatalf("upload answer: %s", r.body)
	}
	noSecrets(t, "upload answer", r.body)
	// Multipart, after a void: the file is still genuine, the registry says voided.
	if r := v.postJSON("/api/v1/cards/"+c.ID+"/void", v.session("220102"), map[string]string{"reason": "other", "note": "测试"}); r.Code != 200 {
		t.Fatal(r.Code)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("comment", "x")
	fw, _ := mw.CreateFormFile("file", "card.pdf")
	fw.Write(pdf)
	mw.Close()
	v.do("POST", "/api/v1/verify", "", mw.FormDataContentType(), buf.Bytes()).json(t, &ua)
	if ua.Report.Verdict != "valid" || ua.Registry == nil || ua.Registry.Status != lifecycle.PublicVoided {
		t.Fatalf("multipart upload after void: report %s, registry %+v", ua.Report.Verdict, ua.Registry)
	}
	// A tampered file: invalid, and no registry answer.
	bad := bytes.Clone(pdf)
	i := bytes.Index(bad, []byte("/ByteRange"))
	bad[i+12] ^= 0x01
	v.do("POST", "/api/v1/verify", "", "application/pdf", bad).json(t, &ua)
	if ua.Report.Verdict == "valid" || ua.Registry != nil {
		t.Errorf("tampered upload: %s, registry %v", ua.Report.Verdict, ua.Registry)
	}
	expectProblem(t, v.do("POST", "/api/v1/verify", "", "application/pdf", []byte("hello")), 422, "not-pdf")
	expectProblem(t, v.do("POST", "/api/v1/verify", "", "text/plain", pdf), 415, "unsupported-media-type")
	expectProblem(t, v.do("POST", "/api/v1/verify", "", "application/pdf", make([]byte, 1<<20+1)), 413, "too-large")
	expectProblem(t, v.do("POST", "/api/v1/verify", "", "application/pdf", make([]byte, 2<<20)), 413, "too-large")
}

func TestCitizenDownload(t *testing.T) {
	v := newEnv(t, Options{})
	c := v.newCard()
	tok := v.cardToken(c.ID)
	post := func(id string) *resp {
		return v.do("POST", "/c/"+tok, "", "application/x-www-form-urlencoded", []byte("id_number="+id))
	}
	form := v.do("GET", "/c/"+tok, "", "", nil)
	if form.Code != 200 || !strings.Contains(form.Body.String(), `name="id_number"`) {
		t.Fatalf("form: %d", form.Code)
	}
	noSecrets(t, "download form", form.body)
	if r := post("220102199003071234"); r.Code != 403 || !strings.Contains(r.Body.String(), "不符") {
		t.Errorf("wrong ID number: %d", r.Code)
	}
	if r := post("12345"); r.Code != 400 {
		t.Errorf("malformed ID number: %d", r.Code)
	}
	if r := post("220102199003071235"); r.Code != 409 || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/html") {
		t.Errorf("draft card: %d %s", r.Code, r.Header().Get("Content-Type"))
	}
	v.issue(c.ID)
	for _, id := range []string{"220102199003071235", "220102199208152346"} {
		r := post(id)
		if r.Code != 200 || r.Header().Get("Content-Type") != "application/pdf" || !strings.Contains(r.Header().Get("Content-Disposition"), "attachment") {
			t.Fatalf("download with %s: %d %s", id, r.Code, r.Header().Get("Content-Type"))
		}
	}
	evs, _ := v.st.AuditEvents(context.Background(), c.ID, 100)
	n := 0
	for _, e := range evs {
		if e.Action == "card.download" && e.Actor == "public" && e.Reason == "ok" && e.RemoteAddr == "192.0.2.10" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d audited downloads, want 2", n)
	}
	if r := v.do("GET", "/c/AAAA", "", "", nil); r.Code != 404 || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/html") {
		t.Errorf("unknown token form: %d", r.Code)
	}
}

func TestDownloadRateLimit(t *testing.T) {
	v := newEnv(t, Options{DownloadBurst: 3, DownloadRate: 0.001})
	c := v.newCard()
	tok := v.cardToken(c.ID)
	for i := 0; i < 3; i++ {
		v.do("POST", "/c/"+tok, "", "application/x-www-form-urlencoded", []byte("id_number=220102199003071234"))
	}
	r := v.do("POST", "/c/"+tok, "", "application/x-www-form-urlencoded", []byte("id_number=220102199003071235"))
	if r.Code != 429 || r.Header().Get("Retry-After") == "" || !strings.Contains(r.Body.String(), "频繁") {
		t.Errorf("after the burst: %d", r.Code)
	}
}

func TestPublicRateLimit(t *testing.T) {
	v := newEnv(t, Options{PublicBurst: 2, PublicRate: 0.001})
	for i := 0; i < 2; i++ {
		v.do("GET", "/api/v1/verify/AAAA", "", "", nil)
	}
	expectProblem(t, v.do("GET", "/api/v1/verify/AAAA", "", "", nil), 429, "rate-limited")
	// Another client is not affected.
	req := httptestRequest("GET", "/api/v1/verify/AAAA", "")
	req.RemoteAddr = "198.51.100.7:1234"
	if r := v.serve(req); r.Code != 200 {
		t.Errorf("another client: %d", r.Code)
	}
}

func TestHealthz(t *testing.T) {
	v := newEnv(t, Options{})
	r := v.do("GET", "/healthz", "", "", nil)
	if r.Code != 200 || !strings.Contains(r.Body.String(), `"ok"`) || r.Header().Get(HeaderRequestID) == "" {
		t.Fatalf("healthz: %d %s", r.Code, r.body)
	}
	css := v.do("GET", "/assets/style.css", "", "", nil)
	if css.Code != 200 || !strings.HasPrefix(css.Header().Get("Content-Type"), "text/css") {
		t.Errorf("style.css: %d %s", css.Code, css.Header().Get("Content-Type"))
	}
	expectProblem(t, v.do("GET", "/assets/..%2fapi.go", "", "", nil), 404, "not-found")
}
