package api

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestNoRouteAnswers5xx (issue 12, I5): every operation of the OpenAPI
// document, with every path parameter it takes set to a record that
// exists and to ones that do not, without a session and with a valid
// staff session (bearer or console cookie with its CSRF token), is sent
// an empty, a malformed, a wrongly typed and an oversized body (POST and
// PUT) or odd query strings (GET). Bad input is the client's fault: no
// answer may be a 5xx. A validation error is a 4xx naming what is wrong;
// a POST of {} to the re-birth form once answered 500.
func TestNoRouteAnswers5xx(t *testing.T) {
	v := newEnv(t, Options{MaxUpload: 256 << 10})
	county, village := v.session("220102"), v.session("220102001001")
	countyCk, _ := v.consoleLogin(t, "220102", testPassword)
	villageCk, _ := v.consoleLogin(t, "220102001001", testPassword)
	if countyCk == nil || villageCk == nil {
		t.Fatal("console login failed")
	}

	// The records the paths name: a draft, an issued card, a refused
	// one with its notice, a re-birth application with its form.
	draft := v.newCard()
	issued := v.newCard()
	refused := v.newCard() // taken before the couple's card is issued (one valid card per couple and type)
	v.issue(issued.ID)
	if r := v.postJSON("/api/v1/cards/"+refused.ID+"/refuse", village, RefuseRequest{Reasons: []string{"材料不实"}}); r.Code != http.StatusCreated {
		t.Fatalf("refuse: %d %s", r.Code, r.body)
	}
	rebirth := v.create(t, rebirthApplicant(t))
	r := v.postJSON("/api/v1/cards/"+rebirth.ID+"/rebirth-form", county, FormRequest{Reason: "意愿再生育"})
	if r.Code != http.StatusCreated {
		t.Fatalf("form: %d %s", r.Code, r.body)
	}
	var form FormView
	r.json(t, &form)
	tok := v.cardToken(issued.ID)

	params := map[string][]string{
		"id":       {draft.ID, issued.ID, refused.ID, rebirth.ID, form.ID, "0000000000000000", "not-an-id%00"},
		"seq":      {"1", "0", "99", "x"},
		"token":    {tok, strings.ToLower(tok), "AAAA", strings.Repeat("Z", 300)},
		"number":   {issued.Number, "2201022026999999", "1%FF"},
		"name":     {"style.css", "..%2F..%2Fgo.mod", "nothing"},
		"material": {"household_register", "birth_medical_certificate", "nothing", "%00"},
		"county":   {"220102", "220103", "2201%00", "x"},
	}
	huge := append([]byte(`{"reasons":["`), bytes.Repeat([]byte("很"), 1<<20)...)
	huge = append(huge, `"]}`...)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "x.pdf")
	fw.Write([]byte("%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"))
	fw, _ = mw.CreateFormField("application")
	fw.Write([]byte(`{"type":`))
	fw, _ = mw.CreateFormFile("material:id_cards", "x.png")
	fw.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xff\xff\xff"))
	mw.Close()
	bodies := []struct {
		name, ct string
		body     []byte
	}{
		{"empty", "", nil},
		{"empty JSON object", "application/json", []byte("{}")},
		{"malformed JSON", "application/json", []byte(`{"reasons": [`)},
		{"wrong types", "application/json", []byte(`{"reasons": 7, "reason": ["x"], "materials": [1], "note": {}, "new_card_id": 5, "username": 1, "type": null}`)},
		{"JSON array", "application/json", []byte(`[{}]`)},
		{"long fields", "application/json", []byte(`{"reasons": ["` + strings.Repeat("x", 300) + `"], "reason": "` + strings.Repeat("y", 300) +
			`", "conditions": "` + strings.Repeat("z", 300) + `", "note": "` + strings.Repeat("n", 1500) + `"}`)},
		{"oversized", "application/json", huge},
		{"binary", "application/octet-stream", []byte("\x00\xff\xfe%PDF\x00")},
		{"form", "application/x-www-form-urlencoded", []byte("reasons=%00%FF&note=x&action=void&reason=other&password=x&number=1&username=x&%zz")},
		{"multipart", mw.FormDataContentType(), mp.Bytes()},
		{"broken multipart", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc")},
	}
	queries := []string{"", "?limit=-1&after=zz", "?limit=18446744073709551617&after=0000000000000000", "?format=%00&county=%FF%FE",
		"?number=" + strings.Repeat("9", 4000) + "&code=%00", "?%zz=1&&=&id_number=220102199003071235", "?id_number=" + url.QueryEscape("\x00\u202e")}

	paramRE := regexp.MustCompile(`\{([a-z_]+)\}`)
	var ops []string
	for op := range documentedOps(t) {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	sent, fivexx := 0, 0
	for _, op := range ops {
		method, tmpl, _ := strings.Cut(op, " ")
		// Every combination of the path's parameters.
		paths := []string{tmpl}
		for _, m := range paramRE.FindAllStringSubmatch(tmpl, -1) {
			vals, ok := params[m[1]]
			if !ok {
				t.Fatalf("%s: no values for path parameter %s", op, m[1])
			}
			var next []string
			for _, p := range paths {
				for _, val := range vals {
					next = append(next, strings.Replace(p, m[0], val, 1))
				}
			}
			paths = next
		}
		console := strings.HasPrefix(tmpl, "/console")
		type session struct {
			bearer string
			cookie *http.Cookie
		}
		sessions := []session{{}}
		switch {
		case console:
			sessions = append(sessions, session{cookie: villageCk}, session{cookie: countyCk})
		case strings.HasPrefix(tmpl, "/api/v1/"):
			sessions = append(sessions, session{bearer: village}, session{bearer: county})
		}
		for _, p := range paths {
			for _, s := range sessions {
				send := func(what, path, ct string, body []byte) {
					t.Helper()
					if s.cookie != nil && method == http.MethodPost && ct == "application/x-www-form-urlencoded" {
						body = append(body, "&csrf="+csrfToken(s.cookie.Value)...)
					}
					var rd *bytes.Reader
					if body != nil {
						rd = bytes.NewReader(body)
					} else {
						rd = bytes.NewReader(nil)
					}
					req := httptest.NewRequest(method, path, rd)
					req.RemoteAddr = "192.0.2.10:40000"
					if ct != "" {
						req.Header.Set("Content-Type", ct)
					}
					if s.bearer != "" {
						req.Header.Set("Authorization", "Bearer "+s.bearer)
					}
					if s.cookie != nil {
						req.AddCookie(s.cookie)
					}
					res := v.serve(req)
					sent++
					if res.Code >= 500 {
						fivexx++
						t.Errorf("%s %s (%s, session %t): %d %.300s", method, path, what, s.bearer != "" || s.cookie != nil, res.Code, res.body)
					}
				}
				switch method {
				case http.MethodGet, http.MethodHead, http.MethodDelete:
					qs := queries
					if len(paths) > 1 {
						qs = queries[:3] // enough for paths that name records
					}
					for _, q := range qs {
						send("query "+q, p+q, "", nil)
					}
				default:
					for _, b := range bodies {
						send(b.name, p, b.ct, b.body)
					}
				}
			}
		}
	}
	t.Logf("%d operations, %d requests, %d answered 5xx", len(ops), sent, fivexx)
	if sent < 1000 {
		t.Fatalf("only %d requests sent", sent)
	}
}
