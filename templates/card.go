package templates

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// CardData is everything printed on a card.
type CardData struct {
	Number    string // card number, printed in the header and beside the QR
	Type      card.Type
	Applicant *card.Applicant
	Village   org.Org // receiving village (residents') committee
	Township  org.Org
	County    org.Org
	// IssuerLevel is the level of the issuing authority (发证机关): the
	// township or the county (the default, "") — lifecycle's issuer
	// policy of the card's type (Art. 3, 6).
	IssuerLevel      org.Level
	IssueDate        time.Time
	QRURL            string // upper-case verification URL (QR alphanumeric set)
	VerificationCode string // 核验码 for manual checks
	// StatusIndex is the card's index in the signed status list, written
	// into the document information (StatusIndexKey) for offline checks.
	StatusIndex int
}

// ErrCardData is returned for card data that is incomplete or
// inconsistent.
var ErrCardData = errors.New("invalid card data")

// Page geometry of the card, in points from the upper-left corner.
const (
	marginX    = 18 * mm
	contentW   = pageW - 2*marginX
	sealSide   = 44 * mm // an official seal is 40–42 mm across
	sealTop    = 226 * mm
	sealGap    = (contentW - 3*sealSide) / 2
	qrRight    = pageW - marginX
	qrTop      = 12 * mm
	bodyTop    = 80 * mm
	bodyBottom = 212 * mm // the seal section's heading starts below
	maxNumber  = 40       // characters of the card number / verification code
	// maxStatusIndex bounds a status-list index (the largest list a
	// verifier parses has 2^24 entries).
	maxStatusIndex = 1 << 24
)

// sealRect returns the seal box of a level in page coordinates.
func sealRect(l org.Level) (rect, bool) {
	for i, lv := range org.Levels {
		if lv == l {
			return rect{marginX + float64(i)*(sealSide+sealGap), sealTop, sealSide, sealSide}, true
		}
	}
	return rect{}, false
}

// SealBox returns the square on page 1 (index 0) of the card where the
// seal of level l goes, as [llx lly urx ury] in PDF points with the
// lower-left origin. No text is drawn inside it. An unknown level yields
// the zero array.
func SealBox(l org.Level) [4]float64 {
	r, ok := sealRect(l)
	if !ok {
		return [4]float64{}
	}
	return r.pdf()
}

// RenderCard draws revision 0 of a card: one A4 page, black on white so a
// black-and-white print stays valid (Art. 16), with the seal boxes empty.
func RenderCard(d *CardData) ([]byte, error) {
	p, err := layoutCard(d)
	if err != nil {
		return nil, err
	}
	return p.render(docInfo{
		title:   "吉林省" + d.Type.Title(),
		subject: d.Number,
		created: d.IssueDate,
		ints:    map[string]int{StatusIndexKey: d.StatusIndex},
	})
}

func checkCardData(d *CardData) error {
	switch {
	case d == nil || d.Applicant == nil:
		return fmt.Errorf("%w: no applicant", ErrCardData)
	case !d.Type.Valid():
		return fmt.Errorf("%w: unknown card type %q", ErrCardData, d.Type)
	case d.Applicant.Type != d.Type:
		return fmt.Errorf("%w: card type %q differs from the application's %q", ErrCardData, d.Type, d.Applicant.Type)
	case strings.TrimSpace(d.Number) == "" || runeLen(d.Number) > maxNumber:
		return fmt.Errorf("%w: card number must have 1 to %d characters", ErrCardData, maxNumber)
	case strings.TrimSpace(d.VerificationCode) == "" || runeLen(d.VerificationCode) > maxNumber:
		return fmt.Errorf("%w: verification code must have 1 to %d characters", ErrCardData, maxNumber)
	case d.IssueDate.IsZero():
		return fmt.Errorf("%w: no issue date", ErrCardData)
	case d.StatusIndex < 0 || d.StatusIndex >= maxStatusIndex:
		return fmt.Errorf("%w: status index %d outside [0, %d)", ErrCardData, d.StatusIndex, maxStatusIndex)
	}
	for _, o := range []struct {
		org   org.Org
		level org.Level
	}{{d.Village, org.Village}, {d.Township, org.Township}, {d.County, org.County}} {
		if o.org.Level != o.level {
			return fmt.Errorf("%w: %s organisation has level %q", ErrCardData, o.level, o.org.Level)
		}
		if err := o.org.Validate(); err != nil {
			return fmt.Errorf("%w: %s organisation: %w", ErrCardData, o.level, err)
		}
	}
	if !d.Township.Contains(d.Village.Code) || !d.County.Contains(d.Township.Code) {
		return fmt.Errorf("%w: village %s, township %s and county %s are not nested", ErrCardData, d.Village.Code, d.Township.Code, d.County.Code)
	}
	return nil
}

// layoutCard builds the card's display list. The body's font size shrinks
// step by step until the body fits above the seal section.
func layoutCard(d *CardData) (*page, error) {
	if err := checkCardData(d); err != nil {
		return nil, err
	}
	f, err := loadFace()
	if err != nil {
		return nil, err
	}
	modules, err := qrModules(d.QRURL)
	if err != nil {
		return nil, err
	}
	for size := 10.5; size >= 7; size -= 0.5 {
		p := newPage(f)
		if bottom := cardBody(p, d, size); bottom > bodyBottom {
			continue
		}
		cardFrame(p, d, modules)
		if err := p.validate(); err != nil {
			return nil, err
		}
		return p, nil
	}
	// Report a missing glyph before a size problem: it is the more
	// specific error.
	p := newPage(f)
	cardBody(p, d, 7)
	if err := p.validate(); err != nil && errors.Is(err, ErrMissingGlyph) {
		return nil, err
	}
	return nil, fmt.Errorf("%w: the applicant's data is too long for one card page", ErrLayout)
}

// cardFrame draws everything of the card except the body: the header, the
// QR code with its notes, the seal section and the footer.
func cardFrame(p *page, d *CardData, modules [][]bool) {
	// Header, centred on the page.
	p.textIn("label", "吉林省", 0, 22*mm, pageW, 16, center)
	p.textIn("label", d.Type.Title(), 0, 35*mm, pageW, 26, center)
	p.text("label", "卡　　号：", marginX, 50*mm, 11)
	p.text("number", d.Number, marginX+p.f.width("卡　　号：", 11), 50*mm, 11)
	p.text("label", "卡片类型："+d.Type.Title(), marginX, 57*mm, 11)

	// QR code in the upper-right corner, its notes below it.
	qr := p.qrCode(modules, qrRight, qrTop)
	p.reserve("QR code", qr)
	nx, nw := qr.x-6*mm, qr.w+6*mm
	y := qr.y + qr.h + 4.5*mm
	p.textIn("label", "扫码核验真伪", nx, y, nw, 9, center)
	p.textIn("number", "卡号："+d.Number, nx, y+4.2*mm, nw, 8, center)
	p.textIn("verification_code", "核验码："+d.VerificationCode, nx, y+8.4*mm, nw, 8, center)

	p.line(marginX, bodyTop-4*mm, pageW-marginX, bodyTop-4*mm, 1.2)

	// Seal section.
	p.text("label", "审核盖章（村(居)、乡(镇、街道)、县级逐级加盖电子印章）", marginX, 217*mm, 10)
	orgs := map[org.Level]org.Org{org.Village: d.Village, org.Township: d.Township, org.County: d.County}
	for _, l := range org.Levels {
		r, _ := sealRect(l)
		p.textIn("label", l.Chinese(), r.x, r.y-2.5*mm, r.w, 10, center)
		p.rectangle(r, 0.6, 150, true)
		p.reserve(string(l)+" seal box", r)
		p.textIn(string(l)+".name", orgs[l].Name, r.x-sealGap/2+1*mm, r.y+r.h+5*mm, r.w+sealGap-2*mm, 8.5, center)
	}

	// Footer (Art. 16).
	p.line(marginX, 279*mm, pageW-marginX, 279*mm, 0.5)
	p.textIn("label", "本卡可自行打印，黑白打印件有效。扫描右上角二维码或凭卡号、核验码可核验真伪。", marginX, 284*mm, contentW, 9, center)
	p.textIn("label", "本卡由生育服务电子证照系统生成，电子印章经国密SM2算法签署，涂改无效。", marginX, 289*mm, contentW, 8, center)
}

// cardBody lays out the spouses' table and the record table at the given
// font size and returns the bottom of the body.
func cardBody(p *page, d *CardData, size float64) float64 {
	a := d.Applicant
	y := bodyTop
	spouse := func(field, label string, get func(card.Person) string) []cell {
		return []cell{{"label", label}, {"male." + field, get(a.Male)}, {"female." + field, get(a.Female)}}
	}
	labelW := 30 * mm
	half := (contentW - labelW) / 2
	y += p.table(marginX, y, []float64{labelW, half, half}, [][]cell{
		{{"label", "项　目"}, {"label", "男　方"}, {"label", "女　方"}},
		spouse("name", "姓　名", func(q card.Person) string { return q.Name }),
		spouse("id_number", "公民身份号码", func(q card.Person) string { return q.IDNumber }),
		spouse("hukou", "户籍地", func(q card.Person) string { return q.Hukou }),
		spouse("residence", "现居住地", func(q card.Person) string { return q.Residence }),
	}, size, true)
	y += 4 * mm

	// The record: short items two to a row, long ones across the page.
	type item struct {
		label string
		c     cell
		wide  bool
	}
	var items []item
	add := func(label string, c cell, wide bool) { items = append(items, item{label, c, wide}) }
	if m := a.Marriage; m != nil {
		add("结婚登记日期", cell{"marriage.date", chineseDateString(m.Date)}, false)
		add("结婚证字号", cell{"marriage.cert_number", m.CertNumber}, false)
	}
	if s := a.StatusCert; s != nil {
		v := "编号：" + s.Number
		if strings.TrimSpace(s.Issuer) != "" {
			v += "；出具单位：" + s.Issuer
		}
		add("婚育情况证明", cell{"status_cert", v}, true)
	}
	add("生育子女次序", cell{"child_order", "第" + chineseDigit(a.ChildOrder) + "个子女"}, false)
	retro := "否"
	if a.Retroactive {
		retro = "是，出生医学证明编号：" + a.BirthCertNumber
	}
	add("补　办", cell{"birth_cert_number", retro}, false)
	children := "无"
	if len(a.Children) > 0 {
		var parts []string
		for i, c := range a.Children {
			parts = append(parts, fmt.Sprintf("%d. %s，%s，%s出生", i+1, c.Name, c.Sex, chineseDateString(c.BirthDate)))
		}
		children = strings.Join(parts, "；")
	}
	add("现有子女", cell{"children", children}, true)
	commit := "否"
	if a.Commitment {
		commit = "是（申请人已书面承诺所填婚育情况属实）"
	}
	add("承　诺", cell{"commitment", commit}, true)
	var channel string
	switch a.Channel {
	case card.ChannelProxy:
		channel = "委托代办"
		if a.Proxy != nil {
			channel += "（受托人：" + a.Proxy.Name
			if r := strings.TrimSpace(a.Proxy.Relationship); r != "" {
				channel += "，与申请人关系：" + r
			}
			channel += "）"
		}
	case card.ChannelStaff:
		channel = "工作人员上门代办"
	default:
		channel = "本人申请"
	}
	add("申请方式", cell{"proxy", channel}, true)
	add("受理村(居)委会", cell{"village.name", d.Village.Name}, false)
	add("乡(镇、街道)", cell{"township.name", d.Township.Name}, false)
	issuer := d.County
	if d.IssuerLevel == org.Township {
		issuer = d.Township
	}
	add("发证机关", cell{"issuer.name", issuer.Name}, false)
	add("发证日期", cell{"issue_date", chineseDate(d.IssueDate)}, false)

	pairW := []float64{labelW, half - labelW/2, labelW, half - labelW/2}
	wideW := []float64{labelW, contentW - labelW}
	for i := 0; i < len(items); {
		it := items[i]
		if !it.wide && i+1 < len(items) && !items[i+1].wide {
			nx := items[i+1]
			y += p.table(marginX, y, pairW, [][]cell{{{"label", it.label}, it.c, {"label", nx.label}, nx.c}}, size, true)
			i += 2
			continue
		}
		y += p.table(marginX, y, wideW, [][]cell{{{"label", it.label}, it.c}}, size, true)
		i++
	}
	return y
}

// chineseDate formats a date as 2026年11月28日.
func chineseDate(t time.Time) string {
	return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
}

// chineseDateString formats a YYYY-MM-DD date; other input is printed as
// given.
func chineseDateString(s string) string {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return s
	}
	return chineseDate(t)
}

// chineseDigit writes 1–9 as a Chinese numeral.
func chineseDigit(n int) string {
	if n >= 1 && n <= 9 {
		return string([]rune("一二三四五六七八九")[n-1])
	}
	return fmt.Sprint(n)
}
