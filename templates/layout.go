package templates

import (
	"compress/zlib"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/signintech/gopdf"
)

// The layout helper below is shared by every document cardseal prints
// (the card now; the refusal and missing-materials notices and the re-birth
// approval form later). A document is first laid out into a display list
// of drawing operations in page coordinates (points, origin at the upper
// left, y down, as gopdf uses them); the list is then checked as a whole —
// every string against the font, every text box against the reserved
// areas (seal boxes, QR code) — and only then drawn. The display list is
// also the layout model the tests assert on.

const (
	mm       = 72 / 25.4 // points per millimetre
	pageW    = 210 * mm  // A4 portrait
	pageH    = 297 * mm
	lineGap  = 1.45 // line height as a multiple of the font size
	cellPadX = 2 * mm
	cellPadY = 1.6 * mm
)

// ErrLayout is returned when a document's content does not fit its page
// or would overlap a reserved area.
var ErrLayout = errors.New("document layout does not fit")

// rect is a rectangle in page coordinates (points, upper-left origin).
type rect struct{ x, y, w, h float64 }

func (r rect) intersects(o rect) bool {
	return r.x < o.x+o.w && o.x < r.x+r.w && r.y < o.y+o.h && o.y < r.y+r.h
}

// pdf returns r as [llx lly urx ury] with the PDF's lower-left origin.
func (r rect) pdf() [4]float64 {
	return [4]float64{r.x, pageH - r.y - r.h, r.x + r.w, pageH - r.y}
}

// gap is the smallest distance between two rectangles (0 if they touch or
// overlap).
func (r rect) gap(o rect) float64 {
	dx := max(0, o.x-(r.x+r.w), r.x-(o.x+o.w))
	dy := max(0, o.y-(r.y+r.h), r.y-(o.y+o.h))
	return math.Hypot(dx, dy)
}

// textOp draws one line of text with its baseline at (x, y).
type textOp struct {
	field string
	s     string
	x, y  float64
	size  float64
}

// box is the extent of the line: the font's ascent above the baseline and
// its descent below.
func (t textOp) box(f *face) rect {
	w := f.width(t.s, t.size)
	return rect{t.x, t.y - f.ascent*t.size, w, (f.ascent + f.descent) * t.size}
}

// shapeOp strokes or fills a rectangle or a line.
type shapeOp struct {
	r      rect
	line   bool // from (x, y) to (x+w, y+h)
	fill   bool
	gray   uint8 // 0 black … 255 white
	width  float64
	dashed bool
}

// reserved is an area no text may enter.
type reserved struct {
	name string
	r    rect
}

// page is a one-page document being laid out.
type page struct {
	f        *face
	texts    []textOp
	shapes   []shapeOp
	reserved []reserved
}

func newPage(f *face) *page { return &page{f: f} }

// text places one line with its baseline at (x, y), left aligned.
func (p *page) text(field, s string, x, y, size float64) {
	p.texts = append(p.texts, textOp{field, s, x, y, size})
}

// align selects the horizontal alignment of textIn.
type align int

const (
	left align = iota
	center
	right
)

// textIn places one line in the span [x, x+w] with the given alignment,
// shrinking the size (down to 60 %) if the line is too wide.
func (p *page) textIn(field, s string, x, y, w, size float64, a align) {
	tw := p.f.width(s, size)
	if tw > w && tw > 0 {
		size = max(size*0.6, size*w/tw)
		tw = p.f.width(s, size)
	}
	switch a {
	case center:
		x += (w - tw) / 2
	case right:
		x += w - tw
	}
	p.text(field, s, x, y, size)
}

func (p *page) rectangle(r rect, lineWidth float64, gray uint8, dashed bool) {
	p.shapes = append(p.shapes, shapeOp{r: r, width: lineWidth, gray: gray, dashed: dashed})
}

func (p *page) fillRect(r rect, gray uint8) {
	p.shapes = append(p.shapes, shapeOp{r: r, fill: true, gray: gray})
}

func (p *page) line(x1, y1, x2, y2, lineWidth float64) {
	p.shapes = append(p.shapes, shapeOp{r: rect{x1, y1, x2 - x1, y2 - y1}, line: true, width: lineWidth})
}

// reserve marks an area that no text may enter.
func (p *page) reserve(name string, r rect) {
	p.reserved = append(p.reserved, reserved{name, r})
}

// wrap breaks s into lines no wider than w at the given size. Chinese
// text breaks between any two characters, but a run of ASCII letters and
// digits (an ID or certificate number, a house number) is kept whole
// unless it is longer than a line; a closing punctuation mark is kept on
// the line before (it may overhang slightly), as Chinese typesetting
// requires.
func (p *page) wrap(s string, w, size float64) []string {
	var lines []string
	// Invalid UTF-8 becomes U+FFFD, which the font check then reports.
	s = strings.ToValidUTF8(s, "\uFFFD")
	for _, para := range strings.Split(s, "\n") {
		var cur strings.Builder
		curW := 0.0
		flush := func() {
			lines = append(lines, cur.String())
			cur.Reset()
			curW = 0
		}
		for _, tok := range tokens(para) {
			tw := p.f.width(tok, size)
			first, _ := utf8.DecodeRuneInString(tok)
			if curW+tw > w && cur.Len() > 0 && !strings.ContainsRune(noLineStart, first) {
				flush()
			}
			if tw > w { // a token wider than a line: split it by character
				for _, r := range tok {
					rw := p.f.width(string(r), size)
					if curW+rw > w && cur.Len() > 0 {
						flush()
					}
					cur.WriteRune(r)
					curW += rw
				}
				continue
			}
			cur.WriteString(tok)
			curW += tw
		}
		flush()
	}
	return lines
}

// tokens splits s into unbreakable pieces: runs of ASCII letters, digits
// and the joiners - . / and single other characters.
func tokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		if j == i {
			_, n := utf8.DecodeRuneInString(s[i:])
			j = i + n
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func isWordByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b == '-' || b == '.' || b == '/'
}

// noLineStart lists characters that must not begin a line.
const noLineStart = "，。、；：？！）》」』】〕,.;:?!)%"

// cell is one table cell: the field it shows (for error messages) and its
// text.
type cell struct{ field, s string }

// table draws rows of cells with the given column widths at (x, y) and
// returns its height. With shadeLabels, cells of field "label" (fixed
// captions) are shaded and centred. Cell text wraps.
func (p *page) table(x, y float64, cols []float64, rows [][]cell, size float64, shadeLabels bool) float64 {
	top := y
	total := 0.0
	for _, w := range cols {
		total += w
	}
	lh := size * lineGap
	for _, row := range rows {
		wrapped := make([][]string, len(row))
		n := 1
		for i, c := range row {
			wrapped[i] = p.wrap(c.s, cols[i]-2*cellPadX, size)
			n = max(n, len(wrapped[i]))
		}
		h := float64(n)*lh + 2*cellPadY
		cx := x
		for i, c := range row {
			if c.field == "label" && shadeLabels {
				p.fillRect(rect{cx, y, cols[i], h}, 235)
			}
			// Vertically centre the cell's lines.
			ty := y + (h-float64(len(wrapped[i]))*lh)/2
			for j, ln := range wrapped[i] {
				by := ty + float64(j)*lh + (lh-size)/2 + p.f.ascent*size
				a := left
				if c.field == "label" && shadeLabels {
					a = center
				}
				p.textIn(c.field, ln, cx+cellPadX, by, cols[i]-2*cellPadX, size, a)
			}
			cx += cols[i]
		}
		p.line(x, y, x+total, y, 0.5)
		y += h
	}
	p.line(x, y, x+total, y, 0.5)
	cx := x
	for _, w := range cols {
		p.line(cx, top, cx, y, 0.5)
		cx += w
	}
	p.line(cx, top, cx, y, 0.5)
	// A heavier outer frame.
	p.rectangle(rect{x, top, total, y - top}, 1, 0, false)
	return y - top
}

// validate checks every string against the font and every text box
// against the page and the reserved areas.
func (p *page) validate() error {
	for _, t := range p.texts {
		if err := p.f.check(t.field, t.s); err != nil {
			return err
		}
	}
	page := rect{0, 0, pageW, pageH}
	for _, t := range p.texts {
		b := t.box(p.f)
		if b.x < page.x || b.y < page.y || b.x+b.w > page.w || b.y+b.h > page.h {
			return fmt.Errorf("%w: %s %q leaves the page", ErrLayout, t.field, t.s)
		}
		for _, r := range p.reserved {
			if b.intersects(r.r) {
				return fmt.Errorf("%w: %s %q enters the %s", ErrLayout, t.field, t.s, r.name)
			}
		}
	}
	return nil
}

// docInfo is the PDF's document information.
type docInfo struct {
	title, subject string
	created        time.Time
	// ints are extra integer entries (addInfoInts), e.g. a card's
	// status-list index.
	ints map[string]int
}

// render validates the page and draws it with gopdf.
func (p *page) render(info docInfo) (out []byte, err error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	defer func() {
		if v := recover(); v != nil {
			gp, ok := v.(glyphPanic)
			if !ok {
				panic(v)
			}
			out, err = nil, &MissingGlyphError{Field: "(unchecked)", Char: gp.r}
		}
	}()
	var gp gopdf.GoPdf
	gp.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4, Unit: gopdf.UnitPT})
	// Where a render's time goes (BenchmarkRender, ~10 ms): gopdf parses
	// nothing per document — the font was parsed once into p.f.pdf and is
	// shallow-copied — but it writes the font subset with full-length
	// loca and hmtx tables (22k glyphs) and deflates that at the default
	// level (~1/4 of the time; mkfont.sh orders the glyphs so hmtx
	// deflates fast); formatting the content stream, mostly the QR
	// code's rectangles, with fmt (~1/3); and go-qrcode choosing a mask
	// (~1/5). Content streams are deflated at best speed.
	gp.SetCompressLevel(zlib.BestSpeed)
	gp.SetInfo(gopdf.PdfInfo{
		Title:        info.title,
		Subject:      info.subject,
		Creator:      "cardseal",
		Producer:     "cardseal (gopdf)",
		CreationDate: info.created,
	})
	if err := gp.AddTTFFontFromFontContainer(fontFamily, p.f.pdf); err != nil {
		return nil, fmt.Errorf("add font: %w", err)
	}
	gp.AddPage()
	for _, s := range p.shapes {
		g := s.gray
		gp.SetLineWidth(s.width)
		gp.SetStrokeColor(g, g, g)
		gp.SetFillColor(g, g, g)
		if s.dashed {
			gp.SetCustomLineType([]float64{3, 2}, 0)
		} else {
			gp.SetLineType("solid")
		}
		switch {
		case s.line:
			gp.Line(s.r.x, s.r.y, s.r.x+s.r.w, s.r.y+s.r.h)
		case s.fill:
			gp.RectFromUpperLeftWithStyle(s.r.x, s.r.y, s.r.w, s.r.h, "F")
		default:
			gp.RectFromUpperLeftWithStyle(s.r.x, s.r.y, s.r.w, s.r.h, "D")
		}
	}
	gp.SetTextColor(0, 0, 0)
	size := -1.0
	for _, t := range p.texts {
		if t.size != size {
			if err := gp.SetFont(fontFamily, "", t.size); err != nil {
				return nil, fmt.Errorf("set font: %w", err)
			}
			size = t.size
		}
		gp.SetXY(t.x, t.y)
		if err := gp.Text(t.s); err != nil {
			return nil, fmt.Errorf("draw %s: %w", t.field, err)
		}
	}
	b, err := gp.GetBytesPdfReturnErr()
	if err != nil {
		return nil, fmt.Errorf("write pdf: %w", err)
	}
	return addInfoInts(b, info.ints)
}

// runeLen is utf8.RuneCountInString, named for the limits below.
func runeLen(s string) int { return utf8.RuneCountInString(s) }
