package lifecycle

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle/lifecycletest"
	"github.com/jilin-health/cardseal/org"
)

// The permission table of every level, relation, state and action, run
// through the domain, the JSON API and the console, is in package api
// (api/permtable_test.go). These are the parts of the rules it does not
// cover: retired organisations, calls without a card, unknown actions,
// and the villages an actor may take applications for.

// fakeRegistry is the in-memory registry with the demo province's
// organisations.
func fakeRegistry(t *testing.T) *lifecycletest.Registry {
	t.Helper()
	reg := lifecycletest.NewRegistry()
	if err := SeedOrgs(context.Background(), reg, demoOrgs.Orgs); err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestAllowedRetired(t *testing.T) {
	draft := &card.Card{VillageCode: "220102001001", CountyCode: "220102", Status: card.StatusDraft, NextLevel: org.Village}
	issued := &card.Card{VillageCode: "220102001001", CountyCode: "220102", Status: card.StatusIssued}
	for _, code := range []string{"220102001001", "220102001", "220102"} {
		o := demoOrg(t, code)
		o.Retired = true
		a := Actor{Username: code, Org: o}
		for _, act := range Actions {
			c := draft
			switch act {
			case VoidCard, RevokeCard, SupersedeCard:
				c = issued
			case ExportCards, ReadReports, ExportCredit:
				c = nil
			}
			err := Allowed(a, c, act)
			if slices.Contains(writes, act) {
				if !errors.Is(err, ErrRetired) {
					t.Errorf("retired %s may %s: %v", o.Level, act, err)
				}
				continue
			}
			// Reading and reporting stay open: the records of what it
			// did are still its own.
			if errors.Is(err, ErrRetired) {
				t.Errorf("retired %s may not %s: %v", o.Level, act, err)
			}
		}
	}
}

func TestAllowedWithoutCard(t *testing.T) {
	a := Actor{Username: "220102", Org: demoOrg(t, "220102")}
	for _, act := range Actions {
		err := Allowed(a, nil, act)
		switch act {
		case ExportCards, ReadReports, ExportCredit:
			if err != nil {
				t.Errorf("%s without a card: %v", act, err)
			}
		case TakeApplication, ManagePopulation:
			if !errors.Is(err, ErrForbidden) {
				t.Errorf("%s naming no village or county: %v, want ErrForbidden", act, err)
			}
		default:
			if !errors.Is(err, ErrState) {
				t.Errorf("%s without a card: %v, want ErrState", act, err)
			}
		}
	}
	c := &card.Card{VillageCode: "220102001001", CountyCode: "220102", Status: card.StatusDraft, NextLevel: org.Village}
	if err := Allowed(a, c, "publish"); !errors.Is(err, ErrState) {
		t.Errorf("an unknown action: %v, want ErrState", err)
	}
}

func TestVillages(t *testing.T) {
	reg := fakeRegistry(t)
	s := NewService(reg, demoKeys(t), "http://127.0.0.1:8080")
	ctx := context.Background()
	for code, want := range map[string][]string{
		"220102001001": {"220102001001"},
		"220102001":    {"220102001001"},
		"220102002":    {"220102002001"},
		"220102":       {"220102001001", "220102002001"},
	} {
		vs, err := s.Villages(ctx, actor(t, reg, code))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range vs {
			got = append(got, v.Code)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s takes applications for %v, want %v", code, got, want)
		}
	}
	// A retired organisation takes none.
	o := demoOrg(t, "220102001")
	o.Retired = true
	if err := reg.UpdateOrg(ctx, o); err != nil {
		t.Fatal(err)
	}
	if vs, err := s.Villages(ctx, actor(t, reg, "220102001")); err != nil || len(vs) != 0 {
		t.Fatalf("a retired township takes applications for %v (%v)", vs, err)
	}
}

// TestRetiredSealsNothing: a village retired after taking an application
// cannot seal it; nothing is written.
func TestRetiredSealsNothing(t *testing.T) {
	reg := fakeRegistry(t)
	s := NewService(reg, demoKeys(t), "http://127.0.0.1:8080")
	ctx := context.Background()
	c, err := s.Apply(ctx, actor(t, reg, "220102001001"), example(t))
	if err != nil {
		t.Fatal(err)
	}
	o := demoOrg(t, "220102001001")
	o.Retired = true
	if err := reg.UpdateOrg(ctx, o); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal(ctx, actor(t, reg, "220102001001"), c.ID); !errors.Is(err, ErrRetired) {
		t.Fatalf("a retired village sealed: %v", err)
	}
	got, err := reg.GetCard(ctx, c.ID)
	if err != nil || got.Seq != 0 || got.Version != 1 {
		t.Fatalf("after the refused seal: %+v %v", got, err)
	}
}
