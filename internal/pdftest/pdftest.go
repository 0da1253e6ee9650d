// Package pdftest builds small PDF fixtures by hand for the tests of the
// pdf reader and the signer, and rewrites them with qpdf, so that both
// packages test against the same files.
package pdftest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jilin-health/cardseal/internal/testtool"
)

const header = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"

// Classic writes objects 1..n (the bodies, in order) with a classic
// cross-reference table; trailer holds extra trailer entries (/Root is
// always object 1).
func Classic(trailer string, bodies ...string) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	offs := make([]int, len(bodies))
	for i, body := range bodies {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(bodies)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n", len(bodies)+1, trailer, x)
	return b.Bytes()
}

// Hybrid is a hybrid-reference file (ISO 32000-1 §7.5.8.4): a classic
// table whose trailer's /XRefStm lists object n+2 (the information
// dictionary info), which lives in an object stream; the table marks it
// free.
func Hybrid(info string, bodies ...string) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	n := len(bodies)
	offs := make([]int, 0, n+2)
	for i, body := range bodies {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	stm, infoNum, xs := n+1, n+2, n+3
	hdr := fmt.Sprintf("%d 0 ", infoNum)
	offs = append(offs, b.Len())
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n%s%s\nendstream\nendobj\n", stm, len(hdr), len(hdr)+len(info), hdr, info)
	xsOff := b.Len()
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 2 1] /Index [%d 1] /Length 4 >>\nstream\n\x02%c%c\x00\nendstream\nendobj\n", xs, xs+1, infoNum, byte(stm>>8), byte(stm))
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", xs+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "0000000000 65535 f\r\n%010d 00000 n\r\n", xsOff)
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n", xs+1, infoNum, xsOff, x)
	return b.Bytes()
}

// XrefStream writes objects 1..n (the bodies, in order) and a
// cross-reference stream, object n+1, uncompressed with /W [1 4 2];
// trailer holds extra trailer entries (/Root is always object 1).
func XrefStream(trailer string, bodies ...string) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	n := len(bodies)
	offs := make([]int, 0, n+1)
	for i, body := range bodies {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	x := b.Len()
	offs = append(offs, x)
	rows := []byte{0, 0, 0, 0, 0, 0xff, 0xff}
	for _, o := range offs {
		rows = append(rows, 1, byte(o>>24), byte(o>>16), byte(o>>8), byte(o), 0, 0)
	}
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R %s /Length %d >>\nstream\n", n+1, n+2, trailer, len(rows))
	b.Write(rows)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

// Stream is a stream object body holding s.
func Stream(s string) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(s), s)
}

// QPDF rewrites in with qpdf and the given options (e.g.
// --object-streams=generate).
func QPDF(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	bin := testtool.Require(t, "qpdf")
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, append(args, src, dst)...).CombinedOutput(); err != nil {
		t.Fatalf("qpdf %v: %v\n%s", args, err, out)
	}
	out, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
