package templates

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// RebirthFormData is everything printed on a re-birth approval form
// (再生育审批表, Art. 6 and 17).
type RebirthFormData struct {
	Number    string          // form number (e.g. the card number + "-F"); also the PDF's /Subject
	Applicant *card.Applicant // a re-birth application
	Village   org.Org         // village (residents') committee that received or pre-reviewed it
	Township  org.Org
	County    org.Org
	Date      time.Time // date the form is drawn up
	// Reason is the couple's reason for the application (申请再生育理由).
	Reason string
	// Conditions, optional, names the re-birth condition the couple meets
	// (符合再生育条件情形).
	Conditions string
	// Opinions holds each level's written opinion; a level without one
	// gets DefaultOpinion. All three are printed in revision 0: a seal
	// may add nothing but itself, so the opinions cannot be written in
	// later.
	Opinions map[org.Level]string
}

// DefaultOpinion is the opinion printed for a level that gave none.
func DefaultOpinion(l org.Level) string {
	switch l {
	case org.Village:
		return "经核实，申请情况属实，同意上报。"
	case org.Township:
		return "经审核，符合再生育条件，同意上报县级卫生健康部门审批。"
	case org.County:
		return "经审核，符合再生育条件，同意办理再生育服务卡。"
	}
	return ""
}

// opinionLabel is the caption of a level's opinion column.
func opinionLabel(l org.Level) string {
	switch l {
	case org.Village:
		return "村(居)意见"
	case org.Township:
		return "乡(镇、街道)意见"
	case org.County:
		return "县级审批意见"
	}
	return ""
}

// Page geometry of the form, in points from the upper-left corner: the
// three opinions stand side by side in the lower part of the page, each
// in a column with its caption, the text, the organisation's name and the
// seal box at the bottom.
const (
	formBodyTop    = 36 * mm
	formOpinionTop = 190 * mm
	formHeadH      = 8 * mm
	formOpinionBot = 276 * mm
	formColW       = contentW / 3
	formLabelW     = 30 * mm
	maxOpinionLen  = 80
	maxReasonLen   = 200
)

// formColumn returns the opinion column of a level (below its caption).
func formColumn(l org.Level) (rect, bool) {
	for i, lv := range org.Levels {
		if lv == l {
			top := formOpinionTop + formHeadH
			return rect{marginX + float64(i)*formColW, top, formColW, formOpinionBot - top}, true
		}
	}
	return rect{}, false
}

func formSealRect(l org.Level) (rect, bool) {
	col, ok := formColumn(l)
	if !ok {
		return rect{}, false
	}
	return rect{col.x + (col.w-sealSide)/2, col.y + col.h - 2*mm - sealSide, sealSide, sealSide}, true
}

// RebirthFormSealBox returns the square on page 1 (index 0) of the
// re-birth approval form where the seal of level l goes, as [llx lly urx
// ury] in PDF points with the lower-left origin. No text is drawn inside
// it. An unknown level yields the zero array.
func RebirthFormSealBox(l org.Level) [4]float64 {
	r, ok := formSealRect(l)
	if !ok {
		return [4]float64{}
	}
	return r.pdf()
}

// RenderRebirthForm draws revision 0 of a re-birth approval form: one A4
// page, black on white, with the three seal boxes empty.
func RenderRebirthForm(d *RebirthFormData) ([]byte, error) {
	p, err := layoutRebirthForm(d)
	if err != nil {
		return nil, err
	}
	return p.render(docInfo{title: "再生育审批表", subject: d.Number, created: d.Date})
}

func checkRebirthFormData(d *RebirthFormData) error {
	switch {
	case d == nil || d.Applicant == nil:
		return fmt.Errorf("%w: no applicant", ErrNoticeData)
	case d.Applicant.Type != card.Rebirth:
		return fmt.Errorf("%w: the application is for a %q card, not a re-birth card", ErrNoticeData, d.Applicant.Type)
	case strings.TrimSpace(d.Number) == "" || runeLen(d.Number) > maxNumber:
		return fmt.Errorf("%w: form number must have 1 to %d characters", ErrNoticeData, maxNumber)
	case d.Date.IsZero():
		return fmt.Errorf("%w: no date", ErrNoticeData)
	case strings.TrimSpace(d.Reason) == "" || runeLen(d.Reason) > maxReasonLen:
		return fmt.Errorf("%w: the reason must have 1 to %d characters", ErrNoticeData, maxReasonLen)
	case runeLen(d.Conditions) > maxReasonLen:
		return fmt.Errorf("%w: the conditions have at most %d characters", ErrNoticeData, maxReasonLen)
	}
	for l, s := range d.Opinions {
		if !l.Valid() {
			return fmt.Errorf("%w: opinion of unknown level %q", ErrNoticeData, l)
		}
		if runeLen(s) > maxOpinionLen {
			return fmt.Errorf("%w: the %s opinion has at most %d characters", ErrNoticeData, l, maxOpinionLen)
		}
	}
	// The same organisation rules as the card's.
	cd := &CardData{Number: d.Number, Type: card.Rebirth, Applicant: d.Applicant, Village: d.Village,
		Township: d.Township, County: d.County, IssueDate: d.Date, VerificationCode: "-"}
	if err := checkCardData(cd); err != nil {
		return fmt.Errorf("%w: %w", ErrNoticeData, err)
	}
	return nil
}

func (d *RebirthFormData) opinion(l org.Level) string {
	if s := strings.TrimSpace(d.Opinions[l]); s != "" {
		return s
	}
	return DefaultOpinion(l)
}

// layoutRebirthForm builds the form's display list; the upper part's
// font size shrinks until it ends above the opinion columns.
func layoutRebirthForm(d *RebirthFormData) (*page, error) {
	if err := checkRebirthFormData(d); err != nil {
		return nil, err
	}
	f, err := loadFace()
	if err != nil {
		return nil, err
	}
	fields := []cell{{"number", d.Number}, {"reason", d.Reason}, {"conditions", d.Conditions}}
	for _, l := range org.Levels {
		fields = append(fields, cell{string(l) + ".opinion", d.opinion(l)})
	}
	if err := checkFields(f, fields); err != nil {
		return nil, err
	}
	for size := 10.5; size >= 7; size -= 0.5 {
		p := newPage(f)
		if formBody(p, d, size) > formOpinionTop-3*mm {
			continue
		}
		if !formOpinions(p, d) {
			return nil, fmt.Errorf("%w: an opinion is too long for its column", ErrLayout)
		}
		formFrame(p, d)
		if err := p.validate(); err != nil {
			return nil, err
		}
		return p, nil
	}
	// Report a missing glyph before a size problem.
	p := newPage(f)
	formBody(p, d, 7)
	if err := p.validate(); err != nil && errors.Is(err, ErrMissingGlyph) {
		return nil, err
	}
	return nil, fmt.Errorf("%w: the application's data is too long for the form's page", ErrLayout)
}

// formFrame draws the title, the number and the footer.
func formFrame(p *page, d *RebirthFormData) {
	p.textIn("label", "再生育审批表", 0, 20*mm, pageW, 20, center)
	p.text("label", "填表日期："+chineseDate(d.Date), marginX, 30*mm, 10)
	p.textIn("number", "编号："+d.Number, marginX, 30*mm, contentW, 10, right)
	p.line(marginX, 280*mm, pageW-marginX, 280*mm, 0.5)
	p.textIn("label", "依据《吉林省生育服务卡办理的若干规定》第六条、第十七条。县级可根据乡、村上报名单先行审批，村(居)、乡(镇、街道)可在本表补盖电子印章。", marginX, 285*mm, contentW, 8, center)
	p.textIn("label", "各级意见以所加盖的电子印章（国密SM2算法签署）为准，签署时间见印章。", marginX, 290*mm, contentW, 8, center)
}

// formBody lays out the couple's table and the application's record at
// the given size and returns the bottom of the body.
func formBody(p *page, d *RebirthFormData, size float64) float64 {
	a := d.Applicant
	y := formBodyTop
	spouse := func(field, label string, get func(card.Person) string) []cell {
		return []cell{{"label", label}, {"male." + field, get(a.Male)}, {"female." + field, get(a.Female)}}
	}
	half := (contentW - formLabelW) / 2
	y += p.table(marginX, y, []float64{formLabelW, half, half}, [][]cell{
		{{"label", "项　目"}, {"label", "男　方"}, {"label", "女　方"}},
		spouse("name", "姓　名", func(q card.Person) string { return q.Name }),
		spouse("id_number", "公民身份号码", func(q card.Person) string { return q.IDNumber }),
		spouse("hukou", "户籍地", func(q card.Person) string { return q.Hukou }),
		spouse("residence", "现居住地", func(q card.Person) string { return q.Residence }),
	}, size, true)

	wide := []float64{formLabelW, contentW - formLabelW}
	pair := []float64{formLabelW, half - formLabelW/2, formLabelW, half - formLabelW/2}
	var rows [][]cell
	if m := a.Marriage; m != nil {
		y += p.table(marginX, y, pair, [][]cell{{{"label", "结婚登记日期"}, {"marriage.date", chineseDateString(m.Date)},
			{"label", "结婚证字号"}, {"marriage.cert_number", m.CertNumber}}}, size, true)
	}
	if s := a.StatusCert; s != nil {
		v := "编号：" + s.Number
		if strings.TrimSpace(s.Issuer) != "" {
			v += "；出具单位：" + s.Issuer
		}
		rows = append(rows, []cell{{"label", "婚育情况证明"}, {"status_cert", v}})
	}
	children := "无"
	if len(a.Children) > 0 {
		var parts []string
		for i, c := range a.Children {
			parts = append(parts, fmt.Sprintf("%d. %s，%s，%s出生", i+1, c.Name, c.Sex, chineseDateString(c.BirthDate)))
		}
		children = strings.Join(parts, "；")
	}
	rows = append(rows, []cell{{"label", "现有子女"}, {"children", children}})
	rows = append(rows, []cell{{"label", "申请再生育理由"}, {"reason", d.Reason}})
	if c := strings.TrimSpace(d.Conditions); c != "" {
		rows = append(rows, []cell{{"label", "符合再生育条件情形"}, {"conditions", c}})
	}
	commit := "否"
	if a.Commitment {
		commit = "是（夫妻双方已书面承诺申办理由真实）"
	}
	rows = append(rows, []cell{{"label", "承　诺"}, {"commitment", commit}})
	// The organisations are named in the opinion columns.
	y += p.table(marginX, y, wide, rows, size, true)
	return y
}

// formOpinions draws the three opinion columns with their seal boxes.
// The opinions' font shrinks until each fits above its organisation's
// name; it reports false if one does not fit even at the smallest size.
func formOpinions(p *page, d *RebirthFormData) bool {
	size := 10.5
	var lines map[org.Level][]string
	for ; ; size -= 0.5 {
		if size < 8 {
			return false
		}
		lines = map[org.Level][]string{}
		fits := true
		for _, l := range org.Levels {
			col, _ := formColumn(l)
			box, _ := formSealRect(l)
			lines[l] = p.wrap(d.opinion(l), col.w-2*cellPadX, size)
			// Text from the top of the column; one line for the name
			// above the box.
			avail := box.y - 2*mm - (col.y + cellPadY)
			if float64(len(lines[l])+1)*size*lineGap > avail {
				fits = false
			}
		}
		if fits {
			break
		}
	}
	lh := size * lineGap
	orgs := map[org.Level]org.Org{org.Village: d.Village, org.Township: d.Township, org.County: d.County}
	for _, l := range org.Levels {
		col, _ := formColumn(l)
		box, _ := formSealRect(l)
		head := rect{col.x, formOpinionTop, col.w, formHeadH}
		p.fillRect(head, 235)
		p.textIn("label", opinionLabel(l), head.x+cellPadX, head.y+(formHeadH-10.5)/2+p.f.ascent*10.5, head.w-2*cellPadX, 10.5, center)
		ty := col.y + cellPadY + p.f.ascent*size
		for _, ln := range lines[l] {
			p.text(string(l)+".opinion", ln, col.x+cellPadX, ty, size)
			ty += lh
		}
		p.textIn(string(l)+".name", orgs[l].Name+"（盖章）", col.x+cellPadX, box.y-2*mm-p.f.descent*size, col.w-2*cellPadX, size, center)
		p.rectangle(box, 0.6, 150, true)
		p.reserve(string(l)+" seal box", box)
		if l != org.Village {
			p.line(col.x, formOpinionTop, col.x, formOpinionBot, 0.5)
		}
	}
	p.line(marginX, formOpinionTop+formHeadH, pageW-marginX, formOpinionTop+formHeadH, 0.5)
	p.rectangle(rect{marginX, formOpinionTop, contentW, formOpinionBot - formOpinionTop}, 1, 0, false)
	return true
}
