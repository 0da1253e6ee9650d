package lifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/verifier"
)

// TestRetiredOrgKeepsOldSealsAndSealsNoMore: a township merged into
// another is retired; the card it sealed still verifies (publicly and
// against its records), and it cannot seal a new card.
func TestRetiredOrgKeepsOldSealsAndSealsNoMore(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		st, _ := open(t)
		ks := demoKeys(t)
		s := NewService(st, ks, "http://127.0.0.1:8080")
		ctx := context.Background()
		if err := SyncOrgs(ctx, st, ks); err != nil {
			t.Fatal(err)
		}
		village, town, county := actor(t, st, "220102001001"), actor(t, st, "220102001"), actor(t, st, "220102")
		old, err := s.Apply(ctx, village, example(t))
		if err != nil {
			t.Fatal(err)
		}
		// Taken before old is issued: a couple holds one valid card of
		// a type (onecard.go).
		next, err := s.Apply(ctx, village, example(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []Actor{village, town, county} {
			if old, err = s.Seal(ctx, a, old.ID); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Seal(ctx, village, next.ID); err != nil {
			t.Fatal(err)
		}

		o, err := st.GetOrg(ctx, town.Org.Code)
		if err != nil {
			t.Fatal(err)
		}
		o.Retired = true
		if err := st.UpdateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
		// Its staff's next request carries the organisation as the
		// registry has it now.
		town = actor(t, st, town.Org.Code)

		ch := NewChecker(s)
		ans, err := ch.Check(ctx, old.QRToken)
		if err != nil {
			t.Fatal(err)
		}
		if ans.Status != PublicValid || len(ans.Seals) != 3 || !ans.Seals[1].OK || ans.Seals[1].DivisionCode != town.Org.Code {
			t.Fatalf("card sealed by the retired township: %+v", ans)
		}
		if _, err := ch.VerifyStored(ctx, old); err != nil {
			t.Fatalf("stored card sealed by the retired township: %v", err)
		}

		if _, err := s.Seal(ctx, town, next.ID); !errors.Is(err, ErrRetired) {
			t.Fatalf("the retired township sealed a new card: %v", err)
		}
		c, err := st.GetCard(ctx, next.ID)
		if err != nil || c.Seq != 1 {
			t.Fatalf("after the refused seal: seq %d %v", c.Seq, err)
		}
	})
}

// revisionSwap serves the previous revision as the current PDF, as a
// restore that mixed up rows would.
type revisionSwap struct{ *store.DB }

func (r revisionSwap) CurrentPDF(ctx context.Context, id string) (int, []byte, error) {
	seq, _, err := r.DB.CurrentPDF(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	pdf, err := r.DB.PDF(ctx, id, seq-1)
	return seq, pdf, err
}

func TestVerifyStored(t *testing.T) {
	st, _ := storetest.Open(t)
	ks := demoKeys(t)
	s := NewService(st, ks, "http://127.0.0.1:8080")
	ctx := context.Background()
	if err := SyncOrgs(ctx, st, ks); err != nil {
		t.Fatal(err)
	}
	village, town := actor(t, st, "220102001001"), actor(t, st, "220102001")
	c, err := s.Apply(ctx, village, example(t))
	if err != nil {
		t.Fatal(err)
	}
	ch := NewChecker(s)
	for i, a := range []Actor{village, town} {
		if c, err = s.Seal(ctx, a, c.ID); err != nil {
			t.Fatal(err)
		}
		rep, err := ch.VerifyStored(ctx, c)
		if err != nil {
			t.Fatalf("after seal %d: %v", i+1, err)
		}
		if rep.Verdict != verifier.Incomplete || len(rep.Seals) != i+1 {
			t.Fatalf("after seal %d: %s, %d seals", i+1, rep.Verdict, len(rep.Seals))
		}
	}

	// An older revision served as the current one.
	bad := NewChecker(NewService(revisionSwap{st}, ks, "http://127.0.0.1:8080"))
	if _, err := bad.VerifyStored(ctx, c); !errors.Is(err, ErrRecordMismatch) {
		t.Fatalf("swapped revision: %v", err)
	}
	// The registry says issued, the PDF has two seals of three.
	c2 := *c
	c2.Status = card.StatusIssued
	if _, err := ch.VerifyStored(ctx, &c2); !errors.Is(err, ErrRecordMismatch) {
		t.Fatalf("issued with two seals: %v", err)
	}
}
