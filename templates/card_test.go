package templates

import (
	"bytes"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/org"
)

// renderFile renders d and writes it to a temporary directory.
func renderFile(t *testing.T, d *CardData) string {
	t.Helper()
	b, err := RenderCard(d)
	if err != nil {
		t.Fatalf("RenderCard: %v", err)
	}
	path := filepath.Join(t.TempDir(), "card.pdf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, prog string, args ...string) string {
	t.Helper()
	out, err := exec.Command(testtool.Require(t, prog), args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", prog, args, err)
	}
	return string(out)
}

func TestRenderCardText(t *testing.T) {
	proxy := demoCard(t)
	proxy.Applicant.Channel = card.ChannelProxy
	proxy.Applicant.Proxy = &card.Proxy{Name: "赵玥", IDNumber: "220102199501011234", Relationship: "亲属"}
	proxy.Applicant.Retroactive = true
	proxy.Applicant.BirthCertNumber = "Q220123456"
	proxy.Applicant.Commitment = true

	unmarried := demoCard(t)
	unmarried.Applicant.Marriage = nil
	unmarried.Applicant.StatusCert = &card.StatusCert{Number: "YJ-2026-0042", Issuer: "永安社区居民委员会"}
	unmarried.Applicant.Channel = card.ChannelStaff
	unmarried.Applicant.Children = []card.Child{{Name: "李翀", Sex: "男", BirthDate: "2021-03-04"}}
	unmarried.Applicant.ChildOrder = 2
	unmarried.Type, unmarried.Applicant.Type = card.Second, card.Second

	for _, tc := range []struct {
		name string
		d    *CardData
		want []string
		not  []string
	}{
		{"self", demoCard(t), []string{"吉林省", "一孩生育服务卡", "李四", "王喆堃", "220102-2026-000123", "7K3Q-9XWD-M2PA",
			"220102199003071235", "J220102-2024-001234", "2024年5月20日", "第一个子女", "本人申请", "永安社区居民委员会",
			"永吉街道办事处", "长春市南关区卫生健康局", "2026年11月28日", "本卡可自行打印，黑白打印件有效", "扫码核验真伪",
			"村(居)级", "乡(镇、街道)级", "县级"}, []string{"婚育情况证明"}},
		{"proxy", proxy, []string{"委托代办", "赵玥", "Q220123456", "是（申请人已书面承诺"}, []string{"本人申请"}},
		{"unmarried", unmarried, []string{"二孩生育服务卡", "婚育情况证明", "YJ-2026-0042", "李翀", "2021年3月4日", "第二个子女", "工作人员上门代办"},
			[]string{"结婚证字号"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := run(t, "pdftotext", "-enc", "UTF-8", renderFile(t, tc.d), "-")
			// Table cells may wrap; compare without line breaks and spaces.
			flat := strings.Join(strings.Fields(text), "")
			for _, w := range tc.want {
				if !strings.Contains(flat, strings.ReplaceAll(w, " ", "")) {
					t.Errorf("pdftotext output lacks %q:\n%s", w, text)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(flat, w) {
					t.Errorf("pdftotext output has %q", w)
				}
			}
		})
	}
}

func TestFontEmbeddedAsSubset(t *testing.T) {
	out := run(t, "pdffonts", renderFile(t, demoCard(t)))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want exactly one font:\n%s", out)
	}
	f := strings.Fields(lines[2])
	// name type… encoding emb sub uni object ID
	if !regexp.MustCompile(`^[A-Z]{6}\+`).MatchString(f[0]) {
		t.Errorf("font name %q has no subset tag", f[0])
	}
	if got := strings.Join(f[len(f)-5:len(f)-2], " "); got != "yes yes yes" {
		t.Errorf("emb sub uni = %q, want yes yes yes:\n%s", got, out)
	}
	if !strings.Contains(lines[2], "CID TrueType") {
		t.Errorf("font is not a CID TrueType font:\n%s", out)
	}
}

// TestQRCodeScans rasterises the card as a black-and-white office print
// is scanned, 1 bit per pixel at 150 dpi and grey at 150 dpi, and decodes
// the QR code with zbarimg.
func TestQRCodeScans(t *testing.T) {
	d := demoCard(t)
	pdf := renderFile(t, d)
	for _, mode := range []string{"-mono", "-gray"} {
		t.Run(mode, func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "page")
			run(t, "pdftoppm", mode, "-r", "150", "-png", "-f", "1", "-l", "1", pdf, prefix)
			got := run(t, "zbarimg", "--raw", "-q", prefix+"-1.png")
			if strings.TrimRight(got, "\n") != d.QRURL {
				t.Fatalf("zbarimg decoded %q, want %q", got, d.QRURL)
			}
		})
	}
}

func TestQRURL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		url     string
		wantErr bool
		version int
	}{
		// The URL of a version-2 token on a production host (57
		// characters) and the longest one token.URL allows (64).
		{"version-2 token", demoURL(), false, 3},
		{"64 characters", "HTTPS://" + strings.Repeat("X", 27) + "/V/" + strings.Repeat("A", 26), false, 4},
		{"short", "HTTP://X/V/AB", false, 1},
		// 90 alphanumeric characters fit version 4-M; in byte mode it
		// holds 62: the encoder must be using alphanumeric mode.
		{"90 characters", "HTTP://X/V/" + strings.Repeat("A", 79), false, 4},
		{"needs version 5", "HTTP://X/V/" + strings.Repeat("A", 80), true, 0},
		{"version-1 token", "HTTP://127.0.0.1:8080/V/" + strings.Repeat("A", 180), true, 0},
		{"lower case", strings.ToLower(demoURL()), true, 0},
		{"query string", "HTTP://X/V?T=1", true, 0},
		{"empty", "", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := QRVersion(tc.url)
			if tc.wantErr {
				if !errors.Is(err, ErrQRURL) {
					t.Fatalf("err = %v, want ErrQRURL", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v != tc.version {
				t.Errorf("version %d for %d characters, want %d", v, len(tc.url), tc.version)
			}
		})
	}
}

// TestStatusIndexInInfo: the card's status-list index is an integer entry
// of the document information in the trailer of revision 0, inserted
// without moving any object (qpdf finds the cross-reference table
// intact), next to the title and subject pdfinfo shows.
func TestStatusIndexInInfo(t *testing.T) {
	d := demoCard(t)
	path := renderFile(t, d)
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte("/"+StatusIndexKey+" ")); n != 1 {
		t.Fatalf("%d %s entries", n, StatusIndexKey)
	}
	if !bytes.Contains(b, []byte("/Info <<\n/"+StatusIndexKey+" 658188\n")) {
		t.Fatal("the status index is not in the trailer's /Info")
	}
	if out, err := exec.Command(testtool.Require(t, "qpdf"), "--check", path).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
	info := run(t, "pdfinfo", "-enc", "UTF-8", path)
	if !strings.Contains(info, "Subject:         "+d.Number+"\n") || !strings.Contains(info, "Title:           吉林省一孩生育服务卡\n") {
		t.Fatalf("pdfinfo:\n%s", info)
	}
	for _, bad := range []int{-1, 1 << 24} {
		d.StatusIndex = bad
		if _, err := RenderCard(d); !errors.Is(err, ErrCardData) {
			t.Errorf("status index %d: %v", bad, err)
		}
	}
}

func TestMissingGlyph(t *testing.T) {
	for _, tc := range []struct {
		field string
		char  rune
		set   func(d *CardData, s string)
	}{
		{"male.name", 0x20000, func(d *CardData, s string) { d.Applicant.Male.Name = "李" + s }},
		{"female.hukou", 0xE000, func(d *CardData, s string) { d.Applicant.Female.Hukou += s }},
		{"female.name", 0x9FF0, func(d *CardData, s string) { d.Applicant.Female.Name = "王" + s }},
		{"proxy", 0x20001, func(d *CardData, s string) {
			d.Applicant.Channel = card.ChannelProxy
			d.Applicant.Proxy = &card.Proxy{Name: "张" + s, Relationship: "亲属"}
		}},
		{"children", 0x2A6D6, func(d *CardData, s string) {
			d.Applicant.Children = []card.Child{{Name: "李" + s, Sex: "女", BirthDate: "2020-01-01"}}
		}},
		{"township.name", 0xF0000, func(d *CardData, s string) { d.Township.Name = "永吉" + s + "街道办事处" }},
		{"number", 0x1F600, func(d *CardData, s string) { d.Number = "220102" + s }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			d := demoCard(t)
			tc.set(d, string(tc.char))
			_, err := RenderCard(d)
			var mg *MissingGlyphError
			if !errors.As(err, &mg) {
				t.Fatalf("err = %v, want *MissingGlyphError", err)
			}
			if mg.Field != tc.field || mg.Char != tc.char {
				t.Errorf("got field %q char %U, want %q %U", mg.Field, mg.Char, tc.field, tc.char)
			}
			if !errors.Is(err, ErrMissingGlyph) {
				t.Error("error does not wrap ErrMissingGlyph")
			}
			if !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), "U+") {
				t.Errorf("message %q names neither field nor character", err)
			}
		})
	}
}

func TestFontCoverage(t *testing.T) {
	f, err := loadFace()
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for r := rune(0x4E00); r <= 0x9FFF; r++ {
		if !f.covers(r) {
			missing++
			if r < 0x9FF0 {
				t.Errorf("%U missing from the CJK block", r)
			}
		}
	}
	if missing != 16 {
		t.Errorf("%d CJK ideographs missing, want 16 (U+9FF0–U+9FFF)", missing)
	}
	for _, r := range "喆堃玥珺赟翀昇○●✓□，。、；：（）　０Ａａ·—" + "0Aa" {
		if !f.covers(r) {
			t.Errorf("%U %q not covered", r, r)
		}
	}
	if err := CheckText("x", "吉林省喆堃"); err != nil {
		t.Error(err)
	}
}

func TestCardDataErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(d *CardData)
		want error
	}{
		{"no applicant", func(d *CardData) { d.Applicant = nil }, ErrCardData},
		{"type mismatch", func(d *CardData) { d.Type = card.Second }, ErrCardData},
		{"unknown type", func(d *CardData) { d.Type = "fourth" }, ErrCardData},
		{"no number", func(d *CardData) { d.Number = " " }, ErrCardData},
		{"no verification code", func(d *CardData) { d.VerificationCode = "" }, ErrCardData},
		{"no issue date", func(d *CardData) { d.IssueDate = time.Time{} }, ErrCardData},
		{"levels swapped", func(d *CardData) { d.Village, d.Township = d.Township, d.Village }, ErrCardData},
		{"not nested", func(d *CardData) { d.Village.Code = "220103001001" }, ErrCardData},
		{"bad code", func(d *CardData) { d.County.Code = "22010" }, org.ErrBadCode},
		{"QR lower case", func(d *CardData) { d.QRURL = "http://x/v/ab" }, ErrQRURL},
		{"too much text", func(d *CardData) {
			long := strings.Repeat("吉林省长春市南关区永吉街道幸福里小区", 11)
			d.Applicant.Male.Hukou, d.Applicant.Male.Residence = long, long
			d.Applicant.Female.Hukou, d.Applicant.Female.Residence = long, long
			d.Applicant.Children = make([]card.Child, 8)
			for i := range d.Applicant.Children {
				d.Applicant.Children[i] = card.Child{Name: "李翀翀翀翀翀翀翀翀翀翀翀翀翀翀", Sex: "男", BirthDate: "2020-01-01"}
			}
		}, ErrLayout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := demoCard(t)
			tc.edit(d)
			if _, err := RenderCard(d); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestLongAddressesFit: the maximum address length (200 characters) still
// renders, with the body's font shrunk, and stays out of the seal boxes.
func TestLongAddressesFit(t *testing.T) {
	d := demoCard(t)
	long := []rune(strings.Repeat("吉林省长春市南关区永吉街道幸福里小区3栋2单元501室", 8))[:200]
	d.Applicant.Male.Residence = string(long)
	d.Applicant.Female.Hukou = string(long)
	p, err := layoutCard(d)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []float64
	for _, tx := range p.texts {
		if tx.field == "male.residence" {
			sizes = append(sizes, tx.size)
		}
	}
	if len(sizes) < 2 || sizes[0] >= 10.5 {
		t.Errorf("long address: %d lines at size %v, want several lines at a smaller size", len(sizes), sizes)
	}
	text := run(t, "pdftotext", "-enc", "UTF-8", renderFile(t, d), "-")
	if !strings.Contains(strings.Join(strings.Fields(text), ""), "幸福里小区3栋2单元501室吉林省") {
		t.Error("wrapped address not extractable")
	}
}

func TestSealBoxes(t *testing.T) {
	p, err := layoutCard(demoCard(t))
	if err != nil {
		t.Fatal(err)
	}
	var qr rect
	for _, r := range p.reserved {
		if r.name == "QR code" {
			qr = r.r
		}
	}
	if qr.w < qrSymbolW {
		t.Fatalf("QR area %v narrower than the symbol", qr)
	}
	if qr.w-2*qrQuiet*qrSymbolW/float64(len(mustModules(t))) < 35*mm {
		t.Errorf("QR symbol narrower than 35 mm")
	}
	boxes := map[string]rect{}
	for _, l := range org.Levels {
		r := sealBoxRect(SealBox(l))
		if g := r.gap(qr); g < 42*mm {
			t.Errorf("%s box is %.1f mm from the QR code, want ≥ 42 mm", l, g/mm)
		}
		boxes[string(l)] = r
	}
	if SealBox("province") != [4]float64{} {
		t.Error("unknown level has a box")
	}
	// Squares of at least 42 mm on the page, apart, with no laid-out
	// text and no word poppler extracts from the rendered page in them.
	checkBoxesEmpty(t, p, renderFile(t, demoCard(t)), boxes, 40)
}

func mustModules(t *testing.T) [][]bool {
	m, err := qrModules(demoURL())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRenderConcurrentDeterministic renders from many goroutines (run
// with -race: the parsed font is shared) and checks the output is the
// same bytes each time.
func TestRenderConcurrentDeterministic(t *testing.T) {
	want, err := RenderCard(demoCard(t))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := RenderCard(demoCard(t))
			if err == nil && !bytes.Equal(got, want) {
				err = errors.New("output differs between renders")
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestWrap(t *testing.T) {
	f, err := loadFace()
	if err != nil {
		t.Fatal(err)
	}
	p := newPage(f)
	for _, tc := range []struct {
		in    string
		width float64
		want  []string
	}{
		{"吉林省长春市", 3 * 10, []string{"吉林省", "长春市"}},
		{"幸福里5单元501", 5 * 10, []string{"幸福里5单", "元501"}},
		{"甲乙，丙", 2 * 10, []string{"甲乙，", "丙"}},
		{"0123456789", 30, []string{"01234", "56789"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := p.wrap(tc.in, tc.width+0.01, 10)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("wrap(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzWrap(f *testing.F) {
	for _, s := range []string{"吉林省长春市南关区", "A-1/2.3 幸福里，501", "\n\n", ""} {
		f.Add(s, 40.0)
	}
	fc, err := loadFace()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string, w float64) {
		if w <= 0 || w > 1e4 || math.IsNaN(w) {
			return
		}
		p := newPage(fc)
		lines := p.wrap(s, w, 10)
		if got, want := strings.Join(lines, ""), strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\n", ""); got != want {
			t.Fatalf("wrap lost text: %q != %q", got, want)
		}
	})
}

func BenchmarkRender(b *testing.B) {
	d := demoCard(b)
	if _, err := RenderCard(d); err != nil { // font loaded before timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderCard(d); err != nil {
			b.Fatal(err)
		}
	}
}
