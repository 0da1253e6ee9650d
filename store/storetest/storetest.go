// Package storetest gives other packages' tests a real, empty store: a
// SQLite file in the test's temporary directory or, when
// CARDSEAL_TEST_POSTGRES names a server, a fresh PostgreSQL schema that is
// dropped when the test ends.
//
//	func TestIssue(t *testing.T) {
//		storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
//			st, url := open(t)
//			…
//		})
//	}
package storetest

import (
	"context"
	"os"
	"testing"

	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/internal/testdb"
)

// Opener returns a fresh, empty store (migrated, closed when the test
// ends) and the URL that opens the same database again, as a second
// instance would.
type Opener = func(t testing.TB) (*store.DB, string)

// Open opens a fresh store on PostgreSQL when CARDSEAL_TEST_POSTGRES is
// set, else on SQLite.
func Open(t testing.TB) (*store.DB, string) {
	t.Helper()
	if os.Getenv(testdb.Env) != "" {
		return OpenPostgres(t)
	}
	return OpenSQLite(t)
}

// OpenSQLite opens a fresh store in a SQLite file in t.TempDir().
func OpenSQLite(t testing.TB) (*store.DB, string) {
	t.Helper()
	url := testdb.SQLite(t)
	return OpenURL(t, url), url
}

// OpenPostgres opens a fresh store in a new schema of the server named by
// CARDSEAL_TEST_POSTGRES. It skips t if the variable is unset and fails t
// if the server cannot be reached.
func OpenPostgres(t testing.TB) (*store.DB, string) {
	t.Helper()
	url := testdb.Postgres(t)
	return OpenURL(t, url), url
}

// OpenURL opens the store at url, failing t on error, and closes it when
// the test ends.
func OpenURL(t testing.TB, url string) *store.DB {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Backends runs fn as the subtests "sqlite" and "postgres", each with an
// Opener for its backend. The postgres subtest skips, saying how to enable
// it, when CARDSEAL_TEST_POSTGRES is unset, and fails when it is set but
// the server cannot be reached.
func Backends(t *testing.T, fn func(t *testing.T, open Opener)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, OpenSQLite) })
	t.Run("postgres", func(t *testing.T) {
		testdb.PostgresBase(t) // skip before fn runs any setup of its own
		fn(t, OpenPostgres)
	})
}

// PostgresURL returns the URL of a fresh, empty schema for tests that
// hand the database to a server process rather than open it themselves.
// It skips t if CARDSEAL_TEST_POSTGRES is unset and fails t if the server
// cannot be reached; the schema is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return testdb.Postgres(t)
}
