// Package statuslist owns the signed status list that lets a card be
// checked with no network: in the style of the W3C Bitstring Status List,
// one compressed bitstring per status (voided, revoked, superseded), each
// card holding a random index printed in its QR token, the whole list
// signed with SM2 by the platform key. The format is specified in
// docs/status-list.md.
package statuslist

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/keys"
)

// Purpose is what a set bit means.
type Purpose string

const (
	Voided     Purpose = "voided"
	Revoked    Purpose = "revoked"
	Superseded Purpose = "superseded"
)

// Purposes are the lists, in the order they are signed.
var Purposes = []Purpose{Voided, Revoked, Superseded}

// Version is the format version.
const Version = 1

// DefaultSize is the number of entries (bits) per list: 2^24, so a
// random index reveals nothing about issue order or volume.
const DefaultSize = 1 << 24

// maxSize bounds parsed lists (2^24 entries, the token's index range).
const maxSize = 1 << 24

// Errors.
var (
	ErrMalformed = errors.New("malformed status list")
	ErrSignature = errors.New("status list signature does not verify")
	ErrUntrusted = errors.New("status list not signed by a trusted platform certificate")
	ErrStale     = errors.New("status list is past its valid-until time")
)

// List is a status list.
type List struct {
	Issuer     string
	Issued     time.Time
	ValidUntil time.Time
	Size       int
	bits       map[Purpose][]byte
}

// New returns an empty list of size entries.
func New(issuer string, size int, issued time.Time, validFor time.Duration) *List {
	l := &List{Issuer: issuer, Issued: issued.UTC().Truncate(time.Second), Size: size, bits: map[Purpose][]byte{}}
	l.ValidUntil = l.Issued.Add(validFor)
	for _, p := range Purposes {
		l.bits[p] = make([]byte, (size+7)/8)
	}
	return l
}

// Set sets the bit of index in the purpose's list. Bit 0 is the most
// significant bit of the first byte.
func (l *List) Set(p Purpose, index int) error {
	b, ok := l.bits[p]
	if !ok || index < 0 || index >= l.Size {
		return fmt.Errorf("status list: index %d or purpose %q out of range", index, p)
	}
	b[index/8] |= 0x80 >> (index % 8)
	return nil
}

// Get reports the bit of index in the purpose's list.
func (l *List) Get(p Purpose, index int) bool {
	b, ok := l.bits[p]
	if !ok || index < 0 || index >= l.Size {
		return false
	}
	return b[index/8]&(0x80>>(index%8)) != 0
}

// Status returns the first purpose whose bit is set for index, or "".
func (l *List) Status(index int) Purpose {
	for _, p := range Purposes {
		if l.Get(p, index) {
			return p
		}
	}
	return ""
}

type document struct {
	Version     int               `json:"version"`
	Issuer      string            `json:"issuer"`
	Issued      string            `json:"issued"`
	ValidUntil  string            `json:"valid_until"`
	Size        int               `json:"size"`
	Lists       map[string]string `json:"lists"`
	Certificate string            `json:"certificate"`
	Signature   string            `json:"signature"`
}

// message is what the signature covers: every field but the certificate
// and the signature, one per line, in a fixed order.
func (d *document) message() []byte {
	var b strings.Builder
	b.WriteString("cardseal-status-list-v1\n")
	b.WriteString("issuer=" + d.Issuer + "\n")
	b.WriteString("issued=" + d.Issued + "\n")
	b.WriteString("valid_until=" + d.ValidUntil + "\n")
	b.WriteString("size=" + strconv.Itoa(d.Size) + "\n")
	for _, p := range Purposes {
		b.WriteString(string(p) + "=" + d.Lists[string(p)] + "\n")
	}
	return []byte(b.String())
}

func encodeBits(b []byte) (string, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return "", err
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		return "", err
	}
	// Multibase prefix 'u': base64url without padding.
	return "u" + base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

func decodeBits(s string, size int) ([]byte, error) {
	if !strings.HasPrefix(s, "u") {
		return nil, fmt.Errorf("%w: bitstring is not multibase base64url", ErrMalformed)
	}
	z, err := base64.RawURLEncoding.DecodeString(s[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	want := (size + 7) / 8
	// Read one byte more than allowed to detect oversized input without
	// inflating a bomb.
	b, err := io.ReadAll(io.LimitReader(zr, int64(want)+1))
	if err != nil || len(b) != want {
		return nil, fmt.Errorf("%w: bitstring has the wrong length", ErrMalformed)
	}
	return b, nil
}

// Sign encodes and signs the list with the platform identity. The
// platform certificate is included so offline verifiers need only the
// trust list.
func (l *List) Sign(id *keys.Identity) ([]byte, error) {
	d := &document{
		Version: Version, Issuer: l.Issuer, Size: l.Size,
		Issued: l.Issued.Format(time.RFC3339), ValidUntil: l.ValidUntil.UTC().Format(time.RFC3339),
		Lists:       map[string]string{},
		Certificate: base64.StdEncoding.EncodeToString(id.Cert.Raw),
	}
	for _, p := range Purposes {
		s, err := encodeBits(l.bits[p])
		if err != nil {
			return nil, err
		}
		d.Lists[string(p)] = s
	}
	sig, err := id.Signer.Sign(rand.Reader, d.message(), sm2.DefaultSM2SignerOpts)
	if err != nil {
		return nil, fmt.Errorf("sign status list: %w", err)
	}
	d.Signature = base64.StdEncoding.EncodeToString(sig)
	return json.MarshalIndent(d, "", "  ")
}

// Parse verifies and decodes a signed status list: the signature, and
// that the platform certificate chains to the trust list and was valid
// when the list was issued. A stale list is returned with ErrStale so
// callers can decide (an offline check says so to the user).
func Parse(data []byte, trust *keys.TrustList, now time.Time) (*List, *smx509.Certificate, error) {
	var d document
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if d.Version != Version || d.Size <= 0 || d.Size > maxSize || len(d.Lists) != len(Purposes) {
		return nil, nil, fmt.Errorf("%w: version, size or lists", ErrMalformed)
	}
	issued, err1 := time.Parse(time.RFC3339, d.Issued)
	until, err2 := time.Parse(time.RFC3339, d.ValidUntil)
	if err1 != nil || err2 != nil || until.Before(issued) {
		return nil, nil, fmt.Errorf("%w: times", ErrMalformed)
	}
	der, err := base64.StdEncoding.DecodeString(d.Certificate)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: certificate", ErrMalformed)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: certificate: %v", ErrMalformed, err)
	}
	if !keys.IsPlatform(cert) {
		return nil, nil, fmt.Errorf("%w: not a platform certificate", ErrUntrusted)
	}
	if _, err := trust.Verify(cert, nil, issued); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	sig, err := base64.StdEncoding.DecodeString(d.Signature)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: signature", ErrMalformed)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !sm2.VerifyASN1WithSM2(pub, nil, d.message(), sig) {
		return nil, nil, ErrSignature
	}
	l := &List{Issuer: d.Issuer, Issued: issued, ValidUntil: until, Size: d.Size, bits: map[Purpose][]byte{}}
	for _, p := range Purposes {
		s, ok := d.Lists[string(p)]
		if !ok {
			return nil, nil, fmt.Errorf("%w: list %q missing", ErrMalformed, p)
		}
		if l.bits[p], err = decodeBits(s, d.Size); err != nil {
			return nil, nil, err
		}
	}
	if now.After(until) {
		return l, cert, ErrStale
	}
	return l, cert, nil
}
