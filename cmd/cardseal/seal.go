package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jilin-health/cardseal/lifecycle"
)

func cmdSeal(args []string, out io.Writer) error {
	fs := newFlags("seal")
	dir := fs.String("dir", "", "data directory")
	orgCode := fs.String("org", "", "division code of the sealing organisation, e.g. 220102001001")
	in := fs.String("in", "", "card PDF to seal")
	outFile := fs.String("out", "", "sealed PDF to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *orgCode == "" || *in == "" || *outFile == "" {
		return usageError{"--org, --in and --out are required"}
	}
	cfg, ks, err := openKeys(*dir)
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, err := openRegistry(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	o, err := st.GetOrg(ctx, *orgCode)
	if err != nil {
		return err
	}
	pdf, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	number, err := lifecycle.CardNumber(pdf)
	if err != nil {
		return err
	}
	sealed, err := lifecycle.NewSealer(ks).SealCard(pdf, o, number, time.Now())
	if err != nil {
		return err
	}
	if err := os.WriteFile(*outFile, sealed, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "sealed as %s %s (%s): %s\n", o.Level, o.Code, o.Name, *outFile)
	return nil
}
