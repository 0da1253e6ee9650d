package verifier_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/tsa/tsatest"
	"github.com/jilin-health/cardseal/verifier"
)

// fixture is a demo province and one rendered card, made once per test
// binary (key generation and PBKDF2 are slow on purpose).
type fixture struct {
	ks     *keys.FileStore
	sealer *lifecycle.Sealer
	card   []byte // revision 0
	number string
	sealed [4][]byte // after 0..3 seals
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

func demo(t testing.TB) *fixture {
	t.Helper()
	fixOnce.Do(func() { fix, fixErr = newFixture() })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func newFixture() (*fixture, error) {
	dir, err := os.MkdirTemp("", "cardseal-verifier-*")
	if err != nil {
		return nil, err
	}
	pass := []byte("verifier-test")
	if err := keys.InitDir(dir, keys.Demo, pass, time.Now().Add(-time.Hour)); err != nil {
		return nil, err
	}
	ks, err := keys.OpenDir(dir, pass)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile("../examples/applicant.json")
	if err != nil {
		return nil, err
	}
	app, err := card.ParseApplicant(b)
	if err != nil {
		return nil, err
	}
	f := &fixture{ks: ks, sealer: lifecycle.NewSealer(ks), number: "2201022026000001"}
	// Every seal of the platform carries a signature timestamp.
	if f.sealer.Stamp, err = tsatest.New(ks, nil); err != nil {
		return nil, err
	}
	r, err := lifecycle.Render(context.Background(), keys.Demo, &lifecycle.Draft{Number: f.number, Applicant: app, IssueDate: time.Now()}, "http://127.0.0.1:8080")
	if err != nil {
		return nil, err
	}
	f.card = r.PDF
	f.sealed[0] = r.PDF
	doc := r.PDF
	for i, code := range []string{"220102001001", "220102001", "220102"} {
		if doc, err = f.sealer.SealCard(doc, mustOrg(keys.Demo.GetOrg(context.Background(), code)), f.number, time.Now()); err != nil {
			return nil, fmt.Errorf("seal %s: %w", code, err)
		}
		f.sealed[i+1] = doc
	}
	return f, nil
}

func (f *fixture) options() verifier.Options {
	return verifier.Options{Trust: f.ks.TrustList(), SealBoxes: lifecycle.CardSealBoxes()}
}

func (f *fixture) verify(t testing.TB, doc []byte) *verifier.Report {
	t.Helper()
	rep, err := verifier.Verify(doc, f.options())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

// sealWith applies a seal with an explicit policy (chain.Unchecked builds
// forged chains the real policy would refuse).
func (f *fixture) sealWith(t testing.TB, doc []byte, code string, pol chain.Policy, id *keys.Identity) []byte {
	t.Helper()
	o, err := keys.Demo.GetOrg(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	if id == nil {
		if id, err = f.ks.SealIdentity(code); err != nil {
			t.Fatal(err)
		}
	}
	img, err := templates.SealImage(o)
	if err != nil {
		t.Fatal(err)
	}
	app, err := signer.NewAppearance(img)
	if err != nil {
		t.Fatal(err)
	}
	out, err := signer.Seal(doc, &signer.Request{
		Identity: id, Org: o, Policy: pol, Rect: signer.Rect(templates.SealBox(o.Level)),
		Appearance: app, Reason: lifecycle.Reason(o.Level), Location: o.Name, DocID: f.number, Time: time.Now(),
		Timestamper: f.sealer.Stamp,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// appendRevision appends an unsigned incremental update that defines the
// given objects, with a classic cross-reference table.
func appendRevision(t testing.TB, doc []byte, objs map[pdf.Ref]pdf.Object) []byte {
	t.Helper()
	f, err := pdf.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	last := f.Revisions[f.Latest()]
	out := append([]byte(nil), doc...)
	if out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	var refs []pdf.Ref
	for r := range objs {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Num < refs[j].Num })
	offs := map[int]int{}
	size := f.Size(f.Latest())
	for _, r := range refs {
		offs[r.Num] = len(out)
		out = pdf.AppendIndirect(out, r, objs[r])
		if r.Num >= size {
			size = r.Num + 1
		}
	}
	xref := len(out)
	out = append(out, "xref\n"...)
	for _, r := range refs {
		out = fmt.Appendf(out, "%d 1\n%010d %05d n \n", r.Num, offs[r.Num], r.Gen)
	}
	tr := pdf.Dict{{Key: "Size", Value: pdf.Integer(size)}, {Key: "Root", Value: f.Trailer(f.Latest()).Get("Root")}, {Key: "Prev", Value: pdf.Integer(last.XrefOffset)}}
	if info := f.Trailer(f.Latest()).Get("Info"); info != nil {
		tr = append(tr, pdf.Entry{Key: "Info", Value: info})
	}
	out = append(out, "trailer\n"...)
	out = pdf.AppendObject(out, tr)
	out = fmt.Appendf(out, "\nstartxref\n%d\n%%%%EOF\n", xref)
	return out
}

// page returns the first page and the parsed file.
func page(t testing.TB, doc []byte) (*pdf.File, *pdf.Page) {
	t.Helper()
	f, err := pdf.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Page(f.Latest(), 0)
	if err != nil || p == nil {
		t.Fatalf("page: %v", err)
	}
	return f, p
}

func mustContain(t testing.TB, rep *verifier.Report, want verifier.Verdict, reason string) {
	t.Helper()
	all := strings.Join(rep.Reasons(), "\n")
	if rep.Verdict != want {
		t.Fatalf("verdict %s, want %s; reasons:\n%s", rep.Verdict, want, all)
	}
	if reason != "" && !strings.Contains(all, reason) {
		t.Fatalf("reasons do not mention %q:\n%s", reason, all)
	}
}

// replaceSame overwrites old with new (same length) at its last
// occurrence.
func replaceSame(t testing.TB, doc []byte, old, repl string) []byte {
	t.Helper()
	if len(old) != len(repl) {
		t.Fatalf("replaceSame: lengths differ")
	}
	i := bytes.LastIndex(doc, []byte(old))
	if i < 0 {
		t.Fatalf("replaceSame: %q not found", old)
	}
	out := append([]byte(nil), doc...)
	copy(out[i:], repl)
	return out
}

// mustOrg panics on an organisation the demo province lacks.
func mustOrg(o org.Org, err error) org.Org {
	if err != nil {
		panic(err)
	}
	return o
}
