package lifecycle

import (
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/verifier"
)

// TestArt17DirectCardMustNameItsForm: a stored card whose county seal
// claims the direct policy holds only as a re-birth card that names its
// own approval form; the verifier's valid verdict alone is not enough.
func TestArt17DirectCardMustNameItsForm(t *testing.T) {
	issued := card.Card{ID: "00000000000000a1", Number: "2201022026000001", Type: card.Rebirth, Status: card.StatusIssued, Seq: 1}
	rep := func(form string) *verifier.Report {
		return &verifier.Report{Verdict: verifier.Valid, Policy: chain.RebirthDirect.Name, PreReview: "00000000000000b1", Form: form,
			Seals: []verifier.Seal{{Level: string(org.County)}}}
	}
	first := issued
	first.Type = card.First
	for name, tc := range map[string]struct {
		c    card.Card
		rep  *verifier.Report
		want bool
	}{
		"its own form":       {issued, rep("2201022026000001-F"), true},
		"another card's":     {issued, rep("2201022026000002-F"), false},
		"no form":            {issued, rep(""), false},
		"a first-child card": {first, rep("2201022026000001-F"), false},
		"the ordinary chain": {issued, &verifier.Report{Verdict: verifier.Valid, Policy: chain.Card.Name}, true},
	} {
		if got := storedHolds(&tc.c, tc.rep); got != tc.want {
			t.Errorf("%s: storedHolds = %t, want %t", name, got, tc.want)
		}
	}
}

// TestOnPreReviewList: the county issues directly only a card a village
// or township of its own jurisdiction reported, naming the township's
// report when both did.
func TestOnPreReviewList(t *testing.T) {
	c := &card.Card{ID: "00000000000000a1", Number: "2201022026000001", VillageCode: "220102001001"}
	vill := card.PreReview{ID: "00000000000000b1", CardID: c.ID, Level: org.Village, OrgCode: "220102001001"}
	town := card.PreReview{ID: "00000000000000b2", CardID: c.ID, Level: org.Township, OrgCode: "220102001"}
	other := card.PreReview{ID: "00000000000000b3", CardID: c.ID, Level: org.Township, OrgCode: "220102002"}
	elsewhere := card.PreReview{ID: "00000000000000b4", CardID: "00000000000000a2", Level: org.Village, OrgCode: "220102001001"}
	if _, err := OnPreReviewList(c, nil); err == nil {
		t.Fatal("a card nobody reported is on the list")
	}
	if _, err := OnPreReviewList(c, []card.PreReview{other, elsewhere}); err == nil {
		t.Fatal("reports of another township or another card count")
	}
	if p, err := OnPreReviewList(c, []card.PreReview{vill}); err != nil || p.ID != vill.ID {
		t.Fatalf("village report: %+v %v", p, err)
	}
	if p, err := OnPreReviewList(c, []card.PreReview{vill, town}); err != nil || p.ID != town.ID {
		t.Fatalf("both reports: %+v %v", p, err)
	}
}
