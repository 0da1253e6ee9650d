package sealtest_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/internal/pdftest/sealtest"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/verifier"
)

var update = flag.Bool("update", false, "rewrite testdata/card*.pdf")

// committed are the copies that the pdf and seal packages' fuzz targets
// read (they cannot import this package).
var committed = map[string]pdf.XrefKind{"card.pdf": pdf.XrefTable, "card-xref.pdf": pdf.XrefStream}

func options(t *testing.T) verifier.Options {
	k, err := sealtest.TestKeys()
	if err != nil {
		t.Fatal(err)
	}
	return verifier.Options{Trust: k.Trust, SealBoxes: k.Boxes(), DocID: sealtest.DocID, Now: func() time.Time { return sealtest.Now }}
}

// TestCard: each stage of the small card is what the verifier says it is
// (invalid with no seal, incomplete, then valid), and it is small.
func TestCard(t *testing.T) {
	opt := options(t)
	for _, kind := range []pdf.XrefKind{pdf.XrefTable, pdf.XrefStream} {
		stages, err := sealtest.Card(kind)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range stages {
			rep, err := verifier.Verify(doc, opt)
			if err != nil {
				t.Fatal(err)
			}
			want := map[int]verifier.Verdict{0: verifier.Invalid, 1: verifier.Incomplete, 2: verifier.Incomplete, 3: verifier.Valid}[i]
			if rep.Verdict != want || len(rep.Seals) != i {
				t.Fatalf("%v, %d seals: %s with %d seals, %v", kind, i, rep.Verdict, len(rep.Seals), rep.Reasons())
			}
		}
		if n := len(stages[3]); n > 16<<10 {
			t.Errorf("%v: the sealed card has %d bytes", kind, n)
		}
		f, err := pdf.Parse(stages[3])
		if err != nil || f.Revisions[f.Latest()].Kind != kind {
			t.Fatalf("%v: %v", kind, err)
		}
	}
}

// TestCommitted: the copies in testdata are valid three-seal cards under
// the test keys (rewritten with -update).
func TestCommitted(t *testing.T) {
	opt := options(t)
	for name, kind := range committed {
		path := filepath.Join("testdata", name)
		if *update {
			stages, err := sealtest.Card(kind)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, stages[3], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := verifier.Verify(doc, opt)
		if err != nil || rep.Verdict != verifier.Valid || rep.DocID != sealtest.DocID {
			t.Fatalf("%s: %v %v", name, err, rep.Reasons())
		}
		if !bytes.HasPrefix(doc, sealtest.Blank(kind)) {
			t.Fatalf("%s does not extend the blank document", name)
		}
		if !*update && !bytes.Equal(doc, sealtest.Sealed(kind)) {
			t.Fatalf("Sealed(%v) is not %s", kind, name)
		}
		stages, err := sealtest.Stages(doc)
		if err != nil || len(stages) != 4 || !bytes.Equal(stages[3], doc) {
			t.Fatalf("%s: %d stages, %v", name, len(stages), err)
		}
		for i, st := range stages[1:3] {
			if rep, err := verifier.Verify(st, opt); err != nil || rep.Verdict != verifier.Incomplete || len(rep.Seals) != i+1 {
				t.Fatalf("%s after %d seals: %v %v", name, i+1, err, rep.Reasons())
			}
		}
	}
}
