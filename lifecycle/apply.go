package lifecycle

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/org"
)

// ErrRebirthBlocked: a voided re-birth card blocks a new one (Art. 22).
var ErrRebirthBlocked = errors.New("a voided re-birth card blocks a new re-birth card for this couple (Art. 22)")

// CitizenActor is the actor name of online applications without an
// account (Art. 15, 16).
const CitizenActor = "citizen"

// Apply records a new application and renders revision 0 of its card.
// Village staff apply for their own village (Art. 3); township and county
// staff for villages in their jurisdiction (counter service, Art. 14).
func (s *Service) Apply(ctx context.Context, a Actor, app *card.Applicant) (*card.Card, error) {
	if err := app.Validate(); err != nil {
		return nil, err
	}
	if err := Allowed(a, &card.Card{VillageCode: app.Village}, TakeApplication); err != nil {
		return nil, err
	}
	v, t, co, err := OrgsOf(ctx, s.reg, app.Village)
	if err != nil {
		return nil, err
	}
	issuer := issuerFor(s.issuers(), app.Type, t, co)
	county := org.CountyCode(app.Village)
	if app.Type == card.Rebirth {
		if err := s.checkRebirth(ctx, app); err != nil {
			return nil, err
		}
	}
	if err := s.fromPopulation(ctx, app); err != nil { // Art. 9
		return nil, err
	}
	now := s.Now().In(China)
	number, err := s.reg.NextCardNumber(ctx, county, now.Year())
	if err != nil {
		return nil, err
	}
	priv, err := s.privacy()
	if err != nil {
		return nil, err
	}
	replaces, err := s.reissueTarget(ctx, app, county, priv.coupleKey(app))
	if err != nil {
		return nil, err
	}
	first, _ := chain.Card.Next(nil)
	for attempt := 0; ; attempt++ {
		id, err := card.NewID()
		if err != nil {
			return nil, err
		}
		idx, err := card.RandomStatusIndex()
		if err != nil {
			return nil, err
		}
		r, err := Render(ctx, s.reg, &Draft{Number: number, Applicant: app, IssueDate: now, StatusIndex: idx, IssuerLevel: issuer.Level}, s.publicURL)
		if err != nil {
			return nil, err
		}
		sealed, err := s.sealApplicant(id, app)
		if err != nil {
			return nil, err
		}
		c := &card.Card{
			ID: id, Number: number, Type: app.Type, Status: card.StatusDraft, NextLevel: first,
			VillageCode: v.Code, CountyCode: county, Applicant: sealed, CoupleKey: priv.coupleKey(app),
			QRToken: r.Token, StatusIndex: idx, CreatedBy: a.Username, IssuerCode: issuer.Code,
			Replaces: replaces, Commitment: app.Commitment, Terms: priv.searchTerms(app),
			// Art. 19: a complete application is handled at once; its
			// clock starts now.
			CompleteAt: completeAt(time.Time{}, app, now),
		}
		ev := s.event(a, audit.CardCreate, id, "", map[string]any{
			"number": number, "type": app.Type, "village": app.Village, "channel": app.Channel, "issuer": issuer.Code,
			// Art. 21: the record shows which commitment staff relied on.
			"commitment": app.Commitment,
			// Art. 19: complete at once, the clock runs from today.
			"complete": !c.CompleteAt.IsZero(),
		})
		err = s.reg.CreateCard(ctx, c, r.PDF, ev)
		if errors.Is(err, card.ErrDuplicate) && attempt < 3 {
			continue // id, status index or QR token collided: draw again
		}
		if err != nil {
			return nil, heldError(err, app.Type)
		}
		return c, nil
	}
}

// checkRebirth refuses a re-birth card for a couple whose earlier
// re-birth card was voided (Art. 22).
func (s *Service) checkRebirth(ctx context.Context, app *card.Applicant) error {
	priv, err := s.privacy()
	if err != nil {
		return err
	}
	blocked := false
	err = s.pages(ctx, card.Filter{Statuses: []card.Status{card.StatusVoided}, CoupleKey: priv.coupleKey(app)}, func(c *card.Card) error {
		blocked = blocked || c.Type == card.Rebirth
		return nil
	})
	if err != nil {
		return err
	}
	if blocked {
		return ErrRebirthBlocked
	}
	return nil
}

// Upload is one material photographed or scanned at home (Art. 16),
// already type-checked by the caller.
type Upload struct {
	Material    card.Material
	ContentType string
	Data        []byte
}

// ErrNotRequired: an uploaded material is not on the checklist of the
// application's case (Art. 8: nothing beyond it may be asked or taken).
var ErrNotRequired = errors.New("material not required for this case (Art. 8)")

// ApplyOnline records a citizen's online application without an account
// (Art. 15, 16): as if received by the village it names, which sees it in
// its queue; the uploads are stored encrypted like every document
// (privacy.go). It returns the card, whose number is the
// application number.
func (s *Service) ApplyOnline(ctx context.Context, app *card.Applicant, uploads []Upload, remote string) (*card.Card, error) {
	if err := app.Validate(); err != nil {
		return nil, err
	}
	if app.Channel != card.ChannelSelf && app.Channel != card.ChannelProxy {
		return nil, fmt.Errorf("%w: channel: an online application comes from the couple or their proxy", card.ErrInvalid)
	}
	if err := onlineMaterials(app, uploads); err != nil {
		return nil, err
	}
	v, err := s.reg.GetOrg(ctx, app.Village)
	if err != nil {
		return nil, err
	}
	if v.Level != org.Village {
		return nil, fmt.Errorf("%w: %s is not a village", org.ErrUnknown, app.Village)
	}
	if err := s.admitOnline(ctx, app, v.Code, uploads); err != nil {
		return nil, err
	}
	c, err := s.Apply(ctx, Actor{Username: CitizenActor, Org: v, RemoteAddr: remote}, app)
	if err != nil {
		return nil, err
	}
	if len(uploads) == 0 {
		return c, nil
	}
	atts := make([]card.Attachment, len(uploads))
	for i, u := range uploads {
		atts[i] = card.Attachment{Material: string(u.Material), ContentType: u.ContentType, Size: len(u.Data), Data: u.Data}
	}
	if err := s.reg.AddAttachments(ctx, c.ID, atts); err != nil {
		return nil, err
	}
	return c, nil
}

// onlineMaterials sets the materials record of an online application:
// a material sent is Submitted until staff review it; one the couple
// asks to be found in the population database (Art. 9) or covered by
// their commitment (Art. 10) stays so for staff to confirm; every other
// one is Missing. Whether a material was provided or is deficient is
// staff's finding, never the applicant's claim.
func onlineMaterials(app *card.Applicant, uploads []Upload) error {
	if len(app.MaterialNotes) > 0 {
		return &card.FieldError{Field: "material_notes", Reason: "set by staff's review only"}
	}
	for m, st := range app.Materials {
		if st != card.Missing && st != card.PopulationDB && st != card.Committed {
			return &card.FieldError{Field: "materials." + string(m), Reason: "an online application may claim missing, population_db or commitment only"}
		}
	}
	for _, u := range uploads {
		if !card.Requires(app, u.Material) {
			return fmt.Errorf("%w: %q", ErrNotRequired, u.Material)
		}
	}
	mats := map[card.Material]card.MaterialState{}
	for _, m := range card.RequiredMaterials(card.CaseOf(app)) {
		st, ok := app.Materials[m]
		if !ok {
			st = card.Missing
		}
		mats[m] = st
	}
	for _, u := range uploads {
		mats[u.Material] = card.Submitted
	}
	app.Materials = mats
	return app.Validate()
}

// Online applications come without an account, so nothing but these
// bounds stops a stranger from filling the disk or burying the village's
// genuine applications (issue 12, M4): one open application per couple
// and card type, and a daily quota per village of applications and of
// bytes of materials, counted by limits every instance shares.

// ErrOpenApplication: the couple has an application of this card type
// under review already.
var ErrOpenApplication = errors.New("the couple has an application of this type under review")

// ErrOnlineQuota: the village's quota of online applications, or of
// bytes of materials, is used up for now.
var ErrOnlineQuota = errors.New("the village's quota of online applications is used up")

// QuotaError is ErrOnlineQuota with when the quota opens again.
type QuotaError struct {
	What       string // "applications" or "bytes"
	Village    string
	RetryAfter time.Duration
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("%v: %s of village %s", ErrOnlineQuota, e.What, e.Village)
}

func (e *QuotaError) Unwrap() error { return ErrOnlineQuota }

// OnlineQuota bounds what citizens may send online to one village in a
// quota window (24 hours, from 00:00 UTC, 08:00 Beijing time).
type OnlineQuota struct {
	Applications int   // applications (default 20)
	Bytes        int64 // bytes of materials, counted in whole KiB (default 100 MiB)
}

// QuotaWindow is the window of OnlineQuota.
const QuotaWindow = 24 * time.Hour

// DefaultOnlineQuota is the quota of a Service whose OnlineQuota is zero.
var DefaultOnlineQuota = OnlineQuota{Applications: 20, Bytes: 100 << 20}

func (s *Service) onlineQuota() OnlineQuota {
	q := s.OnlineQuota
	if q.Applications <= 0 {
		q.Applications = DefaultOnlineQuota.Applications
	}
	if q.Bytes <= 0 {
		q.Bytes = DefaultOnlineQuota.Bytes
	}
	return q
}

// admitOnline decides whether an online application may be recorded:
// not while the couple has one of this type under review, not twice at
// once, and within the village's quotas, which it charges.
func (s *Service) admitOnline(ctx context.Context, app *card.Applicant, village string, uploads []Upload) error {
	priv, err := s.privacy()
	if err != nil {
		return err
	}
	couple := priv.coupleKey(app)
	open := false
	err = s.pages(ctx, card.Filter{Statuses: []card.Status{card.StatusDraft}, CoupleKey: couple}, func(c *card.Card) error {
		open = open || c.Type == app.Type
		return nil
	})
	if err != nil {
		return err
	}
	if open {
		return fmt.Errorf("%w: %s", ErrOpenApplication, app.Type)
	}
	// Two submissions of one application at once (a double click, a
	// retry) would both pass the check above: only one a minute does.
	ok, err := s.reg.Hit(ctx, "online-couple:"+couple+":"+string(app.Type), time.Minute, 1)
	if err != nil {
		return err
	}
	if !ok {
		return &LimitError{What: "online applications of this couple", RetryAfter: time.Minute}
	}
	q := s.onlineQuota()
	now := s.Now()
	retry := QuotaWindow - time.Duration(now.UnixMicro()%QuotaWindow.Microseconds())*time.Microsecond
	if ok, err = s.reg.Hit(ctx, "online-apps:"+village, QuotaWindow, q.Applications); err != nil {
		return err
	} else if !ok {
		return &QuotaError{What: "applications", Village: village, RetryAfter: retry}
	}
	return s.spendOnline(ctx, village, uploads)
}

// spendOnline charges the bytes of uploads to the village's quota of
// materials sent online.
func (s *Service) spendOnline(ctx context.Context, village string, uploads []Upload) error {
	var size int64
	for _, u := range uploads {
		size += int64(len(u.Data))
	}
	if size == 0 {
		return nil
	}
	q := s.onlineQuota()
	now := s.Now()
	retry := QuotaWindow - time.Duration(now.UnixMicro()%QuotaWindow.Microseconds())*time.Microsecond
	kib := func(n int64) int { return int(min((n+1023)/1024, 1<<31-1)) }
	if ok, err := s.reg.Spend(ctx, "online-kib:"+village, QuotaWindow, kib(size), kib(q.Bytes)); err != nil {
		return err
	} else if !ok {
		return &QuotaError{What: "bytes", Village: village, RetryAfter: retry}
	}
	return nil
}

// Attachments returns the materials sent online for a card the actor may
// read.
func (s *Service) Attachments(ctx context.Context, a Actor, c *card.Card) ([]card.Attachment, error) {
	if err := Allowed(a, c, ReadCard); err != nil {
		return nil, err
	}
	return s.reg.Attachments(ctx, c.ID)
}

// Track finds an application by its number for a citizen, on behalf of
// the client remote, who gives one spouse's ID number; a wrong ID number
// is card.ErrNotFound, like an unknown number. Failures count per
// (number, client) with a growing delay (*LimitError), as the download's
// do: a stranger's guesses never hold up the couple.
func (s *Service) Track(ctx context.Context, number, idNumber, remote string) (*Application, error) {
	c, app, err := s.tracked(ctx, number, idNumber, remote)
	if err != nil {
		return nil, err
	}
	return s.application(ctx, c, app)
}

// tracked finds the application of Track for one of its couple.
func (s *Service) tracked(ctx context.Context, number, idNumber, remote string) (*card.Card, *card.Applicant, error) {
	at, err := s.beginHolder(ctx, scopeTrack, number, remote, "tracking attempts on this application from this client")
	if err != nil {
		return nil, nil, err
	}
	c, err := s.reg.GetCardByNumber(ctx, number)
	if errors.Is(err, card.ErrNotFound) {
		if err := at.Failed(ctx); err != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("track %s: %w", number, card.ErrNotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	app, err := s.Applicant(&c)
	if err != nil {
		return nil, nil, err
	}
	if !holds(app, idNumber) {
		if err := at.Failed(ctx); err != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("track %s: %w", number, card.ErrNotFound)
	}
	if err := at.Succeeded(ctx); err != nil {
		return nil, nil, err
	}
	return &c, app, nil
}

// holds reports, in constant time, whether idNumber is one of the
// couple's ID numbers.
func holds(app *card.Applicant, idNumber string) bool {
	id := []byte(strings.ToUpper(strings.TrimSpace(idNumber)))
	m := subtle.ConstantTimeCompare(id, []byte(strings.ToUpper(app.Male.IDNumber)))
	f := subtle.ConstantTimeCompare(id, []byte(strings.ToUpper(app.Female.IDNumber)))
	return m|f == 1
}
