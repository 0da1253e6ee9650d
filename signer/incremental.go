package signer

import (
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/emmansun/gmsm/sm3"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/pdf"
)

// byteRangeWidth is the room between the brackets of the /ByteRange
// placeholder: "0" and three ten-digit numbers with their spaces.
const byteRangeWidth = 1 + 3*11

// update writes one incremental revision.
type update struct {
	f       *pdf.File
	rev     int
	in      []byte
	req     *Request
	cat     pdf.Dict
	catRef  pdf.Ref
	page    *pdf.Page
	form    *form
	certify bool

	contents int // bytes reserved for the CMS

	next    int           // next free object number
	offsets map[int]int64 // object number → offset in the output
	gens    map[int]int   // object number → generation written
	brOff   int           // offset of the /ByteRange placeholder's '['
	a, b    int           // /Contents hex string: '<' at a, just past '>' at b
}

func (u *update) alloc() pdf.Ref {
	r := pdf.Ref{Num: u.next}
	u.next++
	return r
}

func (u *update) begin(out []byte, r pdf.Ref) []byte {
	u.offsets[r.Num] = int64(len(out))
	u.gens[r.Num] = r.Gen
	return out
}

func (u *update) put(out []byte, r pdf.Ref, o pdf.Object) []byte {
	return pdf.AppendIndirect(u.begin(out, r), r, o)
}

// fieldName is the seal field's partial name, e.g. 村级印章_220102001001,
// made unique among the form's top-level fields.
func (u *update) fieldName() string {
	prefix := map[org.Level]string{org.Village: "村级印章", org.Township: "乡级印章", org.County: "县级印章"}[u.req.Org.Level]
	name := prefix + "_" + u.req.Org.Code
	for i := 2; u.form.names[name]; i++ {
		name = fmt.Sprintf("%s_%s_%d", prefix, u.req.Org.Code, i)
	}
	return name
}

// write returns in plus the new revision with the /ByteRange filled in
// and the /Contents still zero.
func (u *update) write() ([]byte, error) {
	f, req := u.f, u.req
	u.next = f.Size(u.rev)
	u.offsets = map[int]int64{}
	u.gens = map[int]int{}
	out := make([]byte, 0, len(u.in)+2*u.contents+req.Appearance.encodedLen()+4096)
	out = append(out, u.in...)
	if n := len(out); n > 0 && out[n-1] != '\n' && out[n-1] != '\r' {
		out = append(out, '\n')
	}

	// Seal picture and its appearance stream.
	ap := req.Appearance
	imgRef := u.alloc()
	img := pdf.Dict{
		{Key: "Type", Value: pdf.Name("XObject")}, {Key: "Subtype", Value: pdf.Name("Image")},
		{Key: "Width", Value: pdf.Integer(ap.width)}, {Key: "Height", Value: pdf.Integer(ap.height)},
		{Key: "ColorSpace", Value: pdf.Name("DeviceRGB")}, {Key: "BitsPerComponent", Value: pdf.Integer(8)},
		{Key: "Filter", Value: pdf.Name("FlateDecode")}, {Key: "DecodeParms", Value: pngUp(3, ap.width)},
	}
	if ap.alpha != nil {
		maskRef := u.alloc()
		img = append(img, pdf.Entry{Key: "SMask", Value: maskRef})
		out = u.put(out, maskRef, &pdf.Stream{Dict: pdf.Dict{
			{Key: "Type", Value: pdf.Name("XObject")}, {Key: "Subtype", Value: pdf.Name("Image")},
			{Key: "Width", Value: pdf.Integer(ap.width)}, {Key: "Height", Value: pdf.Integer(ap.height)},
			{Key: "ColorSpace", Value: pdf.Name("DeviceGray")}, {Key: "BitsPerComponent", Value: pdf.Integer(8)},
			{Key: "Filter", Value: pdf.Name("FlateDecode")},
		}, Raw: ap.alpha})
	}
	out = u.put(out, imgRef, &pdf.Stream{Dict: img, Raw: ap.rgb})

	w, h := req.Rect.Width(), req.Rect.Height()
	s := math.Min(w/float64(ap.width), h/float64(ap.height))
	dw, dh := float64(ap.width)*s, float64(ap.height)*s
	var cs []byte
	cs = append(cs, "q "...)
	for _, v := range []float64{dw, 0, 0, dh, (w - dw) / 2, (h - dh) / 2} {
		cs = strconv.AppendFloat(cs, math.Round(v*1000)/1000, 'f', -1, 64)
		cs = append(cs, ' ')
	}
	cs = append(cs, "cm /Seal Do Q"...)
	formRef := u.alloc()
	out = u.put(out, formRef, &pdf.Stream{Dict: pdf.Dict{
		{Key: "Type", Value: pdf.Name("XObject")}, {Key: "Subtype", Value: pdf.Name("Form")},
		{Key: "BBox", Value: pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Real(w), pdf.Real(h)}},
		{Key: "Resources", Value: pdf.Dict{{Key: "XObject", Value: pdf.Dict{{Key: "Seal", Value: imgRef}}}}},
	}, Raw: cs})

	// Signature dictionary with its placeholders.
	sigRef := u.alloc()
	fieldRef := u.alloc()
	out = u.begin(out, sigRef)
	out = strconv.AppendInt(out, int64(sigRef.Num), 10)
	out = append(out, " 0 obj\n<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/adbe.pkcs7.detached/ByteRange "...)
	u.brOff = len(out)
	out = append(out, '[')
	for range byteRangeWidth {
		out = append(out, ' ')
	}
	out = append(out, "]/Contents "...)
	u.a = len(out)
	out = append(out, '<')
	for range 2 * u.contents {
		out = append(out, '0')
	}
	out = append(out, '>')
	u.b = len(out)
	rest := pdf.Dict{
		{Key: "M", Value: pdf.Date(req.Time.In(cst))},
		{Key: "Name", Value: pdf.TextString(orgName(req.Org))},
	}
	for _, e := range []struct {
		key   pdf.Name
		value string
	}{{"Reason", req.Reason}, {"Location", req.Location}, {"ContactInfo", req.ContactInfo}} {
		if e.value != "" {
			rest = append(rest, pdf.Entry{Key: e.key, Value: pdf.TextString(e.value)})
		}
	}
	sigRefDict := pdf.Dict{
		{Key: "Type", Value: pdf.Name("SigRef")}, {Key: "TransformMethod", Value: pdf.Name("DocMDP")},
		{Key: "TransformParams", Value: pdf.Dict{
			{Key: "Type", Value: pdf.Name("TransformParams")}, {Key: "P", Value: pdf.Integer(2)}, {Key: "V", Value: pdf.Name("1.2")},
		}},
	}
	if u.certify {
		rest = append(rest, pdf.Entry{Key: "Reference", Value: pdf.Array{sigRefDict}})
	}
	for _, e := range rest {
		out = pdf.AppendObject(out, e.Key)
		out = append(out, ' ')
		out = pdf.AppendObject(out, e.Value)
	}
	out = append(out, ">>\nendobj\n"...)

	// The field merged with its widget.
	out = u.put(out, fieldRef, pdf.Dict{
		{Key: "Type", Value: pdf.Name("Annot")}, {Key: "Subtype", Value: pdf.Name("Widget")},
		{Key: "FT", Value: pdf.Name("Sig")}, {Key: "T", Value: pdf.TextString(u.fieldName())},
		{Key: "V", Value: sigRef},
		{Key: "Rect", Value: pdf.Array{pdf.Real(req.Rect[0]), pdf.Real(req.Rect[1]), pdf.Real(req.Rect[2]), pdf.Real(req.Rect[3])}},
		{Key: "F", Value: pdf.Integer(132)}, // Print | Locked
		{Key: "P", Value: u.page.Ref},
		{Key: "AP", Value: pdf.Dict{{Key: "N", Value: formRef}}},
	})

	var err error
	if out, err = u.writePage(out, fieldRef); err != nil {
		return nil, err
	}
	if out, err = u.writeForm(out, fieldRef, sigRefDict, sigRef); err != nil {
		return nil, err
	}
	if out, err = u.writeXref(out); err != nil {
		return nil, err
	}

	// Patch /ByteRange in place now that every length is known.
	br := fmt.Appendf(nil, "0 %d %d %d", u.a, u.b, len(out)-u.b)
	if len(br) > byteRangeWidth {
		return nil, fmt.Errorf("signer: output too large for the /ByteRange placeholder")
	}
	copy(out[u.brOff+1:], br)
	return out, nil
}

func orgName(o org.Org) string {
	if o.Name != "" {
		return o.Name
	}
	return o.Code
}

// writePage appends fieldRef to the page's /Annots: the array object if
// it is indirect, else a new version of the page.
func (u *update) writePage(out []byte, fieldRef pdf.Ref) ([]byte, error) {
	page := u.page.Dict.Clone()
	switch a := page.Get("Annots").(type) {
	case nil:
		page.Set("Annots", pdf.Array{fieldRef})
	case pdf.Array:
		page.Set("Annots", append(slices.Clip(a), fieldRef))
	case pdf.Ref:
		o, err := u.f.Resolve(u.rev, a)
		if err != nil {
			return nil, fmt.Errorf("%w: page /Annots: %w", ErrMalformedPDF, err)
		}
		arr, ok := o.(pdf.Array)
		if !ok {
			if _, null := o.(pdf.Null); !null {
				return nil, fmt.Errorf("%w: page /Annots is not an array", ErrMalformedPDF)
			}
		}
		return u.put(out, a, append(slices.Clip(arr), fieldRef)), nil
	default:
		return nil, fmt.Errorf("%w: page /Annots is not an array", ErrMalformedPDF)
	}
	return u.put(out, u.page.Ref, page), nil
}

// writeForm adds the field to the /AcroForm (the form object if it is
// indirect, else the catalog) and, for a certification, /Perms.
func (u *update) writeForm(out []byte, fieldRef pdf.Ref, sigRefDict pdf.Dict, sigRef pdf.Ref) ([]byte, error) {
	cat := u.cat.Clone()
	catChanged := u.certify
	if u.certify {
		cat.Set("Perms", pdf.Dict{{Key: "DocMDP", Value: sigRef}})
	}
	var af pdf.Dict
	afRef, indirect := u.cat.Get("AcroForm").(pdf.Ref)
	if indirect {
		d, err := u.f.ResolveDict(u.rev, afRef)
		if err != nil {
			return nil, fmt.Errorf("%w: /AcroForm: %w", ErrMalformedPDF, err)
		}
		af = d.Clone()
		if d == nil {
			// A reference to nothing: give the form a fresh object.
			afRef = u.alloc()
			cat.Set("AcroForm", afRef)
			catChanged = true
		}
	} else if d, ok := u.cat.Get("AcroForm").(pdf.Dict); ok {
		af = d.Clone()
	} else if u.cat.Get("AcroForm") != nil {
		return nil, fmt.Errorf("%w: /AcroForm is not a dictionary", ErrMalformedPDF)
	} else {
		afRef, indirect = u.alloc(), true
		cat.Set("AcroForm", afRef)
		catChanged = true
	}

	switch fs := af.Get("Fields").(type) {
	case nil:
		af.Set("Fields", pdf.Array{fieldRef})
	case pdf.Array:
		af.Set("Fields", append(slices.Clip(fs), fieldRef))
	case pdf.Ref:
		o, err := u.f.Resolve(u.rev, fs)
		if err != nil {
			return nil, fmt.Errorf("%w: /Fields: %w", ErrMalformedPDF, err)
		}
		arr, ok := o.(pdf.Array)
		if !ok {
			return nil, fmt.Errorf("%w: /Fields is not an array", ErrMalformedPDF)
		}
		out = u.put(out, fs, append(slices.Clip(arr), fieldRef))
	default:
		return nil, fmt.Errorf("%w: /Fields is not an array", ErrMalformedPDF)
	}
	af.Set("SigFlags", pdf.Integer(3)) // SignaturesExist | AppendOnly
	if indirect {
		out = u.put(out, afRef, af)
	} else {
		cat.Set("AcroForm", af)
		catChanged = true
	}
	if catChanged {
		out = u.put(out, u.catRef, cat)
	}
	return out, nil
}

// writeXref appends the cross-reference section, trailer, startxref and
// %%EOF, in the kind of the input's last section.
func (u *update) writeXref(out []byte) ([]byte, error) {
	last := u.f.Revisions[u.rev]
	old := last.Trailer
	trailer := pdf.Dict{}
	var xrefRef pdf.Ref
	if last.Kind == pdf.XrefStream {
		xrefRef = u.alloc()
	}
	size := max(u.next, u.f.Size(u.rev))
	trailer = append(trailer, pdf.Entry{Key: "Size", Value: pdf.Integer(size)}, pdf.Entry{Key: "Root", Value: u.catRef})
	for _, k := range []pdf.Name{"Info", "ID"} {
		if v := old.Get(k); v != nil {
			trailer = append(trailer, pdf.Entry{Key: k, Value: v})
		}
	}
	trailer = append(trailer, pdf.Entry{Key: "Prev", Value: pdf.Integer(last.XrefOffset)})

	nums := make([]int, 0, len(u.offsets)+1)
	for n := range u.offsets {
		nums = append(nums, n)
	}
	xoff := len(out)
	if last.Kind == pdf.XrefStream {
		u.offsets[xrefRef.Num] = int64(xoff)
		nums = append(nums, xrefRef.Num)
	}
	slices.Sort(nums)
	// Subsections of consecutive numbers.
	var subs [][2]int
	for _, n := range nums {
		if k := len(subs); k > 0 && subs[k-1][0]+subs[k-1][1] == n {
			subs[k-1][1]++
		} else {
			subs = append(subs, [2]int{n, 1})
		}
	}

	if last.Kind == pdf.XrefTable {
		out = append(out, "xref\n"...)
		i := 0
		for _, s := range subs {
			out = fmt.Appendf(out, "%d %d\n", s[0], s[1])
			for range s[1] {
				n := nums[i]
				i++
				out = fmt.Appendf(out, "%010d %05d n\r\n", u.offsets[n], u.gens[n])
			}
		}
		out = append(out, "trailer\n"...)
		out = pdf.AppendObject(out, trailer)
		out = append(out, '\n')
	} else {
		w := 1
		for v := int64(xoff); v > 0xff; v >>= 8 {
			w++
		}
		data := make([]byte, 0, len(nums)*(w+3))
		for _, n := range nums {
			data = append(data, 1)
			for k := w - 1; k >= 0; k-- {
				data = append(data, byte(u.offsets[n]>>(8*k)))
			}
			g := u.gens[n]
			data = append(data, byte(g>>8), byte(g))
		}
		index := pdf.Array{}
		for _, s := range subs {
			index = append(index, pdf.Integer(s[0]), pdf.Integer(s[1]))
		}
		d := pdf.Dict{{Key: "Type", Value: pdf.Name("XRef")}}
		d = append(d, trailer...)
		d = append(d, pdf.Entry{Key: "W", Value: pdf.Array{pdf.Integer(1), pdf.Integer(w), pdf.Integer(2)}},
			pdf.Entry{Key: "Index", Value: index})
		out = pdf.AppendIndirect(out, xrefRef, &pdf.Stream{Dict: d, Raw: data})
	}
	out = fmt.Appendf(out, "startxref\n%d\n%%%%EOF\n", xoff)
	return out, nil
}

// digest is the SM3 of the bytes the /ByteRange covers, hashed in place.
func (u *update) digest(out []byte) []byte {
	h := sm3.New()
	h.Write(out[:u.a])
	h.Write(out[u.b:])
	return h.Sum(nil)
}

// fill writes the CMS into the /Contents placeholder.
func (u *update) fill(out, der []byte) error {
	if len(der) > u.contents {
		return fmt.Errorf("signer: seal of %d bytes exceeds the %d reserved", len(der), u.contents)
	}
	// The placeholder's remaining zeros are the CMS's zero padding.
	hex.Encode(out[u.a+1:], der)
	return nil
}
