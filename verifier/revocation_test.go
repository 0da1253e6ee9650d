package verifier_test

import (
	"context"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/tsa/tsatest"
	"github.com/jilin-health/cardseal/verifier"
)

// crlRevoking is the root's CRL revoking cert from at for reason.
func crlRevoking(t *testing.T, f *fixture, cert *smx509.Certificate, reason string, at time.Time) *smx509.RevocationList {
	t.Helper()
	ca, err := f.ks.RootCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := keys.RecordIssued(dir, cert); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Revoke(dir, cert.SerialNumber, reason, at, time.Now()); err != nil {
		t.Fatal(err)
	}
	b, err := keys.IssueCRL(dir, ca, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := keys.ParseCRL(b)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

// TestRevocationAtTimestamp: the township's certificate revoked with
// keyCompromise from T. The card stamped before T stays valid and names
// the revocation; a seal made after T is invalid, also when its signing
// time is back-dated before T; a CRL of another root is ignored.
func TestRevocationAtTimestamp(t *testing.T) {
	f := demo(t)
	town, err := f.ks.SealIdentity("220102001")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Second).Truncate(time.Second) // after the fixture's timestamps
	crl := crlRevoking(t, f, town.Cert, "keyCompromise", at)
	opt := f.options()
	opt.CRLs = []*smx509.RevocationList{crl}
	rep, err := verifier.Verify(f.sealed[3], opt)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, rep, verifier.Valid, "")
	if s := rep.Seals[1]; !s.RevokedSince.Equal(at) || s.RevocationReason != "keyCompromise" {
		t.Fatalf("township seal: revoked since %v (%q)", s.RevokedSince, s.RevocationReason)
	}

	// After T, with the signing time written as half an hour before T: the
	// timestamp tells.
	o := mustOrg(keys.Demo.GetOrg(context.Background(), "220102001"))
	for _, signing := range []time.Time{at.Add(time.Second), at.Add(-30 * time.Minute)} {
		doc := f.sealReq(t, f.sealed[1], o.Code, func(r *signer.Request) {
			r.Time = signing
			r.Timestamper = stampAt(t, f, at.Add(2*time.Second))
		})
		rep, err := verifier.Verify(doc, opt)
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, rep, verifier.Invalid, "revoked (keyCompromise)")
	}
	// Revoked earlier than the first card's timestamps: invalid too.
	opt.CRLs = []*smx509.RevocationList{crlRevoking(t, f, town.Cert, "affiliationChanged", time.Now().Add(-time.Hour))}
	rep, _ = verifier.Verify(f.sealed[3], opt)
	mustContain(t, rep, verifier.Invalid, "revoked (affiliationChanged)")
}

// TestRevokedTSA: a timestamp whose authority's certificate was revoked
// before it was made does not hold.
func TestRevokedTSA(t *testing.T) {
	f := demo(t)
	id, err := f.ks.TSAIdentity()
	if err != nil {
		t.Fatal(err)
	}
	opt := f.options()
	opt.CRLs = []*smx509.RevocationList{crlRevoking(t, f, id.Cert, "keyCompromise", time.Now().Add(-time.Hour))}
	rep, err := verifier.Verify(f.sealed[3], opt)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, rep, verifier.Invalid, "time-stamping authority's certificate")
}

// stampAt is a TSA whose clock (and reference clock) reads at.
func stampAt(t *testing.T, f *fixture, at time.Time) signer.Timestamper {
	t.Helper()
	a, err := tsatest.New(f.ks, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	return a
}
