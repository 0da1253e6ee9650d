package lifecycletest_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/lifecycle/lifecycletest"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
)

// TestContractRules holds the ports of issue 14's procedure rules to the
// same behaviour on the in-memory registry and on the store (SQLite and
// PostgreSQL), as TestContract does for the rest.
func TestContractRules(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		testRulePorts(t, backend{
			open:    func(*testing.T) lifecycle.Registry { return lifecycletest.NewRegistry() },
			invalid: lifecycletest.ErrInvalid,
		})
	})
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		testRulePorts(t, backend{
			open:    func(t *testing.T) lifecycle.Registry { st, _ := open(t); return st },
			invalid: store.ErrInvalid,
		})
	})
}

func testRulePorts(t *testing.T, b backend) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, backend)
	}{
		{"one issued card per couple and type", testOneIssuedCard},
		{"findings and revocation", testFindings},
		{"population extract", testPopulation},
		{"postal requests", testPostings},
		{"pre-review list", testPreReviews},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

// testOneIssuedCard: CreateCard refuses a card whose couple holds an
// issued card of its type (card.ErrHeld), storing nothing, unless the new
// card replaces that one; drafts, other types, other couples and ended
// cards do not count.
func testOneIssuedCard(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	couple := func(c *card.Card, key string, tp card.Type) *card.Card {
		c.CoupleKey, c.Type = key, tp
		return c
	}
	put := func(c *card.Card) error {
		return reg.CreateCard(ctx, c, []byte("%PDF-rev0 "+c.ID), ev(audit.CardCreate))
	}
	const k1, k2 = "0a1b", "0a1c"
	draft := couple(newCard(t, "220102001001"), k1, card.First)
	if err := put(draft); err != nil {
		t.Fatal(err)
	}
	// A draft does not block a second application.
	held := couple(newCard(t, "220102001001"), k1, card.First)
	if err := put(held); err != nil {
		t.Fatalf("second draft: %v", err)
	}
	if err := addSeal(reg, held.ID, 0, []byte("%PDF-1"), sealOf(org.County, "220102"), card.StatusIssued, "", ev(audit.CardSeal)); err != nil {
		t.Fatal(err)
	}
	n := count(t, reg)
	wantErr(t, "a second card of the type", put(couple(newCard(t, "220102002001"), k1, card.First)), card.ErrHeld)
	wantErr(t, "replacing another card", put(func() *card.Card {
		c := couple(newCard(t, "220102001001"), k1, card.First)
		c.Replaces = draft.ID
		return c
	}()), card.ErrHeld)
	if got := count(t, reg); got != n {
		t.Fatalf("%d cards after the refusals, want %d", got, n)
	}
	for _, c := range []*card.Card{
		couple(newCard(t, "220102001001"), k1, card.Second), // another type
		couple(newCard(t, "220102001001"), k2, card.First),  // another couple
		couple(newCard(t, "220102001001"), "", card.First),  // no couple key (older cards)
		func() *card.Card { // the re-issue of the held card
			c := couple(newCard(t, "220102001001"), k1, card.First)
			c.Replaces = held.ID
			return c
		}(),
	} {
		if err := put(c); err != nil {
			t.Fatalf("card %+v: %v", c, err)
		}
		if got := mustGet(t, reg, c.ID); got.Replaces != "" {
			t.Fatalf("Replaces kept: %q", got.Replaces)
		}
	}
	// An ended card holds nothing.
	if err := reg.SetStatus(ctx, held.ID, []card.Status{card.StatusIssued}, card.StatusVoided, "other", "n", "", ev(audit.CardVoid)); err != nil {
		t.Fatal(err)
	}
	if err := put(couple(newCard(t, "220102001001"), k1, card.First)); err != nil {
		t.Fatalf("after the void: %v", err)
	}
}

// testFindings: Revoke moves an issued card to revoked and keeps its
// finding, atomically; a draft or a revoked card is card.ErrConflict and
// nothing is kept; a malformed finding is invalid; Findings lists the
// county's by date of finding. The commitment flag round-trips.
func testFindings(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	issue := func(village string) *card.Card {
		c := newCard(t, village)
		c.Type, c.Commitment = card.Rebirth, true
		if err := reg.CreateCard(ctx, c, []byte("%PDF-rev0 "+c.ID), ev(audit.CardCreate)); err != nil {
			t.Fatal(err)
		}
		if err := addSeal(reg, c.ID, 0, []byte("%PDF-1"), sealOf(org.County, org.CountyCode(village)), card.StatusIssued, "", ev(audit.CardSeal)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b2, other, draft := issue("220102001001"), issue("220102002001"), issue("220103001001"), create(t, reg, "220102001001")
	if got := mustGet(t, reg, a.ID); !got.Commitment || got.Type != card.Rebirth {
		t.Fatalf("commitment not kept: %+v", got)
	}
	if got := mustGet(t, reg, draft.ID); got.Commitment {
		t.Fatal("commitment set on a card without one")
	}
	f := func(county, on string) card.Finding {
		return card.Finding{CountyCode: county, FoundOn: on, Reason: "false_commitment", Note: "经查不实", RecordedBy: "220102"}
	}
	wantErr(t, "revoke a draft", reg.Revoke(ctx, draft.ID, f("220102", "2026-03-01"), ev(audit.CardRevoke)), card.ErrConflict)
	wantErr(t, "malformed date", reg.Revoke(ctx, a.ID, f("220102", "2026-3-1"), ev(audit.CardRevoke)), b.invalid)
	wantErr(t, "unknown card", reg.Revoke(ctx, "0000000000000000", f("220102", "2026-03-01"), ev(audit.CardRevoke)), card.ErrNotFound)
	if got := mustGet(t, reg, a.ID); got.Status != card.StatusIssued {
		t.Fatalf("a refused revocation changed the card: %s", got.Status)
	}
	for _, x := range []struct {
		c  *card.Card
		on string
	}{{b2, "2026-03-02"}, {a, "2026-03-01"}, {other, "2026-03-01"}} {
		if err := reg.Revoke(ctx, x.c.ID, f(x.c.CountyCode, x.on), ev(audit.CardRevoke)); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "second revocation", reg.Revoke(ctx, a.ID, f("220102", "2026-03-01"), ev(audit.CardRevoke)), card.ErrConflict)
	got := mustGet(t, reg, a.ID)
	if got.Status != card.StatusRevoked || got.StatusReason != "false_commitment" || got.StatusNote != "经查不实" || got.Version != 3 {
		t.Fatalf("revoked: %+v", got)
	}
	fs, err := reg.Findings(ctx, "220102")
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].CardID != a.ID || fs[1].CardID != b2.ID || fs[0].FoundOn != "2026-03-01" ||
		fs[0].RecordedBy != "220102" || fs[0].RecordedAt.IsZero() || fs[0].Note != "经查不实" {
		t.Fatalf("findings %+v", fs)
	}
	es, err := reg.StatusEntries(ctx)
	if err != nil || len(es) != 3 {
		t.Fatalf("status entries after revocations: %v %v", es, err)
	}
}

// testPopulation: ReplacePopulation replaces a county's records at once
// (other counties untouched), refuses a repeated key (card.ErrDuplicate)
// and malformed input, keeping what was there; PopulationRecord finds a
// record by county and key, card.ErrNotFound otherwise.
func testPopulation(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	rec := func(k, d string) card.PopulationRecord { return card.PopulationRecord{Key: k, Data: []byte(d)} }
	get := func(county, key string) string {
		t.Helper()
		d, err := reg.PopulationRecord(ctx, county, key)
		if errors.Is(err, card.ErrNotFound) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(d)
	}
	if err := reg.ReplacePopulation(ctx, "220102", []card.PopulationRecord{rec("0a", "one"), rec("0b", "two")}, ev(audit.PopulationImport)); err != nil {
		t.Fatal(err)
	}
	if err := reg.ReplacePopulation(ctx, "220103", []card.PopulationRecord{rec("0a", "other county")}, ev(audit.PopulationImport)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "repeated key", reg.ReplacePopulation(ctx, "220102", []card.PopulationRecord{rec("0c", "x"), rec("0c", "y")}, ev(audit.PopulationImport)), card.ErrDuplicate)
	wantErr(t, "malformed key", reg.ReplacePopulation(ctx, "220102", []card.PopulationRecord{rec("XYZ", "x")}, ev(audit.PopulationImport)), b.invalid)
	wantErr(t, "malformed county", reg.ReplacePopulation(ctx, "2201", nil, ev(audit.PopulationImport)), b.invalid)
	if get("220102", "0a") != "one" || get("220102", "0b") != "two" || get("220102", "0c") != "" || get("220103", "0a") != "other county" {
		t.Fatal("a refused import changed the records")
	}
	if err := reg.ReplacePopulation(ctx, "220102", []card.PopulationRecord{rec("0b", "two again")}, ev(audit.PopulationImport)); err != nil {
		t.Fatal(err)
	}
	if get("220102", "0a") != "" || get("220102", "0b") != "two again" || get("220103", "0a") != "other county" {
		t.Fatal("the import did not replace the county's records only")
	}
}

// testPostings: AddPosting numbers a card's requests and refuses one
// while another is open (card.ErrConflict); UpdatePosting moves a request
// from the given states only; OpenPostings lists the unposted requests of
// a jurisdiction.
func testPostings(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	a, o := create(t, reg, "220102001001"), create(t, reg, "220102002001")
	add := func(c *card.Card) (*card.Posting, error) {
		p := &card.Posting{CardID: c.ID, VillageCode: c.VillageCode, Address: []byte("CS2 sealed address")}
		return p, reg.AddPosting(ctx, p, ev(audit.PostingRequest))
	}
	p1, err := add(a)
	if err != nil || p1.Seq != 1 || p1.State != card.PostingRequested {
		t.Fatalf("first request: %+v %v", p1, err)
	}
	_, err = add(a)
	wantErr(t, "second open request", err, card.ErrConflict)
	wantErr(t, "request of an unknown card", func() error {
		_, err := add(&card.Card{ID: "0000000000000000", VillageCode: "220102001001"})
		return err
	}(), card.ErrNotFound)
	if _, err := add(o); err != nil {
		t.Fatal(err)
	}
	open, err := reg.OpenPostings(ctx, "220102001")
	if err != nil || len(open) != 1 || open[0].CardID != a.ID || string(open[0].Address) != "CS2 sealed address" {
		t.Fatalf("open requests of the township: %+v %v", open, err)
	}
	printed := card.Posting{CardID: a.ID, Seq: 1, State: card.PostingPrinted, UpdatedBy: "220102001001"}
	wantErr(t, "posted → printed", reg.UpdatePosting(ctx, printed, []string{card.PostingPosted}, ev(audit.PostingUpdate)), card.ErrConflict)
	wantErr(t, "unknown request", reg.UpdatePosting(ctx, card.Posting{CardID: a.ID, Seq: 9, State: card.PostingPrinted}, []string{card.PostingRequested}, ev(audit.PostingUpdate)), card.ErrNotFound)
	if err := reg.UpdatePosting(ctx, printed, []string{card.PostingRequested}, ev(audit.PostingUpdate)); err != nil {
		t.Fatal(err)
	}
	posted := card.Posting{CardID: a.ID, Seq: 1, State: card.PostingPosted, PostedOn: "2026-03-02", Carrier: "中国邮政", Tracking: "EMS1", UpdatedBy: "220102001"}
	if err := reg.UpdatePosting(ctx, posted, []string{card.PostingRequested, card.PostingPrinted}, ev(audit.PostingUpdate)); err != nil {
		t.Fatal(err)
	}
	ps, err := reg.Postings(ctx, a.ID)
	if err != nil || len(ps) != 1 || ps[0].State != card.PostingPosted || ps[0].Carrier != "中国邮政" || ps[0].Tracking != "EMS1" || ps[0].PostedOn != "2026-03-02" || ps[0].UpdatedBy != "220102001" {
		t.Fatalf("after posting: %+v %v", ps, err)
	}
	if open, _ := reg.OpenPostings(ctx, "220102"); len(open) != 1 || open[0].CardID != o.ID {
		t.Fatalf("open requests of the county after posting: %+v", open)
	}
	if p2, err := add(a); err != nil || p2.Seq != 2 {
		t.Fatalf("a request after posting: %+v %v", p2, err)
	}
}

// testPreReviews: AddPreReview keeps one report per card and level
// (card.ErrDuplicate), of a draft only (card.ErrConflict), of a known
// card (card.ErrNotFound); PreReviewList lists the reports of the
// unsealed drafts of a jurisdiction; CardForm finds a card's form
// (card.ErrNotFound before it is drawn up).
func testPreReviews(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	a, o, ended := create(t, reg, "220102001001"), create(t, reg, "220102002001"), create(t, reg, "220102001001")
	n := 0
	add := func(c *card.Card, l org.Level, code string) (*card.PreReview, error) {
		n++
		p := &card.PreReview{ID: fmt.Sprintf("%016x", 0xab00+n), CardID: c.ID, Level: l, OrgCode: code, By: code}
		return p, reg.AddPreReview(ctx, p, ev(audit.CardPreReview))
	}
	p1, err := add(a, org.Village, "220102001001")
	if err != nil || p1.CreatedAt.IsZero() {
		t.Fatalf("first report: %+v %v", p1, err)
	}
	_, err = add(a, org.Village, "220102001001")
	wantErr(t, "second report of the level", err, card.ErrDuplicate)
	if _, err := add(a, org.Township, "220102001"); err != nil {
		t.Fatal(err)
	}
	if _, err := add(o, org.Village, "220102002001"); err != nil {
		t.Fatal(err)
	}
	_, err = add(&card.Card{ID: "0000000000000000"}, org.Village, "220102001001")
	wantErr(t, "report of an unknown card", err, card.ErrNotFound)
	if err := reg.SetStatus(ctx, ended.ID, []card.Status{card.StatusDraft}, card.StatusRefused, "other", "CS", "", ev(audit.CardRefuse)); err != nil {
		t.Fatal(err)
	}
	_, err = add(ended, org.Village, "220102001001")
	wantErr(t, "report of a refused card", err, card.ErrConflict)

	ps, err := reg.PreReviews(ctx, a.ID)
	if err != nil || len(ps) != 2 || ps[0].ID != p1.ID || ps[0].Level != org.Village || ps[1].Level != org.Township || ps[1].OrgCode != "220102001" {
		t.Fatalf("reports of the card: %+v %v", ps, err)
	}
	list, err := reg.PreReviewList(ctx, "220102001")
	if err != nil || len(list) != 2 || list[0].CardID != a.ID || list[1].CardID != a.ID {
		t.Fatalf("the township's list: %+v %v", list, err)
	}
	if list, _ := reg.PreReviewList(ctx, "220102"); len(list) != 3 {
		t.Fatalf("the county's list: %+v", list)
	}
	if _, err := reg.PreReviewList(ctx, "22x"); err == nil {
		t.Fatal("a malformed prefix was accepted")
	}

	_, err = reg.CardForm(ctx, a.ID)
	wantErr(t, "form before it is drawn up", err, card.ErrNotFound)
	f := &card.Form{ID: "00000000000000f1", CardID: a.ID, Number: a.Number + "-F", PDF: []byte("%PDF-form"), CreatedBy: "220102"}
	if err := reg.CreateForm(ctx, f, ev(audit.FormCreate)); err != nil {
		t.Fatal(err)
	}
	if got, err := reg.CardForm(ctx, a.ID); err != nil || got.ID != f.ID || got.Number != f.Number || string(got.PDF) != "%PDF-form" {
		t.Fatalf("form of the card: %+v %v", got, err)
	}
}
