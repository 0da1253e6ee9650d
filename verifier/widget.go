package verifier

import (
	"errors"

	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/pdf"
)

// The seal's visible part: its widget, where it lies on the first page.

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
