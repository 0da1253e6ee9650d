package api

import (
	"bytes"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/tsa"
	"github.com/jilin-health/cardseal/verifier"
)

func (v *env) tsaPost(contentType string, body []byte) *resp {
	req := httptest.NewRequest(http.MethodPost, "/tsa", bytes.NewReader(body))
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("Content-Type", contentType)
	return v.serve(req)
}

// TestTimestampAuthority: POST /tsa answers a request with a token over
// its imprint, signed by the keystore's TSA key and chaining to the
// root; refusals are rejection replies; other media types and large
// bodies never reach the TSA.
func TestTimestampAuthority(t *testing.T) {
	v := newEnv(t, Options{})
	imprint := tsa.SM3.Sum([]byte("a document of another system"))
	r := v.tsaPost("application/timestamp-query", tsa.NewRequest(tsa.SM3, imprint, big.NewInt(42)))
	if r.Code != http.StatusOK || r.Header().Get("Content-Type") != "application/timestamp-reply" {
		t.Fatalf("POST /tsa: %d %s", r.Code, r.Header().Get("Content-Type"))
	}
	st, _, tok, err := tsa.ParseReply(r.body)
	if err != nil || st != tsa.StatusGranted {
		t.Fatalf("reply: status %d, %v", st, err)
	}
	pt, err := tsa.ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := pt.Verify(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pt.Imprint, imprint) || pt.Nonce.Int64() != 42 {
		t.Fatal("the token stamps something else")
	}
	if _, err := v.ks.TrustList().Verify(pt.Signer, pt.Certs, pt.GenTime); err != nil {
		t.Fatalf("the TSA certificate does not chain to the root: %v", err)
	}
	id, _ := v.ks.TSAIdentity()
	if !bytes.Equal(pt.Signer.Raw, id.Cert.Raw) {
		t.Fatal("signed by another key than the keystore's TSA key")
	}

	// A bad request: a rejection, not a token.
	r = v.tsaPost("application/timestamp-query", []byte("not DER"))
	if st, fail, tok, _ := tsa.ParseReply(r.body); r.Code != 200 || st != tsa.StatusRejection || fail != tsa.BadDataFormat || tok != nil {
		t.Fatalf("garbage: %d status %d fail %d", r.Code, st, fail)
	}
	// Other media types and oversized bodies.
	if r := v.tsaPost("application/octet-stream", tsa.NewRequest(tsa.SM3, imprint, nil)); r.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("octet-stream: %d", r.Code)
	}
	if r := v.tsaPost("application/timestamp-query", make([]byte, tsa.MaxRequest+1)); r.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %d", r.Code)
	}
}

// TestTimestampDriftStops: an instance whose clock is off the reference
// (the store's) by more than the drift answers 503 with timeNotAvailable
// and logs an error; it issues nothing.
func TestTimestampDriftStops(t *testing.T) {
	v := newEnv(t, Options{})
	id, err := v.ks.TSAIdentity()
	if err != nil {
		t.Fatal(err)
	}
	// This instance's clock is ten minutes ahead of the database's.
	ahead := func() time.Time { return time.Now().Add(10 * time.Minute) }
	a, err := tsa.New(id, v.st, tsa.Options{Now: ahead, Logger: slogTo(v.logs)})
	if err != nil {
		t.Fatal(err)
	}
	v.e = New(Deps{Service: v.svc, Staff: v.staff, Quotas: v.st, TSA: a, Logger: slogTo(v.logs), Options: Options{Registry: prometheus.NewRegistry()}})
	r := v.tsaPost("application/timestamp-query", tsa.NewRequest(tsa.SM3, make([]byte, 32), nil))
	st, fail, tok, err := tsa.ParseReply(r.body)
	if r.Code != http.StatusServiceUnavailable || err != nil || st != tsa.StatusRejection || fail != tsa.TimeNotAvailable || tok != nil {
		t.Fatalf("drifted: %d status %d fail %d token %d bytes %v", r.Code, st, fail, len(tok), err)
	}
	if !bytes.Contains([]byte(v.logs.String()), []byte("clock drift")) {
		t.Fatalf("no error logged:\n%s", v.logs.String())
	}
	// Sealing stops too: a seal without its timestamp is not applied.
	v.svc.SetTimestamper(a)
	c := v.newCard()
	r = v.seal(c.ID, "220102001001")
	if r.Code != http.StatusServiceUnavailable || !bytes.Contains(r.body, []byte("timestamp-unavailable")) {
		t.Fatalf("seal with a drifted TSA: %d %s", r.Code, r.body)
	}
	if n := v.sealCount(c.ID); n != 0 {
		t.Fatalf("%d seals recorded", n)
	}
}

// TestSealsCarryTimestamps: every seal applied through the API carries
// the platform's signature timestamp, and the verifier judges the
// certificates at the timestamps' times.
func TestSealsCarryTimestamps(t *testing.T) {
	v := newEnv(t, Options{})
	c := v.newCard()
	v.issue(c.ID)
	rep := v.verifyPDF(t, v.currentPDF(c.ID), chain.Card, c.Number)
	if rep.Verdict != verifier.Valid || len(rep.Seals) != 3 {
		t.Fatalf("verdict %s, %d seals: %v", rep.Verdict, len(rep.Seals), rep.Reasons())
	}
	for _, s := range rep.Seals {
		if s.TimeSource != verifier.TimeFromTimestamp || s.Timestamp.IsZero() {
			t.Fatalf("seal %d: time source %q", s.Index, s.TimeSource)
		}
	}
}
