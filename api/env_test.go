package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/tsa"
)

// testPassword is every test user's password.
const testPassword = "correct horse battery"

var (
	hashOnce sync.Once
	hashVal  string
)

// testHash hashes testPassword once per test binary: argon2id is slow on
// purpose.
func testHash(t testing.TB) string {
	hashOnce.Do(func() {
		h, err := staff.HashPassword(testPassword)
		if err != nil {
			panic(err)
		}
		hashVal = h
	})
	return hashVal
}

// env is a service over the demo province, a fresh SQLite store and the
// real router.
type env struct {
	t     testing.TB
	e     *echo.Echo
	st    *store.DB
	ks    *keys.FileStore
	svc   *lifecycle.Service
	staff *staff.Service
	logs  *syncBuffer
	clock *clock
	// reg is the metrics registry, served apart from the router as
	// 'cardseal serve --metrics-addr' does (v.metrics).
	reg *prometheus.Registry
	// made counts the cards newCard applied for.
	made int
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var (
	keysOnce sync.Once
	keysDir  string
	keysErr  error
)

// demoKeys creates the demo keystore once per test binary (key
// generation is the slow part) and returns a copy's directory.
func demoKeys(t testing.TB) string {
	keysOnce.Do(func() {
		keysDir, keysErr = os.MkdirTemp("", "cardseal-api-keys-")
		if keysErr == nil {
			keysErr = keys.InitDir(keysDir, keys.Demo, []byte("test-passphrase"), time.Now().Add(-time.Hour))
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keysDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if keysDir != "" {
		os.RemoveAll(keysDir)
	}
	os.Exit(code)
}

// newEnv is a service over the demo province in a fresh SQLite store.
func newEnv(t testing.TB, opt Options) *env {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "cardseal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st, opt)
}

// newEnvOn is a service over the demo province in st: its organisations,
// one user per organisation, the real router.
func newEnvOn(t testing.TB, st *store.DB, opt Options) *env {
	t.Helper()
	ks, err := keys.OpenDir(demoKeys(t), []byte("test-passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	return newEnvKeys(t, st, ks, keys.Demo.Orgs, opt)
}

// newEnvKeys is newEnvOn for any province: the keystore ks and its
// organisations orgs, recorded in st with one user per organisation.
func newEnvKeys(t testing.TB, st *store.DB, ks *keys.FileStore, orgs []org.Org, opt Options) *env {
	t.Helper()
	ctx := context.Background()
	for _, o := range orgs {
		if err := st.CreateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateUser(ctx, &staff.User{Username: o.Code, OrgCode: o.Code, PasswordHash: testHash(t)}); err != nil {
			t.Fatal(err)
		}
	}
	clk := &clock{t: time.Now()}
	if opt.Now == nil {
		opt.Now = clk.Now
	}
	if opt.LoginBurst == 0 {
		opt.LoginBurst = 1000
	}
	if opt.LoginWindowLimit == 0 {
		opt.LoginWindowLimit = 1000
	}
	if opt.PublicBurst == 0 {
		opt.PublicBurst = 1000
	}
	if opt.DownloadBurst == 0 {
		opt.DownloadBurst = 1000
	}
	if opt.Registry == nil {
		opt.Registry = prometheus.NewRegistry()
	}
	svc := lifecycle.NewService(st, ks, "http://127.0.0.1:8080")
	svc.Now = opt.Now
	sv := staff.NewService(st, st, st, staff.Policy{})
	sv.Now = opt.Now
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The platform's TSA: serial numbers from the store, the test's
	// clock as the reference too (tests move it; TestTimestampDriftStops
	// drifts it on purpose). Every seal carries its timestamp.
	var authority *tsa.Authority
	if id, err := ks.TSAIdentity(); err == nil {
		if authority, err = tsa.New(id, testSerials{st, opt.Now}, tsa.Options{Now: opt.Now, Logger: log}); err != nil {
			t.Fatal(err)
		}
		svc.SetTimestamper(authority)
	}
	e := New(Deps{Service: svc, Checker: lifecycle.NewChecker(svc), Staff: sv, Quotas: st, TSA: authority, Logger: log, Options: opt})
	return &env{t: t, e: e, st: st, ks: ks, svc: svc, staff: sv, logs: logs, clock: clk, reg: opt.Registry}
}

// testSerials are the store's time-stamp serial numbers with the test's
// clock as the reference clock.
type testSerials struct {
	st  *store.DB
	now func() time.Time
}

func (s testSerials) NextTimestampSerial(ctx context.Context) (int64, time.Time, error) {
	n, _, err := s.st.NextTimestampSerial(ctx)
	return n, s.now(), err
}

// session logs username in directly through the store (the login route
// has tests of its own) and returns the bearer token of an API session.
func (v *env) session(username string) string {
	v.t.Helper()
	ctx := context.Background()
	u, err := v.st.GetUserByName(ctx, username)
	if err != nil {
		v.t.Fatal(err)
	}
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	if err := v.st.CreateSession(ctx, staff.Session{TokenHash: staff.HashToken(tok), UserID: u.ID, Kind: staff.APISession, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		v.t.Fatal(err)
	}
	return tok
}

type resp struct {
	*httptest.ResponseRecorder
	body []byte
}

func (r *resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request through the real router.
func (v *env) do(method, path, token, contentType string, body []byte) *resp {
	v.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "192.0.2.10:40000"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, req)
	return &resp{ResponseRecorder: rec, body: rec.Body.Bytes()}
}

func (v *env) postJSON(path, token string, body any) *resp {
	v.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		v.t.Fatal(err)
	}
	return v.do(http.MethodPost, path, token, "application/json", b)
}

// expectProblem checks a problem response.
func expectProblem(t *testing.T, r *resp, status int, slug string) Problem {
	t.Helper()
	if r.Code != status {
		t.Fatalf("status %d, want %d; body %s", r.Code, status, r.body)
	}
	if ct := r.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json", ct)
	}
	var p Problem
	r.json(t, &p)
	if p.Type != ProblemTypeBase+slug || p.Status != status || p.Title == "" || p.Detail == "" || p.RequestID == "" {
		t.Fatalf("problem %+v, want type %s status %d with title, detail and request id", p, slug, status)
	}
	if p.RequestID != r.Header().Get(HeaderRequestID) {
		t.Errorf("problem request id %q, header %q", p.RequestID, r.Header().Get(HeaderRequestID))
	}
	return p
}

func exampleApplicant(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../examples/applicant.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newCard applies for a card as the village: the example couple's first,
// then each time another couple's, since a couple holds one valid card of
// a type (issue 14) and most tests want several cards.
func (v *env) newCard() CardView {
	v.t.Helper()
	app := exampleApplicant(v.t)
	if v.made > 0 {
		app = coupleApp(v.t, 300+v.made, "220102001001") // 300 up: no other test's couple; at most 149 cards (3-digit serials)
	}
	v.made++
	r := v.do(http.MethodPost, "/api/v1/cards", v.session("220102001001"), "application/json", app)
	if r.Code != http.StatusCreated {
		v.t.Fatalf("create card: %d %s", r.Code, r.body)
	}
	var c CardView
	r.json(v.t, &c)
	return c
}

// seal seals a card as the user, confirming with the user's password,
// and returns the response.
func (v *env) seal(id, username string) *resp {
	v.t.Helper()
	return v.postJSON("/api/v1/cards/"+id+"/seal", v.session(username), SealRequest{Password: testPassword})
}

// metrics scrapes the metrics as the operator's listener serves them.
func (v *env) metrics() string {
	v.t.Helper()
	rec := httptest.NewRecorder()
	MetricsHandler(v.reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		v.t.Fatalf("metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// issue seals a card at all three levels.
func (v *env) issue(id string) {
	v.t.Helper()
	for _, u := range []string{"220102001001", "220102001", "220102"} {
		if r := v.seal(id, u); r.Code != http.StatusOK {
			v.t.Fatalf("seal as %s: %d %s", u, r.Code, r.body)
		}
	}
}
