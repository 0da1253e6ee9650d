package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testRateLimit(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("rate limit windows", func(t *testing.T) {
		s, _ := open(t)
		clock := time.Date(2026, 11, 28, 10, 0, 0, 500_000_000, time.UTC)
		s.clock = func() time.Time { return clock }
		hits := func(key string, n, limit int) []bool {
			t.Helper()
			var out []bool
			for range n {
				ok, err := s.Hit(ctx, key, time.Minute, limit)
				if err != nil {
					t.Fatalf("Hit(%q): %v", key, err)
				}
				out = append(out, ok)
			}
			return out
		}
		if got, want := hits("login:192.0.2.1", 5, 3), []bool{true, true, true, false, false}; !slices.Equal(got, want) {
			t.Errorf("5 hits with limit 3 = %v, want %v", got, want)
		}
		if got := hits("login:192.0.2.2", 1, 3); !got[0] {
			t.Error("another key shares the count")
		}
		// A denied hit writes nothing: the count stays at the limit.
		if n := count(t, s, `SELECT count FROM rate_limits WHERE key = $1`, "login:192.0.2.1"); n != 3 {
			t.Errorf("count after denied hits = %d, want 3", n)
		}
		clock = clock.Add(30 * time.Second) // 10:00:30.5, same window
		if got := hits("login:192.0.2.1", 1, 3); got[0] {
			t.Error("allowed again within the same window")
		}
		clock = time.Date(2026, 11, 28, 10, 1, 0, 0, time.UTC) // the next window opens
		if got := hits("login:192.0.2.1", 2, 2); !got[0] || !got[1] {
			t.Errorf("next window = %v, want two allowed", got)
		}
		if n := count(t, s, `SELECT count(*) FROM rate_limits WHERE key = $1`, "login:192.0.2.1"); n != 1 {
			t.Errorf("%d windows kept for a key that opened a new one, want 1", n)
		}
		// The other key's window has ended and was never pruned by a hit.
		if n, err := s.DeleteExpiredRateLimits(ctx); err != nil || n != 1 {
			t.Errorf("DeleteExpiredRateLimits = %d, %v; want 1", n, err)
		}
		if n := count(t, s, `SELECT count(*) FROM rate_limits`); n != 1 {
			t.Errorf("%d windows left after the sweep, want 1 (the current one)", n)
		}
		for _, tc := range []struct {
			key    string
			window time.Duration
			limit  int
		}{
			{"", time.Minute, 1},
			{strings.Repeat("k", maxRateKeyLen+1), time.Minute, 1},
			{"k", 0, 1},
			{"k", -time.Second, 1},
			{"k", time.Nanosecond, 1},
			{"k", time.Minute, 0},
		} {
			if _, err := s.Hit(ctx, tc.key, tc.window, tc.limit); !errors.Is(err, ErrInvalid) {
				t.Errorf("Hit(%d-byte key, %v, %d) = %v, want ErrInvalid", len(tc.key), tc.window, tc.limit, err)
			}
		}
	})

	// Two Stores stand for two instances on one database; 8 goroutines
	// hit one key through them at once.
	t.Run("rate limit shared and concurrent", func(t *testing.T) {
		s1, url := open(t)
		s2 := mustOpen(t, url)
		fixed := func() time.Time { return time.Date(2026, 11, 28, 10, 0, 30, 0, time.UTC) }
		s1.clock, s2.clock = fixed, fixed
		stores := []*DB{s1, s2}
		for _, tc := range []struct {
			key        string
			limit, per int
		}{
			{"burst", 25, 10},
			{"single", 1, 5},
		} {
			var allowed atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 8 {
				s := stores[i%2]
				wg.Go(func() {
					<-start
					for range tc.per {
						ok, err := s.Hit(ctx, tc.key, time.Hour, tc.limit)
						if err != nil {
							t.Errorf("Hit: %v", err)
							return
						}
						if ok {
							allowed.Add(1)
						}
					}
				})
			}
			close(start)
			wg.Wait()
			if got := allowed.Load(); got != int64(tc.limit) {
				t.Errorf("%s: %d of %d hits allowed, want exactly the limit %d", tc.key, got, 8*tc.per, tc.limit)
			}
		}
	})
}
