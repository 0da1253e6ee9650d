package lifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/jilin-health/cardseal/store/storetest"
	"github.com/jilin-health/cardseal/token"
)

// TestIsHolder: the download check compares with the two ID numbers of
// the encrypted applicant record, case-insensitively (the check digit
// may be x), and fails (not false) on a record that does not decrypt.
func TestIsHolder(t *testing.T) {
	st, _ := storetest.Open(t)
	ks := demoKeys(t)
	s := NewService(st, ks, "http://127.0.0.1:8080")
	ctx := context.Background()
	if err := SyncOrgs(ctx, st, ks); err != nil {
		t.Fatal(err)
	}
	app := example(t)
	app.Female.IDNumber = "22010219920815048X"
	c, err := s.Apply(ctx, actor(t, st, "220102001001"), app)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"220102199003071235", true},
		{"22010219920815048X", true},
		{"22010219920815048x", true},
		{" 220102199003071235 ", true},
		{"220102199003071234", false},
		{"220102199208152346", false},
		{"2201021990030712", false},
		{"", false},
	} {
		got, err := s.IsHolder(c, tc.id)
		if err != nil || got != tc.want {
			t.Errorf("IsHolder(%q) = %v, %v; want %v", tc.id, got, err, tc.want)
		}
	}
	moved := *c
	moved.ID = "0123456789abcdef" // the record is bound to its card id
	if ok, err := s.IsHolder(&moved, "220102199003071235"); ok || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("moved record: %v, %v", ok, err)
	}
	// The card is found by its version-2 token alone.
	ch := NewChecker(s)
	got, err := ch.CardByToken(ctx, "https://card.example.cn/v/"+c.QRToken)
	if err != nil || got.ID != c.ID {
		t.Fatalf("CardByToken: %v, %v", got, err)
	}
	if _, err := ch.CardByToken(ctx, token.NewHandle().String()); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("unknown handle: %v", err)
	}
	if _, err := ch.CardByToken(ctx, c.QRToken+"A"); !errors.Is(err, ErrForgedToken) {
		t.Fatalf("malformed token: %v", err)
	}
}
