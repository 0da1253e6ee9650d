package api

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/token"
)

// documentPhoto is a made-up photo of a paper document: a white sheet
// with lines of "text" on a grey table, slightly different per seed.
func documentPhoto(t *testing.T, seed int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 900, 640))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{150, 150, 145, 255}}, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(60, 40, 840, 600), &image.Uniform{color.White}, image.Point{}, draw.Src)
	for i := range 12 {
		w := 500 + (i*37+seed*53)%220
		draw.Draw(img, image.Rect(110, 90+i*40, 110+w, 104+i*40), &image.Uniform{color.RGBA{40, 40, 40, 255}}, image.Point{}, draw.Src)
	}
	draw.Draw(img, image.Rect(640, 440, 780, 560), &image.Uniform{color.RGBA{190, 30, 30, 255}}, image.Point{}, draw.Src)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), fmt.Sprintf("photo-%d.png", seed))
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pageChecks are the checks every citizen page must pass, run in the
// browser: language zh-CN, a label for every field, nothing loaded from
// another origin, under 50 KB without images (the HTML and its
// stylesheets).
const pageChecks = `(() => {
  const out = [];
  if (document.documentElement.lang !== "zh-CN") out.push("lang " + document.documentElement.lang);
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    if (el.labels.length === 0 && !el.getAttribute("aria-label")) out.push("no label: " + (el.id || el.name));
  }
  let bytes = new Blob([document.documentElement.outerHTML]).size;
  for (const r of performance.getEntriesByType("resource")) {
    if (new URL(r.name).origin !== location.origin) out.push("other origin: " + r.name);
    if (r.initiatorType === "link") bytes += r.decodedBodySize;
  }
  for (const l of document.querySelectorAll("[src], link[href]")) {
    const u = l.src || l.href;
    if (u && new URL(u, location.href).origin !== location.origin) out.push("other origin: " + u);
  }
  if (bytes >= 50 * 1024) out.push("weighs " + bytes + " bytes");
  return out.join("; ");
})()`

// check runs pageChecks on the tab's page.
func (b *tab) check(page string) {
	b.t.Helper()
	problems, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](pageChecks))
	if err != nil {
		b.t.Fatalf("%s: checks of %s: %v", b.name, page, err)
	}
	if problems != "" {
		b.t.Errorf("%s: %s: %s", b.name, page, problems)
	}
}

// TestBrowserCitizenOnline walks the citizen's whole path in chromium,
// on a phone (412×915) and on a desktop: apply with two photos → staff
// see the photos and find one deficient → the one-time notice → the
// citizen sends the replacement on /track → staff accept it and the three
// levels seal → the citizen downloads the card, whose QR code decodes
// from a 150 dpi grey render. Every citizen page passes pageChecks.
func TestBrowserCitizenOnline(t *testing.T) {
	testtool.Require(t, "pdftoppm")
	testtool.Require(t, "zbarimg")
	bctx := browser(t)
	v := newEnv(t, Options{})
	srv := httptest.NewServer(v.e)
	t.Cleanup(srv.Close)
	shots := t.TempDir()
	t.Logf("screenshots in %s", shots)
	staffTabs := map[string]*tab{}
	outer := t
	staffTab := func(t *testing.T, user string) *tab {
		if s, ok := staffTabs[user]; ok {
			s.t = t
			return s
		}
		s := newTab(outer, bctx, srv.URL, "staff "+user)
		s.t = t
		s.login(user)
		staffTabs[user] = s
		return s
	}

	for i, device := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"phone", 412, 915, true}, {"desktop", 1366, 900, false}} {
		t.Run(device.name, func(t *testing.T) {
			shot := func(b *tab, name string) {
				if device.mobile {
					b.shot(shots, name)
				} else {
					b.shot(shots, name+"-desktop")
				}
			}
			c := newTab(t, bctx, srv.URL, "citizen on a "+device.name)
			if device.mobile {
				c.do("viewport", chromedp.EmulateViewport(device.width, device.height, chromedp.EmulateMobile, chromedp.EmulateTouch))
			} else {
				c.do("viewport", chromedp.EmulateViewport(device.width, device.height))
			}
			male := idWithCheck(fmt.Sprintf("22010219900307%d12", 1+i))
			female := idWithCheck(fmt.Sprintf("22010219920815%d23", 1+i))

			// The guide leads to the application.
			c.open("/guide")
			c.check("/guide")
			shot(c, "citizen-guide")
			c.submit("在线办理", "#guide-apply")
			c.check("/apply")
			shot(c, "citizen-apply-choose")
			c.submit("choose the case", `a[href="/apply?type=first&case=unmarried"]`)
			fields := [][2]string{
				{"#male_name", "李四"}, {"#male_id_number", male}, {"#male_hukou", "吉林省长春市南关区永吉街道永安社区"}, {"#male_residence", "吉林省长春市南关区幸福里小区3栋501"},
				{"#female_name", "王喆堃"}, {"#female_id_number", female}, {"#female_hukou", "吉林省长春市南关区永吉街道永安社区"}, {"#female_residence", "吉林省长春市南关区幸福里小区3栋501"},
				{"#status_cert_number", fmt.Sprintf("HY-2026-%03d", i+1)}, {"#status_cert_issuer", "永安社区居民委员会"},
			}
			for _, f := range fields {
				c.do("fill "+f[0], chromedp.SendKeys(chromedp.CSS(f[0]), f[1]))
			}
			c.do("choose the village", chromedp.SetValue(chromedp.CSS("#village"), "220102001001"))
			c.do("photos",
				chromedp.SetUploadFiles(chromedp.CSS("#photo-applicant_id_card"), []string{documentPhoto(t, 1)}),
				chromedp.SetUploadFiles(chromedp.CSS("#photo-status_certificate"), []string{documentPhoto(t, 2)}),
				chromedp.Click(chromedp.CSS("#commitment")),
			)
			c.check("/apply form")
			shot(c, "citizen-apply-form")
			if st := c.submit("apply", "#apply-submit"); st != http.StatusCreated {
				t.Fatalf("apply answered %d: %s", st, c.text("main"))
			}
			number := c.text("#receipt-number")
			c.check("receipt")
			shot(c, "citizen-receipt")

			// Village staff see both photos, find the ID card photo
			// deficient, accept the certificate and give the notice.
			village := staffTab(t, "220102001001")
			village.open("/console")
			if got := village.text("table.queue"); !strings.Contains(got, number) || !strings.Contains(got, "网上申请") {
				t.Fatalf("the village's queue: %q", got)
			}
			village.open("/console/find?number=" + number)
			cardPath, _ := url.Parse(village.location())
			if _, err := chromedp.Run(village.ctx, chromedp.Poll[bool](`[...document.querySelectorAll("img.mat-img")].filter(i => i.complete && i.naturalWidth > 0).length === 2`)); err != nil {
				t.Fatalf("the two photos are not shown: %v", err)
			}
			village.do("rotate", chromedp.Click(chromedp.CSS(`label[for$="-90"]`)))
			if i == 0 {
				village.shot(shots, "console-card-materials")
			}
			village.do("deficient", chromedp.SendKeys(chromedp.CSS("#reason-applicant_id_card"), "照片反光，看不清身份证号码"))
			village.submit("deficient", "#deficient-applicant_id_card")
			village.submit("accept", "#accept-status_certificate")
			if got := village.text("#mat-applicant_id_card"); !strings.Contains(got, "不合格原因：照片反光，看不清身份证号码") {
				t.Fatalf("after the review: %q", got)
			}
			cardID := strings.TrimPrefix(cardPath.Path, "/console/cards/")
			if r := v.do(http.MethodPost, "/api/v1/cards/"+cardID+"/notice", v.session("220102001001"), "", nil); r.Code != http.StatusCreated {
				t.Fatalf("notice: %d %s", r.Code, r.body)
			}

			// The citizen follows the application and sends the
			// replacement.
			c.open("/track")
			c.check("/track")
			c.do("track", chromedp.SendKeys(chromedp.CSS("#number"), number), chromedp.SendKeys(chromedp.CSS("#id_number"), female))
			c.submit("track", "#track-submit")
			if got := c.text("#track-state"); got != "需补正材料" {
				t.Fatalf("track says %q", got)
			}
			if got := c.text("main"); !strings.Contains(got, "照片反光，看不清身份证号码") {
				t.Fatalf("track does not give the reason: %q", got)
			}
			c.check("track with the notice")
			shot(c, "citizen-track-notice")
			c.do("replacement", chromedp.SetUploadFiles(chromedp.CSS("#photo-applicant_id_card"), []string{documentPhoto(t, 3)}))
			if st := c.submit("resubmit", "#resubmit"); st != http.StatusOK {
				t.Fatalf("resubmit answered %d: %s", st, c.text("main"))
			}
			if got := c.text(".flash"); !strings.Contains(got, "补交的材料已收到") {
				t.Fatalf("after the resubmission: %q", got)
			}

			// Staff accept the replacement; the three levels seal.
			village.open(cardPath.Path)
			if _, err := chromedp.Run(village.ctx, chromedp.Poll[bool](`[...document.querySelectorAll("img.mat-img")].filter(i => i.complete && i.naturalWidth > 0).length === 3`)); err != nil {
				t.Fatalf("the replacement is not shown: %v", err)
			}
			village.submit("accept the replacement", "#accept-applicant_id_card")
			village.seal(cardPath.Path, shots, "")
			staffTab(t, "220102001").seal(cardPath.Path, shots, "")
			staffTab(t, "220102").seal(cardPath.Path, shots, "")

			// The citizen sees it issued and downloads the card.
			c.open("/track")
			c.do("track", chromedp.SendKeys(chromedp.CSS("#number"), number), chromedp.SendKeys(chromedp.CSS("#id_number"), male))
			c.submit("track", "#track-submit")
			if got := c.text("#track-state"); got != "已办结" {
				t.Fatalf("track says %q", got)
			}
			if n := len(mustNodes(t, c, ".step.done")); n != 3 {
				t.Fatalf("%d levels sealed on /track", n)
			}
			c.check("track issued")
			shot(c, "citizen-track-issued")
			c.submit("download page", "#download-card")
			if got := c.text("#print-guide"); !strings.Contains(got, "A4") || !strings.Contains(got, "黑白") {
				t.Fatalf("no print guidance: %q", got)
			}
			c.check("download page")
			shot(c, "citizen-download")
			// The download form's POST, as the browser sends it.
			dl := c.location()
			res, err := http.PostForm(dl, url.Values{"id_number": {female}})
			if err != nil {
				t.Fatal(err)
			}
			var pdf bytes.Buffer
			pdf.ReadFrom(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")) {
				t.Fatalf("download: %d", res.StatusCode)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "card.pdf"), pdf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("pdftoppm", "-gray", "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", filepath.Join(dir, "card.pdf"), filepath.Join(dir, "page")).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm: %v %s", err, out)
			}
			out, err := exec.Command("zbarimg", "--raw", "-q", filepath.Join(dir, "page.png")).Output()
			if err != nil {
				t.Fatalf("zbarimg: %v", err)
			}
			want, _ := token.URL(v.svc.PublicURL(), v.cardToken(cardID))
			if got := strings.TrimSpace(string(out)); got != want {
				t.Fatalf("the QR code decodes to %q, want %q", got, want)
			}
		})
	}
}

func mustNodes(t *testing.T, b *tab, sel string) []any {
	t.Helper()
	nodes, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSSAll(sel)))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]any, len(nodes))
	for i := range nodes {
		out[i] = nodes[i]
	}
	return out
}
