package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeoutMS is how long a connection waits for another writer (this
// process's or another's) before failing with SQLITE_BUSY.
const busyTimeoutMS = 15000

// openSQLite opens the database file at path with two pools:
//
//   - the writer: one connection, whose transactions begin IMMEDIATE, so
//     every write transaction holds SQLite's write lock from its first
//     statement; within the process the pool of one serialises writers,
//     and across processes BEGIN IMMEDIATE waits out busy_timeout. A
//     transaction that reads the card and then writes can therefore never
//     be overtaken between its read and its write.
//   - readers: several read-only connections; in WAL mode they read a
//     consistent snapshot without blocking the writer.
//
// Both use synchronous=FULL (a committed seal survives power loss) and
// foreign_keys=ON.
func openSQLite(ctx context.Context, path string) (*DB, error) {
	switch {
	case path == "":
		return nil, fmt.Errorf("open sqlite: %w: no database path", ErrInvalid)
	case strings.ContainsAny(path, "?#"):
		return nil, fmt.Errorf("open sqlite %q: %w: the path may not contain ? or #", path, ErrInvalid)
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("open sqlite %q: %w: give a file path (an in-memory database cannot be shared by the pools)", path, ErrInvalid)
	}
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous(FULL)")

	wq := url.Values{}
	for k, v := range common {
		wq[k] = append([]string(nil), v...)
	}
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first: it switches the file to WAL, which is
	// persistent, before any reader opens it.
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}

	rq := common
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	r.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))

	s := &DB{
		d: dialect{
			name:     "sqlite",
			timeArg:  sqliteTime,
			snapshot: sql.LevelDefault,
			classify: classifySQLite,
		},
		r: r,
		w: w,
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	return s, nil
}

func classifySQLite(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return errUnique
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return errForeignKey
	}
	return nil
}
