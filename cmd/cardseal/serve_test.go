package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/api"
	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/verifier"
)

// serveFlags binds the settings of 'cardseal serve' from its flags, with
// no CARDSEAL_* variable but the passphrase.
func serveFlags(t *testing.T, args ...string) *config.Settings {
	t.Helper()
	for _, v := range []string{"CARDSEAL_DIR", "CARDSEAL_DB", "CARDSEAL_ADDR", "CARDSEAL_PUBLIC_URL", "CARDSEAL_TLS_CERT", "CARDSEAL_TLS_KEY", "CARDSEAL_REDIRECT_HTTP", "CARDSEAL_DEMO_PASSWORD", "CARDSEAL_CALENDAR", "CARDSEAL_TRUST_PROXY"} {
		t.Setenv(v, "")
	}
	return settingsFor(t, serveSettings, args...)
}

// The end-to-end suite of issue 4: the real server (runServe, as
// 'cardseal serve' runs it) on a loopback port, driven over HTTP.

func TestServeSQLite(t *testing.T) {
	testServe(t, "")
}

func TestServePostgres(t *testing.T) {
	testServe(t, storetest.PostgresURL(t))
}

const e2ePassword = "e2e-demo-password"

// sealBody confirms a seal through the JSON API with the staff member's
// password (issue 12 L6: the API seals only after the same step-up as the
// console).
var sealBody = []byte(`{"password":"` + e2ePassword + `"}`)

// server is a running 'cardseal serve'.
type server struct {
	t      *testing.T
	base   string
	dir    string
	stdout *lockedBuffer
	client *http.Client
	// public collects every public response body, to check for personal data.
	mu     sync.Mutex
	public [][]byte
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startServer runs the server on 127.0.0.1:0 over a new data directory
// and stops it (gracefully, checking the result) when the test ends.
func startServer(t *testing.T, db string) *server {
	t.Helper()
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "e2e-key-passphrase")
	dir := filepath.Join(t.TempDir(), "data")
	settings := serveFlags(t, "--dir", dir, "--addr", "127.0.0.1:0", "--db", db, "--demo-password", e2ePassword)
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, settings, serveOptions{started: func(a string) { started <- a }}, stdout, stderr)
	}()
	var addr string
	select {
	case addr = <-started:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not shut down")
		}
		logs := stderr.String()
		if strings.Contains(logs, e2ePassword) {
			t.Error("the log contains the password")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return &server{t: t, base: "http://" + addr, dir: dir, stdout: stdout, client: &http.Client{Timeout: 60 * time.Second}}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (s *server) request(method, path, token, contentType string, body []byte) reply {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if token == "" && !strings.HasPrefix(path, "/api/v1/login") {
		s.mu.Lock()
		s.public = append(s.public, b)
		s.mu.Unlock()
	}
	return reply{res.StatusCode, res.Header, b}
}

func (s *server) login(username string) string {
	s.t.Helper()
	b, _ := json.Marshal(map[string]string{"username": username, "password": e2ePassword})
	r := s.request("POST", "/api/v1/login", "", "application/json", b)
	if r.status != 200 {
		s.t.Fatalf("login %s: %d %s", username, r.status, r.body)
	}
	var lr api.LoginResponse
	if err := json.Unmarshal(r.body, &lr); err != nil {
		s.t.Fatal(err)
	}
	return lr.Token
}

func (s *server) seal(id, token string) reply {
	s.t.Helper()
	return s.request("POST", "/api/v1/cards/"+id+"/seal", token, "application/json", sealBody)
}

func (s *server) card(id, token string) api.CardView {
	s.t.Helper()
	r := s.request("GET", "/api/v1/cards/"+id, token, "", nil)
	if r.status != 200 {
		s.t.Fatalf("get card: %d %s", r.status, r.body)
	}
	var c api.CardView
	if err := json.Unmarshal(r.body, &c); err != nil {
		s.t.Fatal(err)
	}
	return c
}

func (s *server) answer(path string) lifecycle.Answer {
	s.t.Helper()
	r := s.request("GET", path, "", "", nil)
	if r.status != 200 {
		s.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	var a lifecycle.Answer
	if err := json.Unmarshal(r.body, &a); err != nil {
		s.t.Fatal(err)
	}
	return a
}

func wantStatus(t *testing.T, what string, r reply, status int, slug string) {
	t.Helper()
	if r.status != status || !bytes.Contains(r.body, []byte(`"urn:cardseal:problem:`+slug+`"`)) {
		t.Fatalf("%s: %d %s, want %d %s", what, r.status, r.body, status, slug)
	}
}

func testServe(t *testing.T, db string) {
	pdftoppm := testtool.Require(t, "pdftoppm")
	zbarimg := testtool.Require(t, "zbarimg")
	s := startServer(t, db)
	for _, u := range []string{"220102 ", "220102001 ", "220102002 ", "220102001001", "220102002001", "admin"} {
		if !strings.Contains(s.stdout.String(), "  "+u) {
			t.Errorf("the printed logins lack %q:\n%s", u, s.stdout.String())
		}
	}
	if r := s.request("GET", "/healthz", "", "", nil); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}

	village, township, county := s.login("220102001001"), s.login("220102001"), s.login("220102")
	otherVillage := s.login("220102002001")

	app, err := os.ReadFile("../../examples/applicant.json")
	if err != nil {
		t.Fatal(err)
	}
	r := s.request("POST", "/api/v1/cards", village, "application/json", app)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created api.CardView
	json.Unmarshal(r.body, &created)
	id := created.ID

	// Another village may not seal it; the township may not go first.
	wantStatus(t, "other village seals", s.seal(id, otherVillage), 403, "forbidden")
	wantStatus(t, "township first", s.seal(id, township), 409, "out-of-order")

	if r := s.seal(id, village); r.status != 200 {
		t.Fatalf("village seal: %d %s", r.status, r.body)
	}
	wantStatus(t, "village again", s.seal(id, village), 409, "already-sealed")

	// Two township clients seal at once: one seal, one conflict.
	township2 := s.login("220102001")
	results := concurrently(func() reply { return s.seal(id, township) }, func() reply { return s.seal(id, township2) })
	ok, conflict := 0, 0
	for _, r := range results {
		switch r.status {
		case 200:
			ok++
		case 409:
			conflict++
		default:
			t.Errorf("concurrent seal: %d %s", r.status, r.body)
		}
	}
	if ok != 1 || conflict != 1 {
		t.Fatalf("concurrent township seals: %d ok, %d conflicts", ok, conflict)
	}
	if r := s.seal(id, county); r.status != 200 {
		t.Fatalf("county seal: %d %s", r.status, r.body)
	}
	full := s.card(id, county)
	if full.Status != "issued" || len(full.Seals) != 3 {
		t.Fatalf("issued card: %+v", full)
	}
	levels := map[org.Level]int{}
	for _, x := range full.Seals {
		levels[x.Level]++
	}
	if levels[org.Village] != 1 || levels[org.Township] != 1 || levels[org.County] != 1 {
		t.Fatalf("seals per level %v", levels)
	}

	// Download, verify with the verifier and with 'cardseal verify'.
	r = s.request("GET", "/api/v1/cards/"+id+"/pdf", village, "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("pdf: %d", r.status)
	}
	pdf := r.body
	file := filepath.Join(t.TempDir(), "card.pdf")
	if err := os.WriteFile(file, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	trust, err := trustList(&env{loaded: settingsFor(s.t, dirFlag, "--dir", s.dir)}, "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verifier.Verify(pdf, verifier.Options{Trust: trust, SealBoxes: lifecycle.CardSealBoxes()})
	if err != nil || rep.Verdict != verifier.Valid || len(rep.Seals) != 3 || rep.DocID != full.Number {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	if code, out, errs := cli(t, "verify", "--dir", s.dir, file); code != 0 {
		t.Fatalf("cardseal verify: exit %d\n%s%s", code, out, errs)
	}

	// Page 1 in grey at 150 dpi, the QR decoded, its URL asked.
	png := filepath.Join(t.TempDir(), "page")
	if out, err := exec.Command(pdftoppm, "-gray", "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", file, png).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	out, err := exec.Command(zbarimg, "--raw", "-q", png+".png").Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	qr := strings.TrimSpace(string(out))
	if qr != full.VerificationURL {
		t.Fatalf("QR says %q, the card %q", qr, full.VerificationURL)
	}
	u, err := url.Parse(qr)
	if err != nil || !strings.HasPrefix(u.Path, "/V/") {
		t.Fatalf("QR URL %q: %v", qr, err)
	}
	if !strings.EqualFold(u.Host, strings.TrimPrefix(s.base, "http://")) {
		t.Errorf("QR URL host %q, server %s", u.Host, s.base)
	}
	tok := strings.TrimPrefix(u.Path, "/V/")
	page := s.request("GET", u.Path, "", "", nil)
	if page.status != 200 || !bytes.Contains(page.body, []byte("<h1>有效</h1>")) || bytes.Count(page.body, []byte(`class="step done"`)) != 3 {
		t.Fatalf("QR page: %d\n%s", page.status, page.body)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("page CSP %q", csp)
	}
	a := s.answer("/api/v1/verify/" + tok)
	if a.Status != lifecycle.PublicValid || len(a.Seals) != 3 || a.Number != full.Number {
		t.Fatalf("answer: %+v", a)
	}
	for _, x := range a.Seals {
		if !x.OK {
			t.Errorf("seal %+v not ok", x)
		}
	}

	// The citizen downloads the card with the wife's ID number.
	dl := s.request("POST", "/c/"+tok, "", "application/x-www-form-urlencoded", []byte("id_number=220102199208152346"))
	if dl.status != 200 || !bytes.Equal(dl.body, pdf) {
		t.Fatalf("citizen download: %d", dl.status)
	}
	if r := s.request("POST", "/c/"+tok, "", "application/x-www-form-urlencoded", []byte("id_number=110101199003071234")); r.status != 403 {
		t.Errorf("download with a stranger's ID number: %d", r.status)
	}

	// Voided by the county: the same QR says so.
	wantStatus(t, "township voids", s.request("POST", "/api/v1/cards/"+id+"/void", township, "application/json",
		[]byte(`{"reason":"other","note":"x"}`)), 403, "wrong-level")
	r = s.request("POST", "/api/v1/cards/"+id+"/void", county, "application/json",
		[]byte(`{"reason":"infant_death_without_proof","note":"未提供死亡证明"}`))
	if r.status != 200 {
		t.Fatalf("void: %d %s", r.status, r.body)
	}
	if a := s.answer("/api/v1/verify/" + tok); a.Status != lifecycle.PublicVoided {
		t.Fatalf("after void: %+v", a)
	}
	if page := s.request("GET", u.Path, "", "", nil); !bytes.Contains(page.body, []byte("<h1>已作废</h1>")) {
		t.Errorf("page after void:\n%s", page.body)
	}
	var up api.UploadAnswer
	r = s.request("POST", "/api/v1/verify", "", "application/pdf", pdf)
	if err := json.Unmarshal(r.body, &up); err != nil || up.Report.Verdict != verifier.Valid || up.Registry == nil || up.Registry.Status != lifecycle.PublicVoided {
		t.Fatalf("upload after void: %d %s", r.status, r.body)
	}

	// Many clients sealing a second card at once: one seal per level, and
	// the PDF verifies.
	r = s.request("POST", "/api/v1/cards", township, "application/json", app)
	if r.status != 201 {
		t.Fatalf("create 2: %d %s", r.status, r.body)
	}
	var second api.CardView
	json.Unmarshal(r.body, &second)
	village2 := s.login("220102001001")
	var fns []func() reply
	for i := 0; i < 3; i++ {
		fns = append(fns, func() reply { return s.seal(second.ID, village) }, func() reply { return s.seal(second.ID, village2) })
		fns = append(fns, func() reply { return s.seal(second.ID, township) })
	}
	for _, r := range concurrently(fns...) {
		if r.status != 200 && r.status != 409 {
			t.Errorf("concurrent seal: %d %s", r.status, r.body)
		}
	}
	c2 := s.card(second.ID, county)
	levels = map[org.Level]int{}
	for _, x := range c2.Seals {
		levels[x.Level]++
	}
	if levels[org.Village] != 1 || levels[org.Township] > 1 || len(c2.Seals) != c2.Seq {
		t.Fatalf("second card after concurrent sealing: seals %v, seq %d", levels, c2.Seq)
	}
	r = s.request("GET", "/api/v1/cards/"+second.ID+"/pdf", county, "", nil)
	rep, err = verifier.Verify(r.body, verifier.Options{Trust: trust, SealBoxes: lifecycle.CardSealBoxes()})
	if err != nil || rep.Verdict != verifier.Incomplete || len(rep.Seals) != len(c2.Seals) {
		t.Fatalf("second card PDF: %v %+v", err, rep)
	}

	// No public answer carries a full ID number or a full name.
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.public {
		if bytes.HasPrefix(b, []byte("%PDF-")) {
			continue // the citizen's own card
		}
		for _, secret := range []string{"220102199003071235", "220102199208152346", "王喆堃", "李四"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Fatalf("a public response contains %q:\n%s", secret, b)
			}
		}
	}
	if len(s.public) < 8 {
		t.Fatalf("only %d public responses checked", len(s.public))
	}
}

// concurrently runs the functions at once and returns their results.
func concurrently(fns ...func() reply) []reply {
	out := make([]reply, len(fns))
	var start, wg sync.WaitGroup
	start.Add(1)
	for i, f := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			out[i] = f()
		}()
	}
	start.Done()
	wg.Wait()
	return out
}

// TestServeBinary runs the built command: a random demo password is
// printed once and works, a restart keeps the users and prints no
// password, and SIGTERM shuts the server down cleanly.
func TestServeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "cardseal")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "data")
	env := append(os.Environ(), "CARDSEAL_KEY_PASSPHRASE=binary-test-passphrase", "CARDSEAL_DEMO_PASSWORD=", "CARDSEAL_DB=", "CARDSEAL_ADDR=", "CARDSEAL_PUBLIC_URL=")
	start := func() (*exec.Cmd, *lockedBuffer, string) {
		t.Helper()
		cmd := exec.Command(bin, "serve", "--dir", dir, "--addr", "127.0.0.1:0")
		cmd.Env = env
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if i := strings.Index(out.String(), "serving http://"); i >= 0 {
				rest := out.String()[i+len("serving "):]
				return cmd, out, rest[:strings.IndexByte(rest, ' ')]
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("the server did not start:\n%s", out.String())
		return nil, nil, ""
	}
	stop := func(cmd *exec.Cmd) {
		t.Helper()
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("after SIGINT: %v", err)
		}
	}
	login := func(base, pw string) int {
		b, _ := json.Marshal(map[string]string{"username": "admin", "password": pw})
		res, err := http.Post(base+"/api/v1/login", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}

	cmd, out, base := start()
	const marker = "password of every login above (shown only now): "
	i := strings.Index(out.String(), marker)
	if i < 0 {
		t.Fatalf("no generated password printed:\n%s", out.String())
	}
	pw := strings.Fields(out.String()[i+len(marker):])[0]
	if code := login(base, pw); code != 200 {
		t.Fatalf("login with the printed password: %d", code)
	}
	stop(cmd)

	cmd, out, base = start()
	if strings.Contains(out.String(), "password") {
		t.Errorf("a restart printed a password:\n%s", out.String())
	}
	if code := login(base, pw); code != 200 {
		t.Fatalf("login after a restart: %d", code)
	}
	stop(cmd)
}
