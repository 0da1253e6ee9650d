package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// Backups of the SQLite backend. A snapshot is a self-contained SQLite
// file (rollback journal, no -wal beside it) written by VACUUM INTO on a
// connection of its own: a read transaction, so it sees one committed
// state of the database while a server keeps sealing, and it blocks no
// writer. PostgreSQL is backed up with pg_dump (see docs/operations.md).

// ErrExists is returned by Restore when the target database exists and
// force was not given, and by Snapshot when the output file exists.
var ErrExists = errors.New("file exists")

// ErrInUse is returned by Restore when another connection (a running
// server) has the target database open.
var ErrInUse = errors.New("database in use")

// SnapshotInfo describes a snapshot file.
type SnapshotInfo struct {
	Path        string
	Size        int64
	SM3         []byte // of the file, for the operator's record
	Version     int    // highest applied migration
	Orgs        int64
	Users       int64
	Cards       int64
	Seals       int64
	AuditEvents int64
}

// rawSQLite opens one connection to an existing SQLite file without
// applying migrations or changing its journal mode. mode is "rw" or "ro";
// immutable marks a file nobody else writes (a snapshot), so SQLite
// creates no -shm or -wal beside it.
func rawSQLite(path, mode string, immutable bool) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("mode", mode)
	if immutable {
		q.Set("immutable", "1")
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: abs}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// Snapshot writes a consistent copy of the SQLite database at db to out, which must not exist, while other connections and processes keep
// writing. The copy is written beside out under a temporary name, synced,
// checked (PRAGMA integrity_check, migrations table present) and only
// then given its name. It does not migrate the live database.
func Snapshot(ctx context.Context, db URL, out string) (*SnapshotInfo, error) {
	if db.Backend != SQLite {
		return nil, fmt.Errorf("snapshot: %w: %s is not a SQLite database", ErrInvalid, db)
	}
	src := db.Path
	if _, err := os.Lstat(out); err == nil {
		return nil, fmt.Errorf("snapshot: %w: %s", ErrExists, out)
	}
	conn, err := rawSQLite(src, "rw", false)
	if err != nil {
		return nil, fmt.Errorf("snapshot: open %s: %w", src, err)
	}
	defer conn.Close()
	tmp := fmt.Sprintf("%s.tmp-%d", out, time.Now().UnixNano())
	defer os.Remove(tmp)
	// VACUUM INTO takes a file name, not a parameter; quote it as an SQL
	// string literal.
	if _, err := conn.ExecContext(ctx, `VACUUM INTO '`+strings.ReplaceAll(tmp, "'", "''")+`'`); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", src, err)
	}
	// The copy holds what the database holds: staff password hashes and
	// the (encrypted) applicants. Only the owner reads it.
	if err := os.Chmod(tmp, 0o600); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	info, err := Inspect(ctx, tmp)
	if err != nil {
		return nil, fmt.Errorf("snapshot: check the copy: %w", err)
	}
	// Link fails if out appeared meanwhile: never overwrite.
	if err := os.Link(tmp, out); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("snapshot: %w: %s", ErrExists, out)
		}
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	info.Path = out
	return info, nil
}

// Inspect checks a snapshot file without changing it: it must be a
// SQLite database that passes PRAGMA integrity_check and holds the store's
// tables. It returns what the snapshot holds.
func Inspect(ctx context.Context, path string) (*SnapshotInfo, error) {
	db, err := rawSQLite(path, "ro", true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return nil, fmt.Errorf("%s: not a readable SQLite database: %w", path, err)
	}
	if res != "ok" {
		return nil, fmt.Errorf("%s: integrity check: %s", path, res)
	}
	info := &SnapshotInfo{Path: path}
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&info.Version); err != nil {
		return nil, fmt.Errorf("%s: not a cardseal database: %w", path, err)
	}
	for _, c := range []struct {
		n     *int64
		table string
	}{{&info.Orgs, "orgs"}, {&info.Users, "users"}, {&info.Cards, "cards"}, {&info.Seals, "seals"}, {&info.AuditEvents, "audit_events"}} {
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+c.table).Scan(c.n); err != nil {
			return nil, fmt.Errorf("%s: not a cardseal database: %w", path, err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sm3.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, err
	}
	info.Size, info.SM3 = n, h.Sum(nil)
	return info, nil
}

// RestoreInfo describes a restore.
type RestoreInfo struct {
	SnapshotInfo
	Target string // the database file now holding the snapshot
	Aside  string // where the database it replaced was moved ("" if none)
}

// Restore makes the snapshot at in the SQLite database at db. It
// refuses (ErrExists) if the database exists unless force is set, and
// refuses (ErrInUse) to replace a database another connection has open.
// The snapshot is checked, copied beside the target, opened as a store
// (pending migrations applied, audit chain verified), turned back into a
// single self-contained file and then renamed into place; a replaced
// database is kept beside it as NAME.before-restore-TIME.
func Restore(ctx context.Context, in string, db URL, force bool) (*RestoreInfo, error) {
	if db.Backend != SQLite {
		return nil, fmt.Errorf("restore: %w: %s is not a SQLite database", ErrInvalid, db)
	}
	target := db.Path
	info, err := Inspect(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	exists := false
	if _, err := os.Lstat(target); err == nil {
		exists = true
		if !force {
			return nil, fmt.Errorf("restore: %w: %s", ErrExists, target)
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	tmp := fmt.Sprintf("%s.restore-%d", target, time.Now().UnixNano())
	cleanup := func() {
		for _, s := range []string{"", "-wal", "-shm", "-journal"} {
			_ = os.Remove(tmp + s)
		}
	}
	defer cleanup()
	if err := copyFile(in, tmp); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	st, err := openSQLite(ctx, tmp)
	if err != nil {
		return nil, fmt.Errorf("restore: the snapshot does not open as a store: %w", err)
	}
	if bad, err := st.VerifyAudit(ctx); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("restore: audit log of the snapshot (event %d): %w", bad, err)
	}
	if err := st.Close(); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	// Back to a rollback journal: this checkpoints the WAL into the file
	// and removes it, so the one file renamed below holds everything.
	if err := toRollbackJournal(ctx, tmp); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	res := &RestoreInfo{SnapshotInfo: *info, Target: target}
	res.Path = in
	if exists {
		// Fails with SQLITE_BUSY while a server has it open; on success
		// its WAL is folded in, so the file moved aside is complete.
		if err := toRollbackJournal(ctx, target); err != nil {
			return nil, fmt.Errorf("restore: %w: %s: %w", ErrInUse, target, err)
		}
		res.Aside = target + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(target, res.Aside); err != nil {
			return nil, fmt.Errorf("restore: move the old database aside: %w", err)
		}
		for _, s := range []string{"-wal", "-shm"} {
			if err := os.Remove(target + s); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("restore: %w", err)
			}
		}
	}
	if err := os.Rename(tmp, target); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(filepath.Dir(target)); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return res, nil
}

// toRollbackJournal switches a database file to journal_mode=DELETE. It
// needs the only connection to the file: otherwise SQLite answers busy.
func toRollbackJournal(ctx context.Context, path string) error {
	q := url.Values{}
	q.Set("mode", "rw")
	q.Add("_pragma", "busy_timeout(0)")
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: abs}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode=DELETE`).Scan(&mode); err != nil {
		return err
	}
	if mode != "delete" {
		return fmt.Errorf("journal mode is still %s", mode)
	}
	return nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		_ = dst.Close()
		return err
	}
	return dst.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems cannot sync a directory; the rename is still done.
	_ = d.Sync()
	return nil
}
