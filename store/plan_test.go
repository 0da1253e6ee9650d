package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store/internal/testdb"
)

// planCase is one query of the public check, a queue page or an export
// page, and what its plan must show on each backend.
type planCase struct {
	name  string
	query func(ctx context.Context, s *DB, c sample) (string, []any, error)
	// sqlite and postgres are patterns every one of which the plan must
	// match: the index that answers the query and the conditions it is
	// searched with.
	sqlite, postgres []string
	// ordered: the index yields the listing's order, so the plan has no
	// sort step and a page stops after its last row.
	ordered bool
}

// sample is a stored card whose keys the lookups use: on a filled
// registry, the plans (and on PostgreSQL the buffers read) are those of a
// card that is there.
type sample struct{ ID, Number, Token string }

func lookup(where string) func(context.Context, *DB, sample) (string, []any, error) {
	return func(_ context.Context, _ *DB, c sample) (string, []any, error) {
		arg := map[string]string{"id": c.ID, "number": c.Number, "qr_token": c.Token}[where]
		return cardQuery(where), []any{arg}, nil
	}
}

// listing is ListCards' query for f, paging after the sample if f has a
// cursor.
func listing(f card.Filter) func(context.Context, *DB, sample) (string, []any, error) {
	return func(ctx context.Context, s *DB, c sample) (string, []any, error) {
		if f.AfterID != "" {
			f.AfterID = c.ID
		}
		return s.listQuery(ctx, f)
	}
}

// pgIndex matches a plan node that reads the index name.
func pgIndex(name string) string { return `(Scan using|Bitmap Index Scan on) ` + name + `\b` }

var planCases = []planCase{
	{name: "card by token (public check)", query: lookup("qr_token"),
		sqlite: []string{`SEARCH cards USING (COVERING )?INDEX \S+ \(qr_token=\?\)`}, postgres: []string{pgIndex("cards_qr_token_key")}},
	{name: "card by number (manual check)", query: lookup("number"),
		sqlite: []string{`SEARCH cards USING (COVERING )?INDEX \S+ \(number=\?\)`}, postgres: []string{pgIndex("cards_number_key")}},
	{name: "card by id", query: lookup("id"),
		sqlite: []string{`SEARCH cards USING (COVERING )?INDEX \S+ \(id=\?\)`}, postgres: []string{pgIndex("cards_pkey")}},
	{name: "current PDF (public check)",
		query: func(_ context.Context, _ *DB, c sample) (string, []any, error) {
			return currentPDFQuery, []any{c.ID}, nil
		},
		sqlite:   []string{`SEARCH c USING (COVERING )?INDEX \S+ \(id=\?\)`, `SEARCH p USING INDEX \S+ \(card_id=\? AND seq=\?\)`},
		postgres: []string{pgIndex("cards_pkey"), pgIndex("card_pdfs_pkey")}},
	{name: "page cursor",
		query: func(_ context.Context, _ *DB, c sample) (string, []any, error) {
			return cursorQuery, []any{c.ID}, nil
		},
		sqlite: []string{`SEARCH cards USING (COVERING )?INDEX \S+ \(id=\?\)`}, postgres: []string{pgIndex("cards_pkey")}},
	// Service.Queue's filter for a village and a township.
	{name: "village queue page",
		query:   listing(card.Filter{Statuses: []card.Status{card.StatusDraft}, CodePrefix: "220102001001", Awaiting: org.Village, Limit: 50}),
		sqlite:  []string{`SEARCH c USING INDEX cards_awaiting \(next_level=\? AND village_code=\?\)`},
		ordered: true,
		postgres: []string{pgIndex("cards_awaiting"),
			`Index Cond: \(\(next_level = \S+\) AND \(village_code = \S+\)\)`}},
	{name: "village queue next page",
		query:   listing(card.Filter{Statuses: []card.Status{card.StatusDraft}, CodePrefix: "220102001001", Awaiting: org.Village, AfterID: "cursor", Limit: 50}),
		sqlite:  []string{`SEARCH c USING INDEX cards_awaiting \(next_level=\? AND village_code=\? AND \(created_at,id\)>\(\?,\?\)\)`},
		ordered: true,
		postgres: []string{pgIndex("cards_awaiting"),
			`Index Cond: \(\(next_level = \S+\) AND \(village_code = \S+\) AND \(ROW\(created_at, id\) > ROW\(`}},
	// A township's queue spans its villages: the index finds the drafts
	// awaiting it, which are then sorted (a township's, not the
	// registry's).
	{name: "township queue page",
		query:    listing(card.Filter{Statuses: []card.Status{card.StatusDraft}, CodePrefix: "220102001", Awaiting: org.Township, Limit: 50}),
		sqlite:   []string{`SEARCH c USING INDEX cards_awaiting \(next_level=\? AND village_code>\? AND village_code<\?\)`},
		postgres: []string{pgIndex("cards_awaiting")}},
	// Service.Export's filter, first page and a later one.
	{name: "export first page",
		query:    listing(card.Filter{Statuses: exported, CountyCode: "220102", Limit: 500}),
		sqlite:   []string{`SEARCH c USING INDEX cards_county \(county_code=\?\)`},
		ordered:  true,
		postgres: []string{pgIndex("cards_county")}},
	// Service.Search (issue 16): the cards of a search term, from the
	// term's index (on SQLite before any card is read; PostgreSQL, on
	// this small table, may start from the jurisdiction and probe the
	// term index per card, as its statistics suggest).
	{name: "search by a holder",
		query:    listing(card.Filter{CodePrefix: "220102001", Terms: []string{strings.Repeat("ab", 16)}, Limit: 50}),
		sqlite:   []string{`SEARCH t USING (COVERING )?INDEX \S+ \(term=\?\)`, `SEARCH c USING INDEX \S+ \(id=\?\)`},
		postgres: []string{pgIndex("card_terms_pkey")}},
	{name: "export page",
		query:   listing(card.Filter{Statuses: exported, CountyCode: "220102", AfterID: "cursor", Limit: 500}),
		sqlite:  []string{`SEARCH c USING INDEX cards_county \(county_code=\? AND \(created_at,id\)>\(\?,\?\)\)`},
		ordered: true,
		postgres: []string{pgIndex("cards_county"),
			`Index Cond: \(\(county_code = \S+\) AND \(ROW\(created_at, id\) > ROW\(`}},
}

// exported are the statuses of Service.Export (lifecycle.Exported; store
// imports no lifecycle).
var exported = []card.Status{card.StatusIssued, card.StatusVoided, card.StatusRevoked, card.StatusSuperseded}

// TestQueryPlans checks that the public check, the manual check, a
// village's queue page and an export page are answered from the indexes:
// on SQLite as the server runs it (no statistics: the store never runs
// ANALYZE); on PostgreSQL both the plan for the arguments and the generic
// plan a prepared statement switches to after a few executions, with
// sequential and bitmap scans (and, for a listing the index must order,
// sorts) priced out so that the small table shows what the indexes can do
// rather than what is cheapest for twenty rows.
//
// With CARDSEAL_PLAN_URLS (space-separated store URLs) it also checks the
// plans on those registries as they are, with no nudging (only logging
// them for a registry under 100 000 cards), and on PostgreSQL logs the
// buffers each query reads (EXPLAIN ANALYZE BUFFERS): scripts/bench.sh
// scale passes the registries BenchmarkScale filled.
func TestQueryPlans(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s := mustOpen(t, testdb.SQLite(t))
		checkPlans(t, s, seedPlanCards(t, s), true, true)
	})
	t.Run("postgres", func(t *testing.T) {
		s := mustOpen(t, testdb.Schema(t, testdb.PostgresBase(t)))
		checkPlans(t, s, seedPlanCards(t, s), true, true)
	})
	for i, url := range strings.Fields(os.Getenv("CARDSEAL_PLAN_URLS")) {
		t.Run(fmt.Sprintf("registry-%d", i+1), func(t *testing.T) {
			s := mustOpen(t, url)
			ctx := context.Background()
			var n int
			var c sample
			if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM cards`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if err := s.r.QueryRowContext(ctx, `SELECT id, number, qr_token FROM cards
				WHERE county_code = '220102' AND status = 'issued' AND qr_token IS NOT NULL LIMIT 1`).
				Scan(&c.ID, &c.Number, &c.Token); err != nil {
				t.Fatalf("no issued card of county 220102 to look up: %v", err)
			}
			t.Logf("%s registry of %d cards", s.d.name, n)
			// A table of a few thousand rows is cheaper to read whole,
			// and PostgreSQL's planner, with statistics, rightly does:
			// there the plans are only logged, for comparison.
			checkPlans(t, s, c, false, n >= 100000)
		})
	}
}

// seedPlanCards writes a few cards, so that the sample and a cursor
// exist, and returns one.
func seedPlanCards(t *testing.T, s *DB) sample {
	var cs []card.Card
	for i := range 20 {
		cs = append(cs, card.Card{ID: fmt.Sprintf("%016x", 0xc000+i), StatusIndex: i, CreatedAt: time.Now(),
			Status:      []card.Status{card.StatusDraft, card.StatusIssued}[i%2],
			VillageCode: []string{"220102001001", "220102002001"}[i%2], CountyCode: "220102"})
	}
	bulkInsert(t, s, cs)
	return sample{ID: cs[1].ID, Number: "N" + cs[1].ID, Token: "AAAAAAAAAAAAAAAAAAAAAAAAAA"}
}

// checkPlans explains every planCase on s with the sample's keys; nudge
// prices scans out on PostgreSQL (a small table); strict fails the test
// on a plan that is not the expected one, else the plans are only logged.
func checkPlans(t *testing.T, s *DB, c sample, nudge, strict bool) {
	ctx := context.Background()
	for _, pc := range planCases {
		t.Run(pc.name, func(t *testing.T) {
			q, args, err := pc.query(ctx, s, c)
			if err != nil {
				t.Fatal(err)
			}
			want := pc.sqlite
			plans := map[string]string{}
			if s.d.name == "postgres" {
				want = pc.postgres
				for _, generic := range []bool{false, true} {
					kind := map[bool]string{false: "custom", true: "generic"}[generic]
					plans[kind] = explainPostgres(t, s, q, args, nudge, nudge && pc.ordered, generic)
				}
				if !nudge {
					t.Logf("executed:\n%s", explainPostgresAnalyze(t, s, q, args))
				}
			} else {
				plans["sqlite"] = explainSQLite(t, s, q, args)
			}
			for kind, plan := range plans {
				t.Logf("%s plan of %s:\n%s", kind, q, plan)
				if !strict {
					continue
				}
				for _, w := range want {
					if !regexp.MustCompile(w).MatchString(plan) {
						t.Errorf("%s plan does not match %q:\n%s", kind, w, plan)
					}
				}
				if regexp.MustCompile(`(?m)^\s*(->\s*)?Seq Scan|(?m)^SCAN `).MatchString(plan) {
					t.Errorf("%s plan reads a whole table:\n%s", kind, plan)
				}
				if pc.ordered && regexp.MustCompile(`Sort|TEMP B-TREE`).MatchString(plan) {
					t.Errorf("%s plan sorts: the index should give the listing's order:\n%s", kind, plan)
				}
			}
		})
	}
}

// explainPostgresAnalyze runs q and returns its plan with the rows and
// buffers each step read.
func explainPostgresAnalyze(t *testing.T, s *DB, q string, args []any) string {
	rows, err := s.r.QueryContext(context.Background(), `EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY OFF) `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

func explainSQLite(t *testing.T, s *DB, q string, args []any) string {
	rows, err := s.r.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// explainPostgres returns the plan PostgreSQL makes for q with args, or
// the generic plan of q prepared (what a statement cached by the driver
// may run with after five executions). nudge prices sequential and bitmap
// scans out, noSort sorts.
func explainPostgres(t *testing.T, s *DB, q string, args []any, nudge, noSort, generic bool) string {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	exec := func(q string) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if nudge {
		exec(`SET LOCAL enable_seqscan = off`)
		exec(`SET LOCAL enable_bitmapscan = off`)
	}
	if noSort {
		exec(`SET LOCAL enable_sort = off`)
	}
	var rows *sql.Rows
	if generic {
		// A prepared statement outlives the transaction: deallocated
		// below, and named afresh each time in case a failed test left
		// one behind on the connection.
		planStmts++
		name := fmt.Sprintf("plan_test_%d", planStmts)
		exec(`SET LOCAL plan_cache_mode = force_generic_plan`)
		exec(`PREPARE ` + name + ` AS ` + q)
		defer exec(`DEALLOCATE ` + name)
		var lit []string
		for _, a := range args {
			lit = append(lit, pgLiteral(a))
		}
		rows, err = tx.QueryContext(ctx, `EXPLAIN EXECUTE `+name+`(`+strings.Join(lit, ", ")+`)`)
	} else {
		rows, err = tx.QueryContext(ctx, `EXPLAIN `+q, args...)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

var planStmts int

// pgLiteral writes a query argument as an SQL literal.
func pgLiteral(a any) string {
	switch v := a.(type) {
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case time.Time:
		return "'" + v.UTC().Format(time.RFC3339Nano) + "'"
	case int, int64:
		return fmt.Sprint(v)
	}
	panic(fmt.Sprintf("pgLiteral: %T", a))
}
