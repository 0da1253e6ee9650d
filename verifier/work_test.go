package verifier_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/verifier"
)

// The bounds of issue 12, H1, proven with the verifier's deterministic
// work counter (verifier.WorkOf: bytes hashed, CMS checks, difference
// analysis steps, bytes inflated) instead of a clock: the CI machine is
// loaded, the counter is not. BenchmarkVerifyWorst gives the times.

// upload is the size of the largest upload the service accepts.
const upload = 10 << 20

// budget is what any file may cost: SM3 over at most twice the file
// (the carried-forward prefix plus each revision's second range once),
// one CMS check and one certificate path per signature dictionary (at
// most MaxSigFields), the difference analysis's allowance (plus the
// step that finds it spent), and the reader's inflate allowance.
func budget(t testing.TB, doc []byte, rep *verifier.Report, maxCMS int) {
	t.Helper()
	w := verifier.WorkOf(rep)
	t.Logf("%d bytes: hashed %d, %d CMS, %d chains, %d diff steps, inflated %d, parsed %d", len(doc), w.Hashed, w.CMS, w.Chains, w.DiffSteps, w.Inflated, w.Parsed)
	if w.Hashed > 2*int64(len(doc)) {
		t.Errorf("hashed %d bytes of a %d-byte file", w.Hashed, len(doc))
	}
	if w.CMS > maxCMS || w.Chains > maxCMS || w.Stamps > maxCMS {
		t.Errorf("%d CMS checks, %d certificate paths and %d timestamps, want at most %d", w.CMS, w.Chains, w.Stamps, maxCMS)
	}
	if w.DiffSteps > verifier.MaxDiffSteps+1 {
		t.Errorf("%d steps of difference analysis, bound %d", w.DiffSteps, verifier.MaxDiffSteps)
	}
	// One byte past the allowance is how the reader finds it spent.
	if w.Inflated > verifier.DecodedAllowance+int64(len(doc))+1 {
		t.Errorf("inflated %d bytes", w.Inflated)
	}
	if w.Parsed > verifier.MaxElements+1 {
		t.Errorf("parsed %d objects", w.Parsed)
	}
}

// countyCMS is the genuine CMS of the card's county seal: what the
// attacker copies into forged signature dictionaries.
func countyCMS(t testing.TB, fx *fixture) []byte {
	_, _, der := contents(t, fx.sealed[3], 2)
	return der
}

// TestSignatureFieldBomb is the file of issue 12, H1, and its variants:
// a genuine sealed card plus a 10 MB revision of forged signature
// dictionaries and fields. Before, the verifier hashed the padding once
// per field (42.7 s of CPU for 1000 fields); now each file is invalid for
// a named reason, at a cost bounded by the file and MaxSigFields.
func TestSignatureFieldBomb(t *testing.T) {
	fx := demo(t)
	der := countyCMS(t, fx)
	card := fx.sealed[3]
	cases := []struct {
		name   string
		doc    func() []byte
		maxCMS int
		reason string
	}{
		// The file of the issue: a form of 1000 signature fields (the
		// card's three and 997 forged), all forged ones naming one
		// dictionary.
		{"1000 fields, one dictionary", func() []byte {
			return forge(t, card, der, padTo(t, card, der, forgery{sigs: 1, fields: 997}, upload))
		}, 0, "signature fields: the form has more than 16 signature fields (its /Fields lists 1000 fields); no cardseal document has as many"},
		{"16 fields, one dictionary", func() []byte {
			return forge(t, card, der, padTo(t, card, der, forgery{sigs: 1, fields: verifier.MaxSigFields - 3}, upload))
		}, 4, "is the value of 13 signature fields; a seal has exactly one"},
		{"13 dictionaries ending one revision", func() []byte {
			return forge(t, card, der, padTo(t, card, der, forgery{sigs: 13, fields: 13}, upload))
		}, 4, "two seals end at the same revision"},
		{"13 revisions of one dictionary each, fields newest first", func() []byte {
			doc := card
			for i := range 13 {
				fg := padTo(t, doc, der, forgery{sigs: 1, fields: 1, first: true}, len(card)+(i+1)*(upload-len(card))/13)
				doc = forge(t, doc, der, fg)
			}
			return doc
		}, 16, "seal 4: cms_signature: seal: message digest mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := c.doc()
			if len(doc) > upload+64<<10 {
				t.Fatalf("the forged file has %d bytes", len(doc))
			}
			rep := fx.verify(t, doc)
			mustContain(t, rep, verifier.Invalid, c.reason)
			budget(t, doc, rep, c.maxCMS)
		})
	}
}

// TestWorkOfHonestCard: the genuine card costs one pass of SM3 over the
// file, three CMS checks, and a difference analysis far inside its
// allowance (the margin that makes the allowance harmless).
func TestWorkOfHonestCard(t *testing.T) {
	fx := demo(t)
	doc := fx.sealed[3]
	rep := fx.verify(t, doc)
	mustContain(t, rep, verifier.Valid, "")
	w := verifier.WorkOf(rep)
	t.Logf("%+v", w)
	if w.Hashed > int64(len(doc)) || w.CMS != 3 || w.Chains != 3 {
		t.Errorf("hashed %d of %d bytes, %d CMS, %d chains", w.Hashed, len(doc), w.CMS, w.Chains)
	}
	if w.DiffSteps == 0 || w.DiffSteps > verifier.MaxDiffSteps/64 {
		t.Errorf("%d steps of difference analysis for an honest card", w.DiffSteps)
	}
}

// TestCanceledContext: a context that ends stops the hashing between two
// chunks, and the answer is "could not check", not a verdict. The context
// is cancelled from inside the hashing, after its first chunk: no clock.
func TestCanceledContext(t *testing.T) {
	fx := demo(t)
	der := countyCMS(t, fx)
	doc := forge(t, fx.sealed[3], der, padTo(t, fx.sealed[3], der, forgery{sigs: 1, fields: 1}, upload))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var chunks int
	var last int64
	opt := verifier.WithHashHook(fx.options(), func(hashed int64) {
		chunks++
		last = hashed
		if chunks == 1 {
			cancel()
		}
	})
	rep, err := verifier.VerifyContext(ctx, doc, opt)
	if rep != nil || !errors.Is(err, verifier.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("VerifyContext after cancel = %v, %v", rep, err)
	}
	if chunks != 1 || last > verifier.HashChunk {
		t.Fatalf("hashing went on after the cancel: %d chunks, %d bytes", chunks, last)
	}

	// Without the cancel, the same file is hashed in many chunks.
	chunks = 0
	if rep, err := verifier.VerifyContext(context.Background(), doc, opt); err != nil || rep.Verdict != verifier.Invalid || chunks < 20 {
		t.Fatalf("VerifyContext = %v, %v after %d chunks", rep, err, chunks)
	}

	// A context that has ended already: nothing is read.
	done, stop := context.WithTimeout(context.Background(), 0)
	defer stop()
	<-done.Done()
	chunks = 0
	if _, err := verifier.VerifyContext(done, doc, opt); !errors.Is(err, verifier.ErrCanceled) || !errors.Is(err, context.DeadlineExceeded) || chunks != 0 {
		t.Fatalf("VerifyContext past the deadline = %v after %d chunks", err, chunks)
	}
}

// TestAppearanceGraph: a seal's appearance whose arrays name the same
// objects again and again is walked once per object. Walked as a tree it
// costs 6⁸ ≈ 1.7 million visits here, and with a fan-out of 1000 (a few
// KB of file) it never ends.
func TestAppearanceGraph(t *testing.T) {
	fx := demo(t)
	der := countyCMS(t, fx)
	doc := forge(t, fx.sealed[3], der, forgery{sigs: 1, fields: 1, graph: 6})
	rep := fx.verify(t, doc)
	mustContain(t, rep, verifier.Invalid, "seal 4: cms_signature: seal: message digest mismatch")
	budget(t, doc, rep, 4)
	if w := verifier.WorkOf(rep); w.DiffSteps > 1000 {
		t.Fatalf("%d steps for a 9-object appearance", w.DiffSteps)
	}
}

// alternating appends to doc a revision adding object num as an array of
// n integers, a second revision redefining it with the same value at new
// bytes, and then revs revisions that point num at the two copies in
// turn: each revision compares two n-element arrays, written once.
func alternating(t testing.TB, doc []byte, n, revs int) ([]byte, pdf.Ref) {
	t.Helper()
	pf, err := pdf.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	ref := pdf.Ref{Num: pf.Size(pf.Latest())}
	big := make(pdf.Array, n)
	for i := range big {
		big[i] = pdf.Integer(1)
	}
	var offs [2]int
	for i := range 2 {
		doc = rawRevision(t, doc, func(base int) ([]byte, []xentry) {
			offs[i] = base
			return objects(base, ref, big)
		}, nil)
	}
	for i := range revs {
		doc = rawRevision(t, doc, func(int) ([]byte, []xentry) {
			return nil, []xentry{{num: ref.Num, off: int64(offs[i%2])}}
		}, nil)
	}
	return doc, ref
}

// TestDifferenceAnalysisBound: revisions that make the analysis compare
// large objects again and again stop it at its allowance, with the bound
// named; and a revision of many new objects lists MaxChanges of them.
func TestDifferenceAnalysisBound(t *testing.T) {
	fx := demo(t)
	t.Run("two copies of a large array, alternating", func(t *testing.T) {
		// Both copies together are under the reader's allowance of
		// objects parsed, and comparing them costs a third of the
		// analysis's allowance.
		doc, ref := alternating(t, fx.sealed[3], verifier.MaxDiffSteps/3, 100)
		rep := fx.verify(t, doc)
		mustContain(t, rep, verifier.Invalid, fmt.Sprintf("revision 4: object %v: a new array that no seal accounts for", ref))
		mustContain(t, rep, verifier.Invalid, "the revisions redefine more than the difference analysis compares")
		budget(t, doc, rep, 3)
	})
	t.Run("ten thousand new objects", func(t *testing.T) {
		pf, _ := page(t, fx.sealed[3])
		n := pf.Size(pf.Latest())
		objs := map[pdf.Ref]pdf.Object{}
		for i := range 10000 {
			objs[pdf.Ref{Num: n + i}] = pdf.Dict{{Key: "Type", Value: pdf.Name("Annot")}, {Key: "Subtype", Value: pdf.Name("Stamp")}}
		}
		doc := appendRevision(t, fx.sealed[3], objs)
		rep := fx.verify(t, doc)
		mustContain(t, rep, verifier.Invalid, "more changes; the analysis stopped after")
		if len(rep.Changes) != verifier.MaxChanges+1 {
			t.Fatalf("%d changes listed", len(rep.Changes))
		}
		budget(t, doc, rep, 3)
	})
	t.Run("a page tree of 5000 pages", func(t *testing.T) {
		pf, p := page(t, fx.sealed[3])
		cat, _, err := pf.Catalog(pf.Latest())
		if err != nil {
			t.Fatal(err)
		}
		pages := cat.Get("Pages").(pdf.Ref)
		n := pf.Size(pf.Latest())
		kids := pdf.Array{p.Ref}
		objs := map[pdf.Ref]pdf.Object{}
		for i := range 5000 {
			objs[pdf.Ref{Num: n + i}] = pdf.Dict{{Key: "Type", Value: pdf.Name("Page")}, {Key: "Parent", Value: pages}, {Key: "MediaBox", Value: rect(0, 0, 10, 10)}}
			kids = append(kids, pdf.Ref{Num: n + i})
		}
		pd, err := pf.ResolveDict(pf.Latest(), pages)
		if err != nil {
			t.Fatal(err)
		}
		pd = pd.Clone()
		pd.Set("Kids", kids)
		pd.Set("Count", pdf.Integer(len(kids)))
		objs[pages] = pd
		doc := appendRevision(t, fx.sealed[3], objs)
		rep := fx.verify(t, doc)
		mustContain(t, rep, verifier.Invalid, "document structure: pdf: page tree of more than 64 nodes")
		budget(t, doc, rep, 3)
	})
}

// TestObjectStreamBombOnce: a revision whose thousand objects all lie in
// one Flate bomb is inflated once, within the reader's allowance, not
// once per object.
func TestObjectStreamBombOnce(t *testing.T) {
	fx := demo(t)
	pf, _ := page(t, fx.sealed[3])
	n := pf.Size(pf.Latest())
	var nums []int
	for i := range 1000 {
		nums = append(nums, n+2+i) // n and n+1 are the object and cross-reference streams
	}
	doc := xrefStreamRevision(t, fx.sealed[3], pdf.Dict{{Key: "N", Value: pdf.Integer(1000)}, {Key: "First", Value: pdf.Integer(10)},
		{Key: "Filter", Value: pdf.Name("FlateDecode")}}, deflate(make([]byte, 64<<20)), nums)
	rep := fx.verify(t, doc)
	mustContain(t, rep, verifier.Invalid, "cannot be read")
	budget(t, doc, rep, 3)
	if !strings.Contains(strings.Join(rep.Reasons(), "\n"), "exceeds") {
		t.Fatalf("reasons do not name the limit: %v", rep.Reasons())
	}
}
