package lifecycle

import (
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// crlSource is the keystore's CRL (keys.FileStore: DATA_DIR/keys/crl.pem,
// installed with 'cardseal keys crl').
type crlSource interface {
	CRLs() ([]*smx509.RevocationList, error)
	CRLPEM() ([]byte, error)
}

// CRLs returns the certificate revocation lists every verification of
// the service checks seals against (issue 17): none when the keystore
// has none. An unreadable CRL is an error, never "nothing revoked".
func (s *Service) CRLs() ([]*smx509.RevocationList, error) {
	if src, ok := s.keys.(crlSource); ok {
		return src.CRLs()
	}
	return nil, nil
}

// CRL returns the current CRL (PEM) to publish at the stable URL new
// certificates name, nil when there is none.
func (s *Service) CRL() ([]byte, error) {
	if src, ok := s.keys.(crlSource); ok {
		return src.CRLPEM()
	}
	return nil, nil
}

// reportKey is the cache key of a verification: the PDF and the CRLs it
// was judged against, so a new CRL is applied at once.
func reportKey(pdf []byte, crls []*smx509.RevocationList) [32]byte {
	key := sm3.Sum(pdf)
	if len(crls) == 0 {
		return key
	}
	h := sm3.New()
	h.Write(key[:])
	for _, c := range crls {
		h.Write(c.Raw)
	}
	copy(key[:], h.Sum(nil))
	return key
}
