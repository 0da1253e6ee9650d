package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/internal/pdftest"
	"github.com/jilin-health/cardseal/internal/testtool"
)

// buildPDF writes objects 1..n (bodies given) with a classic table.
func buildPDF(bodies ...string) []byte {
	return pdftest.Classic("/ID [<0102> <0102>]", bodies...)
}

func content(s string) string { return pdftest.Stream(s) }

// simplePDF is a one-page document with an inherited MediaBox and an
// indirect /Length.
func simplePDF() []byte {
	return buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595.28 841.89] /Resources << /Font << >> >> >>",
		"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
		"<< /Length 5 0 R >>\nstream\nBT /F1 12 Tf (Hello \\(world\\)) Tj ET\nendstream",
		"36",
		"<< /Title (card \\\\ 1) /Producer <FEFF0041> >>",
	)
}

func qpdf(t *testing.T, in []byte, args ...string) []byte {
	t.Helper()
	return pdftest.QPDF(t, in, args...)
}

func TestParseFixtures(t *testing.T) {
	base := simplePDF()
	for _, tc := range []struct {
		name string
		data func(t *testing.T) []byte
		kind XrefKind
	}{
		{"classic", func(*testing.T) []byte { return base }, XrefTable},
		{"qpdf-table", func(t *testing.T) []byte { return qpdf(t, base, "--object-streams=disable") }, XrefTable},
		{"qpdf-objstm", func(t *testing.T) []byte { return qpdf(t, base, "--object-streams=generate") }, XrefStream},
		{"qpdf-objstm-uncompressed", func(t *testing.T) []byte {
			return qpdf(t, base, "--object-streams=generate", "--compress-streams=n")
		}, XrefStream},
		{"qpdf-linearized", func(t *testing.T) []byte { return qpdf(t, base, "--linearize") }, XrefTable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data(t)
			f, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Revisions) != 1 {
				t.Fatalf("%d revisions, want 1", len(f.Revisions))
			}
			r := f.Revisions[0]
			if r.Kind != tc.kind {
				t.Errorf("kind %v, want %v", r.Kind, tc.kind)
			}
			if r.End != int64(len(data)) || f.Trailing != nil {
				t.Errorf("End %d of %d bytes, trailing %q", r.End, len(data), f.Trailing)
			}
			n, err := f.NumPages(0)
			if err != nil || n != 1 {
				t.Fatalf("NumPages = %d, %v", n, err)
			}
			p, err := f.Page(0, 0)
			if err != nil || p == nil {
				t.Fatalf("Page(0) = %v, %v", p, err)
			}
			if w, _ := Number(p.MediaBox[2]); w != 595.28 {
				t.Errorf("inherited MediaBox %v", p.MediaBox)
			}
			c, err := f.Resolve(0, p.Dict.Get("Contents"))
			if err != nil {
				t.Fatal(err)
			}
			s, ok := c.(*Stream)
			if !ok {
				t.Fatalf("contents is %T", c)
			}
			dec, err := f.Decode(s)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(dec, []byte(`(Hello \(world\)) Tj`)) {
				t.Errorf("contents %q", dec)
			}
			if p, err := f.Page(0, 1); err != nil || p != nil {
				t.Errorf("Page(1) = %v, %v; want nil, nil", p, err)
			}
		})
	}
}

func TestIncremental(t *testing.T) {
	base := simplePDF()
	f0, err := Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), base...)
	off := len(out)
	out = AppendIndirect(out, Ref{6, 0}, Dict{{"Title", TextString("卡 (1) \\")}})
	x := len(out)
	out = fmt.Appendf(out, "xref\n6 1\n%010d 00000 n\r\ntrailer\n<< /Size 7 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", off, f0.Revisions[0].XrefOffset, x)
	f, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Revisions) != 2 {
		t.Fatalf("%d revisions", len(f.Revisions))
	}
	if f.Revisions[0].End != int64(len(base)) || f.Revisions[1].Start != int64(len(base)) || f.Revisions[1].End != int64(len(out)) {
		t.Errorf("bounds %+v %+v", f.Revisions[0], f.Revisions[1])
	}
	if len(f.EOFs) != 2 {
		t.Errorf("EOFs %v", f.EOFs)
	}
	old, _ := f.Object(0, Ref{6, 0})
	cur, _ := f.Object(1, Ref{6, 0})
	if got := old.(Dict).Get("Title").(String).Text(); got != "card \\ 1" {
		t.Errorf("rev 0 title %q", got)
	}
	if got := cur.(Dict).Get("Title").(String).Text(); got != "卡 (1) \\" {
		t.Errorf("rev 1 title %q", got)
	}

	junk, _ := Parse(append(append([]byte(nil), out...), "garbage %%EOF\n"...))
	if junk == nil || string(junk.Trailing) != "garbage %%EOF\n" {
		t.Errorf("trailing junk not reported: %+v", junk)
	}
	ws, _ := Parse(append(append([]byte(nil), out...), " \r\n"...))
	if ws == nil || ws.Trailing != nil {
		t.Errorf("white space reported as trailing")
	}
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestMalformed(t *testing.T) {
	good := simplePDF()
	replace := func(old, new string) []byte {
		return bytes.Replace(append([]byte(nil), good...), []byte(old), []byte(new), 1)
	}
	deep := buildPDF("<< /Type /Catalog /Pages 2 0 R /X "+strings.Repeat("[", 100)+strings.Repeat("]", 100)+" >>",
		"<< /Type /Pages /Kids [] /Count 0 >>")
	bomb := deflate(make([]byte, 20<<20))
	bombPDF := buildPDF("<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", len(bomb), bomb))
	loop := buildPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [2 0 R] /Count 1 >>")
	for _, tc := range []struct {
		name  string
		data  []byte
		check func(*File) error
	}{
		{"no header", good[9:], nil},
		{"no startxref", bytes.ReplaceAll(good, []byte("startxref"), []byte("startxreF")), nil},
		{"startxref out of file", replace("startxref\n", "startxref\n9"), nil},
		{"bad entry type", replace("00000 n", "00000 x"), nil},
		{"prev loop", replace("/Size 7", "/Size 7 /Prev "+fmt.Sprint(bytes.LastIndex(good, []byte("xref\n")))), nil},
		{"no EOF", good[:len(good)-6], nil},
		{"no root", replace("/Root 1 0 R", "/Rooo 1 0 R"), nil},
		{"length too long", good, func(f *File) error {
			_, err := f.Object(0, Ref{4, 0})
			return err
		}},
		{"depth bomb", deep, func(f *File) error { _, err := f.Object(0, Ref{1, 0}); return err }},
		{"decompression bomb", bombPDF, func(f *File) error {
			o, err := f.Object(0, Ref{2, 0})
			if err != nil {
				return err
			}
			_, err = f.Decode(o.(*Stream))
			return err
		}},
		{"page tree loop", loop, func(f *File) error { _, err := f.NumPages(0); return err }},
		{"wrong object at offset", replace("3 0 obj", "9 0 obj"), func(f *File) error { _, err := f.Object(0, Ref{3, 0}); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if tc.name == "length too long" {
				data = replace("\n36\n", "\n99999\n")
			}
			f, err := Parse(data)
			if err == nil && tc.check != nil {
				err = tc.check(f)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestLexer(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Object
	}{
		{"(a\\(b\\)c\\\\)", String{Bytes: []byte(`a(b)c\`)}},
		{"(a (nested) b)", String{Bytes: []byte("a (nested) b")}},
		{"(\\101\\1012\\0053)", String{Bytes: []byte("AA2\x053")}},
		{"(line\\\ncont\\\r\ninued)", String{Bytes: []byte("linecontinued")}},
		{"(cr\rlf\r\nx)", String{Bytes: []byte("cr\nlf\nx")}},
		{"(\\n\\r\\t\\b\\f\\q)", String{Bytes: []byte("\n\r\t\b\fq")}},
		{"<48 65 6C6c 7>", String{Bytes: []byte("Hell\x70"), Hex: true}},
		{"<>", String{Bytes: []byte{}, Hex: true}},
		{"/A#20B#23", Name("A B#")},
		{"/", Name("")},
		{"-12", Integer(-12)},
		{"+17", Integer(17)},
		{"-.002", Real(-0.002)},
		{"4.", Real(4)},
		{"12 0 R", Ref{12, 0}},
		{"[1 2 3 R 4 5 0 R]", Array{Integer(1), Ref{2, 3}, Integer(4), Ref{5, 0}}},
		{"<</A 1/B[true false null]%c\n/C<</D/E>>>>", Dict{{"A", Integer(1)}, {"B", Array{Bool(true), Bool(false), Null{}}}, {"C", Dict{{"D", Name("E")}}}}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p := &parser{buf: []byte(tc.in), maxDepth: 64}
			got, err := p.parseObject()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"(open", "<4G>", "/A#2", "1.2.3", "--1", "<< /A >>", "<< 1 2 >>", "<< /A 1 /A 2 >>", "]", "99999999999999999999", "tru"} {
		p := &parser{buf: []byte(bad), maxDepth: 64}
		if o, err := p.parseObject(); err == nil {
			t.Errorf("%q parsed as %#v", bad, o)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v does not wrap ErrMalformed", bad, err)
		}
	}
}

func TestSerializeRoundTrip(t *testing.T) {
	objs := []Object{
		Dict{{"Type", Name("Sig")}, {"Weird Name#/()", Integer(-3)}, {"R", Real(0.125)}, {"Big", Real(595.28)},
			{"Lit", String{Bytes: []byte("a(b)\\c\r\n\x00\xff")}}, {"Hex", String{Bytes: []byte{0, 1, 0xfe}, Hex: true}},
			{"A", Array{Ref{3, 0}, Bool(true), Null{}, Array{}}}, {"T", TextString("村级审核通过 (复核) \\ 😀")}},
	}
	for _, o := range objs {
		b := AppendObject(nil, o)
		p := &parser{buf: b, maxDepth: 64}
		got, err := p.parseObject()
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, o) {
			t.Fatalf("round trip of %s:\n got %#v\nwant %#v", b, got, o)
		}
	}
	if got := TextString("印 (1) \\").Text(); got != "印 (1) \\" {
		t.Errorf("TextString round trip %q", got)
	}
	if b := AppendObject(nil, TextString("()\\")); bytes.ContainsAny(b, "()\\") {
		t.Errorf("text string written as %s", b)
	}
}

func TestDate(t *testing.T) {
	tm := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CST", 8*3600))
	d := Date(tm)
	if string(d.Bytes) != "D:20260304050607+08'00'" {
		t.Fatalf("Date = %s", d.Bytes)
	}
	back, err := ParseDate(d)
	if err != nil || !back.Equal(tm) {
		t.Fatalf("ParseDate = %v, %v", back, err)
	}
	if got, _ := ParseDate(String{Bytes: []byte("D:2026")}); !got.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("partial date %v", got)
	}
	if _, err := ParseDate(String{Bytes: []byte("D:20261399")}); err == nil {
		t.Error("month 13 accepted")
	}
}

func TestPredictor(t *testing.T) {
	// Rows of 3 bytes with PNG Up (2) and Sub (1) filters.
	raw := []byte{2, 1, 2, 3, 2, 1, 1, 1, 1, 10, 5, 5}
	got, err := unpredict(raw, Dict{{"Predictor", Integer(12)}, {"Columns", Integer(3)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{1, 2, 3, 2, 3, 4, 10, 15, 20}; !bytes.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// hybridPDF is a hybrid-reference file (pdftest.Hybrid).
func hybridPDF(info string, bodies ...string) []byte { return pdftest.Hybrid(info, bodies...) }

func TestHybrid(t *testing.T) {
	doc := hybridPDF("<< /Title (hybrid) >>",
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 100 100] >>",
		"<< /Type /Page /Parent 2 0 R >>")
	f, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	r := f.Revisions[0]
	if r.Kind != XrefTable || r.XrefStm == 0 || r.Entries[5].Type != Compressed {
		t.Fatalf("revision %+v", r)
	}
	o, err := f.Object(0, Ref{5, 0})
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := o.(Dict); !ok || string(d.Get("Title").(String).Bytes) != "hybrid" {
		t.Fatalf("info %#v", o)
	}
	bin := testtool.Require(t, "qpdf")
	path := filepath.Join(t.TempDir(), "h.pdf")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "--check", path).CombinedOutput(); err != nil || bytes.Contains(out, []byte("WARNING")) {
		t.Fatalf("fixture is not a valid hybrid file: %v\n%s", err, out)
	}
}

func TestLimitsAndUnsupported(t *testing.T) {
	doc := simplePDF()
	for _, tc := range []struct {
		name string
		lim  Limits
		data []byte
		want error
	}{
		{"file size", Limits{MaxFileSize: 100}, doc, ErrLimit},
		{"objects", Limits{MaxObjects: 3}, doc, ErrLimit},
		{"depth", Limits{MaxDepth: 1}, doc, ErrLimit}, // the trailer's /ID array nests twice
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLimits(tc.data, tc.lim)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want %v and ErrMalformed", err, tc.want)
			}
		})
	}
	f, err := Parse(buildPDF("<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Length 3 /Filter /DCTDecode >>\nstream\nabc\nendstream"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.Object(0, Ref{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	var se *SyntaxError
	if _, err := f.Decode(o.(*Stream)); !errors.Is(err, ErrUnsupported) || !errors.As(err, &se) || se.Offset <= 0 {
		t.Fatalf("DCTDecode: %v", err)
	}
}
