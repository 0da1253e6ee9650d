package lifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// TestApprovalOfRetiredOrganisationWaits: an approval takes effect only
// while the rules still let its organisation seal. The township approves,
// is then retired (merged); the village's seal does not set off the
// township's, the card waits for the township's level, and the county's
// approval waits behind it (Art. 15 with the retirement rule).
func TestApprovalOfRetiredOrganisationWaits(t *testing.T) {
	ctx := context.Background()
	reg := fakeRegistry(t)
	s := NewService(reg, demoKeys(t), "http://127.0.0.1:8080")
	village, town, county := actor(t, reg, "220102001001"), actor(t, reg, "220102001"), actor(t, reg, "220102")
	c, err := s.Apply(ctx, village, example(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Actor{town, county} {
		if _, err := s.Approve(ctx, a, c.ID); err != nil {
			t.Fatalf("approval of %s: %v", a.Username, err)
		}
	}
	if _, err := s.Approve(ctx, town, c.ID); !errors.Is(err, ErrApproved) {
		t.Fatalf("second approval: %v, want ErrApproved", err)
	}
	o := town.Org
	o.Retired = true
	if err := reg.UpdateOrg(ctx, o); err != nil {
		t.Fatal(err)
	}
	got, err := s.Seal(ctx, village, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != card.StatusDraft || got.NextLevel != org.Township || got.Seq != 1 {
		t.Fatalf("after the village's seal: %s awaiting %s at revision %d, want a draft awaiting the township", got.Status, got.NextLevel, got.Seq)
	}
	rs, err := s.Review(ctx, county, got)
	if err != nil {
		t.Fatal(err)
	}
	want := []ReviewState{ReviewSealed, ReviewApproved, ReviewApproved}
	for i, r := range rs {
		if r.State != want[i] {
			t.Fatalf("review of %s: %s, want %s", r.Level, r.State, want[i])
		}
	}
}
