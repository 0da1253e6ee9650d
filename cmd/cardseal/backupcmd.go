package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
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

func keysReminder(out io.Writer, s *config.Settings) {
	fmt.Fprintf(out, "not in this backup: the keys directory %s (encrypted seal keys, and the data key without which no applicant can be read) — back it up separately, and keep the key passphrase apart from both\n", filepath.Join(s.Dir, "keys"))
}

var cmdBackup = &command{
	name:  "backup",
	args:  "--out FILE [--dir DIR] [--db URL]",
	short: "online SQLite snapshot (PostgreSQL: checks pg_dump and prints the commands)",
	long: `Backup writes a consistent snapshot of a SQLite database to a new file while the
server keeps running, checks it and prints what it holds. For PostgreSQL it
checks that pg_dump is installed and reaches the database, and prints the
pg_dump and pg_restore commands. The keys directory is not in the backup:
back it up on its own, and keep the key passphrase apart from both.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		outFile := fs.String("out", "", "snapshot file to write (SQLite; must not exist)")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"backup takes no arguments"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			db, err := s.Database()
			if err != nil {
				return withHint(err, dbHint)
			}
			if db.Backend == store.Postgres {
				return pgBackup(ctx, s, db, *outFile, e)
			}
			if *outFile == "" {
				return usageError{"--out is required"}
			}
			info, err := store.Snapshot(ctx, db, *outFile)
			if errors.Is(err, os.ErrNotExist) {
				return withHint(err, "give the data directory with --dir (or the database with --db)")
			}
			if errors.Is(err, store.ErrExists) {
				return withHint(err, "choose a new file name, e.g. cardseal-"+e.now().Format("20060102-1504")+".db")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "backup written: %s\n", info.Path)
			printSnapshot(e.stdout, info)
			keysReminder(e.stdout, s)
			return nil
		}
	},
}

func printSnapshot(out io.Writer, info *store.SnapshotInfo) {
	fmt.Fprintf(out, "  schema version %d; %d organisations, %d users, %d cards, %d seals, %d audit events\n",
		info.Version, info.Orgs, info.Users, info.Cards, info.Seals, info.AuditEvents)
	fmt.Fprintf(out, "  %d bytes, SM3 %s\n", info.Size, hex.EncodeToString(info.SM3))
}

// pgBackup checks that pg_dump is installed and reaches the database, and
// prints the command that backs it up.
func pgBackup(ctx context.Context, s *config.Settings, db store.URL, outFile string, e *env) error {
	out := e.stdout
	c, err := db.Libpq()
	if err != nil {
		return err
	}
	if outFile == "" {
		outFile = "cardseal-" + e.now().Format("20060102-1504") + ".dump"
	}
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		return withHint(errors.New("pg_dump is not installed"), "install the PostgreSQL client of the server's major version (Debian: apt-get install postgresql-client)")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pgDump, dumpArgs(c, "--schema-only", "--file="+os.DevNull)...)
	cmd.Env = os.Environ() // pg_dump honours PGSSLROOTCERT and the like; the password goes apart
	if c.Password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+c.Password)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if c.Password != "" {
			msg = strings.ReplaceAll(msg, c.Password, "xxxxx")
		}
		return withHint(fmt.Errorf("pg_dump cannot read the database: %v: %s", err, msg),
			"check the URL in --db / CARDSEAL_DB, that the server is up, and that pg_dump's major version is not older than the server's")
	}
	fmt.Fprintln(out, "PostgreSQL: pg_dump is installed and reaches the database.")
	fmt.Fprintln(out, "back it up with (a consistent snapshot while cardseal keeps running):")
	fmt.Fprintf(out, "  %s\n", shellJoin(append([]string{"pg_dump"}, dumpArgs(c, "--format=custom", "--no-owner", "--file="+outFile)...)))
	if c.Password != "" {
		fmt.Fprintln(out, "  (the password is not shown: give it in PGPASSWORD or ~/.pgpass)")
	}
	fmt.Fprintf(out, "restore into an empty database with:\n  pg_restore --no-owner --exit-on-error --dbname=URL %s\n", shellQuote(outFile))
	keysReminder(out, s)
	return nil
}

// dumpArgs are pg_dump's arguments: extra, the schema if the URL names
// one, and the URL (without its password).
func dumpArgs(c store.Libpq, extra ...string) []string {
	args := append([]string{}, extra...)
	if c.Schema != "" {
		args = append(args, "--schema="+c.Schema)
	}
	return append(args, c.URL)
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

var cmdRestore = &command{
	name:  "restore",
	args:  "--in SNAPSHOT [--force] [--dir DIR] [--db URL]",
	short: "put a snapshot in place and re-verify every card",
	long: `Restore checks a snapshot written by 'cardseal backup' (integrity, audit chain),
puts it in place as the data directory's SQLite database, and re-verifies
every card's PDF against its seal records with the keystore's trust list. An
existing database is replaced only with --force and with the server stopped;
it is kept beside the new one. A PostgreSQL database is restored with
pg_restore: restore prints the command.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		in := fs.String("in", "", "snapshot written by 'cardseal backup'")
		force := fs.Bool("force", false, "replace an existing database (the server must be stopped; the old file is kept beside it)")
		return func(ctx context.Context, e *env, args []string) error {
			if *in == "" || len(args) != 0 {
				return usageError{"--in is required"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			db, err := s.Database()
			if err != nil {
				return withHint(err, dbHint)
			}
			if db.Backend == store.Postgres {
				c, err := db.Libpq()
				if err != nil {
					return err
				}
				return withHint(errors.New("a PostgreSQL database is restored with pg_restore, not cardseal"),
					"create an empty database, run: pg_restore --no-owner --exit-on-error --dbname="+shellQuote(c.URL)+" "+shellQuote(*in)+"; then start cardseal serve (it applies newer migrations)")
			}
			res, err := store.Restore(ctx, *in, db, *force)
			switch {
			case errors.Is(err, store.ErrExists):
				return withHint(err, "stop the server and give --force to replace the database (the old file is kept beside it), or restore into another --dir")
			case errors.Is(err, store.ErrInUse):
				return withHint(err, "stop cardseal serve (every instance on this file) and run the restore again")
			case err != nil:
				return err
			}
			out := e.stdout
			fmt.Fprintf(out, "restored %s into %s\n", *in, res.Target)
			printSnapshot(out, &res.SnapshotInfo)
			if res.Aside != "" {
				fmt.Fprintf(out, "the database it replaced is kept as %s\n", res.Aside)
			}
			return checkRestored(ctx, s, db, out)
		}
	},
}

// checkRestored re-verifies every restored card against its seal records
// with the trust list and the data key of the data directory's keystore;
// without a keystore it says what to restore next.
func checkRestored(ctx context.Context, cfg *config.Settings, db store.URL, out io.Writer) error {
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
	st, err := store.OpenURL(ctx, db)
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
