package signer

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/seal"
)

// maxFieldDepth and maxFields bound the form field tree.
const (
	maxFieldDepth = 32
	maxFields     = 10_000
)

// sigField is a signed signature field found in the document.
type sigField struct {
	name      string       // partial name /T
	byteRange [4]int64     // the signature dictionary's /ByteRange
	contents  []byte       // /Contents, decoded
	signed    *seal.Signed // nil for a signature that is not a cardseal seal
}

// form is what Seal needs to know of a document's interactive form.
type form struct {
	names map[string]bool // top-level field names
	sigs  []sigField      // signed signature fields, in revision order
}

// readForm walks the AcroForm field tree at revision rev.
func readForm(f *pdf.File, rev int, cat pdf.Dict) (*form, error) {
	fm := &form{names: map[string]bool{}}
	af, err := f.ResolveDict(rev, cat.Get("AcroForm"))
	if err != nil || af == nil {
		return fm, err
	}
	fo, err := f.Resolve(rev, af.Get("Fields"))
	if err != nil {
		return nil, err
	}
	fields, _ := fo.(pdf.Array)
	seen := map[pdf.Ref]bool{}
	var walk func(o pdf.Object, ft pdf.Name, depth int, top bool) error
	walk = func(o pdf.Object, ft pdf.Name, depth int, top bool) error {
		if depth > maxFieldDepth || len(seen) > maxFields {
			return fmt.Errorf("%w: form field tree too deep or too large", pdf.ErrMalformed)
		}
		if r, ok := o.(pdf.Ref); ok {
			if seen[r] {
				return fmt.Errorf("%w: form field tree loops at %v", pdf.ErrMalformed, r)
			}
			seen[r] = true
		}
		d, err := f.ResolveDict(rev, o)
		if err != nil || d == nil {
			return err
		}
		if t, ok := d.Get("T").(pdf.String); ok && top {
			fm.names[t.Text()] = true
		}
		if v, ok := d.Name("FT"); ok {
			ft = v
		}
		ko, err := f.Resolve(rev, d.Get("Kids"))
		if err != nil {
			return err
		}
		if kids, ok := ko.(pdf.Array); ok {
			for _, k := range kids {
				if err := walk(k, ft, depth+1, false); err != nil {
					return err
				}
			}
		}
		if ft != "Sig" || d.Get("V") == nil {
			return nil
		}
		v, err := f.ResolveDict(rev, d.Get("V"))
		if err != nil || v == nil {
			return err
		}
		sf := sigField{}
		if t, ok := d.Get("T").(pdf.String); ok {
			sf.name = t.Text()
		}
		c, _ := v.Get("Contents").(pdf.String)
		br, _ := v.Get("ByteRange").(pdf.Array)
		if len(c.Bytes) == 0 || len(br) != 4 {
			return fmt.Errorf("%w: signature %q without /Contents or /ByteRange", pdf.ErrMalformed, sf.name)
		}
		for i, x := range br {
			n, ok := x.(pdf.Integer)
			if !ok || n < 0 {
				return fmt.Errorf("%w: signature %q has a bad /ByteRange", pdf.ErrMalformed, sf.name)
			}
			sf.byteRange[i] = int64(n)
		}
		sf.contents = c.Bytes
		if der, err := seal.TrimPadding(c.Bytes); err == nil {
			if s, err := seal.Parse(der); err == nil && s.Link != nil {
				sf.signed = s
			}
		}
		fm.sigs = append(fm.sigs, sf)
		return nil
	}
	for _, fo := range fields {
		if err := walk(fo, "", 0, true); err != nil {
			return nil, err
		}
	}
	// A later revision's signature covers more bytes.
	slices.SortStableFunc(fm.sigs, func(a, b sigField) int {
		return cmp.Compare(a.byteRange[2]+a.byteRange[3], b.byteRange[2]+b.byteRange[3])
	})
	return fm, nil
}

// seals returns the cardseal seals of the form in revision order.
func (fm *form) seals() ([]chain.Seal, []*seal.Signed) {
	var cs []chain.Seal
	var ss []*seal.Signed
	for _, s := range fm.sigs {
		if s.signed == nil {
			continue
		}
		cs = append(cs, chain.Seal{Level: s.signed.Link.Level, Code: s.signed.Link.Code})
		ss = append(ss, s.signed)
	}
	return cs, ss
}

// Existing returns the cardseal seals already in the document, in
// revision order, as the chain policy sees them and as parsed CMS.
// Signatures of other producers are skipped; it does not verify
// anything (that is the verifier's job).
func Existing(in []byte) ([]chain.Seal, []*seal.Signed, error) {
	f, err := pdf.Parse(in)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformedPDF, err)
	}
	rev := f.Latest()
	cat, _, err := f.Catalog(rev)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformedPDF, err)
	}
	fm, err := readForm(f, rev, cat)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformedPDF, err)
	}
	cs, ss := fm.seals()
	return cs, ss, nil
}
