package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/statuslist"
	"github.com/jilin-health/cardseal/token"
)

func TestCLIRenderSealVerify(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "cli-test-passphrase")
	dir := t.TempDir()
	d := filepath.Join(dir, "data")
	p := func(name string) string { return filepath.Join(dir, name) }
	if code, _, stderr := cli(t, "init", "--dir", d, "--demo"); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	if code, _, stderr := cli(t, "init", "--dir", d, "--demo"); code == 0 || !strings.Contains(stderr, "hint:") {
		t.Fatalf("second init: %d %s", code, stderr)
	}
	if code, stdout, stderr := cli(t, "card", "render", "--dir", d, "--applicant", "../../examples/applicant.json", "--out", p("card.pdf")); code != 0 {
		t.Fatalf("render: %d %s %s", code, stdout, stderr)
	}

	// Out of order: the county cannot seal first; nothing is written.
	code, _, stderr := cli(t, "seal", "--dir", d, "--org", "220102", "--in", p("card.pdf"), "--out", p("bad.pdf"))
	if code != 1 || !strings.HasPrefix(stderr, "error: ") || !strings.Contains(stderr, "hint: seals go village → township → county") {
		t.Fatalf("county first: %d %q", code, stderr)
	}
	if _, err := os.Stat(p("bad.pdf")); !os.IsNotExist(err) {
		t.Fatal("a refused seal wrote a file")
	}

	in := p("card.pdf")
	for i, org := range []string{"220102001001", "220102001", "220102"} {
		out := p("sealed" + string(rune('1'+i)) + ".pdf")
		if code, _, stderr := cli(t, "seal", "--dir", d, "--org", org, "--in", in, "--out", out); code != 0 {
			t.Fatalf("seal %s: %d %s", org, code, stderr)
		}
		in = out
	}
	// Outside the jurisdiction: the other township on this village's seal.
	code, _, stderr = cli(t, "seal", "--dir", d, "--org", "220102002", "--in", p("sealed1.pdf"), "--out", p("bad.pdf"))
	if code != 1 || !strings.Contains(stderr, "jurisdiction") || !strings.Contains(stderr, "hint:") {
		t.Fatalf("other township: %d %q", code, stderr)
	}

	code, stdout, stderr := cli(t, "verify", "--dir", d, "--json", in)
	if code != 0 {
		t.Fatalf("verify: %d %s %s", code, stdout, stderr)
	}
	var rep struct {
		Verdict string
		Seals   []struct{ Level string }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != "valid" || len(rep.Seals) != 3 || rep.Seals[0].Level != "village" || rep.Seals[2].Level != "county" {
		t.Fatalf("report %+v", rep)
	}
	// The README's walkthrough ends offline: the demo installed its
	// root's CRL, which the county's seal put in the /DSS (issue 17).
	trust := filepath.Join(d, "keys", "trust.pem")
	if code, stdout, stderr := cli(t, "verify", "--offline", "--trust", trust, in); code != 0 {
		t.Fatalf("verify --offline of a fresh demo's card: %d %s %s", code, stdout, stderr)
	}
	if code, _, _ := cli(t, "verify", "--dir", d, p("sealed2.pdf")); code != 1 {
		t.Fatalf("incomplete chain: exit %d, want 1", code)
	}
	tampered, _ := os.ReadFile(in)
	tampered[len(tampered)/3] ^= 1
	os.WriteFile(p("tampered.pdf"), tampered, 0o644)
	if code, stdout, _ := cli(t, "verify", "--dir", d, p("tampered.pdf")); code != 1 || !strings.Contains(stdout, "invalid") {
		t.Fatalf("tampered: exit %d\n%s", code, stdout)
	}
	os.WriteFile(p("note.txt"), []byte("not a pdf"), 0o644)
	if code, _, stderr := cli(t, "verify", "--dir", d, p("note.txt")); code != 2 || !strings.Contains(stderr, "error: not a PDF") {
		t.Fatalf("not a PDF: exit %d %s", code, stderr)
	}

	// A wrong passphrase is a clear error with a hint.
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "wrong")
	code, _, stderr = cli(t, "seal", "--dir", d, "--org", "220102001001", "--in", p("card.pdf"), "--out", p("bad.pdf"))
	if code != 1 || !strings.Contains(stderr, "wrong passphrase") || !strings.Contains(stderr, "hint:") {
		t.Fatalf("wrong passphrase: %d %q", code, stderr)
	}
}

func TestCLIMissingGlyph(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "cli-test-passphrase")
	dir := t.TempDir()
	d := filepath.Join(dir, "data")
	if code, _, stderr := cli(t, "init", "--dir", d, "--demo"); code != 0 {
		t.Fatal(stderr)
	}
	b, _ := os.ReadFile("../../examples/applicant.json")
	// U+9FFF is in the CJK block but not in the font (Unicode 14).
	b = bytes.Replace(b, []byte("王喆堃"), []byte("王\u9fff"), 1)
	app := filepath.Join(dir, "app.json")
	os.WriteFile(app, b, 0o644)
	code, _, stderr := cli(t, "card", "render", "--dir", d, "--applicant", app, "--out", filepath.Join(dir, "c.pdf"))
	if code != 1 || !strings.Contains(stderr, "female.name") || !strings.Contains(stderr, "U+9FFF") || !strings.Contains(stderr, "hint:") {
		t.Fatalf("missing glyph: %d %q", code, stderr)
	}
}

func TestCLIUsage(t *testing.T) {
	if code, _, stderr := cli(t, "frobnicate"); code == 0 || !strings.Contains(stderr, "hint:") {
		t.Fatalf("%d %s", code, stderr)
	}
	if code, _, stderr := cli(t, "seal"); code == 0 || !strings.Contains(stderr, "--org") {
		t.Fatalf("%d %s", code, stderr)
	}
}

// TestCLIVerifyOffline checks cards against a signed status list with no
// network. A sealed card PDF: valid, then voided once the list says so,
// and not valid once tampered with. Its version-2 QR URL: refused with a
// hint, there is nothing in it to check. A version-1 QR URL (cards
// printed before): valid, voided, and forged for a changed token.
func TestCLIVerifyOffline(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "cli-test-passphrase")
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	d := p("data")
	if code, _, stderr := cli(t, "init", "--dir", d, "--demo"); code != 0 {
		t.Fatal(stderr)
	}
	code, stdout, stderr := cli(t, "card", "render", "--dir", d, "--applicant", "../../examples/applicant.json", "--out", p("c0.pdf"))
	if code != 0 {
		t.Fatal(stderr)
	}
	var url string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "QR: ") {
			url = strings.TrimPrefix(l, "QR: ")
		}
	}
	in := p("c0.pdf")
	for i, org := range []string{"220102001001", "220102001", "220102"} {
		out := p(fmt.Sprintf("c%d.pdf", i+1))
		if code, _, stderr := cli(t, "seal", "--dir", d, "--org", org, "--in", in, "--out", out); code != 0 {
			t.Fatal(stderr)
		}
		in = out
	}
	sealed, _ := os.ReadFile(in)
	index, err := lifecycle.StatusIndex(sealed)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := openKeys(settingsFor(t, storeFlag, "--dir", d))
	if err != nil {
		t.Fatal(err)
	}
	plat, err := ks.PlatformIdentity()
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := token.SignLegacy(&token.Claims{Number: "2201022026000001", Type: "first", County: "220102", IssueDate: time.Now(), StatusIndex: 77}, plat)
	if err != nil {
		t.Fatal(err)
	}
	legacyURL := "HTTP://127.0.0.1:8080/V/" + legacy
	list := func(voided ...int) string {
		l := statuslist.New("平台", 1<<20, time.Now(), time.Hour)
		for _, i := range voided {
			l.Set(statuslist.Voided, i)
		}
		doc, err := l.Sign(plat)
		if err != nil {
			t.Fatal(err)
		}
		f := p(fmt.Sprintf("list-%v.json", voided))
		os.WriteFile(f, doc, 0o644)
		return f
	}
	trust := filepath.Join(d, "keys", "trust.pem")
	verify := func(list, arg string, more ...string) (int, string, string) {
		return cli(t, append(append([]string{"verify", "--offline", "--trust", trust, "--status", list}, more...), arg)...)
	}
	if code, out, errs := verify(list(), in); code != 0 || !strings.Contains(out, "status: valid") || !strings.Contains(out, "seals were checked") {
		t.Fatalf("sealed PDF, clean list: %d %s %s", code, out, errs)
	}
	if code, out, _ := verify(list(index), in, "--json"); code != 1 || !strings.Contains(out, `"status": "voided"`) || !strings.Contains(out, `"seals_checked": true`) {
		t.Fatalf("sealed PDF, voided: %d %s", code, out)
	}
	tampered := bytes.Replace(sealed, []byte("/CardsealStatusIndex "), []byte("/CardsealStatusIndeX "), 1)
	os.WriteFile(p("tampered.pdf"), tampered, 0o644)
	if code, out, _ := verify(list(), p("tampered.pdf")); code != 1 || strings.Contains(out, "status: valid") {
		t.Fatalf("tampered PDF: %d %s", code, out)
	}
	if code, out, errs := verify(list(), url); code == 0 || !strings.Contains(errs, "version-2") || !strings.Contains(errs, "hint:") {
		t.Fatalf("version-2 URL: %d %s %s", code, out, errs)
	}
	if code, out, errs := verify(list(), legacyURL); code != 0 || !strings.Contains(out, "status: valid") {
		t.Fatalf("legacy URL, clean list: %d %s %s", code, out, errs)
	}
	if code, out, _ := verify(list(77), legacyURL, "--json"); code != 1 || !strings.Contains(out, `"status": "voided"`) {
		t.Fatalf("legacy URL, voided: %d %s", code, out)
	}
	forged := []byte(legacyURL)
	forged[len(forged)-3] ^= 0x01
	if code, out, _ := verify(list(), string(forged)); code != 1 || !strings.Contains(out, "forged") {
		t.Fatalf("forged: %d %s", code, out)
	}
}

// TestCLITrustBundle: a card sealed under another root verifies only with
// a trust bundle that our (offline) root signed (Art. 7a).
func TestCLITrustBundle(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "cli-test-passphrase")
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	if code, _, stderr := cli(t, "ca", "init", "--dir", p("ours"), "--province", "吉林省", "--name", "吉林省卫生健康委员会"); code != 0 {
		t.Fatal(stderr)
	}
	// The other province's installation, with its own root.
	if code, _, stderr := cli(t, "init", "--dir", p("other"), "--demo"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := cli(t, "card", "render", "--dir", p("other"), "--applicant", "../../examples/applicant.json", "--out", p("c0.pdf")); code != 0 {
		t.Fatal(stderr)
	}
	in := p("c0.pdf")
	for i, org := range []string{"220102001001", "220102001", "220102"} {
		out := p(fmt.Sprintf("c%d.pdf", i+1))
		if code, _, stderr := cli(t, "seal", "--dir", p("other"), "--org", org, "--in", in, "--out", out); code != 0 {
			t.Fatal(stderr)
		}
		in = out
	}
	ourTrust := filepath.Join(p("ours"), "trust.pem")
	if code, out, _ := cli(t, "verify", "--trust", ourTrust, in); code != 1 || !strings.Contains(out, "trusted root") {
		t.Fatalf("without the bundle: %d %s", code, out)
	}
	if code, _, stderr := cli(t, "ca", "bundle", "--dir", p("ours"), "--out", p("bundle.pem"), filepath.Join(p("other"), "keys", "trust.pem")); code != 0 {
		t.Fatal(stderr)
	}
	if code, out, stderr := cli(t, "verify", "--trust", ourTrust, "--trust-bundle", p("bundle.pem"), in); code != 0 {
		t.Fatalf("with the bundle: %d %s %s", code, out, stderr)
	}
	// A bundle our root did not sign is refused, not silently ignored.
	b, _ := os.ReadFile(p("bundle.pem"))
	b[len(b)/2] ^= 1
	os.WriteFile(p("bad.pem"), b, 0o644)
	if code, _, stderr := cli(t, "verify", "--trust", ourTrust, "--trust-bundle", p("bad.pem"), in); code != 2 || !strings.Contains(stderr, "error:") {
		t.Fatalf("tampered bundle: %d %s", code, stderr)
	}
}
