package lifecycle

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/verifier"
)

const (
	demoCounty    = "220102"
	demoTownship  = "220102001"
	demoVillage   = "220102001001"
	otherTownship = "220102002"
	otherVillage  = "220102002001"
)

// renderNotice draws a notice of the given kind from the organisation
// with the code, through MissingNotice / RefusalNotice.
func renderNotice(t *testing.T, ks keys.Store, kind templates.NoticeKind, code, number string) []byte {
	t.Helper()
	a := example(t)
	var d *templates.NoticeData
	var err error
	switch kind {
	case templates.NoticeMissing:
		a.Materials = map[card.Material]card.MaterialState{card.MatIDCards: card.Provided, card.MatHukou: card.PopulationDB}
		d, err = MissingNotice(a, demoOrg(t, code), number, time.Now(), Deadline{})
	case templates.NoticeRefusal:
		d, err = RefusalNotice(a, demoOrg(t, code), number, []string{"不符合再生育条件（第六条）。"}, time.Now())
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := templates.RenderNotice(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestArt19MissingNoticeData: the one-time notice lists every material
// still missing and only those (Art. 8, 9, 10), with the time limit of
// the case; a complete application gets none; the receiving organisation
// must hold the village.
func TestArt19MissingNoticeData(t *testing.T) {
	demoKeys(t)
	a := example(t)
	a.Type, a.StatusCert, a.ChildOrder = card.Rebirth, &card.StatusCert{Number: "YJ-1"}, 3
	a.Commitment = true
	a.Materials = map[card.Material]card.MaterialState{
		card.MatIDCards:    card.Provided,
		card.MatHukou:      card.Missing,
		card.MatMarriage:   card.PopulationDB, // Art. 9: not asked again
		card.MatStatusCert: card.Committed,    // Art. 10
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	due := time.Date(2026, 12, 28, 0, 0, 0, 0, China)
	d, err := MissingNotice(a, demoOrg(t, demoTownship), NoticeNumber("2201022026000130", 1), time.Now(), Deadline{Limit: 20, Started: due.AddDate(0, 0, -28), Due: due})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Items, "|") != "户口簿" || !d.CrossProvince || d.DueDate != due || d.Number != "2201022026000130-N1" ||
		d.Org.Code != demoTownship || d.Male != "李四" || d.Female != "王喆堃" || d.CardType != card.Rebirth {
		t.Fatalf("notice data %+v", d)
	}
	delete(a.Materials, card.MatIDCards) // absent from the record: missing too
	if d, err = MissingNotice(a, demoOrg(t, demoVillage), "N", time.Now(), Deadline{}); err != nil || strings.Join(d.Items, "|") != "夫妻双方身份证|户口簿" {
		t.Fatalf("items %q, %v", d.Items, err)
	}
	a.Materials[card.MatIDCards], a.Materials[card.MatHukou] = card.Provided, card.Provided
	if _, err := MissingNotice(a, demoOrg(t, demoVillage), "N", time.Now(), Deadline{}); !errors.Is(err, ErrNothingMissing) {
		t.Errorf("complete application: err = %v, want ErrNothingMissing", err)
	}
	a.Materials[card.MatHukou] = card.Missing
	if _, err := MissingNotice(a, demoOrg(t, otherTownship), "N", time.Now(), Deadline{}); !errors.Is(err, ErrForbidden) {
		t.Errorf("other township: err = %v, want ErrForbidden", err)
	}
	if _, err := RefusalNotice(a, demoOrg(t, demoCounty), "N", nil, time.Now()); !errors.Is(err, ErrReason) {
		t.Errorf("refusal without reasons: err = %v, want ErrReason", err)
	}
	if _, err := RefusalNotice(a, demoOrg(t, demoCounty), "N", []string{" "}, time.Now()); !errors.Is(err, ErrReason) {
		t.Errorf("refusal with an empty reason: err = %v, want ErrReason", err)
	}
	if _, err := RefusalNotice(a, demoOrg(t, otherVillage), "N", []string{"不符合条件"}, time.Now()); !errors.Is(err, ErrForbidden) {
		t.Errorf("refusal by another village: err = %v, want ErrForbidden", err)
	}
}

// TestApplicationDigest: the same application gives the same digest; a
// changed material state gives another (Art. 19: a second notice only
// after the application changed).
func TestApplicationDigest(t *testing.T) {
	a, b := example(t), example(t)
	a.Materials = map[card.Material]card.MaterialState{card.MatHukou: card.Missing, card.MatIDCards: card.Provided, card.MatMarriage: card.Provided}
	b.Materials = map[card.Material]card.MaterialState{card.MatMarriage: card.Provided, card.MatIDCards: card.Provided, card.MatHukou: card.Missing}
	da, err := ApplicationDigest(a)
	if err != nil {
		t.Fatal(err)
	}
	db, _ := ApplicationDigest(b)
	if da != db || len(da) != 64 {
		t.Fatalf("digests %s, %s", da, db)
	}
	b.Materials[card.MatHukou] = card.Provided
	if db, _ = ApplicationDigest(b); db == da {
		t.Fatal("a changed material state keeps the digest")
	}
}

func verify(t *testing.T, ks keys.Store, pdf []byte, p chain.Policy, boxes map[org.Level][4]float64, docID string) *verifier.Report {
	t.Helper()
	rep, err := verifier.Verify(pdf, verifier.Options{Trust: ks.TrustList(), Policy: p, SealBoxes: boxes, DocID: docID})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// failedChecks lists the names of the checks that failed.
func failedChecks(rep *verifier.Report) []string {
	var out []string
	for _, s := range rep.Seals {
		for _, c := range s.Checks {
			if !c.OK {
				out = append(out, c.Name)
			}
		}
	}
	return out
}

// TestArt19NoticeSealedByReceivingOrg: a one-time notice (and a refusal
// notice, Art. 11) sealed by the receiving organisation — any level —
// verifies under the notice policy with the notice's box; a second seal
// is refused.
func TestArt19NoticeSealedByReceivingOrg(t *testing.T) {
	ks := demoKeys(t)
	s := NewSealer(ks)
	for _, tc := range []struct {
		name string
		kind templates.NoticeKind
		code string
	}{
		{"missing/township", templates.NoticeMissing, demoTownship},
		{"missing/village", templates.NoticeMissing, demoVillage},
		{"refusal/county", templates.NoticeRefusal, demoCounty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			number := "2201022026000123-N1"
			doc := renderNotice(t, ks, tc.kind, tc.code, number)
			at := time.Now().Add(-time.Minute)
			sealed, err := s.SealNotice(doc, demoOrg(t, tc.code), number, at)
			if err != nil {
				t.Fatal(err)
			}
			rep := verify(t, ks, sealed, chain.Notice, NoticeSealBoxes(), number)
			if rep.Verdict != verifier.Valid {
				t.Fatalf("verdict %s: %v", rep.Verdict, rep.Reasons())
			}
			if len(rep.Seals) != 1 || rep.Seals[0].DivisionCode != tc.code || rep.Seals[0].Reason != NoticeReason || rep.DocID != number {
				t.Fatalf("seal %+v, doc %q", rep.Seals, rep.DocID)
			}
			if n, err := CardNumber(sealed); err != nil || n != number {
				t.Errorf("CardNumber = %q, %v", n, err)
			}
			checkWithTools(t, sealed, 1)
			// The same file read under the card policy is no card.
			if rep := verify(t, ks, sealed, chain.Card, nil, ""); rep.Verdict == verifier.Valid {
				t.Error("a sealed notice verifies as a complete card")
			}
			// A notice takes one seal: neither another level nor the
			// same organisation again.
			for _, code := range []string{demoCounty, demoVillage, tc.code} {
				if _, err := s.SealNotice(sealed, demoOrg(t, code), number, at.Add(time.Second)); !errors.Is(err, chain.ErrComplete) {
					t.Errorf("second seal by %s: err = %v, want chain.ErrComplete", code, err)
				}
			}
		})
	}
}

// TestNoticeSealBoxChecked: the notice's seal lies in the notice's box,
// which the verifier enforces: read with the card's boxes, it is outside.
func TestNoticeSealBoxChecked(t *testing.T) {
	ks := demoKeys(t)
	number := "2201022026000124-N1"
	sealed, err := NewSealer(ks).SealNotice(renderNotice(t, ks, templates.NoticeMissing, demoTownship, number), demoOrg(t, demoTownship), number, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rep := verify(t, ks, sealed, chain.Notice, CardSealBoxes(), number)
	if rep.Verdict != verifier.Invalid || !slices.Contains(failedChecks(rep), verifier.CheckAppearance) {
		t.Fatalf("verdict %s, failures %v; want invalid by %s", rep.Verdict, rep.Reasons(), verifier.CheckAppearance)
	}
	if rep := verify(t, ks, sealed, chain.Notice, NoticeSealBoxes(), "2201022026000999-N1"); rep.Verdict != verifier.Invalid {
		t.Fatalf("a notice verifies as another document: %s", rep.Verdict)
	}
}

func renderForm(t *testing.T, ks keys.Store, number string) []byte {
	t.Helper()
	a := example(t)
	a.Type = card.Rebirth
	a.ChildOrder = 3
	a.StatusCert = &card.StatusCert{Number: "YJ-2026-0042", Issuer: "永安社区居民委员会"}
	a.Children = []card.Child{{Name: "李翀", Sex: "男", BirthDate: "2021-03-04"}, {Name: "李玥", Sex: "女", BirthDate: "2023-08-14"}}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := NewRebirthForm(context.Background(), demoOrgs, a, number, "次子经市级医疗机构鉴定为非遗传性残疾。", "", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if d.Village.Code != demoVillage || d.Township.Code != demoTownship || d.County.Code != demoCounty {
		t.Fatalf("form organisations %+v %+v %+v", d.Village, d.Township, d.County)
	}
	b, err := templates.RenderRebirthForm(d)
	if err != nil {
		t.Fatal(err)
	}
	a.Type = card.First
	if _, err := NewRebirthForm(context.Background(), demoOrgs, a, number, "理由", "", nil, time.Now()); !errors.Is(err, templates.ErrNoticeData) {
		t.Errorf("form for a first-child application: err = %v", err)
	}
	return b
}

// TestArt17RebirthFormCountyFirst: the county seals the re-birth approval
// form first from the pre-reviewed list; the village and the township
// add their seals afterwards (补盖). The form verifies under its own
// policy and not under the card's, whose sealing still refuses the
// county first.
func TestArt17RebirthFormCountyFirst(t *testing.T) {
	ks := demoKeys(t)
	s := NewSealer(ks)
	number := "2201022026000125-F"
	doc := renderForm(t, ks, number)
	at := time.Now().Add(-time.Minute)
	for i, code := range []string{demoCounty, demoVillage, demoTownship} {
		var err error
		if doc, err = s.SealRebirthForm(doc, demoOrg(t, code), number, at.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("seal %d by %s: %v", i+1, code, err)
		}
		want := verifier.Incomplete
		if i == 2 {
			want = verifier.Valid
		}
		if rep := verify(t, ks, doc, chain.RebirthForm, RebirthFormSealBoxes(), number); rep.Verdict != want {
			t.Fatalf("after seal %d: verdict %s, want %s: %v", i+1, rep.Verdict, want, rep.Reasons())
		}
	}
	rep := verify(t, ks, doc, chain.RebirthForm, RebirthFormSealBoxes(), number)
	var levels []string
	for _, s := range rep.Seals {
		levels = append(levels, s.Level)
	}
	if strings.Join(levels, ",") != "county,village,township" {
		t.Errorf("seal order %v", levels)
	}
	if n, err := CardNumber(doc); err != nil || n != number {
		t.Errorf("CardNumber = %q, %v", n, err)
	}
	checkWithTools(t, doc, 3)

	// The same file under the card policy (with the form's boxes, so only
	// the chain can fail): invalid, by the chain policy.
	rep = verify(t, ks, doc, chain.Card, RebirthFormSealBoxes(), number)
	if rep.Verdict != verifier.Invalid || !slices.Contains(failedChecks(rep), verifier.CheckChain) {
		t.Fatalf("under the card policy: verdict %s, failures %v; want invalid by %s", rep.Verdict, rep.Reasons(), verifier.CheckChain)
	}
	for _, c := range failedChecks(rep) {
		if c != verifier.CheckChain {
			t.Errorf("unexpected failure %s: %v", c, rep.Reasons())
		}
	}
	// With the card's boxes the form's seals are out of place.
	if rep := verify(t, ks, doc, chain.RebirthForm, CardSealBoxes(), number); rep.Verdict != verifier.Invalid {
		t.Errorf("form seals pass the card's boxes: %s", rep.Verdict)
	}
	// Complete: no fourth seal.
	if _, err := s.SealRebirthForm(doc, demoOrg(t, demoCounty), number, time.Now()); !errors.Is(err, chain.ErrComplete) {
		t.Errorf("fourth seal: err = %v, want chain.ErrComplete", err)
	}
}

// TestRebirthFormRefusals: each level once, one jurisdiction.
func TestRebirthFormRefusals(t *testing.T) {
	ks := demoKeys(t)
	s := NewSealer(ks)
	number := "2201022026000126-F"
	at := time.Now().Add(-time.Minute)
	doc, err := s.SealRebirthForm(renderForm(t, ks, number), demoOrg(t, demoCounty), number, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SealRebirthForm(doc, demoOrg(t, demoCounty), number, at.Add(time.Second)); !errors.Is(err, chain.ErrRepeated) {
		t.Errorf("county twice: err = %v, want chain.ErrRepeated", err)
	}
	doc, err = s.SealRebirthForm(doc, demoOrg(t, demoTownship), number, at.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// The village of the other township: outside the township's
	// jurisdiction.
	if _, err := s.SealRebirthForm(doc, demoOrg(t, otherVillage), number, at.Add(2*time.Second)); !errors.Is(err, chain.ErrJurisdiction) {
		t.Errorf("other township's village: err = %v, want chain.ErrJurisdiction", err)
	}
	if _, err := s.SealRebirthForm(doc, demoOrg(t, otherTownship), number, at.Add(2*time.Second)); !errors.Is(err, chain.ErrRepeated) {
		t.Errorf("second township: err = %v, want chain.ErrRepeated", err)
	}
	if _, err := s.SealRebirthForm(doc, demoOrg(t, demoVillage), "2201022026000999-F", at.Add(2*time.Second)); err == nil {
		t.Error("a seal bound to another form number was applied")
	}
}

// TestCardPolicyRefusesCountyFirst: Art. 17's order is the form's only;
// a card still needs village → township → county at sealing time, also
// through the generalised SealDocument.
func TestCardPolicyRefusesCountyFirst(t *testing.T) {
	ks := demoKeys(t)
	s := NewSealer(ks)
	a := example(t)
	a.Type = card.Rebirth
	a.StatusCert = &card.StatusCert{Number: "YJ-2026-0042"}
	a.ChildOrder = 3
	number := "2201022026000127"
	r, err := Render(context.Background(), demoOrgs, &Draft{Number: number, Applicant: a, IssueDate: time.Now()}, "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SealCard(r.PDF, demoOrg(t, demoCounty), number, time.Now()); !errors.Is(err, chain.ErrOutOfOrder) {
		t.Errorf("SealCard county first: err = %v, want chain.ErrOutOfOrder", err)
	}
	if _, err := s.SealDocument(r.PDF, demoOrg(t, demoCounty), number, chain.Card, templates.SealBox(org.County), time.Now()); !errors.Is(err, chain.ErrOutOfOrder) {
		t.Errorf("SealDocument county first: err = %v, want chain.ErrOutOfOrder", err)
	}
	// SealDocument with the card's policy and box is SealCard.
	at := time.Now().Add(-time.Minute)
	doc := r.PDF
	for i, code := range []string{demoVillage, demoTownship, demoCounty} {
		l := []org.Level{org.Village, org.Township, org.County}[i]
		if doc, err = s.SealDocument(doc, demoOrg(t, code), number, chain.Card, templates.SealBox(l), at.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if rep := verify(t, ks, doc, chain.Card, SealBoxes(chain.Card), number); rep.Verdict != verifier.Valid {
		t.Fatalf("card sealed with SealDocument: %s: %v", rep.Verdict, rep.Reasons())
	}
}

func TestSealBoxesForPolicy(t *testing.T) {
	for _, tc := range []struct {
		p    chain.Policy
		want map[org.Level][4]float64
	}{
		{chain.Card, CardSealBoxes()},
		{chain.RebirthForm, RebirthFormSealBoxes()},
		{chain.Notice, NoticeSealBoxes()},
		{chain.Unchecked, nil},
	} {
		got := SealBoxes(tc.p)
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d boxes, want %d", tc.p.Name, len(got), len(tc.want))
		}
		for l, b := range tc.want {
			if got[l] != b || b == ([4]float64{}) {
				t.Errorf("%s %s: box %v, want %v", tc.p.Name, l, got[l], b)
			}
		}
	}
	n := NoticeSealBoxes()
	if n[org.Village] != templates.NoticeSealBox() || n[org.County] != templates.NoticeSealBox() {
		t.Error("a notice's one box is not offered to every level")
	}
}

// checkWithTools runs qpdf --check on a sealed document and counts its
// signatures with pdfsig: the revisions are well-formed PDF for other
// readers too.
func checkWithTools(t *testing.T, doc []byte, seals int) {
	t.Helper()
	qpdf := testtool.Require(t, "qpdf")
	pdfsig := testtool.Require(t, "pdfsig")
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(qpdf, "--check", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors found") || strings.Contains(string(out), "WARNING") {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
	out, _ = exec.Command(pdfsig, "-nocert", path).CombinedOutput()
	if n := strings.Count(string(out), "Signature #"); n != seals {
		t.Fatalf("pdfsig finds %d signatures, want %d:\n%s", n, seals, out)
	}
}
