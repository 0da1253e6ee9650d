package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/verifier"
)

// Backups: the database only. The keys directory (encrypted seal keys and
// the data key that decrypts applicants) is backed up on its own, and the
// key passphrase is kept apart from both (docs/operations.md).

// backupDB resolves the database URL of a data directory.
func backupDB(dir, db string) (*config.Config, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	if db != "" {
		cfg.DB = db
	}
	cfg.Fill()
	return cfg, nil
}

func keysReminder(out io.Writer, cfg *config.Config) {
	fmt.Fprintf(out, "not in this backup: the keys directory %s (encrypted seal keys, and the data key without which no applicant can be read) — back it up separately, and keep the key passphrase apart from both\n", filepath.Join(cfg.Dir, "keys"))
}

func cmdBackup(args []string, out io.Writer) error {
	fs := newFlags("backup")
	dir := fs.String("dir", "", "data directory (default $CARDSEAL_DIR or "+config.DefaultDir+")")
	db := fs.String("db", "", "database URL (default $CARDSEAL_DB, the config file, or DIR/cardseal.db)")
	outFile := fs.String("out", "", "snapshot file to write (SQLite; must not exist)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := backupDB(*dir, *db)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if store.IsPostgres(cfg.DB) {
		return pgBackup(ctx, cfg, *outFile, out)
	}
	if *outFile == "" {
		return usageError{"--out is required"}
	}
	info, err := store.Snapshot(ctx, cfg.DB, *outFile)
	if errors.Is(err, os.ErrNotExist) {
		return withHint(err, "give the data directory with --dir (or the database with --db)")
	}
	if errors.Is(err, store.ErrExists) {
		return withHint(err, "choose a new file name, e.g. cardseal-"+time.Now().Format("20060102-1504")+".db")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backup written: %s\n", info.Path)
	printSnapshot(out, info)
	keysReminder(out, cfg)
	return nil
}

func printSnapshot(out io.Writer, info *store.SnapshotInfo) {
	fmt.Fprintf(out, "  schema version %d; %d organisations, %d users, %d cards, %d seals, %d audit events\n",
		info.Version, info.Orgs, info.Users, info.Cards, info.Seals, info.AuditEvents)
	fmt.Fprintf(out, "  %d bytes, SM3 %s\n", info.Size, hex.EncodeToString(info.SM3))
}

// pgConn is a PostgreSQL store URL as libpq tools take it: the URL
// without the password (given in PGPASSWORD instead, so it appears in no
// command line), pgx's run-time parameters moved into libpq's "options",
// and the schema named by search_path, if any.
type pgConn struct {
	url      string // for the command line: no password
	password string
	schema   string
}

// libpqParams are the URL query parameters libpq itself knows; pgx turns
// any other into a run-time parameter.
var libpqParams = map[string]bool{
	"host": true, "hostaddr": true, "port": true, "dbname": true, "user": true, "passfile": true,
	"connect_timeout": true, "client_encoding": true, "options": true, "application_name": true,
	"sslmode": true, "sslcert": true, "sslkey": true, "sslrootcert": true, "sslcrl": true,
	"sslpassword": true, "target_session_attrs": true, "channel_binding": true, "gssencmode": true,
}

func parsePG(dbURL string) (*pgConn, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	c := &pgConn{}
	if u.User != nil {
		c.password, _ = u.User.Password()
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	var opts []string
	for k, vs := range q {
		if libpqParams[k] {
			continue
		}
		for _, v := range vs {
			if k == "search_path" {
				c.schema = v
			}
			opts = append(opts, "-c "+k+"="+v)
		}
		q.Del(k)
	}
	if len(opts) > 0 {
		o := strings.TrimSpace(q.Get("options") + " " + strings.Join(opts, " "))
		q.Set("options", o)
	}
	// libpq decodes %20 but not + as a space.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	c.url = u.String()
	return c, nil
}

func (c *pgConn) dumpArgs(extra ...string) []string {
	args := append([]string{}, extra...)
	if c.schema != "" {
		args = append(args, "--schema="+c.schema)
	}
	return append(args, c.url)
}

func (c *pgConn) env() []string {
	env := os.Environ()
	if c.password != "" {
		env = append(env, "PGPASSWORD="+c.password)
	}
	return env
}

// pgBackup checks that pg_dump is installed and reaches the database, and
// prints the command that backs it up.
func pgBackup(ctx context.Context, cfg *config.Config, outFile string, out io.Writer) error {
	c, err := parsePG(cfg.DB)
	if err != nil {
		return err
	}
	if outFile == "" {
		outFile = "cardseal-" + time.Now().Format("20060102-1504") + ".dump"
	}
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		return withHint(errors.New("pg_dump is not installed"), "install the PostgreSQL client of the server's major version (Debian: apt-get install postgresql-client)")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pgDump, c.dumpArgs("--schema-only", "--file="+os.DevNull)...)
	cmd.Env = c.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if c.password != "" {
			msg = strings.ReplaceAll(msg, c.password, "xxxxx")
		}
		return withHint(fmt.Errorf("pg_dump cannot read the database: %v: %s", err, msg),
			"check the URL in --db / CARDSEAL_DB, that the server is up, and that pg_dump's major version is not older than the server's")
	}
	fmt.Fprintln(out, "PostgreSQL: pg_dump is installed and reaches the database.")
	fmt.Fprintln(out, "back it up with (a consistent snapshot while cardseal keeps running):")
	fmt.Fprintf(out, "  %s\n", shellJoin(append([]string{"pg_dump"}, c.dumpArgs("--format=custom", "--no-owner", "--file="+outFile)...)))
	if c.password != "" {
		fmt.Fprintln(out, "  (the password is not shown: give it in PGPASSWORD or ~/.pgpass)")
	}
	fmt.Fprintf(out, "restore into an empty database with:\n  pg_restore --no-owner --exit-on-error --dbname=URL %s\n", shellQuote(outFile))
	keysReminder(out, cfg)
	return nil
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func cmdRestore(args []string, out io.Writer) error {
	fs := newFlags("restore")
	dir := fs.String("dir", "", "data directory to restore into (default $CARDSEAL_DIR or "+config.DefaultDir+")")
	db := fs.String("db", "", "database URL (default $CARDSEAL_DB, the config file, or DIR/cardseal.db)")
	in := fs.String("in", "", "snapshot written by 'cardseal backup'")
	force := fs.Bool("force", false, "replace an existing database (the server must be stopped; the old file is kept beside it)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return usageError{"--in is required"}
	}
	cfg, err := backupDB(*dir, *db)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if store.IsPostgres(cfg.DB) {
		c, err := parsePG(cfg.DB)
		if err != nil {
			return err
		}
		return withHint(errors.New("a PostgreSQL database is restored with pg_restore, not cardseal"),
			"create an empty database, run: pg_restore --no-owner --exit-on-error --dbname="+shellQuote(c.url)+" "+shellQuote(*in)+"; then start cardseal serve (it applies newer migrations)")
	}
	res, err := store.Restore(ctx, *in, cfg.DB, *force)
	switch {
	case errors.Is(err, store.ErrExists):
		return withHint(err, "stop the server and give --force to replace the database (the old file is kept beside it), or restore into another --dir")
	case errors.Is(err, store.ErrInUse):
		return withHint(err, "stop cardseal serve (every instance on this file) and run the restore again")
	case err != nil:
		return err
	}
	fmt.Fprintf(out, "restored %s into %s\n", *in, res.Target)
	printSnapshot(out, &res.SnapshotInfo)
	if res.Aside != "" {
		fmt.Fprintf(out, "the database it replaced is kept as %s\n", res.Aside)
	}
	return checkRestored(ctx, cfg, res.Target, out)
}

// checkRestored re-verifies every restored card against its seal records
// with the trust list and the data key of the data directory's keystore;
// without a keystore it says what to restore next.
func checkRestored(ctx context.Context, cfg *config.Config, target string, out io.Writer) error {
	if !keys.Initialised(cfg.Dir) {
		fmt.Fprintf(out, "cards not checked: %s has no keystore yet; restore the keys directory from its own backup into %s, then start the server\n", cfg.Dir, filepath.Join(cfg.Dir, "keys"))
		return nil
	}
	// The stored PDFs are encrypted under the data key (docs/privacy.md):
	// checking them needs the key passphrase, as serving them does.
	pass, err := cfg.Passphrase()
	if err != nil {
		return withHint(fmt.Errorf("restored, but the cards were not checked: %w", err),
			"the stored PDFs are encrypted: set CARDSEAL_KEY_PASSPHRASE or CARDSEAL_KEY_PASSPHRASE_FILE and run the restore again to check them")
	}
	ks, err := keys.OpenDir(cfg.Dir, pass)
	if err != nil {
		return fmt.Errorf("cards not checked: %w", err)
	}
	st, err := store.Open(ctx, target)
	if err != nil {
		return err
	}
	defer st.Close()
	n, bad, err := verifyAllCards(ctx, st, ks)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		for _, e := range bad {
			fmt.Fprintf(out, "  %v\n", e)
		}
		return withHint(fmt.Errorf("%d of %d restored cards do not match their seals and records", len(bad), n),
			"the snapshot is not trustworthy for these cards: compare with an older backup before serving it")
	}
	fmt.Fprintf(out, "checked %d cards: every PDF verifies and matches its seal records\n", n)
	return nil
}

// verifyAllCards runs lifecycle's VerifyStored over every card. Cards
// that do not match are returned; an error means the check could not run.
func verifyAllCards(ctx context.Context, st *store.DB, ks keys.Store) (n int, bad []error, err error) {
	ch := lifecycle.NewChecker(lifecycle.NewService(st, ks, ""))
	err = ch.VerifyAll(ctx, func(c *card.Card, _ *verifier.Report, err error) error {
		n++
		if errors.Is(err, lifecycle.ErrRecordMismatch) {
			bad = append(bad, err)
		} else if err != nil {
			bad = append(bad, fmt.Errorf("card %s (%s): could not check: %w", c.ID, c.Number, err))
		}
		return nil
	})
	return n, bad, err
}
