package pdf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSeeds regenerates testdata/*.pdf, the fuzz seeds, when
// PDF_UPDATE_SEEDS is set.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("PDF_UPDATE_SEEDS") == "" {
		t.Skip("set PDF_UPDATE_SEEDS=1 to regenerate testdata")
	}
	base := simplePDF()
	seeds := map[string][]byte{
		"classic.pdf":    base,
		"objstm.pdf":     qpdf(t, base, "--object-streams=generate"),
		"linearized.pdf": qpdf(t, base, "--linearize"),
		"hybrid.pdf": hybridPDF("<< /Title (hybrid) >>", "<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 100 100] >>", "<< /Type /Page /Parent 2 0 R >>"),
	}
	for name, b := range seeds {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzParse checks that no input makes the reader panic or hang: the
// structure, every object of every revision, stream decoding and the
// page tree.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.pdf"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(simplePDF())
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseLimits(data, Limits{MaxStreamSize: 1 << 20, MaxDecoded: 4 << 20})
		if err != nil {
			return
		}
		for rev, r := range file.Revisions {
			for num, e := range r.Entries {
				o, err := file.Object(rev, Ref{num, e.Gen})
				if err != nil {
					continue
				}
				if s, ok := o.(*Stream); ok {
					file.Decode(s)
				}
				AppendObject(nil, o)
			}
			file.NumPages(rev)
			file.Page(rev, 0)
		}
	})
}

// sealedSeeds are the small sealed cards of internal/pdftest/sealtest
// (three incremental revisions with a classic table or cross-reference
// streams), read from its testdata: this package's tests cannot import
// it.
func sealedSeeds(f *testing.F) [][]byte {
	paths, _ := filepath.Glob(filepath.Join("..", "internal", "pdftest", "sealtest", "testdata", "*.pdf"))
	if len(paths) == 0 {
		f.Fatal("no sealed seed cards in internal/pdftest/sealtest/testdata")
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzRevisions is structure-aware on the cross-reference and trailer
// chain (issue 12, F1): it stops after ParseLimits, which reads only the
// sections, trailers, /Prev and /XRefStm links and %%EOF markers, so it
// runs thousands of times a second, and it checks what the verifier
// relies on: revisions that tile the file in order, each ending at its
// %%EOF, entries inside the file, a catalog named by the newest trailer,
// Lookup answering as a walk back through the sections would, the bytes
// after the last revision reported, and the same answer twice.
func FuzzRevisions(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.pdf"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range sealedSeeds(f) {
		f.Add(b)
	}
	lim := Limits{MaxStreamSize: 1 << 20, MaxDecoded: 4 << 20, MaxObjects: 10000, MaxRevisions: 64}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseLimits(data, lim)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		size := int64(len(data))
		var end int64
		for i, r := range file.Revisions {
			switch {
			case r.Start != end:
				t.Fatalf("revision %d starts at %d, the previous one ends at %d", i, r.Start, end)
			case r.EOF < r.Start || r.EOF+5 > r.End || r.End > size || r.End <= end:
				t.Fatalf("revision %d: start %d, %%%%EOF at %d, end %d of %d", i, r.Start, r.EOF, r.End, size)
			case string(data[r.EOF:r.EOF+5]) != "%%EOF":
				t.Fatalf("revision %d: no %%%%EOF at %d", i, r.EOF)
			case r.XrefOffset <= 0 || r.XrefOffset >= size:
				t.Fatalf("revision %d: cross-reference section at %d", i, r.XrefOffset)
			}
			end = r.End
			for num, e := range r.Entries {
				if num < 0 || e.Type == InUse && (e.Offset <= 0 || e.Offset >= size || e.Gen < 0 || e.Gen > 65535) {
					t.Fatalf("revision %d: entry %d %+v", i, num, e)
				}
			}
		}
		if _, ok := file.Trailer(file.Latest()).Get("Root").(Ref); !ok {
			t.Fatal("the newest trailer names no catalog")
		}
		rest := data[end:]
		if file.Trailing != nil && !bytes.Equal(file.Trailing, rest) || file.Trailing == nil && len(bytes.Trim(rest, "\x00\t\n\f\r ")) > 0 {
			t.Fatalf("trailing %q after the last revision, reported %q", rest, file.Trailing)
		}
		// (at most 100 000 lookups, so a large input stays quick)
		checks := 0
		for rev := range file.Revisions {
			for num := range file.Revisions[rev].Entries {
				for at := rev; at <= file.Latest() && checks < 100000; at++ {
					checks++
					e, r, ok := file.Lookup(at, num)
					w := at
					for w >= 0 {
						if _, ok := file.Revisions[w].Entries[num]; ok {
							break
						}
						w--
					}
					if !ok || r != w || e != file.Revisions[w].Entries[num] {
						t.Fatalf("Lookup(%d, %d) = %+v at %d, %v; defined at %d", at, num, e, r, ok, w)
					}
				}
			}
		}
		again, err := ParseLimits(data, lim)
		if err != nil || len(again.Revisions) != len(file.Revisions) {
			t.Fatalf("parsed again: %v", err)
		}
		for i, r := range again.Revisions {
			if o := file.Revisions[i]; r.Start != o.Start || r.End != o.End || r.XrefOffset != o.XrefOffset || len(r.Entries) != len(o.Entries) {
				t.Fatalf("revision %d differs when parsed again", i)
			}
		}
	})
}
