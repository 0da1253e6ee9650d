package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
)

// cardseal population import: a county's extract of the population
// register (Art. 9, 23; docs/population-extract.md) from a file, through
// the same lifecycle call as PUT /api/v1/population/{county}. The actor is
// "admin-cli" acting for that county, so the permission table decides as
// it does for the county's staff; the import is one audit event.

var cmdPopulation = &command{
	name:  "population",
	short: "a county's extract of the population register (Art. 9, 23)",
	long: `Population imports a county's extract of the population register
(全员人口数据库; docs/population-extract.md), which proves an application's
household register and marriage (Art. 9) and which the comparison report
holds the cards against (Art. 23).`,
	sub: []*command{cmdPopulationImport},
}

var cmdPopulationImport = &command{
	name:  "population import",
	args:  "--county CODE --csv FILE [--dir DIR] [--db URL]",
	short: "replace a county's population-register extract by a CSV file",
	long: `Import reads a county's extract (UTF-8 CSV with the header of
docs/population-extract.md) and replaces the county's extract in the registry
by it, each resident encrypted under the data key, as county staff do with
PUT /api/v1/population/{county}. Any bad line stops the import before anything
is written. The import is one audit event by "admin-cli" naming the
operating-system user.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		county := fs.String("county", "", "the county's division `CODE` (6 digits)")
		file := fs.String("csv", "", "the extract, CSV `FILE`")
		return func(ctx context.Context, e *env, args []string) error {
			if *county == "" || *file == "" || len(args) != 0 {
				return usageError{"--county and --csv are required"}
			}
			f, err := os.Open(*file)
			if err != nil {
				return err
			}
			defer f.Close()
			residents, err := card.ParseExtract(f)
			if err != nil {
				return withHint(fmt.Errorf("%s: %w", *file, err), "the file must be UTF-8 CSV with the header and columns of docs/population-extract.md; nothing was imported")
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			ks, err := openKeys(s)
			if err != nil {
				return err
			}
			st, err := openRegistry(ctx, s, false)
			if err != nil {
				return err
			}
			defer st.Close()
			o, err := st.GetOrg(ctx, *county)
			if errors.Is(err, org.ErrUnknown) || (err == nil && o.Level != org.County) {
				return withHint(fmt.Errorf("%s is not a county of the registry", *county), "give the 6-digit code of a county ('cardseal org list')")
			}
			if err != nil {
				return err
			}
			a := lifecycle.Actor{Username: adminActor, Org: o}
			if u, err := user.Current(); err == nil {
				a.RemoteAddr = "os-user:" + u.Username
			}
			svc := lifecycle.NewService(st, ks, "")
			svc.Now = e.now
			n, err := svc.ImportPopulation(ctx, a, *county, residents)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "imported %d residents into the population register of %s %s\n", n, o.Code, o.Name)
			return nil
		}
	},
}
