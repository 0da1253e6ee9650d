package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/verifier"
)

// Tests of issue 14's procedure items (Art. 13, 20, 23, 11, 16, 19 and
// one valid card per couple and type), each through the real router on
// SQLite and PostgreSQL.

// coupleApplicant is the example application for the couple numbered i
// (ID numbers of their own), changed by fns.
func coupleApplicant(t *testing.T, i int, fns ...func(*card.Applicant)) []byte {
	t.Helper()
	return coupleApp(t, i, "220102001001", fns...)
}

// husbandID is the male spouse's ID number of coupleApplicant(i).
func husbandID(i int) string { return idWithCheck(fmt.Sprintf("22010219800101%03d", 100+2*i)) }

// uploadPage posts a PDF to the public file check page.
func (v *env) uploadPage(t *testing.T, pdf []byte) *resp {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", "card.pdf")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(pdf)
	mw.Close()
	return v.do(http.MethodPost, "/upload", "", mw.FormDataContentType(), buf.Bytes())
}

// publicViews are every public answer about an issued card: the QR JSON
// and page, the manual check, the upload JSON and report, the status list.
func (v *env) publicViews(t *testing.T, id string) map[string]string {
	t.Helper()
	sc, err := v.st.GetCard(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	full := v.fullCard(id)
	pdf := v.currentPDF(id)
	out := map[string]string{
		"json":        v.do(http.MethodGet, "/api/v1/verify/"+sc.QRToken, "", "", nil).Body.String(),
		"page":        v.do(http.MethodGet, "/V/"+sc.QRToken, "", "", nil).Body.String(),
		"manual":      v.do(http.MethodGet, "/api/v1/verify?number="+sc.Number+"&code="+full.VerificationCode, "", "", nil).Body.String(),
		"upload json": v.do(http.MethodPost, "/api/v1/verify", "", "application/pdf", pdf).Body.String(),
		"upload page": v.uploadPage(t, pdf).Body.String(),
		"status list": v.do(http.MethodGet, "/api/v1/status-list", "", "", nil).Body.String(),
	}
	return out
}

func TestArt13PublicAnswerHasNoReason(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		county := v.session("220102")
		voided := v.create(t, coupleApplicant(t, 1))
		v.issue(voided.ID)
		note := "孕28周终止妊娠，未能提供医学证明"
		if r := v.postJSON("/api/v1/cards/"+voided.ID+"/void", county, StatusRequest{Reason: "pregnancy_ended_without_certificate", Note: note}); r.Code != http.StatusOK {
			t.Fatalf("void: %d %s", r.Code, r.body)
		}
		old, nw := v.create(t, coupleApplicant(t, 2)), v.create(t, coupleApplicant(t, 2))
		v.issue(old.ID)
		v.issue(nw.ID)
		if r := v.postJSON("/api/v1/cards/"+old.ID+"/supersede", county, StatusRequest{Reason: "data_corrected", Note: "女方姓名更正后换发", NewCardID: nw.ID}); r.Code != http.StatusOK {
			t.Fatalf("supersede: %d %s", r.Code, r.body)
		}
		// Whatever names the reason, the note or the article behind it.
		secret := []string{"status_reason", "status_note", "原因", "pregnancy_ended", "终止妊娠", "医学证明",
			"data_corrected", "信息更正", "姓名更正", "第二十二条", "第二十条"}
		for _, c := range []struct {
			id, word string
			extra    string
		}{{voided.ID, "已作废", ""}, {old.ID, "已换发", nw.Number}} {
			for where, body := range v.publicViews(t, c.id) {
				for _, s := range secret {
					if strings.Contains(body, s) {
						t.Errorf("%s of a %s card shows %q", where, c.word, s)
					}
				}
				if strings.HasSuffix(where, "page") && !strings.Contains(body, c.word) {
					t.Errorf("%s lacks the status %s", where, c.word)
				}
				if c.extra != "" && where != "status list" && !strings.Contains(body, c.extra) {
					t.Errorf("%s of the re-issued card lacks the new number", where)
				}
			}
		}
		var a lifecycle.Answer
		v.do(http.MethodGet, "/api/v1/verify/"+v.cardToken(voided.ID), "", "", nil).json(t, &a)
		if a.Status != lifecycle.PublicVoided {
			t.Fatalf("voided card answers %q", a.Status)
		}
		// Staff and the holder still learn the reason and the note.
		if full := v.fullCard(voided.ID); full.StatusReason != "pregnancy_ended_without_certificate" || full.StatusNote != note {
			t.Errorf("staff view: %q %q", full.StatusReason, full.StatusNote)
		}
		var ap TrackView
		r := v.do(http.MethodGet, "/api/v1/applications/"+voided.Number+"?id_number="+husbandID(1), "", "", nil)
		r.json(t, &ap)
		if r.Code != http.StatusOK || ap.Status != card.StatusVoided || ap.StatusReason != "pregnancy_ended_without_certificate" || ap.StatusNote != note {
			t.Errorf("holder's tracking view: %d %s", r.Code, r.body)
		}
	})
}

// TestOneValidCardPerCoupleAndType: a couple holding an issued card of a
// type gets no second one of that type (409 card-held, nothing stored),
// at the counter and online, whichever spouse is named first; a draft, an
// ended card or another type does not count; a re-issue naming the held
// card (Art. 16) is taken, and once the old card is superseded the new
// one holds.
func TestOneValidCardPerCoupleAndType(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		county := v.session("220102")
		held := v.create(t, coupleApplicant(t, 3))
		second := v.create(t, coupleApplicant(t, 3)) // a second draft: taken
		v.issue(held.ID)
		// (Refused, so that the online check below meets the issued card,
		// not an open application.)
		if r := v.postJSON("/api/v1/cards/"+second.ID+"/refuse", county, RefuseRequest{Reasons: []string{"重复申请"}}); r.Code != http.StatusCreated {
			t.Fatalf("refuse: %d %s", r.Code, r.body)
		}
		n := v.cardsOf(t, "220102")
		village := v.session("220102001001")
		refuse := func(what string, body []byte, status int, slug string) {
			t.Helper()
			r := v.do(http.MethodPost, "/api/v1/cards", village, "application/json", body)
			if r.Code != status || !strings.Contains(r.Body.String(), slug) {
				t.Fatalf("%s: %d %s, want %d %s", what, r.Code, r.body, status, slug)
			}
		}
		refuse("second card", coupleApplicant(t, 3), http.StatusConflict, "card-held")
		swapped := coupleApplicant(t, 3, func(a *card.Applicant) { a.Male.IDNumber, a.Female.IDNumber = a.Female.IDNumber, a.Male.IDNumber })
		refuse("spouses swapped", swapped, http.StatusConflict, "card-held")
		if r := v.applyOnline(t, coupleApp(t, 3, "220102002001"), nil); r.Code != http.StatusConflict || !strings.Contains(r.Body.String(), "card-held") {
			t.Fatalf("online: %d %s", r.Code, r.body)
		}
		other := v.create(t, coupleApplicant(t, 4))
		v.issue(other.ID)
		refuse("re-issue of another couple's card", coupleApplicant(t, 3, func(a *card.Applicant) { a.ReissueOf = other.Number }), http.StatusUnprocessableEntity, "reissue-invalid")
		if got := v.cardsOf(t, "220102"); got != n+1 {
			t.Fatalf("%d cards after the refusals, want %d", got, n+1)
		}
		// Another type is another card.
		v.create(t, coupleApplicant(t, 3, func(a *card.Applicant) { a.Type, a.ChildOrder = card.Second, 2 }))
		// The re-issue of the held card, then the old one superseded:
		// the new card holds.
		nw := v.create(t, coupleApplicant(t, 3, func(a *card.Applicant) { a.ReissueOf = held.Number }))
		v.issue(nw.ID)
		if r := v.postJSON("/api/v1/cards/"+held.ID+"/supersede", county, StatusRequest{Reason: "formal_card_reissued", Note: "换发", NewCardID: nw.ID}); r.Code != http.StatusOK {
			t.Fatalf("supersede: %d %s", r.Code, r.body)
		}
		refuse("after the re-issue", swapped, http.StatusConflict, "card-held")
		refuse("re-issue of a superseded card", coupleApplicant(t, 3, func(a *card.Applicant) { a.ReissueOf = held.Number }), http.StatusUnprocessableEntity, "reissue-invalid")
		// A voided card holds nothing.
		if r := v.postJSON("/api/v1/cards/"+nw.ID+"/void", county, StatusRequest{Reason: "other", Note: "作废"}); r.Code != http.StatusOK {
			t.Fatalf("void: %d %s", r.Code, r.body)
		}
		v.create(t, coupleApplicant(t, 3))
	})
}

// rebirthApp makes coupleApplicant(i) a re-birth application, with the
// couple's commitment (Art. 10) if commit.
func rebirthApp(t *testing.T, i int, commit bool) []byte {
	return coupleApplicant(t, i, func(a *card.Applicant) {
		a.Type, a.ChildOrder, a.Commitment = card.Rebirth, 3, commit
		a.StatusCert = &card.StatusCert{Number: fmt.Sprintf("HY-2026-%04d", i), Issuer: "永安社区居民委员会"}
	})
}

// TestArt20RevokeOnlyFalseCommitment: only a re-birth card whose couple
// made a commitment is revoked (409 no-commitment otherwise, the card
// unchanged); the county records the day of its finding and the reason;
// the social credit file (CSV, docs/credit-export.md) lists the revoked
// cards with both, county staff only, audited.
func TestArt20RevokeOnlyFalseCommitment(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		county := v.session("220102")
		noCommit := v.create(t, rebirthApp(t, 5, false))
		first := v.create(t, coupleApplicant(t, 6, func(a *card.Applicant) { a.Commitment = true }))
		liar := v.create(t, rebirthApp(t, 7, true))
		for _, c := range []CardView{noCommit, first, liar} {
			v.issue(c.ID)
		}
		revoke := func(id string, body StatusRequest) *resp {
			return v.postJSON("/api/v1/cards/"+id+"/revoke", county, body)
		}
		body := StatusRequest{Reason: "false_commitment", Note: "经查，承诺无其他子女不实"}
		expectProblem(t, revoke(noCommit.ID, body), http.StatusConflict, "no-commitment")
		expectProblem(t, revoke(first.ID, body), http.StatusConflict, "no-commitment")
		for _, c := range []CardView{noCommit, first} {
			if got := v.fullCard(c.ID); got.Status != card.StatusIssued {
				t.Fatalf("refused revocation changed the card: %s", got.Status)
			}
		}
		// The day of the finding: not in the future, not before the application.
		today := time.Now().In(lifecycle.China)
		for _, bad := range []string{today.AddDate(0, 0, 2).Format("2006-01-02"), "2020-01-01", "2026-13-40", "昨天"} {
			b := body
			b.FoundOn = bad
			expectProblem(t, revoke(liar.ID, b), http.StatusUnprocessableEntity, "finding-date")
		}
		expectProblem(t, v.postJSON("/api/v1/cards/"+first.ID+"/void", county, StatusRequest{Reason: "other", Note: "x", FoundOn: today.Format("2006-01-02")}), http.StatusBadRequest, "bad-request")
		body.FoundOn = today.Format("2006-01-02")
		if r := revoke(liar.ID, body); r.Code != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.Code, r.body)
		}
		expectProblem(t, revoke(liar.ID, body), http.StatusConflict, "wrong-state")

		// The social credit file.
		r := v.do(http.MethodGet, "/api/v1/reports/credit", county, "", nil)
		if r.Code != http.StatusOK || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/csv") {
			t.Fatalf("credit file: %d %s", r.Code, r.body)
		}
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.body, []byte("\ufeff")))).ReadAll()
		if err != nil || len(rows) != 2 || strings.Join(rows[0], ",") != strings.Join(creditHeader, ",") {
			t.Fatalf("credit file rows %q, %v", rows, err)
		}
		want := map[string]string{"card_number": liar.Number, "card_type": "rebirth", "found_on": body.FoundOn,
			"reason": "false_commitment", "reason_text": "承诺不实", "note": body.Note, "male_id_number": husbandID(7), "male_name": "李四"}
		for i, h := range rows[0] {
			if w, ok := want[h]; ok && rows[1][i] != w {
				t.Errorf("credit file %s = %q, want %q", h, rows[1][i], w)
			}
		}
		var j struct{ Revoked []CreditRecord }
		v.do(http.MethodGet, "/api/v1/reports/credit?format=json", county, "", nil).json(t, &j)
		if len(j.Revoked) != 1 || j.Revoked[0].FoundOn != body.FoundOn {
			t.Fatalf("credit JSON %+v", j)
		}
		expectProblem(t, v.do(http.MethodGet, "/api/v1/reports/credit", v.session("220102001"), "", nil), http.StatusForbidden, "wrong-level")
		// The console's download is the same file.
		ck, _ := v.consoleLogin(t, "220102", testPassword)
		req := httptestRequest(http.MethodGet, "/console/reports/credit", "")
		req.AddCookie(ck)
		if cr := v.serve(req); cr.Code != http.StatusOK || !bytes.Contains(cr.body, []byte(liar.Number)) {
			t.Fatalf("console download: %d", cr.Code)
		}
		evs, err := v.st.AuditEvents(context.Background(), "", 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Action == "report.credit" && e.Actor == "220102" {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d credit report audit events, want 3", n)
		}
		// The public answer: 已取消, nothing of the finding.
		page := v.do(http.MethodGet, "/V/"+v.cardToken(liar.ID), "", "", nil).Body.String()
		if !strings.Contains(page, "已取消") || strings.Contains(page, "承诺") || strings.Contains(page, "第二十条") {
			t.Errorf("public page of a revoked card")
		}
	})
}

// TestArt23ExportEveryLevelEveryStatus: the export holds every card that
// was issued with its status now (voided, revoked, superseded too), never
// a draft or a refusal; village and township staff export their own
// jurisdiction, and ?within= (or ?county=) outside it is refused by the
// lifecycle.
func TestArt23ExportEveryLevelEveryStatus(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		county := v.session("220102")
		cards := map[string]CardView{}
		for i, st := range []string{"issued", "voided", "revoked", "superseded", "new", "draft"} {
			var c CardView
			if st == "revoked" {
				c = v.create(t, rebirthApp(t, 50+i, true))
			} else {
				c = v.create(t, coupleApplicant(t, 50+i))
			}
			if st != "draft" {
				v.issue(c.ID)
			}
			cards[st] = c
		}
		// A card of the other township's village.
		var other CardView
		v.do(http.MethodPost, "/api/v1/cards", v.session("220102002001"), "application/json", coupleApp(t, 60, "220102002001")).json(t, &other)
		for _, u := range []string{"220102002001", "220102002", "220102"} {
			if r := v.seal(other.ID, u); r.Code != http.StatusOK {
				t.Fatalf("seal as %s: %d %s", u, r.Code, r.body)
			}
		}
		for st, body := range map[string]StatusRequest{
			"voided":     {Reason: "other", Note: "作废"},
			"revoked":    {Reason: "false_commitment", Note: "承诺不实"},
			"superseded": {Reason: "data_corrected", Note: "换发", NewCardID: cards["new"].ID},
		} {
			path := map[string]string{"voided": "/void", "revoked": "/revoke", "superseded": "/supersede"}[st]
			if r := v.postJSON("/api/v1/cards/"+cards[st].ID+path, county, body); r.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", st, r.Code, r.body)
			}
		}
		refused := v.create(t, coupleApplicant(t, 61))
		if r := v.postJSON("/api/v1/cards/"+refused.ID+"/refuse", county, RefuseRequest{Reasons: []string{"不符合条件"}}); r.Code != http.StatusCreated {
			t.Fatalf("refuse: %d", r.Code)
		}
		export := func(user, query string) map[string]card.Status {
			t.Helper()
			r := v.do(http.MethodGet, "/api/v1/export?format=csv"+query, v.session(user), "", nil)
			if r.Code != http.StatusOK {
				t.Fatalf("export by %s%s: %d %s", user, query, r.Code, r.body)
			}
			rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
			if err != nil || rows[0][len(rows[0])-1] != "status" {
				t.Fatalf("export %v %v", rows, err)
			}
			out := map[string]card.Status{}
			for _, row := range rows[1:] {
				out[row[0]] = card.Status(row[len(row)-1])
			}
			return out
		}
		want := map[string]card.Status{cards["issued"].Number: card.StatusIssued, cards["voided"].Number: card.StatusVoided,
			cards["revoked"].Number: card.StatusRevoked, cards["superseded"].Number: card.StatusSuperseded, cards["new"].Number: card.StatusIssued}
		for _, user := range []string{"220102001001", "220102001"} {
			if got := export(user, ""); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("export by %s: %v, want %v", user, got, want)
			}
		}
		all := export("220102", "")
		if len(all) != len(want)+1 || all[other.Number] != card.StatusIssued {
			t.Errorf("county export: %v", all)
		}
		if got := export("220102", "&within=220102002001"); len(got) != 1 || got[other.Number] != card.StatusIssued {
			t.Errorf("county export within a village: %v", got)
		}
		var j struct {
			Cards []ExportRecord
		}
		v.do(http.MethodGet, "/api/v1/export?format=json", v.session("220102001"), "", nil).json(t, &j)
		if len(j.Cards) != len(want) {
			t.Errorf("township JSON export: %d cards", len(j.Cards))
		}
		for _, c := range j.Cards {
			if c.Status != want[c.Number] {
				t.Errorf("JSON export: %s is %s, want %s", c.Number, c.Status, want[c.Number])
			}
		}
		expectProblem(t, v.do(http.MethodGet, "/api/v1/export?within=220102002001", v.session("220102001"), "", nil), http.StatusForbidden, "forbidden")
		expectProblem(t, v.do(http.MethodGet, "/api/v1/export?county=220102", v.session("220102001001"), "", nil), http.StatusForbidden, "forbidden")
		expectProblem(t, v.do(http.MethodGet, "/api/v1/export?within=22010200100x", v.session("220102"), "", nil), http.StatusUnprocessableEntity, "unknown-organisation")
	})
}

// wifeID is the female spouse's ID number of coupleApplicant(i).
func wifeID(i int) string { return idWithCheck(fmt.Sprintf("22010219820202%03d", 101+2*i)) }

// TestArt23PopulationRegister: the county imports its population-register
// extract (CSV, docs/population-extract.md); an application whose couple
// the register proves gets population_db for the household register and
// the marriage certificate (Art. 9), so no notice asks for them; the
// comparison report lists where cards and register disagree; only county
// staff of the county import or compare, and a malformed file changes
// nothing.
func TestArt23PopulationRegister(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		county := v.session("220102")
		hukou := "吉林省长春市南关区永吉街道永安社区"
		line := func(id, name, spouse string) string {
			return id + "," + name + "," + hukou + ",married," + spouse + ",2024-05-20,J220102-2024-001234,0\n"
		}
		extract := "id_number,name,hukou,marital_status,spouse_id_number,marriage_date,marriage_cert_number,children\n" +
			line(husbandID(70), "李四", wifeID(70)) + line(wifeID(70), "王喆堃", husbandID(70)) +
			line(husbandID(71), "李思", wifeID(71)) + line(wifeID(71), "王喆堃", husbandID(71))
		put := func(session, county, body string) *resp {
			return v.do(http.MethodPut, "/api/v1/population/"+county, session, "text/csv", []byte(body))
		}
		// Bad input first: nothing is imported.
		expectProblem(t, put(county, "220102", "id,name\n1,2\n"), http.StatusUnprocessableEntity, "bad-extract")
		expectProblem(t, put(county, "220102", extract+line(husbandID(70), "李四", wifeID(70))), http.StatusUnprocessableEntity, "bad-extract")
		expectProblem(t, put(county, "220102", strings.Replace(extract, "married", "wed", 1)), http.StatusUnprocessableEntity, "bad-extract")
		expectProblem(t, put(v.session("220102001"), "220102", extract), http.StatusForbidden, "wrong-level")
		expectProblem(t, put(county, "220103", extract), http.StatusForbidden, "forbidden")
		expectProblem(t, v.do(http.MethodPut, "/api/v1/population/220102", county, "application/json", []byte(extract)), http.StatusUnsupportedMediaType, "unsupported-media-type")
		missing := func(a *card.Applicant) {
			a.Materials = map[card.Material]card.MaterialState{card.MatIDCards: card.Provided, card.MatHukou: card.Missing, card.MatMarriage: card.Missing}
		}
		before := v.create(t, coupleApplicant(t, 70, missing))
		if got := v.fullCard(before.ID); got.Applicant.Materials[card.MatHukou] != card.Missing {
			t.Fatalf("before the import: %v", got.Applicant.Materials)
		}
		r := put(county, "220102", "\ufeff"+extract)
		if r.Code != http.StatusOK || !strings.Contains(r.Body.String(), `"residents":4`) {
			t.Fatalf("import: %d %s", r.Code, r.body)
		}
		// Art. 9: the register proves the household register and the marriage.
		proved := v.create(t, coupleApplicant(t, 70, func(a *card.Applicant) { missing(a); a.Type, a.ChildOrder = card.Second, 2 }))
		got := v.fullCard(proved.ID).Applicant.Materials
		if got[card.MatHukou] != card.PopulationDB || got[card.MatMarriage] != card.PopulationDB || got[card.MatIDCards] != card.Provided {
			t.Fatalf("materials after the import: %v", got)
		}
		expectProblem(t, v.do(http.MethodPost, "/api/v1/cards/"+proved.ID+"/notice", v.session("220102001001"), "", nil), http.StatusConflict, "nothing-missing")
		// Another marriage date: the register proves the household register only.
		other := v.create(t, coupleApplicant(t, 71, func(a *card.Applicant) { missing(a); a.Marriage.Date = "2023-01-01" }))
		if got := v.fullCard(other.ID).Applicant.Materials; got[card.MatHukou] != card.PopulationDB || got[card.MatMarriage] != card.Missing {
			t.Fatalf("materials with another marriage date: %v", got)
		}
		// A counter application with no materials record (the clerk
		// checked every original): the register's proof is written in,
		// and the rest stay provided — the file is complete, its Art. 19
		// clock runs from the day it was taken.
		counter := v.create(t, coupleApplicant(t, 71, func(a *card.Applicant) { a.Type, a.ChildOrder = card.Second, 2 }))
		cc := v.fullCard(counter.ID)
		if got := cc.Applicant.Materials; got[card.MatHukou] != card.PopulationDB || got[card.MatMarriage] != card.PopulationDB || got[card.MatIDCards] != card.Provided {
			t.Fatalf("a counter application's materials after the import: %v", got)
		}
		if m := cc.Applicant.MissingMaterials(); len(m) != 0 || cc.CompleteAt.IsZero() {
			t.Fatalf("a counter application proved by the register is incomplete: missing %v, complete at %v", m, cc.CompleteAt)
		}
		stranger := v.create(t, coupleApplicant(t, 72))
		// The comparison report.
		var rep struct{ Mismatches []MismatchView }
		rr := v.do(http.MethodGet, "/api/v1/population/220102/report", county, "", nil)
		if rr.Code != http.StatusOK {
			t.Fatalf("report: %d %s", rr.Code, rr.body)
		}
		rr.json(t, &rep)
		has := func(number, role, field string) bool {
			for _, m := range rep.Mismatches {
				if m.Number == number && m.Role == role && m.Field == field {
					return true
				}
			}
			return false
		}
		for _, w := range []struct{ number, role, field string }{
			{other.Number, "male", "name"}, {other.Number, "couple", "marriage_date"},
			{stranger.Number, "male", "not_found"}, {stranger.Number, "female", "not_found"},
		} {
			if !has(w.number, w.role, w.field) {
				t.Errorf("report lacks %v: %+v", w, rep.Mismatches)
			}
		}
		for _, m := range rep.Mismatches {
			if m.Number == proved.Number || m.Number == before.Number {
				t.Errorf("a matching card reported: %+v", m)
			}
		}
		if c := v.do(http.MethodGet, "/api/v1/population/220102/report?format=csv", county, "", nil); c.Code != http.StatusOK || !bytes.Contains(c.body, []byte(stranger.Number+",draft,male,not_found")) {
			t.Errorf("CSV report: %d %s", c.Code, c.body)
		}
		expectProblem(t, v.do(http.MethodGet, "/api/v1/population/220102/report", v.session("220102001001"), "", nil), http.StatusForbidden, "wrong-level")
		expectProblem(t, v.do(http.MethodGet, "/api/v1/population/220103/report", county, "", nil), http.StatusForbidden, "forbidden")
		evs, _ := v.st.AuditEvents(context.Background(), "", 200)
		imports, reports := 0, 0
		for _, e := range evs {
			switch e.Action {
			case "population.import":
				imports++
			case "population.compare":
				reports++
			}
		}
		if imports != 1 || reports != 2 {
			t.Errorf("audit: %d imports, %d reports", imports, reports)
		}
	})
}

// TestArt11RefusedApplicantGetsReasonsAndNotice: through the tracking
// check (application number and a spouse's ID number) an online applicant
// sees the one-time notice (Art. 19) and, once refused, the written
// reasons (Art. 11), and downloads each sealed notice; a wrong ID number
// learns nothing and is throttled like the tracking check; every download
// is audited.
func TestArt11RefusedApplicantGetsReasonsAndNotice(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		r := v.applyOnline(t, coupleApp(t, 80, "220102001001", func(a *card.Applicant) {
			// Online, a material is claimed missing until it is sent.
			a.Materials = map[card.Material]card.MaterialState{card.MatIDCards: card.Missing, card.MatHukou: card.Missing, card.MatMarriage: card.PopulationDB}
		}), nil)
		if r.Code != http.StatusCreated {
			t.Fatalf("apply online: %d %s", r.Code, r.body)
		}
		var ap ApplicationView
		r.json(t, &ap)
		sc, err := v.st.GetCardByNumber(context.Background(), ap.Number)
		if err != nil {
			t.Fatal(err)
		}
		wife := wifeID(80)
		track := func() TrackView {
			t.Helper()
			var tv TrackView
			r := v.do(http.MethodGet, "/api/v1/applications/"+ap.Number+"?id_number="+wife, "", "", nil)
			if r.Code != http.StatusOK {
				t.Fatalf("track: %d %s", r.Code, r.body)
			}
			r.json(t, &tv)
			return tv
		}
		download := func(seq int, id string) *resp {
			return v.do(http.MethodGet, fmt.Sprintf("/api/v1/applications/%s/notices/%d?id_number=%s", ap.Number, seq, id), "", "", nil)
		}
		if tv := track(); len(tv.Notices) != 0 || tv.RefusalReasons != nil {
			t.Fatalf("before any notice: %+v", tv)
		}
		village := v.session("220102001001")
		if r := v.do(http.MethodPost, "/api/v1/cards/"+sc.ID+"/notice", village, "", nil); r.Code != http.StatusCreated {
			t.Fatalf("notice: %d %s", r.Code, r.body)
		}
		tv := track()
		if len(tv.Notices) != 1 || tv.Notices[0].Kind != "missing" || tv.Notices[0].Title != "一次性告知书" || tv.Notices[0].Number != lifecycle.NoticeNumber(ap.Number, 1) {
			t.Fatalf("after the notice: %+v", tv.Notices)
		}
		pdf := download(1, wife)
		if pdf.Code != http.StatusOK || pdf.Header().Get("Content-Type") != "application/pdf" {
			t.Fatalf("notice download: %d %s", pdf.Code, pdf.body)
		}
		if rep := v.verifyPDF(t, pdf.body, chain.Notice, tv.Notices[0].Number); rep.Verdict != verifier.Valid {
			t.Fatalf("downloaded notice: %s %v", rep.Verdict, rep.Reasons())
		}
		// The township refuses in writing: the applicant reads the reasons.
		reasons := []string{"女方户口簿未提供且经核查户籍不在本乡镇", "不符合办理条件"}
		if r := v.postJSON("/api/v1/cards/"+sc.ID+"/refuse", v.session("220102001"), RefuseRequest{Reasons: reasons}); r.Code != http.StatusCreated {
			t.Fatalf("refuse: %d %s", r.Code, r.body)
		}
		tv = track()
		if tv.Status != card.StatusRefused || strings.Join(tv.RefusalReasons, "|") != strings.Join(reasons, "|") || len(tv.Notices) != 2 || tv.Notices[1].Kind != "refusal" || tv.Notices[1].Title != "不予办理告知书" {
			t.Fatalf("after the refusal: %+v", tv)
		}
		pdf = download(2, husbandID(80))
		if pdf.Code != http.StatusOK {
			t.Fatalf("refusal download: %d %s", pdf.Code, pdf.body)
		}
		if rep := v.verifyPDF(t, pdf.body, chain.Notice, tv.Notices[1].Number); rep.Verdict != verifier.Valid || rep.Seals[0].DivisionCode != "220102001" {
			t.Fatalf("downloaded refusal: %s %v", rep.Verdict, rep.Reasons())
		}
		// Nothing for a stranger; a missing notice or ID number.
		expectProblem(t, download(3, wife), http.StatusNotFound, "not-found")
		expectProblem(t, v.do(http.MethodGet, "/api/v1/applications/"+ap.Number+"/notices/1", "", "", nil), http.StatusBadRequest, "missing-parameter")
		limited := false
		for range 8 {
			r := download(1, husbandID(81))
			if r.Code == http.StatusTooManyRequests {
				limited = true
				break
			}
			expectProblem(t, r, http.StatusNotFound, "not-found")
			if bytes.Contains(r.body, []byte("%PDF")) {
				t.Fatal("a stranger got the notice")
			}
		}
		if !limited {
			t.Error("wrong ID numbers are not throttled")
		}
		evs, _ := v.st.AuditEvents(context.Background(), sc.ID, 100)
		n := 0
		for _, e := range evs {
			if e.Action == "notice.download" && e.Actor == "public" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d audited notice downloads, want 2", n)
		}
	})
}

// TestArt16PostOfficialCard: the holder of an issued card asks for the
// official card by post (card number and a spouse's ID number, as the
// tracking check); the receiving organisation sees the request with the
// address in the console and the API, records printing and posting
// (date, carrier, tracking number); the holder sees the state; the
// address is stored encrypted.
func TestArt16PostOfficialCard(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		c := v.create(t, coupleApplicant(t, 90))
		v.issue(c.ID)
		draft := v.create(t, coupleApplicant(t, 91))
		addr := lifecycle.PostalAddress{Recipient: "王喆堃", Phone: "13912345678", Address: "吉林省长春市南关区永吉街道幸福里小区3栋2单元501"}
		ask := func(number, id string, a lifecycle.PostalAddress) *resp {
			return v.postJSON("/api/v1/applications/"+number+"/posting", "", PostingRequest{IDNumber: id, PostalAddress: a})
		}
		expectProblem(t, ask(c.Number, husbandID(92), addr), http.StatusNotFound, "not-found")
		expectProblem(t, ask(draft.Number, husbandID(91), addr), http.StatusConflict, "not-issued")
		bad := addr
		bad.Phone = "call me"
		expectProblem(t, ask(c.Number, wifeID(90), bad), http.StatusUnprocessableEntity, "bad-posting")
		r := ask(c.Number, wifeID(90), addr)
		if r.Code != http.StatusCreated {
			t.Fatalf("request: %d %s", r.Code, r.body)
		}
		expectProblem(t, ask(c.Number, husbandID(90), addr), http.StatusConflict, "posting-open")
		track := func() TrackView {
			t.Helper()
			var tv TrackView
			r := v.do(http.MethodGet, "/api/v1/applications/"+c.Number+"?id_number="+husbandID(90), "", "", nil)
			r.json(t, &tv)
			if bytes.Contains(r.body, []byte(addr.Address)) {
				t.Fatal("the tracking answer shows the address")
			}
			return tv
		}
		if tv := track(); len(tv.Postings) != 1 || tv.Postings[0].State != card.PostingRequested {
			t.Fatalf("holder's view: %+v", tv.Postings)
		}
		// Stored encrypted.
		ps, err := v.st.Postings(context.Background(), c.ID)
		if err != nil || len(ps) != 1 || !bytes.HasPrefix(ps[0].Address, []byte("CS2")) || bytes.Contains(ps[0].Address, []byte("幸福里")) {
			t.Fatalf("stored request: %+v %v", ps, err)
		}
		// The receiving organisation sees it; another township does not.
		var listed struct{ Postings []PostingView }
		v.do(http.MethodGet, "/api/v1/postings", v.session("220102001001"), "", nil).json(t, &listed)
		if len(listed.Postings) != 1 || listed.Postings[0].CardID != c.ID || listed.Postings[0].Address == nil || listed.Postings[0].Address.Address != addr.Address {
			t.Fatalf("village's open requests: %+v", listed.Postings)
		}
		var none struct{ Postings []PostingView }
		v.do(http.MethodGet, "/api/v1/postings", v.session("220102002"), "", nil).json(t, &none)
		if len(none.Postings) != 0 {
			t.Fatalf("another township sees %+v", none.Postings)
		}
		ck, _ := v.consoleLogin(t, "220102001001", testPassword)
		req := httptestRequest(http.MethodGet, "/console/postings", "")
		req.AddCookie(ck)
		if page := v.serve(req); page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `id="posting-`+c.ID+`"`) || !strings.Contains(page.Body.String(), "幸福里") {
			t.Fatalf("console list: %d", page.Code)
		}
		form := url.Values{"state": {"printed"}, "csrf": {csrfToken(ck.Value)}}
		preq := httptest.NewRequest(http.MethodPost, "/console/postings/"+c.ID+"/1", strings.NewReader(form.Encode()))
		preq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		preq.RemoteAddr = "192.0.2.10:40000"
		preq.AddCookie(ck)
		if pr := v.serve(preq); pr.Code != http.StatusSeeOther {
			t.Fatalf("console printed: %d %s", pr.Code, pr.body)
		}
		if tv := track(); tv.Postings[0].State != card.PostingPrinted {
			t.Fatalf("after printing: %+v", tv.Postings)
		}
		today := time.Now().In(lifecycle.China).Format("2006-01-02")
		township := v.session("220102001")
		post := func(u PostingUpdate) *resp { return v.postJSON("/api/v1/cards/"+c.ID+"/postings/1", township, u) }
		expectProblem(t, post(PostingUpdate{State: "posted", PostedOn: today, Carrier: "中国邮政", Tracking: "含中文"}), http.StatusUnprocessableEntity, "bad-posting")
		expectProblem(t, post(PostingUpdate{State: "posted", PostedOn: "2099-01-01", Carrier: "中国邮政", Tracking: "EMS1234567890"}), http.StatusUnprocessableEntity, "bad-posting")
		expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/postings/1", v.session("220102002001"), PostingUpdate{State: "printed"}), http.StatusForbidden, "forbidden")
		if r := post(PostingUpdate{State: "posted", PostedOn: today, Carrier: "中国邮政", Tracking: "EMS1234567890"}); r.Code != http.StatusNoContent {
			t.Fatalf("posted: %d %s", r.Code, r.body)
		}
		expectProblem(t, post(PostingUpdate{State: "printed"}), http.StatusConflict, "wrong-state")
		tv := track()
		if p := tv.Postings[0]; p.State != card.PostingPosted || p.PostedOn != today || p.Carrier != "中国邮政" || p.Tracking != "EMS1234567890" {
			t.Fatalf("holder's view after posting: %+v", p)
		}
		// Posted: the holder may ask again (a lost letter).
		if r := ask(c.Number, wifeID(90), addr); r.Code != http.StatusCreated {
			t.Fatalf("second request after posting: %d", r.Code)
		}
	})
}

// TestArt19SecondNoticeOnlyForDeficientResubmissions: the notice is
// one-time. After N1 a notice naming a material N1 did not name (the
// observed 结婚证 after a materials edit) is refused with the reason; a
// second notice names only what the applicant sent after N1 and staff
// found deficient, never again what N1 named.
func TestArt19SecondNoticeOnlyForDeficientResubmissions(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		app := coupleApp(t, 95, "220102001001", func(a *card.Applicant) {
			a.Materials = map[card.Material]card.MaterialState{card.MatIDCards: card.Missing, card.MatHukou: card.Missing, card.MatMarriage: card.PopulationDB}
		})
		r := v.applyOnline(t, app, nil)
		if r.Code != http.StatusCreated {
			t.Fatalf("apply: %d %s", r.Code, r.body)
		}
		var ap ApplicationView
		r.json(t, &ap)
		sc, err := v.st.GetCardByNumber(context.Background(), ap.Number)
		if err != nil {
			t.Fatal(err)
		}
		village := v.session("220102001001")
		notice := func() *resp { return v.do(http.MethodPost, "/api/v1/cards/"+sc.ID+"/notice", village, "", nil) }
		if r := notice(); r.Code != http.StatusCreated {
			t.Fatalf("N1: %d %s", r.Code, r.body)
		}
		put := func(m map[card.Material]card.MaterialState) {
			t.Helper()
			b := mustJSON(t, MaterialsRequest{Materials: m})
			if r := v.do(http.MethodPut, "/api/v1/cards/"+sc.ID+"/materials", village, "application/json", b); r.Code != http.StatusOK {
				t.Fatalf("materials: %d %s", r.Code, r.body)
			}
		}
		// The observed bug: a materials edit, then a notice demanding 结婚证.
		put(map[card.Material]card.MaterialState{card.MatIDCards: card.Missing, card.MatHukou: card.Missing, card.MatMarriage: card.Missing})
		expectProblem(t, notice(), http.StatusConflict, "notice-not-one-time")
		put(map[card.Material]card.MaterialState{card.MatIDCards: card.Missing, card.MatHukou: card.Missing, card.MatMarriage: card.PopulationDB})
		// The applicant sends the ID cards after N1; staff find them deficient.
		if _, err := v.svc.Resubmit(context.Background(), ap.Number, wifeID(95), "192.0.2.50", []lifecycle.Upload{{Material: card.MatIDCards, ContentType: "image/png", Data: pngBytes(t)}}); err != nil {
			t.Fatalf("resubmit: %v", err)
		}
		if r := v.postJSON("/api/v1/cards/"+sc.ID+"/materials/id_cards/review", village, ReviewRequest{Reason: "身份证照片模糊"}); r.Code != http.StatusOK {
			t.Fatalf("review: %d %s", r.Code, r.body)
		}
		r = notice()
		if r.Code != http.StatusCreated {
			t.Fatalf("N2: %d %s", r.Code, r.body)
		}
		var n2 NoticeView
		r.json(t, &n2)
		evs, err := v.st.AuditEvents(context.Background(), sc.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range evs {
			if e.Action != "card.notice" || !bytes.Contains(e.Detail, []byte(n2.Number)) {
				continue
			}
			found = true
			if !bytes.Contains(e.Detail, []byte(`"missing":["id_cards"]`)) {
				t.Errorf("N2 names %s, want the ID cards only", e.Detail)
			}
		}
		if !found {
			t.Fatal("no audit event of N2")
		}
		// N2 verifies as a notice; nothing new since: no third.
		pdf := v.do(http.MethodGet, n2.PDF, village, "", nil)
		if rep := v.verifyPDF(t, pdf.body, chain.Notice, n2.Number); rep.Verdict != verifier.Valid {
			t.Fatalf("N2 verdict %s", rep.Verdict)
		}
		if r := notice(); r.Code != http.StatusConflict {
			t.Fatalf("a third notice: %d %s", r.Code, r.body)
		}
	})
}
