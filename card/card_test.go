package card

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func example(t *testing.T) *Applicant {
	t.Helper()
	b, err := os.ReadFile("../examples/applicant.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseApplicant(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestExampleAndValidation(t *testing.T) {
	a := example(t)
	if a.Male.Name != "李四" || a.Female.Name != "王喆堃" || a.Type != First {
		t.Fatalf("%+v", a)
	}
	tests := []struct {
		name  string
		edit  func(*Applicant)
		field string
	}{
		{"bad check digit", func(a *Applicant) { a.Male.IDNumber = "220102199003071234" }, "male.id_number"},
		{"same person twice", func(a *Applicant) { a.Female.IDNumber = a.Male.IDNumber }, "female.id_number"},
		{"no marriage and no status certificate", func(a *Applicant) { a.Marriage = nil }, "marriage"},
		{"retroactive without birth certificate (Art. 4)", func(a *Applicant) { a.Retroactive = true }, "birth_cert_number"},
		{"rebirth without status certificate (Art. 6)", func(a *Applicant) { a.Type = Rebirth }, "status_cert"},
		{"proxy without proxy (Art. 7b)", func(a *Applicant) { a.Channel = ChannelProxy }, "proxy"},
		{"township code as village", func(a *Applicant) { a.Village = "220102001000" }, "village"},
		{"unknown type", func(a *Applicant) { a.Type = "third" }, "type"},
		{"control character in name", func(a *Applicant) { a.Male.Name = "李\x00四" }, "male.name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := example(t)
			tc.edit(a)
			err := a.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want field %s", err, tc.field)
			}
		})
	}
	if _, err := ParseApplicant([]byte(`{"type":"first","fee":100}`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown field (Art. 12: no fee fields) accepted: %v", err)
	}
}

func TestMasking(t *testing.T) {
	for in, want := range map[string]string{"李四": "李*", "王喆堃": "王*堃", "欧阳娜娜": "欧**娜", "张": "*"} {
		if got := MaskName(in); got != want {
			t.Errorf("MaskName(%s) = %s, want %s", in, got, want)
		}
	}
	if got := MaskID("220102199003071235"); got != "2201**********1235" {
		t.Errorf("MaskID = %s", got)
	}
}

// TestArt8MaterialsChecklist: the required materials per case come from
// one list, and nothing beyond it may be demanded.
func TestArt8MaterialsChecklist(t *testing.T) {
	a := example(t)
	if CaseOf(a) != CaseMarried {
		t.Fatal(CaseOf(a))
	}
	want := []Material{MatIDCards, MatHukou, MatMarriage}
	if got := RequiredMaterials(CaseMarried); len(got) != 3 || got[0] != want[0] || got[2] != want[2] {
		t.Fatalf("married: %v", got)
	}
	a.Materials = map[Material]MaterialState{MatIDCards: Provided, MatHukou: PopulationDB, MatMarriage: Missing}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if m := a.MissingMaterials(); len(m) != 1 || m[0] != MatMarriage {
		t.Fatalf("missing: %v", m)
	}
	a.Materials[MatBirthCert] = Provided // not required for this case
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "Art. 8") {
		t.Fatalf("extra material accepted: %v", err)
	}
	delete(a.Materials, MatBirthCert)
	a.Materials[MatMarriage] = Committed // Art. 10 needs the commitment
	if err := a.Validate(); err == nil {
		t.Fatal("commitment state without commitment accepted")
	}
	a.Commitment = true
	if err := a.Validate(); err != nil || len(a.MissingMaterials()) != 0 {
		t.Fatalf("Art. 10 commitment: %v %v", err, a.MissingMaterials())
	}
	// Art. 4 retroactive adds the birth certificate; Art. 5 unmarried
	// needs only the applicant's ID and the status certificate.
	r := example(t)
	r.Retroactive, r.BirthCertNumber = true, "Q220100001"
	if got := RequiredMaterials(CaseOf(r)); got[len(got)-1] != MatBirthCert {
		t.Fatalf("retroactive: %v", got)
	}
	u := example(t)
	u.Marriage, u.StatusCert = nil, &StatusCert{Number: "ZM-1", Issuer: "永安社区居民委员会"}
	if got := RequiredMaterials(CaseOf(u)); len(got) != 2 || got[1] != MatStatusCert {
		t.Fatalf("unmarried: %v", got)
	}
}

func TestArt18GuidesFromTheChecklist(t *testing.T) {
	gs := Guides()
	if len(gs) != 3 {
		t.Fatal(len(gs))
	}
	for _, g := range gs {
		if g.Title == "" || len(g.Conditions) == 0 || len(g.Procedure) == 0 || g.TimeLimit == "" || len(g.Cases) == 0 {
			t.Fatalf("incomplete guide %+v", g)
		}
		for _, c := range g.Cases {
			if len(c.Materials) != len(RequiredMaterials(c.Case)) {
				t.Fatalf("%s: guide lists %v", c.Case, c.Materials)
			}
		}
	}
}

// TestMaterialReviewStates: a material sent online (submitted) or found
// deficient is not satisfied; a deficient material carries its reason,
// and only a deficient one does.
func TestMaterialReviewStates(t *testing.T) {
	a := example(t)
	a.Materials = map[Material]MaterialState{MatIDCards: Submitted, MatHukou: Provided, MatMarriage: Provided}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if m := a.MissingMaterials(); len(m) != 1 || m[0] != MatIDCards {
		t.Fatalf("submitted counts as satisfied: missing %v", m)
	}
	a.Materials[MatHukou] = Deficient
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "material_notes.household_register") {
		t.Fatalf("deficient without a reason: %v", err)
	}
	a.MaterialNotes = map[Material]string{MatHukou: "照片模糊"}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if m := a.MissingMaterials(); len(m) != 2 || m[1] != MatHukou {
		t.Fatalf("deficient counts as satisfied: missing %v", m)
	}
	if s := a.MaterialsIn(Deficient); len(s) != 1 || s[0] != MatHukou {
		t.Fatalf("MaterialsIn(Deficient) = %v", s)
	}
	for _, bad := range []map[Material]string{
		{MatHukou: "照片模糊", MatIDCards: "多余"}, // a note on a material that is not deficient
		{MatHukou: " "},
		{MatHukou: strings.Repeat("糊", MaxMaterialNote+1)},
		{MatHukou: "一\n二"},
	} {
		a.MaterialNotes = bad
		if err := a.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("notes %q accepted: %v", bad, err)
		}
	}
	if Submitted.Satisfied() || Deficient.Satisfied() || Missing.Satisfied() || !Provided.Satisfied() {
		t.Fatal("Satisfied")
	}
}

// TestNormalizeNumber: a card number typed with the usual slips reads as
// the printed number; anything else is left as typed.
func TestNormalizeNumber(t *testing.T) {
	for in, want := range map[string]string{
		"2201022026000001":   "2201022026000001",
		"220102 2026 000001": "2201022026000001",
		"220102-2026-000001": "2201022026000001",
		"２２０１０２２０２６０００００１": "2201022026000001",
		"22010220260000O1":    "2201022026000001",
		"220102202600000l":    "2201022026000001",
		" 2201022026000001\t": "2201022026000001",
		"220102202600001":     "220102202600001", // 15 digits: as typed
		"2201022026000001-N1": "2201022026000001-N1",
		"22010220260000X1":    "22010220260000X1",
	} {
		if got := NormalizeNumber(in); got != want {
			t.Errorf("NormalizeNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestProblemsAll: the whole application is checked at once, one problem
// per field, in the form's order; Validate returns the first of them.
func TestProblemsAll(t *testing.T) {
	a := &Applicant{Type: First, ChildOrder: 0, Channel: ChannelSelf, Village: "220102001001",
		Male:   Person{Name: "李四", IDNumber: "220102199003071230", Hukou: "长春", Residence: "长春"},
		Female: Person{Name: "", IDNumber: "220102199208152346", Hukou: "长春", Residence: ""},
	}
	var got []string
	for _, p := range a.Problems() {
		got = append(got, p.Field)
	}
	want := []string{"male.id_number", "female.name", "female.residence", "marriage", "child_order"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("problems %v, want %v", got, want)
	}
	var fe *FieldError
	if err := a.Validate(); !errors.As(err, &fe) || fe.Field != "male.id_number" {
		t.Fatalf("Validate: %v", err)
	}
	a.Channel = ChannelProxy // no proxy named: a problem, not a panic
	if ps := a.Problems(); ps[len(ps)-1].Field != "proxy" {
		t.Fatalf("proxy problems %v", ps)
	}
}
