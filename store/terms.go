package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// The search index of the holders (table card_terms, migration 0011):
// keyed digests lifecycle derives from the names and ID numbers
// (docs/privacy.md, "Search"); the store keeps them beside the card and
// lists cards by them. And the console's 已办 (Filter.SealedBy).

// maxTerms bounds a card's search terms (a few per holder).
const maxTerms = 16

func validTerms(terms []string) error {
	if len(terms) > maxTerms {
		return fmt.Errorf("%d search terms, at most %d", len(terms), maxTerms)
	}
	for _, t := range terms {
		if !termRE.MatchString(t) {
			return errors.New("a search term is not 32 lower-case hex digits")
		}
	}
	return nil
}

// insertTerms stores a card's search terms (duplicates once).
func (s *DB) insertTerms(ctx context.Context, tx *sql.Tx, cardID string, terms []string) error {
	seen := map[string]bool{}
	for _, t := range terms {
		if seen[t] {
			continue
		}
		seen[t] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO card_terms (card_id, term) VALUES ($1, $2)`, cardID, t); err != nil {
			return fmt.Errorf("insert search term: %w", s.wrap(err))
		}
	}
	return nil
}

// sameTerms reports whether two lists hold the same set of terms.
func sameTerms(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// finding are ListCards' conditions of SealedBy and Terms; arg adds an
// argument and returns its placeholder.
func finding(f card.Filter, arg func(any) string) ([]string, error) {
	var where []string
	if f.SealedBy != "" {
		if !f.SealedBy.Valid() {
			return nil, fmt.Errorf("list cards: %w: level %q", ErrInvalid, f.SealedBy)
		}
		levels := []string{"''"} // no level above the county
		for _, l := range org.Levels[slices.Index(org.Levels, f.SealedBy)+1:] {
			levels = append(levels, arg(string(l)))
		}
		where = append(where, "c.status = '"+string(card.StatusDraft)+"'", "c.next_level IN ("+strings.Join(levels, ", ")+")")
	}
	if len(f.Terms) > 0 {
		if err := validTerms(f.Terms); err != nil {
			return nil, fmt.Errorf("list cards: %w: %w", ErrInvalid, err)
		}
		var in []string
		for _, t := range f.Terms {
			in = append(in, arg(t))
		}
		where = append(where, "c.id IN (SELECT t.card_id FROM card_terms t WHERE t.term IN ("+strings.Join(in, ", ")+"))")
	}
	return where, nil
}
