package keys

import (
	"crypto"

	"github.com/emmansun/gmsm/smx509"
)

// Identity is a signing key as the signer sees it: a crypto.Signer and its
// certificate, plus the issuing CA certificates (for this province's
// organisations: just the root). The key may live in a file or in a
// hardware module; nothing that signs needs to know which.
//
// Signer must produce SM2 signatures when called as
// Signer.Sign(rand, message, sm2.DefaultSM2SignerOpts): the argument is the
// message (the Z value and SM3 are applied inside) and the result is the
// DER SEQUENCE{r, s}.
type Identity struct {
	Signer crypto.Signer
	Cert   *smx509.Certificate
	Chain  []*smx509.Certificate
}
