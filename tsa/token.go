package tsa

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/subtle"
	"fmt"
	"math/big"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/keys"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Bounds on what ParseToken accepts.
const (
	MaxToken  = 16 << 10 // bytes of one token
	maxCerts  = 4
	maxAttrs  = 16
	maxSigLen = 128
)

// Token is a parsed time-stamp token. ParseToken fills every field;
// Verify checks its signature, and Covers what it stamps.
type Token struct {
	DER     []byte
	Serial  *big.Int
	GenTime time.Time // UTC
	Hash    Hash
	Imprint []byte
	Nonce   *big.Int // nil when absent
	Policy  string   // dotted, or "?" for an OID Go cannot render
	Signer  *smx509.Certificate
	Certs   []*smx509.Certificate // in the order of the token

	tstInfo   []byte
	digest    []byte // messageDigest attribute
	essHash   []byte // SM3 of the signer certificate (signingCertificateV2)
	attrs     []byte // signed attributes with the SET tag
	signature []byte
}

// ParseToken decodes a token strictly: one DER ContentInfo of signedData
// (RFC 5652 OIDs) with an id-ct-TSTInfo content, SM3 digests, an SM2
// signature (1.2.156.10197.1.301.1 or .501), one SignerInfo whose
// certificate is included, and signed attributes with contentType,
// messageDigest and a signingCertificateV2 hashed with SM3.
func ParseToken(der []byte) (*Token, error) {
	if len(der) > MaxToken {
		return nil, malformed("%d bytes, more than %d", len(der), MaxToken)
	}
	t := &Token{DER: bytes.Clone(der)}
	in := cryptobyte.String(t.DER)
	var ci, content, sd, digestAlgs, encap, eContent, signerInfos, certs cryptobyte.String
	var ctype, etype []byte
	var version int64
	var hasCerts bool
	if !in.ReadASN1(&ci, asn1.SEQUENCE) || !in.Empty() ||
		!ci.ReadASN1Bytes(&ctype, asn1.OBJECT_IDENTIFIER) || !bytes.Equal(ctype, oidSignedData) ||
		!ci.ReadASN1(&content, asn1.Tag(0).ContextSpecific().Constructed()) || !ci.Empty() ||
		!content.ReadASN1(&sd, asn1.SEQUENCE) || !content.Empty() {
		return nil, malformed("not one DER ContentInfo of signedData")
	}
	if !sd.ReadASN1Integer(&version) || (version != 3 && version != 1) ||
		!sd.ReadASN1(&digestAlgs, asn1.SET) {
		return nil, malformed("signedData version or digestAlgorithms")
	}
	for n := 0; !digestAlgs.Empty(); n++ {
		if _, err := readAlg(&digestAlgs); err != nil || n > 4 {
			return nil, malformed("signedData.digestAlgorithms")
		}
	}
	if !sd.ReadASN1(&encap, asn1.SEQUENCE) || !encap.ReadASN1Bytes(&etype, asn1.OBJECT_IDENTIFIER) ||
		!bytes.Equal(etype, oidTSTInfo) ||
		!encap.ReadASN1(&eContent, asn1.Tag(0).ContextSpecific().Constructed()) || !encap.Empty() ||
		!eContent.ReadASN1Bytes(&t.tstInfo, asn1.OCTET_STRING) || !eContent.Empty() {
		return nil, malformed("encapContentInfo is not an id-ct-TSTInfo content")
	}
	if !sd.ReadOptionalASN1(&certs, &hasCerts, asn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, malformed("signedData.certificates")
	}
	if sd.PeekASN1Tag(asn1.Tag(1).ContextSpecific().Constructed()) {
		var crls cryptobyte.String
		sd.ReadASN1(&crls, asn1.Tag(1).ContextSpecific().Constructed()) // revocation data is carried in /DSS, not here
	}
	if !sd.ReadASN1(&signerInfos, asn1.SET) || !sd.Empty() {
		return nil, malformed("signedData.signerInfos")
	}
	for !certs.Empty() {
		var raw cryptobyte.String
		if len(t.Certs) == maxCerts || !certs.ReadASN1Element(&raw, asn1.SEQUENCE) {
			return nil, malformed("signedData.certificates: more than %d or not X.509", maxCerts)
		}
		c, err := smx509.ParseCertificate(bytes.Clone(raw))
		if err != nil {
			return nil, malformed("signedData.certificates: %v", err)
		}
		t.Certs = append(t.Certs, c)
	}
	var si cryptobyte.String
	if !signerInfos.ReadASN1(&si, asn1.SEQUENCE) || !signerInfos.Empty() {
		return nil, malformed("want exactly one SignerInfo")
	}
	if err := t.parseSignerInfo(si); err != nil {
		return nil, err
	}
	if err := t.parseTSTInfo(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Token) parseSignerInfo(si cryptobyte.String) error {
	var version int64
	var ias, issuer cryptobyte.String
	serial := new(big.Int)
	if !si.ReadASN1Integer(&version) || version != 1 || !si.ReadASN1(&ias, asn1.SEQUENCE) ||
		!ias.ReadASN1Element(&issuer, asn1.SEQUENCE) || !ias.ReadASN1Integer(serial) || !ias.Empty() {
		return malformed("signerInfo: want version 1 with issuerAndSerialNumber")
	}
	for _, c := range t.Certs {
		if c.SerialNumber.Cmp(serial) == 0 && bytes.Equal(c.RawIssuer, issuer) {
			t.Signer = c
			break
		}
	}
	if t.Signer == nil {
		return malformed("the TSA certificate is not in the token")
	}
	if pub, ok := t.Signer.PublicKey.(*ecdsa.PublicKey); !ok || !sm2.IsSM2PublicKey(pub) {
		return malformed("the TSA key is not SM2")
	}
	if alg, err := readAlg(&si); err != nil || !bytes.Equal(alg, oidSM3) {
		return malformed("signerInfo.digestAlgorithm is not SM3")
	}
	var attrsElem cryptobyte.String
	if !si.ReadASN1Element(&attrsElem, asn1.Tag(0).ContextSpecific().Constructed()) {
		return malformed("no signed attributes")
	}
	t.attrs = bytes.Clone(attrsElem)
	t.attrs[0] = 0x31
	alg, err := readAlg(&si)
	if err != nil || !(bytes.Equal(alg, oidSM2Sign) || bytes.Equal(alg, oidSM2WithSM3)) {
		return malformed("signerInfo.signatureAlgorithm is not SM2")
	}
	if !si.ReadASN1Bytes(&t.signature, asn1.OCTET_STRING) || len(t.signature) == 0 || len(t.signature) > maxSigLen {
		return malformed("signerInfo.signature")
	}
	if !si.Empty() {
		var unsigned cryptobyte.String
		if !si.ReadASN1(&unsigned, asn1.Tag(1).ContextSpecific().Constructed()) || !si.Empty() {
			return malformed("signerInfo: trailing fields")
		}
	}
	attrs := cryptobyte.String(attrsElem[headerLen(attrsElem):])
	var haveType bool
	for n := 0; !attrs.Empty(); n++ {
		var attr, values cryptobyte.String
		var oid []byte
		if n == maxAttrs || !attrs.ReadASN1(&attr, asn1.SEQUENCE) || !attr.ReadASN1Bytes(&oid, asn1.OBJECT_IDENTIFIER) ||
			!attr.ReadASN1(&values, asn1.SET) || !attr.Empty() {
			return malformed("signed attribute %d", n+1)
		}
		switch {
		case bytes.Equal(oid, oidContentType):
			var ct []byte
			if haveType || !values.ReadASN1Bytes(&ct, asn1.OBJECT_IDENTIFIER) || !values.Empty() || !bytes.Equal(ct, oidTSTInfo) {
				return malformed("contentType attribute is not one id-ct-TSTInfo")
			}
			haveType = true
		case bytes.Equal(oid, oidMessageDigest):
			if t.digest != nil || !values.ReadASN1Bytes(&t.digest, asn1.OCTET_STRING) || !values.Empty() || len(t.digest) != sm3.Size {
				return malformed("messageDigest attribute")
			}
		case bytes.Equal(oid, oidSigningCertV2):
			var sc, ids, id cryptobyte.String
			var h []byte
			if t.essHash != nil || !values.ReadASN1(&sc, asn1.SEQUENCE) || !values.Empty() || !sc.ReadASN1(&ids, asn1.SEQUENCE) ||
				!ids.ReadASN1(&id, asn1.SEQUENCE) {
				return malformed("signingCertificateV2 attribute")
			}
			if alg, err := readAlg(&id); err != nil || !bytes.Equal(alg, oidSM3) || !id.ReadASN1Bytes(&h, asn1.OCTET_STRING) || len(h) != sm3.Size {
				return malformed("signingCertificateV2: want an SM3 ESSCertIDv2")
			}
			t.essHash = h
		}
	}
	if !haveType || t.digest == nil || t.essHash == nil {
		return malformed("signed attributes need contentType, messageDigest and signingCertificateV2")
	}
	return nil
}

func (t *Token) parseTSTInfo() error {
	in := cryptobyte.String(t.tstInfo)
	var tst, mi, pol cryptobyte.String
	var version int64
	if !in.ReadASN1(&tst, asn1.SEQUENCE) || !in.Empty() || !tst.ReadASN1Integer(&version) || version != 1 {
		return malformed("TSTInfo")
	}
	if !tst.ReadASN1(&pol, asn1.OBJECT_IDENTIFIER) {
		return malformed("TSTInfo.policy")
	}
	t.Policy = "?"
	if bytes.Equal(pol, oidPolicy) {
		t.Policy = OIDPolicy
	}
	if !tst.ReadASN1(&mi, asn1.SEQUENCE) {
		return malformed("TSTInfo.messageImprint")
	}
	alg, err := readAlg(&mi)
	if err != nil {
		return err
	}
	h, ok := hashOf(alg)
	if !ok || !mi.ReadASN1Bytes(&t.Imprint, asn1.OCTET_STRING) || !mi.Empty() || len(t.Imprint) != 32 {
		return malformed("TSTInfo.messageImprint: want 32 bytes of SM3 or SHA-256")
	}
	t.Hash = h
	t.Serial = new(big.Int)
	if !tst.ReadASN1Integer(t.Serial) || t.Serial.Sign() <= 0 {
		return malformed("TSTInfo.serialNumber")
	}
	if !readGeneralizedTime(&tst, &t.GenTime) {
		return malformed("TSTInfo.genTime")
	}
	t.GenTime = t.GenTime.UTC()
	if tst.PeekASN1Tag(asn1.SEQUENCE) {
		var acc cryptobyte.String
		tst.ReadASN1(&acc, asn1.SEQUENCE)
	}
	if tst.PeekASN1Tag(asn1.BOOLEAN) {
		var ordering bool
		if !tst.ReadASN1Boolean(&ordering) {
			return malformed("TSTInfo.ordering")
		}
	}
	if tst.PeekASN1Tag(asn1.INTEGER) {
		t.Nonce = new(big.Int)
		if !tst.ReadASN1Integer(t.Nonce) {
			return malformed("TSTInfo.nonce")
		}
	}
	// tsa [0] and extensions [1] are allowed and not interpreted.
	for !tst.Empty() {
		var skip cryptobyte.String
		var tag asn1.Tag
		if !tst.ReadAnyASN1(&skip, &tag) || (tag != asn1.Tag(0).ContextSpecific().Constructed() && tag != asn1.Tag(1).ContextSpecific().Constructed()) {
			return malformed("TSTInfo: unexpected field")
		}
	}
	return nil
}

// Verify checks the token cryptographically: the messageDigest is the SM3
// of the TSTInfo, signingCertificateV2 names the signer certificate, the
// SM2 signature holds, and the signer certificate is a time-stamping
// certificate (critical extendedKeyUsage timeStamping alone). It makes no
// trust decision about the certificate.
func (t *Token) Verify() error {
	d := sm3.Sum(t.tstInfo)
	if subtle.ConstantTimeCompare(d[:], t.digest) != 1 {
		return fmt.Errorf("%w: message digest", ErrBadSignature)
	}
	h := sm3.Sum(t.Signer.Raw)
	if !bytes.Equal(h[:], t.essHash) {
		return fmt.Errorf("%w: signingCertificateV2 names another certificate", ErrBadSignature)
	}
	if !sm2.VerifyASN1WithSM2(t.Signer.PublicKey.(*ecdsa.PublicKey), nil, t.attrs, t.signature) {
		return ErrBadSignature
	}
	if !keys.TimeStampingEKU(t.Signer) {
		return ErrNotTSA
	}
	return nil
}

// Covers reports whether the token stamps data: its imprint is the hash
// of data with the token's algorithm (ErrImprint otherwise).
func (t *Token) Covers(data []byte) error {
	if !bytes.Equal(t.Hash.Sum(data), t.Imprint) {
		return ErrImprint
	}
	return nil
}

// ParseReply decodes a TimeStampResp: the status, the failure bit (-1 if
// none) and, when granted, the token's DER.
func ParseReply(der []byte) (status, failBit int, token []byte, err error) {
	in := cryptobyte.String(der)
	var resp, si cryptobyte.String
	var st int64
	if !in.ReadASN1(&resp, asn1.SEQUENCE) || !in.Empty() || !resp.ReadASN1(&si, asn1.SEQUENCE) || !si.ReadASN1Integer(&st) {
		return 0, -1, nil, malformed("not a TimeStampResp")
	}
	failBit = -1
	if si.PeekASN1Tag(asn1.SEQUENCE) {
		var text cryptobyte.String
		si.ReadASN1(&text, asn1.SEQUENCE)
	}
	if si.PeekASN1Tag(asn1.BIT_STRING) {
		var bits asn1BitString
		var raw cryptobyte.String
		if !si.ReadASN1(&raw, asn1.BIT_STRING) || len(raw) < 1 {
			return 0, -1, nil, malformed("failInfo")
		}
		bits = asn1BitString(raw[1:])
		failBit = bits.first()
	}
	if !resp.Empty() {
		var tok cryptobyte.String
		if !resp.ReadASN1Element(&tok, asn1.SEQUENCE) || !resp.Empty() {
			return 0, -1, nil, malformed("timeStampToken")
		}
		token = bytes.Clone(tok)
	}
	return int(st), failBit, token, nil
}

type asn1BitString []byte

func (b asn1BitString) first() int {
	for i, c := range b {
		for j := 0; j < 8; j++ {
			if c&(0x80>>j) != 0 {
				return i*8 + j
			}
		}
	}
	return -1
}
