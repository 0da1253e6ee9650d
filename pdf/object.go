// Package pdf is cardseal's strict, bounded PDF reader and object
// serializer.
//
// The reader keeps every revision of a document apart: each incremental
// update's own cross-reference section (classic table or cross-reference
// stream), its trailer, its entries and the byte offset where it ends. It
// never repairs a damaged file: anything it cannot read exactly as ISO
// 32000-1 describes is an error wrapping ErrMalformed. Every input is
// bounded (file size, nesting depth, object count, decoded stream size),
// and the input slice is never copied: streams are sub-slices of it.
//
// The serializer (AppendObject, TextString, Date) writes the canonical
// syntax the signer appends in new revisions.
package pdf

import (
	"errors"
	"fmt"
)

// Object is one PDF object: Null, Bool, Integer, Real, Name, String,
// Array, Dict, Ref or *Stream.
type Object interface{ isObject() }

// Null is the null object.
type Null struct{}

// Bool is a boolean object.
type Bool bool

// Integer is an integer object.
type Integer int64

// Real is a real number object.
type Real float64

// Name is a name object, without the leading slash and with #xx decoded.
type Name string

// String is a string object. Hex records how it was (or is to be)
// written: <...> rather than (...).
type String struct {
	Bytes []byte
	Hex   bool
}

// Array is an array object.
type Array []Object

// Ref is an indirect reference "Num Gen R".
type Ref struct {
	Num int
	Gen int
}

// Stream is a stream object. Raw is the encoded data, a sub-slice of the
// file for parsed streams (never modify it).
type Stream struct {
	Dict Dict
	Raw  []byte
	// Offset is the file offset of Raw's first byte (-1 inside object
	// streams, where streams cannot occur, or for new streams).
	Offset int64
}

func (Null) isObject()    {}
func (Bool) isObject()    {}
func (Integer) isObject() {}
func (Real) isObject()    {}
func (Name) isObject()    {}
func (String) isObject()  {}
func (Array) isObject()   {}
func (Dict) isObject()    {}
func (Ref) isObject()     {}
func (*Stream) isObject() {}

// String returns "Num Gen R".
func (r Ref) String() string { return fmt.Sprintf("%d %d R", r.Num, r.Gen) }

// Entry is one key/value pair of a Dict.
type Entry struct {
	Key   Name
	Value Object
}

// Dict is a dictionary object. It keeps the order of its keys so that a
// parsed dictionary is re-serialized as it was read; keys are unique.
type Dict []Entry

// Get returns the value of key k, or nil when absent. A null value is
// reported as absent (ISO 32000-1 §7.3.7).
func (d Dict) Get(k Name) Object {
	for i := range d {
		if d[i].Key == k {
			if _, ok := d[i].Value.(Null); ok {
				return nil
			}
			return d[i].Value
		}
	}
	return nil
}

// Set replaces the value of k or appends it.
func (d *Dict) Set(k Name, v Object) {
	for i := range *d {
		if (*d)[i].Key == k {
			(*d)[i].Value = v
			return
		}
	}
	*d = append(*d, Entry{k, v})
}

// Delete removes k.
func (d *Dict) Delete(k Name) {
	for i := range *d {
		if (*d)[i].Key == k {
			*d = append((*d)[:i:i], (*d)[i+1:]...)
			return
		}
	}
}

// Clone returns a copy of d whose entries can be changed without
// affecting d (values are shared).
func (d Dict) Clone() Dict {
	return append(Dict(nil), d...)
}

// Name returns the value of k if it is a name.
func (d Dict) Name(k Name) (Name, bool) {
	n, ok := d.Get(k).(Name)
	return n, ok
}

// Int returns the value of k if it is an integer.
func (d Dict) Int(k Name) (int64, bool) {
	n, ok := d.Get(k).(Integer)
	return int64(n), ok
}

// ErrMalformed is wrapped by every error the reader returns for input
// that is not a well-formed PDF (or exceeds a bound).
var ErrMalformed = errors.New("malformed PDF")

// ErrUnsupported is wrapped (together with ErrMalformed) for well-formed
// features this reader deliberately does not implement, such as filters
// other than FlateDecode or encrypted documents.
var ErrUnsupported = errors.New("unsupported PDF feature")

// ErrLimit is wrapped (together with ErrMalformed) when the input exceeds
// one of the Limits.
var ErrLimit = errors.New("PDF exceeds a limit")

// SyntaxError reports where the input is malformed. It matches
// ErrMalformed with errors.Is, and its cause (if any) as well.
type SyntaxError struct {
	Offset int64 // byte offset in the file, -1 if unknown
	Msg    string
	Err    error // ErrUnsupported, ErrLimit or a decoder error; may be nil
}

func (e *SyntaxError) Error() string {
	s := "pdf: " + e.Msg
	if e.Offset >= 0 {
		s = fmt.Sprintf("pdf: offset %d: %s", e.Offset, e.Msg)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrMalformed and the cause.
func (e *SyntaxError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrMalformed, e.Err}
	}
	return []error{ErrMalformed}
}

func errAt(off int64, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func errCause(off int64, cause error, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...), Err: cause}
}
