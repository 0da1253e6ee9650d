package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/card"
)

// Control characters in free text (issue 12, I4): every free-text field
// of every entry point refuses them, naming the field — the application's
// fields (JSON API, online application, console form), refusal reasons,
// status notes, the re-birth form's reason and conditions. Organisation
// names and usernames: cmd/cardseal/controlchars_test.go.

// controls are the characters tried: C0, DEL, C1, the Unicode line and
// paragraph separators, a bidirectional override, and an escape
// sequence.
var controls = []string{"\x07", "\x7f", "\u0085", "\u2028", "\u2029", "\u202e", "\x1b[31m"}

// fullApplicant is the example application with every optional free-text
// field filled in.
func fullApplicant(t *testing.T) *card.Applicant {
	t.Helper()
	app, err := card.ParseApplicant(exampleApplicant(t))
	if err != nil {
		t.Fatal(err)
	}
	app.Channel = card.ChannelProxy
	app.Proxy = &card.Proxy{Name: "赵玥", IDNumber: idWithCheck("22010219950101123"), Relationship: "亲属"}
	app.StatusCert = &card.StatusCert{Number: "YJ-2026-0042", Issuer: "永安社区居民委员会"}
	app.Children = []card.Child{{Name: "李翀", Sex: "男", BirthDate: "2021-03-04"}}
	app.Retroactive, app.BirthCertNumber = true, "Q220123456"
	if err := app.Validate(); err != nil {
		t.Fatal(err)
	}
	return app
}

// textFields are the application's free-text fields: the name its
// refusal gives, and how to set it.
var textFields = []struct {
	field string
	set   func(a *card.Applicant, v string)
}{
	{"male.name", func(a *card.Applicant, v string) { a.Male.Name = "李" + v + "四" }},
	{"male.hukou", func(a *card.Applicant, v string) { a.Male.Hukou += v }},
	{"male.residence", func(a *card.Applicant, v string) { a.Male.Residence = v + a.Male.Residence }},
	{"female.name", func(a *card.Applicant, v string) { a.Female.Name += v }},
	{"female.hukou", func(a *card.Applicant, v string) { a.Female.Hukou += v }},
	{"female.residence", func(a *card.Applicant, v string) { a.Female.Residence += v }},
	{"marriage.cert_number", func(a *card.Applicant, v string) { a.Marriage.CertNumber += v }},
	{"status_cert.number", func(a *card.Applicant, v string) { a.StatusCert.Number += v }},
	{"status_cert.issuer", func(a *card.Applicant, v string) { a.StatusCert.Issuer += v }},
	{"children[0].name", func(a *card.Applicant, v string) { a.Children[0].Name += v }},
	{"birth_cert_number", func(a *card.Applicant, v string) { a.BirthCertNumber += v }},
	{"proxy.name", func(a *card.Applicant, v string) { a.Proxy.Name += v }},
	{"proxy.relationship", func(a *card.Applicant, v string) { a.Proxy.Relationship += v }},
}

func TestControlCharactersRefused(t *testing.T) {
	v := newEnv(t, Options{})
	village := v.session("220102001001")

	t.Run("application", func(t *testing.T) {
		for _, f := range textFields {
			for i, ch := range controls {
				app := fullApplicant(t)
				f.set(app, ch)
				body, _ := json.Marshal(app)
				// The staff API and the online application, alternately.
				r := v.do(http.MethodPost, "/api/v1/cards", village, "application/json", body)
				if i%2 == 1 {
					r = v.do(http.MethodPost, "/api/v1/applications", "", "application/json", body)
				}
				p := expectProblem(t, r, http.StatusUnprocessableEntity, "invalid-application")
				if p.Field != f.field {
					t.Errorf("%q in %s: refused naming field %q", ch, f.field, p.Field)
				}
			}
			// A line break, too: these are single lines.
			app := fullApplicant(t)
			f.set(app, "\n")
			body, _ := json.Marshal(app)
			if p := expectProblem(t, v.do(http.MethodPost, "/api/v1/cards", village, "application/json", body), http.StatusUnprocessableEntity, "invalid-application"); p.Field != f.field {
				t.Errorf("a line break in %s: refused naming field %q", f.field, p.Field)
			}
		}
	})

	ck, _ := v.consoleLogin(t, "220102001001", testPassword)
	countyCk, _ := v.consoleLogin(t, "220102", testPassword)
	if ck == nil || countyCk == nil {
		t.Fatal("console login failed")
	}
	post := func(path string, form url.Values) *resp {
		t.Helper()
		return consolePost(v, ck, path, form)
	}

	t.Run("console application form", func(t *testing.T) {
		base := url.Values{
			"village": {"220102001001"}, "type": {"first"}, "channel": {"self"}, "child_order": {"1"},
			"male_name": {"李四"}, "male_id": {"220102199003071235"}, "male_hukou": {"吉林省长春市"}, "male_residence": {"吉林省长春市"},
			"female_name": {"王喆堃"}, "female_id": {"220102199208152346"}, "female_hukou": {"吉林省长春市"}, "female_residence": {"吉林省长春市"},
			"marriage_date": {"2024-05-20"}, "marriage_cert": {"J220102-2024-001234"},
		}
		for input, field := range map[string]string{
			"male_name": "male.name", "male_hukou": "male.hukou", "female_residence": "female.residence", "marriage_cert": "marriage.cert_number",
		} {
			for _, ch := range controls {
				form := url.Values{}
				for k, vs := range base {
					form[k] = append([]string(nil), vs...)
				}
				form.Set(input, form.Get(input)+ch)
				r := post("/console/new", form)
				// The problem is shown at its input, in Chinese (issue 16).
				if r.Code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `id="`+input+`-error"`) || !strings.Contains(string(r.body), lineText) {
					t.Errorf("%q in the console's %s (%s): %d", ch, input, field, r.Code)
				}
			}
		}
		if r := post("/console/new", base); r.Code != http.StatusSeeOther {
			t.Fatalf("the console form without control characters: %d", r.Code)
		}
	})

	t.Run("reasons, notes, form", func(t *testing.T) {
		c := v.newCard()
		county := v.session("220102")
		rebirth := v.create(t, rebirthApplicant(t))
		for _, ch := range controls {
			p := expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/refuse", village, RefuseRequest{Reasons: []string{"材料不" + ch + "实"}}), http.StatusUnprocessableEntity, "invalid-application")
			if p.Field != "reasons" {
				t.Errorf("%q in a reason: field %q", ch, p.Field)
			}
			if r := post("/console/cards/"+c.ID+"/refuse", url.Values{"reasons": {"材料不" + ch + "实"}}); r.Code != http.StatusUnprocessableEntity {
				t.Errorf("%q in a console reason: %d", ch, r.Code)
			}
			for _, field := range []string{"reason", "conditions"} {
				req := map[string]string{"reason": "意愿再生育", "conditions": "无"}
				req[field] += ch
				p := expectProblem(t, v.postJSON("/api/v1/cards/"+rebirth.ID+"/rebirth-form", county, req), http.StatusUnprocessableEntity, "invalid-application")
				if p.Field != field {
					t.Errorf("%q in the form's %s: field %q", ch, field, p.Field)
				}
			}
		}
		v.issue(c.ID)
		for _, ch := range controls {
			p := expectProblem(t, v.postJSON("/api/v1/cards/"+c.ID+"/void", county, map[string]string{"reason": "other", "note": "说" + ch + "明"}), http.StatusUnprocessableEntity, "invalid-application")
			if p.Field != "note" {
				t.Errorf("%q in a status note: field %q", ch, p.Field)
			}
			if r := consolePost(v, countyCk, "/console/cards/"+c.ID+"/status", url.Values{"action": {"void"}, "reason": {"other"}, "note": {"说" + ch + "明"}}); r.Code != http.StatusUnprocessableEntity {
				t.Errorf("%q in a console status note: %d", ch, r.Code)
			}
		}
		// Nothing was refused, voided or drawn up meanwhile.
		var got CardView
		v.do(http.MethodGet, "/api/v1/cards/"+c.ID, county, "", nil).json(t, &got)
		if got.Status != card.StatusIssued {
			t.Fatalf("card %s after the refused requests", got.Status)
		}
		if r := v.postJSON("/api/v1/cards/"+rebirth.ID+"/rebirth-form", county, FormRequest{Reason: "意愿再生育"}); r.Code != http.StatusCreated {
			t.Fatalf("a clean form after the refused ones: %d %s", r.Code, r.body)
		}
	})
}

// consolePost sends a console form with the session's CSRF token.
func consolePost(v *env, ck *http.Cookie, path string, form url.Values) *resp {
	form.Set("csrf", csrfToken(ck.Value))
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(ck)
	return v.serve(req)
}
