package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/tsa"
)

// TestRenewTimestamps: 'cardseal renew-timestamps' leaves a card alone
// while its timestamps' certificate ends beyond the window, appends a
// fresh /DSS and document timestamp with the current TSA certificate
// when it ends within it (the card then verifies with two document
// timestamps and passes the restore check, and is not due again),
// changes nothing in a dry run, refuses a renewal that the current TSA
// certificate cannot extend, and reports — exit 1 — a card whose
// timestamps' certificate has ended with no later archive timestamp.
func TestRenewTimestamps(t *testing.T) {
	const pass = "renew-test-passphrase"
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", pass)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	mustAdmin(t, "init", "--dir", dir, "--demo")
	ks, err := keys.OpenDir(dir, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.OpenURL(t, filepath.Join(dir, "cardseal.db"))
	svc := lifecycle.NewService(st, ks, "http://127.0.0.1:8080")
	tsaID, err := ks.TSAIdentity()
	if err != nil {
		t.Fatal(err)
	}
	// The card is issued under an earlier time-stamping certificate that
	// ends in 30 days; the keystore's (5 years) is the renewal's.
	ca, err := ks.RootCA()
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	oldCert, err := ca.IssueTSA(oldKey.Public(), "吉林省生育服务卡平台时间戳服务(旧)", time.Now().Add(-keys.TSAValidity+30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	authority, err := tsa.New(&keys.Identity{Signer: oldKey, Cert: oldCert, Chain: tsaID.Chain}, st, tsa.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetTimestamper(authority)
	app, err := card.ParseApplicant(applicantJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	var c *card.Card
	for i, code := range []string{"220102001001", "220102001", "220102"} {
		o, err := st.GetOrg(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		a := lifecycle.Actor{Username: code, Org: o}
		if i == 0 {
			if c, err = svc.Apply(ctx, a, app); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.Seal(ctx, a, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	// The command's clock is the TSA's: it must stay within the allowed
	// drift of the registry's, so it runs (time.Now) unless the case
	// issues no timestamp.
	renew := func(now func() time.Time, args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := 0
		if _, err := execute(ctx, append([]string{"renew-timestamps", "--dir", dir}, args...),
			&env{stdout: &stdout, stderr: &stderr, now: now}); err != nil {
			code = 1
			if !strings.Contains(err.Error(), "exit") {
				t.Logf("renew %v: %v %s", args, err, stderr.String())
			}
		}
		return code, stdout.String()
	}
	seq := func() int {
		t.Helper()
		got, err := st.GetCard(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Seq
	}
	now := time.Now
	if code, out := renew(now, "--window", "7d"); code != 0 || !strings.Contains(out, "cards checked: 1; renewed: 0") || seq() != 3 {
		t.Fatalf("not due: %d seq %d\n%s", code, seq(), out)
	}
	// Due: the old certificate ends within 90 days.
	if code, out := renew(now, "--window", "90d", "--dry-run"); code != 0 || !strings.Contains(out, "due (dry run") || seq() != 3 {
		t.Fatalf("dry run: %d seq %d\n%s", code, seq(), out)
	}
	code, out := renew(now, "--window", "90d", "--json")
	var r lifecycle.Renewal
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || len(r.Renewed) != 1 || r.Renewed[0].Number != c.Number || r.TSAEndsSoon || seq() != 4 {
		t.Fatalf("renewal: %d seq %d %v\n%s", code, seq(), err, out)
	}
	ch := lifecycle.NewChecker(svc)
	got, err := st.GetCard(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ch.VerifyStored(ctx, &got)
	if err != nil || len(rep.DocTimestamps) != 2 || !rep.RenewBy.Equal(tsaID.Cert.NotAfter) {
		t.Fatalf("renewed card: %v, %d document timestamps, renew by %v", err, len(rep.DocTimestamps), rep.RenewBy)
	}
	// Renewed: not due again.
	if code, out := renew(now, "--window", "90d"); code != 0 || !strings.Contains(out, "renewed: 0") || seq() != 4 {
		t.Fatalf("second run: %d seq %d\n%s", code, seq(), out)
	}
	// Due again only past the current certificate's end: renewing with it
	// would protect nothing; the card is reported, nothing is added.
	window := time.Until(tsaID.Cert.NotAfter) + 24*time.Hour
	if code, out := renew(now, "--window", window.String()); code != 1 || !strings.Contains(out, "FAILED "+c.Number) ||
		!strings.Contains(out, "rotate the TSA key") || seq() != 4 {
		t.Fatalf("futile renewal: %d seq %d\n%s", code, seq(), out)
	}
	// After the current certificate's end: the newest document timestamp
	// is unprotected (exit 1), and renewal with the ended certificate is
	// refused.
	after := func() time.Time { return tsaID.Cert.NotAfter.Add(time.Hour) }
	if code, out := renew(after, "--dry-run"); code != 1 || !strings.Contains(out, "UNPROTECTED "+c.Number) {
		t.Fatalf("after the end: %d\n%s", code, out)
	}
	if code, _ := renew(after); code != 1 || seq() != 4 {
		t.Fatalf("renewal with an ended TSA certificate: %d seq %d", code, seq())
	}
}

// TestRenewTimestampsOffline: a card sealed while no CRL was installed
// verifies online but not offline — its /DSS holds no CRL current at its
// seals' time — and renew-timestamps reports it as unprotected, exit 1.
// (TestRenewTimestamps: a card sealed with the demo's CRL is not.)
func TestRenewTimestampsOffline(t *testing.T) {
	const pass = "renew-offline-passphrase"
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", pass)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	mustAdmin(t, "init", "--dir", dir, "--demo")
	if err := os.Remove(filepath.Join(dir, "keys", keys.CRLFile)); err != nil {
		t.Fatal(err)
	}
	ks, err := keys.OpenDir(dir, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.OpenURL(t, filepath.Join(dir, "cardseal.db"))
	svc := lifecycle.NewService(st, ks, "http://127.0.0.1:8080")
	tsaID, err := ks.TSAIdentity()
	if err != nil {
		t.Fatal(err)
	}
	authority, err := tsa.New(tsaID, st, tsa.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetTimestamper(authority)
	app, err := card.ParseApplicant(applicantJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	var c *card.Card
	for i, code := range []string{"220102001001", "220102001", "220102"} {
		o, err := st.GetOrg(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		a := lifecycle.Actor{Username: code, Org: o}
		if i == 0 {
			if c, err = svc.Apply(ctx, a, app); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.Seal(ctx, a, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	var stdout bytes.Buffer
	_, err = execute(ctx, []string{"renew-timestamps", "--dir", dir, "--dry-run"}, &env{stdout: &stdout, stderr: io.Discard, now: time.Now})
	out := stdout.String()
	if err == nil || !strings.Contains(out, "cards checked: 1") || !strings.Contains(out, "UNPROTECTED "+c.Number+": cannot be validated offline") {
		t.Fatalf("card without a CRL: %v\n%s", err, out)
	}
}
