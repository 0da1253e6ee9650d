package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// What a citizen learns of their application, and what they may send
// after a one-time notice (Art. 15, 16, 19), once they proved to be one
// of the couple (Track).

// Application is what a citizen who proved to be one of the couple
// learns of their application.
type Application struct {
	Card      *card.Card
	Holders   []Holder
	Missing   []card.Material
	Materials int    // materials received online
	Due       string // the Art. 19 time limit, YYYY-MM-DD, while a draft whose file is complete
	Limit     int    // while a draft: the working days of the time limit, from the day the file is complete
	// DownloadToken is the QR token of an issued card, for the download
	// page; "" otherwise.
	DownloadToken string
	// Levels is the review of each level, village first.
	Levels []LevelProgress
	// Checklist is every required material with its state and, when
	// deficient, the reason.
	Checklist []MaterialStatus
	// NoticeGiven: a one-time notice (Art. 19) was given.
	NoticeGiven bool
	// Requested are the materials the applicant may send now: those the
	// one-time notice asks for that are still missing or deficient.
	Requested []card.Material
}

// LevelProgress is one level's review of an application.
type LevelProgress struct {
	Level  org.Level
	Org    string    // the organisation's name
	Sealed time.Time // zero until the level sealed
}

// MaterialStatus is one required material of an application.
type MaterialStatus struct {
	Material card.Material
	State    card.MaterialState
	Note     string
}

// application builds the citizen's view of an application.
func (s *Service) application(ctx context.Context, c *card.Card, app *card.Applicant) (*Application, error) {
	atts, err := s.reg.Attachments(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	out := &Application{Card: c, Holders: MaskHolders(app), Missing: app.MissingMaterials(), Materials: len(atts)}
	switch c.Status {
	case card.StatusDraft:
		dl := DeadlineOf(s.WorkCalendar(), c, s.Now())
		out.Due, out.Limit = dl.DueDate(), dl.Limit
	case card.StatusIssued:
		out.DownloadToken = c.QRToken
	}
	seals, err := s.reg.Seals(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	v, t, co, err := OrgsOf(ctx, s.reg, c.VillageCode)
	if err != nil {
		return nil, err
	}
	for _, o := range []org.Org{v, t, co} {
		p := LevelProgress{Level: o.Level, Org: o.Name}
		for _, x := range seals {
			if x.Level == o.Level {
				p.Sealed, p.Org = x.SignedAt, s.OrgName(ctx, x.OrgCode)
			}
		}
		out.Levels = append(out.Levels, p)
	}
	for _, m := range card.RequiredMaterials(card.CaseOf(app)) {
		st, ok := app.Materials[m]
		switch {
		case app.Materials == nil:
			st = card.Provided
		case !ok:
			st = card.Missing
		}
		out.Checklist = append(out.Checklist, MaterialStatus{Material: m, State: st, Note: app.MaterialNotes[m]})
	}
	notices, err := s.reg.Notices(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, n := range notices {
		out.NoticeGiven = out.NoticeGiven || n.Kind == card.NoticeMissing
	}
	if out.NoticeGiven && c.Status == card.StatusDraft {
		out.Requested = append(app.MaterialsIn(card.Missing), app.MaterialsIn(card.Deficient)...)
	}
	return out, nil
}

// ErrNotRequested: a material sent after the one-time notice that the
// notice does not ask for (or none was given, or the application is no
// longer under review).
var ErrNotRequested = errors.New("the one-time notice does not ask for this material")

// Resubmit takes the materials a one-time notice asked for from one of
// the couple (Track's check of the ID number, with its delay after
// wrong guesses): only materials still missing or deficient after the
// notice, within the village's quota of bytes; each becomes submitted
// and awaits staff's review again, its earlier deficiency reason gone.
func (s *Service) Resubmit(ctx context.Context, number, idNumber, remote string, uploads []Upload) (*Application, error) {
	c, app, err := s.tracked(ctx, number, idNumber, remote)
	if err != nil {
		return nil, err
	}
	if len(uploads) == 0 {
		return nil, &card.FieldError{Field: "materials", Reason: "no file sent"}
	}
	view, err := s.application(ctx, c, app)
	if err != nil {
		return nil, err
	}
	for _, u := range uploads {
		ok := false
		for _, r := range view.Requested {
			ok = ok || r == u.Material
		}
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrNotRequested, u.Material)
		}
	}
	v, err := s.reg.GetOrg(ctx, c.VillageCode)
	if err != nil {
		return nil, err
	}
	if err := s.spendOnline(ctx, v.Code, uploads); err != nil {
		return nil, err
	}
	materials, notes := maps.Clone(app.Materials), maps.Clone(app.MaterialNotes)
	sent := make([]card.Material, 0, len(uploads))
	atts := make([]card.Attachment, len(uploads))
	for i, u := range uploads {
		materials[u.Material] = card.Submitted
		delete(notes, u.Material)
		sent = append(sent, u.Material)
		atts[i] = card.Attachment{Material: string(u.Material), ContentType: u.ContentType, Size: len(u.Data), Data: u.Data}
	}
	if len(notes) == 0 {
		notes = nil
	}
	app.Materials, app.MaterialNotes = materials, notes
	if err := app.Validate(); err != nil {
		return nil, err
	}
	sealed, err := s.sealApplicant(c.ID, app)
	if err != nil {
		return nil, err
	}
	if err := s.reg.AddAttachments(ctx, c.ID, atts); err != nil {
		return nil, err
	}
	citizen := Actor{Username: CitizenActor, Org: v, RemoteAddr: remote}
	ev := s.event(citizen, audit.CardResubmit, c.ID, "", map[string]any{"materials": sent})
	// What was sent awaits review: the file is not complete (Art. 19).
	if err := s.reg.UpdateApplicant(ctx, c.ID, sealed, completeAt(c.CompleteAt, app, s.Now()), ev); err != nil {
		if errors.Is(err, card.ErrConflict) {
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
		return nil, err
	}
	n, err := s.reg.GetCard(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	return s.application(ctx, &n, app)
}

// VillageChoice is a village a citizen may apply to, named with its
// township.
type VillageChoice struct {
	Code, Name, Township string
}

// OnlineVillages lists the villages that take online applications (every
// village not retired), by code.
func (s *Service) OnlineVillages(ctx context.Context) ([]VillageChoice, error) {
	orgs, err := s.reg.ListOrgs(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, o := range orgs {
		names[o.Code] = o.Name
	}
	var out []VillageChoice
	for _, o := range orgs {
		if o.Level == org.Village && !o.Retired {
			out = append(out, VillageChoice{Code: o.Code, Name: o.Name, Township: names[o.Code[:9]]})
		}
	}
	slices.SortFunc(out, func(a, b VillageChoice) int { return strings.Compare(a.Code, b.Code) })
	return out, nil
}
