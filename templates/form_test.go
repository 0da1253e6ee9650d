package templates

import (
	"errors"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

func demoForm(t testing.TB) *RebirthFormData {
	a := demoApplicant(t)
	a.Type = card.Rebirth
	a.ChildOrder = 3
	a.StatusCert = &card.StatusCert{Number: "YJ-2026-0042", Issuer: "永安社区居民委员会"}
	a.Children = []card.Child{{Name: "李翀", Sex: "男", BirthDate: "2021-03-04"}, {Name: "李玥", Sex: "女", BirthDate: "2023-08-14"}}
	a.Commitment = true
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	d := demoCard(t)
	return &RebirthFormData{
		Number:     "2201022026000123-F",
		Applicant:  a,
		Village:    demoVillage,
		Township:   demoTownship,
		County:     demoCounty,
		Date:       d.IssueDate,
		Reason:     "次子经市级医疗机构鉴定为非遗传性残疾，不能成长为正常劳动力。",
		Conditions: "《吉林省人口与计划生育条例》规定的可以再生育的特殊情形",
		Opinions:   map[org.Level]string{org.Township: "经审核，情况属实，符合再生育条件，同意上报。"},
	}
}

func TestRenderRebirthFormText(t *testing.T) {
	d := demoForm(t)
	b, err := RenderRebirthForm(d)
	if err != nil {
		t.Fatal(err)
	}
	path := writePDF(t, b)
	flat := flatText(t, path)
	for _, w := range []string{"再生育审批表", "编号：2201022026000123-F", "填表日期：2026年11月28日",
		"李四", "王喆堃", "220102199003071235", "220102199208152346", "J220102-2024-001234", "YJ-2026-0042",
		"现有子女", "1.李翀，男，2021年3月4日出生；2.李玥，女，2023年8月14日出生", "申请再生育理由", "非遗传性残疾",
		"规定的可以再生育的特殊情形", "是（夫妻双方已书面承诺申办理由真实）",
		"村(居)意见", "乡(镇、街道)意见", "县级审批意见",
		DefaultOpinion(org.Village), "经审核，情况属实，符合再生育条件，同意上报。", DefaultOpinion(org.County),
		"永安社区居民委员会（盖章）", "永吉街道办事处（盖章）", "长春市南关区卫生健康局（盖章）", "第十七条", "补盖电子印章"} {
		if !strings.Contains(flat, strings.ReplaceAll(w, " ", "")) {
			t.Errorf("pdftotext output lacks %q:\n%s", w, flat)
		}
	}
	if strings.Contains(flat, DefaultOpinion(org.Township)) {
		t.Error("the township's own opinion was replaced by the default")
	}
	info := run(t, "pdfinfo", "-enc", "UTF-8", path)
	if !strings.Contains(info, "Subject:         2201022026000123-F\n") || !strings.Contains(info, "Title:           再生育审批表\n") {
		t.Errorf("document information:\n%s", info)
	}
}

func TestRebirthFormSealBoxes(t *testing.T) {
	d := demoForm(t)
	// Long text everywhere it may be long still keeps the boxes empty.
	// The longest data an application and the form allow still fits, with
	// the boxes empty.
	long := string([]rune(strings.Repeat("吉林省长春市南关区永吉街道幸福里小区3栋2单元501室", 8))[:200])
	a := d.Applicant
	a.Male.Hukou, a.Male.Residence, a.Female.Hukou, a.Female.Residence = long, long, long, long
	a.Children = make([]card.Child, 8)
	for i := range a.Children {
		a.Children[i] = card.Child{Name: "李翀翀", Sex: "男", BirthDate: "2020-01-01"}
	}
	a.StatusCert.Issuer = strings.Repeat("永安社区居民委员会", 5)
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	d.Reason = strings.Repeat("理由", maxReasonLen/2)
	d.Conditions = strings.Repeat("情形", maxReasonLen/2)
	for _, l := range org.Levels {
		d.Opinions[l] = string([]rune(strings.Repeat("经审核符合条件同意办理", 10))[:maxOpinionLen])
	}
	p, err := layoutRebirthForm(d)
	if err != nil {
		t.Fatal(err)
	}
	b, err := RenderRebirthForm(d)
	if err != nil {
		t.Fatal(err)
	}
	boxes := map[string]rect{}
	for _, l := range org.Levels {
		boxes[string(l)] = sealBoxRect(RebirthFormSealBox(l))
	}
	checkBoxesEmpty(t, p, writePDF(t, b), boxes, 10)
	// Left to right: village, township, county.
	if !(boxes["village"].x < boxes["township"].x && boxes["township"].x < boxes["county"].x) {
		t.Errorf("boxes not in level order: %v", boxes)
	}
	// The card's boxes are elsewhere: a card seal does not fit a form.
	for _, l := range org.Levels {
		if RebirthFormSealBox(l) == SealBox(l) {
			t.Errorf("%s: form box equals the card's", l)
		}
	}
	if RebirthFormSealBox("province") != [4]float64{} {
		t.Error("unknown level has a box")
	}
}

func TestRebirthFormErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(d *RebirthFormData)
		want error
	}{
		{"no applicant", func(d *RebirthFormData) { d.Applicant = nil }, ErrNoticeData},
		{"first-child application", func(d *RebirthFormData) { d.Applicant.Type = card.First }, ErrNoticeData},
		{"no number", func(d *RebirthFormData) { d.Number = "" }, ErrNoticeData},
		{"no reason", func(d *RebirthFormData) { d.Reason = " " }, ErrNoticeData},
		{"opinion of unknown level", func(d *RebirthFormData) { d.Opinions["province"] = "同意" }, ErrNoticeData},
		{"levels swapped", func(d *RebirthFormData) { d.Village, d.Township = d.Township, d.Village }, ErrNoticeData},
		{"not nested", func(d *RebirthFormData) { d.Township.Code = "220103001" }, ErrNoticeData},
		{"long opinion", func(d *RebirthFormData) {
			d.Opinions[org.Village] = strings.Repeat("经", maxOpinionLen+1)
		}, ErrNoticeData},
		{"long reason", func(d *RebirthFormData) { d.Reason = strings.Repeat("理", maxReasonLen+1) }, ErrNoticeData},
		{"too much text", func(d *RebirthFormData) {
			// Beyond what an application may hold (Applicant.Validate is
			// the caller's): the page cannot take it.
			long := strings.Repeat("吉林省长春市南关区永吉街道幸福里小区", 30)
			d.Applicant.Male.Hukou, d.Applicant.Male.Residence = long, long
			d.Applicant.Female.Hukou, d.Applicant.Female.Residence = long, long
		}, ErrLayout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := demoForm(t)
			tc.edit(d)
			if _, err := RenderRebirthForm(d); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRebirthFormMissingGlyph(t *testing.T) {
	for _, tc := range []struct {
		field string
		char  rune
		set   func(d *RebirthFormData, s string)
	}{
		{"reason", 0x20000, func(d *RebirthFormData, s string) { d.Reason += s }},
		{"county.opinion", 0x9FF0, func(d *RebirthFormData, s string) { d.Opinions[org.County] = "同意" + s }},
		{"female.name", 0x2A6D6, func(d *RebirthFormData, s string) { d.Applicant.Female.Name = "王" + s }},
		{"children", 0x20001, func(d *RebirthFormData, s string) { d.Applicant.Children[0].Name = "李" + s }},
		{"county.name", 0xE000, func(d *RebirthFormData, s string) { d.County.Name += s }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			d := demoForm(t)
			tc.set(d, string(tc.char))
			_, err := RenderRebirthForm(d)
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
