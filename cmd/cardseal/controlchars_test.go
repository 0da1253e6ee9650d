package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store/storetest"
)

// TestAdminTextRefusesControlCharacters (issue 12, I4): organisation
// names — added, renamed or imported — and usernames refuse control
// characters, and nothing is written.
func TestAdminTextRefusesControlCharacters(t *testing.T) {
	ctx := context.Background()
	st, url := storetest.Open(t)
	dir := t.TempDir()
	run := func(cmd string, args ...string) error {
		_, err := admin(t, cmd+" "+args[0], append(args[1:], "--dir", dir, "--db", url)...)
		return err
	}
	for _, o := range []org.Org{
		{Code: "220102", Level: org.County, Name: "长春市南关区卫生健康局"},
		{Code: "220102001", Level: org.Township, Name: "永吉街道办事处"},
	} {
		if err := st.CreateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []string{"\x07", "\x7f", "\u0085", "\u2028", "\u202e", "\n", "\xff"} {
		if err := run("org", "add", "--code", "220102009", "--name", "新城"+ch+"街道办事处"); err == nil {
			t.Errorf("org add with %q succeeded", ch)
		}
		if err := run("org", "rename", "--code", "220102001", "--name", "永吉"+ch+"街道"); err == nil {
			t.Errorf("org rename with %q succeeded", ch)
		}
		csv := filepath.Join(dir, "orgs.csv")
		if err := os.WriteFile(csv, []byte("division code,name\n220102009,新城"+ch+"街道办事处\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := run("org", "import", "--csv", csv); err == nil {
			t.Errorf("org import with %q succeeded", ch)
		}
		// staff.CheckUsername (package staff, another change's) refuses
		// C0, C1, line breaks and spaces; a bidirectional override and
		// invalid UTF-8 are left to it (issue 12, I4, reported).
		if ch != "\xff" && ch != "\u202e" {
			if err := run("user", "add", "--org", "220102001", "--username", "town"+ch+"1", "--name", "王五"); err == nil {
				t.Errorf("user add with %q succeeded", ch)
			}
		}
	}
	orgs, err := st.ListOrgs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 2 || orgs[1].Name != "永吉街道办事处" {
		t.Fatalf("organisations after the refused changes: %+v", orgs)
	}
	if users, err := st.ListUsers(ctx, ""); err != nil || len(users) != 0 {
		t.Fatalf("users after the refused additions: %d, %v", len(users), err)
	}
}
