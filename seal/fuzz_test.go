package seal

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/jilin-health/cardseal/org"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// FuzzParse feeds Parse, Verify and TrimPadding untrusted bytes: they
// must never panic, and whatever parses must parse again the same way.
func FuzzParse(f *testing.F) {
	id := testIdentity(f)
	digest := digestOf("pdf")
	for i, opt := range []Options{{}, {GBContentTypes: true}} {
		link := Link{Level: org.Village, Code: "220102001001", DocID: "card-1"}
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

// cardSeals are the CMS of the small sealed cards of
// internal/pdftest/sealtest (village, township and county seals), read
// from its testdata: this package's tests cannot import it.
func cardSeals(t testing.TB) [][]byte {
	paths, _ := filepath.Glob(filepath.Join("..", "internal", "pdftest", "sealtest", "testdata", "*.pdf"))
	var out [][]byte
	for _, p := range paths {
		doc, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for rest := doc; ; {
			i := bytes.Index(rest, []byte("/Contents <"))
			if i < 0 {
				break
			}
			rest = rest[i+len("/Contents <"):]
			j := bytes.IndexByte(rest, '>')
			raw, err := hex.DecodeString(string(rest[:j]))
			if err != nil {
				t.Fatal(err)
			}
			der, err := TrimPadding(raw)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, der)
		}
	}
	if len(out) == 0 {
		t.Fatal("no seals in internal/pdftest/sealtest/testdata")
	}
	return out
}

// FuzzSignedData is structure-aware on the SignedData (issue 12, F1): it
// takes a genuine seal apart into its DER tree, changes one element (its
// content, its tag, its removal, a copy of it, or a new element from the
// input), puts it together again with correct lengths, and gives it to
// Parse and Verify. Mutations so keep the outer structure well-formed
// and reach the checks deep inside, instead of failing at the first
// length. Whatever parses must parse again the same, and whatever still
// verifies against the original's digest must carry the original's
// signed attributes, link, signing time and signer certificate: nothing
// the verifier trusts can change under a valid signature.
func FuzzSignedData(f *testing.F) {
	seeds := cardSeals(f)
	type orig struct {
		s    *Signed
		tree *node
	}
	var origs []orig
	for _, der := range seeds {
		s, err := Parse(der)
		if err != nil {
			f.Fatal(err)
		}
		origs = append(origs, orig{s, parseTree(f, der)})
	}
	for i := range origs {
		f.Add(uint8(i), []byte{}, uint8(0), []byte{})                                          // unchanged
		f.Add(uint8(i), []byte{1, 0, 4, 0, 3, 2}, uint8(0), []byte("x"))                       // an attribute's content
		f.Add(uint8(i), []byte{1, 0, 3}, uint8(3), []byte{})                                   // certificates doubled
		f.Add(uint8(i), []byte{1, 0, 4, 0, 5}, uint8(0), []byte{0x30, 0x00})                   // the signature
		f.Add(uint8(i), []byte{1, 0, 4, 0, 3}, uint8(4), []byte{0x30, 0x03, 0x06, 0x01, 0x2a}) // a new attribute
	}
	f.Fuzz(func(t *testing.T, which uint8, path []byte, op uint8, data []byte) {
		o := origs[int(which)%len(origs)]
		root := o.tree.clone()
		// Follow the path as far as it leads; the last element visited is
		// changed, inside its parent.
		var parent *node
		n, idx := root, 0
		for _, p := range path {
			if len(n.children) == 0 {
				break
			}
			parent, idx = n, int(p)%len(n.children)
			n = n.children[idx]
		}
		switch op % 5 {
		case 0: // new content: read as elements when constructed
			if n.tag&0x20 == 0 {
				n.content = bytes.Clone(data)
			} else if kids, ok := readNodes(data); ok {
				n.children = kids
			}
		case 1: // another tag (low-tag-number form only)
			if len(data) > 0 && data[0]&0x1f != 0x1f && asn1.Tag(data[0])&0x20 == n.tag&0x20 {
				n.tag = asn1.Tag(data[0])
			}
		case 2: // removed
			if parent != nil {
				parent.children = append(parent.children[:idx:idx], parent.children[idx+1:]...)
			}
		case 3: // doubled
			if parent != nil {
				parent.children = append(parent.children[:idx+1:idx+1], append([]*node{n.clone()}, parent.children[idx+1:]...)...)
			}
		case 4: // an element from the input, inserted after it
			if kids, ok := readNodes(data); ok && parent != nil && len(kids) > 0 {
				parent.children = append(parent.children[:idx+1:idx+1], append(kids, parent.children[idx+1:]...)...)
			}
		}
		der := root.der()
		s, err := Parse(der)
		if err != nil {
			if s != nil {
				t.Fatal("Parse returned a value with an error")
			}
			return
		}
		if !bytes.Equal(s.DER, der) {
			t.Fatal("Parse did not keep the DER")
		}
		if _, err := Parse(s.DER); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if s.Verify(o.s.Digest) != nil {
			return
		}
		switch {
		case !bytes.Equal(s.signedAttrs, o.s.signedAttrs):
			t.Fatal("other signed attributes verify")
		case !bytes.Equal(s.Signer.Raw, o.s.Signer.Raw):
			t.Fatal("a seal verifies with another signer certificate")
		case !s.SigningTime.Equal(o.s.SigningTime) || !bytes.Equal(s.Digest, o.s.Digest):
			t.Fatal("the signing time or digest changed under a valid signature")
		case (s.Link == nil) != (o.s.Link == nil) || s.Link != nil && (s.Link.Level != o.s.Link.Level || s.Link.Code != o.s.Link.Code ||
			s.Link.DocID != o.s.Link.DocID || !bytes.Equal(s.Link.Prev, o.s.Link.Prev)):
			t.Fatal("the cardseal link changed under a valid signature")
		}
	})
}

// readNodes reads a sequence of DER elements (all of data).
func readNodes(data []byte) ([]*node, bool) {
	s := cryptobyte.String(data)
	var out []*node
	for !s.Empty() {
		n, ok := readNode(&s)
		if !ok || n.tag&0x1f == 0x1f {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}
