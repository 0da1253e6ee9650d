package tsa_test

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/tsa"
)

func newAuthority(t testing.TB, clock, ref func() time.Time) (*tsa.Authority, *keys.CA) {
	t.Helper()
	ca, id := testCA(t)
	a, err := tsa.New(id, &counter{ref: ref}, tsa.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return a, ca
}

func fixed(at time.Time) func() time.Time { return func() time.Time { return at } }

func TestIssueAndVerify(t *testing.T) {
	a, ca := newAuthority(t, fixed(t0), fixed(t0))
	sig := []byte("a SignerInfo signature value")
	tok, err := a.StampSignature(context.Background(), sig)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := tsa.ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := pt.Verify(); err != nil {
		t.Fatal(err)
	}
	if err := pt.Covers(sig); err != nil {
		t.Fatal(err)
	}
	if err := pt.Covers([]byte("another signature")); !errors.Is(err, tsa.ErrImprint) {
		t.Fatalf("other data: %v, want ErrImprint", err)
	}
	if !pt.GenTime.Equal(t0) || pt.Serial.Int64() != 1 || pt.Policy != tsa.OIDPolicy || pt.Hash != tsa.SM3 {
		t.Fatalf("token: time %v serial %v policy %s hash %v", pt.GenTime, pt.Serial, pt.Policy, pt.Hash)
	}
	if !bytes.Equal(pt.Signer.Raw, a.Identity().Cert.Raw) || len(pt.Certs) != 2 || !bytes.Equal(pt.Certs[1].Raw, ca.Cert.Raw) {
		t.Fatal("the token must carry the TSA certificate and the root")
	}
	// Serial numbers move on.
	tok2, err := a.StampSignature(context.Background(), sig)
	if err != nil {
		t.Fatal(err)
	}
	pt2, _ := tsa.ParseToken(tok2)
	if pt2.Serial.Int64() != 2 {
		t.Fatalf("second serial %v", pt2.Serial)
	}
	// A flipped bit anywhere in the TSTInfo or the signature fails.
	for _, i := range []int{len(tok) - 5, bytes.Index(tok, pt.Imprint) + 3} {
		bad := bytes.Clone(tok)
		bad[i] ^= 1
		p, err := tsa.ParseToken(bad)
		if err == nil {
			err = p.Verify()
			if err == nil {
				err = p.Covers(sig)
			}
		}
		if err == nil {
			t.Fatalf("flipped byte %d verified", i)
		}
	}
}

func TestClockDriftStopsIssuance(t *testing.T) {
	a, _ := newAuthority(t, fixed(t0.Add(3*time.Second)), fixed(t0))
	_, err := a.StampSignature(context.Background(), []byte("sig"))
	if !errors.Is(err, tsa.ErrClockDrift) {
		t.Fatalf("3 s ahead of the reference: %v, want ErrClockDrift", err)
	}
	reply, err := a.Respond(context.Background(), tsa.NewRequest(tsa.SM3, make([]byte, 32), nil))
	if !errors.Is(err, tsa.ErrClockDrift) {
		t.Fatalf("Respond: %v", err)
	}
	st, fail, tok, err := tsa.ParseReply(reply)
	if err != nil || st != tsa.StatusRejection || fail != tsa.TimeNotAvailable || tok != nil {
		t.Fatalf("reply: status %d fail %d token %d bytes, %v", st, fail, len(tok), err)
	}
	// Within the drift: granted.
	b, _ := newAuthority(t, fixed(t0.Add(-time.Second)), fixed(t0))
	if _, err := b.StampSignature(context.Background(), []byte("sig")); err != nil {
		t.Fatal(err)
	}
}

func TestRespondRefusesBadRequests(t *testing.T) {
	a, _ := newAuthority(t, fixed(t0), fixed(t0))
	good := tsa.NewRequest(tsa.SHA256, make([]byte, 32), big.NewInt(0x1234567))
	for _, c := range []struct {
		name string
		body []byte
		fail int
	}{
		{"empty", nil, tsa.BadDataFormat},
		{"garbage", []byte("hello"), tsa.BadDataFormat},
		{"short imprint", tsa.NewRequest(tsa.SM3, make([]byte, 20), nil), tsa.BadDataFormat},
		{"trailing bytes", append(bytes.Clone(good), 0), tsa.BadDataFormat},
		{"too long", append(bytes.Clone(good), make([]byte, tsa.MaxRequest)...), tsa.BadRequest},
		{"MD5", md5Request(), tsa.BadAlg},
	} {
		reply, err := a.Respond(context.Background(), c.body)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		st, fail, tok, err := tsa.ParseReply(reply)
		if err != nil || st != tsa.StatusRejection || fail != c.fail || tok != nil {
			t.Errorf("%s: status %d fail %d token %d bytes (%v), want rejection %d", c.name, st, fail, len(tok), err, c.fail)
		}
	}
	reply, err := a.Respond(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	st, _, tok, err := tsa.ParseReply(reply)
	if err != nil || st != tsa.StatusGranted {
		t.Fatalf("good request: %d %v", st, err)
	}
	pt, err := tsa.ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if pt.Nonce == nil || pt.Nonce.Int64() != 0x1234567 || pt.Hash != tsa.SHA256 {
		t.Fatalf("nonce %v hash %v", pt.Nonce, pt.Hash)
	}
}

// md5Request is a request with the MD5 OID (1.2.840.113549.2.5).
func md5Request() []byte {
	md5 := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05}
	alg := append([]byte{0x30, byte(len(md5) + 2)}, append(md5, 0x05, 0x00)...)
	imp := append([]byte{0x04, 16}, make([]byte, 16)...)
	mi := append([]byte{0x30, byte(len(alg) + len(imp))}, append(alg, imp...)...)
	body := append([]byte{0x02, 0x01, 0x01}, mi...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// TestMillisecondGenTime: genTime keeps the milliseconds, as a DER
// fraction without trailing zeros, and parses back.
func TestMillisecondGenTime(t *testing.T) {
	for _, ms := range []int{0, 250, 7, 999} {
		at := t0.Add(time.Duration(ms) * time.Millisecond)
		a, _ := newAuthority(t, fixed(at.Add(123*time.Microsecond)), fixed(at))
		tok, err := a.StampSignature(context.Background(), []byte("sig"))
		if err != nil {
			t.Fatal(err)
		}
		pt, err := tsa.ParseToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		if !pt.GenTime.Equal(at) {
			t.Fatalf("%d ms: genTime %v, want %v", ms, pt.GenTime, at)
		}
		if len(tok) > a.MaxTokenSize() {
			t.Fatalf("token of %d bytes, bound %d", len(tok), a.MaxTokenSize())
		}
	}
}
