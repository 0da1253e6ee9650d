package lifecycletest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// testSearchFilters (issue 16): a card is stored with its search terms
// and listed by any of them, within a jurisdiction; a malformed term is
// refused; SealedBy lists the drafts a level has sealed that await a
// higher level.
func testSearchFilters(t *testing.T, b backend) {
	reg := b.open(t)
	seedOrgs(t, reg)
	term := func(c byte) string { return strings.Repeat(string(c), 32) }
	mk := func(village string, terms ...string) *card.Card {
		t.Helper()
		c := newCard(t, village)
		c.Terms = terms
		if err := reg.CreateCard(ctx, c, []byte("%PDF-rev0 "+c.ID), ev(audit.CardCreate)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := mk("220102001001", term('a'), term('b'))
	bb := mk("220102002001", term('a'), term('c'))
	c := mk("220103001001", term('a'))
	mk("220102001001")
	ids := func(f card.Filter) []string {
		t.Helper()
		cs, err := reg.ListCards(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range cs {
			out = append(out, x.ID)
			if x.Terms != nil {
				t.Fatalf("a listed card carries its terms: %v", x.Terms)
			}
		}
		slices.Sort(out)
		return out
	}
	sorted := func(xs ...string) []string { slices.Sort(xs); return xs }
	for _, tc := range []struct {
		f    card.Filter
		want []string
	}{
		{card.Filter{Terms: []string{term('a')}}, sorted(a.ID, bb.ID, c.ID)},
		{card.Filter{Terms: []string{term('b'), term('c')}}, sorted(a.ID, bb.ID)},
		{card.Filter{Terms: []string{term('a')}, CodePrefix: "220102001"}, []string{a.ID}},
		{card.Filter{Terms: []string{term('a')}, CodePrefix: "220102"}, sorted(a.ID, bb.ID)},
		{card.Filter{Terms: []string{term('d')}}, nil},
	} {
		if got := ids(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("ListCards(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
	_, err := reg.ListCards(ctx, card.Filter{Terms: []string{"not hex"}})
	wantErr(t, "malformed term", err, b.invalid)
	bad := newCard(t, "220102001001")
	bad.Terms = []string{strings.Repeat("A", 32)}
	wantErr(t, "create with a malformed term", reg.CreateCard(ctx, bad, []byte("%PDF-x"), ev(audit.CardCreate)), b.invalid)

	// SealedBy: after the village's seal the card is the village's, not
	// the township's.
	if err := addSeal(reg, a.ID, 0, []byte("%PDF-rev1"), sealOf(org.Village, "220102001001"), card.StatusDraft, org.Township, ev(audit.CardSeal)); err != nil {
		t.Fatal(err)
	}
	if got := ids(card.Filter{SealedBy: org.Village}); !slices.Equal(got, []string{a.ID}) {
		t.Errorf("sealed by the village: %v", got)
	}
	if got := ids(card.Filter{SealedBy: org.Township}); got != nil {
		t.Errorf("sealed by the township: %v", got)
	}
	if got := ids(card.Filter{SealedBy: org.County}); got != nil {
		t.Errorf("sealed by the county: %v", got)
	}
	_, err = reg.ListCards(ctx, card.Filter{SealedBy: "parish"})
	wantErr(t, "unknown level", err, b.invalid)
}
