package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/verifier"
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
		// (Re-issues of A: a couple holding a valid card of a type
		// applies for another only as its re-issue.)
		b := v.create(t, applicantWith(t, func(x *card.Applicant) {
			x.Type, x.ChildOrder, x.ReissueOf = card.Rebirth, 2, a.Number
			x.StatusCert = &card.StatusCert{Number: "YJ-2026-0042", Issuer: "永安社区居民委员会"}
		}))
		c := v.create(t, applicantWith(t, func(x *card.Applicant) {
			x.Type, x.ChildOrder, x.ReissueOf = card.Rebirth, 2, a.Number
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

// reviewOf returns each level's state of a card as the JSON API's queue
// of user gives it ("" for a level when the card is not in the queue).
func (v *env) reviewOf(t *testing.T, user, id string) map[string]ReviewView {
	t.Helper()
	r := v.do(http.MethodGet, "/api/v1/queue", v.session(user), "", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("queue of %s: %d %s", user, r.Code, r.body)
	}
	var q struct{ Cards []CardView }
	r.json(t, &q)
	i := slices.IndexFunc(q.Cards, func(c CardView) bool { return c.ID == id })
	if i < 0 {
		return nil
	}
	out := map[string]ReviewView{}
	for _, rv := range q.Cards[i].Review {
		out[string(rv.Level)] = rv
	}
	return out
}

// states is the review of a card as "village township county" states.
func states(rv map[string]ReviewView) string {
	var out []string
	for _, l := range []string{"village", "township", "county"} {
		st := string(rv[l].State)
		if rv[l].Cancelled {
			st += "(cancelled)"
		}
		out = append(out, st)
	}
	return strings.Join(out, " ")
}

// consoleQueuePage is the console queue of user.
func (v *env) consoleQueuePage(t *testing.T, user string) string {
	t.Helper()
	ck, _ := v.consoleLogin(t, user, testPassword)
	if ck == nil {
		t.Fatalf("console login of %s", user)
	}
	req := httptest.NewRequest(http.MethodGet, "/console", nil)
	req.RemoteAddr = "192.0.2.10:40000"
	req.AddCookie(ck)
	r := v.serve(req)
	if r.Code != http.StatusOK {
		t.Fatalf("console queue of %s: %d", user, r.Code)
	}
	return string(r.body)
}

// TestArt15SimultaneousReview (网上同时审核): a new application is at
// once in the queues of its village, township and county; the county and
// the township approve before the village has looked at it (with their
// passwords), a change of the materials cancels both approvals and the
// audit names the approvers, they approve again, and the village's seal
// sets off the township's and the county's: the card is issued by the
// village's one act, with the seals still village → township → county,
// each recording its approval time apart from its signing time.
func TestArt15SimultaneousReview(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		const village, town, county = "220102001001", "220102001", "220102"
		c := v.create(t, applicantWith(t, incomplete))
		for _, u := range []string{village, town, county} {
			if got := states(v.reviewOf(t, u, c.ID)); got != "pending pending pending" {
				t.Fatalf("queue of %s: %q, want the new application pending at every level", u, got)
			}
		}
		if page := v.consoleQueuePage(t, county); !strings.Contains(page, c.Number) || !strings.Contains(page, "待审") {
			t.Fatal("the county's console queue does not show the new application as 待审")
		}

		approve := func(user string) *resp {
			return v.postJSON("/api/v1/cards/"+c.ID+"/approve", v.session(user), SealRequest{Password: testPassword})
		}
		expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/approve", v.session(county), SealRequest{Password: "wrong password"}), http.StatusUnauthorized, "bad-credentials")
		for _, u := range []string{county, town} {
			if r := approve(u); r.Code != http.StatusOK {
				t.Fatalf("approval of %s: %d %s", u, r.Code, r.body)
			}
		}
		expectProblem(t, approve(county), http.StatusConflict, "already-approved")
		if got := states(v.reviewOf(t, county, c.ID)); got != "pending approved approved" {
			t.Fatalf("after the approvals: %q", got)
		}
		if got := v.fullCard(c.ID); got.Status != card.StatusDraft || len(got.Seals) != 0 || got.NextLevel != "village" {
			t.Fatalf("approvals sealed something: %s, %d seals, awaiting %s", got.Status, len(got.Seals), got.NextLevel)
		}
		if page := v.consoleQueuePage(t, town); !strings.Contains(page, "已同意待盖章") {
			t.Fatal("the township's console queue does not show its approval as 已同意待盖章")
		}

		// The application changes: both approvals are cancelled, and the
		// approvers are told.
		put := mustJSON(t, MaterialsRequest{Materials: map[card.Material]card.MaterialState{
			card.MatIDCards: card.Provided, card.MatHukou: card.Provided, card.MatMarriage: card.Provided,
		}})
		if r := v.do(http.MethodPut, "/api/v1/cards/"+c.ID+"/materials", v.session(village), "application/json", put); r.Code != http.StatusOK {
			t.Fatalf("materials: %d %s", r.Code, r.body)
		}
		if got := states(v.reviewOf(t, town, c.ID)); got != "pending pending(cancelled) pending(cancelled)" {
			t.Fatalf("after the change: %q", got)
		}
		if page := v.consoleQueuePage(t, county); !strings.Contains(page, "此前的同意因申请变更已撤销") {
			t.Fatal("the county's console queue does not tell that its approval was cancelled")
		}
		evs, err := v.st.AuditEvents(context.Background(), c.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		told := map[string]bool{}
		for _, ev := range evs {
			var d struct {
				ApprovedBy string `json:"approved_by"`
			}
			if ev.Action == audit.CardUnapprove && json.Unmarshal(ev.Detail, &d) == nil {
				told[d.ApprovedBy] = true
			}
		}
		if !told[county] || !told[town] || len(told) != 2 {
			t.Fatalf("cancellation events name %v, want the county's and the township's approvers", told)
		}

		// They approve again; the village's seal sets off theirs.
		for _, u := range []string{town, county} {
			if r := approve(u); r.Code != http.StatusOK {
				t.Fatalf("second approval of %s: %d %s", u, r.Code, r.body)
			}
		}
		v.clock.Add(time.Minute) // the village looks at it later
		r := v.seal(c.ID, village)
		if r.Code != http.StatusOK {
			t.Fatalf("village seal: %d %s", r.Code, r.body)
		}
		var got CardView
		r.json(t, &got)
		if got.Status != card.StatusIssued || len(got.Seals) != 3 {
			t.Fatalf("after the village's seal: %s with %d seals, want issued with 3", got.Status, len(got.Seals))
		}
		for i, want := range []struct{ level, user string }{{"village", village}, {"township", town}, {"county", county}} {
			s := got.Seals[i]
			if string(s.Level) != want.level || s.ApprovedBy != want.user || s.ApprovedAt == nil {
				t.Fatalf("seal %d: %s approved by %q at %v, want %s approved by %s", i+1, s.Level, s.ApprovedBy, s.ApprovedAt, want.level, want.user)
			}
			if i > 0 && !s.ApprovedAt.Before(s.SignedAt) {
				t.Fatalf("seal %d: approved at %v, signed at %v: the approval came first", i+1, s.ApprovedAt, s.SignedAt)
			}
		}
		for _, u := range []string{village, town, county} {
			if v.reviewOf(t, u, c.ID) != nil {
				t.Fatalf("the issued card is still in the queue of %s", u)
			}
		}
		pdf := v.do(http.MethodGet, "/api/v1/cards/"+c.ID+"/pdf", v.session(county), "", nil)
		if rep := v.verifyPDF(t, pdf.body, chain.Card, got.Number); rep.Verdict != verifier.Valid || len(rep.Seals) != 3 {
			t.Fatalf("the card verifies %s with %d seals: %v", rep.Verdict, len(rep.Seals), rep.Reasons())
		}
		// The audit names who approved each seal.
		evs, err = v.st.AuditEvents(context.Background(), c.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		sealers := map[string]bool{}
		for _, ev := range evs {
			if ev.Action == audit.CardSeal {
				sealers[ev.Actor] = true
			}
		}
		if !sealers[village] || !sealers[town] || !sealers[county] {
			t.Fatalf("seal events by %v", sealers)
		}

		// The direct seal still works for the level whose turn it is, and
		// an approval at one's turn seals at once.
		d := v.create(t, coupleApplicant(t, 98)) // another couple: the first holds a valid card
		if r := v.seal(d.ID, village); r.Code != http.StatusOK {
			t.Fatalf("direct seal: %d %s", r.Code, r.body)
		}
		r = v.postJSON("/api/v1/cards/"+d.ID+"/approve", v.session(town), SealRequest{Password: testPassword})
		if r.Code != http.StatusOK {
			t.Fatalf("approval at the township's turn: %d %s", r.Code, r.body)
		}
		r.json(t, &got)
		if len(got.Seals) != 2 || got.NextLevel != "county" {
			t.Fatalf("approval at one's turn: %d seals, awaiting %s", len(got.Seals), got.NextLevel)
		}
		expectProblem(t, v.postJSON("/api/v1/cards/"+d.ID+"/approve", v.session(village), SealRequest{Password: testPassword}), http.StatusConflict, "already-sealed")
	})
}

// TestArt3Art6IssuerByCardType: 一孩、二孩 cards are issued by the
// township (Art. 3), re-birth cards by the county (Art. 6); the card
// prints its 发证机关, the public page and JSON name it, and the seals
// stay village → township → county for every type. A province changes
// the table by configuration (the issuers setting).
func TestArt3Art6IssuerByCardType(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		const township, county = "永吉街道办事处", "长春市南关区卫生健康局"
		check := func(t *testing.T, c CardView, wantName, wantLevel string) {
			t.Helper()
			v.issue(c.ID)
			pdf := v.do(http.MethodGet, "/api/v1/cards/"+c.ID+"/pdf", v.session("220102"), "", nil)
			if rep := v.verifyPDF(t, pdf.body, chain.Card, c.Number); rep.Verdict != verifier.Valid || len(rep.Seals) != 3 {
				t.Fatalf("%s card: %s with %d seals", c.Type, rep.Verdict, len(rep.Seals))
			}
			// The township's name is printed in its own cell and under its
			// seal, the county's under its seal; the 发证机关 cell adds one
			// more of the issuer's.
			text := pdfText(t, pdf.body)
			nt, nc := strings.Count(text, township), strings.Count(text, county)
			if !strings.Contains(text, "发证机关") || (wantLevel == "township") != (nt == 3 && nc == 1) || (wantLevel == "county") != (nt == 2 && nc == 2) {
				t.Fatalf("%s card: the township named %d times, the county %d, want the 发证机关 cell to name the %s:\n%s", c.Type, nt, nc, wantLevel, text)
			}
			tok := v.cardToken(c.ID)
			var a struct {
				Status      string `json:"status"`
				Issuer      string `json:"issuer"`
				IssuerLevel string `json:"issuer_level"`
			}
			v.do(http.MethodGet, "/api/v1/verify/"+tok, "", "", nil).json(t, &a)
			if a.Status != "valid" || a.Issuer != wantName || a.IssuerLevel != wantLevel {
				t.Fatalf("%s card's public answer: %+v, want valid issued by %s (%s)", c.Type, a, wantName, wantLevel)
			}
			page := v.do(http.MethodGet, "/V/"+tok, "", "", nil)
			if !strings.Contains(string(page.body), `<dd id="issuer">`+wantName+`</dd>`) {
				t.Fatalf("%s card's public page does not name the issuer %s", c.Type, wantName)
			}
		}
		check(t, v.create(t, exampleApplicant(t)), township, "township")
		check(t, v.create(t, applicantWith(t, func(a *card.Applicant) {
			a.Type, a.ChildOrder = card.Second, 2
			a.Male.IDNumber, a.Female.IDNumber = "220102198801011232", "220102199002022343"
		})), township, "township")
		check(t, v.create(t, rebirthApplicant(t)), county, "county")

		// Configured otherwise: first-child cards issued by the county.
		p, err := lifecycle.ParseIssuers("first=county")
		if err != nil {
			t.Fatal(err)
		}
		v.svc.Issuers = p
		check(t, v.create(t, applicantWith(t, func(a *card.Applicant) {
			a.Male.IDNumber, a.Female.IDNumber = "22010219850505123X", "220102198706062349"
		})), county, "county")
		for _, bad := range []string{"first=village", "third=county", "first"} {
			if _, err := lifecycle.ParseIssuers(bad); !errors.Is(err, lifecycle.ErrIssuers) {
				t.Errorf("ParseIssuers(%q) = %v, want ErrIssuers", bad, err)
			}
		}
	})
}

// consoleDo sends a console request of user (cookie ck): a GET, or a
// POST of form with the CSRF token.
func (v *env) consoleDo(ck *http.Cookie, method, path string, form url.Values) *resp {
	var req *http.Request
	if form != nil {
		form.Set("csrf", csrfToken(ck.Value))
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	req.RemoteAddr = "192.0.2.10:40000"
	req.AddCookie(ck)
	return v.serve(req)
}

// TestArt14CounterApplications (窗口受理): township and county counter
// staff take applications in the console for a village of their
// jurisdiction, which they choose (never one outside it); the
// application is then in the queues of all three levels, and the other
// levels approve online (Art. 15) until the village's seal issues it.
func TestArt14CounterApplications(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		const village, town, county = "220102001001", "220102001", "220102"
		for _, tc := range []struct {
			user          string
			offers, never []string
		}{
			{town, []string{"220102001001"}, []string{"220102002001"}},
			{county, []string{"220102001001", "220102002001"}, nil},
		} {
			ck, _ := v.consoleLogin(t, tc.user, testPassword)
			if ck == nil {
				t.Fatalf("console login of %s", tc.user)
			}
			form := v.consoleDo(ck, http.MethodGet, "/console/new", nil)
			if form.Code != http.StatusOK {
				t.Fatalf("new application form for %s: %d", tc.user, form.Code)
			}
			for _, vc := range tc.offers {
				if !strings.Contains(string(form.body), `<option value="`+vc+`"`) {
					t.Fatalf("the form of %s does not offer village %s", tc.user, vc)
				}
			}
			for _, vc := range tc.never {
				if strings.Contains(string(form.body), `<option value="`+vc+`"`) {
					t.Fatalf("the form of %s offers village %s outside its jurisdiction", tc.user, vc)
				}
				before := len(v.listDrafts(t, county))
				r := v.consoleDo(ck, http.MethodPost, "/console/new", permConsoleForm(permApplicant(vc)))
				if r.Code == http.StatusSeeOther || len(v.listDrafts(t, county)) != before {
					t.Fatalf("%s took an application for %s outside its jurisdiction: %d", tc.user, vc, r.Code)
				}
			}
			r := v.consoleDo(ck, http.MethodPost, "/console/new", permConsoleForm(permApplicant(village)))
			loc := r.Header().Get("Location")
			if r.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/cards/") {
				t.Fatalf("counter application by %s: %d %s", tc.user, r.Code, loc)
			}
			id := strings.TrimSuffix(strings.TrimPrefix(loc, "/console/cards/"), "?done=created")
			c := v.fullCard(id)
			if c.VillageCode != village || c.CreatedBy != tc.user {
				t.Fatalf("counter application: village %s by %s", c.VillageCode, c.CreatedBy)
			}
			for _, u := range []string{village, town, county} {
				if got := states(v.reviewOf(t, u, id)); got != "pending pending pending" {
					t.Fatalf("the counter application in the queue of %s: %q", u, got)
				}
			}
			// The other levels approve online; the village's seal issues it.
			complete := mustJSON(t, MaterialsRequest{Materials: permMaterials})
			if r := v.do(http.MethodPut, "/api/v1/cards/"+id+"/materials", v.session(village), "application/json", complete); r.Code != http.StatusOK {
				t.Fatalf("materials: %d %s", r.Code, r.body)
			}
			if r := v.consoleDo(ck, http.MethodPost, "/console/cards/"+id+"/approve", url.Values{"password": {testPassword}}); r.Code != http.StatusSeeOther {
				t.Fatalf("console approval by %s: %d", tc.user, r.Code)
			}
			for _, u := range []string{town, county} {
				if u == tc.user {
					continue
				}
				if r := v.postJSON("/api/v1/cards/"+id+"/approve", v.session(u), SealRequest{Password: testPassword}); r.Code != http.StatusOK {
					t.Fatalf("approval by %s: %d %s", u, r.Code, r.body)
				}
			}
			if r := v.seal(id, village); r.Code != http.StatusOK {
				t.Fatalf("village seal: %d %s", r.Code, r.body)
			}
			if got := v.fullCard(id); got.Status != card.StatusIssued || len(got.Seals) != 3 {
				t.Fatalf("after the village's seal: %s with %d seals", got.Status, len(got.Seals))
			}
		}
	})
}

// listDrafts are the drafts of the county's queue.
func (v *env) listDrafts(t *testing.T, user string) []CardView {
	t.Helper()
	var q struct{ Cards []CardView }
	v.do(http.MethodGet, "/api/v1/queue", v.session(user), "", nil).json(t, &q)
	return q.Cards
}
