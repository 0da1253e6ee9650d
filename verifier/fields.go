package verifier

import (
	"errors"
	"fmt"

	"github.com/jilin-health/cardseal/pdf"
)

// The signature fields of the final AcroForm: one seal under check per
// signature dictionary, however many fields name it.

// sigField is a signature field found in the final AcroForm.
type sigField struct {
	field  pdf.Ref
	widget pdf.Ref // the widget annotation: the field itself or its kid
	sig    pdf.Ref
	name   string
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
