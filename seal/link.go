package seal

import (
	"fmt"
	"unicode/utf8"

	"github.com/jilin-health/cardseal/org"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Link is the value of the cardseal signed attribute: who sealed (level
// and division code), which document, and the seal it follows.
//
//	CardsealLink ::= SEQUENCE {
//	    version      INTEGER (1),
//	    level        ENUMERATED { village(1), township(2), county(3) },
//	    divisionCode PrintableString (SIZE (6 | 9 | 12)),
//	    docID        UTF8String (SIZE (1..128)),
//	    prev         OCTET STRING (SIZE (32)) OPTIONAL }
type Link struct {
	Level org.Level
	Code  string // significant division code: 6, 9 or 12 digits by level
	DocID string
	Prev  []byte // SM3 of the previous seal's CMS DER; nil for the first seal
}

const (
	linkVersion  = 1
	maxDocIDLen  = 128
	prevLen      = 32
	maxLinkBytes = 512
)

func levelNumber(l org.Level) int {
	switch l {
	case org.Village:
		return 1
	case org.Township:
		return 2
	case org.County:
		return 3
	}
	return 0
}

func levelOf(n int) org.Level {
	switch n {
	case 1:
		return org.Village
	case 2:
		return org.Township
	case 3:
		return org.County
	}
	return ""
}

// Validate checks the Link can be encoded: a known level, a division code
// of the level's length made of digits, a non-empty UTF-8 DocID of at most
// 128 bytes, and Prev either nil or 32 bytes. Errors wrap ErrInvalidLink.
func (l Link) Validate() error {
	if levelNumber(l.Level) == 0 {
		return linkErr("unknown level %q", l.Level)
	}
	if len(l.Code) != l.Level.CodeLen() {
		return linkErr("a %s code has %d digits, %q has %d", l.Level, l.Level.CodeLen(), l.Code, len(l.Code))
	}
	for i := 0; i < len(l.Code); i++ {
		if c := l.Code[i]; c < '0' || c > '9' {
			return linkErr("division code %q is not all digits", l.Code)
		}
	}
	if l.DocID == "" || len(l.DocID) > maxDocIDLen || !utf8.ValidString(l.DocID) {
		return linkErr("document ID must be 1 to %d bytes of UTF-8", maxDocIDLen)
	}
	if l.Prev != nil && len(l.Prev) != prevLen {
		return linkErr("prev must be %d bytes, not %d", prevLen, len(l.Prev))
	}
	return nil
}

func linkErr(format string, args ...any) error {
	return &linkError{reason: fmt.Sprintf(format, args...)}
}

type linkError struct{ reason string }

func (e *linkError) Error() string        { return "seal: invalid cardseal link: " + e.reason }
func (e *linkError) Is(target error) bool { return target == ErrInvalidLink }

// addLink appends the DER CardsealLink. l must be valid.
func addLink(b *cryptobyte.Builder, l *Link) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(linkVersion)
		b.AddASN1Int64WithTag(int64(levelNumber(l.Level)), asn1.Tag(10)) // ENUMERATED
		b.AddASN1(asn1.PrintableString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(l.Code)) })
		b.AddASN1(asn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(l.DocID)) })
		if l.Prev != nil {
			b.AddASN1OctetString(l.Prev)
		}
	})
}

// parseLink decodes one DER CardsealLink (the whole of in).
func parseLink(in cryptobyte.String) (*Link, error) {
	const field = "cardseal link"
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() {
		return nil, malformed(field, "not one SEQUENCE")
	}
	var version, level int
	var code, docID cryptobyte.String
	if !seq.ReadASN1Integer(&version) || version != linkVersion {
		return nil, malformed(field, "version must be %d", linkVersion)
	}
	if !seq.ReadASN1Enum(&level) {
		return nil, malformed(field, "bad level")
	}
	if !seq.ReadASN1(&code, asn1.PrintableString) || !seq.ReadASN1(&docID, asn1.UTF8String) {
		return nil, malformed(field, "bad division code or document ID")
	}
	l := &Link{Level: levelOf(level), Code: string(code), DocID: string(docID)}
	if !seq.Empty() {
		var prev []byte
		if !seq.ReadASN1Bytes(&prev, asn1.OCTET_STRING) || !seq.Empty() {
			return nil, malformed(field, "bad prev")
		}
		l.Prev = prev
		if l.Prev == nil {
			l.Prev = []byte{}
		}
	}
	if err := l.Validate(); err != nil {
		return nil, &FormatError{Field: field, Reason: "invalid value", Err: err}
	}
	return l, nil
}
