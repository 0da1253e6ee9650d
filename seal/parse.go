package seal

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math/big"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/internal/lru"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Bounds on what Parse accepts.
const (
	MaxLen        = 64 << 10 // bytes of one CMS
	maxCerts      = 8
	maxAttrs      = 32
	maxDigestAlgs = 4
	maxSigBytes   = 128
)

// certs remembers parsed certificates by their DER: every seal of a
// province carries one of a few organisation certificates, and parsing one
// was 6% of verifying a card (docs/performance.md). Certificates are
// never modified after parsing. Bounded.
var certs = lru.New[string, *smx509.Certificate](maxCachedCerts)

const maxCachedCerts = 1024

// parseCert parses a DER certificate, once per distinct DER.
func parseCert(der []byte) (*smx509.Certificate, error) {
	if c, ok := certs.Get(string(der)); ok {
		return c, nil
	}
	der = bytes.Clone(der) // not the caller's buffer: the cache outlives it
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	certs.Put(string(der), c)
	return c, nil
}

// Signed is a parsed seal. Parse fills every field; Verify checks it
// against the digest of the signed bytes.
type Signed struct {
	DER            []byte              // the CMS ContentInfo, exactly
	Signer         *smx509.Certificate // the certificate the SignerInfo names
	Certs          []*smx509.Certificate
	SigningTime    time.Time // UTC
	Link           *Link     // the cardseal attribute; nil when absent (foreign seals)
	Claim          *Claim    // the cardseal policy attribute; nil when absent (the ordinary policy)
	Digest         []byte    // the messageDigest attribute
	SigAlg         string    // dotted OID: OIDSM2Sign or OIDSM2WithSM3
	GBContentTypes bool      // GB/T 35275 content types rather than RFC 5652
	// HasSigningCertV2 reports a signingCertificateV2 attribute. When
	// present, Verify requires it to name Signer; when absent, the signer
	// certificate is bound to the signature only by its key, and the
	// verifier may say so.
	HasSigningCertV2 bool
	// Timestamp is the DER time-stamp token of the unsigned attribute
	// id-aa-signatureTimeStampToken, nil when there is none. It is not
	// covered by the signature; the verifier checks that it stamps
	// Signature().
	Timestamp []byte

	signedAttrs []byte // DER SET OF Attribute (tag 0x31), the signed message
	signature   []byte
	essCert     *essCertID
}

// essCertID is the first ESSCertIDv2 of signingCertificateV2.
type essCertID struct {
	sha256     bool // hash algorithm SHA-256 (the RFC 5035 default) instead of SM3
	hash       []byte
	issuer     []byte   // DER Name of the directoryName, nil when issuerSerial absent
	serial     *big.Int // nil when issuerSerial absent
	hasSerials bool
}

// TrimPadding returns the single DER element at the start of b (the
// /Contents of a PDF signature dictionary, decoded from hex) and checks
// that only 0x00 bytes follow it.
func TrimPadding(b []byte) ([]byte, error) {
	s := cryptobyte.String(b)
	var elem cryptobyte.String
	var tag asn1.Tag
	if !s.ReadAnyASN1Element(&elem, &tag) || tag != asn1.SEQUENCE {
		return nil, malformed("contents", "no DER SEQUENCE at the start")
	}
	for i, c := range s {
		if c != 0 {
			return nil, malformed("contents", "byte %#02x at offset %d after the CMS; only zero padding may follow", c, len(elem)+i)
		}
	}
	return b[:len(elem)], nil
}

// Parse decodes a seal strictly: exactly one DER ContentInfo carrying a
// detached SignedData with one SignerInfo, SM3 digests, an SM2 signature
// (1.2.156.10197.1.301.1 or 1.2.156.10197.1.501), signed attributes
// with one contentType, messageDigest and signingTime each, and the
// signer's certificate among the certificates. Errors match ErrMalformed,
// or ErrCertMismatch when the signer certificate is not included.
func Parse(der []byte) (*Signed, error) {
	if len(der) > MaxLen {
		return nil, malformed("contentInfo", "%d bytes, more than %d", len(der), MaxLen)
	}
	s := &Signed{DER: bytes.Clone(der)}
	in := cryptobyte.String(s.DER)

	var ci, content, sd cryptobyte.String
	var ctype []byte
	if !in.ReadASN1(&ci, asn1.SEQUENCE) {
		return nil, malformed("contentInfo", "not a DER SEQUENCE")
	}
	if !in.Empty() {
		return nil, malformed("contentInfo", "%d bytes after the DER object", len(in))
	}
	if !ci.ReadASN1Bytes(&ctype, asn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&content, asn1.Tag(0).ContextSpecific().Constructed()) || !ci.Empty() {
		return nil, malformed("contentInfo", "want contentType and [0] content")
	}
	var dataOID []byte
	switch {
	case bytes.Equal(ctype, oidSignedData):
		dataOID = oidData
	case bytes.Equal(ctype, oidGBSignedData):
		dataOID = oidGBData
		s.GBContentTypes = true
	default:
		return nil, malformed("contentInfo.contentType", "%s is not signedData", dottedOID(ctype))
	}
	if !content.ReadASN1(&sd, asn1.SEQUENCE) || !content.Empty() {
		return nil, malformed("signedData", "not one SEQUENCE")
	}

	// SignedData
	var version int64
	var digestAlgs, encap, signerInfos cryptobyte.String
	if !sd.ReadASN1Integer(&version) || (version != 1 && version != 3) {
		return nil, malformed("signedData.version", "want 1 or 3")
	}
	if !sd.ReadASN1(&digestAlgs, asn1.SET) {
		return nil, malformed("signedData.digestAlgorithms", "not a SET")
	}
	if digestAlgs.Empty() {
		return nil, malformed("signedData.digestAlgorithms", "empty")
	}
	for n := 0; !digestAlgs.Empty(); n++ {
		if n >= maxDigestAlgs {
			return nil, malformed("signedData.digestAlgorithms", "more than %d", maxDigestAlgs)
		}
		if err := readAlg(&digestAlgs, "signedData.digestAlgorithms", oidSM3); err != nil {
			return nil, err
		}
	}
	if !sd.ReadASN1(&encap, asn1.SEQUENCE) {
		return nil, malformed("signedData.encapContentInfo", "not a SEQUENCE")
	}
	var eType []byte
	if !encap.ReadASN1Bytes(&eType, asn1.OBJECT_IDENTIFIER) {
		return nil, malformed("signedData.encapContentInfo", "no eContentType")
	}
	if !bytes.Equal(eType, dataOID) {
		return nil, malformed("signedData.encapContentInfo", "eContentType %s does not match the content-type family", dottedOID(eType))
	}
	if !encap.Empty() {
		return nil, malformed("signedData.encapContentInfo", "content included; a seal is detached")
	}
	var certsField cryptobyte.String
	var hasCerts bool
	if !sd.ReadOptionalASN1(&certsField, &hasCerts, asn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, malformed("signedData.certificates", "bad encoding")
	}
	if sd.PeekASN1Tag(asn1.Tag(1).ContextSpecific().Constructed()) {
		return nil, malformed("signedData.crls", "revocation data in the CMS is not supported")
	}
	if !sd.ReadASN1(&signerInfos, asn1.SET) || !sd.Empty() {
		return nil, malformed("signedData.signerInfos", "not a SET at the end")
	}
	for !certsField.Empty() {
		if len(s.Certs) == maxCerts {
			return nil, malformed("signedData.certificates", "more than %d", maxCerts)
		}
		var raw cryptobyte.String
		if !certsField.ReadASN1Element(&raw, asn1.SEQUENCE) {
			return nil, malformed("signedData.certificates", "certificate %d is not an X.509 certificate", len(s.Certs)+1)
		}
		c, err := parseCert(raw)
		if err != nil {
			return nil, &FormatError{Field: "signedData.certificates", Reason: fmt.Sprintf("certificate %d", len(s.Certs)+1), Err: err}
		}
		s.Certs = append(s.Certs, c)
	}

	// exactly one SignerInfo
	var si cryptobyte.String
	if !signerInfos.ReadASN1(&si, asn1.SEQUENCE) {
		return nil, malformed("signedData.signerInfos", "no SignerInfo")
	}
	if !signerInfos.Empty() {
		return nil, malformed("signedData.signerInfos", "more than one SignerInfo")
	}
	if err := s.parseSignerInfo(si, dataOID); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Signed) parseSignerInfo(si cryptobyte.String, dataOID []byte) error {
	var version int64
	if !si.ReadASN1Integer(&version) {
		return malformed("signerInfo.version", "not an INTEGER")
	}
	switch {
	case version == 1 && si.PeekASN1Tag(asn1.SEQUENCE):
		var ias, issuer cryptobyte.String
		serial := new(big.Int)
		if !si.ReadASN1(&ias, asn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, asn1.SEQUENCE) ||
			!ias.ReadASN1Integer(serial) || !ias.Empty() {
			return malformed("signerInfo.sid", "bad issuerAndSerialNumber")
		}
		for _, c := range s.Certs {
			if c.SerialNumber.Cmp(serial) == 0 && bytes.Equal(c.RawIssuer, issuer) {
				s.Signer = c
				break
			}
		}
	case version == 3 && si.PeekASN1Tag(asn1.Tag(0).ContextSpecific()):
		var ski []byte
		if !si.ReadASN1Bytes(&ski, asn1.Tag(0).ContextSpecific()) || len(ski) == 0 {
			return malformed("signerInfo.sid", "bad subjectKeyIdentifier")
		}
		for _, c := range s.Certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, ski) {
				s.Signer = c
				break
			}
		}
	default:
		return malformed("signerInfo", "version %d with this signer identifier", version)
	}
	if s.Signer == nil {
		return fmt.Errorf("%w: the signer certificate is not among the %d certificates", ErrCertMismatch, len(s.Certs))
	}
	pub, ok := s.Signer.PublicKey.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return malformed("signer certificate", "the key is not SM2")
	}
	if err := readAlg(&si, "signerInfo.digestAlgorithm", oidSM3); err != nil {
		return err
	}
	var attrsElem cryptobyte.String
	if !si.ReadASN1Element(&attrsElem, asn1.Tag(0).ContextSpecific().Constructed()) {
		return malformed("signerInfo.signedAttrs", "absent")
	}
	// The signature covers the attributes with the SET OF tag.
	s.signedAttrs = bytes.Clone(attrsElem)
	s.signedAttrs[0] = 0x31
	sigAlg, err := readAnyAlg(&si, "signerInfo.signatureAlgorithm")
	if err != nil {
		return err
	}
	switch {
	case bytes.Equal(sigAlg, oidSM2Sign):
		s.SigAlg = OIDSM2Sign
	case bytes.Equal(sigAlg, oidSM2WithSM3):
		s.SigAlg = OIDSM2WithSM3
	default:
		return malformed("signerInfo.signatureAlgorithm", "%s is not SM2", dottedOID(sigAlg))
	}
	if !si.ReadASN1Bytes(&s.signature, asn1.OCTET_STRING) || len(s.signature) == 0 || len(s.signature) > maxSigBytes {
		return malformed("signerInfo.signature", "not an OCTET STRING of 1 to %d bytes", maxSigBytes)
	}
	if !si.Empty() {
		var unsigned cryptobyte.String
		if !si.ReadASN1(&unsigned, asn1.Tag(1).ContextSpecific().Constructed()) || !si.Empty() {
			return malformed("signerInfo", "trailing fields")
		}
		if err := s.parseUnsigned(unsigned); err != nil {
			return err
		}
	}
	return s.parseAttrs(attrsElem[attrsHeaderLen(attrsElem):], dataOID)
}

// parseUnsigned reads the unsigned attributes: the signature timestamp,
// at most one with exactly one value. Others are not covered by the
// signature and are ignored.
func (s *Signed) parseUnsigned(attrs cryptobyte.String) error {
	const field = "signerInfo.unsignedAttrs"
	for n := 0; !attrs.Empty(); n++ {
		var attr, values, value cryptobyte.String
		var oid []byte
		if n == maxAttrs || !attrs.ReadASN1(&attr, asn1.SEQUENCE) || !attr.ReadASN1Bytes(&oid, asn1.OBJECT_IDENTIFIER) ||
			!attr.ReadASN1(&values, asn1.SET) || !attr.Empty() {
			return malformed(field, "attribute %d is not SEQUENCE{OID, SET}", n+1)
		}
		if !bytes.Equal(oid, oidSignatureTimeStamp) {
			continue
		}
		if s.Timestamp != nil {
			return malformed(field, "more than one signature timestamp")
		}
		if !values.ReadASN1Element(&value, asn1.SEQUENCE) || !values.Empty() {
			return malformed(field, "the signature timestamp must have exactly one value")
		}
		s.Timestamp = value
	}
	return nil
}

// Signature returns the SignerInfo's signature value: what a signature
// timestamp stamps.
func (s *Signed) Signature() []byte { return s.signature }

// parseAttrs decodes the signed attributes (the content of the SET).
func (s *Signed) parseAttrs(attrs cryptobyte.String, dataOID []byte) error {
	const field = "signerInfo.signedAttrs"
	seen := make([][]byte, 0, 8)
	var haveType, haveDigest, haveTime bool
	for !attrs.Empty() {
		if len(seen) == maxAttrs {
			return malformed(field, "more than %d attributes", maxAttrs)
		}
		var attr, values, value cryptobyte.String
		var oid []byte
		if !attrs.ReadASN1(&attr, asn1.SEQUENCE) || !attr.ReadASN1Bytes(&oid, asn1.OBJECT_IDENTIFIER) ||
			!attr.ReadASN1(&values, asn1.SET) || !attr.Empty() {
			return malformed(field, "attribute %d is not SEQUENCE{OID, SET}", len(seen)+1)
		}
		for _, o := range seen {
			if bytes.Equal(o, oid) {
				return malformed(field, "attribute %s appears twice", dottedOID(oid))
			}
		}
		seen = append(seen, oid)
		if !isKnownAttr(oid) {
			continue // covered by the signature, but not ours to interpret
		}
		var tag asn1.Tag
		if !values.ReadAnyASN1Element(&value, &tag) || !values.Empty() {
			return malformed(field, "attribute %s must have exactly one value", dottedOID(oid))
		}
		switch {
		case bytes.Equal(oid, oidContentType):
			var ct []byte
			if !value.ReadASN1Bytes(&ct, asn1.OBJECT_IDENTIFIER) || !bytes.Equal(ct, dataOID) {
				return malformed(field+".contentType", "does not match the eContentType")
			}
			haveType = true
		case bytes.Equal(oid, oidMessageDigest):
			if !value.ReadASN1Bytes(&s.Digest, asn1.OCTET_STRING) || len(s.Digest) != sm3.Size {
				return malformed(field+".messageDigest", "not an OCTET STRING of %d bytes", sm3.Size)
			}
			haveDigest = true
		case bytes.Equal(oid, oidSigningTime):
			var t time.Time
			switch {
			case value.PeekASN1Tag(asn1.UTCTime):
				if !value.ReadASN1UTCTime(&t) {
					return malformed(field+".signingTime", "bad UTCTime")
				}
			case value.PeekASN1Tag(asn1.GeneralizedTime):
				if !value.ReadASN1GeneralizedTime(&t) {
					return malformed(field+".signingTime", "bad GeneralizedTime")
				}
			default:
				return malformed(field+".signingTime", "not a time")
			}
			s.SigningTime = t.UTC()
			haveTime = true
		case bytes.Equal(oid, oidSigningCertV2):
			ess, err := parseSigningCertV2(value)
			if err != nil {
				return err
			}
			s.essCert, s.HasSigningCertV2 = ess, true
		case bytes.Equal(oid, oidCardsealLink):
			l, err := parseLink(value)
			if err != nil {
				return err
			}
			s.Link = l
		case bytes.Equal(oid, oidCardsealPolicy):
			c, err := parseClaim(value)
			if err != nil {
				return err
			}
			s.Claim = c
		}
	}
	switch {
	case !haveType:
		return malformed(field, "no contentType")
	case !haveDigest:
		return malformed(field, "no messageDigest")
	case !haveTime:
		return malformed(field, "no signingTime")
	}
	return nil
}

func isKnownAttr(oid []byte) bool {
	for _, k := range [][]byte{oidContentType, oidMessageDigest, oidSigningTime, oidSigningCertV2, oidCardsealLink, oidCardsealPolicy} {
		if bytes.Equal(oid, k) {
			return true
		}
	}
	return false
}

// parseSigningCertV2 reads the first ESSCertIDv2 of a
// SigningCertificateV2 (value is the whole of the attribute value).
func parseSigningCertV2(value cryptobyte.String) (*essCertID, error) {
	const field = "signerInfo.signedAttrs.signingCertificateV2"
	var sc, certs, id cryptobyte.String
	if !value.ReadASN1(&sc, asn1.SEQUENCE) || !value.Empty() || !sc.ReadASN1(&certs, asn1.SEQUENCE) ||
		!certs.ReadASN1(&id, asn1.SEQUENCE) {
		return nil, malformed(field, "no ESSCertIDv2")
	}
	// Further ESSCertIDv2s and policies concern other certificates and
	// are not checked.
	ess := &essCertID{sha256: true} // the DEFAULT hashAlgorithm is SHA-256
	if id.PeekASN1Tag(asn1.SEQUENCE) {
		alg, err := readAnyAlg(&id, field+".hashAlgorithm")
		if err != nil {
			return nil, err
		}
		switch {
		case bytes.Equal(alg, oidSM3):
			ess.sha256 = false
		case bytes.Equal(alg, oidSHA256):
		default:
			return nil, malformed(field, "hash algorithm %s not supported", dottedOID(alg))
		}
	}
	want := sm3.Size
	if ess.sha256 {
		want = sha256.Size
	}
	if !id.ReadASN1Bytes(&ess.hash, asn1.OCTET_STRING) || len(ess.hash) != want {
		return nil, malformed(field, "certHash is not an OCTET STRING of %d bytes", want)
	}
	if id.Empty() {
		return ess, nil
	}
	var is, names cryptobyte.String
	ess.serial = new(big.Int)
	if !id.ReadASN1(&is, asn1.SEQUENCE) || !id.Empty() || !is.ReadASN1(&names, asn1.SEQUENCE) ||
		!is.ReadASN1Integer(ess.serial) || !is.Empty() {
		return nil, malformed(field, "bad issuerSerial")
	}
	for !names.Empty() {
		var name cryptobyte.String
		var tag asn1.Tag
		if !names.ReadAnyASN1(&name, &tag) {
			return nil, malformed(field, "bad GeneralNames")
		}
		if tag == asn1.Tag(4).ContextSpecific().Constructed() {
			var dn cryptobyte.String
			if !name.ReadASN1Element(&dn, asn1.SEQUENCE) || !name.Empty() {
				return nil, malformed(field, "bad directoryName")
			}
			ess.issuer = dn
		}
	}
	if ess.issuer == nil {
		return nil, malformed(field, "issuerSerial without a directoryName")
	}
	ess.hasSerials = true
	return ess, nil
}

// readAlg reads an AlgorithmIdentifier that must be want, with absent or
// NULL parameters.
func readAlg(s *cryptobyte.String, field string, want []byte) error {
	oid, err := readAnyAlg(s, field)
	if err != nil {
		return err
	}
	if !bytes.Equal(oid, want) {
		return malformed(field, "%s, want %s", dottedOID(oid), dottedOID(want))
	}
	return nil
}

// readAnyAlg reads an AlgorithmIdentifier with absent or NULL parameters
// and returns its OID content octets.
func readAnyAlg(s *cryptobyte.String, field string) ([]byte, error) {
	var alg cryptobyte.String
	var oid []byte
	if !s.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1Bytes(&oid, asn1.OBJECT_IDENTIFIER) {
		return nil, malformed(field, "not an AlgorithmIdentifier")
	}
	if !alg.Empty() {
		var null cryptobyte.String
		if !alg.ReadASN1(&null, asn1.NULL) || !null.Empty() || !alg.Empty() {
			return nil, malformed(field, "parameters must be absent or NULL")
		}
	}
	return oid, nil
}

// Verify checks the seal cryptographically against digest, the SM3 of the
// signed bytes: the messageDigest attribute (ErrDigestMismatch), the
// signingCertificateV2 attribute if present (ErrCertMismatch), and the
// SM2 signature over the signed attributes with the signer certificate's
// key (ErrBadSignature). It makes no trust decision about the certificate.
func (s *Signed) Verify(digest []byte) error {
	if s == nil || s.Signer == nil {
		return malformed("seal", "not parsed")
	}
	if len(digest) != len(s.Digest) || subtle.ConstantTimeCompare(digest, s.Digest) != 1 {
		return ErrDigestMismatch
	}
	if e := s.essCert; e != nil {
		var h []byte
		if e.sha256 {
			sum := sha256.Sum256(s.Signer.Raw)
			h = sum[:]
		} else {
			sum := sm3.Sum(s.Signer.Raw)
			h = sum[:]
		}
		if !bytes.Equal(h, e.hash) {
			return fmt.Errorf("%w: signingCertificateV2 names another certificate", ErrCertMismatch)
		}
		if e.hasSerials && (e.serial.Cmp(s.Signer.SerialNumber) != 0 || !bytes.Equal(e.issuer, s.Signer.RawIssuer)) {
			return fmt.Errorf("%w: signingCertificateV2 names another issuer and serial number", ErrCertMismatch)
		}
	}
	pub := s.Signer.PublicKey.(*ecdsa.PublicKey) // checked by Parse
	if !sm2.VerifyASN1WithSM2(pub, nil, s.signedAttrs, s.signature) {
		return ErrBadSignature
	}
	return nil
}
