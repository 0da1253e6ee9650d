package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/jackc/pgx/v5"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/internal/testdb"
)

// Bulk loading for benchmarks that need a registry of a million cards
// (lifecycle's BenchmarkScale). Through the store's own API every card is
// a transaction of its own, with the audit event and, on SQLite, an fsync:
// hours for a million. Load writes the same rows straight into the tables,
// a few thousand per statement (SQLite) or with COPY (PostgreSQL), in
// minutes. It is a test helper, not an import path for operators: it
// writes no audit events and checks no rule, and it knows the schema of
// the migrations as they are today.

// BulkCard is one card as Load writes it: the card row, its PDF revisions
// 0 … Card.Seq and the records of its seals (none, for a card whose PDF
// revisions are placeholders).
type BulkCard struct {
	Card  card.Card
	PDFs  [][]byte
	Seals []card.Seal
}

// Load writes orgs and cards into the migrated, otherwise idle store at
// url (what Open, OpenSQLite or OpenPostgres returned) and sets the card
// number counters past the highest number loaded. It returns the number
// of cards written. Afterwards it leaves the database as a running server
// would find it after a while: SQLite's log checkpointed, PostgreSQL's
// tables vacuumed and analysed (as autovacuum would).
func Load(ctx context.Context, url string, orgs []org.Org, cards iter.Seq[BulkCard]) (int, error) {
	u, err := store.ParseURL(url)
	if err != nil {
		return 0, fmt.Errorf("load: %w", err)
	}
	var l loader
	if u.Backend == store.Postgres {
		l, err = newPGLoader(ctx, url)
	} else {
		l, err = newSQLiteLoader(ctx, u.Path)
	}
	if err != nil {
		return 0, err
	}
	defer l.close()
	if err := l.orgs(ctx, orgs); err != nil {
		return 0, fmt.Errorf("load orgs: %w", err)
	}
	n, err := l.cards(ctx, cards)
	if err != nil {
		return n, fmt.Errorf("load cards: %w", err)
	}
	if err := l.finish(ctx); err != nil {
		return n, fmt.Errorf("load: %w", err)
	}
	return n, nil
}

type loader interface {
	orgs(ctx context.Context, orgs []org.Org) error
	cards(ctx context.Context, cards iter.Seq[BulkCard]) (int, error)
	// finish sets the counters and leaves the database in its steady
	// state.
	finish(ctx context.Context) error
	close()
}

// Columns written, in this order, by both loaders.
var (
	cardColumns = []string{"id", "number", "type", "status", "village_code", "county_code", "applicant",
		"token_salt", "qr_token", "status_index", "superseded_by", "status_reason", "status_note", "seq",
		"created_at", "updated_at", "created_by", "version", "couple_key", "next_level"}
	pdfColumns  = []string{"card_id", "seq", "pdf", "digest", "created_at"}
	sealColumns = []string{"card_id", "seq", "level", "org_code", "cert_serial", "signed_at", "pdf_digest", "by_user"}
)

// rows turns a card into its rows of cards, card_pdfs and seals, with
// times converted by ts.
func rows(c *BulkCard, ts func(time.Time) any) (cardRow []any, pdfs, seals [][]any, err error) {
	k := &c.Card
	if len(c.PDFs) != k.Seq+1 {
		return nil, nil, nil, fmt.Errorf("card %s at revision %d has %d PDF revisions", k.ID, k.Seq, len(c.PDFs))
	}
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	version := k.Version
	if version == 0 {
		version = 1 + k.Seq
	}
	updated := k.UpdatedAt
	if updated.IsZero() {
		updated = k.CreatedAt
	}
	cardRow = []any{k.ID, k.Number, string(k.Type), string(k.Status), k.VillageCode, k.CountyCode, k.Applicant,
		[]byte{}, null(k.QRToken), k.StatusIndex, null(k.SupersededBy), k.StatusReason, k.StatusNote, k.Seq,
		ts(k.CreatedAt), ts(updated), k.CreatedBy, version, k.CoupleKey, string(k.NextLevel)}
	for seq, pdf := range c.PDFs {
		d := sm3.Sum(pdf)
		at := k.CreatedAt
		if seq > 0 && seq <= len(c.Seals) {
			at = c.Seals[seq-1].SignedAt
		}
		pdfs = append(pdfs, []any{k.ID, seq, pdf, d[:], ts(at)})
	}
	for _, s := range c.Seals {
		seals = append(seals, []any{k.ID, s.Seq, string(s.Level), s.OrgCode, s.CertSerial, ts(s.SignedAt), s.PDFDigest, s.ByUser})
	}
	return cardRow, pdfs, seals, nil
}

func orgRow(o org.Org) []any { return []any{o.Code, string(o.Level), o.Name, o.Retired} }

// countersQuery sets every county's counter of a year to the highest
// sequence number loaded (card numbers are county, four-digit year,
// six-digit sequence).
const countersQuery = `INSERT INTO card_counters (county_code, year, last)
	SELECT substr(number, 1, 6), CAST(substr(number, 7, 4) AS INTEGER), max(CAST(substr(number, 11, 6) AS INTEGER))
	FROM cards WHERE length(number) = 16 GROUP BY 1, 2`

// sqliteLoader writes through a connection of its own, with the page
// cache large enough to hold the indexes and without fsync: a crashed
// load is thrown away.
type sqliteLoader struct{ db *sql.DB }

func newSQLiteLoader(ctx context.Context, path string) (*sqliteLoader, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(15000)", "foreign_keys(1)", "synchronous(OFF)", "cache_size(-1048576)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("bulk load %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return &sqliteLoader{db: db}, nil
}

func (l *sqliteLoader) close() { _ = l.db.Close() }

// insert writes rows into table, batch rows per statement (SQLite allows
// 32 766 parameters in one).
func (l *sqliteLoader) insert(ctx context.Context, tx *sql.Tx, table string, cols []string, rows [][]any) error {
	const params = 32000
	batch := params / len(cols)
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for len(rows) > 0 {
		n := min(batch, len(rows))
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
		args := make([]any, 0, n*len(cols))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

func (l *sqliteLoader) orgs(ctx context.Context, orgs []org.Org) error {
	var rs [][]any
	for _, o := range orgs {
		r := orgRow(o)
		r[3] = map[bool]int{false: 0, true: 1}[o.Retired]
		rs = append(rs, r)
	}
	return l.inTx(ctx, func(tx *sql.Tx) error {
		return l.insert(ctx, tx, "orgs", []string{"code", "level", "name", "retired"}, rs)
	})
}

func (l *sqliteLoader) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func sqliteTime(t time.Time) any { return t.UTC().Truncate(time.Microsecond).UnixMicro() }

func (l *sqliteLoader) cards(ctx context.Context, cards iter.Seq[BulkCard]) (int, error) {
	// A transaction per chunk keeps the log of a million cards bounded.
	const chunk = 20000
	var cs, ps, ss [][]any
	n := 0
	flush := func() error {
		err := l.inTx(ctx, func(tx *sql.Tx) error {
			return errors.Join(l.insert(ctx, tx, "cards", cardColumns, cs),
				l.insert(ctx, tx, "card_pdfs", pdfColumns, ps),
				l.insert(ctx, tx, "seals", sealColumns, ss))
		})
		cs, ps, ss = cs[:0], ps[:0], ss[:0]
		return err
	}
	for c := range cards {
		cr, pr, sr, err := rows(&c, sqliteTime)
		if err != nil {
			return n, err
		}
		cs, ps, ss = append(cs, cr), append(ps, pr...), append(ss, sr...)
		n++
		if len(cs) == chunk {
			if err := flush(); err != nil {
				return n - chunk, err
			}
		}
	}
	if len(cs) > 0 {
		if err := flush(); err != nil {
			return n - len(cs), err
		}
	}
	return n, nil
}

func (l *sqliteLoader) finish(ctx context.Context) error {
	if err := l.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM card_counters`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, countersQuery)
		return err
	}); err != nil {
		return fmt.Errorf("counters: %w", err)
	}
	// No ANALYZE: the store never runs it, so a server's planner has no
	// statistics either.
	_, err := l.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// pgLoader copies rows in with the native protocol (COPY … FROM STDIN).
type pgLoader struct{ conn *pgx.Conn }

func newPGLoader(ctx context.Context, url string) (*pgLoader, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("bulk load: connect: %w", err)
	}
	if _, err := conn.Exec(ctx, `SET synchronous_commit = off`); err != nil {
		_ = conn.Close(ctx)
		return nil, err
	}
	return &pgLoader{conn: conn}, nil
}

func (l *pgLoader) close() { _ = l.conn.Close(context.Background()) }

func (l *pgLoader) orgs(ctx context.Context, orgs []org.Org) error {
	var rs [][]any
	for _, o := range orgs {
		rs = append(rs, orgRow(o))
	}
	_, err := l.conn.CopyFrom(ctx, pgx.Identifier{"orgs"}, []string{"code", "level", "name", "retired"}, pgx.CopyFromRows(rs))
	return err
}

func pgTime(t time.Time) any { return t.UTC().Truncate(time.Microsecond) }

func (l *pgLoader) cards(ctx context.Context, cards iter.Seq[BulkCard]) (int, error) {
	// Cards first, in one COPY, keeping the PDF and seal rows of the
	// chunk to copy after them (their foreign keys name the cards).
	const chunk = 20000
	n := 0
	next, stop := iter.Pull(cards)
	defer stop()
	for {
		var cs, ps, ss [][]any
		var err error
		for len(cs) < chunk {
			c, ok := next()
			if !ok {
				break
			}
			var cr []any
			var pr, sr [][]any
			if cr, pr, sr, err = rows(&c, pgTime); err != nil {
				return n, err
			}
			cs, ps, ss = append(cs, cr), append(ps, pr...), append(ss, sr...)
		}
		if len(cs) == 0 {
			return n, nil
		}
		tx, err := l.conn.Begin(ctx)
		if err != nil {
			return n, err
		}
		for _, t := range []struct {
			name string
			cols []string
			rows [][]any
		}{{"cards", cardColumns, cs}, {"card_pdfs", pdfColumns, ps}, {"seals", sealColumns, ss}} {
			if len(t.rows) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				_ = tx.Rollback(ctx)
				return n, fmt.Errorf("copy into %s: %w", t.name, err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return n, err
		}
		n += len(cs)
	}
}

func (l *pgLoader) finish(ctx context.Context) error {
	for _, q := range []string{`DELETE FROM card_counters`, countersQuery,
		`VACUUM ANALYZE orgs`, `VACUUM ANALYZE cards`, `VACUUM ANALYZE card_pdfs`, `VACUUM ANALYZE seals`} {
		if _, err := l.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", strings.Fields(q)[0], err)
		}
	}
	return nil
}

// KeptSchema creates the schema name afresh (dropping any old one) on the
// server named by CARDSEAL_TEST_POSTGRES and returns its URL. Unlike
// OpenPostgres's schemas it is not dropped when the test ends: a
// benchmark can fill it once and reuse it in later runs. Whoever keeps it
// drops it (scripts/bench.sh scale does).
func KeptSchema(ctx context.Context, name string) (string, error) {
	base := os.Getenv(testdb.Env)
	if base == "" {
		return "", fmt.Errorf("%s is not set", testdb.Env)
	}
	if !schemaRE.MatchString(name) {
		return "", fmt.Errorf("schema name %q", name)
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", testdb.Env, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", err
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + name, nil
}

var schemaRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
