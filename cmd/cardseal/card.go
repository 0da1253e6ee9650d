package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"math/big"
	"os"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
)

var cmdCard = &command{
	name:  "card",
	short: "cards outside the service",
	long: `Card works on card PDFs without the service: 'cardseal card render' draws an
unsealed card from an application, for trying templates and the seal chain by
hand ('cardseal seal', 'cardseal verify').`,
	sub: []*command{cmdCardRender},
}

var cmdCardRender = &command{
	name:  "card render",
	args:  "--applicant APPLICATION.json [--out card.pdf] [--number N] [--dir DIR]",
	short: "render an unsealed card from an application JSON file",
	long: `Render draws revision 0 of a card: the applicant's fields, the seal boxes and
the QR code, signed with the data directory's platform key. The application is
checked as the service checks it (see examples/applicant.json).`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		app := fs.String("applicant", "", "application JSON `FILE` (see examples/applicant.json)")
		outFile := fs.String("out", "card.pdf", "PDF `FILE` to write")
		number := fs.String("number", "", "card number (16 digits; default: county + year + random sequence)")
		return func(ctx context.Context, e *env, args []string) error {
			if *app == "" || len(args) != 0 {
				return usageError{"--applicant is required"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			if _, err := openKeys(s); err != nil {
				return err
			}
			b, err := os.ReadFile(*app)
			if err != nil {
				return err
			}
			a, err := card.ParseApplicant(b)
			if err != nil {
				return err
			}
			n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
			now := e.now().In(lifecycle.China)
			if *number == "" {
				*number = fmt.Sprintf("%s%04d%06d", org.CountyCode(a.Village), now.Year(), n.Int64())
			}
			st, err := openRegistry(ctx, s, false)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := lifecycle.Render(ctx, st, &lifecycle.Draft{
				Number:    *number,
				Applicant: a,
				IssueDate: now,
				// No registry here: the card gets a random status-list slot.
				StatusIndex: int(n.Int64()) % card.StatusListSize,
			}, s.PublicURL)
			if err != nil {
				return err
			}
			if err := os.WriteFile(*outFile, r.PDF, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "rendered card %s (%s) to %s\nQR: %s\nverification code: %s\n", *number, a.Type.Title(), *outFile, r.URL, r.VerificationCode)
			return nil
		}
	},
}
