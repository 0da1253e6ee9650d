package templates

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/jilin-health/cardseal/org"
)

func TestSealImage(t *testing.T) {
	for _, org := range []org.Org{demoCounty, demoTownship, demoVillage} {
		t.Run(org.Name, func(t *testing.T) {
			img, err := SealImage(org)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != SealPixels || b.Dy() != SealPixels {
				t.Fatalf("size %v", b)
			}
			c := SealPixels / 2
			for _, pt := range [][2]int{{c, c - 6}, {c, c - 40}, {c - 2, c + 10}} { // the star's body
				px := img.NRGBAAt(pt[0], pt[1])
				if px.A != 255 || px.R < 200 || px.G > 40 || px.B > 60 {
					t.Errorf("star pixel %v = %v, want opaque red", pt, px)
				}
			}
			if px := img.NRGBAAt(c, 6+8); px.A != 255 || px.R < 200 { // on the ring
				t.Errorf("ring pixel = %v, want opaque red", px)
			}
			for _, pt := range [][2]int{{0, 0}, {SealPixels - 1, 0}, {0, SealPixels - 1}, {SealPixels - 1, SealPixels - 1}, {40, 40}} {
				if a := img.NRGBAAt(pt[0], pt[1]).A; a != 0 {
					t.Errorf("corner %v alpha %d, want transparent", pt, a)
				}
			}
			// Something is drawn between the star and the ring (the name).
			inked := 0
			for y := 40; y < c-100; y++ {
				for x := 0; x < SealPixels; x++ {
					if img.NRGBAAt(x, y).A > 128 && (x-c)*(x-c)+(y-c)*(y-c) < (c-30)*(c-30) {
						inked++
					}
				}
			}
			if inked < 2000 {
				t.Errorf("only %d inked pixels in the name band", inked)
			}
			// Callers get a copy: changing it does not change the cache.
			img.Pix[0] = 99
			again, _ := SealImage(org)
			if again.Pix[0] != 0 {
				t.Error("SealImage returned the cached image itself")
			}

			b, err := SealPNG(org)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, a := dec.At(0, 0).RGBA(); a != 0 {
				t.Error("PNG lost its transparency")
			}
			if err := os.WriteFile(filepath.Join(t.TempDir(), "seal.png"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSealImageErrors(t *testing.T) {
	_, err := SealImage(org.Org{Code: "220102", Level: org.County, Name: "南关区\U00020000局"})
	var mg *MissingGlyphError
	if !errors.As(err, &mg) || mg.Field != "org.name" || mg.Char != 0x20000 {
		t.Errorf("err = %v, want a missing glyph in org.name", err)
	}
	if _, err := SealPNG(org.Org{Code: "220102", Level: org.County, Name: ""}); !errors.Is(err, ErrCardData) {
		t.Errorf("empty name: err = %v", err)
	}
}

func BenchmarkSealImageCached(b *testing.B) {
	if _, err := SealImage(demoCounty); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SealImage(demoCounty); err != nil {
			b.Fatal(err)
		}
	}
}
