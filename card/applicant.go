// Package card owns the fertility service card as data: its types, the
// application (applicant) record, validation, and the masking rules for
// public answers (Art. 13).
package card

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Type is the card type (Art. 2).
type Type string

const (
	First   Type = "first"   // 一孩生育服务卡
	Second  Type = "second"  // 二孩生育服务卡
	Rebirth Type = "rebirth" // 再生育服务卡
)

// Types lists the card types in a stable order.
var Types = []Type{First, Second, Rebirth}

// Title is the card's printed title.
func (t Type) Title() string {
	switch t {
	case First:
		return "一孩生育服务卡"
	case Second:
		return "二孩生育服务卡"
	case Rebirth:
		return "再生育服务卡"
	}
	return ""
}

// Code is the one-byte code of the type in the QR token.
func (t Type) Code() byte {
	switch t {
	case First:
		return 1
	case Second:
		return 2
	case Rebirth:
		return 3
	}
	return 0
}

// TypeFromCode is the inverse of Code.
func TypeFromCode(b byte) (Type, bool) {
	for _, t := range Types {
		if t.Code() == b {
			return t, true
		}
	}
	return "", false
}

// Valid reports whether t is a known card type.
func (t Type) Valid() bool { return t.Code() != 0 }

// Channel says who submitted the application (Art. 7b).
type Channel string

const (
	ChannelSelf  Channel = "self"  // the couple themselves
	ChannelProxy Channel = "proxy" // 委托代办
	ChannelStaff Channel = "staff" // 上门服务, staff on the citizen's behalf
)

// Person is one spouse (or parent, Art. 5).
type Person struct {
	Name      string `json:"name"`
	IDNumber  string `json:"id_number"`
	Hukou     string `json:"hukou"`     // 户籍地
	Residence string `json:"residence"` // 现居住地
}

// Marriage is the marriage registration (Art. 3).
type Marriage struct {
	Date       string `json:"date"` // YYYY-MM-DD
	CertNumber string `json:"cert_number"`
}

// StatusCert is the marital/fertility status certificate (婚育情况证明),
// required for unmarried parents (Art. 5) and re-birth (Art. 6).
type StatusCert struct {
	Number string `json:"number"`
	Issuer string `json:"issuer"`
}

// Child is an existing child of the couple.
type Child struct {
	Name      string `json:"name"`
	Sex       string `json:"sex"` // 男 / 女
	BirthDate string `json:"birth_date"`
}

// Proxy is the person who applied on the couple's behalf (Art. 7b).
type Proxy struct {
	Name         string `json:"name"`
	IDNumber     string `json:"id_number"`
	Relationship string `json:"relationship"`
}

// Applicant is an application for a card.
type Applicant struct {
	Type            Type        `json:"type"`
	Male            Person      `json:"male"`   // 男方
	Female          Person      `json:"female"` // 女方
	Marriage        *Marriage   `json:"marriage,omitempty"`
	StatusCert      *StatusCert `json:"status_cert,omitempty"`
	ChildOrder      int         `json:"child_order"`
	Children        []Child     `json:"children,omitempty"`
	Retroactive     bool        `json:"retroactive"`
	BirthCertNumber string      `json:"birth_cert_number,omitempty"` // 出生医学证明 (Art. 4)
	Commitment      bool        `json:"commitment"`                  // 承诺 (Art. 10)
	Channel         Channel     `json:"channel"`
	Proxy           *Proxy      `json:"proxy,omitempty"`
	Village         string      `json:"village"` // division code of the receiving village committee
	// ReissueOf is the number of the couple's issued card of this type
	// that the new card replaces (换发, Art. 16); a couple holds one
	// issued card per type.
	ReissueOf string `json:"reissue_of,omitempty"`
	// Materials records how each required material is satisfied
	// (card/materials.go); absent means checked at the counter.
	Materials map[Material]MaterialState `json:"materials,omitempty"`
	// MaterialNotes is why each deficient material was found so (staff's
	// review, printed on the one-time notice); only deficient materials
	// have one.
	MaterialNotes map[Material]string `json:"material_notes,omitempty"`
}

// ErrInvalid wraps every validation failure of an application.
var ErrInvalid = errors.New("invalid application")

// FieldError names the field that failed validation.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// ParseApplicant decodes and validates an application, rejecting unknown
// fields and trailing data.
func ParseApplicant(data []byte) (*Applicant, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var a Applicant
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalid)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

const maxText = 200

// Validate checks the application's fields for shape and consistency and
// returns the first problem.
func (a *Applicant) Validate() error {
	if ps := a.Problems(); len(ps) > 0 {
		return ps[0]
	}
	return nil
}

// Problems checks the whole application and returns every field's
// problem, in the order of the form (a form shows them all at once); a
// field has at most one.
func (a *Applicant) Problems() []*FieldError {
	var ps []*FieldError
	seen := map[string]bool{}
	add := func(err error) {
		var fe *FieldError
		if errors.As(err, &fe) && !seen[fe.Field] {
			seen[fe.Field] = true
			ps = append(ps, fe)
		}
	}
	if !a.Type.Valid() {
		add(fieldErr("type", "must be first, second or rebirth"))
	}
	for _, p := range []struct {
		field string
		p     Person
	}{{"male", a.Male}, {"female", a.Female}} {
		add(validName(p.field+".name", p.p.Name))
		if err := ValidateIDNumber(p.p.IDNumber); err != nil {
			add(fieldErr(p.field+".id_number", "%v", err))
		}
		for _, f := range []struct{ name, v string }{{"hukou", p.p.Hukou}, {"residence", p.p.Residence}} {
			if strings.TrimSpace(f.v) == "" || utf8.RuneCountInString(f.v) > maxText {
				add(fieldErr(p.field+"."+f.name, "required, at most %d characters", maxText))
			}
			add(CheckLine(p.field+"."+f.name, f.v))
		}
	}
	if a.Male.IDNumber == a.Female.IDNumber {
		add(fieldErr("female.id_number", "must differ from the male spouse's"))
	}
	if a.Marriage == nil && a.StatusCert == nil {
		add(fieldErr("marriage", "a marriage certificate or a status certificate (Art. 5) is required"))
	}
	if a.Marriage != nil {
		if _, err := time.Parse("2006-01-02", a.Marriage.Date); err != nil {
			add(fieldErr("marriage.date", "must be YYYY-MM-DD"))
		}
		if strings.TrimSpace(a.Marriage.CertNumber) == "" || len(a.Marriage.CertNumber) > 64 {
			add(fieldErr("marriage.cert_number", "required, at most 64 characters"))
		}
		add(CheckLine("marriage.cert_number", a.Marriage.CertNumber))
	}
	if a.StatusCert != nil {
		if strings.TrimSpace(a.StatusCert.Number) == "" || len(a.StatusCert.Number) > 64 {
			add(fieldErr("status_cert.number", "required when a status certificate is given, at most 64 characters"))
		}
		add(CheckLine("status_cert.number", a.StatusCert.Number))
		if utf8.RuneCountInString(a.StatusCert.Issuer) > maxText {
			add(fieldErr("status_cert.issuer", "at most %d characters", maxText))
		}
		add(CheckLine("status_cert.issuer", a.StatusCert.Issuer))
	}
	if a.Type == Rebirth && a.StatusCert == nil {
		add(fieldErr("status_cert", "a re-birth card needs a status certificate (Art. 6)"))
	}
	if a.ChildOrder < 1 || a.ChildOrder > 9 {
		add(fieldErr("child_order", "must be between 1 and 9"))
	}
	if len(a.Children) > 8 {
		add(fieldErr("children", "at most 8"))
	}
	for i, c := range a.Children {
		add(validName(fmt.Sprintf("children[%d].name", i), c.Name))
		if c.Sex != "男" && c.Sex != "女" {
			add(fieldErr(fmt.Sprintf("children[%d].sex", i), "must be 男 or 女"))
		}
		if _, err := time.Parse("2006-01-02", c.BirthDate); err != nil {
			add(fieldErr(fmt.Sprintf("children[%d].birth_date", i), "must be YYYY-MM-DD"))
		}
	}
	if a.Retroactive && strings.TrimSpace(a.BirthCertNumber) == "" {
		add(fieldErr("birth_cert_number", "a retroactive card needs the child's birth medical certificate number (Art. 4)"))
	}
	if len(a.BirthCertNumber) > 64 {
		add(fieldErr("birth_cert_number", "at most 64 characters"))
	}
	add(CheckLine("birth_cert_number", a.BirthCertNumber))
	switch a.Channel {
	case ChannelSelf, ChannelStaff:
	case ChannelProxy:
		if a.Proxy == nil {
			add(fieldErr("proxy", "a proxy application names the proxy (Art. 7b)"))
			break
		}
		add(validName("proxy.name", a.Proxy.Name))
		if err := ValidateIDNumber(a.Proxy.IDNumber); err != nil {
			add(fieldErr("proxy.id_number", "%v", err))
		}
		if strings.TrimSpace(a.Proxy.Relationship) == "" || utf8.RuneCountInString(a.Proxy.Relationship) > 30 {
			add(fieldErr("proxy.relationship", "required, at most 30 characters"))
		}
		add(CheckLine("proxy.relationship", a.Proxy.Relationship))
	default:
		add(fieldErr("channel", "must be self, proxy or staff"))
	}
	add(a.checkMaterials())
	if a.ReissueOf != "" && (len(a.ReissueOf) != 16 || strings.Trim(a.ReissueOf, "0123456789") != "") {
		add(fieldErr("reissue_of", "must be a 16-digit card number"))
	}
	if len(a.Village) != 12 || strings.Trim(a.Village, "0123456789") != "" || strings.HasSuffix(a.Village, "000") {
		add(fieldErr("village", "must be a 12-digit village division code"))
	}
	return ps
}

func validName(field, s string) error {
	n := utf8.RuneCountInString(s)
	if strings.TrimSpace(s) == "" || n > 30 {
		return fieldErr(field, "required, at most 30 characters")
	}
	return CheckLine(field, s)
}

// ValidateIDNumber checks an 18-character resident ID number (GB 11643)
// including its check digit.
func ValidateIDNumber(id string) error {
	if len(id) != 18 {
		return errors.New("must be an 18-character resident ID number")
	}
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return errors.New("the first 17 characters must be digits")
		}
		sum += int(c-'0') * weights[i]
	}
	check := "10X98765432"[sum%11]
	if id[17] != check {
		return errors.New("check digit does not match")
	}
	return nil
}

// CheckLine is CheckText for a field of one line (a name, an address, a
// certificate number): a line break is refused too.
func CheckLine(field, s string) error {
	if strings.ContainsRune(s, '\n') {
		return fieldErr(field, "contains a line break")
	}
	return CheckText(field, s)
}

// CheckText refuses free text that would corrupt a document or a log: a
// control character (other than a line break, which multi-line fields
// such as reasons keep as separate lines) or invalid UTF-8. Every
// free-text field of every entry point goes through it.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		return fieldErr(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if (r < 0x20 && r != '\n') || (r >= 0x7f && r < 0xa0) || r == 0x2028 || r == 0x2029 || bidiControl(r) {
			return fieldErr(field, "contains a control character")
		}
	}
	return nil
}

// bidiControl reports the marks, embeddings, overrides and isolates of
// the Unicode bidirectional algorithm: invisible, they reorder how the
// text around them is shown (a name printed backwards on a card).
func bidiControl(r rune) bool {
	return r == 0x200e || r == 0x200f || r == 0x061c || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
