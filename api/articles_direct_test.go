package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/verifier"
)

// publicDirect reads the public JSON answer and the QR page of a card.
func (v *env) publicDirect(t *testing.T, id string) (lifecycle.Answer, string) {
	t.Helper()
	tok := v.cardToken(id)
	var a lifecycle.Answer
	v.do(http.MethodGet, "/api/v1/verify/"+tok, "", "", nil).json(t, &a)
	page := v.do(http.MethodGet, "/V/"+tok, "", "", nil)
	if page.Code != http.StatusOK {
		t.Fatalf("QR page: %d", page.Code)
	}
	return a, page.Body.String()
}

// TestArt17CountyDirectRebirth: the village and the township report a
// re-birth application to the county (预审上报); the county issues the
// card from that list with its own seal alone, confirmed with its
// password; the card's seal names the rebirth-direct policy, the report
// and the approval form, whose number names the card; the village and
// the township then seal the form (补盖). The public answer says
// 县级直接办理（第十七条）and whether the form's lower seals are complete.
// Only a re-birth card on the list, without any seal, is issued so, and
// the Art. 22 bar holds for it as for every seal.
func TestArt17CountyDirectRebirth(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		county, village, township := v.session("220102"), v.session("220102001001"), v.session("220102001")
		c := v.create(t, rebirthApplicant(t))
		// A second re-birth application of the same couple, made before
		// the first is issued.
		later := v.create(t, rebirthApplicant(t))
		direct := func(id, tok, password string) *resp {
			return v.postJSON("/api/v1/cards/"+id+"/issue-direct", tok, IssueDirectRequest{Password: password, Reason: "村、乡预审上报，符合再生育条件"})
		}
		preReview := func(id, tok string) *resp {
			return v.do(http.MethodPost, "/api/v1/cards/"+id+"/pre-review", tok, "", nil)
		}

		// Not on the list yet: the county may not issue it directly.
		expectProblem(t, direct(c.ID, county, testPassword), http.StatusConflict, "not-pre-reviewed")
		// The county does not report to itself; another township may not.
		expectProblem(t, preReview(c.ID, county), http.StatusForbidden, "wrong-level")
		expectProblem(t, preReview(c.ID, v.session("220102002")), http.StatusForbidden, "forbidden")
		var reports [2]PreReviewView
		for i, tok := range []string{village, township} {
			r := preReview(c.ID, tok)
			if r.Code != http.StatusCreated {
				t.Fatalf("pre-review %d: %d %s", i, r.Code, r.body)
			}
			r.json(t, &reports[i])
		}
		expectProblem(t, preReview(c.ID, village), http.StatusConflict, "already-reported")
		if r := preReview(later.ID, village); r.Code != http.StatusCreated {
			t.Fatalf("pre-review of the later application: %d %s", r.Code, r.body)
		}
		// A first-child card is never issued directly.
		first := v.create(t, exampleApplicant(t))
		expectProblem(t, preReview(first.ID, village), http.StatusConflict, "wrong-state")

		// The county's list names the card and both reports; another
		// township's list does not.
		var list struct {
			PreReviews []PreReviewListItem `json:"pre_reviews"`
		}
		v.do(http.MethodGet, "/api/v1/pre-reviews", county, "", nil).json(t, &list)
		found := false
		for _, it := range list.PreReviews {
			if it.Card.ID == c.ID {
				found = len(it.Reports) == 2
			}
		}
		if !found {
			t.Fatalf("the county's pre-review list lacks the card with two reports: %+v", list)
		}
		list.PreReviews = nil
		v.do(http.MethodGet, "/api/v1/pre-reviews", v.session("220102002"), "", nil).json(t, &list)
		if len(list.PreReviews) != 0 {
			t.Fatalf("another township sees %d reports", len(list.PreReviews))
		}

		// Only the county issues directly, with its password.
		expectProblem(t, direct(c.ID, village, testPassword), http.StatusForbidden, "wrong-level")
		expectProblem(t, direct(c.ID, county, "not the county's"), http.StatusUnauthorized, "bad-credentials")
		if got := v.fullCard(c.ID); got.Status != card.StatusDraft || len(got.Seals) != 0 {
			t.Fatalf("refused direct issue changed the card: %s, %d seals", got.Status, len(got.Seals))
		}
		r := direct(c.ID, county, testPassword)
		if r.Code != http.StatusOK {
			t.Fatalf("direct issue: %d %s", r.Code, r.body)
		}
		var issued IssueDirectView
		r.json(t, &issued)
		// The county's decision seals the form too; the village and the
		// township add theirs afterwards.
		if issued.Card.Status != card.StatusIssued || issued.Form.Number != c.Number+"-F" || issued.Form.CardID != c.ID || issued.Form.Seals != 1 {
			t.Fatalf("issued %s, form %+v", issued.Card.Status, issued.Form)
		}
		full := v.fullCard(c.ID)
		if len(full.Seals) != 1 || full.Seals[0].Level != "county" {
			t.Fatalf("seals %+v", full.Seals)
		}
		// The card's seal names the policy, the township's report and
		// the form, whatever policy the checker assumes.
		rep := v.verifyPDF(t, v.currentPDF(c.ID), chain.Card, c.Number)
		if rep.Verdict != verifier.Valid || rep.Policy != chain.RebirthDirect.Name || rep.Form != issued.Form.Number || rep.PreReview != reports[1].ID {
			t.Fatalf("verdict %s, policy %q, form %q, pre-review %q (want %q): %v", rep.Verdict, rep.Policy, rep.Form, rep.PreReview, reports[1].ID, rep.Reasons())
		}
		if _, err := lifecycle.NewChecker(v.svc).VerifyStored(context.Background(), mustCard(t, v, c.ID)); err != nil {
			t.Fatalf("stored check: %v", err)
		}
		// One valid card per couple and type holds for a direct card.
		expectProblem(t, v.do(http.MethodPost, "/api/v1/cards", village, "application/json", rebirthApplicant(t)), http.StatusConflict, "card-held")
		// Issued: no second direct issue, no seal of the ordinary chain.
		expectProblem(t, direct(c.ID, county, testPassword), http.StatusConflict, "wrong-state")
		expectProblem(t, v.seal(c.ID, "220102001001"), http.StatusConflict, "wrong-state")

		// The public answer: valid, issued directly, the form's lower
		// seals not yet complete.
		a, page := v.publicDirect(t, c.ID)
		if a.Status != lifecycle.PublicValid || a.Direct == nil || !a.Direct.Direct || a.Direct.LowerSealsComplete {
			t.Fatalf("public answer %s, direct %+v", a.Status, a.Direct)
		}
		for _, want := range []string{"县级直接办理（第十七条）", "村、乡审批表印章尚未补齐"} {
			if !strings.Contains(page, want) {
				t.Fatalf("the QR page lacks %q", want)
			}
		}
		// 补盖: the village and the township seal the form.
		for _, u := range []string{"220102001001", "220102001"} {
			if r := v.postJSON("/api/v1/forms/"+issued.Form.ID+"/seal", v.session(u), SealRequest{Password: testPassword}); r.Code != http.StatusOK {
				t.Fatalf("form seal by %s: %d %s", u, r.Code, r.body)
			}
		}
		a, page = v.publicDirect(t, c.ID)
		if a.Status != lifecycle.PublicValid || a.Direct == nil || !a.Direct.LowerSealsComplete {
			t.Fatalf("after 补盖: %s, direct %+v", a.Status, a.Direct)
		}
		if !strings.Contains(page, "村、乡审批表印章已补齐") {
			t.Fatal("the QR page does not say the form's lower seals are complete")
		}
		// An ordinary card says nothing of it.
		ord := v.newCard()
		v.issue(ord.ID)
		if a, page := v.publicDirect(t, ord.ID); a.Direct != nil || strings.Contains(page, "第十七条") {
			t.Fatalf("an ordinary card is called direct: %+v", a.Direct)
		}

		// Art. 22: once the direct card is voided, no re-birth card of
		// the couple is issued directly either.
		if r := v.postJSON("/api/v1/cards/"+c.ID+"/void", county, map[string]string{"reason": "other", "note": "测试"}); r.Code != http.StatusOK {
			t.Fatalf("void: %d %s", r.Code, r.body)
		}
		expectProblem(t, direct(later.ID, county, testPassword), http.StatusConflict, "rebirth-blocked")
		if got := v.fullCard(later.ID); got.Status != card.StatusDraft || len(got.Seals) != 0 {
			t.Fatalf("blocked card: %s with %d seals", got.Status, len(got.Seals))
		}
		if a, _ := v.publicDirect(t, c.ID); a.Status != lifecycle.PublicVoided {
			t.Fatalf("voided direct card answers %s", a.Status)
		}
	})
}

func mustCard(t *testing.T, v *env, id string) *card.Card {
	t.Helper()
	c, err := v.st.GetCard(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// TestArt17ConsoleDirectRebirth: the same procedure in the console — the
// village's 预审上报 button, the county's pre-review list and its 直接办理
// confirmed with the password (a wrong one issues nothing).
func TestArt17ConsoleDirectRebirth(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		c := v.create(t, rebirthApplicant(t))
		vill, r := v.consoleLogin(t, "220102001001", testPassword)
		if vill == nil {
			t.Fatalf("village login: %d", r.Code)
		}
		cty, r := v.consoleLogin(t, "220102", testPassword)
		if cty == nil {
			t.Fatalf("county login: %d", r.Code)
		}
		page := "/console/cards/" + c.ID
		if p := v.consoleDo(cty, http.MethodGet, page, nil); strings.Contains(string(p.body), `id="direct-button"`) {
			t.Fatal("the county is offered 直接办理 before any pre-review")
		}
		if p := v.consoleDo(vill, http.MethodGet, page, nil); !strings.Contains(string(p.body), `id="prereview-button"`) {
			t.Fatalf("the village's card page offers no 预审上报: %d", p.Code)
		}
		if r := v.consoleDo(vill, http.MethodPost, page+"/pre-review", url.Values{}); r.Code != http.StatusSeeOther {
			t.Fatalf("pre-review: %d %s", r.Code, r.body)
		}
		if p := v.consoleDo(vill, http.MethodGet, page, nil); strings.Contains(string(p.body), `id="prereview-button"`) {
			t.Fatal("the village is offered 预审上报 twice")
		}
		list := v.consoleDo(cty, http.MethodGet, "/console/pre-reviews", nil)
		if list.Code != http.StatusOK || !strings.Contains(string(list.body), `id="prereview-`+c.ID+`"`) {
			t.Fatalf("the county's list lacks the card: %d", list.Code)
		}
		confirm := v.consoleDo(cty, http.MethodGet, page+"/direct", nil)
		if confirm.Code != http.StatusOK || !strings.Contains(string(confirm.body), `id="direct-reason"`) {
			t.Fatalf("confirmation page: %d", confirm.Code)
		}
		if r := v.consoleDo(cty, http.MethodPost, page+"/direct", url.Values{"password": {"wrong password"}, "reason": {"预审名单"}}); r.Code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", r.Code)
		}
		if got := v.fullCard(c.ID); got.Status != card.StatusDraft || len(got.Seals) != 0 {
			t.Fatalf("a wrong password issued the card: %s", got.Status)
		}
		r = v.consoleDo(cty, http.MethodPost, page+"/direct", url.Values{"password": {testPassword}, "reason": {"村、乡预审上报"}})
		if r.Code != http.StatusSeeOther {
			t.Fatalf("direct issue: %d %s", r.Code, r.body)
		}
		if got := v.fullCard(c.ID); got.Status != card.StatusIssued || len(got.Seals) != 1 {
			t.Fatalf("after 直接办理: %s with %d seals", got.Status, len(got.Seals))
		}
		if a, _ := v.publicDirect(t, c.ID); a.Status != lifecycle.PublicValid || a.Direct == nil {
			t.Fatalf("public answer %s, direct %+v", a.Status, a.Direct)
		}
		if p := v.consoleDo(cty, http.MethodGet, page, nil); !strings.Contains(string(p.body), `id="direct-issued"`) || strings.Contains(string(p.body), `id="direct-button"`) {
			t.Fatal("the card page does not say the card was issued directly, or offers it again")
		}

		// 补盖: the county's seal is on the form with its decision; the
		// village and the township add theirs from the card page,
		// confirmed with the password; the public answer follows.
		twp, r := v.consoleLogin(t, "220102001", testPassword)
		if twp == nil {
			t.Fatalf("township login: %d", r.Code)
		}
		formSeal := regexp.MustCompile(`href="(/console/forms/[^"/]+/seal)"`)
		p := v.consoleDo(vill, http.MethodGet, page, nil)
		m := formSeal.FindStringSubmatch(string(p.body))
		if m == nil || !strings.Contains(string(p.body), `id="form-section"`) || strings.Count(string(p.body), "：<span class=\"org\">尚未盖章") != 2 || !strings.Contains(string(p.body), "县级：已盖章") {
			t.Fatalf("the village's card page does not show the form sealed by the county alone, to seal")
		}
		if p := v.consoleDo(cty, http.MethodGet, page, nil); strings.Contains(string(p.body), `id="form-seal-button"`) {
			t.Fatal("the county is offered to seal the form it sealed when it issued the card")
		}
		sealURL := m[1]
		pdfURL := strings.TrimSuffix(sealURL, "/seal") + "/pdf"
		if d := v.consoleDo(vill, http.MethodGet, pdfURL, nil); d.Code != http.StatusOK || !bytes.HasPrefix(d.body, []byte("%PDF-")) {
			t.Fatalf("form PDF: %d", d.Code)
		}
		if cf := v.consoleDo(vill, http.MethodGet, sealURL, nil); cf.Code != http.StatusOK || !strings.Contains(string(cf.body), `id="confirm-form-seal"`) {
			t.Fatalf("form seal confirmation: %d", cf.Code)
		}
		before := v.consoleDo(vill, http.MethodGet, pdfURL, nil).body
		if r := v.consoleDo(vill, http.MethodPost, sealURL, url.Values{"password": {"wrong password"}}); r.Code != http.StatusUnauthorized || !strings.Contains(string(r.body), "密码错误，未盖章") {
			t.Fatalf("form seal with a wrong password: %d", r.Code)
		}
		if after := v.consoleDo(vill, http.MethodGet, pdfURL, nil).body; !bytes.Equal(before, after) {
			t.Fatal("a wrong password changed the form")
		}
		for i, who := range []*http.Cookie{vill, twp} {
			r := v.consoleDo(who, http.MethodPost, sealURL, url.Values{"password": {testPassword}})
			if r.Code != http.StatusSeeOther || !strings.Contains(r.Header().Get("Location"), "done=formsealed") {
				t.Fatalf("form seal %d: %d %s", i, r.Code, r.body)
			}
			if a, _ := v.publicDirect(t, c.ID); a.Direct == nil || a.Direct.LowerSealsComplete != (i == 1) {
				t.Fatalf("after form seal %d the public answer says lower seals complete = %+v", i, a.Direct)
			}
		}
		if p := v.consoleDo(vill, http.MethodGet, page, nil); strings.Contains(string(p.body), `id="form-seal-button"`) {
			t.Fatal("the village is offered to seal the form twice")
		}
		if f := v.fullCard(c.ID).Form; f == nil || fmt.Sprint(f.SealedLevels) != "[village township county]" || !f.Complete || !strings.HasSuffix(pdfURL, f.ID+"/pdf") {
			t.Fatalf("the card's JSON names its form as %+v", f)
		}
		sealed := v.consoleDo(vill, http.MethodGet, pdfURL, nil).body
		if r := v.consoleDo(vill, http.MethodPost, sealURL, url.Values{"password": {testPassword}}); r.Code != http.StatusConflict {
			t.Fatalf("a second village seal on the form: %d", r.Code)
		}
		if after := v.consoleDo(vill, http.MethodGet, pdfURL, nil).body; !bytes.Equal(sealed, after) {
			t.Fatal("a refused second seal changed the form")
		}
		if r := v.consoleDo(cty, http.MethodPost, sealURL, url.Values{"password": {testPassword}}); r.Code != http.StatusConflict {
			t.Fatalf("a second county seal on the form: %d", r.Code)
		}
		if p := v.consoleDo(cty, http.MethodGet, page, nil); !strings.Contains(string(p.body), `id="form-complete"`) || strings.Contains(string(p.body), `id="form-seal-button"`) {
			t.Fatal("the card page does not say the form's seals are complete")
		}
	})
}
