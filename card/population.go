package card

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Resident is one person of a county's extract of the population
// register (全员人口数据库, Art. 9, 23), as docs/population-extract.md
// specifies its CSV.
type Resident struct {
	IDNumber           string `json:"id_number"`
	Name               string `json:"name"`
	Hukou              string `json:"hukou"`
	MaritalStatus      string `json:"marital_status"` // married | unmarried | divorced | widowed
	SpouseIDNumber     string `json:"spouse_id_number,omitempty"`
	MarriageDate       string `json:"marriage_date,omitempty"`
	MarriageCertNumber string `json:"marriage_cert_number,omitempty"`
	Children           int    `json:"children"`
}

// PopulationRecord is a Resident as the registry keeps it: found by a
// keyed digest of the ID number, the record encrypted (lifecycle).
type PopulationRecord struct {
	Key  string
	Data []byte
}

// ExtractHeader is the header line of a population-register extract.
var ExtractHeader = []string{"id_number", "name", "hukou", "marital_status", "spouse_id_number",
	"marriage_date", "marriage_cert_number", "children"}

// MaxExtractRows bounds one extract (a county has some hundred thousand
// residents of child-bearing age).
const MaxExtractRows = 1_000_000

// ErrExtract wraps every fault of an extract; the message names the line.
var ErrExtract = errors.New("malformed population-register extract")

var maritalStatuses = []string{"married", "unmarried", "divorced", "widowed"}

// ParseExtract reads an extract: UTF-8 CSV (a byte-order mark allowed),
// the header ExtractHeader, one resident per line, each ID number once.
func ParseExtract(r io.Reader) ([]Resident, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(ExtractHeader)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrExtract, err)
	}
	head[0] = strings.TrimPrefix(head[0], "\ufeff")
	if strings.Join(head, ",") != strings.Join(ExtractHeader, ",") {
		return nil, fmt.Errorf("%w: header must be %s", ErrExtract, strings.Join(ExtractHeader, ","))
	}
	var out []Resident
	seen := map[string]bool{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrExtract, line, err)
		}
		if len(out) == MaxExtractRows {
			return nil, fmt.Errorf("%w: more than %d residents", ErrExtract, MaxExtractRows)
		}
		res := Resident{IDNumber: strings.ToUpper(rec[0]), Name: rec[1], Hukou: rec[2], MaritalStatus: rec[3],
			SpouseIDNumber: strings.ToUpper(rec[4]), MarriageDate: rec[5], MarriageCertNumber: rec[6]}
		if err := res.validate(rec[7]); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrExtract, line, err)
		}
		if seen[res.IDNumber] {
			return nil, fmt.Errorf("%w: line %d: ID number listed twice", ErrExtract, line)
		}
		seen[res.IDNumber] = true
		out = append(out, res)
	}
	return out, nil
}

func (r *Resident) validate(children string) error {
	if err := ValidateIDNumber(r.IDNumber); err != nil {
		return fmt.Errorf("id_number: %v", err)
	}
	if err := validName("name", r.Name); err != nil {
		return err
	}
	if utf8.RuneCountInString(r.Hukou) > maxText {
		return fmt.Errorf("hukou: at most %d characters", maxText)
	}
	for _, f := range []struct{ name, v string }{{"hukou", r.Hukou}, {"marriage_cert_number", r.MarriageCertNumber}} {
		if err := CheckLine(f.name, f.v); err != nil {
			return err
		}
	}
	ok := false
	for _, s := range maritalStatuses {
		ok = ok || r.MaritalStatus == s
	}
	if !ok {
		return fmt.Errorf("marital_status: one of %v", maritalStatuses)
	}
	if r.MaritalStatus == "married" {
		if err := ValidateIDNumber(r.SpouseIDNumber); err != nil {
			return fmt.Errorf("spouse_id_number: %v", err)
		}
		if _, err := time.Parse("2006-01-02", r.MarriageDate); err != nil {
			return errors.New("marriage_date: YYYY-MM-DD")
		}
	} else if r.SpouseIDNumber != "" || r.MarriageDate != "" || r.MarriageCertNumber != "" {
		return errors.New("spouse_id_number, marriage_date, marriage_cert_number: only for the married")
	}
	if len(r.MarriageCertNumber) > 64 {
		return errors.New("marriage_cert_number: at most 64 characters")
	}
	n, err := strconv.Atoi(children)
	if err != nil || n < 0 || n > 20 {
		return errors.New("children: a number from 0 to 20")
	}
	r.Children = n
	return nil
}
