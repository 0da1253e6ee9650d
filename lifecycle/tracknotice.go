package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// Art. 11 and 19 for the citizen: the written reasons of a refusal and
// the one-time notice reach the applicant through the tracking check
// (application number and a spouse's ID number, with the holder
// throttle, Track), not only on paper at the counter.

// NoticeInfo is a notice as the applicant learns of it (no PDF).
type NoticeInfo struct {
	Seq    int
	Kind   card.NoticeKind
	Number string
	Date   string // YYYY-MM-DD, China time
}

// ApplicantNotices are the notices and refusal reasons of an application
// as its applicant sees them.
type ApplicantNotices struct {
	Notices []NoticeInfo
	// Reasons of the refusal (Art. 11), as the refusal notice prints
	// them; nil unless refused.
	Reasons []string
	// StatusReason and StatusNote of a void, revocation or re-issue:
	// the holder's, never the public's (Art. 13).
	StatusReason, StatusNote string
	// Postings are the holder's requests for the official card
	// (Art. 16), without their addresses.
	Postings []card.Posting
}

// applicantNotices gathers what Track adds for the applicant.
func (s *Service) applicantNotices(ctx context.Context, c *card.Card) (*ApplicantNotices, error) {
	ns, err := s.reg.Notices(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	out := &ApplicantNotices{}
	for _, n := range ns {
		out.Notices = append(out.Notices, NoticeInfo{Seq: n.Seq, Kind: n.Kind, Number: n.Number, Date: n.CreatedAt.In(China).Format("2006-01-02")})
	}
	if out.Postings, err = s.reg.Postings(ctx, c.ID); err != nil {
		return nil, err
	}
	for i := range out.Postings {
		out.Postings[i].Address = nil
	}
	switch c.Status {
	case card.StatusRefused:
		evs, err := s.reg.AuditEvents(ctx, c.ID, 1000)
		if err != nil {
			return nil, err
		}
		for _, e := range evs { // newest first
			if e.Action != audit.CardRefuse {
				continue
			}
			var d struct{ Reasons []string }
			if err := json.Unmarshal(e.Detail, &d); err != nil {
				return nil, fmt.Errorf("refusal of card %s: %w", c.ID, err)
			}
			out.Reasons = d.Reasons
			break
		}
	case card.StatusVoided, card.StatusRevoked, card.StatusSuperseded:
		out.StatusReason, out.StatusNote = c.StatusReason, c.StatusNote
	}
	return out, nil
}

// TrackNotices is Track with the application's notices and refusal
// reasons: what the applicant proved to be one of the couple learns.
func (s *Service) TrackNotices(ctx context.Context, number, idNumber, remote string) (*Application, *ApplicantNotices, error) {
	ap, err := s.Track(ctx, number, idNumber, remote)
	if err != nil {
		return nil, nil, err
	}
	ns, err := s.applicantNotices(ctx, ap.Card)
	if err != nil {
		return nil, nil, err
	}
	return ap, ns, nil
}

// TrackNotice gives the applicant notice seq of the application (the
// sealed PDF), checked like Track; every download is audited.
func (s *Service) TrackNotice(ctx context.Context, number, idNumber, remote string, seq int) (*card.Notice, error) {
	ap, err := s.Track(ctx, number, idNumber, remote)
	if err != nil {
		return nil, err
	}
	n, err := s.reg.GetNotice(ctx, ap.Card.ID, seq)
	if errors.Is(err, card.ErrNotFound) {
		return nil, fmt.Errorf("notice %d of %s: %w", seq, number, err)
	} else if err != nil {
		return nil, err
	}
	ev := audit.Event{Actor: "public", Action: audit.NoticeDownload, CardID: ap.Card.ID, Reason: string(n.Kind), RemoteAddr: remote}
	ev.Detail, _ = json.Marshal(map[string]any{"number": n.Number})
	if _, err := s.reg.AppendAudit(ctx, ev); err != nil {
		return nil, err
	}
	return &n, nil
}
