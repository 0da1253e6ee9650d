package tsa

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/jilin-health/cardseal/keys"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Serials is the serial-number source of the authority, shared by every
// instance of the service (package store: a counter row of the registry).
type Serials interface {
	// NextTimestampSerial returns a positive serial number that no call,
	// in this process or another on the same registry, returned before,
	// and the reference clock's time when it was taken (the database
	// server's clock on PostgreSQL).
	NextTimestampSerial(ctx context.Context) (serial int64, ref time.Time, err error)
}

// DefaultMaxDrift is the allowed difference between the authority's clock
// and the reference clock when Options.MaxDrift is zero.
const DefaultMaxDrift = 2 * time.Second

// Options tune an Authority. Zero values mean the defaults.
type Options struct {
	// Now is the authority's clock (default time.Now): the time it
	// writes into tokens.
	Now func() time.Time
	// MaxDrift is the largest difference to the reference clock at which
	// tokens are still issued (default DefaultMaxDrift). Tokens carry an
	// accuracy of one second plus this drift.
	MaxDrift time.Duration
	// Logger receives the refusal when the clock drifts (default
	// slog.Default()).
	Logger *slog.Logger
}

// Authority issues time-stamp tokens with the platform's TSA key.
type Authority struct {
	sizeOnce sync.Once
	maxSize  int
	id       *keys.Identity
	serials  Serials
	now      func() time.Time
	drift    time.Duration
	log      *slog.Logger
}

// New returns an authority over a TSA identity (keys.IsTSA) and a serial
// source.
func New(id *keys.Identity, serials Serials, opt Options) (*Authority, error) {
	if id == nil || id.Signer == nil || id.Cert == nil {
		return nil, errors.New("tsa: no time-stamping identity")
	}
	if !keys.IsTSA(id.Cert) {
		return nil, fmt.Errorf("%w: %s", ErrNotTSA, id.Cert.Subject)
	}
	if serials == nil {
		return nil, errors.New("tsa: no serial-number source")
	}
	a := &Authority{id: id, serials: serials, now: opt.Now, drift: opt.MaxDrift, log: opt.Logger}
	if a.now == nil {
		a.now = time.Now
	}
	if a.drift <= 0 {
		a.drift = DefaultMaxDrift
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	return a, nil
}

// MaxTokenSize returns an upper bound of the DER length of the tokens
// StampSignature returns: a signer reserves it in the PDF before it
// signs. It is the size of a token with the largest serial number and
// the longest SM2 signature.
func (a *Authority) MaxTokenSize() int {
	a.sizeOnce.Do(func() {
		r := &Request{Hash: SM3, Imprint: make([]byte, 32), CertReq: true}
		tst := a.tstInfo(r, big.NewInt(math.MaxInt64), time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC))
		tok, err := a.sign(tst, true)
		if err != nil {
			return
		}
		// An SM2 signature is 70 to 72 bytes; the lengths around it may
		// take a byte more each.
		a.maxSize = len(tok) + 2 + 8
	})
	return a.maxSize
}

// Identity returns the authority's key and certificate.
func (a *Authority) Identity() *keys.Identity { return a.id }

// StampSignature returns a token over a CMS signature value: the imprint
// is SM3(sig), as id-aa-signatureTimeStampToken requires (RFC 3161
// appendix A, ETSI EN 319 122-1).
func (a *Authority) StampSignature(ctx context.Context, sig []byte) ([]byte, error) {
	return a.Issue(ctx, &Request{Hash: SM3, Imprint: SM3.Sum(sig), CertReq: true})
}

// StampDigest returns a token whose imprint is an SM3 digest the caller
// computed: a document timestamp (PAdES B-LTA) stamps the SM3 of the
// bytes its /ByteRange covers.
func (a *Authority) StampDigest(ctx context.Context, digest []byte) ([]byte, error) {
	if len(digest) != 32 {
		return nil, refuse(BadDataFormat, "an SM3 digest has 32 bytes, not %d", len(digest))
	}
	return a.Issue(ctx, &Request{Hash: SM3, Imprint: digest, CertReq: true})
}

// Issue makes the token a checked request asks for. It takes a serial
// number first and refuses (ErrClockDrift) when the authority's clock and
// the reference clock differ by more than the allowed drift.
func (a *Authority) Issue(ctx context.Context, r *Request) ([]byte, error) {
	serial, ref, err := a.serials.NextTimestampSerial(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: serial number: %w", ErrUnavailable, err)
	}
	if serial <= 0 {
		return nil, fmt.Errorf("%w: serial number %d", ErrUnavailable, serial)
	}
	now := a.now().UTC()
	if d := now.Sub(ref); d > a.drift || d < -a.drift {
		a.log.Error("tsa: clock drift beyond the limit; refusing to issue timestamps",
			"clock", now, "reference", ref, "drift", d, "max_drift", a.drift)
		return nil, fmt.Errorf("%w: clock %s, reference %s (drift %v, at most %v)", ErrClockDrift,
			now.Format(time.RFC3339Nano), ref.UTC().Format(time.RFC3339Nano), d, a.drift)
	}
	tst := a.tstInfo(r, big.NewInt(serial), now.Truncate(time.Millisecond))
	return a.sign(tst, r.CertReq)
}

// tstInfo is the DER TSTInfo (RFC 3161 §2.4.2).
func (a *Authority) tstInfo(r *Request, serial *big.Int, gen time.Time) []byte {
	acc := time.Second + a.drift
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		addOID(b, oidPolicy)
		addImprint(b, r.Hash, r.Imprint)
		b.AddASN1BigInt(serial)
		addGeneralizedTime(b, gen)
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // Accuracy
			secs := int64(acc / time.Second)
			if secs > 0 {
				b.AddASN1Int64(secs)
			}
			if ms := int64(acc % time.Second / time.Millisecond); ms > 0 {
				b.AddASN1Int64WithTag(ms, asn1.Tag(0).ContextSpecific())
			}
		})
		if r.Nonce != nil {
			b.AddASN1BigInt(r.Nonce)
		}
	})
	return b.BytesOrPanic()
}

// sign wraps a TSTInfo into the token: ContentInfo{signedData,
// SignedData v3 {SM3, id-ct-TSTInfo content, the TSA certificate (and its
// chain) when asked for, one SignerInfo}}.
func (a *Authority) sign(tst []byte, withCerts bool) ([]byte, error) {
	cert := a.id.Cert
	digest := sm3.Sum(tst)
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
		attr(oidContentType, func(b *cryptobyte.Builder) { addOID(b, oidTSTInfo) }),
		attr(oidMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest[:]) }),
		attr(oidSigningCertV2, func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
						addAlg(b, oidSM3)
						b.AddASN1OctetString(certHash[:])
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
							b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddASN1(asn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
									b.AddBytes(cert.RawIssuer)
								})
							})
							b.AddASN1BigInt(cert.SerialNumber)
						})
					})
				})
			})
		}),
	}
	slices.SortFunc(list, bytes.Compare)
	var ab cryptobyte.Builder
	ab.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
		for _, x := range list {
			b.AddBytes(x)
		}
	})
	attrs := ab.BytesOrPanic()
	sig, err := a.id.Signer.Sign(rand.Reader, attrs, sm2.DefaultSM2SignerOpts)
	if err != nil {
		return nil, fmt.Errorf("tsa: sign: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		addOID(b, oidSignedData)
		b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(3)
				b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { addAlg(b, oidSM3) })
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					addOID(b, oidTSTInfo)
					b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(tst)
					})
				})
				if withCerts {
					b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
						b.AddBytes(cert.Raw)
						for _, c := range a.id.Chain {
							if c != nil && !bytes.Equal(c.Raw, cert.Raw) {
								b.AddBytes(c.Raw)
							}
						}
					})
				}
				b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
							b.AddASN1BigInt(cert.SerialNumber)
						})
						addAlg(b, oidSM3)
						b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
							b.AddBytes(attrs[headerLen(attrs):])
						})
						addAlg(b, oidSM2Sign)
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	return b.Bytes()
}

// addGeneralizedTime writes a GeneralizedTime in UTC with the
// milliseconds, if any, as a fraction without trailing zeros (DER; RFC
// 3161 §2.4.2): 20261128093016Z, 20261128093016.25Z.
func addGeneralizedTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC()
	s := t.Format("20060102150405")
	if ms := t.Nanosecond() / int(time.Millisecond); ms > 0 {
		s += strings.TrimRight(fmt.Sprintf(".%03d", ms), "0")
	}
	b.AddASN1(asn1.GeneralizedTime, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s + "Z")) })
}

// readGeneralizedTime reads a DER GeneralizedTime in UTC with an optional
// fraction of at most three digits.
func readGeneralizedTime(s *cryptobyte.String, out *time.Time) bool {
	var raw []byte
	if !s.ReadASN1Bytes(&raw, asn1.GeneralizedTime) {
		return false
	}
	v := string(raw)
	if len(v) < 15 || v[len(v)-1] != 'Z' {
		return false
	}
	layout := "20060102150405Z"
	if len(v) > 15 {
		frac := v[14 : len(v)-1]
		if len(frac) < 2 || len(frac) > 4 || frac[0] != '.' || frac[len(frac)-1] == '0' {
			return false
		}
		layout = "20060102150405." + strings.Repeat("0", len(frac)-1) + "Z"
	}
	t, err := time.Parse(layout, v)
	if err != nil {
		return false
	}
	*out = t.UTC()
	return true
}

// headerLen is the length of the tag and length octets of a DER element.
func headerLen(der []byte) int {
	if len(der) < 2 || der[1] < 0x80 {
		return 2
	}
	return 2 + int(der[1]&0x7f)
}

// Respond answers one HTTP request body (application/timestamp-query)
// with the DER TimeStampResp (application/timestamp-reply): granted with
// the token, or a rejection with the failure bit. The error is non-nil
// when the rejection is the service's fault (ErrClockDrift,
// ErrUnavailable), so the caller can answer 503 and alert; a bad request
// is a rejection with a nil error.
func (a *Authority) Respond(ctx context.Context, body []byte) ([]byte, error) {
	r, err := ParseRequest(body)
	if err != nil {
		var re *RequestError
		if errors.As(err, &re) {
			return reply(StatusRejection, re.FailInfo, re.Reason, nil), nil
		}
		return reply(StatusRejection, BadRequest, "bad request", nil), nil
	}
	tok, err := a.Issue(ctx, r)
	switch {
	case errors.Is(err, ErrClockDrift):
		return reply(StatusRejection, TimeNotAvailable, "time source out of tolerance", nil), err
	case err != nil:
		return reply(StatusRejection, SystemFailure, "time-stamping unavailable", nil), err
	}
	return reply(StatusGranted, -1, "", tok), nil
}

// reply encodes a TimeStampResp. failBit < 0 means no failInfo.
func reply(status, failBit int, text string, token []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // PKIStatusInfo
			b.AddASN1Int64(int64(status))
			if text != "" {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(text)) })
				})
			}
			if failBit >= 0 {
				// BIT STRING with the one bit set; DER drops trailing
				// zero bits.
				n := failBit/8 + 1
				bits := make([]byte, n)
				bits[failBit/8] = 0x80 >> (failBit % 8)
				unused := 7 - failBit%8
				b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) {
					b.AddUint8(uint8(unused))
					b.AddBytes(bits)
				})
			}
		})
		if token != nil {
			b.AddBytes(token)
		}
	})
	return b.BytesOrPanic()
}
