package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
)

// queueRow is one card of "my queue".
type queueRow struct {
	ID, Number, Title, Village, Holders, Received, Due string
	Left                                               int
	Overdue, Soon                                      bool
	Review                                             []ReviewView // each level's state (Art. 15)
	// Online: a citizen applied online (Art. 15, 16); its materials
	// await review on the card page.
	Online bool
}

type queueData struct {
	consoleBase
	Rows     []queueRow
	CanApply bool
	// CanCredit offers the social credit file (Art. 20).
	CanCredit bool
	// Next is the cursor of the next page ("" on the last).
	Next string
}

// queuePage is the console's page size.
const queuePage = 50

// consoleQueue lists the drafts awaiting the caller's seal, oldest first,
// with the working days left under Art. 19, a page at a time.
func (s *server) consoleQueue(c echo.Context) error {
	return s.renderQueue(c, http.StatusOK, "", "")
}

// renderQueue shows the queue; after a failed search, with the message
// and the number as typed in the search box.
func (s *server) renderQueue(c echo.Context, status int, msg, find string) error {
	a, _ := actorOf(c)
	after := c.QueryParam("after")
	if after != "" && !cardIDRE.MatchString(after) {
		after = ""
	}
	ctx := c.Request().Context()
	cards, err := s.svc.Queue(ctx, a, after, queuePage)
	if err != nil {
		return err
	}
	now := s.opt.Now()
	villages, err := s.svc.Villages(ctx, a)
	if err != nil {
		return err
	}
	d := queueData{consoleBase: s.base(c, "我的待办", "queue"), Rows: []queueRow{}, Next: nextCursor(cards, queuePage),
		CanApply: len(villages) > 0, CanCredit: lifecycle.Can(a, nil, lifecycle.ExportCredit)}
	d.Error, d.Find = msg, find
	for i := range cards {
		sc := &cards[i]
		app, err := s.svc.Applicant(sc)
		if err != nil {
			return err
		}
		dl := lifecycle.DeadlineOf(s.svc.WorkCalendar(), sc, now)
		hs := lifecycle.MaskHolders(app)
		r := queueRow{
			ID: sc.ID, Number: sc.Number, Title: sc.Type.Title(), Village: s.svc.OrgName(ctx, sc.VillageCode),
			Holders:  hs[0].Name + "、" + hs[1].Name,
			Received: chinaTime(sc.CreatedAt), Due: dl.DueDate(), Left: dl.Left,
			Overdue: dl.Overdue(), Soon: !dl.Overdue() && dl.Left <= 2,
			Online: sc.CreatedBy == lifecycle.CitizenActor,
		}
		if r.Review, err = s.reviewViews(ctx, a, sc); err != nil {
			return err
		}
		d.Rows = append(d.Rows, r)
	}
	return s.pages.render(c, status, "console_queue.html", d)
}

// appForm is the new application form's values, kept to refill the form
// after a validation error.
type appForm struct {
	Village                                            string
	Type, Channel                                      string
	MaleName, MaleID, MaleHukou, MaleResidence         string
	FemaleName, FemaleID, FemaleHukou, FemaleResidence string
	MarriageDate, MarriageCert                         string
	StatusNumber, StatusIssuer                         string
	ChildOrder                                         string
	Children                                           [3]card.Child
	Retroactive, Commitment                            bool
	BirthCert                                          string
	ProxyName, ProxyID, ProxyRelationship              string
}

type newData struct {
	consoleBase
	F appForm
	// Villages are those the caller may take applications for
	// (lifecycle.Service.Villages); none, and the page says so.
	Villages []OrgView
	Types    []card.Type
	// Errs are the problems of the fields, by form field name; First is
	// the first of them in the form, which gets the focus.
	Errs  map[string]string
	First string
}

func readAppForm(c echo.Context) appForm {
	v := c.FormValue
	f := appForm{
		Village: v("village"),
		Type:    v("type"), Channel: v("channel"),
		MaleName: v("male_name"), MaleID: v("male_id"), MaleHukou: v("male_hukou"), MaleResidence: v("male_residence"),
		FemaleName: v("female_name"), FemaleID: v("female_id"), FemaleHukou: v("female_hukou"), FemaleResidence: v("female_residence"),
		MarriageDate: v("marriage_date"), MarriageCert: v("marriage_cert"),
		StatusNumber: v("status_number"), StatusIssuer: v("status_issuer"),
		ChildOrder:  v("child_order"),
		Retroactive: v("retroactive") == "on", Commitment: v("commitment") == "on",
		BirthCert: v("birth_cert"),
		ProxyName: v("proxy_name"), ProxyID: v("proxy_id"), ProxyRelationship: v("proxy_relationship"),
	}
	for i := range f.Children {
		n := strconv.Itoa(i)
		f.Children[i] = card.Child{Name: v("child_name_" + n), Sex: v("child_sex_" + n), BirthDate: v("child_birth_" + n)}
	}
	return f
}

// applicant turns the form into an application; card.ParseApplicant
// validates it exactly as it validates the JSON API's.
func (f appForm) applicant() ([]byte, error) {
	order, _ := strconv.Atoi(strings.TrimSpace(f.ChildOrder))
	app := card.Applicant{
		Type:            card.Type(f.Type),
		Male:            card.Person{Name: f.MaleName, IDNumber: strings.ToUpper(f.MaleID), Hukou: f.MaleHukou, Residence: f.MaleResidence},
		Female:          card.Person{Name: f.FemaleName, IDNumber: strings.ToUpper(f.FemaleID), Hukou: f.FemaleHukou, Residence: f.FemaleResidence},
		ChildOrder:      order,
		Retroactive:     f.Retroactive,
		BirthCertNumber: f.BirthCert,
		Commitment:      f.Commitment,
		Channel:         card.Channel(f.Channel),
		Village:         f.Village,
	}
	if f.MarriageDate != "" || f.MarriageCert != "" {
		app.Marriage = &card.Marriage{Date: f.MarriageDate, CertNumber: f.MarriageCert}
	}
	if f.StatusNumber != "" || f.StatusIssuer != "" {
		app.StatusCert = &card.StatusCert{Number: f.StatusNumber, Issuer: f.StatusIssuer}
	}
	for _, ch := range f.Children {
		if ch.Name != "" || ch.BirthDate != "" {
			app.Children = append(app.Children, ch)
		}
	}
	if f.Channel == string(card.ChannelProxy) || f.ProxyName != "" {
		app.Proxy = &card.Proxy{Name: f.ProxyName, IDNumber: strings.ToUpper(f.ProxyID), Relationship: f.ProxyRelationship}
	}
	return json.Marshal(app)
}

// consoleNewForm shows the new application form: village staff take
// applications for their village, township and county staff for the
// villages of their jurisdiction at the counter (Art. 14).
func (s *server) consoleNewForm(c echo.Context) error {
	a, _ := actorOf(c)
	vs, err := s.villageViews(c, a)
	if err != nil {
		return err
	}
	d := newData{consoleBase: s.base(c, "受理新申请", "new"), F: appForm{Type: string(card.First), Channel: string(card.ChannelSelf), ChildOrder: "1"}, Villages: vs, Types: card.Types}
	if len(vs) == 1 {
		d.F.Village = vs[0].Code
	}
	return s.pages.render(c, http.StatusOK, "console_new.html", d)
}

// villageViews are the villages the actor may take applications for.
func (s *server) villageViews(c echo.Context, a lifecycle.Actor) ([]OrgView, error) {
	vs, err := s.svc.Villages(c.Request().Context(), a)
	if err != nil {
		return nil, err
	}
	out := make([]OrgView, len(vs))
	for i, v := range vs {
		out[i] = orgView(v)
	}
	return out, nil
}

// againNew shows the new application form again with the values as
// submitted, a message, and the problem of each field (errs, by form
// field name).
func (s *server) againNew(c echo.Context, a lifecycle.Actor, f appForm, status int, msg string, errs map[string]string) error {
	vs, err := s.villageViews(c, a)
	if err != nil {
		return err
	}
	d := newData{consoleBase: s.base(c, "受理新申请", "new"), F: f, Villages: vs, Types: card.Types, Errs: errs, First: firstField(errs)}
	d.Error = msg
	return s.pages.render(c, status, "console_new.html", d)
}

// consoleCreate records the application for the village the form names
// (the service decides whether the caller may) and opens the new card.
func (s *server) consoleCreate(c echo.Context) error {
	a, _ := actorOf(c)
	f := readAppForm(c)
	again := func(msg, field string) error {
		return s.againNew(c, a, f, http.StatusUnprocessableEntity, msg, nil)
	}
	body, err := f.applicant()
	if err != nil {
		return err
	}
	// The whole form is checked at once: every problem at its field.
	var draft card.Applicant
	if json.Unmarshal(body, &draft) == nil {
		if ps := draft.Problems(); len(ps) > 0 {
			errs := formProblems(ps)
			s.log.Warn("console application refused", "request_id", requestIDOf(c), "problem", kindInvalidApp.slug, "fields", len(ps))
			msg := fmt.Sprintf("申请信息有 %d 处需要修改，请按各项下方的提示修改后重新提交。", len(errs))
			return s.againNew(c, a, f, http.StatusUnprocessableEntity, msg, errs)
		}
	}
	app, err := card.ParseApplicant(body)
	if err == nil {
		var sc *card.Card
		if sc, err = s.svc.Apply(c.Request().Context(), a, app); err == nil {
			return c.Redirect(http.StatusSeeOther, "/console/cards/"+sc.ID+"?done=created")
		}
	}
	k, extra := classify(err)
	if k.status >= 500 {
		return err
	}
	s.log.Warn("console application refused", "request_id", requestIDOf(c), "problem", k.slug, "err", err)
	if extra != nil && extra.Field != "" {
		// A problem only the service finds (a character the card font
		// lacks): at its field too.
		f2 := formField(extra.Field)
		text := fieldText(&card.FieldError{Field: extra.Field, Reason: extra.Reason})
		if strings.Contains(extra.Reason, "card font") {
			text = "此项含有服务卡字库中没有的字，暂不能生成服务卡，请联系平台管理员。"
		}
		return s.againNew(c, a, f, http.StatusUnprocessableEntity, "申请信息有 1 处需要修改。", map[string]string{f2: text})
	}
	return again(k.detail, "")
}

type auditRow struct {
	At, Actor, Org, Action, Reason string
}

type detailData struct {
	consoleBase
	Card          *CardView
	App           *card.Applicant
	Status        string
	Steps         []step
	Audit         []auditRow
	Preview       bool
	CanSeal       bool
	CanApprove    bool
	CanRefuse     bool
	CanNotice     bool // the one-time notice (Art. 19) may be given
	CanCross      bool // whether another province must verify may be recorded (Art. 19)
	CanChange     bool
	Deadline      *lifecycle.Deadline
	VerifyPath    string
	StatusChanges []statusChange
	// Notice is the number of a notice just issued (?notice=N).
	Notice int
	// Materials: every required material, what was sent, its review.
	Materials *materialsView
	// Change is a status change refused, to refill its form.
	Change changeForm
	// Reads are the staff reads of the application (Art. 13), shown
	// apart from the history of the procedure.
	Reads []auditRow
	// Sealed: the page right after this office's seal.
	Sealed bool
	// Direct: the pre-review reports and direct issue (Art. 17).
	Direct *directView
	// Form: the re-birth approval form and its seals (Art. 17).
	Form *formPanel
}

// statusChange is one of the county's actions on an issued card.
type statusChange struct {
	Action, Label, Article string
	Reasons                []reasonOption
	NeedsNewCard           bool
}

type reasonOption struct{ Value, Label string }

// consoleCard shows a card: its data, a preview of page 1, the seal
// chain so far, its audit history and the actions open to the caller.
func (s *server) consoleCard(c echo.Context) error {
	return s.renderCard(c, http.StatusOK, "", changeForm{})
}

// renderCard shows the card page; after a refused status change, with
// the message and the change form refilled.
func (s *server) renderCard(c echo.Context, status int, msg string, f changeForm) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sc, err := s.svc.Get(ctx, a, id)
	if err != nil {
		return err
	}
	v, err := s.view(c, sc, true)
	if err != nil {
		return err
	}
	d := detailData{consoleBase: s.base(c, sc.Type.Title()+" "+sc.Number, "card"), Card: v, App: v.Applicant, Status: sc.Status.Chinese(), Change: f}
	d.Error = msg
	if c.QueryParam("done") == "sealed" {
		// Say what happens next: whose review the card goes to, or that
		// it is issued; and offer the next card of the queue.
		d.Sealed = true
		if l := sc.NextLevel; l.Valid() && len(sc.VillageCode) >= l.CodeLen() {
			d.Flash = "已审核通过并加盖本机构电子印章，已转 " + s.svc.OrgName(ctx, sc.VillageCode[:l.CodeLen()]) + " 审核。"
		} else if sc.Status == card.StatusIssued {
			d.Flash = "已加盖本机构电子印章，三级印章齐全，服务卡已办结，持卡人可下载打印。"
		}
	}
	if sc.StatusReason != "" {
		d.Status += "（" + reasonLabels[sc.StatusReason] + "）"
	}
	for _, l := range org.Levels {
		st := step{Label: l.Chinese(), State: "pending"}
		for _, x := range v.Seals {
			if x.Level == l {
				st.Org, st.Time, st.State = x.Organisation, chinaTime(x.SignedAt), "done"
			}
		}
		d.Steps = append(d.Steps, st)
	}
	evs, err := s.svc.History(ctx, a, sc, 100)
	if err != nil {
		return err
	}
	people := s.personNames(ctx)
	for _, ev := range evs {
		r := auditRow{At: chinaTime(ev.At), Actor: people.of(ev.Actor), Org: s.svc.OrgName(ctx, ev.OrgCode), Action: ev.Action.Label()}
		if ev.Reason != "" {
			if l, ok := reasonLabels[ev.Reason]; ok {
				r.Reason = l
			} else {
				r.Reason = ev.Reason
			}
		}
		if ev.Action == audit.CardRead {
			d.Reads = append(d.Reads, r)
			continue
		}
		d.Audit = append(d.Audit, r)
	}
	if d.Materials, err = s.materialsOf(ctx, a, sc, v.Applicant, d.CSRF); err != nil {
		return err
	}
	_, d.Preview = previewTool()
	d.CanSeal = lifecycle.Can(a, sc, lifecycle.SealCard)
	d.CanApprove = lifecycle.Can(a, sc, lifecycle.ApproveCard) && !approvedBy(v.Review, a.Org.Level)
	d.CanRefuse = lifecycle.Can(a, sc, lifecycle.RefuseCard)
	d.CanNotice = lifecycle.Can(a, sc, lifecycle.GiveNotice)
	if d.Direct, err = s.directOf(ctx, a, sc); err != nil {
		return err
	}
	d.Steps = directSteps(d.Steps, d.Direct)
	if d.Form, err = s.formOf(ctx, a, sc.ID); err != nil {
		return err
	}
	d.CanCross = lifecycle.Can(a, sc, lifecycle.MarkCrossProvince)
	d.StatusChanges = statusChanges(a, sc)
	d.CanChange = len(d.StatusChanges) > 0
	if sc.Status == card.StatusDraft {
		dl := lifecycle.DeadlineOf(s.svc.WorkCalendar(), sc, s.opt.Now())
		d.Deadline = &dl
	}
	if n, err := strconv.Atoi(c.QueryParam("notice")); err == nil && n > 0 {
		d.Notice = n
	}
	if v.VerificationURL != "" {
		d.VerifyPath = "/v/" + sc.QRToken
	}
	return s.pages.render(c, status, "console_card.html", d)
}

// previewTool finds pdftoppm; without it the detail page links to the PDF.
func previewTool() (string, bool) {
	p, err := exec.LookPath("pdftoppm")
	return p, err == nil
}

// previewDPI is the resolution of the card preview: at 120 dpi the
// card's smallest print (the seal captions, the verification code) reads
// on an office screen; the page links to the image at full size.
const previewDPI = 120

// consolePreview renders page 1 of the card's newest revision as a PNG
// at previewDPI with poppler's pdftoppm.
func (s *server) consolePreview(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sc, err := s.svc.Peek(ctx, a, id)
	if err != nil {
		return err
	}
	tool, ok := previewTool()
	if !ok {
		return fail(kindNotFound, errors.New("pdftoppm not installed"))
	}
	pdf, err := s.svc.PDF(ctx, a, sc)
	if err != nil {
		return err
	}
	png, err := renderPage(ctx, tool, pdf)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.Blob(http.StatusOK, "image/png", png)
}

func renderPage(ctx context.Context, tool string, pdf []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "cardseal-preview-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "card.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, "-png", "-r", strconv.Itoa(previewDPI), "-f", "1", "-l", "1", "-singlefile", in, filepath.Join(dir, "page"))
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pdftoppm: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return os.ReadFile(filepath.Join(dir, "page.png"))
}

// consolePDF sends the card's newest PDF revision to staff.
func (s *server) consolePDF(c echo.Context) error { return s.cardPDF(c) }

type sealData struct {
	consoleBase
	Card *CardView
}

// consoleSealConfirm is the confirmation step before sealing.
func (s *server) consoleSealConfirm(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	v, err := s.sealView(c, a, id)
	if err != nil {
		return err
	}
	return s.pages.render(c, http.StatusOK, "console_seal.html", sealData{consoleBase: s.base(c, "确认盖章", "card"), Card: v})
}

// sealView is the masked summary the confirmation step shows: no personal
// data in full, so the read is not audited (the detail page's is).
func (s *server) sealView(c echo.Context, a lifecycle.Actor, id string) (*CardView, error) {
	sc, err := s.svc.Peek(c.Request().Context(), a, id)
	if err != nil {
		return nil, err
	}
	return s.view(c, sc, false)
}

// consoleSeal checks the re-entered password and applies the seal.
func (s *server) consoleSeal(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	if err := s.confirmPassword(c, postValue(c, "password")); err != nil {
		k, ok := passwordRefusal(c, err, "未盖章。")
		if !ok {
			return err
		}
		v, verr := s.sealView(c, a, id)
		if verr != nil {
			return verr
		}
		d := sealData{consoleBase: s.base(c, "确认盖章", "card"), Card: v}
		d.Error = k.detail
		return s.pages.render(c, k.status, "console_seal.html", d)
	}
	sc, err := s.svc.Seal(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	s.metrics.seals.WithLabelValues(string(a.Org.Level)).Inc()
	s.log.Info("card sealed", "request_id", requestIDOf(c), "card_id", sc.ID, "level", a.Org.Level, "org", a.Org.Code, "user", a.Username, "status", sc.Status, "via", "console")
	return c.Redirect(http.StatusSeeOther, "/console/cards/"+sc.ID+"?done=sealed")
}

// consoleFind opens a card by its number.
func (s *server) consoleFind(c echo.Context) error {
	a, _ := actorOf(c)
	typed := strings.TrimSpace(c.QueryParam("number"))
	if typed == "" || len(typed) > 32 {
		return s.renderQueue(c, http.StatusBadRequest, "请输入要查找的 16 位卡号。", typed)
	}
	sc, err := s.svc.FindByNumber(c.Request().Context(), a, card.NormalizeNumber(typed))
	if errors.Is(err, card.ErrNotFound) {
		return s.renderQueue(c, http.StatusNotFound, "未找到卡号为 "+typed+" 的服务卡，或该卡不在本机构管辖范围内。请核对卡号。", typed)
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/cards/"+sc.ID)
}

// consoleRefuse refuses an application in writing (Art. 11): one reason
// per line; the refusal notice is then one click away.
func (s *server) consoleRefuse(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	var reasons []string
	for _, l := range strings.Split(c.FormValue("reasons"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			reasons = append(reasons, l)
		}
	}
	if len(reasons) == 0 {
		return fail(kindReason, errors.New("no refusal reason"))
	}
	n, err := s.svc.Refuse(c.Request().Context(), a, id, reasons)
	if err != nil {
		return err
	}
	s.log.Info("application refused", "request_id", requestIDOf(c), "card_id", id, "user", a.Username, "via", "console")
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/cards/%s?done=refused&notice=%d", id, n.Seq))
}

// consoleNoticePDF sends a stored notice (the JSON API's handler, under
// the console session).
func (s *server) consoleNoticePDF(c echo.Context) error { return s.noticePDF(c) }
