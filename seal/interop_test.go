package seal

import (
	"testing"

	"github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/sm2"
	"github.com/jilin-health/cardseal/org"
)

// TestGmsmPKCS7 checks that detached SM2 signatures written by gmsm's own
// pkcs7 package parse and verify: GB/T 35275 content types over content,
// and RFC 5652 content types with SM3 over a precomputed digest.
func TestGmsmPKCS7(t *testing.T) {
	ca := newRoot(t, "")
	id := randomSigner(ca.newIdentity(t, "", 7, org.Township, "220102001"))
	content := []byte("%PDF-1.7 byte range")
	digest := digestOf(string(content))

	tests := []struct {
		name string
		new  func() (*pkcs7.SignedData, error)
		gb   bool
	}{
		{"NewSMSignedData", func() (*pkcs7.SignedData, error) { return pkcs7.NewSMSignedData(content) }, true},
		{"NewSMSignedDataWithDigest", func() (*pkcs7.SignedData, error) { return pkcs7.NewSMSignedDataWithDigest(digest) }, true},
		{"NewSignedData+SM3", func() (*pkcs7.SignedData, error) {
			sd, err := pkcs7.NewSignedData(content)
			if err == nil {
				sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSM3)
			}
			return sd, err
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd, err := tt.new()
			if err != nil {
				t.Fatal(err)
			}
			if err := sd.AddSignerChain(id.Cert, id.Signer, id.Chain, pkcs7.SignerInfoConfig{}); err != nil {
				t.Fatal(err)
			}
			sd.Detach()
			der, err := sd.Finish()
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
			if s.GBContentTypes != tt.gb || s.Link != nil || s.HasSigningCertV2 || s.Signer.SerialNumber.Int64() != 7 {
				t.Errorf("parsed %+v", s)
			}
			if err := s.Verify(digestOf("other")); err != ErrDigestMismatch {
				t.Errorf("other digest: %v", err)
			}
		})
	}
}

// TestGmsmVerifiesOurs checks the other direction: gmsm's pkcs7 verifier
// (which re-encodes the signed attributes itself, so this also checks
// they are in DER order) accepts our seals, for both content-type
// families.
//
// gmsm parses CMS with encoding/asn1, whose ObjectIdentifier cannot hold
// the 128-bit arc of the cardseal attribute's UUID OID ("base 128 integer
// too large"), so it cannot read a seal that carries a Link at all; the
// test removes the attribute (and signs again) first. docs/seal-format.md
// warns implementers about this.
func TestGmsmVerifiesOurs(t *testing.T) {
	id := testIdentity(t)
	content := []byte("%PDF-1.7 byte range")
	for _, gb := range []bool{false, true} {
		der, err := Sign(digestOf(string(content)), id, Link{Level: org.Village, Code: "220102001001", DocID: "d", Prev: digestOf("p")}, signTime, Options{GBContentTypes: gb})
		if err != nil {
			t.Fatal(err)
		}
		if p7, err := pkcs7.Parse(der); err == nil && len(p7.Signers) > 0 {
			t.Log("gmsm pkcs7 now parses the cardseal attribute; docs/seal-format.md can drop its warning")
		}
		root := parseTree(t, der)
		attrs := root.at(pAttrs...)
		i := attrIndex(t, root, oidCardsealLink)
		attrs.children = append(attrs.children[:i], attrs.children[i+1:]...)
		resign(t, root, id.Signer.(*sm2.PrivateKey))
		p7, err := pkcs7.Parse(root.der())
		if err != nil {
			t.Fatal(err)
		}
		p7.Content = content
		if err := p7.Verify(); err != nil {
			t.Errorf("gb %v: %v", gb, err)
		}
	}
}
