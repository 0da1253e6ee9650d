// Package store keeps cardseal's records: the registry of organisations,
// staff users and their sessions, cards with every PDF revision and seal
// record and the documents of their procedure, the card number counters,
// rate-limit counters and the hash-chained audit log. One file per kind of
// record (orgs.go, staff.go, cards.go, documents.go, audit.go, …).
//
// It implements the storage ports the other packages declare
// (lifecycle.Registry, staff.Store, audit.Log, …) and decides no rule: it
// knows no seal-chain policy and signs nothing. One type, DB, serves both
// backends: SQLite (modernc.org/sqlite, pure Go, the embedded default) and
// PostgreSQL (pgx/v5). Open picks one from the URL and applies the
// embedded, versioned migrations.
//
// Sealing is the operation the package exists to get right: AddSeal commits
// a card's new PDF revision, its seal record, the status change and the
// audit event in one transaction that is serialised per card, so two staff
// sealing one card at once yield one seal and one ErrConflict, and a crash
// leaves the card exactly as it was.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalid: the caller passed a malformed value (a programming error,
// not a condition of the data); nothing was written. The conditions
// callers branch on are the registry's sentinels (card.ErrNotFound,
// card.ErrConflict, card.ErrDuplicate), org.ErrUnknown and staff's.
var ErrInvalid = errors.New("invalid argument")

// Open parses a database URL (ParseURL) and opens the store it names.
func Open(ctx context.Context, url string) (*DB, error) {
	u, err := ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return OpenURL(ctx, u)
}

// OpenURL opens the store at a parsed database URL and applies pending
// migrations.
func OpenURL(ctx context.Context, u URL) (*DB, error) {
	switch u.Backend {
	case Postgres:
		return openPostgres(ctx, u)
	case SQLite:
		return openSQLite(ctx, u.Path)
	}
	return nil, fmt.Errorf("open store: %w: no database URL", ErrInvalid)
}

// now is the store's clock: UTC, truncated to the microsecond that both
// backends keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}
