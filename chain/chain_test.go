package chain

import (
	"errors"
	"testing"

	"github.com/jilin-health/cardseal/org"
)

var (
	v1 = Seal{org.Village, "220102001001"}
	v2 = Seal{org.Village, "220102002001"}
	t1 = Seal{org.Township, "220102001"}
	t2 = Seal{org.Township, "220102002"}
	c1 = Seal{org.County, "220102"}
	c9 = Seal{org.County, "220103"}
)

func TestCardPolicy(t *testing.T) {
	tests := []struct {
		name string
		prev []Seal
		next Seal
		want error
	}{
		{"village first", nil, v1, nil},
		{"township after village", []Seal{v1}, t1, nil},
		{"county last", []Seal{v1, t1}, c1, nil},
		{"township first", nil, t1, ErrOutOfOrder},
		{"county before township", []Seal{v1}, c1, ErrOutOfOrder},
		{"village twice", []Seal{v1}, v2, ErrRepeated},
		{"village of another township", []Seal{v2}, t1, ErrJurisdiction},
		{"county of another county", []Seal{v1, t1}, c9, ErrJurisdiction},
		{"fourth seal", []Seal{v1, t1, c1}, v1, ErrComplete},
		{"unknown earlier level", []Seal{{org.Level("x"), "1"}}, t1, ErrLevel},
		{"repeated level earlier", []Seal{v1, v1, t1}, c1, ErrRepeated},
		{"repeated level then another", []Seal{v1, v2}, t1, ErrRepeated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Card.Check(tc.prev, tc.next)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
	if !Card.Complete([]Seal{v1, t1, c1}) || Card.Complete([]Seal{v1, t1}) {
		t.Fatal("Complete is wrong")
	}
	if err := Card.Validate([]Seal{v1, t1, c1}); err != nil {
		t.Fatal(err)
	}
	if l, ok := Card.Next([]Seal{v1}); !ok || l != org.Township {
		t.Fatalf("Next = %v %v", l, ok)
	}
}

func TestRebirthFormAnyOrder(t *testing.T) {
	// Art. 17: the county may seal first; village and township add theirs.
	if err := RebirthForm.Validate([]Seal{c1, v1, t1}); err != nil {
		t.Fatal(err)
	}
	if err := RebirthForm.Validate([]Seal{c1, t2, v1}); !errors.Is(err, ErrJurisdiction) {
		t.Fatalf("mixed townships: %v", err)
	}
	if err := Card.Validate([]Seal{c1, v1, t1}); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("the card policy accepted county first: %v", err)
	}
}

func TestNoticePolicy(t *testing.T) {
	if err := Notice.Check(nil, t1); err != nil {
		t.Fatal(err)
	}
	if err := Notice.Check([]Seal{t1}, t1); !errors.Is(err, ErrComplete) {
		t.Fatal(err)
	}
}

// TestRebirthDirect: the county's seal alone completes the direct
// policy (Art. 17); no other level is part of it, nothing follows it, and
// it is the one policy that must be claimed.
func TestRebirthDirect(t *testing.T) {
	p, ok := ForName("rebirth-direct")
	if !ok || !p.Claimed || !CardPolicy(p) || !CardPolicy(Card) || CardPolicy(RebirthForm) || CardPolicy(Notice) {
		t.Fatalf("policy %+v %v", p, ok)
	}
	for _, q := range []Policy{Card, RebirthForm, Notice} {
		if q.Claimed {
			t.Errorf("%s is claimed", q.Name)
		}
	}
	county := Seal{Level: org.County, Code: "220102"}
	if err := p.Check(nil, county); err != nil {
		t.Fatal(err)
	}
	if !p.Complete([]Seal{county}) {
		t.Fatal("the county's seal does not complete it")
	}
	if err := p.Check(nil, Seal{Level: org.Village, Code: "220102001001"}); !errors.Is(err, ErrLevel) {
		t.Fatalf("village seal: %v", err)
	}
	if err := p.Check([]Seal{county}, Seal{Level: org.Township, Code: "220102001"}); !errors.Is(err, ErrComplete) {
		t.Fatalf("seal after the county's: %v", err)
	}
	if err := Card.Validate([]Seal{county}); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("the ordinary policy takes a county seal first: %v", err)
	}
}
