// Package testdb hands tests an empty database of their own: a SQLite file
// in the test's temporary directory, or a fresh schema of the PostgreSQL
// server named by CARDSEAL_TEST_POSTGRES, dropped when the test ends. It
// knows nothing of the store, so the store's own tests and package
// storetest (for everyone else's) share it.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Env names the variable holding the base URL of a PostgreSQL server for
// tests; unset, PostgreSQL tests skip.
const Env = "CARDSEAL_TEST_POSTGRES"

// Example is a value of Env that works with a local server.
const Example = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// SQLite returns the URL of a new SQLite database file in t's temporary
// directory.
func SQLite(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "cardseal.db")
}

// PostgresBase returns the server's base URL from Env, or skips t with a
// message saying how to enable the test.
func PostgresBase(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		t.Skipf("PostgreSQL tests disabled: set %s=%s to run them", Env, Example)
	}
	return base
}

// Postgres returns the URL of a fresh, empty schema on the server named by
// Env (skipping t if it is unset, failing t if the server is unreachable).
func Postgres(t testing.TB) string {
	t.Helper()
	return Schema(t, PostgresBase(t))
}

// Schema creates a schema of its own for one test on the server at base,
// drops it when the test ends, and returns base with search_path set to
// it, so concurrent and repeated runs never see each other's tables.
func Schema(t testing.TB, base string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", Env, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "cardseal_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}
