package keys

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/org"
)

// Key rotation on a server that does not hold the root key (issue 9).
//
// A new key is first a pending key, beside the current one, which keeps
// working:
//
//	keys/orgs/CODE.pending.key   new seal key, encrypted like every key
//	keys/orgs/CODE.pending.csr   its certificate request (subject = profile)
//	keys/platform.pending.key|csr
//
// Import takes the certificate the offline CA issued for the request: it
// must chain to this province's root, certify the pending key, and name
// the organisation the request named. The current certificate moves to
// keys/archive/ (for the record: seals made with it carry it and keep
// verifying), the pending key becomes the current key, and a new
// organisation is added to orgs.json. The old private key is not kept.

// Errors of the request / import flow.
var (
	ErrPending     = errors.New("a certificate request is already pending")
	ErrNoPending   = errors.New("no pending key: create a certificate request first")
	ErrKeyMismatch = errors.New("certificate does not certify the pending key")
	ErrOrgMismatch = errors.New("certificate does not name the organisation that requested it")
)

const platformName = "platform"

func (s *FileStore) province() (province, commission string) {
	root := s.trust.Roots()[0]
	return Province(root), strings.Join(root.Subject.Organization, " ")
}

// PlatformName is the default CN of this province's platform certificate.
func (s *FileStore) PlatformName() string {
	p, _ := s.province()
	return p + "生育服务卡平台"
}

// base returns the keystore path of an identity without extension.
func (s *FileStore) base(name string) string { return filepath.Join(keyDir(s.dir), name) }

func sealName(code string) string { return filepath.Join("orgs", code) }

// RequestSeal generates a new seal key for the organisation, stores it
// encrypted as the organisation's pending key and returns the PEM
// certificate request to take to the offline CA. An organisation already
// with a certificate keeps its level; its name is the registry's, so a
// renamed organisation's next certificate carries the new name. A pending request is kept unless
// replace is set.
func (s *FileStore) RequestSeal(o org.Org, replace bool) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if cur, err := s.certifiedOrg(o.Code); err == nil && cur.Level != o.Level {
		return nil, fmt.Errorf("%w: %s is certified as a %s, the request says %s", ErrOrgMismatch, o.Code, cur.Level, o.Level)
	}
	province, _ := s.province()
	return s.request(sealName(o.Code), replace, func(k *sm2.PrivateKey) ([]byte, error) { return NewSealRequest(k, o, province) })
}

// RequestPlatform is RequestSeal for the platform's QR-signing key; name
// is the certificate's CN (PlatformName when empty).
func (s *FileStore) RequestPlatform(name string, replace bool) ([]byte, error) {
	if name == "" {
		name = s.PlatformName()
	}
	province, commission := s.province()
	return s.request(platformName, replace, func(k *sm2.PrivateKey) ([]byte, error) {
		return NewPlatformRequest(k, province, commission, name)
	})
}

func (s *FileStore) request(name string, replace bool, makeCSR func(*sm2.PrivateKey) ([]byte, error)) ([]byte, error) {
	if len(s.pass) == 0 {
		return nil, ErrNoPassphrase
	}
	base := s.base(name)
	if _, err := os.Stat(base + ".pending.key"); err == nil && !replace {
		return nil, fmt.Errorf("%w for %s (%s.pending.csr)", ErrPending, name, base)
	}
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	csr, err := makeCSR(key)
	if err != nil {
		return nil, err
	}
	kb, err := EncryptKey(key, s.pass)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o700); err != nil {
		return nil, err
	}
	// The key before the request: a request without its key is useless,
	// a key without its request is harmless.
	if err := writeAtomic(base+".pending.key", kb, 0o600); err != nil {
		return nil, err
	}
	if err := writeAtomic(base+".pending.csr", csr, 0o644); err != nil {
		return nil, err
	}
	return csr, nil
}

// PendingRequest returns the pending certificate request of an identity
// ("platform" or a division code), or ErrNoPending.
func (s *FileStore) PendingRequest(id string) (*Request, error) {
	name := platformName
	switch id {
	case platformName, tsaName:
		name = id
	default:
		name = sealName(id)
	}
	return s.pendingRequest(name)
}

func (s *FileStore) pendingRequest(name string) (*Request, error) {
	b, err := os.ReadFile(s.base(name) + ".pending.csr")
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s)", ErrNoPending, name)
	}
	if err != nil {
		return nil, err
	}
	return ParseRequest(b)
}

// Imported describes what Import changed.
type Imported struct {
	Platform bool
	TSA      bool    // the time-stamping certificate
	Org      org.Org // seal certificates
	NewOrg   bool    // the organisation had no seal certificate before
	Archived string  // where the replaced certificate went ("" if none)
}

// ParseCertificatePEM reads one PEM certificate.
func ParseCertificatePEM(b []byte) (*smx509.Certificate, error) {
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("not a single PEM certificate")
	}
	return smx509.ParseCertificate(blk.Bytes)
}

// Import installs a certificate issued for a pending request: it must be
// valid now, chain to this province's root (the first of the trust list),
// follow the seal or platform profile, certify the pending key, and name
// the organisation the request named. The current certificate is archived
// and the pending key becomes current. Import is safe to run again after
// an interruption.
func (s *FileStore) Import(cert *smx509.Certificate, now time.Time) (*Imported, error) {
	root, err := s.trust.Verify(cert, nil, now)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(root.Raw, s.trust.Roots()[0].Raw) {
		return nil, fmt.Errorf("%w: issued by %q, not this province's root", ErrUntrusted, root.Subject.CommonName)
	}
	var name string
	res := &Imported{}
	if IsPlatform(cert) {
		res.Platform, name = true, platformName
	} else if IsTSA(cert) {
		res.TSA, name = true, tsaName
	} else {
		o, err := Profile(cert)
		if err != nil {
			return nil, err
		}
		res.Org, name = o, sealName(o.Code)
	}
	req, err := s.pendingRequest(name)
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(s.base(name) + ".pending.key")
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s)", ErrNoPending, name)
	} else if err != nil {
		return nil, err
	}
	key, err := DecryptKey(kb, s.pass)
	if err != nil {
		return nil, fmt.Errorf("load pending key %s: %w", name, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) || !key.PublicKey.Equal(req.PublicKey()) {
		return nil, ErrKeyMismatch
	}
	switch {
	case res.Platform && (!req.Platform || req.Name != cert.Subject.CommonName):
		return nil, fmt.Errorf("%w: platform %q, requested %q", ErrOrgMismatch, cert.Subject.CommonName, req.Name)
	case res.TSA && (!req.TSA || req.Name != cert.Subject.CommonName):
		return nil, fmt.Errorf("%w: time-stamping %q, requested %q", ErrOrgMismatch, cert.Subject.CommonName, req.Name)
	case !res.Platform && !res.TSA && (req.Platform || req.TSA || req.Org != res.Org):
		return nil, fmt.Errorf("%w: certificate for %s %s %q, requested %s %s %q", ErrOrgMismatch, res.Org.Level, res.Org.Code, res.Org.Name, req.Org.Level, req.Org.Code, req.Org.Name)
	}

	base := s.base(name)
	_, statErr := os.Stat(base + ".crt")
	res.NewOrg = !res.Platform && !res.TSA && errors.Is(statErr, os.ErrNotExist)
	if old, err := readCert(base + ".crt"); err == nil && !bytes.Equal(old.Raw, cert.Raw) {
		dst := filepath.Join(keyDir(s.dir), "archive", name+"-"+old.SerialNumber.Text(16)+".crt")
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, err
		}
		if err := writeAtomic(dst, certPEM(old), 0o644); err != nil {
			return nil, err
		}
		res.Archived = dst
	}
	if err := writeAtomic(base+".crt", certPEM(cert), 0o644); err != nil {
		return nil, err
	}
	// Between the certificate and the key a reader sees a mismatch (and
	// says so); running Import again completes the change.
	if err := os.Rename(base+".pending.key", base+".key"); err != nil {
		return nil, err
	}
	if err := os.Remove(base + ".pending.csr"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	s.mu.Lock()
	delete(s.cache, name)
	s.mu.Unlock()
	return res, nil
}

// certifiedOrg is the organisation as its current seal certificate names
// it.
func (s *FileStore) certifiedOrg(code string) (org.Org, error) {
	cert, err := readCert(s.base(sealName(code)) + ".crt")
	if err != nil {
		return org.Org{}, err
	}
	return Profile(cert)
}

// CertStatus is one certificate of the keystore, for `cardseal keys status`.
type CertStatus struct {
	Kind    string              // "root", "platform", "tsa" or "seal"
	ID      string              // division code, "platform" or "root"
	Name    string              // organisation or certificate name
	Cert    *smx509.Certificate // nil when there is no current certificate
	Pending bool                // a request awaits its certificate
	Err     error               // the certificate file could not be read
}

// Expired reports whether the certificate has ended (or not begun) at t.
func (c CertStatus) Expired(t time.Time) bool {
	return c.Cert != nil && (t.After(c.Cert.NotAfter) || t.Before(c.Cert.NotBefore))
}

// Status lists the trusted roots, the platform certificate and every
// organisation's seal certificate, with pending requests — including
// those of organisations without a certificate yet. Reading it needs no
// passphrase.
func (s *FileStore) Status() []CertStatus {
	var out []CertStatus
	for _, r := range s.trust.Roots() {
		out = append(out, CertStatus{Kind: "root", ID: "root", Name: r.Subject.CommonName, Cert: r})
	}
	out = append(out, s.status("platform", platformName, s.PlatformName()))
	out = append(out, s.status("tsa", tsaName, s.TSAName()))
	seen := map[string]bool{}
	orgs, _ := s.SealOrgs() // an unreadable certificate shows below as an error
	for _, o := range orgs {
		out = append(out, s.status("seal", o.Code, o.Name))
		seen[o.Code] = true
	}
	crts, _ := filepath.Glob(filepath.Join(keyDir(s.dir), "orgs", "*.crt"))
	sort.Strings(crts)
	for _, p := range crts {
		code := strings.TrimSuffix(filepath.Base(p), ".crt")
		if !seen[code] {
			out = append(out, s.status("seal", code, ""))
			seen[code] = true
		}
	}
	pend, _ := filepath.Glob(filepath.Join(keyDir(s.dir), "orgs", "*.pending.key"))
	sort.Strings(pend)
	for _, p := range pend {
		code := strings.TrimSuffix(filepath.Base(p), ".pending.key")
		if seen[code] {
			continue
		}
		st := CertStatus{Kind: "seal", ID: code, Pending: true}
		if r, err := s.pendingRequest(sealName(code)); err == nil {
			st.Name = r.Org.Name
		} else {
			st.Err = err
		}
		out = append(out, st)
	}
	return out
}

func (s *FileStore) status(kind, id, name string) CertStatus {
	n := platformName
	switch kind {
	case "seal":
		n = sealName(id)
	case "tsa":
		n = tsaName
	}
	st := CertStatus{Kind: kind, ID: id, Name: name}
	base := s.base(n)
	if _, err := os.Stat(base + ".pending.key"); err == nil {
		st.Pending = true
	}
	if _, err := os.Stat(base + ".crt"); errors.Is(err, os.ErrNotExist) {
		return st
	}
	st.Cert, st.Err = readCert(base + ".crt")
	if (kind == "platform" || kind == "tsa") && st.Cert != nil {
		st.Name = st.Cert.Subject.CommonName
	}
	return st
}

// writeAtomic replaces a file through a temporary file and a rename, so a
// reader sees the old or the new content, never half of it.
func writeAtomic(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
