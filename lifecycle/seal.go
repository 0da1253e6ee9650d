package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/seal"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/templates"
)

// Reason is the /Reason of a seal at each level.
func Reason(l org.Level) string {
	switch l {
	case org.Village:
		return "村级审核通过"
	case org.Township:
		return "乡级审核通过"
	case org.County:
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
	// Stamp, when set, timestamps every seal's signature (timestamp.go).
	Stamp signer.Timestamper

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

func (s *Sealer) appearance(o org.Org) (*signer.Appearance, error) {
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

// SealCard applies the organisation's seal to a card PDF, in its level's
// seal box. Chain errors (order, repetition, jurisdiction) come back from
// the signer before anything is written.
func (s *Sealer) SealCard(pdf []byte, o org.Org, number string, at time.Time) ([]byte, error) {
	return s.sealIn(pdf, o, number, chain.Card, templates.SealBox, Reason, at)
}

// SealCardDirect applies the county's seal to a re-birth card it issues
// directly from the pre-review list (Art. 17): the seal claims the
// chain.RebirthDirect policy with the pre-review it rests on and the
// number of the re-birth approval form, so the verifier reads the policy
// from what the seal signs.
func (s *Sealer) SealCardDirect(pdf []byte, o org.Org, number, preReview, form string, at time.Time) ([]byte, error) {
	claim := &seal.Claim{Policy: chain.RebirthDirect.Name, PreReview: preReview, Form: form}
	return s.sealClaiming(pdf, o, number, chain.RebirthDirect, claim, templates.SealBox, Reason, at)
}

// CardSealBoxes are the rectangles of a card's three seals, for the
// verifier: no seal may lie outside its level's box.
func CardSealBoxes() map[org.Level][4]float64 {
	m := make(map[org.Level][4]float64, len(org.Levels))
	for _, l := range org.Levels {
		m[l] = templates.SealBox(l)
	}
	return m
}

// sealBar is what bars a seal of c, checked by the registry inside the
// seal's transaction: a voided re-birth card of the couple stops every
// re-birth card of theirs at every seal, the county's that issues it
// included (Art. 22), whatever the order of the spouses (the couple key
// is symmetric) and whenever the application was made.
func sealBar(c *card.Card) *card.CoupleBar {
	if c.Type != card.Rebirth {
		return nil
	}
	return &card.CoupleBar{Type: card.Rebirth, Statuses: []card.Status{card.StatusVoided}}
}

// Seal applies the actor's organisation's seal to a card: one PDF
// revision and its record, committed together; the approval it carries
// out is the actor's, now. Outside the jurisdiction is ErrForbidden,
// another level's turn ErrWrongLevel; a chain error or card.ErrConflict
// if the chain or the card moved meanwhile; ErrRebirthBlocked for a
// re-birth card whose couple has a voided one. The approvals in force of
// the levels above then get their seals (advance).
func (s *Service) Seal(ctx context.Context, a Actor, id string) (*card.Card, error) {
	c, err := s.card(ctx, a, id, SealCard)
	if err != nil {
		return nil, err
	}
	if err := s.applySeal(ctx, a, c, s.Now(), a.Username, nil); err != nil {
		return nil, err
	}
	return s.advance(ctx, a, id)
}

// direct is what the county's seal of a card issued directly (Art. 17)
// names: the pre-review it rests on and the approval form.
type direct struct{ preReview, form string }

// applySeal applies a's seal to c, carrying out a's approval given at
// approvedAt; trigger names whose act led to the seal (a itself, or the
// staff whose seal of the level below let an approval take effect). With
// d the seal follows and claims the rebirth-direct policy.
func (s *Service) applySeal(ctx context.Context, a Actor, c *card.Card, approvedAt time.Time, trigger string, d *direct) error {
	policy := chain.Card
	if d != nil {
		policy = chain.RebirthDirect
	}
	id := c.ID
	seals, err := s.reg.Seals(ctx, id)
	if err != nil {
		return err
	}
	var prev []chain.Seal
	for _, x := range seals {
		prev = append(prev, chain.Seal{Level: x.Level, Code: x.OrgCode})
	}
	me := chain.Seal{Level: a.Org.Level, Code: a.Org.Code}
	if err := policy.Check(prev, me); err != nil {
		return err
	}
	seq, pdf, err := s.reg.CurrentPDF(ctx, id)
	if err != nil {
		return err
	}
	at := s.Now()
	var sealed []byte
	if d != nil {
		sealed, err = s.sealer.SealCardDirect(pdf, a.Org, c.Number, d.preReview, d.form, at)
	} else {
		sealed, err = s.sealer.SealCard(pdf, a.Org, c.Number, at)
	}
	if err != nil {
		return err
	}
	idn, err := s.keys.SealIdentity(a.Org.Code)
	if err != nil {
		return err
	}
	status, next := card.StatusDraft, org.Level("")
	if l, ok := policy.Next(append(prev, me)); ok {
		next = l
	} else {
		status = card.StatusIssued
		if sealed, err = s.addLTV(ctx, sealed, at); err != nil {
			return err
		}
	}
	digest := sm3.Sum(sealed)
	rec := card.Seal{
		CardID: id, Seq: seq + 1, Level: a.Org.Level, OrgCode: a.Org.Code,
		CertSerial: fmt.Sprintf("%X", idn.Cert.SerialNumber), SignedAt: at, PDFDigest: digest[:], ByUser: a.Username,
		ApprovedAt: approvedAt, ApprovedBy: a.Username,
	}
	detail := map[string]any{"level": a.Org.Level, "seq": seq + 1, "status": status,
		"approved_by": a.Username, "approved_at": approvedAt.UTC().Format(time.RFC3339Nano), "signed_at": at.UTC().Format(time.RFC3339Nano)}
	if trigger != a.Username {
		detail["after_seal_by"] = trigger
	}
	action := audit.CardSeal
	if d != nil {
		action = audit.CardIssueDirect
		detail["policy"], detail["pre_review"], detail["form"] = policy.Name, d.preReview, d.form
	}
	ev := s.event(a, action, id, Reason(a.Org.Level), detail)
	if err := s.reg.AddSeal(ctx, id, seq, sealed, rec, status, next, sealBar(c), ev); err != nil {
		if errors.Is(err, card.ErrBarred) {
			return fmt.Errorf("%w: %w", ErrRebirthBlocked, err)
		}
		return err
	}
	return nil
}
