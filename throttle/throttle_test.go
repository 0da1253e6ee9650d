package throttle_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/throttle"
)

var policy = throttle.Policy{Free: 2, First: 10 * time.Second, Max: 80 * time.Second, Forget: time.Hour}

func TestDelay(t *testing.T) {
	for n, want := range []time.Duration{0, 0, 0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 80 * time.Second} {
		if got := policy.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
	if got := policy.Delay(1 << 20); got != policy.Max {
		t.Errorf("Delay(huge) = %v, want Max", got)
	}
	for _, bad := range []throttle.Policy{{}, {Free: -1, First: 1, Max: 1, Forget: 1}, {First: 2, Max: 1, Forget: 2}, {First: 1, Max: 2, Forget: 1}} {
		if bad.Check() == nil {
			t.Errorf("policy %+v accepted", bad)
		}
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestThrottle runs the whole cycle on the real store, SQLite and
// PostgreSQL: free failures, growing waits, another client unaffected, a
// success clearing the count, forgetting, and two instances racing.
func TestThrottle(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		st, url := open(t)
		clk := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
		th := throttle.New(st, policy, clk.now)
		stranger := throttle.Key{Scope: "download", Subject: "0123456789abcdef", Client: "198.51.100.66"}
		holder := throttle.Key{Scope: "download", Subject: "0123456789abcdef", Client: "203.0.113.5"}

		begin := func(k throttle.Key) (int, time.Duration) {
			t.Helper()
			n, err := th.Begin(ctx, k)
			var we *throttle.WaitError
			if errors.As(err, &we) {
				return 0, we.RetryAfter
			}
			if err != nil {
				t.Fatal(err)
			}
			return n, 0
		}
		// Two free failures and the third: each attempt goes through.
		for i := 1; i <= 3; i++ {
			if n, wait := begin(stranger); n != i || wait != 0 {
				t.Fatalf("attempt %d: n %d, wait %v", i, n, wait)
			}
		}
		// Now the stranger waits First, then twice as long after the
		// next failure, and so on; the holder never waits.
		for round, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 80 * time.Second} {
			if _, wait := begin(stranger); wait != want {
				t.Fatalf("round %d: wait %v, want %v", round, wait, want)
			}
			if n, wait := begin(holder); wait != 0 || n != 1 {
				t.Fatalf("round %d: holder n %d, wait %v", round, n, wait)
			}
			if err := th.Succeeded(ctx, holder); err != nil {
				t.Fatal(err)
			}
			clk.add(want - time.Second)
			if _, wait := begin(stranger); wait != time.Second {
				t.Fatalf("round %d: a second early: wait %v", round, wait)
			}
			clk.add(time.Second)
			if n, wait := begin(stranger); wait != 0 || n != 4+round {
				t.Fatalf("round %d: after the wait: n %d, wait %v", round, n, wait)
			}
		}
		// A fraction of a second still to wait is a whole second.
		clk.add(80*time.Second - 300*time.Millisecond)
		if _, wait := begin(stranger); wait != time.Second {
			t.Fatalf("300 ms left: wait %v, want 1s", wait)
		}
		// A success clears the count.
		clk.add(time.Second)
		if _, wait := begin(stranger); wait != 0 {
			t.Fatal("still waiting")
		}
		if err := th.Succeeded(ctx, stranger); err != nil {
			t.Fatal(err)
		}
		if n, _ := begin(stranger); n != 1 {
			t.Fatalf("after a success: n %d, want 1", n)
		}
		// A count is forgotten Forget after the last attempt, and the sweep
		// drops it.
		begin(stranger)
		begin(stranger)
		clk.add(policy.Forget)
		if n, wait := begin(stranger); n != 1 || wait != 0 {
			t.Fatalf("after Forget: n %d, wait %v", n, wait)
		}
		// Forget of a subject clears every client.
		begin(holder)
		if err := th.Forget(ctx, "download", holder.Subject); err != nil {
			t.Fatal(err)
		}
		for _, k := range []throttle.Key{stranger, holder} {
			if n, err := th.Failures(ctx, k); err != nil || n != 0 {
				t.Errorf("%s after Forget: %d, %v", k.Client, n, err)
			}
		}

		// Two instances on one database, eight attempts at once when the
		// next failure starts a wait: exactly one goes ahead.
		other := throttle.New(storetest.OpenURL(t, url), policy, clk.now)
		race := throttle.Key{Scope: "login", Subject: "220102", Client: "192.0.2.99"}
		for range policy.Free {
			if _, err := th.Begin(ctx, race); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ahead, waited := 0, 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inst := th
				if i%2 == 1 {
					inst = other
				}
				_, err := inst.Begin(ctx, race)
				var we *throttle.WaitError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ahead++
				case errors.As(err, &we):
					waited++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ahead != 1 || waited != 7 {
			t.Errorf("8 concurrent attempts: %d went ahead, %d waited; want 1 and 7", ahead, waited)
		}
		if n, err := th.Failures(ctx, race); err != nil || n != policy.Free+1 {
			t.Errorf("after the race: %d failures, %v; want %d", n, err, policy.Free+1)
		}

		for _, bad := range []throttle.Key{{}, {Scope: "login", Subject: "x"}, {Scope: "login", Subject: string(make([]byte, throttle.MaxKeyPart+1)), Client: "c"}} {
			if _, err := th.Begin(ctx, bad); !errors.Is(err, throttle.ErrInvalid) {
				t.Errorf("Begin(%q/%d bytes/%q) = %v, want ErrInvalid", bad.Scope, len(bad.Subject), bad.Client, err)
			}
		}
	})
}
