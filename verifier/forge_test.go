package verifier_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/pdf"
)

// forgery is one incremental update an attacker appends to a genuinely
// sealed card to make the verifier work (issue 12, H1): sigs signature
// dictionaries, each holding a genuine seal's CMS and a /ByteRange that
// ends this revision, then an unreferenced stream of pad bytes, then
// fields signature fields whose /V point at the dictionaries round-robin,
// added to the form's /Fields (before the existing fields when first).
// The padding lies between the dictionaries and the end of the revision,
// so each dictionary's second signed range covers all of it: a verifier
// that hashes once per field hashes the padding once per field.
//
// With graph > 0, each field's appearance is a graph of depth 9: nine
// arrays, each naming the next graph times, which a walk that does not
// remember what it saw visits graph⁹ times.
type forgery struct {
	sigs, fields int
	pad          int
	first        bool
	graph        int
}

// forge appends the forgery's revision to doc; der is the CMS copied into
// every dictionary.
func forge(t testing.TB, doc, der []byte, fg forgery) []byte {
	t.Helper()
	pf, pg := page(t, doc)
	rev := pf.Latest()
	cat, _, err := pf.Catalog(rev)
	if err != nil {
		t.Fatal(err)
	}
	afRef, ok := cat.Get("AcroForm").(pdf.Ref)
	if !ok {
		t.Fatal("forge: the card's /AcroForm is not indirect")
	}
	af, err := pf.ResolveDict(rev, afRef)
	if err != nil {
		t.Fatal(err)
	}
	af = af.Clone()
	old, _ := af.Get("Fields").(pdf.Array)

	out := bytes.Clone(doc)
	if out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	next := pf.Size(rev)
	offs := map[int]int{}
	contents := hex.EncodeToString(der) + strings.Repeat("0", 64)
	const brWidth = 3 * 11
	var brOffs, gaps []int
	for range fg.sigs {
		num := next
		next++
		offs[num] = len(out)
		out = fmt.Appendf(out, "%d 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 ", num)
		brOffs = append(brOffs, len(out))
		out = append(out, strings.Repeat(" ", brWidth)...)
		out = append(out, "] /Contents "...)
		gaps = append(gaps, len(out))
		out = append(out, '<')
		out = append(out, contents...)
		out = append(out, ">\n>>\nendobj\n"...)
	}
	first := next - fg.sigs
	if fg.pad > 0 {
		num := next
		next++
		offs[num] = len(out)
		out = fmt.Appendf(out, "%d 0 obj\n<< /Length %d >>\nstream\n", num, fg.pad)
		line := []byte("% padding of a forged revision, never referenced by anything\n")
		for n := fg.pad; n > 0; n -= len(line) {
			out = append(out, line[:min(n, len(line))]...)
		}
		out = append(out, "\nendstream\nendobj\n"...)
	}
	var ap pdf.Object
	if fg.graph > 0 {
		const depth = 9
		base := next
		next += depth
		for i := range depth {
			var a pdf.Array
			for range fg.graph {
				if i+1 < depth {
					a = append(a, pdf.Ref{Num: base + i + 1})
				} else {
					a = append(a, pdf.Integer(0))
				}
			}
			offs[base+i] = len(out)
			out = pdf.AppendIndirect(out, pdf.Ref{Num: base + i}, a)
		}
		ap = pdf.Dict{{Key: "N", Value: pdf.Ref{Num: base}}}
	}
	var refs pdf.Array
	for i := range fg.fields {
		ref := pdf.Ref{Num: next}
		next++
		offs[ref.Num] = len(out)
		d := pdf.Dict{
			{Key: "FT", Value: pdf.Name("Sig")}, {Key: "T", Value: pdf.TextString(fmt.Sprintf("forged %d", i))},
			{Key: "V", Value: pdf.Ref{Num: first + i%fg.sigs}}, {Key: "Type", Value: pdf.Name("Annot")},
			{Key: "Subtype", Value: pdf.Name("Widget")}, {Key: "Rect", Value: rect(0, 0, 0, 0)},
			{Key: "F", Value: pdf.Integer(4)}, {Key: "P", Value: pg.Ref},
		}
		if ap != nil {
			d = append(d, pdf.Entry{Key: "AP", Value: ap})
		}
		out = pdf.AppendIndirect(out, ref, d)
		refs = append(refs, ref)
	}
	if fg.first {
		af.Set("Fields", append(refs, old...))
	} else {
		af.Set("Fields", append(slices.Clone(old), refs...))
	}
	offs[afRef.Num] = len(out)
	out = pdf.AppendIndirect(out, afRef, af)

	nums := make([]int, 0, len(offs))
	for n := range offs {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	xref := len(out)
	out = append(out, "xref\n"...)
	for _, n := range nums {
		out = fmt.Appendf(out, "%d 1\n%010d 00000 n \n", n, offs[n])
	}
	tr := pdf.Dict{{Key: "Size", Value: pdf.Integer(next)}, {Key: "Root", Value: pf.Trailer(rev).Get("Root")},
		{Key: "Prev", Value: pdf.Integer(pf.Revisions[rev].XrefOffset)}}
	if info := pf.Trailer(rev).Get("Info"); info != nil {
		tr = append(tr, pdf.Entry{Key: "Info", Value: info})
	}
	out = append(out, "trailer\n"...)
	out = pdf.AppendObject(out, tr)
	out = fmt.Appendf(out, "\nstartxref\n%d\n%%%%EOF\n", xref)

	// Every dictionary's range ends this revision.
	end := len(out)
	for i, off := range brOffs {
		a, b := gaps[i], gaps[i]+len(contents)+2
		br := fmt.Sprintf("%d %d %d", a, b, end-b)
		copy(out[off:off+brWidth], br+strings.Repeat(" ", brWidth-len(br)))
	}
	return out
}

// padTo returns the pad that makes the forgery's file about size bytes.
func padTo(t testing.TB, doc, der []byte, fg forgery, size int) forgery {
	t.Helper()
	fg.pad = 0
	base := len(forge(t, doc, der, fg))
	fg.pad = max(size-base-256, 0) // the padding object's own syntax
	return fg
}
