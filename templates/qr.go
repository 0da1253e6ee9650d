package templates

import (
	"errors"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// ErrQRURL is returned for a verification URL the card's QR code cannot
// carry: empty, with characters outside the QR alphanumeric set, or too
// long for version 4.
var ErrQRURL = errors.New("unsuitable QR verification URL")

const (
	// qrMaxVersion bounds the symbol so that its modules stay large: at
	// version 4 (33 modules) a 36 mm symbol has modules of 1.09 mm, which
	// phones read from a black-and-white office print held at an angle,
	// out of focus, in poor light (docs/qr-token.md: a 56-character URL
	// at version 3 decoded from 33 of 45 simulated phone photos, a
	// 210-character one at version 8 from 13). Version 4 at level M
	// holds 90 alphanumeric characters; a version-2 token's URL has at
	// most 64.
	qrMaxVersion = 4
	// qrSymbolW is the printed width of the symbol without its quiet zone.
	qrSymbolW = 36 * mm
	// qrQuiet is the quiet zone in modules (ISO/IEC 18004: 4).
	qrQuiet = 4
)

// qrAlphanumeric is the QR code's alphanumeric character set. A URL of
// only these characters is encoded in alphanumeric mode (5.5 bits a
// character instead of 8), which is why verification URLs are upper case.
const qrAlphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// qrModules encodes url at error-correction level M and returns its
// modules without the quiet zone, dark = true.
func qrModules(url string) ([][]bool, error) {
	if url == "" {
		return nil, fmt.Errorf("%w: empty", ErrQRURL)
	}
	for i := 0; i < len(url); i++ {
		if !containsByte(qrAlphanumeric, url[i]) {
			return nil, fmt.Errorf("%w: byte %q at offset %d is outside the QR alphanumeric set (digits, A-Z, space and $%%*+-./:)", ErrQRURL, url[i], i)
		}
	}
	q, err := qrcode.New(url, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrQRURL, err)
	}
	if q.VersionNumber > qrMaxVersion {
		return nil, fmt.Errorf("%w: %d characters need QR version %d, the card allows at most %d", ErrQRURL, len(url), q.VersionNumber, qrMaxVersion)
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}

// QRVersion returns the QR version (1–40) of the symbol a card draws for
// url at error-correction level M, or ErrQRURL when the card cannot carry
// url.
func QRVersion(url string) (int, error) {
	m, err := qrModules(url)
	if err != nil {
		return 0, err
	}
	return (len(m) - 17) / 4, nil
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

// qrCode lays out the symbol with its upper-right corner of the quiet
// zone at (right, top) and returns the area it occupies, quiet zone
// included. Dark modules are drawn as filled vector rectangles, one per
// horizontal run, so the symbol stays sharp at any print resolution.
func (p *page) qrCode(modules [][]bool, right, top float64) rect {
	n := len(modules)
	m := qrSymbolW / float64(n)
	side := float64(n+2*qrQuiet) * m
	area := rect{right - side, top, side, side}
	x0, y0 := area.x+qrQuiet*m, area.y+qrQuiet*m
	// Runs overlap the next row by a hair so no anti-aliasing seam
	// shows between rows.
	const seam = 0.05
	for y, row := range modules {
		for x := 0; x < n; {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < n && row[x] {
				x++
			}
			h := m
			if y < n-1 {
				h += seam
			}
			p.fillRect(rect{x0 + float64(start)*m, y0 + float64(y)*m, float64(x-start) * m, h}, 0)
		}
	}
	return area
}
