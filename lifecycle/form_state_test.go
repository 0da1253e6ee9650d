package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// TestArt17FormState: what the console shows of a re-birth approval
// form (补盖, Art. 17) comes from the stored form, verified: a level may
// seal until its own seal is on it; a form whose seal no longer verifies
// is reported broken and offered to nobody; staff of another
// jurisdiction learn nothing of it; the county does not issue the card
// directly on a broken form.
func TestArt17FormState(t *testing.T) {
	st, s := demoService(t)
	ctx := context.Background()
	village, town, county := actor(t, st, "220102001001"), actor(t, st, "220102001"), actor(t, st, "220102")
	other := actor(t, st, "220102002001")
	c, err := s.Apply(ctx, village, rebirthExample(t))
	if err != nil {
		t.Fatal(err)
	}
	if fs, err := s.CardFormState(ctx, county, c.ID); err != nil || fs != nil {
		t.Fatalf("before a form is drawn up: %+v, %v", fs, err)
	}
	f, err := s.CreateRebirthForm(ctx, county, c.ID, "村、乡预审上报", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []Actor{village, town, county} {
		fs, err := s.CardFormState(ctx, x, c.ID)
		if err != nil || fs == nil || !fs.CanSeal || fs.Broken || len(fs.Sealed) != 0 {
			t.Fatalf("%s on an unsealed form: %+v, %v", x.Username, fs, err)
		}
	}
	if _, err := s.CardFormState(ctx, other, c.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("another village read the form's state: %v", err)
	}
	if _, err := s.SealForm(ctx, village, f.ID); err != nil {
		t.Fatal(err)
	}
	fs, err := s.CardFormState(ctx, village, c.ID)
	if err != nil || fs.CanSeal || !fs.Sealed[org.Village] || len(fs.Sealed) != 1 {
		t.Fatalf("the village after its seal: %+v, %v", fs, err)
	}
	if fs, err := s.CardFormState(ctx, town, c.ID); err != nil || !fs.CanSeal {
		t.Fatalf("the township after the village's seal: %+v, %v", fs, err)
	}

	// One hex digit of the seal's signature changed in the stored form.
	g, err := s.reg.GetForm(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(g.PDF, []byte("/Contents <"))
	if i < 0 {
		t.Fatal("no /Contents in the sealed form")
	}
	bad := bytes.Clone(g.PDF)
	j := i + len("/Contents <") + 40
	if bad[j] == '0' {
		bad[j] = '1'
	} else {
		bad[j] = '0'
	}
	if err := s.reg.UpdateForm(ctx, g.ID, g.Seq, bad, s.event(county, audit.FormSeal, c.ID, "", nil)); err != nil {
		t.Fatal(err)
	}
	fs, err = s.CardFormState(ctx, town, c.ID)
	if err != nil || !fs.Broken || fs.CanSeal || len(fs.Sealed) != 0 {
		t.Fatalf("a form whose seal does not verify: %+v, %v", fs, err)
	}
	// What the console does not offer, the JSON API's SealForm refuses:
	// no seal on top of a form that does not verify.
	if _, err := s.SealForm(ctx, town, f.ID); !errors.Is(err, ErrState) {
		t.Fatalf("a seal on a form that does not verify: %v", err)
	}
	if g, err := s.reg.GetForm(ctx, f.ID); err != nil || !bytes.Equal(g.PDF, bad) {
		t.Fatalf("a refused seal changed the form: %v", err)
	}
	// Nor does the county issue the card directly on such a form: its
	// seal would go on a file that no longer verifies.
	if _, err := s.SubmitPreReview(ctx, village, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.IssueDirect(ctx, county, c.ID, "", ""); !errors.Is(err, ErrState) {
		t.Fatalf("direct issue on a broken form: %v", err)
	}
	if got, err := s.reg.GetCard(ctx, c.ID); err != nil || got.Status != card.StatusDraft || got.Seq != 0 {
		t.Fatalf("a refused direct issue changed the card: %+v, %v", got, err)
	}
}
