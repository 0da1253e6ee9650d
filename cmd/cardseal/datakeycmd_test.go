package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store/storetest"
)

// TestDataKeyRotate: 'cardseal data-key rotate' re-encrypts every stored
// card under a new data key, keeps the old key among the retired ones,
// records the rotation in the audit log, and the installation reads
// every card afterwards with the new key.
func TestDataKeyRotate(t *testing.T) {
	const pass = "data-key-test-passphrase"
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", pass)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	mustAdmin(t, "init", "--dir", dir, "--demo")
	ks, err := keys.OpenDir(dir, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := ks.DataKey()
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.OpenURL(t, filepath.Join(dir, "cardseal.db"))
	svc := lifecycle.NewService(st, ks, "http://127.0.0.1:8080")
	app, err := card.ParseApplicant(applicantJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	village, err := st.GetOrg(ctx, "220102001001")
	if err != nil {
		t.Fatal(err)
	}
	a := lifecycle.Actor{Username: village.Code, Org: village}
	c, err := svc.Apply(ctx, a, app)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Seal(ctx, a, c.ID); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{{"data-key"}, {"data-key", "turn"}, {"data-key", "rotate", "extra"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "hint:") {
			t.Errorf("%v: exit %d, %s", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"data-key", "rotate", "--dir", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("rotate: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"rotated: 1 cards, 3 values re-encrypted", filepath.Join(dir, "keys", "retired"), "copy it to every other instance"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "retired", "data-"+keys.DataKeyID(oldKey)+".key")); err != nil {
		t.Fatalf("the old key is not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "data.key.next")); !os.IsNotExist(err) {
		t.Fatalf("data.key.next left behind: %v", err)
	}

	// A fresh start reads the card with the new key and re-verifies it.
	ks2, err := keys.OpenDir(dir, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := ks2.DataKey()
	if err != nil || bytes.Equal(newKey, oldKey) {
		t.Fatalf("data key after the rotation: same %t, %v", bytes.Equal(newKey, oldKey), err)
	}
	svc2 := lifecycle.NewService(st, ks2, "http://127.0.0.1:8080")
	sc, err := st.GetCard(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc2.Applicant(&sc); err != nil || got.Male.IDNumber != app.Male.IDNumber {
		t.Fatalf("applicant after the rotation: %v", err)
	}
	if _, err := lifecycle.NewChecker(svc2).VerifyStored(ctx, &sc); err != nil {
		t.Fatal(err)
	}
	// Stored under the new key: its id follows the format marker.
	raw, err := st.PDF(ctx, c.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if id := keys.DataKeyID(newKey); !strings.HasPrefix(string(raw), "CS2") || hex.EncodeToString(raw[3:11]) != id {
		t.Fatalf("revision 1 stored as %.11q, want CS2 and key %s", raw, id)
	}
	evs, err := st.AuditEvents(ctx, "", 5)
	if err != nil || len(evs) == 0 || evs[0].Action != "datakey.rotate" || !strings.Contains(string(evs[0].Detail), `"cards":1`) {
		t.Fatalf("audit: %+v %v", evs, err)
	}
	if code := run([]string{"audit", "verify", "--dir", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("audit verify after the rotation: exit %d\n%s", code, stderr.String())
	}

	// Twice in a row is two rotations; a wrong passphrase rotates nothing.
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "wrong passphrase!")
	stderr.Reset()
	if code := run([]string{"data-key", "rotate", "--dir", dir}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "passphrase") {
		t.Fatalf("rotate with a wrong passphrase: exit %d, %s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "data.key.next")); !os.IsNotExist(err) {
		t.Fatalf("a failed rotation left data.key.next: %v", err)
	}
}

// TestDataKeyReindex: a card stored without search terms (before schema
// version 11) is not found by a holder's ID number; 'cardseal data-key
// reindex' derives its terms, after which it is, and the run is in the
// audit log.
func TestDataKeyReindex(t *testing.T) {
	const pass = "data-key-test-passphrase"
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
	app, err := card.ParseApplicant(applicantJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	village, err := st.GetOrg(ctx, "220102001001")
	if err != nil {
		t.Fatal(err)
	}
	a := lifecycle.Actor{Username: village.Code, Org: village}
	c, err := svc.Apply(ctx, a, app)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RewriteCard(ctx, c.ID, func(s *card.Stored) error { s.Terms = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	found := func() int {
		t.Helper()
		cards, _, err := svc.Search(ctx, a, app.Female.IDNumber, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(cards)
	}
	if n := found(); n != 0 {
		t.Fatalf("a card without terms found %d times", n)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"data-key", "reindex", "--dir", dir}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "reindexed: 1 cards") {
		t.Fatalf("reindex: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if n := found(); n != 1 {
		t.Fatalf("after the reindex the card is found %d times", n)
	}
	evs, err := st.AuditEvents(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: the search after the reindex, then the reindex.
	if len(evs) < 2 || evs[0].Action != audit.CardsSearch || evs[1].Action != audit.DataKeyReindex {
		t.Fatalf("the audit log does not end with the reindex and a search")
	}
}
