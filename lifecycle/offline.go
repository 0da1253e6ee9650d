package lifecycle

import (
	"errors"
	"fmt"
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/statuslist"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/verifier"
)

// Offline checks of a card (cardseal verify --offline). A version-1 QR
// token signed the card's status-list index; a version-2 token is a
// random handle and says nothing offline. A card PDF does: its seals
// verify with the trust list alone, and its revision 0, which every seal
// covers, holds the index.

// ErrNoStatusIndex is returned for a card PDF whose revision 0 holds no
// status-list index (rendered before version-2 tokens, or not a card).
var ErrNoStatusIndex = errors.New("the card's revision 0 holds no status-list index")

// StatusIndex reads a card's status-list index from the document
// information of its revision 0, which templates writes and every seal
// covers. Trust it only once the PDF's seals verify (verifier.Valid):
// then the index is as signed as the seals are. This is how a card with a
// version-2 token is checked against a status list offline.
func StatusIndex(doc []byte) (int, error) {
	f, err := pdf.Parse(doc)
	if err != nil {
		return 0, err
	}
	info, err := f.ResolveDict(0, f.Trailer(0).Get("Info"))
	if err != nil || info == nil {
		return 0, ErrNoStatusIndex
	}
	n, ok := info.Int(templates.StatusIndexKey)
	if !ok || n < 0 || n >= 1<<24 {
		return 0, ErrNoStatusIndex
	}
	return int(n), nil
}

// ErrListTooShort is returned when a status list has fewer entries than
// the card's index: it cannot say anything about the card.
var ErrListTooShort = errors.New("the status list does not cover the card's index")

// OfflineCard is the offline answer about a card PDF.
type OfflineCard struct {
	Report *verifier.Report
	// Status is PublicValid, PublicVoided, PublicRevoked or
	// PublicSuperseded when the seal chain is valid; otherwise the
	// verifier's verdict (invalid, incomplete), and the list is not read.
	Status      string
	StatusIndex int
}

// CheckOffline checks a card PDF with no network: its seal chain against
// the trust list, then, when the chain is valid, the card's bit in a
// status list the caller has already checked (statuslist.Parse).
// The CRLs, if any, revoke seal certificates from a time on (seals
// timestamped before it stay valid).
func CheckOffline(doc []byte, trust *keys.TrustList, list *statuslist.List, crls ...*smx509.RevocationList) (*OfflineCard, error) {
	rep, err := verifier.Verify(doc, verifier.Options{Trust: trust, SealBoxes: CardSealBoxes(), CRLs: crls})
	if err != nil {
		return nil, err
	}
	oc := &OfflineCard{Report: rep, Status: string(rep.Verdict)}
	if rep.Verdict != verifier.Valid {
		return oc, nil
	}
	if oc.StatusIndex, err = StatusIndex(doc); err != nil {
		return nil, err
	}
	if oc.StatusIndex >= list.Size {
		return nil, fmt.Errorf("%w: index %d, list of %d entries", ErrListTooShort, oc.StatusIndex, list.Size)
	}
	switch list.Status(oc.StatusIndex) {
	case statuslist.Voided:
		oc.Status = PublicVoided
	case statuslist.Revoked:
		oc.Status = PublicRevoked
	case statuslist.Superseded:
		oc.Status = PublicSuperseded
	default:
		oc.Status = PublicValid
	}
	return oc, nil
}
