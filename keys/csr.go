package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/org"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Certificate requests and the offline CA that signs them (issue 9, the
// key ceremony). A server generates a key and a PKCS#10 request whose
// subject is exactly the certificate profile's subject
// (docs/certificate-profile.md); the offline root checks the request and
// issues the certificate; the server imports it (rotate.go).
//
// The CA decides everything but the subject and the public key: a request
// carrying attributes or extension requests is refused rather than
// silently ignored, so a request asking to be a CA never reaches signing.

const pemRequest = "CERTIFICATE REQUEST"

// ErrRequest is the sentinel of every refused certificate request; the
// error is a *RequestError that says which check failed.
var ErrRequest = errors.New("certificate request refused")

// RequestError says why a certificate request was refused.
type RequestError struct {
	Check  string // "format", "signature", "key", "attributes", "subject", "level", "code", "province"
	Reason string
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("certificate request refused: %s: %s", e.Check, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRequest) true.
func (e *RequestError) Unwrap() error { return ErrRequest }

func refuse(check, format string, args ...any) error {
	return &RequestError{Check: check, Reason: fmt.Sprintf(format, args...)}
}

// Request is a certificate request that follows the profile: either an
// organisation's seal request (Org set) or the platform's (Platform).
type Request struct {
	CSR      *smx509.CertificateRequest
	Platform bool
	TSA      bool    // the time-stamping key's request (OU=tsa)
	Org      org.Org // seal requests: level, division code and name
	Province string  // ST
	Name     string  // CN: the seal's or the platform's name
	Issuer   string  // platform and TSA requests: O, the health commission
}

// PublicKey returns the requested key.
func (r *Request) PublicKey() crypto.PublicKey { return r.CSR.PublicKey }

// KeyID returns the hex SM3 key identifier of a public key (the subject
// key identifier its certificate will carry), for comparing a request on
// the offline machine with what the server printed.
func KeyID(pub crypto.PublicKey) (string, error) {
	id, err := keyID(pub)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(id), nil
}

// NewSealRequest makes the PEM certificate request of an organisation's
// seal key: the subject is the profile's (C, ST, O, OU=level,
// SERIALNUMBER=division code, CN=name+电子印章), nothing else.
func NewSealRequest(key crypto.Signer, o org.Org, province string) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return newRequest(key, orgSubject(o, province))
}

// NewPlatformRequest makes the PEM certificate request of the platform's
// QR-signing key: C=CN, ST=province, O=commission, OU=platform, CN=name.
func NewPlatformRequest(key crypto.Signer, province, commission, name string) ([]byte, error) {
	if strings.TrimSpace(name) == "" || strings.TrimSpace(commission) == "" {
		return nil, errors.New("platform request: name and commission are required")
	}
	return newRequest(key, pkix.Name{Country: []string{"CN"}, Province: []string{province}, Organization: []string{commission}, OrganizationalUnit: []string{platformOU}, CommonName: name})
}

func newRequest(key crypto.Signer, subj pkix.Name) ([]byte, error) {
	if !sm2.IsSM2PublicKey(key.Public()) {
		return nil, ErrNotSM2
	}
	der, err := smx509.CreateCertificateRequest(rand.Reader, &smx509.CertificateRequest{Subject: subj, SignatureAlgorithm: smx509.SM2WithSM3}, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemRequest, Bytes: der}), nil
}

// Subject attribute types the profile allows, each at most once.
var (
	oidCountry  = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidProvince = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidOrg      = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrgUnit  = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCN       = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// ParseRequest reads one PEM certificate request and checks it against the
// profile: a valid SM3withSM2 self-signature by an SM2 key, no attributes
// or extension requests, a subject with exactly C=CN, ST, O, OU, CN and —
// for seals — SERIALNUMBER, an OU that is a level or "platform", and a
// division code of that level. Every refusal is a *RequestError.
func ParseRequest(pemBytes []byte) (*Request, error) {
	blk, rest := pem.Decode(pemBytes)
	if blk == nil || blk.Type != pemRequest {
		return nil, refuse("format", "not a PEM %q block", pemRequest)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, refuse("format", "more than one PEM block")
	}
	csr, err := smx509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, refuse("format", "%v", err)
	}
	if csr.Version != 0 {
		return nil, refuse("format", "version %d, want 0 (PKCS#10 v1)", csr.Version)
	}
	if !sm2.IsSM2PublicKey(csr.PublicKey) {
		return nil, refuse("key", "not an SM2 public key")
	}
	if csr.SignatureAlgorithm != smx509.SM2WithSM3 {
		return nil, refuse("signature", "algorithm %v, want SM2-SM3", csr.SignatureAlgorithm)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, refuse("signature", "%v", err)
	}
	if err := noAttributes(csr.RawTBSCertificateRequest); err != nil {
		return nil, err
	}
	if len(csr.Extensions) != 0 || len(csr.Attributes) != 0 {
		return nil, refuse("attributes", "the request asks for extensions; the CA decides them")
	}
	return requestSubject(csr)
}

// noAttributes checks that the CertificationRequestInfo's attributes
// [0] SET is empty: parsing it ourselves, because the library skips
// attributes it cannot decode.
func noAttributes(tbs []byte) error {
	s := cryptobyte.String(tbs)
	var info, attrs cryptobyte.String
	var version int64
	if !s.ReadASN1(&info, cbasn1.SEQUENCE) || !s.Empty() ||
		!info.ReadASN1Integer(&version) ||
		!info.SkipASN1(cbasn1.SEQUENCE) || // subject
		!info.SkipASN1(cbasn1.SEQUENCE) || // subjectPKInfo
		!info.ReadASN1(&attrs, cbasn1.Tag(0).Constructed().ContextSpecific()) || !info.Empty() {
		return refuse("format", "malformed CertificationRequestInfo")
	}
	if !attrs.Empty() {
		return refuse("attributes", "the request carries attributes (extension requests or others); the CA decides the extensions")
	}
	return nil
}

func requestSubject(csr *smx509.CertificateRequest) (*Request, error) {
	count := map[string]int{}
	for _, atv := range csr.Subject.Names {
		var name string
		switch {
		case atv.Type.Equal(oidCountry):
			name = "C"
		case atv.Type.Equal(oidProvince):
			name = "ST"
		case atv.Type.Equal(oidOrg):
			name = "O"
		case atv.Type.Equal(oidOrgUnit):
			name = "OU"
		case atv.Type.Equal(oidSerialNumber):
			name = "SERIALNUMBER"
		case atv.Type.Equal(oidCN):
			name = "CN"
		default:
			return nil, refuse("subject", "attribute %v is not in the profile", atv.Type)
		}
		if _, ok := atv.Value.(string); !ok {
			return nil, refuse("subject", "%s is not a string", name)
		}
		count[name]++
	}
	for _, a := range []string{"C", "ST", "O", "OU", "CN"} {
		if count[a] != 1 {
			return nil, refuse("subject", "needs exactly one %s, has %d", a, count[a])
		}
	}
	subj := csr.Subject
	if subj.Country[0] != "CN" {
		return nil, refuse("subject", "C=%q, want CN", subj.Country[0])
	}
	r := &Request{CSR: csr, Province: subj.Province[0], Name: subj.CommonName}
	if strings.TrimSpace(r.Province) == "" {
		return nil, refuse("subject", "empty ST (province)")
	}
	ou := subj.OrganizationalUnit[0]
	if ou == platformOU || ou == tsaOU {
		if count["SERIALNUMBER"] != 0 {
			return nil, refuse("subject", "a %s request carries no SERIALNUMBER", ou)
		}
		if strings.TrimSpace(r.Name) == "" || strings.TrimSpace(subj.Organization[0]) == "" {
			return nil, refuse("subject", "a %s request needs a CN and an O", ou)
		}
		r.Platform, r.TSA, r.Issuer = ou == platformOU, ou == tsaOU, subj.Organization[0]
		return r, nil
	}
	lvl, err := org.ParseLevel(ou)
	if err != nil {
		return nil, refuse("level", "OU=%q is neither a level (village, township, county) nor %q nor %q", ou, platformOU, tsaOU)
	}
	if count["SERIALNUMBER"] != 1 {
		return nil, refuse("code", "needs exactly one SERIALNUMBER (division code), has %d", count["SERIALNUMBER"])
	}
	o := org.Org{Code: subj.SerialNumber, Level: lvl, Name: subj.Organization[0]}
	if err := o.Validate(); err != nil {
		return nil, refuse("code", "%v", err)
	}
	if r.Name != o.Name+"电子印章" {
		return nil, refuse("subject", "CN=%q, want %q", r.Name, o.Name+"电子印章")
	}
	r.Org = o
	return r, nil
}

// SignRequest issues the certificate a checked request asks for, valid
// for the given period (at most the profile's five years, and never
// beyond the root). The certificate's subject is rebuilt from the profile,
// not copied from the request; the request's province (and, for the
// platform, its commission) must be the CA's.
func (ca *CA) SignRequest(r *Request, now time.Time, validity time.Duration) (*smx509.Certificate, error) {
	max := SealValidity
	if r.Platform {
		max = PlatformValidity
	}
	if r.TSA {
		max = TSAValidity
	}
	if validity <= 0 || validity > max {
		return nil, fmt.Errorf("validity of %d days: want 1 to %d days (the certificate profile)", int(validity.Hours()/24), int(max.Hours()/24))
	}
	if prov := Province(ca.Cert); r.Province != prov {
		return nil, refuse("province", "the request is for %q, this CA is %q's", r.Province, prov)
	}
	if r.Platform || r.TSA {
		if len(ca.Cert.Subject.Organization) != 1 || r.Issuer != ca.Cert.Subject.Organization[0] {
			return nil, refuse("subject", "platform request for O=%q, this CA is %q", r.Issuer, strings.Join(ca.Cert.Subject.Organization, " "))
		}
		if r.TSA {
			return ca.issueTSA(r.PublicKey(), r.Name, now, validity)
		}
		return ca.issuePlatform(r.PublicKey(), r.Name, now, validity)
	}
	return ca.issueSeal(r.PublicKey(), r.Org, now, validity)
}

// The offline CA directory of `cardseal ca init`:
//
//	root.crt      the province root certificate
//	root.key      its key, encrypted (EncryptKey)
//	trust.pem     the trust list to copy to servers (the root alone)
//	issued/       every certificate signed, named by serial number
const (
	caRootCert = "root.crt"
	caRootKey  = "root.key"
	caTrust    = "trust.pem"
	caIssued   = "issued"
)

// ErrCAExists is returned by InitCADir for a directory that holds a root.
var ErrCAExists = errors.New("directory already holds a root CA")

// InitCADir creates a province root CA in dir, refusing to overwrite one.
func InitCADir(dir, province, name string, passphrase []byte, now time.Time) (*CA, error) {
	if len(passphrase) == 0 {
		return nil, ErrNoPassphrase
	}
	if strings.TrimSpace(province) == "" || strings.TrimSpace(name) == "" {
		return nil, errors.New("province and name are required")
	}
	for _, f := range []string{caRootCert, caRootKey, caTrust} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return nil, fmt.Errorf("%w: %s", ErrCAExists, filepath.Join(dir, f))
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, caIssued), 0o700); err != nil {
		return nil, err
	}
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	ca, err := NewRoot(key, province, name, now)
	if err != nil {
		return nil, err
	}
	kb, err := EncryptKey(key, passphrase)
	if err != nil {
		return nil, err
	}
	if err := writeNew(filepath.Join(dir, caRootKey), kb, 0o600); err != nil {
		return nil, err
	}
	if err := writeNew(filepath.Join(dir, caRootCert), certPEM(ca.Cert), 0o644); err != nil {
		return nil, err
	}
	if err := writeNew(filepath.Join(dir, caTrust), certPEM(ca.Cert), 0o644); err != nil {
		return nil, err
	}
	return ca, nil
}

// OpenCADir loads the root CA of an offline CA directory.
func OpenCADir(dir string, passphrase []byte) (*CA, error) {
	cert, err := readCert(filepath.Join(dir, caRootCert))
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(filepath.Join(dir, caRootKey))
	if err != nil {
		return nil, fmt.Errorf("load root key: %w", err)
	}
	key, err := DecryptKey(kb, passphrase)
	if err != nil {
		return nil, fmt.Errorf("load root key: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("load root key: key does not match root.crt")
	}
	if !cert.IsCA || cert.CheckSignatureFrom(cert) != nil {
		return nil, errors.New("root.crt is not a self-signed CA certificate")
	}
	return &CA{Cert: cert, Signer: key}, nil
}

// RecordIssued keeps a copy of a certificate the offline CA signed in
// dir/issued/SERIAL.crt and returns its path: the CA's record of what it
// issued, for audits and revocation notes.
func RecordIssued(dir string, cert *smx509.Certificate) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, caIssued), 0o700); err != nil {
		return "", err
	}
	p := filepath.Join(dir, caIssued, cert.SerialNumber.Text(16)+".crt")
	return p, writeNew(p, certPEM(cert), 0o644)
}

// writeNew creates a file that must not exist yet.
func writeNew(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
