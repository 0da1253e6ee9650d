package lifecycle

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// Finding a card by a holder's name or ID number (issue 16), without a
// name or an ID number in clear in the registry: a keyed blind index
// (docs/privacy.md, "Search"). Each card is stored with one search term
// per holder's name and per holder's ID number,
//
//	hex(HMAC-SM3(K, kind | 0x00 | normalised value)[:16])
//
// kind "name" or "id", K = HMAC-SM3(data key, "cardseal search index
// v1"). A search computes the term of what was typed under every key of
// the ring (a rotation in progress leaves cards under the old one) and
// asks the registry for the cards stored with it, within the actor's
// jurisdiction; every search is an audited read (Art. 13). A rotation
// (RotateDataKey) derives the terms again from the new key; Reindex
// derives them for cards stored before terms were kept.

// Search kinds: what a query is taken for.
const (
	SearchName     = "name"
	SearchIDNumber = "id"
)

// ErrSearchQuery: a query that is neither a name nor an ID number (empty,
// too long, control characters).
var ErrSearchQuery = errors.New("search needs a holder's full name or full ID number")

// maxQueryRunes bounds a query: a long name of a minority nationality,
// written with its middle dots, fits.
const maxQueryRunes = 40

// searchLabel derives the search index key.
const searchLabel = "cardseal search index v1"

// NormalizeQuery returns what a typed name or ID number is searched as,
// and which kind it is taken for: full-width letters and digits become
// ASCII; spaces and, in an ID number, hyphens are dropped; an ID number
// (15 or 18 characters, digits and a final X) is upper-cased; the dots
// that separate the parts of a name (·•．・) become "·".
func NormalizeQuery(q string) (kind, norm string, err error) {
	if !utf8.ValidString(q) || utf8.RuneCountInString(q) > maxQueryRunes {
		return "", "", fmt.Errorf("%w: too long or not text", ErrSearchQuery)
	}
	var b strings.Builder
	for _, r := range q {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		}
		switch {
		case unicode.IsSpace(r):
			continue
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return "", "", fmt.Errorf("%w: control character", ErrSearchQuery)
		case r == '•' || r == '．' || r == '・' || r == '.' || r == '‧':
			r = '·'
		}
		b.WriteRune(r)
	}
	norm = b.String()
	if id := strings.ToUpper(strings.ReplaceAll(norm, "-", "")); isIDNumber(id) {
		return SearchIDNumber, id, nil
	}
	if norm == "" || strings.ContainsFunc(norm, unicode.IsDigit) {
		return "", "", fmt.Errorf("%w: %d characters", ErrSearchQuery, utf8.RuneCountInString(norm))
	}
	return SearchName, norm, nil
}

// isIDNumber: 18 characters (17 digits and a digit or X) or 15 digits.
func isIDNumber(s string) bool {
	if len(s) != 18 && len(s) != 15 {
		return false
	}
	for i, r := range s {
		if !('0' <= r && r <= '9') && !(r == 'X' && i == 17) {
			return false
		}
	}
	return true
}

// term is the search term of a normalised value under one data key.
func (k *dataKey) term(kind, norm string) string {
	m := hmac.New(sm3.New, k.search)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(norm))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// searchTerms are the terms a card is stored with, under the current key:
// each holder's name and ID number, as a query for it is normalised.
func (p *privacy) searchTerms(a *card.Applicant) []string {
	var out []string
	for _, h := range []card.Person{a.Male, a.Female} {
		for _, v := range []string{h.Name, h.IDNumber} {
			if kind, norm, err := NormalizeQuery(v); err == nil {
				if t := p.cur.term(kind, norm); !containsString(out, t) {
					out = append(out, t)
				}
			}
		}
	}
	return out
}

// queryTerms are the terms of a normalised query under every key of the
// ring, the current key's first.
func (p *privacy) queryTerms(kind, norm string) []string {
	var out []string
	for _, k := range p.ring {
		if t := k.term(kind, norm); !containsString(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Search lists the cards of the actor's jurisdiction whose male or female
// holder has the name or ID number typed (NormalizeQuery; a name matches
// in full, never a part of it), oldest first, a page of at most limit
// after the card with ID after. A card is listed only if the actor may
// read it (Allowed, ReadCard). Every search is recorded in the audit log
// with the kind of query, its term (the keyed digest, never the value)
// and the number of cards found.
func (s *Service) Search(ctx context.Context, a Actor, query, after string, limit int) ([]card.Card, string, error) {
	kind, norm, err := NormalizeQuery(query)
	if err != nil {
		return nil, "", err
	}
	p, err := s.privacy()
	if err != nil {
		return nil, "", err
	}
	terms := p.queryTerms(kind, norm)
	page, err := s.reg.ListCards(ctx, card.Filter{CodePrefix: a.Org.Code, Terms: terms, AfterID: after, Limit: limit})
	if err != nil {
		return nil, "", err
	}
	out := page[:0]
	for _, c := range page {
		if Allowed(a, &c, ReadCard) == nil {
			out = append(out, c)
		}
	}
	detail := map[string]any{"by": kind, "term": terms[0], "cards": len(out)}
	if after != "" {
		detail["after"] = after
	}
	if _, err := s.reg.AppendAudit(ctx, s.event(a, audit.CardsSearch, "", "", detail)); err != nil {
		return nil, "", err
	}
	return out, kind, nil
}

// Handled lists the drafts of the actor's jurisdiction its level has
// sealed and a higher level has still to seal (已办), oldest first, a page
// at a time as Queue. A village keeps seeing the cards it sealed.
func (s *Service) Handled(ctx context.Context, a Actor, after string, limit int) ([]card.Card, error) {
	return s.readable(ctx, a, card.Filter{CodePrefix: a.Org.Code, SealedBy: a.Org.Level, AfterID: after, Limit: limit})
}

// Closed lists the cards of the actor's jurisdiction whose procedure has
// ended (办结): issued, voided, revoked, superseded or refused; oldest
// first, a page at a time as Queue.
func (s *Service) Closed(ctx context.Context, a Actor, after string, limit int) ([]card.Card, error) {
	return s.readable(ctx, a, card.Filter{CodePrefix: a.Org.Code, AfterID: after, Limit: limit,
		Statuses: []card.Status{card.StatusIssued, card.StatusVoided, card.StatusRevoked, card.StatusSuperseded, card.StatusRefused}})
}

// readable is one page of f, less any card the actor may not read.
func (s *Service) readable(ctx context.Context, a Actor, f card.Filter) ([]card.Card, error) {
	page, err := s.reg.ListCards(ctx, f)
	if err != nil {
		return nil, err
	}
	out := page[:0]
	for _, c := range page {
		if Allowed(a, &c, ReadCard) == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Reindex derives the search terms of every card of reg again from the
// current data key (ring[0]; the other keys of the ring decrypt cards a
// rotation has not reached): for cards stored before the index was kept
// ('cardseal data-key reindex'). It returns the number of cards walked.
func Reindex(ctx context.Context, reg Rekeying, ring [][]byte) (int, error) {
	p, err := newPrivacy(ring...)
	if err != nil {
		return 0, err
	}
	n := 0
	f := card.Filter{Limit: pageSize}
	for {
		page, err := reg.ListCards(ctx, f)
		if err != nil {
			return n, err
		}
		for _, c := range page {
			err := reg.RewriteCard(ctx, c.ID, func(st *card.Stored) error {
				app, err := openApplicant(p, st.CardID, st.Applicant)
				if err != nil {
					return err
				}
				st.Terms = p.searchTerms(app)
				return nil
			})
			if err != nil {
				return n, fmt.Errorf("card %s (%s): %w", c.ID, c.Number, err)
			}
			n++
		}
		if len(page) < pageSize {
			return n, nil
		}
		f.AfterID = page[len(page)-1].ID
	}
}
