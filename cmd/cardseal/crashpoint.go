//go:build !crashtest

package main

import (
	"io"

	"github.com/jilin-health/cardseal/lifecycle"
)

// crashPoint returns reg: crash points exist only in binaries built with
// the crashtest tag, for cmd/cardseal/crash_test.go (crashpoint_crashtest.go).
func crashPoint(reg lifecycle.Registry, _ io.Writer) lifecycle.Registry { return reg }
