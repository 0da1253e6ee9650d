package verifier_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/verifier"
)

// honestCard is a genuine card of about size bytes: the rendered card,
// an unsigned revision adding a large picture before any seal (as a card
// with a high-resolution photograph would be), then the three seals.
func honestCard(t testing.TB, fx *fixture, size int) []byte {
	t.Helper()
	pf, err := pdf.Parse(fx.card)
	if err != nil {
		t.Fatal(err)
	}
	n := pf.Size(pf.Latest())
	pad := size - len(fx.sealed[3]) - 1024 // the revision's own syntax
	raw := make([]byte, pad)
	for i := range raw {
		raw[i] = byte(i*7919 + i>>8) // not compressible into nothing
	}
	img := &pdf.Stream{Dict: pdf.Dict{{Key: "Type", Value: pdf.Name("XObject")}, {Key: "Subtype", Value: pdf.Name("Image")},
		{Key: "Width", Value: pdf.Integer(pad / 3)}, {Key: "Height", Value: pdf.Integer(1)}, {Key: "ColorSpace", Value: pdf.Name("DeviceRGB")},
		{Key: "BitsPerComponent", Value: pdf.Integer(8)}, {Key: "Length", Value: pdf.Integer(pad)}}, Raw: raw, Offset: -1}
	doc := appendRevision(t, fx.card, map[pdf.Ref]pdf.Object{{Num: n}: img})
	at := time.Now()
	for _, code := range []string{"220102001001", "220102001", "220102"} {
		if doc, err = fx.sealer.SealCard(doc, mustOrg(keys.Demo.GetOrg(context.Background(), code)), fx.number, at); err != nil {
			t.Fatal(err)
		}
	}
	return doc
}

// worstFiles are the attacker's files of at most 10 MB (issue 12, H1),
// each aimed at one amplification the verifier had or could have had.
func worstFiles(t testing.TB, fx *fixture) []struct {
	name string
	doc  []byte
} {
	der := countyCMS(t, fx)
	card := fx.sealed[3]
	pad := func(fg forgery) []byte { return forge(t, card, der, padTo(t, card, der, fg, upload)) }
	revisions := card
	for i := range 13 {
		fg := padTo(t, revisions, der, forgery{sigs: 1, fields: 1, first: true}, len(card)+(i+1)*(upload-len(card))/13)
		revisions = forge(t, revisions, der, fg)
	}
	alt, _ := alternating(t, card, (upload-len(card))/5, 200)
	pf, _ := page(t, card)
	n := pf.Size(pf.Latest())
	var nums []int
	for i := range 100000 {
		nums = append(nums, n+2+i) // n and n+1 are the object and cross-reference streams
	}
	objstm := xrefStreamRevision(t, card, pdf.Dict{{Key: "N", Value: pdf.Integer(len(nums))}, {Key: "First", Value: pdf.Integer(10)},
		{Key: "Filter", Value: pdf.Name("FlateDecode")}}, deflate(make([]byte, 64<<20)), nums)
	// A trailer of a million keys: the reader's duplicate-key check was
	// quadratic.
	keys := rawRevision(t, card, func(int) ([]byte, []xentry) { return nil, nil }, func(d pdf.Dict) pdf.Dict {
		for i := 0; len(d)*12 < upload-len(card)-64<<10; i++ {
			d = append(d, pdf.Entry{Key: pdf.Name(fmt.Sprintf("K%d", i)), Value: pdf.Integer(1)})
		}
		return d
	})
	// Twenty-five thousand new objects of 350 bytes each after the seals.
	objs := map[pdf.Ref]pdf.Object{}
	for i := range 25000 {
		objs[pdf.Ref{Num: n + i}] = pdf.Dict{{Key: "Type", Value: pdf.Name("Annot")}, {Key: "Subtype", Value: pdf.Name("Stamp")},
			{Key: "Contents", Value: pdf.String{Bytes: make([]byte, 128), Hex: true}}}
	}
	many := appendRevision(t, card, objs)
	return []struct {
		name string
		doc  []byte
	}{
		{"new-objects=25000", many},
		{"fields=1000,dicts=1", pad(forgery{sigs: 1, fields: 997})}, // and the card's three
		{"fields=13,dicts=1", pad(forgery{sigs: 1, fields: 13})},
		{"fields=13,dicts=13", pad(forgery{sigs: 13, fields: 13})},
		{"revisions=13,newest-first", revisions},
		{"appearance-graph", pad(forgery{sigs: 1, fields: 1, graph: 1000})},
		{"alternating-arrays", alt},
		{"objstm-bomb", objstm},
		{"trailer-keys", keys},
	}
}

// BenchmarkVerifyWorst verifies each attacker's file and, for
// comparison, an honest card of the same size. docs/performance.md
// compares the medians (benchstat): the worst must cost at most three
// times the honest card. The work counters are reported per operation.
func BenchmarkVerifyWorst(b *testing.B) {
	fx := demo(b)
	opt := fx.options()
	files := append([]struct {
		name string
		doc  []byte
	}{{"honest", honestCard(b, fx, upload)}}, worstFiles(b, fx)...)
	for _, c := range files {
		b.Run(c.name, func(b *testing.B) {
			if len(c.doc) > upload {
				b.Fatalf("%d bytes", len(c.doc))
			}
			b.SetBytes(int64(len(c.doc)))
			var rep *verifier.Report
			for b.Loop() {
				var err error
				if rep, err = verifier.Verify(c.doc, opt); err != nil {
					b.Fatal(err)
				}
			}
			if c.name == "honest" && rep.Verdict != verifier.Valid {
				b.Fatalf("the honest card is %s: %v", rep.Verdict, rep.Reasons())
			}
			w := verifier.WorkOf(rep)
			b.ReportMetric(float64(w.Hashed)/float64(len(c.doc)), "hashed/size")
			b.ReportMetric(float64(w.CMS), "cms/op")
			b.ReportMetric(float64(w.DiffSteps), "steps/op")
		})
	}
}
