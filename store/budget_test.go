package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/store/internal/testdb"
)

// bothBackends runs fn on a fresh SQLite store and, when
// CARDSEAL_TEST_POSTGRES is set, on a fresh PostgreSQL schema (skipped,
// saying how to enable it, otherwise).
func bothBackends(t *testing.T, fn func(t *testing.T, s *DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, mustOpen(t, testdb.SQLite(t))) })
	t.Run("postgres", func(t *testing.T) {
		base := testdb.PostgresBase(t)
		fn(t, mustOpen(t, testdb.Schema(t, base)))
	})
}

// TestSpend: amounts add up within a window up to the limit and no
// further, a refused amount is not added, the next window starts at zero,
// and concurrent spenders never pass the limit together.
func TestSpend(t *testing.T) {
	ctx := context.Background()
	bothBackends(t, func(t *testing.T, s *DB) {
		clock := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
		s.clock = func() time.Time { return clock }
		spend := func(amount int) bool {
			t.Helper()
			ok, err := s.Spend(ctx, "online:kib:220102001001", 24*time.Hour, amount, 100)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		for i, tc := range []struct {
			amount int
			want   bool
		}{{60, true}, {50, false}, {40, true}, {1, false}, {101, false}} {
			if got := spend(tc.amount); got != tc.want {
				t.Fatalf("spend %d: %d allowed %t, want %t", i, tc.amount, got, tc.want)
			}
		}
		if n := count(t, s, `SELECT count FROM rate_limits WHERE key = $1`, "online:kib:220102001001"); n != 100 {
			t.Fatalf("total %d, want 100", n)
		}
		for _, bad := range []struct{ amount, limit int }{{0, 10}, {-1, 10}, {1, 0}, {1, 1 << 31}} {
			if _, err := s.Spend(ctx, "k", time.Hour, bad.amount, bad.limit); err == nil {
				t.Errorf("amount %d, limit %d accepted", bad.amount, bad.limit)
			}
		}
		clock = clock.Add(24 * time.Hour)
		if !spend(100) {
			t.Fatal("the next window did not start at zero")
		}

		// Twenty spenders of 10 against a limit of 100: exactly ten win.
		var won atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.Spend(ctx, "online:kib:220102002001", 24*time.Hour, 10, 100)
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 10 {
			t.Fatalf("%d of 20 concurrent spends of 10 allowed under a limit of 100, want 10", won.Load())
		}
	})
}
