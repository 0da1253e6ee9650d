package main

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
)

// ceremony runs keys csr → ca sign → keys import for one identity and
// returns the certificate file.
func ceremony(t *testing.T, offline, server, work string, csrArgs ...string) string {
	t.Helper()
	return ceremonyWith(t, offline, server, work, nil, csrArgs...)
}

// ceremonyWith is ceremony with extra arguments of 'ca sign'.
func ceremonyWith(t *testing.T, offline, server, work string, signArgs []string, csrArgs ...string) string {
	t.Helper()
	id := "platform"
	for i, a := range csrArgs {
		if a == "--org" {
			id = csrArgs[i+1]
		}
		if a == "--tsa" {
			id = "tsa"
		}
	}
	req, crt := filepath.Join(work, id+".csr.pem"), filepath.Join(work, id+".crt")
	os.Remove(crt)
	args := append([]string{"keys", "csr", "--dir", server, "--out", req}, csrArgs...)
	if code, stdout, stderr := cli(t, args...); code != 0 || !strings.Contains(stdout, "key id:") {
		t.Fatalf("keys csr %v: %d %s %s", csrArgs, code, stdout, stderr)
	}
	if code, stdout, stderr := cli(t, append([]string{"ca", "sign", "--dir", offline, "--in", req, "--out", crt}, signArgs...)...); code != 0 || !strings.Contains(stdout, "serial:") {
		t.Fatalf("ca sign %s: %d %s %s", id, code, stdout, stderr)
	}
	if code, stdout, stderr := cli(t, "keys", "import", "--dir", server, "--cert", crt); code != 0 || !strings.Contains(stdout, "imported") {
		t.Fatalf("keys import %s: %d %s %s", id, code, stdout, stderr)
	}
	return crt
}

func TestCLIKeyCeremony(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "ceremony-passphrase")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	work := t.TempDir()
	offline, server := filepath.Join(work, "offline"), filepath.Join(work, "server")
	p := func(name string) string { return filepath.Join(work, name) }

	code, stdout, stderr := cli(t, "ca", "init", "--dir", offline, "--province", "吉林省", "--name", "吉林省卫生健康委员会")
	if code != 0 || !strings.Contains(stdout, "吉林省卫生健康委员会电子印章根证书") {
		t.Fatalf("ca init: %d %s %s", code, stdout, stderr)
	}
	if code, _, stderr := cli(t, "ca", "init", "--dir", offline, "--province", "吉林省", "--name", "吉林省卫生健康委员会"); code != 1 || !strings.Contains(stderr, "hint:") {
		t.Fatalf("second ca init: %d %s", code, stderr)
	}
	if code, stdout, stderr := cli(t, "init", "--dir", server, "--root", filepath.Join(offline, "trust.pem")); code != 0 || !strings.Contains(stdout, "no root key") {
		t.Fatalf("init --root: %d %s %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(server, "keys", "root.key")); !os.IsNotExist(err) {
		t.Fatal("the server holds a root key")
	}
	// Nothing to render with yet: keys status says the platform is missing.
	if code, stdout, _ := cli(t, "keys", "status", "--dir", server); code != 1 || !strings.Contains(stdout, "MISSING") {
		t.Fatalf("status of an empty server: %d\n%s", code, stdout)
	}

	ceremony(t, offline, server, work, "--platform")
	tsaCert := ceremony(t, offline, server, work, "--tsa")
	if b, _ := os.ReadFile(tsaCert); true {
		c, err := keys.ParseCertificatePEM(b)
		if err != nil || !keys.IsTSA(c) {
			t.Fatalf("ca sign of a TSA request: %v, not a TSA certificate", err)
		}
	}
	ceremony(t, offline, server, work, "--org", "220102", "--name", "长春市南关区卫生健康局")
	ceremony(t, offline, server, work, "--org", "220102001000", "--name", "永吉街道办事处") // padded township code
	oldVillage := ceremony(t, offline, server, work, "--org", "220102001001", "--name", "永安社区居民委员会")
	oldVillagePEM, _ := os.ReadFile(oldVillage)

	// The keystore holds their key material; each import recorded the
	// organisation in the registry.
	_, status, _ := cli(t, "keys", "status", "--dir", server)
	for _, want := range []string{"220102 ", "220102001 ", "220102001001 ", "永安社区居民委员会"} {
		if !strings.Contains(status, want) {
			t.Fatalf("keys status lacks %s:\n%s", want, status)
		}
	}

	seal := func(tag string) string {
		t.Helper()
		in := p("card-" + tag + ".pdf")
		if code, stdout, stderr := cli(t, "card", "render", "--dir", server, "--applicant", "../../examples/applicant.json", "--out", in); code != 0 {
			t.Fatalf("render: %d %s %s", code, stdout, stderr)
		}
		for i, org := range []string{"220102001001", "220102001", "220102"} {
			out := p(tag + "-sealed" + string(rune('1'+i)) + ".pdf")
			if code, _, stderr := cli(t, "seal", "--dir", server, "--org", org, "--in", in, "--out", out); code != 0 {
				t.Fatalf("seal %s: %d %s", org, code, stderr)
			}
			in = out
		}
		if code, stdout, stderr := cli(t, "verify", "--trust", filepath.Join(offline, "trust.pem"), in); code != 0 || !strings.Contains(stdout, "valid") {
			t.Fatalf("verify: %d %s %s", code, stdout, stderr)
		}
		return in
	}
	before := seal("before")

	// Rotation: the village renews; the card sealed before still verifies.
	ceremony(t, offline, server, work, "--org", "220102001001")
	archived, _ := filepath.Glob(filepath.Join(server, "keys", "archive", "orgs", "220102001001-*.crt"))
	if len(archived) != 1 {
		t.Fatalf("archive: %v", archived)
	}
	if a, _ := os.ReadFile(archived[0]); string(a) != string(oldVillagePEM) {
		t.Fatal("the archive does not hold the replaced certificate")
	}
	seal("after")
	if code, stdout, stderr := cli(t, "verify", "--dir", server, before); code != 0 {
		t.Fatalf("card sealed before the rotation: %d %s %s", code, stdout, stderr)
	}

	if code, stdout, stderr := cli(t, "keys", "status", "--dir", server, "--within", "90"); code != 0 || strings.Count(stdout, " ok") != 6 {
		t.Fatalf("keys status: %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := cli(t, "keys", "status", "--dir", server, "--within", "4000"); code != 0 || strings.Count(stdout, "RENEW") != 5 {
		t.Fatalf("keys status --within 4000: %d\n%s", code, stdout)
	}
	if code, stdout, stderr := cli(t, "config", "check", "--dir", server); code != 0 || !strings.Contains(stdout, "config ok") {
		t.Fatalf("config check: %d %s %s", code, stdout, stderr)
	}

	// Importing the same certificate again: no pending key, a hint.
	if code, _, stderr := cli(t, "keys", "import", "--dir", server, "--cert", p("220102.crt")); code != 1 || !strings.Contains(stderr, "no pending key") || !strings.Contains(stderr, "hint:") {
		t.Fatalf("second import: %d %s", code, stderr)
	}
	// A second request while one is pending is refused; --replace discards it.
	if code, _, stderr := cli(t, "keys", "csr", "--dir", server, "--org", "220102", "--out", p("a.csr.pem")); code != 0 {
		t.Fatalf("csr: %d %s", code, stderr)
	}
	if code, _, stderr := cli(t, "keys", "csr", "--dir", server, "--org", "220102", "--out", p("b.csr.pem")); code != 1 || !strings.Contains(stderr, "--replace") {
		t.Fatalf("csr while pending: %d %s", code, stderr)
	}
	if code, stdout, _ := cli(t, "keys", "status", "--dir", server); code != 0 || !strings.Contains(stdout, "request pending") {
		t.Fatalf("status with a pending request: %d\n%s", code, stdout)
	}
}

func TestCLICASignRefuses(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "ceremony-passphrase")
	work := t.TempDir()
	offline := filepath.Join(work, "offline")
	if code, _, stderr := cli(t, "ca", "init", "--dir", offline, "--province", "吉林省", "--name", "吉林省卫生健康委员会"); code != 0 {
		t.Fatal(stderr)
	}
	key, _ := keys.NewKey()
	good, _ := keys.NewSealRequest(key, org.Org{Code: "220102001001", Level: org.Village, Name: "永安社区居民委员会"}, "吉林省")
	liaoning, _ := keys.NewSealRequest(key, org.Org{Code: "210102", Level: org.County, Name: "沈阳市和平区卫生健康局"}, "辽宁省")
	blk, _ := pem.Decode(good)
	blk.Bytes[len(blk.Bytes)-3] ^= 1
	tampered := pem.EncodeToMemory(blk)
	rootKey, _ := os.ReadFile(filepath.Join(offline, "root.key"))
	tests := []struct {
		name string
		in   []byte
		args []string
		want string
	}{
		{"tampered request", tampered, nil, "signature"},
		{"another province", liaoning, nil, "province"},
		{"a key instead of a request", rootKey, nil, "format"},
		{"validity beyond five years", good, []string{"--days", "1900"}, "validity"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, out := filepath.Join(work, "req.pem"), filepath.Join(work, "out"+string(rune('a'+i))+".crt")
			os.WriteFile(in, tc.in, 0o644)
			code, _, stderr := cli(t, append([]string{"ca", "sign", "--dir", offline, "--in", in, "--out", out}, tc.args...)...)
			if code != 1 || !strings.HasPrefix(stderr, "error: ") || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d %q, want a refusal mentioning %q", code, stderr, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatal("a refused request produced a certificate")
			}
		})
	}
	if issued, _ := os.ReadDir(filepath.Join(offline, "issued")); len(issued) != 0 {
		t.Fatalf("refused requests were recorded as issued: %v", issued)
	}
	// The wrong passphrase never signs.
	os.WriteFile(filepath.Join(work, "req.pem"), good, 0o644)
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "wrong")
	if code, _, stderr := cli(t, "ca", "sign", "--dir", offline, "--in", filepath.Join(work, "req.pem"), "--out", filepath.Join(work, "x.crt")); code != 1 || !strings.Contains(stderr, "wrong passphrase") {
		t.Fatalf("wrong passphrase: %d %s", code, stderr)
	}
}

// keys status exits 1 for an expired certificate, so cron can alert.
func TestCLIKeysStatusExpired(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "status-passphrase")
	d := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := cli(t, "init", "--dir", d, "--demo"); code != 0 {
		t.Fatal(stderr)
	}
	if code, stdout, _ := cli(t, "keys", "status", "--dir", d); code != 0 {
		t.Fatalf("fresh demo: %d\n%s", code, stdout)
	}
	expireCert(t, d, "220102002001")
	code, stdout, _ := cli(t, "keys", "status", "--dir", d)
	if code != 1 || !strings.Contains(stdout, "EXPIRED") || strings.Count(stdout, "EXPIRED") != 1 {
		t.Fatalf("expired certificate: exit %d\n%s", code, stdout)
	}
}

// expireCert replaces an organisation's certificate by one for the same
// key that ended yesterday.
func expireCert(t *testing.T, dir, code string) {
	t.Helper()
	ks, err := keys.OpenDir(dir, []byte(os.Getenv("CARDSEAL_KEY_PASSPHRASE")))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := ks.RootCA()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ks.SealIdentity(code)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := keys.Demo.GetOrg(context.Background(), code)
	c, err := ca.IssueSeal(id.Cert.PublicKey, o, time.Now().Add(-keys.SealValidity-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "orgs", code+".crt"), pemCert(c), 0o644); err != nil {
		t.Fatal(err)
	}
}
