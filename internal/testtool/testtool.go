// Package testtool finds the external programs tests use (poppler, zbar,
// qpdf). Outside CI a missing program skips the test with the package to
// install; under CI (CI set) it fails the test, so CI never silently skips
// what it can run.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// packages maps each program to the Debian package that provides it.
var packages = map[string]string{
	"pdftotext": "poppler-utils",
	"pdftoppm":  "poppler-utils",
	"pdffonts":  "poppler-utils",
	"pdfsig":    "poppler-utils",
	"pdfinfo":   "poppler-utils",
	"zbarimg":   "zbar-tools",
	"qpdf":      "qpdf",
	"chromium":  "chromium",
}

// Require returns the path of the program or stops the test.
func Require(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " not found (Debian package " + packages[name] + "); scripts/test.sh installs it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
