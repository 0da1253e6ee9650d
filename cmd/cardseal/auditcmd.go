package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/audit"
	auditlog "github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/store"
)

// cmdAudit runs 'cardseal audit verify' (exit 0 intact, 1 tampered, 2
// could not check) and 'cardseal audit sign' (one checkpoint now, for
// cron).
func cmdAudit(args []string, out io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "verify":
			return auditVerify(args[1:], out)
		case "sign":
			return auditSign(args[1:], out)
		}
	}
	return usageError{"unknown audit command; try 'cardseal audit verify' or 'cardseal audit sign'"}
}

func auditVerify(args []string, out io.Writer) error {
	fs := newFlags("audit verify")
	dir := fs.String("dir", "", "data directory (default $CARDSEAL_DIR or "+config.DefaultDir+")")
	db := fs.String("db", "", "database URL: postgres://… or a SQLite file (default $CARDSEAL_DB or DIR/cardseal.db)")
	trust := fs.String("trust", "", "PEM bundle of trusted roots (default DIR/keys/trust.pem); an auditor brings their own")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"audit verify takes no arguments"}
	}
	tl, err := trustList(*dir, *trust)
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, err := openAuditStore(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := auditlog.Verify(ctx, st, tl)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Intact bool `json:"intact"`
			*auditlog.Report
		}{rep.Intact(), rep}); err != nil {
			return err
		}
	} else {
		printAuditReport(out, rep)
	}
	if !rep.Intact() {
		return exitCode(1)
	}
	return nil
}

func printAuditReport(out io.Writer, rep *auditlog.Report) {
	signed := "never signed"
	if rep.Checkpoints > 0 {
		signed = fmt.Sprintf("last signed at %s (event %d)", rep.LastSignedAt.UTC().Format(time.RFC3339), rep.LastSignedID)
	}
	summary := fmt.Sprintf("%d events, %s, %s", rep.Events, countNoun(rep.Checkpoints, "signed checkpoint"), signed)
	if !rep.Intact() {
		fmt.Fprintf(out, "audit log broken: %s\n", rep.Problems[0])
		if len(rep.Problems) > 1 {
			fmt.Fprintln(out, "all problems:")
			for _, p := range rep.Problems {
				fmt.Fprintf(out, "  %s\n", p)
			}
			if rep.More > 0 {
				fmt.Fprintf(out, "  … and %d more\n", rep.More)
			}
		}
		fmt.Fprintf(out, "checked %s\n", summary)
		return
	}
	fmt.Fprintf(out, "audit log intact: %s\n", summary)
	switch {
	case rep.Unsigned == 1:
		fmt.Fprintln(out, "note: the newest event is not yet covered by a signed checkpoint (run 'cardseal audit sign')")
	case rep.Unsigned > 1:
		fmt.Fprintf(out, "note: the newest %d events are not yet covered by a signed checkpoint (run 'cardseal audit sign')\n", rep.Unsigned)
	}
}

func countNoun(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func auditSign(args []string, out io.Writer) error {
	fs := newFlags("audit sign")
	dir := fs.String("dir", "", "data directory (default $CARDSEAL_DIR or "+config.DefaultDir+")")
	db := fs.String("db", "", "database URL: postgres://… or a SQLite file (default $CARDSEAL_DB or DIR/cardseal.db)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"audit sign takes no arguments"}
	}
	_, ks, err := openKeys(*dir)
	if err != nil {
		return err
	}
	id, err := ks.PlatformIdentity()
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, err := openAuditStore(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	cp, err := audit.Sign(ctx, st, id, time.Now())
	switch {
	case errors.Is(err, card.ErrNotFound):
		fmt.Fprintln(out, "audit log empty: nothing to sign")
		return nil
	case errors.Is(err, audit.ErrBroken):
		return withHint(err, "run 'cardseal audit verify' to see which event")
	case err != nil:
		return err
	}
	// The full hash, so an operator can keep it outside the database.
	fmt.Fprintf(out, "signed audit checkpoint %d: events 1 to %d, hash %x, at %s\n",
		cp.ID, cp.UpToID, cp.Hash, cp.SignedAt.UTC().Format(time.RFC3339))
	return nil
}

// openAuditStore opens the database of a data directory (or --db). A
// missing SQLite file is an error: opening would create an empty log,
// which verifies as intact.
func openAuditStore(ctx context.Context, dir, db string) (*store.DB, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	if db != "" {
		cfg.DB = db
	}
	cfg.Fill()
	if path, ok := auditDBFile(cfg.DB); ok {
		if _, err := os.Stat(path); err != nil {
			return nil, withHint(fmt.Errorf("no database at %s: %w", path, err), "pass --dir DATA_DIR or --db URL of the service's database")
		}
	}
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, withHint(err, "check --db / CARDSEAL_DB (postgres://user@host:5432/db or a SQLite file path)")
	}
	return st, nil
}

// auditDBFile returns the file of a SQLite database URL, as store.Open
// reads it.
func auditDBFile(url string) (string, bool) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return "", false
	case strings.HasPrefix(url, "sqlite://"):
		return strings.TrimPrefix(url, "sqlite://"), true
	case strings.HasPrefix(url, "sqlite:"):
		return strings.TrimPrefix(url, "sqlite:"), true
	}
	return url, !strings.Contains(url, "://")
}
