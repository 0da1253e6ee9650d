// Package throttle slows down the guessing of a secret — a staff
// password, a holder's ID number — by whoever tries it: it counts the
// failures of each (subject, client) pair and makes that pair wait longer
// after every failure beyond a few free ones. The count is per client, so
// a stranger's wrong guesses delay the stranger and never the person the
// secret belongs to, trying from elsewhere; the rule "how long to wait
// after n failures" lives here, once, for every kind of secret.
//
// The counts are kept in a Store shared by every instance of the service
// (package store implements it), and every decision takes its time from
// an injected clock, so tests move the clock instead of sleeping.
package throttle

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Key names one throttled pair: Scope is the kind of secret ("login",
// "download", "track"), Subject whose it is (a username, a card), Client
// who is trying (an IP address).
type Key struct {
	Scope, Subject, Client string
}

// MaxKeyPart bounds each part of a key in bytes, so a caller cannot be
// made to store arbitrary amounts.
const MaxKeyPart = 128

// Check reports whether every part of k is 1 to MaxKeyPart bytes.
func (k Key) Check() error {
	for _, p := range []string{k.Scope, k.Subject, k.Client} {
		if p == "" || len(p) > MaxKeyPart {
			return fmt.Errorf("%w: throttle key %q/%q/%q: each part 1 to %d bytes", ErrInvalid, k.Scope, k.Subject, k.Client, MaxKeyPart)
		}
	}
	return nil
}

// Record is what the store keeps of a key.
type Record struct {
	// Failures counts the key's failures since its last success (an
	// attempt that could start a wait is counted when it begins; see
	// Begin).
	// Zero means the key has no record.
	Failures int
	// NotBefore: no attempt is allowed before this time.
	NotBefore time.Time
	// Expires: the record is forgotten after this time.
	Expires time.Time
}

// Store keeps the records, shared by every instance.
type Store interface {
	// Throttle returns k's record; the zero Record if there is none.
	Throttle(ctx context.Context, k Key) (Record, error)
	// SetThrottle stores next as k's record if k's stored record still
	// counts prev failures (0: there is none), and reports whether it
	// did: two attempts that read the same record cannot both go ahead.
	SetThrottle(ctx context.Context, k Key, prev int, next Record) (bool, error)
	// ClearThrottle forgets k.
	ClearThrottle(ctx context.Context, k Key) error
	// ClearThrottles forgets every client's record of scope and subject
	// (an administrator reset the password).
	ClearThrottles(ctx context.Context, scope, subject string) error
}

// ErrInvalid: a malformed key or policy (a programming error).
var ErrInvalid = errors.New("invalid throttle argument")

// ErrContention: a failure could not be counted because other attempts
// of the key kept changing the count.
var ErrContention = errors.New("throttle count contended")

// WaitError refuses an attempt: the client must wait RetryAfter, a whole
// number of seconds (HTTP's Retry-After counts in seconds), at least one.
type WaitError struct {
	Key        Key
	Failures   int
	RetryAfter time.Duration
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("%s of %q from %s delayed after %d failures: retry after %v", e.Key.Scope, e.Key.Subject, e.Key.Client, e.Failures, e.RetryAfter)
}

// Policy is how the delay grows. The first Free failures cost nothing
// (typing mistakes); failure Free+1 makes the client wait First, and
// every further one doubles the wait, up to Max. A key is forgotten Forget
// after its last attempt.
type Policy struct {
	Free   int
	First  time.Duration
	Max    time.Duration
	Forget time.Duration
}

// Check reports whether the policy is usable.
func (p Policy) Check() error {
	if p.Free < 0 || p.First <= 0 || p.Max < p.First || p.Forget < p.Max {
		return fmt.Errorf("%w: policy %+v: want Free ≥ 0, 0 < First ≤ Max ≤ Forget", ErrInvalid, p)
	}
	return nil
}

// Delay is the wait after n failures: 0 for n ≤ Free, then First, 2·First,
// 4·First, … never more than Max.
func (p Policy) Delay(n int) time.Duration {
	if n <= p.Free {
		return 0
	}
	d := p.First
	for i := p.Free + 1; i < n; i++ {
		if d >= p.Max/2 {
			return p.Max
		}
		d *= 2
	}
	return min(d, p.Max)
}

// Throttle decides attempts of one policy over a store.
type Throttle struct {
	store  Store
	policy Policy
	now    func() time.Time
}

// New returns a throttle; now is its clock. It panics on an unusable
// policy (a programming error, as for regexp.MustCompile).
func New(st Store, p Policy, now func() time.Time) *Throttle {
	if err := p.Check(); err != nil {
		panic(err)
	}
	return &Throttle{store: st, policy: p, now: now}
}

// Policy returns the throttle's policy.
func (t *Throttle) Policy() Policy { return t.policy }

// Attempt is one try of a secret that Begin let through. The caller
// reports how it went: Failed or Succeeded.
type Attempt struct {
	t   *Throttle
	k   Key
	n   int
	pre bool // counted as a failure in advance (a wait is at stake)
	had bool // the key had a count when the attempt began
}

// Failures is the number of failures in a row of the key if this attempt
// fails (for the audit log).
func (a *Attempt) Failures() int { return a.n }

// Begin starts an attempt of k. While k must wait it returns a *WaitError
// and the caller must not try the secret at all.
//
// An attempt whose failure would make a wait due is counted as a failure
// before the secret is tried, with a compare-and-set on the stored count:
// so concurrent attempts, on this instance or another, cannot outrun the
// delay — each needs an increment of its own, and the one that makes the
// wait due sets it for every attempt after it. An attempt within the free
// failures writes nothing until it fails (Failed), so right answers cost
// one read, honest parallel attempts (two tabs sealing at once) are never
// refused, and a crash in the middle leaves no phantom failure behind.
// Parallel wrong attempts within the free ones are each let through, but
// each is counted, so the wait that follows is the longer.
func (t *Throttle) Begin(ctx context.Context, k Key) (*Attempt, error) {
	if err := k.Check(); err != nil {
		return nil, err
	}
	for range maxRetries {
		now := t.now()
		rec, err := t.store.Throttle(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("throttle %s: %w", k.Scope, err)
		}
		failures := t.effective(rec, now)
		// Only a delay the policy asks for is waited out: with none
		// due, a NotBefore from an instance whose clock runs a little
		// ahead holds nobody up.
		if t.policy.Delay(failures) > 0 && now.Before(rec.NotBefore) {
			return nil, &WaitError{Key: k, Failures: failures, RetryAfter: seconds(rec.NotBefore.Sub(now))}
		}
		n := failures + 1
		a := &Attempt{t: t, k: k, n: n, had: rec.Failures > 0}
		if t.policy.Delay(n) == 0 {
			return a, nil
		}
		ok, err := t.store.SetThrottle(ctx, k, rec.Failures, t.record(n, now))
		if err != nil {
			return nil, fmt.Errorf("throttle %s: %w", k.Scope, err)
		}
		if ok {
			a.pre, a.had = true, true
			return a, nil
		}
		// Another attempt of k counted itself since we read: read again.
	}
	// Every try lost to another attempt of k: a flood of them; this one
	// waits.
	return nil, &WaitError{Key: k, Failures: t.policy.Free + 1, RetryAfter: seconds(t.policy.First)}
}

// maxRetries bounds the compare-and-set loops. Each lost try means
// another attempt's increment succeeded, so a loop always progresses;
// the bound only stops a flood of parallel attempts from holding a
// request.
const maxRetries = 16

func (t *Throttle) effective(rec Record, now time.Time) int {
	if rec.Failures > 0 && !now.Before(rec.Expires) {
		return 0 // forgotten
	}
	return rec.Failures
}

func (t *Throttle) record(n int, now time.Time) Record {
	return Record{Failures: n, NotBefore: now.Add(t.policy.Delay(n)), Expires: now.Add(t.policy.Forget)}
}

// Failed counts the attempt's failure (unless Begin counted it already).
func (a *Attempt) Failed(ctx context.Context) error {
	if a.pre {
		return nil
	}
	t := a.t
	for range maxRetries {
		now := t.now()
		rec, err := t.store.Throttle(ctx, a.k)
		if err != nil {
			return fmt.Errorf("throttle %s: %w", a.k.Scope, err)
		}
		n := t.effective(rec, now) + 1
		ok, err := t.store.SetThrottle(ctx, a.k, rec.Failures, t.record(n, now))
		if err != nil {
			return fmt.Errorf("throttle %s: %w", a.k.Scope, err)
		}
		if ok {
			a.n, a.pre = n, true
			return nil
		}
	}
	return fmt.Errorf("throttle %s: %w: the count kept changing", a.k.Scope, ErrContention)
}

// Succeeded clears the key's count after the attempt turned out right.
func (a *Attempt) Succeeded(ctx context.Context) error {
	if !a.had && !a.pre {
		return nil // nothing counted
	}
	if err := a.t.store.ClearThrottle(ctx, a.k); err != nil {
		return fmt.Errorf("throttle %s: %w", a.k.Scope, err)
	}
	return nil
}

// seconds rounds d up to a whole number of seconds, at least one.
func seconds(d time.Duration) time.Duration {
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}

// Failures returns how many failures k has counted now (0 once forgotten).
func (t *Throttle) Failures(ctx context.Context, k Key) (int, error) {
	rec, err := t.store.Throttle(ctx, k)
	if err != nil || !t.now().Before(rec.Expires) {
		return 0, err
	}
	return rec.Failures, nil
}

// Forget clears every client's count of scope and subject.
func (t *Throttle) Forget(ctx context.Context, scope, subject string) error {
	return t.store.ClearThrottles(ctx, scope, subject)
}
