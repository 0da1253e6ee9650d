// Package tsatest gives tests a time-stamping authority without a
// registry: an in-memory serial counter whose reference clock is the
// authority's own (no drift). The shared counter of a real service is
// package store's, with its own tests.
package tsatest

import (
	"context"
	"sync"
	"time"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/tsa"
)

// Counter is an in-memory tsa.Serials.
type Counter struct {
	mu sync.Mutex
	n  int64
	// Ref is the reference clock (default time.Now).
	Ref func() time.Time
}

// NextTimestampSerial implements tsa.Serials.
func (c *Counter) NextTimestampSerial(context.Context) (int64, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	ref := time.Now
	if c.Ref != nil {
		ref = c.Ref
	}
	return c.n, ref(), nil
}

// New returns an authority over the keystore's TSA key whose clock and
// reference clock are now (time.Now when nil).
func New(ks interface {
	TSAIdentity() (*keys.Identity, error)
}, now func() time.Time) (*tsa.Authority, error) {
	id, err := ks.TSAIdentity()
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return tsa.New(id, &Counter{Ref: now}, tsa.Options{Now: now})
}
