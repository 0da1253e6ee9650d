package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
)

// maxRefHops bounds reference chains and nested lookups.
const maxRefHops = 32

// parseIndirect parses "num gen obj ... endobj" at off. length resolves
// an indirect /Length (nil: only direct lengths are accepted). It
// returns the object and the offset just past "endobj".
func (f *File) parseIndirect(off int64, length func(Ref) (Object, error)) (Ref, Object, int, error) {
	p := &parser{buf: f.Data, pos: int(off), maxDepth: f.lim.MaxDepth, f: f}
	num, err := p.parseUint()
	if err != nil {
		return Ref{}, nil, 0, err
	}
	gen, err := p.parseUint()
	if err != nil {
		return Ref{}, nil, 0, err
	}
	if num > 1<<31-1 || gen > 65535 {
		return Ref{}, nil, 0, errAt(off, "object number out of range")
	}
	ref := Ref{int(num), int(gen)}
	if err := p.expectKeyword("obj"); err != nil {
		return ref, nil, 0, err
	}
	obj, err := p.parseObject()
	if err != nil {
		return ref, nil, 0, err
	}
	p.skipWS()
	if string(p.peekKeyword()) == "stream" {
		d, ok := obj.(Dict)
		if !ok {
			return ref, nil, 0, p.errf("stream keyword after a non-dictionary")
		}
		p.pos += len("stream")
		switch {
		case bytes.HasPrefix(p.buf[p.pos:], []byte("\r\n")):
			p.pos += 2
		case p.pos < len(p.buf) && p.buf[p.pos] == '\n':
			p.pos++
		default:
			return ref, nil, 0, p.errf("stream keyword not followed by an end-of-line")
		}
		lo := d.Get("Length")
		if r, ok := lo.(Ref); ok && length != nil {
			if lo, err = length(r); err != nil {
				return ref, nil, 0, err
			}
		}
		n, ok := lo.(Integer)
		if !ok || n < 0 || int64(n) > int64(len(p.buf)-p.pos) {
			return ref, nil, 0, p.errf("stream /Length missing or outside the file")
		}
		start := p.pos
		p.pos += int(n)
		s := &Stream{Dict: d, Raw: p.buf[start:p.pos:p.pos], Offset: int64(start)}
		// An end-of-line may precede endstream (§7.3.8.1).
		if bytes.HasPrefix(p.buf[p.pos:], []byte("\r\n")) {
			p.pos += 2
		} else if p.pos < len(p.buf) && (p.buf[p.pos] == '\n' || p.buf[p.pos] == '\r') {
			p.pos++
		}
		if !bytes.HasPrefix(p.buf[p.pos:], []byte("endstream")) {
			return ref, nil, 0, p.errf("stream /Length %d does not end at endstream", n)
		}
		p.pos += len("endstream")
		obj = s
	}
	if err := p.expectKeyword("endobj"); err != nil {
		return ref, nil, 0, err
	}
	return ref, obj, p.pos, nil
}

// Object returns the object ref as seen at revision rev: the latest
// definition at or before rev. An undefined or free object is Null
// (§7.3.10). Results are cached; do not modify them (Dict.Clone first).
func (f *File) Object(rev int, ref Ref) (Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.object(rev, ref)
}

func (f *File) object(rev int, ref Ref) (Object, error) {
	if rev < 0 || rev >= len(f.Revisions) {
		return nil, errAt(-1, "no revision %d", rev)
	}
	f.nest++
	defer func() { f.nest-- }()
	if f.nest > maxRefHops {
		return nil, errAt(-1, "object %v: lookups nest too deeply", ref)
	}
	e, erev, ok := f.Lookup(rev, ref.Num)
	if !ok || e.Type == Free {
		return Null{}, nil
	}
	switch e.Type {
	case InUse:
		if e.Gen != ref.Gen {
			return Null{}, nil
		}
		c, ok := f.objs[objKey{e.Offset, -1}]
		if !ok {
			c, ok = f.objs[objKey{e.Offset, erev}]
		}
		if !ok {
			k := objKey{e.Offset, -1}
			got, o, _, err := f.parseIndirect(e.Offset, func(l Ref) (Object, error) {
				k.rev = erev // the object now depends on the revision
				return f.resolve(erev, l)
			})
			if err != nil {
				return nil, err
			}
			c = cached{got, o}
			f.objs[k] = c
		}
		// Checked on every use: two entries pointing at the same bytes
		// do not make one object the other.
		if c.ref != ref {
			return nil, errAt(e.Offset, "cross-reference entry for %v points at object %v", ref, c.ref)
		}
		return c.obj, nil
	default: // Compressed
		if ref.Gen != 0 {
			return Null{}, nil
		}
		se, srev, ok := f.Lookup(erev, e.Stream)
		if !ok || se.Type != InUse {
			return nil, errAt(-1, "object %v: object stream %d is not a plain object", ref, e.Stream)
		}
		so, err := f.object(srev, Ref{e.Stream, se.Gen})
		if err != nil {
			return nil, err
		}
		s, ok := so.(*Stream)
		if !ok {
			return nil, errAt(se.Offset, "object stream %d is not a stream", e.Stream)
		}
		os, err := f.objStream(s)
		if err != nil {
			return nil, err
		}
		return os.get(f, e.Index, ref.Num)
	}
}

// Resolve follows references from o as seen at revision rev.
func (f *File) Resolve(rev int, o Object) (Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resolve(rev, o)
}

func (f *File) resolve(rev int, o Object) (Object, error) {
	for i := 0; i < maxRefHops; i++ {
		r, ok := o.(Ref)
		if !ok {
			return o, nil
		}
		var err error
		if o, err = f.object(rev, r); err != nil {
			return nil, err
		}
	}
	return nil, errAt(-1, "reference chain longer than %d", maxRefHops)
}

// ResolveDict resolves o and requires a dictionary (a stream's
// dictionary does not count). A null or absent object yields nil, nil.
func (f *File) ResolveDict(rev int, o Object) (Dict, error) {
	o, err := f.Resolve(rev, o)
	if err != nil || o == nil {
		return nil, err
	}
	switch v := o.(type) {
	case Dict:
		return v, nil
	case Null:
		return nil, nil
	}
	return nil, errAt(-1, "expected a dictionary, found %T", o)
}

type objStream struct {
	data  []byte
	first int
	nums  []int
	offs  []int
	objs  []Object
}

func (f *File) objStream(s *Stream) (*objStream, error) {
	k := stmKey{s.Offset, len(s.Raw)}
	if r, ok := f.objstms[k]; ok {
		return r.os, r.err
	}
	os, err := f.readObjStream(s)
	f.objstms[k] = objStreamResult{os, err}
	return os, err
}

func (f *File) readObjStream(s *Stream) (*objStream, error) {
	if t, _ := s.Dict.Name("Type"); t != "ObjStm" {
		return nil, errAt(s.Offset, "object stream has /Type /%s", t)
	}
	n, ok1 := s.Dict.Int("N")
	first, ok2 := s.Dict.Int("First")
	if !ok1 || !ok2 || n < 0 || first < 0 || n > int64(f.lim.MaxObjects) {
		return nil, errAt(s.Offset, "object stream without valid /N and /First")
	}
	data, err := f.decode(s)
	if err != nil {
		return nil, err
	}
	if first > int64(len(data)) {
		return nil, errAt(s.Offset, "object stream /First beyond its data")
	}
	os := &objStream{data: data, first: int(first)}
	p := &parser{buf: data[:first], base: -1, maxDepth: f.lim.MaxDepth}
	prev := -1
	for i := int64(0); i < n; i++ {
		num, err := p.parseUint()
		if err != nil {
			return nil, errCause(s.Offset, err, "object stream header")
		}
		off, err := p.parseUint()
		if err != nil {
			return nil, errCause(s.Offset, err, "object stream header")
		}
		if off > int64(len(data))-first || int(off) < prev {
			return nil, errAt(s.Offset, "object stream offsets out of order or range")
		}
		prev = int(off)
		os.nums = append(os.nums, int(num))
		os.offs = append(os.offs, int(off))
	}
	os.objs = make([]Object, n)
	return os, nil
}

func (os *objStream) get(f *File, i, num int) (Object, error) {
	if i < 0 || i >= len(os.nums) || os.nums[i] != num {
		return nil, errAt(-1, "object %d is not at index %d of its object stream", num, i)
	}
	if o := os.objs[i]; o != nil {
		return o, nil
	}
	end := len(os.data)
	if i+1 < len(os.offs) {
		end = os.first + os.offs[i+1]
	}
	p := &parser{buf: os.data[:end], pos: os.first + os.offs[i], base: -1, maxDepth: f.lim.MaxDepth, f: f}
	o, err := p.parseObject()
	if err != nil {
		return nil, err
	}
	os.objs[i] = o
	return o, nil
}

// Inflated returns the bytes the reader has inflated so far, over every
// stream, also those that then failed; Limits.MaxDecoded bounds it.
func (f *File) Inflated() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.decoded
}

// Elements returns the objects parsed so far (Limits.MaxElements).
func (f *File) Elements() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.elements
}

// Decode returns the decoded data of s. Only FlateDecode (with PNG
// predictors) is supported; decoded sizes are capped by the Limits.
func (f *File) Decode(s *Stream) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.decode(s)
}

func (f *File) decode(s *Stream) ([]byte, error) {
	var filter Name
	var parms Dict
	switch v := s.Dict.Get("Filter").(type) {
	case nil:
		return s.Raw, nil
	case Name:
		filter = v
		parms, _ = s.Dict.Get("DecodeParms").(Dict)
	case Array:
		if len(v) == 0 {
			return s.Raw, nil
		}
		if len(v) != 1 {
			return nil, errCause(s.Offset, ErrUnsupported, "filter chain of %d filters", len(v))
		}
		filter, _ = v[0].(Name)
		switch pa := s.Dict.Get("DecodeParms").(type) {
		case Array:
			if len(pa) == 1 {
				parms, _ = pa[0].(Dict)
			}
		case Dict:
			parms = pa
		}
	default:
		return nil, errAt(s.Offset, "bad /Filter")
	}
	if filter != "FlateDecode" {
		return nil, errCause(s.Offset, ErrUnsupported, "filter /%s", filter)
	}
	max := f.lim.MaxStreamSize
	if left := f.lim.MaxDecoded - f.decoded; left < max {
		max = left
	}
	if max <= 0 {
		return nil, errCause(s.Offset, ErrLimit, "decoded data of the file exceeds %d bytes", f.lim.MaxDecoded)
	}
	zr, err := zlib.NewReader(bytes.NewReader(s.Raw))
	if err != nil {
		return nil, errCause(s.Offset, err, "FlateDecode")
	}
	var buf bytes.Buffer
	buf.Grow(min(len(s.Raw)*4, int(max)+1))
	n, err := io.Copy(&buf, io.LimitReader(zr, max+1))
	// Every byte inflated counts, also when the stream then fails: a bomb
	// asked for again finds the file's allowance spent.
	f.decoded += n
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, errCause(s.Offset, err, "FlateDecode")
	}
	if err != nil {
		return nil, errCause(s.Offset, err, "FlateDecode: truncated data")
	}
	if n > max {
		return nil, errCause(s.Offset, ErrLimit, "decoded stream exceeds %d bytes", max)
	}
	out := buf.Bytes()
	if parms != nil {
		return unpredict(out, parms, s.Offset)
	}
	return out, nil
}

// unpredict reverses a PNG predictor (§7.4.4.4) in place.
func unpredict(data []byte, parms Dict, off int64) ([]byte, error) {
	pred, _ := parms.Int("Predictor")
	if pred <= 1 {
		return data, nil
	}
	if pred < 10 || pred > 15 {
		return nil, errCause(off, ErrUnsupported, "predictor %d", pred)
	}
	colors, bpc, cols := int64(1), int64(8), int64(1)
	if v, ok := parms.Int("Colors"); ok {
		colors = v
	}
	if v, ok := parms.Int("BitsPerComponent"); ok {
		bpc = v
	}
	if v, ok := parms.Int("Columns"); ok {
		cols = v
	}
	if colors < 1 || colors > 32 || (bpc != 1 && bpc != 2 && bpc != 4 && bpc != 8 && bpc != 16) || cols < 1 || cols > 1<<20 {
		return nil, errAt(off, "bad predictor parameters")
	}
	bpp := int((colors*bpc + 7) / 8)
	row := int((colors*bpc*cols + 7) / 8)
	if len(data)%(row+1) != 0 {
		return nil, errAt(off, "predicted data is not a whole number of rows")
	}
	out := data[:0]
	prev := make([]byte, row)
	for i := 0; i < len(data); i += row + 1 {
		typ := data[i]
		cur := data[i+1 : i+1+row]
		for j := range cur {
			var a, b, c byte
			if j >= bpp {
				a = cur[j-bpp]
				c = prev[j-bpp]
			}
			b = prev[j]
			switch typ {
			case 0:
			case 1:
				cur[j] += a
			case 2:
				cur[j] += b
			case 3:
				cur[j] += byte((int(a) + int(b)) / 2)
			case 4:
				cur[j] += paeth(a, b, c)
			default:
				return nil, errAt(off, "bad PNG filter type %d", typ)
			}
		}
		copy(prev, cur)
		out = append(out, cur...) // out trails the reads, so this is safe
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
