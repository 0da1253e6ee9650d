// Package lifecycle owns the rules of a card: its path from application
// through review and the three seals to issue, the public check, and the
// end of a card (void, revoke, supersede). It decides who may do what
// (Allowed, rules.go), which status follows which, what a citizen and the
// public may learn (masking, Art. 13), and it encrypts personal data
// before anything is stored.
//
// It declares the storage it needs as small interfaces (ports.go) that
// package store implements; it imports no HTTP and no SQL. The HTTP API,
// the console and the command line only translate their input into calls
// of Service and its results into their output.
//
// The path of a card, file by file: apply.go (apply, online applications,
// tracking) → render.go (revision 0 with its QR code) → seal.go (each
// level's seal) → notify.go, materials.go, form.go (the procedure of the
// rules) → check.go (the public answer) → status.go (void, revoke,
// supersede) → statuslist.go, report.go.
package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/throttle"
	"github.com/jilin-health/cardseal/workday"
)

// Service runs the card lifecycle over a registry and a keystore.
type Service struct {
	reg       Registry
	keys      keys.Store
	sealer    *Sealer
	publicURL string

	// Now is the service's clock (default time.Now); tests set it.
	Now func() time.Time
	// Calendar is the working-day calendar of the Art. 19 time limits
	// (nil: workday.Default()).
	Calendar *workday.Calendar
	// HolderThrottle is the delay after wrong ID numbers from one client
	// for one card, in the download and the tracking of an application
	// (zero: DefaultHolderThrottle; public.go).
	HolderThrottle throttle.Policy
	// OnlineQuota bounds the online applications of a village (zero:
	// DefaultOnlineQuota).
	OnlineQuota OnlineQuota
	// Issuers is who issues each type of card (nil: DefaultIssuers;
	// issuer.go).
	Issuers IssuerPolicy
	// Hotline is the complaint hotline (Art. 24) printed on every notice
	// and shown on the public pages ("": DefaultHotline).
	Hotline string

	priv privacyOnce
	// lists caches the signed status list (statuslist.go).
	lists statusListCache
}

// NewService wires a service over a registry (package store's DB) and a
// keystore; publicURL is the base of the URLs printed in QR codes.
func NewService(reg Registry, ks keys.Store, publicURL string) *Service {
	s := &Service{keys: ks, sealer: NewSealer(ks), publicURL: publicURL, Now: time.Now}
	// Every document passes through the vault: encrypted on the way in,
	// decrypted on the way out (privacy.go).
	s.reg = vault{Registry: reg, s: s}
	return s
}

// DefaultHotline is the province's complaint hotline (Art. 24), the
// default of the setting "hotline".
const DefaultHotline = "0431-12356"

// HotlineNumber is the complaint hotline in force.
func (s *Service) HotlineNumber() string {
	if s.Hotline == "" {
		return DefaultHotline
	}
	return s.Hotline
}

// Keys returns the keystore (the verifier's trust list, the platform
// identity).
func (s *Service) Keys() keys.Store { return s.keys }

// PublicURL is the base of the URLs printed in QR codes.
func (s *Service) PublicURL() string { return s.publicURL }

// WorkCalendar is the working-day calendar of the Art. 19 time limits.
func (s *Service) WorkCalendar() *workday.Calendar {
	if s.Calendar != nil {
		return s.Calendar
	}
	return workday.Default()
}

// event builds the audit event of an actor's action.
func (s *Service) event(a Actor, action audit.Action, cardID, reason string, detail any) audit.Event {
	ev := audit.Event{Actor: a.Username, OrgCode: a.Org.Code, Action: action, CardID: cardID, Reason: reason, RemoteAddr: a.RemoteAddr}
	if detail != nil {
		ev.Detail, _ = json.Marshal(detail)
	}
	return ev
}

// Org returns an organisation of the registry.
func (s *Service) Org(ctx context.Context, code string) (org.Org, error) {
	return s.reg.GetOrg(ctx, code)
}

// OrgName is an organisation's name for display, its code if the
// registry does not know it.
func (s *Service) OrgName(ctx context.Context, code string) string {
	if o, err := s.reg.GetOrg(ctx, code); err == nil {
		return o.Name
	}
	return code
}

// Villages lists the villages the actor may take applications for
// (TakeApplication): its own village, or the villages of its township or
// county at the counter (Art. 14). The console offers exactly these.
func (s *Service) Villages(ctx context.Context, a Actor) ([]org.Org, error) {
	all, err := s.reg.ListOrgs(ctx)
	if err != nil {
		return nil, err
	}
	var out []org.Org
	for _, o := range all {
		if o.Level == org.Village && Can(a, &card.Card{VillageCode: o.Code}, TakeApplication) {
			out = append(out, o)
		}
	}
	return out, nil
}

// card reads a card and checks that the actor may do act to it.
func (s *Service) card(ctx context.Context, a Actor, id string, act Action) (*card.Card, error) {
	c, err := s.reg.GetCard(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := Allowed(a, &c, act); err != nil {
		return nil, err
	}
	return &c, nil
}

// Get returns a card the actor may read and records the read of
// personal data (Art. 13).
func (s *Service) Get(ctx context.Context, a Actor, id string) (*card.Card, error) {
	c, err := s.card(ctx, a, id, ReadCard)
	if err != nil {
		return nil, err
	}
	if _, err := s.reg.AppendAudit(ctx, s.event(a, audit.CardRead, id, "", nil)); err != nil {
		return nil, err
	}
	return c, nil
}

// Peek returns a card the actor may read without recording a read: for
// views that show masked data only (the seal confirmation, lists).
func (s *Service) Peek(ctx context.Context, a Actor, id string) (*card.Card, error) {
	return s.card(ctx, a, id, ReadCard)
}

// FindByNumber returns the card with the number if the actor may read it;
// a card outside the jurisdiction is card.ErrNotFound, like an unknown
// number, so numbers of other jurisdictions cannot be probed.
func (s *Service) FindByNumber(ctx context.Context, a Actor, number string) (*card.Card, error) {
	c, err := s.reg.GetCardByNumber(ctx, number)
	if err != nil {
		return nil, err
	}
	if err := Allowed(a, &c, ReadCard); err != nil {
		return nil, fmt.Errorf("%w: card outside the jurisdiction", card.ErrNotFound)
	}
	return &c, nil
}

// Queue lists the draft cards of the actor's jurisdiction that still
// await its level's seal, whichever level's turn it is (simultaneous
// review, Art. 15: an application is in the queues of its village,
// township and county at once), oldest first: one page of at most limit cards after the
// card with ID after ("" for the first page). A page shorter than limit
// is the last.
func (s *Service) Queue(ctx context.Context, a Actor, after string, limit int) ([]card.Card, error) {
	return s.reg.ListCards(ctx, card.Filter{
		Statuses:   []card.Status{card.StatusDraft},
		CodePrefix: a.Org.Code,
		UnsealedBy: a.Org.Level,
		AfterID:    after,
		Limit:      limit,
	})
}

// Seals returns the seal records of a card the actor may read.
func (s *Service) Seals(ctx context.Context, a Actor, c *card.Card) ([]card.Seal, error) {
	if err := Allowed(a, c, ReadCard); err != nil {
		return nil, err
	}
	return s.reg.Seals(ctx, c.ID)
}

// History returns the audit events of a card the actor may read, newest
// first.
func (s *Service) History(ctx context.Context, a Actor, c *card.Card, limit int) ([]audit.Event, error) {
	if err := Allowed(a, c, ReadCard); err != nil {
		return nil, err
	}
	return s.reg.AuditEvents(ctx, c.ID, limit)
}

// PDF returns the newest revision of a card the actor may read.
func (s *Service) PDF(ctx context.Context, a Actor, c *card.Card) ([]byte, error) {
	if err := Allowed(a, c, ReadCard); err != nil {
		return nil, err
	}
	_, pdf, err := s.reg.CurrentPDF(ctx, c.ID)
	return pdf, err
}

// Can reports whether the actor may do act to the card: the console asks
// it which actions to offer.
func Can(a Actor, c *card.Card, act Action) bool { return Allowed(a, c, act) == nil }
