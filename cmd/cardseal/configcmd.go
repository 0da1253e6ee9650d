package main

import (
	"fmt"
	"io"
	"time"

	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
)

func cmdConfig(args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{"unknown config command; try 'cardseal config check'"}
	}
	fs := newFlags("config check")
	dir := fs.String("dir", "", "data directory (default $CARDSEAL_DIR or "+config.DefaultDir+")")
	within := fs.Int("within", 90, "warn about certificates that end within this many days")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, problems, warnings := config.Inspect(*dir)
	var lines []string
	for _, p := range problems {
		lines = append(lines, p.Error())
	}
	kp, kw := keystoreProblems(cfg, time.Now(), time.Duration(*within)*24*time.Hour)
	lines = append(lines, kp...)
	warnings = append(warnings, kw...)
	for _, l := range lines {
		fmt.Fprintf(out, "problem: %s\n", l)
	}
	for _, w := range warnings {
		fmt.Fprintf(out, "warning: %s\n", w)
	}
	if len(lines) > 0 {
		return withHint(fmt.Errorf("%d problem(s) in the configuration of %s (%s and CARDSEAL_* environment variables)", len(lines), cfg.Dir, cfg.File()),
			"fix each problem listed above and run 'cardseal config check' again; docs/operations.md has the config reference")
	}
	fmt.Fprintln(out, "config ok")
	return nil
}

// keystoreProblems checks the data directory's keystore: present, every
// certificate readable and current, and the passphrase able to decrypt a
// key (one is enough: they share the passphrase).
func keystoreProblems(cfg *config.Config, now time.Time, within time.Duration) (problems, warnings []string) {
	if !keys.Initialised(cfg.Dir) {
		return []string{fmt.Sprintf("keystore: %s is not initialised (cardseal init --dir %s --root trust.pem)", cfg.Dir, cfg.Dir)}, nil
	}
	pass, _ := cfg.Passphrase() // an unreadable passphrase is reported by Inspect
	ks, err := keys.OpenDir(cfg.Dir, pass)
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
