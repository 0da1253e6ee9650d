package pdf

import (
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

const hexDigits = "0123456789ABCDEF"

// AppendObject appends o in canonical PDF syntax: single spaces between
// tokens, names with #xx escapes, literal strings with every delimiter
// escaped, reals without exponents. A *Stream is written as its
// dictionary with /Length set to len(Raw), then its data.
func AppendObject(buf []byte, o Object) []byte {
	switch v := o.(type) {
	case nil, Null:
		return append(buf, "null"...)
	case Bool:
		if v {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case Integer:
		return strconv.AppendInt(buf, int64(v), 10)
	case Real:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(buf, '0')
		}
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return strconv.AppendInt(buf, int64(f), 10)
		}
		return strconv.AppendFloat(buf, f, 'f', -1, 64)
	case Name:
		return appendName(buf, v)
	case String:
		if v.Hex {
			return appendHex(buf, v.Bytes)
		}
		return appendLiteral(buf, v.Bytes)
	case Array:
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ' ')
			}
			buf = AppendObject(buf, e)
		}
		return append(buf, ']')
	case Dict:
		buf = append(buf, "<<"...)
		for _, e := range v {
			buf = appendName(buf, e.Key)
			buf = append(buf, ' ')
			buf = AppendObject(buf, e.Value)
		}
		return append(buf, ">>"...)
	case Ref:
		buf = strconv.AppendInt(buf, int64(v.Num), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(v.Gen), 10)
		return append(buf, " R"...)
	case *Stream:
		d := v.Dict.Clone()
		d.Set("Length", Integer(len(v.Raw)))
		buf = AppendObject(buf, d)
		buf = append(buf, "\nstream\n"...)
		buf = append(buf, v.Raw...)
		return append(buf, "\nendstream"...)
	}
	panic("pdf: AppendObject of unknown type")
}

// AppendIndirect appends "num gen obj\n<o>\nendobj\n".
func AppendIndirect(buf []byte, ref Ref, o Object) []byte {
	buf = strconv.AppendInt(buf, int64(ref.Num), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(ref.Gen), 10)
	buf = append(buf, " obj\n"...)
	buf = AppendObject(buf, o)
	return append(buf, "\nendobj\n"...)
}

func appendName(buf []byte, n Name) []byte {
	buf = append(buf, '/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c > 0x7e || c == '#' || isDelim(c) {
			buf = append(buf, '#', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		buf = append(buf, c)
	}
	return buf
}

func appendHex(buf, b []byte) []byte {
	buf = append(buf, '<')
	for _, c := range b {
		buf = append(buf, hexDigits[c>>4], hexDigits[c&15])
	}
	return append(buf, '>')
}

func appendLiteral(buf, b []byte) []byte {
	buf = append(buf, '(')
	for _, c := range b {
		switch c {
		case '(', ')', '\\':
			buf = append(buf, '\\', c)
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\n':
			buf = append(buf, '\\', 'n')
		default:
			if c < 0x20 || c > 0x7e {
				buf = append(buf, '\\', '0'+c>>6, '0'+(c>>3)&7, '0'+c&7)
				continue
			}
			buf = append(buf, c)
		}
	}
	return append(buf, ')')
}

// TextString encodes s as a PDF text string (§7.9.2.2): UTF-16BE with a
// byte-order mark, written as a hex string so that no character of s can
// end the string early.
func TextString(s string) String {
	b := make([]byte, 2, 2+2*len(s))
	b[0], b[1] = 0xfe, 0xff
	for _, r := range s {
		if r == utf8.RuneError {
			r = '\uFFFD'
		}
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			b = append(b, byte(r1>>8), byte(r1), byte(r2>>8), byte(r2))
			continue
		}
		b = append(b, byte(r>>8), byte(r))
	}
	return String{Bytes: b, Hex: true}
}

// pdfDoc maps the PDFDocEncoding bytes that differ from Latin-1.
var pdfDoc = map[byte]rune{
	0x18: '\u02D8', 0x19: '\u02C7', 0x1A: '\u02C6', 0x1B: '\u02D9', 0x1C: '\u02DD', 0x1D: '\u02DB', 0x1E: '\u02DA', 0x1F: '\u02DC',
	0x80: '\u2022', 0x81: '\u2020', 0x82: '\u2021', 0x83: '\u2026', 0x84: '\u2014', 0x85: '\u2013', 0x86: '\u0192', 0x87: '\u2044',
	0x88: '\u2039', 0x89: '\u203A', 0x8A: '\u2212', 0x8B: '\u2030', 0x8C: '\u201E', 0x8D: '\u201C', 0x8E: '\u201D', 0x8F: '\u2018',
	0x90: '\u2019', 0x91: '\u201A', 0x92: '\u2122', 0x93: '\uFB01', 0x94: '\uFB02', 0x95: '\u0141', 0x96: '\u0152', 0x97: '\u0160',
	0x98: '\u0178', 0x99: '\u017D', 0x9A: '\u0131', 0x9B: '\u0142', 0x9C: '\u0153', 0x9D: '\u0161', 0x9E: '\u017E', 0xA0: '\u20AC',
}

// Text decodes a text string: UTF-16BE or UTF-8 with their byte-order
// marks, else PDFDocEncoding.
func (s String) Text() string {
	b := s.Bytes
	switch {
	case len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff:
		u := make([]uint16, 0, (len(b)-2)/2)
		for i := 2; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		}
		return string(utf16.Decode(u))
	case len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf:
		return string(b[3:])
	}
	r := make([]rune, len(b))
	for i, c := range b {
		if m, ok := pdfDoc[c]; ok {
			r[i] = m
		} else {
			r[i] = rune(c)
		}
	}
	return string(r)
}

// Date formats t as a PDF date string (§7.9.4) in t's own zone, e.g.
// D:20260101120000+08'00'.
func Date(t time.Time) String {
	b := t.AppendFormat(make([]byte, 0, 24), "D:20060102150405")
	_, off := t.Zone()
	if off == 0 {
		b = append(b, 'Z')
	} else {
		sign := byte('+')
		if off < 0 {
			sign, off = '-', -off
		}
		h, m := off/3600, off%3600/60
		b = append(b, sign, byte('0'+h/10), byte('0'+h%10), '\'', byte('0'+m/10), byte('0'+m%10), '\'')
	}
	return String{Bytes: b}
}

// ParseDate parses a PDF date string; omitted fields take their
// defaults (§7.9.4) and a missing zone means UTC.
func ParseDate(s String) (time.Time, error) {
	b := s.Bytes
	if len(b) >= 2 && b[0] == 'D' && b[1] == ':' {
		b = b[2:]
	}
	num := func(n, def, lo, hi int) (int, error) {
		if len(b) == 0 || b[0] < '0' || b[0] > '9' {
			return def, nil
		}
		if len(b) < n {
			return 0, errAt(-1, "bad date %q", s.Bytes)
		}
		v := 0
		for i := 0; i < n; i++ {
			if b[i] < '0' || b[i] > '9' {
				return 0, errAt(-1, "bad date %q", s.Bytes)
			}
			v = v*10 + int(b[i]-'0')
		}
		b = b[n:]
		if v < lo || v > hi {
			return 0, errAt(-1, "bad date %q", s.Bytes)
		}
		return v, nil
	}
	if len(b) < 4 {
		return time.Time{}, errAt(-1, "bad date %q", s.Bytes)
	}
	var f [6]int
	var err error
	spec := [6][4]int{{4, 0, 0, 9999}, {2, 1, 1, 12}, {2, 1, 1, 31}, {2, 0, 0, 23}, {2, 0, 0, 59}, {2, 0, 0, 59}}
	for i, sp := range spec {
		if f[i], err = num(sp[0], sp[1], sp[2], sp[3]); err != nil {
			return time.Time{}, err
		}
	}
	loc := time.UTC
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		sign := 1
		if b[0] == '-' {
			sign = -1
		}
		b = b[1:]
		h, err := num(2, 0, 0, 23)
		if err != nil {
			return time.Time{}, err
		}
		if len(b) > 0 && b[0] == '\'' {
			b = b[1:]
		}
		m, err := num(2, 0, 0, 59)
		if err != nil {
			return time.Time{}, err
		}
		loc = time.FixedZone("", sign*(h*3600+m*60))
	}
	return time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], 0, loc), nil
}
