package seal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/jilin-health/cardseal/org"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// claimVector is the DER Attribute of the cardseal policy claim in
// docs/seal-format.md: rebirth-direct, pre-review 5f0c3a9e7b214d68, form
// 2201022026000001-F.
const claimVector = "305306146981aed2b3d9e3e6ba98b1a5feeebcfca2d0d573313b30390201010c0e726562697274682d" +
	"6469726563740c10356630633361396537623231346436380c12323230313032323032363030303030312d46"

var vectorClaim = Claim{Policy: "rebirth-direct", PreReview: "5f0c3a9e7b214d68", Form: "2201022026000001-F"}

func claimAttrDER(c *Claim) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addOID(b, oidCardsealPolicy)
		b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { addClaim(b, c) })
	})
	return b.BytesOrPanic()
}

func TestClaimKnownAnswer(t *testing.T) {
	if got := hex.EncodeToString(claimAttrDER(&vectorClaim)); got != claimVector {
		t.Fatalf("claim attribute\n got %s\nwant %s", got, claimVector)
	}
}

// TestClaimSignedAndParsed: a claim given to Sign is among the signed
// attributes and Parse returns it; a seal without one parses with none.
func TestClaimSignedAndParsed(t *testing.T) {
	root := newRoot(t, katRootScalar)
	id := root.newIdentity(t, katOrgScalar, 0x2201020010, org.Township, "220102001")
	digest := sm3.Sum([]byte("cardseal test vector"))
	link := Link{Level: org.Township, Code: "220102001", DocID: "JL-2026-000001"}
	at := time.Date(2026, 11, 28, 9, 30, 15, 0, time.UTC)
	c := vectorClaim
	der, err := Sign(digest[:], id, link, at, Options{Claim: &c})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(der, claimAttrDER(&c)) {
		t.Fatal("the signed attributes do not hold the claim vector")
	}
	s, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if s.Claim == nil || *s.Claim != c {
		t.Fatalf("parsed claim %+v", s.Claim)
	}
	if err := s.Verify(digest[:]); err != nil {
		t.Fatal(err)
	}
	plain, err := Sign(digest[:], id, link, at, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := Parse(plain); err != nil || s.Claim != nil {
		t.Fatalf("seal without a claim: %v, %+v", err, s.Claim)
	}
	if _, err := Sign(digest[:], id, link, at, Options{Claim: &Claim{}}); !errors.Is(err, ErrInvalidLink) {
		t.Fatalf("empty policy name: %v", err)
	}
}

// TestClaimMalformed: parseClaim fails closed.
func TestClaimMalformed(t *testing.T) {
	enc := func(f func(b *cryptobyte.Builder)) cryptobyte.String {
		var b cryptobyte.Builder
		b.AddASN1(asn1.SEQUENCE, f)
		return cryptobyte.String(b.BytesOrPanic())
	}
	str := func(b *cryptobyte.Builder, s string) {
		b.AddASN1(asn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
	}
	for name, in := range map[string]cryptobyte.String{
		"version 2":  enc(func(b *cryptobyte.Builder) { b.AddASN1Int64(2); str(b, "rebirth-direct"); str(b, "a"); str(b, "b") }),
		"no form":    enc(func(b *cryptobyte.Builder) { b.AddASN1Int64(1); str(b, "rebirth-direct"); str(b, "a") }),
		"extra":      enc(func(b *cryptobyte.Builder) { b.AddASN1Int64(1); str(b, "x"); str(b, "a"); str(b, "b"); str(b, "c") }),
		"empty name": enc(func(b *cryptobyte.Builder) { b.AddASN1Int64(1); str(b, ""); str(b, "a"); str(b, "b") }),
		"bad utf-8":  enc(func(b *cryptobyte.Builder) { b.AddASN1Int64(1); str(b, "\xff"); str(b, "a"); str(b, "b") }),
	} {
		if _, err := parseClaim(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
