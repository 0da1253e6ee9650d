package tsa

import (
	"bytes"
	"crypto/sha256"
	"math/big"

	"github.com/emmansun/gmsm/sm3"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Bounds on what ParseRequest accepts. A request is a hash, an optional
// policy and nonce: a few hundred bytes.
const (
	MaxRequest  = 1 << 10 // bytes of one TimeStampReq
	maxNonceLen = 32      // bytes of the nonce's INTEGER content
)

// Hash is a message-imprint algorithm a request may use.
type Hash int

// The imprint algorithms the authority accepts.
const (
	SM3 Hash = iota + 1
	SHA256
)

func (h Hash) oid() []byte {
	if h == SHA256 {
		return oidSHA256
	}
	return oidSM3
}

// Sum hashes data with the algorithm.
func (h Hash) Sum(data []byte) []byte {
	if h == SHA256 {
		s := sha256.Sum256(data)
		return s[:]
	}
	s := sm3.Sum(data)
	return s[:]
}

func (h Hash) String() string {
	if h == SHA256 {
		return "SHA-256"
	}
	return "SM3"
}

func hashOf(oid []byte) (Hash, bool) {
	switch {
	case bytes.Equal(oid, oidSM3):
		return SM3, true
	case bytes.Equal(oid, oidSHA256):
		return SHA256, true
	}
	return 0, false
}

// Request is a parsed TimeStampReq (RFC 3161 §2.4.1).
type Request struct {
	Hash    Hash
	Imprint []byte   // the hashed message, 32 bytes
	Nonce   *big.Int // nil when absent
	CertReq bool     // the token must include the TSA certificate
}

// ParseRequest decodes a TimeStampReq strictly: DER, version 1, an SM3 or
// SHA-256 imprint of the right length, no policy but the platform's, a
// nonce of at most 32 bytes, no extensions, at most MaxRequest bytes.
// Errors are *RequestError with the failure bit of the reply.
func ParseRequest(der []byte) (*Request, error) {
	if len(der) > MaxRequest {
		return nil, refuse(BadRequest, "%d bytes, more than %d", len(der), MaxRequest)
	}
	in := cryptobyte.String(der)
	var req cryptobyte.String
	if !in.ReadASN1(&req, asn1.SEQUENCE) || !in.Empty() {
		return nil, refuse(BadDataFormat, "not one DER SEQUENCE")
	}
	var version int64
	if !req.ReadASN1Integer(&version) || version != 1 {
		return nil, refuse(BadRequest, "version must be 1")
	}
	r := &Request{}
	var mi cryptobyte.String
	if !req.ReadASN1(&mi, asn1.SEQUENCE) {
		return nil, refuse(BadDataFormat, "no messageImprint")
	}
	alg, err := readAlg(&mi)
	if err != nil {
		return nil, refuse(BadDataFormat, "messageImprint.hashAlgorithm: %v", err)
	}
	h, ok := hashOf(alg)
	if !ok {
		return nil, refuse(BadAlg, "hash algorithm not accepted (SM3 or SHA-256)")
	}
	r.Hash = h
	if !mi.ReadASN1Bytes(&r.Imprint, asn1.OCTET_STRING) || !mi.Empty() || len(r.Imprint) != 32 {
		return nil, refuse(BadDataFormat, "hashedMessage must be 32 bytes of %s", h)
	}
	r.Imprint = bytes.Clone(r.Imprint)
	if req.PeekASN1Tag(asn1.OBJECT_IDENTIFIER) {
		var pol []byte
		if !req.ReadASN1Bytes(&pol, asn1.OBJECT_IDENTIFIER) {
			return nil, refuse(BadDataFormat, "bad reqPolicy")
		}
		if !bytes.Equal(pol, oidPolicy) {
			return nil, refuse(UnacceptedPolicy, "only the policy %s is offered", OIDPolicy)
		}
	}
	if req.PeekASN1Tag(asn1.INTEGER) {
		var raw cryptobyte.String
		if !req.ReadASN1(&raw, asn1.INTEGER) || len(raw) == 0 || len(raw) > maxNonceLen+1 {
			return nil, refuse(BadDataFormat, "nonce must be an INTEGER of at most %d bytes", maxNonceLen)
		}
		if raw[0]&0x80 != 0 || (len(raw) > 1 && raw[0] == 0 && raw[1]&0x80 == 0) {
			return nil, refuse(BadDataFormat, "nonce must be a positive minimal INTEGER")
		}
		r.Nonce = new(big.Int).SetBytes(raw)
	}
	if req.PeekASN1Tag(asn1.BOOLEAN) {
		if !req.ReadASN1Boolean(&r.CertReq) {
			return nil, refuse(BadDataFormat, "bad certReq")
		}
	}
	if req.PeekASN1Tag(asn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, refuse(UnacceptedExtension, "no extensions are supported")
	}
	if !req.Empty() {
		return nil, refuse(BadDataFormat, "trailing fields")
	}
	return r, nil
}

// NewRequest encodes a TimeStampReq for an imprint (a client's side, and
// tests'): version 1, no policy, the nonce if not nil, certReq true.
func NewRequest(h Hash, imprint []byte, nonce *big.Int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		addImprint(b, h, imprint)
		if nonce != nil {
			b.AddASN1BigInt(nonce)
		}
		b.AddASN1Boolean(true)
	})
	return b.BytesOrPanic()
}

func addImprint(b *cryptobyte.Builder, h Hash, imprint []byte) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addAlgNull(b, h.oid())
		b.AddASN1OctetString(imprint)
	})
}

func addOID(b *cryptobyte.Builder, oid []byte) {
	b.AddASN1(asn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(oid) })
}

// addAlg writes an AlgorithmIdentifier with absent parameters.
func addAlg(b *cryptobyte.Builder, oid []byte) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { addOID(b, oid) })
}

// addAlgNull writes an AlgorithmIdentifier with NULL parameters, as
// message imprints are usually written.
func addAlgNull(b *cryptobyte.Builder, oid []byte) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addOID(b, oid)
		b.AddASN1NULL()
	})
}

// readAlg reads an AlgorithmIdentifier with absent or NULL parameters.
func readAlg(s *cryptobyte.String) ([]byte, error) {
	var alg cryptobyte.String
	var oid []byte
	if !s.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1Bytes(&oid, asn1.OBJECT_IDENTIFIER) {
		return nil, malformed("not an AlgorithmIdentifier")
	}
	if !alg.Empty() {
		var null cryptobyte.String
		if !alg.ReadASN1(&null, asn1.NULL) || !null.Empty() || !alg.Empty() {
			return nil, malformed("algorithm parameters must be absent or NULL")
		}
	}
	return oid, nil
}
