// Package token owns the token printed in every card's QR code. A card
// issued today carries a version-2 token: a random 128-bit handle and
// nothing else, written as 26 upper-case Base32 characters, so that the
// whole verification URL stays short enough for a small, robust QR
// symbol and nothing in the QR code is derived from personal data. Cards
// printed earlier carry a version-1 token (legacy.go): binary claims
// signed by the platform key, still accepted. The formats are specified
// in docs/qr-token.md.
package token

import (
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// Version is the token format version this package issues.
const Version = 2

// MaxURLLen bounds the verification URL of a version-2 token: at most 64
// alphanumeric characters keep the QR symbol at version 4 or below at
// error-correction level M (docs/qr-token.md).
const MaxURLLen = 64

// maxLegacyURLLen bounds the URL of a version-1 token (version 10 or
// below at level M); such URLs are only rebuilt for cards already issued.
const maxLegacyURLLen = 213

// Errors. A token that does not decode is ErrMalformed; a version-1
// token that decodes but whose signature fails is ErrForged.
var (
	ErrMalformed = errors.New("malformed token")
	ErrForged    = errors.New("token signature does not verify")
	ErrNoKey     = errors.New("no platform certificate matches the token")
)

// b32 is RFC 4648 Base32 without padding: upper case and digits 2-7, all
// inside the QR code's alphanumeric set.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// qrAlphanumeric is the QR code's alphanumeric character set.
const qrAlphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// Normalize returns the token of a scanned verification URL or of a bare
// token as typed: the part after /V/, without surrounding space, upper
// case (Base32 is case-insensitive; scanners and people lower-case it).
func Normalize(s string) string {
	return strings.ToUpper(strings.TrimSpace(FromURL(s)))
}

// Scanned is a token read from a QR code: the key the registry knows the
// card by and, for a version-1 token, its verified claims.
type Scanned struct {
	// Key is the token's canonical spelling, the card's QR token in the
	// registry.
	Key string
	// Legacy holds a version-1 token's claims, whose signature verified
	// with Cert; nil for a version-2 token.
	Legacy *Claims
	Cert   *smx509.Certificate
}

// Read reads a scanned token or verification URL, any case. A version-2
// token is a random handle: it is parsed strictly, and only the registry
// can say whether it names a card. A version-1 token must verify against
// one of the platform certificates (current and rotated-out ones; callers
// judge the certificates against the trust list). The version is told by
// the length: 26 characters for version 2, 180 for version 1.
func Read(s string, platform []*smx509.Certificate) (*Scanned, error) {
	tok := Normalize(s)
	if len(tok) == handleChars {
		h, err := ParseHandle(tok)
		if err != nil {
			return nil, err
		}
		return &Scanned{Key: h.String()}, nil
	}
	c, cert, err := Verify(tok, platform)
	if err != nil {
		return nil, err
	}
	return &Scanned{Key: tok, Legacy: c, Cert: cert}, nil
}

// VerificationCode is the short code printed beside the QR code for a
// manual check (card number + code): the first 8 Base32 characters of
// SM3("cardseal-vc" || token bytes), shown as XXXX-XXXX. The token bytes
// of a version-2 token are its 16 random handle bytes, so the code is
// random too: it reveals nothing about the holders, cannot be derived
// from the card number, and its 40 bits do not give the handle (the
// download link) away. It returns "" for a string that is not Base32.
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
// <BASE>/V/<TOKEN>, all upper case (scheme and host are case-insensitive)
// so that the whole URL is encoded in QR alphanumeric mode. The URL of a
// version-2 token may have at most MaxURLLen characters, so the base URL
// at most 35.
func URL(base, tok string) (string, error) {
	u := strings.ToUpper(strings.TrimRight(base, "/")) + "/V/" + tok
	for _, r := range u {
		if !strings.ContainsRune(qrAlphanumeric, r) {
			return "", fmt.Errorf("public URL %q: character %q is outside QR alphanumeric mode", base, r)
		}
	}
	limit := MaxURLLen
	if len(tok) != handleChars {
		limit = maxLegacyURLLen
	}
	if len(u) > limit {
		return "", fmt.Errorf("public URL %q is too long: the QR URL has %d characters, at most %d fit", base, len(u), limit)
	}
	return u, nil
}

// FromURL extracts the token from a scanned verification URL or returns
// the input if it is a bare token.
func FromURL(s string) string {
	s = strings.TrimSpace(s)
	// Look for "/V/" in either case without changing the string:
	// strings.ToUpper would turn invalid UTF-8 into U+FFFD and shift every
	// index after it.
	if i := max(strings.LastIndex(s, "/V/"), strings.LastIndex(s, "/v/")); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "?#/"); i >= 0 {
		s = s[:i]
	}
	return s
}
