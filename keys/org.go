package keys

import "github.com/jilin-health/cardseal/org"

// The organisation and division-code types moved to package org, a leaf
// that templates, token and chain import without the keystore. These
// aliases keep the key-handling code readable while it is migrated; new
// code uses package org directly.
type (
	Level = org.Level
	Org   = org.Org
)

const (
	Village  = org.Village
	Township = org.Township
	County   = org.County
)

var (
	Levels        = org.Levels
	ErrBadCode    = org.ErrBadCode
	NormalizeCode = org.NormalizeCode
	ParseLevel    = org.ParseLevel
	CountyCode    = org.CountyCode
	Padded        = org.Padded
)
