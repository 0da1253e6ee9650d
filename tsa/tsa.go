// Package tsa is the platform's time-stamping authority and the parser of
// its tokens (RFC 3161 with the SM2/SM3 profile of docs/seal-format.md;
// issue 17). A token is a CMS SignedData whose encapsulated content is a
// TSTInfo: the SM3 (or SHA-256) imprint of the stamped data, a serial
// number unique across every instance of the service, and the time. It
// is signed with the TSA key (keys.IsTSA: extendedKeyUsage timeStamping,
// critical) under the province root.
//
// Issuance (Authority) needs a serial-number source shared by every
// instance (the Serials port, which package store implements) and a
// clock checked against a reference clock: beyond the allowed drift the
// authority refuses to stamp (ErrClockDrift) and logs it as an error.
//
// Parsing and checking (ParseToken, Token.Verify) make no trust decision:
// whether the TSA certificate chains to a trusted root, was valid at the
// token's time and is not revoked belongs to the verifier.
package tsa

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Errors callers branch on.
var (
	// ErrBadRequest: the bytes are not a time-stamp request this TSA
	// accepts. Every *RequestError matches it.
	ErrBadRequest = errors.New("tsa: bad time-stamp request")
	// ErrMalformed: the bytes are not a token (or reply) this package
	// accepts.
	ErrMalformed = errors.New("tsa: malformed time-stamp token")
	// ErrImprint: the token stamps other data.
	ErrImprint = errors.New("tsa: the token does not stamp this data")
	// ErrBadSignature: the token's signature, message digest or signing
	// certificate binding does not hold.
	ErrBadSignature = errors.New("tsa: bad token signature")
	// ErrNotTSA: the token's signer certificate is not a time-stamping
	// certificate (extendedKeyUsage timeStamping, critical).
	ErrNotTSA = errors.New("tsa: the signer is not a time-stamping authority")
	// ErrClockDrift: the clock differs from the reference clock by more
	// than the allowed drift; no timestamp is issued until it is fixed.
	ErrClockDrift = errors.New("tsa: clock drift beyond the allowed limit; time-stamping stopped")
	// ErrUnavailable: the authority cannot issue now (no serial number).
	ErrUnavailable = errors.New("tsa: time-stamping unavailable")
)

// RequestError is a refused request, with the PKIFailureInfo bit that the
// reply carries (RFC 3161 §2.4.2).
type RequestError struct {
	FailInfo int // bit number: BadAlg, BadRequest, …
	Reason   string
}

func (e *RequestError) Error() string { return "tsa: bad time-stamp request: " + e.Reason }

// Is makes every RequestError match ErrBadRequest.
func (e *RequestError) Is(target error) bool { return target == ErrBadRequest }

// PKIFailureInfo bits (RFC 3161 §2.4.2).
const (
	BadAlg              = 0
	BadRequest          = 2
	BadDataFormat       = 5
	TimeNotAvailable    = 14
	UnacceptedPolicy    = 15
	UnacceptedExtension = 16
	SystemFailure       = 25
)

// PKIStatus values.
const (
	StatusGranted   = 0
	StatusRejection = 2
	StatusWaiting   = 3
)

func refuse(bit int, format string, args ...any) error {
	return &RequestError{FailInfo: bit, Reason: fmt.Sprintf(format, args...)}
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Object identifiers, dotted, as documented in docs/seal-format.md.
const (
	OIDTSTInfo = "1.2.840.113549.1.9.16.1.4" // id-ct-TSTInfo
	// OIDPolicy is the policy of the platform's timestamps: a UUID OID
	// (ITU-T X.667) as the cardseal link attribute's.
	OIDPolicy = "2.25.281787080282649599919506760070129827857"
	// OIDSignatureTimeStamp is id-aa-signatureTimeStampToken, the
	// unsigned attribute of a SignerInfo that carries a token over its
	// signature value (CAdES-T, PAdES B-T).
	OIDSignatureTimeStamp = "1.2.840.113549.1.9.16.2.14"
)

// oidBytes returns the DER content octets of a dotted OID; arcs may be
// larger than 64 bits (UUID OIDs).
func oidBytes(dotted string) []byte {
	parts := strings.Split(dotted, ".")
	arcs := make([]*big.Int, len(parts))
	for i, p := range parts {
		a, ok := new(big.Int).SetString(p, 10)
		if !ok || a.Sign() < 0 || len(parts) < 2 {
			panic("tsa: bad OID " + dotted)
		}
		arcs[i] = a
	}
	first := new(big.Int).Mul(arcs[0], big.NewInt(40))
	out := base128(first.Add(first, arcs[1]))
	for _, a := range arcs[2:] {
		out = append(out, base128(a)...)
	}
	return out
}

// base128 is the X.690 encoding of one OID subidentifier.
func base128(a *big.Int) []byte {
	var rev []byte
	x := new(big.Int).Set(a)
	for {
		rev = append(rev, byte(x.Uint64()&0x7f))
		x.Rsh(x, 7)
		if x.Sign() == 0 {
			break
		}
	}
	out := make([]byte, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
		if i != len(rev)-1 {
			out[i] |= 0x80
		}
	}
	return out
}

var (
	oidData          = oidBytes("1.2.840.113549.1.7.1")
	oidSignedData    = oidBytes("1.2.840.113549.1.7.2")
	oidTSTInfo       = oidBytes(OIDTSTInfo)
	oidSM3           = oidBytes("1.2.156.10197.1.401")
	oidSHA256        = oidBytes("2.16.840.1.101.3.4.2.1")
	oidSM2Sign       = oidBytes("1.2.156.10197.1.301.1")
	oidSM2WithSM3    = oidBytes("1.2.156.10197.1.501")
	oidContentType   = oidBytes("1.2.840.113549.1.9.3")
	oidMessageDigest = oidBytes("1.2.840.113549.1.9.4")
	oidSigningCertV2 = oidBytes("1.2.840.113549.1.9.16.2.47")
	oidSigningCert   = oidBytes("1.2.840.113549.1.9.16.2.12")
	oidPolicy        = oidBytes(OIDPolicy)
	// OIDSignatureTimeStampBytes are the DER content octets of
	// OIDSignatureTimeStamp, for packages that build or scan unsigned
	// attributes.
	OIDSignatureTimeStampBytes = oidBytes(OIDSignatureTimeStamp)
)
