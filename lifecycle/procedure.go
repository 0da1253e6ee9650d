package lifecycle

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/workday"
)

// The procedure of the rules around a card: the one-time notice (Art. 19),
// the refusal (Art. 11), deadlines and the overdue report (Art. 19, 24),
// the re-birth approval form (Art. 17), online applications by citizens
// (Art. 15, 16), the export for the population database (Art. 23) and the
// cached status list.

var (
	// ErrNoticeGiven: the one missing-materials notice of this application
	// was already given and the application has not changed (Art. 19).
	ErrNoticeGiven = errors.New("the one-time notice of this application was already given (Art. 19)")
	// ErrNotRebirth: a re-birth approval form needs a re-birth application.
	ErrNotRebirth = errors.New("not a re-birth application")
)

// CitizenActor is the actor name of online applications without an
// account (Art. 15, 16).
const CitizenActor = "citizen"

// WorkCalendar is the working-day calendar of the Art. 19 time limits.
func (s *Service) WorkCalendar() *workday.Calendar { return s.calendar() }

func (s *Service) calendar() *workday.Calendar {
	if s.Calendar != nil {
		return s.Calendar
	}
	return workday.Default()
}

// Deadline returns a draft card's Art. 19 time limit today.
func (s *Service) Deadline(c *store.Card) (Deadline, error) {
	app, err := s.Applicant(c)
	if err != nil {
		return Deadline{}, err
	}
	return DeadlineOf(s.calendar(), c, app, s.Now()), nil
}

// draftFor returns a draft card within the actor's jurisdiction and its
// application.
func (s *Service) draftFor(ctx context.Context, a Actor, id string) (*store.Card, *card.Applicant, error) {
	c, err := s.Store.GetCard(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if !CanSee(a, &c) {
		return nil, nil, fmt.Errorf("%w: card of village %s", ErrForbidden, c.VillageCode)
	}
	if c.Status != store.StatusDraft {
		return nil, nil, fmt.Errorf("%w: card is %s", ErrState, c.Status)
	}
	app, err := s.Applicant(&c)
	if err != nil {
		return nil, nil, err
	}
	return &c, app, nil
}

// Notify gives the one-time notice (一次性告知书, Art. 19) of an
// incomplete application: every missing material, sealed by the actor's
// organisation (which received it). One notice per application: a second
// one while the application is unchanged is ErrNoticeGiven.
func (s *Service) Notify(ctx context.Context, a Actor, id string) (*store.Notice, error) {
	c, app, err := s.draftFor(ctx, a, id)
	if err != nil {
		return nil, err
	}
	digest, err := ApplicationDigest(app)
	if err != nil {
		return nil, err
	}
	prev, err := s.Store.Notices(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, n := range prev {
		if n.Kind == store.NoticeMissing && n.AppDigest == digest {
			return nil, ErrNoticeGiven
		}
	}
	now := s.Now()
	dl := DeadlineOf(s.calendar(), c, app, now)
	number := NoticeNumber(c.Number, len(prev)+1)
	d, err := MissingNotice(s.Keys, app, a.Org.Code, number, now, dl.Due)
	if err != nil {
		return nil, err
	}
	n, err := s.sealNotice(ctx, a, c, d, store.NoticeMissing, digest, now)
	if err != nil {
		return nil, err
	}
	ev := s.event(a, "card.notice", id, "", map[string]any{"number": number, "missing": app.MissingMaterials(), "due": dl.Due.Format("2006-01-02")})
	if err := s.Store.AddNotice(ctx, n, "", "", ev); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, fmt.Errorf("%w: %w", ErrNoticeGiven, err)
		}
		return nil, err
	}
	return n, nil
}

// UpdateMaterials records how each required material of a draft
// application is now satisfied (a material arrived, was found in the
// population database, or is covered by the commitment). The application
// changes, so a new one-time notice may be given for what is still
// missing (Art. 19).
func (s *Service) UpdateMaterials(ctx context.Context, a Actor, id string, materials map[card.Material]card.MaterialState) (*store.Card, error) {
	c, app, err := s.draftFor(ctx, a, id)
	if err != nil {
		return nil, err
	}
	app.Materials = materials
	if err := app.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(app)
	if err != nil {
		return nil, err
	}
	priv, err := s.privacy()
	if err != nil {
		return nil, err
	}
	ev := s.event(a, "card.materials", id, "", map[string]any{"materials": materials, "commitment": app.Commitment})
	if err := s.Store.UpdateApplicant(ctx, c.ID, priv.seal(c.ID, b), ev); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
		return nil, err
	}
	n, err := s.Store.GetCard(ctx, id)
	return &n, err
}

// Refuse refuses an application in writing (不予办理告知书, Art. 11): the
// reasons, sealed by the actor's organisation; the card becomes refused
// (from draft only).
func (s *Service) Refuse(ctx context.Context, a Actor, id string, reasons []string) (*store.Notice, error) {
	c, app, err := s.draftFor(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if len(reasons) > 20 {
		return nil, fmt.Errorf("%w: at most 20 reasons", ErrReason)
	}
	for _, r := range reasons {
		if len(r) > 500 {
			return nil, fmt.Errorf("%w: a reason longer than 500 bytes", ErrReason)
		}
	}
	digest, err := ApplicationDigest(app)
	if err != nil {
		return nil, err
	}
	prev, err := s.Store.Notices(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	number := NoticeNumber(c.Number, len(prev)+1)
	d, err := RefusalNotice(s.Keys, app, a.Org.Code, number, reasons, now)
	if err != nil {
		return nil, err
	}
	n, err := s.sealNotice(ctx, a, c, d, store.NoticeRefusal, digest, now)
	if err != nil {
		return nil, err
	}
	ev := s.event(a, "card.refuse", id, "refused", map[string]any{"number": number, "reasons": reasons})
	if err := s.Store.AddNotice(ctx, n, store.StatusRefused, "refused", ev); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
		return nil, err
	}
	return n, nil
}

func (s *Service) sealNotice(ctx context.Context, a Actor, c *store.Card, d *templates.NoticeData, kind store.NoticeKind, digest string, at time.Time) (*store.Notice, error) {
	if err := CheckActive(ctx, s.Store, a.Org.Code); err != nil {
		return nil, err
	}
	pdf, err := templates.RenderNotice(d)
	if err != nil {
		return nil, err
	}
	sealed, err := s.Sealer.SealNotice(pdf, a.Org.Code, d.Number, at)
	if err != nil {
		return nil, err
	}
	return &store.Notice{CardID: c.ID, Kind: kind, Number: d.Number, AppDigest: digest, OrgCode: a.Org.Code, PDF: sealed, CreatedBy: a.Username}, nil
}

// Notice returns a notice of a card the actor may see.
func (s *Service) Notice(ctx context.Context, a Actor, id string, seq int) (*store.Notice, error) {
	c, err := s.Store.GetCard(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CanSee(a, &c) {
		return nil, fmt.Errorf("%w: card of village %s", ErrForbidden, c.VillageCode)
	}
	n, err := s.Store.GetNotice(ctx, id, seq)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// Overdue is one application past its Art. 19 time limit.
type Overdue struct {
	Card     store.Card
	Deadline Deadline
}

// OverdueReport lists the draft applications of the actor's jurisdiction
// whose time limit has passed (Art. 19, 24), oldest first.
func (s *Service) OverdueReport(ctx context.Context, a Actor) ([]Overdue, error) {
	var out []Overdue
	after := ""
	for {
		page, err := s.Store.ListCards(ctx, store.CardFilter{Statuses: []store.Status{store.StatusDraft}, CodePrefix: a.Org.Code, AfterID: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		for i := range page {
			d, err := s.Deadline(&page[i])
			if err != nil {
				return nil, err
			}
			if d.Overdue() {
				out = append(out, Overdue{Card: page[i], Deadline: d})
			}
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	if _, err := s.Store.AppendAudit(ctx, s.event(a, "report.overdue", "", "", map[string]any{"overdue": len(out)})); err != nil {
		return nil, err
	}
	return out, nil
}

// ExportRow is one issued card for the population database (Art. 23).
type ExportRow struct {
	Card      store.Card
	Applicant *card.Applicant
}

// Export calls fn with every issued card of the actor's county, paged
// through the store, with its decrypted application, and records the
// export as one audit event (Art. 13, 23). Only county staff export.
func (s *Service) Export(ctx context.Context, a Actor, format string, fn func(ExportRow) error) (int, error) {
	if a.Org.Level != keys.County {
		return 0, fmt.Errorf("%w: only county staff export", ErrForbidden)
	}
	n, after := 0, ""
	for {
		page, err := s.Store.ListCards(ctx, store.CardFilter{Statuses: []store.Status{store.StatusIssued}, CountyCode: a.Org.Code, AfterID: after, Limit: 500})
		if err != nil {
			return n, err
		}
		for i := range page {
			app, err := s.Applicant(&page[i])
			if err != nil {
				return n, err
			}
			if err := fn(ExportRow{Card: page[i], Applicant: app}); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	_, err := s.Store.AppendAudit(ctx, s.event(a, "cards.export", "", "", map[string]any{"format": format, "county": a.Org.Code, "cards": n}))
	return n, err
}

// CreateRebirthForm draws up the re-birth approval form (再生育审批表,
// Art. 17) of a pre-reviewed re-birth application; county staff of the
// card's county only. One form per application.
func (s *Service) CreateRebirthForm(ctx context.Context, a Actor, id, reason, conditions string) (*store.Form, error) {
	if a.Org.Level != keys.County {
		return nil, fmt.Errorf("%w: the county draws up the re-birth approval form", ErrForbidden)
	}
	c, app, err := s.draftFor(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if app.Type != card.Rebirth {
		return nil, fmt.Errorf("%w: %w", ErrState, ErrNotRebirth)
	}
	d, err := NewRebirthForm(s.Keys, app, RebirthFormNumber(c.Number), reason, conditions, nil, s.Now())
	if err != nil {
		return nil, err
	}
	pdf, err := templates.RenderRebirthForm(d)
	if err != nil {
		return nil, err
	}
	fid, err := store.NewCardID()
	if err != nil {
		return nil, err
	}
	f := &store.Form{ID: fid, CardID: id, Number: d.Number, PDF: pdf, CreatedBy: a.Username}
	if err := s.Store.CreateForm(ctx, f, s.event(a, "form.create", id, "", map[string]any{"form": fid, "number": d.Number})); err != nil {
		return nil, err
	}
	return f, nil
}

// SealForm applies the actor's organisation's seal to a re-birth approval
// form: any order (the county first, village and township afterwards,
// 补盖), each level once, within the card's jurisdiction.
func (s *Service) SealForm(ctx context.Context, a Actor, formID string) (*store.Form, error) {
	f, err := s.Form(ctx, a, formID)
	if err != nil {
		return nil, err
	}
	if err := CheckActive(ctx, s.Store, a.Org.Code); err != nil {
		return nil, err
	}
	sealed, err := s.Sealer.SealRebirthForm(f.PDF, a.Org.Code, f.Number, s.Now())
	if err != nil {
		return nil, err
	}
	ev := s.event(a, "form.seal", f.CardID, Reason(a.Org.Level), map[string]any{"form": f.ID, "level": a.Org.Level, "seq": f.Seq + 1})
	if err := s.Store.UpdateForm(ctx, f.ID, f.Seq, sealed, ev); err != nil {
		return nil, err
	}
	g, err := s.Store.GetForm(ctx, f.ID)
	return &g, err
}

// Form returns a form whose card the actor may see.
func (s *Service) Form(ctx context.Context, a Actor, formID string) (*store.Form, error) {
	f, err := s.Store.GetForm(ctx, formID)
	if err != nil {
		return nil, err
	}
	c, err := s.Store.GetCard(ctx, f.CardID)
	if err != nil {
		return nil, err
	}
	if !CanSee(a, &c) {
		return nil, fmt.Errorf("%w: form of village %s", ErrForbidden, c.VillageCode)
	}
	return &f, nil
}

// Upload is one material photographed or scanned at home (Art. 16),
// already type-checked by the caller.
type Upload struct {
	Material    card.Material
	ContentType string
	Data        []byte
}

// ApplyOnline records a citizen's online application without an account
// (Art. 15, 16): as if received by the village it names, which sees it in
// its queue; the uploads are stored encrypted (SM4-GCM, bound to the card
// and their position). It returns the card, whose number is the
// application number.
func (s *Service) ApplyOnline(ctx context.Context, app *card.Applicant, uploads []Upload, remote string) (*store.Card, error) {
	if err := app.Validate(); err != nil {
		return nil, err
	}
	if app.Channel != card.ChannelSelf && app.Channel != card.ChannelProxy {
		return nil, fmt.Errorf("%w: channel: an online application comes from the couple or their proxy", card.ErrInvalid)
	}
	v, err := s.Keys.Org(app.Village)
	if err != nil {
		return nil, err
	}
	if v.Level != keys.Village {
		return nil, fmt.Errorf("%w: %s is not a village", keys.ErrUnknownOrg, app.Village)
	}
	c, err := s.Apply(ctx, Actor{Username: CitizenActor, Org: v, RemoteAddr: remote}, app)
	if err != nil {
		return nil, err
	}
	if len(uploads) == 0 {
		return c, nil
	}
	priv, err := s.privacy()
	if err != nil {
		return nil, err
	}
	atts := make([]store.Attachment, len(uploads))
	for i, u := range uploads {
		atts[i] = store.Attachment{
			Material: string(u.Material), ContentType: u.ContentType, Size: len(u.Data),
			Data: priv.seal(attachmentAD(c.ID, i+1), u.Data),
		}
	}
	if err := s.Store.AddAttachments(ctx, c.ID, atts); err != nil {
		return nil, err
	}
	return c, nil
}

func attachmentAD(cardID string, seq int) string { return cardID + "/attachment/" + strconv.Itoa(seq) }

// AttachmentData decrypts an attachment.
func (s *Service) AttachmentData(a *store.Attachment) ([]byte, error) {
	priv, err := s.privacy()
	if err != nil {
		return nil, err
	}
	return priv.open(attachmentAD(a.CardID, a.Seq), a.Data)
}

// Track finds an application by its number for a citizen who gives one
// spouse's ID number; a wrong ID number is store.ErrNotFound, like an
// unknown number.
func (s *Service) Track(ctx context.Context, number, idNumber string) (*store.Card, *card.Applicant, error) {
	c, err := s.Store.GetCardByNumber(ctx, number)
	if err != nil {
		return nil, nil, err
	}
	app, err := s.Applicant(&c)
	if err != nil {
		return nil, nil, err
	}
	m := subtle.ConstantTimeCompare([]byte(idNumber), []byte(app.Male.IDNumber))
	f := subtle.ConstantTimeCompare([]byte(idNumber), []byte(app.Female.IDNumber))
	if m|f != 1 {
		return nil, nil, fmt.Errorf("track %s: %w", number, store.ErrNotFound)
	}
	return &c, app, nil
}

// statusListCache keeps the signed status list while the registry's
// entries are unchanged and the list is young, so its ETag is stable.
type statusListCache struct {
	mu      sync.Mutex
	entries []byte // fingerprint of the entries
	body    []byte
	at      time.Time
}

// CachedStatusList returns the signed status list, re-signed only when an
// entry changed or half its validity has passed.
func (s *Service) CachedStatusList(ctx context.Context) ([]byte, error) {
	entries, err := s.Store.StatusEntries(ctx)
	if err != nil {
		return nil, err
	}
	h := sm3.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%d:%s\n", e.Index, e.Status)
	}
	fp := h.Sum(nil)
	now := s.Now()
	s.lists.mu.Lock()
	defer s.lists.mu.Unlock()
	if s.lists.body != nil && bytes.Equal(s.lists.entries, fp) && now.Sub(s.lists.at) < StatusListValidity/2 && !now.Before(s.lists.at) {
		return s.lists.body, nil
	}
	body, err := s.StatusList(ctx)
	if err != nil {
		return nil, err
	}
	s.lists.entries, s.lists.body, s.lists.at = fp, body, now
	return body, nil
}

// ETag is the entity tag of a body: the hex SM3 of it, quoted.
func ETag(body []byte) string {
	d := sm3.Sum(body)
	return `"` + hex.EncodeToString(d[:]) + `"`
}
