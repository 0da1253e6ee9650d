package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/internal/lru"
	"github.com/jilin-health/cardseal/org"
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
	Status    string    `json:"status"`
	CardType  card.Type `json:"card_type,omitempty"`
	CardTitle string    `json:"card_title,omitempty"`
	Number    string    `json:"number,omitempty"`
	Holders   []Holder  `json:"holders,omitempty"`
	County    string    `json:"county,omitempty"`
	// Issuer is the card's issuing authority (发证机关, Art. 3, 6): its
	// township for 一孩、二孩 cards, its county for re-birth cards, by
	// the issuer policy when the card was made.
	Issuer      string       `json:"issuer,omitempty"`
	IssuerLevel org.Level    `json:"issuer_level,omitempty"`
	CountyCode  string       `json:"county_code,omitempty"`
	IssueDate   string       `json:"issue_date,omitempty"`
	Seals       []PublicSeal `json:"seals"`
	// SupersededBy is the new card's number. The answer names only the
	// status: the reason, the note and the article behind a void or a
	// revocation stay with staff and the holder (Art. 13; a void's
	// reason is health information).
	SupersededBy    string    `json:"superseded_by,omitempty"`
	CheckedAt       time.Time `json:"checked_at"`
	VerifierVerdict string    `json:"verifier_verdict,omitempty"`
	// Direct is set for a card the county issued directly from the
	// pre-review list (县级直接办理, Art. 17), as its seal claims.
	Direct *DirectInfo `json:"direct,omitempty"`
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

	reports *lru.Cache[[32]byte, *verifier.Report] // SM3 of a PDF → its report
	stored  *lru.Cache[string, storedVerdict]      // card ID → verdict of its current PDF
	tokens  *lru.Cache[string, *token.Scanned]     // version-1 token → its verified claims
	holders *lru.Cache[string, maskedHolders]      // card ID → its masked holders
}

// maskedHolders are the masked holders of the application record sealed
// (encrypted) as applicant: decrypting and decoding the record was a
// sixth of each answer once the PDF and the token were cached.
type maskedHolders struct {
	applicant []byte
	holders   []Holder
}

// storedVerdict is the report on a card's stored PDF at revision seq,
// read and verified at checked.
type storedVerdict struct {
	seq     int
	rep     *verifier.Report
	checked time.Time
}

// NewChecker returns a checker over a service.
func NewChecker(s *Service) *Checker {
	return &Checker{Service: s, reports: lru.New[[32]byte, *verifier.Report](maxCache),
		stored: lru.New[string, storedVerdict](maxCache), tokens: lru.New[string, *token.Scanned](maxCache),
		holders: lru.New[string, maskedHolders](maxCache)}
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
	crls, err := ch.Service.CRLs()
	if err != nil {
		return nil, err
	}
	key := reportKey(pdf, crls)
	if rep, ok := ch.reports.Get(key); ok && rep.DocID == docID {
		return rep, nil
	}
	rep, err := verifier.Verify(pdf, verifier.Options{
		Trust:     ch.Service.keys.TrustList(),
		SealBoxes: CardSealBoxes(),
		DocID:     docID,
		CRLs:      crls,
	})
	if err != nil {
		return nil, err
	}
	ch.reports.Put(key, rep)
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

// Errors of CardByToken.
var (
	// ErrForgedToken: the token is malformed, or a version-1 token whose
	// signature does not verify or that names another card than the one
	// the registry holds under it.
	ErrForgedToken = errors.New("forged or malformed QR token")
	// ErrUnknownToken: a well-formed token the registry does not know.
	ErrUnknownToken = errors.New("no card has this QR token")
)

// Check answers a scanned token.
func (ch *Checker) Check(ctx context.Context, tok string) (*Answer, error) {
	now := ch.Service.Now().UTC()
	c, err := ch.CardByToken(ctx, tok)
	switch {
	case errors.Is(err, ErrForgedToken):
		return &Answer{Status: PublicForged, CheckedAt: now, Seals: []PublicSeal{}}, nil
	case errors.Is(err, ErrUnknownToken):
		return &Answer{Status: PublicUnknown, CheckedAt: now, Seals: []PublicSeal{}}, nil
	case err != nil:
		return nil, err
	}
	return ch.Answer(ctx, c)
}

// CardByToken finds the card a scanned token names, for the public check
// and the citizen download alike. A version-2 token is a random handle:
// it is parsed strictly and looked up. A version-1 token (cards printed
// before version 2) must verify against the platform certificate, and
// the card the registry holds under it must have the number it signs.
// The version-1 holder digests are not used (docs/privacy.md).
func (ch *Checker) CardByToken(ctx context.Context, tok string) (*card.Card, error) {
	sc, err := ch.readToken(tok)
	if errors.Is(err, token.ErrMalformed) || errors.Is(err, token.ErrForged) || errors.Is(err, token.ErrNoKey) {
		return nil, fmt.Errorf("%w: %w", ErrForgedToken, err)
	}
	if err != nil {
		return nil, err
	}
	c, err := ch.Service.reg.GetCardByToken(ctx, sc.Key)
	if errors.Is(err, card.ErrNotFound) {
		return nil, ErrUnknownToken
	}
	if err != nil {
		return nil, err
	}
	if sc.Legacy != nil && c.Number != sc.Legacy.Number {
		return nil, fmt.Errorf("%w: the token signs card %s, the registry holds %s under it", ErrForgedToken, sc.Legacy.Number, c.Number)
	}
	return &c, nil
}

// readToken reads a scanned token. A version-1 token's signature is
// checked once per token and platform certificate; only tokens that
// verified are remembered. A version-2 token costs nothing to parse and
// is not cached.
func (ch *Checker) readToken(tok string) (*token.Scanned, error) {
	certs, err := ch.platformCerts()
	if err != nil {
		return nil, err
	}
	key := token.Normalize(tok)
	if t, ok := ch.tokens.Get(key); ok && slices.Contains(certs, t.Cert) {
		return t, nil
	}
	sc, err := token.Read(key, certs)
	if err != nil {
		return nil, err
	}
	if sc.Legacy != nil {
		ch.tokens.Put(key, sc)
	}
	return sc, nil
}

// IsHolder reports whether idNumber is the ID number of one of the card's
// two holders, as the registry's encrypted applicant record says: the
// citizen download's check (Art. 16), the same for every token version.
// Both numbers are compared in constant time, and both always are.
func (s *Service) IsHolder(c *card.Card, idNumber string) (bool, error) {
	app, err := s.Applicant(c)
	if err != nil {
		return false, err
	}
	return holds(app, idNumber), nil
}

// storedReport returns the verifier's report on a card's current PDF,
// reading and verifying it when the card is at a revision not seen yet or
// the last reading is older than storedTTL.
func (ch *Checker) storedReport(ctx context.Context, c *card.Card) (*verifier.Report, error) {
	now := ch.Service.Now()
	if v, ok := ch.stored.Get(c.ID); ok && v.seq == c.Seq && v.rep.DocID == c.Number && now.Sub(v.checked) < storedTTL && !now.Before(v.checked) {
		return v.rep, nil
	}
	seq, pdf, err := ch.Service.reg.CurrentPDF(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	rep, err := ch.VerifyPDF(pdf, c.Number)
	if err != nil {
		return nil, err
	}
	if seq == c.Seq {
		ch.stored.Put(c.ID, storedVerdict{seq: seq, rep: rep, checked: now})
	}
	return rep, nil
}

// maskedHolders returns a card's masked holders, decrypting its
// application record once per distinct record (the stored ciphertext is
// compared byte for byte). Only masked values are kept.
func (ch *Checker) maskedHolders(c *card.Card) ([]Holder, error) {
	if m, ok := ch.holders.Get(c.ID); ok && bytes.Equal(m.applicant, c.Applicant) {
		return slices.Clone(m.holders), nil
	}
	app, err := ch.Service.Applicant(c)
	if err != nil {
		return nil, err
	}
	holders := MaskHolders(app)
	ch.holders.Put(c.ID, maskedHolders{applicant: bytes.Clone(c.Applicant), holders: holders})
	return slices.Clone(holders), nil
}

// CheckNumber answers a manual check by card number and verification
// code; a wrong code is answered like an unknown card. Both are read as
// people type them off a paper card (card.NormalizeNumber,
// token.NormalizeCode): spaces, dashes, full-width characters and the
// look-alikes the alphabets cannot contain do not make a genuine card
// look unknown.
func (ch *Checker) CheckNumber(ctx context.Context, number, code string) (*Answer, error) {
	now := ch.Service.Now().UTC()
	c, err := ch.Service.reg.GetCardByNumber(ctx, card.NormalizeNumber(number))
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
	if o, err := ch.Service.IssuerOf(ctx, c); err == nil {
		a.Issuer, a.IssuerLevel = o.Name, o.Level
	}
	rep, err := ch.storedReport(ctx, c)
	if err != nil {
		return nil, err
	}
	a.VerifierVerdict = string(rep.Verdict)
	if storedHolds(c, rep) {
		if a.Direct, err = ch.directInfo(ctx, c, rep); err != nil {
			return nil, err
		}
	}
	for _, s := range rep.Seals {
		a.Seals = append(a.Seals, PublicSeal{Level: s.Level, Organisation: s.Organisation, DivisionCode: s.DivisionCode, Time: s.SigningTime, OK: s.OK})
	}
	switch c.Status {
	case card.StatusVoided:
		a.Status = PublicVoided
	case card.StatusRevoked:
		a.Status = PublicRevoked
	case card.StatusSuperseded:
		a.Status = PublicSuperseded
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
