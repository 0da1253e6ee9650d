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
	v, _, _, err := OrgsOf(ctx, s.reg, app.Village)
	if err != nil {
		return nil, err
	}
	county := org.CountyCode(app.Village)
	if app.Type == card.Rebirth {
		if err := s.checkRebirth(ctx, app); err != nil {
			return nil, err
		}
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
		r, err := Render(ctx, s.reg, &Draft{Number: number, Applicant: app, IssueDate: now, StatusIndex: idx}, s.publicURL)
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
			QRToken: r.Token, StatusIndex: idx, CreatedBy: a.Username,
		}
		ev := s.event(a, audit.CardCreate, id, "", map[string]any{
			"number": number, "type": app.Type, "village": app.Village, "channel": app.Channel,
			// Art. 21: the record shows which commitment staff relied on.
			"commitment": app.Commitment,
		})
		err = s.reg.CreateCard(ctx, c, r.PDF, ev)
		if errors.Is(err, card.ErrDuplicate) && attempt < 3 {
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
func (s *Service) checkRebirth(ctx context.Context, app *card.Applicant) error {
	priv, err := s.privacy()
	if err != nil {
		return err
	}
	cards, err := s.reg.ListCards(ctx, card.Filter{Statuses: []card.Status{card.StatusVoided}, CoupleKey: priv.coupleKey(app)})
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
	for _, u := range uploads {
		if !card.Requires(app, u.Material) {
			return nil, fmt.Errorf("%w: %q", ErrNotRequired, u.Material)
		}
	}
	v, err := s.reg.GetOrg(ctx, app.Village)
	if err != nil {
		return nil, err
	}
	if v.Level != org.Village {
		return nil, fmt.Errorf("%w: %s is not a village", org.ErrUnknown, app.Village)
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

// Attachments returns the materials sent online for a card the actor may
// read.
func (s *Service) Attachments(ctx context.Context, a Actor, c *card.Card) ([]card.Attachment, error) {
	if err := Allowed(a, c, ReadCard); err != nil {
		return nil, err
	}
	return s.reg.Attachments(ctx, c.ID)
}

// Application is what a citizen who proved to be one of the couple
// learns of their application.
type Application struct {
	Card      *card.Card
	Holders   []Holder
	Missing   []card.Material
	Materials int    // materials received online
	Due       string // the Art. 19 time limit, YYYY-MM-DD, while a draft
	// DownloadToken is the QR token of an issued card, for the download
	// page; "" otherwise.
	DownloadToken string
}

// Track finds an application by its number for a citizen who gives one
// spouse's ID number; a wrong ID number is card.ErrNotFound, like an
// unknown number. Every attempt on a number counts against a limit
// shared by every instance (*LimitError).
func (s *Service) Track(ctx context.Context, number, idNumber string) (*Application, error) {
	allowed, err := s.reg.Hit(ctx, "track:"+number, time.Hour, s.attempts())
	if err != nil {
		return nil, err
	}
	if !allowed {
		return nil, &LimitError{What: "tracking attempts on this application", RetryAfter: time.Hour}
	}
	c, err := s.reg.GetCardByNumber(ctx, number)
	if err != nil {
		return nil, err
	}
	app, err := s.Applicant(&c)
	if err != nil {
		return nil, err
	}
	if !holds(app, idNumber) {
		return nil, fmt.Errorf("track %s: %w", number, card.ErrNotFound)
	}
	atts, err := s.reg.Attachments(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	out := &Application{Card: &c, Holders: MaskHolders(app), Missing: app.MissingMaterials(), Materials: len(atts)}
	switch c.Status {
	case card.StatusDraft:
		out.Due = DeadlineOf(s.WorkCalendar(), &c, app, s.Now()).Due.Format("2006-01-02")
	case card.StatusIssued:
		out.DownloadToken = c.QRToken
	}
	return out, nil
}

// holds reports, in constant time, whether idNumber is one of the
// couple's ID numbers.
func holds(app *card.Applicant, idNumber string) bool {
	id := []byte(strings.ToUpper(strings.TrimSpace(idNumber)))
	m := subtle.ConstantTimeCompare(id, []byte(strings.ToUpper(app.Male.IDNumber)))
	f := subtle.ConstantTimeCompare(id, []byte(strings.ToUpper(app.Female.IDNumber)))
	return m|f == 1
}
