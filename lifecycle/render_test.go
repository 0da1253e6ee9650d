package lifecycle

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/token"
)

var (
	ksOnce sync.Once
	ksDemo *keys.FileStore
	ksErr  error
)

// demoKeys is a demo keystore shared by the package's tests (PBKDF2 is
// slow on purpose, so it is made once).
func demoKeys(t testing.TB) *keys.FileStore {
	t.Helper()
	ksOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cardseal-lifecycle-*")
		if err != nil {
			ksErr = err
			return
		}
		pass := []byte("lifecycle-test")
		if ksErr = keys.InitDir(dir, keys.Demo, pass, time.Now().Add(-time.Hour)); ksErr == nil {
			ksDemo, ksErr = keys.OpenDir(dir, pass)
		}
	})
	if ksErr != nil {
		t.Fatal(ksErr)
	}
	return ksDemo
}

func example(t testing.TB) *card.Applicant {
	t.Helper()
	b, err := os.ReadFile("../examples/applicant.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := card.ParseApplicant(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestPrintedQRDecodes renders cards through the lifecycle for the demo
// public URL and a production one, rasterises each as a black-and-white
// office print is scanned (1 bit per pixel, 150 dpi), decodes the QR code
// with zbarimg and checks that it is the card's URL: at most 64
// characters, QR version 4 or below at level M, with a version-2 token.
// Revision 0 holds the card's status-list index.
func TestPrintedQRDecodes(t *testing.T) {
	pdftoppm := testtool.Require(t, "pdftoppm")
	zbarimg := testtool.Require(t, "zbarimg")
	demoKeys(t)
	for i, base := range []string{"http://127.0.0.1:8080", "https://card.wsjkw.jl.gov.cn"} {
		t.Run(base, func(t *testing.T) {
			idx := 0x0abcde + i
			r, err := Render(context.Background(), demoOrgs, &Draft{Number: "2201022026000007", Applicant: example(t), IssueDate: time.Now(), StatusIndex: idx}, base)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ToUpper(base) + "/V/" + r.Token; r.URL != want {
				t.Fatalf("URL %q, want %q", r.URL, want)
			}
			if _, err := token.ParseHandle(r.Token); err != nil {
				t.Fatalf("token %q is not a version-2 token: %v", r.Token, err)
			}
			v, err := templates.QRVersion(r.URL)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d characters, QR version %d", r.URL, len(r.URL), v)
			if len(r.URL) > 64 || v > 4 {
				t.Fatalf("%q: %d characters, QR version %d; want ≤ 64 and ≤ 4", r.URL, len(r.URL), v)
			}
			if got, err := StatusIndex(r.PDF); err != nil || got != idx {
				t.Fatalf("status index %d, %v; want %d", got, err, idx)
			}
			dir := t.TempDir()
			in := filepath.Join(dir, "card.pdf")
			if err := os.WriteFile(in, r.PDF, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(pdftoppm, "-mono", "-r", "150", "-png", "-f", "1", "-l", "1", in, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm: %v\n%s", err, out)
			}
			pages, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
			if len(pages) != 1 {
				t.Fatalf("pages: %v", pages)
			}
			out, err := exec.Command(zbarimg, "--raw", "-q", pages[0]).Output()
			if err != nil {
				t.Fatalf("zbarimg: %v", err)
			}
			if url := strings.TrimSpace(string(out)); url != r.URL {
				t.Fatalf("QR decodes to %q, want %q", url, r.URL)
			}
		})
	}
}
