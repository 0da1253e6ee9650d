package templates

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"sync"

	"github.com/jilin-health/cardseal/org"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// SealPixels is the width and height of a seal picture.
const SealPixels = 600

// sealRed is the seal's ink, close to the red of official seals.
var sealRed = color.NRGBA{0xE6, 0x00, 0x12, 0xFF}

// sealPurpose is the purpose line printed straight below the star.
const sealPurpose = "计划生育专用章"

type sealEntry struct {
	once sync.Once
	img  *image.NRGBA
	png  []byte
	err  error
}

var sealCache sync.Map // name + "\x00" + code → *sealEntry

func cachedSeal(org org.Org) *sealEntry {
	v, _ := sealCache.LoadOrStore(org.Name+"\x00"+org.Code, new(sealEntry))
	e := v.(*sealEntry)
	e.once.Do(func() {
		e.img, e.err = drawSeal(org)
		if e.err != nil {
			return
		}
		var b bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if e.err = enc.Encode(&b, e.img); e.err != nil {
			e.err = fmt.Errorf("encode seal picture: %w", e.err)
			return
		}
		e.png = b.Bytes()
	})
	return e
}

// SealImage returns the organisation's round red seal on a transparent
// background, SealPixels square: an outer ring, a five-pointed star, the
// name along the upper arc, 计划生育专用章 below the star and the 12-digit
// division code along the lower arc. Pictures are drawn once per
// organisation and cached; the caller gets its own copy.
func SealImage(org org.Org) (*image.NRGBA, error) {
	e := cachedSeal(org)
	if e.err != nil {
		return nil, e.err
	}
	c := image.NewNRGBA(e.img.Rect)
	copy(c.Pix, e.img.Pix)
	return c, nil
}

// SealPNG returns SealImage encoded as PNG (with its alpha channel).
func SealPNG(org org.Org) ([]byte, error) {
	e := cachedSeal(org)
	if e.err != nil {
		return nil, e.err
	}
	return bytes.Clone(e.png), nil
}

// sealPen rasterises the seal's shapes and glyphs into one coverage mask.
type sealPen struct {
	f   *face
	z   *vector.Rasterizer
	buf sfnt.Buffer
}

// circle adds a circle of radius r; reverse draws it the other way round,
// so a reversed inner circle cuts a hole (the rasteriser fills by winding).
func (p *sealPen) circle(cx, cy, r float64, reverse bool) {
	const n = 180
	for i := 0; i <= n; i++ {
		a := 2 * math.Pi * float64(i) / n
		if reverse {
			a = -a
		}
		x, y := float32(cx+r*math.Cos(a)), float32(cy+r*math.Sin(a))
		if i == 0 {
			p.z.MoveTo(x, y)
		} else {
			p.z.LineTo(x, y)
		}
	}
	p.z.ClosePath()
}

// star adds a five-pointed star with its top point up.
func (p *sealPen) star(cx, cy, r float64) {
	inner := r * math.Sin(math.Pi/10) / math.Sin(7*math.Pi/10) // ≈ 0.382 r
	for i := 0; i < 10; i++ {
		rr := r
		if i%2 == 1 {
			rr = inner
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		x, y := float32(cx+rr*math.Cos(a)), float32(cy+rr*math.Sin(a))
		if i == 0 {
			p.z.MoveTo(x, y)
		} else {
			p.z.LineTo(x, y)
		}
	}
	p.z.ClosePath()
}

// glyph adds character r at pixel size px. Glyph coordinates (origin at
// the left end of the baseline, y down) are shifted by (dx, dy), scaled
// horizontally by sx, rotated by angle (clockwise, radians) and moved to
// (ox, oy).
func (p *sealPen) glyph(r rune, px, sx, dx, dy, angle, ox, oy float64) error {
	gi, err := p.f.sfnt.GlyphIndex(&p.buf, r)
	if err != nil {
		return fmt.Errorf("glyph of %U: %w", r, err)
	}
	segs, err := p.f.sfnt.LoadGlyph(&p.buf, gi, fixed.Int26_6(px*64), nil)
	if err != nil {
		return fmt.Errorf("outline of %U: %w", r, err)
	}
	sin, cos := math.Sincos(angle)
	tr := func(pt fixed.Point26_6) (float32, float32) {
		x := (float64(pt.X)/64)*sx + dx
		y := float64(pt.Y)/64 + dy
		return float32(ox + x*cos - y*sin), float32(oy + x*sin + y*cos)
	}
	for _, s := range segs {
		switch s.Op {
		case sfnt.SegmentOpMoveTo:
			p.z.MoveTo(tr(s.Args[0]))
		case sfnt.SegmentOpLineTo:
			p.z.LineTo(tr(s.Args[0]))
		case sfnt.SegmentOpQuadTo:
			bx, by := tr(s.Args[0])
			cx, cy := tr(s.Args[1])
			p.z.QuadTo(bx, by, cx, cy)
		case sfnt.SegmentOpCubeTo:
			bx, by := tr(s.Args[0])
			cx, cy := tr(s.Args[1])
			ex, ey := tr(s.Args[2])
			p.z.CubeTo(bx, by, cx, cy, ex, ey)
		}
	}
	p.z.ClosePath()
	return nil
}

// advance is the advance width of r in pixels at size px.
func (p *sealPen) advance(r rune, px float64) float64 {
	return p.f.width(string(r), px)
}

// arcText sets text along a circle of the given radius centred on
// (cx, cy). On the upper arc (upper = true) characters stand with their
// tops outward and read clockwise; on the lower arc their tops point to
// the centre and they read left to right. radius is the baseline's
// distance from the centre; span is the arc the text covers, in radians.
func (p *sealPen) arcText(s string, cx, cy, radius, px, sx, span float64, upper bool) error {
	rs := []rune(s)
	n := float64(len(rs))
	for i, r := range rs {
		t := -span/2 + span*(float64(i)+0.5)/n // angle from the arc's middle
		w := p.advance(r, px) * sx
		var err error
		if upper {
			// Top of the circle is angle 0; glyph baseline at radius.
			err = p.glyph(r, px, sx, -w/2, -radius, t, cx, cy)
		} else {
			// Bottom of the circle is angle 0 here; the glyph rises from
			// its baseline toward the centre.
			err = p.glyph(r, px, sx, -w/2, radius, -t, cx, cy)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// drawSeal draws the picture of an organisation's seal.
func drawSeal(o org.Org) (*image.NRGBA, error) {
	f, err := loadFace()
	if err != nil {
		return nil, err
	}
	if err := f.check("org.name", o.Name); err != nil {
		return nil, err
	}
	name := []rune(o.Name)
	if len(name) == 0 || len(name) > 24 {
		return nil, fmt.Errorf("%w: a seal name has 1 to 24 characters, %q has %d", ErrCardData, o.Name, len(name))
	}
	code := org.Padded(o.Code)
	if len(code) != 12 {
		return nil, fmt.Errorf("%w: division code %q", ErrCardData, o.Code)
	}

	const (
		size = SealPixels
		c    = size / 2.0
		rOut = c - 6            // outer edge of the ring
		ring = 16.0             // ring width
		star = 82.0             // star radius
		rTxt = rOut - ring - 86 // baseline of the name
	)
	p := &sealPen{f: f, z: vector.NewRasterizer(size, size)}
	p.circle(c, c, rOut, false)
	p.circle(c, c, rOut-ring, true)
	p.star(c, c-6, star)

	// The name: size and arc grow with its length, as on real seals; the
	// glyphs are condensed to 80 % like the narrow seal typefaces.
	n := float64(len(name))
	span := math.Min(240, 60+22*n) * math.Pi / 180
	px := math.Min(76, (span*rTxt/n)/0.9)
	if err := p.arcText(o.Name, c, c, rTxt, px, 0.8, span, true); err != nil {
		return nil, err
	}

	// The purpose line, straight, below the star.
	const purposePx = 46.0
	pw := 0.0
	for _, r := range sealPurpose {
		pw += p.advance(r, purposePx) * 0.85
	}
	x := c - pw/2
	for _, r := range sealPurpose {
		if err := p.glyph(r, purposePx, 0.85, 0, 0, 0, x, c+star+48); err != nil {
			return nil, err
		}
		x += p.advance(r, purposePx) * 0.85
	}

	// The division code along the lower arc, baseline near the ring.
	if err := p.arcText(code, c, c, rOut-ring-14, 30, 0.9, 62*math.Pi/180, false); err != nil {
		return nil, err
	}

	mask := image.NewAlpha(image.Rect(0, 0, size, size))
	p.z.Draw(mask, mask.Bounds(), image.Opaque, image.Point{})
	img := image.NewNRGBA(mask.Rect)
	draw.DrawMask(img, img.Rect, image.NewUniform(sealRed), image.Point{}, mask, image.Point{}, draw.Src)
	return img, nil
}
