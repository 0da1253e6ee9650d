package lifecycletest_test

import (
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
