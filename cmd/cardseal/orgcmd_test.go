package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/throttle"
)

func auditActions(t *testing.T, st *store.DB) []string {
	t.Helper()
	evs, err := st.AuditEvents(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Actor != adminActor {
			t.Fatalf("event %d by %q", evs[i].ID, evs[i].Actor)
		}
		out = append(out, string(evs[i].Action)+" "+evs[i].OrgCode)
	}
	return out
}

func TestOrgCommands(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		st, url := open(t)
		dir := t.TempDir()
		orgCmd := func(args ...string) (string, error) {
			return admin(t, "org", append(args, "--dir", dir, "--db", url)...)
		}
		for _, o := range []org.Org{
			{Code: "220102", Level: org.County, Name: "长春市南关区卫生健康局"},
			{Code: "220102001", Level: org.Township, Name: "永吉街道办事处"},
		} {
			if err := st.CreateOrg(ctx, o); err != nil {
				t.Fatal(err)
			}
		}

		out, err := orgCmd("add", "--code", "220102002000", "--name", "桃源街道办事处")
		if err != nil || !strings.Contains(out, "added township 220102002 桃源街道办事处") || !strings.Contains(out, "keys csr --org 220102002") {
			t.Fatalf("add: %v\n%s", err, out)
		}
		for _, bad := range [][]string{
			{"add", "--code", "220102002", "--name", "again"},                   // exists
			{"add", "--code", "22010200", "--name", "x"},                        // 8 digits
			{"add", "--code", "220102003", "--name", " "},                       // no name
			{"add", "--code", "220102003", "--name", "x", "--level", "village"}, // level mismatch
			{"add", "--code", "220102003"},                                      // usage
			{"rename", "--code", "220102009", "--name", "无此单位"},                 // unknown
			{"retire", "--code", "220102002", "--into", "220102"},               // other level
			{"frobnicate"},
		} {
			if out, err := orgCmd(bad...); err == nil {
				t.Errorf("%v succeeded:\n%s", bad, out)
			}
		}

		// Import: every bad row is reported with its line, nothing is written.
		csvFile := filepath.Join(dir, "orgs.csv")
		os.WriteFile(csvFile, []byte("division code,name,level\n"+
			"220102003,新城街道办事处\n"+
			"22010200400,缺一位\n"+
			"220102003001,新城社区,township\n"+
			"220102005,\n"+
			"220102003,新城街道办事处\n"), 0o600)
		before, _ := st.ListOrgs(ctx)
		_, err = orgCmd("import", "--csv", csvFile)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		for _, want := range []string{"4 bad rows", "line 3:", "line 4:", "line 5:", "line 6: 220102003 is also on line 2"} {
			if !strings.Contains(msg, want) {
				t.Errorf("import error lacks %q:\n%s", want, msg)
			}
		}
		if strings.Contains(msg, "line 2:") {
			t.Errorf("good line 2 reported:\n%s", msg)
		}
		if after, _ := st.ListOrgs(ctx); len(after) != len(before) {
			t.Fatalf("a bad import wrote %d organisations", len(after)-len(before))
		}

		// GBK is refused with a hint.
		os.WriteFile(csvFile, []byte("220102003,\xd0\xc2\xb3\xc7\n"), 0o600)
		if _, err := orgCmd("import", "--csv", csvFile); err == nil || !strings.Contains(err.Error(), "not UTF-8") {
			t.Fatalf("GBK file: %v", err)
		}

		good := "\xef\xbb\xbf代码,名称,级别\n" +
			"220102003000,新城街道办事处,township\n" +
			"220102003001,新城社区居民委员会\n" +
			"220102001,永吉街道办事处\n"
		os.WriteFile(csvFile, []byte(good), 0o600)
		if out, err := orgCmd("import", "--csv", csvFile, "--dry-run"); err != nil || !strings.Contains(out, "2 added, 0 renamed, 1 unchanged") || !strings.Contains(out, "nothing written") {
			t.Fatalf("dry run: %v\n%s", err, out)
		}
		if o, _ := st.ListOrgs(ctx); len(o) != 3 {
			t.Fatalf("dry run wrote: %d organisations", len(o))
		}
		if out, err := orgCmd("import", "--csv", csvFile); err != nil || !strings.Contains(out, "2 added, 0 renamed, 1 unchanged") {
			t.Fatalf("import: %v\n%s", err, out)
		}
		nEvents := len(auditActions(t, st))
		if out, err := orgCmd("import", "--csv", csvFile); err != nil || !strings.Contains(out, "0 added, 0 renamed, 3 unchanged") {
			t.Fatalf("re-import: %v\n%s", err, out)
		}
		if n := len(auditActions(t, st)); n != nEvents {
			t.Fatalf("a re-import that changed nothing was audited (%d → %d events)", nEvents, n)
		}
		if o, err := st.GetOrg(ctx, "220102003001"); err != nil || o.Level != org.Village || o.Name != "新城社区居民委员会" {
			t.Fatalf("imported village: %+v %v", o, err)
		}

		if out, err := orgCmd("rename", "--code", "220102003", "--name", "新城街道"); err != nil || !strings.Contains(out, "新城街道办事处 → 新城街道") {
			t.Fatalf("rename: %v\n%s", err, out)
		}
		if err := st.CreateUser(ctx, &staff.User{Username: "taoyuan1", OrgCode: "220102002", PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
		out, err = orgCmd("retire", "--code", "220102002", "--into", "220102001", "--reason", "merged")
		if err != nil || !strings.Contains(out, "retired township 220102002") || !strings.Contains(out, "user disable --username taoyuan1") {
			t.Fatalf("retire: %v\n%s", err, out)
		}
		if out, err := orgCmd("retire", "--code", "220102002"); err != nil || !strings.Contains(out, "already retired") {
			t.Fatalf("retire again: %v\n%s", err, out)
		}
		out = mustAdmin(t, "org", "list", "--dir", dir, "--db", url)
		for _, re := range []string{`220102002\s+township\s+retired\s+桃源街道办事处`, `220102003\s+township\s+active\s+新城街道\n`, `220102003001\s+village\s+active`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("list lacks %s:\n%s", re, out)
			}
		}
		want := []string{"org.add 220102002", "org.import ", "org.rename 220102003", "org.retire 220102002"}
		if got := auditActions(t, st); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("audit %q, want %q", got, want)
		}
		evs, _ := st.AuditEvents(ctx, "", 1)
		if !strings.Contains(string(evs[0].Detail), `"into":"220102001"`) {
			t.Fatalf("retire detail %s", evs[0].Detail)
		}
		if bad, err := st.VerifyAudit(ctx); err != nil {
			t.Fatalf("audit chain: %d %v", bad, err)
		}
	})
}

var passwordRE = regexp.MustCompile(`password \(shown only now[^)]*\): (\S+)`)

func TestUserCommands(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		st, url := open(t)
		dir := t.TempDir()
		user := func(args ...string) (string, error) {
			return admin(t, "user", append(args, "--dir", dir, "--db", url)...)
		}
		for _, o := range []org.Org{
			{Code: "220102001", Level: org.Township, Name: "永吉街道办事处"},
			{Code: "220102002", Level: org.Township, Name: "桃源街道办事处", Retired: true},
		} {
			if err := st.CreateOrg(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		check := func(username, password string, want bool) {
			t.Helper()
			u, err := st.GetUserByName(ctx, username)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := staff.CheckPassword(u.PasswordHash, password); err != nil || ok != want {
				t.Fatalf("password %q of %s: %v %v, want %v", password, username, ok, err, want)
			}
		}

		out, err := user("add", "--org", "220102001", "--username", "zhang.wei", "--name", "张伟")
		m := passwordRE.FindStringSubmatch(out)
		if err != nil || m == nil || len(m[1]) != 16 {
			t.Fatalf("add: %v\n%s", err, out)
		}
		pw1 := m[1]
		check("zhang.wei", pw1, true)

		pwFile := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pwFile, []byte("short\n"), 0o600)
		for _, bad := range [][]string{
			{"add", "--org", "220102001", "--username", "zhang.wei", "--name", "张伟"},                     // exists
			{"add", "--org", "220102002", "--username", "li", "--name", "李四"},                            // retired org
			{"add", "--org", "220102009", "--username", "li", "--name", "李四"},                            // unknown org
			{"add", "--org", "220102001", "--username", "li si", "--name", "李四"},                         // space
			{"add", "--org", "220102001", "--username", "li", "--name", "李四", "--password-file", pwFile}, // too short
			{"add", "--org", "220102001", "--username", "li"},                                            // no name
			{"add", "--org", "220102001", "--username", "li", "--name", "李\u202e四"},                      // format character
			{"disable", "--username", "nobody"},
			{"reset-password"},
		} {
			if out, err := user(bad...); err == nil {
				t.Errorf("%v succeeded:\n%s", bad, out)
			}
		}
		if _, err := st.GetUserByName(ctx, "li"); !errors.Is(err, staff.ErrNotFound) {
			t.Fatalf("a refused add created the user: %v", err)
		}

		os.WriteFile(pwFile, []byte("correct horse battery\n"), 0o600)
		if out, err := user("add", "--org", "220102001", "--username", "li", "--name", "李四", "--password-file", pwFile); err != nil || strings.Contains(out, "shown only now") {
			t.Fatalf("add from file: %v\n%s", err, out)
		}
		check("li", "correct horse battery", true)

		if out, err := user("disable", "--username", "zhang.wei", "--reason", "left"); err != nil || !strings.Contains(out, "disabled user zhang.wei") {
			t.Fatalf("disable: %v\n%s", err, out)
		}
		if u, _ := st.GetUserByName(ctx, "zhang.wei"); !u.Disabled {
			t.Fatal("not disabled")
		}
		if out, _ := user("list", "--org", "220102001"); !regexp.MustCompile(`zhang\.wei\s+张伟\s+220102001\s+disabled`).MatchString(out) {
			t.Fatalf("list:\n%s", out)
		}
		mustAdmin(t, "user", "enable", "--username", "zhang.wei", "--dir", dir, "--db", url)
		if u, _ := st.GetUserByName(ctx, "zhang.wei"); u.Disabled {
			t.Fatal("not enabled")
		}

		// A reset clears the delays of wrong passwords and replaces the
		// password.
		delayed := throttle.Key{Scope: "login", Subject: "zhang.wei", Client: "192.0.2.1"}
		if ok, err := st.SetThrottle(ctx, delayed, 0, throttle.Record{Failures: 9, NotBefore: time.Now().Add(time.Hour), Expires: time.Now().Add(24 * time.Hour)}); err != nil || !ok {
			t.Fatal(ok, err)
		}
		out = mustAdmin(t, "user", "reset-password", "--username", "zhang.wei", "--dir", dir, "--db", url)
		m = passwordRE.FindStringSubmatch(out)
		if m == nil || m[1] == pw1 {
			t.Fatalf("reset:\n%s", out)
		}
		check("zhang.wei", m[1], true)
		check("zhang.wei", pw1, false)
		if rec, err := st.Throttle(ctx, delayed); err != nil || rec.Failures != 0 {
			t.Fatalf("delay not cleared: %+v, %v", rec, err)
		}

		want := []string{"user.add 220102001", "user.add 220102001", "user.disable 220102001", "user.enable 220102001", "user.reset_password 220102001"}
		if got := auditActions(t, st); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("audit %q, want %q", got, want)
		}
		evs, _ := st.AuditEvents(ctx, "", 10)
		for _, ev := range evs {
			if strings.Contains(string(ev.Detail), pw1) || strings.Contains(string(ev.Detail), "$argon2id") {
				t.Fatalf("audit event %d holds a password or hash: %s", ev.ID, ev.Detail)
			}
		}
	})
}

func TestAdminStoreRefusesMissingDatabase(t *testing.T) {
	dir := t.TempDir()
	_, err := admin(t, "org", "list", "--dir", dir)
	var h hinted
	if err == nil || !errors.As(err, &h) || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("org list on an empty dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cardseal.db")); !os.IsNotExist(err) {
		t.Fatal("org list created a database")
	}
}
