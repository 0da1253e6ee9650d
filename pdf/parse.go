package pdf

import (
	"bytes"
	"math"
	"strconv"
)

// Lexical classes of ISO 32000-1 §7.2.2.
func isWhite(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c byte) bool { return !isWhite(c) && !isDelim(c) }

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ParseObject parses data as one direct object (or a reference), with
// only white space and comments around it, nested at most
// DefaultLimits.MaxDepth deep. Errors wrap ErrMalformed.
func ParseObject(data []byte) (Object, error) {
	p := &parser{buf: data, maxDepth: DefaultLimits.MaxDepth}
	o, err := p.parseObject()
	if err != nil {
		return nil, err
	}
	if p.skipWS(); p.pos != len(data) {
		return nil, p.errf("data after the object")
	}
	return o, nil
}

// parser reads objects from buf. base is the file offset of buf[0] for
// error messages (-1 when buf is decoded stream data).
type parser struct {
	buf      []byte
	pos      int
	base     int64
	depth    int
	maxDepth int
	// f, when set, counts every object parsed against the file's
	// Limits.MaxElements.
	f *File
}

func (p *parser) off() int64 {
	if p.base < 0 {
		return -1
	}
	return p.base + int64(p.pos)
}

func (p *parser) errf(format string, args ...any) error { return errAt(p.off(), format, args...) }

// skipWS skips white space and comments.
func (p *parser) skipWS() {
	for p.pos < len(p.buf) {
		c := p.buf[p.pos]
		if isWhite(c) {
			p.pos++
			continue
		}
		if c == '%' {
			for p.pos < len(p.buf) && p.buf[p.pos] != '\r' && p.buf[p.pos] != '\n' {
				p.pos++
			}
			continue
		}
		return
	}
}

// keyword returns the run of regular characters at pos without consuming it.
func (p *parser) peekKeyword() []byte {
	i := p.pos
	for i < len(p.buf) && isRegular(p.buf[i]) {
		i++
	}
	return p.buf[p.pos:i]
}

// expectKeyword skips white space and consumes kw, which must be
// followed by a non-regular character or the end of input.
func (p *parser) expectKeyword(kw string) error {
	p.skipWS()
	if string(p.peekKeyword()) != kw {
		return p.errf("expected %q", kw)
	}
	p.pos += len(kw)
	return nil
}

// parseObject parses one direct object (or a reference).
func (p *parser) parseObject() (Object, error) {
	p.skipWS()
	if p.pos >= len(p.buf) {
		return nil, p.errf("unexpected end of data")
	}
	if f := p.f; f != nil {
		if f.elements++; f.elements > int64(f.lim.MaxElements) {
			return nil, errCause(p.off(), ErrLimit, "more than %d objects parsed in the file", f.lim.MaxElements)
		}
	}
	switch c := p.buf[p.pos]; c {
	case '/':
		p.pos++
		n, err := p.parseName()
		return n, err
	case '(':
		p.pos++
		return p.parseLiteral()
	case '<':
		if p.pos+1 < len(p.buf) && p.buf[p.pos+1] == '<' {
			p.pos += 2
			return p.parseDict()
		}
		p.pos++
		return p.parseHex()
	case '[':
		p.pos++
		return p.parseArray()
	case '+', '-', '.', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return p.parseNumberOrRef()
	default:
		kw := p.peekKeyword()
		switch string(kw) {
		case "true":
			p.pos += 4
			return Bool(true), nil
		case "false":
			p.pos += 5
			return Bool(false), nil
		case "null":
			p.pos += 4
			return Null{}, nil
		}
		if len(kw) == 0 {
			return nil, p.errf("unexpected character %q", c)
		}
		return nil, p.errf("unexpected keyword %.20q", kw)
	}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > p.maxDepth {
		return errCause(p.off(), ErrLimit, "nesting deeper than %d", p.maxDepth)
	}
	return nil
}

func (p *parser) parseArray() (Object, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	var a Array
	for {
		p.skipWS()
		if p.pos >= len(p.buf) {
			return nil, p.errf("unterminated array")
		}
		if p.buf[p.pos] == ']' {
			p.pos++
			if a == nil {
				a = Array{}
			}
			return a, nil
		}
		o, err := p.parseObject()
		if err != nil {
			return nil, err
		}
		a = append(a, o)
	}
}

func (p *parser) parseDict() (Dict, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	d := make(Dict, 0, 8)
	// Duplicate keys are refused. Small dictionaries are searched; a
	// large one keeps a set, so that a dictionary of n keys costs O(n),
	// not O(n²) (a 10 MB trailer of a million keys would otherwise take
	// minutes).
	var keys map[Name]bool
	for {
		p.skipWS()
		if p.pos >= len(p.buf) {
			return nil, p.errf("unterminated dictionary")
		}
		if p.buf[p.pos] == '>' {
			if p.pos+1 < len(p.buf) && p.buf[p.pos+1] == '>' {
				p.pos += 2
				return d, nil
			}
			return nil, p.errf("'>' inside dictionary")
		}
		if p.buf[p.pos] != '/' {
			return nil, p.errf("dictionary key is not a name")
		}
		p.pos++
		k, err := p.parseName()
		if err != nil {
			return nil, err
		}
		v, err := p.parseObject()
		if err != nil {
			return nil, err
		}
		if keys == nil && len(d) >= smallDict {
			keys = make(map[Name]bool, 2*len(d))
			for _, e := range d {
				keys[e.Key] = true
			}
		}
		dup := keys[k]
		if keys == nil {
			for i := range d {
				dup = dup || d[i].Key == k
			}
		}
		if dup {
			return nil, p.errf("duplicate dictionary key /%s", k)
		}
		if keys != nil {
			keys[k] = true
		}
		d = append(d, Entry{k, v})
	}
}

// smallDict is the size up to which a dictionary being parsed is searched
// for duplicate keys rather than indexed.
const smallDict = 16

func (p *parser) parseName() (Name, error) {
	start := p.pos
	for p.pos < len(p.buf) && isRegular(p.buf[p.pos]) {
		p.pos++
	}
	raw := p.buf[start:p.pos]
	if bytes.IndexByte(raw, '#') < 0 {
		return Name(raw), nil
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] != '#' {
			out = append(out, raw[i])
			continue
		}
		if i+2 >= len(raw) {
			return "", p.errf("truncated #xx escape in name")
		}
		h, ok1 := unhex(raw[i+1])
		l, ok2 := unhex(raw[i+2])
		if !ok1 || !ok2 || (h == 0 && l == 0) {
			return "", p.errf("bad #xx escape in name")
		}
		out = append(out, h<<4|l)
		i += 2
	}
	return Name(out), nil
}

func (p *parser) parseLiteral() (Object, error) {
	start := p.pos
	// Fast path: no escapes, no nested parentheses, no CR.
	for i := start; i < len(p.buf); i++ {
		c := p.buf[i]
		if c == ')' {
			p.pos = i + 1
			return String{Bytes: p.buf[start:i:i]}, nil
		}
		if c == '\\' || c == '(' || c == '\r' {
			break
		}
	}
	out := make([]byte, 0, 32)
	nest := 0
	for p.pos < len(p.buf) {
		c := p.buf[p.pos]
		p.pos++
		switch c {
		case '(':
			nest++
		case ')':
			if nest == 0 {
				return String{Bytes: out}, nil
			}
			nest--
		case '\r':
			// An unescaped end-of-line is read as a single LF.
			if p.pos < len(p.buf) && p.buf[p.pos] == '\n' {
				p.pos++
			}
			c = '\n'
		case '\\':
			if p.pos >= len(p.buf) {
				return nil, p.errf("unterminated string")
			}
			e := p.buf[p.pos]
			p.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '(', ')', '\\':
				c = e
			case '\r':
				if p.pos < len(p.buf) && p.buf[p.pos] == '\n' {
					p.pos++
				}
				continue // line continuation
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && p.pos < len(p.buf) && p.buf[p.pos] >= '0' && p.buf[p.pos] <= '7'; k++ {
						v = v*8 + int(p.buf[p.pos]-'0')
						p.pos++
					}
					c = byte(v) // high-order overflow is ignored (§7.3.4.2)
				} else {
					c = e // unknown escape: the backslash is ignored
				}
			}
		}
		out = append(out, c)
	}
	return nil, errAt(p.base+int64(start), "unterminated string")
}

// hexClass maps a byte to its hex value, hexWhite or hexBad.
var hexClass = func() (t [256]int8) {
	for i := range t {
		c := byte(i)
		switch v, ok := unhex(c); {
		case ok:
			t[i] = int8(v)
		case isWhite(c):
			t[i] = hexWhite
		default:
			t[i] = hexBad
		}
	}
	return t
}()

const (
	hexWhite = -1
	hexBad   = -2
)

func (p *parser) parseHex() (Object, error) {
	n := bytes.IndexByte(p.buf[p.pos:], '>')
	if n < 0 {
		return nil, p.errf("unterminated hex string")
	}
	src := p.buf[p.pos : p.pos+n]
	out := make([]byte, 0, (len(src)+1)/2)
	// Fast path: pairs of digits without white space.
	i := 0
	for ; i+1 < len(src); i += 2 {
		a, b := hexClass[src[i]], hexClass[src[i+1]]
		if a|b < 0 {
			break
		}
		out = append(out, byte(a)<<4|byte(b))
	}
	var hi byte
	half := false
	for ; i < len(src); i++ {
		c := src[i]
		v := hexClass[c]
		if v < 0 {
			if v == hexWhite {
				continue
			}
			return nil, errAt(p.off()+int64(i), "bad character %q in hex string", c)
		}
		if half {
			out = append(out, hi<<4|byte(v))
		} else {
			hi = byte(v)
		}
		half = !half
	}
	if half {
		out = append(out, hi<<4)
	}
	p.pos += n + 1
	return String{Bytes: out, Hex: true}, nil
}

// parseNumberOrRef parses a number; a non-negative integer followed by a
// second one and R is a reference.
func (p *parser) parseNumberOrRef() (Object, error) {
	first := p.buf[p.pos]
	n, err := p.parseNumber()
	if err != nil {
		return nil, err
	}
	i, ok := n.(Integer)
	if !ok || first < '0' || first > '9' {
		return n, nil
	}
	// A reference is "num gen R": look for the generation and the R
	// without parsing them as objects, since most numbers are not
	// references (an array of numbers would otherwise be read twice).
	save := p.pos
	p.skipWS()
	start, gen := p.pos, 0
	for p.pos < len(p.buf) && p.buf[p.pos] >= '0' && p.buf[p.pos] <= '9' && p.pos-start < 64 {
		gen = min(gen*10+int(p.buf[p.pos]-'0'), 1<<20)
		p.pos++
	}
	if p.pos > start && gen <= 65535 && (p.pos == len(p.buf) || !isRegular(p.buf[p.pos])) {
		p.skipWS()
		if p.pos < len(p.buf) && p.buf[p.pos] == 'R' && (p.pos+1 == len(p.buf) || !isRegular(p.buf[p.pos+1])) {
			p.pos++
			if i > math.MaxInt32 {
				return nil, p.errf("object number %d out of range", i)
			}
			return Ref{Num: int(i), Gen: gen}, nil
		}
	}
	p.pos = save
	return n, nil
}

func (p *parser) parseNumber() (Object, error) {
	start := p.pos
	tok := p.peekKeyword()
	p.pos += len(tok)
	s := tok
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits, dots := 0, 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return nil, errAt(p.base+int64(start), "bad number %.20q", tok)
		}
	}
	if digits == 0 || dots > 1 || len(tok) > 64 {
		return nil, errAt(p.base+int64(start), "bad number %.20q", tok)
	}
	if dots == 0 {
		v, err := strconv.ParseInt(string(tok), 10, 64)
		if err != nil {
			return nil, errAt(p.base+int64(start), "integer %.20q out of range", tok)
		}
		return Integer(v), nil
	}
	v, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return nil, errAt(p.base+int64(start), "bad real %.20q", tok)
	}
	return Real(v), nil
}

// parseUint parses a non-negative decimal integer token.
func (p *parser) parseUint() (int64, error) {
	p.skipWS()
	start := p.pos
	var v int64
	for p.pos < len(p.buf) && p.buf[p.pos] >= '0' && p.buf[p.pos] <= '9' {
		if v > (math.MaxInt64-9)/10 {
			return 0, p.errf("integer out of range")
		}
		v = v*10 + int64(p.buf[p.pos]-'0')
		p.pos++
	}
	if p.pos == start || (p.pos < len(p.buf) && isRegular(p.buf[p.pos])) {
		return 0, errAt(p.base+int64(start), "expected an unsigned integer")
	}
	return v, nil
}
