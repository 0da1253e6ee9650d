package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/staff"
)

var cmdConfig = &command{
	name:  "config",
	short: "the settings of a data directory",
	long: `Config reports on the settings: 'cardseal config check' shows every setting,
its value and where it came from, and every problem of the config file, the
environment and the keystore.`,
	sub: []*command{cmdConfigCheck},
}

var cmdConfigCheck = &command{
	name:  "config check",
	args:  "[--dir DIR] [--within 90] [serve's flags]",
	short: "report every setting with its source, and every problem of the config file, environment and keystore",
	long: `Check binds the settings as 'cardseal serve' would, from DIR/cardseal.toml, the
CARDSEAL_* environment variables and the flags given (serve's), and lists each
setting with its value and its source: default, file, env or flag. Secrets are
not shown, nor the database password.

Then it reports every problem, one "problem:" line each, and exits 1; else it
prints "config ok". It checks the file's syntax and unknown settings, each
value, the passphrase (readable, not inside the data directory, not readable
by others), and the keystore: initialised, every certificate readable, present
and current, and the passphrase able to decrypt a key. It warns about
certificates ending within --within days and about CARDSEAL_* variables that
cardseal does not read.`,
	settings: serveSettings,
	flags: func(fs *flag.FlagSet) runFunc {
		within := fs.Int("within", 90, "warn about certificates that end within this many days")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"config check takes no arguments"}
			}
			s, problems, warnings := e.flags.Inspect()
			printSettings(e.stdout, s)
			var lines []string
			for _, p := range problems {
				lines = append(lines, p.Error())
			}
			if s.DemoPassword != "" {
				if err := staff.CheckPasswordPolicy(adminUser, s.DemoPassword); err != nil {
					lines = append(lines, "demo_password: "+err.Error())
				}
			}
			kp, kw := keystoreProblems(s, e.now(), time.Duration(*within)*24*time.Hour)
			lines = append(lines, kp...)
			warnings = append(warnings, kw...)
			if cw, err := calendarCheck(s.Calendar, e.now()); err != nil {
				warnings = append(warnings, err.Error()+" (serve will not start with it)")
			} else {
				warnings = append(warnings, cw...)
			}
			for _, l := range lines {
				fmt.Fprintf(e.stdout, "problem: %s\n", l)
			}
			for _, w := range warnings {
				fmt.Fprintf(e.stdout, "warning: %s\n", w)
			}
			if len(lines) > 0 {
				return withHint(fmt.Errorf("%d problem(s) in the configuration of %s (%s and CARDSEAL_* environment variables)", len(lines), s.Dir, s.File()),
					"fix each problem listed above and run 'cardseal config check' again; docs/operations.md has the config reference")
			}
			fmt.Fprintln(e.stdout, "config ok")
			return nil
		}
	},
}

// printSettings lists every setting, its value and where it came from.
func printSettings(out io.Writer, s *config.Settings) {
	fmt.Fprintf(out, "settings of %s (default < %s < environment < flags):\n", s.Dir, s.File())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, e := range s.Report() {
		v := e.Value
		if v == "" {
			v = "-"
		}
		src := e.Source.String()
		if e.Source == config.Env || e.Source == config.Flag {
			src += " " + e.Origin
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", e.Setting, v, src)
	}
	tw.Flush()
	fmt.Fprintf(out, "key passphrase: %s\n", s.PassphraseSource())
}

// keystoreProblems checks the data directory's keystore: present, every
// certificate readable and current, and the passphrase able to decrypt a
// key (one is enough: they share the passphrase).
func keystoreProblems(s *config.Settings, now time.Time, within time.Duration) (problems, warnings []string) {
	if !keys.Initialised(s.Dir) {
		return []string{fmt.Sprintf("keystore: %s is not initialised ('cardseal init --dir %s --root trust.pem' for a server of the province's offline root; 'cardseal serve' or 'cardseal init --demo' for a demo)", s.Dir, s.Dir)}, nil
	}
	pass, _ := s.Passphrase() // an unreadable passphrase is reported by Inspect
	ks, err := keys.OpenDir(s.Dir, pass)
	if err != nil {
		return []string{"keystore: " + err.Error()}, nil
	}
	var probe func() error
	for _, st := range ks.Status() {
		state, problem := certState(st, now, within)
		where := st.Kind + " certificate"
		if st.Kind == "seal" {
			where += " " + st.ID
		}
		if st.Name != "" {
			where += " (" + st.Name + ")"
		}
		switch {
		case problem:
			problems = append(problems, where+": "+state)
		case st.Cert != nil && st.Cert.NotAfter.Sub(now) < within:
			warnings = append(warnings, fmt.Sprintf("%s ends on %s: renew it", where, day(st.Cert.NotAfter)))
		}
		if probe == nil && st.Cert != nil && st.Err == nil && !st.Expired(now) {
			switch st.Kind {
			case "platform":
				probe = func() error { _, err := ks.PlatformIdentity(); return err }
			case "seal":
				code := st.ID
				probe = func() error { _, err := ks.SealIdentity(code); return err }
			}
		}
	}
	if probe != nil && len(pass) > 0 {
		if err := probe(); err != nil {
			problems = append(problems, "keys: "+err.Error())
		}
	}
	return problems, warnings
}
