package seal

import (
	"bytes"
	"os"
	"testing"

	"github.com/jilin-health/cardseal/keys"
)

// FuzzParse feeds Parse, Verify and TrimPadding untrusted bytes: they
// must never panic, and whatever parses must parse again the same way.
func FuzzParse(f *testing.F) {
	id := testIdentity(f)
	digest := digestOf("pdf")
	for i, opt := range []Options{{}, {GBContentTypes: true}} {
		link := Link{Level: keys.Village, Code: "220102001001", DocID: "card-1"}
		if i == 1 {
			link.Prev = digestOf("prev")
		}
		der, err := Sign(digest, id, link, signTime, opt)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
		f.Add(append(bytes.Clone(der), 0, 0, 0))
		der501, err := sign(digest, id, link, signTime, opt, oidSM2WithSM3)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der501)
	}
	if kat, err := os.ReadFile("testdata/kat-seal.der"); err == nil {
		f.Add(kat)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if trimmed, err := TrimPadding(b); err == nil && len(trimmed) > len(b) {
			t.Fatal("TrimPadding grew the input")
		}
		s, err := Parse(b)
		if err != nil {
			if s != nil {
				t.Fatal("Parse returned a value with an error")
			}
			return
		}
		if s.Signer == nil || s.Digest == nil || !bytes.Equal(s.DER, b) {
			t.Fatalf("incomplete parse %+v", s)
		}
		_ = s.Verify(s.Digest)
		if _, err := Parse(s.DER); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
	})
}
