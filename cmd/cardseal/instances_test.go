package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/api"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/verifier"
)

// TestInstancesPostgres runs two 'cardseal serve' processes behind an
// imagined load balancer: one PostgreSQL schema, the keys directory copied
// from the first instance's data directory to the second's, one public
// URL. A session opened on one works on the other, a card sealed through
// both in turn ends valid, and a void on one is the public answer of the
// other at once.
func TestInstancesPostgres(t *testing.T) {
	_, db := storetest.OpenPostgres(t) // skips with a message without CARDSEAL_TEST_POSTGRES
	bin := buildCardseal(t)
	const public = "https://cards.example.test"
	dirA := filepath.Join(t.TempDir(), "a")
	a := startProc(t, bin, dirA, db, "--public-url", public)
	dirB := filepath.Join(t.TempDir(), "b")
	copyDir(t, filepath.Join(dirA, "keys"), filepath.Join(dirB, "keys"))
	b := startProc(t, bin, dirB, db, "--public-url", public)
	if strings.Contains(b.out.String(), "staff logins") {
		t.Errorf("the second instance created staff users again:\n%s", b.out.String())
	}

	// Sessions are in the database: a login on A is valid on B, and a
	// logout on B ends it on A.
	village := loginAt(t, a.base, "220102001001")
	if code, body := mustCall(t, b.base, "GET", "/api/v1/me", village, nil); code != 200 || !strings.Contains(string(body), "220102001001") {
		t.Fatalf("A's session on B: %d %s", code, body)
	}
	spare := loginAt(t, b.base, "220102001001")
	if code, _ := mustCall(t, b.base, "POST", "/api/v1/logout", spare, nil); code/100 != 2 {
		t.Fatalf("logout on B: %d", code)
	}
	if code, _ := mustCall(t, a.base, "GET", "/api/v1/me", spare, nil); code != 401 {
		t.Fatalf("a session ended on B still works on A: %d", code)
	}
	township := loginAt(t, b.base, "220102001")
	county := loginAt(t, a.base, "220102")

	// Created on A, sealed on B, A, B.
	code, body := mustCall(t, a.base, "POST", "/api/v1/cards", village, applicantJSON(t))
	if code != 201 {
		t.Fatalf("create on A: %d %s", code, body)
	}
	var c api.CardView
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	for i, step := range []struct {
		p     *proc
		token string
	}{{b, village}, {a, township}, {b, county}} {
		if code, body := mustCall(t, step.p.base, "POST", "/api/v1/cards/"+c.ID+"/seal", step.token, sealBody); code != 200 {
			t.Fatalf("seal %d on %s: %d %s", i+1, step.p.base, code, body)
		}
	}
	code, body = mustCall(t, a.base, "GET", "/api/v1/cards/"+c.ID, county, nil)
	if code != 200 {
		t.Fatalf("get on A: %d %s", code, body)
	}
	var full api.CardView
	json.Unmarshal(body, &full)
	if full.Status != "issued" || len(full.Seals) != 3 {
		t.Fatalf("card after sealing on both instances: %+v", full)
	}
	code, pdf := mustCall(t, b.base, "GET", "/api/v1/cards/"+c.ID+"/pdf", county, nil)
	if code != 200 {
		t.Fatalf("pdf on B: %d", code)
	}
	ks, err := keys.OpenDir(dirB, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verifier.Verify(pdf, verifier.Options{Trust: ks.TrustList(), SealBoxes: lifecycle.CardSealBoxes(), DocID: full.Number})
	if err != nil || rep.Verdict != verifier.Valid || len(rep.Seals) != 3 {
		t.Fatalf("verify the PDF sealed on both instances: %v %+v", err, rep)
	}
	// The QR URL is upper case (QR alphanumeric mode).
	prefix := strings.ToUpper(public) + "/V/"
	if !strings.HasPrefix(full.VerificationURL, prefix) {
		t.Fatalf("verification URL %q, want it under %s", full.VerificationURL, prefix)
	}
	tok := strings.TrimPrefix(full.VerificationURL, prefix)

	// Both instances answer valid (and so have verified and cached the
	// PDF); A voids; B's very next answer says voided.
	answer := func(p *proc) lifecycle.Answer {
		t.Helper()
		code, body := mustCall(t, p.base, "GET", "/api/v1/verify/"+tok, "", nil)
		if code != 200 {
			t.Fatalf("verify on %s: %d %s", p.base, code, body)
		}
		var ans lifecycle.Answer
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Fatal(err)
		}
		return ans
	}
	for _, p := range []*proc{a, b} {
		if ans := answer(p); ans.Status != lifecycle.PublicValid {
			t.Fatalf("before the void, %s answers %+v", p.base, ans)
		}
	}
	code, body = mustCall(t, a.base, "POST", "/api/v1/cards/"+c.ID+"/void", county, []byte(`{"reason":"other","note":"多实例测试"}`))
	if code != 200 {
		t.Fatalf("void on A: %d %s", code, body)
	}
	if ans := answer(b); ans.Status != lifecycle.PublicVoided {
		t.Fatalf("B right after A's void: %+v", ans)
	}
	if ans := answer(a); ans.Status != lifecycle.PublicVoided {
		t.Fatalf("A after its void: %+v", ans)
	}
	a.stop()
	b.stop()
}
