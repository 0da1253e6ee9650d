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

// demoClerks are the made-up people of the demo's accounts, one clerk per
// organisation in the keystore's order (then numbered): an account is a
// person's, and a card's history names who acted (操作人).
var demoClerks = []string{"张敏", "王强", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周涛", "吴刚"}

// demoClerk is the demo clerk of the i-th organisation.
func demoClerk(i int) string {
	if i < len(demoClerks) {
		return demoClerks[i]
	}
	return fmt.Sprintf("办事员%d", i+1)
}

// bootstrap records the keystore's organisations in the registry and, on
// a registry without staff, creates one clerk's account per organisation
// (its division code is the username, the clerk's name its display name)
// plus admin, and prints the logins once.
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
	type login struct{ user, code, name, person string }
	var logins []login
	for i, o := range orgs {
		logins = append(logins, login{o.Code, o.Code, o.Name, demoClerk(i)})
	}
	logins = append(logins, login{adminUser, county.Code, county.Name, "平台管理员"})
	by := staff.Admin{Name: "bootstrap"}
	for _, l := range logins {
		if _, err := sv.AddUser(ctx, by, l.user, l.person, l.code, password); err != nil && !errors.Is(err, staff.ErrDuplicate) {
			return err
		}
	}
	fmt.Fprintln(out, "staff logins (one clerk per organisation; the username is its division code):")
	for _, l := range logins {
		fmt.Fprintf(out, "  %-13s %s, %s\n", l.user, l.person, l.name)
	}
	if generated {
		fmt.Fprintf(out, "password of every login above (shown only now): %s\n", password)
	} else {
		fmt.Fprintln(out, "password: the one given by --demo-password / CARDSEAL_DEMO_PASSWORD")
	}
	fmt.Fprintf(out, "log in: POST %s/api/v1/login {\"username\":\"220102001001\",\"password\":\"…\"}\n", strings.TrimRight(publicURL, "/"))
	return nil
}
