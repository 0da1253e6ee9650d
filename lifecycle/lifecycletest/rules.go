package lifecycletest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// The records of issue 14's procedure rules: findings of a false
// commitment (Art. 20).

// rulesState is kept under Registry.mu; its maps are made on first use.
type rulesState struct {
	findings   map[string]card.Finding      // card ID → finding
	population map[string]map[string][]byte // county → key → record
	postings   map[string][]card.Posting    // card ID → requests
}

func (r *Registry) Revoke(ctx context.Context, cardID string, f card.Finding, ev audit.Event) error {
	if _, err := time.Parse("2006-01-02", f.FoundOn); err != nil {
		return invalid("revoke card %s: finding date %q", cardID, f.FoundOn)
	}
	if f.CountyCode == "" || f.Reason == "" || f.RecordedBy == "" {
		return invalid("revoke card %s: a finding names its county, reason and recorder", cardID)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(cardID)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if rec.c.Status != card.StatusIssued {
		return fmt.Errorf("revoke card %s: %w: card is %s", cardID, card.ErrConflict, rec.c.Status)
	}
	if _, ok := r.rules.findings[cardID]; ok {
		return fmt.Errorf("revoke card %s: %w: finding", cardID, card.ErrDuplicate)
	}
	ev.CardID = cardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	t := r.now()
	rec.c.Status, rec.c.StatusReason, rec.c.StatusNote, rec.c.NextLevel = card.StatusRevoked, f.Reason, f.Note, ""
	rec.c.UpdatedAt = t
	rec.c.Version++
	if r.rules.findings == nil {
		r.rules.findings = map[string]card.Finding{}
	}
	f.CardID, f.RecordedAt = cardID, t
	r.rules.findings[cardID] = f
	return nil
}

func (r *Registry) Findings(ctx context.Context, countyCode string) ([]card.Finding, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []card.Finding
	for _, f := range r.rules.findings {
		if f.CountyCode == countyCode {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b card.Finding) int {
		if c := strings.Compare(a.FoundOn, b.FoundOn); c != 0 {
			return c
		}
		return strings.Compare(a.CardID, b.CardID)
	})
	return out, nil
}

func (r *Registry) ReplacePopulation(ctx context.Context, county string, recs []card.PopulationRecord, ev audit.Event) error {
	if len(county) != 6 || !digitsRE.MatchString(county) {
		return invalid("replace population: county %q", county)
	}
	m := map[string][]byte{}
	for _, rec := range recs {
		if !coupleKeyRE.MatchString(rec.Key) || len(rec.Data) == 0 {
			return invalid("replace population of %s: a record needs a hex key and data", county)
		}
		if _, ok := m[rec.Key]; ok {
			return fmt.Errorf("replace population of %s: %w: key %s", county, card.ErrDuplicate, rec.Key)
		}
		m[rec.Key] = bytes.Clone(rec.Data)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	if r.rules.population == nil {
		r.rules.population = map[string]map[string][]byte{}
	}
	r.rules.population[county] = m
	return nil
}

func (r *Registry) PopulationRecord(ctx context.Context, county, key string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.rules.population[county][key]
	if !ok {
		return nil, fmt.Errorf("population record: %w", card.ErrNotFound)
	}
	return bytes.Clone(b), nil
}

func (r *Registry) AddPosting(ctx context.Context, p *card.Posting, ev audit.Event) error {
	if len(p.Address) == 0 || p.VillageCode == "" {
		return invalid("add posting: address and village required")
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.get(p.CardID); err != nil {
		return fmt.Errorf("add posting: %w", err)
	}
	ps := r.rules.postings[p.CardID]
	for _, x := range ps {
		if x.State != card.PostingPosted {
			return fmt.Errorf("add posting of card %s: %w: a request is open", p.CardID, card.ErrConflict)
		}
	}
	ev.CardID = p.CardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	t := r.now()
	p.Seq, p.State, p.RequestedAt, p.UpdatedAt = len(ps)+1, card.PostingRequested, t, t
	p.PostedOn, p.Carrier, p.Tracking, p.UpdatedBy = "", "", "", ""
	if r.rules.postings == nil {
		r.rules.postings = map[string][]card.Posting{}
	}
	c := *p
	c.Address = bytes.Clone(p.Address)
	r.rules.postings[p.CardID] = append(ps, c)
	return nil
}

func (r *Registry) UpdatePosting(ctx context.Context, p card.Posting, from []string, ev audit.Event) error {
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.get(p.CardID); err != nil {
		return fmt.Errorf("update posting: %w", err)
	}
	ps := r.rules.postings[p.CardID]
	if p.Seq < 1 || p.Seq > len(ps) {
		return fmt.Errorf("update posting %d of card %s: %w", p.Seq, p.CardID, card.ErrNotFound)
	}
	x := &ps[p.Seq-1]
	if !slices.Contains(from, x.State) {
		return fmt.Errorf("update posting %d of card %s: %w: request is %s", p.Seq, p.CardID, card.ErrConflict, x.State)
	}
	ev.CardID = p.CardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	x.State, x.PostedOn, x.Carrier, x.Tracking, x.UpdatedBy, x.UpdatedAt = p.State, p.PostedOn, p.Carrier, p.Tracking, p.UpdatedBy, r.now()
	return nil
}

func (r *Registry) Postings(ctx context.Context, cardID string) ([]card.Posting, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return clonePostings(r.rules.postings[cardID]), nil
}

func (r *Registry) OpenPostings(ctx context.Context, prefix string) ([]card.Posting, error) {
	if !digitsRE.MatchString(prefix) {
		return nil, invalid("open postings: prefix %q", prefix)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []card.Posting
	for _, ps := range r.rules.postings {
		for _, p := range ps {
			if p.State != card.PostingPosted && strings.HasPrefix(p.VillageCode, prefix) {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b card.Posting) int {
		if c := a.RequestedAt.Compare(b.RequestedAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.CardID, b.CardID); c != 0 {
			return c
		}
		return a.Seq - b.Seq
	})
	return clonePostings(out[:min(len(out), 500)]), nil
}

func clonePostings(ps []card.Posting) []card.Posting {
	out := slices.Clone(ps)
	for i := range out {
		out[i].Address = bytes.Clone(out[i].Address)
	}
	return out
}
