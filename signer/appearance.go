package signer

import (
	"github.com/jilin-health/cardseal/pdf"

	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"image"
	"image/color"
)

// maxImageSide bounds the seal picture.
const maxImageSide = 4096

// Appearance is a seal picture encoded once as a PDF image XObject:
// 8-bit RGB, Flate-compressed, with its alpha channel as a Flate
// /SMask. Build one per organisation and reuse it for every seal; it is
// immutable and safe for concurrent use.
type Appearance struct {
	width, height int
	rgb           []byte // zlib data of width*height*3 bytes
	alpha         []byte // zlib data of width*height bytes; nil when opaque
}

// NewAppearance encodes img. Fully opaque pictures get no /SMask.
func NewAppearance(img image.Image) (*Appearance, error) {
	if img == nil {
		return nil, errors.New("signer: nil seal image")
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || w > maxImageSide || h > maxImageSide {
		return nil, fmt.Errorf("signer: seal image %dx%d outside 1..%d pixels", w, h, maxImageSide)
	}
	rgb := make([]byte, 0, w*h*3)
	alpha := make([]byte, 0, w*h)
	opaque := true
	var last color.NRGBA
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if c.A == 0 {
				// Invisible: repeat the last colour so the colour
				// plane compresses to runs (a seal is one colour).
				c.R, c.G, c.B = last.R, last.G, last.B
			}
			last = c
			rgb = append(rgb, c.R, c.G, c.B)
			alpha = append(alpha, c.A)
			opaque = opaque && c.A == 0xff
		}
	}
	a := &Appearance{width: w, height: h, rgb: deflate(upFilter(rgb, w*3))}
	if !opaque {
		a.alpha = deflate(alpha) // anti-aliased edges compress worse with a predictor
	}
	return a, nil
}

// upFilter applies the PNG "Up" predictor row by row (each row prefixed
// with filter type 2), which turns a seal's large uniform areas into
// zeros; readers undo it per /DecodeParms (pngUp).
func upFilter(px []byte, stride int) []byte {
	out := make([]byte, 0, len(px)+len(px)/stride)
	for y := 0; y*stride < len(px); y++ {
		row := px[y*stride : (y+1)*stride]
		out = append(out, 2)
		if y == 0 {
			out = append(out, row...)
			continue
		}
		prev := px[(y-1)*stride : y*stride]
		for i := range row {
			out = append(out, row[i]-prev[i])
		}
	}
	return out
}

// pngUp is the /DecodeParms of an image written with upFilter.
func pngUp(colors, columns int) pdf.Dict {
	return pdf.Dict{
		{Key: "Predictor", Value: pdf.Integer(15)}, {Key: "Colors", Value: pdf.Integer(colors)},
		{Key: "BitsPerComponent", Value: pdf.Integer(8)}, {Key: "Columns", Value: pdf.Integer(columns)},
	}
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Size returns the picture's pixel dimensions.
func (a *Appearance) Size() (width, height int) { return a.width, a.height }

// encodedLen is about how many bytes the picture adds to a revision.
func (a *Appearance) encodedLen() int { return len(a.rgb) + len(a.alpha) + 512 }
