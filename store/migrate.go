package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrations holds one directory per dialect of files named
// NNNN_description.sql. A migration is never edited once released; a
// change is a new file with the next number, in both directories.
//
//go:embed migrations
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and _", name)
		}
		b, err := migrations.ReadFile(path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	// Numbers are handed to parallel branches in advance, so a branch
	// may hold 8 before 7 is merged: a gap is allowed, a repeated number
	// is not. The database records every version applied (not just the
	// highest), so a lower number merged later is applied at the next
	// start.
	for i := range out {
		if i > 0 && out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migration %s: version %d is used twice", out[i].name, out[i].version)
		}
	}
	return out, nil
}

// migrate applies the pending migrations in one transaction. Concurrent
// Opens serialise: PostgreSQL on a transaction-scoped advisory lock,
// SQLite on its write lock (the writer's transactions begin IMMEDIATE).
func (s *DB) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.d.name)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if s.d.name == "postgres" {
			// The key is arbitrary but fixed: "cardseal" as an integer.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7161987213414589804)`); err != nil {
				return fmt.Errorf("migrate: lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at text NOT NULL
		)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		applied := map[int]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return fmt.Errorf("migrate: %w", err)
			}
			applied[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		known := map[int]bool{}
		for _, m := range ms {
			known[m.version] = true
		}
		for v := range applied {
			if !known[v] {
				return fmt.Errorf("migrate: the database has version %d, which this program does not know (newer)", v)
			}
		}
		for _, m := range ms {
			if applied[m.version] {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migrate: apply %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, now().Format("2006-01-02T15:04:05.000000Z")); err != nil {
				return fmt.Errorf("migrate: record %s: %w", m.name, err)
			}
		}
		return nil
	})
}
