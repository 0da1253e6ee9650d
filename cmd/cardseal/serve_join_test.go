package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/keys"
)

// goroutines returns the stack of every goroutine, by id.
func goroutines() map[int]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[int]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		var id int
		if _, err := fmt.Sscanf(g, "goroutine %d ", &id); err == nil {
			out[id] = g
		}
	}
	return out
}

// serveFrames mark the goroutines serve starts, directly or through the
// HTTP servers and the store (in a test binary, package main's functions
// are named by its import path).
var serveFrames = []string{
	"cmd/cardseal.runServe", "cmd/cardseal.runServers", "cmd/cardseal.watchCertificates", "cmd/cardseal.sweepSessions",
	"cardseal/audit.RunAuditSigner", "net/http.(*Server).Serve", "net/http.(*conn).serve",
	"database/sql.(*DB).connectionOpener",
}

// started returns the goroutines that are not in before and run a
// function of serveFrames, each named by the first such frame.
func startedSince(before map[int]string) map[int]string {
	out := map[int]string{}
	for id, stack := range goroutines() {
		if _, ok := before[id]; ok {
			continue
		}
		for _, f := range serveFrames {
			if strings.Contains(stack, f+"(") {
				out[id] = f
				break
			}
		}
	}
	return out
}

// TestServeJoinsGoroutines: every goroutine serve starts (the audit
// signer, the certificate watcher, the session sweeper, the HTTPS server,
// the redirecting one and the operator's metrics one) is running while it serves and has ended when
// runServe returns; the connections' and the store's end with them. It
// also shows the one clock: a clock a week ahead of the real one, given to
// runServe, is the clock of the keystore made on first start, of the
// sessions and of the certificate gauge.
func TestServeJoinsGoroutines(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "e2e-key-passphrase")
	certFile, keyFile, pool := selfSignedTLS(t)
	dir := filepath.Join(t.TempDir(), "data")
	clock := time.Now().Add(7 * 24 * time.Hour).Truncate(time.Second)
	settings := serveFlags(t, "--dir", dir, "--addr", "127.0.0.1:0", "--demo-password", e2ePassword,
		"--tls-cert", certFile, "--tls-key", keyFile, "--redirect-http", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0")
	before := goroutines()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started, redirecting, metricsAt, done := make(chan string, 1), make(chan string, 1), make(chan string, 1), make(chan error, 1)
	var stdout, stderr lockedBuffer
	go func() {
		done <- runServe(ctx, settings, serveOptions{
			now:              func() time.Time { return clock },
			started:          func(a string) { started <- a },
			redirecting:      func(a string) { redirecting <- a },
			metricsListening: func(a string) { metricsAt <- a },
		}, &stdout, &stderr)
	}()
	var addr, maddr string
	for i := 0; i < 3; i++ {
		select {
		case addr = <-started:
		case <-redirecting:
		case maddr = <-metricsAt:
		case err := <-done:
			t.Fatalf("serve: %v\n%s", err, stderr.String())
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not start")
		}
	}
	// Both servers serve from the moment their listener is announced,
	// but their goroutines may not have reached Serve yet: wait for them
	// (the test fails on a missing one only after a minute).
	want := map[string]int{"cmd/cardseal.watchCertificates": 1, "cmd/cardseal.sweepSessions": 1, "cardseal/audit.RunAuditSigner": 1, "net/http.(*Server).Serve": 3}
	var live map[int]string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		live = startedSince(before)
		count := map[string]int{}
		for _, f := range live {
			count[f]++
		}
		ok := true
		for f, n := range want {
			ok = ok && count[f] == n
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("while serving, goroutines %v; want %v", count, want)
		}
	}

	// The clock: the session ends 8 hours after it, the gauge counts
	// from it to each certificate's end (the keystore made on the first
	// start dates its certificates from it too).
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": e2ePassword})
	res, err := client.Post("https://"+addr+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.NewDecoder(res.Body).Decode(&login); err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %d %v", res.StatusCode, err)
	}
	res.Body.Close()
	if !login.ExpiresAt.Equal(clock.Add(8 * time.Hour)) {
		t.Errorf("session ends %v, want 8 hours after the clock's %v", login.ExpiresAt, clock)
	}
	res, err = http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	ks, err := keys.OpenDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, st := range ks.Status() {
		if st.Cert == nil || st.Kind == "root" {
			continue
		}
		if st.Cert.NotBefore.After(clock) || st.Cert.NotAfter.Before(clock.Add(365*24*time.Hour)) {
			t.Errorf("%s %s certificate valid %v to %v: not dated from the clock %v", st.Kind, st.ID, st.Cert.NotBefore, st.Cert.NotAfter, clock)
		}
		series := regexp.MustCompile(`(?m)^cardseal_certificate_expiry_seconds\{id="` + regexp.QuoteMeta(st.ID) + `",kind="` + st.Kind + `"\} (\S+)$`).FindSubmatch(metrics)
		if series == nil {
			t.Errorf("no gauge for %s %s", st.Kind, st.ID)
			continue
		}
		got, _ := strconv.ParseFloat(string(series[1]), 64)
		if want := st.Cert.NotAfter.Sub(clock).Seconds(); got != want {
			t.Errorf("gauge of %s %s = %v, want %v (its end less the clock)", st.Kind, st.ID, got, want)
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("%d certificates checked", checked)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not shut down")
	}
	// What runServe starts itself is joined before it returns.
	for id, f := range startedSince(before) {
		if f != "net/http.(*conn).serve" && f != "database/sql.(*DB).connectionOpener" {
			t.Errorf("goroutine %d (%s) outlived runServe:\n%s", id, f, goroutines()[id])
		}
	}
	// A closed connection's or database's goroutine returns as soon as it
	// is scheduled; give the loaded machine a minute for that.
	for deadline := time.Now().Add(time.Minute); len(startedSince(before)) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			for id, f := range startedSince(before) {
				t.Errorf("goroutine %d (%s) outlived runServe:\n%s", id, f, goroutines()[id])
			}
			break
		}
	}
	if len(live) < 5 {
		t.Fatalf("the check saw only %d goroutines while serving", len(live))
	}
}
