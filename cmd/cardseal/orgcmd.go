package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/store"
)

// Organisations and staff users are kept in the registry (the database).
// These commands change it directly, with the server running or not; each
// change is one audit event by the actor "admin-cli", whose detail names
// the operating-system user who ran the command.

const adminActor = "admin-cli"

// adminFlags adds the --dir and --db flags every admin command takes.
func adminFlags(name string) (fs *flag.FlagSet, dir, db *string) {
	fs = newFlags(name)
	dir = fs.String("dir", "", "data directory (default $CARDSEAL_DIR or "+config.DefaultDir+")")
	db = fs.String("db", "", "database URL (default $CARDSEAL_DB, the config file, or DIR/cardseal.db)")
	return fs, dir, db
}

// adminStore opens the registry of a data directory. It never creates a
// SQLite file: a mistyped --dir must not start an empty registry.
func adminStore(ctx context.Context, dir, db string) (*config.Config, *store.DB, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	if db != "" {
		cfg.DB = db
	}
	cfg.Fill()
	if !store.IsPostgres(cfg.DB) {
		p, err := store.SQLitePath(cfg.DB)
		if err != nil {
			return nil, nil, err
		}
		if _, err := os.Stat(p); err != nil {
			return nil, nil, withHint(fmt.Errorf("no database at %s", p), "give the data directory with --dir (or the database with --db); 'cardseal serve' creates the database on its first start")
		}
	}
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, nil, withHint(err, "check --db / CARDSEAL_DB (postgres://user@host:5432/db or a SQLite file path)")
	}
	return cfg, st, nil
}

// adminEvent records an admin change.
func adminEvent(ctx context.Context, st *store.DB, action audit.Action, orgCode string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	if u, err := user.Current(); err == nil {
		detail["os_user"] = u.Username
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = st.AppendAudit(ctx, audit.Event{Actor: adminActor, OrgCode: orgCode, Action: action, Detail: b})
	return err
}

// ---- organisations ----

func cmdOrg(args []string, out io.Writer) error {
	const try = "try 'cardseal org list', 'org add', 'org rename', 'org retire' or 'org import'"
	if len(args) == 0 {
		return usageError{"missing org command; " + try}
	}
	ctx := context.Background()
	switch args[0] {
	case "list":
		return orgList(ctx, args[1:], out)
	case "add":
		return orgAdd(ctx, args[1:], out)
	case "rename":
		return orgRename(ctx, args[1:], out)
	case "retire":
		return orgRetire(ctx, args[1:], out)
	case "import":
		return orgImport(ctx, args[1:], out)
	}
	return usageError{fmt.Sprintf("unknown org command %q; %s", args[0], try)}
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

func orgList(ctx context.Context, args []string, out io.Writer) error {
	fs, dir, db := adminFlags("org list")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, st, err := adminStore(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
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

func orgAdd(ctx context.Context, args []string, out io.Writer) error {
	fs, dir, db := adminFlags("org add")
	code := fs.String("code", "", "division code (6, 9 or 12 digits, or padded to 12; the level follows from it)")
	name := fs.String("name", "", "the organisation's name as its seal certificate will carry it")
	level := fs.String("level", "", "village, township or county (optional: checked against the code)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *code == "" || *name == "" {
		return usageError{"--code and --name are required"}
	}
	o, err := parseOrg(*code, *name, *level)
	if err != nil {
		return err
	}
	_, st, err := adminStore(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
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

func orgRename(ctx context.Context, args []string, out io.Writer) error {
	fs, dir, db := adminFlags("org rename")
	code := fs.String("code", "", "division code of the organisation")
	name := fs.String("name", "", "its new name")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *code == "" || *name == "" {
		return usageError{"--code and --name are required"}
	}
	o, err := parseOrg(*code, *name, "")
	if err != nil {
		return err
	}
	_, st, err := adminStore(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
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

func orgRetire(ctx context.Context, args []string, out io.Writer) error {
	fs, dir, db := adminFlags("org retire")
	code := fs.String("code", "", "division code of the organisation to retire")
	into := fs.String("into", "", "division code of the organisation it merged into (recorded in the audit log)")
	reason := fs.String("reason", "", "why, for the audit log")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *code == "" {
		return usageError{"--code is required"}
	}
	c, _, err := org.NormalizeCode(*code)
	if err != nil {
		return err
	}
	_, st, err := adminStore(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
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

func orgImport(ctx context.Context, args []string, out io.Writer) error {
	fs, dir, db := adminFlags("org import")
	file := fs.String("csv", "", "CSV file: division code, name[, level] per row (UTF-8; an optional header row)")
	dryRun := fs.Bool("dry-run", false, "check the file and show what would change, without writing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
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
	_, st, err := adminStore(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
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

// shellQuote quotes s for a shell command line shown to the operator.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ---- staff users ----

func cmdUser(args []string, out io.Writer) error {
	const try = "try 'cardseal user list', 'user add', 'user disable', 'user enable' or 'user reset-password'"
	if len(args) == 0 {
		return usageError{"missing user command; " + try}
	}
	ctx := context.Background()
	switch args[0] {
	case "list":
		return userList(ctx, args[1:], out)
	case "add":
		return userAdd(ctx, args[1:], out)
	case "disable", "enable":
		return userSetDisabled(ctx, args[0], args[1:], out)
	case "reset-password":
		return userResetPassword(ctx, args[1:], out)
	}
	return usageError{fmt.Sprintf("unknown user command %q; %s", args[0], try)}
}

// adminStaff opens the registry and the staff service over it; changes
// are audited as made by adminActor, naming the operating-system user.
func adminStaff(ctx context.Context, dir, db string) (*store.DB, *staff.Service, staff.Admin, error) {
	_, st, err := adminStore(ctx, dir, db)
	if err != nil {
		return nil, nil, staff.Admin{}, err
	}
	by := staff.Admin{Name: adminActor}
	if u, err := user.Current(); err == nil {
		by.Remote = "os-user:" + u.Username
	}
	return st, staff.NewService(st, st, st, staff.Policy{}), by, nil
}

// newPassword reads the password from file, or generates one (printed by
// the caller, once) when file is empty.
func newPassword(file string) (password string, generated bool, err error) {
	if file == "" {
		return staff.RandomPassword(), true, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", false, err
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), false, nil
}

func userList(ctx context.Context, args []string, out io.Writer) error {
	fs, dir, db := adminFlags("user list")
	orgCode := fs.String("org", "", "only users of organisations whose code starts with this")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, sv, _, err := adminStaff(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := sv.Users(ctx, *orgCode)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tORG\tSTATE")
	for _, u := range users {
		state := "active"
		switch {
		case u.Disabled:
			state = "disabled"
		case !u.LockedUntil.IsZero():
			state = "locked until " + u.LockedUntil.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Username, u.OrgCode, state)
	}
	return tw.Flush()
}

func userAdd(ctx context.Context, args []string, out io.Writer) error {
	fs, dir, db := adminFlags("user add")
	orgCode := fs.String("org", "", "division code of the user's organisation")
	username := fs.String("username", "", "login name")
	pwFile := fs.String("password-file", "", "file holding the initial password (default: generate one and print it once)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *orgCode == "" || *username == "" {
		return usageError{"--org and --username are required"}
	}
	code, _, err := org.NormalizeCode(*orgCode)
	if err != nil {
		return err
	}
	password, generated, err := newPassword(*pwFile)
	if err != nil {
		return err
	}
	st, sv, by, err := adminStaff(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := sv.AddUser(ctx, by, *username, code, password)
	switch {
	case errors.Is(err, staff.ErrUsername), errors.Is(err, staff.ErrPassword):
		return usageError{err.Error()}
	case errors.Is(err, org.ErrUnknown):
		return withHint(err, "add the organisation first ('cardseal org add') or check the code with 'cardseal org list'")
	case errors.Is(err, staff.ErrRetiredOrg):
		return withHint(err, "add the user to the organisation it merged into")
	case errors.Is(err, staff.ErrDuplicate):
		return withHint(fmt.Errorf("user %q exists already", *username), "choose another username, or 'cardseal user reset-password'")
	case err != nil:
		return err
	}
	o, _ := st.GetOrg(ctx, u.OrgCode)
	fmt.Fprintf(out, "added user %s of %s %s\n", u.Username, o.Code, o.Name)
	if generated {
		fmt.Fprintf(out, "password (shown only now; give it to the user in person): %s\n", password)
	}
	return nil
}

// lookupUser looks up a user by name for a change.
func lookupUser(ctx context.Context, sv *staff.Service, username string) (staff.User, error) {
	u, err := sv.User(ctx, username)
	switch {
	case errors.Is(err, staff.ErrUsername):
		return staff.User{}, usageError{err.Error()}
	case errors.Is(err, staff.ErrNotFound):
		return staff.User{}, withHint(fmt.Errorf("no user %q", username), "list the users with 'cardseal user list'")
	}
	return u, err
}

func userSetDisabled(ctx context.Context, verb string, args []string, out io.Writer) error {
	fs, dir, db := adminFlags("user " + verb)
	username := fs.String("username", "", "login name")
	reason := fs.String("reason", "", "why, for the audit log")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *username == "" {
		return usageError{"--username is required"}
	}
	st, sv, by, err := adminStaff(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := lookupUser(ctx, sv, *username)
	if err != nil {
		return err
	}
	disable := verb == "disable"
	if u.Disabled == disable {
		fmt.Fprintf(out, "user %s is already %sd\n", u.Username, verb)
		return nil
	}
	if err := sv.SetDisabled(ctx, by, u, disable, *reason); err != nil {
		return err
	}
	if disable {
		fmt.Fprintf(out, "disabled user %s: logins and open sessions are refused from now on\n", u.Username)
	} else {
		fmt.Fprintf(out, "enabled user %s\n", u.Username)
	}
	return nil
}

func userResetPassword(ctx context.Context, args []string, out io.Writer) error {
	fs, dir, db := adminFlags("user reset-password")
	username := fs.String("username", "", "login name")
	pwFile := fs.String("password-file", "", "file holding the new password (default: generate one and print it once)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *username == "" {
		return usageError{"--username is required"}
	}
	password, generated, err := newPassword(*pwFile)
	if err != nil {
		return err
	}
	st, sv, by, err := adminStaff(ctx, *dir, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := lookupUser(ctx, sv, *username)
	if err != nil {
		return err
	}
	if err := sv.ResetPassword(ctx, by, u, password); errors.Is(err, staff.ErrPassword) {
		return fmt.Errorf("%s: %w", *pwFile, err)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(out, "new password set for %s; failed-login count and lock cleared\n", u.Username)
	if generated {
		fmt.Fprintf(out, "password (shown only now; give it to the user in person): %s\n", password)
	}
	if u.Disabled {
		fmt.Fprintf(out, "note: %s is disabled; enable with 'cardseal user enable --username %s'\n", u.Username, u.Username)
	}
	return nil
}
