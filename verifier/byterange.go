package verifier

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/seal"
)

// Where a seal's signed bytes lie: its dictionary, its /ByteRange and the
// gap, the revision it ends, and the CMS in /Contents.

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
