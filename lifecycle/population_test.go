package lifecycle

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/store/storetest"
)

// TestPopulationExtractAtRest: an imported population-register extract
// leaves no ID number or name readable in the database (raw SQLite file,
// pg_dump), yet each resident is found by its ID number (Art. 9, 13, 23).
func TestPopulationExtractAtRest(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		st, dbURL := open(t)
		ks := demoKeys(t)
		s := NewService(st, ks, "http://127.0.0.1:8080")
		ctx := context.Background()
		if err := SyncOrgs(ctx, st, ks); err != nil {
			t.Fatal(err)
		}
		extract := "\ufeffid_number,name,hukou,marital_status,spouse_id_number,marriage_date,marriage_cert_number,children\n" +
			"220102199003071235,李四,吉林省长春市南关区永吉街道永安社区,married,220102199208152346,2024-05-20,J220102-2024-001234,0\n" +
			"220102199208152346,王喆堃,吉林省长春市南关区永吉街道永安社区,married,220102199003071235,2024-05-20,J220102-2024-001234,0\n"
		rs, err := card.ParseExtract(strings.NewReader(extract))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportPopulation(ctx, actor(t, st, "220102001"), "220102", rs); err == nil {
			t.Fatal("a township imported the county's extract")
		}
		if n, err := s.ImportPopulation(ctx, actor(t, st, "220102"), "220102", rs); err != nil || n != 2 {
			t.Fatalf("import: %d, %v", n, err)
		}
		r, err := s.resident(ctx, "220102", "220102199208152346")
		if err != nil || r == nil || r.Name != "王喆堃" || r.SpouseIDNumber != "220102199003071235" {
			t.Fatalf("resident: %+v, %v", r, err)
		}
		if r, err := s.resident(ctx, "220103", "220102199208152346"); err != nil || r != nil {
			t.Fatalf("another county's extract: %+v, %v", r, err)
		}
		var vals [][]byte
		if strings.HasPrefix(dbURL, "postgres") {
			vals = pgDumpValues(t, dbURL)
		} else {
			vals = sqliteValues(t, strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite://"), "sqlite:"))
		}
		secrets := []string{"220102199003071235", "220102199208152346", "李四", "王喆堃", "J220102-2024-001234"}
		found := 0
		for _, v := range vals {
			for _, sec := range secrets {
				if bytes.Contains(v, []byte(sec)) {
					t.Errorf("the database shows %q (value starting %q)", sec, v[:min(len(v), 16)])
				}
			}
			if bytes.HasPrefix(v, []byte("CS2")) {
				found++
			}
		}
		if found < 2 {
			t.Fatalf("only %d encrypted values read from the database: the search proves nothing", found)
		}
	})
}
