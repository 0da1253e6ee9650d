package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/store/storetest"
)

// BenchmarkSealThroughput is issue 7's sealing throughput: N clients seal
// different cards in parallel, each card village → township → county
// through Service.Seal (chain rules, signer, and the store's transaction
// for the new revision and its seal record), on SQLite and, when
// CARDSEAL_TEST_POSTGRES is set, on PostgreSQL. One op is one card sealed
// three times; cards/s is the figure to read. The cards are applied for
// (and rendered) before the timer starts.
func BenchmarkSealThroughput(b *testing.B) {
	for _, backend := range []struct {
		name string
		open storetest.Opener
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		b.Run(backend.name, func(b *testing.B) {
			for _, clients := range []int{1, 4, 16} {
				b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
					sealThroughput(b, backend.open, clients)
				})
			}
		})
	}
}

func sealThroughput(b *testing.B, open storetest.Opener, clients int) {
	st, _ := open(b)
	ks := demoKeys(b)
	s := NewService(st, ks, "http://127.0.0.1:8080")
	ctx := context.Background()
	if err := SyncOrgs(ctx, st, ks); err != nil {
		b.Fatal(err)
	}
	levels := []Actor{actor(b, st, "220102001001"), actor(b, st, "220102001"), actor(b, st, "220102")}
	app := example(b)
	seal := func(id string) error {
		for _, a := range levels {
			if _, err := s.Seal(ctx, a, id); err != nil {
				return fmt.Errorf("seal %s as %s: %w", id, a.Org.Code, err)
			}
		}
		return nil
	}
	// Warm the key and appearance caches with one card outside the count.
	apply := func() *card.Card {
		c, err := s.Apply(ctx, levels[0], app)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	if err := seal(apply().ID); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = apply().ID
	}
	work := make(chan string, len(ids))
	for _, id := range ids {
		work <- id
	}
	close(work)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	b.StartTimer()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for id := range work {
				if err := seal(id); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(ids))/elapsed.Seconds(), "cards/s")
	b.ReportMetric(3*float64(len(ids))/elapsed.Seconds(), "seals/s")
}
