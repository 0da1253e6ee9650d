package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
)

var signTime = time.Date(2026, 11, 28, 9, 30, 15, 0, time.UTC)

func digestOf(s string) []byte { d := sm3.Sum([]byte(s)); return d[:] }

func testIdentity(t testing.TB) *keys.Identity {
	t.Helper()
	return randomSigner(newRoot(t, "").newIdentity(t, "", 1001, org.Village, "220102001001"))
}

func TestRoundTrip(t *testing.T) {
	id := testIdentity(t)
	prev := digestOf("previous seal")
	links := map[string]Link{
		"first":     {Level: org.Village, Code: "220102001001", DocID: "card-2026-000017"},
		"with prev": {Level: org.Township, Code: "220102001", DocID: "卡-2026-000017", Prev: prev},
		"county":    {Level: org.County, Code: "220102", DocID: "x", Prev: prev},
	}
	for _, gb := range []bool{false, true} {
		for name, link := range links {
			t.Run(name, func(t *testing.T) {
				opt := Options{GBContentTypes: gb}
				digest := digestOf("pdf bytes " + name)
				der, err := Sign(digest, id, link, signTime.Add(123*time.Millisecond), opt)
				if err != nil {
					t.Fatal(err)
				}
				s, err := Parse(der)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Verify(digest); err != nil {
					t.Fatal(err)
				}
				if !s.SigningTime.Equal(signTime) || s.GBContentTypes != gb || s.SigAlg != OIDSM2Sign ||
					!s.HasSigningCertV2 || !bytes.Equal(s.Digest, digest) || !bytes.Equal(s.DER, der) {
					t.Errorf("parsed %+v", s)
				}
				if s.Signer != s.Certs[0] || len(s.Certs) != 2 || !bytes.Equal(s.Certs[1].Raw, id.Chain[0].Raw) {
					t.Errorf("certificates: signer %p, %d certs", s.Signer, len(s.Certs))
				}
				if s.Link == nil || s.Link.Level != link.Level || s.Link.Code != link.Code ||
					s.Link.DocID != link.DocID || !bytes.Equal(s.Link.Prev, link.Prev) || (link.Prev == nil) != (s.Link.Prev == nil) {
					t.Errorf("link %+v, want %+v", s.Link, link)
				}
				if got := Digest(der); !bytes.Equal(got, digestOf(string(der))) {
					t.Errorf("Digest")
				}
			})
		}
	}
}

func TestSignRejects(t *testing.T) {
	id := testIdentity(t)
	other := testIdentity(t)
	good := Link{Level: org.Village, Code: "220102001001", DocID: "d"}
	mismatched := *id
	mismatched.Signer = other.Signer
	tests := []struct {
		name   string
		digest []byte
		id     *keys.Identity
		link   Link
		at     time.Time
		isLink bool
	}{
		{"short digest", []byte{1, 2, 3}, id, good, signTime, false},
		{"nil identity", digestOf("x"), nil, good, signTime, false},
		{"key not the cert's", digestOf("x"), &mismatched, good, signTime, false},
		{"zero time", digestOf("x"), id, good, time.Time{}, false},
		{"bad level", digestOf("x"), id, Link{Level: "city", Code: "2201", DocID: "d"}, signTime, true},
		{"code length", digestOf("x"), id, Link{Level: org.Township, Code: "220102001001", DocID: "d"}, signTime, true},
		{"code digits", digestOf("x"), id, Link{Level: org.County, Code: "22010A", DocID: "d"}, signTime, true},
		{"empty doc", digestOf("x"), id, Link{Level: org.County, Code: "220102"}, signTime, true},
		{"long doc", digestOf("x"), id, Link{Level: org.County, Code: "220102", DocID: string(make([]byte, 129))}, signTime, true},
		{"bad utf8", digestOf("x"), id, Link{Level: org.County, Code: "220102", DocID: "\xff"}, signTime, true},
		{"short prev", digestOf("x"), id, Link{Level: org.County, Code: "220102", DocID: "d", Prev: []byte{1}}, signTime, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sign(tt.digest, tt.id, tt.link, tt.at, Options{})
			if err == nil {
				t.Fatal("signed")
			}
			if errors.Is(err, ErrInvalidLink) != tt.isLink {
				t.Errorf("err = %v, ErrInvalidLink %v", err, tt.isLink)
			}
		})
	}
}

func TestMaxSize(t *testing.T) {
	id := testIdentity(t)
	for i := 0; i < 200; i++ {
		link := Link{Level: org.Village, Code: "220102001001", DocID: "card-000001"}
		if i%2 == 1 {
			link.Prev = digestOf("p")
		}
		opt := Options{GBContentTypes: i%3 == 0}
		digest := make([]byte, 32)
		rand.Read(digest)
		der, err := Sign(digest, id, link, signTime, opt)
		if err != nil {
			t.Fatal(err)
		}
		max := MaxSize(id, link, opt)
		if max < len(der) || max > len(der)+8 {
			t.Fatalf("MaxSize %d for a seal of %d bytes", max, len(der))
		}
	}
	if MaxSize(nil, Link{}, Options{}) != 0 {
		t.Error("MaxSize(nil)")
	}
}

// TestSigAlg501 checks that SignerInfos naming SM2-with-SM3 (as
// BouncyCastle writes) verify.
func TestSigAlg501(t *testing.T) {
	id := testIdentity(t)
	digest := digestOf("pdf")
	for _, gb := range []bool{false, true} {
		der, err := sign(digest, id, Link{Level: org.Village, Code: "220102001001", DocID: "d"}, signTime, Options{GBContentTypes: gb}, oidSM2WithSM3)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(der)
		if err != nil {
			t.Fatal(err)
		}
		if s.SigAlg != OIDSM2WithSM3 {
			t.Errorf("SigAlg %s", s.SigAlg)
		}
		if err := s.Verify(digest); err != nil {
			t.Error(err)
		}
	}
}

func TestTrimPadding(t *testing.T) {
	id := testIdentity(t)
	der, err := Sign(digestOf("x"), id, Link{Level: org.Village, Code: "220102001001", DocID: "d"}, signTime, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"exact", der, true},
		{"zero padded", append(bytes.Clone(der), make([]byte, 4000)...), true},
		{"non-zero after", append(append(bytes.Clone(der), 0, 0), 1), false},
		{"empty", nil, false},
		{"all zero", make([]byte, 100), false},
		{"truncated", der[:len(der)-1], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TrimPadding(tt.in)
			if tt.ok {
				if err != nil || !bytes.Equal(got, der) {
					t.Fatalf("TrimPadding: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}
