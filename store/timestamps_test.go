package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/store/internal/testdb"
)

// Two instances on one database (two DB values, as two servers) take
// time-stamp serial numbers at once: none is handed out twice, and each
// comes with the reference clock's time.
func testTimestampSerials(t *testing.T, url string) {
	ctx := context.Background()
	a, b := mustOpen(t, url), mustOpen(t, url)
	const each = 40
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, db := range []*DB{a, b, a, b} {
		wg.Add(1)
		go func(db *DB) {
			defer wg.Done()
			for range each {
				n, ref, err := db.NextTimestampSerial(ctx)
				if err != nil {
					errs <- err
					return
				}
				if d := time.Since(ref); d > time.Hour || d < -time.Hour {
					t.Errorf("reference time %v is not this era", ref)
				}
				mu.Lock()
				if seen[n] || n <= 0 {
					t.Errorf("serial %d handed out twice (or not positive)", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		}(db)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != 4*each {
		t.Fatalf("%d distinct serials, want %d", len(seen), 4*each)
	}
	// The year is in the high half: a new year never repeats an old one.
	for n := range seen {
		if y := int(n >> 32); y != time.Now().UTC().Year() && y != time.Now().UTC().Year()-1 {
			t.Fatalf("serial %x: year %d", n, y)
		}
	}
}

func TestTimestampSerialsSQLite(t *testing.T) { testTimestampSerials(t, testdb.SQLite(t)) }

func TestTimestampSerialsPostgres(t *testing.T) {
	testTimestampSerials(t, testdb.Schema(t, testdb.PostgresBase(t)))
}
