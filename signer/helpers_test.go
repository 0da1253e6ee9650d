package signer

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/internal/pdftest"
	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
)

// testOrg is a throwaway organisation with an SM2 seal certificate
// issued by a throwaway province root (keys.NewRoot, keys.CA.IssueSeal).
type testOrg struct {
	org org.Org
	id  *keys.Identity
}

var (
	caOnce sync.Once
	ca     *keys.CA
	orgs   = map[string]*testOrg{}
	orgsMu sync.Mutex
)

// newOrg returns (and caches) a test organisation for a division code.
func newOrg(t testing.TB, code string) *testOrg {
	t.Helper()
	caOnce.Do(func() {
		k, err := keys.NewKey()
		if err != nil {
			panic(err)
		}
		if ca, err = keys.NewRoot(k, "吉林省", "测试吉林省卫生健康委员会", time.Now()); err != nil {
			panic(err)
		}
	})
	orgsMu.Lock()
	defer orgsMu.Unlock()
	if o, ok := orgs[code]; ok {
		return o
	}
	_, level, err := org.NormalizeCode(code)
	if err != nil {
		t.Fatal(err)
	}
	k, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	name := map[org.Level]string{org.Village: "测试村民委员会", org.Township: "测试镇人民政府", org.County: "测试县卫生健康局"}[level] + code
	org := org.Org{Code: code, Level: level, Name: name}
	cert, err := ca.IssueSeal(k.Public(), org, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	o := &testOrg{org: org, id: &keys.Identity{Signer: k, Cert: cert, Chain: []*smx509.Certificate{ca.Cert}}}
	orgs[code] = o
	return o
}

// sealImage is a red ring on a transparent background.
func sealImage() image.Image {
	const n = 160
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			dx, dy := float64(x-n/2), float64(y-n/2)
			if r := dx*dx + dy*dy; r < 78*78 && r > 66*66 || (dx*dx+dy*dy < 20*20) {
				img.SetNRGBA(x, y, color.NRGBA{R: 0xd0, G: 0x10, B: 0x10, A: 0xff})
			}
		}
	}
	return img
}

var (
	apOnce sync.Once
	ap     *Appearance
)

func appearance(t testing.TB) *Appearance {
	apOnce.Do(func() {
		var err error
		if ap, err = NewAppearance(sealImage()); err != nil {
			panic(err)
		}
	})
	return ap
}

// buildPDF writes objects 1..n with a classic cross-reference table;
// the last object is the information dictionary.
func buildPDF(bodies ...string) []byte {
	return pdftest.Classic(fmt.Sprintf("/Info %d 0 R /ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>]", len(bodies)), bodies...)
}

func stream(s string) string { return pdftest.Stream(s) }

// cardPDF is a card-like A5 page of about size bytes of drawing.
// catalog and page let tests vary where /AcroForm and /Annots live;
// extra objects follow the info dictionary's predecessors.
func cardPDF(size int, catalog, page string, extra ...string) []byte {
	var cs strings.Builder
	cs.WriteString("0.2 0.2 0.6 RG 2 w 20 20 380 555 re S\n")
	for i := 0; cs.Len() < size; i++ {
		fmt.Fprintf(&cs, "BT /F1 9 Tf %d %d Td (Field %03d: applicant data line for the fertility service card) Tj ET\n", 30, 560-(i%50)*11, i)
	}
	bodies := []string{
		"<< /Type /Catalog /Pages 2 0 R" + catalog + " >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 420 595] >>",
		"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >>" + page + " >>",
		stream(cs.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	bodies = append(bodies, extra...)
	bodies = append(bodies, "<< /Producer (cardseal test) /Title <FEFF751F80B2670D52A15361> >>")
	return buildPDF(bodies...)
}

func runTool(t testing.TB, name string, in []byte, args ...string) (string, error) {
	t.Helper()
	bin := testtool.Require(t, name)
	dir := t.TempDir()
	p := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(p, in, 0o600); err != nil {
		t.Fatal(err)
	}
	var full []string
	for _, a := range args {
		full = append(full, strings.ReplaceAll(a, "$IN", p))
	}
	out, err := exec.Command(bin, full...).CombinedOutput()
	return string(out), err
}

// qpdfConvert rewrites in with qpdf.
func qpdfConvert(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	return pdftest.QPDF(t, in, args...)
}

func qpdfCheck(t testing.TB, in []byte) {
	t.Helper()
	out, err := runTool(t, "qpdf", in, "--check", "$IN")
	if err != nil || !strings.Contains(out, "No syntax or stream encoding errors found") || strings.Contains(out, "WARNING") {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
}

// hybridCard is the card of cardPDF as a hybrid-reference file.
func hybridCard() []byte {
	var cs strings.Builder
	for i := 0; cs.Len() < 3000; i++ {
		fmt.Fprintf(&cs, "BT /F1 9 Tf 30 %d Td (Field %03d: applicant data line) Tj ET\n", 560-(i%50)*11, i)
	}
	return pdftest.Hybrid("<< /Producer (hybrid test) >>",
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 420 595] >>",
		"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		stream(cs.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
}
