package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store/storetest"
)

// TestCLIPopulationImport: 'cardseal population import' replaces a
// county's extract through the lifecycle call the JSON API uses: an
// application of a couple it lists then needs no paper for the household
// register and the marriage (Art. 9), and the import is one audit event
// by admin-cli. A malformed file, a code that is not a county, or missing
// flags import nothing.
func TestCLIPopulationImport(t *testing.T) {
	const pass = "population-cli-passphrase"
	t.Setenv("CARDSEAL_KEY_PASSPHRASE", pass)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	mustAdmin(t, "init", "--dir", dir, "--demo")
	write := func(name, body string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const header = "id_number,name,hukou,marital_status,spouse_id_number,marriage_date,marriage_cert_number,children\n"
	good := write("extract.csv", header+
		"220102199003071235,李四,吉林省长春市南关区永吉街道永安社区,married,220102199208152346,2024-05-20,J220102-2024-001234,0\n"+
		"220102199208152346,王喆堃,吉林省长春市南关区永吉街道永安社区,married,220102199003071235,2024-05-20,J220102-2024-001234,0\n")
	bad := write("bad.csv", header+"220102199003071235,李四,吉林省,engaged,,,,0\n")

	for _, args := range [][]string{
		{"population", "import", "--dir", dir, "--csv", good},                          // no county
		{"population", "import", "--dir", dir, "--county", "220102"},                   // no file
		{"population", "import", "--dir", dir, "--county", "220102", "--csv", bad},     // malformed
		{"population", "import", "--dir", dir, "--county", "220102001", "--csv", good}, // a township
	} {
		if code, out, errOut := cli(t, args...); code == 0 || !strings.Contains(errOut, "error:") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	st := storetest.OpenURL(t, filepath.Join(dir, "cardseal.db"))
	count := func() int {
		evs, err := st.AuditEvents(ctx, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Action == audit.PopulationImport {
				n++
				if e.Actor != adminActor || e.OrgCode != "220102" || !strings.Contains(string(e.Detail), `"residents":2`) {
					t.Errorf("import event by %s of %s: %s", e.Actor, e.OrgCode, e.Detail)
				}
			}
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d imports after refused commands", n)
	}
	code, out, errOut := cli(t, "population", "import", "--dir", dir, "--county", "220102", "--csv", good)
	if code != 0 || !strings.Contains(out, "imported 2 residents") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	st.Close()
	st = storetest.OpenURL(t, filepath.Join(dir, "cardseal.db"))
	if n := count(); n != 1 {
		t.Fatalf("%d import events, want 1", n)
	}

	ks, err := keys.OpenDir(dir, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	svc := lifecycle.NewService(st, ks, "http://127.0.0.1:8080")
	app, err := card.ParseApplicant(applicantJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	app.Materials = map[card.Material]card.MaterialState{card.MatIDCards: card.Provided, card.MatHukou: card.Missing, card.MatMarriage: card.Missing}
	village, err := st.GetOrg(ctx, "220102001001")
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Apply(ctx, lifecycle.Actor{Username: village.Code, Org: village}, app)
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.Applicant(c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Materials[card.MatHukou] != card.PopulationDB || got.Materials[card.MatMarriage] != card.PopulationDB {
		t.Fatalf("materials after the CLI import: %v", got.Materials)
	}
}
