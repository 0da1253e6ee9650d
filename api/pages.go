package api

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/verifier"
)

// The public pages: server-rendered, in Chinese, without script and
// without anything from another origin, so that they work on any phone
// and under the strict Content-Security-Policy.

//go:embed web/*.html web/assets
var webFS embed.FS

type pages struct {
	tmpl   *template.Template
	assets fs.FS
}

func mustPages() *pages {
	t := template.Must(template.New("").Funcs(template.FuncMap{
		"icon": func(name string) template.HTML { return icons[name] },
		// args passes several values to a template.
		"args": func(v ...any) []any { return v },
		// hotline is the complaint hotline (Art. 24); each server
		// overrides it with its setting (Options.Hotline).
		"hotline": func() string { return "" },
		"fa":      fieldAttrs,
		"fm":      fieldMessage,
	}).ParseFS(webFS, "web/*.html"))
	a, err := fs.Sub(webFS, "web/assets")
	if err != nil {
		panic(err)
	}
	return &pages{tmpl: t, assets: a}
}

func (p *pages) render(c echo.Context, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// verdict is how a status is shown: one large word, an icon and a
// colour, so that it reads in black and white and without colour vision.
type verdict struct {
	Class   string // ok | warn | bad | info
	Icon    string
	Word    string
	Explain string
	Next    string
}

// incompleteLink is the page's own status for a QR link cut short
// (token.Truncated); the JSON API answers such a token "forged".
const incompleteLink = "incomplete_link"

var verdicts = map[string]verdict{
	incompleteLink: {"warn", "question", "链接不完整",
		"扫码得到的链接不完整（二维码可能污损、折叠或没有扫全），无法据此判断这张卡的真伪，这不表示卡是伪造的。",
		"请重新扫描服务卡上的二维码；仍然不行时，请用卡上印制的卡号和核验码人工核验。"},
	lifecycle.PublicValid: {"ok", "check", "有效",
		"", // validAnswerExplain: by the card's chain policy
		"请核对持卡人身份证件与上方显示的姓名、身份证号码（部分隐藏）是否一致。"},
	lifecycle.PublicIncomplete: {"warn", "clock", "审批未完成",
		"此服务卡尚未完成逐级审批盖章，暂不能作为有效证件使用。",
		"请持卡人联系受理申请的村(居)委会或乡(镇、街道)了解审批进度，办结后重新下载打印。"},
	lifecycle.PublicVoided: {"bad", "cross", "已作废",
		"此服务卡已被发证的县级卫生健康部门作废。",
		"此卡不能再使用。如有疑问，请持卡人联系发证的县级卫生健康部门。"},
	lifecycle.PublicRevoked: {"bad", "cross", "已取消",
		"此服务卡已被发证的县级卫生健康部门取消。",
		"此卡不能再使用。如有疑问，请持卡人联系发证的县级卫生健康部门。"},
	lifecycle.PublicSuperseded: {"info", "swap", "已换发",
		"此服务卡已换发新卡，本卡不再使用。",
		"请以新卡为准：请持卡人出示新卡，并扫描新卡上的二维码核验。"},
	lifecycle.PublicUnknown: {"bad", "question", "无法核验",
		"无法确认此二维码对应的服务卡：平台中没有这张卡的记录。",
		"请不要凭此卡办理业务。请持卡人联系发证机关，或用卡上的卡号和核验码人工核验。"},
	lifecycle.PublicForged: {"bad", "question", "无法核验",
		"无法确认此服务卡：二维码或印章未通过核验，可能不完整、被篡改，或不是本平台签发的。",
		"请不要凭此卡办理业务。请持卡人联系发证机关，或用卡上的卡号和核验码人工核验。"},
}

// reasonLabels are the reason classes in words.
var reasonLabels = map[string]string{
	"pregnancy_ended_without_certificate": "终止妊娠未提供医学证明",
	"infant_death_without_proof":          "婴儿死亡未提供证明",
	"false_commitment":                    "承诺不实",
	"false_materials":                     "提供虚假材料",
	"formal_card_reissued":                "已换发正式证件",
	"data_corrected":                      "信息更正后换发",
	"other":                               "其他原因",
}

type step struct {
	Label string
	Org   string
	Time  string
	State string // done | failed | pending
}

type holderView struct {
	Role     string
	Name     string
	IDNumber string
}

type verifyData struct {
	Verdict      verdict
	Answer       *lifecycle.Answer
	Holders      []holderView
	Steps        []step
	CheckedAt    string
	SupersededBy string
	// Download links a valid card's holders to the citizen download.
	Download string
	// CheckByNumber offers the manual check, when the QR code could not
	// tell.
	CheckByNumber bool
	// Direct: the county issued the card directly (Art. 17).
	Direct *lifecycle.DirectInfo
}

func chinaTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(lifecycle.China).Format("2006-01-02 15:04")
}

// renderVerify shows an answer.
func (p *pages) renderVerify(c echo.Context, a *lifecycle.Answer) error {
	var download string
	if tok := tokenParam(c); a.Status == lifecycle.PublicValid && tok != "" {
		download = "/c/" + tok
	}
	v, ok := verdicts[a.Status]
	if !ok {
		v = verdicts[lifecycle.PublicUnknown]
	}
	if a.Status == lifecycle.PublicValid {
		v.Explain = validAnswerExplain(a)
	}
	d := verifyData{Verdict: v, Answer: a, CheckedAt: chinaTime(a.CheckedAt), SupersededBy: a.SupersededBy, Download: download, Direct: a.Direct,
		CheckByNumber: a.Status == incompleteLink || a.Status == lifecycle.PublicUnknown || a.Status == lifecycle.PublicForged}
	for _, h := range a.Holders {
		role := "男方"
		if h.Role == "female" {
			role = "女方"
		}
		d.Holders = append(d.Holders, holderView{Role: role, Name: h.Name, IDNumber: h.IDNumber})
	}
	if a.Number != "" {
		levels := org.Levels
		if a.Direct != nil {
			// Art. 17: the county's seal alone is the card's chain; the
			// lower levels seal the approval form.
			levels = []org.Level{org.County}
		}
		for _, l := range levels {
			st := step{Label: l.Chinese(), State: "pending"}
			for _, s := range a.Seals {
				if s.Level == string(l) {
					st.Org, st.Time = s.Organisation, chinaTime(s.Time)
					st.State = "done"
					if !s.OK {
						st.State = "failed"
					}
				}
			}
			d.Steps = append(d.Steps, st)
		}
	}
	return p.render(c, http.StatusOK, "verify.html", d)
}

type downloadData struct {
	Number string
	Title  string
	Error  string
}

// renderDownload shows the download form, with an error message after a
// failed attempt.
func (p *pages) renderDownload(c echo.Context, status int, sc *card.Card, msg string) error {
	return p.render(c, status, "download.html", downloadData{Number: sc.Number, Title: sc.Type.Title(), Error: msg})
}

type errorData struct {
	Status int
	Class  string // the colour: never the forgery red for a page that says nothing about a card
	Title  string
	Detail string
}

var errorTitles = map[int]string{
	http.StatusNotFound:        "未找到",
	http.StatusTooManyRequests: "请求过于频繁",
	http.StatusConflict:        "暂不能办理",
	http.StatusForbidden:       "无权访问",
}

func (p *pages) renderError(c echo.Context, k kind) error {
	title, ok := errorTitles[k.status]
	if !ok {
		title = "出错了"
	}
	class := "warn"
	if k.status == http.StatusNotFound {
		class = "info"
	}
	return p.render(c, k.status, "error.html", errorData{Status: k.status, Class: class, Title: title, Detail: k.detail})
}

// asset serves the pages' embedded stylesheet and images.
func (s *server) asset(c echo.Context) error {
	name := c.Param("name")
	if name != path.Base(name) || name == "." {
		return fail(kindNotFound, nil)
	}
	b, err := fs.ReadFile(s.pages.assets, name)
	if err != nil {
		return fail(kindNotFound, err)
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, ct, b)
}

// icons are inline SVG, drawn with currentColor.
var icons = map[string]template.HTML{
	"check":    `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="11" fill="none" stroke="currentColor" stroke-width="2"/><path d="M6.5 12.5l3.5 3.5 7.5-8" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/></svg>`,
	"clock":    `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="11" fill="none" stroke="currentColor" stroke-width="2"/><path d="M12 6v6l4 3" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round"/></svg>`,
	"cross":    `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="11" fill="none" stroke="currentColor" stroke-width="2"/><path d="M7.5 7.5l9 9M16.5 7.5l-9 9" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round"/></svg>`,
	"swap":     `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="11" fill="none" stroke="currentColor" stroke-width="2"/><path d="M6 9h11l-3-3M18 15H7l3 3" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/></svg>`,
	"question": `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 1.5L23 21.5H1z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/><path d="M12 9v6" stroke="currentColor" stroke-width="2.6" stroke-linecap="round"/><circle cx="12" cy="18.3" r="1.4" fill="currentColor"/></svg>`,
	"seal-ok":  `<svg class="mark" viewBox="0 0 24 24" aria-hidden="true"><path d="M5 12.5l4.5 4.5L19 7.5" fill="none" stroke="currentColor" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>`,
	"seal-bad": `<svg class="mark" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18" fill="none" stroke="currentColor" stroke-width="3" stroke-linecap="round"/></svg>`,
	"seal-no":  `<svg class="mark" viewBox="0 0 24 24" aria-hidden="true"><circle cx="12" cy="12" r="7" fill="none" stroke="currentColor" stroke-width="2.5" stroke-dasharray="3 3"/></svg>`,
}

// checkData is the manual check form. Error is a form problem (a field
// left empty); Mismatch says the number and code name no card — most
// often a typing slip, so it is amber and the form keeps what was typed,
// never the red of a forgery.
type checkData struct {
	Number   string
	Code     string
	Error    string
	Mismatch bool
}

// checkPage is the manual check (a damaged QR code): with a card number
// and a verification code it shows the same verdict page as the QR URL.
func (s *server) checkPage(c echo.Context) error {
	number, code := strings.TrimSpace(c.QueryParam("number")), strings.TrimSpace(c.QueryParam("code"))
	if number == "" && code == "" {
		return s.pages.render(c, http.StatusOK, "check.html", checkData{})
	}
	if number == "" || code == "" || len(number) > 32 || len(code) > 32 {
		return s.pages.render(c, http.StatusBadRequest, "check.html", checkData{Number: number, Code: code, Error: "请同时填写卡号和核验码。"})
	}
	ans, err := s.checker.CheckNumber(c.Request().Context(), number, code)
	if err != nil {
		return err
	}
	s.metrics.verification.WithLabelValues("number_page", ans.Status).Inc()
	if ans.Status == lifecycle.PublicUnknown {
		return s.pages.render(c, http.StatusOK, "check.html", checkData{Number: number, Code: code, Mismatch: true})
	}
	return s.pages.renderVerify(c, ans)
}

// guidePage publishes, per card type, the conditions, procedure, time
// limits and materials (Art. 18), from card.Guides: the same source as
// the application checklist.
func (s *server) guidePage(c echo.Context) error {
	d := guideData{Guides: card.Guides(), Hotline: s.svc.HotlineNumber()}
	ctx := c.Request().Context()
	for _, w := range s.opt.Windows {
		d.Windows = append(d.Windows, windowRow{Name: s.svc.OrgName(ctx, w.Code), Window: w})
	}
	return s.pages.render(c, http.StatusOK, "guide.html", d)
}

// guideData is the 办事指南 (Art. 18): per card type the conditions,
// procedure, time limits and materials, then the fee, the windows and
// the complaint hotline.
type guideData struct {
	Guides  []card.Guide
	Windows []windowRow
	Hotline string
}

type windowRow struct {
	Name string
	org.Window
}

// uploadData is the file check form, with what went wrong with the last
// file: a photo (Photo) or another file that is not a PDF (NotPDF).
type uploadData struct {
	Photo  bool
	NotPDF bool
}

// uploadForm is the page to check a PDF file.
func (s *server) uploadForm(c echo.Context) error {
	return s.pages.render(c, http.StatusOK, "upload.html", uploadData{})
}

// isPhoto reports whether an upload is a picture — a photo of the paper
// card is the usual mistake — by its leading bytes: JPEG, PNG, GIF, WebP,
// BMP, or HEIC/HEIF (what iPhones take).
func isPhoto(data []byte) bool {
	if strings.HasPrefix(http.DetectContentType(data), "image/") {
		return true
	}
	if len(data) >= 12 && string(data[4:8]) == "ftyp" {
		switch string(data[8:12]) {
		case "heic", "heix", "hevc", "mif1", "msf1", "heif":
			return true
		}
	}
	return false
}

// checkNames are the verifier's checks in words.
var checkNames = map[string]string{
	verifier.CheckByteRange:   "签名覆盖范围",
	verifier.CheckContents:    "签名数据完整",
	verifier.CheckCMS:         "SM2 数字签名",
	verifier.CheckCertificate: "印章证书（由吉林省根证书签发、在有效期内）",
	verifier.CheckProfile:     "证书机构信息",
	verifier.CheckLink:        "与前一枚印章衔接",
	verifier.CheckChain:       "盖章顺序与管辖范围",
	verifier.CheckAppearance:  "印章位置",
	verifier.CheckTime:        "盖章时间",
	verifier.CheckClaim:       "办理方式声明（如县级直接办理）",
	verifier.CheckTimestamp:   "签名时间戳",
	verifier.CheckRevocation:  "证书未被吊销",
}

var levelNames = map[string]string{"village": "村(居)级", "township": "乡(镇、街道)级", "county": "县级"}

type reportSeal struct {
	Index                int
	Level, Org, Code     string
	Time, Serial, Reason string
	// Timestamp and TSA: the seal's signature timestamp and its
	// authority.
	Timestamp, TSA string
	OK             bool
	Checks         []reportCheck
}

type reportCheck struct {
	Name, Reason string
	OK           bool
}

type reportData struct {
	Verdict   verdict
	File      verdict
	Words     chainWords
	Direct    *reportDirect
	LTV       reportLTV
	Later     string // what the revisions after the first seal added
	Seals     []reportSeal
	Changes   []verifier.Change
	Problems  []string
	Revisions int
	// CheckCount and Failed count the technical checks of all seals.
	CheckCount, Failed int
	Number             string
	Current            bool
	Registry           *verifyData
	JSON               string
	CheckedAt          string
}

var fileVerdicts = map[verifier.Verdict]verdict{
	// Explain by the policy the report names: fileVerdict.
	verifier.Valid:      {"ok", "check", "文件有效", "", ""},
	verifier.Incomplete: {"warn", "clock", "审批未完成", "", ""},
	verifier.Invalid: {"bad", "cross", "文件无效",
		"文件未通过核验：印章不真实、被篡改，或盖章后内容被修改。详见下方各项检查。", ""},
}

// uploadReport checks an uploaded PDF and lays the verifier's report out
// for people; the same answer as POST /api/v1/verify is one click away.
func (s *server) uploadReport(c echo.Context) error {
	data, err := s.readUpload(c)
	if err != nil {
		return err
	}
	if isPhoto(data) {
		s.metrics.verification.WithLabelValues("upload_page", "photo").Inc()
		return s.pages.render(c, http.StatusUnprocessableEntity, "upload.html", uploadData{Photo: true})
	}
	out, err := s.checkUpload(c.Request().Context(), data)
	if errors.Is(err, verifier.ErrNotPDF) {
		return s.pages.render(c, http.StatusUnprocessableEntity, "upload.html", uploadData{NotPDF: true})
	}
	if err != nil {
		return err
	}
	rep := out.Report
	status := string(rep.Verdict)
	if out.Registry != nil {
		status = out.Registry.Status
	}
	s.metrics.verification.WithLabelValues("upload_page", status).Inc()
	js, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	d := reportData{File: fileVerdict(rep), Words: chainWordsFor(rep.Policy), Direct: directOf(rep), LTV: ltvOf(rep), Later: laterRevisions(rep), Changes: rep.Changes, Problems: rep.Problems, Revisions: rep.Revisions,
		Number: rep.DocID, Current: out.Current, JSON: string(js), CheckedAt: chinaTime(rep.CheckedAt)}
	for _, x := range rep.Seals {
		rs := reportSeal{Index: x.Index, Level: levelNames[x.Level], Org: x.Organisation, Code: x.DivisionCode,
			Time: chinaTime(x.SigningTime), Serial: x.CertSerial, Reason: x.Reason, OK: x.OK,
			Timestamp: chinaSeconds(x.Timestamp), TSA: x.TSA}
		if rs.Level == "" {
			rs.Level = "未知层级"
		}
		for _, ck := range x.Checks {
			name := checkNames[ck.Name]
			if name == "" {
				name = ck.Name
			}
			rs.Checks = append(rs.Checks, reportCheck{Name: name, Reason: ck.Reason, OK: ck.OK})
			d.CheckCount++
			if !ck.OK {
				d.Failed++
			}
		}
		d.Seals = append(d.Seals, rs)
	}
	if out.Registry != nil {
		if v, ok := verdicts[out.Registry.Status]; ok {
			d.Registry = &verifyData{Verdict: v, Answer: out.Registry, SupersededBy: out.Registry.SupersededBy}
		}
	}
	return s.pages.render(c, http.StatusOK, "report.html", d)
}
