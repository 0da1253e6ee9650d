package lifecycle

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"sync"
	"time"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/templates"
)

// Reason is the /Reason of a seal at each level.
func Reason(l keys.Level) string {
	switch l {
	case keys.Village:
		return "村级审核通过"
	case keys.Township:
		return "乡级审核通过"
	case keys.County:
		return "县级审核通过"
	}
	return "审核通过"
}

// maxPicture bounds an uploaded seal picture's sides in pixels.
const maxPicture = 2000

// Sealer applies organisations' seals to cards. It keeps each
// organisation's encoded seal picture, so a seal costs one revision and
// one signature.
type Sealer struct {
	Keys keys.Store
	// Picture returns an uploaded seal picture (PNG) for an
	// organisation, or nil to draw the standard one.
	Picture func(code string) ([]byte, error)

	mu  sync.Mutex
	app map[string]*signer.Appearance
}

// NewSealer returns a sealer over a keystore.
func NewSealer(ks keys.Store) *Sealer {
	s := &Sealer{Keys: ks, app: map[string]*signer.Appearance{}}
	if fs, ok := ks.(interface {
		SealPicture(string) ([]byte, error)
	}); ok {
		s.Picture = fs.SealPicture
	}
	return s
}

func (s *Sealer) appearance(o keys.Org) (*signer.Appearance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.app[o.Code]; ok {
		return a, nil
	}
	var img image.Image
	if s.Picture != nil {
		b, err := s.Picture(o.Code)
		if err != nil {
			return nil, err
		}
		if b != nil {
			// Check the size before decoding: a small file can claim a
			// gigantic image.
			cfg, err := png.DecodeConfig(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("seal picture of %s: %w", o.Code, err)
			}
			if cfg.Width > maxPicture || cfg.Height > maxPicture {
				return nil, fmt.Errorf("seal picture of %s: %dx%d pixels, at most %d", o.Code, cfg.Width, cfg.Height, maxPicture)
			}
			if img, err = png.Decode(bytes.NewReader(b)); err != nil {
				return nil, fmt.Errorf("seal picture of %s: %w", o.Code, err)
			}
		}
	}
	if img == nil {
		var err error
		if img, err = templates.SealImage(o); err != nil {
			return nil, err
		}
	}
	a, err := signer.NewAppearance(img)
	if err != nil {
		return nil, err
	}
	s.app[o.Code] = a
	return a, nil
}

// SealCard applies the seal of the organisation with the division code to
// a card PDF, in its level's seal box. Chain errors (order, repetition,
// jurisdiction) come back from the signer before anything is written.
func (s *Sealer) SealCard(pdf []byte, code, number string, at time.Time) ([]byte, error) {
	return s.sealIn(pdf, code, number, chain.Card, templates.SealBox, Reason, at)
}

// CardSealBoxes are the rectangles of a card's three seals, for the
// verifier: no seal may lie outside its level's box.
func CardSealBoxes() map[keys.Level][4]float64 {
	m := make(map[keys.Level][4]float64, len(keys.Levels))
	for _, l := range keys.Levels {
		m[l] = templates.SealBox(l)
	}
	return m
}
