package main

import (
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store/storetest"

	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/api"
	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/verifier"
)

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
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, serveOptions{dir: dir, addr: "127.0.0.1:0", db: db, demoPassword: e2ePassword,
			started: func(a string) { started <- a }}, stdout, stderr)
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
	trust, err := trustList(s.dir, "")
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

// selfSignedTLS writes a self-signed ECDSA P-256 certificate for
// 127.0.0.1 and its key, and returns the files and a pool trusting it.
func selfSignedTLS(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(20261128),
		Subject:      pkix.Name{CommonName: "cardseal test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(20 * 24 * time.Hour), // ends within the 30-day warning
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeTLS serves HTTPS with a certificate made here, redirects plain
// HTTP to it, warns about certificates ending soon and exports their end
// as a gauge.
func TestServeTLS(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "e2e-key-passphrase")
	certFile, keyFile, pool := selfSignedTLS(t)
	dir := filepath.Join(t.TempDir(), "data")
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	started, redirecting, metrics := make(chan string, 1), make(chan string, 1), make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, serveOptions{dir: dir, addr: "127.0.0.1:0", demoPassword: e2ePassword,
			tlsCert: certFile, tlsKey: keyFile, redirectHTTP: "127.0.0.1:0", metricsAddr: "127.0.0.1:0",
			metricsListening: func(a string) { metrics <- a },
			// The demo seal certificates run five years: warn about them
			// all, to see the warning.
			expiryWarning: 6 * 365 * 24 * time.Hour,
			started:       func(a string) { started <- a }, redirecting: func(a string) { redirecting <- a }}, stdout, stderr)
	}()
	var addr, raddr, maddr string
	for addr == "" || raddr == "" || maddr == "" {
		select {
		case addr = <-started:
		case raddr = <-redirecting:
		case maddr = <-metrics:
		case err := <-done:
			t.Fatalf("serve: %v\n%s", err, stderr.String())
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not start")
		}
	}
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not shut down")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", stderr.String())
		}
	}()
	if !strings.Contains(stdout.String(), "serving https://"+addr+" (QR codes point to https://"+addr+")") {
		t.Errorf("startup line:\n%s", stdout.String())
	}
	tlsClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(c *http.Client, u string) (*http.Response, []byte) {
		t.Helper()
		res, err := c.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}

	res, _ := get(tlsClient, "https://"+addr+"/healthz")
	if res.StatusCode != 200 || res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("healthz over TLS: %d %+v", res.StatusCode, res.TLS)
	}
	if hsts := res.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("no HSTS over TLS: %q", hsts)
	}
	// Plain HTTP on the TLS port is refused.
	if res, err := http.Get("http://" + addr + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Errorf("plain HTTP on the TLS port answered 200")
		}
	}
	// An untrusting client gets no answer.
	if _, err := http.Get("https://" + addr + "/healthz"); err == nil {
		t.Errorf("a client that does not trust the certificate connected")
	}

	// The redirect listener: 301 for GET (path and query kept), 308 for POST.
	noFollow := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, _ = get(noFollow, "http://"+raddr+"/V/ABC?x=1")
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusMovedPermanently || loc != "https://"+addr+"/V/ABC?x=1" {
		t.Errorf("redirect of GET: %d %q", res.StatusCode, loc)
	}
	pres, err := noFollow.Post("http://"+raddr+"/api/v1/login", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	pres.Body.Close()
	if loc := pres.Header.Get("Location"); pres.StatusCode != http.StatusPermanentRedirect || loc != "https://"+addr+"/api/v1/login" {
		t.Errorf("redirect of POST: %d %q", pres.StatusCode, loc)
	}
	res, _ = get(tlsClient, "http://"+raddr+"/healthz")
	if res.StatusCode != 200 || res.Request.URL.Scheme != "https" {
		t.Errorf("following the redirect: %d at %s", res.StatusCode, res.Request.URL)
	}

	// The gauge, for every seal certificate, the platform's and the TLS
	// certificate, on the operator's metrics address only; the warnings
	// in the log.
	if res, _ := get(tlsClient, "https://"+addr+"/metrics"); res.StatusCode != http.StatusNotFound {
		t.Errorf("metrics on the public address: %d, want 404", res.StatusCode)
	}
	res, body := get(http.DefaultClient, "http://"+maddr+"/metrics")
	if res.StatusCode != 200 {
		t.Fatalf("metrics: %d", res.StatusCode)
	}
	gauges := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if name, rest, ok := strings.Cut(line, " "); ok && strings.HasPrefix(name, "cardseal_certificate_expiry_seconds{") {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			gauges[name] = v
		}
	}
	const year = 365 * 24 * 3600
	for series, want := range map[string][2]float64{
		`cardseal_certificate_expiry_seconds{id="220102",kind="seal"}`:       {4 * year, 5 * year},
		`cardseal_certificate_expiry_seconds{id="220102001001",kind="seal"}`: {4 * year, 5 * year},
		`cardseal_certificate_expiry_seconds{id="platform",kind="platform"}`: {4 * year, 5 * year},
		`cardseal_certificate_expiry_seconds{id="root",kind="root"}`:         {10 * year, 30 * year},
		`cardseal_certificate_expiry_seconds{id="server",kind="tls"}`:        {19 * 24 * 3600, 20 * 24 * 3600},
	} {
		if v, ok := gauges[series]; !ok || v < want[0] || v > want[1] {
			t.Errorf("%s = %v (present %v), want between %v and %v", series, v, ok, want[0], want[1])
		}
	}
	if len(gauges) != 8 { // root, platform, five organisations, TLS
		t.Errorf("%d certificate series, want 8:\n%v", len(gauges), gauges)
	}
	logs := stderr.String()
	warned := map[string]bool{}
	for _, line := range strings.Split(logs, "\n") {
		var l struct{ Level, Msg, ID string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Level == "WARN" && l.Msg == "certificate ends soon" {
			warned[l.ID] = true
		}
	}
	for _, id := range []string{"220102", "220102001001", "platform", "server"} {
		if !warned[id] {
			t.Errorf("no warning about certificate %s in the log:\n%s", id, logs)
		}
	}
	if strings.Contains(logs, `"id":"root","name"`) {
		t.Errorf("the 20-year root was warned about:\n%s", logs)
	}
}

// A TLS certificate without its key, a redirect without TLS, and an
// unreadable certificate are refused before serving.
func TestServeTLSRefused(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "e2e-key-passphrase")
	certFile, keyFile, _ := selfSignedTLS(t)
	dir := filepath.Join(t.TempDir(), "data")
	for _, tc := range []struct {
		name string
		o    serveOptions
		want string
	}{
		{"cert without key", serveOptions{tlsCert: certFile}, "tls_key"},
		{"key without cert", serveOptions{tlsKey: keyFile}, "tls_cert"},
		{"redirect without TLS", serveOptions{redirectHTTP: "127.0.0.1:0"}, "redirect_http"},
		{"key as certificate", serveOptions{tlsCert: keyFile, tlsKey: keyFile}, "load TLS certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.dir, tc.o.addr, tc.o.demoPassword = dir, "127.0.0.1:0", e2ePassword
			tc.o.started = func(string) { t.Error("the server started") }
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := runServe(ctx, tc.o, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("runServe: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
