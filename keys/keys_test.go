package keys

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/org"
)

func newCA(t *testing.T, province string) *CA {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := NewRoot(k, province, province+"卫生健康委员会", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestCertificateProfileRoundTrip(t *testing.T) {
	ca := newCA(t, "吉林省")
	for _, o := range Demo.Orgs {
		t.Run(o.Code, func(t *testing.T) {
			k, _ := NewKey()
			c, err := ca.IssueSeal(k.Public(), o, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			// Re-parse from DER: the binding must survive encoding.
			c2, err := smx509.ParseCertificate(c.Raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Profile(c2)
			if err != nil {
				t.Fatal(err)
			}
			if got != o {
				t.Fatalf("profile = %+v, want %+v", got, o)
			}
			if c2.SignatureAlgorithm != smx509.SM2WithSM3 || c2.IsCA || c2.NotAfter.Sub(c2.NotBefore) < 4*365*24*time.Hour {
				t.Fatalf("bad profile fields: alg %v ca %v validity %v", c2.SignatureAlgorithm, c2.IsCA, c2.NotAfter.Sub(c2.NotBefore))
			}
			if _, err := NewTrustList(ca.Cert).Verify(c2, nil, time.Now()); err != nil {
				t.Fatalf("own root does not verify: %v", err)
			}
		})
	}
	k, _ := NewKey()
	p, err := ca.IssuePlatform(k.Public(), "平台", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !IsPlatform(p) {
		t.Fatal("platform certificate not recognised")
	}
	if _, err := Profile(p); !errors.Is(err, ErrProfile) {
		t.Fatalf("platform certificate accepted as a seal certificate: %v", err)
	}
}

func TestTrustRejectsOtherCAAndExpired(t *testing.T) {
	ours := newCA(t, "吉林省")
	// A look-alike root with exactly our root's subject but another key.
	k, _ := NewKey()
	evil, err := NewRoot(k, "吉林省", "吉林省卫生健康委员会", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ek, _ := NewKey()
	org := Demo.Orgs[0]
	forged, err := evil.IssueSeal(ek.Public(), org, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tl := NewTrustList(ours.Cert)
	if _, err := tl.Verify(forged, []*smx509.Certificate{evil.Cert}, time.Now()); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("certificate of another CA: err = %v, want ErrUntrusted", err)
	}
	gk, _ := NewKey()
	good, err := ours.IssueSeal(gk.Public(), org, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tl.Verify(good, nil, time.Now().Add(SealValidity+24*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("after expiry: err = %v, want ErrExpired", err)
	}
	// Once a path is verified it is cached; the validity is still
	// judged at every call.
	if _, err := tl.Verify(good, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.Verify(good, nil, time.Now().Add(SealValidity+24*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("cached path after expiry: err = %v, want ErrExpired", err)
	}
	if _, err := tl.Verify(good, nil, time.Now().Add(-48*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("before validity: err = %v, want ErrExpired", err)
	}
	// Round trip through PEM.
	tl2, err := ParseTrustList(tl.PEM())
	if err != nil || len(tl2.Roots()) != 1 {
		t.Fatalf("ParseTrustList: %v", err)
	}
	if _, err := ParseTrustList(certPEM(good)); err == nil {
		t.Fatal("a non-CA certificate was accepted as a root")
	}
}

func TestKeyEncryption(t *testing.T) {
	k, _ := NewKey()
	pemBytes, err := EncryptKey(k, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := kdfIterations(mustDER(t, pemBytes))
	if err != nil || n < MinKDFIterations {
		t.Fatalf("iterations = %d, %v", n, err)
	}
	got, err := DecryptKey(pemBytes, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(k) {
		t.Fatal("decrypted key differs")
	}
	if _, err := DecryptKey(pemBytes, []byte("wrong horse")); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("wrong passphrase: err = %v, want ErrPassphrase", err)
	}
	if _, err := DecryptKey(pemBytes, nil); !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("no passphrase: err = %v", err)
	}
	if _, err := DecryptKey([]byte("garbage"), []byte("x")); !errors.Is(err, ErrKeyFileFormat) {
		t.Fatalf("garbage: err = %v", err)
	}
}

func mustDER(t *testing.T, p []byte) []byte {
	t.Helper()
	b, _ := pemDecode(p)
	return b
}

func TestInitDirAndOpen(t *testing.T) {
	dir := t.TempDir()
	pass := []byte("demo-pass")
	if err := InitDir(dir, Demo, pass, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := InitDir(dir, Demo, pass, time.Now()); err == nil {
		t.Fatal("InitDir overwrote an existing keystore")
	}
	st, err := OpenDir(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	if orgs, err := st.SealOrgs(); err != nil || len(orgs) != 5 || orgs[0] != Demo.Orgs[0] {
		t.Fatalf("seal orgs = %+v, %v", orgs, err)
	}
	if _, err := st.SealIdentity("220102009009"); !errors.Is(err, ErrUnknownOrg) {
		t.Fatalf("seal identity of an organisation without a key: %v", err)
	}
	id, err := st.SealIdentity("220102001001")
	if err != nil {
		t.Fatal(err)
	}
	if o, err := Profile(id.Cert); err != nil || o.Code != "220102001001" || o.Level != org.Village {
		t.Fatalf("profile %+v %v", o, err)
	}
	if len(id.Chain) != 1 {
		t.Fatal("seal identity lacks its root")
	}
	if _, err := st.PlatformIdentity(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SealIdentity("999999"); !errors.Is(err, ErrUnknownOrg) {
		t.Fatalf("unknown org: %v", err)
	}
	bad, _ := OpenDir(dir, []byte("nope"))
	if _, err := bad.SealIdentity("220102"); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "keys", "orgs", "220102.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
}

func TestDataKey(t *testing.T) {
	dir := t.TempDir()
	pass := []byte("data-key-test")
	if err := InitDir(dir, ProvinceConfig{Province: "吉林省", RootName: "测试"}, pass, time.Now()); err != nil {
		t.Fatal(err)
	}
	a, _ := OpenDir(dir, pass)
	b, _ := OpenDir(dir, pass)
	ka, err := a.DataKey()
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.DataKey()
	if err != nil || len(ka) != 32 || string(ka) != string(kb) {
		t.Fatalf("two openings disagree: %v", err)
	}
	wrong, _ := OpenDir(dir, []byte("other"))
	if _, err := wrong.DataKey(); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

func TestReadPassphrase(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tc := range []struct {
		file, want string
		err        error
	}{
		{write("unix", "correct horse\n"), "correct horse", nil},
		{write("windows", "correct horse\r\n"), "correct horse", nil},
		{write("inner", " spaces kept \n"), " spaces kept ", nil},
		{write("empty", "\n"), "", ErrNoPassphrase},
		{filepath.Join(dir, "missing"), "", os.ErrNotExist},
	} {
		p, err := ReadPassphrase(tc.file)
		if string(p) != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("ReadPassphrase(%s) = %q, %v; want %q, %v", filepath.Base(tc.file), p, err, tc.want, tc.err)
		}
	}
}
