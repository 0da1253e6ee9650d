package pdf

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The reader's work is bounded by its input, never multiplied by a count
// the input chooses (issue 12, H1). These tests check the bounded paths
// give the same answers as the plain ones; BenchmarkDictKeys shows the
// linear cost.

// TestDictKeys: duplicate keys are refused in small dictionaries (searched)
// and in large ones (indexed), wherever the duplicate lies.
func TestDictKeys(t *testing.T) {
	dict := func(n int, dup string) []byte {
		var b strings.Builder
		b.WriteString("<<")
		for i := range n {
			fmt.Fprintf(&b, "/K%d %d ", i, i)
		}
		b.WriteString(dup + ">>")
		return []byte(b.String())
	}
	for _, tc := range []struct {
		name string
		in   []byte
		keys int // 0: refused
	}{
		{"small", dict(5, ""), 5},
		{"small, duplicate", dict(5, "/K3 0"), 0},
		{"at the threshold, duplicate", dict(smallDict, "/K0 0"), 0},
		{"large", dict(5000, ""), 5000},
		{"large, duplicate of the first key", dict(5000, "/K0 0"), 0},
		{"large, duplicate of a key after the threshold", dict(5000, "/K4000 0"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &parser{buf: tc.in, maxDepth: 8}
			o, err := p.parseObject()
			if tc.keys == 0 {
				if err == nil || !strings.Contains(err.Error(), "duplicate dictionary key") {
					t.Fatalf("err = %v, want a duplicate key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d := o.(Dict)
			if len(d) != tc.keys || d.Get("K4999") == nil && tc.keys == 5000 {
				t.Fatalf("%d keys", len(d))
			}
		})
	}
}

// BenchmarkDictKeys parses dictionaries of growing size: the time per key
// stays flat (it grew with the number of keys before issue 12).
func BenchmarkDictKeys(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		var s strings.Builder
		s.WriteString("<<")
		for i := range n {
			fmt.Fprintf(&s, "/K%d 1 ", i)
		}
		s.WriteString(">>")
		in := []byte(s.String())
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				p := &parser{buf: in, maxDepth: 8}
				if _, err := p.parseObject(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/key")
		})
	}
}

// manyRevisions is a document of n revisions; revision i redefines the
// information dictionary and adds object 10+i.
func manyRevisions(t testing.TB, n int) []byte {
	doc := buildPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 100 100] >>",
		"<< /Type /Page /Parent 2 0 R >>", "<< /Title (0) >>")
	for i := 1; i < n; i++ {
		doc = appendRevision(t, doc, map[int]Object{4: Dict{{"Title", String{Bytes: fmt.Appendf(nil, "%d", i)}}}, 10 + i: Integer(i)})
	}
	return doc
}

// TestLookupIndex: Lookup through the index answers as the walk back
// through the revisions' sections does, for every object and revision.
func TestLookupIndex(t *testing.T) {
	f, err := Parse(manyRevisions(t, 20))
	if err != nil {
		t.Fatal(err)
	}
	walk := func(rev, num int) (XrefEntry, int, bool) {
		for r := min(rev, f.Latest()); r >= 0; r-- {
			if e, ok := f.Revisions[r].Entries[num]; ok {
				return e, r, true
			}
		}
		return XrefEntry{}, -1, false
	}
	for rev := -1; rev <= f.Latest()+1; rev++ {
		for num := 0; num < 40; num++ {
			e, r, ok := f.Lookup(rev, num)
			we, wr, wok := walk(rev, num)
			if e != we || r != wr || ok != wok {
				t.Fatalf("Lookup(%d, %d) = %+v %d %v, want %+v %d %v", rev, num, e, r, ok, we, wr, wok)
			}
		}
	}
}

// TestSharedBytes: the object cache is keyed by offset, but two entries
// pointing at one object's bytes still do not make one object the other,
// in either order of use, and many revisions pointing at one definition
// share its parse.
func TestSharedBytes(t *testing.T) {
	doc := buildPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 100 100] >>",
		"<< /Type /Page /Parent 2 0 R >>", "<< /Title (shared) >>")
	f0, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	off := f0.Revisions[0].Entries[4].Offset
	// Revisions 1..3 point objects 4 (again) and 5 at object 4's bytes.
	for range 3 {
		last := f0.Revisions[f0.Latest()]
		x := len(doc)
		doc = fmt.Appendf(doc, "xref\n4 2\n%010d 00000 n\r\n%010d 00000 n\r\ntrailer\n<< /Size 6 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", off, off, last.XrefOffset, x)
		if f0, err = Parse(doc); err != nil {
			t.Fatal(err)
		}
	}
	for _, order := range [][]int{{4, 5}, {5, 4}} {
		f, err := Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, num := range order {
			for rev := 1; rev <= f.Latest(); rev++ {
				o, err := f.Object(rev, Ref{num, 0})
				switch num {
				case 4:
					if d, ok := o.(Dict); err != nil || !ok || d.Get("Title") == nil {
						t.Fatalf("object 4 at revision %d: %v %v", rev, o, err)
					}
				case 5:
					if err == nil || !strings.Contains(err.Error(), "points at object 4 0 R") {
						t.Fatalf("object 5 at revision %d read object 4's bytes: %v %v", rev, o, err)
					}
				}
			}
		}
		if n := len(f.objs); n != 1 {
			t.Fatalf("object 4's bytes parsed %d times, want once", n)
		}
	}
}

// objStmFile is a file whose objects 5..5+n-1 lie in object stream 4,
// whose data is zlib of data with the given /First; revs revisions point
// object 4 at the same bytes again.
func objStmFile(t testing.TB, n int, data []byte, first, revs int) []byte {
	t.Helper()
	z := deflate(data)
	var b []byte
	b = append(b, "%PDF-1.7\n"...)
	offs := map[int]int{}
	obj := func(num int, body string) {
		offs[num] = len(b)
		b = fmt.Appendf(b, "%d 0 obj\n%s\nendobj\n", num, body)
	}
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 100 100] >>")
	obj(3, "<< /Type /Page /Parent 2 0 R >>")
	offs[4] = len(b)
	b = fmt.Appendf(b, "4 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n", n, first, len(z))
	b = append(b, z...)
	b = append(b, "\nendstream\nendobj\n"...)
	xrefStm := func(prev int, nums []int, self int) {
		var rows []byte
		var index []string
		for _, num := range nums {
			index = append(index, fmt.Sprint(num, " 1"))
			if num >= 5 && num != self {
				rows = append(rows, 2, 0, 0, 0, 4, byte((num-5)>>8), byte(num-5))
			} else {
				rows = append(rows, 1, byte(offs[num]>>24), byte(offs[num]>>16), byte(offs[num]>>8), byte(offs[num]), 0, 0)
			}
		}
		p := ""
		if prev > 0 {
			p = fmt.Sprintf(" /Prev %d", prev)
		}
		b = fmt.Appendf(b, "%d 0 obj\n<< /Type /XRef /Size %d /Root 1 0 R /W [1 4 2] /Index [%s]%s /Length %d >>\nstream\n", self, self+1, strings.Join(index, " "), p, len(rows))
		b = append(b, rows...)
		b = fmt.Appendf(b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", offs[self])
	}
	nums := []int{1, 2, 3, 4}
	for i := range n {
		nums = append(nums, 5+i)
	}
	self := 5 + n
	offs[self] = len(b)
	nums = append(nums, self)
	xrefStm(0, nums, self)
	prev := offs[self]
	for range revs {
		self++
		offs[self] = len(b)
		xrefStm(prev, []int{4, self}, self)
		prev = offs[self]
	}
	return b
}

// TestObjectStreamDecodedOnce: an object stream is inflated once however
// many objects point into it and however many revisions point at it, and
// a bomb that fails is not inflated again for each object.
func TestObjectStreamDecodedOnce(t *testing.T) {
	lim := Limits{MaxStreamSize: 1 << 20, MaxDecoded: 64 << 20}
	var head, body []byte
	for i := range 100 {
		head = fmt.Appendf(head, "%d %d ", 5+i, len(body))
		body = fmt.Appendf(body, "<< /N %d >> ", i)
	}
	valid := append(head, body...)
	for _, tc := range []struct {
		name  string
		data  []byte
		first int
	}{
		{"a bomb", make([]byte, 8<<20), 10},
		{"an object stream", valid, len(head)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseLimits(objStmFile(t, 100, tc.data, tc.first, 10), lim)
			if err != nil {
				t.Fatal(err)
			}
			if f.Latest() != 10 {
				t.Fatalf("%d revisions", len(f.Revisions))
			}
			bomb := len(tc.data) > int(lim.MaxStreamSize)
			for rev := range f.Revisions {
				for num := 5; num < 105; num++ {
					o, err := f.Object(rev, Ref{num, 0})
					if bomb && err == nil {
						t.Fatalf("object %d at revision %d read from a bomb", num, rev)
					}
					if d, ok := o.(Dict); !bomb && (err != nil || !ok || d.Get("N") != Integer(num-5)) {
						t.Fatalf("object %d at revision %d: %v %v", num, rev, o, err)
					}
				}
			}
			if want := min(int64(len(tc.data)), lim.MaxStreamSize+1); f.Inflated() != want {
				t.Fatalf("inflated %d bytes, want %d (once)", f.Inflated(), want)
			}
		})
	}
}

// TestPages: one walk gives every page in order; a tree of more nodes
// than asked for is ErrLimit.
func TestPages(t *testing.T) {
	var kids []string
	bodies := []string{"<< /Type /Catalog /Pages 2 0 R >>", ""}
	for i := range 100 {
		kids = append(kids, fmt.Sprintf("%d 0 R", 3+i))
		bodies = append(bodies, "<< /Type /Page /Parent 2 0 R >>")
	}
	bodies[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count 100 /MediaBox [0 0 100 100] >>", strings.Join(kids, " "))
	f, err := Parse(buildPDF(bodies...))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := f.Pages(0, 101)
	if err != nil || len(ps) != 100 {
		t.Fatalf("Pages = %d, %v", len(ps), err)
	}
	var refs, want []Ref
	for i, p := range ps {
		q, err := f.Page(0, i)
		if err != nil {
			t.Fatal(err)
		}
		refs, want = append(refs, p.Ref), append(want, q.Ref)
	}
	if !slices.Equal(refs, want) {
		t.Fatalf("Pages %v, Page %v", refs, want)
	}
	if _, err := f.Pages(0, 64); !errors.Is(err, ErrLimit) {
		t.Fatalf("Pages(64) of 101 nodes: %v", err)
	}
}

// TestReferences: "num gen R" is found by looking ahead without parsing
// the generation as an object; what is not a reference stays numbers.
func TestReferences(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // AppendObject of the result, or "error"
	}{
		{"[1 0 R 2 3]", "[1 0 R 2 3]"},
		{"[1 00000 R]", "[1 0 R]"},
		{"[1 65535 R]", "[1 65535 R]"},
		{"[1 65536 R]", "error"},
		{"[1 0 %comment\nR]", "[1 0 R]"},
		{"[1 0R]", "error"},
		{"[1 0 Rx]", "error"},
		{"[1 2 3 4]", "[1 2 3 4]"},
		{"[1 2.0 R]", "error"},
		{"[-1 0 R]", "error"},
		{"[1 0 R]", "[1 0 R]"},
		{"[2147483648 0 R]", "error"},
		{"[1 " + strings.Repeat("0", 70) + " R]", "error"},
		{"[1\n0\nR 5 0]", "[1 0 R 5 0]"},
	} {
		o, err := ParseObject([]byte(tc.in))
		got := "error"
		if err == nil {
			got = string(AppendObject(nil, o))
		}
		if got != tc.want {
			t.Errorf("%q: %s, want %s (%v)", tc.in, got, tc.want, err)
		}
	}
}

// TestMaxElements: every object parsed counts against the file's
// allowance, and past it nothing more is parsed.
func TestMaxElements(t *testing.T) {
	doc := buildPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 100 100] >>",
		"<< /Type /Page /Parent 2 0 R >>", "[1 2 3 4 5 6 7 8 9 10]")
	if _, err := ParseLimits(doc, Limits{MaxElements: 3}); !errors.Is(err, ErrLimit) {
		t.Fatalf("a trailer of 6 objects under a limit of 3: %v", err)
	}
	f, err := ParseLimits(doc, Limits{MaxElements: 12})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.Elements(); n != 5 { // /Size 5 /Root 1 0 R /ID [<0102> <0102>]
		t.Fatalf("%d objects parsed for the trailer", n)
	}
	if _, err := f.Object(0, Ref{4, 0}); !errors.Is(err, ErrLimit) {
		t.Fatalf("an array of 10 past the allowance: %v", err)
	}
	if _, err := f.Object(0, Ref{1, 0}); !errors.Is(err, ErrLimit) {
		t.Fatalf("after the allowance: %v", err)
	}
}
