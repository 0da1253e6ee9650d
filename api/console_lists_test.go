package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/store/storetest"
)

// searchEventCount counts the audit log's search events.
func (v *env) searchEventCount(t *testing.T) int {
	t.Helper()
	evs, err := v.st.AuditEvents(context.Background(), "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Action == audit.CardsSearch {
			n++
		}
	}
	return n
}

// TestArt13ConsoleSearch (issue 16): in the console staff find a card by
// a holder's full name or ID number, however typed, among the cards of
// their jurisdiction only — a couple of the same names in another
// township is not shown, and that township finds nothing of this one;
// every search is an audited read (Art. 13). The tabs 已办 and 办结 list
// the cards a level has sealed: a village keeps seeing its card after
// its seal and after the card is issued. On SQLite and PostgreSQL.
func TestArt13ConsoleSearch(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		// Two couples with the same names (coupleApp changes the ID
		// numbers only): one of 永吉街道, one of 桃源街道.
		ours := v.create(t, coupleApp(t, 420, "220102001001"))
		r := v.do(http.MethodPost, "/api/v1/cards", v.session("220102002001"), "application/json", coupleApp(t, 421, "220102002001"))
		if r.Code != http.StatusCreated {
			t.Fatalf("create the other township's card: %d %s", r.Code, r.body)
		}
		var theirs CardView
		r.json(t, &theirs)
		ourHusband := husbandID(420)

		town := v.consoleAs(t, "220102001")
		other := v.consoleAs(t, "220102002")
		searches := 0
		search := func(c *consoleAs, q string) *resp {
			t.Helper()
			searches++
			return c.post("/console/search", url.Values{"q": {q}})
		}
		for _, q := range []string{ourHusband, " " + strings.ReplaceAll(ourHusband[:6], "2", "２") + " " + ourHusband[6:], "李四", "王喆堃"} {
			r := search(town, q)
			body := string(r.body)
			if r.Code != http.StatusOK || !strings.Contains(body, ours.Number) || strings.Contains(body, theirs.Number) {
				t.Fatalf("the township searching %q: %d, its card listed %t, the other township's %t", q, r.Code, strings.Contains(body, ours.Number), strings.Contains(body, theirs.Number))
			}
			if !strings.Contains(body, "本次查找已记入审计日志") || strings.Contains(body, ourHusband[6:14]) && !strings.Contains(q, ourHusband[6:14]) {
				t.Fatalf("the result page for %q:\n%s", q, body)
			}
		}
		r = search(other, ourHusband)
		if body := string(r.body); r.Code != http.StatusOK || strings.Contains(body, ours.Number) || !strings.Contains(body, `id="list-empty"`) {
			t.Fatalf("another township searching our husband's ID number: %d, lists our card %t", r.Code, strings.Contains(body, ours.Number))
		}
		r = search(other, "李四")
		if body := string(r.body); r.Code != http.StatusOK || strings.Contains(body, ours.Number) || !strings.Contains(body, theirs.Number) {
			t.Fatalf("another township searching the name: %d", r.Code)
		}
		if n := v.searchEventCount(t); n != searches {
			t.Fatalf("%d search events for %d searches", n, searches)
		}
		// A part of an ID number: a message in the console, no search.
		r = town.post("/console/search", url.Values{"q": {"220102"}})
		if r.Code != http.StatusBadRequest || !strings.Contains(string(r.body), "身份证号（18 位）") || !strings.Contains(string(r.body), `value="220102"`) {
			t.Fatalf("a part of an ID number: %d\n%s", r.Code, r.body)
		}
		if n := v.searchEventCount(t); n != searches {
			t.Fatalf("a refused query was recorded as a search (%d events)", n)
		}
		// A card number opens the card.
		r = town.post("/console/search", url.Values{"q": {ours.Number}})
		if r.Code != http.StatusSeeOther || r.Header().Get("Location") != "/console/cards/"+ours.ID {
			t.Fatalf("a card number: %d %q", r.Code, r.Header().Get("Location"))
		}

		// The tabs: the village's card moves from 待办 to 已办 with its
		// seal, and to 办结 when issued.
		village := v.consoleAs(t, "220102001001")
		in := func(path, number string) bool {
			t.Helper()
			r := village.get(path)
			if r.Code != http.StatusOK {
				t.Fatalf("%s: %d", path, r.Code)
			}
			return strings.Contains(string(r.body), number)
		}
		if !in("/console", ours.Number) || in("/console/handled", ours.Number) || in("/console/closed", ours.Number) {
			t.Fatal("a new application is not in 待办 only")
		}
		if r := v.seal(ours.ID, "220102001001"); r.Code != http.StatusOK {
			t.Fatalf("seal: %d %s", r.Code, r.body)
		}
		if in("/console", ours.Number) || !in("/console/handled", ours.Number) || in("/console/closed", ours.Number) {
			t.Fatal("after the village's seal the card is not in 已办 only")
		}
		for _, u := range []string{"220102001", "220102"} {
			if r := v.seal(ours.ID, u); r.Code != http.StatusOK {
				t.Fatalf("seal as %s: %d %s", u, r.Code, r.body)
			}
		}
		if in("/console", ours.Number) || in("/console/handled", ours.Number) || !in("/console/closed", ours.Number) {
			t.Fatal("the issued card is not in 办结 only")
		}
		// The other township's clerk never sees it in any tab.
		for _, p := range []string{"/console", "/console/handled", "/console/closed"} {
			if r := other.get(p); r.Code != http.StatusOK || strings.Contains(string(r.body), ours.Number) {
				t.Fatalf("%s of the other township: %d, lists our card %t", p, r.Code, strings.Contains(string(r.body), ours.Number))
			}
		}
	})
}

// TestConsoleHistoryNamesThePerson (issue 16): an account is a person's;
// the card's 办理记录 names who acted as "name（username）", the
// console's header names who is logged in, and an online application's
// creator reads as the applicant.
func TestConsoleHistoryNamesThePerson(t *testing.T) {
	v := newEnv(t, Options{})
	if err := v.st.CreateUser(context.Background(), &staff.User{Username: "zhangmin", DisplayName: "张敏", OrgCode: "220102001001", PasswordHash: testHash(t)}); err != nil {
		t.Fatal(err)
	}
	r := v.do(http.MethodPost, "/api/v1/cards", v.session("zhangmin"), "application/json", exampleApplicant(t))
	if r.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Code, r.body)
	}
	var c CardView
	r.json(t, &c)
	zhang := v.consoleAs(t, "zhangmin")
	page := string(zhang.get("/console/cards/" + c.ID).body)
	if !strings.Contains(page, "<td class=\"num\">张敏（zhangmin）</td>") {
		t.Fatalf("the history does not name the person:\n%s", grepLines(page, "zhangmin"))
	}
	if !strings.Contains(page, `<span class="who">永安社区居民委员会 张敏（zhangmin）</span>`) {
		t.Fatalf("the header does not name the person:\n%s", grepLines(page, "class=\"who\""))
	}
	// An account without a name reads as its username.
	town := string(v.consoleAs(t, "220102001").get("/console/cards/" + c.ID).body)
	if !strings.Contains(town, `<span class="who">永吉街道办事处（220102001）</span>`) {
		t.Fatalf("an account without a name:\n%s", grepLines(town, "class=\"who\""))
	}
}
