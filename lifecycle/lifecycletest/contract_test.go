package lifecycletest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/lifecycle/lifecycletest"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/throttle"
)

var (
	_ lifecycle.Registry = (*lifecycletest.Registry)(nil)
	_ lifecycle.Registry = (*store.DB)(nil)
)

// backend is one implementation of the ports under test: a fresh, empty
// registry per call, and the error it reports for malformed arguments.
type backend struct {
	open    func(t *testing.T) lifecycle.Registry
	invalid error
}

// TestContract runs the same port tests against the in-memory registry
// and against the store on SQLite and PostgreSQL: whatever a test of the
// lifecycle learns from the fake, the store does too.
func TestContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		testPorts(t, backend{
			open:    func(*testing.T) lifecycle.Registry { return lifecycletest.NewRegistry() },
			invalid: lifecycletest.ErrInvalid,
		})
	})
	// Every record made at one instant: the listing order then rests on
	// the IDs alone, which a real clock almost never shows.
	t.Run("memory, one instant", func(t *testing.T) {
		at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
		testPorts(t, backend{
			open: func(*testing.T) lifecycle.Registry {
				r := lifecycletest.NewRegistry()
				r.Now = func() time.Time { return at }
				return r
			},
			invalid: lifecycletest.ErrInvalid,
		})
	})
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		testPorts(t, backend{
			open:    func(t *testing.T) lifecycle.Registry { st, _ := open(t); return st },
			invalid: store.ErrInvalid,
		})
	})
}

func testPorts(t *testing.T, b backend) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, backend)
	}{
		{"orgs", testOrgs},
		{"create and get", testCreateGet},
		{"list and page", testList},
		{"seal", testSeal},
		{"seal barred by the couple", testSealBar},
		{"archive revision", testArchive},
		{"status", testStatus},
		{"applicant", testApplicant},
		{"approvals", testApprovals},
		{"card numbers", testNumbers},
		{"notices", testNotices},
		{"forms", testForms},
		{"attachments", testAttachments},
		{"audit", testAudit},
		{"quotas", testQuotas},
		{"throttles", testThrottles},
		{"search filters", testSearchFilters},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

var ctx = context.Background()

// The organisations of the tests: two counties, so jurisdiction filters
// have something to leave out.
var testOrgsList = []org.Org{
	{Code: "220102", Level: org.County, Name: "南关区"},
	{Code: "220102001", Level: org.Township, Name: "永吉街道"},
	{Code: "220102001001", Level: org.Village, Name: "永安社区"},
	{Code: "220102002001", Level: org.Village, Name: "桃源社区"},
	{Code: "220103", Level: org.County, Name: "宽城区"},
	{Code: "220103001001", Level: org.Village, Name: "某社区"},
}

func seedOrgs(t *testing.T, reg lifecycle.Registry) {
	t.Helper()
	for _, o := range testOrgsList {
		if err := reg.CreateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

var serial atomic.Int64

func ev(action audit.Action) audit.Event {
	return audit.Event{Actor: "tester", OrgCode: "220102", Action: action}
}

// newCard builds a valid draft card of the village; unique ID, number,
// token and status index.
func newCard(t *testing.T, village string) *card.Card {
	t.Helper()
	id, err := card.NewID()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := card.RandomStatusIndex()
	if err != nil {
		t.Fatal(err)
	}
	n := serial.Add(1)
	return &card.Card{
		ID: id, Number: fmt.Sprintf("%s2026%06d", org.CountyCode(village), n), Type: card.First,
		VillageCode: village, CountyCode: org.CountyCode(village), Applicant: []byte("sealed application " + id),
		QRToken: "TOKEN" + id, StatusIndex: idx, CreatedBy: "tester", NextLevel: org.Village,
	}
}

func create(t *testing.T, reg lifecycle.Registry, village string) *card.Card {
	t.Helper()
	c := newCard(t, village)
	if err := reg.CreateCard(ctx, c, []byte("%PDF-rev0 "+c.ID), ev(audit.CardCreate)); err != nil {
		t.Fatalf("create card: %v", err)
	}
	return c
}

func mustGet(t *testing.T, reg lifecycle.Registry, id string) card.Card {
	t.Helper()
	c, err := reg.GetCard(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

func count(t *testing.T, reg lifecycle.Registry) int {
	t.Helper()
	cs, err := reg.ListCards(ctx, card.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

func testOrgs(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	wantErr(t, "second org with a code", reg.CreateOrg(ctx, testOrgsList[0]), org.ErrDuplicate)
	wantErr(t, "org with a malformed code", reg.CreateOrg(ctx, org.Org{Code: "22x", Level: org.County, Name: "x"}), b.invalid)
	if _, err := reg.GetOrg(ctx, "220199"); !errors.Is(err, org.ErrUnknown) {
		t.Fatalf("unknown org: %v", err)
	}
	o, err := reg.GetOrg(ctx, "220102001")
	if err != nil || o != testOrgsList[1] {
		t.Fatalf("get org: %+v %v", o, err)
	}
	all, err := reg.ListOrgs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(testOrgsList)
	slices.SortFunc(want, func(a, b org.Org) int { return cmp(a.Code, b.Code) })
	if !slices.Equal(all, want) {
		t.Fatalf("list orgs %v, want %v (by code)", all, want)
	}
	if err := reg.UpdateOrg(ctx, org.Org{Code: "220102001", Level: org.Township, Name: "新名", Retired: true}); err != nil {
		t.Fatal(err)
	}
	if o, _ := reg.GetOrg(ctx, "220102001"); o.Name != "新名" || !o.Retired || o.Level != org.Township {
		t.Fatalf("after update: %+v", o)
	}
	wantErr(t, "update of an unknown org", reg.UpdateOrg(ctx, org.Org{Code: "220199", Level: org.County, Name: "x"}), org.ErrUnknown)
}

func cmp(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testCreateGet(t *testing.T, b backend) {
	reg := b.open(t)
	c := newCard(t, "220102001001")
	c.Status = ""
	pdf0 := []byte("%PDF-rev0")
	if err := reg.CreateCard(ctx, c, pdf0, ev(audit.CardCreate)); err != nil {
		t.Fatal(err)
	}
	if c.Status != card.StatusDraft || c.Seq != 0 || c.Version != 1 || c.CreatedAt.IsZero() || !c.UpdatedAt.Equal(c.CreatedAt) {
		t.Fatalf("created card %+v: want draft, seq 0, version 1, times set", c)
	}
	got := mustGet(t, reg, c.ID)
	if got.Number != c.Number || got.QRToken != c.QRToken || got.StatusIndex != c.StatusIndex || got.NextLevel != org.Village ||
		!bytes.Equal(got.Applicant, c.Applicant) || !got.CreatedAt.Equal(c.CreatedAt) || got.Version != 1 || got.Status != card.StatusDraft {
		t.Fatalf("get card %+v, created %+v", got, c)
	}
	if byNum, err := reg.GetCardByNumber(ctx, c.Number); err != nil || byNum.ID != c.ID {
		t.Fatalf("by number: %v %v", byNum.ID, err)
	}
	if byTok, err := reg.GetCardByToken(ctx, c.QRToken); err != nil || byTok.ID != c.ID {
		t.Fatalf("by token: %v %v", byTok.ID, err)
	}
	_, err := reg.GetCard(ctx, "0000000000000000")
	wantErr(t, "unknown id", err, card.ErrNotFound)
	_, err = reg.GetCardByNumber(ctx, "2201022026999999")
	wantErr(t, "unknown number", err, card.ErrNotFound)
	_, err = reg.GetCardByToken(ctx, "")
	wantErr(t, "empty token", err, card.ErrNotFound)
	_, err = reg.GetCardByToken(ctx, "NOSUCHTOKEN")
	wantErr(t, "unknown token", err, card.ErrNotFound)
	if seq, pdf, err := reg.CurrentPDF(ctx, c.ID); err != nil || seq != 0 || !bytes.Equal(pdf, pdf0) {
		t.Fatalf("current PDF: %d %q %v", seq, pdf, err)
	}
	_, _, err = reg.CurrentPDF(ctx, "0000000000000000")
	wantErr(t, "current PDF of an unknown card", err, card.ErrNotFound)
	_, err = reg.PDF(ctx, c.ID, 1)
	wantErr(t, "missing revision", err, card.ErrNotFound)
	if evs, err := reg.AuditEvents(ctx, c.ID, 10); err != nil || len(evs) != 1 || evs[0].Action != audit.CardCreate || evs[0].CardID != c.ID {
		t.Fatalf("create's audit event: %+v %v", evs, err)
	}

	// Every unique key: a second card taking one is ErrDuplicate and
	// nothing is stored.
	for name, change := range map[string]func(d *card.Card){
		"id":           func(d *card.Card) { d.ID = c.ID },
		"number":       func(d *card.Card) { d.Number = c.Number },
		"QR token":     func(d *card.Card) { d.QRToken = c.QRToken },
		"status index": func(d *card.Card) { d.StatusIndex = c.StatusIndex },
	} {
		d := newCard(t, "220102001001")
		change(d)
		wantErr(t, "second card with the same "+name, reg.CreateCard(ctx, d, []byte("%PDF"), ev(audit.CardCreate)), card.ErrDuplicate)
	}
	for name, change := range map[string]func(d *card.Card){
		"malformed id":              func(d *card.Card) { d.ID = "XYZ" },
		"village not 12 digits":     func(d *card.Card) { d.VillageCode = "220102001" },
		"county of another village": func(d *card.Card) { d.CountyCode = "220103" },
		"unknown status":            func(d *card.Card) { d.Status = "lost" },
		"no applicant":              func(d *card.Card) { d.Applicant = nil },
		"no creator":                func(d *card.Card) { d.CreatedBy = "" },
	} {
		d := newCard(t, "220102001001")
		change(d)
		wantErr(t, "card with "+name, reg.CreateCard(ctx, d, []byte("%PDF"), ev(audit.CardCreate)), b.invalid)
	}
	wantErr(t, "card without a PDF", reg.CreateCard(ctx, newCard(t, "220102001001"), nil, ev(audit.CardCreate)), b.invalid)
	wantErr(t, "card with an event without actor", reg.CreateCard(ctx, newCard(t, "220102001001"), []byte("%PDF"), audit.Event{Action: audit.CardCreate}), b.invalid)
	if n := count(t, reg); n != 1 {
		t.Fatalf("%d cards after the refused ones, want 1", n)
	}
	// A card with a QR token left empty: many may have none.
	for range 2 {
		d := newCard(t, "220102001001")
		d.QRToken = ""
		if err := reg.CreateCard(ctx, d, []byte("%PDF"), ev(audit.CardCreate)); err != nil {
			t.Fatalf("card without a token: %v", err)
		}
	}
}

func testList(t *testing.T, b backend) {
	reg := b.open(t)
	var all []*card.Card
	for i, v := range []string{"220102001001", "220102002001", "220103001001", "220102001001", "220102002001", "220103001001", "220102001001"} {
		c := newCard(t, v)
		c.CoupleKey = fmt.Sprintf("%02x", i%2)
		if err := reg.CreateCard(ctx, c, []byte("%PDF"), ev(audit.CardCreate)); err != nil {
			t.Fatal(err)
		}
		all = append(all, c)
	}
	// Two cards move on: one refused, one awaiting the township.
	if err := reg.SetStatus(ctx, all[1].ID, []card.Status{card.StatusDraft}, card.StatusRefused, "r", "n", "", ev(audit.CardRefuse)); err != nil {
		t.Fatal(err)
	}
	if err := addSeal(reg, all[3].ID, 0, []byte("%PDF-1"), card.Seal{Level: org.Village, OrgCode: "220102001001", ByUser: "u"}, card.StatusDraft, org.Township, ev(audit.CardSeal)); !errors.Is(err, card.ErrNotFound) {
		// The seal's organisation must be registered.
		t.Fatalf("seal by an unregistered organisation: %v, want %v", err, card.ErrNotFound)
	}
	seedOrgs(t, reg)
	if err := addSeal(reg, all[3].ID, 0, []byte("%PDF-1"), card.Seal{Level: org.Village, OrgCode: "220102001001", ByUser: "u"}, card.StatusDraft, org.Township, ev(audit.CardSeal)); err != nil {
		t.Fatal(err)
	}

	list := func(f card.Filter) []string {
		t.Helper()
		cs, err := reg.ListCards(ctx, f)
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		for i := 1; i < len(cs); i++ {
			a, b := cs[i-1], cs[i]
			if a.CreatedAt.After(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID >= b.ID) {
				t.Fatalf("list %+v: %s before %s, want created_at then id", f, a.ID, b.ID)
			}
		}
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		return ids
	}
	pick := func(is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, all[i].ID)
		}
		return sortedAsListed(list(card.Filter{}), out)
	}
	if got := list(card.Filter{}); len(got) != 7 {
		t.Fatalf("all cards: %d, want 7", len(got))
	}
	for name, tc := range map[string]struct {
		f    card.Filter
		want []string
	}{
		"drafts":            {card.Filter{Statuses: []card.Status{card.StatusDraft}}, pick(0, 2, 3, 4, 5, 6)},
		"refused or issued": {card.Filter{Statuses: []card.Status{card.StatusRefused, card.StatusIssued}}, pick(1)},
		"township prefix":   {card.Filter{CodePrefix: "220102001"}, pick(0, 3, 6)},
		"county prefix":     {card.Filter{CodePrefix: "220102"}, pick(0, 1, 3, 4, 6)},
		"county":            {card.Filter{CountyCode: "220103"}, pick(2, 5)},
		"couple":            {card.Filter{CoupleKey: "01"}, pick(1, 3, 5)},
		"awaiting village":  {card.Filter{Awaiting: org.Village, CodePrefix: "220102"}, pick(0, 4, 6)},
		"awaiting township": {card.Filter{Awaiting: org.Township}, pick(3)},
		"limit":             {card.Filter{Limit: 2}, list(card.Filter{})[:2]},
	} {
		if got := list(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
	// Paging visits every card once, in order.
	whole := list(card.Filter{})
	var paged []string
	f := card.Filter{Limit: 3}
	for {
		page := list(f)
		paged = append(paged, page...)
		if len(page) < f.Limit {
			break
		}
		f.AfterID = page[len(page)-1]
	}
	if !slices.Equal(paged, whole) {
		t.Fatalf("paged %v, whole %v", paged, whole)
	}
	if got := list(card.Filter{AfterID: whole[len(whole)-1]}); len(got) != 0 {
		t.Fatalf("after the last card: %v", got)
	}
	_, err := reg.ListCards(ctx, card.Filter{AfterID: "0000000000000000"})
	wantErr(t, "cursor of an unknown card", err, card.ErrNotFound)
	_, err = reg.ListCards(ctx, card.Filter{Statuses: []card.Status{"lost"}})
	wantErr(t, "unknown status", err, b.invalid)
	_, err = reg.ListCards(ctx, card.Filter{CodePrefix: "22%"})
	wantErr(t, "prefix not digits", err, b.invalid)
	_, err = reg.ListCards(ctx, card.Filter{CountyCode: "2201"})
	wantErr(t, "county not 6 digits", err, b.invalid)
	_, err = reg.ListCards(ctx, card.Filter{Awaiting: "province"})
	wantErr(t, "unknown level", err, b.invalid)
}

// sortedAsListed returns the IDs of want in the order of listed.
func sortedAsListed(listed, want []string) []string {
	var out []string
	for _, id := range listed {
		if slices.Contains(want, id) {
			out = append(out, id)
		}
	}
	return out
}

// addSeal is AddSeal with the seal record's digest, when it has none,
// the SM3 of pdf: the caller supplies it (the lifecycle's digest of the
// plaintext it sealed), and the port refuses a record without one.
func addSeal(reg lifecycle.Registry, cardID string, expectSeq int, pdf []byte, s card.Seal, st card.Status, next org.Level, e audit.Event) error {
	if s.PDFDigest == nil {
		d := sm3.Sum(pdf)
		s.PDFDigest = d[:]
	}
	return reg.AddSeal(ctx, cardID, expectSeq, pdf, s, st, next, nil, e)
}

// testSealBar: a seal refused because another card of the couple is in
// a barring state (Art. 22) changes nothing; a bar that matches no card
// of the couple, or a card of another couple, does not stop the seal.
func testSealBar(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	couple, other := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	mk := func(typ card.Type, key string) *card.Card {
		c := newCard(t, "220102001001")
		c.Type, c.CoupleKey = typ, key
		if err := reg.CreateCard(ctx, c, []byte("%PDF-rev0 "+c.ID), ev(audit.CardCreate)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	voided, pending, first, stranger := mk(card.Rebirth, couple), mk(card.Rebirth, couple), mk(card.First, couple), mk(card.Rebirth, other)
	bar := &card.CoupleBar{Type: card.Rebirth, Statuses: []card.Status{card.StatusVoided}}
	seal := func(c *card.Card, bar *card.CoupleBar) error {
		s := sealOf(org.Village, "220102001001")
		d := sm3.Sum([]byte("%PDF-rev1"))
		s.PDFDigest = d[:]
		return reg.AddSeal(ctx, c.ID, 0, []byte("%PDF-rev1"), s, card.StatusDraft, org.Township, bar, ev(audit.CardSeal))
	}
	// Nothing voided yet: the bar stops nothing.
	if err := seal(pending, bar); err != nil {
		t.Fatalf("seal with nothing barring: %v", err)
	}
	if err := reg.SetStatus(ctx, voided.ID, []card.Status{card.StatusDraft}, card.StatusVoided, "other", "", "", ev(audit.CardVoid)); err != nil {
		t.Fatal(err)
	}
	before := mustGet(t, reg, pending.ID)
	s := sealOf(org.Township, "220102001")
	d := sm3.Sum([]byte("%PDF-rev2"))
	s.PDFDigest = d[:]
	wantErr(t, "seal barred by a voided card of the couple",
		reg.AddSeal(ctx, pending.ID, 1, []byte("%PDF-rev2"), s, card.StatusDraft, org.County, bar, ev(audit.CardSeal)), card.ErrBarred)
	if got := mustGet(t, reg, pending.ID); got.Seq != before.Seq || got.Version != before.Version || got.NextLevel != org.Township {
		t.Fatalf("a barred seal changed the card: %+v", got)
	}
	if ss, err := reg.Seals(ctx, pending.ID); err != nil || len(ss) != 1 {
		t.Fatalf("seals after a barred seal: %d %v", len(ss), err)
	}
	wantErr(t, "invalid bar", seal(first, &card.CoupleBar{Type: "nonsense", Statuses: []card.Status{card.StatusVoided}}), b.invalid)
	// Another type, another couple, no bar: sealed.
	if err := seal(first, &card.CoupleBar{Type: card.Second, Statuses: []card.Status{card.StatusVoided}}); err != nil {
		t.Fatalf("seal barred by nothing of its type: %v", err)
	}
	if err := seal(stranger, bar); err != nil {
		t.Fatalf("seal of another couple's card: %v", err)
	}
}

func sealOf(l org.Level, code string) card.Seal {
	return card.Seal{Level: l, OrgCode: code, CertSerial: "0A", ByUser: "u-" + code, SignedAt: time.Date(2026, 3, 1, 8, 0, 0, 123456000, time.UTC)}
}

func testSeal(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	c := create(t, reg, "220102001001")
	rev1 := []byte("%PDF-rev1")
	wantErr(t, "stale revision", addSeal(reg, c.ID, 1, rev1, sealOf(org.Village, "220102001001"), card.StatusDraft, org.Township, ev(audit.CardSeal)), card.ErrConflict)
	wantErr(t, "unknown card", addSeal(reg, "0000000000000000", 0, rev1, sealOf(org.Village, "220102001001"), card.StatusDraft, org.Township, ev(audit.CardSeal)), card.ErrNotFound)
	wantErr(t, "seal to a refused status", addSeal(reg, c.ID, 0, rev1, sealOf(org.Village, "220102001001"), card.StatusRefused, "", ev(audit.CardSeal)), b.invalid)
	bad := sealOf(org.Village, "220102001001")
	bad.PDFDigest = []byte("not an SM3 digest")
	wantErr(t, "not a digest", addSeal(reg, c.ID, 0, rev1, bad, card.StatusDraft, org.Township, ev(audit.CardSeal)), b.invalid)
	wantErr(t, "no digest", reg.AddSeal(ctx, c.ID, 0, rev1, sealOf(org.Village, "220102001001"), card.StatusDraft, org.Township, nil, ev(audit.CardSeal)), b.invalid)
	wantErr(t, "no level", addSeal(reg, c.ID, 0, rev1, card.Seal{OrgCode: "220102001001", ByUser: "u"}, card.StatusDraft, org.Township, ev(audit.CardSeal)), b.invalid)
	wantErr(t, "empty PDF", addSeal(reg, c.ID, 0, nil, sealOf(org.Village, "220102001001"), card.StatusDraft, org.Township, ev(audit.CardSeal)), b.invalid)
	if got := mustGet(t, reg, c.ID); got.Seq != 0 || got.Version != 1 {
		t.Fatalf("refused seals changed the card: %+v", got)
	}

	if err := addSeal(reg, c.ID, 0, rev1, sealOf(org.Village, "220102001001"), card.StatusDraft, org.Township, ev(audit.CardSeal)); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, reg, c.ID)
	if got.Seq != 1 || got.Status != card.StatusDraft || got.NextLevel != org.Township || got.Version != 2 || got.UpdatedAt.Before(got.CreatedAt) {
		t.Fatalf("after the village's seal: %+v", got)
	}
	if seq, pdf, err := reg.CurrentPDF(ctx, c.ID); err != nil || seq != 1 || !bytes.Equal(pdf, rev1) {
		t.Fatalf("current PDF: %d %q %v", seq, pdf, err)
	}
	if pdf, err := reg.PDF(ctx, c.ID, 0); err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-rev0")) {
		t.Fatalf("revision 0 kept: %q %v", pdf, err)
	}
	// The same level again, even at the right revision.
	wantErr(t, "second village seal", addSeal(reg, c.ID, 1, []byte("%PDF-x"), sealOf(org.Village, "220102001001"), card.StatusDraft, org.Township, ev(audit.CardSeal)), card.ErrConflict)
	if err := addSeal(reg, c.ID, 1, []byte("%PDF-rev2"), sealOf(org.Township, "220102001"), card.StatusDraft, org.County, ev(audit.CardSeal)); err != nil {
		t.Fatal(err)
	}
	if err := addSeal(reg, c.ID, 2, []byte("%PDF-rev3"), sealOf(org.County, "220102"), card.StatusIssued, "", ev(audit.CardSeal)); err != nil {
		t.Fatal(err)
	}
	got = mustGet(t, reg, c.ID)
	if got.Status != card.StatusIssued || got.NextLevel != "" || got.Seq != 3 || got.Version != 4 {
		t.Fatalf("issued: %+v", got)
	}
	seals, err := reg.Seals(ctx, c.ID)
	if err != nil || len(seals) != 3 {
		t.Fatalf("seals: %v %v", seals, err)
	}
	for i, s := range seals {
		pdf, _ := reg.PDF(ctx, c.ID, i+1)
		d := sm3.Sum(pdf)
		w := sealOf(s.Level, s.OrgCode)
		if s.CardID != c.ID || s.Seq != i+1 || !bytes.Equal(s.PDFDigest, d[:]) || s.ByUser != w.ByUser || s.CertSerial != "0A" || !s.SignedAt.Equal(w.SignedAt) {
			t.Fatalf("seal %d: %+v", i+1, s)
		}
	}
	if seals[0].Level != org.Village || seals[1].Level != org.Township || seals[2].Level != org.County {
		t.Fatalf("seal order: %v", seals)
	}
	// An issued card takes no further seal, even of a level it lacks at
	// its newest revision.
	d := create(t, reg, "220102001001")
	if err := addSeal(reg, d.ID, 0, []byte("%PDF-county"), sealOf(org.County, "220102"), card.StatusIssued, "", ev(audit.CardSeal)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "seal of an issued card", addSeal(reg, d.ID, 1, []byte("%PDF-2"), sealOf(org.Village, "220102001001"), card.StatusIssued, "", ev(audit.CardSeal)), card.ErrConflict)
	if s, err := reg.Seals(ctx, "0000000000000000"); err != nil || len(s) != 0 {
		t.Fatalf("seals of an unknown card: %v %v", s, err)
	}
	if evs, _ := reg.AuditEvents(ctx, c.ID, 100); len(evs) != 4 {
		t.Fatalf("%d audit events for create and three seals", len(evs))
	}
}

func testStatus(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	issue := func() *card.Card {
		c := create(t, reg, "220102001001")
		if err := addSeal(reg, c.ID, 0, []byte("%PDF-1"), sealOf(org.County, "220102"), card.StatusIssued, "", ev(audit.CardSeal)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b2, c, d := issue(), issue(), issue(), create(t, reg, "220102001001")
	issued := []card.Status{card.StatusIssued}
	wantErr(t, "void of a draft", reg.SetStatus(ctx, d.ID, issued, card.StatusVoided, "other", "n", "", ev(audit.CardVoid)), card.ErrConflict)
	wantErr(t, "void of an unknown card", reg.SetStatus(ctx, "0000000000000000", issued, card.StatusVoided, "other", "n", "", ev(audit.CardVoid)), card.ErrNotFound)
	wantErr(t, "superseded without the new card", reg.SetStatus(ctx, a.ID, issued, card.StatusSuperseded, "other", "n", "", ev(audit.CardSupersede)), b.invalid)
	wantErr(t, "voided naming a new card", reg.SetStatus(ctx, a.ID, issued, card.StatusVoided, "other", "n", b2.ID, ev(audit.CardVoid)), b.invalid)
	wantErr(t, "superseding itself", reg.SetStatus(ctx, a.ID, issued, card.StatusSuperseded, "other", "n", a.ID, ev(audit.CardSupersede)), b.invalid)
	wantErr(t, "no source status", reg.SetStatus(ctx, a.ID, nil, card.StatusVoided, "other", "n", "", ev(audit.CardVoid)), b.invalid)
	wantErr(t, "superseded by an unknown card", reg.SetStatus(ctx, a.ID, issued, card.StatusSuperseded, "other", "n", "0000000000000000", ev(audit.CardSupersede)), card.ErrNotFound)

	if err := reg.SetStatus(ctx, a.ID, issued, card.StatusVoided, "infant_death_without_proof", "note a", "", ev(audit.CardVoid)); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetStatus(ctx, b2.ID, issued, card.StatusRevoked, "false_commitment", "note b", "", ev(audit.CardRevoke)); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetStatus(ctx, c.ID, issued, card.StatusSuperseded, "data_corrected", "note c", d.ID, ev(audit.CardSupersede)); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, reg, a.ID)
	if got.Status != card.StatusVoided || got.StatusReason != "infant_death_without_proof" || got.StatusNote != "note a" || got.Version != 3 || got.NextLevel != "" {
		t.Fatalf("voided: %+v", got)
	}
	if got := mustGet(t, reg, c.ID); got.SupersededBy != d.ID || got.Status != card.StatusSuperseded {
		t.Fatalf("superseded: %+v", got)
	}
	wantErr(t, "second void", reg.SetStatus(ctx, a.ID, issued, card.StatusVoided, "other", "n", "", ev(audit.CardVoid)), card.ErrConflict)

	// A refused draft is not on the status list; the ended cards are, by
	// index.
	if err := reg.SetStatus(ctx, d.ID, []card.Status{card.StatusDraft}, card.StatusRefused, "refused", "n", "", ev(audit.CardRefuse)); err != nil {
		t.Fatal(err)
	}
	es, err := reg.StatusEntries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []card.StatusEntry{
		{Index: a.StatusIndex, Status: card.StatusVoided},
		{Index: b2.StatusIndex, Status: card.StatusRevoked},
		{Index: c.StatusIndex, Status: card.StatusSuperseded},
	}
	slices.SortFunc(want, func(x, y card.StatusEntry) int { return x.Index - y.Index })
	if !slices.Equal(es, want) {
		t.Fatalf("status entries %v, want %v", es, want)
	}
}

func testApplicant(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	c := create(t, reg, "220102001001")
	// The file became complete (Art. 19): the time is kept to the
	// microsecond, in UTC; zero clears it.
	done := time.Date(2026, 3, 2, 9, 30, 0, 123456789, time.FixedZone("CST", 8*3600))
	if err := reg.UpdateApplicant(ctx, c.ID, []byte("new sealed application"), done, ev(audit.CardMaterials)); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, reg, c.ID); string(got.Applicant) != "new sealed application" || got.Version != 2 ||
		!got.CompleteAt.Equal(done.Truncate(time.Microsecond)) || got.CompleteAt.Location() != time.UTC {
		t.Fatalf("after update: %q version %d complete %v", got.Applicant, got.Version, got.CompleteAt)
	}
	if err := reg.UpdateApplicant(ctx, c.ID, []byte("new sealed application"), time.Time{}, ev(audit.CardMaterials)); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, reg, c.ID); !got.CompleteAt.IsZero() || got.Version != 3 {
		t.Fatalf("after clearing: complete %v version %d", got.CompleteAt, got.Version)
	}
	// Staff's cross-province finding (Art. 19): kept with its reason,
	// audited; a reason is required.
	wantErr(t, "finding without a reason", reg.SetCrossProvince(ctx, c.ID, true, " ", ev(audit.CardCrossProvince)), b.invalid)
	wantErr(t, "finding on an unknown card", reg.SetCrossProvince(ctx, "0000000000000000", true, "外省", ev(audit.CardCrossProvince)), card.ErrNotFound)
	if err := reg.SetCrossProvince(ctx, c.ID, true, "女方户籍在外省", ev(audit.CardCrossProvince)); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, reg, c.ID); !got.CrossProvince || got.CrossProvinceReason != "女方户籍在外省" || got.Version != 4 {
		t.Fatalf("after the finding: %t %q version %d", got.CrossProvince, got.CrossProvinceReason, got.Version)
	}
	if n := len(mustEvents(t, reg, c.ID, audit.CardCrossProvince)); n != 1 {
		t.Fatalf("%d cross-province events, want 1", n)
	}
	// Created complete: CreateCard keeps the time.
	c2 := newCard(t, "220102001001")
	c2.CompleteAt = done
	if err := reg.CreateCard(ctx, c2, []byte("%PDF-0"), ev(audit.CardCreate)); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, reg, c2.ID); !got.CompleteAt.Equal(done.Truncate(time.Microsecond)) || got.CrossProvince {
		t.Fatalf("created complete: %v %t", got.CompleteAt, got.CrossProvince)
	}
	wantErr(t, "empty application", reg.UpdateApplicant(ctx, c.ID, nil, time.Time{}, ev(audit.CardMaterials)), b.invalid)
	wantErr(t, "unknown card", reg.UpdateApplicant(ctx, "0000000000000000", []byte("x"), time.Time{}, ev(audit.CardMaterials)), card.ErrNotFound)
	if err := addSeal(reg, c.ID, 0, []byte("%PDF-1"), sealOf(org.County, "220102"), card.StatusIssued, "", ev(audit.CardSeal)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "update of an issued card", reg.UpdateApplicant(ctx, c.ID, []byte("late"), time.Time{}, ev(audit.CardMaterials)), card.ErrConflict)
	wantErr(t, "finding on an issued card", reg.SetCrossProvince(ctx, c.ID, false, "已核实", ev(audit.CardCrossProvince)), card.ErrConflict)
	if got := mustGet(t, reg, c.ID); string(got.Applicant) != "new sealed application" || !got.CrossProvince {
		t.Fatalf("refused update changed the application: %q %t", got.Applicant, got.CrossProvince)
	}
}

// testApprovals: simultaneous review (Art. 15). One approval in force
// per level until the level seals; a change of the application cancels
// the approvals in force of the levels that have not sealed; approving
// again replaces a cancelled one; a seal keeps its approval's time and
// approver; the queue filter finds a draft at every level that has not
// sealed it.
func testApprovals(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	c := create(t, reg, "220102001001")
	at := time.Date(2026, 3, 1, 8, 0, 0, 123456000, time.UTC)
	ap := func(l org.Level, code string, at time.Time) card.Approval {
		return card.Approval{CardID: c.ID, Level: l, OrgCode: code, ByUser: "u-" + code, ApprovedAt: at}
	}
	wantErr(t, "no time", reg.Approve(ctx, ap(org.Township, "220102001", time.Time{}), ev(audit.CardApprove)), b.invalid)
	wantErr(t, "no level", reg.Approve(ctx, card.Approval{CardID: c.ID, OrgCode: "220102", ByUser: "u", ApprovedAt: at}, ev(audit.CardApprove)), b.invalid)
	u := ap(org.Township, "220102001", at)
	u.CardID = "0000000000000000"
	wantErr(t, "unknown card", reg.Approve(ctx, u, ev(audit.CardApprove)), card.ErrNotFound)
	for _, a := range []card.Approval{ap(org.Township, "220102001", at), ap(org.County, "220102", at.Add(time.Minute))} {
		if err := reg.Approve(ctx, a, ev(audit.CardApprove)); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "second approval in force", reg.Approve(ctx, ap(org.County, "220102", at.Add(time.Hour)), ev(audit.CardApprove)), card.ErrDuplicate)
	got, err := reg.Approvals(ctx, c.ID)
	if err != nil || len(got) != 2 || got[0].Level != org.Township || !got[0].ApprovedAt.Equal(at) || got[0].ByUser != "u-220102001" || !got[0].InForce() || got[1].Level != org.County {
		t.Fatalf("approvals: %+v %v", got, err)
	}
	if n := len(mustEvents(t, reg, c.ID, audit.CardApprove)); n != 2 {
		t.Fatalf("%d approval events, want 2", n)
	}
	// The village seals; then the application changes: the approvals of
	// the township and the county are cancelled.
	if err := addSeal(reg, c.ID, 0, []byte("%PDF-1"), sealOf(org.Village, "220102001001"), card.StatusDraft, org.Township, ev(audit.CardSeal)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "approval of a level that sealed", reg.Approve(ctx, ap(org.Village, "220102001001", at), ev(audit.CardApprove)), card.ErrConflict)
	if err := reg.UpdateApplicant(ctx, c.ID, []byte("changed"), time.Time{}, ev(audit.CardMaterials)); err != nil {
		t.Fatal(err)
	}
	got, _ = reg.Approvals(ctx, c.ID)
	if len(got) != 2 || got[0].InForce() || got[1].InForce() {
		t.Fatalf("approvals after the change: %+v", got)
	}
	// Approving again replaces the cancelled approval.
	if err := reg.Approve(ctx, ap(org.Township, "220102001", at.Add(2*time.Hour)), ev(audit.CardApprove)); err != nil {
		t.Fatal(err)
	}
	got, _ = reg.Approvals(ctx, c.ID)
	if len(got) != 2 || !got[0].InForce() || !got[0].ApprovedAt.Equal(at.Add(2*time.Hour)) || got[1].InForce() {
		t.Fatalf("approvals after approving again: %+v", got)
	}
	// The township's seal records its approval; a later change leaves
	// the approval of a level that sealed alone.
	s := sealOf(org.Township, "220102001")
	s.ApprovedAt, s.ApprovedBy = at.Add(2*time.Hour), "u-220102001"
	if err := addSeal(reg, c.ID, 1, []byte("%PDF-2"), s, card.StatusDraft, org.County, ev(audit.CardSeal)); err != nil {
		t.Fatal(err)
	}
	seals, err := reg.Seals(ctx, c.ID)
	if err != nil || len(seals) != 2 || !seals[1].ApprovedAt.Equal(at.Add(2*time.Hour)) || seals[1].ApprovedBy != "u-220102001" || !seals[0].ApprovedAt.IsZero() {
		t.Fatalf("seals: %+v %v", seals, err)
	}
	if err := reg.UpdateApplicant(ctx, c.ID, []byte("changed again"), time.Time{}, ev(audit.CardMaterials)); err != nil {
		t.Fatal(err)
	}
	if got, _ = reg.Approvals(ctx, c.ID); !got[0].InForce() {
		t.Fatalf("a change cancelled the approval of a level that sealed: %+v", got)
	}
	// The queue: the draft awaits the county; it is unsealed by the
	// county only.
	other := create(t, reg, "220102001001")
	for _, tc := range []struct {
		l    org.Level
		want []string
	}{{org.Village, []string{other.ID}}, {org.Township, []string{other.ID}}, {org.County, []string{c.ID, other.ID}}} {
		cs, err := reg.ListCards(ctx, card.Filter{UnsealedBy: tc.l, CodePrefix: "220102001"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range cs {
			ids = append(ids, x.ID)
		}
		slices.Sort(ids)
		slices.Sort(tc.want)
		if !slices.Equal(ids, tc.want) {
			t.Fatalf("unsealed by %s: %v, want %v", tc.l, ids, tc.want)
		}
	}
	if _, err := reg.ListCards(ctx, card.Filter{UnsealedBy: "nation"}); !errors.Is(err, b.invalid) {
		t.Fatalf("unknown level: %v", err)
	}
	if err := reg.SetStatus(ctx, other.ID, []card.Status{card.StatusDraft}, card.StatusRefused, "other", "", "", ev(audit.CardRefuse)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "approval of a refused card", reg.Approve(ctx, card.Approval{CardID: other.ID, Level: org.County, OrgCode: "220102", ByUser: "u", ApprovedAt: at}, ev(audit.CardApprove)), card.ErrConflict)
}

// mustEvents returns the card's audit events of one action.
func mustEvents(t *testing.T, reg lifecycle.Registry, cardID string, action audit.Action) []audit.Event {
	t.Helper()
	evs, err := reg.AuditEvents(ctx, cardID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, e := range evs {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func testNumbers(t *testing.T, b backend) {
	reg := b.open(t)
	next := func(county string, year int) string {
		t.Helper()
		n, err := reg.NextCardNumber(ctx, county, year)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, want := range []string{"2201022026000001", "2201022026000002"} {
		if got := next("220102", 2026); got != want {
			t.Fatalf("next number %s, want %s", got, want)
		}
	}
	if got := next("220103", 2026); got != "2201032026000001" {
		t.Fatalf("another county: %s", got)
	}
	if got := next("220102", 2027); got != "2201022027000001" {
		t.Fatalf("another year: %s", got)
	}
	_, err := reg.NextCardNumber(ctx, "2201", 2026)
	wantErr(t, "short county", err, b.invalid)
	_, err = reg.NextCardNumber(ctx, "220102", 1999)
	wantErr(t, "year before 2000", err, b.invalid)
}

func notice(c *card.Card, kind card.NoticeKind, number, digest string) *card.Notice {
	return &card.Notice{CardID: c.ID, Kind: kind, Number: number, AppDigest: digest, OrgCode: "220102001001", PDF: []byte("%PDF-notice " + number), CreatedBy: "u"}
}

func testNotices(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	c := create(t, reg, "220102001001")
	n1 := notice(c, card.NoticeMissing, c.Number+"-1", "d1")
	if err := reg.AddNotice(ctx, n1, "", "", ev(audit.CardNotice)); err != nil {
		t.Fatal(err)
	}
	if n1.Seq != 1 || n1.CreatedAt.IsZero() {
		t.Fatalf("stored notice %+v", n1)
	}
	wantErr(t, "second notice of the same application", reg.AddNotice(ctx, notice(c, card.NoticeMissing, c.Number+"-2", "d1"), "", "", ev(audit.CardNotice)), card.ErrDuplicate)
	wantErr(t, "notice number taken", reg.AddNotice(ctx, notice(c, card.NoticeMissing, c.Number+"-1", "d2"), "", "", ev(audit.CardNotice)), card.ErrDuplicate)
	wantErr(t, "notice of an unknown card", reg.AddNotice(ctx, &card.Notice{CardID: "0000000000000000", Kind: card.NoticeMissing, Number: "x-1", OrgCode: "220102", PDF: []byte("%PDF"), CreatedBy: "u"}, "", "", ev(audit.CardNotice)), card.ErrNotFound)
	wantErr(t, "notice of an unknown kind", reg.AddNotice(ctx, notice(c, "praise", c.Number+"-9", "d9"), "", "", ev(audit.CardNotice)), b.invalid)
	unknownOrg := notice(c, card.NoticeMissing, c.Number+"-8", "d8")
	unknownOrg.OrgCode = "220199001001"
	wantErr(t, "notice of an unregistered organisation", reg.AddNotice(ctx, unknownOrg, "", "", ev(audit.CardNotice)), card.ErrNotFound)
	// The application changed: a new missing-materials notice.
	n2 := notice(c, card.NoticeMissing, c.Number+"-2", "d2")
	if err := reg.AddNotice(ctx, n2, "", "", ev(audit.CardNotice)); err != nil || n2.Seq != 2 {
		t.Fatalf("notice after a change: seq %d %v", n2.Seq, err)
	}
	if got := mustGet(t, reg, c.ID); got.Status != card.StatusDraft || got.Version != 1 {
		t.Fatalf("a notice without status changed the card: %+v", got)
	}
	// The refusal ends the draft.
	r := notice(c, card.NoticeRefusal, c.Number+"-3", "d2")
	if err := reg.AddNotice(ctx, r, card.StatusRefused, "refused", ev(audit.CardRefuse)); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, reg, c.ID)
	if got.Status != card.StatusRefused || got.StatusReason != "refused" || got.StatusNote != r.Number || got.NextLevel != "" || got.Version != 2 {
		t.Fatalf("refused: %+v", got)
	}
	wantErr(t, "notice on a refused card", reg.AddNotice(ctx, notice(c, card.NoticeMissing, c.Number+"-4", "d4"), "", "", ev(audit.CardNotice)), card.ErrConflict)
	ns, err := reg.Notices(ctx, c.ID)
	if err != nil || len(ns) != 3 {
		t.Fatalf("notices: %v %v", ns, err)
	}
	for i, n := range ns {
		if n.Seq != i+1 || n.PDF != nil || n.CardID != c.ID {
			t.Fatalf("notice %d: %+v (listed without PDF)", i+1, n)
		}
	}
	if ns[2].Kind != card.NoticeRefusal || ns[0].AppDigest != "d1" || ns[0].OrgCode != "220102001001" || !ns[0].CreatedAt.Equal(n1.CreatedAt) {
		t.Fatalf("notices %+v", ns)
	}
	if n, err := reg.GetNotice(ctx, c.ID, 3); err != nil || !bytes.Equal(n.PDF, r.PDF) || n.Number != r.Number {
		t.Fatalf("get notice: %+v %v", n, err)
	}
	_, err = reg.GetNotice(ctx, c.ID, 4)
	wantErr(t, "unknown notice", err, card.ErrNotFound)
	if ns, err := reg.Notices(ctx, "0000000000000000"); err != nil || len(ns) != 0 {
		t.Fatalf("notices of an unknown card: %v %v", ns, err)
	}
}

func testForms(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	c := create(t, reg, "220102001001")
	newForm := func(cardID, number string) *card.Form {
		id, err := card.NewID()
		if err != nil {
			t.Fatal(err)
		}
		return &card.Form{ID: id, CardID: cardID, Number: number, PDF: []byte("%PDF-form"), CreatedBy: "u"}
	}
	f := newForm(c.ID, "F-"+c.Number)
	f.Seq = 7
	if err := reg.CreateForm(ctx, f, ev(audit.FormCreate)); err != nil {
		t.Fatal(err)
	}
	if f.Seq != 0 || f.CreatedAt.IsZero() {
		t.Fatalf("created form %+v", f)
	}
	wantErr(t, "second form of a card", reg.CreateForm(ctx, newForm(c.ID, "F-other"), ev(audit.FormCreate)), card.ErrDuplicate)
	d := create(t, reg, "220102001001")
	wantErr(t, "form number taken", reg.CreateForm(ctx, newForm(d.ID, f.Number), ev(audit.FormCreate)), card.ErrDuplicate)
	wantErr(t, "form of an unknown card", reg.CreateForm(ctx, newForm("0000000000000000", "F-none"), ev(audit.FormCreate)), card.ErrNotFound)
	wantErr(t, "form without a PDF", reg.CreateForm(ctx, &card.Form{ID: f.ID[:15] + "0", CardID: d.ID, Number: "F-x", CreatedBy: "u"}, ev(audit.FormCreate)), b.invalid)

	if err := reg.UpdateForm(ctx, f.ID, 0, []byte("%PDF-form-1"), ev(audit.FormSeal)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "stale form revision", reg.UpdateForm(ctx, f.ID, 0, []byte("%PDF-late"), ev(audit.FormSeal)), card.ErrConflict)
	wantErr(t, "unknown form", reg.UpdateForm(ctx, "0000000000000000", 0, []byte("%PDF"), ev(audit.FormSeal)), card.ErrConflict)
	wantErr(t, "empty form PDF", reg.UpdateForm(ctx, f.ID, 1, nil, ev(audit.FormSeal)), b.invalid)
	got, err := reg.GetForm(ctx, f.ID)
	if err != nil || got.Seq != 1 || string(got.PDF) != "%PDF-form-1" || got.CardID != c.ID || got.Number != f.Number {
		t.Fatalf("form after a seal: %+v %v", got, err)
	}
	_, err = reg.GetForm(ctx, "0000000000000000")
	wantErr(t, "get unknown form", err, card.ErrNotFound)
}

func testAttachments(t *testing.T, b backend) {
	reg := b.open(t)
	c := create(t, reg, "220102001001")
	att := func(m string) card.Attachment {
		return card.Attachment{Material: m, ContentType: "image/png", Size: 3, Data: []byte("enc-" + m)}
	}
	if err := reg.AddAttachments(ctx, c.ID, []card.Attachment{att("id_cards"), att("household_register")}); err != nil {
		t.Fatal(err)
	}
	if err := reg.AddAttachments(ctx, c.ID, []card.Attachment{att("marriage_certificate")}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "attachment without data", reg.AddAttachments(ctx, c.ID, []card.Attachment{att("a"), {Material: "b", ContentType: "image/png"}}), b.invalid)
	// A caller that numbers an attachment (its encryption binds the
	// number) gets that number or a conflict, and nothing is written.
	numbered := att("applicant_id_card")
	numbered.Seq = 3
	wantErr(t, "attachment number taken", reg.AddAttachments(ctx, c.ID, []card.Attachment{numbered}), card.ErrConflict)
	wantErr(t, "attachments of an unknown card", reg.AddAttachments(ctx, "0000000000000000", []card.Attachment{att("id_cards")}), card.ErrNotFound)
	as, err := reg.Attachments(ctx, c.ID)
	if err != nil || len(as) != 3 {
		t.Fatalf("attachments: %v %v", as, err)
	}
	for i, a := range as {
		if a.Seq != i+1 || a.CardID != c.ID || a.Size != 3 || a.ContentType != "image/png" || a.CreatedAt.IsZero() {
			t.Fatalf("attachment %d: %+v", i+1, a)
		}
	}
	if as[2].Material != "marriage_certificate" || string(as[0].Data) != "enc-id_cards" {
		t.Fatalf("attachments %+v", as)
	}
}

func testAudit(t *testing.T, b backend) {
	reg := b.open(t)
	c := create(t, reg, "220102001001")
	var ids []int64
	for i := range 3 {
		id, err := reg.AppendAudit(ctx, audit.Event{Actor: "u", OrgCode: "220102", Action: audit.CardRead, CardID: c.ID, Detail: []byte(fmt.Sprintf(`{"i":%d}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := reg.AppendAudit(ctx, audit.Event{Actor: "u", Action: audit.CardsExport}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []int64{2, 3, 4}) {
		t.Fatalf("event IDs %v, want 2 3 4 after the card's creation", ids)
	}
	_, err := reg.AppendAudit(ctx, audit.Event{Action: audit.CardRead})
	wantErr(t, "event without actor", err, b.invalid)
	_, err = reg.AppendAudit(ctx, audit.Event{Actor: "u", Action: audit.CardRead, Detail: []byte("{not json")})
	wantErr(t, "detail not JSON", err, b.invalid)

	all, err := reg.AuditEvents(ctx, "", 0)
	if err != nil || len(all) != 5 {
		t.Fatalf("all events: %d %v", len(all), err)
	}
	for i, e := range all {
		if e.ID != int64(5-i) {
			t.Fatalf("event %d has ID %d: want newest first", i, e.ID)
		}
		if !bytes.Equal(e.Hash, audit.Hash(e.PrevHash, &e)) {
			t.Fatalf("event %d: hash does not cover it", e.ID)
		}
		if i+1 < len(all) && !bytes.Equal(e.PrevHash, all[i+1].Hash) {
			t.Fatalf("event %d does not link to %d", e.ID, all[i+1].ID)
		}
	}
	if len(all[4].PrevHash) != 0 {
		t.Fatalf("first event links to %x", all[4].PrevHash)
	}
	mine, err := reg.AuditEvents(ctx, c.ID, 2)
	if err != nil || len(mine) != 2 || mine[0].ID != 4 || mine[1].ID != 3 || string(mine[0].Detail) != `{"i":2}` {
		t.Fatalf("the card's two newest events: %+v %v", mine, err)
	}
}

func testQuotas(t *testing.T, b backend) {
	reg := b.open(t)
	// A century-long window: no boundary falls inside the test, so the
	// counts cannot reset under it whatever the time.
	const century = 100 * 365 * 24 * time.Hour
	for i := range 5 {
		ok, err := reg.Hit(ctx, "track:1", century, 3)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (i < 3) {
			t.Fatalf("hit %d: allowed %v with limit 3", i+1, ok)
		}
	}
	if ok, err := reg.Hit(ctx, "track:2", century, 3); err != nil || !ok {
		t.Fatalf("another key: %v %v", ok, err)
	}
	if ok, _ := reg.Hit(ctx, "track:1", century, 4); !ok {
		t.Fatal("a denied hit counted: the fourth of limit 4 was refused")
	}
	for name, call := range map[string]func() (bool, error){
		"empty key":   func() (bool, error) { return reg.Hit(ctx, "", century, 1) },
		"long key":    func() (bool, error) { return reg.Hit(ctx, string(make([]byte, 257)), century, 1) },
		"zero window": func() (bool, error) { return reg.Hit(ctx, "k", 0, 1) },
		"zero limit":  func() (bool, error) { return reg.Hit(ctx, "k", century, 0) },
	} {
		_, err := call()
		wantErr(t, name, err, b.invalid)
	}

	// Spend adds amounts up to the limit; a refused amount adds nothing.
	for i, tc := range []struct {
		amount int
		want   bool
	}{{60, true}, {50, false}, {40, true}, {1, false}, {101, false}} {
		ok, err := reg.Spend(ctx, "online-kib:1", century, tc.amount, 100)
		if err != nil || ok != tc.want {
			t.Fatalf("spend %d of %d: allowed %v, %v; want %v", i+1, tc.amount, ok, err, tc.want)
		}
	}
	if ok, err := reg.Spend(ctx, "online-kib:2", century, 100, 100); err != nil || !ok {
		t.Fatalf("another key: %v %v", ok, err)
	}
	for name, call := range map[string]func() (bool, error){
		"zero amount": func() (bool, error) { return reg.Spend(ctx, "k", century, 0, 1) },
		"zero limit":  func() (bool, error) { return reg.Spend(ctx, "k", century, 1, 0) },
		"empty key":   func() (bool, error) { return reg.Spend(ctx, "", century, 1, 1) },
		"zero window": func() (bool, error) { return reg.Spend(ctx, "k", 0, 1, 1) },
		"huge limit":  func() (bool, error) { return reg.Spend(ctx, "k", century, 1, 1<<31) },
	} {
		_, err := call()
		wantErr(t, name, err, b.invalid)
	}
}

func testThrottles(t *testing.T, b backend) {
	reg := b.open(t)
	k := throttle.Key{Scope: "download", Subject: "0123456789abcdef", Client: "198.51.100.7"}
	other := throttle.Key{Scope: "download", Subject: "0123456789abcdef", Client: "203.0.113.5"}
	at := time.Date(2026, 12, 1, 9, 0, 0, 123456789, time.UTC)
	rec := func(n int) throttle.Record {
		return throttle.Record{Failures: n, NotBefore: at.Add(time.Duration(n) * time.Second), Expires: at.Add(24 * time.Hour)}
	}
	get := func(k throttle.Key) throttle.Record {
		t.Helper()
		r, err := reg.Throttle(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := get(k); r != (throttle.Record{}) {
		t.Fatalf("no record yet: %+v", r)
	}
	set := func(k throttle.Key, prev, n int) bool {
		t.Helper()
		ok, err := reg.SetThrottle(ctx, k, prev, rec(n))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !set(k, 0, 1) || set(k, 0, 1) || set(k, 2, 3) || !set(k, 1, 2) || !set(other, 0, 1) {
		t.Fatal("compare-and-set: want insert, refused insert, refused update, update, another key")
	}
	want := rec(2)
	if r := get(k); r.Failures != 2 || !r.NotBefore.Equal(want.NotBefore.Truncate(time.Microsecond)) || !r.Expires.Equal(want.Expires.Truncate(time.Microsecond)) {
		t.Fatalf("record %+v, want %+v to the microsecond", r, want)
	}
	if err := reg.ClearThrottle(ctx, k); err != nil || get(k).Failures != 0 || get(other).Failures != 1 {
		t.Fatalf("clear one: %v; %+v, other %+v", err, get(k), get(other))
	}
	set(k, 0, 1)
	third := throttle.Key{Scope: "login", Subject: k.Subject, Client: k.Client}
	set(third, 0, 1)
	if err := reg.ClearThrottles(ctx, "download", k.Subject); err != nil || get(k).Failures != 0 || get(other).Failures != 0 || get(third).Failures != 1 {
		t.Fatalf("clear a subject: %v; %+v %+v, another scope %+v", err, get(k), get(other), get(third))
	}
	for name, call := range map[string]func() error{
		"empty client": func() error { _, err := reg.Throttle(ctx, throttle.Key{Scope: "s", Subject: "x"}); return err },
		"long subject": func() error {
			_, err := reg.SetThrottle(ctx, throttle.Key{Scope: "s", Subject: string(make([]byte, 129)), Client: "c"}, 0, rec(1))
			return err
		},
		"no failures": func() error {
			_, err := reg.SetThrottle(ctx, k, 0, throttle.Record{NotBefore: at, Expires: at})
			return err
		},
		"negative prev": func() error { _, err := reg.SetThrottle(ctx, k, -1, rec(1)); return err },
	} {
		wantErr(t, name, call(), b.invalid)
	}
}
