package signer

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/seal"
	"github.com/jilin-health/cardseal/tsa"
)

// counter is an in-memory tsa.Serials whose reference clock is now.
type counter struct{ n int64 }

func (c *counter) NextTimestampSerial(context.Context) (int64, time.Time, error) {
	c.n++
	return c.n, time.Now(), nil
}

// testTSA is a time-stamping authority under the test root.
func testTSA(t testing.TB) *tsa.Authority {
	t.Helper()
	newOrg(t, village) // makes the root
	k, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueTSA(k.Public(), "测试时间戳服务", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	a, err := tsa.New(&keys.Identity{Signer: k, Cert: cert, Chain: []*smx509.Certificate{ca.Cert}}, &counter{}, tsa.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAddLTV: the two revisions after the last seal — /DSS with every
// certificate of the seals and their timestamps and a /VRI entry per
// signature, then a document timestamp whose token stamps the SM3 of its
// /ByteRange — earlier bytes untouched, qpdf satisfied; a second run
// carries the first store's entries over into a new store object.
func TestAddLTV(t *testing.T) {
	ts := testTSA(t)
	doc := cardPDF(2000, "", "")
	var err error
	for _, code := range []string{village, township, county} {
		req := request(t, code)
		req.Timestamper = ts
		if doc, err = Seal(doc, req); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := AddDocTimestamp(context.Background(), cardPDF(500, "", ""), ts); err != ErrNoSignatures {
		t.Fatalf("document timestamp on an unsigned PDF: %v", err)
	}
	out, err := AddLTV(context.Background(), doc, nil, ts, sealTime)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, doc) {
		t.Fatal("earlier bytes changed")
	}
	qpdfCheck(t, out)
	// An independent reader (poppler's pdfsig) finds the document
	// timestamp as the fourth signature, signed by the TSA.
	if sig, _ := runTool(t, "pdfsig", out, "$IN"); !strings.Contains(sig, "Signature #4:") || !strings.Contains(sig, "文档时间戳") ||
		!strings.Contains(sig[strings.Index(sig, "Signature #4:"):], "测试时间戳服务") {
		t.Fatalf("pdfsig:\n%s", sig)
	}
	checkSeals(t, doc, 3)
	f, err := pdf.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	cat, _, err := f.Catalog(f.Latest())
	if err != nil {
		t.Fatal(err)
	}
	fm, err := readForm(f, f.Latest(), cat)
	if err != nil || len(fm.sigs) != 4 {
		t.Fatalf("%d signatures: %v", len(fm.sigs), err)
	}
	// The document timestamp covers the whole file but its /Contents.
	br := fm.sigs[3].byteRange
	a, b, c := br[1], br[2], br[3]
	if br[0] != 0 || b+c != int64(len(out)) || out[a] != '<' || out[b-1] != '>' {
		t.Fatalf("document timestamp /ByteRange %v of %d bytes", br, len(out))
	}
	for _, want := range []string{"/Type/DocTimeStamp", "/SubFilter/ETSI.RFC3161"} {
		if !bytes.Contains(out[len(doc):a], []byte(want)) {
			t.Fatalf("no %s", want)
		}
	}
	h := sm3.New()
	h.Write(out[:a])
	h.Write(out[b : b+c])
	contents := fm.sigs[3].contents
	der, err := seal.TrimPadding(contents)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tsa.ParseToken(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(); err != nil || !bytes.Equal(tok.Imprint, h.Sum(nil)) {
		t.Fatalf("token: %v, imprint matches %v", err, bytes.Equal(tok.Imprint, h.Sum(nil)))
	}

	dss := readDSS(t, f)
	if n := len(dss.Get("Certs").(pdf.Array)); n != 5 { // three seal certificates, the root, the TSA's
		t.Fatalf("%d certificates in /DSS, want 5", n)
	}
	vri := dss.Get("VRI").(pdf.Dict)
	if len(vri) != 3 {
		t.Fatalf("%d /VRI entries, want one per seal", len(vri))
	}
	// A renewal: the store carries over the old entries, the old
	// document timestamp gets its own /VRI entry.
	again, err := AddLTV(context.Background(), out, nil, ts, sealTime)
	if err != nil {
		t.Fatal(err)
	}
	qpdfCheck(t, again)
	g, err := pdf.Parse(again)
	if err != nil {
		t.Fatal(err)
	}
	if gcat, _, err := g.Catalog(g.Latest()); err != nil {
		t.Fatal(err)
	} else if gfm, err := readForm(g, g.Latest(), gcat); err != nil || len(gfm.sigs) != 5 {
		t.Fatalf("renewed: %d signatures: %v", len(gfm.sigs), err)
	}
	dss2 := readDSS(t, g)
	if len(dss2.Get("VRI").(pdf.Dict)) != 4 || len(dss2.Get("Certs").(pdf.Array)) != 5 {
		t.Fatalf("renewed store: %v", dss2)
	}
	if dss2.Get("VRI").(pdf.Dict).Get(pdf.Name(VRIKey(contents))) == nil {
		t.Fatal("no /VRI entry for the first document timestamp")
	}
}

func readDSS(t *testing.T, f *pdf.File) pdf.Dict {
	t.Helper()
	cat, _, err := f.Catalog(f.Latest())
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.ResolveDict(f.Latest(), cat.Get("DSS"))
	if err != nil || d == nil {
		t.Fatalf("/DSS: %v", err)
	}
	return d
}

// TestDSSKnownAnswer is the test vector of docs/seal-format.md, "Long-term
// validation": the seal of seal.TestKnownAnswer as the one signature of a
// minimal PDF; AddDSS writes exactly this store.
func TestDSSKnownAnswer(t *testing.T) {
	kat, err := os.ReadFile("../seal/testdata/kat-seal.der")
	if err != nil {
		t.Fatal(err)
	}
	contents := append(bytes.Clone(kat), make([]byte, 16)...) // the /Contents string with its zero padding
	in := buildPDF(
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 595] /Annots [4 0 R] >>",
		"<< /FT /Sig /T (seal) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R /V 5 0 R >>",
		"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 1 2 3] /Contents <"+hex.EncodeToString(contents)+"> >>",
		"<< /Producer (cardseal test vector) >>",
	)
	out, err := AddDSS(in, nil, time.Date(2026, 11, 28, 9, 30, 15, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(contents)
	const wantKey = "B8F49CC69D39E93FEE0E2EC0FD3BABB7AD0FA354"
	if got := strings.ToUpper(hex.EncodeToString(sum[:])); got != VRIKey(contents) {
		t.Fatalf("VRIKey %s, SHA-1 %s", VRIKey(contents), got)
	}
	rev := string(out[len(in):])
	i := strings.Index(rev, "9 0 obj\n")
	j := strings.Index(rev[i:], "endobj") + i
	t.Logf("VRI key %s\nstore: %s", VRIKey(contents), rev[i:j])
	want := "9 0 obj\n<</Type /DSS/Certs [7 0 R 8 0 R]/CRLs []/VRI <</" + wantKey +
		" <</Type /VRI/Cert [7 0 R 8 0 R]/CRL []/TU (D:20261128093015Z)>>>>>>\n"
	if VRIKey(contents) != wantKey || rev[i:j] != want {
		t.Fatalf("store:\n%q\nwant\n%q", rev[i:j], want)
	}
	root, _ := os.ReadFile("../seal/testdata/kat-root.der")
	org, _ := os.ReadFile("../seal/testdata/kat-org.der")
	f, err := pdf.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int][]byte{7: org, 8: root} {
		o, err := f.Object(f.Latest(), pdf.Ref{Num: n})
		s, ok := o.(*pdf.Stream)
		if err != nil || !ok || !bytes.Equal(s.Raw, want) {
			t.Fatalf("object %d is not the certificate: %v", n, err)
		}
	}
}
