package verifier_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/seal"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/verifier"
)

const year = 365 * 24 * time.Hour

// TestTimestampDecidesValidationTime: a timestamped card stays valid after
// every seal certificate has ended (judged at the timestamps' times); the
// same card without timestamps is judged at the verifier's clock, which
// the report says, and is invalid once the certificates end.
func TestTimestampDecidesValidationTime(t *testing.T) {
	f := demo(t)
	later := time.Now().Add(6 * year) // the 5-year seal, platform and TSA certificates have ended
	opt := f.options()
	opt.Now = func() time.Time { return later }
	rep, err := verifier.Verify(f.sealed[3], opt)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, rep, verifier.Valid, "")
	for _, s := range rep.Seals {
		if s.TimeSource != verifier.TimeFromTimestamp || s.Timestamp.IsZero() || !s.ValidationTime.Equal(s.Timestamp) ||
			s.TimestampSerial == "" || !strings.Contains(s.TSA, "时间戳") {
			t.Fatalf("seal %d: time source %q, timestamp %v, validation time %v, TSA %q", s.Index, s.TimeSource, s.Timestamp, s.ValidationTime, s.TSA)
		}
		if d := s.Timestamp.Sub(s.SigningTime); d < -time.Second || d > time.Minute {
			t.Fatalf("seal %d stamped %v after its signing time", s.Index, d)
		}
	}

	// Without timestamps: the verifier's clock.
	plain := lifecycle.NewSealer(f.ks)
	doc := f.card
	for _, code := range []string{"220102001001", "220102001", "220102"} {
		if doc, err = plain.SealCard(doc, mustOrg(keys.Demo.GetOrg(context.Background(), code)), f.number, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	rep = f.verify(t, doc)
	mustContain(t, rep, verifier.Valid, "")
	for _, s := range rep.Seals {
		if s.TimeSource != verifier.TimeFromVerifierClock || !s.Timestamp.IsZero() || !s.ValidationTime.Equal(rep.CheckedAt) {
			t.Fatalf("untimestamped seal %d: time source %q, validation time %v (checked at %v)", s.Index, s.TimeSource, s.ValidationTime, rep.CheckedAt)
		}
	}
	rep, err = verifier.Verify(doc, opt)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, rep, verifier.Invalid, "certificate")
}

// TestBackdatedSealRefused: a signer that back-dates its signing time
// gains nothing: the timestamp says when the seal was made, and a
// signing time long before it fails the seal.
func TestBackdatedSealRefused(t *testing.T) {
	f := demo(t)
	o := mustOrg(keys.Demo.GetOrg(context.Background(), "220102001001"))
	id, err := f.ks.SealIdentity(o.Code)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := templates.SealImage(o)
	app, _ := signer.NewAppearance(img)
	out, err := signer.Seal(f.card, &signer.Request{
		Identity: id, Org: o, Policy: chain.Card, Rect: signer.Rect(templates.SealBox(o.Level)),
		Appearance: app, Reason: lifecycle.Reason(o.Level), Location: o.Name, DocID: f.number,
		Time: time.Now().Add(-30 * time.Minute), Timestamper: f.sealer.Stamp,
	})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, f.verify(t, out), verifier.Incomplete, "") // half an hour: the seal is slow, not back-dated
	out, err = signer.Seal(f.card, &signer.Request{
		Identity: id, Org: o, Policy: chain.Card, Rect: signer.Rect(templates.SealBox(o.Level)),
		Appearance: app, Reason: lifecycle.Reason(o.Level), Location: o.Name, DocID: f.number,
		Time: time.Now().Add(-48 * time.Hour), Timestamper: f.sealer.Stamp,
	})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, f.verify(t, out), verifier.Invalid, "back-dated")
}

// TestTamperedTimestampRefused: the token lies in /Contents, outside the
// bytes the seal signs; a changed token fails the seal by itself.
func TestTamperedTimestampRefused(t *testing.T) {
	f := demo(t)
	doc := f.sealed[3]
	i := bytes.LastIndex(doc, []byte("/Contents <"))
	start := i + len("/Contents <")
	end := start + bytes.IndexByte(doc[start:], '>')
	raw, err := hex.DecodeString(string(doc[start:end]))
	if err != nil {
		t.Fatal(err)
	}
	der, err := seal.TrimPadding(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.Parse(der)
	if err != nil || s.Timestamp == nil {
		t.Fatalf("the county seal has no timestamp: %v", err)
	}
	at := bytes.Index(der, s.Timestamp)
	// The token's SM2 signature, and its imprint (the SM3 of the seal's
	// signature value) in the TSTInfo.
	imprint := sm3.Sum(s.Signature())
	for _, off := range []int{len(s.Timestamp) - 3, bytes.Index(s.Timestamp, imprint[:]) + 5} {
		bad := bytes.Clone(raw)
		bad[at+off] ^= 0x01
		out := bytes.Clone(doc)
		copy(out[start:end], strings.ToUpper(hex.EncodeToString(bad)))
		if strings.ToLower(string(doc[start:start+8])) == string(doc[start:start+8]) {
			copy(out[start:end], hex.EncodeToString(bad))
		}
		if bytes.Equal(out, doc) {
			t.Fatal("nothing changed")
		}
		mustContain(t, f.verify(t, out), verifier.Invalid, "signature_timestamp")
	}
}
