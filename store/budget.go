package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Spend is Hit with an amount: it adds amount to key's total in the
// current fixed window (table rate_limits, as Hit) if the total stays
// within limit, in one upsert, so concurrent spenders in this process or
// another never take the total past limit; a refused amount writes
// nothing.
func (s *DB) Spend(ctx context.Context, key string, window time.Duration, amount, limit int) (bool, error) {
	switch {
	case key == "" || len(key) > maxRateKeyLen:
		return false, fmt.Errorf("budget: %w: key of %d bytes, want 1 to %d", ErrInvalid, len(key), maxRateKeyLen)
	case window < time.Microsecond:
		return false, fmt.Errorf("budget %q: %w: window %v is shorter than a microsecond", key, ErrInvalid, window)
	case limit < 1 || limit > 1<<31-1:
		return false, fmt.Errorf("budget %q: %w: limit %d", key, ErrInvalid, limit)
	case amount < 1:
		return false, fmt.Errorf("budget %q: %w: amount %d", key, ErrInvalid, amount)
	case amount > limit:
		return false, nil
	}
	w := window.Microseconds()
	t := s.now()
	start := t.UnixMicro() - t.UnixMicro()%w
	var n int
	err := s.w.QueryRowContext(ctx, `INSERT INTO rate_limits (key, window_start, window_end, count)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + $4
		WHERE rate_limits.count + $4 <= $5
		RETURNING count`,
		key, s.d.timeArg(time.UnixMicro(start).UTC()), s.d.timeArg(time.UnixMicro(start+w).UTC()), amount, limit).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("budget %q: %w", key, s.wrap(err))
	}
	return true, nil
}
