// Package chain owns the seal-chain policies: which levels a document type
// needs, in which order, and the jurisdiction rule that ties the seals of
// one document together (Art. 15: village → township → county; Art. 17:
// the re-birth approval form may be sealed by the county first).
package chain

import (
	"errors"
	"fmt"

	"github.com/jilin-health/cardseal/org"
)

// Errors callers branch on. Every refusal wraps exactly one of them.
var (
	ErrOutOfOrder   = errors.New("seal out of order")
	ErrRepeated     = errors.New("level already sealed")
	ErrJurisdiction = errors.New("organisation outside the jurisdiction of the other seals")
	ErrComplete     = errors.New("seal chain already complete")
	ErrLevel        = errors.New("level not part of this document's chain")
)

// Seal is what the policy needs to know of one seal.
type Seal struct {
	Level org.Level
	Code  string // significant division code
}

// Policy is the seal chain a document type requires.
type Policy struct {
	Name   string
	Levels []org.Level // required levels, lowest first
	// AnyOrder allows the levels in any order (Art. 17 补盖); the
	// jurisdiction rule still applies.
	AnyOrder bool
	// Claimed policies are never assumed: the document's first seal
	// must name the policy in its signed claim (seal.Claim), with the
	// pre-review and the form it rests on. No other policy may be
	// claimed.
	Claimed bool

	unchecked bool // see Unchecked
}

// Unchecked accepts any sequence of seals. The signer uses it only when
// told to: tests build forged chains with it (a village of another
// township, two seals of one level) to prove the verifier refuses them.
// The verifier never uses it.
var Unchecked = Policy{Name: "unchecked", unchecked: true}

// Card is the policy of every card type: village → township → county.
var Card = Policy{Name: "card", Levels: []org.Level{org.Village, org.Township, org.County}}

// RebirthForm is the policy of the re-birth approval form (Art. 17): all
// three levels, the county may seal first.
var RebirthForm = Policy{Name: "rebirth-form", Levels: []org.Level{org.Village, org.Township, org.County}, AnyOrder: true}

// RebirthDirect is the policy of a re-birth card the county issues
// directly from the village's and township's pre-review list (Art. 17):
// the county's seal only. It is claimed, never assumed: the county's
// seal names it with the pre-review it rests on and the number of the
// re-birth approval form on which the village and the township add their
// seals afterwards (补盖).
var RebirthDirect = Policy{Name: "rebirth-direct", Levels: []org.Level{org.County}, Claimed: true}

// Notice is the policy of a one-time or refusal notice: one seal by the
// organisation that received the application, any level.
var Notice = Policy{Name: "notice"}

// ForName returns the named policy.
func ForName(name string) (Policy, bool) {
	for _, p := range []Policy{Card, RebirthDirect, RebirthForm, Notice} {
		if p.Name == name {
			return p, true
		}
	}
	return Policy{}, false
}

// Cards are the policies a card may follow: the ordinary chain, unless
// its first seal claims another of these.
var Cards = []Policy{Card, RebirthDirect}

// CardPolicy reports whether p is one a card may follow.
func CardPolicy(p Policy) bool {
	for _, c := range Cards {
		if c.Name == p.Name {
			return true
		}
	}
	return false
}

func (p Policy) index(l org.Level) int {
	for i, x := range p.Levels {
		if x == l {
			return i
		}
	}
	return -1
}

// Check reports whether next may follow the seals already applied, in
// the order given. It wraps ErrOutOfOrder, ErrRepeated, ErrJurisdiction,
// ErrComplete or ErrLevel.
func (p Policy) Check(prev []Seal, next Seal) error {
	if p.unchecked {
		return nil
	}
	if len(p.Levels) == 0 { // notice: exactly one seal
		if len(prev) > 0 {
			return fmt.Errorf("%w: a %s takes one seal", ErrComplete, p.Name)
		}
		return nil
	}
	if p.Complete(prev) {
		return fmt.Errorf("%w: %s already has every required seal", ErrComplete, p.Name)
	}
	ni := p.index(next.Level)
	if ni < 0 {
		return fmt.Errorf("%w: %s", ErrLevel, next.Level)
	}
	seen := map[org.Level]bool{}
	for _, s := range prev {
		if s.Level == next.Level || seen[s.Level] {
			return fmt.Errorf("%w: %s", ErrRepeated, s.Level)
		}
		seen[s.Level] = true
		if p.index(s.Level) < 0 {
			return fmt.Errorf("%w: an earlier seal has level %s", ErrLevel, s.Level)
		}
	}
	if len(prev) >= len(p.Levels) {
		return fmt.Errorf("%w: %s already has %d seals", ErrComplete, p.Name, len(prev))
	}
	if !p.AnyOrder {
		if want := p.Levels[len(prev)]; want != next.Level {
			return fmt.Errorf("%w: the %s seal comes next, not the %s seal", ErrOutOfOrder, want, next.Level)
		}
	}
	for _, s := range prev {
		if !nested(s, next) {
			return fmt.Errorf("%w: %s %s and %s %s", ErrJurisdiction, s.Level, s.Code, next.Level, next.Code)
		}
	}
	return nil
}

// nested reports whether two seals of different levels belong to one
// jurisdiction: the higher level's code is a prefix of the lower's.
func nested(a, b Seal) bool {
	lo, hi := a, b
	if len(lo.Code) < len(hi.Code) {
		lo, hi = hi, lo
	}
	return len(lo.Code) >= len(hi.Code) && lo.Code[:len(hi.Code)] == hi.Code
}

// Validate checks a whole sequence of seals in order, as a verifier sees
// them. It returns nil for a valid prefix of the chain.
func (p Policy) Validate(seals []Seal) error {
	for i := range seals {
		if err := p.Check(seals[:i], seals[i]); err != nil {
			return fmt.Errorf("seal %d: %w", i+1, err)
		}
	}
	return nil
}

// Complete reports whether the seals satisfy every required level.
func (p Policy) Complete(seals []Seal) bool {
	if len(p.Levels) == 0 {
		return len(seals) == 1
	}
	for _, l := range p.Levels {
		found := false
		for _, s := range seals {
			if s.Level == l {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Next returns the level the policy expects next in strict order, or
// false when complete or when the policy allows any order.
func (p Policy) Next(prev []Seal) (org.Level, bool) {
	if p.AnyOrder || p.Complete(prev) || len(prev) >= len(p.Levels) {
		return "", false
	}
	return p.Levels[len(prev)], true
}
