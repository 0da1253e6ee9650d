package card

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"unicode/utf8"
)

// FuzzApplicant feeds ParseApplicant untrusted JSON (an upload or an API
// body): it must never panic, every error must be ErrInvalid, and an
// accepted applicant must validate again after a JSON round trip and be
// masked without panicking.
func FuzzApplicant(f *testing.F) {
	b, err := os.ReadFile("../examples/applicant.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"type":"second","child_order":2}`))
	f.Add([]byte(`{"type":"first"} {"type":"first"}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseApplicant(data)
		if err != nil {
			if a != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseApplicant: %v (applicant %v)", err, a != nil)
			}
			return
		}
		for _, s := range []string{a.Male.Name, a.Female.Name, a.Male.IDNumber, a.Female.IDNumber} {
			if !utf8.ValidString(s) {
				t.Fatalf("accepted invalid UTF-8 %q", s)
			}
			MaskName(s)
			MaskID(s)
		}
		again, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseApplicant(again); err != nil {
			t.Fatalf("round trip: %v\n%s", err, again)
		}
	})
}
