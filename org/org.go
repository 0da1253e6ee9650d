// Package org owns the organisations that review and seal cards and the
// statistical division codes (统计用区划代码) that name them: the three
// approval levels, the significant form of a code, and the jurisdiction
// rule (a county contains its townships and villages by code prefix).
//
// It is a leaf: templates, token, chain and the registry use these types
// without pulling in the keystore. The registry of organisations itself
// (names, retirement) lives in the database; package keys holds only key
// material.
package org

import (
	"errors"
	"fmt"
	"strings"
)

// Level is an approval level of the seal chain.
type Level string

const (
	Village  Level = "village"
	Township Level = "township"
	County   Level = "county"
)

// Levels lists the levels from the lowest to the highest.
var Levels = []Level{Village, Township, County}

// ErrBadCode is returned for a malformed division code or level.
var ErrBadCode = errors.New("malformed division code")

// ErrUnknown is returned for a division code with no organisation in the
// registry.
var ErrUnknown = errors.New("unknown organisation")

// ErrDuplicate is returned when an organisation with the code exists.
var ErrDuplicate = errors.New("organisation exists")

// CodeLen is the number of significant digits of a division code for
// each level: county 6, township 9, village 12.
func (l Level) CodeLen() int {
	switch l {
	case County:
		return 6
	case Township:
		return 9
	case Village:
		return 12
	}
	return 0
}

// Valid reports whether l is one of the three levels.
func (l Level) Valid() bool { return l.CodeLen() != 0 }

// Chinese returns the label printed on the card's seal boxes.
func (l Level) Chinese() string {
	switch l {
	case Village:
		return "村(居)级"
	case Township:
		return "乡(镇、街道)级"
	case County:
		return "县级"
	}
	return string(l)
}

// ParseLevel parses "village", "township" or "county".
func ParseLevel(s string) (Level, error) {
	l := Level(s)
	if !l.Valid() {
		return "", fmt.Errorf("%w: unknown level %q", ErrBadCode, s)
	}
	return l, nil
}

// Org is an organisation that applies seals: a village (or residents')
// committee, a township government or street office, or a county health
// authority. Code is the 12-digit statistical division code (统计用区划代码);
// a township's code ends in 000, a county's in 000000.
type Org struct {
	Code  string `json:"code"`
	Level Level  `json:"level"`
	Name  string `json:"name"`
	// Retired organisations (merged into another, closed) apply no new
	// seal; their old seals keep verifying.
	Retired bool `json:"retired,omitempty"`
}

// NormalizeCode accepts a division code written with its significant
// digits only (6, 9 or 12) or padded with zeros to 12, and returns the
// significant form together with the level it implies.
func NormalizeCode(code string) (string, Level, error) {
	for _, r := range code {
		if r < '0' || r > '9' {
			return "", "", fmt.Errorf("%w: %q is not all digits", ErrBadCode, code)
		}
	}
	switch len(code) {
	case 6:
		return code, County, nil
	case 9:
		return code, Township, nil
	case 12:
		switch {
		case strings.HasSuffix(code, "000000"):
			return code[:6], County, nil
		case strings.HasSuffix(code, "000"):
			return code[:9], Township, nil
		}
		return code, Village, nil
	}
	return "", "", fmt.Errorf("%w: %q must have 6, 9 or 12 digits", ErrBadCode, code)
}

// Validate checks that the code and level agree and the name is present.
func (o Org) Validate() error {
	if !o.Level.Valid() {
		return fmt.Errorf("%w: unknown level %q", ErrBadCode, o.Level)
	}
	if len(o.Code) != o.Level.CodeLen() {
		return fmt.Errorf("%w: a %s code has %d digits, %q has %d", ErrBadCode, o.Level, o.Level.CodeLen(), o.Code, len(o.Code))
	}
	if _, l, err := NormalizeCode(o.Code); err != nil || l != o.Level {
		return fmt.Errorf("%w: %q is not a %s code", ErrBadCode, o.Code, o.Level)
	}
	if strings.TrimSpace(o.Name) == "" {
		return fmt.Errorf("organisation %s has no name", o.Code)
	}
	return nil
}

// Contains reports whether the organisation's jurisdiction includes the
// division code: county 220102 contains township 220102001 and village
// 220102001001. An organisation contains its own code.
func (o Org) Contains(code string) bool {
	return len(code) >= len(o.Code) && strings.HasPrefix(code, o.Code)
}

// CountyCode returns the 6-digit county part of a division code.
func CountyCode(code string) string {
	if len(code) < 6 {
		return code
	}
	return code[:6]
}

// Padded returns the 12-digit form of a significant code.
func Padded(code string) string {
	return code + strings.Repeat("0", 12-len(code))
}
