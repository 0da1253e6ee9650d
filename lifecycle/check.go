package lifecycle

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/token"
	"github.com/jilin-health/cardseal/verifier"
)

// Public statuses of a card (GET /api/v1/verify/{token}).
const (
	PublicValid      = "valid"
	PublicIncomplete = "incomplete"
	PublicVoided     = "voided"
	PublicRevoked    = "revoked"
	PublicSuperseded = "superseded"
	PublicUnknown    = "unknown"
	PublicForged     = "forged"
)

// PublicSeal is one seal as the public sees it.
type PublicSeal struct {
	Level        string    `json:"level"`
	Organisation string    `json:"organisation"`
	DivisionCode string    `json:"division_code"`
	Time         time.Time `json:"time"`
	OK           bool      `json:"ok"`
}

// Holder is a masked holder (Art. 13).
type Holder struct {
	Role     string `json:"role"` // male | female
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
}

// Answer is the public answer about a card: no full name or ID number
// ever appears in it.
type Answer struct {
	Status          string       `json:"status"`
	CardType        card.Type    `json:"card_type,omitempty"`
	CardTitle       string       `json:"card_title,omitempty"`
	Number          string       `json:"number,omitempty"`
	Holders         []Holder     `json:"holders,omitempty"`
	County          string       `json:"county,omitempty"`
	CountyCode      string       `json:"county_code,omitempty"`
	IssueDate       string       `json:"issue_date,omitempty"`
	Seals           []PublicSeal `json:"seals"`
	SupersededBy    string       `json:"superseded_by,omitempty"` // the new card's number
	StatusReason    string       `json:"status_reason,omitempty"`
	CheckedAt       time.Time    `json:"checked_at"`
	VerifierVerdict string       `json:"verifier_verdict,omitempty"`
}

// Checker answers public checks. It re-verifies the stored PDF's seal
// chain for every answer, with a cache keyed by the PDF's SM3 digest (a
// PDF's verdict never changes; its registry status is read every time).
type Checker struct {
	Service *Service

	mu    sync.Mutex
	cache map[[32]byte]*verifier.Report
}

// NewChecker returns a checker over a service.
func NewChecker(s *Service) *Checker {
	return &Checker{Service: s, cache: map[[32]byte]*verifier.Report{}}
}

// maxCache bounds the verification cache.
const maxCache = 10000

// VerifyPDF verifies a card PDF with the card policy and seal boxes,
// using the cache.
func (ch *Checker) VerifyPDF(pdf []byte, docID string) (*verifier.Report, error) {
	key := sm3.Sum(pdf)
	ch.mu.Lock()
	rep, ok := ch.cache[key]
	ch.mu.Unlock()
	if ok && rep.DocID == docID {
		return rep, nil
	}
	rep, err := verifier.Verify(pdf, verifier.Options{
		Trust:     ch.Service.Keys.TrustList(),
		SealBoxes: CardSealBoxes(),
		DocID:     docID,
	})
	if err != nil {
		return nil, err
	}
	ch.mu.Lock()
	if len(ch.cache) >= maxCache {
		clear(ch.cache)
	}
	ch.cache[key] = rep
	ch.mu.Unlock()
	return rep, nil
}

// platformCerts returns the platform certificates tokens may be signed
// with.
func (ch *Checker) platformCerts() ([]*smx509.Certificate, error) {
	id, err := ch.Service.Keys.PlatformIdentity()
	if err != nil {
		return nil, err
	}
	return []*smx509.Certificate{id.Cert}, nil
}

// Check answers a scanned token.
func (ch *Checker) Check(ctx context.Context, tok string) (*Answer, error) {
	now := ch.Service.Now().UTC()
	certs, err := ch.platformCerts()
	if err != nil {
		return nil, err
	}
	claims, _, err := token.Verify(tok, certs)
	if err != nil {
		if errors.Is(err, token.ErrMalformed) || errors.Is(err, token.ErrForged) || errors.Is(err, token.ErrNoKey) {
			return &Answer{Status: PublicForged, CheckedAt: now, Seals: []PublicSeal{}}, nil
		}
		return nil, err
	}
	c, err := ch.Service.Store.GetCardByToken(ctx, strings.ToUpper(token.FromURL(tok)))
	if errors.Is(err, store.ErrNotFound) {
		return &Answer{Status: PublicUnknown, CheckedAt: now, Seals: []PublicSeal{}}, nil
	}
	if err != nil {
		return nil, err
	}
	if c.Number != claims.Number {
		return &Answer{Status: PublicForged, CheckedAt: now, Seals: []PublicSeal{}}, nil
	}
	return ch.Answer(ctx, &c)
}

// CheckNumber answers a manual check by card number and verification
// code; a wrong code is answered like an unknown card.
func (ch *Checker) CheckNumber(ctx context.Context, number, code string) (*Answer, error) {
	now := ch.Service.Now().UTC()
	c, err := ch.Service.Store.GetCardByNumber(ctx, number)
	if errors.Is(err, store.ErrNotFound) {
		return &Answer{Status: PublicUnknown, CheckedAt: now, Seals: []PublicSeal{}}, nil
	}
	if err != nil {
		return nil, err
	}
	want := token.VerificationCode(c.QRToken)
	if want == "" || token.NormalizeCode(code) != want {
		return &Answer{Status: PublicUnknown, CheckedAt: now, Seals: []PublicSeal{}}, nil
	}
	return ch.Answer(ctx, &c)
}

// Answer is the public answer about a registry card: its status, masked
// holders and the seal chain of its stored PDF, re-verified.
func (ch *Checker) Answer(ctx context.Context, c *store.Card) (*Answer, error) {
	now := ch.Service.Now().UTC()
	app, err := ch.Service.Applicant(c)
	if err != nil {
		return nil, err
	}
	a := &Answer{
		CardType: c.Type, CardTitle: c.Type.Title(), Number: c.Number, CountyCode: c.CountyCode,
		Holders: []Holder{
			{Role: "male", Name: card.MaskName(app.Male.Name), IDNumber: card.MaskID(app.Male.IDNumber)},
			{Role: "female", Name: card.MaskName(app.Female.Name), IDNumber: card.MaskID(app.Female.IDNumber)},
		},
		IssueDate: c.CreatedAt.In(China).Format("2006-01-02"),
		CheckedAt: now, Seals: []PublicSeal{},
	}
	if o, err := ch.Service.Keys.Org(c.CountyCode); err == nil {
		a.County = o.Name
	}
	_, pdf, err := ch.Service.Store.CurrentPDF(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	rep, err := ch.VerifyPDF(pdf, c.Number)
	if err != nil {
		return nil, err
	}
	a.VerifierVerdict = string(rep.Verdict)
	for _, s := range rep.Seals {
		a.Seals = append(a.Seals, PublicSeal{Level: s.Level, Organisation: s.Organisation, DivisionCode: s.DivisionCode, Time: s.SigningTime, OK: s.OK})
	}
	switch c.Status {
	case store.StatusVoided:
		a.Status, a.StatusReason = PublicVoided, c.StatusReason
	case store.StatusRevoked:
		a.Status, a.StatusReason = PublicRevoked, c.StatusReason
	case store.StatusSuperseded:
		a.Status, a.StatusReason = PublicSuperseded, c.StatusReason
		if n, err := ch.Service.Store.GetCard(ctx, c.SupersededBy); err == nil {
			a.SupersededBy = n.Number
		}
	case store.StatusDraft:
		// Being sealed: genuine so far if every seal applied verifies
		// (a freshly rendered card has none yet).
		switch {
		case c.Seq == 0 && rep.Verdict == verifier.Invalid && len(rep.Seals) == 0:
			a.Status = PublicIncomplete
		case rep.Verdict == verifier.Incomplete:
			a.Status = PublicIncomplete
		default:
			a.Status = PublicForged
		}
	case store.StatusIssued:
		// The stored PDF must verify with its complete chain: the
		// registry flag alone is not trusted.
		if rep.Verdict == verifier.Valid {
			a.Status = PublicValid
		} else {
			a.Status = PublicForged
		}
	default:
		a.Status = PublicUnknown
	}
	return a, nil
}
