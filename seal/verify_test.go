package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// resign signs the (modified) signed attributes again with key, so that a
// test reaches the check it means to exercise.
func resign(t testing.TB, root *node, key *sm2.PrivateKey) {
	t.Helper()
	attrs := root.at(pAttrs...).clone()
	attrs.tag = asn1.SET
	sig, err := key.Sign(rand.Reader, attrs.der(), sm2.DefaultSM2SignerOpts)
	if err != nil {
		t.Fatal(err)
	}
	root.at(pSignature...).content = sig
}

func TestVerifyFailures(t *testing.T) {
	ca := newRoot(t, "")
	id := randomSigner(ca.newIdentity(t, "", 1001, org.Village, "220102001001"))
	key := id.Signer.(*sm2.PrivateKey)
	other := randomSigner(ca.newIdentity(t, "", 1002, org.Village, "220102001002"))
	// A certificate with the same issuer and serial number but another key.
	twin := randomSigner(ca.newIdentity(t, "", 1001, org.Village, "220102001001"))
	link := Link{Level: org.Village, Code: "220102001001", DocID: "card-000042"}
	digest := digestOf("the pdf")
	good, err := Sign(digest, id, link, signTime, Options{})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		der    func() []byte
		digest []byte
		want   error
	}{
		{"valid", func() []byte { return good }, digest, nil},
		{"digest differs", func() []byte { return good }, digestOf("another pdf"), ErrDigestMismatch},
		{"short digest", func() []byte { return good }, digest[:31], ErrDigestMismatch},
		{"byte flipped in signed attrs", func() []byte {
			der := bytes.Clone(good)
			i := bytes.Index(der, []byte("card-000042"))
			der[i] = 'C'
			return der
		}, digest, ErrBadSignature},
		{"signature from another key", func() []byte {
			root := parseTree(t, good)
			resign(t, root, other.Signer.(*sm2.PrivateKey))
			return root.der()
		}, digest, ErrBadSignature},
		{"signature of other bytes", func() []byte {
			root := parseTree(t, good)
			sig, _ := key.Sign(rand.Reader, []byte("x"), sm2.DefaultSM2SignerOpts)
			root.at(pSignature...).content = sig
			return root.der()
		}, digest, ErrBadSignature},
		{"signature not DER", func() []byte {
			root := parseTree(t, good)
			root.at(pSignature...).content = []byte{1, 2, 3}
			return root.der()
		}, digest, ErrBadSignature},
		{"cert swapped, same issuer and serial", func() []byte {
			root := parseTree(t, good)
			root.at(pCerts...).children[0] = parseTree(t, twin.Cert.Raw)
			return root.der()
		}, digest, ErrCertMismatch},
		{"cert swapped, other serial", func() []byte {
			root := parseTree(t, good)
			root.at(pCerts...).children[0] = parseTree(t, other.Cert.Raw)
			return root.der()
		}, digest, ErrCertMismatch},
		{"no certificates", func() []byte {
			root := parseTree(t, good)
			sd := root.at(pSignedData...)
			sd.children = append(sd.children[:3], sd.children[4:]...)
			return root.der()
		}, digest, ErrCertMismatch},
		{"trailing garbage", func() []byte { return append(bytes.Clone(good), 0) }, digest, ErrMalformed},
		{"truncated", func() []byte { return good[:len(good)-1] }, digest, ErrMalformed},
		{"two SignerInfos", func() []byte {
			root := parseTree(t, good)
			sis := root.at(pSignerInfos...)
			sis.children = append(sis.children, sis.children[0].clone())
			return root.der()
		}, digest, ErrMalformed},
		{"no SignerInfo", func() []byte {
			root := parseTree(t, good)
			root.at(pSignerInfos...).children = nil
			return root.der()
		}, digest, ErrMalformed},
		{"missing messageDigest", func() []byte {
			root := parseTree(t, good)
			attrs := root.at(pAttrs...)
			i := attrIndex(t, root, oidMessageDigest)
			attrs.children = append(attrs.children[:i], attrs.children[i+1:]...)
			resign(t, root, key)
			return root.der()
		}, digest, ErrMalformed},
		{"missing signingTime", func() []byte {
			root := parseTree(t, good)
			attrs := root.at(pAttrs...)
			i := attrIndex(t, root, oidSigningTime)
			attrs.children = append(attrs.children[:i], attrs.children[i+1:]...)
			resign(t, root, key)
			return root.der()
		}, digest, ErrMalformed},
		{"signingTime twice", func() []byte {
			root := parseTree(t, good)
			attrs := root.at(pAttrs...)
			attrs.children = append(attrs.children, attrs.children[attrIndex(t, root, oidSigningTime)].clone())
			resign(t, root, key)
			return root.der()
		}, digest, ErrMalformed},
		{"messageDigest with two values", func() []byte {
			root := parseTree(t, good)
			set := root.at(pAttrs...).children[attrIndex(t, root, oidMessageDigest)].children[1]
			set.children = append(set.children, set.children[0].clone())
			resign(t, root, key)
			return root.der()
		}, digest, ErrMalformed},
		{"no signed attributes", func() []byte {
			root := parseTree(t, good)
			si := root.at(pSignerInfo...)
			si.children = append(si.children[:3], si.children[4:]...)
			return root.der()
		}, digest, ErrMalformed},
		{"content included", func() []byte {
			root := parseTree(t, good)
			encap := root.at(pEncap...)
			encap.children = append(encap.children, &node{tag: asn1.Tag(0).ContextSpecific().Constructed(),
				children: []*node{{tag: asn1.OCTET_STRING, content: []byte("%PDF-1.7")}}})
			return root.der()
		}, digest, ErrMalformed},
		{"SignerInfo digest algorithm SHA-256", func() []byte {
			root := parseTree(t, good)
			root.at(pSIDigestAlg...).children[0] = oidNode(oidSHA256)
			return root.der()
		}, digest, ErrMalformed},
		{"digestAlgorithms SHA-256", func() []byte {
			root := parseTree(t, good)
			root.at(pDigestAlgs...).children[0].children[0] = oidNode(oidSHA256)
			return root.der()
		}, digest, ErrMalformed},
		{"digestAlgorithms empty", func() []byte {
			root := parseTree(t, good)
			root.at(pDigestAlgs...).children = nil
			return root.der()
		}, digest, ErrMalformed},
		{"digest algorithm with parameters", func() []byte {
			root := parseTree(t, good)
			alg := root.at(pSIDigestAlg...)
			alg.children = append(alg.children, &node{tag: asn1.INTEGER, content: []byte{1}})
			return root.der()
		}, digest, ErrMalformed},
		{"signature algorithm ECDSA", func() []byte {
			root := parseTree(t, good)
			root.at(pSigAlg...).children[0] = oidNode(oidBytes(1, 2, 840, 10045, 4, 3, 2))
			return root.der()
		}, digest, ErrMalformed},
		{"mixed content-type families", func() []byte {
			root := parseTree(t, good)
			root.at(pEncap...).children[0] = oidNode(oidGBData)
			return root.der()
		}, digest, ErrMalformed},
		{"contentType attribute of the other family", func() []byte {
			root := parseTree(t, good)
			set := root.at(pAttrs...).children[attrIndex(t, root, oidContentType)].children[1]
			set.children[0] = oidNode(oidGBData)
			resign(t, root, key)
			return root.der()
		}, digest, ErrMalformed},
		{"not signedData", func() []byte {
			root := parseTree(t, good)
			root.children[0] = oidNode(oidData)
			return root.der()
		}, digest, ErrMalformed},
		{"SignedData version 2", func() []byte {
			root := parseTree(t, good)
			root.at(pSignedData...).children[0].content = []byte{2}
			return root.der()
		}, digest, ErrMalformed},
		{"crls present", func() []byte {
			root := parseTree(t, good)
			sd := root.at(pSignedData...)
			crls := &node{tag: asn1.Tag(1).ContextSpecific().Constructed()}
			sd.children = append(sd.children[:4], crls, sd.children[4])
			return root.der()
		}, digest, ErrMalformed},
		{"bad link", func() []byte {
			root := parseTree(t, good)
			l := root.at(pAttrs...).children[attrIndex(t, root, oidCardsealLink)].children[1].children[0]
			l.children[2].content = []byte("2201") // division code of no level
			resign(t, root, key)
			return root.der()
		}, digest, ErrInvalidLink},
		{"link version 2", func() []byte {
			root := parseTree(t, good)
			l := root.at(pAttrs...).children[attrIndex(t, root, oidCardsealLink)].children[1].children[0]
			l.children[0].content = []byte{2}
			resign(t, root, key)
			return root.der()
		}, digest, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.der())
			if err == nil {
				err = s.Verify(tt.digest)
			}
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil {
				for _, e := range []error{ErrMalformed, ErrDigestMismatch, ErrBadSignature, ErrCertMismatch} {
					if e != tt.want && errors.Is(err, e) && !(tt.want == ErrInvalidLink && e == ErrMalformed) {
						t.Errorf("err = %v also matches %v", err, e)
					}
				}
			}
		})
	}
}

func TestSigningCertV2Absent(t *testing.T) {
	id := testIdentity(t)
	digest := digestOf("x")
	der, err := Sign(digest, id, Link{Level: org.Village, Code: "220102001001", DocID: "d"}, signTime, Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := parseTree(t, der)
	attrs := root.at(pAttrs...)
	i := attrIndex(t, root, oidSigningCertV2)
	attrs.children = append(attrs.children[:i], attrs.children[i+1:]...)
	i = attrIndex(t, root, oidCardsealLink)
	attrs.children = append(attrs.children[:i], attrs.children[i+1:]...)
	resign(t, root, id.Signer.(*sm2.PrivateKey))
	s, err := Parse(root.der())
	if err != nil {
		t.Fatal(err)
	}
	if s.HasSigningCertV2 || s.Link != nil {
		t.Errorf("HasSigningCertV2 %v, Link %v", s.HasSigningCertV2, s.Link)
	}
	if err := s.Verify(digest); err != nil {
		t.Error(err)
	}
}

// TestSubjectKeyIdentifier checks a SignerInfo that names its signer by
// subjectKeyIdentifier (version 3) rather than issuer and serial number.
func TestSubjectKeyIdentifier(t *testing.T) {
	ca := newRoot(t, "")
	if len(ca.cert.SubjectKeyId) == 0 {
		t.Fatal("root without subjectKeyIdentifier")
	}
	id := &keys.Identity{Signer: ca.key, Cert: ca.cert}
	digest := digestOf("x")
	der, err := Sign(digest, id, Link{Level: org.County, Code: "220102", DocID: "d"}, signTime, Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := parseTree(t, der)
	root.at(pSignedData...).children[0].content = []byte{3}
	si := root.at(pSignerInfo...)
	si.children[0].content = []byte{3}
	si.children[1] = &node{tag: asn1.Tag(0).ContextSpecific(), content: ca.cert.SubjectKeyId}
	s, err := Parse(root.der())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(digest); err != nil {
		t.Fatal(err)
	}

	// Version 1 with a subjectKeyIdentifier is malformed.
	si.children[0].content = []byte{1}
	if _, err := Parse(root.der()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("version 1 with SKI: %v", err)
	}
	// An unknown key identifier names no certificate.
	si.children[0].content = []byte{3}
	si.children[1].content = []byte{1, 2, 3}
	if _, err := Parse(root.der()); !errors.Is(err, ErrCertMismatch) {
		t.Fatalf("unknown SKI: %v", err)
	}
}
