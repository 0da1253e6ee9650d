package storetest_test

import (
	"context"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
)

func TestBackends(t *testing.T) {
	ctx := context.Background()
	ran := map[string]bool{}
	storetest.Backends(t, func(t *testing.T, open func(testing.TB) (*store.DB, string)) {
		ran[t.Name()] = true
		s, u := open(t)
		org := org.Org{Code: "220102", Level: org.County, Name: "南关区卫生健康局"}
		if err := s.CreateOrg(ctx, org); err != nil {
			t.Fatal(err)
		}
		// The URL reaches the same database: a second instance sees the org.
		if got, err := storetest.OpenURL(t, u).GetOrg(ctx, org.Code); err != nil || got != org {
			t.Errorf("second instance: GetOrg = %+v, %v", got, err)
		}
		// Every open is a database of its own.
		other, otherURL := open(t)
		if otherURL == u {
			t.Errorf("two opens returned one URL %q", u)
		}
		if orgs, err := other.ListOrgs(ctx); err != nil || len(orgs) != 0 {
			t.Errorf("fresh store has orgs %+v, %v", orgs, err)
		}
	})
	if !ran["TestBackends/sqlite"] {
		t.Error("the sqlite backend did not run")
	}
	if os.Getenv("CARDSEAL_TEST_POSTGRES") != "" && !ran["TestBackends/postgres"] {
		t.Error("CARDSEAL_TEST_POSTGRES is set but the postgres backend did not run")
	}
}

// The schema of a PostgreSQL test is gone once the test has ended.
func TestPostgresSchemaDropped(t *testing.T) {
	base := os.Getenv("CARDSEAL_TEST_POSTGRES")
	if base == "" {
		t.Skip("PostgreSQL tests disabled: set CARDSEAL_TEST_POSTGRES to run them")
	}
	var schema string
	t.Run("user", func(t *testing.T) {
		_, u := storetest.OpenPostgres(t)
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		schema = pu.Query().Get("search_path")
	})
	if schema == "" {
		t.Fatal("no search_path in the store URL")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s still exists after the test", schema)
	}
}

func TestOpen(t *testing.T) {
	s, u := storetest.Open(t)
	if (os.Getenv("CARDSEAL_TEST_POSTGRES") != "") != (len(u) > 11 && u[:11] == "postgres://") {
		t.Errorf("Open chose %q with CARDSEAL_TEST_POSTGRES=%q", u, os.Getenv("CARDSEAL_TEST_POSTGRES"))
	}
	if _, err := s.ListOrgs(context.Background()); err != nil {
		t.Error(err)
	}
}
