// Package lifecycletest gives tests an in-memory registry: every port the
// lifecycle declares (lifecycle.Cards, Seals, Documents, Orgs, AuditLog,
// Quotas, Budgets and throttle.Store, together lifecycle.Registry) kept in
// maps behind one mutex.
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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/throttle"
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
	// rules keeps the records of issue 14's procedure rules (rules.go).
	rules rulesState
	// throttles are the failure counts of package throttle.
	throttles map[throttle.Key]throttle.Record
	// preReviews is the pre-review list (prereviews.go), oldest first.
	preReviews []card.PreReview
}

// record is a card with everything kept beside it.
type record struct {
	c       card.Card
	pdfs    [][]byte // revision i at index i
	seals   []card.Seal
	approvs map[org.Level]card.Approval
	notices []card.Notice
	atts    []card.Attachment
	terms   []string // the card's search terms (card.Card.Terms)
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

		throttles: map[throttle.Key]throttle.Record{},
	}
}

// now is the registry's clock: UTC, truncated to the microsecond that
// both of the store's backends keep.
func (r *Registry) now() time.Time { return r.Now().UTC().Truncate(time.Microsecond) }

var (
	digitsRE    = regexp.MustCompile(`^[0-9]+$`)
	cardIDRE    = regexp.MustCompile(`^[0-9a-f]{16}$`)
	coupleKeyRE = regexp.MustCompile(`^[0-9a-f]{1,64}$`)
	termRE      = regexp.MustCompile(`^[0-9a-f]{32}$`)
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

// Spend adds amount to key's total in fixed windows as Hit counts, if the
// total stays within limit; a refused amount adds nothing.
func (r *Registry) Spend(ctx context.Context, key string, window time.Duration, amount, limit int) (bool, error) {
	switch {
	case key == "" || len(key) > maxKeyLen:
		return false, invalid("budget: key of %d bytes, want 1 to %d", len(key), maxKeyLen)
	case window < time.Microsecond:
		return false, invalid("budget %q: window %v is shorter than a microsecond", key, window)
	case limit < 1 || limit > 1<<31-1:
		return false, invalid("budget %q: limit %d", key, limit)
	case amount < 1:
		return false, invalid("budget %q: amount %d", key, amount)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.now().UnixMicro()
	w := window.Microseconds()
	k := fmt.Sprintf("%s\x00%d", key, t-t%w)
	if r.hits[k]+amount > limit {
		return false, nil
	}
	r.hits[k] += amount
	return true, nil
}
