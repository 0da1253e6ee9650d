package pdf

import (
	"fmt"
	"strings"
	"testing"
)

// appendRevision appends objects as a new revision with a classic table.
func appendRevision(t testing.TB, doc []byte, objs map[int]Object) []byte {
	f, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	last := f.Revisions[f.Latest()]
	out := append([]byte(nil), doc...)
	var xref []byte
	size := f.Size(f.Latest())
	for n := 1; n < size+len(objs)+1; n++ {
		o, ok := objs[n]
		if !ok {
			continue
		}
		xref = fmt.Appendf(xref, "%d 1\n%010d 00000 n\r\n", n, len(out))
		out = AppendIndirect(out, Ref{n, 0}, o)
		size = max(size, n+1)
	}
	x := len(out)
	out = fmt.Appendf(out, "xref\n%strailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", xref, size, last.XrefOffset, x)
	return out
}

// BenchmarkParseRevisions parses a card-sized document with three
// incremental revisions and reads every object of every revision, as
// the verifier's difference analysis does.
func BenchmarkParseRevisions(b *testing.B) {
	doc := buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 420 595] >>",
		"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
		content(strings.Repeat("BT /F1 9 Tf 30 500 Td (applicant data line for the card) Tj ET\n", 400)),
	)
	for i := range 3 {
		doc = appendRevision(b, doc, map[int]Object{
			5 + 2*i: Dict{{"Type", Name("Sig")}, {"Contents", String{Bytes: make([]byte, 1500), Hex: true}}, {"ByteRange", Array{Integer(0), Integer(1), Integer(2), Integer(3)}}},
			6 + 2*i: &Stream{Dict: Dict{{"Subtype", Name("Form")}}, Raw: make([]byte, 3000)},
			3:       Dict{{"Type", Name("Page")}, {"Parent", Ref{2, 0}}, {"Contents", Ref{4, 0}}, {"Annots", Array{Ref{5, 0}}}},
		})
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse(doc)
		if err != nil {
			b.Fatal(err)
		}
		for rev, r := range f.Revisions {
			for num, e := range r.Entries {
				if e.Type != Free {
					if _, err := f.Object(rev, Ref{num, e.Gen}); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
}
