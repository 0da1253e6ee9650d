package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/templates"
)

// The citizen's application form (/apply): its cases, its fields, and
// the reading of a multipart submission into an application, uploads
// and per-field errors in Chinese.

// applyCase is one choice of step 1: a card type and the case that
// decides the materials (Art. 3–6).
type applyCase struct {
	Type  card.Type
	Case  card.Case
	Label string
}

var applyCases = []applyCase{
	{card.First, card.CaseMarried, "一孩：已办理结婚登记"},
	{card.First, card.CaseRetroactive, "一孩：孩子已出生，补办（第四条）"},
	{card.First, card.CaseUnmarried, "一孩：未办理结婚登记生育（第五条）"},
	{card.Second, card.CaseMarried, "二孩：已办理结婚登记"},
	{card.Second, card.CaseRetroactive, "二孩：孩子已出生，补办（第四条）"},
	{card.Second, card.CaseUnmarried, "二孩：未办理结婚登记生育（第五条）"},
	{card.Rebirth, card.CaseRebirth, "再生育（第六条）"},
}

func findCase(t, cs string) (applyCase, bool) {
	for _, a := range applyCases {
		if string(a.Type) == t && string(a.Case) == cs {
			return a, true
		}
	}
	return applyCase{}, false
}

// commitmentText is the written commitment of Art. 10 the couple may
// make on the form.
const commitmentText = "我们承诺：所填婚育情况和所交材料真实、完整。如有虚假，愿意承担相应责任，所办服务卡可被依法取消（《规定》第十条、第二十条）。"

// applyFields are the form's text fields, by name (the application's JSON
// path with "_" for "." and "[i]").
var applyFields = []string{
	"village", "channel", "proxy_name", "proxy_id_number", "proxy_relationship",
	"male_name", "male_id_number", "male_hukou", "male_residence",
	"female_name", "female_id_number", "female_hukou", "female_residence",
	"marriage_date", "marriage_cert_number", "status_cert_number", "status_cert_issuer",
	"child_order", "birth_cert_number", "commitment",
	"children_0_name", "children_0_sex", "children_0_birth_date",
	"children_1_name", "children_1_sex", "children_1_birth_date",
}

// applyForm is a submitted (or refilled) form.
type applyForm struct {
	Case   applyCase
	V      map[string]string // the text fields as typed
	Errs   map[string]string // field or "material_<m>" → message
	Error  string            // the form's message (limits, quotas)
	Files  []lifecycle.Upload
	Status int
}

func (f *applyForm) fail(field, msg string) {
	if _, ok := f.Errs[field]; !ok {
		f.Errs[field] = msg
	}
}

// readApplyForm reads the multipart form: text fields up to 1 KB each,
// files "photo:<material>" and "pdf:<material>" checked by content (as
// the JSON API's) and only for the case's materials.
func readApplyForm(c echo.Context, fixed map[string]string) (*applyForm, error) {
	f := &applyForm{V: map[string]string{}, Errs: map[string]string{}}
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return nil, fail(kindBadRequest, err)
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return nil, err
			}
			return nil, fail(kindBadRequest, err)
		}
		name := p.FormName()
		kind, mat, isFile := strings.Cut(name, ":")
		if isFile && (kind == "photo" || kind == "pdf") {
			if p.FileName() == "" {
				continue // no file chosen
			}
			if len(f.Files) == maxMaterials {
				f.fail("material_"+mat, fmt.Sprintf("最多上传 %d 个文件。", maxMaterials))
				continue
			}
			u, err := readMaterial(p, card.Material(mat))
			var ae *apiError
			switch {
			case errors.As(err, &ae) && (ae.kind == kindBadUpload || ae.kind == kindTooLarge):
				f.fail("material_"+mat, "文件须为 JPEG、PNG 照片或 PDF，每个不超过 5 MB，照片每边不超过 10000 像素。请重新选择。")
				continue
			case err != nil:
				return nil, err
			}
			if len(u.Data) == 0 {
				continue
			}
			f.Files = append(f.Files, u)
			continue
		}
		b, err := readPart(p, 1<<10)
		if err != nil {
			return nil, err
		}
		f.V[name] = strings.TrimSpace(string(b))
	}
	for k, v := range fixed {
		f.V[k] = v
	}
	return f, nil
}

// applicant turns the form into an application of its case and checks
// each field, so that every wrong field gets its message at once.
func (f *applyForm) applicant() *card.Applicant {
	v := f.V
	order, err := strconv.Atoi(v["child_order"])
	if err != nil || order < 1 || order > 9 {
		f.fail("child_order", "请填写本次申请的是第几个子女（1 至 9）。")
	}
	app := &card.Applicant{
		Type:       f.Case.Type,
		Male:       card.Person{Name: v["male_name"], IDNumber: strings.ToUpper(v["male_id_number"]), Hukou: v["male_hukou"], Residence: v["male_residence"]},
		Female:     card.Person{Name: v["female_name"], IDNumber: strings.ToUpper(v["female_id_number"]), Hukou: v["female_hukou"], Residence: v["female_residence"]},
		ChildOrder: order,
		Commitment: v["commitment"] == "on",
		Channel:    card.ChannelSelf,
		Village:    v["village"],
	}
	switch f.Case.Case {
	case card.CaseMarried, card.CaseRetroactive, card.CaseRebirth:
		app.Marriage = &card.Marriage{Date: v["marriage_date"], CertNumber: v["marriage_cert_number"]}
	}
	switch f.Case.Case {
	case card.CaseUnmarried, card.CaseRebirth:
		app.StatusCert = &card.StatusCert{Number: v["status_cert_number"], Issuer: v["status_cert_issuer"]}
	}
	if f.Case.Case == card.CaseRetroactive {
		app.Retroactive, app.BirthCertNumber = true, v["birth_cert_number"]
	}
	for i := range 2 {
		n := "children_" + strconv.Itoa(i) + "_"
		if v[n+"name"] != "" || v[n+"birth_date"] != "" {
			app.Children = append(app.Children, card.Child{Name: v[n+"name"], Sex: v[n+"sex"], BirthDate: v[n+"birth_date"]})
		}
	}
	if v["channel"] == string(card.ChannelProxy) {
		app.Channel = card.ChannelProxy
		app.Proxy = &card.Proxy{Name: v["proxy_name"], IDNumber: strings.ToUpper(v["proxy_id_number"]), Relationship: v["proxy_relationship"]}
	}
	// Field by field first: required, ID numbers, printable.
	for _, name := range applyFields {
		val, msg := v[name], ""
		switch {
		case name == "village" && val == "":
			msg = "请选择受理申请的村(居)委会。"
		case strings.HasSuffix(name, "id_number") && (strings.HasPrefix(name, "male") || strings.HasPrefix(name, "female") || app.Proxy != nil):
			if card.ValidateIDNumber(strings.ToUpper(val)) != nil {
				msg = "请填写正确的 18 位公民身份号码（最后一位可以是 X）。"
			}
		case strings.HasSuffix(name, "_name") && !strings.HasPrefix(name, "children") && (!strings.HasPrefix(name, "proxy") || app.Proxy != nil):
			if val == "" || utf8.RuneCountInString(val) > 30 {
				msg = "请填写姓名（不超过 30 个字）。"
			}
		}
		if msg == "" && val != "" {
			if err := templates.CheckText(name, val); err != nil {
				msg = "含有无法打印在服务卡上的字符，请检查。"
			}
		}
		if msg != "" {
			f.fail(name, msg)
		}
	}
	return app
}

// citizenField is the citizen form field of a card.FieldError's field.
func citizenField(field string) string {
	r := strings.NewReplacer(".", "_", "[", "_", "]", "")
	return r.Replace(field)
}
