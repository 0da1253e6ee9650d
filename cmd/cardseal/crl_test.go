package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/keys"
)

// TestCRLWarning: a fresh demo has a current CRL and no warning; a data
// directory without one, or with one past its nextUpdate, gets the
// warning serve prints and keys status shows.
func TestCRLWarning(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "crl-warning-passphrase")
	d := filepath.Join(t.TempDir(), "data")
	if code, stdout, stderr := cli(t, "init", "--dir", d, "--demo"); code != 0 || !strings.Contains(stdout, "CRL number 1") {
		t.Fatalf("init: %d %s %s", code, stdout, stderr)
	}
	ks, err := keys.OpenDir(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if w := crlWarning(ks, now); w != "" {
		t.Fatalf("fresh demo: %s", w)
	}
	if _, stdout, _ := cli(t, "keys", "status", "--dir", d); !strings.Contains(stdout, "CRL number 1 installed") || strings.Contains(stdout, "WARNING") {
		t.Fatalf("keys status, fresh demo:\n%s", stdout)
	}
	if w := crlWarning(ks, now.Add(keys.DefaultNextUpdate)); !strings.Contains(w, "passed its next update") || !strings.Contains(w, "will not verify offline") {
		t.Fatalf("stale CRL: %q", w)
	}
	if err := os.Remove(filepath.Join(d, "keys", keys.CRLFile)); err != nil {
		t.Fatal(err)
	}
	if w := crlWarning(ks, now); !strings.Contains(w, "no CRL installed") || !strings.Contains(w, "cards issued now will not verify offline") {
		t.Fatalf("no CRL: %q", w)
	}
	if _, stdout, _ := cli(t, "keys", "status", "--dir", d); !strings.Contains(stdout, "WARNING: no CRL installed") {
		t.Fatalf("keys status, no CRL:\n%s", stdout)
	}
}

// TestCLICADemoDir: on a demo data directory the ca commands take the
// data directory itself, and find the demo passphrase serve finds; the
// CRL they issue installs, one number above the demo's first.
func TestCLICADemoDir(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "")
	t.Setenv("CARDSEAL_KEY_PASSPHRASE_FILE", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	d := filepath.Join(dir, "data")
	if code, stdout, stderr := cli(t, "init", "--dir", d, "--demo"); code != 0 || !strings.Contains(stdout, "key passphrase generated") {
		t.Fatalf("init: %d %s %s", code, stdout, stderr)
	}
	crl := filepath.Join(dir, "crl.pem")
	code, stdout, stderr := cli(t, "ca", "crl", "--dir", d, "--out", crl)
	if code != 0 || !strings.Contains(stdout, "CRL number 2") {
		t.Fatalf("ca crl --dir DATA_DIR: %d %s %s", code, stdout, stderr)
	}
	if code, stdout, stderr := cli(t, "keys", "crl", "--dir", d, "--in", crl); code != 0 || !strings.Contains(stdout, "installed CRL number 2") {
		t.Fatalf("keys crl: %d %s %s", code, stdout, stderr)
	}
	// A directory that is neither still fails, naming root.crt.
	if code, _, stderr := cli(t, "ca", "crl", "--dir", dir, "--out", crl); code == 0 || !strings.Contains(stderr, "root.crt") {
		t.Fatalf("not a CA directory: %d %s", code, stderr)
	}
}

// TestServeDemoCRL: serve over a demo data directory without a CRL (one
// made before the demo issued CRLs) issues and installs one at start, and
// GET /crl serves it.
func TestServeDemoCRL(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "serve-crl-passphrase")
	d := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := cli(t, "init", "--dir", d, "--demo"); code != 0 {
		t.Fatal(stderr)
	}
	if err := os.Remove(filepath.Join(d, "keys", keys.CRLFile)); err != nil {
		t.Fatal(err)
	}
	settings := serveFlags(t, "--dir", d, "--addr", "127.0.0.1:0", "--demo-password", e2ePassword)
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	started, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- runServe(ctx, settings, serveOptions{started: func(a string) { started <- a }}, stdout, stderr)
	}()
	var addr string
	select {
	case addr = <-started:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	res, err := http.Get("http://" + addr + "/crl")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /crl: %d %s", res.StatusCode, b)
	}
	crl, err := keys.ParseCRL(b)
	if err != nil || crl.Number.Int64() != 2 {
		t.Fatalf("served CRL: %v %v", crl, err)
	}
	out := stdout.String()
	if !strings.Contains(out, "installed the demo root's CRL number 2") || strings.Contains(out, "warning: no CRL") {
		t.Fatalf("serve's output:\n%s", out)
	}
}
