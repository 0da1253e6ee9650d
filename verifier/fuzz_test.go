package verifier_test

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/internal/pdftest/sealtest"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/verifier"
)

// FuzzVerify feeds the verifier hostile PDFs: the small sealed cards of
// internal/pdftest/sealtest (13 KB, three seals, classic and
// cross-reference-stream revisions) at each stage, forged variants of
// them and the bounded-input documents below, verified under the test
// keys at a fixed time, so that an input written to testdata means the
// same in every run. (The rendered demo card, 150 KB with a keystore to
// open in every worker, made tens of executions a minute.) The verifier
// must never panic, must return an error only for input that is not a
// PDF, must give one of the three verdicts, must be deterministic and
// must stay within its work bounds (counted, not timed: work_test.go).
func FuzzVerify(f *testing.F) {
	k, err := sealtest.TestKeys()
	if err != nil {
		f.Fatal(err)
	}
	for _, kind := range []pdf.XrefKind{pdf.XrefTable, pdf.XrefStream} {
		doc := sealtest.Sealed(kind)
		stages, err := sealtest.Stages(doc)
		if err != nil {
			f.Fatal(err)
		}
		for _, d := range stages {
			f.Add(d)
		}
		f.Add(replaceSame(f, doc, "/ByteRange [0 ", "/ByteRange [1 "))
		f.Add(appendRevision(f, doc, map[pdf.Ref]pdf.Object{{Num: 5000}: stream("BT ET")}))
	}
	doc := sealtest.Sealed(pdf.XrefTable)
	for _, h := range hostile(f, doc) {
		f.Add(h.doc)
	}
	_, _, der := contents(f, doc, 2)
	f.Add(forge(f, doc, der, forgery{sigs: 2, fields: 4}))
	f.Add(forge(f, doc, der, forgery{sigs: 1, fields: 1, graph: 3}))
	opt := verifier.Options{Trust: k.Trust, SealBoxes: k.Boxes(), Now: func() time.Time { return sealtest.Now },
		Limits: pdf.Limits{MaxStreamSize: 1 << 20, MaxDecoded: 4 << 20}}
	// A store after the last seal (PAdES B-LT), for the offline runs.
	if pf, err := pdf.Parse(doc); err == nil {
		if cat, root, err := pf.Catalog(pf.Latest()); err == nil {
			n := pf.Size(pf.Latest())
			c := cat.Clone()
			c.Set("DSS", pdf.Ref{Num: n})
			f.Add(appendRevision(f, doc, map[pdf.Ref]pdf.Object{root: c,
				{Num: n}:     pdf.Dict{{Key: "Certs", Value: pdf.Array{pdf.Ref{Num: n + 1}}}, {Key: "CRLs", Value: pdf.Array{pdf.Ref{Num: n + 1}}}},
				{Num: n + 1}: &pdf.Stream{Dict: pdf.Dict{}, Raw: k.Trust.Roots()[0].Raw}}))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Every other input offline: revocation data from its /DSS.
		opt := opt
		opt.Offline = len(data)%2 == 1
		rep, err := verifier.Verify(data, opt)
		if err != nil {
			if !errors.Is(err, verifier.ErrNotPDF) || bytes.HasPrefix(data, []byte("%PDF-")) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		switch rep.Verdict {
		case verifier.Valid:
			if len(rep.Seals) != 3 || len(rep.Problems) > 0 || len(rep.Changes) > 0 {
				t.Fatalf("valid with %d seals, problems %v, changes %v", len(rep.Seals), rep.Problems, rep.Changes)
			}
			for _, s := range rep.Seals {
				if !s.OK {
					t.Fatalf("valid with a failed seal: %+v", s)
				}
			}
		case verifier.Incomplete:
			if len(rep.Reasons()) > 0 {
				t.Fatalf("incomplete with failures: %v", rep.Reasons())
			}
		case verifier.Invalid:
			if len(rep.Reasons()) == 0 {
				t.Fatal("invalid without a reason")
			}
		default:
			t.Fatalf("verdict %q", rep.Verdict)
		}
		budget(t, data, rep, verifier.MaxSigFields)
		if _, err := json.Marshal(rep); err != nil {
			t.Fatal(err)
		}
		rep.WriteText(io.Discard)
		again, err := verifier.Verify(data, opt)
		if err != nil || again.Verdict != rep.Verdict || !slices.Equal(again.Reasons(), rep.Reasons()) {
			t.Fatalf("not deterministic: %v %v / %v", err, rep.Reasons(), again.Reasons())
		}
	})
}

// ---- bounded inputs ------------------------------------------------------

type hostileDoc struct {
	name   string
	doc    []byte
	reason string
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// xrefStreamRevision appends an incremental update written with a
// cross-reference stream (uncompressed, /W [1 4 2]) that puts the objects
// nums into one object stream with the given dictionary and data.
func xrefStreamRevision(t testing.TB, doc []byte, stm pdf.Dict, data []byte, nums []int) []byte {
	t.Helper()
	f, err := pdf.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(doc)
	size := f.Size(f.Latest())
	sNum, xNum := size, size+1
	sOff := len(out)
	stm.Set("Type", pdf.Name("ObjStm"))
	stm.Set("Length", pdf.Integer(len(data)))
	out = fmt.Appendf(out, "%d 0 obj\n", sNum)
	out = pdf.AppendObject(out, stm)
	out = append(out, "\nstream\n"...)
	out = append(out, data...)
	out = append(out, "\nendstream\nendobj\n"...)
	xOff := len(out)
	type row struct {
		num  int
		line []byte
	}
	var rows []row
	for i, n := range nums {
		rows = append(rows, row{n, []byte{2, 0, 0, byte(sNum >> 8), byte(sNum), byte(i >> 8), byte(i)}})
	}
	be := func(typ byte, off int) []byte {
		return []byte{typ, byte(off >> 24), byte(off >> 16), byte(off >> 8), byte(off), 0, 0}
	}
	rows = append(rows, row{sNum, be(1, sOff)}, row{xNum, be(1, xOff)})
	slices.SortFunc(rows, func(a, b row) int { return a.num - b.num })
	var index pdf.Array
	var raw []byte
	for _, r := range rows {
		index = append(index, pdf.Integer(r.num), pdf.Integer(1))
		raw = append(raw, r.line...)
	}
	xd := pdf.Dict{{Key: "Type", Value: pdf.Name("XRef")}, {Key: "Size", Value: pdf.Integer(xNum + 1)},
		{Key: "Root", Value: f.Trailer(f.Latest()).Get("Root")}, {Key: "Prev", Value: pdf.Integer(f.Revisions[f.Latest()].XrefOffset)},
		{Key: "W", Value: pdf.Array{pdf.Integer(1), pdf.Integer(4), pdf.Integer(2)}}, {Key: "Index", Value: index}, {Key: "Length", Value: pdf.Integer(len(raw))}}
	out = fmt.Appendf(out, "%d 0 obj\n", xNum)
	out = pdf.AppendObject(out, xd)
	out = append(out, "\nstream\n"...)
	out = append(out, raw...)
	out = fmt.Appendf(out, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xOff)
	return out
}

// hostile builds, on a card sealed three times, the documents every
// reader must survive: each must be answered within the work bounds,
// without a panic, with an invalid verdict.
func hostile(t testing.TB, doc []byte) []hostileDoc {
	t.Helper()
	pf, p := page(t, doc)
	res := p.Dict.Get("Resources").(pdf.Ref)
	content := p.Dict.Get("Contents").(pdf.Ref)
	n := pf.Size(pf.Latest())
	var out []hostileDoc

	// Deep nesting: the page's resources redefined as 100 000 nested
	// arrays (and dictionaries).
	deep := rawRevision(t, doc, func(base int) ([]byte, []xentry) {
		b := fmt.Appendf(nil, "%d 0 obj\n%s%s\nendobj\n", res.Num, strings.Repeat("[", 100000), strings.Repeat("]", 100000))
		return b, []xentry{{num: res.Num, off: int64(base)}}
	}, nil)
	out = append(out, hostileDoc{"deep nesting", deep, "revision 4: object " + res.String() + ": cannot be read"})
	deepDict := rawRevision(t, doc, func(base int) ([]byte, []xentry) {
		b := fmt.Appendf(nil, "%d 0 obj\n%s%s\nendobj\n", res.Num, strings.Repeat("<</A ", 100000), strings.Repeat(">>", 100000))
		return b, []xentry{{num: res.Num, off: int64(base)}}
	}, nil)
	out = append(out, hostileDoc{"deep nesting of dictionaries", deepDict, "revision 4: object " + res.String() + ": cannot be read"})
	// An xref stream revision whose /Prev is itself.
	xs := xrefStreamRevision(t, doc, pdf.Dict{{Key: "N", Value: pdf.Integer(1)}, {Key: "First", Value: pdf.Integer(4)}}, []byte("4 0 <<>>"), []int{res.Num})
	xoff := bytes.LastIndex(xs, []byte("startxref\n")) + len("startxref\n")
	var xsOff int
	fmt.Sscan(string(xs[xoff:]), &xsOff)
	xsLoop := bytes.Replace(xs, fmt.Appendf(nil, "/Prev %d", pf.Revisions[pf.Latest()].XrefOffset), fmt.Appendf(nil, "/Prev %-*d", len(fmt.Sprint(pf.Revisions[pf.Latest()].XrefOffset)), xsOff), 1)
	out = append(out, hostileDoc{"xref stream loop", xsLoop, "cross-reference chain loops"})
	// A huge /Length on the page's content stream.
	huge := rawRevision(t, doc, func(base int) ([]byte, []xentry) {
		b := fmt.Appendf(nil, "%d 0 obj\n<</Length 99999999999999>>\nstream\nBT ET\nendstream\nendobj\n", content.Num)
		return b, []xentry{{num: content.Num, off: int64(base)}}
	}, nil)
	out = append(out, hostileDoc{"huge /Length", huge, "revision 4: object " + content.String() + ": cannot be read"})
	// An object stream whose data is a Flate bomb (32 MiB of zeros).
	bomb := deflate(make([]byte, 32<<20))
	objBomb := xrefStreamRevision(t, doc, pdf.Dict{{Key: "N", Value: pdf.Integer(1)}, {Key: "First", Value: pdf.Integer(4)}, {Key: "Filter", Value: pdf.Name("FlateDecode")}}, bomb, []int{res.Num})
	out = append(out, hostileDoc{"object stream Flate bomb", objBomb, "revision 4: object " + res.String() + ": cannot be read"})
	// An object stream claiming a million objects at a huge /First.
	objCount := xrefStreamRevision(t, doc, pdf.Dict{{Key: "N", Value: pdf.Integer(1000000)}, {Key: "First", Value: pdf.Integer(1 << 40)}}, []byte("4 0 <<>>"), []int{res.Num})
	out = append(out, hostileDoc{"object stream /N and /First", objCount, "revision 4: object " + res.String() + ": cannot be read"})
	// A Flate bomb as the cross-reference stream itself.
	xbomb := bytes.Clone(doc)
	xo := len(xbomb)
	xbomb = fmt.Appendf(xbomb, "%d 0 obj\n<</Type /XRef /Size %d /Root %v /Prev %d /W [1 4 2] /Filter /FlateDecode /Length %d>>\nstream\n", n, n+1,
		pf.Trailer(pf.Latest()).Get("Root"), pf.Revisions[pf.Latest()].XrefOffset, len(bomb))
	xbomb = append(xbomb, bomb...)
	xbomb = fmt.Appendf(xbomb, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xo)
	out = append(out, hostileDoc{"cross-reference stream Flate bomb", xbomb, "malformed PDF"})
	// A gigantic image: 2^31 × 2^31 pixels, a few bytes of data, put on
	// the page's resources.
	img := &pdf.Stream{Dict: pdf.Dict{{Key: "Type", Value: pdf.Name("XObject")}, {Key: "Subtype", Value: pdf.Name("Image")},
		{Key: "Width", Value: pdf.Integer(1 << 31)}, {Key: "Height", Value: pdf.Integer(1 << 31)}, {Key: "ColorSpace", Value: pdf.Name("DeviceRGB")},
		{Key: "BitsPerComponent", Value: pdf.Integer(8)}, {Key: "Filter", Value: pdf.Name("FlateDecode")},
		{Key: "DecodeParms", Value: pdf.Dict{{Key: "Predictor", Value: pdf.Integer(15)}, {Key: "Colors", Value: pdf.Integer(3)}, {Key: "Columns", Value: pdf.Integer(1 << 31)}}}},
		Raw: deflate(make([]byte, 4096)), Offset: -1}
	rd, err := pf.ResolveDict(pf.Latest(), res)
	if err != nil {
		t.Fatal(err)
	}
	rd = rd.Clone()
	rd.Set("XObject", pdf.Dict{{Key: "Big", Value: pdf.Ref{Num: n}}})
	giant := appendRevision(t, doc, map[pdf.Ref]pdf.Object{res: rd, {Num: n}: img})
	out = append(out, hostileDoc{"gigantic image", giant, fmt.Sprintf("revision 4: object %d 0 R: a new /Image stream that no seal accounts for", n)})
	return out
}

// TestBoundedInputs: every hostile document is answered within the
// verifier's work bounds (counted, not timed: work_test.go), without a
// panic, with an invalid verdict that names the cause; and the reader
// itself refuses to decode the bombs.
func TestBoundedInputs(t *testing.T) {
	fx := demo(t)
	docs := hostile(t, fx.sealed[3])
	for _, h := range docs {
		t.Run(h.name, func(t *testing.T) {
			rep := fx.verify(t, h.doc)
			mustAll(t, rep, h.reason)
			budget(t, h.doc, rep, 3)
		})
	}
	// The decoders directly: the bomb and the giant image's predictor.
	for _, h := range docs {
		if h.name != "gigantic image" && h.name != "object stream Flate bomb" {
			continue
		}
		pf, err := pdf.Parse(h.doc)
		if err != nil {
			t.Fatal(err)
		}
		for num, e := range pf.Revisions[pf.Latest()].Entries {
			o, err := pf.Object(pf.Latest(), pdf.Ref{Num: num, Gen: e.Gen})
			if err != nil {
				continue
			}
			if s, ok := o.(*pdf.Stream); ok {
				if ty, _ := s.Dict.Name("Type"); ty == "XRef" {
					continue
				}
				if b, err := pf.Decode(s); err == nil {
					t.Errorf("%s: object %d decoded to %d bytes", h.name, num, len(b))
				}
			}
		}
	}
}
