package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/store"
)

// auditCLI runs 'cardseal audit' in-process: its output, and the exit
// status run would give (0, 1 from exitCode, or -1 for an error: could not
// check).
func auditCLI(t *testing.T, args ...string) (int, string, error) {
	t.Helper()
	out, err := admin(t, "audit", args...)
	var code exitCode
	switch {
	case err == nil:
		return 0, out, nil
	case errors.As(err, &code):
		return int(code), out, nil
	}
	return -1, out, err
}

func TestCLIAudit(t *testing.T) {
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", "cli-test-passphrase")
	t.Setenv("CARDSEAL_DB", "")
	ctx := context.Background()
	d := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := cli(t, "init", "--dir", d, "--demo"); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	// No database (init creates it; here it is gone): could not check,
	// rather than an empty log that verifies.
	if err := os.Remove(filepath.Join(d, "cardseal.db")); err != nil {
		t.Fatal(err)
	}
	if code, out, err := auditCLI(t, "verify", "--dir", d); code != -1 || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("verify without a database: %d %q %v", code, out, err)
	}

	dbFile := filepath.Join(d, "cardseal.db")
	st, err := store.Open(ctx, dbFile)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	appendN := func(n int) {
		for range n {
			if _, err := st.AppendAudit(ctx, audit.Event{Actor: "admin", Action: "user.login", RemoteAddr: "198.51.100.1"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if code, out, err := auditCLI(t, "sign", "--dir", d); code != 0 || out != "audit log empty: nothing to sign\n" {
		t.Fatalf("sign empty: %d %q %v", code, out, err)
	}
	appendN(3)
	code, out, err := auditCLI(t, "verify", "--dir", d)
	if code != 0 || !strings.HasPrefix(out, "audit log intact: 3 events, 0 signed checkpoints, never signed\n") ||
		!strings.Contains(out, "newest 3 events are not yet covered") {
		t.Fatalf("verify unsigned: %d %q %v", code, out, err)
	}
	if code, out, err := auditCLI(t, "sign", "--dir", d); code != 0 || !strings.HasPrefix(out, "signed audit checkpoint 1: events 1 to 3, hash ") {
		t.Fatalf("sign: %d %q %v", code, out, err)
	}
	code, out, err = auditCLI(t, "verify", "--dir", d, "--db", "sqlite://"+dbFile)
	if code != 0 || !strings.HasPrefix(out, "audit log intact: 3 events, 1 signed checkpoint, last signed at ") ||
		!strings.Contains(out, "(event 3)") || strings.Contains(out, "note:") {
		t.Fatalf("verify signed: %d %q %v", code, out, err)
	}
	code, out, err = auditCLI(t, "verify", "--dir", d, "--json")
	var rep struct {
		Intact       bool
		Events       int
		Checkpoints  int
		LastSignedAt string `json:"last_signed_at"`
		Problems     []struct {
			Kind    string
			EventID int64 `json:"event_id"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.Intact || rep.Events != 3 || rep.Checkpoints != 1 ||
		rep.LastSignedAt == "" || rep.Problems == nil || len(rep.Problems) != 0 {
		t.Fatalf("verify --json: %d %s %v", code, out, err)
	}

	// An attacker edits event 2 behind the store's back.
	raw, err := sql.Open("sqlite", dbFile+"?_pragma=busy_timeout(15000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `UPDATE audit_events SET actor = 'nobody' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	code, out, err = auditCLI(t, "verify", "--dir", d)
	if code != 1 || !strings.HasPrefix(out, "audit log broken: event 2: edited") || !strings.Contains(out, "checked 3 events") {
		t.Fatalf("verify edited: %d %q %v", code, out, err)
	}
	code, out, err = auditCLI(t, "verify", "--dir", d, "--json")
	if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || rep.Intact || len(rep.Problems) != 1 ||
		rep.Problems[0].Kind != "edited" || rep.Problems[0].EventID != 2 {
		t.Fatalf("verify --json edited: %d %s %v", code, out, err)
	}
	// The signer refuses a chain broken since its newest checkpoint.
	appendN(2)
	if _, err := raw.ExecContext(ctx, `DELETE FROM audit_events WHERE id = 4`); err != nil {
		t.Fatal(err)
	}
	var h hinted
	if code, out, err := auditCLI(t, "sign", "--dir", d); code != -1 || !errors.Is(err, audit.ErrBroken) || !errors.As(err, &h) {
		t.Fatalf("sign a broken chain: %d %q %v", code, out, err)
	}

	// No trust list: could not check.
	if code, out, err := auditCLI(t, "verify", "--dir", d, "--trust", filepath.Join(d, "nonexistent.pem")); code != -1 {
		t.Fatalf("missing trust list: %d %q %v", code, out, err)
	}
	for _, args := range [][]string{nil, {"frobnicate"}, {"verify", "extra"}, {"sign", "--bogus"}} {
		var u usageError
		if _, _, err := auditCLI(t, args...); !errors.As(err, &u) {
			t.Errorf("cardseal audit %q: %v, want a usage error", args, err)
		}
	}
}
