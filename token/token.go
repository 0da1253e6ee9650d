// Package token owns the QR token printed on every card: a compact binary
// record of the card, signed with SM2 by the platform key and written in
// upper-case Base32 so that the whole verification URL fits a QR code's
// alphanumeric mode. The format is specified in docs/qr-token.md.
package token

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/pbkdf2"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
)

// Version is the token format version this package writes.
const Version = 1

const (
	bodyLen   = 48 // version … status index
	sigLen    = 64 // SM2 r || s, 32 bytes each
	tokenLen  = bodyLen + sigLen
	saltLen   = 8
	digestLen = 6
	// HolderIterations is the PBKDF2-HMAC-SM3 iteration count of the
	// holder digests: ID numbers have little entropy, so the digest is
	// slow and short (see docs/qr-token.md, "Privacy").
	HolderIterations = 4096
	// MaxURLLen keeps the QR symbol at version 10 or below.
	MaxURLLen = 213
)

var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Errors. A token that does not decode is ErrMalformed; one that decodes
// but whose signature fails is ErrForged.
var (
	ErrMalformed = errors.New("malformed token")
	ErrForged    = errors.New("token signature does not verify")
	ErrNoKey     = errors.New("no platform certificate matches the token")
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Claims are what a token says about a card.
type Claims struct {
	CardID    uint64    // the registry's card id
	Number    string    // 16-digit card number: county (6) year (4) sequence (6)
	Type      card.Type // first, second, rebirth
	County    string    // issuing county's 6-digit division code
	IssueDate time.Time // date only, UTC
	Salt      [saltLen]byte
	Male      [digestLen]byte // holder digest of the male spouse's ID number
	Female    [digestLen]byte // holder digest of the female spouse's ID number
	KeyHint   byte            // first byte of the platform certificate's key id
	// StatusIndex is the card's position in the signed status list
	// (docs/status-list.md), below 2^24.
	StatusIndex int
}

// NewSalt returns a random salt for a new card's holder digests.
func NewSalt() (s [saltLen]byte) {
	if _, err := rand.Read(s[:]); err != nil {
		panic(err)
	}
	return s
}

// HolderDigest computes the digest that binds an ID number to a token:
// PBKDF2-HMAC-SM3(ID number, salt || role, HolderIterations, 6 bytes),
// role 'M' for the male and 'F' for the female spouse.
func HolderDigest(salt [saltLen]byte, role byte, idNumber string) (d [digestLen]byte) {
	s := append(salt[:], role)
	copy(d[:], pbkdf2.Key([]byte(strings.ToUpper(idNumber)), s, HolderIterations, digestLen, sm3.New))
	return d
}

// BindHolders fills the holder digests from the two ID numbers.
func (c *Claims) BindHolders(maleID, femaleID string) {
	c.Male = HolderDigest(c.Salt, 'M', maleID)
	c.Female = HolderDigest(c.Salt, 'F', femaleID)
}

// MatchesHolder reports whether idNumber is one of the card's holders.
func (c *Claims) MatchesHolder(idNumber string) bool {
	m := HolderDigest(c.Salt, 'M', idNumber)
	f := HolderDigest(c.Salt, 'F', idNumber)
	return subtle.ConstantTimeCompare(m[:], c.Male[:])|subtle.ConstantTimeCompare(f[:], c.Female[:]) == 1
}

func (c *Claims) body() ([]byte, error) {
	if len(c.Number) != 16 {
		return nil, fmt.Errorf("card number %q: want 16 digits", c.Number)
	}
	num, err := strconv.ParseUint(c.Number, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("card number %q: %w", c.Number, err)
	}
	county, err := strconv.ParseUint(c.County, 10, 32)
	if err != nil || len(c.County) != 6 {
		return nil, fmt.Errorf("county code %q: want 6 digits", c.County)
	}
	if !c.Type.Valid() {
		return nil, fmt.Errorf("card type %q", c.Type)
	}
	days := c.IssueDate.UTC().Sub(epoch).Hours() / 24
	if days < 0 || days > 65535 {
		return nil, fmt.Errorf("issue date %v out of range", c.IssueDate)
	}
	if c.StatusIndex < 0 || c.StatusIndex >= 1<<24 {
		return nil, fmt.Errorf("status index %d out of range", c.StatusIndex)
	}
	b := make([]byte, bodyLen, tokenLen)
	b[0] = Version
	b[1] = c.KeyHint
	binary.BigEndian.PutUint64(b[2:], c.CardID)
	binary.BigEndian.PutUint64(b[10:], num)
	b[18] = c.Type.Code()
	binary.BigEndian.PutUint32(b[19:], uint32(county))
	binary.BigEndian.PutUint16(b[23:], uint16(days))
	copy(b[25:], c.Salt[:])
	copy(b[33:], c.Male[:])
	copy(b[39:], c.Female[:])
	b[45], b[46], b[47] = byte(c.StatusIndex>>16), byte(c.StatusIndex>>8), byte(c.StatusIndex)
	return b, nil
}

// Sign encodes and signs the claims with the platform identity.
func Sign(c *Claims, id *keys.Identity) (string, error) {
	if len(id.Cert.SubjectKeyId) > 0 {
		c.KeyHint = id.Cert.SubjectKeyId[0]
	}
	b, err := c.body()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	der, err := id.Signer.Sign(rand.Reader, b, sm2.DefaultSM2SignerOpts)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	raw, err := rawSignature(der)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return b32.EncodeToString(append(b, raw...)), nil
}

// Decode parses a token without checking its signature.
func Decode(tok string) (*Claims, []byte, error) {
	tok = strings.ToUpper(strings.TrimSpace(tok))
	if len(tok) != b32.EncodedLen(tokenLen) {
		return nil, nil, fmt.Errorf("%w: length %d", ErrMalformed, len(tok))
	}
	b, err := b32.DecodeString(tok)
	if err != nil || len(b) != tokenLen {
		return nil, nil, fmt.Errorf("%w: not Base32", ErrMalformed)
	}
	// The last character carries 4 unused bits; a decoder ignores them,
	// so only the canonical spelling (those bits zero) is a token: one
	// token, one string.
	if b32.EncodeToString(b) != tok {
		return nil, nil, fmt.Errorf("%w: not canonical Base32", ErrMalformed)
	}
	if b[0] != Version {
		return nil, nil, fmt.Errorf("%w: version %d", ErrMalformed, b[0])
	}
	c := &Claims{KeyHint: b[1], CardID: binary.BigEndian.Uint64(b[2:])}
	c.Number = fmt.Sprintf("%016d", binary.BigEndian.Uint64(b[10:]))
	if len(c.Number) != 16 {
		return nil, nil, fmt.Errorf("%w: card number", ErrMalformed)
	}
	t, ok := card.TypeFromCode(b[18])
	if !ok {
		return nil, nil, fmt.Errorf("%w: card type %d", ErrMalformed, b[18])
	}
	c.Type = t
	county := binary.BigEndian.Uint32(b[19:])
	if county < 110000 || county > 999999 {
		return nil, nil, fmt.Errorf("%w: county code", ErrMalformed)
	}
	c.County = strconv.FormatUint(uint64(county), 10)
	c.IssueDate = epoch.AddDate(0, 0, int(binary.BigEndian.Uint16(b[23:])))
	copy(c.Salt[:], b[25:])
	copy(c.Male[:], b[33:])
	copy(c.Female[:], b[39:])
	c.StatusIndex = int(b[45])<<16 | int(b[46])<<8 | int(b[47])
	return c, b, nil
}

// Verify decodes a token and checks its signature against the platform
// certificates (current and rotated-out ones). It does not judge the
// certificates: callers check them against the trust list.
func Verify(tok string, platform []*smx509.Certificate) (*Claims, *smx509.Certificate, error) {
	c, b, err := Decode(tok)
	if err != nil {
		return nil, nil, err
	}
	der, err := derSignature(b[bodyLen:])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	tried := false
	for _, cert := range platform {
		if len(cert.SubjectKeyId) > 0 && cert.SubjectKeyId[0] != c.KeyHint {
			continue
		}
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			continue
		}
		tried = true
		if sm2.VerifyASN1WithSM2(pub, nil, b[:bodyLen], der) {
			return c, cert, nil
		}
	}
	if !tried {
		return nil, nil, ErrNoKey
	}
	return nil, nil, ErrForged
}

// VerificationCode is the short code printed beside the QR code for a
// manual check (card number + code): the first 8 Base32 characters of
// SM3("cardseal-vc" || token bytes), shown as XXXX-XXXX. Anyone holding
// the paper card has it; nobody can derive it from the card number.
func VerificationCode(tok string) string {
	b, err := b32.DecodeString(strings.ToUpper(tok))
	if err != nil {
		return ""
	}
	h := sm3.New()
	h.Write([]byte("cardseal-vc"))
	h.Write(b)
	s := b32.EncodeToString(h.Sum(nil))[:8]
	return s[:4] + "-" + s[4:]
}

// NormalizeCode upper-cases a typed verification code and restores the
// dash, so 'abcd efgh' matches 'ABCD-EFGH'.
func NormalizeCode(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '2' && r <= '7':
			return r
		}
		return -1
	}, s)
	if len(s) != 8 {
		return s
	}
	return s[:4] + "-" + s[4:]
}

// URL builds the verification URL printed in the QR code:
// <BASE>/V/<TOKEN>, upper case so that it stays in alphanumeric mode.
func URL(base, tok string) (string, error) {
	u := strings.ToUpper(strings.TrimRight(base, "/")) + "/V/" + tok
	for _, r := range u {
		if !strings.ContainsRune("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", r) {
			return "", fmt.Errorf("public URL %q: character %q is outside QR alphanumeric mode", base, r)
		}
	}
	if len(u) > MaxURLLen {
		return "", fmt.Errorf("public URL %q is too long: the QR URL has %d characters, at most %d fit", base, len(u), MaxURLLen)
	}
	return u, nil
}

// FromURL extracts the token from a scanned verification URL or returns
// the input if it is a bare token.
func FromURL(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(strings.ToUpper(s), "/V/"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "?#/"); i >= 0 {
		s = s[:i]
	}
	return s
}

func rawSignature(der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		return nil, err
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return nil, errors.New("signature components out of range")
	}
	out := make([]byte, sigLen)
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

func derSignature(raw []byte) ([]byte, error) {
	r := new(big.Int).SetBytes(raw[:32])
	s := new(big.Int).SetBytes(raw[32:])
	if r.Sign() == 0 || s.Sign() == 0 {
		return nil, errors.New("zero signature component")
	}
	return asn1.Marshal(struct{ R, S *big.Int }{r, s})
}
