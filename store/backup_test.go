package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store/internal/testdb"
)

// TestSnapshotWhileWriting takes a snapshot while another goroutine keeps
// appending audit events (each one moves the chain head in the same
// transaction) and restores it: the restored chain verifies and its head
// matches its last event, so the copy is one committed state.
func TestSnapshotWhileWriting(t *testing.T) {
	ctx := context.Background()
	url := testdb.SQLite(t)
	st := mustOpen(t, url)
	if err := st.CreateOrg(ctx, org.Org{Code: "220102", Level: org.County, Name: "南关区卫生健康局"}); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := st.AppendAudit(ctx, audit.Event{Actor: "test", Action: "test.write"}); err != nil {
				t.Error(err)
				return
			}
			n.Add(1)
		}
	}()
	for n.Load() < 20 {
		runtime.Gosched()
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	info, err := Snapshot(ctx, mustParseURL(url), out)
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	before := n.Load()
	for n.Load() < before+20 {
		runtime.Gosched()
	}
	close(stop)
	wg.Wait()
	if info.AuditEvents < 20 || info.AuditEvents >= n.Load() || info.Version == 0 || info.Orgs != 1 || len(info.SM3) != 32 {
		t.Fatalf("snapshot %+v, %d events written", info, n.Load())
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v %v", fi, err)
	}
	if _, err := Snapshot(ctx, mustParseURL(url), out); !errors.Is(err, ErrExists) {
		t.Fatalf("snapshot over an existing file: %v", err)
	}

	target := filepath.Join(t.TempDir(), "restored", "cardseal.db")
	res, err := Restore(ctx, out, mustParseURL("sqlite://"+target), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Aside != "" || res.AuditEvents != info.AuditEvents {
		t.Fatalf("restore %+v", res)
	}
	for _, s := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(target + s); err == nil {
			t.Fatalf("restore left %s behind", target+s)
		}
	}
	r := mustOpen(t, target)
	if bad, err := r.VerifyAudit(ctx); err != nil {
		t.Fatalf("restored audit chain: event %d: %v", bad, err)
	}
	evs, err := r.AuditEvents(ctx, "", 1)
	if err != nil || len(evs) != 1 || evs[0].ID != info.AuditEvents {
		t.Fatalf("newest restored event %+v %v, want ID %d", evs, err, info.AuditEvents)
	}

	// The target exists: refused without force, refused with force while
	// a store has it open, replaced (and the old file kept) once closed.
	if _, err := Restore(ctx, out, mustParseURL(target), false); !errors.Is(err, ErrExists) {
		t.Fatalf("restore over an existing database: %v", err)
	}
	if _, err := r.AppendAudit(ctx, audit.Event{Actor: "test", Action: "after.restore"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, out, mustParseURL(target), true); !errors.Is(err, ErrInUse) {
		t.Fatalf("restore over an open database: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	res, err = Restore(ctx, out, mustParseURL(target), true)
	if err != nil {
		t.Fatal(err)
	}
	old, err := Inspect(ctx, res.Aside)
	if err != nil || old.AuditEvents != info.AuditEvents+1 {
		t.Fatalf("the replaced database kept aside: %+v %v", old, err)
	}
	if got, err := Inspect(ctx, target); err != nil || got.AuditEvents != info.AuditEvents {
		t.Fatalf("after forced restore: %+v %v", got, err)
	}
}

func TestRestoreRefusesDamagedSnapshots(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := testdb.SQLite(t)
	st := mustOpen(t, url)
	for i := range 5 {
		if _, err := st.AppendAudit(ctx, audit.Event{Actor: "test", Action: audit.Action(fmt.Sprintf("e%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	good := filepath.Join(dir, "good.db")
	if _, err := Snapshot(ctx, mustParseURL(url), good); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(dir, "note.txt")
	os.WriteFile(notDB, []byte("not a database at all, just text that is long enough"), 0o600)

	// An edited audit event: the file is a sound database, the chain is not.
	edited := filepath.Join(dir, "edited.db")
	b, _ := os.ReadFile(good)
	os.WriteFile(edited, b, 0o600)
	db, err := rawSQLite(edited, "rw", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_events SET actor = 'mallory' WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for name, tc := range map[string]struct {
		in   string
		want string
	}{
		"missing":    {filepath.Join(dir, "nope.db"), "no such file"},
		"not sqlite": {notDB, "not a readable SQLite database"},
		"edited":     {edited, "audit"},
	} {
		t.Run(name, func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "cardseal.db")
			_, err := Restore(ctx, tc.in, mustParseURL(target), false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore: %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(target); !os.IsNotExist(err) {
				t.Fatalf("a refused restore left %s", target)
			}
		})
	}
	if _, err := Restore(ctx, good, mustParseURL("postgres://x@127.0.0.1/db"), false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("restore to a PostgreSQL URL: %v", err)
	}
}
