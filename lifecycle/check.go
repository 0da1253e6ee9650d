package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/card"
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

// MaskHolders are the couple as anyone but staff of the jurisdiction and
// the couple themselves may see them (Art. 13): names and ID numbers
// masked (card.MaskName, card.MaskID). Every answer that names the
// holders builds them here.
func MaskHolders(app *card.Applicant) []Holder {
	return []Holder{
		{Role: "male", Name: card.MaskName(app.Male.Name), IDNumber: card.MaskID(app.Male.IDNumber)},
		{Role: "female", Name: card.MaskName(app.Female.Name), IDNumber: card.MaskID(app.Female.IDNumber)},
	}
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
// chain, with a cache keyed by the PDF's SM3 digest (a PDF's verdict
// never changes; its registry status is read every time).
//
// The public answer path reads and hashes the stored PDF at most once per
// card revision every storedTTL (the card row's revision number must
// still match), and checks a token's signature once per token: profiled
// under load, hashing the ~150 KB PDF, reading it from the store and the
// token's SM2 signature were nine tenths of each answer
// (docs/performance.md).
type Checker struct {
	Service *Service

	mu      sync.Mutex
	cache   map[[32]byte]*verifier.Report
	stored  map[string]storedVerdict // card ID → verdict of its current PDF
	tokens  map[string]tokenClaims   // token → its verified claims
	holders map[string]maskedHolders // card ID → its masked holders
}

// maskedHolders are the masked holders of the application record sealed
// (encrypted) as applicant: decrypting and decoding the record was a
// sixth of each answer once the PDF and the token were cached.
type maskedHolders struct {
	applicant []byte
	holders   []Holder
}

// storedVerdict is the report on a card's stored PDF at revision seq,
// read and verified at checked (monotonic clock).
type storedVerdict struct {
	seq     int
	rep     *verifier.Report
	checked time.Time
}

// tokenClaims are the claims of a token whose signature verified with
// cert.
type tokenClaims struct {
	claims *token.Claims
	cert   *smx509.Certificate
}

// NewChecker returns a checker over a service.
func NewChecker(s *Service) *Checker {
	return &Checker{Service: s, cache: map[[32]byte]*verifier.Report{},
		stored: map[string]storedVerdict{}, tokens: map[string]tokenClaims{}, holders: map[string]maskedHolders{}}
}

// maxCache bounds each of the checker's caches.
const maxCache = 10000

// storedTTL is how long a card's stored PDF is trusted to be the bytes
// that were verified before it is read and hashed again. Status changes
// are not delayed by it (the card row is read for every answer); a new
// seal changes the revision number and is read at once.
const storedTTL = 10 * time.Second

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
		Trust:     ch.Service.keys.TrustList(),
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
	id, err := ch.Service.keys.PlatformIdentity()
	if err != nil {
		return nil, err
	}
	return []*smx509.Certificate{id.Cert}, nil
}

// Check answers a scanned token.
func (ch *Checker) Check(ctx context.Context, tok string) (*Answer, error) {
	c, status, err := ch.resolve(ctx, tok)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return &Answer{Status: status, CheckedAt: ch.Service.Now().UTC(), Seals: []PublicSeal{}}, nil
	}
	return ch.Answer(ctx, c)
}

// resolve finds the card a scanned token was issued for. A token that is
// not genuine is (nil, PublicForged); a genuine one the registry does not
// know, (nil, PublicUnknown).
func (ch *Checker) resolve(ctx context.Context, tok string) (*card.Card, string, error) {
	certs, err := ch.platformCerts()
	if err != nil {
		return nil, "", err
	}
	claims, err := ch.verifyToken(tok, certs)
	if err != nil {
		if errors.Is(err, token.ErrMalformed) || errors.Is(err, token.ErrForged) || errors.Is(err, token.ErrNoKey) {
			return nil, PublicForged, nil
		}
		return nil, "", err
	}
	c, err := ch.Service.reg.GetCardByToken(ctx, strings.ToUpper(token.FromURL(tok)))
	if errors.Is(err, card.ErrNotFound) {
		return nil, PublicUnknown, nil
	}
	if err != nil {
		return nil, "", err
	}
	if c.Number != claims.Number {
		return nil, PublicForged, nil
	}
	return &c, "", nil
}

// verifyToken verifies a token's signature, once per token and platform
// certificate; only tokens that verified are remembered.
func (ch *Checker) verifyToken(tok string, certs []*smx509.Certificate) (*token.Claims, error) {
	ch.mu.Lock()
	t, ok := ch.tokens[tok]
	ch.mu.Unlock()
	if ok {
		for _, c := range certs {
			if c == t.cert {
				return t.claims, nil
			}
		}
	}
	claims, cert, err := token.Verify(tok, certs)
	if err != nil {
		return nil, err
	}
	ch.mu.Lock()
	if len(ch.tokens) >= maxCache {
		clear(ch.tokens)
	}
	ch.tokens[tok] = tokenClaims{claims: claims, cert: cert}
	ch.mu.Unlock()
	return claims, nil
}

// storedReport returns the verifier's report on a card's current PDF,
// reading and verifying it when the card is at a revision not seen yet or
// the last reading is older than storedTTL.
func (ch *Checker) storedReport(ctx context.Context, c *card.Card) (*verifier.Report, error) {
	ch.mu.Lock()
	v, ok := ch.stored[c.ID]
	ch.mu.Unlock()
	if ok && v.seq == c.Seq && v.rep.DocID == c.Number && time.Since(v.checked) < storedTTL {
		return v.rep, nil
	}
	seq, pdf, err := ch.Service.reg.CurrentPDF(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	checked := time.Now()
	rep, err := ch.VerifyPDF(pdf, c.Number)
	if err != nil {
		return nil, err
	}
	if seq == c.Seq {
		ch.mu.Lock()
		if len(ch.stored) >= maxCache {
			clear(ch.stored)
		}
		ch.stored[c.ID] = storedVerdict{seq: seq, rep: rep, checked: checked}
		ch.mu.Unlock()
	}
	return rep, nil
}

// maskedHolders returns a card's masked holders, decrypting its
// application record once per distinct record (the stored ciphertext is
// compared byte for byte). Only masked values are kept.
func (ch *Checker) maskedHolders(c *card.Card) ([]Holder, error) {
	ch.mu.Lock()
	m, ok := ch.holders[c.ID]
	ch.mu.Unlock()
	if ok && bytes.Equal(m.applicant, c.Applicant) {
		return slices.Clone(m.holders), nil
	}
	app, err := ch.Service.Applicant(c)
	if err != nil {
		return nil, err
	}
	holders := MaskHolders(app)
	ch.mu.Lock()
	if len(ch.holders) >= maxCache {
		clear(ch.holders)
	}
	ch.holders[c.ID] = maskedHolders{applicant: bytes.Clone(c.Applicant), holders: holders}
	ch.mu.Unlock()
	return slices.Clone(holders), nil
}

// CheckNumber answers a manual check by card number and verification
// code; a wrong code is answered like an unknown card.
func (ch *Checker) CheckNumber(ctx context.Context, number, code string) (*Answer, error) {
	now := ch.Service.Now().UTC()
	c, err := ch.Service.reg.GetCardByNumber(ctx, number)
	if errors.Is(err, card.ErrNotFound) {
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
func (ch *Checker) Answer(ctx context.Context, c *card.Card) (*Answer, error) {
	now := ch.Service.Now().UTC()
	holders, err := ch.maskedHolders(c)
	if err != nil {
		return nil, err
	}
	a := &Answer{
		CardType: c.Type, CardTitle: c.Type.Title(), Number: c.Number, CountyCode: c.CountyCode,
		Holders:   holders,
		IssueDate: c.CreatedAt.In(China).Format("2006-01-02"),
		CheckedAt: now, Seals: []PublicSeal{},
	}
	if o, err := ch.Service.reg.GetOrg(ctx, c.CountyCode); err == nil {
		a.County = o.Name
	}
	rep, err := ch.storedReport(ctx, c)
	if err != nil {
		return nil, err
	}
	a.VerifierVerdict = string(rep.Verdict)
	for _, s := range rep.Seals {
		a.Seals = append(a.Seals, PublicSeal{Level: s.Level, Organisation: s.Organisation, DivisionCode: s.DivisionCode, Time: s.SigningTime, OK: s.OK})
	}
	switch c.Status {
	case card.StatusVoided:
		a.Status, a.StatusReason = PublicVoided, c.StatusReason
	case card.StatusRevoked:
		a.Status, a.StatusReason = PublicRevoked, c.StatusReason
	case card.StatusSuperseded:
		a.Status, a.StatusReason = PublicSuperseded, c.StatusReason
		if n, err := ch.Service.reg.GetCard(ctx, c.SupersededBy); err == nil {
			a.SupersededBy = n.Number
		}
	case card.StatusDraft:
		// Being sealed: genuine so far if every seal applied verifies.
		if storedHolds(c, rep) {
			a.Status = PublicIncomplete
		} else {
			a.Status = PublicForged
		}
	case card.StatusIssued:
		// The stored PDF must verify with its complete chain: the
		// registry flag alone is not trusted.
		if storedHolds(c, rep) {
			a.Status = PublicValid
		} else {
			a.Status = PublicForged
		}
	default:
		a.Status = PublicUnknown
	}
	return a, nil
}
