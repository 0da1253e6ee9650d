package api

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// limiter is a token bucket per key (a client IP), kept in memory. A
// bucket that has refilled completely carries no information and is
// dropped when the table grows, so the table stays bounded by the number
// of recently active clients.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets triggers a sweep of full buckets.
const maxBuckets = 50000

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// allow takes a token for key; when none is left it reports how long
// until one is.
func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep drops the buckets that have refilled.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// middleware limits requests per client IP.
func (l *limiter) middleware(name string, m *metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ok, wait := l.allow(c.RealIP())
			if !ok {
				m.rateLimited.WithLabelValues(name).Inc()
				secs := int(math.Ceil(wait.Seconds()))
				return &apiError{kind: kindTooMany, cause: fmt.Errorf("%s rate limit", name), retryAfter: max(secs, 1)}
			}
			return next(c)
		}
	}
}

// shared limits requests per client IP across every instance, through the
// store's fixed-window counters (issue 9: several instances behind one
// load balancer). It is used where requests are few and matter — logins —
// on top of the per-instance bucket; the public QR check keeps only the
// in-memory bucket, so that a scan costs no database write.
func (s *server) shared(name string, window time.Duration, limit int) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ok, err := s.quotas.Hit(c.Request().Context(), name+":"+c.RealIP(), window, limit)
			if err != nil {
				return err
			}
			if !ok {
				s.metrics.rateLimited.WithLabelValues(name + "_shared").Inc()
				return &apiError{kind: kindTooMany, cause: fmt.Errorf("shared %s rate limit", name), retryAfter: max(int(window.Seconds()), 1)}
			}
			return next(c)
		}
	}
}
