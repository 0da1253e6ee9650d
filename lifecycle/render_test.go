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

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/keys"
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

// TestRenderedQRDecodesToSignedToken renders a card, rasterises it as a
// black-and-white print would be scanned (grey, 150 dpi), decodes the QR
// code and checks the token in it with the platform certificate; the same
// token with one byte changed does not verify.
func TestRenderedQRDecodesToSignedToken(t *testing.T) {
	pdftoppm := testtool.Require(t, "pdftoppm")
	zbarimg := testtool.Require(t, "zbarimg")
	ks := demoKeys(t)
	r, err := Render(context.Background(), demoOrgs, ks, &Draft{CardID: NewCardID(), Number: "2201022026000007", Applicant: example(t), IssueDate: time.Now(), Salt: token.NewSalt()}, "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "card.pdf")
	if err := os.WriteFile(in, r.PDF, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(pdftoppm, "-gray", "-r", "150", "-png", "-f", "1", "-l", "1", in, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
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
	url := strings.TrimSpace(string(out))
	if url != r.URL {
		t.Fatalf("QR decodes to %q, want %q", url, r.URL)
	}
	plat, err := ks.PlatformIdentity()
	if err != nil {
		t.Fatal(err)
	}
	certs := []*smx509.Certificate{plat.Cert}
	claims, _, err := token.Verify(token.FromURL(url), certs)
	if err != nil {
		t.Fatalf("scanned token does not verify: %v", err)
	}
	if claims.Number != "2201022026000007" || claims.County != "220102" || claims.Type != card.First {
		t.Fatalf("claims %+v", claims)
	}
	if !claims.MatchesHolder("220102199208152346") {
		t.Fatal("the holder's ID number does not match the scanned token")
	}
	tok := []byte(token.FromURL(url))
	i := len(tok) / 2
	if tok[i] == 'A' {
		tok[i] = 'B'
	} else {
		tok[i] = 'A'
	}
	if _, _, err := token.Verify(string(tok), certs); err == nil {
		t.Fatal("a token with a changed character verifies")
	}
}
