package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
)

// china is the time zone of dates printed on cards.

func cmdRender(args []string, out io.Writer) error {
	fs := newFlags("card render")
	dir := fs.String("dir", "", "data directory")
	app := fs.String("applicant", "", "application JSON file (see examples/applicant.json)")
	outFile := fs.String("out", "card.pdf", "PDF file to write")
	number := fs.String("number", "", "card number (16 digits; default: county + year + random sequence)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *app == "" {
		return usageError{"--applicant is required"}
	}
	cfg, _, err := openKeys(*dir)
	if err != nil {
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
	if *number == "" {
		*number = fmt.Sprintf("%s%04d%06d", org.CountyCode(a.Village), time.Now().In(lifecycle.China).Year(), n.Int64())
	}
	ctx := context.Background()
	st, err := openRegistry(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := lifecycle.Render(ctx, st, &lifecycle.Draft{
		Number:    *number,
		Applicant: a,
		IssueDate: time.Now().In(lifecycle.China),
		// No registry here: the card gets a random status-list slot.
		StatusIndex: int(n.Int64()) % (1 << 20),
	}, cfg.PublicURL)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*outFile, r.PDF, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "rendered card %s (%s) to %s\nQR: %s\nverification code: %s\n", *number, a.Type.Title(), *outFile, r.URL, r.VerificationCode)
	return nil
}
