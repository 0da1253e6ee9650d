package archtest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// maxLines bounds a non-test Go file of any package of the module, the
// seal core as much as the application half: a file longer than that
// holds more than one concern (issue 13).
const maxLines = 600

// mustSee are packages, of both halves, whose files the walk must reach:
// if it does not, it looks in the wrong place.
var mustSee = []string{
	// The application half.
	"api", "lifecycle", "store", "staff", "audit", "card", "org", "cmd/cardseal", "config",
	// The seal core.
	"pdf", "seal", "signer", "verifier", "chain", "keys", "templates", "token", "statuslist", "tsa",
}

// overLimit are files known to be over maxLines, each with its length
// when it was let off. The test fails if one grows, and fails once it is
// short enough, so that its entry is removed with the fix. Empty: keep
// it so.
var overLimit = map[string]int{}

func TestFileSize(t *testing.T) {
	root := filepath.Join("..", "..")
	lengths, err := goFileLengths(root)
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	for name := range lengths {
		dirs[filepath.ToSlash(filepath.Dir(name))] = true
	}
	for _, d := range mustSee {
		if !dirs[d] {
			t.Fatalf("found no Go file in %s: the test looks in the wrong place", d)
		}
	}
	for _, msg := range sizeProblems(lengths, overLimit) {
		t.Error(msg)
	}
	for name := range overLimit {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			t.Errorf("%s is let off the limit but %v: remove it from overLimit", name, err)
		}
	}
}

// TestFileSizeCatchesLongFile runs the same walk and judgement over a
// made-up tree: a long file in a seal-core package is caught, a long
// test file, a file in testdata and one in a hidden directory are not,
// and a let-off file that grew or shrank is named.
func TestFileSizeCatchesLongFile(t *testing.T) {
	root := t.TempDir()
	write := func(name string, lines int) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte("//\n"), lines), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("seal/long.go", maxLines+1)
	write("seal/exact.go", maxLines)
	write("seal/long_test.go", 2*maxLines)
	write("seal/testdata/gen.go", 2*maxLines)
	write(".git/x.go", 2*maxLines)
	write("api/grown.go", 700)
	write("api/shrunk.go", 10)
	write("README.md", 2*maxLines)
	lengths, err := goFileLengths(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range lengths {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"api/grown.go", "api/shrunk.go", "seal/exact.go", "seal/long.go"}; !slices.Equal(names, want) {
		t.Fatalf("walked %v, want %v", names, want)
	}
	got := sizeProblems(lengths, map[string]int{"api/grown.go": 650, "api/shrunk.go": 620})
	want := []string{
		"api/grown.go has 700 lines, more than the 650 it had when it was let off: split it by concern",
		"api/shrunk.go has 10 lines now, within 600: remove it from overLimit",
		"seal/long.go has 601 lines, over 600: split it by concern",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// goFileLengths counts the lines of every non-test Go file under root, by
// slash-separated path relative to root, skipping what the go command
// skips: testdata and directories whose names begin with "." or "_".
func goFileLengths(root string) (map[string]int, error) {
	out := map[string]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
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
		n := bytes.Count(b, []byte("\n"))
		if len(b) > 0 && b[len(b)-1] != '\n' {
			n++
		}
		name, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(name)] = n
		return nil
	})
	return out, err
}

// sizeProblems judges the lengths against maxLines and the let-off
// files, one message per file at fault, sorted by name.
func sizeProblems(lengths, letOff map[string]int) []string {
	var out []string
	for name, n := range lengths {
		known, ok := letOff[name]
		switch {
		case ok && n <= maxLines:
			out = append(out, fmt.Sprintf("%s has %d lines now, within %d: remove it from overLimit", name, n, maxLines))
		case ok && n > known:
			out = append(out, fmt.Sprintf("%s has %d lines, more than the %d it had when it was let off: split it by concern", name, n, known))
		case !ok && n > maxLines:
			out = append(out, fmt.Sprintf("%s has %d lines, over %d: split it by concern", name, n, maxLines))
		}
	}
	slices.Sort(out)
	return out
}
