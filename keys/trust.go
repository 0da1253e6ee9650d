package keys

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/jilin-health/cardseal/internal/lru"

	"github.com/emmansun/gmsm/smx509"
)

// Errors of certificate path validation.
var (
	ErrUntrusted = errors.New("certificate does not chain to a trusted root")
	ErrExpired   = errors.New("certificate not valid at that time")
)

// TrustList is the set of root certificates the verifier accepts: this
// province's root and other provinces' roots (Art. 7a).
type TrustList struct {
	roots []*smx509.Certificate
	pool  *smx509.CertPool

	// chains caches verified certificate paths by the SM3 of the
	// certificates given: the same organisation certificates verify
	// card after card, and a path's signatures do not change — only the
	// validity check depends on the time, and it is redone every time.
	chains *lru.Cache[[32]byte, []*smx509.Certificate]
}

// maxChains bounds the path cache.
const maxChains = 4096

// NewTrustList builds a trust list from root certificates.
func NewTrustList(roots ...*smx509.Certificate) *TrustList {
	t := &TrustList{pool: smx509.NewCertPool(), chains: lru.New[[32]byte, []*smx509.Certificate](maxChains)}
	for _, r := range roots {
		t.roots = append(t.roots, r)
		t.pool.AddCert(r)
	}
	return t
}

// ParseTrustList reads a PEM bundle of CA certificates. Every block must
// be a self-signed CA certificate.
func ParseTrustList(bundle []byte) (*TrustList, error) {
	var roots []*smx509.Certificate
	rest := bytes.TrimSpace(bundle)
	for len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("trust list: not a PEM bundle")
		}
		rest = bytes.TrimSpace(rest)
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("trust list: unexpected PEM block %q", b.Type)
		}
		c, err := smx509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("trust list: %w", err)
		}
		if !c.IsCA || c.CheckSignatureFrom(c) != nil {
			return nil, fmt.Errorf("trust list: %q is not a self-signed CA certificate", c.Subject.CommonName)
		}
		roots = append(roots, c)
	}
	if len(roots) == 0 {
		return nil, errors.New("trust list: no certificates")
	}
	return NewTrustList(roots...), nil
}

// Roots returns the trusted root certificates.
func (t *TrustList) Roots() []*smx509.Certificate { return t.roots }

// PEM encodes the trust list as a bundle.
func (t *TrustList) PEM() []byte {
	var buf bytes.Buffer
	for _, r := range t.roots {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})
	}
	return buf.Bytes()
}

// Verify checks that cert chains to a trusted root through the given
// intermediates and that every certificate on the path was valid at the
// given time (a seal is judged at its signing time). It returns the root.
// The root is matched by key and signature, not by name: a look-alike
// root that copies our root's subject does not verify.
func (t *TrustList) Verify(cert *smx509.Certificate, intermediates []*smx509.Certificate, at time.Time) (*smx509.Certificate, error) {
	h := sm3.New()
	h.Write(cert.Raw)
	for _, c := range intermediates {
		h.Write(c.Raw)
	}
	var key [32]byte
	h.Sum(key[:0])
	if chain, ok := t.chains.Get(key); ok {
		for _, c := range chain {
			if at.Before(c.NotBefore) || at.After(c.NotAfter) {
				return nil, fmt.Errorf("%w: %q is valid from %s to %s, not at %s", ErrExpired, c.Subject.CommonName,
					c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), at.Format(time.RFC3339))
			}
		}
		return chain[len(chain)-1], nil
	}
	inter := smx509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	chains, err := cert.Verify(smx509.VerifyOptions{
		Roots:         t.pool,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny},
	})
	if err != nil {
		var inv smx509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == smx509.Expired {
			return nil, fmt.Errorf("%w: %v", ErrExpired, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	t.chains.Put(key, chains[0])
	return chains[0][len(chains[0])-1], nil
}
