package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/verifier"
)

// ErrRetired: the organisation is retired (merged into another, closed)
// and may apply no new seal. Seals it applied before keep verifying:
// certificates are judged at signing time.
var ErrRetired = errors.New("the organisation is retired")

// CheckActive returns nil if the store records the organisation and it is
// not retired, an error wrapping ErrRetired if it is retired, and the
// store's error (store.ErrNotFound) if the store does not know it.
// Service.Seal calls it before sealing: the keystore still holds a retired
// organisation's key, so its seals keep resolving, and only the registry
// says it no longer seals.
func CheckActive(ctx context.Context, st store.Store, code string) error {
	o, err := st.GetOrg(ctx, code)
	if err != nil {
		return err
	}
	if o.Retired {
		return fmt.Errorf("%w: %s %s", ErrRetired, o.Code, o.Name)
	}
	return nil
}

// ErrRecordMismatch: a stored card's PDF, seal records and status do not
// agree (VerifyStored).
var ErrRecordMismatch = errors.New("stored card does not match its records")

// VerifyStored checks one stored card against everything the registry
// says about it, as after a restore: one seal record per PDF revision
// 1..Seq, each record's digest the SM3 of the stored revision it produced;
// the current PDF re-verified by the verifier (valid for a card that has
// been issued, incomplete for a draft), its seals the recorded ones in
// order. It returns the verifier's report; a verdict or a record that does
// not fit is an error wrapping ErrRecordMismatch, and any other error
// means the card could not be checked.
func (ch *Checker) VerifyStored(ctx context.Context, c *store.Card) (*verifier.Report, error) {
	st := ch.Service.Store
	seals, err := st.Seals(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	seq, pdf, err := st.CurrentPDF(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: card %s (%s): %s", ErrRecordMismatch, c.ID, c.Number, fmt.Sprintf(format, args...))
	}
	if seq != c.Seq || len(seals) != seq {
		return nil, bad("card at revision %d, newest PDF revision %d, %d seal records", c.Seq, seq, len(seals))
	}
	for i, s := range seals {
		if s.Seq != i+1 {
			return nil, bad("seal record %d has sequence %d", i+1, s.Seq)
		}
		rev := pdf
		if s.Seq != seq {
			if rev, err = st.PDF(ctx, c.ID, s.Seq); err != nil {
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
	want := verifier.Valid
	if c.Status == store.StatusDraft || (c.Status == store.StatusRefused && rep.Verdict != verifier.Valid) {
		want = verifier.Incomplete
	}
	if rep.Verdict != want {
		return rep, bad("verdict %s for a %s card, want %s", rep.Verdict, c.Status, want)
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
