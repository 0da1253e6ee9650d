package verifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/verifier"
)

func TestValidChainOfThree(t *testing.T) {
	f := demo(t)
	rep := f.verify(t, f.sealed[3])
	mustContain(t, rep, verifier.Valid, "")
	if len(rep.Seals) != 3 || rep.DocID != f.number {
		t.Fatalf("seals %d, doc %q", len(rep.Seals), rep.DocID)
	}
	for i, want := range []org.Level{org.Village, org.Township, org.County} {
		s := rep.Seals[i]
		if s.Level != string(want) || !s.OK || s.Province != "吉林省" || s.CertSerial == "" {
			t.Fatalf("seal %d: %+v", i+1, s)
		}
	}
	if rep.Seals[2].Coverage != "entire_file" || rep.Seals[0].Coverage != "revision" {
		t.Fatalf("coverage %s / %s", rep.Seals[0].Coverage, rep.Seals[2].Coverage)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
}

func TestIncompleteChain(t *testing.T) {
	f := demo(t)
	for n := 1; n <= 2; n++ {
		mustContain(t, f.verify(t, f.sealed[n]), verifier.Incomplete, "")
	}
	mustContain(t, f.verify(t, f.sealed[0]), verifier.Invalid, "no seal")
}

func TestNotAPDF(t *testing.T) {
	f := demo(t)
	if _, err := verifier.Verify([]byte("hello"), f.options()); !errors.Is(err, verifier.ErrNotPDF) {
		t.Fatalf("err = %v", err)
	}
	if _, err := verifier.Verify(f.sealed[3], verifier.Options{}); !errors.Is(err, verifier.ErrNoTrust) {
		t.Fatalf("err = %v", err)
	}
}

func TestByteFlippedInSignedRange(t *testing.T) {
	f := demo(t)
	doc := append([]byte(nil), f.sealed[3]...)
	// A byte inside revision 0 (the card itself), covered by every seal.
	i := strings.Index(string(doc), "/MediaBox")
	doc[i+1] ^= 0x20 // "/mediaBox"
	rep := f.verify(t, doc)
	mustContain(t, rep, verifier.Invalid, verifier.CheckCMS)
}

func TestAppendedRevisionChangesPageText(t *testing.T) {
	f := demo(t)
	_, p := page(t, f.sealed[3])
	pd := p.Dict.Clone()
	// New content: the page now says something else.
	stream := &pdf.Stream{Dict: pdf.Dict{{Key: "Length", Value: pdf.Integer(len("BT /F1 40 Tf 100 400 Td (FAKE) Tj ET"))}}, Raw: []byte("BT /F1 40 Tf 100 400 Td (FAKE) Tj ET"), Offset: -1}
	pdfFile, _ := pdf.Parse(f.sealed[3])
	n := pdfFile.Size(pdfFile.Latest())
	pd.Set("Contents", pdf.Ref{Num: n})
	doc := appendRevision(t, f.sealed[3], map[pdf.Ref]pdf.Object{p.Ref: pd, {Num: n}: stream})
	rep := f.verify(t, doc)
	mustContain(t, rep, verifier.Invalid, "page was changed")
	mustContain(t, rep, verifier.Invalid, p.Ref.String())
}

func TestAppendedFreeTextAnnotation(t *testing.T) {
	f := demo(t)
	pf, p := page(t, f.sealed[3])
	n := pf.Size(pf.Latest())
	annot := pdf.Dict{
		{Key: "Type", Value: pdf.Name("Annot")}, {Key: "Subtype", Value: pdf.Name("FreeText")},
		{Key: "Rect", Value: pdf.Array{pdf.Integer(100), pdf.Integer(500), pdf.Integer(500), pdf.Integer(560)}},
		{Key: "Contents", Value: pdf.TextString("再生育服务卡")}, {Key: "DA", Value: pdf.String{Bytes: []byte("/Helv 30 Tf 0 g")}},
	}
	pd := p.Dict.Clone()
	annots, _ := pf.Resolve(pf.Latest(), pd.Get("Annots"))
	arr := append(pdf.Array{}, annots.(pdf.Array)...)
	pd.Set("Annots", append(arr, pdf.Ref{Num: n}))
	doc := appendRevision(t, f.sealed[3], map[pdf.Ref]pdf.Object{p.Ref: pd, {Num: n}: annot})
	rep := f.verify(t, doc)
	mustContain(t, rep, verifier.Invalid, "FreeText")
}

func TestEarlierWidgetRectMoved(t *testing.T) {
	f := demo(t)
	pf, p := page(t, f.sealed[3])
	annots, _ := pf.Resolve(pf.Latest(), p.Dict.Get("Annots"))
	w := annots.(pdf.Array)[0].(pdf.Ref) // the village seal's widget
	wd, err := pf.ResolveDict(pf.Latest(), w)
	if err != nil {
		t.Fatal(err)
	}
	wd = wd.Clone()
	wd.Set("Rect", pdf.Array{pdf.Integer(100), pdf.Integer(400), pdf.Integer(400), pdf.Integer(700)})
	doc := appendRevision(t, f.sealed[3], map[pdf.Ref]pdf.Object{w: wd})
	rep := f.verify(t, doc)
	mustContain(t, rep, verifier.Invalid, w.String())
}

func TestTownshipBeforeVillage(t *testing.T) {
	f := demo(t)
	doc := f.sealWith(t, f.card, "220102001", chain.Unchecked, nil)
	doc = f.sealWith(t, doc, "220102001001", chain.Unchecked, nil)
	rep := f.verify(t, doc)
	mustContain(t, rep, verifier.Invalid, "out of order")
}

func TestVillageOfAnotherTownship(t *testing.T) {
	f := demo(t)
	doc := f.sealWith(t, f.card, "220102002001", chain.Unchecked, nil)
	doc = f.sealWith(t, doc, "220102001", chain.Unchecked, nil)
	rep := f.verify(t, doc)
	mustContain(t, rep, verifier.Invalid, "jurisdiction")
}

func TestTwoSealsOfOneLevel(t *testing.T) {
	f := demo(t)
	doc := f.sealWith(t, f.sealed[1], "220102001001", chain.Unchecked, nil)
	mustContain(t, f.verify(t, doc), verifier.Invalid, "already sealed")
}

func TestUntrustedRootCopyingOurName(t *testing.T) {
	f := demo(t)
	ours, err := f.ks.RootCA()
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keys.NewKey()
	evil, err := keys.NewRoot(k, "吉林省", ours.Cert.Subject.Organization[0], time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := keys.NewKey()
	o, _ := keys.Demo.GetOrg(context.Background(), "220102001001")
	cert, err := evil.IssueSeal(sk.Public(), o, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	doc := f.sealWith(t, f.card, "220102001001", chain.Card, &keys.Identity{Signer: sk, Cert: cert, Chain: []*smx509.Certificate{evil.Cert}})
	mustContain(t, f.verify(t, doc), verifier.Invalid, "does not chain to a trusted root")
}

func TestByteRangeNotFromZero(t *testing.T) {
	f := demo(t)
	doc := replaceSame(t, f.sealed[3], "/ByteRange [0 ", "/ByteRange [1 ")
	mustContain(t, f.verify(t, doc), verifier.Invalid, "does not start at 0")
}

func TestContentsZeroed(t *testing.T) {
	f := demo(t)
	doc := append([]byte(nil), f.sealed[3]...)
	i := strings.LastIndex(string(doc), "/Contents <") + len("/Contents <")
	for ; doc[i] != '>'; i++ {
		doc[i] = '0'
	}
	mustContain(t, f.verify(t, doc), verifier.Invalid, verifier.CheckContents)
}

func TestWrappedSignature(t *testing.T) {
	f := demo(t)
	// Signature wrapping: the signed bytes of the last revision are moved
	// behind new content and the second range points at them.
	orig := f.sealed[3]
	moved := append(append([]byte(nil), orig...), []byte("\n% relocated\n")...)
	moved = append(moved, orig[len(orig)-200:]...)
	mustContain(t, f.verify(t, moved), verifier.Invalid, "")
	// Extra data inside the gap: the /Contents hex string is followed by
	// bytes that are not part of it.
	i := strings.LastIndex(string(orig), "/Contents <") + len("/Contents <")
	gap := append([]byte(nil), orig...)
	gap[i] = '>'
	gap[i+1] = ' '
	mustContain(t, f.verify(t, gap), verifier.Invalid, "")
}

func TestTrailingGarbage(t *testing.T) {
	f := demo(t)
	doc := append(append([]byte(nil), f.sealed[3]...), []byte("1 0 obj\n<< /Type /Catalog >>\nendobj\n")...)
	mustContain(t, f.verify(t, doc), verifier.Invalid, "not a well-formed revision")
}

func BenchmarkVerify(b *testing.B) {
	f := demo(b)
	opt := f.options()
	b.ReportAllocs()
	b.SetBytes(int64(len(f.sealed[3])))
	stop := cpuMetric(b)
	for b.Loop() {
		rep, err := verifier.Verify(f.sealed[3], opt)
		if err != nil || rep.Verdict != verifier.Valid {
			b.Fatalf("%v %v", err, rep.Reasons())
		}
	}
	stop()
}
