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

// NormalizeCode reads a verification code as a person types it from a
// paper card: full-width characters (a Chinese input method) become
// ASCII, letters are upper-cased, and the digits that look like letters
// become those letters — 0→O, 1→I, 8→B — because the Base32 alphabet
// (A-Z, 2-7) has no 0, 1, 8 or 9, so the mapping never changes a code
// that was typed right. Spaces, dashes and anything else outside the
// alphabet are dropped and the dash restored: '0bcd 1fg8' reads as
// 'OBCD-IFGB' (docs/qr-token.md, "Verification code").
func NormalizeCode(s string) string {
	s = strings.Map(func(r rune) rune {
		r = halfWidth(r)
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '2' && r <= '7':
			return r
		case r == '0':
			return 'O'
		case r == '1':
			return 'I'
		case r == '8':
			return 'B'
		}
		return -1
	}, s)
	if len(s) != 8 {
		return s
	}
	return s[:4] + "-" + s[4:]
}

// halfWidth maps a full-width ASCII form (U+FF01–U+FF5E, as a Chinese
// input method types them) and the ideographic space to ASCII.
func halfWidth(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFF01 + '!'
	case r == 0x3000:
		return ' '
	}
	return r
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

// Truncated reports whether s (a token as read from a link, any case)
// looks like part of a token rather than an altered one: every character
// is in the Base32 alphabet but there are too few of them for a
// version-2 token (26) or, between the two lengths, for a version-1
// token (180). A QR code scanned half or a link cut short by a chat
// program gives this; it says nothing about the card, so the public page
// asks for a new scan instead of calling it a forgery. The empty string
// is truncated too (a link that ends at /V/).
func Truncated(s string) bool {
	s = strings.ToUpper(strings.TrimSpace(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	n := len(s)
	return n < handleChars || n > handleChars && n < b32.EncodedLen(tokenLen)
}
