package pdf

import (
	"bytes"
	"sort"
	"sync"
)

// Limits bound what the reader accepts. The zero value of a field means
// the DefaultLimits value.
type Limits struct {
	MaxFileSize   int64 // bytes of input
	MaxDepth      int   // nesting of arrays and dictionaries
	MaxObjects    int   // cross-reference entries over all revisions
	MaxRevisions  int   // cross-reference sections
	MaxStreamSize int64 // decoded bytes of one stream
	MaxDecoded    int64 // decoded bytes over the whole file
	// MaxElements bounds the objects parsed over the whole file: every
	// number, name, string, reference, array and dictionary counts one,
	// each time it is parsed. The time to parse a file of small objects
	// grows with their number, not with their bytes.
	MaxElements int
}

// DefaultLimits suits cards and notices with ample margin.
var DefaultLimits = Limits{
	MaxFileSize:   64 << 20,
	MaxDepth:      64,
	MaxObjects:    500_000,
	MaxRevisions:  256,
	MaxStreamSize: 16 << 20,
	MaxDecoded:    64 << 20,
	MaxElements:   1 << 24,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxFileSize > 0 {
		d.MaxFileSize = l.MaxFileSize
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxObjects > 0 {
		d.MaxObjects = l.MaxObjects
	}
	if l.MaxRevisions > 0 {
		d.MaxRevisions = l.MaxRevisions
	}
	if l.MaxStreamSize > 0 {
		d.MaxStreamSize = l.MaxStreamSize
	}
	if l.MaxDecoded > 0 {
		d.MaxDecoded = l.MaxDecoded
	}
	if l.MaxElements > 0 {
		d.MaxElements = l.MaxElements
	}
	return d
}

// XrefKind is how a revision's cross-reference section is written.
type XrefKind int

const (
	XrefTable  XrefKind = iota // classic "xref" table and "trailer"
	XrefStream                 // cross-reference stream (/Type /XRef)
)

func (k XrefKind) String() string {
	if k == XrefStream {
		return "stream"
	}
	return "table"
}

// EntryType is the kind of a cross-reference entry.
type EntryType uint8

const (
	Free       EntryType = iota // free (deleted) object
	InUse                       // object at a byte offset
	Compressed                  // object inside an object stream
)

// XrefEntry is one cross-reference entry. For InUse, Offset and Gen are
// set; for Compressed, Stream (the object stream's number) and Index.
type XrefEntry struct {
	Type   EntryType
	Gen    int
	Offset int64
	Stream int
	Index  int
}

// Revision is one revision of the document: the objects its
// cross-reference section defines and the bytes up to its %%EOF.
type Revision struct {
	// XrefOffset is the offset of the cross-reference section (the
	// startxref value pointing at it).
	XrefOffset int64
	Kind       XrefKind
	// XrefStm is the offset of a hybrid file's supplementary
	// cross-reference stream, or 0.
	XrefStm int64
	Trailer Dict
	Entries map[int]XrefEntry
	// Start is where the revision's bytes begin (the previous
	// revision's End, 0 for the first) and End is just past its
	// %%EOF marker and one end-of-line, if present.
	Start, End int64
	// EOF is the offset of the revision's %%EOF marker.
	EOF int64
}

// File is a parsed PDF. Methods are safe for concurrent use.
type File struct {
	// Data is the input, never copied or modified.
	Data []byte
	// Version is the header version, e.g. "1.7".
	Version string
	// Revisions are oldest first; a linearized file's two sections
	// count as one revision.
	Revisions []*Revision
	// EOFs are the offsets of every "%%EOF" in the file, in order.
	EOFs []int64
	// Trailing holds the bytes after the last revision's End when they
	// are not all white space: data appended without a revision.
	Trailing []byte

	lim Limits
	// defs lists, for each object number, the revisions whose
	// cross-reference sections define it, oldest first: Lookup is a
	// binary search, not a walk back through up to MaxRevisions maps.
	defs     map[int][]int
	mu       sync.Mutex
	objs     map[objKey]cached
	objstms  map[stmKey]objStreamResult
	decoded  int64
	elements int64
	nest     int
}

// objKey names a parsed object: its offset, and the revision whose
// objects resolved an indirect stream /Length, or -1 when nothing
// indirect was resolved and the bytes alone determine the object. An
// object that many revisions' cross-reference sections point at is so
// parsed once, not once per revision.
type objKey struct {
	off int64
	rev int
}

// cached is a parsed object and the reference its bytes carry.
type cached struct {
	ref Ref
	obj Object
}

// stmKey names an object stream by where its data lies.
type stmKey struct {
	off int64
	n   int
}

// objStreamResult is a decoded object stream or why it cannot be; a
// failure is kept too, so that a bomb is decompressed once, not once
// per object that points into it.
type objStreamResult struct {
	os  *objStream
	err error
}

// Parse reads the structure of data with DefaultLimits.
func Parse(data []byte) (*File, error) { return ParseLimits(data, Limits{}) }

// ParseLimits reads the structure of data: header, every
// cross-reference section along the /Prev chain, trailers and %%EOF
// markers. Objects are parsed lazily by Object.
func ParseLimits(data []byte, lim Limits) (*File, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxFileSize {
		return nil, errCause(-1, ErrLimit, "file of %d bytes exceeds %d", len(data), lim.MaxFileSize)
	}
	f := &File{Data: data, lim: lim, objs: make(map[objKey]cached), objstms: make(map[stmKey]objStreamResult)}
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return nil, errAt(0, "no %%PDF- header")
	}
	v := data[5:]
	i := 0
	for i < len(v) && i < 8 && (v[i] == '.' || v[i] >= '0' && v[i] <= '9') {
		i++
	}
	if i < 3 {
		return nil, errAt(5, "bad header version")
	}
	f.Version = string(v[:i])
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("%%EOF"))
		if j < 0 {
			break
		}
		f.EOFs = append(f.EOFs, int64(i+j))
		i += j + 5
	}
	sx := bytes.LastIndex(data, []byte("startxref"))
	if sx < 0 {
		return nil, errAt(-1, "no startxref")
	}
	p := &parser{buf: data, pos: sx + len("startxref"), maxDepth: lim.MaxDepth}
	off, err := p.parseUint()
	if err != nil {
		return nil, err
	}
	if err := f.readChain(off); err != nil {
		return nil, err
	}
	last := f.Revisions[len(f.Revisions)-1]
	if rest := data[last.End:]; len(bytes.Trim(rest, "\x00\t\n\f\r ")) > 0 {
		f.Trailing = rest
	}
	return f, nil
}

// readChain follows /Prev (and /XRefStm) from the newest section.
func (f *File) readChain(off int64) error {
	var secs []*Revision // newest first
	seen := map[int64]bool{}
	total := 0
	for {
		if seen[off] {
			return errAt(off, "cross-reference chain loops")
		}
		seen[off] = true
		if len(secs) >= f.lim.MaxRevisions {
			return errCause(off, ErrLimit, "more than %d cross-reference sections", f.lim.MaxRevisions)
		}
		if off <= 0 || off >= int64(len(f.Data)) {
			return errAt(off, "cross-reference offset out of file")
		}
		r := &Revision{XrefOffset: off, Entries: map[int]XrefEntry{}}
		var end int
		var err error
		if bytes.HasPrefix(f.Data[off:], []byte("xref")) {
			end, err = f.readTable(r, &total)
		} else {
			end, err = f.readXrefStream(off, r.Entries, &r.Trailer, &total)
			r.Kind = XrefStream
		}
		if err != nil {
			return err
		}
		if err := f.readEOF(r, end); err != nil {
			return err
		}
		if r.Kind == XrefTable {
			if x, ok := r.Trailer.Get("XRefStm").(Integer); ok {
				if x <= 0 || int64(x) >= int64(len(f.Data)) || seen[int64(x)] {
					return errAt(off, "bad /XRefStm %d", x)
				}
				seen[int64(x)] = true
				r.XrefStm = int64(x)
				var d Dict
				hyb := map[int]XrefEntry{}
				if _, err := f.readXrefStream(int64(x), hyb, &d, &total); err != nil {
					return err
				}
				for n, e := range hyb {
					if old, ok := r.Entries[n]; !ok || old.Type == Free {
						r.Entries[n] = e
					}
				}
			}
		}
		if _, ok := r.Trailer.Get("Root").(Ref); !ok && len(secs) == 0 {
			return errAt(off, "trailer has no /Root reference")
		}
		secs = append(secs, r)
		prev := r.Trailer.Get("Prev")
		if prev == nil {
			break
		}
		pi, ok := prev.(Integer)
		if !ok {
			return errAt(off, "/Prev is not an integer")
		}
		off = int64(pi)
	}
	// Oldest first; a section that ends before its predecessor's end is
	// the first-page section of a linearized file and belongs to it.
	for i := len(secs) - 1; i >= 0; i-- {
		r := secs[i]
		n := len(f.Revisions)
		if n > 0 && r.End <= f.Revisions[n-1].End {
			old := f.Revisions[n-1]
			if n > 1 || old.XrefStm != 0 || r.XrefStm != 0 {
				return errAt(r.XrefOffset, "cross-reference section ends before the previous revision")
			}
			for k, e := range r.Entries {
				old.Entries[k] = e
			}
			t := old.Trailer.Clone()
			for _, e := range r.Trailer {
				if e.Key != "Prev" {
					t.Set(e.Key, e.Value)
				}
			}
			t.Delete("Prev")
			old.Trailer = t
			old.XrefOffset, old.Kind = r.XrefOffset, r.Kind
			continue
		}
		if n > 0 {
			r.Start = f.Revisions[n-1].End
		}
		f.Revisions = append(f.Revisions, r)
	}
	f.defs = make(map[int][]int, total)
	for i, r := range f.Revisions {
		for num := range r.Entries {
			f.defs[num] = append(f.defs[num], i)
		}
	}
	return nil
}

// readEOF finds "startxref N %%EOF" right after a section ending at pos.
func (f *File) readEOF(r *Revision, pos int) error {
	d := f.Data
	skip := func() {
		for pos < len(d) && isWhite(d[pos]) {
			pos++
		}
	}
	skip()
	if !bytes.HasPrefix(d[pos:], []byte("startxref")) {
		return errAt(int64(pos), "no startxref after cross-reference section")
	}
	pos += len("startxref")
	skip()
	n := 0
	for pos < len(d) && d[pos] >= '0' && d[pos] <= '9' {
		pos++
		n++
	}
	if n == 0 {
		return errAt(int64(pos), "startxref without offset")
	}
	skip()
	if !bytes.HasPrefix(d[pos:], []byte("%%EOF")) {
		return errAt(int64(pos), "no %%%%EOF after startxref")
	}
	r.EOF = int64(pos)
	pos += 5
	if pos < len(d) && d[pos] == '\r' {
		pos++
	}
	if pos < len(d) && d[pos] == '\n' {
		pos++
	}
	r.End = int64(pos)
	return nil
}

func (f *File) readTable(r *Revision, total *int) (int, error) {
	p := &parser{buf: f.Data, pos: int(r.XrefOffset), maxDepth: f.lim.MaxDepth, f: f}
	if err := p.expectKeyword("xref"); err != nil {
		return 0, err
	}
	for {
		p.skipWS()
		if string(p.peekKeyword()) == "trailer" {
			p.pos += len("trailer")
			break
		}
		start, err := p.parseUint()
		if err != nil {
			return 0, err
		}
		count, err := p.parseUint()
		if err != nil {
			return 0, err
		}
		if count > int64(f.lim.MaxObjects) || start > int64(f.lim.MaxObjects) || *total+int(count) > f.lim.MaxObjects {
			return 0, errCause(p.off(), ErrLimit, "too many cross-reference entries")
		}
		*total += int(count)
		for k := int64(0); k < count; k++ {
			off, err := p.parseUint()
			if err != nil {
				return 0, err
			}
			gen, err := p.parseUint()
			if err != nil {
				return 0, err
			}
			p.skipWS()
			kw := p.peekKeyword()
			p.pos += len(kw)
			num := int(start + k)
			if gen > 65535 {
				return 0, p.errf("generation %d out of range", gen)
			}
			switch string(kw) {
			case "n":
				if off <= 0 || off >= int64(len(f.Data)) {
					return 0, p.errf("object %d offset %d out of file", num, off)
				}
				r.Entries[num] = XrefEntry{Type: InUse, Offset: off, Gen: int(gen)}
			case "f":
				r.Entries[num] = XrefEntry{Type: Free, Gen: int(gen)}
			default:
				return 0, p.errf("bad cross-reference entry type %.8q", kw)
			}
		}
	}
	d, err := (&parser{buf: f.Data, pos: p.pos, maxDepth: f.lim.MaxDepth, f: f}).parseTrailer()
	if err != nil {
		return 0, err
	}
	r.Trailer = d.dict
	return d.end, nil
}

type trailerResult struct {
	dict Dict
	end  int
}

func (p *parser) parseTrailer() (trailerResult, error) {
	p.skipWS()
	if !bytes.HasPrefix(p.buf[p.pos:], []byte("<<")) {
		return trailerResult{}, p.errf("trailer is not a dictionary")
	}
	p.pos += 2
	d, err := p.parseDict()
	if err != nil {
		return trailerResult{}, err
	}
	return trailerResult{d, p.pos}, nil
}

func (f *File) readXrefStream(off int64, entries map[int]XrefEntry, trailer *Dict, total *int) (int, error) {
	_, obj, end, err := f.parseIndirect(off, nil)
	if err != nil {
		return 0, err
	}
	s, ok := obj.(*Stream)
	if !ok {
		return 0, errAt(off, "cross-reference section is neither a table nor a stream")
	}
	if t, _ := s.Dict.Name("Type"); t != "XRef" {
		return 0, errAt(off, "cross-reference stream has /Type /%s", t)
	}
	data, err := f.decode(s)
	if err != nil {
		return 0, err
	}
	wa, ok := s.Dict.Get("W").(Array)
	if !ok || len(wa) != 3 {
		return 0, errAt(off, "bad /W")
	}
	var w [3]int
	for i, o := range wa {
		n, ok := o.(Integer)
		if !ok || n < 0 || n > 8 {
			return 0, errAt(off, "bad /W")
		}
		w[i] = int(n)
	}
	size, ok := s.Dict.Int("Size")
	if !ok || size < 0 || size > int64(f.lim.MaxObjects) {
		return 0, errAt(off, "bad /Size")
	}
	index := Array{Integer(0), Integer(size)}
	if o := s.Dict.Get("Index"); o != nil {
		if index, ok = o.(Array); !ok || len(index)%2 != 0 {
			return 0, errAt(off, "bad /Index")
		}
	}
	rowLen := w[0] + w[1] + w[2]
	if rowLen == 0 {
		return 0, errAt(off, "bad /W")
	}
	pos := 0
	for i := 0; i < len(index); i += 2 {
		start, ok1 := index[i].(Integer)
		count, ok2 := index[i+1].(Integer)
		if !ok1 || !ok2 || start < 0 || count < 0 || int64(start) > int64(f.lim.MaxObjects) || int64(count) > int64(f.lim.MaxObjects) || *total+int(count) > f.lim.MaxObjects {
			return 0, errAt(off, "bad /Index")
		}
		*total += int(count)
		if int64(len(data)-pos) < int64(count)*int64(rowLen) {
			return 0, errAt(off, "cross-reference stream too short for /Index")
		}
		for k := 0; k < int(count); k++ {
			row := data[pos : pos+rowLen]
			pos += rowLen
			typ := uint64(1)
			if w[0] > 0 {
				typ = be(row[:w[0]])
			}
			f2 := be(row[w[0] : w[0]+w[1]])
			f3 := be(row[w[0]+w[1]:])
			num := int(start) + k
			switch typ {
			case 0:
				entries[num] = XrefEntry{Type: Free, Gen: int(f3 & 0xffff)}
			case 1:
				if f2 == 0 || f2 >= uint64(len(f.Data)) || f3 > 65535 {
					return 0, errAt(off, "object %d offset %d out of file", num, f2)
				}
				entries[num] = XrefEntry{Type: InUse, Offset: int64(f2), Gen: int(f3)}
			case 2:
				if f2 > uint64(f.lim.MaxObjects) || f3 > uint64(f.lim.MaxObjects) {
					return 0, errAt(off, "object %d: bad object stream entry", num)
				}
				entries[num] = XrefEntry{Type: Compressed, Stream: int(f2), Index: int(f3)}
			default:
				// Unknown types are references to the null object (§7.5.8.3).
			}
		}
	}
	d := s.Dict.Clone()
	for _, k := range []Name{"Length", "Filter", "DecodeParms", "W", "Index", "Type"} {
		d.Delete(k)
	}
	*trailer = d
	return end, nil
}

func be(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// Latest returns the index of the newest revision.
func (f *File) Latest() int { return len(f.Revisions) - 1 }

// Trailer returns revision rev's trailer dictionary.
func (f *File) Trailer(rev int) Dict { return f.Revisions[rev].Trailer }

// Encrypted reports whether the document is encrypted (/Encrypt in the
// newest trailer). This reader does not decrypt.
func (f *File) Encrypted() bool { return f.Trailer(f.Latest()).Get("Encrypt") != nil }

// Lookup returns the entry that defines object num as seen at revision
// rev, and the revision that defines it.
func (f *File) Lookup(rev, num int) (XrefEntry, int, bool) {
	if rev >= len(f.Revisions) {
		rev = len(f.Revisions) - 1
	}
	revs := f.defs[num]
	i := sort.SearchInts(revs, rev+1) - 1
	if i < 0 {
		return XrefEntry{}, -1, false
	}
	return f.Revisions[revs[i]].Entries[num], revs[i], true
}

// Size returns the trailer /Size of revision rev: one more than the
// highest object number in use.
func (f *File) Size(rev int) int {
	n, _ := f.Trailer(rev).Int("Size")
	max := int(n)
	for r := 0; r <= rev; r++ {
		for k := range f.Revisions[r].Entries {
			if k >= max {
				max = k + 1
			}
		}
	}
	return max
}
