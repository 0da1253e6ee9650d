package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/store/storetest"
)

func itoa(n int) string { return strconv.Itoa(n) }

// consoleAs is a console client of one staff account.
type consoleAs struct {
	v  *env
	ck *http.Cookie
}

func (v *env) consoleAs(t *testing.T, user string) *consoleAs {
	t.Helper()
	ck, r := v.consoleLogin(t, user, testPassword)
	if ck == nil {
		t.Fatalf("console login of %s: %d", user, r.Code)
	}
	return &consoleAs{v: v, ck: ck}
}

func (c *consoleAs) get(path string) *resp {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = "192.0.2.10:40000"
	req.AddCookie(c.ck)
	return c.v.serve(req)
}

func (c *consoleAs) post(path string, form url.Values) *resp {
	form.Set("csrf", csrfToken(c.ck.Value))
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "192.0.2.10:40000"
	req.AddCookie(c.ck)
	return c.v.serve(req)
}

// countAudit counts a card's audit events of an action.
func (v *env) countAudit(t *testing.T, cardID string, act audit.Action) int {
	t.Helper()
	evs, err := v.st.AuditEvents(context.Background(), cardID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Action == act {
			n++
		}
	}
	return n
}

// TestArt13StaffSeeWhatWasSent: the village's staff open an online
// application in the console and see every material: the photo inline,
// the PDF as an image of its page rendered on the server (the PDF itself
// never reaches the browser), each fetch an audited view (Art. 13); the
// queue marks the application as online. They find one material
// deficient with a reason and accept another from the page's forms.
// Staff of another village see nothing. On SQLite and PostgreSQL.
func TestArt13StaffSeeWhatWasSent(t *testing.T) {
	testtool.Require(t, "pdftoppm")
	testtool.Require(t, "pdfinfo")
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		const village = "220102001001"
		// A real PDF to send as a scan: a card the service rendered.
		counter := v.newCard()
		scan := v.do(http.MethodGet, "/api/v1/cards/"+counter.ID+"/pdf", v.session(village), "", nil).body
		photo := noisePNG(t, 4<<10)
		r := v.applyOnline(t, coupleApp(t, 60, village), map[string][]byte{"household_register": photo, "marriage_certificate": scan})
		if r.Code != http.StatusCreated {
			t.Fatalf("apply: %d %s", r.Code, r.body)
		}
		var created ApplicationView
		r.json(t, &created)
		sc, _ := v.st.GetCardByNumber(context.Background(), created.Number)
		atts, _ := v.st.Attachments(context.Background(), sc.ID)
		seqOf := map[string]int{}
		for _, a := range atts {
			seqOf[a.Material] = a.Seq
		}
		staff := v.consoleAs(t, village)

		q := staff.get("/console")
		if !strings.Contains(string(q.body), created.Number+`</a> <span class="badge-online">网上申请</span>`) {
			t.Fatalf("the queue does not mark the online application:\n%s", q.body)
		}

		page := "/console/cards/" + sc.ID
		p := staff.get(page)
		if p.Code != http.StatusOK {
			t.Fatalf("card page: %d", p.Code)
		}
		body := string(p.body)
		files := page + "/files/"
		photoURL := files + itoa(seqOf["household_register"])
		pdfURL := files + itoa(seqOf["marriage_certificate"]) + "?page=1"
		for _, w := range []string{`src="` + photoURL + `"`, `src="` + pdfURL + `"`, `id="form-review-household_register"`,
			"已网上提交，待审核", "右转90°", `id="mat-id_cards"`} {
			if !strings.Contains(body, w) {
				t.Errorf("the card page lacks %q", w)
			}
		}
		before := v.countAudit(t, sc.ID, audit.CardMaterial)

		img := staff.get(photoURL)
		if img.Code != http.StatusOK || img.Header().Get("Content-Type") != "image/png" || !bytes.Equal(img.body, photo) {
			t.Fatalf("photo: %d %s", img.Code, img.Header().Get("Content-Type"))
		}
		if !strings.Contains(img.Header().Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("photo CSP %q", img.Header().Get("Content-Security-Policy"))
		}
		for _, u := range []string{pdfURL, files + itoa(seqOf["marriage_certificate"])} {
			pg := staff.get(u)
			if pg.Code != http.StatusOK || pg.Header().Get("Content-Type") != "image/png" || !bytes.HasPrefix(pg.body, []byte("\x89PNG")) || bytes.Contains(pg.body, []byte("%PDF")) {
				t.Fatalf("PDF page %s: %d %s", u, pg.Code, pg.Header().Get("Content-Type"))
			}
		}
		if n := v.countAudit(t, sc.ID, audit.CardMaterial) - before; n != 3 {
			t.Fatalf("%d material views audited, want 3", n)
		}
		for _, u := range []string{files + "99", files + itoa(seqOf["household_register"]) + "?page=1", pdfURL[:len(pdfURL)-1] + "0"} {
			if r := staff.get(u); r.Code != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", u, r.Code)
			}
		}
		// Another village's staff: forbidden, nothing recorded as seen.
		other := v.consoleAs(t, "220102002001")
		if r := other.get(photoURL); r.Code != http.StatusForbidden {
			t.Fatalf("another village's staff: %d", r.Code)
		}
		if n := v.countAudit(t, sc.ID, audit.CardMaterial) - before; n != 3 {
			t.Fatalf("a refused view was audited")
		}

		// The review from the page's forms.
		review := page + "/materials/household_register/review"
		if r := staff.post(review, url.Values{"decision": {"deficient"}, "reason": {""}}); r.Code != http.StatusUnprocessableEntity {
			t.Fatalf("deficient without a reason: %d", r.Code)
		}
		if r := staff.post(review, url.Values{"decision": {"deficient"}, "reason": {"照片反光，看不清户主页"}}); r.Code != http.StatusSeeOther {
			t.Fatalf("deficient: %d %s", r.Code, r.body)
		}
		if r := staff.post(page+"/materials/marriage_certificate/review", url.Values{"decision": {"accept"}}); r.Code != http.StatusSeeOther {
			t.Fatalf("accept: %d %s", r.Code, r.body)
		}
		body = string(staff.get(page + "?done=reviewed").body)
		for _, w := range []string{"不合格原因：照片反光，看不清户主页", "不符合要求，需重新提交", "已收取", "材料审核结果已记录"} {
			if !strings.Contains(body, w) {
				t.Errorf("after the review the page lacks %q", w)
			}
		}
		got, _ := v.st.GetCard(context.Background(), sc.ID)
		a2, err := v.svc.Applicant(&got)
		if err != nil {
			t.Fatal(err)
		}
		if a2.Materials[card.MatHukou] != card.Deficient || a2.Materials[card.MatMarriage] != card.Provided {
			t.Fatalf("materials after the review: %v", a2.Materials)
		}
	})
}

// TestMaterialPDFWithoutPoppler: without poppler's tools on the server a
// PDF material is not shown, and the page and the image route say why
// in words (503 renderer-missing); the PDF is still never sent.
func TestMaterialPDFWithoutPoppler(t *testing.T) {
	v := newEnv(t, Options{})
	const village = "220102001001"
	counter := v.newCard()
	scan := v.do(http.MethodGet, "/api/v1/cards/"+counter.ID+"/pdf", v.session(village), "", nil).body
	r := v.applyOnline(t, coupleApp(t, 70, village), map[string][]byte{"marriage_certificate": scan})
	if r.Code != http.StatusCreated {
		t.Fatalf("apply: %d %s", r.Code, r.body)
	}
	var created ApplicationView
	r.json(t, &created)
	sc, _ := v.st.GetCardByNumber(context.Background(), created.Number)
	staff := v.consoleAs(t, village)
	t.Setenv("PATH", t.TempDir()) // no pdfinfo, no pdftoppm
	if b := string(staff.get("/console/cards/" + sc.ID).body); !strings.Contains(b, "服务器未安装 poppler-utils") {
		t.Fatal("the card page does not say that poppler is missing")
	}
	img := staff.get("/console/cards/" + sc.ID + "/files/1?page=1")
	if img.Code != http.StatusServiceUnavailable || !strings.Contains(string(img.body), "poppler-utils") || bytes.Contains(img.body, []byte("%PDF")) {
		t.Fatalf("image without poppler: %d %s", img.Code, img.body)
	}
}
