package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
)

// Rotation of the data key ('cardseal data-key rotate',
// docs/operations.md): every encrypted value of every card — its postal
// addresses included — is decrypted under whichever key of the ring it
// names and encrypted again under the new key, a card per transaction;
// the couple keys and the search terms are derived again from the new key. Then each county's
// population-register extract, a county per transaction: each resident
// re-encrypted and found by a key derived again from the new data key.
// Documents stored in clear before encryption, and values in format 1,
// come out in format 2. A value already under the new key is left alone,
// so a rotation that was interrupted resumes where it stopped.

// Rekeying is the storage a rotation needs; package store's DB is one.
type Rekeying interface {
	ListCards(ctx context.Context, f card.Filter) ([]card.Card, error)
	// RewriteCard calls fn with every encrypted value of the card and
	// writes back what fn replaced, in one transaction.
	RewriteCard(ctx context.Context, cardID string, fn func(*card.Stored) error) error
	// PopulationCounties lists the counties holding an extract.
	PopulationCounties(ctx context.Context) ([]string, error)
	// RewritePopulation calls fn with every record of the county's
	// extract and writes back what fn returns (as many records, in the
	// same order), in one transaction.
	RewritePopulation(ctx context.Context, county string, fn func([]card.PopulationRecord) ([]card.PopulationRecord, error)) error
}

// Rotation counts what RotateDataKey did.
type Rotation struct {
	From, To  string // keys.DataKeyID of the current key before, and of the new one
	Cards     int    // cards walked
	Rewritten int    // values encrypted under the new key
	Clear     int    // of them, documents that were stored in clear
	Format1   int    // of them, values in format 1
	Current   int    // values already under the new key (an earlier, interrupted run)
	Residents int    // of the values rewritten, population-register records
}

// RotateDataKey re-encrypts every card of reg under next. ring holds the
// keys the stored values may be under, the current key first (the
// keystore's DataKeyRing). A value that no key of ring decrypts stops the
// rotation with an error wrapping ErrCorrupt that names the card; cards
// done so far stay done.
func RotateDataKey(ctx context.Context, reg Rekeying, ring [][]byte, next []byte) (*Rotation, error) {
	if len(ring) == 0 {
		return nil, fmt.Errorf("rotate data key: no current key")
	}
	p, err := newPrivacy(append([][]byte{next}, ring...)...)
	if err != nil {
		return nil, err
	}
	r := &Rotation{From: keys.DataKeyID(ring[0]), To: keys.DataKeyID(next)}
	f := card.Filter{Limit: pageSize}
	for {
		page, err := reg.ListCards(ctx, f)
		if err != nil {
			return r, err
		}
		for _, c := range page {
			if err := reg.RewriteCard(ctx, c.ID, func(st *card.Stored) error { return p.rekey(st, r) }); err != nil {
				return r, fmt.Errorf("card %s (%s): %w", c.ID, c.Number, err)
			}
			r.Cards++
		}
		if len(page) < pageSize {
			break
		}
		f.AfterID = page[len(page)-1].ID
	}
	counties, err := reg.PopulationCounties(ctx)
	if err != nil {
		return r, err
	}
	for _, county := range counties {
		err := reg.RewritePopulation(ctx, county, func(recs []card.PopulationRecord) ([]card.PopulationRecord, error) {
			return p.rekeyResidents(county, recs, r)
		})
		if err != nil {
			return r, fmt.Errorf("population register of %s: %w", county, err)
		}
	}
	return r, nil
}

// rekeyResidents re-encrypts the county's records that are not under p's
// current key, each under the key derived again from the resident's ID
// number (residentKey), so the extract is found with the new data key;
// it counts them in r.
func (p *privacy) rekeyResidents(county string, recs []card.PopulationRecord, r *Rotation) ([]card.PopulationRecord, error) {
	for i, rec := range recs {
		if p.current(rec.Data) {
			r.Current++
			continue
		}
		plain, err := p.open(residentSlot(county, rec.Key), rec.Data)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		var res card.Resident
		if err := json.Unmarshal(plain, &res); err != nil {
			return nil, fmt.Errorf("record %d: %w: %v", i, ErrCorrupt, err)
		}
		k := p.residentKey(county, res.IDNumber)
		recs[i] = card.PopulationRecord{Key: k, Data: p.seal(residentSlot(county, k), plain)}
		r.Rewritten++
		r.Residents++
	}
	return recs, nil
}

// rekey re-encrypts every value of st that is not under p's current key.
func (p *privacy) rekey(st *card.Stored, r *Rotation) error {
	id := st.CardID
	redo := func(sl slot, b []byte) ([]byte, error) {
		if p.current(b) {
			r.Current++
			return b, nil
		}
		plain, err := p.open(sl, b)
		if err != nil {
			return nil, err
		}
		switch {
		case sl.document && bytes.HasPrefix(b, inClear):
			r.Clear++
		case bytes.HasPrefix(b, format1):
			r.Format1++
		}
		r.Rewritten++
		return p.seal(sl, plain), nil
	}
	// The couple key and the search terms are derived from the new key
	// whatever the applicant record's state: a rotation that stopped
	// after rewriting the record still left them right.
	app, err := openApplicant(p, id, st.Applicant)
	if err != nil {
		return err
	}
	if !p.current(st.Applicant) {
		if st.Applicant, err = redo(applicantSlot(id), st.Applicant); err != nil {
			return err
		}
	} else {
		r.Current++
	}
	st.CoupleKey = p.coupleKey(app)
	st.Terms = p.searchTerms(app)
	for seq := range st.PDFs {
		if st.PDFs[seq], err = redo(pdfSlot(id, seq), st.PDFs[seq]); err != nil {
			return fmt.Errorf("PDF revision %d: %w", seq, err)
		}
	}
	for i := range st.Notices {
		n := &st.Notices[i]
		if n.PDF, err = redo(noticeSlot(id, n.Kind, n.Number), n.PDF); err != nil {
			return fmt.Errorf("notice %d: %w", n.Seq, err)
		}
	}
	for i := range st.Forms {
		f := &st.Forms[i]
		if f.PDF, err = redo(formSlot(id, f.ID, f.Seq), f.PDF); err != nil {
			return fmt.Errorf("form %s: %w", f.ID, err)
		}
	}
	for i := range st.Attachments {
		a := &st.Attachments[i]
		if a.Data, err = redo(attachmentSlot(id, a.Seq), a.Data); err != nil {
			return fmt.Errorf("attachment %d: %w", a.Seq, err)
		}
	}
	for i := range st.Postings {
		x := &st.Postings[i]
		if x.Address, err = redo(postingSlot(id, x.Seq), x.Address); err != nil {
			return fmt.Errorf("postal address %d: %w", x.Seq, err)
		}
	}
	return nil
}
