package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/keys"
)

// TestCLICompromisedKeyDrill is issue 17's drill on the command line and
// offline: the township's key is compromised at T, the offline CA revokes
// its certificate with keyCompromise from T and issues a CRL; the card
// sealed (and timestamped) before T stays valid and the card sealed after
// it is invalid with the reason — with the data directory's installed
// CRL, and with nothing but the root and the CRL file (--trust, --crl).
func TestCLICompromisedKeyDrill(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "drill-passphrase")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	work := t.TempDir()
	offline, server := filepath.Join(work, "offline"), filepath.Join(work, "server")
	p := func(name string) string { return filepath.Join(work, name) }
	must := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := cli(t, args...)
		if code != 0 {
			t.Fatalf("%s: %d %s %s", strings.Join(args, " "), code, stdout, stderr)
		}
		return stdout
	}
	must("ca", "init", "--dir", offline, "--province", "吉林省", "--name", "吉林省卫生健康委员会")
	must("init", "--dir", server, "--root", filepath.Join(offline, "trust.pem"))
	crlURL := []string{"--crl-url", "https://cards.example/crl"}
	ceremonyWith(t, offline, server, work, crlURL, "--platform")
	ceremonyWith(t, offline, server, work, crlURL, "--tsa")
	ceremonyWith(t, offline, server, work, crlURL, "--org", "220102", "--name", "长春市南关区卫生健康局")
	townCrt := ceremonyWith(t, offline, server, work, crlURL, "--org", "220102001", "--name", "永吉街道办事处")
	ceremonyWith(t, offline, server, work, crlURL, "--org", "220102001001", "--name", "永安社区居民委员会")
	b, _ := os.ReadFile(townCrt)
	town, err := keys.ParseCertificatePEM(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(town.CRLDistributionPoints) != 1 || town.CRLDistributionPoints[0] != "https://cards.example/crl" {
		t.Fatalf("CRL distribution points %v", town.CRLDistributionPoints)
	}

	// A first CRL, revoking nothing, installed before any card is
	// sealed: the issuing seal puts it in the card's /DSS.
	crl0 := p("crl0.pem")
	must("ca", "crl", "--dir", offline, "--out", crl0, "--next-update", "48h")
	must("keys", "crl", "--dir", server, "--in", crl0)

	// Revocation times have a CRL's precision, whole seconds. The second
	// card is sealed by a server whose clock is 5 s ahead (within the
	// allowed drift set here), so that T — the second after the first
	// card's last timestamp — lies between the cards without waiting.
	t.Setenv("CARDSEAL_TSA_MAX_DRIFT", "10s")
	seal := func(tag string, now func() time.Time) string {
		t.Helper()
		in := p("card-" + tag + ".pdf")
		must("card", "render", "--dir", server, "--applicant", "../../examples/applicant.json", "--out", in)
		for i, org := range []string{"220102001001", "220102001", "220102"} {
			out := p(tag + "-sealed" + string(rune('1'+i)) + ".pdf")
			var stdout, stderr bytes.Buffer
			if _, err := execute(context.Background(), []string{"seal", "--dir", server, "--org", org, "--in", in, "--out", out},
				&env{stdout: &stdout, stderr: &stderr, now: now}); err != nil {
				t.Fatalf("seal %s: %v %s", org, err, stderr.String())
			}
			in = out
		}
		return in
	}
	before := seal("before", time.Now)
	at := time.Now().Truncate(time.Second).Add(time.Second) // T
	after := seal("after", func() time.Time { return time.Now().Add(5 * time.Second) })

	// The offline CA revokes the township's certificate from T.
	serial := strings.ToUpper(town.SerialNumber.Text(16))
	out := must("ca", "revoke", "--dir", offline, "--serial", serial, "--reason", "keyCompromise", "--time", at.Format(time.RFC3339))
	if !strings.Contains(out, "keyCompromise") {
		t.Fatalf("ca revoke: %s", out)
	}
	if code, _, stderr := cli(t, "ca", "revoke", "--dir", offline, "--serial", serial, "--reason", "keyCompromise", "--time", at.Format(time.RFC3339)); code == 0 || !strings.Contains(stderr, "already") {
		t.Fatalf("second revocation: %d %s", code, stderr)
	}
	if code, _, stderr := cli(t, "ca", "revoke", "--dir", offline, "--serial", "ABCDEF", "--reason", "keyCompromise", "--time", at.Format(time.RFC3339)); code == 0 || !strings.Contains(stderr, "no record") {
		t.Fatalf("revoking an unknown serial: %d %s", code, stderr)
	}
	crl := p("crl.pem")
	must("ca", "crl", "--dir", offline, "--out", crl, "--next-update", "48h")
	must("keys", "crl", "--dir", server, "--in", crl)

	verify := func(args ...string) (int, string) {
		t.Helper()
		code, stdout, stderr := cli(t, append([]string{"verify", "--json"}, args...)...)
		if code == 2 {
			t.Fatalf("verify %v: %s %s", args, stdout, stderr)
		}
		return code, stdout
	}
	for _, where := range [][]string{
		{"--dir", server},
		{"--trust", filepath.Join(offline, "trust.pem"), "--crl", crl},
	} {
		if code, out := verify(append(where, before)...); code != 0 || !strings.Contains(out, `"revocation_reason": "keyCompromise"`) || !strings.Contains(out, `"time_source": "timestamp"`) {
			t.Fatalf("%v: card sealed before T: %d\n%s", where, code, out)
		}
		if code, out := verify(append(where, after)...); code != 1 || !strings.Contains(out, "revoked (keyCompromise)") {
			t.Fatalf("%v: card sealed after T: %d\n%s", where, code, out)
		}
	}
	// The text report names the timestamp each certificate was judged at
	// and the later revocation.
	if code, out, _ := cli(t, "verify", "--dir", server, before); code != 0 || strings.Count(out, "时间戳 timestamp") != 3 ||
		!strings.Contains(out, "certificate revoked (keyCompromise) since") {
		t.Fatalf("text report of the card sealed before T: %d\n%s", code, out)
	}
	// Without the CRL, nothing is known of the revocation.
	if code, _ := verify("--trust", filepath.Join(offline, "trust.pem"), after); code != 0 {
		t.Fatalf("card sealed after T, no CRL: %d", code)
	}

	// Offline, with the roots and the card's embedded /DSS alone (PAdES
	// B-LTA): the card sealed before T is valid at its document
	// timestamp's time; a card the township seals after T, issued once
	// the revoking CRL is installed, carries that CRL and is invalid.
	trust := filepath.Join(offline, "trust.pem")
	if code, out := verify("--offline", "--trust", trust, before); code != 0 || !strings.Contains(out, `"offline": true`) ||
		!strings.Contains(out, `"time_source": "document_timestamp"`) || !strings.Contains(out, `"document_timestamps"`) {
		t.Fatalf("offline, card sealed before T: %d\n%s", code, out)
	}
	late := seal("late", func() time.Time { return time.Now().Add(5 * time.Second) })
	if code, out := verify("--offline", "--trust", trust, late); code != 1 || !strings.Contains(out, "revoked (keyCompromise)") {
		t.Fatalf("offline, card sealed after T with the revoking CRL embedded: %d\n%s", code, out)
	}
	if code, out, _ := cli(t, "verify", "--offline", "--trust", trust, before); code != 0 || !strings.Contains(out, "验证时间 validation time") ||
		!strings.Contains(out, "document_timestamp, offline") {
		t.Fatalf("offline text report: %d\n%s", code, out)
	}
	if code, _, stderr := cli(t, "verify", "--offline", "--trust", trust, "--crl", crl, before); code != 2 || !strings.Contains(stderr, "drop --crl") {
		t.Fatalf("offline with --crl: %d %s", code, stderr)
	}
}
