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
	// Failures counts the key's attempts since its last success
	// (attempts are counted as failures when they begin; see Begin).
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

// Begin starts an attempt of k. While k must wait it returns a *WaitError
// and the caller must not try the secret at all. Otherwise it counts the
// attempt as a failure before the secret is tried — so that concurrent
// attempts, on this instance or another, cannot slip in ahead of the
// delay — and returns the number of failures in a row this attempt makes
// if it fails; the caller calls Succeeded if the secret was right.
func (t *Throttle) Begin(ctx context.Context, k Key) (int, error) {
	if err := k.Check(); err != nil {
		return 0, err
	}
	now := t.now()
	rec, err := t.store.Throttle(ctx, k)
	if err != nil {
		return 0, fmt.Errorf("throttle %s: %w", k.Scope, err)
	}
	failures := rec.Failures
	if failures > 0 && !now.Before(rec.Expires) {
		failures = 0 // forgotten
	}
	// Only a delay the policy asks for is waited out: with none due, a
	// NotBefore from an instance whose clock runs a little ahead holds
	// nobody up.
	if t.policy.Delay(failures) > 0 && now.Before(rec.NotBefore) {
		return 0, &WaitError{Key: k, Failures: failures, RetryAfter: seconds(rec.NotBefore.Sub(now))}
	}
	n := failures + 1
	next := Record{Failures: n, NotBefore: now.Add(t.policy.Delay(n)), Expires: now.Add(t.policy.Forget)}
	ok, err := t.store.SetThrottle(ctx, k, rec.Failures, next)
	if err != nil {
		return 0, fmt.Errorf("throttle %s: %w", k.Scope, err)
	}
	if !ok {
		// Another attempt of k began since we read the record: this one
		// waits as if it had failed too.
		return 0, &WaitError{Key: k, Failures: n, RetryAfter: seconds(t.policy.Delay(n))}
	}
	return n, nil
}

// seconds rounds d up to a whole number of seconds, at least one.
func seconds(d time.Duration) time.Duration {
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}

// Succeeded clears k's count after an attempt that Begin allowed turned
// out right.
func (t *Throttle) Succeeded(ctx context.Context, k Key) error {
	if err := t.store.ClearThrottle(ctx, k); err != nil {
		return fmt.Errorf("throttle %s: %w", k.Scope, err)
	}
	return nil
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
