package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/store/storetest"
)

// Who may still act on an application, end to end (issue 12, M2 and M3).
// The rules are lifecycle.Allowed's; these tests hold every entry point
// to them.

func rebirthApplicant(t *testing.T) []byte {
	return applicantWith(t, func(a *card.Applicant) {
		a.Type, a.ChildOrder = card.Rebirth, 2
		a.StatusCert = &card.StatusCert{Number: "YJ-2026-0042", Issuer: "永安社区居民委员会"}
	})
}

// formSeals returns how many seals the form's PDF carries, as the
// verifier reads them.
func (v *env) formSeals(t *testing.T, f FormView) int {
	t.Helper()
	r := v.do(http.MethodGet, f.PDF, v.session("220102"), "", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("form PDF: %d", r.Code)
	}
	return len(v.verifyPDF(t, r.body, chain.RebirthForm, f.Number).Seals)
}

// TestRefusedRebirthGetsNoFormSeal (M2): a re-birth application refused
// in writing gets no seal on its approval form, from any level, and no
// new notice or form; a card that ended (voided) gets no more form seals
// either, while an issued card's form is still completed (补盖). Each
// refusal is 409 wrong-state and changes nothing.
func TestRefusedRebirthGetsNoFormSeal(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		county, town, village := v.session("220102"), v.session("220102001"), v.session("220102001001")

		c := v.create(t, rebirthApplicant(t))
		r := v.postJSON("/api/v1/cards/"+c.ID+"/rebirth-form", county, FormRequest{Reason: "意愿再生育"})
		if r.Code != http.StatusCreated {
			t.Fatalf("form: %d %s", r.Code, r.body)
		}
		var f FormView
		r.json(t, &f)
		if r := v.postJSON("/api/v1/forms/"+f.ID+"/seal", county, SealRequest{Password: testPassword}); r.Code != http.StatusOK {
			t.Fatalf("county's form seal while under review: %d %s", r.Code, r.body)
		}
		if r := v.postJSON("/api/v1/cards/"+c.ID+"/refuse", village, RefuseRequest{Reasons: []string{"不符合再生育条件。"}}); r.Code != http.StatusCreated {
			t.Fatalf("refuse: %d %s", r.Code, r.body)
		}
		for _, tok := range []string{village, town, county} {
			expectProblem(t, v.postJSON("/api/v1/forms/"+f.ID+"/seal", tok, SealRequest{Password: testPassword}), http.StatusConflict, "wrong-state")
		}
		if n := v.formSeals(t, f); n != 1 {
			t.Fatalf("the refused application's form carries %d seals, want the 1 applied before the refusal", n)
		}
		expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/notice", village, nil), http.StatusConflict, "wrong-state")
		expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/refuse", county, RefuseRequest{Reasons: []string{"再次"}}), http.StatusConflict, "wrong-state")
		expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/rebirth-form", county, FormRequest{Reason: "再次"}), http.StatusConflict, "wrong-state")

		// Issued: the lower levels complete the form; voided: no more.
		d := v.create(t, rebirthApplicant(t))
		r = v.postJSON("/api/v1/cards/"+d.ID+"/rebirth-form", county, FormRequest{Reason: "意愿再生育"})
		if r.Code != http.StatusCreated {
			t.Fatalf("form: %d %s", r.Code, r.body)
		}
		var g FormView
		r.json(t, &g)
		if r := v.postJSON("/api/v1/forms/"+g.ID+"/seal", county, SealRequest{Password: testPassword}); r.Code != http.StatusOK {
			t.Fatalf("county's form seal: %d %s", r.Code, r.body)
		}
		v.issue(d.ID)
		if r := v.postJSON("/api/v1/forms/"+g.ID+"/seal", town, SealRequest{Password: testPassword}); r.Code != http.StatusOK {
			t.Fatalf("township's form seal on the issued card (补盖): %d %s", r.Code, r.body)
		}
		expectProblem(t, v.postJSON("/api/v1/cards/"+d.ID+"/notice", village, nil), http.StatusConflict, "wrong-state")
		if r := v.postJSON("/api/v1/cards/"+d.ID+"/void", county, map[string]string{"reason": "other", "note": "测试"}); r.Code != http.StatusOK {
			t.Fatalf("void: %d %s", r.Code, r.body)
		}
		expectProblem(t, v.postJSON("/api/v1/forms/"+g.ID+"/seal", village, SealRequest{Password: testPassword}), http.StatusConflict, "wrong-state")
		if n := v.formSeals(t, g); n != 2 {
			t.Fatalf("the voided card's form carries %d seals, want 2", n)
		}
	})
}

// TestLowerLevelCannotOverrideHigherStage (M3): once the township has
// sealed, the village may no longer refuse the application, change its
// materials or give a notice — through the JSON API or the console —
// and the console does not offer it; the township, whose stage has
// passed too, may not either; the county, whose turn it is, may.
func TestLowerLevelCannotOverrideHigherStage(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		c := v.create(t, applicantWith(t, incomplete))
		for _, u := range []string{"220102001001", "220102001"} {
			if r := v.seal(c.ID, u); r.Code != http.StatusOK {
				t.Fatalf("seal as %s: %d %s", u, r.Code, r.body)
			}
		}
		materials := MaterialsRequest{Materials: map[card.Material]card.MaterialState{
			card.MatIDCards: card.Provided, card.MatHukou: card.Provided, card.MatMarriage: card.Provided,
		}}
		for _, u := range []string{"220102001001", "220102001"} {
			tok := v.session(u)
			expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/refuse", tok, RefuseRequest{Reasons: []string{"不符合条件"}}), http.StatusForbidden, "stage-passed")
			expectProblem(t, v.do(http.MethodPut, "/api/v1/cards/"+c.ID+"/materials", tok, "application/json", mustJSON(t, materials)), http.StatusForbidden, "stage-passed")
			expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/notice", tok, nil), http.StatusForbidden, "stage-passed")
		}

		// The console: the same refusal, and no refusal form offered.
		ck, _ := v.consoleLogin(t, "220102001001", testPassword)
		if ck == nil {
			t.Fatal("console login failed")
		}
		get := httptest.NewRequest(http.MethodGet, "/console/cards/"+c.ID, nil)
		get.RemoteAddr = "192.0.2.10:40000"
		get.AddCookie(ck)
		page := v.serve(get)
		if page.Code != http.StatusOK || strings.Contains(string(page.body), `id="form-refuse"`) {
			t.Fatalf("console card page for the village: %d, refusal offered %t", page.Code, strings.Contains(string(page.body), `id="form-refuse"`))
		}
		form := url.Values{"reasons": {"不符合办理条件"}, "csrf": {csrfToken(ck.Value)}}
		req := httptest.NewRequest(http.MethodPost, "/console/cards/"+c.ID+"/refuse", strings.NewReader(form.Encode()))
		req.RemoteAddr = "192.0.2.10:40000"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(ck)
		if r := v.serve(req); r.Code != http.StatusForbidden || !strings.Contains(string(r.body), "上级审核办理") {
			t.Fatalf("console refusal by the village after the township's seal: %d", r.Code)
		}

		// Nothing changed: still a draft awaiting the county, no notice.
		var got CardView
		v.do(http.MethodGet, "/api/v1/cards/"+c.ID, v.session("220102"), "", nil).json(t, &got)
		if got.Status != card.StatusDraft || got.NextLevel != "county" || got.Applicant.Materials[card.MatHukou] != card.Missing {
			t.Fatalf("after the refused overrides: %s awaiting %s, household register %s", got.Status, got.NextLevel, got.Applicant.Materials[card.MatHukou])
		}

		// The county, whose turn it is, may.
		county := v.session("220102")
		if r := v.postJSON("/api/v1/cards/"+c.ID+"/notice", county, nil); r.Code != http.StatusCreated {
			t.Fatalf("county notice: %d %s", r.Code, r.body)
		}
		if r := v.do(http.MethodPut, "/api/v1/cards/"+c.ID+"/materials", county, "application/json", mustJSON(t, materials)); r.Code != http.StatusOK {
			t.Fatalf("county materials: %d %s", r.Code, r.body)
		}
		if r := v.postJSON("/api/v1/cards/"+c.ID+"/refuse", county, RefuseRequest{Reasons: []string{"不符合条件"}}); r.Code != http.StatusCreated {
			t.Fatalf("county refusal: %d %s", r.Code, r.body)
		}
	})
}
