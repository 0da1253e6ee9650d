package token

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// HandleLen is the size of a version-2 token: 128 random bits.
const HandleLen = 16

// handleChars is the length of a version-2 token in Base32: 26
// characters, the last of which carries 3 bits of the handle and 2 unused
// bits that must be zero.
const handleChars = 26

// Handle is a version-2 token: 16 bytes from the system's random source
// and nothing else. It names a card in the registry the way a random
// card id would; no field of it is derived from the card or its holders.
type Handle [HandleLen]byte

// NewHandle returns a fresh random handle.
func NewHandle() Handle {
	var h Handle
	if _, err := rand.Read(h[:]); err != nil {
		panic(err) // crypto/rand never fails on a supported platform
	}
	return h
}

// String returns the token: 26 upper-case Base32 characters.
func (h Handle) String() string { return b32.EncodeToString(h[:]) }

// ParseHandle parses a version-2 token strictly: after trimming space and
// upper-casing, exactly 26 characters of the RFC 4648 Base32 alphabet
// (A-Z, 2-7) whose unused last two bits are zero, so that one handle has
// one spelling. Anything else is ErrMalformed.
func ParseHandle(tok string) (Handle, error) {
	var h Handle
	tok = strings.ToUpper(strings.TrimSpace(tok))
	if len(tok) != handleChars {
		return h, fmt.Errorf("%w: length %d, want %d", ErrMalformed, len(tok), handleChars)
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return h, fmt.Errorf("%w: character %d is not Base32", ErrMalformed, i)
		}
	}
	b, err := b32.DecodeString(tok)
	if err != nil || len(b) != HandleLen {
		return h, fmt.Errorf("%w: not Base32", ErrMalformed)
	}
	copy(h[:], b)
	if h.String() != tok {
		return Handle{}, fmt.Errorf("%w: not canonical Base32", ErrMalformed)
	}
	return h, nil
}
