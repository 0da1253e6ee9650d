package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/statuslist"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/verifier"
)

// newProcEnv is newEnv over a store of the given backend.
func newProcEnv(t *testing.T, open storetest.Opener) *env {
	t.Helper()
	st, _ := open(t)
	return newEnvOn(t, st, Options{})
}

// applicantWith returns the example application changed by fn.
func applicantWith(t testing.TB, fn func(*card.Applicant)) []byte {
	t.Helper()
	app, err := card.ParseApplicant(exampleApplicant(t))
	if err != nil {
		t.Fatal(err)
	}
	fn(app)
	return mustJSON(t, app)
}

func (v *env) create(t *testing.T, body []byte) CardView {
	t.Helper()
	r := v.do(http.MethodPost, "/api/v1/cards", v.session("220102001001"), "application/json", body)
	if r.Code != http.StatusCreated {
		t.Fatalf("create card: %d %s", r.Code, r.body)
	}
	var c CardView
	r.json(t, &c)
	return c
}

func (v *env) verifyPDF(t *testing.T, pdf []byte, policy chain.Policy, docID string) *verifier.Report {
	t.Helper()
	rep, err := verifier.Verify(pdf, verifier.Options{Trust: v.ks.TrustList(), Policy: policy, SealBoxes: lifecycle.SealBoxes(policy), DocID: docID})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func incomplete(a *card.Applicant) {
	a.Materials = map[card.Material]card.MaterialState{
		card.MatIDCards: card.Provided, card.MatHukou: card.Missing, card.MatMarriage: card.PopulationDB,
	}
}

func TestArt19OneTimeNotice(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		c := v.create(t, applicantWith(t, incomplete))
		village := v.session("220102001001")

		r := v.do(http.MethodPost, "/api/v1/cards/"+c.ID+"/notice", village, "", nil)
		if r.Code != http.StatusCreated {
			t.Fatalf("notice: %d %s", r.Code, r.body)
		}
		var n NoticeView
		r.json(t, &n)
		if n.Kind != "missing" || n.Number != lifecycle.NoticeNumber(c.Number, 1) {
			t.Fatalf("notice %+v", n)
		}
		pdf := v.do(http.MethodGet, n.PDF, village, "", nil)
		if pdf.Code != http.StatusOK || !bytes.HasPrefix(pdf.body, []byte("%PDF-")) {
			t.Fatalf("notice PDF: %d", pdf.Code)
		}
		// What `cardseal verify --policy notice` does.
		if rep := v.verifyPDF(t, pdf.body, chain.Notice, n.Number); rep.Verdict != verifier.Valid || len(rep.Seals) != 1 || rep.Seals[0].DivisionCode != "220102001001" {
			t.Fatalf("notice verdict %s %v", rep.Verdict, rep.Reasons())
		}
		// The card policy does not accept a notice.
		if rep := v.verifyPDF(t, pdf.body, chain.Card, n.Number); rep.Verdict == verifier.Valid {
			t.Fatal("a notice verified as a card")
		}

		// One notice per application (Art. 19).
		expectProblem(t, v.do(http.MethodPost, "/api/v1/cards/"+c.ID+"/notice", village, "", nil), http.StatusConflict, "notice-given")
		// Another organisation of the jurisdiction may not give a second one either.
		expectProblem(t, v.do(http.MethodPost, "/api/v1/cards/"+c.ID+"/notice", v.session("220102001"), "", nil), http.StatusConflict, "notice-given")
		// The application changed, but the notice is one-time: what the
		// first named and is still missing is not named again
		// (TestArt19SecondNoticeOnlyForDeficientResubmissions).
		put := func(m map[card.Material]card.MaterialState) *resp {
			b := mustJSON(t, MaterialsRequest{Materials: m})
			return v.do(http.MethodPut, "/api/v1/cards/"+c.ID+"/materials", village, "application/json", b)
		}
		if r := put(map[card.Material]card.MaterialState{card.MatIDCards: card.Provided, card.MatHukou: card.Missing, card.MatMarriage: card.Provided}); r.Code != http.StatusOK {
			t.Fatalf("materials: %d %s", r.Code, r.body)
		}
		expectProblem(t, v.do(http.MethodPost, "/api/v1/cards/"+c.ID+"/notice", village, "", nil), http.StatusConflict, "notice-not-one-time")
		// Art. 8: nothing beyond the list; Art. 10: commitment needs the couple's commitment.
		expectProblem(t, put(map[card.Material]card.MaterialState{card.MatBirthCert: card.Missing}), http.StatusUnprocessableEntity, "invalid-application")
		expectProblem(t, put(map[card.Material]card.MaterialState{card.MatHukou: card.Committed}), http.StatusUnprocessableEntity, "invalid-application")
		// A complete application is handled at once: no notice.
		full := v.create(t, exampleApplicant(t))
		expectProblem(t, v.do(http.MethodPost, "/api/v1/cards/"+full.ID+"/notice", village, "", nil), http.StatusConflict, "nothing-missing")
		// Outside the jurisdiction.
		expectProblem(t, v.do(http.MethodPost, "/api/v1/cards/"+c.ID+"/notice", v.session("220102002001"), "", nil), http.StatusForbidden, "forbidden")

		// Due dates in the queue (Art. 19): from the day the file is
		// complete — none yet for the incomplete application
		// (TestArt19ClockStartsWhenFileComplete).
		var q struct{ Cards []DeadlineView }
		v.do(http.MethodGet, "/api/v1/queue/deadlines", village, "", nil).json(t, &q)
		if len(q.Cards) != 2 || q.Cards[0].ID != c.ID || q.Cards[0].Limit != 10 || q.Cards[0].Due != "" || q.Cards[0].DaysLeft != 10 ||
			q.Cards[1].Due == "" || q.Cards[1].DaysLeft < 9 || q.Cards[1].Overdue {
			t.Fatalf("queue deadlines %+v", q.Cards)
		}

		// The overdue report (Art. 24): nothing yet; 40 days later the
		// complete one, whose clock runs.
		county := v.session("220102")
		var rep struct{ Overdue []DeadlineView }
		v.do(http.MethodGet, "/api/v1/reports/overdue", county, "", nil).json(t, &rep)
		if len(rep.Overdue) != 0 {
			t.Fatalf("overdue today: %+v", rep.Overdue)
		}
		v.svc.Now = func() time.Time { return time.Now().Add(40 * 24 * time.Hour) }
		v.do(http.MethodGet, "/api/v1/reports/overdue", county, "", nil).json(t, &rep)
		if len(rep.Overdue) != 1 || rep.Overdue[0].ID != full.ID || !rep.Overdue[0].Overdue || rep.Overdue[0].DaysLeft >= 0 {
			t.Fatalf("overdue later: %+v", rep.Overdue)
		}
		expectProblem(t, v.do(http.MethodGet, "/api/v1/reports/overdue", village, "", nil), http.StatusForbidden, "wrong-level")
	})
}

func TestArt11Refusal(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		c := v.create(t, exampleApplicant(t))
		township := v.session("220102001")
		expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/refuse", township, RefuseRequest{}), http.StatusUnprocessableEntity, "reason-required")

		r := v.postJSON("/api/v1/cards/"+c.ID+"/refuse", township, RefuseRequest{Reasons: []string{"经核实不符合办理条件"}})
		if r.Code != http.StatusCreated {
			t.Fatalf("refuse: %d %s", r.Code, r.body)
		}
		var n NoticeView
		r.json(t, &n)
		pdf := v.do(http.MethodGet, n.PDF, township, "", nil)
		if rep := v.verifyPDF(t, pdf.body, chain.Notice, n.Number); rep.Verdict != verifier.Valid || rep.Seals[0].DivisionCode != "220102001" {
			t.Fatalf("refusal notice %s %v", rep.Verdict, rep.Reasons())
		}
		sc, err := v.st.GetCard(context.Background(), c.ID)
		if err != nil || sc.Status != card.StatusRefused {
			t.Fatalf("status %s %v", sc.Status, err)
		}
		// Refused only once, from draft only; a refused card takes no seal.
		expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/refuse", township, RefuseRequest{Reasons: []string{"x"}}), http.StatusConflict, "wrong-state")
		expectProblem(t, v.seal(c.ID, "220102001001"), http.StatusConflict, "wrong-state")
		// The public answer does not call it valid.
		var a lifecycle.Answer
		v.do(http.MethodGet, "/api/v1/verify/"+sc.QRToken, "", "", nil).json(t, &a)
		if a.Status != lifecycle.PublicUnknown {
			t.Fatalf("public status %q", a.Status)
		}
		evs, err := v.st.AuditEvents(context.Background(), c.ID, 10)
		if err != nil || evs[0].Action != "card.refuse" || evs[0].Actor != "220102001" || !strings.Contains(string(evs[0].Detail), "经核实不符合办理条件") {
			t.Fatalf("audit %+v %v", evs, err)
		}
		// An issued card cannot be refused.
		d := v.create(t, exampleApplicant(t))
		v.issue(d.ID)
		expectProblem(t, v.postJSON("/api/v1/cards/"+d.ID+"/refuse", township, RefuseRequest{Reasons: []string{"x"}}), http.StatusConflict, "wrong-state")
	})
}

func TestArt16ReissueSupersededShowsNewNumber(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		old, nw := v.create(t, exampleApplicant(t)), v.create(t, exampleApplicant(t))
		v.issue(old.ID)
		v.issue(nw.ID)
		r := v.postJSON("/api/v1/cards/"+old.ID+"/supersede", v.session("220102"), StatusRequest{Reason: "formal_card_reissued", Note: "邮寄正式证件", NewCardID: nw.ID})
		if r.Code != http.StatusOK {
			t.Fatalf("supersede: %d %s", r.Code, r.body)
		}
		sc, _ := v.st.GetCard(context.Background(), old.ID)
		ans := v.do(http.MethodGet, "/api/v1/verify/"+sc.QRToken, "", "", nil)
		var a lifecycle.Answer
		ans.json(t, &a)
		if a.Status != lifecycle.PublicSuperseded || a.SupersededBy != nw.Number || a.Number != old.Number {
			t.Fatalf("answer %+v", a)
		}
		for _, full := range []string{"李四", "王喆堃", "220102199003071235", "220102199208152346"} {
			if bytes.Contains(ans.body, []byte(full)) {
				t.Fatalf("public answer shows %q", full)
			}
		}
		page := v.do(http.MethodGet, "/V/"+sc.QRToken, "", "", nil).Body.String()
		if !strings.Contains(page, nw.Number) || strings.Contains(page, "220102199003071235") {
			t.Fatalf("page lacks the new number or shows an ID number")
		}
	})
}

func TestArt23Export(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		c := v.create(t, exampleApplicant(t))
		v.issue(c.ID)
		v.create(t, coupleApplicant(t, 40)) // a draft: not exported
		county := v.session("220102")

		r := v.do(http.MethodGet, "/api/v1/export?format=csv", county, "", nil)
		if r.Code != http.StatusOK || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %s", r.Code, r.body)
		}
		rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil || len(rows) != 2 || rows[1][0] != c.Number || rows[1][6] != "220102199003071235" || rows[1][5] != "李四" {
			t.Fatalf("csv rows %v %v", rows, err)
		}
		var j struct{ Cards []ExportRecord }
		v.do(http.MethodGet, "/api/v1/export?format=json", county, "", nil).json(t, &j)
		if len(j.Cards) != 1 || j.Cards[0].Applicant.Female.IDNumber != "220102199208152346" {
			t.Fatalf("json %+v", j)
		}
		// Art. 23: the township exports its own jurisdiction (TestArt23…).
		if r := v.do(http.MethodGet, "/api/v1/export?format=csv", v.session("220102001"), "", nil); r.Code != http.StatusOK {
			t.Fatalf("township export: %d", r.Code)
		}
		expectProblem(t, v.do(http.MethodGet, "/api/v1/export?format=csv&county=220103", county, "", nil), http.StatusForbidden, "forbidden")
		expectProblem(t, v.do(http.MethodGet, "/api/v1/export?format=xml", county, "", nil), http.StatusBadRequest, "bad-request")
		evs, err := v.st.AuditEvents(context.Background(), "", 50)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Action == "cards.export" && e.Actor == "220102" {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d export audit events of the county, want 2", n)
		}
	})
}

func TestStatusListOffline(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		c := v.create(t, exampleApplicant(t))
		v.issue(c.ID)
		r1 := v.do(http.MethodGet, "/api/v1/status-list", "", "", nil)
		etag := r1.Header().Get("ETag")
		if r1.Code != http.StatusOK || etag != lifecycle.ETag(r1.body) || !strings.Contains(r1.Header().Get("Cache-Control"), "max-age=") {
			t.Fatalf("status list: %d etag %q cache %q", r1.Code, etag, r1.Header().Get("Cache-Control"))
		}
		req := httptestRequest(http.MethodGet, "/api/v1/status-list", "")
		req.Header.Set("If-None-Match", etag)
		if r := v.serve(req); r.Code != http.StatusNotModified {
			t.Fatalf("If-None-Match: %d", r.Code)
		}
		if r := v.postJSON("/api/v1/cards/"+c.ID+"/void", v.session("220102"), StatusRequest{Reason: "pregnancy_ended_without_certificate", Note: "无医学证明"}); r.Code != http.StatusOK {
			t.Fatalf("void: %d %s", r.Code, r.body)
		}
		// The list changed: the old ETag no longer matches.
		req = httptestRequest(http.MethodGet, "/api/v1/status-list", "")
		req.Header.Set("If-None-Match", etag)
		r2 := v.serve(req)
		if r2.Code != http.StatusOK || r2.Header().Get("ETag") == etag {
			t.Fatalf("after void: %d", r2.Code)
		}
		// Offline: the card PDF's seals verify, its revision 0 names the
		// index, and the signed list says voided.
		sc, _ := v.st.GetCard(context.Background(), c.ID)
		pdf := v.currentPDF(c.ID)
		l, _, err := statuslist.Parse(r2.body, v.ks.TrustList(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		oc, err := lifecycle.CheckOffline(pdf, v.ks.TrustList(), l)
		if err != nil {
			t.Fatal(err)
		}
		if oc.StatusIndex != sc.StatusIndex || oc.Status != lifecycle.PublicVoided || oc.Report.DocID != c.Number {
			t.Fatalf("offline: index %d/%d status %q card %q", oc.StatusIndex, sc.StatusIndex, oc.Status, oc.Report.DocID)
		}
		if l.Status((sc.StatusIndex+1)%card.StatusListSize) != "" {
			t.Fatal("a neighbouring index is set")
		}
		// A list from another key does not parse.
		bad := bytes.Replace(r2.body, []byte(`"signature": "`), []byte(`"signature": "A`), 1)
		if _, _, err := statuslist.Parse(bad, v.ks.TrustList(), time.Now()); err == nil {
			t.Fatal("tampered list parsed")
		}
	})
}

func TestArt17RebirthFormOrder(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		c := v.create(t, applicantWith(t, func(a *card.Applicant) {
			a.Type, a.ChildOrder = card.Rebirth, 3
			a.StatusCert = &card.StatusCert{Number: "YJ-2026-0042", Issuer: "永安社区居民委员会"}
		}))
		first := v.create(t, exampleApplicant(t))
		county := v.session("220102")
		expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/rebirth-form", v.session("220102001001"), FormRequest{}), http.StatusForbidden, "wrong-level")
		expectProblem(t, v.postJSON("/api/v1/cards/"+first.ID+"/rebirth-form", county, FormRequest{}), http.StatusConflict, "not-rebirth")
		r := v.postJSON("/api/v1/cards/"+c.ID+"/rebirth-form", county, FormRequest{Reason: "意愿再生育"})
		if r.Code != http.StatusCreated {
			t.Fatalf("form: %d %s", r.Code, r.body)
		}
		var f FormView
		r.json(t, &f)
		// County first from the pre-reviewed list, then 补盖 by village and township.
		for i, u := range []string{"220102", "220102001001", "220102001"} {
			r := v.postJSON("/api/v1/forms/"+f.ID+"/seal", v.session(u), SealRequest{Password: testPassword})
			if r.Code != http.StatusOK {
				t.Fatalf("form seal %d by %s: %d %s", i, u, r.Code, r.body)
			}
		}
		expectProblem(t, v.postJSON("/api/v1/forms/"+f.ID+"/seal", county, SealRequest{Password: testPassword}), http.StatusConflict, "chain-complete")
		expectProblem(t, v.postJSON("/api/v1/forms/"+f.ID+"/seal", county, SealRequest{Password: "not the county's"}), http.StatusUnauthorized, "bad-credentials")
		pdf := v.do(http.MethodGet, f.PDF, county, "", nil)
		if rep := v.verifyPDF(t, pdf.body, chain.RebirthForm, f.Number); rep.Verdict != verifier.Valid || len(rep.Seals) != 3 || rep.Seals[0].Level != string(org.County) {
			t.Fatalf("form verdict %s %v", rep.Verdict, rep.Reasons())
		}
		// The card itself still refuses the county first.
		expectProblem(t, v.seal(c.ID, "220102"), http.StatusConflict, "out-of-order")
	})
}

func TestArt7aCrossProvinceTrust(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "liaoning")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	other := keys.ProvinceConfig{Province: "辽宁省", RootName: "辽宁省卫生健康委员会(演示)", Orgs: []org.Org{
		{Code: "210102", Level: org.County, Name: "沈阳市和平区卫生健康局"},
		{Code: "210102001", Level: org.Township, Name: "浑河湾街道办事处"},
		{Code: "210102001001", Level: org.Village, Name: "浑河湾社区居民委员会"},
	}}
	if err := keys.InitDir(dir, other, []byte("other-passphrase"), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	ks2, err := keys.OpenDir(dir, []byte("other-passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	app, err := card.ParseApplicant(applicantWith(t, func(a *card.Applicant) {
		a.Type, a.ChildOrder, a.Village = card.Rebirth, 3, "210102001001"
		a.StatusCert = &card.StatusCert{Number: "HH-2026-7", Issuer: "浑河湾社区居民委员会"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	number := "2101022026000001"
	rd, err := lifecycle.Render(context.Background(), other, &lifecycle.Draft{Number: number, Applicant: app, IssueDate: time.Now(), StatusIndex: 7}, "http://liaoning.example")
	if err != nil {
		t.Fatal(err)
	}
	pdf, sealer := rd.PDF, lifecycle.NewSealer(ks2)
	for _, code := range []string{"210102001001", "210102001", "210102"} {
		if pdf, err = sealer.SealCard(pdf, mustOrg(other.GetOrg(context.Background(), code)), number, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	ours, err := keys.OpenDir(demoKeys(t), []byte("test-passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(trust *keys.TrustList) *verifier.Report {
		rep, err := verifier.Verify(pdf, verifier.Options{Trust: trust, SealBoxes: lifecycle.CardSealBoxes(), DocID: number})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := check(ours.TrustList()); rep.Verdict == verifier.Valid {
		t.Fatal("another province's card verified without the bundle")
	}
	root, err := ours.RootCA()
	if err != nil {
		t.Fatal(err)
	}
	root2, err := ks2.RootCA()
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := keys.SignBundle(root, []*smx509.Certificate{root2.Cert})
	if err != nil {
		t.Fatal(err)
	}
	trust, err := keys.VerifyBundle(bundle, root.Cert)
	if err != nil {
		t.Fatal(err)
	}
	rep := check(trust)
	if rep.Verdict != verifier.Valid || len(rep.Seals) != 3 {
		t.Fatalf("with the bundle: %s %v", rep.Verdict, rep.Reasons())
	}
	for _, s := range rep.Seals {
		if s.Province != "辽宁省" {
			t.Fatalf("seal province %q", s.Province)
		}
	}
	// A bundle the other province signed itself is not ours.
	forged, err := keys.SignBundle(root2, []*smx509.Certificate{root2.Cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.VerifyBundle(forged, root.Cert); err == nil {
		t.Fatal("a bundle not signed by our root was accepted")
	}
	// Nor one with a root added after signing.
	if _, err := keys.VerifyBundle(append(root.Cert.Raw[:0:0], append(pemCert(root.Cert), bundle...)...), root.Cert); err == nil {
		t.Fatal("a bundle with an added root was accepted")
	}
}

func pemCert(c *smx509.Certificate) []byte {
	return []byte("-----BEGIN CERTIFICATE-----\n" + b64Lines(c.Raw) + "-----END CERTIFICATE-----\n")
}

func b64Lines(b []byte) string {
	s := base64Std(b)
	var out strings.Builder
	for len(s) > 64 {
		out.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	out.WriteString(s + "\n")
	return out.String()
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 40, 30))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// multipartApplication builds an online application body.
func multipartApplication(t *testing.T, app []byte, files map[string][]byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if app != nil {
		fw, _ := w.CreateFormField("application")
		fw.Write(app)
	}
	for name, data := range files {
		fw, err := w.CreateFormFile("material:"+name, name+".bin")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}

func TestArt15OnlineApplication(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		photo := pngBytes(t)
		scan := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
		// The applicant claims no finding (provided, deficient: staff's);
		// the materials sent await review (submitted).
		online := func(a *card.Applicant) {
			a.Materials = map[card.Material]card.MaterialState{card.MatHukou: card.Missing}
		}
		body, ct := multipartApplication(t, applicantWith(t, online), map[string][]byte{"id_cards": photo, "marriage_certificate": scan})
		r := v.do(http.MethodPost, "/api/v1/applications", "", ct, body)
		if r.Code != http.StatusCreated {
			t.Fatalf("apply: %d %s", r.Code, r.body)
		}
		var a ApplicationView
		r.json(t, &a)
		// Art. 19: no due date while materials await review; the limit
		// runs from the day the file is complete.
		if a.Status != card.StatusDraft || a.Materials != 2 || a.Due != "" || a.LimitWorkingDays != 10 || len(a.Missing) != 3 || strings.Contains(string(r.body), "李四") {
			t.Fatalf("application %s", r.body)
		}
		// Tracking needs one spouse's ID number.
		tr := v.do(http.MethodGet, "/api/v1/applications/"+a.Number+"?id_number=220102199208152346", "", "", nil)
		if tr.Code != http.StatusOK {
			t.Fatalf("track: %d %s", tr.Code, tr.body)
		}
		expectProblem(t, v.do(http.MethodGet, "/api/v1/applications/"+a.Number+"?id_number=220102199003071236", "", "", nil), http.StatusNotFound, "not-found")
		// The village's staff see it in their queue; the other village does not.
		var q struct{ Cards []CardView }
		v.do(http.MethodGet, "/api/v1/queue", v.session("220102001001"), "", nil).json(t, &q)
		if len(q.Cards) != 1 || q.Cards[0].Number != a.Number || q.Cards[0].CreatedBy != lifecycle.CitizenActor {
			t.Fatalf("queue %+v", q.Cards)
		}
		v.do(http.MethodGet, "/api/v1/queue", v.session("220102002001"), "", nil).json(t, &q)
		if len(q.Cards) != 0 {
			t.Fatalf("other village's queue %+v", q.Cards)
		}
		// Stored encrypted, decrypting to what was sent.
		sc, _ := v.st.GetCardByNumber(context.Background(), a.Number)
		atts, err := v.st.Attachments(context.Background(), sc.ID)
		if err != nil || len(atts) != 2 {
			t.Fatalf("attachments %d %v", len(atts), err)
		}
		for _, at := range atts {
			if bytes.Contains(at.Data, []byte("PNG")) || bytes.Contains(at.Data, []byte("%PDF")) {
				t.Fatal("attachment stored in the clear")
			}
		}
		plain, err := v.svc.Attachments(context.Background(), v.actorOfUser("220102001001"), &sc)
		if err != nil || len(plain) != len(atts) {
			t.Fatalf("attachments read by the village: %d, %v", len(plain), err)
		}
		for _, at := range plain {
			want := map[string][]byte{"id_cards": photo, "marriage_certificate": scan}[at.Material]
			if !bytes.Equal(at.Data, want) {
				t.Fatalf("attachment %s does not decrypt to what was sent", at.Material)
			}
		}
		// Type checked by content, not by name or claimed type.
		body, ct = multipartApplication(t, exampleApplicant(t), map[string][]byte{"id_cards": []byte("\xff\xd8\xff\xe0 not really a JPEG")})
		expectProblem(t, v.do(http.MethodPost, "/api/v1/applications", "", ct, body), http.StatusUnsupportedMediaType, "bad-material")
		body, ct = multipartApplication(t, exampleApplicant(t), map[string][]byte{"id_cards": []byte("<html>hello</html>")})
		expectProblem(t, v.do(http.MethodPost, "/api/v1/applications", "", ct, body), http.StatusUnsupportedMediaType, "bad-material")
		// Size-limited: 5 MB per file.
		big := append([]byte("%PDF-1.4\n"), make([]byte, MaxMaterialSize)...)
		body, ct = multipartApplication(t, exampleApplicant(t), map[string][]byte{"id_cards": big})
		expectProblem(t, v.do(http.MethodPost, "/api/v1/applications", "", ct, body), http.StatusRequestEntityTooLarge, "too-large")
		// Nothing beyond the case's list (Art. 8).
		body, ct = multipartApplication(t, exampleApplicant(t), map[string][]byte{"birth_medical_certificate": scan})
		expectProblem(t, v.do(http.MethodPost, "/api/v1/applications", "", ct, body), http.StatusUnprocessableEntity, "invalid-application")
	})
}

func TestArt12NoFee(t *testing.T) {
	v := newEnv(t, Options{})
	var m map[string]any
	if err := json.Unmarshal(exampleApplicant(t), &m); err != nil {
		t.Fatal(err)
	}
	m["fee"] = 50
	withFee := mustJSON(t, m)
	for _, r := range []*resp{
		v.do(http.MethodPost, "/api/v1/cards", v.session("220102001001"), "application/json", withFee),
		v.do(http.MethodPost, "/api/v1/applications", "", "application/json", withFee),
	} {
		if r.Code < 400 || r.Code >= 500 {
			t.Fatalf("an application with a fee: %d %s", r.Code, r.body)
		}
	}
	c := v.newCard()
	v.issue(c.ID)
	r := v.postJSON("/api/v1/cards/"+c.ID+"/void", v.session("220102"), map[string]any{"reason": "other", "note": "x", "fee": 1})
	expectProblem(t, r, http.StatusBadRequest, "bad-json")
	spec, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?i)\b(fees?|payments?|prices?|amount)\b`).Find(spec); m != nil {
		t.Fatalf("the API description mentions %q", m)
	}
}

func TestArt21CommitmentAudited(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		c := v.create(t, applicantWith(t, func(a *card.Applicant) {
			a.Commitment = true
			a.Materials = map[card.Material]card.MaterialState{card.MatIDCards: card.Provided, card.MatHukou: card.PopulationDB, card.MatMarriage: card.Committed}
		}))
		plain := v.create(t, exampleApplicant(t))
		for _, tc := range []struct {
			id   string
			want bool
		}{{c.ID, true}, {plain.ID, false}} {
			evs, err := v.st.AuditEvents(context.Background(), tc.id, 10)
			if err != nil {
				t.Fatal(err)
			}
			var d struct{ Commitment bool }
			last := evs[len(evs)-1]
			if last.Action != "card.create" || json.Unmarshal(last.Detail, &d) != nil || d.Commitment != tc.want {
				t.Fatalf("card %s: create event %s %s", tc.id, last.Action, last.Detail)
			}
		}
	})
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// FuzzMaterialType: the content check of uploaded materials never
// panics and accepts only what it says.
func FuzzMaterialType(f *testing.F) {
	f.Add([]byte("%PDF-1.7\n"))
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x10JFIF"))
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		switch ct := MaterialType(b); ct {
		case "":
		case "application/pdf":
			if !bytes.HasPrefix(b, []byte("%PDF-")) {
				t.Fatal("accepted a PDF without a header")
			}
		case "image/jpeg", "image/png":
			if _, _, err := image.DecodeConfig(bytes.NewReader(b)); err != nil {
				t.Fatalf("accepted an image whose header does not decode: %v", err)
			}
		default:
			t.Fatalf("unexpected type %q", ct)
		}
	})
}

// mustOrg panics on an organisation the demo province lacks.
func mustOrg(o org.Org, err error) org.Org {
	if err != nil {
		panic(err)
	}
	return o
}
