package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
)

var cmdInit = &command{
	name:  "init",
	args:  "[--dir DIR] [--demo | --root trust.pem] [--public-url URL]",
	short: "create a data directory: keystore, config file and registry",
	long: `Init creates a data directory: the keystore (keys/), cardseal.toml and the
registry (the database).

With --demo it holds a demo province: its root CA and the seal keys of county
220102, two townships and two villages, next to the platform's QR-signing key.
The key passphrase is generated and kept outside the data directory unless
CARDSEAL_KEY_PASSPHRASE(_FILE) gives one.

With --root it is a production server's data directory: it trusts the offline
root CA in trust.pem (made by 'cardseal ca init') and holds no root key and no
organisations yet; 'cardseal keys csr' requests their keys.

'cardseal serve' runs init --demo itself on an empty directory.`,
	settings: []string{"dir", "db", "public_url"},
	flags: func(fs *flag.FlagSet) runFunc {
		demo := fs.Bool("demo", false, "add the demo province: county 220102, two townships, two villages")
		root := fs.String("root", "", "trust.pem or root.crt of an offline root CA: a server keystore without the root key")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"init takes no arguments"}
			}
			if *root != "" && *demo {
				return usageError{"--root and --demo exclude each other: the demo province has its root key on the server"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			if *root != "" {
				return initServer(ctx, s, *root, e.stdout)
			}
			return initDir(ctx, s, *demo, true, e.stdout, e.now())
		}
	},
}

// initDir creates the keystore, config file and registry of a new data
// directory. saveFlags writes the settings given as flags to the config
// file (init does; serve, whose flags override the file at every start,
// does not).
func initDir(ctx context.Context, s *config.Settings, demo, saveFlags bool, out io.Writer, now time.Time) error {
	if keys.Initialised(s.Dir) {
		return withHint(fmt.Errorf("%s is already initialised", s.Dir), "use another --dir, or remove the directory to start over")
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	pass, passFile, err := s.NewDemoPassphrase()
	if err != nil {
		return err
	}
	prov := keys.ProvinceConfig{Province: keys.Demo.Province, RootName: keys.Demo.RootName}
	if demo {
		prov = keys.Demo
	}
	if err := keys.InitDir(s.Dir, prov, pass, now); err != nil {
		return err
	}
	if err := s.Save(saveFlags); err != nil {
		return err
	}
	// The registry of organisations (the database) starts with the
	// organisations just certified.
	ks, err := keys.OpenDir(s.Dir, pass)
	if err != nil {
		return err
	}
	st, err := openRegistry(ctx, s, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := seedOrgs(ctx, st, ks); err != nil {
		return err
	}
	// The root key is here: its first CRL, so that /crl answers and the
	// cards' /DSS lets them verify offline.
	crl, err := issueDemoCRL(ks, pass, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "initialised %s: province root CA, platform key", s.Dir)
	if demo {
		fmt.Fprintf(out, ", %d demo organisations", len(prov.Orgs))
	}
	fmt.Fprintln(out)
	if passFile != "" {
		fmt.Fprintf(out, "key passphrase generated and kept outside the data directory in %s\n", passFile)
	}
	fmt.Fprintf(out, "trust list: %s/keys/trust.pem\n", s.Dir)
	fmt.Fprintf(out, "CRL number %v of the root installed (keys/%s, served at /crl), next update %s\n", crl.Number, keys.CRLFile, crl.NextUpdate.Format(time.RFC3339))
	return nil
}

// initServer creates a server data directory whose trust list is the
// offline root (init --root): no root key, no organisations yet.
func initServer(ctx context.Context, s *config.Settings, rootFile string, out io.Writer) error {
	if keys.Initialised(s.Dir) {
		return withHint(fmt.Errorf("%s is already initialised", s.Dir), "use another --dir, or remove the directory to start over")
	}
	b, err := os.ReadFile(rootFile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	if err := keys.InitServerDir(s.Dir, b); err != nil {
		return withHint(err, "give the trust.pem or root.crt that 'cardseal ca init' wrote")
	}
	if err := s.Save(true); err != nil {
		return err
	}
	// The registry (the database) starts empty; 'keys import' records
	// each organisation as its certificate arrives.
	st, err := openRegistry(ctx, s, true)
	if err != nil {
		return err
	}
	st.Close()
	tl, _ := keys.ParseTrustList(b)
	root := tl.Roots()[0]
	kid, _ := keys.KeyID(root.PublicKey)
	fmt.Fprintf(out, "initialised %s trusting %s (key id %s); no root key, no organisations yet\n", s.Dir, root.Subject.CommonName, kid)
	fmt.Fprintf(out, "next: cardseal keys csr --dir %s --platform, then one 'keys csr --org CODE --name NAME' per organisation\n", s.Dir)
	return nil
}
