package api

import (
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store"
)

// copyDir copies the shared demo keystore, so that a test may install a
// CRL in it without touching other tests.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestCompromisedKeyDrill is issue 17's drill, online: the township's key
// is compromised at T and its certificate revoked with keyCompromise
// from T (ca revoke, ca crl, keys crl). A card sealed and timestamped
// before T stays valid; a card the township sealed after T is invalid,
// with the reason, in the public answer, the upload check and the
// served CRL.
func TestCompromisedKeyDrill(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "cardseal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ks, err := keys.OpenDir(copyDir(t, demoKeys(t)), []byte("test-passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	v := newEnvKeys(t, st, ks, keys.Demo.Orgs, Options{})
	if r := v.do(http.MethodGet, "/crl", "", "", nil); r.Code != http.StatusNotFound {
		t.Fatalf("GET /crl before any CRL: %d", r.Code)
	}
	before := v.newCard()
	v.issue(before.ID)

	// T: the township's key is compromised. The offline CA revokes it.
	v.clock.Add(time.Minute)
	at := v.clock.Now()
	v.clock.Add(time.Minute)
	after := v.newCard()
	v.issue(after.ID) // the thief (or the unaware township) seals after T

	ca, err := ks.RootCA()
	if err != nil {
		t.Fatal(err)
	}
	caDir := t.TempDir()
	town, err := ks.SealIdentity("220102001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.RecordIssued(caDir, town.Cert); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Revoke(caDir, town.Cert.SerialNumber, "keyCompromise", at, v.clock.Now()); err != nil {
		t.Fatal(err)
	}
	crl, err := keys.IssueCRL(caDir, ca, v.clock.Now(), 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.InstallCRL(crl); err != nil {
		t.Fatal(err)
	}

	answer := func(id string) lifecycle.Answer {
		t.Helper()
		var a lifecycle.Answer
		v.do(http.MethodGet, "/api/v1/verify/"+v.cardToken(id), "", "", nil).json(t, &a)
		return a
	}
	if a := answer(before.ID); a.Status != lifecycle.PublicValid {
		t.Fatalf("card sealed before T: %q", a.Status)
	}
	if a := answer(after.ID); a.Status == lifecycle.PublicValid {
		t.Fatalf("card sealed after T answers %q", a.Status)
	}
	var ua UploadAnswer
	v.do(http.MethodPost, "/api/v1/verify", "", "application/pdf", v.currentPDF(after.ID)).json(t, &ua)
	if ua.Report == nil || ua.Report.Verdict != "invalid" || !strings.Contains(strings.Join(ua.Report.Reasons(), "\n"), "keyCompromise") {
		t.Fatalf("upload of the card sealed after T: %+v", ua.Report)
	}
	v.do(http.MethodPost, "/api/v1/verify", "", "application/pdf", v.currentPDF(before.ID)).json(t, &ua)
	if ua.Report == nil || ua.Report.Verdict != "valid" || !ua.Report.Seals[1].RevokedSince.Equal(at.UTC().Truncate(time.Second)) {
		t.Fatalf("upload of the card sealed before T: %+v", ua.Report)
	}
	// The CRL is served at the stable URL, DER.
	r := v.do(http.MethodGet, "/crl", "", "", nil)
	if r.Code != http.StatusOK || r.Header().Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("GET /crl: %d %s", r.Code, r.Header().Get("Content-Type"))
	}
	got, err := keys.ParseCRL(r.body)
	if err != nil || len(got.RevokedCertificateEntries) != 1 || got.RevokedCertificateEntries[0].SerialNumber.Cmp(town.Cert.SerialNumber) != 0 {
		t.Fatalf("served CRL: %v", err)
	}
}
