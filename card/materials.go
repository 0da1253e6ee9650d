package card

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Material is a document an application may require. The list below is
// the only checklist (Art. 8: nothing beyond it may be demanded).
type Material string

const (
	MatIDCards     Material = "id_cards"                  // 夫妻双方身份证
	MatHukou       Material = "household_register"        // 户口簿
	MatMarriage    Material = "marriage_certificate"      // 结婚证
	MatBirthCert   Material = "birth_medical_certificate" // 子女出生医学证明 (Art. 4)
	MatStatusCert  Material = "status_certificate"        // 婚育情况证明 (Art. 5, 6)
	MatApplicantID Material = "applicant_id_card"         // 申请人身份证 (Art. 5)
)

// Chinese is the material's name on forms and notices.
func (m Material) Chinese() string {
	switch m {
	case MatIDCards:
		return "夫妻双方身份证"
	case MatHukou:
		return "户口簿"
	case MatMarriage:
		return "结婚证"
	case MatBirthCert:
		return "子女出生医学证明"
	case MatStatusCert:
		return "单位或村(居)出具的婚育情况证明"
	case MatApplicantID:
		return "申请人身份证"
	}
	return string(m)
}

// MaterialState is how a required material is satisfied.
type MaterialState string

const (
	Provided     MaterialState = "provided"      // the applicant provided it
	PopulationDB MaterialState = "population_db" // verified from the population database (Art. 9: not asked again)
	Committed    MaterialState = "commitment"    // covered by the couple's written commitment (Art. 10)
	Missing      MaterialState = "missing"       // not yet provided
	// Submitted: sent online (a photo or a scan), not yet reviewed by
	// staff. Not satisfied until staff accept it (Provided).
	Submitted MaterialState = "submitted"
	// Deficient: sent, reviewed and found deficient (unreadable, the
	// wrong paper); Applicant.MaterialNotes says why. Not satisfied.
	Deficient MaterialState = "deficient"
)

// MaxMaterialNote bounds the reason a material is deficient, in
// characters: it is printed on the one-time notice beside the
// material's name, within the notice's item bound.
const MaxMaterialNote = 100

// Satisfied reports whether the state fulfils the material's
// requirement (Art. 8-10): accepted, found in the population database or
// covered by the commitment.
func (s MaterialState) Satisfied() bool {
	return s == Provided || s == PopulationDB || s == Committed
}

// Chinese is the state as staff and citizens read it.
func (s MaterialState) Chinese() string {
	switch s {
	case Provided:
		return "已收取"
	case PopulationDB:
		return "已从全员人口数据库核实"
	case Committed:
		return "以书面承诺代替"
	case Missing:
		return "未提供"
	case Submitted:
		return "已网上提交，待审核"
	case Deficient:
		return "不符合要求，需重新提交"
	}
	return string(s)
}

// Case is the kind of application, which decides the materials.
type Case string

const (
	CaseMarried     Case = "married"     // Art. 3: first or second child, married couple
	CaseRetroactive Case = "retroactive" // Art. 4: child already born
	CaseUnmarried   Case = "unmarried"   // Art. 5
	CaseRebirth     Case = "rebirth"     // Art. 6
)

// Article is the rule article that sets the case's materials.
func (c Case) Article() string {
	switch c {
	case CaseMarried:
		return "第三条"
	case CaseRetroactive:
		return "第四条"
	case CaseUnmarried:
		return "第五条"
	case CaseRebirth:
		return "第六条"
	}
	return ""
}

// required is the one source of the materials per case (Art. 3–6).
var required = map[Case][]Material{
	CaseMarried:     {MatIDCards, MatHukou, MatMarriage},
	CaseRetroactive: {MatIDCards, MatMarriage, MatBirthCert},
	CaseUnmarried:   {MatApplicantID, MatStatusCert},
	CaseRebirth:     {MatIDCards, MatHukou, MatMarriage, MatStatusCert},
}

// RequiredMaterials returns the materials a case requires, in order.
func RequiredMaterials(c Case) []Material { return append([]Material(nil), required[c]...) }

// Requires reports whether the application's case requires the material
// (Art. 8: nothing beyond the checklist may be asked for or taken).
func Requires(a *Applicant, m Material) bool {
	for _, r := range required[CaseOf(a)] {
		if r == m {
			return true
		}
	}
	return false
}

// CaseOf decides an application's case.
func CaseOf(a *Applicant) Case {
	switch {
	case a.Type == Rebirth:
		return CaseRebirth
	case a.Marriage == nil:
		return CaseUnmarried
	case a.Retroactive:
		return CaseRetroactive
	}
	return CaseMarried
}

// checkMaterials refuses materials beyond the case's list (Art. 8) and
// unknown states.
func (a *Applicant) checkMaterials() error {
	req := required[CaseOf(a)]
	for m, s := range a.Materials {
		ok := false
		for _, r := range req {
			ok = ok || r == m
		}
		if !ok {
			return fieldErr("materials."+string(m), "not required for this case (Art. 8: nothing beyond %s's list may be demanded)", CaseOf(a).Article())
		}
		switch s {
		case Provided, PopulationDB, Committed, Missing, Submitted, Deficient:
		default:
			return fieldErr("materials."+string(m), "state must be provided, population_db, commitment, missing, submitted or deficient")
		}
		if s == Committed && !a.Commitment {
			return fieldErr("materials."+string(m), "covered by commitment, but the couple made no commitment (Art. 10)")
		}
		if _, ok := a.MaterialNotes[m]; s == Deficient && !ok {
			return fieldErr("material_notes."+string(m), "a deficient material states why (the one-time notice prints it)")
		}
	}
	for m, note := range a.MaterialNotes {
		field := "material_notes." + string(m)
		if a.Materials[m] != Deficient {
			return fieldErr(field, "a note belongs to a deficient material only")
		}
		if strings.TrimSpace(note) == "" || utf8.RuneCountInString(note) > MaxMaterialNote {
			return fieldErr(field, "required, at most %d characters", MaxMaterialNote)
		}
		if err := CheckLine(field, note); err != nil {
			return err
		}
	}
	return nil
}

// MissingMaterials lists the required materials that are not satisfied
// (missing, sent but not yet reviewed, or deficient), in the checklist's
// order. An application without a materials record is taken as complete
// (the counter service checked the originals).
func (a *Applicant) MissingMaterials() []Material {
	if a.Materials == nil {
		return nil
	}
	var out []Material
	for _, m := range required[CaseOf(a)] {
		if !a.Materials[m].Satisfied() {
			out = append(out, m)
		}
	}
	return out
}

// MaterialsIn lists the required materials in state s, in the
// checklist's order (absent from the record counts as Missing when the
// application has a materials record).
func (a *Applicant) MaterialsIn(s MaterialState) []Material {
	if a.Materials == nil {
		return nil
	}
	var out []Material
	for _, m := range required[CaseOf(a)] {
		st, ok := a.Materials[m]
		if !ok {
			st = Missing
		}
		if st == s {
			out = append(out, m)
		}
	}
	return out
}

// Guide is what Art. 18 requires to be published for a card type.
type Guide struct {
	Type       Type
	Title      string
	Conditions []string
	Procedure  []string
	TimeLimit  string
	Cases      []GuideCase
}

// GuideCase is one case's materials on the public guide.
type GuideCase struct {
	Case      Case
	Article   string
	Name      string
	Materials []string
}

// Guides returns the published conditions, procedure, time limits and
// materials for every card type, from the same source as the checklist.
func Guides() []Guide {
	timeLimit := "材料齐全的当场办理；材料不全的一次性告知需补充的全部材料；需在省内核实的10个工作日内办结，需外省核实的20个工作日内办结（第十九条）。"
	names := map[Case]string{
		CaseMarried:     "已婚夫妻申请",
		CaseRetroactive: "已生育未办卡，补办",
		CaseUnmarried:   "未办理结婚登记生育",
		CaseRebirth:     "意愿再生育",
	}
	mk := func(cs ...Case) []GuideCase {
		var out []GuideCase
		for _, c := range cs {
			g := GuideCase{Case: c, Article: c.Article(), Name: names[c]}
			for _, m := range required[c] {
				g.Materials = append(g.Materials, m.Chinese())
			}
			out = append(out, g)
		}
		return out
	}
	common := []string{
		"到夫妻一方户籍所在地或现居住地（居住1个月以上）的村(居)民委员会申报，也可通过网上申请（第三条、第十五条）。",
		"村(居)、乡(镇、街道)、县级工作人员网上审核，逐级加盖电子印章（第十五条）。",
		"本人无法亲自办理的可委托他人代办，工作人员也可上门服务、全程代办（第七条）。",
		"全员人口数据库能获取的信息不再要求提供（第九条）；婚育情况难以核实的，夫妻双方书面承诺后予以办理（第十条）。",
		"办理生育服务卡不收取任何费用（第十二条）。",
	}
	out := []Guide{}
	for _, t := range Types {
		g := Guide{Type: t, Title: t.Title(), TimeLimit: timeLimit}
		switch t {
		case First, Second:
			g.Conditions = []string{fmt.Sprintf("夫妻有生育第%s个子女意愿的（第三条）；已生育未办卡的可补办（第四条）；未办理结婚登记生育的凭婚育情况证明办理（第五条）。", map[Type]string{First: "一", Second: "二"}[t])}
			g.Procedure = append([]string{"村(居)民委员会受理，送乡(镇)人民政府或街道办事处登记并发卡（第三条）。"}, common...)
			g.Cases = mk(CaseMarried, CaseRetroactive, CaseUnmarried)
		case Rebirth:
			g.Conditions = []string{"意愿再生育的夫妻（包括特殊情形意愿再生育的夫妻），符合再生育条件的（第六条）。"}
			g.Procedure = append([]string{"经夫妻一方户籍所在地乡(镇)人民政府或街道办事处签署意见，报县级计划生育主管部门审核，符合条件的办理再生育服务卡（第六条）。"}, common...)
			g.Cases = mk(CaseRebirth)
		}
		out = append(out, g)
	}
	return out
}
