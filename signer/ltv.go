package signer

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/seal"
	"github.com/jilin-health/cardseal/tsa"
)

// Long-term validation (PAdES B-LT and B-LTA, issue 17; the layout is in
// docs/seal-format.md, "Long-term validation"). After the last seal the
// platform appends two revisions: a Document Security Store holding every
// certificate and CRL needed to validate every signature of the document
// offline, then a document timestamp over the whole file. Neither touches
// a page, a seal or anything else a seal covers; the verifier's
// difference analysis accepts exactly these additions after the last
// seal.

// DocTimestamper issues time-stamp tokens over SM3 digests (package tsa's
// Authority): the token of a document timestamp stamps the SM3 of the
// bytes its /ByteRange covers.
type DocTimestamper interface {
	StampDigest(ctx context.Context, digest []byte) ([]byte, error)
	// MaxTokenSize is an upper bound of a token's DER length.
	MaxTokenSize() int
}

// ErrNoSignatures: a document without signatures has nothing to keep
// validation data for.
var ErrNoSignatures = errors.New("signer: the document carries no signature to add validation data for")

// VRIKey is the key of a signature's entry in /DSS /VRI: the uppercase
// hexadecimal SHA-1 of the signature's /Contents string as stored (the
// DER and its zero padding), as PAdES (ETSI EN 319 142-1 §5.4.2.3)
// specifies. SHA-1 here only names an entry; nothing is trusted by it.
func VRIKey(contents []byte) string {
	h := sha1.Sum(contents)
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

// ValidationCerts returns the DER certificates a signature's /Contents
// carries: for a seal, its CMS certificates and those of its signature
// timestamp; for a document timestamp, its token's. ok is false for a
// signature this package does not know.
func ValidationCerts(contents []byte) (certs [][]byte, ok bool) {
	der, err := seal.TrimPadding(contents)
	if err != nil {
		return nil, false
	}
	if s, err := seal.Parse(der); err == nil {
		for _, c := range s.Certs {
			certs = append(certs, c.Raw)
		}
		if s.Timestamp != nil {
			if tok, err := tsa.ParseToken(s.Timestamp); err == nil {
				for _, c := range tok.Certs {
					certs = append(certs, c.Raw)
				}
			}
		}
		return certs, true
	}
	if tok, err := tsa.ParseToken(der); err == nil {
		for _, c := range tok.Certs {
			certs = append(certs, c.Raw)
		}
		return certs, true
	}
	return nil, false
}

// open parses a document this package may extend.
func open(in []byte) (*update, error) {
	f, err := pdf.Parse(in)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedPDF, err)
	}
	if f.Trailing != nil {
		return nil, fmt.Errorf("%w: %d bytes after the last %%%%EOF", ErrMalformedPDF, len(f.Trailing))
	}
	if f.Encrypted() {
		return nil, ErrEncrypted
	}
	rev := f.Latest()
	cat, catRef, err := f.Catalog(rev)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedPDF, err)
	}
	fm, err := readForm(f, rev, cat)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedPDF, err)
	}
	u := &update{f: f, rev: rev, in: in, cat: cat, catRef: catRef, form: fm,
		next: f.Size(rev), offsets: map[int]int64{}, gens: map[int]int{}}
	return u, nil
}

func (u *update) start(extra int) []byte {
	out := make([]byte, 0, len(u.in)+extra)
	out = append(out, u.in...)
	if n := len(out); n > 0 && out[n-1] != '\n' && out[n-1] != '\r' {
		out = append(out, '\n')
	}
	return out
}

// AddDSS appends one revision holding a Document Security Store (PAdES
// B-LT): /Certs with every certificate of every signature of the
// document (seals, their signature timestamps, document timestamps),
// /CRLs with crls (DER), and one /VRI entry per signature naming its
// certificates and the CRLs, its /TU at. A store the document already
// has is carried over: the new one is a new object that lists the old
// entries and adds the new, so that no earlier object is redefined.
func AddDSS(in []byte, crls [][]byte, at time.Time) ([]byte, error) {
	u, err := open(in)
	if err != nil {
		return nil, err
	}
	if len(u.form.sigs) == 0 {
		return nil, ErrNoSignatures
	}
	old, err := u.oldDSS()
	if err != nil {
		return nil, err
	}
	out := u.start(64 << 10)
	// One stream per distinct certificate or CRL; those of the old store
	// keep their objects.
	certRefs, crlRefs := old.certs, old.crls
	put := func(der []byte, known map[string]pdf.Ref, list *pdf.Array) pdf.Ref {
		if r, ok := known[string(der)]; ok {
			return r
		}
		r := u.alloc()
		out = u.put(out, r, &pdf.Stream{Dict: pdf.Dict{}, Raw: der})
		known[string(der)] = r
		*list = append(*list, r)
		return r
	}
	var crlList pdf.Array
	crlList = append(crlList, old.crlList...)
	var crlObjs pdf.Array
	for _, c := range crls {
		crlObjs = append(crlObjs, put(c, crlRefs, &crlList))
	}
	certList := append(pdf.Array{}, old.certList...)
	vri := append(pdf.Dict{}, old.vri...)
	for _, s := range u.form.sigs {
		ders, ok := ValidationCerts(s.contents)
		if !ok {
			continue
		}
		var refs pdf.Array
		for _, d := range ders {
			refs = append(refs, put(d, certRefs, &certList))
		}
		key := pdf.Name(VRIKey(s.contents))
		vri.Set(key, pdf.Dict{
			{Key: "Type", Value: pdf.Name("VRI")},
			{Key: "Cert", Value: refs},
			{Key: "CRL", Value: append(pdf.Array{}, crlObjs...)},
			{Key: "TU", Value: pdf.Date(at.UTC())},
		})
	}
	dssRef := u.alloc()
	out = u.put(out, dssRef, pdf.Dict{
		{Key: "Type", Value: pdf.Name("DSS")},
		{Key: "Certs", Value: certList},
		{Key: "CRLs", Value: crlList},
		{Key: "VRI", Value: vri},
	})
	cat := u.cat.Clone()
	cat.Set("DSS", dssRef)
	out = u.put(out, u.catRef, cat)
	return u.writeXref(out)
}

// dssState is the document's store before the new revision.
type dssState struct {
	certs, crls       map[string]pdf.Ref // DER → stream
	certList, crlList pdf.Array
	vri               pdf.Dict
}

func (u *update) oldDSS() (*dssState, error) {
	st := &dssState{certs: map[string]pdf.Ref{}, crls: map[string]pdf.Ref{}}
	d, err := u.f.ResolveDict(u.rev, u.cat.Get("DSS"))
	if err != nil {
		return nil, fmt.Errorf("%w: /DSS: %w", ErrMalformedPDF, err)
	}
	if d == nil {
		return st, nil
	}
	for _, k := range []struct {
		key  pdf.Name
		m    map[string]pdf.Ref
		list *pdf.Array
	}{{"Certs", st.certs, &st.certList}, {"CRLs", st.crls, &st.crlList}} {
		arr, _ := d.Get(k.key).(pdf.Array)
		for _, o := range arr {
			r, ok := o.(pdf.Ref)
			if !ok {
				return nil, fmt.Errorf("%w: /DSS /%s holds a direct object", ErrMalformedPDF, k.key)
			}
			so, err := u.f.Resolve(u.rev, r)
			if err != nil {
				return nil, fmt.Errorf("%w: /DSS /%s: %w", ErrMalformedPDF, k.key, err)
			}
			s, ok := so.(*pdf.Stream)
			if !ok {
				return nil, fmt.Errorf("%w: /DSS /%s holds a non-stream", ErrMalformedPDF, k.key)
			}
			der, err := u.f.Decode(s)
			if err != nil {
				return nil, fmt.Errorf("%w: /DSS /%s: %w", ErrMalformedPDF, k.key, err)
			}
			k.m[string(der)] = r
			*k.list = append(*k.list, r)
		}
	}
	if v, ok := d.Get("VRI").(pdf.Dict); ok {
		st.vri = v.Clone()
	}
	return st, nil
}

// AddDocTimestamp appends one revision holding a document timestamp
// (PAdES B-LTA): an invisible signature field on the first page whose
// signature dictionary is /Type /DocTimeStamp, /SubFilter /ETSI.RFC3161,
// and whose /Contents is a time-stamp token over the SM3 of the bytes its
// /ByteRange covers — the whole file as of this revision.
func AddDocTimestamp(ctx context.Context, in []byte, ts DocTimestamper) ([]byte, error) {
	if ts == nil {
		return nil, fmt.Errorf("%w: no time-stamping authority", ErrTimestamp)
	}
	u, err := open(in)
	if err != nil {
		return nil, err
	}
	if len(u.form.sigs) == 0 {
		return nil, ErrNoSignatures
	}
	u.contents = ts.MaxTokenSize()
	if u.contents <= 0 {
		return nil, fmt.Errorf("%w: the time-stamping authority cannot size its tokens", ErrTimestamp)
	}
	page, err := u.f.Page(u.rev, 0)
	if err != nil || page == nil {
		return nil, fmt.Errorf("%w: no first page: %v", ErrMalformedPDF, err)
	}
	u.page = page
	out := u.start(2*u.contents + 4096)

	sigRef, fieldRef := u.alloc(), u.alloc()
	out = u.begin(out, sigRef)
	out = fmt.Appendf(out, "%d 0 obj\n<</Type/DocTimeStamp/Filter/Adobe.PPKLite/SubFilter/ETSI.RFC3161/ByteRange ", sigRef.Num)
	u.brOff = len(out)
	out = append(out, '[')
	out = append(out, bytes.Repeat([]byte{' '}, byteRangeWidth)...)
	out = append(out, "]/Contents "...)
	u.a = len(out)
	out = append(out, '<')
	out = append(out, bytes.Repeat([]byte{'0'}, 2*u.contents)...)
	out = append(out, '>')
	u.b = len(out)
	out = append(out, ">>\nendobj\n"...)

	name := "文档时间戳"
	for i := 2; u.form.names[name]; i++ {
		name = fmt.Sprintf("文档时间戳_%d", i)
	}
	out = u.put(out, fieldRef, pdf.Dict{
		{Key: "Type", Value: pdf.Name("Annot")}, {Key: "Subtype", Value: pdf.Name("Widget")},
		{Key: "FT", Value: pdf.Name("Sig")}, {Key: "T", Value: pdf.TextString(name)},
		{Key: "V", Value: sigRef},
		{Key: "Rect", Value: pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(0), pdf.Integer(0)}},
		{Key: "F", Value: pdf.Integer(132)}, // Print | Locked; invisible by its empty rectangle
		{Key: "P", Value: page.Ref},
	})
	if out, err = u.writePage(out, fieldRef); err != nil {
		return nil, err
	}
	if out, err = u.writeForm(out, fieldRef, nil, sigRef); err != nil {
		return nil, err
	}
	if out, err = u.writeXref(out); err != nil {
		return nil, err
	}
	br := fmt.Appendf(nil, "0 %d %d %d", u.a, u.b, len(out)-u.b)
	if len(br) > byteRangeWidth {
		return nil, fmt.Errorf("signer: output too large for the /ByteRange placeholder")
	}
	copy(out[u.brOff+1:], br)
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
	}
	tok, err := ts.StampDigest(ctx, u.digest(out))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimestamp, err)
	}
	if err := u.fill(out, tok); err != nil {
		return nil, err
	}
	return out, nil
}

// AddLTV appends the long-term validation data of a sealed document: the
// store (AddDSS, with crls) and then a document timestamp over it
// (AddDocTimestamp). The result is PAdES B-LTA.
func AddLTV(ctx context.Context, in []byte, crls [][]byte, ts DocTimestamper, at time.Time) ([]byte, error) {
	out, err := AddDSS(in, crls, at)
	if err != nil {
		return nil, err
	}
	return AddDocTimestamp(ctx, out, ts)
}
