package templates

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// NoticeKind selects one of the two written notices to an applicant.
type NoticeKind string

const (
	// NoticeMissing is the one-time notice of missing materials
	// (一次性告知书, Art. 19).
	NoticeMissing NoticeKind = "missing"
	// NoticeRefusal is the written refusal with its reasons
	// (不予办理告知书, Art. 11).
	NoticeRefusal NoticeKind = "refusal"
)

// Title is the notice's printed title.
func (k NoticeKind) Title() string {
	switch k {
	case NoticeMissing:
		return "一次性告知书"
	case NoticeRefusal:
		return "不予办理告知书"
	}
	return ""
}

// NoticeData is everything printed on a notice.
type NoticeData struct {
	Kind   NoticeKind
	Number string // notice number, e.g. the card number + "-N1"; also the PDF's /Subject
	// Male and Female are the couple's full names: the notice is
	// addressed to them. An unmarried applicant (Art. 5) may leave one
	// empty.
	Male, Female string
	CardType     card.Type // the card applied for; empty prints 生育服务卡
	Org          org.Org   // the receiving organisation, which seals the notice
	Date         time.Time // date of the notice
	// Items are the missing materials (NoticeMissing; see MaterialNames)
	// or the reasons for the refusal (NoticeRefusal). At least one.
	Items []string
	// CrossProvince selects the 20-working-day limit of Art. 19 (the
	// couple's marriage/fertility facts must be verified in another
	// province) instead of 10. NoticeMissing only.
	CrossProvince bool
	// DueDate, when set, is printed as the date by which the application
	// will be decided once complete (computed by the caller in working
	// days). NoticeMissing only.
	DueDate time.Time
	// Hotline, when set, is printed as the complaint telephone number
	// (Art. 24); otherwise the notice names the channel generically.
	Hotline string
	Note    string // optional remark (备注)
}

// ErrNoticeData is returned for notice or form data that is incomplete
// or inconsistent.
var ErrNoticeData = errors.New("invalid notice data")

// Limits of a notice's free text, in characters.
const (
	maxNoticeItems = 20
	maxItemLen     = 200
	maxNoteLen     = 500
)

// Page geometry of a notice, in points from the upper-left corner. The
// seal box sits at the lower right, level with the issuer's name and the
// date written to its left; the body must end above it.
const (
	noticeBodyTop    = 50 * mm
	noticeSealTop    = 214 * mm
	noticeBodyBottom = noticeSealTop - 6*mm
)

func noticeSealRect() rect {
	return rect{pageW - marginX - sealSide, noticeSealTop, sealSide, sealSide}
}

// NoticeSealBox returns the square on page 1 (index 0) of a notice where
// the receiving organisation's seal goes, as [llx lly urx ury] in PDF
// points with the lower-left origin. It has the card's seal size and no
// text is drawn inside it.
func NoticeSealBox() [4]float64 { return noticeSealRect().pdf() }

// MaterialNames returns the printed (Chinese) names of materials, in the
// given order, for NoticeData.Items.
func MaterialNames(ms []card.Material) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Chinese()
	}
	return out
}

// RenderNotice draws revision 0 of a one-time notice or a refusal
// notice: one A4 page, black on white, with the seal box empty.
func RenderNotice(d *NoticeData) ([]byte, error) {
	p, err := layoutNotice(d)
	if err != nil {
		return nil, err
	}
	return p.render(docInfo{title: d.Kind.Title(), subject: d.Number, created: d.Date})
}

func checkNoticeData(d *NoticeData) error {
	switch {
	case d == nil:
		return fmt.Errorf("%w: no data", ErrNoticeData)
	case d.Kind.Title() == "":
		return fmt.Errorf("%w: unknown notice kind %q", ErrNoticeData, d.Kind)
	case strings.TrimSpace(d.Number) == "" || runeLen(d.Number) > maxNumber:
		return fmt.Errorf("%w: notice number must have 1 to %d characters", ErrNoticeData, maxNumber)
	case strings.TrimSpace(d.Male) == "" && strings.TrimSpace(d.Female) == "":
		return fmt.Errorf("%w: no applicant name", ErrNoticeData)
	case runeLen(d.Male) > 30 || runeLen(d.Female) > 30:
		return fmt.Errorf("%w: names have at most 30 characters", ErrNoticeData)
	case d.CardType != "" && !d.CardType.Valid():
		return fmt.Errorf("%w: unknown card type %q", ErrNoticeData, d.CardType)
	case d.Date.IsZero():
		return fmt.Errorf("%w: no date", ErrNoticeData)
	case len(d.Items) == 0:
		// Art. 19: a complete application is handled at once; Art. 11:
		// a refusal states its reasons.
		return fmt.Errorf("%w: a %s lists at least one item", ErrNoticeData, d.Kind.Title())
	case len(d.Items) > maxNoticeItems:
		return fmt.Errorf("%w: at most %d items", ErrNoticeData, maxNoticeItems)
	case runeLen(d.Note) > maxNoteLen:
		return fmt.Errorf("%w: the note has at most %d characters", ErrNoticeData, maxNoteLen)
	case runeLen(d.Hotline) > maxNumber:
		return fmt.Errorf("%w: the hotline has at most %d characters", ErrNoticeData, maxNumber)
	case d.Kind != NoticeMissing && (d.CrossProvince || !d.DueDate.IsZero()):
		return fmt.Errorf("%w: time limits belong on the one-time notice only", ErrNoticeData)
	}
	for i, it := range d.Items {
		if strings.TrimSpace(it) == "" || runeLen(it) > maxItemLen {
			return fmt.Errorf("%w: item %d must have 1 to %d characters", ErrNoticeData, i+1, maxItemLen)
		}
	}
	if !d.Org.Level.Valid() {
		return fmt.Errorf("%w: receiving organisation has level %q", ErrNoticeData, d.Org.Level)
	}
	if err := d.Org.Validate(); err != nil {
		return fmt.Errorf("%w: receiving organisation: %w", ErrNoticeData, err)
	}
	return nil
}

// layoutNotice builds the notice's display list; the body's font size
// shrinks until the body ends above the seal.
func layoutNotice(d *NoticeData) (*page, error) {
	if err := checkNoticeData(d); err != nil {
		return nil, err
	}
	f, err := loadFace()
	if err != nil {
		return nil, err
	}
	// Every caller-supplied string is checked by its own field name
	// first: in the layout they are joined into longer lines.
	fields := []cell{{"number", d.Number}, {"male.name", d.Male}, {"female.name", d.Female},
		{"org.name", d.Org.Name}, {"hotline", d.Hotline}, {"note", d.Note}}
	for i, it := range d.Items {
		fields = append(fields, cell{fmt.Sprintf("items[%d]", i), it})
	}
	if err := checkFields(f, fields); err != nil {
		return nil, err
	}
	for size := 12.0; size >= 8; size -= 0.5 {
		p := newPage(f)
		if noticeBody(p, d, size) > noticeBodyBottom {
			continue
		}
		noticeFrame(p, d)
		if err := p.validate(); err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, fmt.Errorf("%w: the notice's text is too long for one page", ErrLayout)
}

// checkFields reports the first character of any field the font cannot
// draw, as a *MissingGlyphError naming the field. A newline is allowed
// (wrap breaks paragraphs there).
func checkFields(f *face, fields []cell) error {
	for _, c := range fields {
		if err := f.check(c.field, strings.ReplaceAll(strings.ToValidUTF8(c.s, "\uFFFD"), "\n", "")); err != nil {
			return err
		}
	}
	return nil
}

// noticeFrame draws the title, the number, the issuer with the seal box
// and the footer.
func noticeFrame(p *page, d *NoticeData) {
	p.textIn("label", d.Kind.Title(), 0, 30*mm, pageW, 22, center)
	p.textIn("number", "编号："+d.Number, marginX, 40*mm, contentW, 10.5, right)
	p.line(marginX, 43*mm, pageW-marginX, 43*mm, 1.2)

	box := noticeSealRect()
	p.rectangle(box, 0.6, 150, true)
	p.reserve("seal box", box)
	// The issuer and the date, right-aligned to the left of the seal.
	w := box.x - 4*mm - marginX
	p.textIn("org.name", d.Org.Name, marginX, box.y+box.h/2-2*mm, w, 12, right)
	p.textIn("date", chineseDate(d.Date), marginX, box.y+box.h/2+6*mm, w, 12, right)

	p.line(marginX, 279*mm, pageW-marginX, 279*mm, 0.5)
	p.textIn("label", "本告知书依据《吉林省生育服务卡办理的若干规定》出具，加盖电子印章（国密SM2算法签署），黑白打印件有效。", marginX, 284*mm, contentW, 8.5, center)
	p.textIn("label", "办理生育服务卡一律免费（第十二条）。", marginX, 289*mm, contentW, 8.5, center)
}

// noticeBody lays out the addressee, the paragraphs and the items at the
// given size and returns the bottom of the text.
func noticeBody(p *page, d *NoticeData, size float64) float64 {
	lh := size * lineGap
	y := noticeBodyTop + p.f.ascent*size
	para := func(field, s string) {
		for _, ln := range p.wrap(s, contentW, size) {
			p.text(field, ln, marginX, y, size)
			y += lh
		}
	}
	const indent = "　　"

	// Addressee: the couple, in full (the notice is addressed to them).
	var names []string
	for _, n := range []string{d.Male, d.Female} {
		if s := strings.TrimSpace(n); s != "" {
			names = append(names, s)
		}
	}
	para("applicant", strings.Join(names, "、")+"：")
	y += lh * 0.3

	title := "生育服务卡"
	if d.CardType != "" {
		title = d.CardType.Title()
	}
	switch d.Kind {
	case NoticeMissing:
		para("label", indent+"您（们）向本单位申请办理"+title+"。经审查，申请材料不齐全。根据《吉林省生育服务卡办理的若干规定》第十九条，现将需要补齐的全部材料一次性告知如下：")
	case NoticeRefusal:
		para("label", indent+"您（们）向本单位申请办理"+title+"。经审查，不符合办理条件，决定不予办理。根据《吉林省生育服务卡办理的若干规定》第十一条，现将原因书面告知如下：")
	}
	y += lh * 0.3

	// The items, numbered, with a hanging indent.
	for i, it := range d.Items {
		label := strconv.Itoa(i+1) + "．"
		lw := p.f.width("00．", size)
		field := fmt.Sprintf("items[%d]", i)
		p.textIn("label", label, marginX+2*size, y, lw, size, right)
		for _, ln := range p.wrap(it, contentW-2*size-lw, size) {
			p.text(field, ln, marginX+2*size+lw, y, size)
			y += lh
		}
	}
	y += lh * 0.3

	switch d.Kind {
	case NoticeMissing:
		para("label", indent+"您（们）只需补齐上述材料，本单位不再要求提供其他任何材料（第八条）；通过全员人口数据库能够获取的信息，不再要求提供（第九条）。")
		limit := "婚育信息可在本省核实，自材料补齐之日起，办理时限不超过10个工作日"
		if d.CrossProvince {
			limit = "婚育信息需要跨省（区、市）核实，自材料补齐之日起，办理时限不超过20个工作日"
		}
		if !d.DueDate.IsZero() {
			limit += "，预计于" + chineseDate(d.DueDate) + "前办结"
		}
		para("label", indent+"材料补齐且符合条件的，即时办理；"+limit+"（第十九条）。")
		if h := strings.TrimSpace(d.Hotline); h != "" {
			para("hotline", indent+"对办理有意见或者遇到推诿拖延的，可以拨打投诉电话："+h+"（第二十四条）。")
		}
	case NoticeRefusal:
		para("label", indent+"如对本决定不服，可以自收到本告知书之日起六十日内依法申请行政复议，或者自收到本告知书之日起六个月内依法向人民法院提起行政诉讼。")
		para("label", indent+"对办理中推诿拖延、不作为、乱作为的，可以向上级卫生健康主管部门或者通过监督举报电话投诉举报（第二十四条）。")
		if h := strings.TrimSpace(d.Hotline); h != "" {
			para("hotline", indent+"监督举报电话："+h)
		}
	}
	if n := strings.TrimSpace(d.Note); n != "" {
		para("note", indent+"备注："+n)
	}
	para("label", indent+"特此告知。")
	return y - lh + p.f.descent*size
}
