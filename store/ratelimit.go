package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// maxRateKeyLen bounds a rate-limit key (say "login:" and an address or a
// username), so a caller cannot be made to store arbitrary amounts.
const maxRateKeyLen = 256

// Hit is a fixed-window counter in the table rate_limits, one row per key
// and window. One upsert both counts and decides: it inserts the window's
// row with count 1, or adds one to the count while it is below limit, and
// returns the new count; when the count has reached limit it changes
// nothing and returns no row, which means "denied". The row lock that the
// upsert holds until it commits (PostgreSQL) or the database write lock
// (SQLite) makes concurrent hits, from this process or another, count one
// after the other, so no window ever admits more than limit. A denied hit
// writes nothing, so a flood does not grow the count.
func (s *DB) Hit(ctx context.Context, key string, window time.Duration, limit int) (bool, error) {
	switch {
	case key == "" || len(key) > maxRateKeyLen:
		return false, fmt.Errorf("rate limit: %w: key of %d bytes, want 1 to %d", ErrInvalid, len(key), maxRateKeyLen)
	case window < time.Microsecond:
		return false, fmt.Errorf("rate limit %q: %w: window %v is shorter than a microsecond", key, ErrInvalid, window)
	case limit < 1:
		return false, fmt.Errorf("rate limit %q: %w: limit %d", key, ErrInvalid, limit)
	}
	w := window.Microseconds()
	t := s.now()
	start := t.UnixMicro() - t.UnixMicro()%w
	var n int
	err := s.w.QueryRowContext(ctx, `INSERT INTO rate_limits (key, window_start, window_end, count)
		VALUES ($1, $2, $3, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
		WHERE rate_limits.count < $4
		RETURNING count`,
		key, s.d.timeArg(time.UnixMicro(start).UTC()), s.d.timeArg(time.UnixMicro(start+w).UTC()), limit).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rate limit %q: %w", key, s.wrap(err))
	}
	if n == 1 {
		// A new window: drop this key's ended ones. Best effort, on the
		// primary key; DeleteExpiredRateLimits sweeps whatever is left.
		_, _ = s.w.ExecContext(ctx, `DELETE FROM rate_limits WHERE key = $1 AND window_end <= $2`, key, s.d.timeArg(t))
	}
	return true, nil
}

// DeleteExpiredRateLimits drops ended windows and forgotten throttle
// records (throttle.go), and returns how many rows it dropped.
func (s *DB) DeleteExpiredRateLimits(ctx context.Context) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM rate_limits WHERE window_end <= $1`, s.d.timeArg(s.now()))
	if err != nil {
		return 0, fmt.Errorf("delete expired rate limits: %w", s.wrap(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired rate limits: %w", err)
	}
	m, err := s.deleteExpiredThrottles(ctx)
	return n + m, err
}
