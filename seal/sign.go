package seal

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/keys"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Options select variants of the encoding.
type Options struct {
	// GBContentTypes writes the GB/T 35275 content-type OIDs
	// (1.2.156.10197.6.1.4.2.x) instead of RFC 5652's.
	GBContentTypes bool
	// Stamp, when set, returns a time-stamp token (RFC 3161) over the
	// signature value; Sign writes it as the unsigned attribute
	// id-aa-signatureTimeStampToken (CAdES-T, PAdES B-T).
	Stamp func(signature []byte) ([]byte, error)
	// StampSize is an upper bound of the token's DER length; MaxSize
	// reserves it when Stamp is set.
	StampSize int
	// Claim, when set, is written as the cardseal policy attribute
	// (claim.go): the seal vouches for the chain policy it names.
	Claim *Claim
}

// maxSigLen is the longest DER SEQUENCE{r, s} of an SM2 signature: both
// integers 32 bytes with a leading zero.
const maxSigLen = 2 + 2*(2+33)

// Sign builds the seal's detached CMS SignedData over digest, the SM3 of
// the PDF /ByteRange bytes, and returns the DER ContentInfo. The signed
// attributes are signed with id.Signer as an SM2 message (SM3 with the Z
// value of the default user ID). at is truncated to the second and
// written in UTC.
func Sign(digest []byte, id *keys.Identity, link Link, at time.Time, opt Options) ([]byte, error) {
	return sign(digest, id, link, at, opt, oidSM2Sign)
}

// sign is Sign with a choice of the SignerInfo signature algorithm OID;
// tests use it to write 1.2.156.10197.1.501 as other stacks do.
func sign(digest []byte, id *keys.Identity, link Link, at time.Time, opt Options, sigAlg []byte) ([]byte, error) {
	if len(digest) != sm3.Size {
		return nil, fmt.Errorf("seal: digest must be %d bytes of SM3, not %d", sm3.Size, len(digest))
	}
	if id == nil || id.Signer == nil || id.Cert == nil {
		return nil, errors.New("seal: identity without signer or certificate")
	}
	pub, ok := id.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, errors.New("seal: certificate key is not SM2")
	}
	if !pub.Equal(id.Signer.Public()) {
		return nil, errors.New("seal: signer key does not match the certificate")
	}
	if at.IsZero() {
		return nil, errors.New("seal: no signing time")
	}
	if err := link.Validate(); err != nil {
		return nil, err
	}
	if opt.Claim != nil {
		if err := opt.Claim.Validate(); err != nil {
			return nil, err
		}
	}
	attrs, err := signedAttrs(digest, id.Cert, &link, at, opt)
	if err != nil {
		return nil, err
	}
	sig, err := id.Signer.Sign(rand.Reader, attrs, sm2.DefaultSM2SignerOpts)
	if err != nil {
		return nil, fmt.Errorf("seal: sign attributes: %w", err)
	}
	if err := checkSigShape(sig); err != nil {
		return nil, err
	}
	var token []byte
	if opt.Stamp != nil {
		if token, err = opt.Stamp(sig); err != nil {
			return nil, fmt.Errorf("seal: signature timestamp: %w", err)
		}
		if len(token) == 0 || len(token) > opt.StampSize {
			return nil, fmt.Errorf("seal: signature timestamp of %d bytes, at most %d reserved", len(token), opt.StampSize)
		}
	}
	return assemble(id, attrs, sig, opt, sigAlg, token)
}

// MaxSize returns an upper bound of len(Sign(digest, id, link, at, opt)) for
// any digest and signing time: the exact size with the longest SM2
// signature and a GeneralizedTime. Real seals are at most a few bytes
// shorter. It returns 0 for an identity without a certificate.
func MaxSize(id *keys.Identity, link Link, opt Options) int {
	if id == nil || id.Cert == nil {
		return 0
	}
	var digest [sm3.Size]byte
	farTime := time.Date(2050, 12, 31, 23, 59, 59, 0, time.UTC) // GeneralizedTime: 2 bytes longer
	attrs, err := signedAttrs(digest[:], id.Cert, &link, farTime, opt)
	if err != nil {
		return 0
	}
	var token []byte
	if opt.Stamp != nil {
		if opt.StampSize <= 0 {
			return 0
		}
		token = make([]byte, opt.StampSize)
	}
	der, err := assemble(id, attrs, make([]byte, maxSigLen), opt, oidSM2WithSM3, token)
	if err != nil {
		return 0
	}
	return len(der)
}

// checkSigShape makes sure the signer returned one DER SEQUENCE of two
// INTEGERs no longer than MaxSize assumed.
func checkSigShape(sig []byte) error {
	s := cryptobyte.String(sig)
	var seq cryptobyte.String
	var r, ss []byte
	if len(sig) > maxSigLen || !s.ReadASN1(&seq, asn1.SEQUENCE) || !s.Empty() ||
		!seq.ReadASN1Bytes(&r, asn1.INTEGER) || !seq.ReadASN1Bytes(&ss, asn1.INTEGER) || !seq.Empty() {
		return errors.New("seal: the signer did not return a DER SM2 signature")
	}
	return nil
}

func family(opt Options) (signedData, data []byte) {
	if opt.GBContentTypes {
		return oidGBSignedData, oidGBData
	}
	return oidSignedData, oidData
}

func addOID(b *cryptobyte.Builder, oid []byte) {
	b.AddASN1(asn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(oid) })
}

// addAlg writes an AlgorithmIdentifier with absent parameters.
func addAlg(b *cryptobyte.Builder, oid []byte) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { addOID(b, oid) })
}

// signedAttrs returns the DER SET OF Attribute that is signed (tag 0x31).
func signedAttrs(digest []byte, cert *smx509.Certificate, link *Link, at time.Time, opt Options) ([]byte, error) {
	_, dataOID := family(opt)
	at = at.UTC().Truncate(time.Second)
	certHash := sm3.Sum(cert.Raw)

	attr := func(oid []byte, value func(b *cryptobyte.Builder)) []byte {
		var b cryptobyte.Builder
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addOID(b, oid)
			b.AddASN1(asn1.SET, value)
		})
		return b.BytesOrPanic()
	}
	list := [][]byte{
		attr(oidContentType, func(b *cryptobyte.Builder) { addOID(b, dataOID) }),
		attr(oidMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) }),
		attr(oidSigningTime, func(b *cryptobyte.Builder) {
			if y := at.Year(); y >= 1950 && y < 2050 {
				b.AddASN1UTCTime(at)
			} else {
				b.AddASN1GeneralizedTime(at)
			}
		}),
		attr(oidSigningCertV2, func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
						addAlg(b, oidSM3)
						b.AddASN1OctetString(certHash[:])
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
							b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
								b.AddASN1(asn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
									b.AddBytes(cert.RawIssuer) // directoryName
								})
							})
							b.AddASN1BigInt(cert.SerialNumber)
						})
					})
				})
			})
		}),
		attr(oidCardsealLink, func(b *cryptobyte.Builder) { addLink(b, link) }),
	}
	if opt.Claim != nil {
		list = append(list, attr(oidCardsealPolicy, func(b *cryptobyte.Builder) { addClaim(b, opt.Claim) }))
	}
	// DER: the elements of a SET OF in ascending order of their encodings.
	slices.SortFunc(list, bytes.Compare)
	var b cryptobyte.Builder
	b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
		for _, a := range list {
			b.AddBytes(a)
		}
	})
	return b.Bytes()
}

// assemble writes the ContentInfo around the signed attributes (DER SET)
// and the signature, with the signature timestamp token as the one
// unsigned attribute when token is not nil.
func assemble(id *keys.Identity, attrs, sig []byte, opt Options, sigAlg []byte, token []byte) ([]byte, error) {
	signedDataOID, dataOID := family(opt)
	cert := id.Cert
	size := len(attrs) + len(sig) + len(cert.Raw) + len(cert.RawIssuer) + len(token) + 256
	for _, c := range id.Chain {
		size += len(c.Raw) + 4
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, size))
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		addOID(b, signedDataOID)
		b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(1)
				b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { addAlg(b, oidSM3) })
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { addOID(b, dataOID) }) // detached
				b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddBytes(cert.Raw)
					for _, c := range id.Chain {
						if c != nil && !bytes.Equal(c.Raw, cert.Raw) {
							b.AddBytes(c.Raw)
						}
					}
				})
				b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerAndSerialNumber
							b.AddBytes(cert.RawIssuer)
							b.AddASN1BigInt(cert.SerialNumber)
						})
						addAlg(b, oidSM3)
						b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
							b.AddBytes(attrs[attrsHeaderLen(attrs):])
						})
						addAlg(b, sigAlg)
						b.AddASN1OctetString(sig)
						if token != nil {
							b.AddASN1(asn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { // unsignedAttrs
								b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
									addOID(b, oidSignatureTimeStamp)
									b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(token) })
								})
							})
						}
					})
				})
			})
		})
	})
	return b.Bytes()
}

// attrsHeaderLen is the length of the tag and length octets of a DER
// element.
func attrsHeaderLen(der []byte) int {
	if len(der) < 2 || der[1] < 0x80 {
		return 2
	}
	return 2 + int(der[1]&0x7f)
}
