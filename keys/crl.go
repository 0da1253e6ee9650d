package keys

import (
	"bytes"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// Revocation (issue 17). The offline CA keeps what it revoked in
// revoked.json beside issued/, and issues CRLs (v2, SM2-signed by the
// root) that operators publish to the servers, which serve the current
// one at a stable URL (DATA_DIR/keys/crl.pem). The verifier judges a seal
// at its timestamp's time: a certificate revoked at T (for
// keyCompromise: compromised since T) still carries the seals stamped
// before T.
const (
	caRevoked   = "revoked.json"
	caCRLNumber = "crlnumber"
	// CRLFile is the current CRL in a server's keystore (PEM).
	CRLFile = "crl.pem"
	// DefaultNextUpdate is a CRL's validity when none is given.
	DefaultNextUpdate = 7 * 24 * time.Hour
)

// Revocation reasons (RFC 5280 CRLReason) the CA accepts.
var Reasons = map[string]int{
	"keyCompromise":        1,
	"affiliationChanged":   3,
	"superseded":           4,
	"cessationOfOperation": 5,
}

// ReasonName is the RFC 5280 name of a CRLReason code.
func ReasonName(code int) string {
	for n, c := range Reasons {
		if c == code {
			return n
		}
	}
	return fmt.Sprintf("reason %d", code)
}

// ErrRevocation is returned for a revocation the CA refuses.
var ErrRevocation = errors.New("revocation refused")

var oidInvalidityDate = asn1.ObjectIdentifier{2, 5, 29, 24}

// Revoked is one revocation of the offline CA.
type Revoked struct {
	Serial string    `json:"serial"` // upper-case hex, as keys status and the verifier report show it
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`     // revoked (or, keyCompromise, compromised) since
	At     time.Time `json:"recorded"` // when the CA recorded it
	Name   string    `json:"subject"`
}

// Revoke records the revocation of a certificate the CA issued (its copy
// in issued/), from time at, for one of Reasons. A certificate is revoked
// once.
func Revoke(dir string, serial *big.Int, reason string, at, now time.Time) (*Revoked, error) {
	if _, ok := Reasons[reason]; !ok {
		names := make([]string, 0, len(Reasons))
		for n := range Reasons {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%w: reason %q, want one of %s", ErrRevocation, reason, strings.Join(names, ", "))
	}
	if serial == nil || serial.Sign() <= 0 {
		return nil, fmt.Errorf("%w: no serial number", ErrRevocation)
	}
	if at.IsZero() || at.After(now.Add(time.Minute)) {
		return nil, fmt.Errorf("%w: the time must be given and not in the future", ErrRevocation)
	}
	cert, err := readCert(filepath.Join(dir, caIssued, serial.Text(16)+".crt"))
	if err != nil {
		return nil, fmt.Errorf("%w: this CA has no record of issuing serial %X", ErrRevocation, serial)
	}
	list, err := ReadRevoked(dir)
	if err != nil {
		return nil, err
	}
	hexSerial := fmt.Sprintf("%X", serial)
	for _, r := range list {
		if r.Serial == hexSerial {
			return nil, fmt.Errorf("%w: %s was revoked already (%s, %s)", ErrRevocation, hexSerial, r.Reason, r.Time.Format(time.RFC3339))
		}
	}
	r := Revoked{Serial: hexSerial, Reason: reason, Time: at.UTC().Truncate(time.Second), At: now.UTC().Truncate(time.Second), Name: cert.Subject.String()}
	list = append(list, r)
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(dir, caRevoked), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return &r, nil
}

// ReadRevoked returns the CA's revocations (none when it revoked none).
func ReadRevoked(dir string) ([]Revoked, error) {
	b, err := os.ReadFile(filepath.Join(dir, caRevoked))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []Revoked
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", caRevoked, err)
	}
	return list, nil
}

// IssueCRL makes the CA's next CRL: v2, signed with the root key
// (SM2-with-SM3), thisUpdate now, nextUpdate after next, every revocation
// with its reason code and — for keyCompromise — its invalidity date, and
// a CRL number one above the last. It returns the PEM.
func IssueCRL(dir string, ca *CA, now time.Time, next time.Duration) ([]byte, error) {
	if next <= 0 {
		next = DefaultNextUpdate
	}
	list, err := ReadRevoked(dir)
	if err != nil {
		return nil, err
	}
	num := int64(0)
	if b, err := os.ReadFile(filepath.Join(dir, caCRLNumber)); err == nil {
		fmt.Sscan(strings.TrimSpace(string(b)), &num)
	}
	num++
	tpl := &smx509.RevocationList{
		Number:             big.NewInt(num),
		ThisUpdate:         now.UTC(),
		NextUpdate:         now.Add(next).UTC(),
		SignatureAlgorithm: smx509.SM2WithSM3,
	}
	for _, r := range list {
		sn, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return nil, fmt.Errorf("%s: bad serial %q", caRevoked, r.Serial)
		}
		e := smx509.RevocationListEntry{SerialNumber: sn, RevocationTime: r.Time, ReasonCode: Reasons[r.Reason]}
		if r.Reason == "keyCompromise" {
			// GeneralizedTime, as RFC 5280 §5.3.2 requires.
			v, err := asn1.MarshalWithParams(r.Time.UTC(), "generalized")
			if err != nil {
				return nil, err
			}
			e.ExtraExtensions = []pkix.Extension{{Id: oidInvalidityDate, Value: v}}
		}
		tpl.RevokedCertificateEntries = append(tpl.RevokedCertificateEntries, e)
	}
	der, err := smx509.CreateRevocationList(rand.Reader, tpl, ca.Cert, ca.Signer)
	if err != nil {
		return nil, fmt.Errorf("create CRL: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, caCRLNumber), []byte(fmt.Sprintln(num)), 0o644); err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// ParseCRL reads a PEM or DER CRL.
func ParseCRL(b []byte) (*smx509.RevocationList, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "X509 CRL" {
			return nil, errors.New("not a PEM CRL")
		}
		b = blk.Bytes
	}
	return smx509.ParseRevocationList(b)
}

// RevokedSince returns when a CRL says the certificate stopped being
// trustworthy — the invalidity date (keyCompromise) if the entry has one,
// else its revocation time — with the reason; ok is false when the CRL
// does not list it. The caller has checked the CRL's issuer.
func RevokedSince(crl *smx509.RevocationList, cert *smx509.Certificate) (since time.Time, reason string, ok bool) {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber == nil || e.SerialNumber.Cmp(cert.SerialNumber) != 0 {
			continue
		}
		since = e.RevocationTime
		for _, x := range e.Extensions {
			var t time.Time
			if x.Id.Equal(oidInvalidityDate) {
				if _, err := asn1.Unmarshal(x.Value, &t); err == nil && t.Before(since) {
					since = t
				}
			}
		}
		return since.UTC(), ReasonName(e.ReasonCode), true
	}
	return time.Time{}, "", false
}

// CRLs returns the CRL the server publishes (DATA_DIR/keys/crl.pem),
// none when there is none yet. A CRL that does not parse is an error:
// the server must not answer as if nothing were revoked.
func (s *FileStore) CRLs() ([]*smx509.RevocationList, error) {
	b, err := s.CRLPEM()
	if err != nil || b == nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crl != nil && bytes.Equal(s.crlPEM, b) {
		return []*smx509.RevocationList{s.crl}, nil
	}
	crl, err := ParseCRL(b)
	if err != nil {
		return nil, fmt.Errorf("keys/%s: %w", CRLFile, err)
	}
	s.crl, s.crlPEM = crl, b
	return []*smx509.RevocationList{crl}, nil
}

// CRLPEM returns the bytes of DATA_DIR/keys/crl.pem, nil when absent.
func (s *FileStore) CRLPEM() ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(keyDir(s.dir), CRLFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// InstallCRL checks a CRL from the offline CA — signed by this
// province's root, not older than the one installed — and makes it the
// one the server publishes and checks seals against.
func (s *FileStore) InstallCRL(b []byte) (*smx509.RevocationList, error) {
	crl, err := ParseCRL(b)
	if err != nil {
		return nil, err
	}
	root := s.trust.Roots()[0]
	if err := crl.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("%w: the CRL is not signed by this province's root: %v", ErrUntrusted, err)
	}
	if cur, err := s.CRLs(); err == nil && len(cur) == 1 && cur[0].Number != nil && crl.Number != nil && crl.Number.Cmp(cur[0].Number) < 0 {
		return nil, fmt.Errorf("CRL number %v is older than the installed %v", crl.Number, cur[0].Number)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.Raw})
	if err := writeAtomic(filepath.Join(keyDir(s.dir), CRLFile), out, 0o644); err != nil {
		return nil, err
	}
	return crl, nil
}
