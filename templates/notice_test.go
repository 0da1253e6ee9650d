package templates

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

func demoNotice(kind NoticeKind) *NoticeData {
	d := &NoticeData{
		Kind:     kind,
		Number:   "2201022026000123-N1",
		Male:     "李四",
		Female:   "王喆堃",
		CardType: card.First,
		Org:      demoVillage,
		Date:     time.Date(2026, 11, 28, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)),
	}
	switch kind {
	case NoticeMissing:
		d.Items = MaterialNames(card.RequiredMaterials(card.CaseRebirth))
	case NoticeRefusal:
		d.Items = []string{"经与全员人口数据库比对，夫妻现有子女情况不符合再生育条件（第六条）。", "所附婚育情况证明与户籍登记信息不一致。"}
	}
	return d
}

// writePDF writes b to a temporary file and returns its path.
func writePDF(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// flatText is pdftotext's text without white space (table cells and
// paragraphs wrap).
func flatText(t *testing.T, path string) string {
	t.Helper()
	return strings.Join(strings.Fields(run(t, "pdftotext", "-enc", "UTF-8", path, "-")), "")
}

func TestRenderNoticeText(t *testing.T) {
	cross := demoNotice(NoticeMissing)
	cross.Items = MaterialNames([]card.Material{card.MatMarriage})
	cross.CrossProvince = true
	cross.DueDate = time.Date(2026, 12, 25, 0, 0, 0, 0, time.UTC)
	cross.Note = "可通过网上申请上传材料照片。"
	cross.CardType = ""

	hotline := demoNotice(NoticeRefusal)
	hotline.Hotline = "0431-12356"
	hotline.Female = "" // Art. 5: one applicant
	hotline.Org = demoTownship

	for _, tc := range []struct {
		name      string
		d         *NoticeData
		want, not []string
	}{
		{"missing", demoNotice(NoticeMissing), []string{"一次性告知书", "编号：2201022026000123-N1", "李四、王喆堃：",
			"申请办理一孩生育服务卡", "第十九条", "一次性告知如下", "1．夫妻双方身份证", "2．户口簿", "3．结婚证",
			"4．单位或村(居)出具的婚育情况证明", "只需补齐上述材料", "不再要求提供其他任何材料（第八条）", "第九条",
			"即时办理", "不超过10个工作日", "永安社区居民委员会", "2026年11月28日", "特此告知。", "一律免费"},
			[]string{"不予办理", "20个工作日", "行政复议", "备注"}},
		{"missing cross-province", cross, []string{"申请办理生育服务卡", "1．结婚证", "跨省（区、市）核实", "不超过20个工作日",
			"预计于2026年12月25日前办结", "备注：可通过网上申请上传材料照片。"},
			[]string{"2．", "10个工作日", "户口簿"}},
		{"refusal", demoNotice(NoticeRefusal), []string{"不予办理告知书", "李四、王喆堃：", "决定不予办理", "第十一条",
			"书面告知如下", "1．经与全员人口数据库比对，夫妻现有子女情况不符合再生育条件（第六条）。",
			"2．所附婚育情况证明与户籍登记信息不一致。", "六十日内依法申请行政复议", "六个月内依法向人民法院提起行政诉讼",
			"监督举报电话投诉举报（第二十四条）", "特此告知。"},
			[]string{"一次性告知", "工作日", "0431-12356"}},
		{"refusal with hotline", hotline, []string{"李四：", "监督举报电话：0431-12356", "永吉街道办事处"},
			[]string{"王喆堃", "、："}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := RenderNotice(tc.d)
			if err != nil {
				t.Fatal(err)
			}
			path := writePDF(t, b)
			flat := flatText(t, path)
			for _, w := range tc.want {
				if !strings.Contains(flat, w) {
					t.Errorf("pdftotext output lacks %q:\n%s", w, flat)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(flat, w) {
					t.Errorf("pdftotext output has %q", w)
				}
			}
			info := run(t, "pdfinfo", "-enc", "UTF-8", path)
			if !regexp.MustCompile(`(?m)^Subject:\s+` + regexp.QuoteMeta(tc.d.Number) + `$`).MatchString(info) {
				t.Errorf("/Subject is not the notice number:\n%s", info)
			}
			if !regexp.MustCompile(`(?m)^Title:\s+` + tc.d.Kind.Title() + `$`).MatchString(info) {
				t.Errorf("/Title is not %s:\n%s", tc.d.Kind.Title(), info)
			}
			if !regexp.MustCompile(`(?m)^Pages:\s+1$`).MatchString(info) || !strings.Contains(info, "(A4)") {
				t.Errorf("not one A4 page:\n%s", info)
			}
		})
	}
}

// sealBoxRect converts a PDF seal box back to page coordinates.
func sealBoxRect(b [4]float64) rect { return rect{b[0], pageH - b[3], b[2] - b[0], b[3] - b[1]} }

// checkBoxesEmpty fails unless every box is a square of at least 42 mm
// on the page, apart from the others, and no laid-out text nor any word
// poppler extracts from the rendered PDF (at least minWords of them) lies
// in one of the boxes.
func checkBoxesEmpty(t *testing.T, p *page, pdfPath string, boxes map[string]rect, minWords int) {
	t.Helper()
	for name, r := range boxes {
		if r.w < 42*mm || math.Abs(r.w-r.h) > 0.01 {
			t.Errorf("%s box %v is not a square of at least 42 mm", name, r)
		}
		if r.x < 0 || r.y < 0 || r.x+r.w > pageW || r.y+r.h > pageH {
			t.Errorf("%s box %v leaves the page", name, r)
		}
		for _, tx := range p.texts {
			if tx.box(p.f).intersects(r) {
				t.Errorf("text %q (%s) inside the %s box", tx.s, tx.field, name)
			}
		}
		for m, o := range boxes {
			if m != name && r.intersects(o) {
				t.Errorf("%s and %s boxes overlap", name, m)
			}
		}
	}
	html := run(t, "pdftotext", "-bbox", pdfPath, "-")
	re := regexp.MustCompile(`<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>`)
	words := re.FindAllStringSubmatch(html, -1)
	if len(words) < minWords {
		t.Fatalf("only %d words in the bbox output", len(words))
	}
	for _, w := range words {
		var v [4]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(w[i+1], 64)
		}
		wr := rect{v[0], v[1], v[2] - v[0], v[3] - v[1]}
		for name, r := range boxes {
			if wr.intersects(r) {
				t.Errorf("word %q at %v inside the %s box", w[5], v, name)
			}
		}
	}
}

func TestNoticeSealBox(t *testing.T) {
	for _, kind := range []NoticeKind{NoticeMissing, NoticeRefusal} {
		t.Run(string(kind), func(t *testing.T) {
			d := demoNotice(kind)
			// The longest text allowed still leaves the box empty.
			d.Note = strings.Repeat("备注文字", 40)
			p, err := layoutNotice(d)
			if err != nil {
				t.Fatal(err)
			}
			box := sealBoxRect(NoticeSealBox())
			if math.Abs(box.w-sealSide) > 0.01 {
				t.Errorf("notice seal box is %.1f mm wide, the card's %.1f mm", box.w/mm, sealSide/mm)
			}
			b, err := RenderNotice(d)
			if err != nil {
				t.Fatal(err)
			}
			checkBoxesEmpty(t, p, writePDF(t, b), map[string]rect{"seal": box}, 10)
		})
	}
}

// TestNoticeShrinksThenRefuses: twenty long items fit at a smaller size;
// more text than a page holds is ErrLayout, not a second page or text
// under the seal.
func TestNoticeShrinksThenRefuses(t *testing.T) {
	d := demoNotice(NoticeRefusal)
	d.Items = nil
	for i := 0; i < 12; i++ {
		d.Items = append(d.Items, strings.Repeat("不符合办理条件的原因", 5))
	}
	p, err := layoutNotice(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range p.texts {
		if tx.field == "items[0]" && tx.size >= 12 {
			t.Errorf("items at size %v, want shrunk below 12", tx.size)
		}
	}
	d.Items = nil
	for i := 0; i < maxNoticeItems; i++ {
		d.Items = append(d.Items, strings.Repeat("原因", maxItemLen/2))
	}
	if _, err := RenderNotice(d); !errors.Is(err, ErrLayout) {
		t.Fatalf("err = %v, want ErrLayout", err)
	}
}

func TestNoticeDataErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(d *NoticeData)
		want error
	}{
		{"nil", nil, ErrNoticeData},
		{"unknown kind", func(d *NoticeData) { d.Kind = "warning" }, ErrNoticeData},
		{"no number", func(d *NoticeData) { d.Number = " " }, ErrNoticeData},
		{"long number", func(d *NoticeData) { d.Number = strings.Repeat("1", maxNumber+1) }, ErrNoticeData},
		{"no names", func(d *NoticeData) { d.Male, d.Female = "", " " }, ErrNoticeData},
		{"no date", func(d *NoticeData) { d.Date = time.Time{} }, ErrNoticeData},
		{"no items", func(d *NoticeData) { d.Items = nil }, ErrNoticeData},
		{"empty item", func(d *NoticeData) { d.Items = append(d.Items, "  ") }, ErrNoticeData},
		{"long item", func(d *NoticeData) { d.Items = []string{strings.Repeat("长", maxItemLen+1)} }, ErrNoticeData},
		{"too many items", func(d *NoticeData) { d.Items = make([]string, maxNoticeItems+1) }, ErrNoticeData},
		{"bad card type", func(d *NoticeData) { d.CardType = "third" }, ErrNoticeData},
		{"no org level", func(d *NoticeData) { d.Org.Level = "" }, ErrNoticeData},
		{"bad org code", func(d *NoticeData) { d.Org.Code = "2201" }, org.ErrBadCode},
		{"time limit on refusal", func(d *NoticeData) { d.Kind = NoticeRefusal; d.CrossProvince = true }, ErrNoticeData},
		{"long note", func(d *NoticeData) { d.Note = strings.Repeat("注", maxNoteLen+1) }, ErrNoticeData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d *NoticeData
			if tc.edit != nil {
				d = demoNotice(NoticeMissing)
				tc.edit(d)
			}
			if _, err := RenderNotice(d); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNoticeMissingGlyph(t *testing.T) {
	for _, tc := range []struct {
		field string
		char  rune
		set   func(d *NoticeData, s string)
	}{
		{"male.name", 0x20000, func(d *NoticeData, s string) { d.Male = "李" + s }},
		{"female.name", 0x9FF0, func(d *NoticeData, s string) { d.Female = "王" + s }},
		{"items[1]", 0x2A6D6, func(d *NoticeData, s string) { d.Items[1] += s }},
		{"org.name", 0xE000, func(d *NoticeData, s string) { d.Org.Name += s }},
		{"note", 0x1F600, func(d *NoticeData, s string) { d.Note = "请带原件" + s }},
		{"number", 0x1F600, func(d *NoticeData, s string) { d.Number += s }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			d := demoNotice(NoticeRefusal)
			tc.set(d, string(tc.char))
			_, err := RenderNotice(d)
			var mg *MissingGlyphError
			if !errors.As(err, &mg) {
				t.Fatalf("err = %v, want *MissingGlyphError", err)
			}
			if mg.Field != tc.field || mg.Char != tc.char {
				t.Errorf("got field %q char %U, want %q %U", mg.Field, mg.Char, tc.field, tc.char)
			}
		})
	}
}

func TestMaterialNames(t *testing.T) {
	got := MaterialNames([]card.Material{card.MatBirthCert, card.MatApplicantID})
	if strings.Join(got, "|") != "子女出生医学证明|申请人身份证" {
		t.Fatalf("MaterialNames = %q", got)
	}
}
