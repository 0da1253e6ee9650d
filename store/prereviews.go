package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// The pre-review list of re-birth applications (预审上报, Art. 17) and the
// re-birth approval form of a card.

const preReviewCols = `p.id, p.card_id, p.level, p.org_code, p.by_user, p.created_at`

func (s *DB) AddPreReview(ctx context.Context, p *card.PreReview, ev audit.Event) error {
	if !cardIDRE.MatchString(p.ID) || !cardIDRE.MatchString(p.CardID) || (p.Level != org.Village && p.Level != org.Township) ||
		p.OrgCode == "" || p.By == "" {
		return fmt.Errorf("add pre-review: %w: id, card, village or township level, organisation and user are required", ErrInvalid)
	}
	t := now()
	ev.CardID = p.CardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, _, err := s.lockCard(ctx, tx, p.CardID)
		if err != nil {
			return err
		}
		if st != card.StatusDraft {
			return fmt.Errorf("%w: card is %s", card.ErrConflict, st)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pre_reviews WHERE card_id = $1 AND level = $2`,
			p.CardID, string(p.Level)).Scan(&n); err != nil {
			return s.wrap(err)
		}
		if n > 0 {
			return fmt.Errorf("%w: the %s level reported the card already", card.ErrDuplicate, p.Level)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pre_reviews (id, card_id, level, org_code, by_user, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, p.ID, p.CardID, string(p.Level), p.OrgCode, p.By, s.d.timeArg(t)); err != nil {
			return s.wrap(err)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("add pre-review of card %s: %w", p.CardID, err)
	}
	p.CreatedAt = t
	return nil
}

func (s *DB) preReviews(ctx context.Context, q string, args ...any) ([]card.PreReview, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("pre-reviews: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []card.PreReview
	for rows.Next() {
		var p card.PreReview
		var level string
		if err := rows.Scan(&p.ID, &p.CardID, &level, &p.OrgCode, &p.By, dbTime{&p.CreatedAt}); err != nil {
			return nil, fmt.Errorf("pre-reviews: %w", s.wrap(err))
		}
		p.Level = org.Level(level)
		out = append(out, p)
	}
	return out, s.wrap(rows.Err())
}

func (s *DB) PreReviews(ctx context.Context, cardID string) ([]card.PreReview, error) {
	return s.preReviews(ctx, `SELECT `+preReviewCols+` FROM pre_reviews p WHERE p.card_id = $1 ORDER BY p.created_at, p.level`, cardID)
}

func (s *DB) PreReviewList(ctx context.Context, prefix string) ([]card.PreReview, error) {
	if !digitsRE.MatchString(prefix) {
		return nil, fmt.Errorf("pre-review list: %w: prefix %q", ErrInvalid, prefix)
	}
	return s.preReviews(ctx, `SELECT `+preReviewCols+` FROM pre_reviews p JOIN cards c ON c.id = p.card_id
		WHERE c.status = 'draft' AND c.seq = 0 AND c.village_code >= $1 AND c.village_code < $2
		ORDER BY p.created_at, p.card_id, p.level LIMIT 500`, prefix, prefix+":")
}

func (s *DB) CardForm(ctx context.Context, cardID string) (card.Form, error) {
	var f card.Form
	err := s.r.QueryRowContext(ctx, `SELECT id, card_id, number, seq, pdf, created_at, updated_at, created_by FROM forms WHERE card_id = $1`, cardID).
		Scan(&f.ID, &f.CardID, &f.Number, &f.Seq, &f.PDF, dbTime{&f.CreatedAt}, dbTime{&f.UpdatedAt}, &f.CreatedBy)
	if err != nil {
		return card.Form{}, fmt.Errorf("form of card %s: %w", cardID, s.wrap(err))
	}
	return f, nil
}
