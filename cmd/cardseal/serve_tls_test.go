package main

import (
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
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

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
		done <- runServe(ctx, serveFlags(t, "--dir", dir, "--addr", "127.0.0.1:0", "--demo-password", e2ePassword,
			"--tls-cert", certFile, "--tls-key", keyFile, "--redirect-http", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"), serveOptions{
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
		`cardseal_certificate_expiry_seconds{id="tsa",kind="tsa"}`:           {4 * year, 5 * year},
		`cardseal_certificate_expiry_seconds{id="root",kind="root"}`:         {10 * year, 30 * year},
		`cardseal_certificate_expiry_seconds{id="server",kind="tls"}`:        {19 * 24 * 3600, 20 * 24 * 3600},
	} {
		if v, ok := gauges[series]; !ok || v < want[0] || v > want[1] {
			t.Errorf("%s = %v (present %v), want between %v and %v", series, v, ok, want[0], want[1])
		}
	}
	if len(gauges) != 9 { // root, platform, TSA, five organisations, TLS
		t.Errorf("%d certificate series, want 9:\n%v", len(gauges), gauges)
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
		args []string
		want string
	}{
		{"cert without key", []string{"--tls-cert", certFile}, "tls_key"},
		{"key without cert", []string{"--tls-key", keyFile}, "tls_cert"},
		{"redirect without TLS", []string{"--redirect-http", "127.0.0.1:0"}, "redirect_http"},
		{"key as certificate", []string{"--tls-cert", keyFile, "--tls-key", keyFile}, "load TLS certificate"},
		{"short demo password", []string{"--demo-password", "short"}, "demo password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serveFlags(t, append([]string{"--dir", dir, "--addr", "127.0.0.1:0", "--demo-password", e2ePassword}, tc.args...)...)
			o := serveOptions{started: func(string) { t.Error("the server started") }}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := runServe(ctx, s, o, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("runServe: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
