package token

// Version 1, the legacy format: binary claims about the card signed with
// SM2 by the platform key (docs/qr-token.md, "Version 1"). Cards printed
// before version 2 carry it and keep working: the signature is checked
// and the card is found by the token. The two holder digests it carries
// are never used again (docs/privacy.md); they are read only because the
// signature covers them.

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
)

const (
	legacyVersion = 1
	bodyLen       = 48 // version … status index
	sigLen        = 64 // SM2 r || s, 32 bytes each
	tokenLen      = bodyLen + sigLen
	saltLen       = 8
	digestLen     = 6
)

var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Claims are what a version-1 token says about a card.
type Claims struct {
	CardID    uint64    // the registry's card id
	Number    string    // 16-digit card number: county (6) year (4) sequence (6)
	Type      card.Type // first, second, rebirth
	County    string    // issuing county's 6-digit division code
	IssueDate time.Time // date only, UTC
	// Salt, Male and Female are the holder binding of version 1: a salt
	// and a PBKDF2 digest of each spouse's ID number. They are opaque
	// bytes here, kept only because the signature covers them: nothing
	// compares an ID number with them any more, because with the public
	// mask they give the ID number away (docs/privacy.md).
	Salt    [saltLen]byte
	Male    [digestLen]byte
	Female  [digestLen]byte
	KeyHint byte // first byte of the platform certificate's key id
	// StatusIndex is the card's position in the signed status list
	// (docs/status-list.md), below 2^24.
	StatusIndex int
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
	b[0] = legacyVersion
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

// SignLegacy encodes and signs version-1 claims with the platform
// identity. cardseal no longer issues version-1 tokens (lifecycle.Render
// issues version 2); this stays so that tests can hold the cards printed
// before version 2 to the same checks, and docs/qr-token.md's legacy
// vector can be reproduced.
func SignLegacy(c *Claims, id *keys.Identity) (string, error) {
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

// Decode parses a version-1 token without checking its signature.
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
	if b[0] != legacyVersion {
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

// Verify decodes a version-1 token and checks its signature against the
// platform certificates (current and rotated-out ones). It does not judge
// the certificates: callers check them against the trust list.
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
