// Package seal owns the CMS SignedData of one cardseal electronic seal
// (docs/seal-format.md): it builds the detached SM2/SM3 signature that the
// signer embeds in a PDF revision's /Contents, parses such a signature
// strictly, and checks it cryptographically.
//
// A seal signs the SM3 digest of the PDF's /ByteRange bytes. Besides the
// usual CMS signed attributes (contentType, messageDigest, signingTime,
// signingCertificateV2) it carries the cardseal attribute (Link): the
// sealing organisation's level and division code, the document's ID and
// the SM3 digest of the previous seal's CMS, which chains the seals of one
// document together.
//
// Parse and Verify make no trust decisions: which certificates are trusted,
// and whether the chain of seals is complete and in order, is the
// verifier's business.
package seal

import (
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/sm3"
)

// Errors callers branch on.
var (
	// ErrMalformed: the bytes are not a CMS this package accepts. Every
	// *FormatError matches it.
	ErrMalformed = errors.New("seal: malformed CMS")
	// ErrDigestMismatch: the messageDigest attribute is not the digest of
	// the signed bytes (the document was changed).
	ErrDigestMismatch = errors.New("seal: message digest mismatch")
	// ErrBadSignature: the SM2 signature over the signed attributes is not
	// valid for the signer certificate's key.
	ErrBadSignature = errors.New("seal: bad signature")
	// ErrCertMismatch: the signer certificate is missing, or does not match
	// the one the signed attributes name (signingCertificateV2).
	ErrCertMismatch = errors.New("seal: signer certificate mismatch")
	// ErrInvalidLink: a Link that cannot be encoded (Sign) or decoded
	// (Parse wraps it together with ErrMalformed).
	ErrInvalidLink = errors.New("seal: invalid cardseal link")
)

// FormatError reports where a CMS is malformed. It matches ErrMalformed
// with errors.Is.
type FormatError struct {
	Field  string // the part of the structure, e.g. "signerInfo.signedAttrs"
	Reason string
	Err    error // optional underlying error
}

func (e *FormatError) Error() string {
	s := "seal: malformed " + e.Field + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes every FormatError match ErrMalformed.
func (e *FormatError) Is(target error) bool { return target == ErrMalformed }

func (e *FormatError) Unwrap() error { return e.Err }

func malformed(field, format string, args ...any) error {
	return &FormatError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Digest returns SM3(der): the value the next seal's Link.Prev holds.
func Digest(der []byte) []byte {
	h := sm3.Sum(der)
	return h[:]
}
