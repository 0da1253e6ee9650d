package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/store"
)

// adminUser is the demo administrator, a member of the first county.
const adminUser = "admin"

// bootstrap records the keystore's organisations in the registry and, on
// a registry without staff, creates one user per organisation (its
// division code is the username) plus admin, and prints the logins once.
func bootstrap(ctx context.Context, st *store.DB, sv *staff.Service, ks *keys.FileStore, password, publicURL string, out io.Writer) error {
	if err := seedOrgs(ctx, st, ks); err != nil {
		return err
	}
	if _, err := st.GetUserByName(ctx, adminUser); err == nil {
		return nil
	} else if !errors.Is(err, staff.ErrNotFound) {
		return err
	}
	orgs, err := st.ListOrgs(ctx)
	if err != nil {
		return err
	}
	var county *org.Org
	for i := range orgs {
		if orgs[i].Level == org.County {
			county = &orgs[i]
			break
		}
	}
	if county == nil {
		fmt.Fprintln(out, "no organisations in the keystore: no staff users created (initialise with --demo, or add organisations)")
		return nil
	}
	generated := password == ""
	if generated {
		password = staff.RandomPassword()
	}
	type login struct{ user, code, name string }
	var logins []login
	for _, o := range orgs {
		logins = append(logins, login{o.Code, o.Code, o.Name})
	}
	logins = append(logins, login{adminUser, county.Code, county.Name})
	by := staff.Admin{Name: "bootstrap"}
	for _, l := range logins {
		if _, err := sv.AddUser(ctx, by, l.user, l.code, password); err != nil && !errors.Is(err, staff.ErrDuplicate) {
			return err
		}
	}
	fmt.Fprintln(out, "staff logins (one per organisation; the username is its division code):")
	for _, l := range logins {
		fmt.Fprintf(out, "  %-13s %s\n", l.user, l.name)
	}
	if generated {
		fmt.Fprintf(out, "password of every login above (shown only now): %s\n", password)
	} else {
		fmt.Fprintln(out, "password: the one given by --demo-password / CARDSEAL_DEMO_PASSWORD")
	}
	fmt.Fprintf(out, "log in: POST %s/api/v1/login {\"username\":\"220102001001\",\"password\":\"…\"}\n", strings.TrimRight(publicURL, "/"))
	return nil
}
