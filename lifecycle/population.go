package lifecycle

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// The population register (全员人口数据库, Art. 9, 23). A county imports
// its extract (docs/population-extract.md); each resident is stored
// encrypted under the data key and found by a keyed SM3 digest of the ID
// number, so the database holds no ID number in clear and a dump cannot
// be searched by guessing numbers. An application whose facts the
// register proves needs no paper for them (Art. 9): Apply marks those
// materials population_db. The comparison report lists where the cards
// and the register disagree, for staff to correct (补充完善全员人口数据).
//
// A data-key rotation re-encrypts the extract and derives its keys again
// (RotateDataKey); a record no key of the ring reads is simply not found.

// residentKey is the keyed digest an ID number is found by in a county's
// extract.
func (p *privacy) residentKey(county, idNumber string) string {
	m := hmac.New(sm3.New, p.cur.mac)
	m.Write([]byte("population|" + county + "|" + strings.ToUpper(idNumber)))
	return hex.EncodeToString(m.Sum(nil))
}

func residentSlot(county, key string) slot {
	return slot{ad: "cardseal/population/" + county + "/" + key}
}

// ImportPopulation replaces the county's extract by residents; county
// staff of that county (Allowed, ManagePopulation). The import is one
// audit event.
func (s *Service) ImportPopulation(ctx context.Context, a Actor, county string, residents []card.Resident) (int, error) {
	if err := Allowed(a, &card.Card{CountyCode: county}, ManagePopulation); err != nil {
		return 0, err
	}
	p, err := s.privacy()
	if err != nil {
		return 0, err
	}
	recs := make([]card.PopulationRecord, len(residents))
	for i := range residents {
		b, err := json.Marshal(&residents[i])
		if err != nil {
			return 0, err
		}
		k := p.residentKey(county, residents[i].IDNumber)
		recs[i] = card.PopulationRecord{Key: k, Data: p.seal(residentSlot(county, k), b)}
	}
	ev := s.event(a, audit.PopulationImport, "", "", map[string]any{"county": county, "residents": len(recs)})
	if err := s.reg.ReplacePopulation(ctx, county, recs, ev); err != nil {
		return 0, err
	}
	return len(recs), nil
}

// resident looks an ID number up in the county's extract; nil if absent.
func (s *Service) resident(ctx context.Context, county, idNumber string) (*card.Resident, error) {
	p, err := s.privacy()
	if err != nil {
		return nil, err
	}
	k := p.residentKey(county, idNumber)
	b, err := s.reg.PopulationRecord(ctx, county, k)
	if errors.Is(err, card.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	plain, err := p.open(residentSlot(county, k), b)
	if errors.Is(err, ErrCorrupt) {
		return nil, nil // under a key the ring lacks: import again
	} else if err != nil {
		return nil, err
	}
	var r card.Resident
	if err := json.Unmarshal(plain, &r); err != nil {
		return nil, fmt.Errorf("population record: %w", err)
	}
	return &r, nil
}

// proven are the materials the register proves of an application: the
// household register when both spouses are residents, the marriage
// certificate when the register has them married to each other on the
// application's date.
func proven(app *card.Applicant, m, f *card.Resident) []card.Material {
	if m == nil || f == nil {
		return nil
	}
	out := []card.Material{card.MatHukou}
	if app.Marriage != nil && married(m, f) && m.MarriageDate == app.Marriage.Date {
		out = append(out, card.MatMarriage)
	}
	return out
}

func married(m, f *card.Resident) bool {
	return m.MaritalStatus == "married" && f.MaritalStatus == "married" &&
		m.SpouseIDNumber == f.IDNumber && f.SpouseIDNumber == m.IDNumber && m.MarriageDate == f.MarriageDate
}

// fromPopulation marks population_db the required materials of app that
// the register of its county proves and that are missing or unstated
// (Art. 9).
func (s *Service) fromPopulation(ctx context.Context, app *card.Applicant) error {
	county := org.CountyCode(app.Village)
	m, err := s.resident(ctx, county, app.Male.IDNumber)
	if err != nil {
		return err
	}
	f, err := s.resident(ctx, county, app.Female.IDNumber)
	if err != nil {
		return err
	}
	proved := proven(app, m, f)
	if len(proved) == 0 {
		return nil
	}
	if app.Materials == nil {
		// No record: the counter checked every required material
		// (card.Applicant.MissingMaterials). Writing the register's
		// proof into a new record must not make the others missing:
		// they are provided, the register's are proved by it.
		app.Materials = map[card.Material]card.MaterialState{}
		for _, mat := range card.RequiredMaterials(card.CaseOf(app)) {
			app.Materials[mat] = card.Provided
		}
		for _, mat := range proved {
			if card.Requires(app, mat) {
				app.Materials[mat] = card.PopulationDB
			}
		}
		return nil
	}
	for _, mat := range proved {
		// Only what is still missing: never over a material provided,
		// sent online or under review.
		if st, ok := app.Materials[mat]; !card.Requires(app, mat) || (ok && st != card.Missing) {
			continue
		}
		app.Materials[mat] = card.PopulationDB
	}
	return nil
}

// Mismatch is one disagreement between a card and the register.
type Mismatch struct {
	Card     card.Card
	Role     string // male | female | couple
	Field    string // not_found | name | hukou | marital_status | spouse | marriage_date | marriage_cert_number
	OnCard   string
	Register string
}

// ComparePopulation compares the county's cards (under review and
// issued, ended ones too) with its extract, card by card; county staff of
// that county. The report is an audit event.
func (s *Service) ComparePopulation(ctx context.Context, a Actor, county string) ([]Mismatch, error) {
	if err := Allowed(a, &card.Card{CountyCode: county}, ManagePopulation); err != nil {
		return nil, err
	}
	var out []Mismatch
	statuses := append([]card.Status{card.StatusDraft}, Exported...)
	err := s.pages(ctx, card.Filter{Statuses: statuses, CountyCode: county}, func(c *card.Card) error {
		app, err := s.Applicant(c)
		if err != nil {
			return err
		}
		var rs [2]*card.Resident
		for i, p := range []card.Person{app.Male, app.Female} {
			role := []string{"male", "female"}[i]
			r, err := s.resident(ctx, county, p.IDNumber)
			if err != nil {
				return err
			}
			if r == nil {
				out = append(out, Mismatch{Card: *c, Role: role, Field: "not_found", OnCard: p.IDNumber})
				continue
			}
			rs[i] = r
			if r.Name != p.Name {
				out = append(out, Mismatch{Card: *c, Role: role, Field: "name", OnCard: p.Name, Register: r.Name})
			}
			if r.Hukou != "" && r.Hukou != p.Hukou {
				out = append(out, Mismatch{Card: *c, Role: role, Field: "hukou", OnCard: p.Hukou, Register: r.Hukou})
			}
		}
		if rs[0] == nil || rs[1] == nil || app.Marriage == nil {
			return nil
		}
		switch {
		case !married(rs[0], rs[1]):
			out = append(out, Mismatch{Card: *c, Role: "couple", Field: "spouse", OnCard: "married",
				Register: rs[0].MaritalStatus + "/" + rs[1].MaritalStatus})
		case rs[0].MarriageDate != app.Marriage.Date:
			out = append(out, Mismatch{Card: *c, Role: "couple", Field: "marriage_date", OnCard: app.Marriage.Date, Register: rs[0].MarriageDate})
		case rs[0].MarriageCertNumber != "" && rs[0].MarriageCertNumber != app.Marriage.CertNumber:
			out = append(out, Mismatch{Card: *c, Role: "couple", Field: "marriage_cert_number", OnCard: app.Marriage.CertNumber, Register: rs[0].MarriageCertNumber})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ev := s.event(a, audit.PopulationReport, "", "", map[string]any{"county": county, "mismatches": len(out)})
	if _, err := s.reg.AppendAudit(ctx, ev); err != nil {
		return nil, err
	}
	return out, nil
}
