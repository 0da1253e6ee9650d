package org

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Window is where citizens are served in person and can ask questions:
// the consultation address and telephone of a county's or a township's
// service window (办事指南, Art. 18). Windows are configuration (the
// setting "windows", a CSV file; docs/service-windows.md).
type Window struct {
	Code    string // the county's or township's division code
	Address string
	Phone   string
	Hours   string // office hours, free text; may be empty
}

// ErrWindows wraps every problem of a windows file.
var ErrWindows = errors.New("invalid service windows file")

// windowHeader is the first line of a windows file.
var windowHeader = []string{"code", "address", "phone", "hours"}

// ParseWindows reads a windows file: UTF-8 CSV with the header
// code,address,phone,hours and one window per line; code is a county
// (6 digits) or township (9 digits) division code, address and phone are
// required (at most 200 and 40 characters), hours may be empty (at most
// 100). A code may appear once.
func ParseWindows(r io.Reader) ([]Window, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(windowHeader)
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWindows, err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != strings.Join(windowHeader, ",") {
		return nil, fmt.Errorf("%w: the first line must be %s", ErrWindows, strings.Join(windowHeader, ","))
	}
	seen := map[string]bool{}
	var out []Window
	for i, row := range rows[1:] {
		line := i + 2
		w := Window{Code: strings.TrimSpace(row[0]), Address: strings.TrimSpace(row[1]), Phone: strings.TrimSpace(row[2]), Hours: strings.TrimSpace(row[3])}
		code, l, err := NormalizeCode(w.Code)
		if err != nil || l == Village {
			return nil, fmt.Errorf("%w: line %d: %q is not a county or township division code", ErrWindows, line, w.Code)
		}
		w.Code = code
		if seen[w.Code] {
			return nil, fmt.Errorf("%w: line %d: %s appears twice", ErrWindows, line, w.Code)
		}
		seen[w.Code] = true
		for _, f := range []struct {
			name, v  string
			max      int
			required bool
		}{{"address", w.Address, 200, true}, {"phone", w.Phone, 40, true}, {"hours", w.Hours, 100, false}} {
			n := utf8.RuneCountInString(f.v)
			if !utf8.ValidString(f.v) || (f.required && n == 0) || n > f.max || strings.ContainsFunc(f.v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return nil, fmt.Errorf("%w: line %d: %s must be 1 to %d characters of text", ErrWindows, line, f.name, f.max)
			}
		}
		out = append(out, w)
	}
	return out, nil
}
