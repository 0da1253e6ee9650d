package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
)

// Staff accounts, through the staff service (package staff decides the
// password rules); admin.go says how these commands record their changes.

var cmdUser = &command{
	name:  "user",
	short: "staff accounts",
	long: `User lists and changes staff accounts in the registry, with the server running
or not, through the same rules as the service's console. Each change is one
audit event by "admin-cli" that names the operating-system user. A generated
password is printed once: give it to the user in person.`,
	sub: []*command{cmdUserList, cmdUserAdd, cmdUserDisable, cmdUserEnable, cmdUserResetPassword},
}

var cmdUserList = &command{
	name:     "user list",
	args:     "[--org PREFIX] [--dir DIR] [--db URL]",
	short:    "list staff users: username, organisation, state",
	long:     `List prints the staff users, of the organisations whose code starts with --org if given.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		orgCode := fs.String("org", "", "only users of organisations whose code starts with this")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"user list takes no arguments"}
			}
			st, sv, _, err := adminStaff(ctx, e)
			if err != nil {
				return err
			}
			defer st.Close()
			out := e.stdout
			users, err := sv.Users(ctx, *orgCode)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "USERNAME\tNAME\tORG\tSTATE")
			for _, u := range users {
				state := "active"
				if u.Disabled {
					state = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, u.DisplayName, u.OrgCode, state)
			}
			return tw.Flush()
		}
	},
}

var cmdUserAdd = &command{
	name:  "user add",
	args:  "--org CODE --username LOGIN --name NAME [--password-file FILE] [--dir DIR] [--db URL]",
	short: "add a staff user to an organisation",
	long: `Add creates a staff account of an active organisation for one person, named by
--name (shown as 操作人 in a card's history; an account is never shared). The
initial password is read from --password-file, else generated and printed once.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		orgCode := fs.String("org", "", "division code of the user's organisation")
		username := fs.String("username", "", "login name")
		name := fs.String("name", "", "the person's name, as the console shows who acted (up to 32 characters)")
		pwFile := fs.String("password-file", "", "`FILE` holding the initial password (default: generate one and print it once)")
		return func(ctx context.Context, e *env, args []string) error {
			if *orgCode == "" || *username == "" || *name == "" || len(args) != 0 {
				return usageError{"--org, --username and --name are required"}
			}
			code, _, err := org.NormalizeCode(*orgCode)
			if err != nil {
				return err
			}
			password, generated, err := newPassword(*pwFile)
			if err != nil {
				return err
			}
			st, sv, by, err := adminStaff(ctx, e)
			if err != nil {
				return err
			}
			defer st.Close()
			out := e.stdout
			u, err := sv.AddUser(ctx, by, *username, *name, code, password)
			switch {
			case errors.Is(err, staff.ErrUsername), errors.Is(err, staff.ErrPassword), errors.Is(err, staff.ErrDisplayName):
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
			fmt.Fprintf(out, "added user %s (%s) of %s %s\n", u.Username, u.DisplayName, o.Code, o.Name)
			if generated {
				fmt.Fprintf(out, "password (shown only now; give it to the user in person): %s\n", password)
			}
			return nil
		}
	},
}

var (
	cmdUserDisable = userSetDisabled("disable", "disable a staff user: logins and open sessions are refused",
		`Disable refuses the user's logins and open sessions from now on; the account and
its history stay.`)
	cmdUserEnable = userSetDisabled("enable", "enable a disabled staff user",
		`Enable lets a disabled user log in again.`)
)

// userSetDisabled declares 'user disable' or 'user enable'.
func userSetDisabled(verb, short, long string) *command {
	return &command{
		name:     "user " + verb,
		args:     "--username NAME [--reason TEXT] [--dir DIR] [--db URL]",
		short:    short,
		long:     long,
		settings: storeFlag,
		flags: func(fs *flag.FlagSet) runFunc {
			username := fs.String("username", "", "login name")
			reason := fs.String("reason", "", "why, for the audit log")
			return func(ctx context.Context, e *env, args []string) error {
				if *username == "" || len(args) != 0 {
					return usageError{"--username is required"}
				}
				st, sv, by, err := adminStaff(ctx, e)
				if err != nil {
					return err
				}
				defer st.Close()
				out := e.stdout
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
		},
	}
}

var cmdUserResetPassword = &command{
	name:  "user reset-password",
	args:  "--username NAME [--password-file FILE] [--dir DIR] [--db URL]",
	short: "set a new password; clears the failed-login count and lock",
	long: `Reset-password sets a user's password, read from --password-file or generated
and printed once, and clears the failed-login count and the lock.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		username := fs.String("username", "", "login name")
		pwFile := fs.String("password-file", "", "`FILE` holding the new password (default: generate one and print it once)")
		return func(ctx context.Context, e *env, args []string) error {
			if *username == "" || len(args) != 0 {
				return usageError{"--username is required"}
			}
			password, generated, err := newPassword(*pwFile)
			if err != nil {
				return err
			}
			st, sv, by, err := adminStaff(ctx, e)
			if err != nil {
				return err
			}
			defer st.Close()
			out := e.stdout
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
	},
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
