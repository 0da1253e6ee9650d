package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/templates"
)

// The citizen's pages (issue 15): apply online (/apply), the receipt,
// follow the application and answer a one-time notice (/track). Server-
// rendered, in Chinese, phone first, without script.

type materialField struct {
	Code, Name string
}

type applyPage struct {
	Cases      []applyCase
	F          *applyForm
	Villages   []lifecycle.VillageChoice
	Materials  []materialField
	Commitment string
	TimeLimit  string
	NeedMarry  bool
	NeedStatus bool
	NeedBirth  bool
	Children   bool
}

// timeLimitText is what happens next and when (Art. 19).
const timeLimitText = "提交后，村(居)、乡(镇、街道)、县三级工作人员网上审核。材料齐全的即时办理；材料不全的，一次性书面告知需补正的全部材料，您可在“进度查询”中下载告知书并补交；婚育情况在本省核实的 10 个工作日内办结，需外省核实的 20 个工作日内办结（第十九条）。办理不收取任何费用（第十二条）。"

func (s *server) applyData(c echo.Context, f *applyForm) (*applyPage, error) {
	d := &applyPage{Cases: applyCases, F: f, Commitment: commitmentText, TimeLimit: timeLimitText}
	if f == nil {
		return d, nil
	}
	vs, err := s.svc.OnlineVillages(c.Request().Context())
	if err != nil {
		return nil, err
	}
	d.Villages = vs
	for _, m := range card.RequiredMaterials(f.Case.Case) {
		d.Materials = append(d.Materials, materialField{Code: string(m), Name: m.Chinese()})
	}
	cs := f.Case.Case
	d.NeedMarry = cs != card.CaseUnmarried
	d.NeedStatus = cs == card.CaseUnmarried || cs == card.CaseRebirth
	d.NeedBirth = cs == card.CaseRetroactive
	d.Children = cs == card.CaseRebirth || f.Case.Type == card.Second
	return d, nil
}

// applyPageGet shows step 1 (the card type and case) or, with ?type and
// ?case, the form of that case.
func (s *server) applyPageGet(c echo.Context) error {
	var f *applyForm
	if t, cs := c.QueryParam("type"), c.QueryParam("case"); t != "" || cs != "" {
		ac, ok := findCase(t, cs)
		if !ok {
			return c.Redirect(http.StatusSeeOther, "/apply")
		}
		f = &applyForm{Case: ac, V: map[string]string{"child_order": "1", "channel": "self"}, Errs: map[string]string{}}
		if ac.Type == card.Second {
			f.V["child_order"] = "2"
		}
	}
	d, err := s.applyData(c, f)
	if err != nil {
		return err
	}
	return s.pages.render(c, http.StatusOK, "apply.html", d)
}

// applySubmit takes the form: on any error the form comes back with
// every value typed and each message next to its field; on success the
// receipt.
func (s *server) applySubmit(c echo.Context) error {
	ac, ok := findCase(c.QueryParam("type"), c.QueryParam("case"))
	if !ok {
		return fail(kindNotFound, errors.New("unknown case"))
	}
	f, err := readApplyForm(c, nil)
	if err != nil {
		return err
	}
	f.Case = ac
	app := f.applicant()
	again := func(status int) error {
		d, err := s.applyData(c, f)
		if err != nil {
			return err
		}
		if f.Error == "" {
			f.Error = "申请未提交：请按标红的提示修改后再提交。出于安全考虑，已选择的照片和文件需要重新选择。"
		}
		return s.pages.render(c, status, "apply.html", d)
	}
	if len(f.Errs) > 0 {
		return again(http.StatusUnprocessableEntity)
	}
	if err := app.Validate(); err != nil {
		var fe *card.FieldError
		if !errors.As(err, &fe) {
			return err
		}
		f.fail(citizenField(fe.Field), fieldText(fe))
		return again(http.StatusUnprocessableEntity)
	}
	sc, err := s.svc.ApplyOnline(c.Request().Context(), app, f.Files, c.RealIP())
	if err != nil {
		var fe *card.FieldError
		var mg *templates.MissingGlyphError
		var qe *lifecycle.QuotaError
		var le *lifecycle.LimitError
		status := http.StatusConflict
		switch {
		case errors.As(err, &fe):
			f.fail(citizenField(fe.Field), fieldText(fe))
			status = http.StatusUnprocessableEntity
		case errors.As(err, &mg):
			f.fail(citizenField(mg.Field), "含有无法打印在服务卡上的字符，请检查。")
			status = http.StatusUnprocessableEntity
		case errors.As(err, &qe):
			c.Response().Header().Set("Retry-After", retrySeconds(qe.RetryAfter))
			f.Error, status = kindOnlineQuota.detail, http.StatusTooManyRequests
		case errors.As(err, &le):
			c.Response().Header().Set("Retry-After", retrySeconds(le.RetryAfter))
			f.Error, status = "这份申请刚刚提交过，请不要重复提交。如未收到申请编号，请一分钟后再试。", http.StatusTooManyRequests
		case errors.Is(err, lifecycle.ErrOpenApplication):
			f.Error = kindOpenApplication.detail
		case errors.Is(err, lifecycle.ErrRebirthBlocked):
			f.Error = kindRebirthBlocked.detail
		case errors.Is(err, org.ErrUnknown), errors.Is(err, org.ErrBadCode):
			f.fail("village", fieldTexts["village"])
			status = http.StatusUnprocessableEntity
		default:
			return err
		}
		return again(status)
	}
	ap, err := s.svc.Track(c.Request().Context(), sc.Number, app.Male.IDNumber, c.RealIP())
	if err != nil {
		return err
	}
	d, err := s.trackData(c, ap, app.Male.IDNumber, "")
	if err != nil {
		return err
	}
	return s.pages.render(c, http.StatusCreated, "receipt.html", d)
}

// trackPage is the data of /track.
type trackPage struct {
	Number, IDNumber string
	Error, Flash     string
	Errs             map[string]string
	App              *lifecycle.Application
	State, Explain   string
	Progress         string // the heading of Levels, by the card's chain policy
	Levels           []levelRow
	Checklist        []checkRow
	Requested        []materialField
	TypeTitle        string
	Village          string
	Hotline          string
	// From the tracking check of the notices (Art. 11, 16, 19).
	Notices  []noticeRow
	Reasons  []string
	Postings []postingRow
	CanPost  bool
	Post     lifecycle.PostalAddress
}

type noticeRow struct {
	Seq                 int
	Title, Number, Date string
}

type postingRow struct {
	State, Requested, PostedOn, Carrier, Tracking string
}

var postingStates = map[string]string{
	card.PostingRequested: "已申请，等待受理单位打印邮寄",
	card.PostingPrinted:   "正式证件已打印，等待邮寄",
	card.PostingPosted:    "已邮寄",
}

// withNotices adds the notices, refusal reasons and postal requests.
func (d *trackPage) withNotices(ns *lifecycle.ApplicantNotices) *trackPage {
	if ns == nil {
		return d
	}
	for _, n := range ns.Notices {
		d.Notices = append(d.Notices, noticeRow{Seq: n.Seq, Title: templates.NoticeKind(n.Kind).Title(), Number: n.Number, Date: n.Date})
	}
	d.Reasons = ns.Reasons
	open := false
	for _, p := range ns.Postings {
		d.Postings = append(d.Postings, postingRow{State: postingStates[p.State], Requested: chinaTime(p.RequestedAt), PostedOn: p.PostedOn, Carrier: p.Carrier, Tracking: p.Tracking})
		open = open || p.State != card.PostingPosted
	}
	d.CanPost = d.App.Card.Status == card.StatusIssued && !open
	return d
}

type levelRow struct {
	Label, Org, Time string
	Done             bool
}

type checkRow struct {
	Name, State, Class, Note string
}

func (s *server) trackData(c echo.Context, ap *lifecycle.Application, id, flash string) (*trackPage, error) {
	// A card sealed and out of review is worded by the chain policy its
	// stored PDF verifies as (Art. 17: the county's seal alone); one
	// under review follows the ordinary chain until a seal says else.
	policy := chain.Card.Name
	if ap.Card.Seq > 0 && ap.Card.Status != card.StatusDraft && ap.Card.Status != card.StatusRefused {
		p, err := s.checker.StoredPolicy(c.Request().Context(), ap.Card)
		if err != nil {
			return nil, err
		}
		policy = p
	}
	words := chainWordsFor(policy)
	d := &trackPage{Progress: words.Progress, Number: ap.Card.Number, IDNumber: id, App: ap, Flash: flash, Errs: map[string]string{},
		TypeTitle: ap.Card.Type.Title(), Village: s.svc.OrgName(c.Request().Context(), ap.Card.VillageCode)}
	switch ap.Card.Status {
	case card.StatusDraft:
		d.State, d.Explain = "审核中", "三级工作人员正在网上审核，请留意办结期限。"
		if len(ap.Requested) > 0 {
			d.State, d.Explain = "需补正材料", "受理单位已出具一次性告知书，请按下面列出的材料补交；补交后将重新审核。"
		} else if len(ap.Checklist) > 0 && strings.Contains(checklistStates(ap), string(card.Submitted)) {
			d.Explain = "您提交的材料正在审核。"
		}
	case card.StatusIssued:
		d.State, d.Explain = "已办结", "服务卡已办结。请下载打印，黑白打印同样有效（第十六条）。"
		if words.Valid != "" {
			d.Explain = "服务卡已办结，" + words.Valid + "。请下载打印，黑白打印同样有效（第十六条）。"
		}
	case card.StatusRefused:
		d.State, d.Explain = "不予办理", "受理单位决定不予办理，并出具了不予办理告知书（第十一条）。"
	default:
		d.State, d.Explain = ap.Card.Status.Chinese(), "此服务卡已不再有效。如有疑问，请联系发证的县级卫生健康部门。"
	}
	levels, known := chain.ForName(policy)
	for _, l := range ap.Levels {
		if known && !slices.Contains(levels.Levels, l.Level) {
			continue // a level the card's chain does not have (Art. 17)
		}
		r := levelRow{Label: l.Level.Chinese(), Org: l.Org, Done: !l.Sealed.IsZero()}
		if r.Done {
			r.Time = chinaTime(l.Sealed)
		}
		d.Levels = append(d.Levels, r)
	}
	for _, m := range ap.Checklist {
		d.Checklist = append(d.Checklist, checkRow{Name: m.Material.Chinese(), State: m.State.Chinese(), Class: string(m.State), Note: m.Note})
	}
	for _, m := range ap.Requested {
		d.Requested = append(d.Requested, materialField{Code: string(m), Name: m.Chinese()})
	}
	return d, nil
}

func checklistStates(ap *lifecycle.Application) string {
	var b strings.Builder
	for _, m := range ap.Checklist {
		b.WriteString(string(m.State) + " ")
	}
	return b.String()
}

// trackPageGet shows the tracking form.
func (s *server) trackPageGet(c echo.Context) error {
	return s.pages.render(c, http.StatusOK, "track.html", &trackPage{Number: c.QueryParam("number"), Errs: map[string]string{}})
}

// trackErr renders the tracking form with a message, or returns the
// error for the error page.
func (s *server) trackErr(c echo.Context, number string, err error) error {
	d := &trackPage{Number: number, Errs: map[string]string{}}
	var le *lifecycle.LimitError
	switch {
	case errors.Is(err, card.ErrNotFound):
		d.Error = "没有找到这份申请：请核对申请编号和身份证号码（须为夫妻一方）。多次输入错误后需要等待一段时间才能再试。"
		return s.pages.render(c, http.StatusNotFound, "track.html", d)
	case errors.As(err, &le):
		c.Response().Header().Set("Retry-After", retrySeconds(le.RetryAfter))
		d.Error = "输入错误次数过多，为保护个人信息，请 " + retrySeconds(le.RetryAfter) + " 秒后再试。"
		return s.pages.render(c, http.StatusTooManyRequests, "track.html", d)
	}
	return err
}

// trackPost looks an application up by its number and one spouse's ID
// number (a POST: the ID number stays out of URLs and logs).
func (s *server) trackPost(c echo.Context) error {
	number := strings.TrimSpace(c.FormValue("number"))
	id := strings.ToUpper(strings.TrimSpace(c.FormValue("id_number")))
	d := &trackPage{Number: number, Errs: map[string]string{}}
	if !applicationNumberRE.MatchString(number) {
		d.Errs["number"] = "申请编号是 16 位数字，见提交申请后的回执。"
	}
	if !idNumberRE.MatchString(id) {
		d.Errs["id_number"] = "请输入夫妻一方的 18 位公民身份号码（最后一位可以是 X）。"
	}
	if len(d.Errs) > 0 {
		return s.pages.render(c, http.StatusUnprocessableEntity, "track.html", d)
	}
	ap, ns, err := s.svc.TrackNotices(c.Request().Context(), number, id, c.RealIP())
	if err != nil {
		return s.trackErr(c, number, err)
	}
	d, err = s.trackData(c, ap, id, "")
	if err != nil {
		return err
	}
	return s.pages.render(c, http.StatusOK, "track.html", d.withNotices(ns))
}

// trackUpload takes the materials a one-time notice asked for.
func (s *server) trackUpload(c echo.Context) error {
	f, err := readApplyForm(c, nil)
	if err != nil {
		return err
	}
	number, id := f.V["number"], strings.ToUpper(f.V["id_number"])
	if !applicationNumberRE.MatchString(number) || !idNumberRE.MatchString(id) {
		return s.trackErr(c, number, card.ErrNotFound)
	}
	ctx := c.Request().Context()
	show := func(status int, msg string, flash ...string) error {
		ap, ns, err := s.svc.TrackNotices(ctx, number, id, c.RealIP())
		if err != nil {
			return s.trackErr(c, number, err)
		}
		d, err := s.trackData(c, ap, id, "")
		if err != nil {
			return err
		}
		d.withNotices(ns)
		d.Error, d.Errs = msg, f.Errs
		if len(flash) > 0 {
			d.Flash = flash[0]
		}
		return s.pages.render(c, status, "track.html", d)
	}
	if len(f.Errs) > 0 {
		return show(http.StatusUnprocessableEntity, "材料未提交：请按提示重新选择文件。")
	}
	if len(f.Files) == 0 {
		return show(http.StatusUnprocessableEntity, "请先拍照或选择要补交的材料文件。")
	}
	ap, err := s.svc.Resubmit(ctx, number, id, c.RealIP(), f.Files)
	var qe *lifecycle.QuotaError
	switch {
	case err == nil:
		_ = ap
		return show(http.StatusOK, "", "补交的材料已收到，等待工作人员审核。")
	case errors.Is(err, lifecycle.ErrNotRequested):
		return show(http.StatusUnprocessableEntity, "只能补交告知书中列出、尚未收取的材料。")
	case errors.As(err, &qe):
		c.Response().Header().Set("Retry-After", retrySeconds(qe.RetryAfter))
		return show(http.StatusTooManyRequests, "今日该村(居)网上提交的材料已达上限，请明日再补交，或到村(居)委会现场提交。")
	case errors.Is(err, lifecycle.ErrState):
		return show(http.StatusConflict, "该申请已不在审核中，无需补交材料。")
	}
	return s.trackErr(c, number, err)
}

// trackNoticePage sends the applicant a notice of the application (Art. 11,
// 19): the form's number, id_number and seq, checked as /track checks.
func (s *server) trackNoticePage(c echo.Context) error {
	number := strings.TrimSpace(c.FormValue("number"))
	id := strings.ToUpper(strings.TrimSpace(c.FormValue("id_number")))
	seq, err := strconv.Atoi(c.FormValue("seq"))
	if err != nil || seq < 1 || !applicationNumberRE.MatchString(number) || !idNumberRE.MatchString(id) {
		return s.trackErr(c, number, card.ErrNotFound)
	}
	n, err := s.svc.TrackNotice(c.Request().Context(), number, id, c.RealIP(), seq)
	if err != nil {
		return s.trackErr(c, number, err)
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="notice-%s.pdf"`, n.Number))
	return c.Blob(http.StatusOK, "application/pdf", n.PDF)
}

// trackPost asks for the official card by post (Art. 16).
func (s *server) trackPostal(c echo.Context) error {
	number := strings.TrimSpace(c.FormValue("number"))
	id := strings.ToUpper(strings.TrimSpace(c.FormValue("id_number")))
	if !applicationNumberRE.MatchString(number) || !idNumberRE.MatchString(id) {
		return s.trackErr(c, number, card.ErrNotFound)
	}
	addr := lifecycle.PostalAddress{Recipient: strings.TrimSpace(c.FormValue("recipient")), Phone: strings.TrimSpace(c.FormValue("phone")), Address: strings.TrimSpace(c.FormValue("address"))}
	ctx := c.Request().Context()
	_, perr := s.svc.RequestPosting(ctx, number, id, c.RealIP(), addr)
	msg, flash, status := "", "", http.StatusOK
	var fe *card.FieldError
	switch {
	case perr == nil:
		flash = "已收到邮寄正式证件的申请，受理单位打印邮寄后可在此查看快递单号。"
	case errors.Is(perr, lifecycle.ErrPosting), errors.As(perr, &fe):
		msg, status = "请填写收件人（不超过 30 个字）、7 至 20 位的联系电话和详细地址（不超过 200 个字）。", http.StatusUnprocessableEntity
	case errors.Is(perr, lifecycle.ErrPostingOpen):
		msg, status = "已有一份邮寄申请正在办理，请等待邮寄后再申请。", http.StatusConflict
	case errors.Is(perr, lifecycle.ErrNotIssued):
		msg, status = "服务卡办结后才能申请邮寄正式证件。", http.StatusConflict
	default:
		return s.trackErr(c, number, perr)
	}
	ap, ns, err := s.svc.TrackNotices(ctx, number, id, c.RealIP())
	if err != nil {
		return s.trackErr(c, number, err)
	}
	d, err := s.trackData(c, ap, id, flash)
	if err != nil {
		return err
	}
	d.withNotices(ns)
	d.Error = msg
	if perr != nil {
		d.Post = addr
	}
	return s.pages.render(c, status, "track.html", d)
}
