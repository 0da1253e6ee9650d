package keys

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/org"
)

// Store gives the signing identities of a cardseal installation.
type Store interface {
	// SealIdentity returns an organisation's seal key and certificate
	// (ErrUnknownOrg when the keystore holds none for the code). Which
	// organisations exist, their names and retirement, is the registry's
	// (the database), not the keystore's.
	SealIdentity(code string) (*Identity, error)
	PlatformIdentity() (*Identity, error)
	TrustList() *TrustList
	// DataKey is the 32-byte key that protects personal data at rest.
	DataKey() ([]byte, error)
}

var _ Store = (*FileStore)(nil)

// ErrUnknownOrg is returned for a division code with no organisation.
var ErrUnknownOrg = org.ErrUnknown

// ErrNotInitialised is returned when a data directory has no keys.
var ErrNotInitialised = errors.New("data directory is not initialised")

// FileStore keeps keys and certificates in a data directory:
//
//	keys/trust.pem         trusted roots (this province's first)
//	keys/root.crt          the province root certificate
//	keys/root.key          the root key — demo installations only; a real
//	                       province keeps it on an offline machine
//	keys/platform.crt|key  QR-token and status-list signing
//	keys/tsa.crt|key       the platform's time-stamping authority (RFC 3161)
//	keys/orgs/CODE.crt|key seal certificate and key per organisation
//	keys/orgs/CODE.png     optional uploaded seal picture
//
// Keys are encrypted PKCS#8 (EncryptKey); the passphrase comes from
// outside the directory (Passphrase). Decrypted keys are cached per
// process.
type FileStore struct {
	dir   string
	pass  []byte
	trust *TrustList

	mu    sync.Mutex
	cache map[string]*Identity
	// dataKey is the unwrapped data key (datakey.go), once loaded.
	dataKey []byte
	// crl is the parsed keys/crl.pem, for the bytes crlPEM (crl.go).
	crl    *smx509.RevocationList
	crlPEM []byte
}

func keyDir(dir string) string { return filepath.Join(dir, "keys") }

// Initialised reports whether dir holds a cardseal keystore.
func Initialised(dir string) bool {
	_, err := os.Stat(filepath.Join(keyDir(dir), "trust.pem"))
	return err == nil
}

// OpenDir opens the keystore of a data directory.
func OpenDir(dir string, passphrase []byte) (*FileStore, error) {
	kd := keyDir(dir)
	bundle, err := os.ReadFile(filepath.Join(kd, "trust.pem"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (run cardseal init)", ErrNotInitialised, dir)
	}
	if err != nil {
		return nil, err
	}
	trust, err := ParseTrustList(bundle)
	if err != nil {
		return nil, err
	}
	// Other provinces' roots (Art. 7a), vouched for by our root.
	if b, err := os.ReadFile(filepath.Join(kd, "trust-bundle.pem")); err == nil {
		if trust, err = WithBundle(trust, b); err != nil {
			return nil, fmt.Errorf("keys/trust-bundle.pem: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	s := &FileStore{dir: dir, pass: passphrase, trust: trust, cache: map[string]*Identity{}}
	return s, nil
}

// Dir returns the data directory.
func (s *FileStore) Dir() string { return s.dir }

// TrustList returns the trusted roots.
func (s *FileStore) TrustList() *TrustList { return s.trust }

// SealOrgs returns the organisations the keystore holds a seal
// certificate for, as their certificates name them (code, level, name at
// issue), sorted by code. The first start of a server copies them into
// the registry; afterwards the registry owns names and retirement.
func (s *FileStore) SealOrgs() ([]org.Org, error) {
	crts, err := filepath.Glob(filepath.Join(keyDir(s.dir), "orgs", "*.crt"))
	if err != nil {
		return nil, err
	}
	sort.Strings(crts)
	var out []org.Org
	for _, p := range crts {
		cert, err := readCert(p)
		if err != nil {
			return nil, err
		}
		o, err := Profile(cert)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// SealIdentity returns an organisation's seal key and certificate.
func (s *FileStore) SealIdentity(code string) (*Identity, error) {
	if _, _, err := org.NormalizeCode(code); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(keyDir(s.dir), sealName(code)+".crt")); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: no seal key for %s", ErrUnknownOrg, code)
	}
	return s.identity(sealName(code))
}

// PlatformIdentity returns the QR-token signing key and certificate.
func (s *FileStore) PlatformIdentity() (*Identity, error) { return s.identity("platform") }

// RootCA returns the root CA when its key is present (demo only).
func (s *FileStore) RootCA() (*CA, error) {
	id, err := s.identity("root")
	if err != nil {
		return nil, err
	}
	return &CA{Cert: id.Cert, Signer: id.Signer}, nil
}

// SealPicture returns an uploaded seal picture for the organisation, or
// nil when it has none.
func (s *FileStore) SealPicture(code string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(keyDir(s.dir), "orgs", code+".png"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (s *FileStore) identity(name string) (*Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.cache[name]; ok {
		return id, nil
	}
	base := filepath.Join(keyDir(s.dir), name)
	cert, err := readCert(base + ".crt")
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(base + ".key")
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", name, err)
	}
	key, err := DecryptKey(kb, s.pass)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", name, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("load key %s: key does not match its certificate", name)
	}
	id := &Identity{Signer: key, Cert: cert}
	if name != "root" {
		id.Chain = s.chainFor(cert)
	}
	s.cache[name] = id
	return id, nil
}

func (s *FileStore) chainFor(cert *smx509.Certificate) []*smx509.Certificate {
	for _, r := range s.trust.Roots() {
		if cert.CheckSignatureFrom(r) == nil {
			return []*smx509.Certificate{r}
		}
	}
	return nil
}

func readCert(path string) (*smx509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load certificate: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("load certificate %s: not a PEM certificate", path)
	}
	return smx509.ParseCertificate(blk.Bytes)
}

func certPEM(c *smx509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// ProvinceConfig is the configuration of a new installation.
type ProvinceConfig struct {
	Province string // 吉林省
	RootName string // the root CA's organisation, e.g. 吉林省卫生健康委员会
	Orgs     []org.Org
}

// Demo is the demo province of `cardseal init --demo`.
var Demo = ProvinceConfig{
	Province: "吉林省",
	RootName: "吉林省卫生健康委员会(演示)",
	Orgs: []org.Org{
		{Code: "220102", Level: org.County, Name: "长春市南关区卫生健康局"},
		{Code: "220102001", Level: org.Township, Name: "永吉街道办事处"},
		{Code: "220102002", Level: org.Township, Name: "桃源街道办事处"},
		{Code: "220102001001", Level: org.Village, Name: "永安社区居民委员会"},
		{Code: "220102002001", Level: org.Village, Name: "桃源社区居民委员会"},
	},
}

// InitDir creates a keystore in dir: a root CA (its key kept in the
// directory — demo only), the platform key, and a seal key and
// certificate for every organisation. It refuses to overwrite.
func InitDir(dir string, cfg ProvinceConfig, passphrase []byte, now time.Time) error {
	if len(passphrase) == 0 {
		return ErrNoPassphrase
	}
	if Initialised(dir) {
		return fmt.Errorf("%s already holds a keystore", dir)
	}
	kd := keyDir(dir)
	if err := os.MkdirAll(filepath.Join(kd, "orgs"), 0o700); err != nil {
		return err
	}
	rootKey, err := NewKey()
	if err != nil {
		return err
	}
	ca, err := NewRoot(rootKey, cfg.Province, cfg.RootName, now)
	if err != nil {
		return err
	}
	write := func(name string, cert *smx509.Certificate, key *sm2.PrivateKey) error {
		base := filepath.Join(kd, name)
		if err := os.WriteFile(base+".crt", certPEM(cert), 0o644); err != nil {
			return err
		}
		pk, err := EncryptKey(key, passphrase)
		if err != nil {
			return err
		}
		return os.WriteFile(base+".key", pk, 0o600)
	}
	if err := write("root", ca.Cert, rootKey); err != nil {
		return err
	}
	pkey, err := NewKey()
	if err != nil {
		return err
	}
	pcert, err := ca.IssuePlatform(pkey.Public(), cfg.Province+"生育服务卡平台", now)
	if err != nil {
		return err
	}
	if err := write("platform", pcert, pkey); err != nil {
		return err
	}
	tkey, err := NewKey()
	if err != nil {
		return err
	}
	tcert, err := ca.IssueTSA(tkey.Public(), cfg.Province+"生育服务卡平台时间戳服务", now)
	if err != nil {
		return err
	}
	if err := write(tsaName, tcert, tkey); err != nil {
		return err
	}
	for _, o := range cfg.Orgs {
		k, err := NewKey()
		if err != nil {
			return err
		}
		c, err := ca.IssueSeal(k.Public(), o, now)
		if err != nil {
			return err
		}
		if err := write(filepath.Join("orgs", o.Code), c, k); err != nil {
			return err
		}
	}
	// trust.pem last: its presence marks a complete keystore.
	return os.WriteFile(filepath.Join(kd, "trust.pem"), certPEM(ca.Cert), 0o644)
}

// InitServerDir creates the keystore of a server that never holds the
// root key: the trust list is the given PEM bundle (this province's root
// first, as copied from the offline CA's trust.pem or root.crt), with no
// root key, no platform key and no organisations yet. Keys come later
// through certificate requests (NewSealRequest, Import). It refuses to
// overwrite.
func InitServerDir(dir string, bundle []byte) error {
	if Initialised(dir) {
		return fmt.Errorf("%s already holds a keystore", dir)
	}
	trust, err := ParseTrustList(bundle)
	if err != nil {
		return err
	}
	kd := keyDir(dir)
	if err := os.MkdirAll(filepath.Join(kd, "orgs"), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(kd, "root.crt"), certPEM(trust.Roots()[0]), 0o644); err != nil {
		return err
	}
	// trust.pem last: its presence marks a complete keystore.
	return os.WriteFile(filepath.Join(kd, "trust.pem"), trust.PEM(), 0o644)
}

// GetOrg returns the organisation of the province configuration with the
// code: a new installation's organisations before the registry has them
// (and the demo province in tests).
func (p ProvinceConfig) GetOrg(_ context.Context, code string) (org.Org, error) {
	for _, o := range p.Orgs {
		if o.Code == code {
			return o, nil
		}
	}
	return org.Org{}, fmt.Errorf("%w: %s", ErrUnknownOrg, code)
}
