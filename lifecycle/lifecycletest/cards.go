package lifecycletest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// Cards and Seals: the card records, their PDF revisions and seal
// records, the card numbers.

func validCard(c *card.Card) error {
	switch {
	case !cardIDRE.MatchString(c.ID):
		return fmt.Errorf("id %q is not 16 lower-case hex digits", c.ID)
	case c.Number == "":
		return errors.New("no card number")
	case !c.Type.Valid():
		return fmt.Errorf("unknown card type %q", c.Type)
	case !c.Status.Valid():
		return fmt.Errorf("unknown status %q", c.Status)
	case len(c.VillageCode) != org.Village.CodeLen() || !digitsRE.MatchString(c.VillageCode):
		return fmt.Errorf("village code %q is not 12 digits", c.VillageCode)
	case c.CountyCode != org.CountyCode(c.VillageCode):
		return fmt.Errorf("county %q does not contain village %q", c.CountyCode, c.VillageCode)
	case len(c.Applicant) == 0:
		return errors.New("no applicant data")
	case c.StatusIndex < 0 || c.StatusIndex >= card.StatusListSize:
		return fmt.Errorf("status index %d outside [0, %d)", c.StatusIndex, card.StatusListSize)
	case c.CreatedBy == "":
		return errors.New("no creator")
	case c.CoupleKey != "" && !coupleKeyRE.MatchString(c.CoupleKey):
		return errors.New("couple key is not 1 to 64 lower-case hex digits")
	}
	return validTerms(c.Terms)
}

// validTerms holds search terms to the store's bounds.
func validTerms(terms []string) error {
	if len(terms) > 16 {
		return fmt.Errorf("%d search terms, at most 16", len(terms))
	}
	for _, t := range terms {
		if !termRE.MatchString(t) {
			return errors.New("a search term is not 32 lower-case hex digits")
		}
	}
	return nil
}

func (r *Registry) CreateCard(ctx context.Context, c *card.Card, pdf0 []byte, ev audit.Event) error {
	if c.Status == "" {
		c.Status = card.StatusDraft
	}
	if err := validCard(c); err != nil {
		return fmt.Errorf("create card: %w: %w", ErrInvalid, err)
	}
	if len(pdf0) == 0 {
		return invalid("create card %s: empty PDF", c.ID)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, idTaken := r.cards[c.ID]
	_, numTaken := r.numbers[c.Number]
	_, tokTaken := r.tokens[c.QRToken]
	_, idxTaken := r.indexes[c.StatusIndex]
	if idTaken || numTaken || (c.QRToken != "" && tokTaken) || idxTaken {
		return fmt.Errorf("create card %s: %w: id, number, QR token or status index taken", c.ID, card.ErrDuplicate)
	}
	if c.CoupleKey != "" {
		for id, rec := range r.cards {
			if rec.c.CoupleKey == c.CoupleKey && rec.c.Type == c.Type && rec.c.Status == card.StatusIssued && id != c.Replaces {
				return fmt.Errorf("create card %s: %w: card %s", c.ID, card.ErrHeld, rec.c.Number)
			}
		}
	}
	if c.SupersededBy != "" {
		if _, ok := r.cards[c.SupersededBy]; !ok {
			return fmt.Errorf("create card %s: %w: superseding card %s", c.ID, card.ErrNotFound, c.SupersededBy)
		}
	}
	t := r.now()
	c.Seq, c.Version, c.CreatedAt, c.UpdatedAt = 0, 1, t, t
	ev.CardID = c.ID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	r.cards[c.ID] = &record{c: *c, pdfs: [][]byte{bytes.Clone(pdf0)}, terms: slices.Clone(c.Terms)}
	r.cards[c.ID].c.Replaces = "" // not kept
	r.cards[c.ID].c.Terms = nil   // kept apart, not read back
	r.cards[c.ID].c.Applicant = bytes.Clone(c.Applicant)
	r.cards[c.ID].c.CompleteAt = micro(c.CompleteAt)
	r.numbers[c.Number] = c.ID
	if c.QRToken != "" {
		r.tokens[c.QRToken] = c.ID
	}
	r.indexes[c.StatusIndex] = c.ID
	return nil
}

// get returns the card's record; the caller holds r.mu.
func (r *Registry) get(id string) (*record, error) {
	rec, ok := r.cards[id]
	if !ok {
		return nil, fmt.Errorf("card %s: %w", id, card.ErrNotFound)
	}
	return rec, nil
}

func (r *Registry) GetCard(ctx context.Context, id string) (card.Card, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(id)
	if err != nil {
		return card.Card{}, fmt.Errorf("get card: %w", err)
	}
	return rec.c, nil
}

func (r *Registry) GetCardByNumber(ctx context.Context, number string) (card.Card, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.numbers[number]
	if !ok {
		return card.Card{}, fmt.Errorf("get card number %s: %w", number, card.ErrNotFound)
	}
	return r.cards[id].c, nil
}

func (r *Registry) GetCardByToken(ctx context.Context, token string) (card.Card, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.tokens[token]
	if token == "" || !ok {
		return card.Card{}, fmt.Errorf("get card by token: %w", card.ErrNotFound)
	}
	return r.cards[id].c, nil
}

// before reports whether a lists before b: created_at, then id.
func before(a, b *card.Card) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}

func (r *Registry) ListCards(ctx context.Context, f card.Filter) ([]card.Card, error) {
	for _, st := range f.Statuses {
		if !st.Valid() {
			return nil, invalid("list cards: unknown status %q", st)
		}
	}
	if f.CodePrefix != "" && !digitsRE.MatchString(f.CodePrefix) {
		return nil, invalid("list cards: code prefix %q is not digits", f.CodePrefix)
	}
	if f.CountyCode != "" && (len(f.CountyCode) != org.County.CodeLen() || !digitsRE.MatchString(f.CountyCode)) {
		return nil, invalid("list cards: county code %q is not 6 digits", f.CountyCode)
	}
	if f.CoupleKey != "" && !coupleKeyRE.MatchString(f.CoupleKey) {
		return nil, invalid("list cards: couple key is not 1 to 64 lower-case hex digits")
	}
	if f.UnsealedBy != "" && !f.UnsealedBy.Valid() {
		return nil, invalid("list cards: level %q", f.UnsealedBy)
	}
	if f.Awaiting != "" && !f.Awaiting.Valid() {
		return nil, invalid("list cards: level %q", f.Awaiting)
	}
	if f.SealedBy != "" && !f.SealedBy.Valid() {
		return nil, invalid("list cards: level %q", f.SealedBy)
	}
	if err := validTerms(f.Terms); err != nil {
		return nil, invalid("list cards: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var cursor *card.Card
	if f.AfterID != "" {
		rec, err := r.get(f.AfterID)
		if err != nil {
			return nil, fmt.Errorf("list cards after %q: %w", f.AfterID, err)
		}
		cursor = &rec.c
	}
	var out []card.Card
	for _, rec := range r.cards {
		c := &rec.c
		switch {
		case len(f.Statuses) > 0 && !slices.Contains(f.Statuses, c.Status),
			f.CodePrefix != "" && !strings.HasPrefix(c.VillageCode, f.CodePrefix),
			f.CountyCode != "" && c.CountyCode != f.CountyCode,
			f.CoupleKey != "" && c.CoupleKey != f.CoupleKey,
			f.Awaiting != "" && (c.Status != card.StatusDraft || c.NextLevel != f.Awaiting),
			f.UnsealedBy != "" && (c.Status != card.StatusDraft || slices.Index(org.Levels, c.NextLevel) > slices.Index(org.Levels, f.UnsealedBy)),
			f.SealedBy != "" && (c.Status != card.StatusDraft || slices.Index(org.Levels, c.NextLevel) <= slices.Index(org.Levels, f.SealedBy)),
			len(f.Terms) > 0 && !slices.ContainsFunc(rec.terms, func(t string) bool { return slices.Contains(f.Terms, t) }),
			cursor != nil && !before(cursor, c):
			continue
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b card.Card) int {
		switch {
		case before(&a, &b):
			return -1
		case before(&b, &a):
			return 1
		}
		return 0
	})
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (r *Registry) SetStatus(ctx context.Context, cardID string, from []card.Status, to card.Status, reason, note, supersededBy string, ev audit.Event) error {
	if !to.Valid() || len(from) == 0 {
		return invalid("set status of card %s: target %q, %d allowed sources", cardID, to, len(from))
	}
	if (to == card.StatusSuperseded) != (supersededBy != "") {
		return invalid("set status of card %s: superseded, and only superseded, names the new card", cardID)
	}
	if supersededBy == cardID {
		return invalid("set status of card %s: a card cannot supersede itself", cardID)
	}
	for _, st := range from {
		if !st.Valid() {
			return invalid("set status of card %s: unknown status %q", cardID, st)
		}
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(cardID)
	if err != nil {
		return fmt.Errorf("set status: %w", err)
	}
	if !slices.Contains(from, rec.c.Status) {
		return fmt.Errorf("set status of card %s to %s: %w: card is %s", cardID, to, card.ErrConflict, rec.c.Status)
	}
	if supersededBy != "" {
		if _, ok := r.cards[supersededBy]; !ok {
			return fmt.Errorf("set status of card %s: %w: new card %s", cardID, card.ErrNotFound, supersededBy)
		}
	}
	ev.CardID = cardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	c := &rec.c
	c.Status, c.StatusReason, c.StatusNote, c.SupersededBy, c.NextLevel = to, reason, note, supersededBy, ""
	c.UpdatedAt, c.Version = r.now(), c.Version+1
	return nil
}

func (r *Registry) UpdateApplicant(ctx context.Context, cardID string, applicant []byte, completeAt time.Time, ev audit.Event) error {
	if len(applicant) == 0 {
		return invalid("update applicant of card %s: no applicant data", cardID)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(cardID)
	if err != nil {
		return fmt.Errorf("update applicant: %w", err)
	}
	if rec.c.Status != card.StatusDraft {
		return fmt.Errorf("update applicant of card %s: %w: card is %s", cardID, card.ErrConflict, rec.c.Status)
	}
	ev.CardID = cardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	t := r.now()
	for l, ap := range rec.approvs {
		if ap.InForce() && !slices.ContainsFunc(rec.seals, func(s card.Seal) bool { return s.Level == l }) {
			ap.CancelledAt = t
			rec.approvs[l] = ap
		}
	}
	rec.c.Applicant = bytes.Clone(applicant)
	rec.c.CompleteAt = micro(completeAt)
	rec.c.UpdatedAt, rec.c.Version = t, rec.c.Version+1
	return nil
}

// micro is t as the store keeps it: UTC, to the microsecond; zero stays
// zero.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

func (r *Registry) SetCrossProvince(ctx context.Context, cardID string, on bool, reason string, ev audit.Event) error {
	if strings.TrimSpace(reason) == "" {
		return invalid("set cross-province verification of card %s: no reason", cardID)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(cardID)
	if err != nil {
		return fmt.Errorf("set cross-province verification: %w", err)
	}
	if rec.c.Status != card.StatusDraft {
		return fmt.Errorf("set cross-province verification of card %s: %w: card is %s", cardID, card.ErrConflict, rec.c.Status)
	}
	ev.CardID = cardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	rec.c.CrossProvince, rec.c.CrossProvinceReason = on, reason
	rec.c.UpdatedAt, rec.c.Version = r.now(), rec.c.Version+1
	return nil
}

func (r *Registry) StatusEntries(ctx context.Context) ([]card.StatusEntry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []card.StatusEntry
	for _, rec := range r.cards {
		switch rec.c.Status {
		case card.StatusVoided, card.StatusRevoked, card.StatusSuperseded:
			out = append(out, card.StatusEntry{Index: rec.c.StatusIndex, Status: rec.c.Status})
		}
	}
	slices.SortFunc(out, func(a, b card.StatusEntry) int { return a.Index - b.Index })
	return out, nil
}

func (r *Registry) NextCardNumber(ctx context.Context, countyCode string, year int) (string, error) {
	if len(countyCode) != org.County.CodeLen() || !digitsRE.MatchString(countyCode) {
		return "", invalid("next card number: county code %q is not 6 digits", countyCode)
	}
	if year < 2000 || year > 9999 {
		return "", invalid("next card number: year %d", year)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := fmt.Sprintf("%s/%d", countyCode, year)
	if r.counters[k] >= 999999 {
		return "", fmt.Errorf("next card number for %s: sequence exhausted", k)
	}
	r.counters[k]++
	return fmt.Sprintf("%s%04d%06d", countyCode, year, r.counters[k]), nil
}

func (r *Registry) CurrentPDF(ctx context.Context, cardID string) (int, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(cardID)
	if err != nil {
		return 0, nil, fmt.Errorf("current PDF: %w", err)
	}
	return rec.c.Seq, rec.pdfs[rec.c.Seq], nil
}

func (r *Registry) PDF(ctx context.Context, cardID string, seq int) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.cards[cardID]
	if !ok || seq < 0 || seq >= len(rec.pdfs) {
		return nil, fmt.Errorf("PDF revision %d of card %s: %w", seq, cardID, card.ErrNotFound)
	}
	return rec.pdfs[seq], nil
}

func (r *Registry) AddSeal(ctx context.Context, cardID string, expectSeq int, pdf []byte, seal card.Seal, newStatus card.Status, next org.Level, bar *card.CoupleBar, ev audit.Event) error {
	if newStatus != card.StatusDraft && newStatus != card.StatusIssued {
		return invalid("seal card %s: a seal leaves the card draft or issued, not %q", cardID, newStatus)
	}
	if !seal.Level.Valid() || seal.OrgCode == "" || seal.ByUser == "" {
		return invalid("seal card %s: level, organisation and user are required", cardID)
	}
	if len(pdf) == 0 {
		return invalid("seal card %s: empty PDF", cardID)
	}
	// The caller's digest of the plaintext it sealed (the PDF it hands
	// over may be encrypted), kept as given.
	if len(seal.PDFDigest) != sm3.Size {
		return invalid("seal card %s: the seal record needs the SM3 digest of the sealed PDF", cardID)
	}
	if bar != nil && (!bar.Type.Valid() || len(bar.Statuses) == 0) {
		return invalid("seal card %s: a bar names a card type and statuses", cardID)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(cardID)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	switch {
	case rec.c.Seq != expectSeq:
		return fmt.Errorf("seal card %s: %w: card is at revision %d, not %d", cardID, card.ErrConflict, rec.c.Seq, expectSeq)
	case rec.c.Status != card.StatusDraft:
		return fmt.Errorf("seal card %s: %w: card is %s", cardID, card.ErrConflict, rec.c.Status)
	case slices.ContainsFunc(rec.seals, func(s card.Seal) bool { return s.Level == seal.Level }):
		return fmt.Errorf("seal card %s: %w: %s level already sealed", cardID, card.ErrConflict, seal.Level)
	}
	if by := r.barring(&rec.c, bar); by != "" {
		return fmt.Errorf("seal card %s: %w: card %s", cardID, card.ErrBarred, by)
	}
	if _, ok := r.orgs[seal.OrgCode]; !ok {
		return fmt.Errorf("seal card %s: %w: organisation %s", cardID, card.ErrNotFound, seal.OrgCode)
	}
	t := r.now()
	seal.CardID, seal.Seq, seal.PDFDigest = cardID, expectSeq+1, bytes.Clone(seal.PDFDigest)
	if seal.SignedAt.IsZero() {
		seal.SignedAt = t
	} else {
		seal.SignedAt = seal.SignedAt.UTC().Truncate(time.Microsecond)
	}
	if !seal.ApprovedAt.IsZero() {
		seal.ApprovedAt = seal.ApprovedAt.UTC().Truncate(time.Microsecond)
	}
	ev.CardID = cardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	rec.pdfs = append(rec.pdfs, bytes.Clone(pdf))
	rec.seals = append(rec.seals, seal)
	c := &rec.c
	c.Seq, c.Status, c.NextLevel, c.UpdatedAt, c.Version = seal.Seq, newStatus, next, t, c.Version+1
	return nil
}

func (r *Registry) Seals(ctx context.Context, cardID string) ([]card.Seal, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.cards[cardID]
	if !ok {
		return nil, nil
	}
	return slices.Clone(rec.seals), nil
}

// barring returns the ID of a card of c's couple that bar names, or "".
func (r *Registry) barring(c *card.Card, bar *card.CoupleBar) string {
	if bar == nil || c.CoupleKey == "" {
		return ""
	}
	for id, o := range r.cards {
		if id != c.ID && o.c.CoupleKey == c.CoupleKey && o.c.Type == bar.Type && slices.Contains(bar.Statuses, o.c.Status) {
			return id
		}
	}
	return ""
}

func (r *Registry) Approve(ctx context.Context, ap card.Approval, ev audit.Event) error {
	if !ap.Level.Valid() || ap.OrgCode == "" || ap.ByUser == "" || len(ap.ByUser) > 128 || ap.ApprovedAt.IsZero() {
		return invalid("approve card %s: level, organisation, user and time are required", ap.CardID)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(ap.CardID)
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	switch {
	case rec.c.Status != card.StatusDraft:
		return fmt.Errorf("approve card %s: %w: card is %s", ap.CardID, card.ErrConflict, rec.c.Status)
	case slices.ContainsFunc(rec.seals, func(s card.Seal) bool { return s.Level == ap.Level }):
		return fmt.Errorf("approve card %s: %w: %s level sealed the card already", ap.CardID, card.ErrConflict, ap.Level)
	case rec.approvs[ap.Level].ByUser != "" && rec.approvs[ap.Level].InForce():
		return fmt.Errorf("approve card %s: %w: the %s level's approval is in force", ap.CardID, card.ErrDuplicate, ap.Level)
	}
	if _, ok := r.orgs[ap.OrgCode]; !ok {
		return fmt.Errorf("approve card %s: %w: organisation %s", ap.CardID, card.ErrNotFound, ap.OrgCode)
	}
	ev.CardID = ap.CardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	if rec.approvs == nil {
		rec.approvs = map[org.Level]card.Approval{}
	}
	ap.ApprovedAt, ap.CancelledAt = ap.ApprovedAt.UTC().Truncate(time.Microsecond), time.Time{}
	rec.approvs[ap.Level] = ap
	return nil
}

func (r *Registry) Approvals(ctx context.Context, cardID string) ([]card.Approval, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.cards[cardID]
	if !ok {
		return nil, nil
	}
	var out []card.Approval
	for _, l := range org.Levels {
		if ap, ok := rec.approvs[l]; ok {
			out = append(out, ap)
		}
	}
	return out, nil
}
