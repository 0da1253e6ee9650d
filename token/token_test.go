package token

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	qrcode "github.com/skip2/go-qrcode"

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

// legacySample are the claims of the version-1 vector; the holder
// binding is the bytes the vector carries (docs/qr-token.md).
func legacySample() *Claims {
	c := &Claims{
		CardID:    0x1122334455667788,
		Number:    "2201022026000001",
		Type:      card.First,
		County:    "220102",
		IssueDate: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC),
		Salt:      [8]byte{1, 2, 3, 4, 5, 6, 7, 8},

		StatusIndex: 0x0a0b0c,
	}
	hex.Decode(c.Male[:], []byte(vectorMale))
	hex.Decode(c.Female[:], []byte(vectorFemale))
	return c
}

func TestHandleRoundTrip(t *testing.T) {
	h := NewHandle()
	tok := h.String()
	if len(tok) != 26 || strings.ToUpper(tok) != tok {
		t.Fatalf("token %q", tok)
	}
	for _, spelling := range []string{tok, strings.ToLower(tok), " " + tok + "\n"} {
		got, err := ParseHandle(spelling)
		if err != nil || got != h {
			t.Fatalf("ParseHandle(%q) = %x, %v", spelling, got, err)
		}
	}
	raw, err := b32.DecodeString(tok)
	if err != nil || len(raw) != HandleLen {
		t.Fatalf("token decodes to %d bytes, %v", len(raw), err)
	}
}

// TestParseHandleStrict: only the 26 canonical characters of a handle
// parse; everything else is ErrMalformed.
func TestParseHandleStrict(t *testing.T) {
	tok := mustHandle(t, vectorHandle).String()
	// The last character carries 3 bits of the handle and 2 unused bits:
	// the same bytes with an unused bit set are not the token.
	last := tok[len(tok)-1]
	alt := tok[:len(tok)-1] + string(last+1)
	for _, tc := range []struct{ name, s string }{
		{"empty", ""},
		{"short", tok[:25]},
		{"long", tok + "A"},
		{"padding", tok[:24] + "=="},
		{"digit 1", "1" + tok[1:]},
		{"digit 0", tok[:5] + "0" + tok[6:]},
		{"digit 8", tok[:5] + "8" + tok[6:]},
		{"inner space", tok[:10] + " " + tok[11:]},
		{"newline inside", tok[:10] + "\n" + tok[10:25]},
		{"non-ASCII", tok[:24] + "É"},
		{"unused bits set", alt},
		{"legacy token", vectorToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if h, err := ParseHandle(tc.s); !errors.Is(err, ErrMalformed) || h != (Handle{}) {
				t.Fatalf("ParseHandle(%q) = %x, %v; want ErrMalformed", tc.s, h, err)
			}
		})
	}
}

// TestHandlesCarryNoStructure: handles are independent random bytes, so
// no bit of a token is fixed or derived from anything: across 256 fresh
// handles every bit position takes both values and no two are equal.
// (A fixed bit survives 256 draws with probability 2^-255.)
func TestHandlesCarryNoStructure(t *testing.T) {
	var ones, zeros [HandleLen * 8]int
	seen := map[Handle]bool{}
	for i := 0; i < 256; i++ {
		h := NewHandle()
		if seen[h] {
			t.Fatalf("handle %x drawn twice", h)
		}
		seen[h] = true
		for bit := range ones {
			if h[bit/8]&(0x80>>(bit%8)) != 0 {
				ones[bit]++
			} else {
				zeros[bit]++
			}
		}
	}
	for bit := range ones {
		if ones[bit] == 0 || zeros[bit] == 0 {
			t.Errorf("bit %d is constant across 256 handles", bit)
		}
	}
}

func mustHandle(t testing.TB, hexs string) Handle {
	t.Helper()
	b, err := hex.DecodeString(hexs)
	if err != nil || len(b) != HandleLen {
		t.Fatalf("handle %q", hexs)
	}
	var h Handle
	copy(h[:], b)
	return h
}

// TestHandleVector checks the version-2 vector of docs/qr-token.md: the
// token, the verification code, the URLs for the demo and a production
// base URL, and the QR version go-qrcode picks for them at level M.
func TestHandleVector(t *testing.T) {
	h := mustHandle(t, vectorHandle)
	if got := h.String(); got != vectorHandleToken {
		t.Fatalf("token %s, want %s", got, vectorHandleToken)
	}
	if got := VerificationCode(vectorHandleToken); got != vectorHandleCode {
		t.Fatalf("verification code %s, want %s", got, vectorHandleCode)
	}
	for _, tc := range []struct {
		base, url string
		version   int
	}{
		{"http://127.0.0.1:8080", "HTTP://127.0.0.1:8080/V/" + vectorHandleToken, 3},
		{"https://card.wsjkw.jl.gov.cn/", "HTTPS://CARD.WSJKW.JL.GOV.CN/V/" + vectorHandleToken, 3},
	} {
		u, err := URL(tc.base, vectorHandleToken)
		if err != nil || u != tc.url {
			t.Fatalf("URL(%q) = %q, %v; want %q", tc.base, u, err, tc.url)
		}
		if len(u) > MaxURLLen {
			t.Errorf("%q has %d characters, more than %d", u, len(u), MaxURLLen)
		}
		q, err := qrcode.New(u, qrcode.Medium)
		if err != nil || q.VersionNumber != tc.version {
			t.Errorf("%q: QR version %d (%v), want %d", u, q.VersionNumber, err, tc.version)
		}
		if FromURL(u) != vectorHandleToken {
			t.Errorf("FromURL(%q) = %q", u, FromURL(u))
		}
	}
}

// TestURL: a version-2 URL has at most 64 characters (QR version ≤ 4 at
// level M), all in QR alphanumeric mode; a version-1 token's URL keeps
// its old bound so that registry views of old cards still show it.
func TestURL(t *testing.T) {
	tok := NewHandle().String()
	base35 := "https://" + strings.Repeat("x", 27) // 35 characters
	u, err := URL(base35, tok)
	if err != nil || len(u) != MaxURLLen {
		t.Fatalf("35-character base: %q (%d), %v", u, len(u), err)
	}
	if q, err := qrcode.New(u, qrcode.Medium); err != nil || q.VersionNumber > 4 {
		t.Fatalf("a %d-character URL needs QR version %d", len(u), q.VersionNumber)
	}
	if _, err := URL(base35+"x", tok); err == nil {
		t.Fatal("a 65-character URL was accepted")
	}
	if _, err := URL("http://example.org/a?b", tok); err == nil {
		t.Fatal("a URL outside alphanumeric mode was accepted")
	}
	if u, err := URL("http://127.0.0.1:8080", vectorToken); err != nil || len(u) != 204 {
		t.Fatalf("legacy URL %q, %v", u, err)
	}
}

// TestRead: the one entry for scanned tokens. A version-2 token is its
// own key; a version-1 token must verify, and its claims come with it.
func TestRead(t *testing.T) {
	id := platform(t, "")
	certs := []*smx509.Certificate{id.Cert}
	legacy, err := SignLegacy(legacySample(), id)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandle()
	for _, s := range []string{h.String(), strings.ToLower(h.String()), "HTTPS://CARD.EXAMPLE.CN/V/" + h.String(), "https://card.example.cn/v/" + strings.ToLower(h.String())} {
		sc, err := Read(s, certs)
		if err != nil || sc.Key != h.String() || sc.Legacy != nil {
			t.Fatalf("Read(%q) = %+v, %v", s, sc, err)
		}
	}
	sc, err := Read("http://127.0.0.1:8080/V/"+legacy, certs)
	if err != nil || sc.Key != legacy || sc.Legacy == nil || sc.Legacy.Number != "2201022026000001" || sc.Cert != id.Cert {
		t.Fatalf("legacy: %+v, %v", sc, err)
	}
	other := platform(t, "")
	other.Cert.SubjectKeyId = id.Cert.SubjectKeyId
	if _, err := Read(legacy, []*smx509.Certificate{other.Cert}); !errors.Is(err, ErrForged) {
		t.Fatalf("legacy token, other key: %v", err)
	}
	for _, bad := range []string{"", "AAAA", h.String() + "A", h.String()[:25] + "1"} {
		if _, err := Read(bad, certs); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Read(%q): %v", bad, err)
		}
	}
}

func TestLegacyRoundTrip(t *testing.T) {
	id := platform(t, "")
	tok, err := SignLegacy(legacySample(), id)
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
	want := legacySample()
	want.KeyHint = id.Cert.SubjectKeyId[0]
	if *got != *want {
		t.Fatalf("claims = %+v\nwant %+v", got, want)
	}
	if vc := VerificationCode(tok); len(vc) != 9 || NormalizeCode(strings.ToLower(strings.ReplaceAll(vc, "-", " "))) != vc {
		t.Fatalf("verification code %q", vc)
	}
}

func TestTamperedTokensFail(t *testing.T) {
	id := platform(t, "")
	tok, err := SignLegacy(legacySample(), id)
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
	for _, bad := range []string{"", "ABC", strings.Repeat("A", 180), strings.Repeat("1", 180), tok + "A", tok + "?X=1"} {
		if _, _, err := Verify(bad, certs); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

// TestVector checks the version-1 known-answer vector of docs/qr-token.md:
// a token signed by the fixed test key decodes to the documented claims
// and verifies against that key. Cards printed with such tokens keep
// working.
func TestVector(t *testing.T) {
	id := platform(t, vectorKey)
	const tok = vectorToken
	c, _, err := Verify(tok, []*smx509.Certificate{id.Cert})
	if err != nil {
		t.Fatalf("vector does not verify: %v", err)
	}
	want := legacySample()
	want.KeyHint = c.KeyHint
	if *c != *want {
		t.Fatalf("vector claims %+v", c)
	}
	if got := VerificationCode(tok); got != vectorCode {
		t.Fatalf("verification code %s, want %s", got, vectorCode)
	}
}

// FuzzDecode feeds arbitrary strings to the token readers. A version-2
// parse that succeeds is the canonical spelling of its 16 bytes and reads
// back to the same key; the only version-1 token that verifies is the
// vector.
func FuzzDecode(f *testing.F) {
	f.Add(vectorToken)
	f.Add(vectorHandleToken)
	f.Add(strings.ToLower(vectorHandleToken))
	f.Add("HTTP://127.0.0.1:8080/V/" + vectorHandleToken)
	f.Add(vectorHandleToken[:25] + "B")
	f.Add("")
	f.Add(strings.Repeat("A", 180))
	f.Add(strings.Repeat("A", 26))
	id := platform(f, vectorKey)
	certs := []*smx509.Certificate{id.Cert}
	f.Fuzz(func(t *testing.T, s string) {
		if h, err := ParseHandle(s); err == nil {
			norm := strings.ToUpper(strings.TrimSpace(s))
			if h.String() != norm || len(norm) != 26 {
				t.Fatalf("ParseHandle(%q) = %s: not the input's canonical spelling", s, h)
			}
			raw, err := b32.DecodeString(norm)
			if err != nil || len(raw) != HandleLen || Handle(raw) != h {
				t.Fatalf("%q does not decode to exactly its 16 bytes", s)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("ParseHandle(%q): %v", s, err)
		}
		sc, err := Read(s, certs)
		switch {
		case err != nil:
			if sc != nil {
				t.Fatal("result with an error")
			}
		case sc.Legacy == nil:
			if h, err := ParseHandle(sc.Key); err != nil || h.String() != sc.Key {
				t.Fatalf("Read(%q) gave key %q, which is not a canonical handle", s, sc.Key)
			}
		case sc.Key != vectorToken:
			t.Fatalf("an unexpected legacy token verified: %q", s)
		}
		c, _, err := Verify(s, certs)
		if err == nil && c == nil {
			t.Fatal("nil claims without error")
		}
		if err == nil && strings.ToUpper(strings.TrimSpace(s)) != vectorToken {
			t.Fatalf("an unexpected token verified: %q", s)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	id := platform(b, "")
	tok, _ := SignLegacy(legacySample(), id)
	certs := []*smx509.Certificate{id.Cert}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Verify(tok, certs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHandle(b *testing.B) {
	tok := NewHandle().String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHandle(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNormalizeCode: the code as people type it off a paper card reads
// as the printed code (docs/qr-token.md, "Verification code").
func TestNormalizeCode(t *testing.T) {
	for in, want := range map[string]string{
		"CPNC-UVFN":   "CPNC-UVFN",
		"cpnc uvfn":   "CPNC-UVFN",
		" CPNCUVFN ":  "CPNC-UVFN",
		"ＣＰＮＣ－ＵＶＦＮ":   "CPNC-UVFN", // full width, as a Chinese input method types it
		"0BCD-1FG8":   "OBCD-IFGB", // digits the alphabet lacks read as the letters they resemble
		"obcd—ifgb":   "OBCD-IFGB",
		"2345-6723":   "2345-6723", // digits of the alphabet stay
		"ABCD-EFG":    "ABCDEFG",   // too short: no dash restored, never matches
		"ABCD-EFGH-I": "ABCDEFGHI",
	} {
		if got := NormalizeCode(in); got != want {
			t.Errorf("NormalizeCode(%q) = %q, want %q", in, got, want)
		}
	}
	// 9 is not in the alphabet and resembles no letter well enough: dropped.
	if got := NormalizeCode("9ABC-DEFG"); got != "ABCDEFG" {
		t.Errorf("NormalizeCode with 9 = %q", got)
	}
}

// TestTruncated: a token cut short is told apart from an altered one.
func TestTruncated(t *testing.T) {
	const tok = "L4HIUHET2JDXXIGE4YNSR46ZAU"
	for s, want := range map[string]bool{
		"":                        true,
		tok[:25]:                  true,
		strings.ToLower(tok[:10]): true,
		tok:                       false, // complete
		tok[:25] + "1":            false, // a character outside the alphabet: altered
		tok[:20] + "!":            false,
		tok + "A":                 true, // between the two versions' lengths
		strings.Repeat("A", 180):  false,
		strings.Repeat("A", 181):  false,
	} {
		if got := Truncated(s); got != want {
			t.Errorf("Truncated(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzNormalizeCode: reading a typed code never panics, is idempotent,
// and a printed code reads as itself.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"CPNC-UVFN", "ｃｐｎｃ　ｕｖｆｎ", "0BCD-1FG8", "", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeCode(s)
		if NormalizeCode(n) != n {
			t.Fatalf("not idempotent: %q → %q → %q", s, n, NormalizeCode(n))
		}
		Truncated(s)
	})
}
