package statuslist

import (
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/keys"
)

var update = flag.Bool("update-vector", false, "rewrite testdata/vector.json and its certificates")

func platform(t *testing.T) (*keys.Identity, *keys.TrustList) {
	return platformAt(t, time.Now().Add(-time.Hour))
}

func platformAt(t *testing.T, now time.Time) (*keys.Identity, *keys.TrustList) {
	t.Helper()
	rk, _ := keys.NewKey()
	ca, err := keys.NewRoot(rk, "吉林省", "测试根", now)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := keys.NewKey()
	c, err := ca.IssuePlatform(pk.Public(), "平台", now)
	if err != nil {
		t.Fatal(err)
	}
	return &keys.Identity{Signer: pk, Cert: c}, keys.NewTrustList(ca.Cert)
}

func TestRoundTrip(t *testing.T) {
	id, trust := platform(t)
	l := New("平台", DefaultSize, time.Now(), 24*time.Hour)
	for _, x := range []struct {
		p Purpose
		i int
	}{{Voided, 0}, {Voided, 7}, {Revoked, 12345}, {Superseded, DefaultSize - 1}} {
		if err := l.Set(x.p, x.i); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Set(Voided, DefaultSize); err == nil {
		t.Fatal("index out of range accepted")
	}
	doc, err := l.Sign(id)
	if err != nil {
		t.Fatal(err)
	}
	// Deflate compresses at most about 1032:1, so each purpose's 2 MiB
	// of mostly zero bits is at least 2 KiB, Base64 adds a third: a
	// sparse list of 2^24 entries is about 9 KiB.
	if len(doc) > 12<<10 {
		t.Fatalf("a sparse list should compress well: %d bytes", len(doc))
	}
	got, cert, err := Parse(doc, trust, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !cert.Equal(id.Cert) {
		t.Fatal("wrong certificate")
	}
	for i, want := range map[int]Purpose{0: Voided, 7: Voided, 8: "", 12345: Revoked, DefaultSize - 1: Superseded, 1: ""} {
		if s := got.Status(i); s != want {
			t.Errorf("index %d: %q, want %q", i, s, want)
		}
	}
	if _, _, err := Parse(doc, trust, time.Now().Add(48*time.Hour)); !errors.Is(err, ErrStale) {
		t.Fatalf("stale: %v", err)
	}
	_, other := platform(t)
	if _, _, err := Parse(doc, other, time.Now()); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("other root: %v", err)
	}
	// Changing a list, or the validity, breaks the signature.
	for _, edit := range []func(string) string{
		func(s string) string { return strings.Replace(s, `"valid_until": "20`, `"valid_until": "21`, 1) },
		func(s string) string { return strings.Replace(s, `"issuer": "平台"`, `"issuer": "伪造"`, 1) },
	} {
		if _, _, err := Parse([]byte(edit(string(doc))), trust, time.Now()); !errors.Is(err, ErrSignature) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("edited list: %v", err)
		}
	}
	// A forged bit: re-encode the voided list with one more bit set.
	l.Set(Voided, 99)
	forged, _ := encodeBits(l.bits[Voided])
	bad := strings.Replace(string(doc), voidedList(doc), forged, 1)
	if _, _, err := Parse([]byte(bad), trust, time.Now()); !errors.Is(err, ErrSignature) {
		t.Fatalf("forged bit: %v", err)
	}
}

func TestDecompressionBomb(t *testing.T) {
	big := make([]byte, 64<<20) // 64 MiB of zeros compresses to ~64 KiB
	s, err := encodeBits(big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeBits(s, DefaultSize); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized bitstring: %v", err)
	}
}

// TestVector checks the known-answer vector of docs/status-list.md.
func TestVector(t *testing.T) {
	if *update {
		writeVector(t)
	}
	rootPEM, err := os.ReadFile("testdata/vector-root.pem")
	if err != nil {
		t.Fatal(err)
	}
	trust, err := keys.ParseTrustList(rootPEM)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("testdata/vector.json")
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := Parse(doc, trust, time.Date(2026, 11, 28, 0, 0, 1, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]Purpose{3: Voided, 10: Revoked, 15: Superseded}
	for i := 0; i < l.Size; i++ {
		if l.Status(i) != want[i] {
			t.Fatalf("index %d: %q", i, l.Status(i))
		}
	}
}

func writeVector(t *testing.T) {
	id, trust := platformAt(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := New("吉林省生育服务卡平台(测试向量)", 16, time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), 365*24*time.Hour)
	l.Set(Voided, 3)
	l.Set(Revoked, 10)
	l.Set(Superseded, 15)
	doc, err := l.Sign(id)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("testdata/vector.json", append(doc, '\n'), 0o644)
	os.WriteFile("testdata/vector-root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: trust.Roots()[0].Raw}), 0o644)
}

// voidedList returns the encoded voided list of a signed document.
func voidedList(doc []byte) string {
	s := string(doc)
	i := strings.Index(s, `"voided": "`) + len(`"voided": "`)
	return s[i : i+strings.Index(s[i:], `"`)]
}
