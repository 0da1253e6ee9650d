package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// Organisations in the registry (the database); admin.go says how these
// commands record their changes.

var cmdOrg = &command{
	name:  "org",
	short: "organisations in the registry",
	long: `Org lists and changes the organisations in the registry (the database), with
the server running or not. Each change is one audit event by "admin-cli" that
names the operating-system user. A new organisation seals once its key is
certified: 'cardseal keys csr', 'cardseal ca sign', 'cardseal keys import'.`,
	sub: []*command{cmdOrgList, cmdOrgAdd, cmdOrgRename, cmdOrgRetire, cmdOrgImport},
}

var cmdOrgList = &command{
	name:     "org list",
	args:     "[--dir DIR] [--db URL]",
	short:    "list the organisations: code, level, state, name",
	long:     `List prints every organisation of the registry, active and retired.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"org list takes no arguments"}
			}
			st, err := adminStore(ctx, e)
			if err != nil {
				return err
			}
			defer st.Close()
			out := e.stdout
			orgs, err := st.ListOrgs(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CODE\tLEVEL\tSTATE\tNAME")
			for _, o := range orgs {
				state := "active"
				if o.Retired {
					state = "retired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Code, o.Level, state, o.Name)
			}
			return tw.Flush()
		}
	},
}

var cmdOrgAdd = &command{
	name:  "org add",
	args:  "--code CODE --name NAME [--level LEVEL] [--dir DIR] [--db URL]",
	short: "add an organisation",
	long: `Add records a new organisation: its division code (the level follows from it)
and its name as its seal certificate will carry it.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		code := fs.String("code", "", "division code (6, 9 or 12 digits, or padded to 12; the level follows from it)")
		name := fs.String("name", "", "the organisation's name as its seal certificate will carry it")
		level := fs.String("level", "", "village, township or county (optional: checked against the code)")
		return func(ctx context.Context, e *env, args []string) error {
			if *code == "" || *name == "" || len(args) != 0 {
				return usageError{"--code and --name are required"}
			}
			o, err := parseOrg(*code, *name, *level)
			if err != nil {
				return err
			}
			st, err := adminStore(ctx, e)
			if err != nil {
				return err
			}
			defer st.Close()
			out := e.stdout
			if err := st.CreateOrg(ctx, o); errors.Is(err, org.ErrDuplicate) {
				have, _ := st.GetOrg(ctx, o.Code)
				return withHint(fmt.Errorf("organisation %s exists already (%s)", o.Code, have.Name), "rename it with 'cardseal org rename'")
			} else if err != nil {
				return err
			}
			if err := adminEvent(ctx, st, audit.OrgAdd, o.Code, map[string]any{"level": o.Level, "name": o.Name}); err != nil {
				return err
			}
			fmt.Fprintf(out, "added %s %s %s\n", o.Level, o.Code, o.Name)
			fmt.Fprintf(out, "its seal key: cardseal keys csr --org %s --name %s, then 'cardseal ca sign' on the offline machine, then 'cardseal keys import'\n", o.Code, shellQuote(o.Name))
			return nil
		}
	},
}

var cmdOrgRename = &command{
	name:  "org rename",
	args:  "--code CODE --name NAME [--dir DIR] [--db URL]",
	short: "rename an organisation",
	long: `Rename changes an organisation's name in the registry. Seals show the name in
the organisation's seal certificate until one is issued under the new name.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		code := fs.String("code", "", "division code of the organisation")
		name := fs.String("name", "", "its new name")
		return func(ctx context.Context, e *env, args []string) error {
			if *code == "" || *name == "" || len(args) != 0 {
				return usageError{"--code and --name are required"}
			}
			o, err := parseOrg(*code, *name, "")
			if err != nil {
				return err
			}
			st, err := adminStore(ctx, e)
			if err != nil {
				return err
			}
			defer st.Close()
			out := e.stdout
			have, err := st.GetOrg(ctx, o.Code)
			if err != nil {
				return withHint(err, "list the organisations with 'cardseal org list'")
			}
			if have.Name == o.Name {
				fmt.Fprintf(out, "%s is already called %s\n", o.Code, o.Name)
				return nil
			}
			old := have.Name
			have.Name = o.Name
			if err := st.UpdateOrg(ctx, have); err != nil {
				return err
			}
			if err := adminEvent(ctx, st, audit.OrgRename, o.Code, map[string]any{"from": old, "to": o.Name}); err != nil {
				return err
			}
			fmt.Fprintf(out, "renamed %s: %s → %s\n", o.Code, old, o.Name)
			fmt.Fprintf(out, "seals, applied and new, show the name in the organisation's seal certificate (%s) until a certificate is issued under the new name\n", old)
			return nil
		}
	},
}

var cmdOrgRetire = &command{
	name:  "org retire",
	args:  "--code CODE [--into CODE] [--reason TEXT] [--dir DIR] [--db URL]",
	short: "retire an organisation: it applies no new seals",
	long: `Retire marks an organisation retired (merged or dissolved): it applies no new
seals, and the cards it sealed keep verifying. --into names the organisation it
merged into, for the audit log. Its staff users stay active until disabled.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		code := fs.String("code", "", "division code of the organisation to retire")
		into := fs.String("into", "", "division code of the organisation it merged into (recorded in the audit log)")
		reason := fs.String("reason", "", "why, for the audit log")
		return func(ctx context.Context, e *env, args []string) error {
			if *code == "" || len(args) != 0 {
				return usageError{"--code is required"}
			}
			c, _, err := org.NormalizeCode(*code)
			if err != nil {
				return err
			}
			st, err := adminStore(ctx, e)
			if err != nil {
				return err
			}
			defer st.Close()
			out := e.stdout
			o, err := st.GetOrg(ctx, c)
			if err != nil {
				return withHint(err, "list the organisations with 'cardseal org list'")
			}
			detail := map[string]any{"reason": *reason}
			if *into != "" {
				ic, _, err := org.NormalizeCode(*into)
				if err != nil {
					return err
				}
				to, err := st.GetOrg(ctx, ic)
				switch {
				case err != nil:
					return withHint(fmt.Errorf("--into: %w", err), "add the organisation it merged into first")
				case to.Code == o.Code || to.Level != o.Level || to.Retired:
					return usageError{fmt.Sprintf("--into must name another active %s, not %s %s (%s)", o.Level, to.Level, to.Code, to.Name)}
				}
				detail["into"] = to.Code
			}
			if o.Retired {
				fmt.Fprintf(out, "%s %s is already retired\n", o.Code, o.Name)
				return nil
			}
			o.Retired = true
			if err := st.UpdateOrg(ctx, o); err != nil {
				return err
			}
			if err := adminEvent(ctx, st, audit.OrgRetire, o.Code, detail); err != nil {
				return err
			}
			fmt.Fprintf(out, "retired %s %s %s: it applies no new seals; cards it sealed keep verifying\n", o.Level, o.Code, o.Name)
			users, err := st.ListUsers(ctx, o.Code)
			if err != nil {
				return err
			}
			for _, u := range users {
				if u.OrgCode == o.Code && !u.Disabled {
					fmt.Fprintf(out, "staff user %s still active: disable with 'cardseal user disable --username %s' (give them accounts in the organisation it merged into)\n", u.Username, u.Username)
				}
			}
			return nil
		}
	},
}

var cmdOrgImport = &command{
	name:  "org import",
	args:  "--csv FILE [--dry-run] [--dir DIR] [--db URL]",
	short: "add and rename organisations from a CSV file",
	long: `Import reads "division code, name[, level]" rows (UTF-8, an optional header row)
and adds the organisations the registry lacks and renames those whose name
differs. Any bad row stops the import before anything is written; --dry-run
shows what would change.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		file := fs.String("csv", "", "CSV `FILE`: division code, name[, level] per row (UTF-8; an optional header row)")
		dryRun := fs.Bool("dry-run", false, "check the file and show what would change, without writing")
		return func(ctx context.Context, e *env, args []string) error {
			if *file == "" || len(args) != 0 {
				return usageError{"--csv is required"}
			}
			b, err := os.ReadFile(*file)
			if err != nil {
				return err
			}
			rows, err := readOrgCSV(b)
			if err != nil {
				return fmt.Errorf("%s: %w", *file, err)
			}
			st, err := adminStore(ctx, e)
			if err != nil {
				return err
			}
			defer st.Close()
			out := e.stdout
			have := map[string]org.Org{}
			orgs, err := st.ListOrgs(ctx)
			if err != nil {
				return err
			}
			for _, o := range orgs {
				have[o.Code] = o
			}
			// Decide everything before writing anything.
			var add, rename []org.Org
			unchanged := 0
			for _, r := range rows {
				h, ok := have[r.org.Code]
				switch {
				case !ok:
					add = append(add, r.org)
				case h.Name != r.org.Name:
					h.Name = r.org.Name
					rename = append(rename, h)
				default:
					unchanged++
				}
			}
			verb := ""
			if *dryRun {
				verb = "would be "
			}
			for _, o := range add {
				fmt.Fprintf(out, "%sadded    %-12s %-8s %s\n", verb, o.Code, o.Level, o.Name)
			}
			for _, o := range rename {
				fmt.Fprintf(out, "%srenamed  %-12s %-8s %s → %s\n", verb, o.Code, o.Level, have[o.Code].Name, o.Name)
			}
			if !*dryRun {
				for _, o := range add {
					if err := st.CreateOrg(ctx, o); err != nil && !errors.Is(err, org.ErrDuplicate) {
						return err
					}
				}
				for _, o := range rename {
					if err := st.UpdateOrg(ctx, o); err != nil {
						return err
					}
				}
				if len(add)+len(rename) > 0 {
					if err := adminEvent(ctx, st, audit.OrgImport, "", map[string]any{"file": *file, "added": len(add), "renamed": len(rename)}); err != nil {
						return err
					}
				}
			}
			fmt.Fprintf(out, "%d added, %d renamed, %d unchanged\n", len(add), len(rename), unchanged)
			if *dryRun {
				fmt.Fprintln(out, "dry run: nothing written")
			}
			return nil
		}
	},
}

// parseOrg turns a code (significant or padded to 12 digits), a name and
// an optional level into a validated organisation.
func parseOrg(code, name, level string) (org.Org, error) {
	c, l, err := org.NormalizeCode(strings.TrimSpace(code))
	if err != nil {
		return org.Org{}, err
	}
	if level = strings.TrimSpace(level); level != "" {
		given, err := org.ParseLevel(strings.ToLower(level))
		if err != nil {
			return org.Org{}, err
		}
		if given != l {
			return org.Org{}, fmt.Errorf("%w: %s is a %s code, not %s", org.ErrBadCode, c, l, given)
		}
	}
	o := org.Org{Code: c, Level: l, Name: strings.TrimSpace(name)}
	if err := o.Validate(); err != nil {
		return org.Org{}, err
	}
	if err := card.CheckLine("name", o.Name); err != nil || utf8.RuneCountInString(o.Name) > 100 {
		return org.Org{}, fmt.Errorf("organisation %s: the name must be one line of at most 100 characters without control characters", c)
	}
	return o, nil
}

// csvRow is one organisation read from an import file.
type csvRow struct {
	line int
	org  org.Org
}

// readOrgCSV reads "division code, name[, level]" rows. A first row whose
// first cell holds no digit is a header. It returns every bad row, with
// its line number, as one error.
func readOrgCSV(b []byte) ([]csvRow, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // spreadsheets' UTF-8 mark
	if !utf8.Valid(b) {
		return nil, withHint(errors.New("the file is not UTF-8"), "save it as \"CSV UTF-8\" (a spreadsheet's default CSV on Chinese Windows is GBK)")
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	var rows []csvRow
	var bad []string
	seen := map[string]int{}
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if first && len(rec) > 0 && !strings.ContainsAny(rec[0], "0123456789") {
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) < 2 || len(rec) > 3 {
			bad = append(bad, fmt.Sprintf("line %d: want division code, name[, level]; got %d columns", line, len(rec)))
			continue
		}
		level := ""
		if len(rec) == 3 {
			level = rec[2]
		}
		o, err := parseOrg(rec[0], rec[1], level)
		if err != nil {
			bad = append(bad, fmt.Sprintf("line %d: %v", line, err))
			continue
		}
		if prev, ok := seen[o.Code]; ok {
			bad = append(bad, fmt.Sprintf("line %d: %s is also on line %d", line, o.Code, prev))
			continue
		}
		seen[o.Code] = line
		rows = append(rows, csvRow{line, o})
	}
	if len(bad) > 0 {
		return nil, withHint(fmt.Errorf("%d bad rows, nothing imported:\n  %s", len(bad), strings.Join(bad, "\n  ")), "fix the rows and import the whole file again (rows already present are left as they are)")
	}
	if len(rows) == 0 {
		return nil, errors.New("no organisations in the file")
	}
	return rows, nil
}
