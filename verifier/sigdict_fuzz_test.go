package verifier

import (
	"bytes"
	"context"
	"encoding/hex"
	"testing"

	"github.com/jilin-health/cardseal/internal/pdftest/sealtest"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/seal"
)

// FuzzSigDict is structure-aware on the signature dictionary (issue 12,
// F1): the input is the text of one dictionary, read in place of one
// seal's dictionary of a small sealed card, and given to the checks of
// /Type, /SubFilter, /ByteRange and /Contents (locateDict, contents) and
// to seal.Parse, without the rest of the file's work, so it runs
// thousands of times a second. A dictionary the checks accept must
// satisfy what the verifier relies on, restated here independently: the
// range is [0 a b c] with the gap exactly one hex string that is this
// dictionary's /Contents and holds the parsed CMS plus zero padding, and
// the range ends the revision that defines the dictionary, which lies
// inside that revision's signed part.
func FuzzSigDict(f *testing.F) {
	k, err := sealtest.TestKeys()
	if err != nil {
		f.Fatal(err)
	}
	type base struct {
		v      *run
		fields []sigField
	}
	var bases []base
	for _, kind := range []pdf.XrefKind{pdf.XrefTable, pdf.XrefStream} {
		doc := sealtest.Sealed(kind)
		file, err := pdf.Parse(doc)
		if err != nil {
			f.Fatal(err)
		}
		v := &run{ctx: context.Background(), f: file, data: doc, opt: Options{Trust: k.Trust}, rep: &Report{}}
		fields, err := v.fields()
		if err != nil || len(fields) != 3 {
			f.Fatalf("fields: %v, %v", fields, err)
		}
		for i, fd := range fields {
			sd, err := file.ResolveDict(file.Latest(), fd.sig)
			if err != nil {
				f.Fatal(err)
			}
			which := uint8(3*len(bases) + i)
			f.Add(which, pdf.AppendObject(nil, sd))
			alt := sd.Clone()
			alt.Set("SubFilter", pdf.Name("ETSI.CAdES.detached"))
			f.Add(which, pdf.AppendObject(nil, alt))
		}
		bases = append(bases, base{v, fields})
	}
	f.Fuzz(func(t *testing.T, which uint8, text []byte) {
		b := bases[int(which/3)%len(bases)]
		fd := b.fields[int(which%3)%len(b.fields)]
		o, err := pdf.ParseObject(text)
		sd, ok := o.(pdf.Dict)
		if err != nil || !ok {
			return
		}
		v, data := b.v, b.v.data
		e, defRev, _ := v.f.Lookup(v.f.Latest(), fd.sig.Num)
		s := &found{sigField: fd, rev: -1, report: &Seal{}}
		v.locateDict(s, e, defRev, sd)
		if !s.stopped {
			v.contents(s)
		}
		if s.stopped != (s.signed == nil) {
			t.Fatalf("stopped %v with a parsed CMS %v", s.stopped, s.signed != nil)
		}
		// A refusal is the last check, failed, with a reason; an
		// acceptance is byte_range and contents passed.
		cs := s.report.Checks
		for i, c := range cs {
			if c.OK == (s.stopped && i == len(cs)-1) || !c.OK && c.Reason == "" {
				t.Fatalf("checks %+v, stopped %v", cs, s.stopped)
			}
		}
		if s.stopped {
			if len(cs) == 0 {
				t.Fatal("refused without a failed check")
			}
			return
		}
		if len(cs) != 2 || cs[0].Name != CheckByteRange || cs[1].Name != CheckContents {
			t.Fatalf("accepted with checks %+v", cs)
		}
		rv := v.f.Revisions[s.rev]
		a, gapEnd, end := s.a, s.b, s.end
		switch {
		case s.rev != defRev || e.Offset < rv.Start || e.Offset >= a:
			t.Fatalf("the dictionary at %d (revision %d) is not in the signed part of revision %d", e.Offset, defRev, s.rev)
		case !(0 < a && a < gapEnd && gapEnd < end) || end != rv.End && end != rv.EOF+5:
			t.Fatalf("range [0 %d %d %d] accepted; revision %d ends at %d", a, gapEnd, end-gapEnd, s.rev, rv.End)
		case string(pdf.AppendObject(nil, sd.Get("ByteRange"))) != string(pdf.AppendObject(nil, pdf.Array{pdf.Integer(0), pdf.Integer(a), pdf.Integer(gapEnd), pdf.Integer(end - gapEnd)})):
			t.Fatalf("the accepted range is not the dictionary's /ByteRange %v", sd.Get("ByteRange"))
		case data[a] != '<' || data[gapEnd-1] != '>':
			t.Fatal("the gap is not a hex string")
		}
		raw, err := hex.DecodeString(string(data[a+1 : gapEnd-1]))
		cv, _ := sd.Get("Contents").(pdf.String)
		if err != nil || !bytes.Equal(raw, cv.Bytes) {
			t.Fatal("the gap is not the dictionary's /Contents")
		}
		if der, err := seal.TrimPadding(raw); err != nil || !bytes.Equal(der, s.signed.DER) {
			t.Fatalf("the parsed CMS is not the gap's: %v", err)
		}
	})
}
