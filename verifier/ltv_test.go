package verifier_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/tsa"
	"github.com/jilin-health/cardseal/tsa/tsatest"
	"github.com/jilin-health/cardseal/verifier"
)

var (
	ltvOnce sync.Once
	ltvDoc  []byte
	ltvCRL  []byte
	ltvErr  error
	ltvTSA  *tsa.Authority
)

// rootCRL is a CRL of the demo root revoking nothing, current for a year.
func rootCRL(f *fixture, dir string) ([]byte, error) {
	ca, err := f.ks.RootCA()
	if err != nil {
		return nil, err
	}
	pemCRL, err := keys.IssueCRL(dir, ca, time.Now().Add(-time.Minute), year)
	if err != nil {
		return nil, err
	}
	crl, err := keys.ParseCRL(pemCRL)
	if err != nil {
		return nil, err
	}
	return crl.Raw, nil
}

// ltvCard is the fixture's card with its long-term validation data: a
// /DSS revision and a document timestamp (PAdES B-LTA).
func ltvCard(t testing.TB) (*fixture, []byte) {
	t.Helper()
	f := demo(t)
	ltvOnce.Do(func() {
		if ltvTSA, ltvErr = tsatest.New(f.ks, nil); ltvErr != nil {
			return
		}
		if ltvCRL, ltvErr = rootCRL(f, t.TempDir()); ltvErr != nil {
			return
		}
		ltvDoc, ltvErr = signer.AddLTV(context.Background(), f.sealed[3], [][]byte{ltvCRL}, ltvTSA, time.Now())
	})
	if ltvErr != nil {
		t.Fatal(ltvErr)
	}
	return f, ltvDoc
}

// TestLTVCardVerifies: a B-LTA card is valid online and offline (the
// trust list alone, CRLs from /DSS); the report names the document
// timestamp and uses its time and the revision that added /DSS;
// offline without /DSS is invalid.
func TestLTVCardVerifies(t *testing.T) {
	f, doc := ltvCard(t)
	if n := bytes.Count(doc, []byte("%%EOF")); n != bytes.Count(f.sealed[3], []byte("%%EOF"))+2 {
		t.Fatalf("%d revisions; want the card's and two", n)
	}
	rep := f.verify(t, doc)
	mustContain(t, rep, verifier.Valid, "")
	if len(rep.Seals) != 3 || len(rep.DocTimestamps) != 1 || !rep.DocTimestamps[0].OK {
		t.Fatalf("seals %d, document timestamps %+v", len(rep.Seals), rep.DocTimestamps)
	}
	if rep.TimeSource != verifier.TimeFromDocTimestamp || !rep.ValidationTime.Equal(rep.DocTimestamps[0].Time) {
		t.Fatalf("validation time %v from %q", rep.ValidationTime, rep.TimeSource)
	}
	// The report names the revision that added the store: the one
	// before the document timestamp's.
	if want := rep.DocTimestamps[0].Revision - 1; len(rep.DSSRevisions) != 1 || rep.DSSRevisions[0] != want {
		t.Fatalf("DSS revisions %v, want [%d]", rep.DSSRevisions, want)
	}
	if plain := f.verify(t, f.sealed[3]); len(plain.DSSRevisions) != 0 {
		t.Fatalf("a card without /DSS reports DSS revisions %v", plain.DSSRevisions)
	}

	off := verifier.Options{Trust: f.ks.TrustList(), SealBoxes: f.options().SealBoxes, Offline: true}
	rep, err := verifier.Verify(doc, off)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, rep, verifier.Valid, "")
	if !rep.Offline {
		t.Fatal("report does not say offline")
	}
	for _, s := range rep.Seals {
		if !hasCheck(s, verifier.CheckRevocation) {
			t.Fatalf("seal %d: no revocation check offline: %+v", s.Index, s.Checks)
		}
	}
	rep, err = verifier.Verify(f.sealed[3], off)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, rep, verifier.Invalid, "no Document Security Store")
}

func hasCheck(s verifier.Seal, name string) bool {
	for _, c := range s.Checks {
		if c.Name == name && c.OK {
			return true
		}
	}
	return false
}

// TestLTVOfflineRevocation: offline, a CRL in /DSS that revokes the
// township's certificate before its seal makes the card invalid.
func TestLTVOfflineRevocation(t *testing.T) {
	f := demo(t)
	id, err := f.ks.SealIdentity("220102001")
	if err != nil {
		t.Fatal(err)
	}
	crl := crlRevoking(t, f, id.Cert, "keyCompromise", time.Now().Add(-2*time.Hour))
	a, err := tsatest.New(f.ks, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := signer.AddLTV(context.Background(), f.sealed[3], [][]byte{crl.Raw}, a, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verifier.Verify(doc, verifier.Options{Trust: f.ks.TrustList(), Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, rep, verifier.Invalid, "revoked (keyCompromise)")
}

// TestLTVHostileRevisions: the difference analysis accepts after the
// last seal a Document Security Store and document timestamps, nothing
// else: each variant here is refused.
func TestLTVHostileRevisions(t *testing.T) {
	f, good := ltvCard(t)
	ctx := context.Background()
	doc := f.sealed[3]
	pf, p := page(t, doc)
	n := pf.Size(pf.Latest())
	content := p.Dict.Get("Contents").(pdf.Ref)
	cat, root, err := pf.Catalog(pf.Latest())
	if err != nil {
		t.Fatal(err)
	}
	dss := pdf.Dict{{Key: "Type", Value: pdf.Name("DSS")}, {Key: "Certs", Value: pdf.Array{pdf.Ref{Num: n + 1}}}}
	withDSS := cat.Clone()
	withDSS.Set("DSS", pdf.Ref{Num: n})
	certStream := &pdf.Stream{Dict: pdf.Dict{}, Raw: f.ks.TrustList().Roots()[0].Raw}

	// A DSS revision that also changes the page's content.
	dssAndContent := appendRevision(t, doc, map[pdf.Ref]pdf.Object{
		root: withDSS, {Num: n}: dss, {Num: n + 1}: certStream, content: stream("BT /F1 40 Tf 100 400 Td (FAKE) Tj ET"),
	})
	// A DSS revision that also gives the catalog an /OpenAction.
	evilCat := withDSS.Clone()
	evilCat.Set("OpenAction", pdf.Dict{{Key: "S", Value: pdf.Name("JavaScript")}, {Key: "JS", Value: pdf.String{Bytes: []byte("app.alert(1)")}}})
	dssAndAction := appendRevision(t, doc, map[pdf.Ref]pdf.Object{root: evilCat, {Num: n}: dss, {Num: n + 1}: certStream})
	// A store that smuggles a page-like object among its certificates'
	// neighbours: a key a store does not have.
	odd := append(dss.Clone(), pdf.Entry{Key: "Pages", Value: pdf.Ref{Num: n + 1}})
	oddDSS := appendRevision(t, doc, map[pdf.Ref]pdf.Object{root: withDSS, {Num: n}: odd, {Num: n + 1}: certStream})
	// A DSS revision that also adds an object the store does not name.
	dssAndStray := appendRevision(t, doc, map[pdf.Ref]pdf.Object{
		root: withDSS, {Num: n}: dss, {Num: n + 1}: certStream, {Num: n + 2}: stream("BT /F1 40 Tf 100 400 Td (FAKE) Tj ET"),
	})
	// A later revision that rewrites a certificate stream of the card's
	// own store.
	gfile, _ := page(t, good)
	gdss, err := gfile.ResolveDict(gfile.Latest(), mustCatalog(t, gfile).Get("DSS"))
	if err != nil || gdss == nil {
		t.Fatalf("/DSS: %v", err)
	}
	firstCert := gdss.Get("Certs").(pdf.Array)[0].(pdf.Ref)
	rewritten := appendRevision(t, good, map[pdf.Ref]pdf.Object{firstCert: &pdf.Stream{Dict: pdf.Dict{}, Raw: []byte("not a certificate")}})
	// The catalog's /DSS pointed at an existing object (the page).
	toPage := cat.Clone()
	toPage.Set("DSS", p.Ref)
	dssAtPage := appendRevision(t, doc, map[pdf.Ref]pdf.Object{root: toPage})

	// A second document timestamp after a revision that alters the
	// catalog: the timestamp does not launder it.
	gf, _ := page(t, good)
	gcat, groot, err := gf.Catalog(gf.Latest())
	if err != nil {
		t.Fatal(err)
	}
	gc := gcat.Clone()
	gc.Set("Lang", pdf.TextString("en"))
	altered := appendRevision(t, good, map[pdf.Ref]pdf.Object{groot: gc})
	secondStamp, err := signer.AddDocTimestamp(ctx, altered, ltvTSA)
	if err != nil {
		t.Fatal(err)
	}
	// A document timestamp whose widget was made visible after stamping.
	visibleLate := replaceSame(t, good, "/Rect [0 0 0 0]", "/Rect [0 0 9 9]")
	// The control: stampEdited without an edit makes a valid second
	// document timestamp, so what fails below fails for its edit.
	mustContain(t, f.verify(t, stampEdited(t, good, func(d []byte) []byte { return d })), verifier.Valid, "")
	// A document timestamp with a visible widget, stamped as it is.
	visible := stampEdited(t, f.sealed[3], func(doc []byte) []byte {
		return replaceSame(t, doc, "/Rect [0 0 0 0]", "/Rect [0 0 9 9]")
	})
	// A second document timestamp whose own revision also puts another
	// object among the page's annotations (its signature dictionary in
	// place of its widget), stamped as it is.
	annots := stampEdited(t, good, func(doc []byte) []byte {
		i := bytes.LastIndex(doc, []byte(" 0 obj\n<</Type/DocTimeStamp"))
		j := bytes.LastIndexByte(doc[:i], '\n') + 1
		var sig int
		if _, err := fmt.Sscanf(string(doc[j:i]), "%d", &sig); err != nil {
			t.Fatal(err)
		}
		from, to := fmt.Sprintf("%d 0 R]", sig+1), fmt.Sprintf("%d 0 R]", sig)
		if len(from) != len(to) || bytes.LastIndex(doc, []byte(from)) < len(good) {
			t.Fatalf("no /Annots ending with %s in the new revision", from)
		}
		return replaceSame(t, doc, from, to)
	})
	// A document timestamp before the last seal: the county seals over it.
	early, err := signer.AddDocTimestamp(ctx, f.sealed[2], ltvTSA)
	if err != nil {
		t.Fatal(err)
	}
	early = f.sealWith(t, early, "220102", chain.Card, nil)
	// A document timestamp whose token stamps other bytes.
	i := bytes.LastIndex(good, []byte("/ETSI.RFC3161"))
	forged := append([]byte(nil), good...)
	j := bytes.Index(forged[i:], []byte("/Contents <")) + i + len("/Contents <") + 200
	forged[j] ^= 1 // a hex digit inside the token's TSTInfo or signature

	for name, tc := range map[string]struct {
		doc    []byte
		reason string
	}{
		"DSS and page content":       {dssAndContent, "changed after sealing"},
		"DSS and OpenAction":         {dssAndAction, "the catalog was changed"},
		"DSS with a foreign key":     {oddDSS, ""},
		"DSS naming the page":        {dssAtPage, "/DSS"},
		"DSS and a stray object":     {dssAndStray, "no seal accounts for"},
		"store rewritten later":      {rewritten, "changed after sealing"},
		"second stamp, altered cat":  {secondStamp, "the catalog was changed"},
		"second stamp, annotations":  {annots, "annotations were changed"},
		"made visible later":         {visibleLate, "document timestamp 1"},
		"visible document timestamp": {visible, "document timestamp"},
		"timestamp before last seal": {early, "before the last seal"},
		"token stamps other bytes":   {forged, "document timestamp 1"},
	} {
		t.Run(name, func(t *testing.T) {
			// Offline too: the embedded data does not change the verdict.
			for _, offline := range []bool{false, true} {
				opt := f.options()
				opt.Offline = offline
				rep, err := verifier.Verify(tc.doc, opt)
				if err != nil {
					t.Fatal(err)
				}
				mustContain(t, rep, verifier.Invalid, map[bool]string{false: tc.reason, true: ""}[offline])
			}
		})
	}
}

// TestLTVArchive: once the time-stamping certificate has ended, the
// report names the timestamps no later archive timestamp protects and
// when a renewal was due; a fresh archive timestamp, made while the
// certificate held, protects the earlier ones.
func TestLTVArchive(t *testing.T) {
	f, doc := ltvCard(t)
	id, err := f.ks.TSAIdentity()
	if err != nil {
		t.Fatal(err)
	}
	rep := f.verify(t, doc)
	if len(rep.Unprotected) != 0 || !rep.RenewBy.Equal(id.Cert.NotAfter) {
		t.Fatalf("fresh card: unprotected %q, renew by %v (TSA certificate ends %v)", rep.Unprotected, rep.RenewBy, id.Cert.NotAfter)
	}
	later := id.Cert.NotAfter.Add(time.Hour)
	opt := f.options()
	opt.Now = func() time.Time { return later }
	rep, err = verifier.Verify(doc, opt)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, rep, verifier.Valid, "")
	// The document timestamp, made while the certificate held, protects
	// the seals' timestamps; nothing protects it.
	if len(rep.Unprotected) != 1 || !strings.Contains(rep.Unprotected[0], "document timestamp 1") {
		t.Fatalf("unprotected: %q", rep.Unprotected)
	}
	// Without a document timestamp, the three signature timestamps.
	rep, err = verifier.Verify(f.sealed[3], opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Unprotected) != 3 {
		t.Fatalf("B-T card: unprotected %q", rep.Unprotected)
	}
	renewed, err := signer.AddLTV(context.Background(), doc, [][]byte{ltvCRL}, ltvTSA, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rep, err = verifier.Verify(renewed, opt)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, rep, verifier.Valid, "")
	if len(rep.DocTimestamps) != 2 || len(rep.Unprotected) != 1 || !strings.Contains(rep.Unprotected[0], "document timestamp 2") {
		t.Fatalf("renewed: %d document timestamps, unprotected %q", len(rep.DocTimestamps), rep.Unprotected)
	}
}

func mustCatalog(t *testing.T, f *pdf.File) pdf.Dict {
	t.Helper()
	cat, _, err := f.Catalog(f.Latest())
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// placeholder is a DocTimestamper that writes a dummy token, so that a
// test can edit the revision before stamping it for real (stampEdited).
type placeholder struct{ size int }

func (p placeholder) StampDigest(context.Context, []byte) ([]byte, error) {
	return []byte{0x30, 0}, nil
}
func (p placeholder) MaxTokenSize() int { return p.size }

// stampEdited adds a document timestamp to doc, lets edit change the new
// revision (same length), then stamps the edited bytes with the test TSA:
// a genuine token over a revision the signer would not write.
func stampEdited(t *testing.T, doc []byte, edit func([]byte) []byte) []byte {
	t.Helper()
	out, err := signer.AddDocTimestamp(context.Background(), doc, placeholder{ltvTSA.MaxTokenSize()})
	if err != nil {
		t.Fatal(err)
	}
	out = edit(out)
	i := bytes.LastIndex(out, []byte("/ByteRange ["))
	var a, b, c int
	if _, err := fmt.Sscanf(string(out[i+len("/ByteRange ["):]), "0 %d %d %d", &a, &b, &c); err != nil {
		t.Fatal(err)
	}
	h := sm3.New()
	h.Write(out[:a])
	h.Write(out[b : b+c])
	tok, err := ltvTSA.StampDigest(context.Background(), h.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	hex.Encode(out[a+1:], tok)
	return out
}
