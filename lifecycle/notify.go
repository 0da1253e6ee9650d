package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/templates"
)

// The written notices of an application: the one-time notice of what is
// missing (一次性告知书, Art. 19) and the refusal (不予办理告知书, Art. 11),
// each sealed by the organisation that gives it.

// Bounds of a refusal's reasons: what the printed notice holds.
const (
	MaxReasons     = 20
	MaxReasonChars = 200
)

// ErrNoticeGiven: the one missing-materials notice of this application
// was already given and the application has not changed (Art. 19).
var ErrNoticeGiven = errors.New("the one-time notice of this application was already given (Art. 19)")

// draft returns a card the actor may do act to, with its application.
func (s *Service) draft(ctx context.Context, a Actor, id string, act Action) (*card.Card, *card.Applicant, error) {
	c, err := s.card(ctx, a, id, act)
	if err != nil {
		return nil, nil, err
	}
	app, err := s.Applicant(c)
	if err != nil {
		return nil, nil, err
	}
	return c, app, nil
}

// Notify gives the one-time notice (一次性告知书, Art. 19) of an
// incomplete application: every missing material, sealed by the actor's
// organisation. One notice per application: a second one while the
// application is unchanged is ErrNoticeGiven.
func (s *Service) Notify(ctx context.Context, a Actor, id string) (*card.Notice, error) {
	c, app, err := s.draft(ctx, a, id, GiveNotice)
	if err != nil {
		return nil, err
	}
	digest, err := ApplicationDigest(app)
	if err != nil {
		return nil, err
	}
	prev, err := s.reg.Notices(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, n := range prev {
		if n.Kind == card.NoticeMissing && n.AppDigest == digest {
			return nil, ErrNoticeGiven
		}
	}
	now := s.Now()
	dl := DeadlineOf(s.WorkCalendar(), c, now) // not running: the file is incomplete
	number := NoticeNumber(c.Number, len(prev)+1)
	d, err := MissingNotice(app, a.Org, number, now, dl)
	if err != nil {
		return nil, err
	}
	later, err := s.laterNoticeItems(ctx, c, app, prev) // Art. 19: one-time
	if err != nil {
		return nil, err
	}
	if later != nil {
		d.Items = itemsOf(app, later)
	}
	n, err := s.sealNotice(a, c, d, card.NoticeMissing, digest, now)
	if err != nil {
		return nil, err
	}
	named := app.MissingMaterials()
	if later != nil {
		named = later
	}
	ev := s.event(a, audit.CardNotice, id, "", map[string]any{"number": number, "missing": named, "limit": dl.Limit})
	if err := s.reg.AddNotice(ctx, n, "", "", ev); err != nil {
		if errors.Is(err, card.ErrDuplicate) {
			return nil, fmt.Errorf("%w: %w", ErrNoticeGiven, err)
		}
		return nil, err
	}
	return n, nil
}

// Refuse refuses an application in writing (不予办理告知书, Art. 11): the
// reasons, sealed by the actor's organisation; the card becomes refused
// (from draft only).
func (s *Service) Refuse(ctx context.Context, a Actor, id string, reasons []string) (*card.Notice, error) {
	c, app, err := s.draft(ctx, a, id, RefuseCard)
	if err != nil {
		return nil, err
	}
	if len(reasons) == 0 || len(reasons) > MaxReasons {
		return nil, fmt.Errorf("%w: 1 to %d reasons", ErrReason, MaxReasons)
	}
	for _, r := range reasons {
		// Each reason is one item of the printed notice.
		if strings.TrimSpace(r) == "" || utf8.RuneCountInString(r) > MaxReasonChars {
			return nil, &card.FieldError{Field: "reasons", Reason: fmt.Sprintf("each reason has 1 to %d characters", MaxReasonChars)}
		}
		if err := card.CheckText("reasons", r); err != nil {
			return nil, err
		}
	}
	digest, err := ApplicationDigest(app)
	if err != nil {
		return nil, err
	}
	prev, err := s.reg.Notices(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	number := NoticeNumber(c.Number, len(prev)+1)
	d, err := RefusalNotice(app, a.Org, number, reasons, now)
	if err != nil {
		return nil, err
	}
	n, err := s.sealNotice(a, c, d, card.NoticeRefusal, digest, now)
	if err != nil {
		return nil, err
	}
	ev := s.event(a, audit.CardRefuse, id, "refused", map[string]any{"number": number, "reasons": reasons})
	if err := s.reg.AddNotice(ctx, n, card.StatusRefused, "refused", ev); err != nil {
		if errors.Is(err, card.ErrConflict) {
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
		return nil, err
	}
	return n, nil
}

func (s *Service) sealNotice(a Actor, c *card.Card, d *templates.NoticeData, kind card.NoticeKind, digest string, at time.Time) (*card.Notice, error) {
	// Every notice names the complaint hotline (Art. 18, 24).
	if d.Hotline == "" {
		d.Hotline = s.HotlineNumber()
	}
	pdf, err := templates.RenderNotice(d)
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealer.SealNotice(pdf, a.Org, d.Number, at)
	if err != nil {
		return nil, err
	}
	return &card.Notice{CardID: c.ID, Kind: kind, Number: d.Number, AppDigest: digest, OrgCode: a.Org.Code, PDF: sealed, CreatedBy: a.Username}, nil
}

// Notice returns a notice of a card the actor may read.
func (s *Service) Notice(ctx context.Context, a Actor, id string, seq int) (*card.Notice, error) {
	if _, err := s.card(ctx, a, id, ReadCard); err != nil {
		return nil, err
	}
	n, err := s.reg.GetNotice(ctx, id, seq)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// Notices returns the notices (without PDFs) of a card the actor may
// read.
func (s *Service) Notices(ctx context.Context, a Actor, c *card.Card) ([]card.Notice, error) {
	if err := Allowed(a, c, ReadCard); err != nil {
		return nil, err
	}
	return s.reg.Notices(ctx, c.ID)
}
