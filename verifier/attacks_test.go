package verifier_test

// The forged-PDF corpus of issue 8: every published attack class on PDF
// signatures, built by the tests from the project's own sealed cards, each
// expected to yield an invalid verdict whose reasons name the check or the
// object that caught it.

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/seal"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/verifier"
)

// ---- helpers -------------------------------------------------------------

var (
	idMu    sync.Mutex
	idCache = map[string]*keys.Identity{}
	apCache = map[string]*signer.Appearance{}
)

// identity returns an organisation's seal identity, decrypted once per
// test binary (the keystore's PBKDF2 is slow on purpose).
func (f *fixture) identity(t testing.TB, code string) *keys.Identity {
	t.Helper()
	idMu.Lock()
	defer idMu.Unlock()
	if id, ok := idCache[code]; ok {
		return id
	}
	id, err := f.ks.SealIdentity(code)
	if err != nil {
		t.Fatal(err)
	}
	idCache[code] = id
	return id
}

func appearance(t testing.TB, o org.Org) *signer.Appearance {
	t.Helper()
	idMu.Lock()
	defer idMu.Unlock()
	if a, ok := apCache[o.Code]; ok {
		return a
	}
	img, err := templates.SealImage(o)
	if err != nil {
		t.Fatal(err)
	}
	a, err := signer.NewAppearance(img)
	if err != nil {
		t.Fatal(err)
	}
	apCache[o.Code] = a
	return a
}

// sealReq seals doc as the organisation code, letting mod change the
// request (policy, rectangle, identity, time, document ID) first.
func (f *fixture) sealReq(t testing.TB, doc []byte, code string, mod func(*signer.Request)) []byte {
	t.Helper()
	o, err := keys.Demo.GetOrg(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	req := &signer.Request{
		Identity: f.identity(t, code), Org: o, Policy: chain.Unchecked, Rect: signer.Rect(templates.SealBox(o.Level)),
		Appearance: appearance(t, o), Reason: lifecycle.Reason(o.Level), Location: o.Name, DocID: f.number, Time: time.Now(), Timestamper: f.sealer.Stamp,
	}
	if mod != nil {
		mod(req)
	}
	out, err := signer.Seal(doc, req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sealAll applies the village, township and county seals in order.
func (f *fixture) sealAll(t testing.TB, doc []byte) []byte {
	t.Helper()
	for _, code := range []string{"220102001001", "220102001", "220102"} {
		doc = f.sealReq(t, doc, code, nil)
	}
	return doc
}

// mustAll checks an invalid verdict whose reasons mention every string.
func mustAll(t testing.TB, rep *verifier.Report, reasons ...string) {
	t.Helper()
	t.Logf("reasons: %s", strings.Join(rep.Reasons(), " | "))
	for _, r := range reasons {
		mustContain(t, rep, verifier.Invalid, r)
	}
	if len(reasons) == 0 {
		mustContain(t, rep, verifier.Invalid, "")
	}
}

// nth returns the offset of the n-th (0-based) occurrence of sub.
func nth(t testing.TB, doc []byte, sub string, n int) int {
	t.Helper()
	off := 0
	for i := 0; ; i++ {
		j := bytes.Index(doc[off:], []byte(sub))
		if j < 0 {
			t.Fatalf("occurrence %d of %q not found", n, sub)
		}
		if i == n {
			return off + j
		}
		off += j + len(sub)
	}
}

// setArray rewrites, in place, the value of the n-th "key [" array to
// text, padded with spaces to the same length so no offset moves.
func setArray(t testing.TB, doc []byte, key string, n int, text string) []byte {
	t.Helper()
	i := nth(t, doc, key+" [", n) + len(key) + 1
	j := i + bytes.IndexByte(doc[i:], ']') + 1
	if len(text) > j-i {
		t.Fatalf("setArray: %q longer than %q", text, doc[i:j])
	}
	out := bytes.Clone(doc)
	copy(out[i:j], text+strings.Repeat(" ", j-i-len(text)))
	return out
}

// contents returns the span of the n-th seal's /Contents hex digits and
// the CMS DER they hold.
func contents(t testing.TB, doc []byte, n int) (start, end int, der []byte) {
	t.Helper()
	start = nth(t, doc, "/Contents <", n) + len("/Contents <")
	end = start + bytes.IndexByte(doc[start:], '>')
	raw, err := hex.DecodeString(string(doc[start:end]))
	if err != nil {
		t.Fatal(err)
	}
	der, err = seal.TrimPadding(raw)
	if err != nil {
		t.Fatal(err)
	}
	return start, end, der
}

// putContents writes der as the n-th seal's /Contents, zero-padded to the
// reserved space, in place.
func putContents(t testing.TB, doc []byte, n int, der []byte) []byte {
	t.Helper()
	start, end, _ := contents(t, doc, n)
	h := hex.EncodeToString(der)
	if len(h) > end-start {
		t.Fatalf("putContents: %d hex digits do not fit in %d", len(h), end-start)
	}
	out := bytes.Clone(doc)
	copy(out[start:end], h+strings.Repeat("0", end-start-len(h)))
	return out
}

// elements splits the contents of a DER constructed value into its
// elements (each with tag and length).
func elements(t testing.TB, body []byte) [][]byte {
	t.Helper()
	s := cryptobyte.String(body)
	var out [][]byte
	for !s.Empty() {
		var e cryptobyte.String
		if !s.ReadAnyASN1Element(&e, nil) {
			t.Fatal("elements: bad DER")
		}
		out = append(out, e)
	}
	return out
}

// inner returns the tag and contents of one DER element.
func inner(t testing.TB, el []byte) (cbasn1.Tag, []byte) {
	t.Helper()
	s := cryptobyte.String(el)
	var body cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&body, &tag) {
		t.Fatal("inner: bad DER")
	}
	return tag, body
}

func wrap(tag cbasn1.Tag, parts ...[]byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(tag, func(c *cryptobyte.Builder) {
		for _, p := range parts {
			c.AddBytes(p)
		}
	})
	return b.BytesOrPanic()
}

// editSignedData re-encodes a seal's ContentInfo after edit changed the
// SignedData's elements (version, digestAlgorithms, encapContentInfo,
// [0] certificates, signerInfos).
func editSignedData(t testing.TB, der []byte, edit func(sd [][]byte) [][]byte) []byte {
	t.Helper()
	_, ci := inner(t, der)
	cie := elements(t, ci) // contentType, [0] EXPLICIT
	_, explicit := inner(t, cie[1])
	_, sd := inner(t, explicit)
	fields := edit(elements(t, sd))
	return wrap(cbasn1.SEQUENCE, cie[0], wrap(cbasn1.Tag(0).Constructed().ContextSpecific(), wrap(cbasn1.SEQUENCE, fields...)))
}

// editSignerInfo re-encodes the single SignerInfo's elements (version,
// sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature).
func editSignerInfo(t testing.TB, der []byte, edit func(si [][]byte) [][]byte) []byte {
	t.Helper()
	return editSignedData(t, der, func(sd [][]byte) [][]byte {
		last := len(sd) - 1
		_, set := inner(t, sd[last])
		_, si := inner(t, elements(t, set)[0])
		sd[last] = wrap(cbasn1.SET, wrap(cbasn1.SEQUENCE, edit(elements(t, si))...))
		return sd
	})
}

// sigDict returns the signature dictionary of the n-th widget on page 1
// (seal order) and the file.
func sigDict(t testing.TB, doc []byte, n int) (*pdf.File, pdf.Ref, pdf.Dict) {
	t.Helper()
	pf, p := page(t, doc)
	annots, err := pf.Resolve(pf.Latest(), p.Dict.Get("Annots"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := pf.ResolveDict(pf.Latest(), annots.(pdf.Array)[n])
	if err != nil {
		t.Fatal(err)
	}
	ref := w.Get("V").(pdf.Ref)
	d, err := pf.ResolveDict(pf.Latest(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return pf, ref, d.Clone()
}

func stream(s string) *pdf.Stream {
	return &pdf.Stream{Dict: pdf.Dict{{Key: "Length", Value: pdf.Integer(len(s))}}, Raw: []byte(s), Offset: -1}
}

func formXObject(s string, bbox ...int) *pdf.Stream {
	st := stream(s)
	var box pdf.Array
	for _, v := range bbox {
		box = append(box, pdf.Integer(v))
	}
	st.Dict = append(pdf.Dict{{Key: "Type", Value: pdf.Name("XObject")}, {Key: "Subtype", Value: pdf.Name("Form")}, {Key: "BBox", Value: box}}, st.Dict...)
	return st
}

func rect(a, b, c, d int) pdf.Array {
	return pdf.Array{pdf.Integer(a), pdf.Integer(b), pdf.Integer(c), pdf.Integer(d)}
}

// withAnnot appends a revision adding annotation objects (the first is
// put on the page's /Annots).
func withAnnot(t testing.TB, doc []byte, annot func(next int) map[pdf.Ref]pdf.Object) []byte {
	t.Helper()
	pf, p := page(t, doc)
	n := pf.Size(pf.Latest())
	objs := annot(n)
	pd := p.Dict.Clone()
	annots, _ := pf.Resolve(pf.Latest(), pd.Get("Annots"))
	arr := append(pdf.Array{}, annots.(pdf.Array)...)
	pd.Set("Annots", append(arr, pdf.Ref{Num: n}))
	objs[p.Ref] = pd
	return appendRevision(t, doc, objs)
}

// ---- universal signature forgery (CCS 2019) ------------------------------

func TestUniversalSignatureForgery(t *testing.T) {
	f := demo(t)
	doc := f.sealed[3]
	const county = 2 // the county seal: the third /ByteRange and /Contents
	s, e, der := contents(t, doc, county)

	inPlace := func(off int, repl string) []byte {
		out := bytes.Clone(doc)
		copy(out[off:], repl)
		return out
	}
	contentsAt := s - len("/Contents <")
	fill := func(b byte) []byte {
		out := bytes.Clone(doc)
		for i := s; i < e; i++ {
			out[i] = b
		}
		return out
	}
	random := bytes.Clone(doc)
	copy(random[s:], hex.EncodeToString(bytes.Repeat([]byte{0x5a, 0xc3, 0x17}, (e-s)/6)))

	// The CMS without its certificates (re-encoded, zero-padded in place).
	noCerts := editSignedData(t, der, func(sd [][]byte) [][]byte {
		var out [][]byte
		for _, el := range sd {
			if tag, _ := inner(t, el); tag != cbasn1.Tag(0).Constructed().ContextSpecific() {
				out = append(out, el)
			}
		}
		return out
	})
	// The signer certificate swapped for another organisation's (the
	// township's). The CA certificate is dropped to make room: the root is
	// in the trust list anyway, and the township's certificate may be a
	// few bytes longer than the county's.
	other := f.identity(t, "220102001").Cert.Raw
	swapCert := func(der []byte) []byte {
		return editSignedData(t, der, func(sd [][]byte) [][]byte {
			if tag, _ := inner(t, sd[3]); tag != cbasn1.Tag(0).Constructed().ContextSpecific() {
				t.Fatal("no certificates in the seal")
			}
			sd[3] = wrap(cbasn1.Tag(0).Constructed().ContextSpecific(), other)
			return sd
		})
	}
	// ... and the SignerInfo's sid rewritten to name it too.
	swapBoth := editSignerInfo(t, swapCert(der), func(si [][]byte) [][]byte {
		c, err := smx509.ParseCertificate(other)
		if err != nil {
			t.Fatal(err)
		}
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(c2 *cryptobyte.Builder) {
			c2.AddBytes(c.RawIssuer)
			c2.AddASN1BigInt(c.SerialNumber)
		})
		si[1] = b.BytesOrPanic()
		return si
	})

	// Redefining the signature dictionary in an appended revision.
	_, sigRef, sd := sigDict(t, doc, county)
	redefined := func(mod func(d pdf.Dict) pdf.Dict) []byte {
		return appendRevision(t, doc, map[pdf.Ref]pdf.Object{sigRef: mod(sd.Clone())})
	}

	cases := []struct {
		name    string
		doc     []byte
		reasons []string
	}{
		{"contents missing", inPlace(contentsAt, "/Contentz"), []string{"seal 3: byte_range: the gap in /ByteRange is not this dictionary's /Contents value"}},
		{"contents empty", inPlace(s-1, "<>"+strings.Repeat(" ", e-s)), []string{"seal 3: byte_range: the gap in /ByteRange is not a hex string"}},
		{"contents zeros", fill('0'), []string{"seal 3: contents:", "no DER"}},
		{"contents not DER", random, []string{"seal 3: contents:"}},
		{"contents empty, redefined", redefined(func(d pdf.Dict) pdf.Dict {
			d.Set("Contents", pdf.String{Hex: true})
			return d
		}), []string{"seal 3: byte_range: signature dictionary " + sigRef.String() + " is defined by revision 4 but its range ends revision 3"}},
		{"contents missing, redefined", redefined(func(d pdf.Dict) pdf.Dict {
			d.Delete("Contents")
			return d
		}), []string{"is defined by revision 4 but its range ends revision 3"}},
		{"byte range missing", inPlace(nth(t, doc, "/ByteRange [", county), "/ByteRangX"), []string{"seal 3: byte_range: /ByteRange must be an array of four integers"}},
		{"byte range of three", setArray(t, doc, "/ByteRange", county, "[0 1 2]"), []string{"seal 3: byte_range: /ByteRange must be an array of four integers"}},
		{"byte range of five", setArray(t, doc, "/ByteRange", county, "[0 1 2 3 4]"), []string{"seal 3: byte_range: /ByteRange must be an array of four integers"}},
		{"byte range negative", setArray(t, doc, "/ByteRange", county, fmt.Sprintf("[0 %d %d -1]", s-1, e+1)), []string{"seal 3: byte_range: /ByteRange [0", "is out of bounds"}},
		{"byte range negative start", setArray(t, doc, "/ByteRange", county, fmt.Sprintf("[0 -%d %d %d]", s-1, e+1, len(doc)-e-1)), []string{"seal 3: byte_range:", "is out of bounds"}},
		{"byte range beyond the file", setArray(t, doc, "/ByteRange", county, fmt.Sprintf("[0 %d %d %d]", s-1, e+1, len(doc))), []string{"seal 3: byte_range:", "is out of bounds"}},
		{"byte range overflow", setArray(t, doc, "/ByteRange", county, fmt.Sprintf("[0 %d 9223372036854775000 900]", s-1)), []string{"seal 3: byte_range:", "is out of bounds"}},
		{"byte range null", setArray(t, doc, "/ByteRange", county, "null"), []string{"seal 3: byte_range: /ByteRange must be an array of four integers"}},
		{"byte range of reals", setArray(t, doc, "/ByteRange", county, fmt.Sprintf("[0 %d.0 %d %d]", s-1, e+1, len(doc)-e-1)), []string{"seal 3: byte_range: /ByteRange element 1 is not an integer"}},
		{"byte range removed, redefined", redefined(func(d pdf.Dict) pdf.Dict {
			d.Delete("ByteRange")
			return d
		}), []string{"seal 3: byte_range: /ByteRange must be an array of four integers"}},
		{"byte range null, redefined", redefined(func(d pdf.Dict) pdf.Dict {
			d.Set("ByteRange", pdf.Null{})
			return d
		}), []string{"seal 3: byte_range: /ByteRange must be an array of four integers"}},
		{"signer certificate missing", putContents(t, doc, county, noCerts), []string{"seal 3: contents:", "signer certificate mismatch"}},
		{"signer certificate swapped", putContents(t, doc, county, swapCert(der)), []string{"seal 3: contents:", "signer certificate mismatch"}},
		{"signer certificate and sid swapped", putContents(t, doc, county, swapBoth), []string{"seal 3: cms_signature: seal: signer certificate mismatch"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustAll(t, f.verify(t, c.doc), c.reasons...)
		})
	}
}

// TestSM2WithSM3OID re-encodes the county seal's SignerInfo with the
// signature algorithm 1.2.156.10197.1.501 (as BouncyCastle writes it; the
// field is not signed) and expects a valid verdict.
func TestSM2WithSM3OID(t *testing.T) {
	f := demo(t)
	doc := f.sealed[3]
	_, _, der := contents(t, doc, 2)
	oid501 := []byte{0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x75}
	der501 := editSignerInfo(t, der, func(si [][]byte) [][]byte {
		si[4] = wrap(cbasn1.SEQUENCE, oid501)
		return si
	})
	if bytes.Equal(der, der501) {
		t.Fatal("the OID was not changed")
	}
	rep := f.verify(t, putContents(t, doc, 2, der501))
	mustContain(t, rep, verifier.Valid, "")
	if got := rep.Seals[2].SigAlg; got != seal.OIDSM2WithSM3 {
		t.Fatalf("seal 3 algorithm %s, want %s", got, seal.OIDSM2WithSM3)
	}
	if rep.Seals[0].SigAlg != seal.OIDSM2Sign {
		t.Fatalf("seal 1 algorithm %s", rep.Seals[0].SigAlg)
	}
}

// ---- raw revisions -------------------------------------------------------

// xentry is one cross-reference line of a hand-made revision.
type xentry struct {
	num, gen int
	off      int64
	free     bool
}

// rawRevision appends an incremental update made of the raw body bytes
// (placed right after doc; objects in it are listed in the table only if
// named in entries) and a classic table of entries; tr edits the trailer
// (which starts as /Size /Root /Prev /Info of the last revision).
func rawRevision(t testing.TB, doc []byte, body func(base int) ([]byte, []xentry), tr func(pdf.Dict) pdf.Dict) []byte {
	t.Helper()
	f, err := pdf.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(doc)
	if out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	b, entries := body(len(out))
	out = append(out, b...)
	xref := len(out)
	out = append(out, "xref\n"...)
	size := f.Size(f.Latest())
	for _, e := range entries {
		if e.free {
			out = fmt.Appendf(out, "%d 1\n%010d %05d f \n", e.num, 0, e.gen)
		} else {
			out = fmt.Appendf(out, "%d 1\n%010d %05d n \n", e.num, e.off, e.gen)
		}
		size = max(size, e.num+1)
	}
	last := f.Trailer(f.Latest())
	d := pdf.Dict{{Key: "Size", Value: pdf.Integer(size)}, {Key: "Root", Value: last.Get("Root")}, {Key: "Prev", Value: pdf.Integer(f.Revisions[f.Latest()].XrefOffset)}}
	if info := last.Get("Info"); info != nil {
		d = append(d, pdf.Entry{Key: "Info", Value: info})
	}
	if tr != nil {
		d = tr(d)
	}
	out = append(out, "trailer\n"...)
	out = pdf.AppendObject(out, d)
	out = fmt.Appendf(out, "\nstartxref\n%d\n%%%%EOF\n", xref)
	return out
}

// objects serialises objects for rawRevision and lists them.
func objects(base int, objs ...any) ([]byte, []xentry) {
	var b []byte
	var es []xentry
	for i := 0; i < len(objs); i += 2 {
		ref := objs[i].(pdf.Ref)
		es = append(es, xentry{num: ref.Num, gen: ref.Gen, off: int64(base + len(b))})
		b = pdf.AppendIndirect(b, ref, objs[i+1].(pdf.Object))
	}
	return b, es
}

// ---- incremental saving attack -------------------------------------------

func TestIncrementalSavingAttack(t *testing.T) {
	f := demo(t)
	doc := f.sealed[3]
	pf, p := page(t, doc)
	n := pf.Size(pf.Latest())
	content := p.Dict.Get("Contents").(pdf.Ref)
	res := p.Dict.Get("Resources").(pdf.Ref)
	cat, root, err := pf.Catalog(pf.Latest())
	if err != nil {
		t.Fatal(err)
	}
	evilText := "BT /F1 40 Tf 100 400 Td (FAKE) Tj ET"

	// The page's content stream redefined under its own number.
	sameNumber := appendRevision(t, doc, map[pdf.Ref]pdf.Object{content: stream(evilText)})
	// The trailer's /Info changed (the document's title).
	info := rawRevision(t, doc, func(int) ([]byte, []xentry) { return nil, nil }, func(d pdf.Dict) pdf.Dict {
		d.Set("Info", pdf.Dict{{Key: "Title", Value: pdf.TextString("再生育服务卡")}})
		return d
	})
	// The catalog given an /OpenAction.
	cd := cat.Clone()
	cd.Set("OpenAction", pdf.Dict{{Key: "S", Value: pdf.Name("JavaScript")}, {Key: "JS", Value: pdf.String{Bytes: []byte("app.alert(1)")}}})
	openAction := appendRevision(t, doc, map[pdf.Ref]pdf.Object{root: cd})
	// The content stream deleted (a free entry).
	deleted := rawRevision(t, doc, func(int) ([]byte, []xentry) {
		return nil, []xentry{{num: content.Num, gen: content.Gen + 1, free: true}}
	}, nil)
	// The content stream redefined, unchanged, under generation 1: every
	// "11 0 R" now resolves to null and the page is blank.
	body, err := pf.Object(pf.Latest(), content)
	if err != nil {
		t.Fatal(err)
	}
	genBump := appendRevision(t, doc, map[pdf.Ref]pdf.Object{{Num: content.Num, Gen: content.Gen + 1}: body})
	// A new, unreferenced object (harmless in itself, but nothing a
	// seal adds).
	unused := appendRevision(t, doc, map[pdf.Ref]pdf.Object{{Num: n}: stream(evilText)})

	// An evil revision, then a genuine county seal on top: the later
	// valid seal must not launder the evil revision.
	_, p2 := page(t, f.sealed[2])
	pd := p2.Dict.Clone()
	pf2, _ := pdf.Parse(f.sealed[2])
	n2 := pf2.Size(pf2.Latest())
	pd.Set("Contents", pdf.Array{content, pdf.Ref{Num: n2}})
	evil := appendRevision(t, f.sealed[2], map[pdf.Ref]pdf.Object{p2.Ref: pd, {Num: n2}: stream(evilText)})
	laundered := f.sealReq(t, evil, "220102", nil)

	// A /Prev loop: the new section's /Prev is its own offset; and a
	// /Prev that skips the three seal revisions, back to the card's.
	loop := rawRevision(t, doc, func(int) ([]byte, []xentry) { return nil, nil }, func(d pdf.Dict) pdf.Dict {
		d.Set("Prev", pdf.Integer(len(doc)))
		return d
	})
	// Two sections whose /Prev name each other: A's /Prev is B's offset.
	const placeholder = 999999999
	a := rawRevision(t, doc, func(int) ([]byte, []xentry) { return nil, nil }, func(d pdf.Dict) pdf.Dict {
		d.Set("Prev", pdf.Integer(placeholder))
		return d
	})
	aXref := bytes.LastIndex(a, []byte("\nxref\n")) + 1
	bXref := len(a)
	loop2 := fmt.Appendf(bytes.Clone(a), "xref\ntrailer\n<</Size %d /Root %v /Prev %d>>\nstartxref\n%d\n%%%%EOF\n", n, root, aXref, bXref)
	loop2 = bytes.Replace(loop2, []byte(fmt.Sprint(placeholder)), fmt.Appendf(nil, "%-9d", bXref), 1)
	skip := rawRevision(t, doc, func(base int) ([]byte, []xentry) {
		return objects(base, content, stream(evilText))
	}, func(d pdf.Dict) pdf.Dict {
		d.Set("Prev", pdf.Integer(pf.Revisions[0].XrefOffset))
		return d
	})

	// The same, but the new section lists every object of the skipped
	// seal revisions at its old offset, so the seals are still found.
	relisted := rawRevision(t, doc, func(base int) ([]byte, []xentry) {
		b, es := objects(base, content, stream(evilText))
		for _, r := range pf.Revisions[1:] {
			for num, e := range r.Entries {
				if num != content.Num && e.Type == pdf.InUse {
					es = append(es, xentry{num: num, gen: e.Gen, off: e.Offset})
				}
			}
		}
		return b, es
	}, func(d pdf.Dict) pdf.Dict {
		d.Set("Prev", pdf.Integer(pf.Revisions[0].XrefOffset))
		return d
	})

	cases := []struct {
		name    string
		doc     []byte
		reasons []string
	}{
		{"content stream redefined", sameNumber, []string{"revision 4: object " + content.String() + ": a stream (page content or data) was changed after sealing"}},
		{"page content replaced", appendRevision(t, doc, map[pdf.Ref]pdf.Object{p.Ref: func() pdf.Dict {
			d := p.Dict.Clone()
			d.Set("Contents", pdf.Ref{Num: n})
			return d
		}(), {Num: n}: stream(evilText)}), []string{"revision 4: object " + p.Ref.String() + ": the page was changed beyond /Annots"}},
		{"resources changed", appendRevision(t, doc, map[pdf.Ref]pdf.Object{res: pdf.Dict{}}), []string{"revision 4: object " + res.String() + ":", "was changed after sealing"}},
		{"trailer /Info changed", info, []string{"revision 4: the trailer's /Info was changed"}},
		{"catalog /OpenAction", openAction, []string{"revision 4: object " + root.String() + ": the catalog was changed beyond /AcroForm"}},
		{"object deleted", deleted, []string{fmt.Sprintf("revision 4: object %d %d R: an object was deleted", content.Num, content.Gen+1)}},
		{"generation bumped", genBump, []string{fmt.Sprintf("revision 4: object %d %d R: an object was redefined with generation %d (was %d)", content.Num, content.Gen+1, content.Gen+1, content.Gen)}},
		{"unused object added", unused, []string{fmt.Sprintf("revision 4: object %d 0 R: a new stream (page content or data) that no seal accounts for", n)}},
		{"valid seal on top", laundered, []string{"revision 3: object " + p2.Ref.String() + ": the page was changed beyond /Annots", fmt.Sprintf("revision 3: object %d 0 R: a new stream", n2)}},
		{"prev loop to itself", loop, []string{"malformed PDF", "cross-reference chain loops"}},
		{"prev loop of two", loop2, []string{"malformed PDF", "cross-reference chain loops"}},
		{"prev skips the seals", skip, []string{"the document carries no seal"}},
		{"prev skips the seals, objects re-listed", relisted, []string{"seal 1: byte_range: the signed range ends at", "which is not the end of a revision"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustAll(t, f.verify(t, c.doc), c.reasons...)
		})
	}
	// The laundering seal itself is genuine: only the evil revision fails.
	rep := f.verify(t, laundered)
	if !rep.Seals[2].OK {
		t.Fatalf("the county seal on top should itself check: %v", rep.Seals[2].Checks)
	}
}

// ---- signature wrapping --------------------------------------------------

func TestSignatureWrapping(t *testing.T) {
	f := demo(t)
	doc := f.sealed[3]
	s, e, _ := contents(t, doc, 2)
	a, b := s-1, e+1 // the county seal's gap is doc[a:b]
	c := len(doc) - b

	// The second range moved two bytes on: the gap now takes in bytes of
	// the dictionary after /Contents.
	moved := setArray(t, doc, "/ByteRange", 2, fmt.Sprintf("[0 %d %d %d]", a, b+2, c-2))
	// The signed bytes relocated: evil bytes inserted in front of the
	// second range, which is moved behind them unchanged.
	evil := []byte(" /Evil (a page of its own) ")
	reloc := append(append(bytes.Clone(doc[:b]), evil...), doc[b:]...)
	reloc = setArray(t, reloc, "/ByteRange", 2, fmt.Sprintf("[0 %d %d %d]", a, b+len(evil), c))
	// The same with hex digits, so the gap is still one hex string.
	zeros := bytes.Repeat([]byte("0"), 64)
	relocHex := append(append(bytes.Clone(doc[:b-1]), zeros...), doc[b-1:]...)
	relocHex = setArray(t, relocHex, "/ByteRange", 2, fmt.Sprintf("[0 %d %d %d]", a, b+len(zeros), c))
	// Extra data in the gap: the zero padding turned into "> <", so the
	// gap holds two strings and the dictionary's /Contents only the first.
	gap := bytes.Clone(doc)
	copy(gap[e-40:], "> /Evil <")
	// The whole signed revision copied behind an appended revision.
	copied := append(appendRevision(t, doc, map[pdf.Ref]pdf.Object{}), doc[f.revStart(t, doc, 3):]...)

	cases := []struct {
		name    string
		doc     []byte
		reasons []string
	}{
		{"second range moved", moved, []string{"seal 3: byte_range: the gap in /ByteRange is not a hex string"}},
		{"signed bytes relocated", reloc, []string{"malformed PDF"}},
		{"signed bytes relocated, hex gap", relocHex, []string{"malformed PDF"}},
		{"extra data in the gap", gap, []string{"seal 3: contents: /Contents is not a hex string"}},
		{"signed revision copied to the end", copied, []string{"bytes after the last revision are not a well-formed revision"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustAll(t, f.verify(t, c.doc), c.reasons...)
		})
	}
}

// revStart returns where revision rev of doc begins.
func (f *fixture) revStart(t testing.TB, doc []byte, rev int) int {
	t.Helper()
	pf, err := pdf.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return int(pf.Revisions[rev].Start)
}

// ---- shadow attacks (NDSS 2021) ------------------------------------------

// shadow is a card prepared by an attacker before sealing: an unsigned
// revision plants an unused overlay, an alternative font, an alternative
// content stream, a whole alternative catalog and page tree, and — outside
// any cross-reference section — alternative bodies of the page's content
// stream and font under their own object numbers. The three seals are then
// applied genuinely: the planted objects are signed, hidden.
type shadow struct {
	doc                        []byte // sealed thrice
	page                       *pdf.Page
	content, res, font         pdf.Ref
	overlay, altFont, altText  pdf.Ref
	altRoot                    pdf.Ref
	danglingText, danglingFont int64 // offsets of "11 0 obj" and "9 0 obj" bodies
}

var (
	shadowOnce sync.Once
	shadowFix  *shadow
)

func (f *fixture) shadow(t testing.TB) *shadow {
	t.Helper()
	shadowOnce.Do(func() { shadowFix = f.makeShadow(t) })
	if shadowFix == nil {
		t.Fatal("shadow fixture failed")
	}
	return shadowFix
}

func (f *fixture) makeShadow(t testing.TB) *shadow {
	pf, p := page(t, f.card)
	sh := &shadow{page: p, content: p.Dict.Get("Contents").(pdf.Ref), res: p.Dict.Get("Resources").(pdf.Ref)}
	resd, err := pf.ResolveDict(0, sh.res)
	if err != nil {
		t.Fatal(err)
	}
	fonts, err := pf.ResolveDict(0, resd.Get("Font"))
	if err != nil {
		t.Fatal(err)
	}
	sh.font = fonts.Get("F1").(pdf.Ref)
	fontd, err := pf.ResolveDict(0, sh.font)
	if err != nil {
		t.Fatal(err)
	}
	alt := fontd.Clone()
	alt.Set("BaseFont", pdf.Name("Evil-Font"))
	n := pf.Size(0)
	sh.overlay, sh.altFont, sh.altText, sh.altRoot = pdf.Ref{Num: n}, pdf.Ref{Num: n + 1}, pdf.Ref{Num: n + 2}, pdf.Ref{Num: n + 3}
	pages, pg := pdf.Ref{Num: n + 4}, pdf.Ref{Num: n + 5}
	evilText := "BT /F1 40 Tf 100 400 Td (FAKE) Tj ET"
	ov := formXObject("q 1 g 0 0 595 842 re f Q "+evilText, 0, 0, 595, 842)
	ov.Dict.Set("Resources", sh.res)
	planted := rawRevision(t, f.card, func(base int) ([]byte, []xentry) {
		b, es := objects(base,
			sh.overlay, ov, sh.altFont, alt, sh.altText, stream(evilText),
			sh.altRoot, pdf.Dict{{Key: "Type", Value: pdf.Name("Catalog")}, {Key: "Pages", Value: pages}},
			pages, pdf.Dict{{Key: "Type", Value: pdf.Name("Pages")}, {Key: "Kids", Value: pdf.Array{pg}}, {Key: "Count", Value: pdf.Integer(1)}},
			pg, pdf.Dict{{Key: "Type", Value: pdf.Name("Page")}, {Key: "Parent", Value: pages}, {Key: "MediaBox", Value: p.MediaBox},
				{Key: "Resources", Value: sh.res}, {Key: "Contents", Value: sh.altText}},
		)
		sh.danglingText = int64(base + len(b))
		b = pdf.AppendIndirect(b, sh.content, stream(evilText))
		sh.danglingFont = int64(base + len(b))
		b = pdf.AppendIndirect(b, sh.font, alt)
		return b, es
	}, nil)
	sh.doc = f.sealAll(t, planted)
	return sh
}

func TestShadowAttacks(t *testing.T) {
	f := demo(t)
	sh := f.shadow(t)
	// The prepared document itself verifies: what is hidden is signed
	// and shown nowhere.
	mustContain(t, f.verify(t, sh.doc), verifier.Valid, "")

	pf, p := page(t, sh.doc)
	n := pf.Size(pf.Latest())
	resd, err := pf.ResolveDict(pf.Latest(), sh.res)
	if err != nil {
		t.Fatal(err)
	}
	withContents := func(c pdf.Object) pdf.Dict {
		d := p.Dict.Clone()
		d.Set("Contents", c)
		return d
	}
	// Hide: reveal the planted content stream from the page.
	revealText := appendRevision(t, sh.doc, map[pdf.Ref]pdf.Object{p.Ref: withContents(pdf.Array{sh.content, sh.altText})})
	// Hide: reveal the planted overlay through the resources.
	rd := resd.Clone()
	rd.Set("XObject", pdf.Dict{{Key: "Ov", Value: sh.overlay}})
	revealOverlay := appendRevision(t, sh.doc, map[pdf.Ref]pdf.Object{sh.res: rd, p.Ref: withContents(pdf.Array{sh.content, pdf.Ref{Num: n}}), {Num: n}: stream("/Ov Do")})
	// Replace: the font repointed to the planted alternative.
	fd := resd.Clone()
	fd.Set("Font", pdf.Dict{{Key: "F1", Value: sh.altFont}})
	replaceFont := appendRevision(t, sh.doc, map[pdf.Ref]pdf.Object{sh.res: fd})
	// Replace by cross-reference only: the font's entry points into the
	// signed bytes, at the planted body under the font's own number.
	xrefFont := rawRevision(t, sh.doc, func(int) ([]byte, []xentry) {
		return nil, []xentry{{num: sh.font.Num, off: sh.danglingFont}}
	}, nil)
	// Hide-and-replace: the content stream's entry points at the planted
	// body; nothing new is written but a cross-reference line.
	xrefText := rawRevision(t, sh.doc, func(int) ([]byte, []xentry) {
		return nil, []xentry{{num: sh.content.Num, off: sh.danglingText}}
	}, nil)
	// Hide-and-replace: the trailer's /Root swapped for the planted
	// catalog and page tree.
	newRoot := rawRevision(t, sh.doc, func(int) ([]byte, []xentry) { return nil, nil }, func(d pdf.Dict) pdf.Dict {
		d.Set("Root", sh.altRoot)
		return d
	})
	// ... and the planted catalog given the current form, so the seals
	// are still found through it.
	cat, _, err := pf.Catalog(pf.Latest())
	if err != nil {
		t.Fatal(err)
	}
	altCat := pdf.Dict{{Key: "Type", Value: pdf.Name("Catalog")}, {Key: "Pages", Value: pdf.Ref{Num: sh.altRoot.Num + 1}}, {Key: "AcroForm", Value: cat.Get("AcroForm")}}
	keptForm := rawRevision(t, sh.doc, func(base int) ([]byte, []xentry) {
		return objects(base, sh.altRoot, altCat)
	}, func(d pdf.Dict) pdf.Dict {
		d.Set("Root", sh.altRoot)
		return d
	})

	cases := []struct {
		name    string
		doc     []byte
		reasons []string
	}{
		{"hide: planted stream revealed", revealText, []string{"revision 5: object " + p.Ref.String() + ": the page was changed beyond /Annots"}},
		{"hide: planted overlay revealed", revealOverlay, []string{"revision 5: object " + sh.res.String() + ": a dictionary was changed after sealing", "revision 5: object " + p.Ref.String() + ": the page was changed"}},
		{"replace: font repointed", replaceFont, []string{"revision 5: object " + sh.res.String() + ": a dictionary was changed after sealing"}},
		{"replace: font entry repointed", xrefFont, []string{"revision 5: object " + sh.font.String() + ":", "was changed after sealing"}},
		{"hide-and-replace: content entry repointed", xrefText, []string{"revision 5: object " + sh.content.String() + ": a stream (page content or data) was changed after sealing"}},
		{"hide-and-replace: catalog swapped", newRoot, []string{"the document carries no seal"}},
		{"hide-and-replace: catalog swapped, form kept", keptForm, []string{"revision 5: the trailer's /Root was changed", "revision 5: object " + sh.altRoot.String() + ": a /Catalog object was changed after sealing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustAll(t, f.verify(t, c.doc), c.reasons...)
		})
	}
}

// ---- certification attacks (Evil Annotation, Sneaky Signature) -----------

func TestCertificationAttacks(t *testing.T) {
	f := demo(t)
	doc := f.sealed[3]
	overlay := formXObject("q 1 g 0 0 400 300 re f Q BT /Helv 30 Tf 20 150 Td (FAKE) Tj ET", 0, 0, 400, 300)
	annot := func(subtype string, extra ...pdf.Entry) func(int) map[pdf.Ref]pdf.Object {
		return func(n int) map[pdf.Ref]pdf.Object {
			d := pdf.Dict{{Key: "Type", Value: pdf.Name("Annot")}, {Key: "Subtype", Value: pdf.Name(subtype)},
				{Key: "Rect", Value: rect(100, 400, 500, 700)}, {Key: "F", Value: pdf.Integer(4)},
				{Key: "AP", Value: pdf.Dict{{Key: "N", Value: pdf.Ref{Num: n + 1}}}}}
			d = append(d, extra...)
			return map[pdf.Ref]pdf.Object{{Num: n}: d, {Num: n + 1}: overlay}
		}
	}
	stamp := withAnnot(t, doc, annot("Stamp"))
	freeText := withAnnot(t, doc, annot("FreeText", pdf.Entry{Key: "DA", Value: pdf.String{Bytes: []byte("/Helv 30 Tf 0 g")}}))
	textField := withAnnot(t, doc, annot("Widget", pdf.Entry{Key: "FT", Value: pdf.Name("Tx")}, pdf.Entry{Key: "T", Value: pdf.TextString("name")}, pdf.Entry{Key: "V", Value: pdf.TextString("王五")}))
	// An evil annotation, then a genuine county seal on top.
	stampThenSeal := f.sealReq(t, withAnnot(t, f.sealed[2], annot("Stamp")), "220102", nil)

	// Sneaky Signature: a new, unsigned signature field whose widget
	// overlays the card, added to the page and to the form.
	sneaky := func(doc []byte, v pdf.Object) []byte {
		pf, p := page(t, doc)
		n := pf.Size(pf.Latest())
		cat, _, err := pf.Catalog(pf.Latest())
		if err != nil {
			t.Fatal(err)
		}
		afRef := cat.Get("AcroForm").(pdf.Ref)
		af, err := pf.ResolveDict(pf.Latest(), afRef)
		if err != nil {
			t.Fatal(err)
		}
		af = af.Clone()
		af.Set("Fields", append(append(pdf.Array{}, af.Get("Fields").(pdf.Array)...), pdf.Ref{Num: n}))
		objs := annot("Widget", pdf.Entry{Key: "FT", Value: pdf.Name("Sig")}, pdf.Entry{Key: "T", Value: pdf.TextString("sneaky")}, pdf.Entry{Key: "P", Value: p.Ref})(n)
		if v != nil {
			objs[pdf.Ref{Num: n}] = append(objs[pdf.Ref{Num: n}].(pdf.Dict), pdf.Entry{Key: "V", Value: v})
		}
		pd := p.Dict.Clone()
		annots, _ := pf.Resolve(pf.Latest(), pd.Get("Annots"))
		pd.Set("Annots", append(append(pdf.Array{}, annots.(pdf.Array)...), pdf.Ref{Num: n}))
		objs[p.Ref] = pd
		objs[afRef] = af
		return appendRevision(t, doc, objs)
	}
	_, villageSig, _ := sigDict(t, doc, 0)
	// A genuine county seal whose widget lies over the card's text.
	outside := f.sealReq(t, f.sealed[2], "220102", func(r *signer.Request) { r.Rect = signer.Rect{100, 400, 500, 700} })

	cases := []struct {
		name    string
		doc     []byte
		reasons []string
	}{
		{"evil annotation: stamp", stamp, []string{"revision 4: object", "a new /Annot /Stamp object that no seal accounts for", "the page's annotations were changed beyond adding this revision's seal"}},
		{"evil annotation: free text", freeText, []string{"a new /Annot /FreeText object that no seal accounts for"}},
		{"evil annotation: text field widget", textField, []string{"a new /Annot /Widget object that no seal accounts for"}},
		{"evil annotation under a valid seal", stampThenSeal, []string{"revision 3: object", "a new /Annot /Stamp object that no seal accounts for"}},
		{"sneaky signature: unsigned field", sneaky(doc, nil), []string{"a new /Annot /Widget object that no seal accounts for", "the form's /Fields were changed beyond adding this revision's seal"}},
		// One signature dictionary is checked once, as one seal (issue 12,
		// H1); the second field naming it is a failure of its own.
		{"sneaky signature: reuses a valid signature", sneaky(doc, villageSig), []string{
			fmt.Sprintf("signature dictionary %d is the value of 2 signature fields", villageSig.Num),
			"a new /Annot /Widget object that no seal accounts for"}},
		{"sneaky signature: genuine seal over the card", outside, []string{"seal 3: appearance: the seal lies outside the county seal box"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustAll(t, f.verify(t, c.doc), c.reasons...)
		})
	}
}

// ---- chain attacks -------------------------------------------------------

func TestChainAttacks(t *testing.T) {
	f := demo(t)
	// Another card, with another number, sealed genuinely.
	b, err := os.ReadFile("../examples/applicant.json")
	if err != nil {
		t.Fatal(err)
	}
	app, err := card.ParseApplicant(b)
	if err != nil {
		t.Fatal(err)
	}
	const number2 = "2201022026000002"
	r, err := lifecycle.Render(context.Background(), keys.Demo, &lifecycle.Draft{Number: number2, Applicant: app, IssueDate: time.Now()}, "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	other2 := r.PDF
	for _, code := range []string{"220102001001", "220102001"} {
		other2 = f.sealReq(t, other2, code, func(r *signer.Request) { r.DocID = number2 })
	}
	other3 := f.sealReq(t, other2, "220102", func(r *signer.Request) { r.DocID = number2 })
	graftOther := append(bytes.Clone(f.sealed[2]), other3[len(other2):]...)
	// A second sealing of this very card (the same revision 0).
	same2 := f.sealReq(t, f.sealReq(t, f.card, "220102001001", nil), "220102001", nil)
	same3 := f.sealReq(t, same2, "220102", nil)
	if len(same2) != len(f.sealed[2]) {
		t.Fatalf("the two sealings differ in length (%d, %d): the graft would not line up", len(same2), len(f.sealed[2]))
	}
	graftSame := append(bytes.Clone(f.sealed[2]), same3[len(same2):]...)

	// Certificates: an untrusted root copying our root's name, and our
	// root issuing certificates expired or not yet valid at signing time.
	ours, err := f.ks.RootCA()
	if err != nil {
		t.Fatal(err)
	}
	county, err := keys.Demo.GetOrg(context.Background(), "220102")
	if err != nil {
		t.Fatal(err)
	}
	rogue := func(ca *keys.CA, at time.Time) *keys.Identity {
		k, err := keys.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		cert, err := ca.IssueSeal(k.Public(), county, at)
		if err != nil {
			t.Fatal(err)
		}
		return &keys.Identity{Signer: k, Cert: cert, Chain: []*smx509.Certificate{ca.Cert}}
	}
	ek, _ := keys.NewKey()
	evilRoot, err := keys.NewRoot(ek, keys.Province(ours.Cert), ours.Cert.Subject.Organization[0], time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if evilRoot.Cert.Subject.String() != ours.Cert.Subject.String() {
		t.Fatalf("the rogue root's name %s differs from ours %s", evilRoot.Cert.Subject, ours.Cert.Subject)
	}
	countyAs := func(id *keys.Identity, at time.Time) []byte {
		return f.sealReq(t, f.sealed[2], "220102", func(r *signer.Request) { r.Identity, r.Time = id, at })
	}
	now := time.Now()
	notYet := rogue(ours, now.AddDate(1, 0, 0))

	cases := []struct {
		name    string
		doc     []byte
		reasons []string
	}{
		{"transplanted from another card", graftOther, []string{"malformed PDF"}},
		{"transplanted from another sealing of this card", graftSame, []string{"seal 3: cms_signature: seal: message digest mismatch", "seal 3: chain_link: the seal does not link to the previous seal (transplanted or reordered)"}},
		{"village outside the township", f.sealReq(t, f.sealReq(t, f.card, "220102002001", nil), "220102001", nil), []string{"seal 2: chain_policy:", "jurisdiction"}},
		{"two seals of one level", f.sealReq(t, f.sealed[1], "220102001001", nil), []string{"seal 2: chain_policy:", "already sealed"}},
		{"county before township", f.sealReq(t, f.sealed[1], "220102", nil), []string{"seal 2: chain_policy:", "out of order"}},
		{"untrusted root with our name", countyAs(rogue(evilRoot, now), now), []string{"seal 3: certificate: certificate does not chain to a trusted root"}},
		{"expired certificate", countyAs(rogue(ours, now.AddDate(-6, 0, 0)), now), []string{"seal 3: certificate: certificate not valid at that time"}},
		{"not yet valid certificate", countyAs(notYet, now), []string{"seal 3: certificate: certificate not valid at that time"}},
		{"not yet valid, signing time in the future", countyAs(notYet, notYet.Cert.NotBefore.Add(time.Hour)), []string{"seal 3: signing_time: signing time", "lies in the future"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustAll(t, f.verify(t, c.doc), c.reasons...)
		})
	}
}

// TestObjectStreamRedefinition: a later revision written with a
// cross-reference stream redefines the page's resources inside an object
// stream.
func TestObjectStreamRedefinition(t *testing.T) {
	f := demo(t)
	_, p := page(t, f.sealed[3])
	res := p.Dict.Get("Resources").(pdf.Ref)
	body := fmt.Sprintf("%d 0 ", res.Num)
	doc := xrefStreamRevision(t, f.sealed[3], pdf.Dict{{Key: "N", Value: pdf.Integer(1)}, {Key: "First", Value: pdf.Integer(len(body))}}, []byte(body+"<<>>"), []int{res.Num})
	mustAll(t, f.verify(t, doc), "revision 4: object "+res.String()+": a dictionary was changed after sealing")
}

// TestPolicyRepeatedPrefix: chain.Policy.Check indexes Levels[len(prev)]
// and panics when prev repeats a level without being complete. The
// verifier now feeds the policy only the seals it accepted
// (TestCertificationAttacks/sneaky_signature:_reuses_a_valid_signature),
// but signer.Seal passes the document's seals as found.
func TestPolicyRepeatedPrefix(t *testing.T) {
	prev := []chain.Seal{{Level: org.Village, Code: "220102001001"}, {Level: org.Village, Code: "220102001001"}, {Level: org.Township, Code: "220102001"}}
	if err := chain.Card.Check(prev, chain.Seal{Level: org.County, Code: "220102"}); err == nil {
		t.Fatal("a chain with a repeated village accepted a county seal")
	}
}
