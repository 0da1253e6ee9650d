package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// openPostgres opens a PostgreSQL store through database/sql with the pgx
// stdlib driver rather than a native pgxpool: both backends then share one
// implementation (queries, scanning, transactions), and the store needs
// nothing that only the native interface offers (no COPY, batches or
// LISTEN). The connections are still pgx's, with its URL syntax: any
// unknown query parameter, such as search_path, becomes a run-time
// parameter of every connection.
//
// Write transactions run at READ COMMITTED and lock what they change
// (SELECT … FOR UPDATE on the card row, then on the audit chain head), so
// two transactions sealing one card are serialised: the second sees the
// first's committed revision and reports ErrConflict.
func openPostgres(ctx context.Context, u URL) (*DB, error) {
	cfg, err := pgx.ParseConfig(u.raw)
	if err != nil {
		return nil, fmt.Errorf("open postgres %q: %w: %w", u, ErrInvalid, err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(5)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open postgres %q: %w", u, err)
	}
	s := &DB{
		d: dialect{
			name:      "postgres",
			forUpdate: " FOR UPDATE",
			timeArg:   postgresTime,
			snapshot:  sql.LevelRepeatableRead,
			classify:  classifyPostgres,
		},
		r: db,
		w: db,
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open postgres %q: %w", u, err)
	}
	return s, nil
}

func classifyPostgres(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "23505": // unique_violation
		return errUnique
	case "23503": // foreign_key_violation
		return errForeignKey
	case "40001", "40P01": // serialization_failure, deadlock_detected: retryable
		return errRetry
	}
	return nil
}
