package token

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
)

// vectorKey is the fixed, test-only platform key of the known-answer
// vector in docs/qr-token.md. Never use it for anything else.
const vectorKey = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"

func platform(t testing.TB, scalar string) *keys.Identity {
	t.Helper()
	var k *sm2.PrivateKey
	var err error
	if scalar != "" {
		b, _ := hex.DecodeString(scalar)
		k, err = sm2.NewPrivateKey(b)
	} else {
		k, err = keys.NewKey()
	}
	if err != nil {
		t.Fatal(err)
	}
	rk, _ := keys.NewKey()
	ca, err := keys.NewRoot(rk, "吉林省", "测试根", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.IssuePlatform(k.Public(), "测试平台", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &keys.Identity{Signer: k, Cert: c, Chain: []*smx509.Certificate{ca.Cert}}
}

func sample() *Claims {
	c := &Claims{
		CardID:    0x1122334455667788,
		Number:    "2201022026000001",
		Type:      card.First,
		County:    "220102",
		IssueDate: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC),
		Salt:      [8]byte{1, 2, 3, 4, 5, 6, 7, 8},

		StatusIndex: 0x0a0b0c,
	}
	c.BindHolders("220102199003071235", "220102199208152346")
	return c
}

func TestRoundTrip(t *testing.T) {
	id := platform(t, "")
	tok, err := Sign(sample(), id)
	if err != nil {
		t.Fatal(err)
	}
	got, cert, err := Verify(tok, []*smx509.Certificate{id.Cert})
	if err != nil {
		t.Fatal(err)
	}
	if cert != id.Cert {
		t.Fatal("wrong certificate reported")
	}
	want := sample()
	want.KeyHint = id.Cert.SubjectKeyId[0]
	if *got != *want {
		t.Fatalf("claims = %+v\nwant %+v", got, want)
	}
	if !got.MatchesHolder("220102199003071235") || !got.MatchesHolder("220102199208152346") {
		t.Fatal("a holder's ID number does not match")
	}
	if got.MatchesHolder("220102196501013456") {
		t.Fatal("a stranger's ID number matches")
	}
	u, err := URL("http://127.0.0.1:8080", tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(u) > MaxURLLen || !strings.HasPrefix(u, "HTTP://127.0.0.1:8080/V/") || FromURL(u) != tok {
		t.Fatalf("URL %q (%d chars)", u, len(u))
	}
	if _, err := URL("https://"+strings.Repeat("x", 60)+".gov.cn", tok); err == nil {
		t.Fatal("an over-long URL was accepted")
	}
	if _, err := URL("http://example.org/a?b", tok); err == nil {
		t.Fatal("a URL outside alphanumeric mode was accepted")
	}
	if vc := VerificationCode(tok); len(vc) != 9 || NormalizeCode(strings.ToLower(strings.ReplaceAll(vc, "-", " "))) != vc {
		t.Fatalf("verification code %q", vc)
	}
}

func TestTamperedTokensFail(t *testing.T) {
	id := platform(t, "")
	tok, err := Sign(sample(), id)
	if err != nil {
		t.Fatal(err)
	}
	certs := []*smx509.Certificate{id.Cert}
	raw, _ := b32.DecodeString(tok)
	for i := range raw {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		_, _, err := Verify(b32.EncodeToString(b), certs)
		if err == nil {
			t.Fatalf("byte %d changed: token still verifies", i)
		}
		if !errors.Is(err, ErrForged) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoKey) {
			t.Fatalf("byte %d: unexpected error %v", i, err)
		}
	}
	other := platform(t, "")
	other.Cert.SubjectKeyId = id.Cert.SubjectKeyId // same hint, other key
	if _, _, err := Verify(tok, []*smx509.Certificate{other.Cert}); !errors.Is(err, ErrForged) {
		t.Fatalf("other key: %v", err)
	}
	// The same bytes spelled with the last character's unused bits set
	// are not the token (found by FuzzDecode).
	last := b32.EncodeToString(raw)[len(tok)-1]
	alt := tok[:len(tok)-1] + string(last+1)
	if _, _, err := Verify(alt, certs); !errors.Is(err, ErrMalformed) {
		t.Fatalf("non-canonical spelling: %v", err)
	}
	for _, bad := range []string{"", "ABC", strings.Repeat("A", 180), strings.Repeat("1", 180), tok + "A"} {
		if _, _, err := Verify(bad, certs); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

// TestVector checks the known-answer vector of docs/qr-token.md: a token
// signed by the fixed test key decodes to the documented claims and
// verifies against that key.
func TestVector(t *testing.T) {
	id := platform(t, vectorKey)
	const tok = vectorToken
	c, _, err := Verify(tok, []*smx509.Certificate{id.Cert})
	if err != nil {
		t.Fatalf("vector does not verify: %v", err)
	}
	want := sample()
	want.KeyHint = c.KeyHint
	if *c != *want {
		t.Fatalf("vector claims %+v", c)
	}
	if got := VerificationCode(tok); got != vectorCode {
		t.Fatalf("verification code %s, want %s", got, vectorCode)
	}
	if hex.EncodeToString(c.Male[:]) != vectorMale {
		t.Fatalf("male digest %x", c.Male)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(vectorToken)
	f.Add("")
	f.Add(strings.Repeat("A", 180))
	id := platform(f, vectorKey)
	certs := []*smx509.Certificate{id.Cert}
	f.Fuzz(func(t *testing.T, s string) {
		c, _, err := Verify(s, certs)
		if err == nil && c == nil {
			t.Fatal("nil claims without error")
		}
		if err == nil && s != vectorToken && strings.ToUpper(strings.TrimSpace(s)) != vectorToken {
			t.Fatalf("an unexpected token verified: %q", s)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	id := platform(b, "")
	tok, _ := Sign(sample(), id)
	certs := []*smx509.Certificate{id.Cert}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Verify(tok, certs); err != nil {
			b.Fatal(err)
		}
	}
}
