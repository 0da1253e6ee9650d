// Package templates owns cardseal's printed documents: the layout of the
// fertility service card (revision 0 of the PDF that the seals are later
// appended to), the embedded CJK font every document is drawn with, the
// QR code, the seal boxes the signer places seal widgets in, and the red
// round seal picture of each organisation.
//
// The font (fonts/NotoSansSC-cardseal.ttf, built by scripts/mkfont.sh) is
// parsed once per process. Every string is checked against the font's
// character map before anything is drawn, so a character the font lacks
// is reported as a *MissingGlyphError naming the field, never printed as a
// blank or a box.
package templates

import (
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"github.com/signintech/gopdf"
	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

//go:embed fonts/NotoSansSC-cardseal.ttf
var fontData []byte

// fontFamily is the family name under which the font is registered with
// gopdf. gopdf writes it verbatim as the PDF /BaseFont, so it carries a
// six-letter subset tag: PDF readers (and pdffonts) recognise the embedded
// font as a subset by that "XXXXXX+" prefix (ISO 32000-1, 9.6.4).
const fontFamily = "CSLSCA+NotoSansCJKsc-Regular"

// ErrMissingGlyph is wrapped by every *MissingGlyphError.
var ErrMissingGlyph = errors.New("character not in the embedded font")

// MissingGlyphError reports a character of a field that the embedded font
// cannot draw.
type MissingGlyphError struct {
	Field string // e.g. "male.name"
	Char  rune
}

func (e *MissingGlyphError) Error() string {
	return fmt.Sprintf("field %q: character %U %q is not in the embedded font", e.Field, e.Char, e.Char)
}

// Unwrap returns ErrMissingGlyph.
func (e *MissingGlyphError) Unwrap() error { return ErrMissingGlyph }

// glyphPanic is raised by gopdf's missing-glyph hook. The hook cannot
// return an error, and every string is checked before drawing, so it only
// fires if the checks and gopdf's own cmap reader ever disagree; the
// renderer recovers it into a *MissingGlyphError instead of letting gopdf
// print a substitute.
type glyphPanic struct{ r rune }

// face is the parsed embedded font, shared by every document.
type face struct {
	sfnt *sfnt.Font
	upem float64
	// adv is the advance width in font units of each BMP code point the
	// font maps (the subset holds no code point above U+FFFF); has marks
	// which code points the cmap maps to a real glyph.
	adv [1 << 16]uint16
	has [1 << 16 / 64]uint64
	// pdf holds gopdf's parsed copy of the font; each document gets a
	// shallow copy with its own glyph map (gopdf.FontContainer).
	pdf *gopdf.FontContainer
	// ascent and descent are the hhea metrics per em (descent positive).
	ascent, descent float64
}

var loadFace = sync.OnceValues(func() (*face, error) {
	f, err := sfnt.Parse(fontData)
	if err != nil {
		return nil, fmt.Errorf("parse embedded font: %w", err)
	}
	fc := &face{sfnt: f, upem: float64(f.UnitsPerEm())}
	var b sfnt.Buffer
	ppem := fixed.Int26_6(f.UnitsPerEm()) << 6 // one pixel per font unit
	for r := rune(0x20); r < 1<<16; r++ {
		gi, err := f.GlyphIndex(&b, r)
		if err != nil || gi == 0 {
			continue
		}
		a, err := f.GlyphAdvance(&b, gi, ppem, font.HintingNone)
		if err != nil {
			return nil, fmt.Errorf("advance of %U: %w", r, err)
		}
		fc.adv[r] = uint16(a >> 6)
		fc.has[r/64] |= 1 << (r % 64)
	}
	m, err := f.Metrics(&b, ppem, font.HintingNone)
	if err != nil {
		return nil, fmt.Errorf("font metrics: %w", err)
	}
	fc.ascent = float64(m.Ascent>>6) / fc.upem
	fc.descent = float64(m.Descent>>6) / fc.upem

	fc.pdf = new(gopdf.FontContainer)
	opt := gopdf.TtfOption{
		OnGlyphNotFound:           func(r rune) { panic(glyphPanic{r}) },
		OnGlyphNotFoundSubstitute: func(r rune) rune { panic(glyphPanic{r}) },
	}
	if err := fc.pdf.AddTTFFontDataWithOption(fontFamily, fontData, opt); err != nil {
		return nil, fmt.Errorf("load embedded font into gopdf: %w", err)
	}
	return fc, nil
})

// covers reports whether the font can draw r. Control characters are
// never drawable.
func (f *face) covers(r rune) bool {
	if r < 0x20 || r >= 1<<16 {
		return false
	}
	return f.has[r/64]&(1<<(r%64)) != 0
}

// check returns a *MissingGlyphError for the first character of s that
// the font cannot draw.
func (f *face) check(field, s string) error {
	for _, r := range s {
		if !f.covers(r) {
			return &MissingGlyphError{Field: field, Char: r}
		}
	}
	return nil
}

// width is the advance width of s in points at the given size.
func (f *face) width(s string, size float64) float64 {
	var u int
	for _, r := range s {
		if r >= 0 && r < 1<<16 {
			u += int(f.adv[r])
		}
	}
	return float64(u) * size / f.upem
}

// CheckText reports, as a *MissingGlyphError naming field, the first
// character of s that the embedded font cannot draw. Callers validating
// input early (e.g. an application form) can use it before rendering.
func CheckText(field, s string) error {
	f, err := loadFace()
	if err != nil {
		return err
	}
	return f.check(field, s)
}
