package api

import (
	"html/template"
	"regexp"
	"strings"

	"github.com/jilin-health/cardseal/card"
)

// The console's new application form reports every problem at once, at
// its field, in Chinese: card.Applicant.Problems names the fields, this
// one table says what to do about each (no English reason reaches a
// page), and formField maps the application's field to the form's
// input.

// fieldTexts are the Chinese messages, by the application's field (the
// children's index replaced by "*"): the one table of the console's and
// the citizen's application forms.
var fieldTexts = map[string]string{
	"type":                  "请选择服务卡类型。",
	"village":               "请选择受理的村(居)民委员会。",
	"male.name":             "请填写男方姓名（不超过 30 个字）。",
	"male.id_number":        "男方公民身份号码不正确：应为 18 位，末位为数字或 X，且校验位须相符。",
	"male.hukou":            "请填写男方户籍地（不超过 200 个字）。",
	"male.residence":        "请填写男方现居住地（不超过 200 个字）。",
	"female.name":           "请填写女方姓名（不超过 30 个字）。",
	"female.id_number":      "女方公民身份号码不正确：应为 18 位，末位为数字或 X，且校验位须相符。",
	"female.hukou":          "请填写女方户籍地（不超过 200 个字）。",
	"female.residence":      "请填写女方现居住地（不超过 200 个字）。",
	"marriage":              "请填写结婚登记信息；未办理结婚登记的，填写婚育情况证明（第五条）。",
	"marriage.date":         "请填写结婚登记日期。",
	"marriage.cert_number":  "请填写结婚证字号（不超过 64 个字符）。",
	"status_cert":           "再生育服务卡须填写婚育情况证明（第六条）。",
	"status_cert.number":    "请填写婚育情况证明编号（不超过 64 个字符）。",
	"status_cert.issuer":    "出具机关不超过 200 个字。",
	"child_order":           "本次为第几个子女：请填写 1 到 9 之间的数字。",
	"children":              "现有子女最多填写 8 个。",
	"children.*.name":       "请填写该子女的姓名（不超过 30 个字）。",
	"children.*.sex":        "请选择该子女的性别。",
	"children.*.birth_date": "请填写该子女的出生日期。",
	"birth_cert_number":     "补办须填写出生医学证明编号（第四条，不超过 64 个字符）。",
	"channel":               "请选择申请方式。",
	"proxy":                 "委托代办须填写代办人信息（第七条）。",
	"proxy.name":            "请填写代办人姓名（不超过 30 个字）。",
	"proxy.id_number":       "代办人公民身份号码不正确：应为 18 位，末位为数字或 X，且校验位须相符。",
	"proxy.relationship":    "请填写代办人与申请人的关系（不超过 30 个字）。",
	"commitment":            "承诺须在勾选后提交（第十条）。",
}

// sameIDText is the female spouse's ID number equal to the male's.
const sameIDText = "女方公民身份号码与男方相同，请核对。"

// lineText is a field holding a line break or a control character.
const lineText = "该项不能含有换行或控制字符。"

var childIndex = regexp.MustCompile(`^children\[(\d+)\]\.(.+)$`)

// formField maps an application field to the input of the form.
var formFields = map[string]string{
	"male.id_number": "male_id", "female.id_number": "female_id",
	"marriage": "marriage_date", "marriage.date": "marriage_date", "marriage.cert_number": "marriage_cert",
	"status_cert": "status_number", "status_cert.number": "status_number", "status_cert.issuer": "status_issuer",
	"birth_cert_number": "birth_cert", "proxy": "proxy_name", "proxy.id_number": "proxy_id",
	"channel": "channel_self", "children": "child_name_0",
}

func formField(field string) string {
	if m := childIndex.FindStringSubmatch(field); m != nil {
		switch m[2] {
		case "name":
			return "child_name_" + m[1]
		case "sex":
			return "child_sex_" + m[1]
		case "birth_date":
			return "child_birth_" + m[1]
		}
	}
	if f, ok := formFields[field]; ok {
		return f
	}
	return strings.ReplaceAll(field, ".", "_")
}

// fieldText is the Chinese message for a problem.
func fieldText(p *card.FieldError) string {
	switch {
	case p.Field == "female.id_number" && strings.Contains(p.Reason, "differ"):
		return sameIDText
	case strings.Contains(p.Reason, "line break") || strings.Contains(p.Reason, "control character") || strings.Contains(p.Reason, "UTF-8"):
		return lineText
	}
	key := childIndex.ReplaceAllString(p.Field, "children.*.$2")
	if t, ok := fieldTexts[key]; ok {
		return t
	}
	if strings.HasPrefix(p.Field, "materials.") {
		return "材料清单与本案情形不符，请核对。"
	}
	return "此项填写不正确，请核对。"
}

// formProblems are an application's problems by form input, in Chinese.
func formProblems(ps []*card.FieldError) map[string]string {
	errs := map[string]string{}
	for _, p := range ps {
		if f := formField(p.Field); errs[f] == "" {
			errs[f] = fieldText(p)
		}
	}
	return errs
}

// formOrder is the order of the inputs in console_new.html.
var formOrder = []string{"village", "type", "child_order",
	"male_name", "male_id", "male_hukou", "male_residence", "female_name", "female_id", "female_hukou", "female_residence",
	"marriage_date", "marriage_cert", "status_number", "status_issuer",
	"child_name_0", "child_sex_0", "child_birth_0", "child_name_1", "child_sex_1", "child_birth_1", "child_name_2", "child_sex_2", "child_birth_2",
	"channel_self", "proxy_name", "proxy_id", "proxy_relationship", "birth_cert"}

// firstField is the input with a problem that comes first in the form.
func firstField(errs map[string]string) string {
	for _, f := range formOrder {
		if errs[f] != "" {
			return f
		}
	}
	return ""
}

// fieldAttrs are the attributes of an input with a problem: marked
// invalid, described by its message, focused if it is the first.
func fieldAttrs(d newData, id string) template.HTMLAttr {
	if d.Errs[id] == "" {
		return ""
	}
	a := ` aria-invalid="true" aria-describedby="` + template.HTMLEscapeString(id) + `-error"`
	if d.First == id {
		a += " autofocus"
	}
	return template.HTMLAttr(a)
}

// fieldMessage is an input's problem, shown under it.
func fieldMessage(d newData, id string) template.HTML {
	m := d.Errs[id]
	if m == "" {
		return ""
	}
	return template.HTML(`<span class="field-error" id="` + template.HTMLEscapeString(id) + `-error">` + template.HTMLEscapeString(m) + `</span>`)
}
