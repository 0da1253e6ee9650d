package api

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/jilin-health/cardseal/card"
)

// directViewports are the sizes the Art. 17 pages are walked at: a clerk
// on a phone and the office screen, axe-core at both.
var directViewports = []viewport{
	{"360x740", 360, 740, true, true},
	{"1366x768", 1366, 768, false, true},
}

// TestBrowserArt17Pages walks the console's pages of Art. 17 in chromium
// at 360×740 and 1366×768, each state with zero axe-core violations, no
// wider than its viewport and with tap targets of 44 px: the village's
// card page with its 预审上报县级 button, the county's
// 再生育预审上报名单 empty and then listing the card, the direct-issue
// confirmation, the same after a wrong password (nothing issued), and the
// card page once the county issued it directly; then the village's 补盖
// of the re-birth approval form from its card page.
func TestBrowserArt17Pages(t *testing.T) {
	bctx := browser(t)
	v := newEnv(t, Options{})
	hs := httptest.NewServer(v.e)
	t.Cleanup(hs.Close)
	c := v.create(t, rebirthApplicant(t))
	path := "/console/cards/" + c.ID
	shots := t.TempDir()

	village := newTab(t, bctx, hs.URL, "village")
	village.login("220102001001")
	county := newTab(t, bctx, hs.URL, "county")
	county.login("220102")

	for _, vp := range directViewports {
		county.viewport(vp)
		county.open("/console/pre-reviews")
		if county.count("#prereviews-empty") != 1 {
			t.Fatalf("%s: the list before any report does not say it is empty", vp.name)
		}
		county.audit(vp.name + " empty pre-review list")
		village.viewport(vp)
		village.open(path)
		if village.count("#prereview-button") != 1 {
			t.Fatalf("%s: the village's card page offers no 预审上报县级", vp.name)
		}
		village.audit(vp.name + " card with 预审上报")
	}

	if st := village.submit("预审上报县级", "#prereview-button"); st != http.StatusOK {
		t.Fatalf("pre-review: %d", st)
	}
	if got := village.text(".flash"); !strings.Contains(got, "已预审上报") {
		t.Fatalf("after 预审上报 the page says %q", got)
	}

	for _, vp := range directViewports {
		prefix := ""
		if vp.phone {
			prefix = "phone-"
		}
		county.viewport(vp)
		county.open("/console/pre-reviews")
		if county.count("#prereview-"+c.ID) != 1 {
			t.Fatalf("%s: the county's list lacks card %s", vp.name, c.Number)
		}
		county.audit(vp.name + " pre-review list")
		// The action is on screen without scrolling sideways: on a
		// phone the list's rows stack.
		var right float64
		county.eval("the direct-issue button's right edge",
			`document.querySelector("#prereview-`+c.ID+` a.button").getBoundingClientRect().right`, &right)
		if right > float64(vp.w) {
			t.Fatalf("%s: the 县级直接办理 button ends at %.0f px, beyond the %d px viewport", vp.name, right, vp.w)
		}
		county.shot(shots, prefix+"console-prereviews")

		if st := county.submit("open the direct-issue confirmation", "#prereview-"+c.ID+" a.button"); st != http.StatusOK {
			t.Fatalf("%s: confirmation page: %d", vp.name, st)
		}
		if county.count("#direct-reason") != 1 || county.count("#confirm-direct") != 1 {
			t.Fatalf("%s: the confirmation asks no reason or has no button", vp.name)
		}
		county.audit(vp.name + " direct confirmation")
		county.shot(shots, prefix+"console-direct-confirm")
	}

	county.do("a wrong password",
		chromedp.SendKeys(chromedp.CSS("#direct-reason"), "村、乡预审上报"),
		chromedp.SendKeys(chromedp.CSS("#confirm-password"), "wrong password"))
	if st := county.submit("confirm with a wrong password", "#confirm-direct"); st != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", st)
	}
	if got := v.fullCard(c.ID); got.Status != card.StatusDraft || len(got.Seals) != 0 {
		t.Fatalf("a wrong password issued the card: %s, %d seals", got.Status, len(got.Seals))
	}
	if county.value("#direct-reason") != "村、乡预审上报" {
		t.Fatalf("the reason typed is lost after a wrong password: %q", county.value("#direct-reason"))
	}
	county.audit("1366x768 direct confirmation, wrong password")

	county.do("the password", chromedp.SendKeys(chromedp.CSS("#confirm-password"), testPassword))
	if st := county.submit("confirm 直接办理", "#confirm-direct"); st != http.StatusOK {
		t.Fatalf("direct issue: %d", st)
	}
	if got := v.fullCard(c.ID); got.Status != card.StatusIssued || len(got.Seals) != 1 {
		t.Fatalf("after 直接办理: %s with %d seals", got.Status, len(got.Seals))
	}
	if county.count("#direct-issued") != 1 {
		t.Fatal("the card page does not say the card was issued directly")
	}
	county.audit("1366x768 card issued directly")
	county.shot(shots, "console-card-direct")
	county.viewport(directViewports[0])
	county.open(path)
	county.audit("360x740 card issued directly")

	// 补盖: the village adds its seal to the re-birth approval form from
	// the card page, confirmed with the password.
	for _, vp := range directViewports {
		village.viewport(vp)
		village.open(path)
		if village.count("#form-section") != 1 || village.count("#form-seal-button") != 1 {
			t.Fatalf("%s: the village's card page offers no 补盖 of the form", vp.name)
		}
		village.audit(vp.name + " card with the form to seal")
		// The seal marks are the size of a line of text, not of the
		// column (an unstyled SVG fills its container).
		var mark float64
		village.eval("the form's seal mark height", `document.querySelector(".form-seals .mark").getBoundingClientRect().height`, &mark)
		if mark > 32 {
			t.Fatalf("%s: the form's seal marks are %.0f px high", vp.name, mark)
		}
		if st := village.submit("open the form seal confirmation", "#form-seal-button"); st != http.StatusOK {
			t.Fatalf("%s: form seal confirmation: %d", vp.name, st)
		}
		village.audit(vp.name + " form seal confirmation")
		if vp.phone {
			village.shot(shots, "phone-console-form-seal")
		}
	}
	village.do("the password", chromedp.SendKeys(chromedp.CSS("#confirm-password"), testPassword))
	if st := village.submit("confirm the form seal", "#confirm-form-seal"); st != http.StatusOK {
		t.Fatalf("form seal: %d", st)
	}
	if got := village.text(".flash"); !strings.Contains(got, "再生育审批表") || village.count("#form-seal-button") != 0 {
		t.Fatalf("after the form seal the page says %q and still offers it", got)
	}
	village.audit("360x740 card after the form seal")

	// The public pages of the card: the QR page and the file check's
	// report, its technical details unfolded (the claim, the document
	// timestamp, the validation time).
	pdfPath := filepath.Join(t.TempDir(), "direct.pdf")
	if err := os.WriteFile(pdfPath, v.currentPDF(c.ID), 0o600); err != nil {
		t.Fatal(err)
	}
	public := newTab(t, bctx, hs.URL, "public")
	for _, vp := range directViewports {
		public.viewport(vp)
		public.open("/V/" + v.cardToken(c.ID))
		if got := public.text(".verdict .explain"); !strings.Contains(got, "县级直接办理，第十七条") {
			t.Fatalf("%s: the QR page says %q", vp.name, got)
		}
		public.audit(vp.name + " QR page of a direct card")
		public.open("/upload")
		public.do("choose pdf", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{pdfPath}))
		public.submit("upload pdf", "#upload-submit")
		if public.count("#direct") != 1 || public.count("#seal-summary .step.done") != 1 {
			t.Fatalf("%s: the report of a direct card lacks the Art. 17 section or its one seal", vp.name)
		}
		var open bool
		public.eval("unfold the details", `document.querySelector("details#technical").open = true`, &open)
		public.audit(vp.name + " upload report of a direct card")
	}
}
