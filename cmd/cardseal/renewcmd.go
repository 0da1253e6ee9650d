package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/tsa"
)

// cardseal renew-timestamps (issue 17, docs/operations.md "Renewing
// archive timestamps"): a fresh archive timestamp on every stored card
// whose newest timestamp's certificate ends within the window.

var cmdRenew = &command{
	name:  "renew-timestamps",
	args:  "[--dir DIR] [--db URL] [--window 90d] [--dry-run] [--json]",
	short: "add a fresh archive timestamp to cards whose timestamps' certificate ends soon",
	long: `Renew-timestamps checks every card whose seal chain is complete (issued,
voided, revoked, superseded) and, where the certificate of its newest timestamp
ends (or was revoked) within --window, appends a new /DSS with the installed
CRL and a new document timestamp of the platform's time-stamping authority
(PAdES B-LTA), one card per transaction. It reports the cards renewed, the cards
with a timestamp already past help (its certificate ended or was revoked with no
later archive timestamp) and those whose /DSS holds no CRL current at a seal's
time (they cannot be validated offline), the cards that do not verify, and whether the
authority's own certificate ends within the window (rotate it first). Run it
from cron, e.g. monthly; servers may keep running. Exit 1 when a card failed or
is unprotected.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		window := fs.String("window", "90d", "renew when the certificate ends within this time (e.g. 90d, 2160h)")
		dryRun := fs.Bool("dry-run", false, "report what is due, change nothing")
		asJSON := fs.Bool("json", false, "print the result as JSON")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"renew-timestamps takes no arguments"}
			}
			w, err := parseWindow(*window)
			if err != nil {
				return usageError{err.Error()}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			ks, err := openKeys(s)
			if err != nil {
				return err
			}
			st, err := openRegistry(ctx, s, false)
			if err != nil {
				return err
			}
			defer st.Close()
			tsaID, err := ks.TSAIdentity()
			if err != nil {
				return withHint(fmt.Errorf("time-stamping key: %w", err), "make it with 'cardseal keys csr --tsa', 'cardseal ca sign' and 'cardseal keys import'")
			}
			authority, err := tsa.New(tsaID, st, tsa.Options{Now: e.now, MaxDrift: s.TSAMaxDrift})
			if err != nil {
				return err
			}
			svc := lifecycle.NewService(st, ks, s.PublicURL)
			svc.Now = e.now
			svc.SetTimestamper(authority)
			r, err := svc.RenewTimestamps(ctx, w, *dryRun)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				writeRenewal(e, r, *dryRun)
			}
			if len(r.Failed) > 0 || len(r.Unprotected) > 0 {
				return exitCode(1)
			}
			return nil
		}
	},
}

// parseWindow reads a duration, with "d" for days.
func parseWindow(s string) (time.Duration, error) {
	var days int
	if n, err := fmt.Sscanf(s, "%dd", &days); err == nil && n == 1 && fmt.Sprintf("%dd", days) == s && days >= 0 {
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--window %q: give days (90d) or a duration (2160h)", s)
	}
	return d, nil
}

func writeRenewal(e *env, r *lifecycle.Renewal, dryRun bool) {
	out := e.stdout
	verb := "renewed"
	if dryRun {
		verb = "due (dry run, nothing changed)"
	}
	fmt.Fprintf(out, "cards checked: %d; %s: %d\n", r.Checked, verb, len(r.Renewed))
	for _, c := range r.Renewed {
		fmt.Fprintf(out, "  %s %s: %s\n", verb, c.Number, c.Reason)
	}
	for _, c := range r.Unprotected {
		fmt.Fprintf(out, "  UNPROTECTED %s: %s\n", c.Number, c.Reason)
	}
	for _, c := range r.Failed {
		fmt.Fprintf(out, "  FAILED %s: %s\n", c.Number, c.Reason)
	}
	if r.TSAEndsSoon {
		fmt.Fprintf(out, "the time-stamping certificate itself ends on %s, within the window: rotate the TSA key (docs/operations.md) and run again\n",
			r.TSANotAfter.Format("2006-01-02"))
	}
}
