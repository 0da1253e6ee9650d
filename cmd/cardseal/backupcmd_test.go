package main

import (
	"bytes"
	"context"
	"errors"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
)

// TestBackupWhileSealingRestoreVerifiesEveryCard: a snapshot taken while
// another goroutine keeps applying for and sealing cards, restored into a
// fresh data directory, holds cards each of whose current PDF re-verifies
// and matches its seal records (one per revision, each digest the SM3 of
// the stored revision); the restore command checks the same.
func TestBackupWhileSealingRestoreVerifiesEveryCard(t *testing.T) {
	const pass = "backup-test-passphrase"
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", pass)
	ctx := context.Background()
	dir := t.TempDir()
	live := filepath.Join(dir, "live")
	mustAdmin(t, "init", "--dir", live, "--demo")
	ks, err := keys.OpenDir(live, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.OpenURL(t, filepath.Join(live, "cardseal.db"))
	svc := lifecycle.NewService(st, ks, "http://127.0.0.1:8080")
	actor := func(code string) lifecycle.Actor {
		o, err := keys.Demo.GetOrg(context.Background(), code)
		if err != nil {
			t.Fatal(err)
		}
		return lifecycle.Actor{Username: code, Org: o}
	}
	chain := []lifecycle.Actor{actor("220102001001"), actor("220102001"), actor("220102")}

	// The sealer: card after card, some left after one or two seals.
	var seals atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Another couple each time: a couple holds one valid card of a type.
			app, err := card.ParseApplicant(coupleJSON(t, 2000+i))
			if err != nil {
				t.Error(err)
				return
			}
			c, err := svc.Apply(ctx, chain[0], app)
			if err != nil {
				t.Error(err)
				return
			}
			for _, a := range chain[:1+i%3] {
				if _, err := svc.Seal(ctx, a, c.ID); err != nil {
					t.Error(err)
					return
				}
				seals.Add(1)
			}
		}
	}()
	wait := func(n int64) {
		for seals.Load() < n && !t.Failed() {
			select {
			case <-stop:
				return
			default:
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait(6)
	snap := filepath.Join(dir, "backup.db")
	out, err := admin(t, "backup", "--dir", live, "--out", snap)
	during := seals.Load()
	wait(during + 4) // sealing went on after the snapshot
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	for _, want := range []string{"backup written: " + snap, "SM3 ", "keys directory " + filepath.Join(live, "keys"), "passphrase apart"} {
		if !strings.Contains(out, want) {
			t.Errorf("backup output lacks %q:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`(\d+) cards, (\d+) seals`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Fatalf("backup output:\n%s", out)
	}
	liveCards, _ := st.ListCards(ctx, card.Filter{Limit: 1000})
	if t.Failed() {
		return
	}

	// A fresh data directory: the database from the snapshot, the keys
	// from their own backup.
	fresh := filepath.Join(dir, "fresh")
	if err := os.CopyFS(filepath.Join(fresh, "keys"), os.DirFS(filepath.Join(live, "keys"))); err != nil {
		t.Fatal(err)
	}
	out, err = admin(t, "restore", "--dir", fresh, "--in", snap)
	if err != nil || !strings.Contains(out, "checked "+m[1]+" cards: every PDF verifies") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if _, err := admin(t, "restore", "--dir", fresh, "--in", snap); !errors.Is(err, store.ErrExists) {
		t.Fatalf("restore over the restored database: %v", err)
	}

	// Check every restored card here too, independently of the command.
	rst := storetest.OpenURL(t, filepath.Join(fresh, "cardseal.db"))
	rks, err := keys.OpenDir(fresh, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	ch := lifecycle.NewChecker(lifecycle.NewService(rst, rks, ""))
	cards, err := rst.ListCards(ctx, card.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) == 0 || len(cards) >= len(liveCards)+1 || strconv.Itoa(len(cards)) != m[1] {
		t.Fatalf("%d cards restored, %d live, backup said %s", len(cards), len(liveCards), m[1])
	}
	var total int
	issued := 0
	for _, c := range cards {
		recs, err := rst.Seals(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != c.Seq {
			t.Fatalf("card %s at revision %d has %d seal records", c.ID, c.Seq, len(recs))
		}
		for i, r := range recs {
			// Stored encrypted; VerifyStored below decrypts each revision
			// and compares its SM3 with the record's digest.
			enc, err := rst.PDF(ctx, c.ID, i+1)
			if err != nil {
				t.Fatal(err)
			}
			if r.Seq != i+1 || len(r.PDFDigest) != sm3.Size || bytes.HasPrefix(enc, []byte("%PDF")) {
				t.Fatalf("card %s seal %d: record %d, revision stored in the clear: %t", c.ID, i+1, r.Seq, bytes.HasPrefix(enc, []byte("%PDF")))
			}
		}
		// The registry's one rule of what a stored card must verify as
		// (a draft caught before its first seal included).
		rep, err := ch.VerifyStored(ctx, &c)
		if err != nil {
			t.Fatalf("card %s (%s, %d seals): %v", c.ID, c.Status, c.Seq, err)
		}
		if c.Status == card.StatusIssued {
			issued++
		}
		if len(rep.Seals) != c.Seq {
			t.Fatalf("card %s (%s, %d seals): verdict %s with %d seals", c.ID, c.Status, c.Seq, rep.Verdict, len(rep.Seals))
		}
		total += len(recs)
	}
	if strconv.Itoa(total) != m[2] || issued == 0 {
		t.Fatalf("%d seals restored (%d cards issued), backup said %s", total, issued, m[2])
	}
	if bad, err := rst.VerifyAudit(ctx); err != nil {
		t.Fatalf("restored audit chain: event %d: %v", bad, err)
	}
}

func TestRestoreRefusals(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "live"), 0o700)
	st := storetest.OpenURL(t, filepath.Join(dir, "live", "cardseal.db"))
	if err := st.CreateOrg(context.Background(), org.Org{Code: "220102", Level: org.County, Name: "南关区"}); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "b.db")
	mustAdmin(t, "backup", "--dir", filepath.Join(dir, "live"), "--out", snap)
	if _, err := admin(t, "backup", "--dir", filepath.Join(dir, "live"), "--out", snap); !errors.Is(err, store.ErrExists) {
		t.Fatalf("backup over an existing file: %v", err)
	}
	if _, err := admin(t, "backup", "--dir", filepath.Join(dir, "nowhere"), "--out", filepath.Join(dir, "c.db")); err == nil {
		t.Fatal("backup of a missing database succeeded")
	}
	// The live database is open: even --force refuses.
	_, err := admin(t, "restore", "--dir", filepath.Join(dir, "live"), "--in", snap, "--force")
	var h hinted
	if !errors.Is(err, store.ErrInUse) || !errors.As(err, &h) || !strings.Contains(h.hint, "stop cardseal serve") {
		t.Fatalf("restore over an open database: %v", err)
	}
	out, err := admin(t, "restore", "--dir", filepath.Join(dir, "other"), "--in", snap)
	if err != nil || !strings.Contains(out, "cards not checked") || !strings.Contains(out, "1 organisations") {
		t.Fatalf("restore without keys: %v\n%s", err, out)
	}
}

// TestBackupPostgres: for PostgreSQL, backup checks that pg_dump reaches
// the database and prints the command; without pg_dump, or with a
// database it cannot reach, it fails.
func TestBackupPostgres(t *testing.T) {
	_, url := storetest.OpenPostgres(t)
	dir := t.TempDir()
	out, err := admin(t, "backup", "--dir", dir, "--db", url, "--out", "x.dump")
	if err != nil || !strings.Contains(out, "pg_dump --format=custom --no-owner --file=x.dump --schema=cardseal_test_") || !strings.Contains(out, "pg_restore") {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	u, _ := neturl.Parse(url)
	u.Host = "127.0.0.1:1"
	bad := u.String()
	if _, err := admin(t, "backup", "--dir", dir, "--db", bad); err == nil || !strings.Contains(err.Error(), "pg_dump cannot read") {
		t.Fatalf("unreachable database (%s): %v", bad, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := admin(t, "backup", "--dir", dir, "--db", url); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("without pg_dump: %v", err)
	}
	if _, err := admin(t, "restore", "--dir", dir, "--db", url, "--in", "x.dump"); err == nil || !strings.Contains(err.Error(), "pg_restore") {
		t.Fatalf("restore on PostgreSQL: %v", err)
	}
}
