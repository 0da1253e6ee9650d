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
	"strings"
	"time"
)

// ErrInvalid: the caller passed a malformed value (a programming error,
// not a condition of the data); nothing was written. The conditions
// callers branch on are the registry's sentinels (card.ErrNotFound,
// card.ErrConflict, card.ErrDuplicate), org.ErrUnknown and staff's.
var ErrInvalid = errors.New("invalid argument")

// Open opens the store named by url and applies pending migrations.
// "postgres://…" or "postgresql://…" selects PostgreSQL; "sqlite:///abs/path",
// "sqlite://rel/path" or a plain file path selects SQLite.
func Open(ctx context.Context, url string) (*DB, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	case strings.HasPrefix(url, "sqlite://"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite://"))
	case strings.HasPrefix(url, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite:"))
	case strings.Contains(url, "://"):
		return nil, fmt.Errorf("open store: %w: unsupported database URL scheme in %q", ErrInvalid, redact(url))
	}
	return openSQLite(ctx, url)
}

// redact drops the password of a URL for error messages.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return url
	}
	userinfo := url[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return url[:scheme+3] + userinfo[:i] + ":xxxxx" + url[at:]
	}
	return url
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
