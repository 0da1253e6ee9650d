package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
)

func cmdInit(args []string, out io.Writer) error {
	fs := newFlags("init")
	dir := fs.String("dir", "", "data directory to create (default "+config.DefaultDir+")")
	demo := fs.Bool("demo", false, "add the demo province: county 220102, two townships, two villages")
	publicURL := fs.String("public-url", "", "base URL printed in QR codes (default http://ADDR)")
	root := fs.String("root", "", "trust.pem or root.crt of an offline root CA: a server keystore without the root key")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *root != "" && *demo {
		return usageError{"--root and --demo exclude each other: the demo province has its root key on the server"}
	}
	cfg, err := config.Load(*dir)
	if err != nil {
		return err
	}
	if *publicURL != "" {
		cfg.PublicURL = *publicURL
	}
	if *root != "" {
		return initServer(cfg, *root, out)
	}
	return initDir(cfg, *demo, out)
}

// initDir creates the keystore and config of a new data directory.
func initDir(cfg *config.Config, demo bool, out io.Writer) error {
	if keys.Initialised(cfg.Dir) {
		return withHint(fmt.Errorf("%s is already initialised", cfg.Dir), "use another --dir, or remove the directory to start over")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return err
	}
	pass, passFile, err := cfg.NewDemoPassphrase()
	if err != nil {
		return err
	}
	prov := keys.ProvinceConfig{Province: keys.Demo.Province, RootName: keys.Demo.RootName}
	if demo {
		prov = keys.Demo
	}
	if err := keys.InitDir(cfg.Dir, prov, pass, time.Now()); err != nil {
		return err
	}
	if err := cfg.Save(); err != nil {
		return err
	}
	// The registry of organisations (the database) starts with the
	// organisations just certified.
	ks, err := keys.OpenDir(cfg.Dir, pass)
	if err != nil {
		return err
	}
	cfg.Fill()
	ctx := context.Background()
	st, err := openRegistry(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := seedOrgs(ctx, st, ks); err != nil {
		return err
	}
	fmt.Fprintf(out, "initialised %s: province root CA, platform key", cfg.Dir)
	if demo {
		fmt.Fprintf(out, ", %d demo organisations", len(prov.Orgs))
	}
	fmt.Fprintln(out)
	if passFile != "" {
		fmt.Fprintf(out, "key passphrase generated and kept outside the data directory in %s\n", passFile)
	}
	fmt.Fprintf(out, "trust list: %s/keys/trust.pem\n", cfg.Dir)
	return nil
}
