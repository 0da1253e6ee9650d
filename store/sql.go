package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
)

// dialect is what differs between the backends. The SQL text itself is
// shared: both accept $N placeholders, RETURNING and ON CONFLICT.
type dialect struct {
	name string
	// forUpdate is appended to the SELECT that locks a row in a write
	// transaction. SQLite needs none: its write transactions begin
	// IMMEDIATE, which takes the database's write lock up front.
	forUpdate string
	// timeArg converts a time for a query argument; zero becomes NULL.
	timeArg func(time.Time) any
	// snapshot is the isolation level of a consistent read transaction.
	snapshot sql.IsolationLevel
	// classify maps a driver error to ErrDuplicate, ErrNotFound or
	// ErrConflict, or returns nil if it is none of those.
	classify func(error) error
}

// DB implements Store over database/sql for both dialects.
type DB struct {
	d dialect
	r *sql.DB // reads
	w *sql.DB // writes; for SQLite a pool of one connection
	// clock replaces now for the rate limiter's windows in tests.
	clock func() time.Time

	// cardStmts are the card lookups prepared once: the public QR check
	// runs one per scan, and parsing and planning the query was a large
	// part of it (docs/performance.md).
	stmtMu    sync.Mutex
	cardStmts map[string]*sql.Stmt
}

// now is the store's clock for rate-limit windows.
func (s *DB) now() time.Time {
	if s.clock != nil {
		return normTime(s.clock())
	}
	return now()
}

func (s *DB) Close() error {
	s.stmtMu.Lock()
	for _, st := range s.cardStmts {
		st.Close()
	}
	s.cardStmts = nil
	s.stmtMu.Unlock()
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Conditions the dialects recognise in driver errors.
var (
	errUnique     = errors.New("unique violation")
	errForeignKey = errors.New("foreign key violation")
	errRetry      = errors.New("serialisation failure")
)

// sentinels are the errors one kind of record reports for a missing row,
// a taken unique key and a lost race.
type sentinels struct{ notFound, duplicate, conflict error }

var (
	cardErrs  = sentinels{card.ErrNotFound, card.ErrDuplicate, card.ErrConflict}
	staffErrs = sentinels{staff.ErrNotFound, staff.ErrDuplicate, card.ErrConflict}
	orgErrs   = sentinels{org.ErrUnknown, org.ErrDuplicate, card.ErrConflict}
)

// wrap maps driver errors to the registry's sentinels (cards, documents,
// audit), keeping the original.
func (s *DB) wrap(err error) error { return s.wrapAs(err, cardErrs) }

// wrapAs maps driver errors to the sentinels of one kind of record: a
// missing row and a foreign key naming a missing row are notFound, a
// unique violation duplicate, a serialisation failure conflict.
func (s *DB) wrapAs(err error, e sentinels) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return e.notFound
	}
	switch c := s.d.classify(err); c {
	case errUnique:
		return fmt.Errorf("%w: %w", e.duplicate, err)
	case errForeignKey:
		return fmt.Errorf("%w: %w", e.notFound, err)
	case errRetry:
		return fmt.Errorf("%w: %w", e.conflict, err)
	}
	return err
}

// tx runs fn in a write transaction and commits if it returns nil.
func (s *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", s.wrap(err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", s.wrap(err))
	}
	return nil
}

// dbTime scans a time stored as timestamptz (PostgreSQL) or as integer
// microseconds (SQLite); NULL is the zero time.
type dbTime struct{ t *time.Time }

func (d dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*d.t = time.Time{}
	case int64:
		*d.t = time.UnixMicro(x).UTC()
	case time.Time:
		*d.t = x.UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	return nil
}

func sqliteTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func postgresTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var (
	digitsRE    = regexp.MustCompile(`^[0-9]+$`)
	cardIDRE    = regexp.MustCompile(`^[0-9a-f]{16}$`)
	coupleKeyRE = regexp.MustCompile(`^[0-9a-f]{1,64}$`)
	termRE      = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// updated turns the result of an UPDATE of one row into an error:
// e.notFound if it matched none.
func (s *DB) updated(res sql.Result, err error, e sentinels, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, s.wrapAs(err, orgErrs))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		return fmt.Errorf("%s: %w", what, e.notFound)
	}
	return nil
}
