package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/verifier"
)

// storedHolds is the one rule of what the verifier must say of a stored
// card's current PDF for the registry's record of it to hold:
//
//   - a card still under review (or refused under review) carries the
//     seals applied so far and no other change: the verifier says
//     incomplete, or — before the first seal — finds no seal and nothing
//     else wrong;
//   - an issued card, and a card that ended after issue (voided, revoked,
//     superseded), carries its complete, genuine chain: valid;
//   - a card whose seal claims the direct policy (Art. 17) is a re-birth
//     card and names its own approval form.
//
// The public answer (check.go) and the check after a restore
// (VerifyStored) both ask it.
func storedHolds(c *card.Card, rep *verifier.Report) bool {
	// A card issued directly (Art. 17) is a re-birth card whose seal
	// names its own approval form.
	if rep.Policy == chain.RebirthDirect.Name && (c.Type != card.Rebirth || rep.Form != RebirthFormNumber(c.Number)) {
		return false
	}
	switch c.Status {
	case card.StatusDraft, card.StatusRefused:
		if c.Seq == 0 {
			return len(rep.Seals) == 0 && len(rep.Changes) == 0 && rep.Verdict != verifier.Valid
		}
		return rep.Verdict == verifier.Incomplete
	case card.StatusIssued, card.StatusVoided, card.StatusRevoked, card.StatusSuperseded:
		return rep.Verdict == verifier.Valid
	}
	return false
}

// StoredPolicy returns the chain policy a stored card's current PDF
// follows, as the verifier reports it (chain.Card or chain.RebirthDirect
// for a card), or "" when the report does not hold for the card's record
// (storedHolds): a page that words its answer by the policy then claims
// nothing it has not verified.
func (ch *Checker) StoredPolicy(ctx context.Context, c *card.Card) (string, error) {
	rep, err := ch.storedReport(ctx, c)
	if err != nil {
		return "", err
	}
	if !storedHolds(c, rep) {
		return "", nil
	}
	return rep.Policy, nil
}

// ErrRecordMismatch: a stored card's PDF, seal records and status do not
// agree (VerifyStored).
var ErrRecordMismatch = errors.New("stored card does not match its records")

// VerifyStored checks one stored card against everything the registry
// says about it, as after a restore: one seal record per PDF revision
// 1..Seq, each record's digest the SM3 of the stored revision it produced;
// the current PDF re-verified (storedHolds), its seals the recorded ones
// in order. It returns the verifier's report; a verdict or a record that
// does not fit is an error wrapping ErrRecordMismatch, and any other
// error means the card could not be checked.
func (ch *Checker) VerifyStored(ctx context.Context, c *card.Card) (*verifier.Report, error) {
	reg := ch.Service.reg
	seals, err := reg.Seals(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: card %s (%s): %s", ErrRecordMismatch, c.ID, c.Number, fmt.Sprintf(format, args...))
	}
	// A revision that does not decrypt as the revision it is stored as
	// was moved or altered (or the keystore is not this registry's).
	seq, pdf, err := reg.CurrentPDF(ctx, c.ID)
	if errors.Is(err, ErrCorrupt) {
		return nil, bad("%v", err)
	}
	if err != nil {
		return nil, err
	}
	// Revisions after the last seal are archive revisions (renew.go),
	// only on a card whose chain is complete.
	archived := seq > len(seals) && len(seals) > 0 && c.Status != card.StatusDraft && c.Status != card.StatusRefused
	if seq != c.Seq || (len(seals) != seq && !archived) {
		return nil, bad("card at revision %d, newest PDF revision %d, %d seal records", c.Seq, seq, len(seals))
	}
	for i, s := range seals {
		if s.Seq != i+1 {
			return nil, bad("seal record %d has sequence %d", i+1, s.Seq)
		}
		rev := pdf
		if s.Seq != seq {
			if rev, err = reg.PDF(ctx, c.ID, s.Seq); errors.Is(err, ErrCorrupt) {
				return nil, bad("%v", err)
			} else if err != nil {
				return nil, err
			}
		}
		if d := sm3.Sum(rev); !bytes.Equal(d[:], s.PDFDigest) {
			return nil, bad("revision %d is not the PDF its seal record names", s.Seq)
		}
	}
	rep, err := ch.VerifyPDF(pdf, c.Number)
	if err != nil {
		return nil, err
	}
	if !storedHolds(c, rep) {
		return rep, bad("verdict %s for a %s card at revision %d", rep.Verdict, c.Status, c.Seq)
	}
	if len(rep.Seals) != len(seals) {
		return rep, bad("the PDF carries %d seals, the registry %d", len(rep.Seals), len(seals))
	}
	for i, s := range seals {
		r := rep.Seals[i]
		if r.Level != string(s.Level) || r.DivisionCode != s.OrgCode || !strings.EqualFold(strings.TrimLeft(r.CertSerial, "0"), strings.TrimLeft(s.CertSerial, "0")) {
			return rep, bad("seal %d is %s %s (certificate %s) in the PDF, %s %s (certificate %s) in the registry",
				i+1, r.Level, r.DivisionCode, r.CertSerial, s.Level, s.OrgCode, s.CertSerial)
		}
	}
	return rep, nil
}

// VerifyAll runs VerifyStored over every card of the registry, a page at
// a time, calling fn with each card and the outcome; an error from fn
// stops the walk.
func (ch *Checker) VerifyAll(ctx context.Context, fn func(c *card.Card, rep *verifier.Report, err error) error) error {
	return ch.Service.pages(ctx, card.Filter{}, func(c *card.Card) error {
		rep, err := ch.VerifyStored(ctx, c)
		return fn(c, rep, err)
	})
}
