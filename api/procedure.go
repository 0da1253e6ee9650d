package api

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decode config of uploaded photos
	_ "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
)

// The procedure of the rules over HTTP: notices (Art. 19, 11), deadlines
// and the overdue report (Art. 19, 24), the export (Art. 23), the status
// list for offline checks, the re-birth approval form (Art. 17) and online
// applications by citizens (Art. 15, 16).

var (
	kindNoticeGiven    = kind{409, "notice-given", "One-time notice already given", "该申请的一次性告知书已经出具；申请材料变更后方可再次出具（第十九条）。"}
	kindNothingMissing = kind{409, "nothing-missing", "Nothing missing", "申请材料齐全，应当场办理，无需出具一次性告知书（第十九条）。"}
	kindNotRebirth     = kind{409, "not-rebirth", "Not a re-birth application", "只有再生育申请才有再生育审批表。"}
	kindBadUpload      = kind{415, "bad-material", "Unsupported material file", "材料须为 JPEG、PNG 图片（每边不超过 10000 像素）或 PDF 文件，每个不超过 5 MB。"}
)

// MaxMaterialSize bounds one uploaded material (Art. 16).
const MaxMaterialSize = 5 << 20

// maxMaterials bounds the files of one online application.
const maxMaterials = 10

// NoticeView describes a stored notice.
type NoticeView struct {
	CardID    string    `json:"card_id"`
	Seq       int       `json:"seq"`
	Kind      string    `json:"kind"`
	Number    string    `json:"number"`
	OrgCode   string    `json:"org_code"`
	CreatedAt time.Time `json:"created_at"`
	PDF       string    `json:"pdf"` // URL of the sealed PDF
}

func noticeView(n *card.Notice) NoticeView {
	return NoticeView{CardID: n.CardID, Seq: n.Seq, Kind: string(n.Kind), Number: n.Number, OrgCode: n.OrgCode,
		CreatedAt: n.CreatedAt, PDF: fmt.Sprintf("/api/v1/cards/%s/notices/%d/pdf", n.CardID, n.Seq)}
}

// notice gives the one-time notice of an incomplete application (Art. 19).
func (s *server) notice(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	n, err := s.svc.Notify(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	v := noticeView(n)
	c.Response().Header().Set(echo.HeaderLocation, v.PDF)
	return writeJSON(c, http.StatusCreated, v)
}

// MaterialsRequest is the body of PUT /cards/{id}/materials.
type MaterialsRequest struct {
	Materials map[card.Material]card.MaterialState `json:"materials"`
}

// updateMaterials records how the materials of a draft application are
// satisfied now (Art. 8–10, 19).
func (s *server) updateMaterials(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	var req MaterialsRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Materials == nil {
		return fail(kindInvalidApp, errors.New("no materials"))
	}
	sc, err := s.svc.UpdateMaterials(c.Request().Context(), a, id, req.Materials)
	if err != nil {
		return err
	}
	v, err := s.view(c, sc, false)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, v)
}

// RefuseRequest is the body of a refusal.
type RefuseRequest struct {
	Reasons []string `json:"reasons"`
}

// refuse refuses an application in writing (Art. 11).
func (s *server) refuse(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	var req RefuseRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	n, err := s.svc.Refuse(c.Request().Context(), a, id, req.Reasons)
	if err != nil {
		return err
	}
	v := noticeView(n)
	c.Response().Header().Set(echo.HeaderLocation, v.PDF)
	return writeJSON(c, http.StatusCreated, v)
}

// noticePDF sends a stored notice.
func (s *server) noticePDF(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	seq, err := strconv.Atoi(c.Param("seq"))
	if err != nil || seq < 1 {
		return fail(kindNotFound, errors.New("malformed notice number"))
	}
	n, err := s.svc.Notice(c.Request().Context(), a, id, seq)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="notice-%s.pdf"`, n.Number))
	return c.Blob(http.StatusOK, "application/pdf", n.PDF)
}

// ExportRecord is one card in the export for the population database
// (Art. 23): issued, or issued and since ended (Status).
type ExportRecord struct {
	Number      string          `json:"number"`
	Type        card.Type       `json:"type"`
	VillageCode string          `json:"village_code"`
	CountyCode  string          `json:"county_code"`
	IssuedAt    time.Time       `json:"issued_at"`
	Applicant   *card.Applicant `json:"applicant"`
	// Status is issued, voided, revoked or superseded (Art. 23).
	Status card.Status `json:"status"`
}

var exportHeader = []string{"number", "type", "village_code", "county_code", "issued_at",
	"male_name", "male_id_number", "female_name", "female_id_number", "marriage_date", "marriage_cert_number",
	"child_order", "retroactive", "commitment", "channel", "status"}

// export sends the issued (and since ended) cards of the caller's
// jurisdiction, or of the part of it named by ?within= (or ?county=), as
// CSV or JSON (Art. 23); the service records the export as an audit
// event.
func (s *server) export(c echo.Context) error {
	a, _ := actorOf(c)
	format := c.QueryParam("format")
	if format == "" {
		format = "json"
	}
	if format != "csv" && format != "json" {
		return fail(kindBadRequest, fmt.Errorf("export format %q", format))
	}
	// The part of the jurisdiction to export: the lifecycle decides
	// whether it is the caller's.
	within := c.QueryParam("within")
	if within == "" {
		within = c.QueryParam("county")
	}
	if within == "" {
		within = a.Org.Code
	}
	// Built in memory so a failure is an error response, not a cut file.
	var buf bytes.Buffer
	var cw *csv.Writer
	var records []ExportRecord
	if format == "csv" {
		cw = csv.NewWriter(&buf)
		_ = cw.Write(exportHeader)
	}
	_, err := s.svc.ExportWithin(c.Request().Context(), a, format, within, func(r lifecycle.ExportRow) error {
		rec := ExportRecord{Number: r.Card.Number, Type: r.Card.Type, VillageCode: r.Card.VillageCode, CountyCode: r.Card.CountyCode, IssuedAt: r.Card.UpdatedAt, Applicant: r.Applicant, Status: r.Card.Status}
		if cw == nil {
			records = append(records, rec)
			return nil
		}
		p := r.Applicant
		var md, mc string
		if p.Marriage != nil {
			md, mc = p.Marriage.Date, p.Marriage.CertNumber
		}
		row := []string{rec.Number, string(rec.Type), rec.VillageCode, rec.CountyCode, rec.IssuedAt.Format(time.RFC3339),
			p.Male.Name, p.Male.IDNumber, p.Female.Name, p.Female.IDNumber, md, mc,
			strconv.Itoa(p.ChildOrder), strconv.FormatBool(p.Retroactive), strconv.FormatBool(p.Commitment), string(p.Channel), string(rec.Status)}
		for i := range row {
			row[i] = csvCell(row[i])
		}
		return cw.Write(row)
	})
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	name := fmt.Sprintf("cards-%s-%s.%s", a.Org.Code, s.opt.Now().Format("20060102"), format)
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
	}
	if records == nil {
		records = []ExportRecord{}
	}
	return writeJSON(c, http.StatusOK, map[string]any{"county": org.CountyCode(a.Org.Code), "within": within, "cards": records})
}

// csvCell defuses a cell that a spreadsheet would run as a formula
// (CSV injection, e.g. =HYPERLINK(…) sending the row elsewhere): one that
// starts with = + - @, a tab or a carriage return gets a leading
// apostrophe, which spreadsheets show as text. No exported field starts
// so legitimately (numbers, codes, dates, names); free text such as a
// marriage certificate number might.
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// statusListMaxAge is how long clients and caches may keep the list.
const statusListMaxAge = 300

// statusList serves the signed status list (docs/status-list.md) with an
// ETag (the SM3 of the body) for conditional requests.
func (s *server) statusList(c echo.Context) error {
	body, err := s.svc.CachedStatusList(c.Request().Context())
	if err != nil {
		return err
	}
	etag := lifecycle.ETag(body)
	h := c.Response().Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(statusListMaxAge))
	for _, t := range strings.Split(c.Request().Header.Get("If-None-Match"), ",") {
		if t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/")); t == etag || t == "*" {
			return c.NoContent(http.StatusNotModified)
		}
	}
	return c.Blob(http.StatusOK, "application/json", body)
}

// FormRequest is the body of a new re-birth approval form.
type FormRequest struct {
	Reason     string `json:"reason,omitempty"`
	Conditions string `json:"conditions,omitempty"`
}

// FormView describes a re-birth approval form.
type FormView struct {
	ID     string `json:"id"`
	CardID string `json:"card_id"`
	Number string `json:"number"`
	Seals  int    `json:"seals"`
	PDF    string `json:"pdf"`
}

func formView(f *card.Form) FormView {
	return FormView{ID: f.ID, CardID: f.CardID, Number: f.Number, Seals: f.Seq, PDF: "/api/v1/forms/" + f.ID + "/pdf"}
}

// createForm draws up a re-birth approval form from a pre-reviewed
// application (county, Art. 17).
func (s *server) createForm(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	var req FormRequest
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	f, err := s.svc.CreateRebirthForm(c.Request().Context(), a, id, req.Reason, req.Conditions)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/forms/"+f.ID)
	return writeJSON(c, http.StatusCreated, formView(f))
}

func formID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !cardIDRE.MatchString(id) {
		return "", fail(kindNotFound, errors.New("malformed form id"))
	}
	return id, nil
}

// sealForm checks the caller's password again (SealRequest) and applies
// the caller's seal to a re-birth approval form, in any order (补盖,
// Art. 17).
func (s *server) sealForm(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := formID(c)
	if err != nil {
		return err
	}
	if err := s.confirmSeal(c); err != nil {
		return err
	}
	f, err := s.svc.SealForm(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, formView(f))
}

// formPDF sends the form's newest revision.
func (s *server) formPDF(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := formID(c)
	if err != nil {
		return err
	}
	f, err := s.svc.Form(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="form-%s.pdf"`, f.Number))
	return c.Blob(http.StatusOK, "application/pdf", f.PDF)
}

// ApplicationView is what a citizen learns of an application.
type ApplicationView struct {
	Number      string             `json:"number"`
	Status      card.Status        `json:"status"`
	Type        card.Type          `json:"type"`
	VillageCode string             `json:"village_code"`
	Holders     []lifecycle.Holder `json:"holders"`
	CreatedAt   time.Time          `json:"created_at"`
	// Due is absent until the file is complete; the time limit of
	// LimitWorkingDays counts from that day (Art. 19).
	Due              string          `json:"due,omitempty"`
	LimitWorkingDays int             `json:"limit_working_days,omitempty"`
	Missing          []card.Material `json:"missing,omitempty"`
	Materials        int             `json:"materials_received"`
	DownloadURL      string          `json:"download_url,omitempty"`
}

func applicationView(ap *lifecycle.Application) *ApplicationView {
	sc := ap.Card
	v := &ApplicationView{
		Number: sc.Number, Status: sc.Status, Type: sc.Type, VillageCode: sc.VillageCode, CreatedAt: sc.CreatedAt,
		Holders: ap.Holders, Missing: ap.Missing, Materials: ap.Materials, Due: ap.Due, LimitWorkingDays: ap.Limit,
	}
	if ap.DownloadToken != "" {
		v.DownloadURL = "/c/" + ap.DownloadToken
	}
	return v
}

// apply takes a citizen's online application without an account
// (Art. 15, 16): multipart/form-data with the part "application" (the
// JSON of examples/applicant.json) and up to ten files "material:<name>"
// (JPEG, PNG or PDF, each ≤ 5 MB), or a JSON body without files.
func (s *server) apply(c echo.Context) error {
	r := c.Request()
	var appJSON []byte
	var uploads []lifecycle.Upload
	ct := r.Header.Get(echo.HeaderContentType)
	switch {
	case strings.HasPrefix(ct, echo.MIMEApplicationJSON):
		b, err := io.ReadAll(io.LimitReader(r.Body, s.opt.MaxJSON+1))
		if err != nil {
			return err
		}
		if int64(len(b)) > s.opt.MaxJSON {
			return fail(kindTooLarge, errors.New("application JSON too large"))
		}
		appJSON = b
	case strings.HasPrefix(ct, echo.MIMEMultipartForm):
		mr, err := r.MultipartReader()
		if err != nil {
			return fail(kindBadRequest, err)
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				var mb *http.MaxBytesError
				if errors.As(err, &mb) {
					return err
				}
				return fail(kindBadRequest, err)
			}
			name := p.FormName()
			switch {
			case name == "application":
				if appJSON, err = readPart(p, 64<<10); err != nil {
					return err
				}
			case strings.HasPrefix(name, "material:"):
				if len(uploads) == maxMaterials {
					return fail(kindBadUpload, errors.New("too many files"))
				}
				u, err := readMaterial(p, card.Material(strings.TrimPrefix(name, "material:")))
				if err != nil {
					return err
				}
				uploads = append(uploads, u)
			default:
				return fail(kindBadRequest, fmt.Errorf("unknown part %q", name))
			}
		}
	default:
		return fail(kindUnsupportedType, fmt.Errorf("content type %q", ct))
	}
	if appJSON == nil {
		return fail(kindMissingParam, errors.New("no application part"))
	}
	app, err := card.ParseApplicant(appJSON)
	if err != nil {
		return err
	}
	sc, err := s.svc.ApplyOnline(r.Context(), app, uploads, c.RealIP())
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/applications/"+sc.Number)
	dl := lifecycle.DeadlineOf(s.svc.WorkCalendar(), sc, s.opt.Now())
	return writeJSON(c, http.StatusCreated, applicationView(&lifecycle.Application{
		Card: sc, Holders: lifecycle.MaskHolders(app), Missing: app.MissingMaterials(), Materials: len(uploads),
		Due: dl.DueDate(), Limit: dl.Limit,
	}))
}

func readPart(p *multipart.Part, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(p, max+1))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, err
		}
		return nil, fail(kindBadRequest, err)
	}
	if int64(len(b)) > max {
		return nil, fail(kindTooLarge, fmt.Errorf("part %q over %d bytes", p.FormName(), max))
	}
	return b, nil
}

// readMaterial reads one uploaded material and checks its type by its
// content, whatever the client claimed: a JPEG or PNG whose header
// decodes, or a PDF.
func readMaterial(p *multipart.Part, m card.Material) (lifecycle.Upload, error) {
	b, err := readPart(p, MaxMaterialSize)
	if err != nil {
		return lifecycle.Upload{}, err
	}
	ct := MaterialType(b)
	if ct == "" {
		return lifecycle.Upload{}, fail(kindBadUpload, fmt.Errorf("material %q: not JPEG, PNG or PDF", m))
	}
	return lifecycle.Upload{Material: m, ContentType: ct, Data: b}, nil
}

// Bounds of an uploaded photo, read from its header before anything
// decodes it: a few kilobytes can claim a gigantic image (a 20000×20000
// PNG of zeros compresses to a few hundred KB and decodes to 1.6 GB). A
// phone photo has 12 to 50 million pixels.
const (
	MaxImageSide   = 10000
	MaxImagePixels = 50_000_000
)

// MaterialType returns the content type of an accepted material file
// (image/jpeg, image/png, application/pdf), judged by content, or "".
// Images are judged by their header alone: never decoded.
func MaterialType(b []byte) string {
	switch ct := http.DetectContentType(b); ct {
	case "image/jpeg", "image/png":
		cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil || "image/"+format != ct || cfg.Width <= 0 || cfg.Height <= 0 ||
			cfg.Width > MaxImageSide || cfg.Height > MaxImageSide || cfg.Width*cfg.Height > MaxImagePixels {
			return ""
		}
		return ct
	case "application/pdf":
		if bytes.HasPrefix(b, []byte("%PDF-")) {
			return ct
		}
	}
	return ""
}

var applicationNumberRE = regexp.MustCompile(`^[0-9]{16}$`)

// trackApplication tells a citizen the status of an application, given
// its number and one spouse's ID number; every attempt on a number counts
// against a per-number limit shared by all instances.
func (s *server) trackApplication(c echo.Context) error {
	number := c.Param("number")
	id := c.QueryParam("id_number")
	if !applicationNumberRE.MatchString(number) {
		return fail(kindNotFound, errors.New("malformed application number"))
	}
	if id == "" {
		return fail(kindMissingParam, errors.New("no id_number"))
	}
	ap, ns, err := s.svc.TrackNotices(c.Request().Context(), number, id, c.RealIP())
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, trackView(ap, ns))
}
