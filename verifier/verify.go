package verifier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
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

// sigField is a signature field found in the final AcroForm.
type sigField struct {
	field  pdf.Ref
	widget pdf.Ref // the widget annotation: the field itself or its kid
	sig    pdf.Ref
	name   string
}

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

// distinct makes one seal per signature dictionary (by object number),
// however many fields name it: the first field in form order. Several
// fields naming one dictionary is itself a failure, named in the report.
func (v *run) distinct(fields []sigField) []*found {
	var out []*found
	byNum := map[int]*found{}
	for _, fd := range fields {
		if s, ok := byNum[fd.sig.Num]; ok {
			s.sharedWith++
			continue
		}
		s := &found{sigField: fd, rev: -1, report: &Seal{Field: fd.name, Coverage: "revision"}}
		byNum[fd.sig.Num] = s
		out = append(out, s)
	}
	for _, s := range out {
		if s.sharedWith > 0 {
			v.rep.problem("signature dictionary %d is the value of %d signature fields; a seal has exactly one", s.sig.Num, s.sharedWith+1)
		}
	}
	return out
}

// fields walks the final AcroForm for signature fields with a value. A
// form with more than maxSigFields signature fields is refused before
// anything else is looked at.
func (v *run) fields() ([]sigField, error) {
	f := v.f
	rev := f.Latest()
	cat, _, err := f.Catalog(rev)
	if err != nil {
		return nil, err
	}
	af, err := f.ResolveDict(rev, cat.Get("AcroForm"))
	if err != nil || af == nil {
		return nil, err
	}
	arr, err := f.Resolve(rev, af.Get("Fields"))
	if err != nil {
		return nil, err
	}
	list, _ := arr.(pdf.Array)
	var out []sigField
	sigs := 0
	seen := map[pdf.Ref]bool{}
	var walk func(o pdf.Object, depth int) error
	walk = func(o pdf.Object, depth int) error {
		ref, ok := o.(pdf.Ref)
		if !ok {
			return errors.New("a form field is not an indirect object")
		}
		if seen[ref] || len(seen) > maxFormNodes || depth > 16 {
			return fmt.Errorf("form field %v: loop or too many fields", ref)
		}
		seen[ref] = true
		d, err := f.ResolveDict(rev, ref)
		if err != nil || d == nil {
			return fmt.Errorf("form field %v: %v", ref, err)
		}
		if kids, ok := d.Get("Kids").(pdf.Array); ok && d.Get("FT") == nil {
			for _, k := range kids {
				if err := walk(k, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if ft, _ := d.Name("FT"); ft != "Sig" {
			return nil
		}
		if sigs++; sigs > maxSigFields {
			return fmt.Errorf("the form has more than %d signature fields (its /Fields lists %d fields); no cardseal document has as many", maxSigFields, len(list))
		}
		sig, ok := d.Get("V").(pdf.Ref)
		if !ok {
			if d.Get("V") != nil {
				return fmt.Errorf("signature field %v: /V is not an indirect object", ref)
			}
			return nil // an empty signature field; the difference analysis judges it
		}
		sf := sigField{field: ref, widget: ref, sig: sig}
		if t, ok := d.Get("T").(pdf.String); ok {
			sf.name = t.Text()
		}
		if kids, ok := d.Get("Kids").(pdf.Array); ok {
			if len(kids) != 1 {
				return fmt.Errorf("signature field %v has %d widgets", ref, len(kids))
			}
			w, ok := kids[0].(pdf.Ref)
			if !ok {
				return fmt.Errorf("signature field %v: widget is not indirect", ref)
			}
			sf.widget = w
		}
		out = append(out, sf)
		return nil
	}
	for _, o := range list {
		if err := walk(o, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// locate is the first stage of a seal, constant work: the signature
// dictionary, its /Type and /SubFilter, and a /ByteRange [0 a b c] whose
// end is the end of the revision that defines the dictionary, with the
// dictionary inside that revision's signed part.
func (v *run) locate(s *found) {
	f := v.f
	e, defRev, ok := f.Lookup(f.Latest(), s.sig.Num)
	if !ok || e.Type != pdf.InUse {
		s.fail(CheckByteRange, "signature dictionary %v is not a plain object in the file", s.sig)
		return
	}
	sd, err := f.ResolveDict(f.Latest(), s.sig)
	if err != nil || sd == nil {
		s.fail(CheckByteRange, "signature dictionary %v: %v", s.sig, err)
		return
	}
	v.locateDict(s, e, defRev, sd)
}

// locateDict is locate's reading of the dictionary sd, found at the
// entry e of revision defRev (FuzzSigDict calls it with fuzzed ones).
func (v *run) locateDict(s *found, e pdf.XrefEntry, defRev int, sd pdf.Dict) {
	f := v.f
	if t, ok := sd.Name("Type"); ok && t != "Sig" && !(s.docStamp && t == "DocTimeStamp") {
		s.fail(CheckByteRange, "signature dictionary has /Type /%s", t)
		return
	}
	if sf, _ := sd.Name("SubFilter"); s.docStamp && sf != "ETSI.RFC3161" {
		s.fail(CheckContents, "a document timestamp's /SubFilter is /%s, not /ETSI.RFC3161", sf)
		return
	} else if !s.docStamp && sf != "adbe.pkcs7.detached" && sf != "ETSI.CAdES.detached" {
		s.fail(CheckContents, "/SubFilter /%s is not a detached CMS signature", sf)
		return
	}
	if r, ok := sd.Get("Reason").(pdf.String); ok {
		s.report.Reason = r.Text()
	}
	// /ByteRange: exactly [0 a b c], the gap is this dictionary's
	// /Contents hex string, and the second range ends a revision.
	br, ok := sd.Get("ByteRange").(pdf.Array)
	if !ok || len(br) != 4 {
		s.fail(CheckByteRange, "/ByteRange must be an array of four integers")
		return
	}
	var n [4]int64
	for i, o := range br {
		x, ok := o.(pdf.Integer)
		if !ok {
			s.fail(CheckByteRange, "/ByteRange element %d is not an integer", i)
			return
		}
		n[i] = int64(x)
	}
	size := int64(len(v.data))
	a, b, c := n[1], n[2], n[3]
	switch {
	case n[0] != 0:
		s.fail(CheckByteRange, "/ByteRange does not start at 0")
		return
	case a <= 0 || b <= a || c <= 0 || b+c > size || b+c < b:
		s.fail(CheckByteRange, "/ByteRange [0 %d %d %d] is out of bounds for a %d-byte file", a, b, c, size)
		return
	}
	end := b + c
	rev := -1
	for i, rv := range f.Revisions {
		if end == rv.End || end == rv.EOF+5 {
			rev = i
		}
	}
	if rev < 0 {
		s.fail(CheckByteRange, "the signed range ends at %d, which is not the end of a revision", end)
		return
	}
	s.rev = rev
	s.report.Revision = rev
	if rev != defRev {
		// The dictionary must be the one written by the revision the
		// signature covers; a later revision may not redefine it.
		s.fail(CheckByteRange, "signature dictionary %v is defined by revision %d but its range ends revision %d", s.sig, defRev, rev)
		return
	}
	rv := f.Revisions[rev]
	if e.Offset < rv.Start || e.Offset >= a {
		s.fail(CheckByteRange, "signature dictionary lies outside the signed part of its revision")
		return
	}
	s.entry, s.dict, s.revision = e, sd, rv
	s.a, s.b, s.end = a, b, end
}

// contents is the second stage, linear in the seal's own revision: the
// gap in /ByteRange is exactly this dictionary's /Contents hex string,
// the signed revision's startxref names its own section, and /Contents
// is one DER CMS plus zero padding that parses.
func (v *run) contents(s *found) {
	rep := s.report
	raw, reason := v.gap(s)
	if reason != "" && !strings.HasPrefix(reason, "/Contents") {
		s.fail(CheckByteRange, "%s", reason)
		return
	}
	pass(rep, CheckByteRange)
	if s.end == int64(len(v.data)) || s.end == int64(len(bytes.TrimRight(v.data, " \t\r\n"))) {
		rep.Coverage = "entire_file"
	}
	if reason != "" {
		s.fail(CheckContents, "%s", reason)
		return
	}

	// /Contents: one DER object plus zero padding, and equal to the
	// value the parser read (gap).
	der, err := seal.TrimPadding(raw)
	if err != nil {
		s.fail(CheckContents, "%v", err)
		return
	}
	signed, err := seal.Parse(der)
	if err != nil {
		s.fail(CheckContents, "%v", err)
		return
	}
	pass(rep, CheckContents)
	s.signed = signed
	rep.SigningTime = signed.SigningTime
	rep.SigAlg = signed.SigAlg
}

// verifySeal is the last stage, for seals taken in revision order: the
// CMS signature over SM3 of the two ranges (streamed, under the
// context), the signature timestamp, the certificate path at the
// timestamp's time (or the check's, without one), the certificate's
// profile and the seal's widget.
func (v *run) verifySeal(s *found) {
	rep, signed := s.report, s.signed
	digest, err := v.hash.digest(v.ctx, s.a, s.b, s.end)
	if err != nil {
		v.err = canceled(err)
		return
	}
	v.work.cms++
	if err := signed.Verify(digest); err != nil {
		fail(rep, CheckCMS, "%v", err)
	} else {
		pass(rep, CheckCMS)
	}

	cert := signed.Signer
	rep.CertSerial = fmt.Sprintf("%X", cert.SerialNumber)
	rep.NotBefore, rep.NotAfter = cert.NotBefore, cert.NotAfter
	at := v.validationTime(s)
	v.work.chains++
	if root, err := v.opt.Trust.Verify(cert, slices.Concat(signed.Certs, v.dssCerts), at); err != nil {
		fail(rep, CheckCertificate, "%v", err)
	} else {
		rep.Province = keys.Province(root)
		pass(rep, CheckCertificate)
		v.checkRevocation(rep, cert, root, at)
	}
	if signed.SigningTime.After(v.now.Add(clockSkew)) {
		fail(rep, CheckTime, "signing time %s lies in the future", signed.SigningTime.Format(time.RFC3339))
	}
	org, err := keys.Profile(cert)
	if err != nil {
		fail(rep, CheckProfile, "%v", err)
		return
	}
	pass(rep, CheckProfile)
	rep.Level, rep.DivisionCode, rep.Organisation = string(org.Level), org.Code, org.Name
	v.checkWidget(s, org.Level)
}

// xrefPoints checks that the startxref written just before the
// revision's %%EOF names the revision's cross-reference section, so the
// signed bytes alone lead a reader to the same objects.
func xrefPoints(data []byte, rv *pdf.Revision) bool {
	head := data[rv.Start:rv.EOF]
	i := bytes.LastIndex(head, []byte("startxref"))
	if i < 0 {
		return false
	}
	num := bytes.TrimSpace(head[i+len("startxref"):])
	off, err := strconv.ParseInt(string(num), 10, 64)
	return err == nil && off == rv.XrefOffset
}

// checkWidget checks the seal's visible part: a printable widget on the
// first page, inside the level's seal box when boxes are given.
func (v *run) checkWidget(s *found, level org.Level) {
	f := v.f
	w, err := f.ResolveDict(f.Latest(), s.widget)
	if err != nil || w == nil {
		fail(s.report, CheckAppearance, "widget %v: %v", s.widget, err)
		return
	}
	rect, ok := numbers(w.Get("Rect"), 4)
	if !ok {
		fail(s.report, CheckAppearance, "widget has no /Rect")
		return
	}
	flags, _ := w.Int("F")
	if flags&4 == 0 || flags&(2|32) != 0 {
		fail(s.report, CheckAppearance, "the seal is hidden or not printed (/F %d)", flags)
		return
	}
	if box, ok := v.opt.SealBoxes[level]; ok {
		llx, lly := min(rect[0], rect[2]), min(rect[1], rect[3])
		urx, ury := max(rect[0], rect[2]), max(rect[1], rect[3])
		const tol = 1.0
		if llx < box[0]-tol || lly < box[1]-tol || urx > box[2]+tol || ury > box[3]+tol {
			fail(s.report, CheckAppearance, "the seal lies outside the %s seal box", level)
			return
		}
		if p, err := v.pageOne(); err != nil {
			fail(s.report, CheckAppearance, "no first page: %v", err)
			return
		} else if pr, ok := w.Get("P").(pdf.Ref); !ok || pr != p.Ref {
			fail(s.report, CheckAppearance, "the seal is not on the first page")
			return
		}
	}
	pass(s.report, CheckAppearance)
}

// pageOne is the first page at the newest revision, looked up once, in
// a page tree of at most maxPageNodes nodes.
func (v *run) pageOne() (*pdf.Page, error) {
	if v.firstPage == nil && v.pageErr == nil {
		ps, err := v.f.Pages(v.f.Latest(), maxPageNodes)
		switch {
		case err != nil:
			v.pageErr = err
		case len(ps) == 0:
			v.pageErr = errors.New("no pages")
		default:
			v.firstPage = ps[0]
		}
	}
	return v.firstPage, v.pageErr
}

func numbers(o pdf.Object, n int) ([]float64, bool) {
	a, ok := o.(pdf.Array)
	if !ok || len(a) != n {
		return nil, false
	}
	out := make([]float64, n)
	for i, x := range a {
		switch t := x.(type) {
		case pdf.Integer:
			out[i] = float64(t)
		case pdf.Real:
			out[i] = float64(t)
		default:
			return nil, false
		}
	}
	return out, true
}

// checkChain checks the links between seals and the policy.
func (v *run) checkChain() {
	v.resolvePolicy()
	var prev *found
	var cs []chain.Seal
	for _, s := range v.seals {
		rep := s.report
		if s.signed == nil || rep.Level == "" {
			fail(rep, CheckLink, "not checked: the seal itself failed")
			prev = s
			continue
		}
		l := s.signed.Link
		switch {
		case l == nil:
			fail(rep, CheckLink, "the seal carries no cardseal chain attribute")
		case string(l.Level) != rep.Level || l.Code != rep.DivisionCode:
			fail(rep, CheckLink, "the chain attribute names %s %s but the certificate %s %s", l.Level, l.Code, rep.Level, rep.DivisionCode)
		case prev == nil && len(l.Prev) != 0:
			fail(rep, CheckLink, "the first seal links to a previous seal")
		case prev != nil && (prev.signed == nil || !bytes.Equal(l.Prev, seal.Digest(prev.signed.DER))):
			fail(rep, CheckLink, "the seal does not link to the previous seal (transplanted or reordered)")
		case v.opt.DocID != "" && l.DocID != v.opt.DocID:
			fail(rep, CheckLink, "the seal binds document %q, not %q", l.DocID, v.opt.DocID)
		case v.rep.DocID != "" && l.DocID != v.rep.DocID:
			fail(rep, CheckLink, "the seal binds document %q but earlier seals %q", l.DocID, v.rep.DocID)
		case prev != nil && prev.signed != nil && s.signed.SigningTime.Before(prev.signed.SigningTime):
			fail(rep, CheckLink, "signed before the previous seal")
		default:
			pass(rep, CheckLink)
			v.rep.DocID = l.DocID
			rep.DocID = l.DocID
		}
		next := chain.Seal{Level: org.Level(rep.Level), Code: rep.DivisionCode}
		// Each seal is judged against the seals the policy accepted: a
		// refused seal is already a failure, and chain.Policy.Check
		// assumes a valid prefix (it indexes Levels by len(prev)).
		if err := v.opt.Policy.Check(cs, next); err != nil {
			fail(rep, CheckChain, "%v", err)
		} else {
			pass(rep, CheckChain)
			cs = append(cs, next)
		}
		prev = s
	}
}
