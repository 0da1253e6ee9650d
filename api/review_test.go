package api

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/store/storetest"
)

// pdfText is the text of a PDF as pdftotext extracts it, without line
// breaks (a long item wraps).
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testtool.Require(t, "pdftotext"), "-enc", "UTF-8", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(string(out)), "")
}

// TestArt19MaterialReview: the materials a citizen sends online are
// "submitted" until staff review each one (Art. 15); the one-time notice
// waits for the review, then lists the missing materials and the
// deficient ones with the reason each was found so (Art. 19). A review
// that lacks its reason, or names a material the case does not require,
// changes nothing. Through the real router, on SQLite and PostgreSQL.
func TestArt19MaterialReview(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		const village = "220102001001"
		r := v.applyOnline(t, coupleApp(t, 40, village), map[string][]byte{
			"id_cards": noisePNG(t, 2<<10), "household_register": noisePNG(t, 3<<10),
		})
		if r.Code != http.StatusCreated {
			t.Fatalf("online application: %d %s", r.Code, r.body)
		}
		var created ApplicationView
		r.json(t, &created)
		if want := []card.Material{card.MatIDCards, card.MatHukou, card.MatMarriage}; !slices.Equal(created.Missing, want) {
			t.Fatalf("missing after the application: %v, want %v (sent materials await review)", created.Missing, want)
		}
		tok := v.session(village)
		sc, err := v.st.GetCardByNumber(context.Background(), created.Number)
		if err != nil {
			t.Fatal(err)
		}
		cardURL := "/api/v1/cards/" + sc.ID
		applicant := func() *card.Applicant {
			t.Helper()
			var cv CardView
			v.do(http.MethodGet, cardURL, tok, "", nil).json(t, &cv)
			return cv.Applicant
		}
		if got := applicant().Materials; got[card.MatIDCards] != card.Submitted || got[card.MatHukou] != card.Submitted || got[card.MatMarriage] != card.Missing {
			t.Fatalf("materials of the online application: %v", got)
		}

		// The notice waits until every material sent is reviewed.
		expectProblem(t, v.do(http.MethodPost, cardURL+"/notice", tok, "", nil), http.StatusConflict, "materials-unreviewed")

		review := func(m card.Material, body ReviewRequest) *resp {
			return v.postJSON(cardURL+"/materials/"+string(m)+"/review", tok, body)
		}
		before, _ := v.st.GetCard(context.Background(), sc.ID)
		expectProblem(t, review(card.MatHukou, ReviewRequest{Reason: "  "}), http.StatusUnprocessableEntity, "reason-required")
		expectProblem(t, review(card.MatBirthCert, ReviewRequest{Accept: true}), http.StatusUnprocessableEntity, "invalid-application")
		expectProblem(t, review(card.MatHukou, ReviewRequest{Reason: strings.Repeat("模", card.MaxMaterialNote+1)}), http.StatusUnprocessableEntity, "invalid-application")
		expectProblem(t, review(card.MatHukou, ReviewRequest{Reason: "第一行\n第二行"}), http.StatusUnprocessableEntity, "invalid-application")
		if after, _ := v.st.GetCard(context.Background(), sc.ID); after.Version != before.Version {
			t.Fatalf("a refused review changed the card: version %d → %d", before.Version, after.Version)
		}

		const why = "照片模糊，看不清户主页"
		if r := review(card.MatIDCards, ReviewRequest{Accept: true}); r.Code != http.StatusOK {
			t.Fatalf("accept: %d %s", r.Code, r.body)
		}
		if r := review(card.MatHukou, ReviewRequest{Reason: why}); r.Code != http.StatusOK {
			t.Fatalf("deficient: %d %s", r.Code, r.body)
		}
		app := applicant()
		if app.Materials[card.MatIDCards] != card.Provided || app.Materials[card.MatHukou] != card.Deficient || app.MaterialNotes[card.MatHukou] != why || len(app.MaterialNotes) != 1 {
			t.Fatalf("after the review: %v %v", app.Materials, app.MaterialNotes)
		}

		// The citizen's tracking answer lists what is still wanted.
		var tr ApplicationView
		v.do(http.MethodGet, "/api/v1/applications/"+created.Number+"?id_number="+app.Female.IDNumber, "", "", nil).json(t, &tr)
		if want := []card.Material{card.MatHukou, card.MatMarriage}; !slices.Equal(tr.Missing, want) {
			t.Fatalf("tracked missing %v, want %v", tr.Missing, want)
		}

		r = v.do(http.MethodPost, cardURL+"/notice", tok, "", nil)
		if r.Code != http.StatusCreated {
			t.Fatalf("notice: %d %s", r.Code, r.body)
		}
		pdf := v.do(http.MethodGet, cardURL+"/notices/1/pdf", tok, "", nil)
		if pdf.Code != http.StatusOK {
			t.Fatalf("notice PDF: %d", pdf.Code)
		}
		text := pdfText(t, pdf.body)
		for _, w := range []string{"户口簿（已提交的材料不符合要求：" + why + "）", "结婚证"} {
			if !strings.Contains(text, w) {
				t.Errorf("the notice lacks %q:\n%s", w, text)
			}
		}
		if strings.Contains(text, "夫妻双方身份证") {
			t.Errorf("the notice lists the accepted ID cards:\n%s", text)
		}

		// Accepting the replacement clears the reason.
		if r := review(card.MatHukou, ReviewRequest{Accept: true}); r.Code != http.StatusOK {
			t.Fatalf("accept the replacement: %d %s", r.Code, r.body)
		}
		if app := applicant(); app.Materials[card.MatHukou] != card.Provided || app.MaterialNotes != nil {
			t.Fatalf("after accepting: %v %v", app.Materials, app.MaterialNotes)
		}

		evs, err := v.st.AuditEvents(context.Background(), sc.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		var reviews []string
		for _, ev := range evs {
			if ev.Action == audit.CardReview {
				reviews = append(reviews, ev.Actor+" "+string(ev.Detail))
			}
		}
		if len(reviews) != 3 || !strings.Contains(strings.Join(reviews, "\n"), why) {
			t.Fatalf("review audit events:\n%s", strings.Join(reviews, "\n"))
		}
		if audit.CardReview.Label() != "审核申请材料" {
			t.Fatalf("label %q", audit.CardReview.Label())
		}
	})
}

// TestOnlineApplicationClaimsNoFinding: an online applicant cannot claim
// a material provided or deficient, nor write staff's notes: those are
// staff's findings. Nothing is stored.
func TestOnlineApplicationClaimsNoFinding(t *testing.T) {
	v := newEnv(t, Options{})
	const village = "220102001001"
	for i, fn := range []func(*card.Applicant){
		func(a *card.Applicant) {
			a.Materials = map[card.Material]card.MaterialState{card.MatIDCards: card.Provided}
		},
		func(a *card.Applicant) {
			a.Materials = map[card.Material]card.MaterialState{card.MatIDCards: card.Deficient}
			a.MaterialNotes = map[card.Material]string{card.MatIDCards: "x"}
		},
	} {
		expectProblem(t, v.applyOnline(t, coupleApp(t, 50+i, village, fn), nil), http.StatusUnprocessableEntity, "invalid-application")
	}
	if n := v.cardsOf(t, village); n != 0 {
		t.Fatalf("%d cards stored", n)
	}
}
