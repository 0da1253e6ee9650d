package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// Art. 20: a re-birth qualification obtained by a false commitment is
// cancelled and the record goes to the social credit system (社会征信).
// The county records its finding (the day and the reason) with the
// revocation; CreditReport is the file the county hands over
// (docs/credit-export.md).

// ErrFindingDate: the day of a finding is not a date, lies in the future
// or before the card was applied for.
var ErrFindingDate = errors.New("the finding date must be a day between the application and today (YYYY-MM-DD)")

// revoke records the finding and revokes the card in one transaction.
func (s *Service) revoke(ctx context.Context, a Actor, c *card.Card, reason, note, foundOn string) error {
	today := s.Now().In(China).Format("2006-01-02")
	if foundOn == "" {
		foundOn = today
	}
	d, err := time.ParseInLocation("2006-01-02", foundOn, China)
	if err != nil || foundOn > today || d.Format("2006-01-02") < c.CreatedAt.In(China).Format("2006-01-02") {
		return fmt.Errorf("%w: %q", ErrFindingDate, foundOn)
	}
	ev := s.event(a, audit.CardRevoke, c.ID, reason, map[string]any{"note": note, "found_on": foundOn})
	return s.reg.Revoke(ctx, c.ID, card.Finding{
		CountyCode: c.CountyCode, FoundOn: foundOn, Reason: reason, Note: note, RecordedBy: a.Username,
	}, ev)
}

// CreditRow is one revoked card in the social credit file: the finding,
// the card and the couple (full names and ID numbers: the file identifies
// who made the false commitment).
type CreditRow struct {
	Finding   card.Finding
	Card      card.Card
	Applicant *card.Applicant
}

// CreditReport lists the county's revoked cards with their findings, by
// date of finding; county staff only. Every report is an audit event.
func (s *Service) CreditReport(ctx context.Context, a Actor) ([]CreditRow, error) {
	if err := Allowed(a, nil, ExportCredit); err != nil {
		return nil, err
	}
	fs, err := s.reg.Findings(ctx, a.Org.Code)
	if err != nil {
		return nil, err
	}
	out := make([]CreditRow, 0, len(fs))
	for _, f := range fs {
		c, err := s.reg.GetCard(ctx, f.CardID)
		if err != nil {
			return nil, err
		}
		if c.Status != card.StatusRevoked {
			continue
		}
		app, err := s.Applicant(&c)
		if err != nil {
			return nil, err
		}
		out = append(out, CreditRow{Finding: f, Card: c, Applicant: app})
	}
	ev := s.event(a, audit.CreditExport, "", "", map[string]any{"county": a.Org.Code, "cards": len(out)})
	if _, err := s.reg.AppendAudit(ctx, ev); err != nil {
		return nil, err
	}
	return out, nil
}
