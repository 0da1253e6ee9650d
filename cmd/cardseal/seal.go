package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/tsa"
)

var cmdSeal = &command{
	name:  "seal",
	args:  "--org CODE --in CARD.pdf --out SEALED.pdf [--dir DIR]",
	short: "apply an organisation's seal to a card PDF",
	long: `Seal appends one revision to a card PDF, signed with the seal key of the
organisation with the division code: village, then township, then county, each
within the jurisdiction of the seals before it. A seal the chain does not allow
is refused and nothing is written.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		orgCode := fs.String("org", "", "division code of the sealing organisation, e.g. 220102001001")
		in := fs.String("in", "", "card PDF to seal")
		outFile := fs.String("out", "", "sealed PDF to write")
		return func(ctx context.Context, e *env, args []string) error {
			if *orgCode == "" || *in == "" || *outFile == "" || len(args) != 0 {
				return usageError{"--org, --in and --out are required"}
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
			// The seal carries the platform's timestamp, its serial
			// number from the registry every instance shares.
			tsaID, err := ks.TSAIdentity()
			if err != nil {
				return withHint(fmt.Errorf("time-stamping key: %w", err), "make it with 'cardseal keys csr --tsa', 'cardseal ca sign' and 'cardseal keys import'")
			}
			authority, err := tsa.New(tsaID, st, tsa.Options{Now: e.now, MaxDrift: s.TSAMaxDrift})
			if err != nil {
				return err
			}
			sealer := lifecycle.NewSealer(ks)
			sealer.Stamp = authority
			sealed, err := sealer.SealCard(pdf, o, number, e.now())
			if err != nil {
				return err
			}
			// The seal that completes the chain adds the long-term
			// validation data: /DSS with the installed CRL, then a
			// document timestamp (PAdES B-LTA).
			crls, err := ks.CRLs()
			if err != nil {
				return err
			}
			if sealed, err = sealer.FinishCard(ctx, sealed, crls, e.now()); err != nil {
				return err
			}
			if err := os.WriteFile(*outFile, sealed, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "sealed as %s %s (%s): %s\n", o.Level, o.Code, o.Name, *outFile)
			return nil
		}
	},
}
