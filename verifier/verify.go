package verifier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/seal"
)

// ErrNotPDF is returned for input that is not a PDF file at all: it
// could not be checked (as opposed to a PDF that fails the checks).
var ErrNotPDF = errors.New("not a PDF file")

// ErrNoTrust is returned when Options has no trust list.
var ErrNoTrust = errors.New("no trust list")

// Options configure a verification.
type Options struct {
	Trust *keys.TrustList
	// Policy is the document type's chain; the zero value means
	// chain.Card.
	Policy chain.Policy
	// DocID, when set, must be the document number every seal binds.
	DocID string
	// SealBoxes, when set, are the rectangles (page 1) each level's seal
	// must lie in: no seal may cover the rest of the document.
	SealBoxes map[org.Level][4]float64
	// Now is the time of the check (default time.Now).
	Now func() time.Time
	// CRLs are certificate revocation lists; those signed by the root a
	// seal's certificate chains to decide whether it was revoked before
	// the seal's validation time (revocation.go).
	CRLs []*smx509.RevocationList
	// Offline takes the revocation data from the document's Document
	// Security Store alone (dss.go), in place of CRLs: every seal's root
	// must have a CRL there that was current at the seal's time.
	Offline bool
	// Limits bound the PDF reader. Zero fields mean pdf.DefaultLimits,
	// except the verifier's tighter bounds (work.go): 32 768
	// cross-reference entries, 65 536 objects parsed, and the file's
	// size plus 4 MiB inflated.
	Limits pdf.Limits

	// onHash, in tests, is called after every chunk hashed with the
	// bytes hashed so far (export_test.go).
	onHash func(hashed int64)
}

// clockSkew is how far a signing time may lie in the future.
const clockSkew = 5 * time.Minute

// found is a seal under check: one signature dictionary.
type found struct {
	sigField
	rev    int
	signed *seal.Signed
	report *Seal

	// Set by locate: the dictionary, where it lies, its ranges.
	entry      pdf.XrefEntry
	dict       pdf.Dict
	a, b, end  int64
	stopped    bool // a check failed; the later stages skip the seal
	revision   *pdf.Revision
	sharedWith int  // other fields naming the same dictionary
	docStamp   bool // a document timestamp (ltv.go), not a seal
}

func (s *found) fail(name, format string, a ...any) {
	fail(s.report, name, format, a...)
	s.stopped = true
}

// Verify checks every seal of a PDF. The error is non-nil only when the
// input could not be checked at all (not a PDF, no trust list); every
// other failure is a verdict in the report.
func Verify(data []byte, opt Options) (*Report, error) {
	return VerifyContext(context.Background(), data, opt)
}

// VerifyContext is Verify under a context: the hashing and the CMS work
// stop when ctx ends, and the result is then an error wrapping
// ErrCanceled and ctx.Err(), never a verdict.
func VerifyContext(ctx context.Context, data []byte, opt Options) (*Report, error) {
	if opt.Trust == nil {
		return nil, ErrNoTrust
	}
	if len(opt.Policy.Levels) == 0 && opt.Policy.Name == "" {
		opt.Policy = chain.Card
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	if err := ctx.Err(); err != nil {
		return nil, canceled(err)
	}
	rep := &Report{Policy: opt.Policy.Name, CheckedAt: now().UTC(), Seals: []Seal{}}
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return nil, ErrNotPDF
	}
	f, err := pdf.ParseLimits(data, readerLimits(opt.Limits, len(data)))
	if err != nil {
		rep.problem("malformed PDF: %v", err)
		return rep.finish(), nil
	}
	rep.Revisions = len(f.Revisions)
	if f.Encrypted() {
		rep.problem("encrypted PDFs are not accepted")
		return rep.finish(), nil
	}
	if len(f.Trailing) > 0 {
		rep.problem("%d bytes after the last revision are not a well-formed revision", len(f.Trailing))
	}
	v := &run{ctx: ctx, f: f, data: data, opt: opt, rep: rep, now: rep.CheckedAt}
	v.hash = newPrefixHasher(data, &v.work.hashed, opt.onHash)
	v.check()
	v.work.inflated, v.work.parsed = f.Inflated(), f.Elements()
	rep.work = v.work
	if v.err != nil {
		return nil, v.err
	}
	return rep.finish(), nil
}

type run struct {
	ctx   context.Context
	f     *pdf.File
	data  []byte
	opt   Options
	rep   *Report
	now   time.Time
	seals []*found
	hash  prefixHasher
	work  work
	err   error // the context ended: no verdict
	over  bool  // the difference analysis spent its allowance

	// Long-term validation (ltv.go, dss.go, archive.go).
	stamps   []*docStamp
	stamped  []stampedTime
	dssCerts []*smx509.Certificate // offline: the certificates of /DSS
	dssRevs  map[int]bool          // revisions whose new /DSS the analysis accepts

	firstPage *pdf.Page // page 1 at the newest revision, once looked up
	pageErr   error
	roleCache map[int]rolesAt
}

// finish fails closed: a report whose checks did not reach a verdict is
// invalid.
func (r *Report) finish() *Report {
	if r.Verdict == "" || len(r.Problems) > 0 || len(r.Changes) > 0 {
		r.Verdict = Invalid
	}
	return r
}

// check runs the seals' checks in stages, cheapest first, so that what
// a hostile file can make expensive is reached only by seals that passed
// the cheap checks, once per signature dictionary and once per revision:
// locate (the dictionary and its /ByteRange: which revision it ends),
// then contents (the gap and the CMS structure, linear in the seal's own
// revision), then verifySeal (SM3, CMS signature, certificate) in
// revision order.
func (v *run) check() {
	fields, err := v.fields()
	if err != nil {
		v.rep.problem("signature fields: %v", err)
		return
	}
	fields = v.splitStamps(fields)
	v.readDSS()
	if len(fields) == 0 {
		v.rep.problem("the document carries no seal")
		return
	}
	v.seals = v.distinct(fields)
	for _, s := range v.seals {
		v.locate(s)
	}
	// Revision order; a seal whose range ends no revision (rev -1) goes
	// last, so that it is not taken for the first link of the chain.
	sort.SliceStable(v.seals, func(i, j int) bool { return uint(v.seals[i].rev) < uint(v.seals[j].rev) })
	for i, s := range v.seals {
		s.report.Index = i + 1
		if !s.stopped && i > 0 && s.rev >= 0 && s.rev == v.seals[i-1].rev {
			s.fail(CheckByteRange, "two seals end at the same revision")
		}
	}
	for _, s := range v.seals {
		if !s.stopped {
			v.contents(s)
		}
	}
	for _, s := range v.seals {
		if !v.alive() {
			return
		}
		if !s.stopped {
			v.verifySeal(s)
		}
	}
	if !v.alive() {
		return
	}
	v.checkStamps()
	if !v.alive() {
		return
	}
	v.archive()
	v.checkChain()
	v.diff()
	for r := range v.dssRevs {
		v.rep.DSSRevisions = append(v.rep.DSSRevisions, r)
	}
	slices.Sort(v.rep.DSSRevisions)
	if !v.alive() {
		return
	}
	ok := len(v.rep.Problems) == 0 && len(v.rep.Changes) == 0
	var cs []chain.Seal
	for _, s := range v.seals {
		s.report.OK = true
		for _, c := range s.report.Checks {
			if !c.OK {
				s.report.OK = false
				ok = false
			}
		}
		v.rep.Seals = append(v.rep.Seals, *s.report)
		cs = append(cs, chain.Seal{Level: org.Level(s.report.Level), Code: s.report.DivisionCode})
	}
	switch {
	case !ok:
		v.rep.Verdict = Invalid
	case v.opt.Policy.Complete(cs):
		v.rep.Verdict = Valid
	default:
		v.rep.Verdict = Incomplete
	}
}

func pass(s *Seal, name string) { s.Checks = append(s.Checks, Check{Name: name, OK: true}) }

func fail(s *Seal, name, format string, a ...any) {
	s.Checks = append(s.Checks, Check{Name: name, Reason: fmt.Sprintf(format, a...)})
}
