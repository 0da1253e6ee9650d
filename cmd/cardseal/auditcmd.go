package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	auditlog "github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

var cmdAudit = &command{
	name:  "audit",
	short: "the audit log's hash chain and signed checkpoints",
	long: `Audit checks and signs the audit log: every event is chained to the one before
by its hash, and the chain's head is signed with the platform key (by the
server every five minutes and at shutdown, or by 'cardseal audit sign').`,
	sub: []*command{cmdAuditVerify, cmdAuditSign},
}

var cmdAuditVerify = &command{
	name:  "audit verify",
	args:  "[--dir DIR | --db URL] [--trust roots.pem] [--json]",
	short: "check the audit log's hash chain and signed checkpoints (exit 0 intact, 1 tampered, 2 could not check)",
	long: `Verify checks every event of the audit log against the hash chain and every
signed checkpoint against the trusted roots (the data directory's trust list,
or --trust: an auditor brings their own). It exits 0 when the log is intact,
1 when it was edited, truncated or re-hashed, 2 when it could not check.`,
	settings: storeFlag,
	errExit:  2,
	flags: func(fs *flag.FlagSet) runFunc {
		trust := fs.String("trust", "", "PEM bundle of trusted roots (default DIR/keys/trust.pem); an auditor brings their own")
		asJSON := fs.Bool("json", false, "print the report as JSON")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"audit verify takes no arguments"}
			}
			tl, err := trustList(e, *trust)
			if err != nil {
				return err
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			st, err := openRegistry(ctx, s, false)
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := auditlog.Verify(ctx, st, tl)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					Intact bool `json:"intact"`
					*auditlog.Report
				}{rep.Intact(), rep}); err != nil {
					return err
				}
			} else {
				printAuditReport(e.stdout, rep)
			}
			if !rep.Intact() {
				return exitCode(1)
			}
			return nil
		}
	},
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

var cmdAuditSign = &command{
	name:  "audit sign",
	args:  "[--dir DIR] [--db URL]",
	short: "sign the audit log's head now (for cron)",
	long: `Sign signs the audit log's head with the platform key now: one checkpoint over
every event so far. It prints the checkpoint's full hash, to keep outside the
database.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"audit sign takes no arguments"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			ks, err := openKeys(s)
			if err != nil {
				return err
			}
			id, err := ks.PlatformIdentity()
			if err != nil {
				return err
			}
			st, err := openRegistry(ctx, s, false)
			if err != nil {
				return err
			}
			defer st.Close()
			cp, err := auditlog.Sign(ctx, st, id, e.now())
			switch {
			case errors.Is(err, card.ErrNotFound):
				fmt.Fprintln(e.stdout, "audit log empty: nothing to sign")
				return nil
			case errors.Is(err, auditlog.ErrBroken):
				return withHint(err, "run 'cardseal audit verify' to see which event")
			case err != nil:
				return err
			}
			// The full hash, so an operator can keep it outside the database.
			fmt.Fprintf(e.stdout, "signed audit checkpoint %d: events 1 to %d, hash %x, at %s\n",
				cp.ID, cp.UpToID, cp.Hash, cp.SignedAt.UTC().Format(time.RFC3339))
			return nil
		}
	},
}
