package archtest

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxLines bounds a non-test Go file of the application packages: a file
// longer than that holds more than one concern (issue 13).
const maxLines = 600

// applicationDirs are the application packages, with the packages below
// them.
var applicationDirs = []string{"api", "lifecycle", "store", "staff", "audit", "card", "org", "cmd/cardseal", "config"}

// overLimit are files known to be over maxLines when this test was
// written, each with its length then. Each is being reworked by other
// work in progress; the test fails if one grows, and fails once it is
// short enough, so that its entry is removed with the fix.
var overLimit = map[string]int{}

func TestFileSize(t *testing.T) {
	root := filepath.Join("..", "..")
	seen := 0
	for _, dir := range applicationDirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			seen++
			n := bytes.Count(b, []byte("\n"))
			if len(b) > 0 && b[len(b)-1] != '\n' {
				n++
			}
			name, _ := filepath.Rel(root, path)
			name = filepath.ToSlash(name)
			known, ok := overLimit[name]
			switch {
			case ok && n <= maxLines:
				t.Errorf("%s has %d lines now, within %d: remove it from overLimit", name, n, maxLines)
			case ok && n > known:
				t.Errorf("%s has %d lines, more than the %d it had when it was let off: split it by concern", name, n, known)
			case !ok && n > maxLines:
				t.Errorf("%s has %d lines, over %d: split it by concern", name, n, maxLines)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for name := range overLimit {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			t.Errorf("%s is let off the limit but %v: remove it from overLimit", name, err)
		}
	}
	if seen < len(applicationDirs) {
		t.Fatalf("found %d Go files in the application packages: the test looks in the wrong place", seen)
	}
}
