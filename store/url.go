package store

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// Backend is the database a URL selects.
type Backend int

// The backends.
const (
	SQLite Backend = iota + 1
	Postgres
)

func (b Backend) String() string {
	switch b {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "none"
}

// URL is a database URL parsed once (ParseURL) and handed to Open,
// Snapshot and Restore: which backend, and for SQLite the file. Its
// String is the redacted form, safe for messages and logs; the password
// of a PostgreSQL URL reaches only the driver and (Libpq) the PostgreSQL
// client tools.
type URL struct {
	Backend Backend
	// Path is the SQLite database file ("" for PostgreSQL).
	Path string
	raw  string   // as given: the driver's connection string
	pg   *url.URL // a PostgreSQL URL, parsed
}

// ParseURL parses a database URL: "postgres://" or "postgresql://" with
// a host and a database selects PostgreSQL; "sqlite:///abs/path",
// "sqlite://rel/path", "sqlite:path" or a plain file path selects SQLite.
// Errors wrap ErrInvalid and never hold the password.
func ParseURL(s string) (URL, error) {
	scheme, _, found := strings.Cut(s, "://")
	switch {
	case s == "":
		return URL{}, fmt.Errorf("%w: no database URL", ErrInvalid)
	case found && (scheme == "postgres" || scheme == "postgresql"):
		u, err := url.Parse(s)
		if err != nil {
			return URL{}, fmt.Errorf("%w: not a URL: %s", ErrInvalid, redactErr(err))
		}
		if u.Host == "" || strings.Trim(u.Path, "/") == "" {
			return URL{}, fmt.Errorf("%w: a PostgreSQL URL needs a host and a database: postgres://user@host:5432/db?sslmode=…", ErrInvalid)
		}
		return URL{Backend: Postgres, raw: s, pg: u}, nil
	case found && scheme == "sqlite":
		return sqliteURL(s, strings.TrimPrefix(s, "sqlite://"))
	case strings.HasPrefix(s, "sqlite:"):
		return sqliteURL(s, strings.TrimPrefix(s, "sqlite:"))
	case found:
		return URL{}, fmt.Errorf("%w: unsupported scheme %q: use postgres://, postgresql://, sqlite:// or a file path", ErrInvalid, scheme)
	}
	return sqliteURL(s, s)
}

func sqliteURL(raw, path string) (URL, error) {
	switch {
	case path == "":
		return URL{}, fmt.Errorf("%w: a SQLite URL needs a file path", ErrInvalid)
	case strings.ContainsAny(path, "?#"):
		return URL{}, fmt.Errorf("%w: %q: a SQLite file path may not contain ? or #", ErrInvalid, path)
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return URL{}, fmt.Errorf("%w: %q: give a file path (an in-memory database cannot be shared by the pools)", ErrInvalid, path)
	}
	return URL{Backend: SQLite, Path: path, raw: raw}, nil
}

// String is the URL without its password.
func (u URL) String() string {
	switch u.Backend {
	case Postgres:
		return u.pg.Redacted()
	case SQLite:
		if u.raw == "" {
			return u.Path
		}
		return u.raw
	}
	return ""
}

// Libpq is a PostgreSQL URL as the libpq tools (pg_dump, pg_restore)
// take it: the URL without the password (which goes in PGPASSWORD, so it
// appears in no command line), pgx's run-time parameters moved into
// libpq's "options", and the schema named by search_path, if any.
type Libpq struct {
	URL      string // for the command line: no password
	Password string
	Schema   string
}

// libpqParams are the URL query parameters libpq itself knows; pgx turns
// any other into a run-time parameter.
var libpqParams = map[string]bool{
	"host": true, "hostaddr": true, "port": true, "dbname": true, "user": true, "passfile": true,
	"connect_timeout": true, "client_encoding": true, "options": true, "application_name": true,
	"sslmode": true, "sslcert": true, "sslkey": true, "sslrootcert": true, "sslcrl": true,
	"sslpassword": true, "target_session_attrs": true, "channel_binding": true, "gssencmode": true,
}

// Libpq returns the connection of a PostgreSQL URL for the libpq tools.
func (u URL) Libpq() (Libpq, error) {
	if u.Backend != Postgres {
		return Libpq{}, fmt.Errorf("%w: %s is not a PostgreSQL URL", ErrInvalid, u)
	}
	c := *u.pg
	var l Libpq
	if c.User != nil {
		l.Password, _ = c.User.Password()
		c.User = url.User(c.User.Username())
	}
	q := c.Query()
	var opts []string
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if libpqParams[k] {
			continue
		}
		for _, v := range q[k] {
			if k == "search_path" {
				l.Schema = v
			}
			opts = append(opts, "-c "+k+"="+v)
		}
		q.Del(k)
	}
	if len(opts) > 0 {
		q.Set("options", strings.TrimSpace(q.Get("options")+" "+strings.Join(opts, " ")))
	}
	// libpq decodes %20 but not + as a space.
	c.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	l.URL = c.String()
	return l, nil
}

// redactErr keeps the reason of a URL parse error without the URL (and
// its password) that url.Error quotes.
func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "malformed"
}
