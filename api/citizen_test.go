package api

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store/storetest"
)

// citizenForm is a multipart form of text fields and files (field name
// → file bytes).
func citizenForm(t *testing.T, fields map[string]string, files map[string][]byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for k, data := range files {
		fw, err := w.CreateFormFile(k, "photo.png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}

// citizenFields is a married couple's first-child application form.
func citizenFields(male, female string) map[string]string {
	return map[string]string{
		"village": "220102001001", "channel": "self",
		"male_name": "李四", "male_id_number": male, "male_hukou": "吉林省长春市南关区", "male_residence": "吉林省长春市南关区幸福里3栋",
		"female_name": "王喆堃", "female_id_number": female, "female_hukou": "吉林省长春市南关区", "female_residence": "吉林省长春市南关区幸福里3栋",
		"marriage_date": "2024-05-20", "marriage_cert_number": "J220102-2024-001234", "child_order": "1", "commitment": "on",
	}
}

var receiptNumberRE = regexp.MustCompile(`id="receipt-number">([0-9]{16})<`)

// TestArt15CitizenAppliesOnline: the citizen's pages, without script:
// /apply asks exactly the case's materials, with camera fields; a wrong
// field comes back next to its input with everything typed kept; the
// receipt gives the number and the due date; /track shows the state in
// words, the three levels and the materials; after staff find a photo
// deficient and give the one-time notice, /track takes exactly the
// materials the notice names, which await review again. On SQLite and
// PostgreSQL.
func TestArt15CitizenAppliesOnline(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		male, female := idWithCheck("22010219900307123"), idWithCheck("22010219920815234")

		p := v.do(http.MethodGet, "/apply", "", "", nil)
		if p.Code != http.StatusOK || !strings.Contains(string(p.body), `href="/apply?type=rebirth&amp;case=rebirth"`) {
			t.Fatalf("/apply: %d", p.Code)
		}
		p = v.do(http.MethodGet, "/apply?type=first&case=married", "", "", nil)
		body := string(p.body)
		for _, w := range []string{`name="photo:id_cards" accept="image/*" capture="environment"`, `name="photo:household_register"`, `name="photo:marriage_certificate"`,
			`name="pdf:marriage_certificate" accept="application/pdf"`, `id="commitment"`, commitmentText, "10 个工作日", `lang="zh-CN"`} {
			if !strings.Contains(body, w) {
				t.Errorf("the married case's form lacks %q", w)
			}
		}
		for _, w := range []string{"photo:birth_medical_certificate", "photo:status_certificate", "status_cert_number"} {
			if strings.Contains(body, w) {
				t.Errorf("the married case's form asks %q (Art. 8)", w)
			}
		}

		// A wrong ID number: the message next to it, everything kept.
		fields := citizenFields(male, female)
		fields["male_id_number"] = male[:17] + "0"
		if male[17] == '0' {
			fields["male_id_number"] = male[:17] + "1"
		}
		b, ct := citizenForm(t, fields, nil)
		r := v.do(http.MethodPost, "/apply?type=first&case=married", "", ct, b)
		body = string(r.body)
		if r.Code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="err-male_id_number"`) || !strings.Contains(body, `value="J220102-2024-001234"`) ||
			!strings.Contains(body, `value="王喆堃"`) || !strings.Contains(body, `id="commitment" aria-describedby="commitment-text" checked`) {
			t.Fatalf("wrong ID number: %d\n%s", r.Code, body)
		}
		if n := v.cardsOf(t, "220102001001"); n != 0 {
			t.Fatalf("%d cards after a refused form", n)
		}

		photo1, photo2 := noisePNG(t, 3<<10), noisePNG(t, 5<<10)
		b, ct = citizenForm(t, citizenFields(male, female), map[string][]byte{"photo:id_cards": photo1, "photo:household_register": photo2})
		r = v.do(http.MethodPost, "/apply?type=first&case=married", "", ct, b)
		if r.Code != http.StatusCreated {
			t.Fatalf("apply: %d\n%s", r.Code, r.body)
		}
		m := receiptNumberRE.FindStringSubmatch(string(r.body))
		if m == nil || !strings.Contains(string(r.body), `id="receipt-due"`) || strings.Contains(string(r.body), "王喆堃") {
			t.Fatalf("receipt:\n%s", r.body)
		}
		number := m[1]
		// The same couple again: a clear message, not a bare 409.
		b, ct = citizenForm(t, citizenFields(male, female), nil)
		r = v.do(http.MethodPost, "/apply?type=first&case=married", "", ct, b)
		if r.Code != http.StatusConflict || !strings.Contains(string(r.body), "不要重复申请") {
			t.Fatalf("second application: %d\n%s", r.Code, r.body)
		}

		track := func() string {
			t.Helper()
			r := v.do(http.MethodPost, "/track", "", "application/x-www-form-urlencoded", []byte(url.Values{"number": {number}, "id_number": {female}}.Encode()))
			if r.Code != http.StatusOK {
				t.Fatalf("track: %d\n%s", r.Code, r.body)
			}
			return string(r.body)
		}
		body = track()
		for _, w := range []string{`id="track-state">审核中<`, "村(居)级", "乡(镇、街道)级", "县级", "已网上提交，待审核", "0431-12356"} {
			if !strings.Contains(body, w) {
				t.Errorf("track lacks %q", w)
			}
		}
		if strings.Contains(body, `id="form-resubmit"`) {
			t.Error("track offers an upload before any notice")
		}
		r = v.do(http.MethodPost, "/track", "", "application/x-www-form-urlencoded", []byte(url.Values{"number": {number}, "id_number": {male[:17] + "Y"}}.Encode()))
		if r.Code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "err-id_number") {
			t.Fatalf("malformed ID number: %d", r.Code)
		}

		// Staff: the ID cards deficient, the register accepted, a notice.
		sc, _ := v.st.GetCardByNumber(context.Background(), number)
		tok := v.session("220102001001")
		cardURL := "/api/v1/cards/" + sc.ID
		v.postJSON(cardURL+"/materials/id_cards/review", tok, ReviewRequest{Reason: "照片反光看不清"})
		v.postJSON(cardURL+"/materials/household_register/review", tok, ReviewRequest{Accept: true})
		if r := v.do(http.MethodPost, cardURL+"/notice", tok, "", nil); r.Code != http.StatusCreated {
			t.Fatalf("notice: %d %s", r.Code, r.body)
		}
		body = track()
		for _, w := range []string{`id="track-state">需补正材料<`, "原因：照片反光看不清", `id="form-resubmit"`, `name="photo:id_cards"`, `name="photo:marriage_certificate"`} {
			if !strings.Contains(body, w) {
				t.Errorf("track after the notice lacks %q", w)
			}
		}
		if strings.Contains(body, `name="photo:household_register"`) {
			t.Error("track asks again for the accepted household register")
		}

		upload := func(files map[string][]byte) *resp {
			b, ct := citizenForm(t, map[string]string{"number": number, "id_number": female}, files)
			return v.do(http.MethodPost, "/track/upload", "", ct, b)
		}
		if r := upload(map[string][]byte{"photo:household_register": photo1}); r.Code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "只能补交告知书中列出") {
			t.Fatalf("a material the notice does not name: %d", r.Code)
		}
		replacement := noisePNG(t, 6<<10)
		r = upload(map[string][]byte{"photo:id_cards": replacement})
		if r.Code != http.StatusOK || !strings.Contains(string(r.body), "补交的材料已收到") {
			t.Fatalf("resubmit: %d\n%s", r.Code, r.body)
		}
		got, _ := v.st.GetCard(context.Background(), sc.ID)
		app, _ := v.svc.Applicant(&got)
		if app.Materials[card.MatIDCards] != card.Submitted || app.MaterialNotes != nil {
			t.Fatalf("after the resubmission: %v %v", app.Materials, app.MaterialNotes)
		}
		atts, _ := v.svc.Attachments(context.Background(), v.actorOfUser("220102001001"), &got)
		if len(atts) != 3 || !bytes.Equal(atts[2].Data, replacement) {
			t.Fatalf("%d attachments after the resubmission", len(atts))
		}
	})
}

// TestArt18GuideAndHotline: the guide names the regulation by its title,
// carries the standard parts (conditions, materials, procedure, time
// limits, fee, the windows' address and phone from configuration, the
// complaint hotline) and the buttons 在线办理 and 进度查询; the hotline
// (Art. 24, configurable) is on the public pages and on every notice.
func TestArt18GuideAndHotline(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		st, _ := open(t)
		f, err := os.Open("../examples/windows.csv")
		if err != nil {
			t.Fatal(err)
		}
		windows, err := org.ParseWindows(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		v := newEnvOn(t, st, Options{Windows: windows})
		body := string(v.do(http.MethodGet, "/guide", "", "", nil).body)
		for _, w := range []string{"《吉林省生育服务卡办理的若干规定》", "办理条件", "所需材料", "办理程序", "办理时限", "收费标准", "免费",
			"永吉街道办事处", "0431-88000101", "长春市南关区卫生健康局", `id="hotline">0431-12356<`, `id="guide-apply" href="/apply">在线办理<`, `id="guide-track" href="/track">进度查询<`} {
			if !strings.Contains(body, w) {
				t.Errorf("the guide lacks %q", w)
			}
		}
		if strings.Contains(body, "管理规定") {
			t.Error("the guide names the regulation by a wrong title")
		}

		v.svc.Hotline = "0431-99999"
		for _, path := range []string{"/guide", "/check", "/apply", "/track", "/upload"} {
			if b := string(v.do(http.MethodGet, path, "", "", nil).body); !strings.Contains(b, "投诉电话：<span class=\"num\">0431-99999</span>") {
				t.Errorf("%s: no configured hotline in the footer", path)
			}
		}
		// Every notice: the one-time notice and the refusal.
		tok := v.session("220102001001")
		c := v.create(t, applicantWith(t, incomplete))
		if r := v.do(http.MethodPost, "/api/v1/cards/"+c.ID+"/notice", tok, "", nil); r.Code != http.StatusCreated {
			t.Fatalf("notice: %d %s", r.Code, r.body)
		}
		if r := v.postJSON("/api/v1/cards/"+c.ID+"/refuse", tok, RefuseRequest{Reasons: []string{"不符合条件"}}); r.Code != http.StatusCreated {
			t.Fatalf("refuse: %d %s", r.Code, r.body)
		}
		for seq := 1; seq <= 2; seq++ {
			pdf := v.do(http.MethodGet, "/api/v1/cards/"+c.ID+"/notices/"+strconv.Itoa(seq)+"/pdf", tok, "", nil)
			if text := pdfText(t, pdf.body); !strings.Contains(text, "0431-99999") {
				t.Errorf("notice %d lacks the hotline:\n%s", seq, text)
			}
		}
	})
}
