package lifecycle

import (
	"context"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/store/storetest"
)

// TestCheckerCaches: the public answer's caches (stored
// PDF verdict per revision, masked holders) never hide a new seal or a
// status change: the next answer reflects each at once.
func TestCheckerCaches(t *testing.T) {
	st, _ := storetest.Open(t)
	ks := demoKeys(t)
	s := NewService(st, ks, "http://127.0.0.1:8080")
	ctx := context.Background()
	if err := SyncOrgs(ctx, st, ks); err != nil {
		t.Fatal(err)
	}
	levels := []Actor{actor(t, st, "220102001001"), actor(t, st, "220102001"), actor(t, st, "220102")}
	c, err := s.Apply(ctx, levels[0], example(t))
	if err != nil {
		t.Fatal(err)
	}
	ch := NewChecker(s)
	name := ""
	check := func(wantStatus string, wantSeals int) {
		t.Helper()
		for range 2 { // the second answer comes from the caches
			a, err := ch.Check(ctx, c.QRToken)
			if err != nil {
				t.Fatal(err)
			}
			if name == "" && len(a.Holders) > 0 {
				name = a.Holders[0].Name
			}
			if a.Status != wantStatus || len(a.Seals) != wantSeals || len(a.Holders) != 2 || a.Holders[0].Name != name || name == "" {
				t.Fatalf("answer %s with %d seals, %d holders; want %s with %d seals", a.Status, len(a.Seals), len(a.Holders), wantStatus, wantSeals)
			}
			a.Holders[0].Name = "changed by a caller" // must not reach the next answer
		}
	}
	check(PublicIncomplete, 0)
	for i, a := range levels {
		if c, err = s.Seal(ctx, a, c.ID); err != nil {
			t.Fatal(err)
		}
		want := PublicIncomplete
		if i == len(levels)-1 {
			want = PublicValid
		}
		check(want, i+1)
	}
	if _, err := s.SetStatus(ctx, levels[2], c.ID, card.StatusVoided, "other", "test", CardRef{}); err != nil {
		t.Fatal(err)
	}
	check(PublicVoided, 3)
	// A changed handle is well-formed but names no card; a malformed
	// one is forged.
	if a, err := ch.Check(ctx, c.QRToken[:len(c.QRToken)-4]+"AAAA"); err != nil || a.Status != PublicUnknown {
		t.Fatalf("altered token: %+v, %v", a, err)
	}
	if a, err := ch.Check(ctx, c.QRToken[:len(c.QRToken)-1]+"1"); err != nil || a.Status != PublicForged {
		t.Fatalf("malformed token: %+v, %v", a, err)
	}
}
