package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// Simultaneous review (网上同时审核, Art. 15): an application is in the
// queues of its village, township and county at once; each level records
// its approval whenever it likes, and the platform applies that level's
// seal as soon as the level below has sealed (逐级加盖电子印章), so the
// card is issued the moment the last approval is in. A change of the
// application after an approval cancels it, and the approver is told.

// ErrApproved: the actor's level has approved the card already; its seal
// follows the lower level's.
var ErrApproved = errors.New("this level has approved the card already")

// Approve records the actor's level's approval of a card (ApproveCard).
// When it is the level's turn the seal is applied at once (as Seal);
// otherwise the approval waits for the level below, and whatever seals
// can follow now are applied. The caller confirmed the password, as for
// a seal.
func (s *Service) Approve(ctx context.Context, a Actor, id string) (*card.Card, error) {
	c, err := s.card(ctx, a, id, ApproveCard)
	if err != nil {
		return nil, err
	}
	if c.NextLevel == a.Org.Level {
		return s.Seal(ctx, a, id)
	}
	at := s.Now()
	ap := card.Approval{CardID: id, Level: a.Org.Level, OrgCode: a.Org.Code, ByUser: a.Username, ApprovedAt: at}
	ev := s.event(a, audit.CardApprove, id, Reason(a.Org.Level), map[string]any{
		"level": a.Org.Level, "approved_at": at.UTC().Format(time.RFC3339Nano), "awaiting": c.NextLevel,
	})
	if err := s.reg.Approve(ctx, ap, ev); err != nil {
		switch {
		case errors.Is(err, card.ErrDuplicate):
			return nil, fmt.Errorf("%w: %w", ErrApproved, err)
		case errors.Is(err, card.ErrConflict):
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
		return nil, err
	}
	return s.advance(ctx, a, id)
}

// advance applies the seals of the approvals in force whose level's turn
// it is, one level after another, and returns the card as it then is.
// trigger is who caused it (a seal of the level below, or an approval).
// A seal the rules no longer allow (the approver's organisation retired,
// a voided re-birth card of the couple) is not applied: the approval
// stays, and the card waits for that level.
func (s *Service) advance(ctx context.Context, trigger Actor, id string) (*card.Card, error) {
	for range 2 * len(org.Levels) {
		c, err := s.reg.GetCard(ctx, id)
		if err != nil {
			return nil, err
		}
		if c.Status != card.StatusDraft {
			return &c, nil
		}
		aps, err := s.reg.Approvals(ctx, id)
		if err != nil {
			return nil, err
		}
		var ap *card.Approval
		for i := range aps {
			if aps[i].Level == c.NextLevel && aps[i].InForce() {
				ap = &aps[i]
			}
		}
		if ap == nil {
			return &c, nil
		}
		o, err := s.reg.GetOrg(ctx, ap.OrgCode)
		if err != nil {
			return nil, err
		}
		by := Actor{Username: ap.ByUser, Org: o, RemoteAddr: trigger.RemoteAddr}
		if Allowed(by, &c, SealCard) != nil {
			return &c, nil
		}
		switch err := s.applySeal(ctx, by, &c, ap.ApprovedAt, trigger.Username, nil); {
		case errors.Is(err, card.ErrConflict):
			continue // another request moved the card: look again
		case errors.Is(err, ErrRebirthBlocked):
			return &c, nil
		case err != nil:
			return nil, err
		}
	}
	c, err := s.reg.GetCard(ctx, id)
	return &c, err
}

// ReviewState is where one level stands on a draft.
type ReviewState string

const (
	ReviewPending  ReviewState = "pending"  // 待审
	ReviewApproved ReviewState = "approved" // 已同意待盖章
	ReviewSealed   ReviewState = "sealed"   // 已盖章
)

// Label is the state as staff read it.
func (r ReviewState) Label() string {
	switch r {
	case ReviewApproved:
		return "已同意待盖章"
	case ReviewSealed:
		return "已盖章"
	}
	return "待审"
}

// LevelReview is one level's state on a card: who approved it and when,
// when its seal was signed, and whether an approval was cancelled
// because the application changed after it.
type LevelReview struct {
	Level      org.Level
	State      ReviewState
	OrgCode    string
	ApprovedBy string
	ApprovedAt time.Time
	SealedAt   time.Time
	// Cancelled: the level's last approval was cancelled by a change of
	// the application (and the level has not approved again).
	Cancelled   bool
	CancelledAt time.Time
}

// Review returns the state of every level, village first, on a card the
// actor may read.
func (s *Service) Review(ctx context.Context, a Actor, c *card.Card) ([]LevelReview, error) {
	if err := Allowed(a, c, ReadCard); err != nil {
		return nil, err
	}
	seals, err := s.reg.Seals(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	aps, err := s.reg.Approvals(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]LevelReview, len(org.Levels))
	for i, l := range org.Levels {
		r := LevelReview{Level: l, State: ReviewPending}
		for _, ap := range aps {
			if ap.Level != l {
				continue
			}
			r.OrgCode, r.ApprovedBy, r.ApprovedAt = ap.OrgCode, ap.ByUser, ap.ApprovedAt
			if ap.InForce() {
				r.State = ReviewApproved
			} else {
				r.Cancelled, r.CancelledAt = true, ap.CancelledAt
			}
		}
		for _, x := range seals {
			if x.Level == l {
				r.State, r.OrgCode, r.SealedAt, r.Cancelled = ReviewSealed, x.OrgCode, x.SignedAt, false
				r.ApprovedBy, r.ApprovedAt = x.ApprovedBy, x.ApprovedAt
				if r.ApprovedBy == "" {
					r.ApprovedBy, r.ApprovedAt = x.ByUser, x.SignedAt
				}
			}
		}
		out[i] = r
	}
	return out, nil
}

// unapproved records, after a change of the application, the approvals
// the change cancelled: one event per approval, naming its approver, so
// that the approver is told (the queue shows it too).
func (s *Service) unapproved(ctx context.Context, a Actor, id string, before []card.Approval) error {
	after, err := s.reg.Approvals(ctx, id)
	if err != nil {
		return err
	}
	for _, ap := range after {
		if ap.InForce() {
			continue
		}
		was := false
		for _, b := range before {
			was = was || (b.Level == ap.Level && b.InForce() && b.ApprovedAt.Equal(ap.ApprovedAt))
		}
		if !was {
			continue
		}
		ev := s.event(a, audit.CardUnapprove, id, "", map[string]any{
			"level": ap.Level, "approved_by": ap.ByUser, "org": ap.OrgCode,
			"approved_at": ap.ApprovedAt.UTC().Format(time.RFC3339Nano),
		})
		if _, err := s.reg.AppendAudit(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}
