package api

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
)

// The procedure rules of issue 14 over HTTP: one valid card per couple
// and type, the social credit file of revoked cards (Art. 20), and their
// problems, classified before the general ones.

var (
	kindCardHeld     = kind{409, "card-held", "The couple holds a valid card of this type", "这对夫妻已持有同类有效服务卡，不能重复办理；如需换发，请在申请中注明原卡卡号（第十六条）。"}
	kindReissue      = kind{422, "reissue-invalid", "Re-issue names another card", "换发须注明这对夫妻本县已办结的同类服务卡卡号。"}
	kindNoCommitment = kind{409, "no-commitment", "Only a re-birth card with a commitment may be revoked", "只有夫妻作出书面承诺的再生育服务卡才能因承诺不实而取消（第十条、第二十条）；其他情形请作废或换发。"}
	kindFindingDate  = kind{422, "finding-date", "Finding date", "查实日期须为申请之日至今天之间的日期（年-月-日）。"}
	kindNotOneTime   = kind{409, "notice-not-one-time", "The one-time notice was given", "一次性告知书已经出具：再次告知只能针对告知后补交、经审核不符合要求的材料，不能要求首次告知未列出的材料，已告知的材料也不再重复告知（第十九条）。"}
	kindBadExtract   = kind{422, "bad-extract", "Malformed population-register extract", "全员人口数据文件格式不正确，请按说明检查表头和各行（UTF-8 编码的 CSV）。"}
)

// classifyRules maps the errors of these rules to their kinds.
func classifyRules(err error) (kind, bool) {
	switch {
	case errors.Is(err, lifecycle.ErrCardHeld):
		return kindCardHeld, true
	case errors.Is(err, lifecycle.ErrReissue):
		return kindReissue, true
	case errors.Is(err, lifecycle.ErrNoCommitment):
		return kindNoCommitment, true
	case errors.Is(err, lifecycle.ErrFindingDate):
		return kindFindingDate, true
	case errors.Is(err, lifecycle.ErrNotOneTime):
		return kindNotOneTime, true
	case errors.Is(err, card.ErrExtract):
		return kindBadExtract, true
	case errors.Is(err, lifecycle.ErrPostingOpen):
		return kindPostingOpen, true
	case errors.Is(err, lifecycle.ErrPosting):
		return kindPosting, true
	}
	return kind{}, false
}

// CreditRecord is one revoked card in the file for the social credit
// system (Art. 20, docs/credit-export.md).
type CreditRecord struct {
	Number         string `json:"card_number"`
	Type           string `json:"card_type"`
	CountyCode     string `json:"county_code"`
	VillageCode    string `json:"village_code"`
	FoundOn        string `json:"found_on"`
	Reason         string `json:"reason"`
	ReasonText     string `json:"reason_text"`
	Note           string `json:"note"`
	RevokedAt      string `json:"revoked_at"`
	MaleName       string `json:"male_name"`
	MaleIDNumber   string `json:"male_id_number"`
	FemaleName     string `json:"female_name"`
	FemaleIDNumber string `json:"female_id_number"`
	AppliedOn      string `json:"applied_on"`
}

// creditHeader is the CSV header of the social credit file.
var creditHeader = []string{"card_number", "card_type", "county_code", "village_code", "found_on", "reason",
	"reason_text", "note", "revoked_at", "male_name", "male_id_number", "female_name", "female_id_number", "applied_on"}

func (r CreditRecord) row() []string {
	return []string{r.Number, r.Type, r.CountyCode, r.VillageCode, r.FoundOn, r.Reason, r.ReasonText, r.Note,
		r.RevokedAt, r.MaleName, r.MaleIDNumber, r.FemaleName, r.FemaleIDNumber, r.AppliedOn}
}

// creditReport sends the county's revoked cards with the findings behind
// them, as CSV (the file handed to the social credit system) or JSON; the
// service audits every report. The console's download is this handler.
func (s *server) creditReport(c echo.Context) error {
	a, _ := actorOf(c)
	format := c.QueryParam("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		return fail(kindBadRequest, fmt.Errorf("credit report format %q", format))
	}
	rows, err := s.svc.CreditReport(c.Request().Context(), a)
	if err != nil {
		return err
	}
	recs := make([]CreditRecord, 0, len(rows))
	for _, r := range rows {
		text := reasonLabels[r.Finding.Reason]
		if text == "" {
			text = r.Finding.Reason
		}
		recs = append(recs, CreditRecord{
			Number: r.Card.Number, Type: string(r.Card.Type), CountyCode: r.Card.CountyCode, VillageCode: r.Card.VillageCode,
			FoundOn: r.Finding.FoundOn, Reason: r.Finding.Reason, ReasonText: text, Note: r.Finding.Note,
			RevokedAt: r.Finding.RecordedAt.In(lifecycle.China).Format("2006-01-02 15:04:05"),
			MaleName:  r.Applicant.Male.Name, MaleIDNumber: strings.ToUpper(r.Applicant.Male.IDNumber),
			FemaleName: r.Applicant.Female.Name, FemaleIDNumber: strings.ToUpper(r.Applicant.Female.IDNumber),
			AppliedOn: r.Card.CreatedAt.In(lifecycle.China).Format("2006-01-02"),
		})
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	name := fmt.Sprintf("credit-%s-%s.%s", a.Org.Code, s.opt.Now().In(lifecycle.China).Format("20060102"), format)
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	if format == "json" {
		return writeJSON(c, http.StatusOK, map[string]any{"county": a.Org.Code, "revoked": recs})
	}
	var buf bytes.Buffer
	buf.WriteString("\ufeff") // a BOM, so spreadsheets read UTF-8
	cw := csv.NewWriter(&buf)
	cw.UseCRLF = true
	_ = cw.Write(creditHeader)
	for _, r := range recs {
		row := r.row()
		for i := range row {
			row[i] = csvCell(row[i])
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

var countyParamRE = regexp.MustCompile(`^[0-9]{6}$`)

func countyParam(c echo.Context) (string, error) {
	county := c.Param("county")
	if !countyParamRE.MatchString(county) {
		return "", fail(kindNotFound, errors.New("malformed county code"))
	}
	return county, nil
}

// importPopulation replaces the county's population-register extract
// (Art. 9, 23; docs/population-extract.md) by the CSV body; county staff
// of that county.
func (s *server) importPopulation(c echo.Context) error {
	a, _ := actorOf(c)
	county, err := countyParam(c)
	if err != nil {
		return err
	}
	if ct := c.Request().Header.Get(echo.HeaderContentType); !strings.HasPrefix(ct, "text/csv") {
		return fail(kindUnsupportedType, fmt.Errorf("content type %q", ct))
	}
	rs, err := card.ParseExtract(c.Request().Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return mb
		}
		return err
	}
	n, err := s.svc.ImportPopulation(c.Request().Context(), a, county, rs)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]any{"county": county, "residents": n})
}

// MismatchView is one disagreement between a card and the register.
type MismatchView struct {
	CardID   string      `json:"card_id"`
	Number   string      `json:"card_number"`
	Status   card.Status `json:"status"`
	Role     string      `json:"role"`
	Field    string      `json:"field"`
	OnCard   string      `json:"on_card"`
	Register string      `json:"register"`
}

var mismatchHeader = []string{"card_number", "status", "role", "field", "on_card", "register"}

// populationReport lists where the county's cards and its extract
// disagree, as JSON or CSV, for staff to correct (Art. 23).
func (s *server) populationReport(c echo.Context) error {
	a, _ := actorOf(c)
	county, err := countyParam(c)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format == "" {
		format = "json"
	}
	if format != "csv" && format != "json" {
		return fail(kindBadRequest, fmt.Errorf("report format %q", format))
	}
	ms, err := s.svc.ComparePopulation(c.Request().Context(), a, county)
	if err != nil {
		return err
	}
	out := make([]MismatchView, 0, len(ms))
	for _, m := range ms {
		out = append(out, MismatchView{CardID: m.Card.ID, Number: m.Card.Number, Status: m.Card.Status, Role: m.Role, Field: m.Field, OnCard: m.OnCard, Register: m.Register})
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if format == "json" {
		return writeJSON(c, http.StatusOK, map[string]any{"county": county, "mismatches": out})
	}
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	cw := csv.NewWriter(&buf)
	_ = cw.Write(mismatchHeader)
	for _, m := range out {
		row := []string{m.Number, string(m.Status), m.Role, m.Field, m.OnCard, m.Register}
		for i := range row {
			row[i] = csvCell(row[i])
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="population-`+county+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// TrackView is what the applicant learns through the tracking check: the
// application, its notices (Art. 19 one-time notice, Art. 11 refusal)
// with the URLs of their sealed PDFs, a refusal's reasons, and the
// reason and note of a status change (the holder's, never the public's,
// Art. 13).
type TrackView struct {
	*ApplicationView
	Notices        []TrackNoticeView `json:"notices"`
	RefusalReasons []string          `json:"refusal_reasons,omitempty"`
	StatusReason   string            `json:"status_reason,omitempty"`
	StatusNote     string            `json:"status_note,omitempty"`
	// Postings are the holder's requests for the official card by post
	// (Art. 16) and their state.
	Postings []PostingView `json:"postings"`
}

// TrackNoticeView is one notice of TrackView; PDF needs the ?id_number=
// of the tracking check.
type TrackNoticeView struct {
	Seq    int    `json:"seq"`
	Kind   string `json:"kind"`
	Title  string `json:"title"`
	Number string `json:"number"`
	Date   string `json:"date"`
	PDF    string `json:"pdf"`
}

var noticeTitles = map[card.NoticeKind]string{card.NoticeMissing: "一次性告知书", card.NoticeRefusal: "不予办理告知书"}

func trackView(ap *lifecycle.Application, ns *lifecycle.ApplicantNotices) *TrackView {
	v := &TrackView{ApplicationView: applicationView(ap), Notices: []TrackNoticeView{}, RefusalReasons: ns.Reasons,
		StatusReason: ns.StatusReason, StatusNote: ns.StatusNote, Postings: []PostingView{}}
	for _, p := range ns.Postings {
		v.Postings = append(v.Postings, postingView(ap.Card.Number, p))
	}
	for _, n := range ns.Notices {
		v.Notices = append(v.Notices, TrackNoticeView{Seq: n.Seq, Kind: string(n.Kind), Title: noticeTitles[n.Kind], Number: n.Number, Date: n.Date,
			PDF: fmt.Sprintf("/api/v1/applications/%s/notices/%d", ap.Card.Number, n.Seq)})
	}
	return v
}

// trackNotice sends the applicant a notice's sealed PDF, checked as the
// tracking check is (application number and a spouse's ID number).
func (s *server) trackNotice(c echo.Context) error {
	number := c.Param("number")
	id := c.QueryParam("id_number")
	if !applicationNumberRE.MatchString(number) {
		return fail(kindNotFound, errors.New("malformed application number"))
	}
	seq, err := strconv.Atoi(c.Param("seq"))
	if err != nil || seq < 1 || seq > 1000 {
		return fail(kindNotFound, errors.New("malformed notice number"))
	}
	if id == "" {
		return fail(kindMissingParam, errors.New("no id_number"))
	}
	n, err := s.svc.TrackNotice(c.Request().Context(), number, id, c.RealIP(), seq)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="notice-%s.pdf"`, n.Number))
	return c.Blob(http.StatusOK, "application/pdf", n.PDF)
}
