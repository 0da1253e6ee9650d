package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/api"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store/storetest"
)

// Crash and concurrency safety at the server level (issue 8): the built
// 'cardseal serve' is SIGKILLed while clients seal cards, restarted, and
// every card is then checked against its records; two processes on one
// PostgreSQL seal the same cards at once (and instances_test.go checks
// what a second instance sees).

// buildCardseal builds the command into a temporary directory, with the
// crash points of crashpoint_crashtest.go (inert unless CARDSEAL_CRASH_AT
// is set).
func buildCardseal(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the server binary; skipped in -short mode")
	}
	bin := filepath.Join(t.TempDir(), "cardseal")
	if out, err := exec.Command("go", "build", "-tags", "crashtest", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is one running 'cardseal serve' process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *lockedBuffer // stdout and the JSON log
	base string        // http://127.0.0.1:PORT
	done chan error
}

const procPassphrase = "process-test-passphrase"

// startProc starts the binary on a loopback port over dir and db ("" for
// SQLite in dir) and waits until it serves. The process is killed when the
// test ends if it is still running.
func startProc(t *testing.T, bin, dir, db string, extra ...string) *proc {
	t.Helper()
	return startProcEnv(t, bin, dir, db, nil, extra...)
}

// startProcEnv is startProc with more environment variables (a crash
// point, crashpoint_crashtest.go).
func startProcEnv(t *testing.T, bin, dir, db string, env []string, extra ...string) *proc {
	t.Helper()
	args := []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0"}
	if db != "" {
		args = append(args, "--db", db)
	}
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.Env = append(os.Environ(), "CARDSEAL_KEY_PASSPHRASE="+procPassphrase, "CARDSEAL_DEMO_PASSWORD="+e2ePassword,
		"CARDSEAL_DB=", "CARDSEAL_ADDR=", "CARDSEAL_PUBLIC_URL=", "CARDSEAL_TLS_CERT=", "CARDSEAL_TLS_KEY=", "CARDSEAL_REDIRECT_HTTP=", "CARDSEAL_CRASH_AT=")
	cmd.Env = append(cmd.Env, env...)
	p := &proc{t: t, cmd: cmd, out: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("output of server %s (last 4 KB):\n%s", p.base, tail(p.out.String(), 4096))
		}
	})
	deadline := time.After(60 * time.Second)
	for {
		if i := strings.Index(p.out.String(), "serving http://"); i >= 0 {
			rest := p.out.String()[i+len("serving "):]
			p.base = rest[:strings.IndexByte(rest, ' ')]
			return p
		}
		select {
		case err := <-p.done:
			t.Fatalf("the server exited before serving: %v\n%s", err, p.out.String())
		case <-deadline:
			t.Fatalf("the server did not start within 60 s:\n%s", p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// kill SIGKILLs the process and waits for it.
func (p *proc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Fatal("the killed server did not exit")
	}
}

// stop asks the process to shut down and checks that it exits cleanly.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("after SIGINT: %v", err)
		}
	case <-time.After(30 * time.Second):
		p.t.Fatal("the server did not shut down within 30 s")
	}
}

// httpClient makes requests that may fail (a server being killed), for
// use from several goroutines: errors are returned, not reported.
var httpClient = &http.Client{Timeout: 30 * time.Second}

func call(base, method, path, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// mustCall is call that fails t on a transport error.
func mustCall(t *testing.T, base, method, path, token string, body []byte) (int, []byte) {
	t.Helper()
	code, b, err := call(base, method, path, token, body)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, base, path, err)
	}
	return code, b
}

func loginAt(t *testing.T, base, user string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": user, "password": e2ePassword})
	code, body := mustCall(t, base, "POST", "/api/v1/login", "", b)
	if code != 200 {
		t.Fatalf("login %s at %s: %d %s", user, base, code, body)
	}
	var lr api.LoginResponse
	if err := json.Unmarshal(body, &lr); err != nil {
		t.Fatal(err)
	}
	return lr.Token
}

func applicantJSON(t *testing.T) []byte {
	t.Helper()
	app, err := os.ReadFile("../../examples/applicant.json")
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// coupleJSON is the example application for the n-th made-up couple: a
// couple holds one valid card of a type, so every card the crash test
// issues is another couple's.
func coupleJSON(t *testing.T, n int) []byte {
	t.Helper()
	id := func(first17 string) string {
		w := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
		sum := 0
		for i := range 17 {
			sum += int(first17[i]-'0') * w[i]
		}
		return first17 + string("10X98765432"[sum%11])
	}
	app := string(applicantJSON(t))
	app = strings.Replace(app, "220102199003071235", id(fmt.Sprintf("2201021980%07d", 2*n+1)), 1)
	return []byte(strings.Replace(app, "220102199208152346", id(fmt.Sprintf("2201021982%07d", 2*n)), 1))
}

// levelTokens logs in the village, township and county of the demo
// province, in chain order.
func levelTokens(t *testing.T, base string) map[org.Level]string {
	t.Helper()
	return map[org.Level]string{
		org.Village:  loginAt(t, base, "220102001001"),
		org.Township: loginAt(t, base, "220102001"),
		org.County:   loginAt(t, base, "220102"),
	}
}

// checkAllCards opens the store and the keystore the way 'cardseal
// restore' checks a snapshot: every card's newest PDF verifies (valid when
// issued, incomplete when a draft), there is one seal record per PDF
// revision, each record's digest is the SM3 of that revision, and the PDF's
// seals are the recorded ones in order. It returns the seal records per
// card.
func checkAllCards(t *testing.T, dir, db string) map[string][]card.Seal {
	t.Helper()
	ctx := context.Background()
	if db == "" {
		db = filepath.Join(dir, "cardseal.db")
	}
	st := storetest.OpenURL(t, db)
	ks, err := keys.OpenDir(dir, []byte(procPassphrase)) // the PDFs are encrypted under the data key
	if err != nil {
		t.Fatal(err)
	}
	n, bad, err := verifyAllCards(ctx, st, ks)
	if err != nil {
		t.Fatalf("check cards: %v", err)
	}
	for _, e := range bad {
		t.Errorf("%v", e)
	}
	cards, err := st.ListCards(ctx, card.Filter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) != n {
		t.Fatalf("checked %d cards, the store lists %d", n, len(cards))
	}
	out := map[string][]card.Seal{}
	for _, c := range cards {
		seals, err := st.Seals(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		per := map[org.Level]int{}
		for _, s := range seals {
			if per[s.Level]++; per[s.Level] > 1 {
				t.Errorf("card %s has two %s seals", c.ID, s.Level)
			}
		}
		if (c.Status == card.StatusIssued) != (len(seals) == len(org.Levels)) {
			t.Errorf("card %s is %s with %d seals", c.ID, c.Status, len(seals))
		}
		out[c.ID] = seals
	}
	return out
}

func TestServeCrashSQLite(t *testing.T) {
	testServeCrash(t, "")
}

func TestServeCrashPostgres(t *testing.T) {
	_, db := storetest.OpenPostgres(t) // skips, saying how to enable it, without CARDSEAL_TEST_POSTGRES
	testServeCrash(t, db)
}

// testServeCrash first kills the server on purpose between a card's
// creation and its first seal (issue 12, R1: the restore check once called
// such a card untrustworthy), then runs clients that create and seal
// cards while the server is SIGKILLed at random moments five times and
// restarted each time. Then every card must be exactly as some committed
// transaction left it, and every seal a client was told had been applied
// must be there.
func testServeCrash(t *testing.T, db string) {
	bin := buildCardseal(t)
	dir := filepath.Join(t.TempDir(), "data")
	p := startProcEnv(t, bin, dir, db, []string{"CARDSEAL_CRASH_AT=after-create"})
	tokens := levelTokens(t, p.base) // sessions live in the database: they survive restarts
	app := applicantJSON(t)
	held := killAfterCreate(t, p, tokens[org.Village], app)
	p = startProc(t, bin, dir, db)
	var base atomic.Value
	base.Store(p.base)
	code, b := mustCall(t, p.base, "GET", "/api/v1/cards/"+held, tokens[org.County], nil)
	var hc api.CardView
	if code != 200 || json.Unmarshal(b, &hc) != nil || hc.Status != card.StatusDraft || hc.Seq != 0 {
		t.Fatalf("the card committed before the kill: %d %s", code, b)
	}

	var (
		mu        sync.Mutex
		acked     = map[string][]org.Level{} // card → seals a client saw succeed
		failures  int                        // transport errors (the kills)
		errs      []string
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		completed atomic.Int32
	)
	fail := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, a...))
		}
	}
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	// try repeats one request until it gets an HTTP answer (the server may
	// be down), for at most 60 s.
	try := func(method, path, token string, body []byte) (int, []byte, bool) {
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			code, b, err := call(base.Load().(string), method, path, token, body)
			if err == nil && code < 500 {
				return code, b, true
			}
			mu.Lock()
			failures++
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
		fail("%s %s: no answer within 60 s", method, path)
		return 0, nil, false
	}
	const workers = 3
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200 && !stopped(); i++ {
				code, b, ok := try("POST", "/api/v1/cards", tokens[org.Village], coupleJSON(t, w*1000+i))
				if !ok {
					return
				}
				if code != 201 {
					fail("worker %d: create: %d %s", w, code, b)
					return
				}
				var c api.CardView
				if err := json.Unmarshal(b, &c); err != nil {
					fail("create: %v", err)
					return
				}
				for _, l := range org.Levels {
					code, b, ok := try("POST", "/api/v1/cards/"+c.ID+"/seal", tokens[l], sealBody)
					if !ok {
						return
					}
					switch {
					case code == 200:
						mu.Lock()
						acked[c.ID] = append(acked[c.ID], l)
						mu.Unlock()
					case code == 409 && sealedBefore(try, tokens[org.County], c.ID, l):
						// The request before a kill committed, its answer was
						// lost: the retry finds the level sealed (already-sealed)
						// or, after the last seal, the card issued (wrong-state).
					default:
						fail("card %s: %s seal: %d %s", c.ID, l, code, b)
						return
					}
				}
				completed.Add(1)
			}
		}()
	}

	// Each kill comes at a random moment after the restarted server has
	// acknowledged a new seal, so it lands while clients are sealing.
	sealsAcked := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, l := range acked {
			n += len(l)
		}
		return n
	}
	awaitSeal := func() {
		t.Helper()
		n, deadline := sealsAcked(), time.Now().Add(30*time.Second)
		for sealsAcked() == n {
			if time.Now().After(deadline) {
				t.Fatalf("no seal acknowledged within 30 s; client errors: %q", errs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	const kills = 5
	for k := range kills {
		awaitSeal()
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		p.kill()
		p = startProc(t, bin, dir, db)
		base.Store(p.base)
		t.Logf("kill %d: %d cards completed so far", k+1, completed.Load())
	}
	awaitSeal()
	close(stop)
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(90 * time.Second):
		t.Fatal("the clients did not finish")
	}
	p.stop()
	for _, e := range errs {
		t.Error(e)
	}

	seals := checkAllCards(t, dir, db)
	if s, ok := seals[held]; !ok || len(s) != 0 {
		t.Errorf("the card held at the crash point: in the store %t, %d seals", ok, len(s))
	}
	issued := 0
	for _, s := range seals {
		if len(s) == len(org.Levels) {
			issued++
		}
	}
	lost := 0
	for id, levels := range acked {
		have := map[org.Level]bool{}
		for _, s := range seals[id] {
			have[s.Level] = true
		}
		for _, l := range levels {
			if !have[l] {
				lost++
				t.Errorf("card %s: the %s seal was acknowledged but is not in the store", id, l)
			}
		}
	}
	t.Logf("%d kills, %d failed requests, %d cards (%d issued), %d acknowledged seals, %d lost", kills, failures, len(seals), issued, sealsAcked(), lost)
	if issued < workers {
		t.Errorf("only %d cards issued: the test did not exercise sealing", issued)
	}
	if failures == 0 {
		t.Error("no request failed: the kills did not interrupt the clients")
	}
}

// sealedBefore reports whether the card carries level's seal, as the
// server says now; try repeats the request while the server is down.
func sealedBefore(try func(method, path, token string, body []byte) (int, []byte, bool), token, cardID string, l org.Level) bool {
	code, b, ok := try("GET", "/api/v1/cards/"+cardID, token, nil)
	var c api.CardView
	if !ok || code != 200 || json.Unmarshal(b, &c) != nil {
		return false
	}
	for _, s := range c.Seals {
		if s.Level == l {
			return true
		}
	}
	return false
}

// killAfterCreate applies for a card at a server started with the crash
// point after-create, waits until the card's creation has committed and
// the server holds the request, and SIGKILLs the server. It returns the
// card's ID.
func killAfterCreate(t *testing.T, p *proc, token string, app []byte) string {
	t.Helper()
	go call(p.base, "POST", "/api/v1/cards", token, app) // never answered
	re := regexp.MustCompile(`crash point after-create: card ([0-9a-f]{16}) committed, holding`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			p.kill()
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not reach the crash point within 60 s:\n%s", tail(p.out.String(), 4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeConcurrentPostgres runs two server processes on one PostgreSQL
// schema and seals the same cards through both at once: never two seals
// of one level, no lost seal (every 200 answer is one record), and every
// PDF verifies.
func TestServeConcurrentPostgres(t *testing.T) {
	_, db := storetest.OpenPostgres(t)
	bin := buildCardseal(t)
	dirA := filepath.Join(t.TempDir(), "a")
	a := startProc(t, bin, dirA, db)
	dirB := filepath.Join(t.TempDir(), "b")
	copyDir(t, filepath.Join(dirA, "keys"), filepath.Join(dirB, "keys"))
	b := startProc(t, bin, dirB, db)
	tokens := levelTokens(t, a.base)
	app := applicantJSON(t)

	const cards = 8
	var ids []string
	for range cards {
		code, body := mustCall(t, a.base, "POST", "/api/v1/cards", tokens[org.Village], app)
		if code != 201 {
			t.Fatalf("create: %d %s", code, body)
		}
		var c api.CardView
		json.Unmarshal(body, &c)
		ids = append(ids, c.ID)
	}

	// For every card in turn, two clients per instance each apply the
	// next missing seal until the chain is complete. (One card at a
	// time: every seal confirms the password, an argon2id hash of 64 MiB,
	// and thirty-two of them at once only measured how loaded the
	// machine was.)
	var (
		mu        sync.Mutex
		oks       = map[string]int{} // card/level → 200 answers
		conflicts int
		errs      []error
		wg        sync.WaitGroup
	)
	for _, id := range ids {
		wg.Wait()
		for _, base := range []string{a.base, b.base, a.base, b.base} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 30 {
					code, body, err := call(base, "GET", "/api/v1/cards/"+id, tokens[org.County], nil)
					if err != nil || code != 200 {
						mu.Lock()
						errs = append(errs, fmt.Errorf("get %s at %s: %d %v", id, base, code, err))
						mu.Unlock()
						return
					}
					var c api.CardView
					json.Unmarshal(body, &c)
					if len(c.Seals) == len(org.Levels) {
						return
					}
					l := org.Levels[len(c.Seals)]
					code, body, err = call(base, "POST", "/api/v1/cards/"+id+"/seal", tokens[l], sealBody)
					mu.Lock()
					switch {
					case err != nil:
						errs = append(errs, fmt.Errorf("seal %s at %s: %w", id, base, err))
					case code == 200:
						oks[id+"/"+string(l)]++
					case code == 409:
						conflicts++ // another client got there first
					default:
						errs = append(errs, fmt.Errorf("seal %s %s at %s: %d %s", id, l, base, code, body))
					}
					mu.Unlock()
				}
				mu.Lock()
				errs = append(errs, fmt.Errorf("card %s: chain not complete after 30 rounds", id))
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	a.stop()
	b.stop()
	t.Logf("%d seals answered 200, %d refused with 409", len(oks), conflicts)
	if conflicts == 0 {
		t.Error("no client was ever refused: the two instances did not contend")
	}

	seals := checkAllCards(t, dirA, db)
	if len(seals) != cards {
		t.Fatalf("%d cards in the store, want %d", len(seals), cards)
	}
	for _, id := range ids {
		if len(seals[id]) != len(org.Levels) {
			t.Errorf("card %s has %d seals", id, len(seals[id]))
		}
		for _, l := range org.Levels {
			if n := oks[id+"/"+string(l)]; n != 1 {
				t.Errorf("card %s: %d successful %s seals answered, want 1", id, n, l)
			}
		}
	}
}

// copyDir copies a directory tree of regular files, keeping their modes.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		target := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
}
