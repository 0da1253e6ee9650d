package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/org"
)

// Validity periods. Seal certificates are renewed well before they end
// (issue 9); verification judges a seal at its signing time.
const (
	RootValidity     = 20 * 365 * 24 * time.Hour
	SealValidity     = 5 * 365 * 24 * time.Hour
	PlatformValidity = 5 * 365 * 24 * time.Hour
)

// CA is a certificate authority that can issue certificates: the province
// root. Its key may be a file key or a hardware module.
type CA struct {
	Cert   *smx509.Certificate
	Signer crypto.Signer
	// CRLURL, when set, is named as the CRL distribution point of the
	// certificates the CA issues: the stable URL where servers publish
	// its current CRL (serve's GET /crl). Certificates issued without
	// it keep working; they are looked up in the CRLs all the same.
	CRLURL string
}

// NewKey generates an SM2 key pair.
func NewKey() (*sm2.PrivateKey, error) { return sm2.GenerateKey(rand.Reader) }

func serial() (*big.Int, error) {
	// 16 random bytes, positive, well under the 20-octet limit of RFC 5280.
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	b[0] |= 0x01
	return new(big.Int).SetBytes(b), nil
}

// NewRoot creates a self-signed province root CA certificate (GM/T 0015:
// SM2 key, SM3withSM2, v3, basicConstraints CA critical, keyUsage
// keyCertSign|cRLSign critical, subject key identifier).
func NewRoot(key crypto.Signer, province, name string, now time.Time) (*CA, error) {
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	skid, err := keyID(key.Public())
	if err != nil {
		return nil, err
	}
	tpl := &smx509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{Country: []string{"CN"}, Province: []string{province}, Organization: []string{name}, CommonName: name + "电子印章根证书"},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.Add(RootValidity).UTC(),
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid,
		SignatureAlgorithm:    smx509.SM2WithSM3,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tpl, tpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create root certificate: %w", err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Signer: key}, nil
}

func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	// SM3 over the whole SubjectPublicKeyInfo, truncated to 20 bytes
	// (RFC 7093 method 4 style, with SM3 instead of SHA-256).
	h := sm3Sum(der)
	return h[:20], nil
}

// IssueSeal issues an organisation's seal certificate for pub. The
// organisation's level and division code go into the subject, the seal
// usage into extended key usage.
func (ca *CA) IssueSeal(pub crypto.PublicKey, o org.Org, now time.Time) (*smx509.Certificate, error) {
	return ca.issueSeal(pub, o, now, SealValidity)
}

func (ca *CA) issueSeal(pub crypto.PublicKey, o org.Org, now time.Time, validity time.Duration) (*smx509.Certificate, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return ca.issue(pub, orgSubject(o, Province(ca.Cert)), smx509.KeyUsageDigitalSignature|smx509.KeyUsageContentCommitment, now, validity)
}

// IssuePlatform issues the card platform's QR-token and status-list
// signing certificate.
func (ca *CA) IssuePlatform(pub crypto.PublicKey, name string, now time.Time) (*smx509.Certificate, error) {
	return ca.issuePlatform(pub, name, now, PlatformValidity)
}

func (ca *CA) issuePlatform(pub crypto.PublicKey, name string, now time.Time, validity time.Duration) (*smx509.Certificate, error) {
	subj := pkix.Name{Country: []string{"CN"}, Province: ca.Cert.Subject.Province, Organization: ca.Cert.Subject.Organization, OrganizationalUnit: []string{platformOU}, CommonName: name}
	return ca.issue(pub, subj, smx509.KeyUsageDigitalSignature, now, validity)
}

func (ca *CA) issue(pub crypto.PublicKey, subj pkix.Name, usage smx509.KeyUsage, now time.Time, validity time.Duration) (*smx509.Certificate, error) {
	return ca.issueWith(pub, subj, usage, now, validity, nil)
}

func (ca *CA) issueWith(pub crypto.PublicKey, subj pkix.Name, usage smx509.KeyUsage, now time.Time, validity time.Duration, extra []pkix.Extension) (*smx509.Certificate, error) {
	if !sm2.IsSM2PublicKey(pub) {
		return nil, errors.New("issue certificate: not an SM2 public key")
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	skid, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tpl := &smx509.Certificate{
		SerialNumber:          sn,
		Subject:               subj,
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              notAfter.UTC(),
		KeyUsage:              usage,
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          skid,
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
		SignatureAlgorithm:    smx509.SM2WithSM3,
		ExtraExtensions:       extra,
	}
	if ca.CRLURL != "" {
		tpl.CRLDistributionPoints = []string{ca.CRLURL}
	}
	der, err := smx509.CreateCertificate(rand.Reader, tpl, ca.Cert, pub, ca.Signer)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %q: %w", subj.CommonName, err)
	}
	return smx509.ParseCertificate(der)
}
