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

		// try makes one attempt of k that fails (or succeeds) and
		// returns the failures it made, or the wait it was told.
		try := func(k throttle.Key, right bool) (int, time.Duration) {
			t.Helper()
			at, err := th.Begin(ctx, k)
			var we *throttle.WaitError
			if errors.As(err, &we) {
				return 0, we.RetryAfter
			}
			if err != nil {
				t.Fatal(err)
			}
			if right {
				err = at.Succeeded(ctx)
			} else {
				err = at.Failed(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			return at.Failures(), 0
		}
		failures := func(k throttle.Key) int {
			t.Helper()
			n, err := th.Failures(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		// Right answers with nothing counted write nothing.
		if n, wait := try(holder, true); n != 1 || wait != 0 || failures(holder) != 0 {
			t.Fatalf("right answer: n %d, wait %v, %d failures counted", n, wait, failures(holder))
		}
		// Two free failures and the third: each attempt goes through.
		for i := 1; i <= 3; i++ {
			if n, wait := try(stranger, false); n != i || wait != 0 {
				t.Fatalf("attempt %d: n %d, wait %v", i, n, wait)
			}
		}
		// Now the stranger waits First, then twice as long after the
		// next failure, and so on; the holder never waits.
		for round, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 80 * time.Second} {
			if _, wait := try(stranger, true); wait != want {
				t.Fatalf("round %d: wait %v, want %v", round, wait, want)
			}
			if _, wait := try(holder, false); wait != 0 {
				t.Fatalf("round %d: holder waits %v", round, wait)
			}
			if _, wait := try(holder, true); wait != 0 || failures(holder) != 0 {
				t.Fatalf("round %d: holder waits %v, %d failures left", round, wait, failures(holder))
			}
			clk.add(want - time.Second)
			if _, wait := try(stranger, false); wait != time.Second {
				t.Fatalf("round %d: a second early: wait %v", round, wait)
			}
			clk.add(time.Second)
			if n, wait := try(stranger, false); wait != 0 || n != 4+round {
				t.Fatalf("round %d: after the wait: n %d, wait %v", round, n, wait)
			}
		}
		// A fraction of a second still to wait is a whole second.
		clk.add(80*time.Second - 300*time.Millisecond)
		if _, wait := try(stranger, false); wait != time.Second {
			t.Fatalf("300 ms left: wait %v, want 1s", wait)
		}
		// An attempt that could start a wait is counted when it begins:
		// a crash before it reports leaves it counted.
		clk.add(time.Second)
		if _, err := th.Begin(ctx, stranger); err != nil {
			t.Fatal(err)
		}
		if n := failures(stranger); n != 9 {
			t.Fatalf("an attempt in the wait zone is not counted in advance: %d failures, want 9", n)
		}
		// A success clears the count.
		clk.add(80 * time.Second)
		if _, wait := try(stranger, true); wait != 0 || failures(stranger) != 0 {
			t.Fatalf("a success: wait %v, %d failures left", wait, failures(stranger))
		}
		// A count is forgotten Forget after the last failure.
		try(stranger, false)
		try(stranger, false)
		clk.add(policy.Forget)
		if n, wait := try(stranger, false); n != 1 || wait != 0 {
			t.Fatalf("after Forget: n %d, wait %v", n, wait)
		}
		// Forget of a subject clears every client.
		try(holder, false)
		if err := th.Forget(ctx, "download", holder.Subject); err != nil {
			t.Fatal(err)
		}
		for _, k := range []throttle.Key{stranger, holder} {
			if n := failures(k); n != 0 {
				t.Errorf("%s after Forget: %d failures", k.Client, n)
			}
		}

		// Two instances on one database, eight wrong attempts at once.
		other := throttle.New(storetest.OpenURL(t, url), policy, clk.now)
		race := func(k throttle.Key) (ahead, waited int) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					inst := th
					if i%2 == 1 {
						inst = other
					}
					at, err := inst.Begin(ctx, k)
					if err == nil {
						err = at.Failed(ctx)
					}
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
			return ahead, waited
		}
		// When the next failure starts a wait, exactly one goes ahead.
		edge := throttle.Key{Scope: "login", Subject: "220102", Client: "192.0.2.99"}
		for range policy.Free {
			try(edge, false)
		}
		if ahead, waited := race(edge); ahead != 1 || waited != 7 {
			t.Errorf("8 concurrent attempts when the next starts a wait: %d went ahead, %d waited; want 1 and 7", ahead, waited)
		}
		if n := failures(edge); n != policy.Free+1 {
			t.Errorf("after the race: %d failures, want %d", n, policy.Free+1)
		}
		// From a clean count at least the free ones go ahead, and every
		// failure that went ahead is counted: none is lost to the race.
		clean := throttle.Key{Scope: "login", Subject: "220102", Client: "192.0.2.98"}
		ahead, waited := race(clean)
		if ahead < policy.Free+1 || ahead+waited != 8 || failures(clean) != ahead {
			t.Errorf("8 concurrent attempts on a clean count: %d went ahead, %d waited, %d failures counted", ahead, waited, failures(clean))
		}

		for _, bad := range []throttle.Key{{}, {Scope: "login", Subject: "x"}, {Scope: "login", Subject: string(make([]byte, throttle.MaxKeyPart+1)), Client: "c"}} {
			if _, err := th.Begin(ctx, bad); !errors.Is(err, throttle.ErrInvalid) {
				t.Errorf("Begin(%q/%d bytes/%q) = %v, want ErrInvalid", bad.Scope, len(bad.Subject), bad.Client, err)
			}
		}
	})
}
