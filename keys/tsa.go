package keys

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// The platform's time-stamping authority (issue 17, RFC 3161): one key
// and certificate beside the platform's QR-signing key, issued by the
// province root like it and rotated like it (keys csr --tsa, ca sign,
// keys import). Its certificate has
//
//	C=CN, ST=<province>, O=<commission>, OU=tsa, CN=<name>
//
// keyUsage digitalSignature (critical) and extendedKeyUsage timeStamping
// alone, critical, as RFC 3161 §2.3 requires.
const (
	tsaOU   = "tsa"
	tsaName = "tsa"
	// TSAValidity is the TSA certificate's longest validity. A token
	// stays verifiable after it ends as long as the token was made
	// while it was valid and a later archive timestamp covers it.
	TSAValidity = PlatformValidity
)

var (
	oidExtKeyUsage   = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	errNotTSAProfile = errors.New("not a time-stamping certificate")
)

// tsaEKU is the extendedKeyUsage extension of a TSA certificate:
// timeStamping alone, critical.
func tsaEKU() pkix.Extension {
	v, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	if err != nil {
		panic(err)
	}
	return pkix.Extension{Id: oidExtKeyUsage, Critical: true, Value: v}
}

// IsTSA reports whether the certificate is a time-stamping authority's
// under the profile: not a CA, OU=tsa, digitalSignature, and a critical
// extendedKeyUsage of exactly timeStamping.
func IsTSA(cert *smx509.Certificate) bool {
	if cert == nil || cert.IsCA || cert.KeyUsage&smx509.KeyUsageDigitalSignature == 0 ||
		len(cert.Subject.OrganizationalUnit) != 1 || cert.Subject.OrganizationalUnit[0] != tsaOU {
		return false
	}
	return TimeStampingEKU(cert)
}

// TimeStampingEKU reports whether the certificate's extendedKeyUsage is
// critical and names timeStamping alone (RFC 3161 §2.3).
func TimeStampingEKU(cert *smx509.Certificate) bool {
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			var oids []asn1.ObjectIdentifier
			rest, err := asn1.Unmarshal(e.Value, &oids)
			return err == nil && len(rest) == 0 && e.Critical && len(oids) == 1 && oids[0].Equal(oidTimeStamping)
		}
	}
	return false
}

// IssueTSA issues the platform's time-stamping certificate for pub.
func (ca *CA) IssueTSA(pub crypto.PublicKey, name string, now time.Time) (*smx509.Certificate, error) {
	return ca.issueTSA(pub, name, now, TSAValidity)
}

func (ca *CA) issueTSA(pub crypto.PublicKey, name string, now time.Time, validity time.Duration) (*smx509.Certificate, error) {
	subj := pkix.Name{Country: []string{"CN"}, Province: ca.Cert.Subject.Province, Organization: ca.Cert.Subject.Organization, OrganizationalUnit: []string{tsaOU}, CommonName: name}
	return ca.issueWith(pub, subj, smx509.KeyUsageDigitalSignature, now, validity, []pkix.Extension{tsaEKU()})
}

// NewTSARequest makes the PEM certificate request of the platform's
// time-stamping key: C=CN, ST=province, O=commission, OU=tsa, CN=name.
func NewTSARequest(key crypto.Signer, province, commission, name string) ([]byte, error) {
	if strings.TrimSpace(name) == "" || strings.TrimSpace(commission) == "" {
		return nil, errors.New("tsa request: name and commission are required")
	}
	return newRequest(key, pkix.Name{Country: []string{"CN"}, Province: []string{province}, Organization: []string{commission}, OrganizationalUnit: []string{tsaOU}, CommonName: name})
}

// TSAName is the default CN of this province's time-stamping certificate.
func (s *FileStore) TSAName() string {
	p, _ := s.province()
	return p + "生育服务卡平台时间戳服务"
}

// TSAIdentity returns the platform's time-stamping key and certificate.
func (s *FileStore) TSAIdentity() (*Identity, error) { return s.identity(tsaName) }

// RequestTSA is RequestPlatform for the time-stamping key; name is the
// certificate's CN (TSAName when empty).
func (s *FileStore) RequestTSA(name string, replace bool) ([]byte, error) {
	if name == "" {
		name = s.TSAName()
	}
	province, commission := s.province()
	return s.request(tsaName, replace, func(k *sm2.PrivateKey) ([]byte, error) {
		return NewTSARequest(k, province, commission, name)
	})
}
