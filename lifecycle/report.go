package lifecycle

import (
	"context"
	"fmt"
	"strings"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// Reports for staff: the Art. 19 time limit of a draft, the overdue
// report (Art. 19, 24) and the export for the population database
// (Art. 23). Each read of many applicants is one audit event (Art. 13).

// pageSize is the page the reports read the registry in.
const pageSize = 500

// Deadline returns a draft card's Art. 19 time limit today.
func (s *Service) Deadline(c *card.Card) Deadline {
	return DeadlineOf(s.WorkCalendar(), c, s.Now())
}

// Overdue is one application past its Art. 19 time limit.
type Overdue struct {
	Card     card.Card
	Deadline Deadline
}

// OverdueReport lists the draft applications of the actor's jurisdiction
// whose time limit has passed (Art. 19, 24), oldest first.
func (s *Service) OverdueReport(ctx context.Context, a Actor) ([]Overdue, error) {
	if err := Allowed(a, nil, ReadReports); err != nil {
		return nil, err
	}
	var out []Overdue
	err := s.pages(ctx, card.Filter{Statuses: []card.Status{card.StatusDraft}, CodePrefix: a.Org.Code}, func(c *card.Card) error {
		if d := s.Deadline(c); d.Overdue() {
			out = append(out, Overdue{Card: *c, Deadline: d})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.reg.AppendAudit(ctx, s.event(a, audit.ReportOverdue, "", "", map[string]any{"overdue": len(out)})); err != nil {
		return nil, err
	}
	return out, nil
}

// ExportRow is one card for the population database (Art. 23): issued,
// voided, revoked or superseded (Card.Status says which).
type ExportRow struct {
	Card      card.Card
	Applicant *card.Applicant
}

// Exported are the statuses of the export: every card that was issued,
// with the status it has now (Art. 23: the population database learns of
// the voided, revoked and superseded cards too).
var Exported = []card.Status{card.StatusIssued, card.StatusVoided, card.StatusRevoked, card.StatusSuperseded}

// Export calls fn with every issued (or since ended) card of the actor's
// jurisdiction, a page at a time, with its decrypted application, and
// records the export as one audit event (Art. 13, 23).
func (s *Service) Export(ctx context.Context, a Actor, format string, fn func(ExportRow) error) (int, error) {
	return s.ExportWithin(ctx, a, format, "", fn)
}

// ExportWithin is Export limited to the part of the actor's jurisdiction
// under division code within ("" for all of it); a code outside the
// jurisdiction is ErrForbidden (Allowed decides).
func (s *Service) ExportWithin(ctx context.Context, a Actor, format, within string, fn func(ExportRow) error) (int, error) {
	if within == "" {
		within = a.Org.Code
	}
	if l := len(within); (l != org.County.CodeLen() && l != org.Township.CodeLen() && l != org.Village.CodeLen()) || strings.Trim(within, "0123456789") != "" {
		return 0, fmt.Errorf("%w: export within %q", org.ErrBadCode, within)
	}
	n, after := 0, ""
	for {
		page, err := s.exportPageWithin(ctx, a, within, after, pageSize)
		if err != nil {
			return n, err
		}
		for _, r := range page {
			n++
			if err := fn(r); err != nil {
				return n, err
			}
		}
		if len(page) < pageSize {
			break
		}
		after = page[len(page)-1].Card.ID
	}
	_, err := s.reg.AppendAudit(ctx, s.event(a, audit.CardsExport, "", "", map[string]any{"format": format, "county": org.CountyCode(a.Org.Code), "within": within, "cards": n}))
	return n, err
}

// exportPage is one page of Export: up to limit issued cards of the
// actor's county after the card with ID after ("": from the first), with
// their decrypted applications. Its cost does not grow with the registry
// (BenchmarkScale).
func (s *Service) exportPage(ctx context.Context, a Actor, after string, limit int) ([]ExportRow, error) {
	return s.exportPageWithin(ctx, a, a.Org.Code, after, limit)
}

func (s *Service) exportPageWithin(ctx context.Context, a Actor, within, after string, limit int) ([]ExportRow, error) {
	if err := Allowed(a, &card.Card{VillageCode: within}, ExportCards); err != nil {
		return nil, err
	}
	f := card.Filter{Statuses: Exported, CountyCode: org.CountyCode(within), AfterID: after, Limit: limit}
	if len(within) > org.County.CodeLen() {
		f.CodePrefix = within
	}
	page, err := s.reg.ListCards(ctx, f)
	if err != nil {
		return nil, err
	}
	rows := make([]ExportRow, len(page))
	for i := range page {
		app, err := s.Applicant(&page[i])
		if err != nil {
			return nil, err
		}
		rows[i] = ExportRow{Card: page[i], Applicant: app}
	}
	return rows, nil
}

// pages calls fn with every card matching f, a page at a time.
func (s *Service) pages(ctx context.Context, f card.Filter, fn func(*card.Card) error) error {
	f.Limit = pageSize
	for {
		page, err := s.reg.ListCards(ctx, f)
		if err != nil {
			return err
		}
		for i := range page {
			if err := fn(&page[i]); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
		f.AfterID = page[len(page)-1].ID
	}
}
