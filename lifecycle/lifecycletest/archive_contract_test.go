package lifecycletest_test

import (
	"bytes"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// testArchive: an archive revision (issue 17) is refused on a draft, at
// a stale revision, for an unknown card and when empty, and changes
// nothing then; on an issued card it becomes the current revision, the
// earlier ones and the seal records stay, and the event is logged.
func testArchive(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	c := create(t, reg, "220102001001")
	wantErr(t, "draft", reg.AddArchive(ctx, c.ID, 0, []byte("%PDF-archive"), ev(audit.CardArchive)), card.ErrConflict)
	for i, s := range []struct {
		l    org.Level
		code string
		next org.Level
		st   card.Status
	}{{org.Village, "220102001001", org.Township, card.StatusDraft}, {org.Township, "220102001", org.County, card.StatusDraft}, {org.County, "220102", "", card.StatusIssued}} {
		if err := addSeal(reg, c.ID, i, []byte("%PDF-rev"+string(rune('1'+i))), sealOf(s.l, s.code), s.st, s.next, ev(audit.CardSeal)); err != nil {
			t.Fatal(err)
		}
	}
	before := mustGet(t, reg, c.ID)
	wantErr(t, "stale revision", reg.AddArchive(ctx, c.ID, 2, []byte("%PDF-archive"), ev(audit.CardArchive)), card.ErrConflict)
	wantErr(t, "unknown card", reg.AddArchive(ctx, "0000000000000000", 3, []byte("%PDF-archive"), ev(audit.CardArchive)), card.ErrNotFound)
	wantErr(t, "empty PDF", reg.AddArchive(ctx, c.ID, 3, nil, ev(audit.CardArchive)), b.invalid)
	if got := mustGet(t, reg, c.ID); got.Seq != 3 || got.Version != before.Version {
		t.Fatalf("refused archives changed the card: %+v", got)
	}
	if err := reg.AddArchive(ctx, c.ID, 3, []byte("%PDF-archive"), ev(audit.CardArchive)); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, reg, c.ID)
	if got.Seq != 4 || got.Status != card.StatusIssued || got.Version != before.Version+1 {
		t.Fatalf("after the archive: %+v", got)
	}
	if seq, pdf, err := reg.CurrentPDF(ctx, c.ID); err != nil || seq != 4 || !bytes.Equal(pdf, []byte("%PDF-archive")) {
		t.Fatalf("current PDF: %d %q %v", seq, pdf, err)
	}
	if pdf, err := reg.PDF(ctx, c.ID, 3); err != nil || !bytes.Equal(pdf, []byte("%PDF-rev3")) {
		t.Fatalf("revision 3 kept: %q %v", pdf, err)
	}
	if seals, err := reg.Seals(ctx, c.ID); err != nil || len(seals) != 3 {
		t.Fatalf("seals: %d %v", len(seals), err)
	}
	events, err := reg.AuditEvents(ctx, c.ID, 100) // newest first
	if err != nil || len(events) != 5 || events[0].Action != audit.CardArchive {
		t.Fatalf("events: %v %v", events, err)
	}
}
