package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jilin-health/cardseal/throttle"
)

// Failure counts of package throttle, one row per (scope, subject,
// client). The store only keeps them: when to wait is decided by
// package throttle.

var _ throttle.Store = (*DB)(nil)

func (s *DB) Throttle(ctx context.Context, k throttle.Key) (throttle.Record, error) {
	if err := k.Check(); err != nil {
		return throttle.Record{}, fmt.Errorf("get throttle: %w: %w", ErrInvalid, err)
	}
	var r throttle.Record
	err := s.r.QueryRowContext(ctx,
		`SELECT failures, not_before, expires_at FROM throttles WHERE scope = $1 AND subject = $2 AND client = $3`,
		k.Scope, k.Subject, k.Client).Scan(&r.Failures, dbTime{&r.NotBefore}, dbTime{&r.Expires})
	if errors.Is(err, sql.ErrNoRows) {
		return throttle.Record{}, nil
	}
	if err != nil {
		return throttle.Record{}, fmt.Errorf("get throttle %s: %w", k.Scope, s.wrap(err))
	}
	return r, nil
}

// SetThrottle is one statement: an INSERT that does nothing if the row
// exists (prev 0), or an UPDATE of the row only while it still counts
// prev failures. The row lock (PostgreSQL) or the write lock (SQLite)
// makes concurrent calls with the same prev succeed one at a time, and
// only the first finds prev still there.
func (s *DB) SetThrottle(ctx context.Context, k throttle.Key, prev int, next throttle.Record) (bool, error) {
	if err := k.Check(); err != nil {
		return false, fmt.Errorf("set throttle: %w: %w", ErrInvalid, err)
	}
	if prev < 0 || next.Failures < 1 || next.NotBefore.IsZero() || next.Expires.IsZero() {
		return false, fmt.Errorf("set throttle %s: %w: prev %d, record %+v", k.Scope, ErrInvalid, prev, next)
	}
	nb, ex := s.d.timeArg(normTime(next.NotBefore)), s.d.timeArg(normTime(next.Expires))
	var res sql.Result
	var err error
	if prev == 0 {
		res, err = s.w.ExecContext(ctx,
			`INSERT INTO throttles (scope, subject, client, failures, not_before, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
			 ON CONFLICT (scope, subject, client) DO NOTHING`,
			k.Scope, k.Subject, k.Client, next.Failures, nb, ex)
	} else {
		res, err = s.w.ExecContext(ctx,
			`UPDATE throttles SET failures = $1, not_before = $2, expires_at = $3
			 WHERE scope = $4 AND subject = $5 AND client = $6 AND failures = $7`,
			next.Failures, nb, ex, k.Scope, k.Subject, k.Client, prev)
	}
	if err != nil {
		return false, fmt.Errorf("set throttle %s: %w", k.Scope, s.wrap(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("set throttle %s: %w", k.Scope, err)
	}
	return n == 1, nil
}

func (s *DB) ClearThrottle(ctx context.Context, k throttle.Key) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM throttles WHERE scope = $1 AND subject = $2 AND client = $3`,
		k.Scope, k.Subject, k.Client); err != nil {
		return fmt.Errorf("clear throttle %s: %w", k.Scope, s.wrap(err))
	}
	return nil
}

func (s *DB) ClearThrottles(ctx context.Context, scope, subject string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM throttles WHERE scope = $1 AND subject = $2`, scope, subject); err != nil {
		return fmt.Errorf("clear throttles %s: %w", scope, s.wrap(err))
	}
	return nil
}

// deleteExpiredThrottles drops the records that package throttle has
// forgotten (DeleteExpiredRateLimits calls it).
func (s *DB) deleteExpiredThrottles(ctx context.Context) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM throttles WHERE expires_at <= $1`, s.d.timeArg(s.now()))
	if err != nil {
		return 0, fmt.Errorf("delete expired throttles: %w", s.wrap(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired throttles: %w", err)
	}
	return n, nil
}
