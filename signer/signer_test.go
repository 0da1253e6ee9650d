package signer

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/seal"
)

const (
	village  = "220102001001"
	township = "220102001"
	county   = "220102"
)

var sealTime = time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)

func request(t testing.TB, code string) *Request {
	o := newOrg(t, code)
	return &Request{
		Identity:   o.id,
		Org:        o.org,
		Policy:     chain.Card,
		Page:       0,
		Rect:       map[org.Level]Rect{org.Village: {40, 40, 140, 140}, org.Township: {160, 40, 260, 140}, org.County: {280, 40, 380, 140}}[o.org.Level],
		Appearance: appearance(t),
		Reason:     o.org.Level.Chinese() + "审核通过",
		Location:   "吉林省长春市",
		DocID:      "JL-2026-000123",
		Time:       sealTime,
	}
}

// checkSeals verifies every signature of doc against the bytes its
// /ByteRange covers and returns the signature dictionaries, oldest first.
func checkSeals(t *testing.T, doc []byte, want int) []pdf.Dict {
	t.Helper()
	f, err := pdf.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if f.Trailing != nil || f.Revisions[f.Latest()].End != int64(len(doc)) {
		t.Fatalf("trailing bytes after the last revision")
	}
	cat, _, err := f.Catalog(f.Latest())
	if err != nil {
		t.Fatal(err)
	}
	fm, err := readForm(f, f.Latest(), cat)
	if err != nil {
		t.Fatal(err)
	}
	if len(fm.sigs) != want {
		t.Fatalf("%d signatures, want %d", len(fm.sigs), want)
	}
	var prev []byte
	var dicts []pdf.Dict
	for i, s := range fm.sigs {
		br := s.byteRange
		if br[0] != 0 || br[1] > br[2] || br[2]+br[3] > int64(len(doc)) {
			t.Fatalf("seal %d: bad /ByteRange %v", i, br)
		}
		// Each seal covers exactly its own revision: the gap is its /Contents.
		if gap := doc[br[1]:br[2]]; gap[0] != '<' || gap[len(gap)-1] != '>' {
			t.Fatalf("seal %d: gap is not the /Contents hex string", i)
		}
		if end := br[2] + br[3]; end != f.Revisions[i+1].End && !(i == len(fm.sigs)-1 && end == int64(len(doc))) {
			t.Fatalf("seal %d covers %d bytes; its revision ends at %d", i, end, f.Revisions[i+1].End)
		}
		h := sm3.New()
		h.Write(doc[:br[1]])
		h.Write(doc[br[2] : br[2]+br[3]])
		der, err := seal.TrimPadding(s.contents)
		if err != nil {
			t.Fatal(err)
		}
		sd, err := seal.Parse(der)
		if err != nil {
			t.Fatalf("seal %d: %v", i, err)
		}
		if err := sd.Verify(h.Sum(nil)); err != nil {
			t.Fatalf("seal %d: %v", i, err)
		}
		if !bytes.Equal(sd.Link.Prev, prev) {
			t.Fatalf("seal %d: Link.Prev %x, want %x", i, sd.Link.Prev, prev)
		}
		prev = seal.Digest(der)
		d, _ := f.ResolveDict(f.Latest(), mustSigRef(t, f, s.name))
		dicts = append(dicts, d)
	}
	return dicts
}

// mustSigRef finds the /V of the field named name.
func mustSigRef(t *testing.T, f *pdf.File, name string) pdf.Object {
	t.Helper()
	cat, _, _ := f.Catalog(f.Latest())
	af, _ := f.ResolveDict(f.Latest(), cat.Get("AcroForm"))
	fo, _ := f.Resolve(f.Latest(), af.Get("Fields"))
	for _, r := range fo.(pdf.Array) {
		d, _ := f.ResolveDict(f.Latest(), r)
		if tt, _ := d.Get("T").(pdf.String); tt.Text() == name {
			return d.Get("V")
		}
	}
	t.Fatalf("no field %q", name)
	return nil
}

func fixtures(t *testing.T) map[string][]byte {
	base := cardPDF(20_000, "", "")
	return map[string][]byte{
		"classic":     base,
		"qpdf-table":  qpdfConvert(t, base, "--object-streams=disable"),
		"qpdf-objstm": qpdfConvert(t, base, "--object-streams=generate"),
		"linearized":  qpdfConvert(t, base, "--linearize"),
		// Annots and AcroForm in every place they may live.
		"indirect-annots-acroform": cardPDF(2000, " /AcroForm 7 0 R", " /Annots 6 0 R",
			"[]", "<< /Fields 8 0 R /DA (/Helv 0 Tf 0 g) >>", "[]"),
		"inline-annots-acroform": cardPDF(2000, " /AcroForm << /Fields [] >>",
			" /Annots [<< /Type /Annot /Subtype /Text /Rect [0 0 10 10] /Contents (note) >>]"),
	}
}

func TestSealChain(t *testing.T) {
	for name, doc := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			wantKind := mustParse(t, doc).Revisions[0].Kind
			for i, code := range []string{village, township, county} {
				out, err := Seal(doc, request(t, code))
				if err != nil {
					t.Fatalf("seal %s: %v", code, err)
				}
				if !bytes.HasPrefix(out, doc) || !bytes.HasSuffix(out, []byte("%%EOF\n")) {
					t.Fatalf("seal %s: earlier bytes changed or no final %%%%EOF", code)
				}
				f := mustParse(t, out)
				if len(f.Revisions) != mustParse(t, doc).Latest()+2 || f.Revisions[f.Latest()].Kind != wantKind {
					t.Fatalf("seal %s: %d revisions, last of kind %v", code, len(f.Revisions), f.Revisions[f.Latest()].Kind)
				}
				qpdfCheck(t, out)
				doc = out
				dicts := checkSeals(t, doc, i+1)
				_, certified := dicts[0].Get("Reference").(pdf.Array)
				if !certified {
					t.Fatal("first seal is not a certification signature")
				}
				for _, d := range dicts[1:] {
					if d.Get("Reference") != nil {
						t.Fatal("a later seal carries /Reference")
					}
				}
			}
			cs, ss, err := Existing(doc)
			if err != nil || len(cs) != 3 || len(ss) != 3 {
				t.Fatalf("Existing = %v, %d, %v", cs, len(ss), err)
			}
			if err := chain.Card.Validate(cs); err != nil || !chain.Card.Complete(cs) {
				t.Fatalf("chain %v: %v", cs, err)
			}
			out, err := runTool(t, "pdfsig", doc, "$IN")
			if !strings.Contains(out, "Signature #3") || strings.Contains(out, "Signature #4") {
				t.Fatalf("pdfsig (%v):\n%s", err, out)
			}
			ranges := regexp.MustCompile(`(?m)^\s*- (Total document signed|Not total document signed)`).FindAllString(out, -1)
			if len(ranges) != 3 || !strings.Contains(ranges[2], "Total document signed") || strings.Contains(ranges[0], "Total") {
				t.Fatalf("pdfsig coverage %q:\n%s", ranges, out)
			}
			if strings.Count(out, "Signature Type: adbe.pkcs7.detached") != 3 {
				t.Fatalf("pdfsig types:\n%s", out)
			}
			text, err := runTool(t, "pdftotext", doc, "$IN", "-")
			if err != nil || !strings.Contains(text, "applicant data line") {
				t.Fatalf("pdftotext: %v\n%s", err, text)
			}
		})
	}
}

func mustParse(t testing.TB, b []byte) *pdf.File {
	t.Helper()
	f, err := pdf.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRefused(t *testing.T) {
	base := cardPDF(2000, "", "")
	sealed, err := Seal(base, request(t, village))
	if err != nil {
		t.Fatal(err)
	}
	otherVillage := request(t, "220102002003")
	otherVillage.Policy = chain.RebirthForm
	for _, tc := range []struct {
		name string
		doc  []byte
		req  *Request
		want error
	}{
		{"township first", base, request(t, township), chain.ErrOutOfOrder},
		{"county first", base, request(t, county), chain.ErrOutOfOrder},
		{"village twice", sealed, request(t, village), chain.ErrRepeated},
		{"township of another township", sealed, request(t, "220102002"), chain.ErrJurisdiction},
		{"village of another township", sealed, otherVillage, chain.ErrRepeated},
		{"other document", sealed, func() *Request { r := request(t, township); r.DocID = "JL-OTHER"; return r }(), ErrDocID},
		{"no page", base, func() *Request { r := request(t, village); r.Page = 1; return r }(), ErrNoPage},
		{"rect off page", base, func() *Request { r := request(t, village); r.Rect = Rect{300, 500, 500, 700}; return r }(), ErrBadRect},
		{"empty rect", base, func() *Request { r := request(t, village); r.Rect = Rect{10, 10, 10, 50}; return r }(), ErrBadRect},
		{"malformed", base[:len(base)-20], request(t, village), pdf.ErrMalformed},
		{"trailing junk", append(append([]byte(nil), base...), "junk"...), request(t, village), ErrMalformedPDF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Seal(tc.doc, tc.req)
			if !errors.Is(err, tc.want) || out != nil {
				t.Fatalf("Seal = %d bytes, %v; want %v", len(out), err, tc.want)
			}
		})
	}
	// Jurisdiction for a document type whose order is free (Art. 17).
	rf := request(t, "220102002003")
	rf.Policy = chain.RebirthForm
	tw := request(t, township)
	tw.Policy = chain.RebirthForm
	first, err := Seal(base, tw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Seal(first, rf); !errors.Is(err, chain.ErrJurisdiction) {
		t.Fatalf("village of another township: %v", err)
	}
}

func TestTextRoundTrip(t *testing.T) {
	req := request(t, village)
	req.Reason = `村级审核通过（复核）(第2次) \ 完成`
	req.Location = `长春市)南关区(\`
	req.ContactInfo = "0431-8888 (值班)"
	out, err := Seal(cardPDF(2000, "", ""), req)
	if err != nil {
		t.Fatal(err)
	}
	qpdfCheck(t, out)
	d := checkSeals(t, out, 1)[0]
	for k, want := range map[pdf.Name]string{"Reason": req.Reason, "Location": req.Location, "ContactInfo": req.ContactInfo, "Name": req.Org.Name} {
		s, ok := d.Get(k).(pdf.String)
		if !ok || !s.Hex || s.Text() != want {
			t.Errorf("/%s = %q (hex %v), want %q", k, s.Text(), s.Hex, want)
		}
	}
	if m, _ := d.Get("M").(pdf.String); string(m.Bytes) != "D:20261128173000+08'00'" {
		t.Errorf("/M = %s", m.Bytes)
	}
	if sig, _ := runTool(t, "pdfsig", out, "$IN"); !strings.Contains(sig, "Signature #1") {
		t.Fatalf("pdfsig:\n%s", sig)
	}
}

func TestGBContentTypes(t *testing.T) {
	req := request(t, village)
	req.GBContentTypes = true
	out, err := Seal(cardPDF(2000, "", ""), req)
	if err != nil {
		t.Fatal(err)
	}
	_, ss, err := Existing(out)
	if err != nil || len(ss) != 1 || !ss[0].GBContentTypes {
		t.Fatalf("Existing: %v %v", ss, err)
	}
}

func TestNewAppearance(t *testing.T) {
	a, err := NewAppearance(sealImage())
	if err != nil || a.alpha == nil {
		t.Fatalf("transparent picture: %v, smask %v", err, a != nil && a.alpha != nil)
	}
	if w, h := a.Size(); w != 160 || h != 160 {
		t.Errorf("size %dx%d", w, h)
	}
	if _, err := NewAppearance(nil); err == nil {
		t.Error("nil image accepted")
	}
}

func BenchmarkSeal(b *testing.B) {
	doc := cardPDF(30_000, "", "")
	req := request(b, village)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(doc, req); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOtherSignatures(t *testing.T) {
	foreign := cardPDF(2000, " /AcroForm << /Fields [6 0 R] /SigFlags 3 >>", " /Annots [6 0 R]",
		"<< /Type /Annot /Subtype /Widget /FT /Sig /T "+string(pdf.AppendObject(nil, pdf.TextString("村级印章_220102001001")))+" /V 7 0 R /Rect [0 0 0 0] /P 3 0 R >>",
		"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 10 20 30] /Contents <3003020101000000> >>")
	out, err := Seal(foreign, request(t, village))
	if err != nil {
		t.Fatal(err)
	}
	qpdfCheck(t, out)
	cs, ss, err := Existing(out)
	if err != nil || len(cs) != 1 || len(ss) != 1 || cs[0].Code != village {
		t.Fatalf("Existing = %v, %v", cs, err)
	}
	f := mustParse(t, out)
	cat, _, _ := f.Catalog(f.Latest())
	if cat.Get("Perms") != nil {
		t.Error("certified a document that was already signed")
	}
	sig, _ := f.ResolveDict(f.Latest(), mustSigRef(t, f, "村级印章_220102001001_2"))
	if sig == nil || sig.Get("Reference") != nil {
		t.Errorf("seal after another signature: %v", sig)
	}

	locked := cardPDF(2000, " /Perms << /DocMDP 6 0 R >>", "",
		"<< /Type /Sig /Reference [<< /Type /SigRef /TransformMethod /DocMDP /TransformParams << /Type /TransformParams /P 1 /V /1.2 >> >>] >>")
	if out, err := Seal(locked, request(t, village)); !errors.Is(err, ErrLocked) || out != nil {
		t.Fatalf("DocMDP P=1: %v", err)
	}
}

func TestRequestChecks(t *testing.T) {
	doc := cardPDF(2000, "", "")
	for _, tc := range []struct {
		name   string
		mutate func(*Request)
		want   error
	}{
		{"org not the certificate's", func(r *Request) { r.Org = newOrg(t, "220102001002").org }, ErrOrgMismatch},
		{"no identity", func(r *Request) { r.Identity = nil }, ErrRequest},
		{"no appearance", func(r *Request) { r.Appearance = nil }, ErrRequest},
		{"no doc id", func(r *Request) { r.DocID = "" }, ErrRequest},
		{"no time", func(r *Request) { r.Time = time.Time{} }, ErrRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := request(t, village)
			tc.mutate(r)
			if out, err := Seal(doc, r); !errors.Is(err, tc.want) || out != nil {
				t.Fatalf("Seal: %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzExisting feeds arbitrary documents to the seal reader.
func FuzzExisting(f *testing.F) {
	doc := cardPDF(500, "", "")
	f.Add(doc)
	if out, err := Seal(doc, request(f, village)); err == nil {
		f.Add(out)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cs, ss, err := Existing(in)
		if err == nil && len(cs) != len(ss) {
			t.Fatalf("%d chain seals, %d parsed", len(cs), len(ss))
		}
	})
}
