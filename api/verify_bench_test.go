package api

import (
	"net/http"
	"strings"
	"testing"
)

// BenchmarkVerifyToken is the public QR check (GET /api/v1/verify/{token})
// of an issued card through the real router and SQLite store: token
// signature, registry lookup, applicant decryption, stored PDF and its
// seal chain (cached by digest after the first answer).
func BenchmarkVerifyToken(b *testing.B) {
	v := newEnv(b, Options{PublicRate: 1e9, PublicBurst: 1 << 30})
	c := v.newCard()
	v.issue(c.ID)
	r := v.do(http.MethodGet, "/api/v1/cards/"+c.ID, v.session("220102001001"), "", nil)
	var view CardView
	r.json(b, &view)
	i := strings.LastIndex(view.VerificationURL, "/")
	if i < 0 {
		b.Fatalf("verification URL %q", view.VerificationURL)
	}
	path := "/api/v1/verify/" + view.VerificationURL[i+1:]
	if r := v.do(http.MethodGet, path, "", "", nil); r.Code != http.StatusOK || !strings.Contains(string(r.body), `"status":"valid"`) {
		b.Fatalf("verify: %d %s", r.Code, r.body)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := v.serve(httptestRequest(http.MethodGet, path, "")); r.Code != http.StatusOK {
			b.Fatalf("verify: %d %s", r.Code, r.body)
		}
	}
}

// BenchmarkHealthz is the load test's reference handler through the same
// router (it reads the organisations from the store).
func BenchmarkHealthz(b *testing.B) {
	v := newEnv(b, Options{})
	b.ReportAllocs()
	for b.Loop() {
		if r := v.serve(httptestRequest(http.MethodGet, "/healthz", "")); r.Code != http.StatusOK {
			b.Fatalf("healthz: %d %s", r.Code, r.body)
		}
	}
}
