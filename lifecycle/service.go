package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/workday"
)

// Errors of the card lifecycle that callers branch on. Chain errors
// (chain.ErrOutOfOrder, …) and store errors (store.ErrConflict,
// store.ErrNotFound) pass through wrapped.
var (
	// ErrForbidden: the actor's organisation may not do this to this card
	// (outside its jurisdiction, or not the issuing county).
	ErrForbidden = errors.New("not permitted for this organisation")
	// ErrWrongLevel: the card awaits another level's seal.
	ErrWrongLevel = errors.New("the card awaits another level's seal")
	// ErrState: the card's status does not allow the action.
	ErrState = errors.New("the card's status does not allow this")
	// ErrReason: a status change needs a reason class and a note.
	ErrReason = errors.New("a reason class and a note are required")
	// ErrRebirthBlocked: a voided re-birth card blocks a new one (Art. 22).
	ErrRebirthBlocked = errors.New("a voided re-birth card blocks a new re-birth card for this couple (Art. 22)")
)

// Actor is who acts: a staff member of an organisation, from an address.
type Actor struct {
	Username   string
	Org        keys.Org
	RemoteAddr string
}

// Service runs the card lifecycle over a store and a keystore.
type Service struct {
	Store     store.Store
	Keys      keys.Store
	Sealer    *Sealer
	PublicURL string
	Now       func() time.Time
	// Calendar is the working-day calendar of the Art. 19 time limits
	// (nil: workday.Default()).
	Calendar *workday.Calendar

	priv privacyOnce
	// lists caches the signed status list (procedure.go).
	lists statusListCache
}

// NewService wires a service.
func NewService(st store.Store, ks keys.Store, publicURL string) *Service {
	return &Service{Store: st, Keys: ks, Sealer: NewSealer(ks), PublicURL: publicURL, Now: time.Now}
}

func (s *Service) event(a Actor, action, cardID, reason string, detail any) store.AuditEvent {
	ev := store.AuditEvent{Actor: a.Username, OrgCode: a.Org.Code, Action: action, CardID: cardID, Reason: reason, RemoteAddr: a.RemoteAddr}
	if detail != nil {
		ev.Detail, _ = json.Marshal(detail)
	}
	return ev
}

// Apply records a new application and renders revision 0 of its card.
// Village staff apply for their own village (Art. 3); township and county
// staff for villages in their jurisdiction (counter service, Art. 14).
func (s *Service) Apply(ctx context.Context, a Actor, app *card.Applicant) (*store.Card, error) {
	if err := app.Validate(); err != nil {
		return nil, err
	}
	if !a.Org.Contains(app.Village) {
		return nil, fmt.Errorf("%w: village %s lies outside %s", ErrForbidden, app.Village, a.Org.Code)
	}
	if _, _, _, err := Orgs(s.Keys, app.Village); err != nil {
		return nil, err
	}
	county := keys.CountyCode(app.Village)
	if app.Type == card.Rebirth {
		if err := s.checkRebirth(ctx, app, county); err != nil {
			return nil, err
		}
	}
	now := s.Now().In(China)
	number, err := s.Store.NextCardNumber(ctx, county, now.Year())
	if err != nil {
		return nil, err
	}
	appJSON, err := json.Marshal(app)
	if err != nil {
		return nil, err
	}
	priv, err := s.privacy()
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		id, err := store.NewCardID()
		if err != nil {
			return nil, err
		}
		idx, err := store.RandomStatusIndex()
		if err != nil {
			return nil, err
		}
		r, err := Render(s.Keys, &Draft{Number: number, Applicant: app, IssueDate: now, StatusIndex: idx}, s.PublicURL)
		if err != nil {
			return nil, err
		}
		c := &store.Card{
			ID: id, Number: number, Type: app.Type, Status: store.StatusDraft,
			VillageCode: app.Village, CountyCode: county, Applicant: priv.seal(id, appJSON), CoupleKey: priv.coupleKey(app),
			QRToken: r.Token, StatusIndex: idx, CreatedBy: a.Username,
		}
		ev := s.event(a, "card.create", id, "", map[string]any{
			"number": number, "type": app.Type, "village": app.Village, "channel": app.Channel,
			// Art. 21: the record shows which commitment staff relied on.
			"commitment": app.Commitment,
		})
		err = s.Store.CreateCard(ctx, c, r.PDF, ev)
		if errors.Is(err, store.ErrDuplicate) && attempt < 3 {
			continue // id, status index or QR token collided: draw again
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// checkRebirth refuses a re-birth card for a couple whose earlier
// re-birth card was voided (Art. 22).
func (s *Service) checkRebirth(ctx context.Context, app *card.Applicant, county string) error {
	priv, err := s.privacy()
	if err != nil {
		return err
	}
	cards, err := s.Store.ListCards(ctx, store.CardFilter{Statuses: []store.Status{store.StatusVoided}, CoupleKey: priv.coupleKey(app)})
	if err != nil {
		return err
	}
	for _, c := range cards {
		if c.Type == card.Rebirth {
			return ErrRebirthBlocked
		}
	}
	return nil
}

// CanSee reports whether the actor may see the card's full data: staff
// see the cards of their jurisdiction only (Art. 13).
func CanSee(a Actor, c *store.Card) bool { return a.Org.Contains(c.VillageCode) }

// Get returns a card the actor may see and records the read of personal
// data (Art. 13).
func (s *Service) Get(ctx context.Context, a Actor, id string) (*store.Card, error) {
	c, err := s.Store.GetCard(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CanSee(a, &c) {
		return nil, fmt.Errorf("%w: card of village %s", ErrForbidden, c.VillageCode)
	}
	if _, err := s.Store.AppendAudit(ctx, s.event(a, "card.read", id, "", nil)); err != nil {
		return nil, err
	}
	return &c, nil
}

// Queue lists the draft cards awaiting the actor's level within its
// jurisdiction, oldest first.
func (s *Service) Queue(ctx context.Context, a Actor) ([]store.Card, error) {
	return s.Store.ListCards(ctx, store.CardFilter{
		Statuses:   []store.Status{store.StatusDraft},
		CodePrefix: a.Org.Code,
		Awaiting:   a.Org.Level,
		Limit:      500,
	})
}

// Seal applies the actor's organisation's seal to a card: one PDF
// revision and its record, committed together. Outside the jurisdiction
// is ErrForbidden; out of order or already sealed at that level is a
// chain error or store.ErrConflict.
func (s *Service) Seal(ctx context.Context, a Actor, id string) (*store.Card, error) {
	c, err := s.Store.GetCard(ctx, id)
	if err != nil {
		return nil, err
	}
	if !a.Org.Contains(c.VillageCode) {
		return nil, fmt.Errorf("%w: card of village %s", ErrForbidden, c.VillageCode)
	}
	if c.Status != store.StatusDraft {
		return nil, fmt.Errorf("%w: card is %s", ErrState, c.Status)
	}
	if err := CheckActive(ctx, s.Store, a.Org.Code); err != nil {
		return nil, err
	}
	seals, err := s.Store.Seals(ctx, id)
	if err != nil {
		return nil, err
	}
	var prev []chain.Seal
	for _, x := range seals {
		prev = append(prev, chain.Seal{Level: x.Level, Code: x.OrgCode})
	}
	if err := chain.Card.Check(prev, chain.Seal{Level: a.Org.Level, Code: a.Org.Code}); err != nil {
		return nil, err
	}
	seq, pdf, err := s.Store.CurrentPDF(ctx, id)
	if err != nil {
		return nil, err
	}
	at := s.Now()
	sealed, err := s.Sealer.SealCard(pdf, a.Org.Code, c.Number, at)
	if err != nil {
		return nil, err
	}
	id2, err := s.Keys.SealIdentity(a.Org.Code)
	if err != nil {
		return nil, err
	}
	status := store.StatusDraft
	if chain.Card.Complete(append(prev, chain.Seal{Level: a.Org.Level, Code: a.Org.Code})) {
		status = store.StatusIssued
	}
	digest := sm3.Sum(sealed)
	rec := store.Seal{
		CardID: id, Seq: seq + 1, Level: a.Org.Level, OrgCode: a.Org.Code,
		CertSerial: fmt.Sprintf("%X", id2.Cert.SerialNumber), SignedAt: at, PDFDigest: digest[:], ByUser: a.Username,
	}
	ev := s.event(a, "card.seal", id, Reason(a.Org.Level), map[string]any{"level": a.Org.Level, "seq": seq + 1, "status": status})
	if err := s.Store.AddSeal(ctx, id, seq, sealed, rec, status, ev); err != nil {
		return nil, err
	}
	c, err = s.Store.GetCard(ctx, id)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Reason classes of status changes.
var ReasonClasses = map[store.Status][]string{
	store.StatusVoided:     {"pregnancy_ended_without_certificate", "infant_death_without_proof", "other"}, // Art. 22
	store.StatusRevoked:    {"false_commitment", "false_materials", "other"},                               // Art. 20
	store.StatusSuperseded: {"formal_card_reissued", "data_corrected", "other"},                            // Art. 16
}

// SetStatus voids, revokes or supersedes an issued card. Only county
// staff of the issuing county may; a reason class and a note are
// required; superseding names the new card, which must be issued.
func (s *Service) SetStatus(ctx context.Context, a Actor, id string, to store.Status, reason, note, newCardID string) (*store.Card, error) {
	classes, ok := ReasonClasses[to]
	if !ok {
		return nil, fmt.Errorf("%w: unknown status %q", ErrState, to)
	}
	valid := false
	for _, c := range classes {
		valid = valid || c == reason
	}
	if !valid || len(note) == 0 || len(note) > 1000 {
		return nil, fmt.Errorf("%w: reason must be one of %v", ErrReason, classes)
	}
	c, err := s.Store.GetCard(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Org.Level != keys.County || a.Org.Code != c.CountyCode {
		return nil, fmt.Errorf("%w: only the issuing county (%s) may change the status", ErrForbidden, c.CountyCode)
	}
	if to == store.StatusSuperseded {
		n, err := s.Store.GetCard(ctx, newCardID)
		if err != nil {
			return nil, fmt.Errorf("new card: %w", err)
		}
		if n.ID == c.ID || n.Status != store.StatusIssued || n.CountyCode != c.CountyCode {
			return nil, fmt.Errorf("%w: the new card must be another issued card of the same county", ErrState)
		}
	} else {
		newCardID = ""
	}
	ev := s.event(a, "card."+actionOf(to), id, reason, map[string]any{"note": note, "superseded_by": newCardID})
	if err := s.Store.SetStatus(ctx, id, []store.Status{store.StatusIssued}, to, reason, note, newCardID, ev); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("%w: card is %s: %w", ErrState, c.Status, err)
		}
		return nil, err
	}
	c, err = s.Store.GetCard(ctx, id)
	return &c, err
}

func actionOf(s store.Status) string {
	switch s {
	case store.StatusVoided:
		return "void"
	case store.StatusRevoked:
		return "revoke"
	case store.StatusSuperseded:
		return "supersede"
	}
	return string(s)
}
