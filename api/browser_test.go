package api

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jilin-health/cardseal/internal/testtool"
)

// The browser tests drive Debian's chromium (headless) against the real
// router on a loopback server: the pages as people use them.

var updateScreenshots = flag.Bool("update-screenshots", false, "write one screenshot of each page to docs/screenshots")

// browser starts a headless chromium with a fresh profile and returns its
// root context; each session of the test gets its own browser context
// (its own cookies) from it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := testtool.Require(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
		chromedp.Flag("lang", "zh-CN"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// tab is one person's browser session.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	name string
}

func newTab(t *testing.T, bctx context.Context, base, name string) *tab {
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return &tab{t: t, ctx: ctx, base: base, name: name}
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, what, err)
	}
}

// submit clicks sel and waits for the page it leads to; it returns the
// HTTP status of that page.
func (b *tab) submit(what, sel string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, what, err)
	}
	if resp == nil {
		b.t.Fatalf("%s: %s: no response", b.name, what)
	}
	return resp.Status
}

func (b *tab) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("%s: text of %s: %v", b.name, sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *tab) location() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// shot saves a full-page screenshot under the test's temp dir and, with
// -update-screenshots, in docs/screenshots.
func (b *tab) shot(dir, name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if *updateScreenshots {
		if err := os.MkdirAll("../docs/screenshots", 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("../docs/screenshots", name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// login signs a staff member in through the login form.
func (b *tab) login(username string) {
	b.t.Helper()
	b.open("/console")
	if loc := b.location(); !strings.Contains(loc, "/console/login") {
		b.t.Fatalf("%s: /console without a session went to %s, want the login page", b.name, loc)
	}
	b.do("fill login",
		chromedp.SendKeys(chromedp.CSS("#username"), username),
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
	)
	if st := b.submit("log in", "form button[type=submit]"); st != http.StatusOK {
		b.t.Fatalf("%s: login answered %d", b.name, st)
	}
	if got := b.text(".console-bar .who"); !strings.Contains(got, username) {
		b.t.Fatalf("%s: after login the bar shows %q", b.name, got)
	}
}

// seal seals the card at cardPath through the confirmation step.
func (b *tab) seal(cardPath, shots, shotName string) {
	b.t.Helper()
	b.open(cardPath)
	b.submit("open the seal confirmation", "#seal-button")
	if shotName != "" {
		b.shot(shots, shotName)
	}
	b.do("re-enter password", chromedp.SendKeys(chromedp.CSS("#confirm-password"), testPassword))
	if st := b.submit("confirm seal", "#confirm-seal"); st != http.StatusOK {
		b.t.Fatalf("%s: seal answered %d", b.name, st)
	}
	if got := b.text(".flash"); !strings.Contains(got, "加盖") {
		b.t.Fatalf("%s: after sealing the page says %q", b.name, got)
	}
}

func TestBrowserCardFlow(t *testing.T) {
	bctx := browser(t)
	v := newEnv(t, Options{})
	srv := httptest.NewServer(v.e)
	t.Cleanup(srv.Close)
	shots := t.TempDir()
	t.Logf("screenshots in %s", shots)

	// Village staff log in and take an application.
	village := newTab(t, bctx, srv.URL, "village")
	village.open("/console")
	village.shot(shots, "console-login")
	village.login("220102001001")
	village.shot(shots, "console-queue-empty")
	village.open("/console/new")
	fields := map[string]string{
		"#male_name": "李四", "#male_id": "220102199003071235",
		"#male_hukou": "吉林省长春市南关区永吉街道永安社区", "#male_residence": "吉林省长春市南关区永吉街道幸福里小区3栋2单元501",
		"#female_name": "王喆堃", "#female_id": "220102199208152346",
		"#female_hukou": "吉林省长春市南关区永吉街道永安社区", "#female_residence": "吉林省长春市南关区永吉街道幸福里小区3栋2单元501",
		"#marriage_cert": "J220102-2024-001234",
	}
	for sel, val := range fields {
		village.do("fill "+sel, chromedp.SendKeys(chromedp.CSS(sel), val))
	}
	village.do("fill marriage date", chromedp.SetValue(chromedp.CSS("#marriage_date"), "2024-05-20"))
	village.shot(shots, "console-new")
	if st := village.submit("submit application", "#submit-application"); st != http.StatusOK {
		t.Fatalf("create answered %d: %s", st, village.text("main"))
	}
	cardPath, err := url.Parse(village.location())
	if err != nil || !strings.HasPrefix(cardPath.Path, "/console/cards/") {
		t.Fatalf("after creating, the browser is at %s", village.location())
	}
	number := village.text("h1 .num")
	village.do("wait for the preview", chromedp.WaitVisible(chromedp.CSS(".preview img")))
	village.shot(shots, "console-card-new")

	// Each level seals in its own session.
	village.seal(cardPath.Path, shots, "console-seal-confirm")
	township := newTab(t, bctx, srv.URL, "township")
	township.login("220102001")
	if got := township.text("table.queue"); !strings.Contains(got, number) {
		t.Fatalf("township queue lacks card %s: %q", number, got)
	}
	township.shot(shots, "console-queue")
	township.seal(cardPath.Path, shots, "")
	county := newTab(t, bctx, srv.URL, "county")
	county.login("220102")
	county.seal(cardPath.Path, shots, "")
	county.shot(shots, "console-card-issued")

	// The QR URL, from the card page, says 有效 to anyone.
	link, err := chromedp.Run(county.ctx, chromedp.AttributeValue(chromedp.CSS("#verify-link"), "href"))
	if err != nil || !link.Exists || !strings.HasPrefix(link.Value, "/v/") {
		t.Fatalf("verification link %+v: %v", link, err)
	}
	code := county.text("#verification-code")
	phone := newTab(t, bctx, srv.URL, "phone")
	phone.do("phone screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	phone.open(link.Value)
	if got := phone.text(".verdict h1"); got != "有效" {
		t.Fatalf("verification page says %q, want 有效", got)
	}
	if done, err := chromedp.Run(phone.ctx, chromedp.Nodes(chromedp.CSSAll(".step.done"))); err != nil || len(done) != 3 {
		t.Fatalf("verification page shows %d sealed steps, want 3 (%v)", len(done), err)
	}
	phone.shot(shots, "verify-valid")

	// An uploaded copy of the card gets the verifier's report.
	pdf := v.currentPDF(strings.TrimPrefix(cardPath.Path, "/console/cards/"))
	pdfPath := filepath.Join(t.TempDir(), "card.pdf")
	if err := os.WriteFile(pdfPath, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	phone.open("/upload")
	phone.shot(shots, "upload")
	phone.do("choose file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{pdfPath}))
	if st := phone.submit("upload", "form button[type=submit]:not(.secondary)"); st != http.StatusOK {
		t.Fatalf("upload answered %d", st)
	}
	if got := phone.text(".verdict h1"); got != "文件有效" {
		t.Fatalf("report says %q, want 文件有效", got)
	}
	if got := phone.text("main"); strings.Count(got, "（通过）") != 3 {
		t.Fatalf("report does not list three passing seals: %q", got)
	}
	phone.shot(shots, "upload-report")

	// County staff void the card; the same URL now says 已作废.
	county.do("fill void",
		chromedp.SetValue(chromedp.CSS("#void-reason"), "pregnancy_ended_without_certificate"),
		chromedp.SendKeys(chromedp.CSS("#void-note"), "经核实已终止妊娠，未提供医学证明。"),
	)
	if st := county.submit("void", "#void-submit"); st != http.StatusOK {
		t.Fatalf("void answered %d", st)
	}
	// Asked twice: the consequence, then the password (issue 16).
	if got := county.text("#consequence"); !strings.Contains(got, "已作废") || !strings.Contains(got, "不可撤销") {
		t.Fatalf("void confirmation says %q", got)
	}
	if sc, err := v.st.GetCard(context.Background(), strings.TrimPrefix(cardPath.Path, "/console/cards/")); err != nil || sc.Status != "issued" {
		t.Fatalf("before the confirmation the card is %v (%v)", sc.Status, err)
	}
	county.shot(shots, "console-void-confirm")
	county.do("re-enter password", chromedp.SendKeys(chromedp.CSS("#confirm-password"), testPassword))
	if st := county.submit("confirm void", "#confirm-status"); st != http.StatusOK {
		t.Fatalf("confirmed void answered %d", st)
	}
	if got := county.text(".status"); !strings.Contains(got, "已作废") {
		t.Fatalf("card page after void says %q", got)
	}
	county.shot(shots, "console-card-voided")
	phone.open(link.Value)
	if got := phone.text(".verdict h1"); got != "已作废" {
		t.Fatalf("verification page after void says %q, want 已作废", got)
	}
	phone.shot(shots, "verify-voided")

	// The manual check by number and code gives the same answer.
	phone.open("/check")
	phone.shot(shots, "check")
	phone.do("fill check",
		chromedp.SendKeys(chromedp.CSS("#number"), number),
		chromedp.SendKeys(chromedp.CSS("#code"), code),
	)
	phone.submit("check", "form button[type=submit]")
	if got := phone.text(".verdict h1"); got != "已作废" {
		t.Fatalf("manual check says %q, want 已作废", got)
	}

	// The Art. 18 guide lists every card type.
	phone.open("/guide")
	for id, title := range map[string]string{"first": "一孩生育服务卡", "second": "二孩生育服务卡", "rebirth": "再生育服务卡"} {
		if got := phone.text("#" + id + " h2"); got != title {
			t.Fatalf("guide section %s is %q, want %q", id, got, title)
		}
	}
	phone.shot(shots, "guide")

	// Logging out ends the session.
	village.submit("log out", ".logout button")
	village.open("/console")
	if loc := village.location(); !strings.Contains(loc, "/console/login") {
		t.Fatalf("after logout /console went to %s", loc)
	}
}

func TestBrowserForgedToken(t *testing.T) {
	bctx := browser(t)
	v := newEnv(t, Options{})
	srv := httptest.NewServer(v.e)
	t.Cleanup(srv.Close)
	shots := t.TempDir()
	phone := newTab(t, bctx, srv.URL, "phone")
	phone.do("phone screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	// Well-formed Base32 of a version-1 token's length (180), signed by
	// nobody. (Fewer characters would be a link cut short: amber.)
	phone.open("/V/" + strings.Repeat("A", 180))
	if got := phone.text(".verdict h1"); got != "无法核验" {
		t.Fatalf("forged token page says %q, want 无法核验", got)
	}
	if got := phone.text(".next"); !strings.Contains(got, "不要凭此卡办理业务") {
		t.Fatalf("forged token page gives no advice: %q", got)
	}
	phone.shot(shots, "verify-forged")
}
