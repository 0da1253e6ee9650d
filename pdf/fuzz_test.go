package pdf

import (
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
