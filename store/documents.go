package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// Procedures is the persistence of the procedure's documents: notices,
// re-birth approval forms and online attachments.
type Procedures interface {
	// AddNotice stores a notice with the next seq of its card and
	// appends ev, in one transaction. A second missing-materials notice
	// with the same AppDigest is ErrDuplicate. If to is not empty the
	// card, which must be a draft (ErrConflict otherwise), moves to that
	// status with reason and the notice number as note (a refusal).
	AddNotice(ctx context.Context, n *card.Notice, to card.Status, reason string, ev audit.Event) error
	// Notices returns the card's notices in order, without their PDFs.
	Notices(ctx context.Context, cardID string) ([]card.Notice, error)
	// GetNotice returns one notice with its PDF.
	GetNotice(ctx context.Context, cardID string, seq int) (card.Notice, error)

	// CreateForm stores a new form (seq 0) and appends ev; one form per
	// card (ErrDuplicate).
	CreateForm(ctx context.Context, f *card.Form, ev audit.Event) error
	GetForm(ctx context.Context, id string) (card.Form, error)
	// UpdateForm replaces the form's PDF with a new revision if its seq
	// is still expectSeq (ErrConflict otherwise), and appends ev.
	UpdateForm(ctx context.Context, id string, expectSeq int, pdf []byte, ev audit.Event) error

	// UpdateApplicant replaces a draft card's applicant record (encrypted
	// by the caller) and the time its file became complete (zero: not
	// complete) and appends ev; ErrConflict if the card is not a draft.
	UpdateApplicant(ctx context.Context, cardID string, applicant []byte, completeAt time.Time, ev audit.Event) error

	// AddAttachments stores a card's attachments, numbered on from the
	// existing ones, in one transaction; an attachment whose Seq is set
	// must get that number (ErrConflict otherwise).
	AddAttachments(ctx context.Context, cardID string, atts []card.Attachment) error
	// Attachments returns the card's attachments in order.
	Attachments(ctx context.Context, cardID string) ([]card.Attachment, error)
}

func (s *DB) AddNotice(ctx context.Context, n *card.Notice, to card.Status, reason string, ev audit.Event) error {
	switch {
	case n.Kind != card.NoticeMissing && n.Kind != card.NoticeRefusal:
		return fmt.Errorf("add notice: %w: kind %q", ErrInvalid, n.Kind)
	case !cardIDRE.MatchString(n.CardID), n.Number == "", len(n.PDF) == 0, n.CreatedBy == "", n.OrgCode == "":
		return fmt.Errorf("add notice: %w: card, number, PDF, organisation and creator are required", ErrInvalid)
	case to != "" && !to.Valid():
		return fmt.Errorf("add notice: %w: status %q", ErrInvalid, to)
	}
	t := now()
	ev.CardID = n.CardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, _, err := s.lockCard(ctx, tx, n.CardID)
		if err != nil {
			return err
		}
		if st != card.StatusDraft {
			return fmt.Errorf("%w: card is %s", card.ErrConflict, st)
		}
		var seq int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM notices WHERE card_id = $1`, n.CardID).Scan(&seq); err != nil {
			return s.wrap(err)
		}
		seq++
		if _, err := tx.ExecContext(ctx, `INSERT INTO notices
			(card_id, seq, kind, number, app_digest, org_code, pdf, created_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			n.CardID, seq, string(n.Kind), n.Number, n.AppDigest, n.OrgCode, n.PDF, s.d.timeArg(t), n.CreatedBy); err != nil {
			return s.wrap(err)
		}
		if to != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE cards SET status = $1, status_reason = $2, status_note = $3,
				next_level = '', updated_at = $4, version = version + 1 WHERE id = $5`,
				string(to), reason, n.Number, s.d.timeArg(t), n.CardID); err != nil {
				return s.wrap(err)
			}
		}
		n.Seq = seq
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("add %s notice to card %s: %w", n.Kind, n.CardID, err)
	}
	n.CreatedAt = t
	return nil
}

const noticeCols = `card_id, seq, kind, number, app_digest, org_code, created_at, created_by`

func (s *DB) Notices(ctx context.Context, cardID string) ([]card.Notice, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+noticeCols+` FROM notices WHERE card_id = $1 ORDER BY seq`, cardID)
	if err != nil {
		return nil, fmt.Errorf("notices of card %s: %w", cardID, s.wrap(err))
	}
	defer rows.Close()
	var out []card.Notice
	for rows.Next() {
		var n card.Notice
		if err := rows.Scan(&n.CardID, &n.Seq, &n.Kind, &n.Number, &n.AppDigest, &n.OrgCode, dbTime{&n.CreatedAt}, &n.CreatedBy); err != nil {
			return nil, fmt.Errorf("notices of card %s: %w", cardID, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notices of card %s: %w", cardID, s.wrap(err))
	}
	return out, nil
}

func (s *DB) GetNotice(ctx context.Context, cardID string, seq int) (card.Notice, error) {
	var n card.Notice
	err := s.r.QueryRowContext(ctx, `SELECT `+noticeCols+`, pdf FROM notices WHERE card_id = $1 AND seq = $2`, cardID, seq).
		Scan(&n.CardID, &n.Seq, &n.Kind, &n.Number, &n.AppDigest, &n.OrgCode, dbTime{&n.CreatedAt}, &n.CreatedBy, &n.PDF)
	if err != nil {
		return card.Notice{}, fmt.Errorf("notice %d of card %s: %w", seq, cardID, s.wrap(err))
	}
	return n, nil
}

func (s *DB) CreateForm(ctx context.Context, f *card.Form, ev audit.Event) error {
	if !cardIDRE.MatchString(f.ID) || !cardIDRE.MatchString(f.CardID) || f.Number == "" || len(f.PDF) == 0 || f.CreatedBy == "" {
		return fmt.Errorf("create form: %w: id, card, number, PDF and creator are required", ErrInvalid)
	}
	t := now()
	ev.CardID = f.CardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO forms (id, card_id, number, seq, pdf, created_at, updated_at, created_by)
			VALUES ($1, $2, $3, 0, $4, $5, $5, $6)`, f.ID, f.CardID, f.Number, f.PDF, s.d.timeArg(t), f.CreatedBy); err != nil {
			return s.wrap(err)
		}
		_, err := s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("create form for card %s: %w", f.CardID, err)
	}
	f.Seq, f.CreatedAt, f.UpdatedAt = 0, t, t
	return nil
}

func (s *DB) GetForm(ctx context.Context, id string) (card.Form, error) {
	var f card.Form
	err := s.r.QueryRowContext(ctx, `SELECT id, card_id, number, seq, pdf, created_at, updated_at, created_by FROM forms WHERE id = $1`, id).
		Scan(&f.ID, &f.CardID, &f.Number, &f.Seq, &f.PDF, dbTime{&f.CreatedAt}, dbTime{&f.UpdatedAt}, &f.CreatedBy)
	if err != nil {
		return card.Form{}, fmt.Errorf("get form %s: %w", id, s.wrap(err))
	}
	return f, nil
}

func (s *DB) UpdateForm(ctx context.Context, id string, expectSeq int, pdf []byte, ev audit.Event) error {
	if len(pdf) == 0 {
		return fmt.Errorf("update form %s: %w: empty PDF", id, ErrInvalid)
	}
	t := now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE forms SET pdf = $1, seq = seq + 1, updated_at = $2 WHERE id = $3 AND seq = $4`,
			pdf, s.d.timeArg(t), id, expectSeq)
		if err != nil {
			return s.wrap(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("%w: form is no longer at revision %d", card.ErrConflict, expectSeq)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("update form %s: %w", id, err)
	}
	return nil
}

func (s *DB) AddAttachments(ctx context.Context, cardID string, atts []card.Attachment) error {
	t := now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var seq int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM attachments WHERE card_id = $1`, cardID).Scan(&seq); err != nil {
			return s.wrap(err)
		}
		for _, a := range atts {
			if a.Material == "" || a.ContentType == "" || len(a.Data) == 0 {
				return fmt.Errorf("%w: attachment needs a material, a type and data", ErrInvalid)
			}
			seq++
			if a.Seq != 0 && a.Seq != seq {
				// The caller numbered it (its encryption binds the number):
				// another addition came first.
				return fmt.Errorf("%w: attachment %d would be number %d", card.ErrConflict, a.Seq, seq)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO attachments (card_id, seq, material, content_type, size, data, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, cardID, seq, a.Material, a.ContentType, a.Size, a.Data, s.d.timeArg(t)); err != nil {
				return s.wrap(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add attachments to card %s: %w", cardID, err)
	}
	return nil
}

func (s *DB) Attachments(ctx context.Context, cardID string) ([]card.Attachment, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT card_id, seq, material, content_type, size, data, created_at
		FROM attachments WHERE card_id = $1 ORDER BY seq`, cardID)
	if err != nil {
		return nil, fmt.Errorf("attachments of card %s: %w", cardID, s.wrap(err))
	}
	defer rows.Close()
	var out []card.Attachment
	for rows.Next() {
		var a card.Attachment
		if err := rows.Scan(&a.CardID, &a.Seq, &a.Material, &a.ContentType, &a.Size, &a.Data, dbTime{&a.CreatedAt}); err != nil {
			return nil, fmt.Errorf("attachments of card %s: %w", cardID, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attachments of card %s: %w", cardID, s.wrap(err))
	}
	return out, nil
}

func (s *DB) UpdateApplicant(ctx context.Context, cardID string, applicant []byte, completeAt time.Time, ev audit.Event) error {
	if len(applicant) == 0 {
		return fmt.Errorf("update applicant of card %s: %w: no applicant data", cardID, ErrInvalid)
	}
	t := now()
	ev.CardID = cardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, _, err := s.lockCard(ctx, tx, cardID)
		if err != nil {
			return err
		}
		if st != card.StatusDraft {
			return fmt.Errorf("%w: card is %s", card.ErrConflict, st)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE cards SET applicant = $1, complete_at = $2, updated_at = $3, version = version + 1 WHERE id = $4`,
			applicant, s.d.timeArg(completeAt), s.d.timeArg(t), cardID); err != nil {
			return s.wrap(err)
		}
		if err := s.cancelApprovals(ctx, tx, cardID, s.d.timeArg(t)); err != nil {
			return err
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("update applicant of card %s: %w", cardID, err)
	}
	return nil
}
