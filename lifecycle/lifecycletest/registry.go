// Package lifecycletest gives tests an in-memory registry: every port the
// lifecycle declares (lifecycle.Cards, Seals, Documents, Orgs, AuditLog,
// Quotas, together lifecycle.Registry) kept in maps behind one mutex.
//
// It honours the ports' documented contracts as package store does —
// the sentinels card.ErrNotFound, card.ErrConflict and card.ErrDuplicate
// (org.ErrUnknown and org.ErrDuplicate for organisations), AddSeal's
// checks of the revision, the status and the level, the listing order
// (created_at, then id) and its AfterID cursor, the status-list entries —
// and a contract test (contract_test.go) runs the same port tests against
// it and against the real store on SQLite and PostgreSQL, so the two
// cannot drift apart. Malformed arguments, which the store reports as
// store.ErrInvalid, are ErrInvalid here; nothing is written then.
//
// It does not import package lifecycle, so lifecycle's own tests can use
// it too.
package lifecycletest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// ErrInvalid: a malformed argument (the store's store.ErrInvalid).
var ErrInvalid = errors.New("invalid argument")

// Registry is the in-memory registry. The zero value is not usable; call
// NewRegistry.
type Registry struct {
	// Now is the clock of creation and update times and of the quota
	// windows (default time.Now). Set it before use.
	Now func() time.Time

	mu       sync.Mutex
	orgs     map[string]org.Org
	cards    map[string]*record
	numbers  map[string]string // card number → id
	tokens   map[string]string // QR token → id
	indexes  map[int]string    // status index → id
	counters map[string]int    // county/year → last number
	forms    map[string]*card.Form
	formOf   map[string]string // card id → form id
	formNums map[string]bool
	noteNums map[string]bool
	events   []audit.Event
	hits     map[string]int // key and window start → count
}

// record is a card with everything kept beside it.
type record struct {
	c       card.Card
	pdfs    [][]byte // revision i at index i
	seals   []card.Seal
	notices []card.Notice
	atts    []card.Attachment
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		Now:      time.Now,
		orgs:     map[string]org.Org{},
		cards:    map[string]*record{},
		numbers:  map[string]string{},
		tokens:   map[string]string{},
		indexes:  map[int]string{},
		counters: map[string]int{},
		forms:    map[string]*card.Form{},
		formOf:   map[string]string{},
		formNums: map[string]bool{},
		noteNums: map[string]bool{},
		hits:     map[string]int{},
	}
}

// now is the registry's clock: UTC, truncated to the microsecond that
// both of the store's backends keep.
func (r *Registry) now() time.Time { return r.Now().UTC().Truncate(time.Microsecond) }

// Clone returns an independent copy of the registry: a test builds its
// cards once and gives every case a copy to change. Byte slices (PDFs,
// encrypted applications) are shared; the registry never changes one in
// place.
func (r *Registry) Clone() *Registry {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := NewRegistry()
	n.Now = r.Now
	for k, v := range r.orgs {
		n.orgs[k] = v
	}
	for k, v := range r.cards {
		n.cards[k] = &record{
			c: v.c, pdfs: slices.Clone(v.pdfs), seals: slices.Clone(v.seals),
			notices: slices.Clone(v.notices), atts: slices.Clone(v.atts),
		}
	}
	for k, v := range r.forms {
		f := *v
		n.forms[k] = &f
	}
	copyMap(n.numbers, r.numbers)
	copyMap(n.tokens, r.tokens)
	copyMap(n.indexes, r.indexes)
	copyMap(n.counters, r.counters)
	copyMap(n.formOf, r.formOf)
	copyMap(n.formNums, r.formNums)
	copyMap(n.noteNums, r.noteNums)
	copyMap(n.hits, r.hits)
	n.events = slices.Clone(r.events)
	return n
}

func copyMap[K comparable, V any](dst, src map[K]V) {
	for k, v := range src {
		dst[k] = v
	}
}

var (
	digitsRE    = regexp.MustCompile(`^[0-9]+$`)
	cardIDRE    = regexp.MustCompile(`^[0-9a-f]{16}$`)
	coupleKeyRE = regexp.MustCompile(`^[0-9a-f]{1,64}$`)
)

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
}

// appendEvent links and appends ev as the store's audit log does: the
// next ID, the time if unset, the hash chain. The caller holds r.mu.
func (r *Registry) appendEvent(ev audit.Event) (int64, error) {
	if ev.Action == "" || ev.Actor == "" {
		return 0, invalid("audit: actor and action are required")
	}
	if len(ev.Detail) > 0 && !json.Valid(ev.Detail) {
		return 0, invalid("audit %s: detail is not JSON", ev.Action)
	}
	prev := []byte{}
	if n := len(r.events); n > 0 {
		prev = r.events[n-1].Hash
	}
	ev.ID = int64(len(r.events)) + 1
	if ev.At.IsZero() {
		ev.At = r.now()
	} else {
		ev.At = ev.At.UTC().Truncate(time.Microsecond)
	}
	ev.PrevHash = prev
	ev.Hash = audit.Hash(prev, &ev)
	r.events = append(r.events, ev)
	return ev.ID, nil
}

// checkEvent validates ev before a write that appends it, so that a bad
// event fails the write before anything changed.
func checkEvent(ev audit.Event) error {
	if ev.Action == "" || ev.Actor == "" {
		return invalid("audit: actor and action are required")
	}
	if len(ev.Detail) > 0 && !json.Valid(ev.Detail) {
		return invalid("audit %s: detail is not JSON", ev.Action)
	}
	return nil
}

// ---- Cards

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
	r.cards[c.ID] = &record{c: *c, pdfs: [][]byte{bytes.Clone(pdf0)}}
	r.cards[c.ID].c.Applicant = bytes.Clone(c.Applicant)
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
	if f.Awaiting != "" && !f.Awaiting.Valid() {
		return nil, invalid("list cards: level %q", f.Awaiting)
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

func (r *Registry) UpdateApplicant(ctx context.Context, cardID string, applicant []byte, ev audit.Event) error {
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
	rec.c.Applicant = bytes.Clone(applicant)
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

// ---- Seals

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

func (r *Registry) AddSeal(ctx context.Context, cardID string, expectSeq int, pdf []byte, seal card.Seal, newStatus card.Status, next org.Level, ev audit.Event) error {
	if newStatus != card.StatusDraft && newStatus != card.StatusIssued {
		return invalid("seal card %s: a seal leaves the card draft or issued, not %q", cardID, newStatus)
	}
	if !seal.Level.Valid() || seal.OrgCode == "" || seal.ByUser == "" {
		return invalid("seal card %s: level, organisation and user are required", cardID)
	}
	if len(pdf) == 0 {
		return invalid("seal card %s: empty PDF", cardID)
	}
	digest := sm3.Sum(pdf)
	if seal.PDFDigest != nil && !bytes.Equal(seal.PDFDigest, digest[:]) {
		return invalid("seal card %s: seal digest is not the SM3 of the PDF", cardID)
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
	if _, ok := r.orgs[seal.OrgCode]; !ok {
		return fmt.Errorf("seal card %s: %w: organisation %s", cardID, card.ErrNotFound, seal.OrgCode)
	}
	t := r.now()
	seal.CardID, seal.Seq, seal.PDFDigest = cardID, expectSeq+1, digest[:]
	if seal.SignedAt.IsZero() {
		seal.SignedAt = t
	} else {
		seal.SignedAt = seal.SignedAt.UTC().Truncate(time.Microsecond)
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

// ---- Documents

func (r *Registry) AddNotice(ctx context.Context, n *card.Notice, to card.Status, reason string, ev audit.Event) error {
	switch {
	case n.Kind != card.NoticeMissing && n.Kind != card.NoticeRefusal:
		return invalid("add notice: kind %q", n.Kind)
	case !cardIDRE.MatchString(n.CardID), n.Number == "", len(n.PDF) == 0, n.CreatedBy == "", n.OrgCode == "":
		return invalid("add notice: card, number, PDF, organisation and creator are required")
	case to != "" && !to.Valid():
		return invalid("add notice: status %q", to)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, err := r.get(n.CardID)
	if err != nil {
		return fmt.Errorf("add notice: %w", err)
	}
	if rec.c.Status != card.StatusDraft {
		return fmt.Errorf("add %s notice to card %s: %w: card is %s", n.Kind, n.CardID, card.ErrConflict, rec.c.Status)
	}
	if r.noteNums[n.Number] {
		return fmt.Errorf("add notice: %w: number %s", card.ErrDuplicate, n.Number)
	}
	if n.Kind == card.NoticeMissing && slices.ContainsFunc(rec.notices, func(x card.Notice) bool {
		return x.Kind == card.NoticeMissing && x.AppDigest == n.AppDigest
	}) {
		return fmt.Errorf("add notice: %w: a missing-materials notice of this application exists", card.ErrDuplicate)
	}
	if _, ok := r.orgs[n.OrgCode]; !ok {
		return fmt.Errorf("add notice: %w: organisation %s", card.ErrNotFound, n.OrgCode)
	}
	ev.CardID = n.CardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	t := r.now()
	n.Seq = len(rec.notices) + 1
	n.CreatedAt = t
	stored := *n
	stored.PDF = bytes.Clone(n.PDF)
	rec.notices = append(rec.notices, stored)
	r.noteNums[n.Number] = true
	if to != "" {
		c := &rec.c
		c.Status, c.StatusReason, c.StatusNote, c.NextLevel = to, reason, n.Number, ""
		c.UpdatedAt, c.Version = t, c.Version+1
	}
	return nil
}

func (r *Registry) Notices(ctx context.Context, cardID string) ([]card.Notice, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.cards[cardID]
	if !ok {
		return nil, nil
	}
	var out []card.Notice
	for _, n := range rec.notices {
		n.PDF = nil
		out = append(out, n)
	}
	return out, nil
}

func (r *Registry) GetNotice(ctx context.Context, cardID string, seq int) (card.Notice, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.cards[cardID]
	if !ok || seq < 1 || seq > len(rec.notices) {
		return card.Notice{}, fmt.Errorf("notice %d of card %s: %w", seq, cardID, card.ErrNotFound)
	}
	return rec.notices[seq-1], nil
}

func (r *Registry) CreateForm(ctx context.Context, f *card.Form, ev audit.Event) error {
	if !cardIDRE.MatchString(f.ID) || !cardIDRE.MatchString(f.CardID) || f.Number == "" || len(f.PDF) == 0 || f.CreatedBy == "" {
		return invalid("create form: id, card, number, PDF and creator are required")
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, idTaken := r.forms[f.ID]
	_, cardTaken := r.formOf[f.CardID]
	if idTaken || cardTaken || r.formNums[f.Number] {
		return fmt.Errorf("create form for card %s: %w", f.CardID, card.ErrDuplicate)
	}
	if _, err := r.get(f.CardID); err != nil {
		return fmt.Errorf("create form: %w", err)
	}
	ev.CardID = f.CardID
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	t := r.now()
	f.Seq, f.CreatedAt, f.UpdatedAt = 0, t, t
	stored := *f
	stored.PDF = bytes.Clone(f.PDF)
	r.forms[f.ID] = &stored
	r.formOf[f.CardID] = f.ID
	r.formNums[f.Number] = true
	return nil
}

func (r *Registry) GetForm(ctx context.Context, id string) (card.Form, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.forms[id]
	if !ok {
		return card.Form{}, fmt.Errorf("get form %s: %w", id, card.ErrNotFound)
	}
	return *f, nil
}

// UpdateForm answers card.ErrConflict for an unknown form as for a stale
// revision, as the store does: both are "no form at that revision".
func (r *Registry) UpdateForm(ctx context.Context, id string, expectSeq int, pdf []byte, ev audit.Event) error {
	if len(pdf) == 0 {
		return invalid("update form %s: empty PDF", id)
	}
	if err := checkEvent(ev); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.forms[id]
	if !ok || f.Seq != expectSeq {
		return fmt.Errorf("update form %s: %w: form is no longer at revision %d", id, card.ErrConflict, expectSeq)
	}
	if _, err := r.appendEvent(ev); err != nil {
		return err
	}
	f.PDF, f.Seq, f.UpdatedAt = bytes.Clone(pdf), f.Seq+1, r.now()
	return nil
}

func (r *Registry) AddAttachments(ctx context.Context, cardID string, atts []card.Attachment) error {
	for _, a := range atts {
		if a.Material == "" || a.ContentType == "" || len(a.Data) == 0 {
			return invalid("add attachments to card %s: attachment needs a material, a type and data", cardID)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(atts) == 0 {
		return nil
	}
	rec, err := r.get(cardID)
	if err != nil {
		return fmt.Errorf("add attachments: %w", err)
	}
	t := r.now()
	for _, a := range atts {
		a.CardID, a.Seq, a.CreatedAt, a.Data = cardID, len(rec.atts)+1, t, bytes.Clone(a.Data)
		rec.atts = append(rec.atts, a)
	}
	return nil
}

func (r *Registry) Attachments(ctx context.Context, cardID string) ([]card.Attachment, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.cards[cardID]
	if !ok {
		return nil, nil
	}
	return slices.Clone(rec.atts), nil
}

// ---- Orgs

func (r *Registry) CreateOrg(ctx context.Context, o org.Org) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("create org: %w: %w", ErrInvalid, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.orgs[o.Code]; ok {
		return fmt.Errorf("create org %s: %w", o.Code, org.ErrDuplicate)
	}
	r.orgs[o.Code] = o
	return nil
}

func (r *Registry) GetOrg(ctx context.Context, code string) (org.Org, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.orgs[code]
	if !ok {
		return org.Org{}, fmt.Errorf("get org %s: %w", code, org.ErrUnknown)
	}
	return o, nil
}

func (r *Registry) ListOrgs(ctx context.Context) ([]org.Org, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []org.Org
	for _, o := range r.orgs {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b org.Org) int { return strings.Compare(a.Code, b.Code) })
	return out, nil
}

// UpdateOrg sets the name and retirement; the level stays as created.
func (r *Registry) UpdateOrg(ctx context.Context, o org.Org) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("update org: %w: %w", ErrInvalid, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.orgs[o.Code]
	if !ok {
		return fmt.Errorf("update org %s: %w", o.Code, org.ErrUnknown)
	}
	old.Name, old.Retired = o.Name, o.Retired
	r.orgs[o.Code] = old
	return nil
}

// ---- AuditLog

func (r *Registry) AppendAudit(ctx context.Context, ev audit.Event) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, err := r.appendEvent(ev)
	if err != nil {
		return 0, fmt.Errorf("append audit event: %w", err)
	}
	return id, nil
}

func (r *Registry) AuditEvents(ctx context.Context, cardID string, limit int) ([]audit.Event, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []audit.Event
	for i := len(r.events) - 1; i >= 0 && len(out) < limit; i-- {
		if cardID == "" || r.events[i].CardID == cardID {
			out = append(out, r.events[i])
		}
	}
	return out, nil
}

// ---- Quotas

// maxKeyLen bounds a quota key, as the store does.
const maxKeyLen = 256

// Hit counts in fixed windows aligned on multiples of window since the
// Unix epoch, as the store does; a denied hit counts nothing.
func (r *Registry) Hit(ctx context.Context, key string, window time.Duration, limit int) (bool, error) {
	switch {
	case key == "" || len(key) > maxKeyLen:
		return false, invalid("rate limit: key of %d bytes, want 1 to %d", len(key), maxKeyLen)
	case window < time.Microsecond:
		return false, invalid("rate limit %q: window %v is shorter than a microsecond", key, window)
	case limit < 1:
		return false, invalid("rate limit %q: limit %d", key, limit)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.now().UnixMicro()
	w := window.Microseconds()
	k := fmt.Sprintf("%s\x00%d", key, t-t%w)
	if r.hits[k] >= limit {
		return false, nil
	}
	r.hits[k]++
	return true, nil
}
