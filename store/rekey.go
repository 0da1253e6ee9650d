package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/card"
)

// RewriteCard reads every encrypted value of a card (card.Stored), calls
// fn with it and writes back what fn replaced, in one transaction with
// the card's row locked: the data-key rotation (lifecycle.RotateDataKey)
// re-encrypts a card all at once or not at all. fn may replace values,
// never add or remove one (ErrInvalid). The card's version does not
// change: the record means what it meant.
func (s *DB) RewriteCard(ctx context.Context, cardID string, fn func(*card.Stored) error) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, _, err := s.lockCard(ctx, tx, cardID); err != nil {
			return err
		}
		old, err := s.readStored(ctx, tx, cardID)
		if err != nil {
			return err
		}
		cur, err := s.readStored(ctx, tx, cardID)
		if err != nil {
			return err
		}
		if err := fn(cur); err != nil {
			return err
		}
		return s.writeStored(ctx, tx, old, cur)
	})
	if err != nil {
		return fmt.Errorf("rewrite card %s: %w", cardID, err)
	}
	return nil
}

func (s *DB) readStored(ctx context.Context, tx *sql.Tx, cardID string) (*card.Stored, error) {
	st := &card.Stored{CardID: cardID}
	if err := tx.QueryRowContext(ctx, `SELECT applicant, couple_key FROM cards WHERE id = $1`, cardID).
		Scan(&st.Applicant, &st.CoupleKey); err != nil {
		return nil, s.wrap(err)
	}
	each := func(q string, scan func(*sql.Rows) error) error {
		rows, err := tx.QueryContext(ctx, q, cardID)
		if err != nil {
			return s.wrap(err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return s.wrap(rows.Err())
	}
	err := each(`SELECT term FROM card_terms WHERE card_id = $1 ORDER BY term`, func(r *sql.Rows) error {
		var t string
		if err := r.Scan(&t); err != nil {
			return err
		}
		st.Terms = append(st.Terms, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT seq, pdf FROM card_pdfs WHERE card_id = $1 ORDER BY seq`, func(r *sql.Rows) error {
		var seq int
		var pdf []byte
		if err := r.Scan(&seq, &pdf); err != nil {
			return err
		}
		if seq != len(st.PDFs) {
			return fmt.Errorf("PDF revision %d follows revision %d", seq, len(st.PDFs)-1)
		}
		st.PDFs = append(st.PDFs, pdf)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT seq, kind, number, pdf FROM notices WHERE card_id = $1 ORDER BY seq`, func(r *sql.Rows) error {
		n := card.Notice{CardID: cardID}
		if err := r.Scan(&n.Seq, &n.Kind, &n.Number, &n.PDF); err != nil {
			return err
		}
		st.Notices = append(st.Notices, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT id, number, seq, pdf FROM forms WHERE card_id = $1 ORDER BY id`, func(r *sql.Rows) error {
		f := card.Form{CardID: cardID}
		if err := r.Scan(&f.ID, &f.Number, &f.Seq, &f.PDF); err != nil {
			return err
		}
		st.Forms = append(st.Forms, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT seq, material, content_type, size, data FROM attachments WHERE card_id = $1 ORDER BY seq`, func(r *sql.Rows) error {
		a := card.Attachment{CardID: cardID}
		if err := r.Scan(&a.Seq, &a.Material, &a.ContentType, &a.Size, &a.Data); err != nil {
			return err
		}
		st.Attachments = append(st.Attachments, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT seq, address FROM postings WHERE card_id = $1 ORDER BY seq`, func(r *sql.Rows) error {
		p := card.Posting{CardID: cardID}
		if err := r.Scan(&p.Seq, &p.Address); err != nil {
			return err
		}
		st.Postings = append(st.Postings, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// writeStored writes the values of cur that differ from old.
func (s *DB) writeStored(ctx context.Context, tx *sql.Tx, old, cur *card.Stored) error {
	if len(cur.PDFs) != len(old.PDFs) || len(cur.Notices) != len(old.Notices) || len(cur.Forms) != len(old.Forms) ||
		len(cur.Attachments) != len(old.Attachments) || len(cur.Postings) != len(old.Postings) || cur.CardID != old.CardID {
		return fmt.Errorf("%w: a rewrite replaces values, it does not add or remove them", ErrInvalid)
	}
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return s.wrap(err)
	}
	if !bytes.Equal(cur.Applicant, old.Applicant) || cur.CoupleKey != old.CoupleKey {
		if len(cur.Applicant) == 0 || (cur.CoupleKey != "" && !coupleKeyRE.MatchString(cur.CoupleKey)) {
			return fmt.Errorf("%w: applicant record and couple key", ErrInvalid)
		}
		if err := exec(`UPDATE cards SET applicant = $1, couple_key = $2 WHERE id = $3`, cur.Applicant, cur.CoupleKey, cur.CardID); err != nil {
			return err
		}
	}
	if !sameTerms(cur.Terms, old.Terms) {
		// The search terms are derived data, replaced as a whole (a
		// rotation derives them from the new key; a reindex fills them
		// for cards from before they were kept).
		if err := validTerms(cur.Terms); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if err := exec(`DELETE FROM card_terms WHERE card_id = $1`, cur.CardID); err != nil {
			return err
		}
		if err := s.insertTerms(ctx, tx, cur.CardID, cur.Terms); err != nil {
			return err
		}
	}
	for seq, pdf := range cur.PDFs {
		if bytes.Equal(pdf, old.PDFs[seq]) {
			continue
		}
		if len(pdf) == 0 {
			return fmt.Errorf("%w: empty PDF revision %d", ErrInvalid, seq)
		}
		d := sm3.Sum(pdf) // the row's checksum, as insertPDF computes it
		if err := exec(`UPDATE card_pdfs SET pdf = $1, digest = $2 WHERE card_id = $3 AND seq = $4`, pdf, d[:], cur.CardID, seq); err != nil {
			return err
		}
	}
	for i, n := range cur.Notices {
		o := old.Notices[i]
		if n.Seq != o.Seq || bytes.Equal(n.PDF, o.PDF) {
			if n.Seq != o.Seq {
				return fmt.Errorf("%w: notice %d renumbered", ErrInvalid, o.Seq)
			}
			continue
		}
		if len(n.PDF) == 0 {
			return fmt.Errorf("%w: empty notice %d", ErrInvalid, n.Seq)
		}
		if err := exec(`UPDATE notices SET pdf = $1 WHERE card_id = $2 AND seq = $3`, n.PDF, cur.CardID, n.Seq); err != nil {
			return err
		}
	}
	for i, f := range cur.Forms {
		o := old.Forms[i]
		if f.ID != o.ID || f.Seq != o.Seq {
			return fmt.Errorf("%w: form %s renamed or renumbered", ErrInvalid, o.ID)
		}
		if bytes.Equal(f.PDF, o.PDF) {
			continue
		}
		if len(f.PDF) == 0 {
			return fmt.Errorf("%w: empty form %s", ErrInvalid, f.ID)
		}
		// Forms are sealed without the card's row lock: replace only the
		// revision read.
		res, err := tx.ExecContext(ctx, `UPDATE forms SET pdf = $1 WHERE id = $2 AND seq = $3`, f.PDF, f.ID, f.Seq)
		if err != nil {
			return s.wrap(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("%w: form %s moved on from revision %d", card.ErrConflict, f.ID, f.Seq)
		}
	}
	for i, a := range cur.Attachments {
		o := old.Attachments[i]
		if a.Seq != o.Seq {
			return fmt.Errorf("%w: attachment %d renumbered", ErrInvalid, o.Seq)
		}
		if bytes.Equal(a.Data, o.Data) {
			continue
		}
		if len(a.Data) == 0 {
			return fmt.Errorf("%w: empty attachment %d", ErrInvalid, a.Seq)
		}
		if err := exec(`UPDATE attachments SET data = $1 WHERE card_id = $2 AND seq = $3`, a.Data, cur.CardID, a.Seq); err != nil {
			return err
		}
	}
	for i, p := range cur.Postings {
		o := old.Postings[i]
		if p.Seq != o.Seq {
			return fmt.Errorf("%w: posting %d renumbered", ErrInvalid, o.Seq)
		}
		if bytes.Equal(p.Address, o.Address) {
			continue
		}
		if len(p.Address) == 0 {
			return fmt.Errorf("%w: empty address of posting %d", ErrInvalid, p.Seq)
		}
		if err := exec(`UPDATE postings SET address = $1 WHERE card_id = $2 AND seq = $3`, p.Address, cur.CardID, p.Seq); err != nil {
			return err
		}
	}
	return nil
}
