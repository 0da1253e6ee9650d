package api

import (
	"net/http"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/store/storetest"
)

// The articles of issue 14 that concern the seal chain and who issues
// what, end to end through the router on both backends.

// swapped exchanges the spouses' identities: the same couple, written in
// the other order.
func swapped(a *card.Applicant) {
	a.Male.Name, a.Female.Name = a.Female.Name, a.Male.Name
	a.Male.IDNumber, a.Female.IDNumber = a.Female.IDNumber, a.Male.IDNumber
}

// TestArt22VoidStopsPendingRebirth: once a re-birth card of a couple is
// voided, no re-birth card of theirs gets another seal or is issued, not
// only no new application — applications made before the void included,
// with the spouses in either order. Each refusal is 409 rebirth-blocked
// and changes nothing; the couple's other cards are not affected.
func TestArt22VoidStopsPendingRebirth(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		a := v.create(t, rebirthApplicant(t))
		v.issue(a.ID)

		// Before the void: B has the village's seal, C the township's too
		// and awaits the county, which would issue it.
		b := v.create(t, rebirthApplicant(t))
		c := v.create(t, applicantWith(t, func(x *card.Applicant) {
			x.Type, x.ChildOrder = card.Rebirth, 2
			x.StatusCert = &card.StatusCert{Number: "YJ-2026-0042", Issuer: "永安社区居民委员会"}
			swapped(x)
		}))
		first := v.create(t, exampleApplicant(t))
		for _, s := range []struct{ id, user string }{
			{b.ID, "220102001001"}, {c.ID, "220102001001"}, {c.ID, "220102001"}, {first.ID, "220102001001"},
		} {
			if r := v.seal(s.id, s.user); r.Code != http.StatusOK {
				t.Fatalf("seal %s as %s: %d %s", s.id, s.user, r.Code, r.body)
			}
		}

		if r := v.postJSON("/api/v1/cards/"+a.ID+"/void", v.session("220102"), map[string]string{"reason": "other", "note": "测试"}); r.Code != http.StatusOK {
			t.Fatalf("void: %d %s", r.Code, r.body)
		}

		expectProblem(t, v.seal(b.ID, "220102001"), http.StatusConflict, "rebirth-blocked")
		expectProblem(t, v.seal(c.ID, "220102"), http.StatusConflict, "rebirth-blocked")
		expectProblem(t, v.do(http.MethodPost, "/api/v1/cards", v.session("220102001001"), "application/json", rebirthApplicant(t)), http.StatusConflict, "rebirth-blocked")
		for _, w := range []struct {
			id    string
			next  string
			seals int
		}{{b.ID, "township", 1}, {c.ID, "county", 2}} {
			got := v.fullCard(w.id)
			if got.Status != card.StatusDraft || string(got.NextLevel) != w.next || len(got.Seals) != w.seals {
				t.Fatalf("blocked card %s: %s awaiting %s with %d seals, want draft awaiting %s with %d", w.id, got.Status, got.NextLevel, len(got.Seals), w.next, w.seals)
			}
		}
		// The first-child card of the same couple is not a re-birth card.
		for _, u := range []string{"220102001", "220102"} {
			if r := v.seal(first.ID, u); r.Code != http.StatusOK {
				t.Fatalf("first-child card sealed as %s: %d %s", u, r.Code, r.body)
			}
		}
	})
}
