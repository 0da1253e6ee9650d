package pdf

// Page is one page as seen at a revision, with inherited attributes
// resolved (§7.7.3.4).
type Page struct {
	Ref       Ref
	Dict      Dict   // the page object itself (cached: Clone before changing)
	Resources Object // inherited /Resources (a Dict or Ref), nil if absent
	MediaBox  Array  // inherited /MediaBox, resolved
	CropBox   Array  // inherited /CropBox, nil if absent
	Rotate    int64  // inherited /Rotate
}

// maxPageDepth bounds the depth of the page tree.
const maxPageDepth = 64

// Catalog returns the document catalog at revision rev and its reference.
func (f *File) Catalog(rev int) (Dict, Ref, error) {
	root, ok := f.Trailer(rev).Get("Root").(Ref)
	if !ok {
		// Older sections of a file may omit /Root; the newest defines it.
		for r := rev; r >= 0 && !ok; r-- {
			root, ok = f.Trailer(r).Get("Root").(Ref)
		}
		if !ok {
			return nil, Ref{}, errAt(-1, "trailer has no /Root")
		}
	}
	d, err := f.ResolveDict(rev, root)
	if err != nil {
		return nil, root, err
	}
	if d == nil {
		return nil, root, errAt(-1, "catalog %v is missing", root)
	}
	return d, root, nil
}

// NumPages counts the leaves of the page tree at revision rev.
func (f *File) NumPages(rev int) (int, error) {
	n := 0
	err := f.walkPages(rev, f.lim.MaxObjects, func(*Page) bool { n++; return true })
	return n, err
}

// Pages returns every page at revision rev in one walk of the page tree.
// A tree of more than maxNodes nodes (pages and intermediate nodes) is an
// error wrapping ErrLimit: a caller that knows its documents have few
// pages bounds its work by the document it expects, not by the file.
func (f *File) Pages(rev, maxNodes int) ([]*Page, error) {
	var out []*Page
	err := f.walkPages(rev, min(maxNodes, f.lim.MaxObjects), func(p *Page) bool { out = append(out, p); return true })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Page returns page n (0-based) at revision rev. It returns a nil page
// and no error when the document has fewer pages.
func (f *File) Page(rev, n int) (*Page, error) {
	var found *Page
	i := 0
	err := f.walkPages(rev, f.lim.MaxObjects, func(p *Page) bool {
		if i == n {
			found = p
			return false
		}
		i++
		return true
	})
	return found, err
}

type inherited struct {
	res    Object
	media  Object
	crop   Object
	rotate Object
}

func (f *File) walkPages(rev, maxNodes int, fn func(*Page) bool) error {
	cat, _, err := f.Catalog(rev)
	if err != nil {
		return err
	}
	root, ok := cat.Get("Pages").(Ref)
	if !ok {
		return errAt(-1, "catalog /Pages is not a reference")
	}
	seen := map[Ref]bool{}
	var walk func(ref Ref, inh inherited, depth int) (bool, error)
	walk = func(ref Ref, inh inherited, depth int) (bool, error) {
		if depth > maxPageDepth {
			return false, errCause(-1, ErrLimit, "page tree deeper than %d", maxPageDepth)
		}
		if seen[ref] {
			return false, errAt(-1, "page tree loops at %v", ref)
		}
		seen[ref] = true
		if len(seen) > maxNodes {
			return false, errCause(-1, ErrLimit, "page tree of more than %d nodes", maxNodes)
		}
		d, err := f.ResolveDict(rev, ref)
		if err != nil {
			return false, err
		}
		if d == nil {
			return false, errAt(-1, "page tree node %v is missing", ref)
		}
		if v := d.Get("Resources"); v != nil {
			inh.res = v
		}
		if v := d.Get("MediaBox"); v != nil {
			inh.media = v
		}
		if v := d.Get("CropBox"); v != nil {
			inh.crop = v
		}
		if v := d.Get("Rotate"); v != nil {
			inh.rotate = v
		}
		typ, _ := d.Name("Type")
		switch typ {
		case "Pages":
			kids, err := f.Resolve(rev, d.Get("Kids"))
			if err != nil {
				return false, err
			}
			ka, ok := kids.(Array)
			if !ok {
				return false, errAt(-1, "page tree node %v has no /Kids array", ref)
			}
			for _, k := range ka {
				kr, ok := k.(Ref)
				if !ok {
					return false, errAt(-1, "page tree node %v has a direct kid", ref)
				}
				more, err := walk(kr, inh, depth+1)
				if err != nil || !more {
					return more, err
				}
			}
			return true, nil
		case "Page":
			p := &Page{Ref: ref, Dict: d, Resources: inh.res}
			mb, err := f.Resolve(rev, inh.media)
			if err != nil {
				return false, err
			}
			if p.MediaBox, ok = mb.(Array); !ok || len(p.MediaBox) != 4 {
				return false, errAt(-1, "page %v has no valid /MediaBox", ref)
			}
			if inh.crop != nil {
				cb, err := f.Resolve(rev, inh.crop)
				if err != nil {
					return false, err
				}
				p.CropBox, _ = cb.(Array)
			}
			if inh.rotate != nil {
				r, err := f.Resolve(rev, inh.rotate)
				if err != nil {
					return false, err
				}
				ri, _ := r.(Integer)
				p.Rotate = int64(ri)
			}
			return fn(p), nil
		}
		return false, errAt(-1, "page tree node %v has /Type /%s", ref, typ)
	}
	_, err = walk(root, inherited{}, 0)
	return err
}

// Number returns the value of a numeric object.
func Number(o Object) (float64, bool) {
	switch v := o.(type) {
	case Integer:
		return float64(v), true
	case Real:
		return float64(v), true
	}
	return 0, false
}
