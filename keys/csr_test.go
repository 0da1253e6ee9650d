package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/org"
)

func TestRequestRoundTrip(t *testing.T) {
	ca := newCA(t, "吉林省")
	now := time.Now()
	for _, o := range Demo.Orgs {
		t.Run(o.Code, func(t *testing.T) {
			k, _ := NewKey()
			p, err := NewSealRequest(k, o, "吉林省")
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseRequest(p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Platform || r.Org != o || r.Province != "吉林省" || r.Name != o.Name+"电子印章" {
				t.Fatalf("parsed %+v", r)
			}
			c, err := ca.SignRequest(r, now, 2*365*24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Profile(c)
			if err != nil || got != o {
				t.Fatalf("Profile = %+v, %v; want %+v", got, err, o)
			}
			if !k.PublicKey.Equal(c.PublicKey) || c.CheckSignatureFrom(ca.Cert) != nil || IsPlatform(c) {
				t.Fatal("certificate does not certify the requested key under the CA")
			}
			if d := c.NotAfter.Sub(now); d < 2*365*24*time.Hour-2*time.Hour || d > 2*365*24*time.Hour+time.Hour {
				t.Fatalf("validity %v, want two years", d)
			}
		})
	}
	t.Run("platform", func(t *testing.T) {
		k, _ := NewKey()
		p, err := NewPlatformRequest(k, "吉林省", ca.Cert.Subject.Organization[0], "吉林省生育服务卡平台")
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseRequest(p)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ca.SignRequest(r, now, PlatformValidity)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Platform || !IsPlatform(c) || c.Subject.CommonName != "吉林省生育服务卡平台" {
			t.Fatalf("platform request %+v gave %v", r, c.Subject)
		}
		if _, err := Profile(c); err == nil {
			t.Fatal("a platform certificate passed as a seal certificate")
		}
	})
}

// rawRequest builds a request outside the profile's helpers, as a
// careless or hostile requester would.
func rawRequest(t *testing.T, key crypto.Signer, tpl *smx509.CertificateRequest) []byte {
	t.Helper()
	der, err := smx509.CreateCertificateRequest(rand.Reader, tpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemRequest, Bytes: der})
}

func TestRequestRefused(t *testing.T) {
	village := org.Org{Code: "220102001001", Level: org.Village, Name: "永安社区居民委员会"}
	subj := func(edit func(*pkix.Name)) *smx509.CertificateRequest {
		n := orgSubject(village, "吉林省")
		if edit != nil {
			edit(&n)
		}
		return &smx509.CertificateRequest{Subject: n, SignatureAlgorithm: smx509.SM2WithSM3}
	}
	sm2Key, _ := NewKey()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caExt, _ := asn1.Marshal(struct {
		IsCA bool `asn1:"optional"`
	}{true})
	good := rawRequest(t, sm2Key, subj(nil))
	if _, err := ParseRequest(good); err != nil {
		t.Fatalf("baseline request refused: %v", err)
	}
	badSig := func() []byte {
		blk, _ := pem.Decode(good)
		der := append([]byte(nil), blk.Bytes...)
		der[len(der)-5] ^= 0x40
		return pem.EncodeToMemory(&pem.Block{Type: pemRequest, Bytes: der})
	}()
	tests := []struct {
		name  string
		pem   []byte
		check string
	}{
		{"not PEM", []byte("hello"), "format"},
		{"certificate instead", certPEM(newCA(t, "吉林省").Cert), "format"},
		{"two requests", append(append([]byte{}, good...), good...), "format"},
		{"bad signature", badSig, "signature"},
		{"P-256 key", rawRequest(t, p256, &smx509.CertificateRequest{Subject: orgSubject(village, "吉林省")}), "key"},
		{"asks to be a CA", rawRequest(t, sm2Key, &smx509.CertificateRequest{Subject: orgSubject(village, "吉林省"), SignatureAlgorithm: smx509.SM2WithSM3,
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: caExt}}}), "attributes"},
		{"subject alt name", rawRequest(t, sm2Key, &smx509.CertificateRequest{Subject: orgSubject(village, "吉林省"), SignatureAlgorithm: smx509.SM2WithSM3,
			DNSNames: []string{"evil.example"}}), "attributes"},
		{"9-digit code claiming village", rawRequest(t, sm2Key, subj(func(n *pkix.Name) { n.SerialNumber = "220102001" })), "code"},
		{"township code ending 000 claiming village", rawRequest(t, sm2Key, subj(func(n *pkix.Name) { n.SerialNumber = "220102001000" })), "code"},
		{"no code", rawRequest(t, sm2Key, subj(func(n *pkix.Name) { n.SerialNumber = "" })), "code"},
		{"two codes", rawRequest(t, sm2Key, subj(func(n *pkix.Name) {
			// ExtraNames replace the SerialNumber field, so give both.
			n.ExtraNames = []pkix.AttributeTypeAndValue{{Type: oidSerialNumber, Value: "220102001001"}, {Type: oidSerialNumber, Value: "220102001002"}}
		})), "code"},
		{"unknown level", rawRequest(t, sm2Key, subj(func(n *pkix.Name) { n.OrganizationalUnit = []string{"province"} })), "level"},
		{"root CA level", rawRequest(t, sm2Key, subj(func(n *pkix.Name) { n.OrganizationalUnit = []string{"ca"} })), "level"},
		{"two OUs", rawRequest(t, sm2Key, subj(func(n *pkix.Name) { n.OrganizationalUnit = []string{"village", "county"} })), "subject"},
		{"email attribute", rawRequest(t, sm2Key, subj(func(n *pkix.Name) {
			n.ExtraNames = []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "a@b.cn"}}
		})), "subject"},
		{"foreign country", rawRequest(t, sm2Key, subj(func(n *pkix.Name) { n.Country = []string{"US"} })), "subject"},
		{"CN not the seal's", rawRequest(t, sm2Key, subj(func(n *pkix.Name) { n.CommonName = "吉林省卫生健康委员会电子印章根证书" })), "subject"},
		{"platform with a code", rawRequest(t, sm2Key, subj(func(n *pkix.Name) { n.OrganizationalUnit = []string{"platform"} })), "subject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRequest(tc.pem)
			var re *RequestError
			if !errors.As(err, &re) || !errors.Is(err, ErrRequest) {
				t.Fatalf("ParseRequest = %+v, %v; want a *RequestError", r, err)
			}
			if re.Check != tc.check {
				t.Fatalf("check %q (%v), want %q", re.Check, err, tc.check)
			}
		})
	}
}

func TestSignRequestRefused(t *testing.T) {
	jilin := newCA(t, "吉林省")
	k, _ := NewKey()
	o := org.Org{Code: "220102", Level: org.County, Name: "长春市南关区卫生健康局"}
	fromLiaoning, _ := NewSealRequest(k, o, "辽宁省")
	plat, _ := NewPlatformRequest(k, "吉林省", "别的委员会", "吉林省生育服务卡平台")
	ok, _ := NewSealRequest(k, o, "吉林省")
	tests := []struct {
		name     string
		pem      []byte
		validity time.Duration
		check    string // RequestError check; "" for a plain error
	}{
		{"other province", fromLiaoning, SealValidity, "province"},
		{"platform for another commission", plat, PlatformValidity, "subject"},
		{"longer than the profile", ok, SealValidity + 24*time.Hour, ""},
		{"zero validity", ok, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRequest(tc.pem)
			if err != nil {
				t.Fatal(err)
			}
			c, err := jilin.SignRequest(r, time.Now(), tc.validity)
			if err == nil {
				t.Fatalf("signed %v", c.Subject)
			}
			var re *RequestError
			if got := errors.As(err, &re); got != (tc.check != "") || (got && re.Check != tc.check) {
				t.Fatalf("error %v, want check %q", err, tc.check)
			}
		})
	}
}

func TestCADir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "offline")
	pass := []byte("offline passphrase")
	ca, err := InitCADir(dir, "吉林省", "吉林省卫生健康委员会", pass, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitCADir(dir, "吉林省", "吉林省卫生健康委员会", pass, time.Now()); !errors.Is(err, ErrCAExists) {
		t.Fatalf("second InitCADir: %v, want ErrCAExists", err)
	}
	if _, err := OpenCADir(dir, []byte("wrong")); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	ca2, err := OpenCADir(dir, pass)
	if err != nil || !ca2.Cert.Equal(ca.Cert) {
		t.Fatalf("OpenCADir: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "trust.pem"))
	tl, err := ParseTrustList(b)
	if err != nil || len(tl.Roots()) != 1 || !tl.Roots()[0].Equal(ca.Cert) {
		t.Fatalf("trust.pem: %v", err)
	}
	kb, _ := os.ReadFile(filepath.Join(dir, "root.key"))
	if !strings.Contains(string(kb), "ENCRYPTED PRIVATE KEY") {
		t.Fatal("root key not encrypted")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "root.key")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("root.key mode %v", fi.Mode())
	}
	p, err := RecordIssued(dir, ca.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RecordIssued(dir, ca.Cert); err == nil {
		t.Fatalf("RecordIssued overwrote %s", p)
	}
}

// FuzzParseRequest: a request comes from another machine; parsing it must
// never panic, and whatever it accepts must follow the profile.
func FuzzParseRequest(f *testing.F) {
	k, _ := NewKey()
	for _, o := range Demo.Orgs {
		p, _ := NewSealRequest(k, o, "吉林省")
		f.Add(p)
	}
	p, _ := NewPlatformRequest(k, "吉林省", "吉林省卫生健康委员会", "吉林省生育服务卡平台")
	f.Add(p)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			if !errors.Is(err, ErrRequest) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if r.Platform == (r.Org != org.Org{}) {
			t.Fatalf("accepted %+v", r)
		}
		if !r.Platform && r.Org.Validate() != nil {
			t.Fatalf("accepted a bad organisation %+v", r.Org)
		}
	})
}
