package verifier_test

import (
	"context"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/verifier"
)

// BenchmarkSealCard applies one seal to the rendered demo card (issue 7:
// "one level on a rendered card"), through lifecycle.Sealer as the
// service does: keys and seal appearances are cached after the first
// seal, so this is the incremental revision, its SM3 and the SM2 CMS.
func BenchmarkSealCard(b *testing.B) {
	f := demo(b)
	at := time.Now()
	for _, tc := range []struct {
		name string
		doc  []byte
		code string
	}{
		{"village", f.sealed[0], "220102001001"},
		{"county", f.sealed[2], "220102"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := f.sealer.SealCard(tc.doc, mustOrg(keys.Demo.GetOrg(context.Background(), tc.code)), f.number, at); err != nil { // caches warmed
				b.Fatal(err)
			}
			b.SetBytes(int64(len(tc.doc)))
			b.ReportAllocs()
			stop := cpuMetric(b)
			for b.Loop() {
				if _, err := f.sealer.SealCard(tc.doc, mustOrg(keys.Demo.GetOrg(context.Background(), tc.code)), f.number, at); err != nil {
					b.Fatal(err)
				}
			}
			stop()
		})
	}
}

// BenchmarkSealUnstamped is BenchmarkSealCard/village without the
// signature timestamp (PAdES B-B), the baseline of issue 17's "sealing
// with a timestamp stays within 1.5×".
func BenchmarkSealUnstamped(b *testing.B) {
	f := demo(b)
	plain := lifecycle.NewSealer(f.ks)
	o := mustOrg(keys.Demo.GetOrg(context.Background(), "220102001001"))
	at := time.Now()
	if _, err := plain.SealCard(f.sealed[0], o, f.number, at); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(f.sealed[0])))
	b.ReportAllocs()
	stop := cpuMetric(b)
	for b.Loop() {
		if _, err := plain.SealCard(f.sealed[0], o, f.number, at); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

// BenchmarkIssueLTV is the long-term validation data the issuing seal
// adds after the county's seal (signer.AddLTV: /DSS with a CRL, then a
// document timestamp): the extra cost of the seal that issues a card.
func BenchmarkIssueLTV(b *testing.B) {
	f, _ := ltvCard(b)
	b.SetBytes(int64(len(f.sealed[3])))
	b.ReportAllocs()
	stop := cpuMetric(b)
	for b.Loop() {
		if _, err := signer.AddLTV(context.Background(), f.sealed[3], [][]byte{ltvCRL}, ltvTSA, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

// BenchmarkVerifyLTA is BenchmarkVerify on the B-LTA card: the three
// seals, the document timestamp and the difference analysis of the two
// revisions after the last seal.
func BenchmarkVerifyLTA(b *testing.B) {
	f, doc := ltvCard(b)
	opt := f.options()
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	stop := cpuMetric(b)
	for b.Loop() {
		rep, err := verifier.Verify(doc, opt)
		if err != nil || rep.Verdict != verifier.Valid {
			b.Fatalf("%v %v", err, rep.Reasons())
		}
	}
	stop()
}

// BenchmarkVerifyUnstamped is BenchmarkVerify on the same card sealed
// without signature timestamps (PAdES B-B): the baseline before issue
// 17, against which BenchmarkVerifyLTA must stay within 1.5×.
func BenchmarkVerifyUnstamped(b *testing.B) {
	f := demo(b)
	plain := lifecycle.NewSealer(f.ks)
	doc := f.card
	var err error
	for _, code := range []string{"220102001001", "220102001", "220102"} {
		if doc, err = plain.SealCard(doc, mustOrg(keys.Demo.GetOrg(context.Background(), code)), f.number, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	opt := f.options()
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	stop := cpuMetric(b)
	for b.Loop() {
		rep, err := verifier.Verify(doc, opt)
		if err != nil || rep.Verdict != verifier.Valid {
			b.Fatalf("%v %v", err, rep.Reasons())
		}
	}
	stop()
}
