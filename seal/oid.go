package seal

import (
	"bytes"
	"encoding/asn1"
	"math/big"
	"strings"
)

// Object identifiers, dotted (as documented in docs/seal-format.md).
const (
	OIDData          = "1.2.840.113549.1.7.1"       // RFC 5652 id-data
	OIDSignedData    = "1.2.840.113549.1.7.2"       // RFC 5652 id-signedData
	OIDGBData        = "1.2.156.10197.6.1.4.2.1"    // GB/T 35275 data
	OIDGBSignedData  = "1.2.156.10197.6.1.4.2.2"    // GB/T 35275 signedData
	OIDSM3           = "1.2.156.10197.1.401"        // SM3 digest
	OIDSM2Sign       = "1.2.156.10197.1.301.1"      // SM2-1 signature (GB/T 35275); what Sign writes
	OIDSM2WithSM3    = "1.2.156.10197.1.501"        // SM2-with-SM3 (BouncyCastle and others); accepted
	OIDContentType   = "1.2.840.113549.1.9.3"       // attribute contentType
	OIDMessageDigest = "1.2.840.113549.1.9.4"       // attribute messageDigest
	OIDSigningTime   = "1.2.840.113549.1.9.5"       // attribute signingTime
	OIDSigningCertV2 = "1.2.840.113549.1.9.16.2.47" // attribute signingCertificateV2 (RFC 5035)
	OIDCardsealLink  = "2.25.50220325918267569399580220554067971280"
	// OIDCardsealPolicy is the signed attribute naming the chain policy
	// a document follows (claim.go; docs/seal-format.md).
	OIDCardsealPolicy = "2.25.116070701233786852573848391746676075251"
	// OIDSignatureTimeStamp is id-aa-signatureTimeStampToken (RFC 3161
	// appendix A): the unsigned attribute holding a time-stamp token over
	// the signature value.
	OIDSignatureTimeStamp = "1.2.840.113549.1.9.16.2.14"
)

// Content bytes (without tag and length) of each OID, compared directly
// against parsed input so that parsing never allocates an ObjectIdentifier.
var (
	oidData               = oidBytes(1, 2, 840, 113549, 1, 7, 1)
	oidSignedData         = oidBytes(1, 2, 840, 113549, 1, 7, 2)
	oidGBData             = oidBytes(1, 2, 156, 10197, 6, 1, 4, 2, 1)
	oidGBSignedData       = oidBytes(1, 2, 156, 10197, 6, 1, 4, 2, 2)
	oidSM3                = oidBytes(1, 2, 156, 10197, 1, 401)
	oidSM2Sign            = oidBytes(1, 2, 156, 10197, 1, 301, 1)
	oidSM2WithSM3         = oidBytes(1, 2, 156, 10197, 1, 501)
	oidContentType        = oidBytes(1, 2, 840, 113549, 1, 9, 3)
	oidMessageDigest      = oidBytes(1, 2, 840, 113549, 1, 9, 4)
	oidSigningTime        = oidBytes(1, 2, 840, 113549, 1, 9, 5)
	oidSigningCertV2      = oidBytes(1, 2, 840, 113549, 1, 9, 16, 2, 47)
	oidCardsealLink       = mustOIDBytes(OIDCardsealLink)
	oidCardsealPolicy     = mustOIDBytes(OIDCardsealPolicy)
	oidSHA256             = oidBytes(2, 16, 840, 1, 101, 3, 4, 2, 1)
	oidSignatureTimeStamp = oidBytes(1, 2, 840, 113549, 1, 9, 16, 2, 14)
)

// oidBytes returns the DER content octets of an OID with small arcs.
func oidBytes(arcs ...int) []byte {
	der, err := asn1.Marshal(asn1.ObjectIdentifier(arcs))
	if err != nil {
		panic(err)
	}
	return der[2:] // every OID here is shorter than 128 bytes
}

// mustOIDBytes encodes a dotted OID whose arcs may exceed 64 bits (the
// UUID arc of 2.25.x), which encoding/asn1 cannot represent.
func mustOIDBytes(dotted string) []byte {
	parts := strings.Split(dotted, ".")
	arcs := make([]*big.Int, len(parts))
	for i, p := range parts {
		a, ok := new(big.Int).SetString(p, 10)
		if !ok || a.Sign() < 0 {
			panic("seal: bad OID " + dotted)
		}
		arcs[i] = a
	}
	if len(arcs) < 2 {
		panic("seal: bad OID " + dotted)
	}
	first := new(big.Int).Mul(arcs[0], big.NewInt(40))
	first.Add(first, arcs[1])
	out := base128(first)
	for _, a := range arcs[2:] {
		out = append(out, base128(a)...)
	}
	return out
}

// base128 is the X.690 encoding of one OID subidentifier.
func base128(a *big.Int) []byte {
	if a.Sign() == 0 {
		return []byte{0}
	}
	var rev []byte
	x := new(big.Int).Set(a)
	m := big.NewInt(0x7f)
	for x.Sign() > 0 {
		rev = append(rev, byte(new(big.Int).And(x, m).Int64()))
		x.Rsh(x, 7)
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

// dottedOID renders DER OID content octets as a dotted string, for
// reports (SigAlg).
func dottedOID(b []byte) string {
	switch {
	case bytes.Equal(b, oidSM2Sign):
		return OIDSM2Sign
	case bytes.Equal(b, oidSM2WithSM3):
		return OIDSM2WithSM3
	}
	var oid asn1.ObjectIdentifier
	full := append([]byte{0x06, byte(len(b))}, b...)
	if _, err := asn1.Unmarshal(full, &oid); err != nil {
		return "?"
	}
	return oid.String()
}
