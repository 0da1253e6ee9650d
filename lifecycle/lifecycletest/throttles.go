package lifecycletest

import (
	"context"
	"time"

	"github.com/jilin-health/cardseal/throttle"
)

// ---- Throttles (throttle.Store)

var _ throttle.Store = (*Registry)(nil)

func (r *Registry) Throttle(ctx context.Context, k throttle.Key) (throttle.Record, error) {
	if err := k.Check(); err != nil {
		return throttle.Record{}, invalid("get throttle: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.throttles[k], nil
}

// SetThrottle stores next if k's record still counts prev failures (0:
// none), as the store's one-statement compare-and-set does.
func (r *Registry) SetThrottle(ctx context.Context, k throttle.Key, prev int, next throttle.Record) (bool, error) {
	if err := k.Check(); err != nil {
		return false, invalid("set throttle: %v", err)
	}
	if prev < 0 || next.Failures < 1 || next.NotBefore.IsZero() || next.Expires.IsZero() {
		return false, invalid("set throttle %s: prev %d, record %+v", k.Scope, prev, next)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.throttles[k].Failures != prev {
		return false, nil
	}
	next.NotBefore = next.NotBefore.UTC().Truncate(time.Microsecond)
	next.Expires = next.Expires.UTC().Truncate(time.Microsecond)
	r.throttles[k] = next
	return true, nil
}

func (r *Registry) ClearThrottle(ctx context.Context, k throttle.Key) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.throttles, k)
	return nil
}

func (r *Registry) ClearThrottles(ctx context.Context, scope, subject string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.throttles {
		if k.Scope == scope && k.Subject == subject {
			delete(r.throttles, k)
		}
	}
	return nil
}
