package verifier

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/jilin-health/cardseal/pdf"
)

// The difference analysis. After the first seal, a revision may add only
// what a seal adds: its signature dictionary, field and widget, the
// widget's appearance (streams, images, soft masks, fonts it uses), the
// page's /Annots entry for the widget, the AcroForm's /Fields entry and
// /SigFlags, and the revision's own cross-reference and object streams.
// Everything else a later revision defines must be byte-for-byte the same
// object as before, or the verdict is invalid and the object is named.

const maxAPDepth = 8

// role is what an existing object is to the document structure.
type role int

const (
	roleOther role = iota
	roleCatalog
	roleAcroForm
	roleFields
	rolePage
	roleAnnots
)

// The analysis is bounded (work.go): at most maxDiffSteps steps and
// maxChanges findings, and each revision's structure is walked once.
func (v *run) diff() {
	if len(v.seals) == 0 || v.seals[0].rev < 0 {
		return
	}
	first := v.seals[0].rev
	for r := first + 1; r < len(v.f.Revisions); r++ {
		if !v.alive() || len(v.rep.Changes) > maxChanges {
			return
		}
		v.diffRevision(r)
		if v.over {
			v.over = false // so that this finding is recorded
			v.change(r, nil, "the revisions redefine more than the difference analysis compares (%d steps); a cardseal revision adds one seal", maxDiffSteps)
			return
		}
	}
}

func (v *run) change(r int, ref *pdf.Ref, format string, a ...any) {
	switch n := len(v.rep.Changes); {
	case v.over || n > maxChanges:
		return
	case n == maxChanges:
		v.rep.Changes = append(v.rep.Changes, Change{Revision: r, Reason: fmt.Sprintf("more changes; the analysis stopped after %d", maxChanges)})
		return
	}
	c := Change{Revision: r, Reason: fmt.Sprintf(format, a...)}
	if ref != nil {
		c.Object = ref.String()
	}
	v.rep.Changes = append(v.rep.Changes, c)
}

func (v *run) diffRevision(r int) {
	f := v.f
	prevT, curT := f.Trailer(r-1), f.Trailer(r)
	for _, k := range []pdf.Name{"Root", "Info", "Encrypt"} {
		if o := curT.Get(k); o != nil && !v.equal(o, prevT.Get(k)) && !(k == "Root" && prevT.Get(k) == nil) {
			v.change(r, nil, "the trailer's /%s was changed", k)
		}
	}
	// What the seal of this revision (if any) may add.
	allowed := map[int]bool{}
	var newFields, newWidgets []pdf.Ref
	for _, s := range v.seals {
		if s.rev != r {
			continue
		}
		newFields = append(newFields, s.field)
		newWidgets = append(newWidgets, s.widget)
		allowed[s.field.Num] = true
		allowed[s.widget.Num] = true
		allowed[s.sig.Num] = true
		v.allowAppearance(r, s.widget, allowed)
	}
	// After the last seal: document timestamps and a Document Security
	// Store (ltv.go, dss.go), nothing else.
	sf, sw := v.stampObjects(r, allowed)
	newFields, newWidgets = append(newFields, sf...), append(newWidgets, sw...)
	if r > v.lastSealRev() {
		v.allowDSS(r, allowed)
	}
	roles, err := v.rolesAt(r)
	if err != nil {
		v.change(r, nil, "document structure: %v", err)
		return
	}
	prevRoles, err := v.rolesAt(r - 1)
	if err != nil {
		v.change(r, nil, "document structure: %v", err)
		return
	}
	// In object-number order, so that the report is the same every time.
	nums := make([]int, 0, len(f.Revisions[r].Entries))
	for num := range f.Revisions[r].Entries {
		nums = append(nums, num)
	}
	slices.Sort(nums)
	for _, num := range nums {
		if !v.step(1) || len(v.rep.Changes) > maxChanges {
			return
		}
		e := f.Revisions[r].Entries[num]
		ref := pdf.Ref{Num: num, Gen: e.Gen}
		if e.Type == pdf.Compressed {
			ref.Gen = 0
		}
		oldE, _, existed := f.Lookup(r-1, num)
		existed = existed && oldE.Type != pdf.Free
		if e.Type == pdf.Free {
			if existed {
				v.change(r, &ref, "an object was deleted")
			}
			continue
		}
		cur, err := f.Object(r, ref)
		if err != nil {
			v.change(r, &ref, "cannot be read: %v", err)
			continue
		}
		if !existed {
			if allowed[num] || structural(cur) {
				continue
			}
			if ro, ok := roles[num]; ok && ro != rolePage && ro != roleCatalog {
				// A new AcroForm, /Fields or /Annots array: judged below
				// against an empty predecessor.
				v.checkRole(r, ref, ro, nil, cur, newFields, newWidgets)
				continue
			}
			v.change(r, &ref, "a new %s that no seal accounts for", describe(cur))
			continue
		}
		oldRef := pdf.Ref{Num: num, Gen: oldE.Gen}
		if oldE.Type == pdf.Compressed {
			oldRef.Gen = 0
		}
		if oldRef.Gen != ref.Gen {
			// References written as "num oldGen R" now resolve to null:
			// whatever they drew disappears, even if the body is the same.
			v.change(r, &ref, "an object was redefined with generation %d (was %d)", ref.Gen, oldRef.Gen)
			continue
		}
		old, err := f.Object(r-1, oldRef)
		if err != nil {
			v.change(r, &ref, "earlier version cannot be read: %v", err)
			continue
		}
		if v.equal(old, cur) {
			continue
		}
		ro, ok := roles[num]
		if pro, pok := prevRoles[num]; !ok || !pok || pro != ro {
			v.change(r, &ref, "a %s was changed after sealing", describe(old))
			continue
		}
		v.checkRole(r, ref, ro, old, cur, newFields, newWidgets)
	}
}

// checkRole judges a changed structural object.
func (v *run) checkRole(r int, ref pdf.Ref, ro role, old, cur pdf.Object, newFields, newWidgets []pdf.Ref) {
	od, _ := old.(pdf.Dict)
	cd, _ := cur.(pdf.Dict)
	switch ro {
	case roleCatalog:
		if cd == nil || !v.equalExcept(od, cd, "AcroForm", "DSS") {
			v.change(r, &ref, "the catalog was changed beyond /AcroForm")
			return
		}
		if !v.dssRevs[r] && !v.equal(od.Get("DSS"), cd.Get("DSS")) {
			v.change(r, &ref, "the catalog's /DSS was changed other than by a Document Security Store added after the last seal")
			return
		}
		if oa, ca := od.Get("AcroForm"), cd.Get("AcroForm"); !v.equal(oa, ca) {
			if _, isRef := ca.(pdf.Ref); isRef {
				return // an indirect AcroForm is judged as its own object
			}
			if _, wasRef := oa.(pdf.Ref); wasRef && oa != nil {
				v.change(r, &ref, "the AcroForm was replaced")
				return
			}
			oad, _ := oa.(pdf.Dict)
			cad, _ := ca.(pdf.Dict)
			v.checkAcroForm(r, ref, oad, cad, newFields)
		}
	case roleAcroForm:
		v.checkAcroForm(r, ref, od, cd, newFields)
	case roleFields:
		oa, _ := old.(pdf.Array)
		ca, ok := cur.(pdf.Array)
		if !ok || !v.extends(oa, ca, newFields) {
			v.change(r, &ref, "the form's /Fields were changed beyond adding this revision's seal")
		}
	case rolePage:
		if cd == nil || !v.equalExcept(od, cd, "Annots") {
			v.change(r, &ref, "the page was changed beyond /Annots (content, resources or boxes)")
			return
		}
		oa, oInline := od.Get("Annots").(pdf.Array)
		ca, cInline := cd.Get("Annots").(pdf.Array)
		if _, isRef := cd.Get("Annots").(pdf.Ref); isRef {
			if od.Get("Annots") != nil && !v.equal(od.Get("Annots"), cd.Get("Annots")) {
				v.change(r, &ref, "the page's /Annots was replaced")
			}
			return
		}
		if !cInline || (od.Get("Annots") != nil && !oInline) || !v.extends(oa, ca, newWidgets) {
			v.change(r, &ref, "the page's annotations were changed beyond adding this revision's seal")
		}
	case roleAnnots:
		oa, _ := old.(pdf.Array)
		ca, ok := cur.(pdf.Array)
		if !ok || !v.extends(oa, ca, newWidgets) {
			v.change(r, &ref, "the page's annotations were changed beyond adding this revision's seal")
		}
	default:
		v.change(r, &ref, "a %s was changed after sealing", describe(old))
	}
}

func (v *run) checkAcroForm(r int, ref pdf.Ref, od, cd pdf.Dict, newFields []pdf.Ref) {
	if cd == nil || !v.equalExcept(od, cd, "Fields", "SigFlags") {
		v.change(r, &ref, "the AcroForm was changed beyond /Fields and /SigFlags")
		return
	}
	of, oc := od.Get("Fields"), cd.Get("Fields")
	if _, isRef := oc.(pdf.Ref); isRef {
		if of != nil && !v.equal(of, oc) {
			v.change(r, &ref, "the AcroForm's /Fields was replaced")
		}
		return
	}
	oa, _ := of.(pdf.Array)
	ca, ok := oc.(pdf.Array)
	if !ok || !v.extends(oa, ca, newFields) {
		v.change(r, &ref, "the form's /Fields were changed beyond adding this revision's seal")
	}
}

// rolesAt is roles at revision r, computed once per revision.
type rolesAt struct {
	m   map[int]role
	err error
}

func (v *run) rolesAt(r int) (map[int]role, error) {
	if c, ok := v.roleCache[r]; ok {
		return c.m, c.err
	}
	m, err := v.roles(r)
	if v.roleCache == nil {
		v.roleCache = map[int]rolesAt{}
	}
	v.roleCache[r] = rolesAt{m, err}
	return m, err
}

// roles maps object numbers to their structural role at revision r. The
// page tree is walked once, and only as far as a cardseal document's.
func (v *run) roles(r int) (map[int]role, error) {
	f := v.f
	m := map[int]role{}
	cat, root, err := f.Catalog(r)
	if err != nil {
		return nil, err
	}
	m[root.Num] = roleCatalog
	if ref, ok := cat.Get("AcroForm").(pdf.Ref); ok {
		m[ref.Num] = roleAcroForm
	}
	if af, err := f.ResolveDict(r, cat.Get("AcroForm")); err == nil && af != nil {
		if ref, ok := af.Get("Fields").(pdf.Ref); ok {
			m[ref.Num] = roleFields
		}
	}
	pages, err := f.Pages(r, maxPageNodes)
	if err != nil {
		return nil, err
	}
	v.step(len(pages))
	for _, p := range pages {
		m[p.Ref.Num] = rolePage
		if ref, ok := p.Dict.Get("Annots").(pdf.Ref); ok {
			m[ref.Num] = roleAnnots
		}
	}
	return m, nil
}

// allowAppearance marks the objects reachable from a new widget's
// appearance dictionary: they draw only inside the widget's rectangle.
func (v *run) allowAppearance(r int, widget pdf.Ref, allowed map[int]bool) {
	f := v.f
	w, err := f.ResolveDict(r, widget)
	if err != nil || w == nil {
		return
	}
	// Each object is walked once: an appearance whose arrays name the
	// same objects again and again is a graph, not a tree, and walking
	// it as a tree costs fan-out to the power maxAPDepth.
	seen := map[int]bool{}
	var walk func(o pdf.Object, depth int)
	walk = func(o pdf.Object, depth int) {
		if depth > maxAPDepth || !v.step(1) {
			return
		}
		if ref, ok := o.(pdf.Ref); ok {
			if seen[ref.Num] {
				return
			}
			seen[ref.Num] = true
			// Only objects this revision introduces may be taken in.
			if _, erev, ok := f.Lookup(r, ref.Num); !ok || erev != r {
				return
			}
			if e, _, ok := f.Lookup(r-1, ref.Num); ok && e.Type != pdf.Free {
				return
			}
			allowed[ref.Num] = true
			o, err = f.Object(r, ref)
			if err != nil {
				return
			}
		}
		switch t := o.(type) {
		case pdf.Dict:
			for _, e := range t {
				if e.Key == "Parent" || e.Key == "P" {
					continue
				}
				walk(e.Value, depth+1)
			}
		case *pdf.Stream:
			walk(t.Dict, depth)
		case pdf.Array:
			for _, x := range t {
				walk(x, depth+1)
			}
		}
	}
	walk(w.Get("AP"), 0)
}

func structural(o pdf.Object) bool {
	s, ok := o.(*pdf.Stream)
	if !ok {
		return false
	}
	t, _ := s.Dict.Name("Type")
	return t == "XRef" || t == "ObjStm"
}

func describe(o pdf.Object) string {
	switch t := o.(type) {
	case pdf.Dict:
		if ty, ok := t.Name("Type"); ok {
			if st, ok := t.Name("Subtype"); ok {
				return fmt.Sprintf("/%s /%s object", ty, st)
			}
			return fmt.Sprintf("/%s object", ty)
		}
		if st, ok := t.Name("Subtype"); ok {
			return fmt.Sprintf("/%s annotation or object", st)
		}
		return "dictionary"
	case *pdf.Stream:
		if st, ok := t.Dict.Name("Subtype"); ok {
			return fmt.Sprintf("/%s stream", st)
		}
		return "stream (page content or data)"
	case pdf.Array:
		return "array"
	}
	return fmt.Sprintf("%T", o)
}

// extends reports whether cur is old followed only by refs from extra.
func (v *run) extends(old, cur pdf.Array, extra []pdf.Ref) bool {
	if len(cur) < len(old) || !v.step((len(cur)-len(old))*len(extra)) {
		return false
	}
	for i := range old {
		if !v.equal(old[i], cur[i]) {
			return false
		}
	}
	for _, o := range cur[len(old):] {
		ref, ok := o.(pdf.Ref)
		if !ok {
			return false
		}
		found := false
		for _, x := range extra {
			if x == ref {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// equalExcept compares two dictionaries ignoring the given keys. Large
// dictionaries are indexed, so the comparison is linear.
func (v *run) equalExcept(a, b pdf.Dict, except ...pdf.Name) bool {
	if !v.step(len(a) + len(b)) {
		return false
	}
	skip := func(k pdf.Name) bool {
		return slices.Contains(except, k)
	}
	get := b.Get
	if len(b) > 16 {
		idx := make(map[pdf.Name]pdf.Object, len(b))
		for _, e := range b {
			idx[e.Key] = e.Value
		}
		get = func(k pdf.Name) pdf.Object {
			if _, null := idx[k].(pdf.Null); null {
				return nil
			}
			return idx[k]
		}
	}
	n := 0
	for _, e := range a {
		if skip(e.Key) {
			continue
		}
		n++
		if !v.equal(e.Value, get(e.Key)) {
			return false
		}
	}
	m := 0
	for _, e := range b {
		if !skip(e.Key) {
			m++
		}
	}
	return n == m
}

// equal is deep equality of PDF objects (dictionary key order ignored).
// Each call is a step of the analysis; once the allowance is spent it
// answers false, and diff reports the bound rather than a change. The
// same parsed object (one definition that two revisions point at)
// compares equal without a walk.
func (v *run) equal(a, b pdf.Object) bool {
	if !v.step(1) {
		return false
	}
	if a == nil || b == nil {
		_, an := a.(pdf.Null)
		_, bn := b.(pdf.Null)
		return (a == nil || an) && (b == nil || bn)
	}
	switch x := a.(type) {
	case pdf.Dict:
		y, ok := b.(pdf.Dict)
		if !ok || len(x) != len(y) {
			return false
		}
		return len(x) == 0 || &x[0] == &y[0] || v.equalExcept(x, y)
	case pdf.Array:
		y, ok := b.(pdf.Array)
		if !ok || len(x) != len(y) {
			return false
		}
		if len(x) == 0 || &x[0] == &y[0] {
			return true
		}
		for i := range x {
			if !v.equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case *pdf.Stream:
		y, ok := b.(*pdf.Stream)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		return v.step(len(x.Raw)/256) && v.equal(x.Dict, y.Dict) && bytes.Equal(x.Raw, y.Raw)
	case pdf.String:
		y, ok := b.(pdf.String)
		return ok && v.step(len(x.Bytes)/256) && bytes.Equal(x.Bytes, y.Bytes)
	case pdf.Integer:
		switch y := b.(type) {
		case pdf.Integer:
			return x == y
		case pdf.Real:
			return float64(x) == float64(y)
		}
		return false
	case pdf.Real:
		switch y := b.(type) {
		case pdf.Real:
			return x == y
		case pdf.Integer:
			return float64(x) == float64(y)
		}
		return false
	}
	return a == b
}
