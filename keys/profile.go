package keys

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/org"
)

// The certificate profile (docs/certificate-profile.md). An organisation's
// level and division code are bound in its seal certificate's subject:
//
//	C=CN, ST=<province>, O=<organisation name>, OU=<village|township|county>,
//	SERIALNUMBER=<division code, significant digits>, CN=<name>电子印章
//
// with keyUsage digitalSignature|contentCommitment (non-repudiation, as
// for every electronic seal). The platform's QR and status-list signing
// certificate has OU=platform and keyUsage digitalSignature only. Only
// standard attributes are used, so any X.509 tool shows the binding.
const platformOU = "platform"

var oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}

// ErrProfile is returned when a certificate does not follow the profile.
var ErrProfile = errors.New("certificate does not follow the cardseal profile")

func orgSubject(o org.Org, province string) pkix.Name {
	return pkix.Name{
		Country:            []string{"CN"},
		Province:           []string{province},
		Organization:       []string{o.Name},
		OrganizationalUnit: []string{string(o.Level)},
		SerialNumber:       o.Code,
		CommonName:         o.Name + "电子印章",
	}
}

// Profile reads the organisation a seal certificate was issued to: its
// level, division code and name. It checks the seal usage and that the
// code agrees with the level.
func Profile(cert *smx509.Certificate) (org.Org, error) {
	if cert.KeyUsage&smx509.KeyUsageContentCommitment == 0 || cert.KeyUsage&smx509.KeyUsageDigitalSignature == 0 || cert.IsCA {
		return org.Org{}, fmt.Errorf("%w: not a seal certificate (key usage)", ErrProfile)
	}
	var o org.Org
	if len(cert.Subject.Organization) != 1 || len(cert.Subject.OrganizationalUnit) != 1 {
		return org.Org{}, fmt.Errorf("%w: subject needs exactly one O and one OU", ErrProfile)
	}
	o.Name = cert.Subject.Organization[0]
	o.Level = org.Level(cert.Subject.OrganizationalUnit[0])
	n := 0
	for _, atv := range cert.Subject.Names {
		if atv.Type.Equal(oidSerialNumber) {
			n++
		}
	}
	if n != 1 {
		return org.Org{}, fmt.Errorf("%w: subject needs exactly one SERIALNUMBER (division code)", ErrProfile)
	}
	o.Code = cert.Subject.SerialNumber
	if err := o.Validate(); err != nil {
		return org.Org{}, fmt.Errorf("%w: %v", ErrProfile, err)
	}
	return o, nil
}

// Province returns the province named in a certificate's subject (ST), for
// reports that name which province's root a seal chains to.
func Province(cert *smx509.Certificate) string {
	return strings.Join(cert.Subject.Province, " ")
}

// IsPlatform reports whether the certificate is a platform (QR-signing)
// certificate.
func IsPlatform(cert *smx509.Certificate) bool {
	return !cert.IsCA && cert.KeyUsage&smx509.KeyUsageDigitalSignature != 0 &&
		len(cert.Subject.OrganizationalUnit) == 1 && cert.Subject.OrganizationalUnit[0] == platformOU
}
