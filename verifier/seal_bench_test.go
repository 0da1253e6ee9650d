package verifier_test

import (
	"context"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/keys"
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
			for b.Loop() {
				if _, err := f.sealer.SealCard(tc.doc, mustOrg(keys.Demo.GetOrg(context.Background(), tc.code)), f.number, at); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
