package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// A trust-list bundle (Art. 7a, docs/trust-bundle.md) carries other
// provinces' root certificates, signed by this province's root key so a
// verifier accepts exactly the roots its own province vouched for.

// bundleSigType is the PEM type of a bundle's signature block.
const bundleSigType = "CARDSEAL TRUST BUNDLE SIGNATURE"

// bundleContext starts the signed message.
const bundleContext = "cardseal-trust-bundle-v1\n"

// ErrBundle is returned for a bundle that is malformed or not signed by
// our root.
var ErrBundle = errors.New("trust bundle is malformed or not signed by this province's root")

func bundleMessage(signedAt string, roots [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(bundleContext)
	b.WriteString(signedAt)
	b.WriteByte('\n')
	for _, r := range roots {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(r)))
		b.Write(n[:])
		b.Write(r)
	}
	return b.Bytes()
}

// SignBundle writes a bundle of other provinces' roots signed by ca
// (this province's root): the roots as PEM CERTIFICATE blocks in order,
// then one signature block.
func SignBundle(ca *CA, roots []*smx509.Certificate) ([]byte, error) {
	if len(roots) == 0 {
		return nil, fmt.Errorf("%w: no roots", ErrBundle)
	}
	var buf bytes.Buffer
	var ders [][]byte
	for _, r := range roots {
		if !r.IsCA || r.CheckSignatureFrom(r) != nil {
			return nil, fmt.Errorf("%w: %q is not a self-signed CA certificate", ErrBundle, r.Subject.CommonName)
		}
		ders = append(ders, r.Raw)
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Raw}); err != nil {
			return nil, err
		}
	}
	at := time.Now().UTC().Format(time.RFC3339)
	sig, err := ca.Signer.Sign(rand.Reader, bundleMessage(at, ders), sm2.DefaultSM2SignerOpts)
	if err != nil {
		return nil, fmt.Errorf("sign trust bundle: %w", err)
	}
	if err := pem.Encode(&buf, &pem.Block{Type: bundleSigType, Headers: map[string]string{"Signed-At": at}, Bytes: sig}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// VerifyBundle checks a bundle's signature with our root and returns the
// trust list of our root and the bundle's roots.
func VerifyBundle(data []byte, ourRoot *smx509.Certificate) (*TrustList, error) {
	pub, ok := ourRoot.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: our root has no SM2 key", ErrBundle)
	}
	var roots []*smx509.Certificate
	var ders [][]byte
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		b, r := pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("%w: not PEM", ErrBundle)
		}
		rest = bytes.TrimSpace(r)
		switch b.Type {
		case "CERTIFICATE":
			c, err := smx509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBundle, err)
			}
			if !c.IsCA || c.CheckSignatureFrom(c) != nil {
				return nil, fmt.Errorf("%w: %q is not a self-signed CA certificate", ErrBundle, c.Subject.CommonName)
			}
			roots, ders = append(roots, c), append(ders, b.Bytes)
		case bundleSigType:
			if len(rest) != 0 || len(roots) == 0 {
				return nil, fmt.Errorf("%w: the signature must follow the certificates and end the bundle", ErrBundle)
			}
			at := b.Headers["Signed-At"]
			if _, err := time.Parse(time.RFC3339, at); err != nil {
				return nil, fmt.Errorf("%w: Signed-At", ErrBundle)
			}
			if !sm2.VerifyASN1WithSM2(pub, nil, bundleMessage(at, ders), b.Bytes) {
				return nil, ErrBundle
			}
			return NewTrustList(append([]*smx509.Certificate{ourRoot}, roots...)...), nil
		default:
			return nil, fmt.Errorf("%w: unexpected PEM block %q", ErrBundle, b.Type)
		}
	}
	return nil, fmt.Errorf("%w: unsigned", ErrBundle)
}

// WithBundle adds the roots of a bundle signed by the trust list's first
// root (this province's) to the trust list.
func WithBundle(t *TrustList, bundle []byte) (*TrustList, error) {
	b, err := VerifyBundle(bundle, t.Roots()[0])
	if err != nil {
		return nil, err
	}
	roots := append([]*smx509.Certificate{}, t.Roots()...)
	for _, r := range b.Roots() {
		dup := false
		for _, have := range roots {
			dup = dup || have.Equal(r)
		}
		if !dup {
			roots = append(roots, r)
		}
	}
	return NewTrustList(roots...), nil
}
