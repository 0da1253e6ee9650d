package verifier

import (
	"bytes"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/seal"
)

// The links between seals and the chain policy they follow.

// checkChain checks the links between seals and the policy.
func (v *run) checkChain() {
	v.resolvePolicy()
	var prev *found
	var cs []chain.Seal
	for _, s := range v.seals {
		rep := s.report
		if s.signed == nil || rep.Level == "" {
			fail(rep, CheckLink, "not checked: the seal itself failed")
			prev = s
			continue
		}
		l := s.signed.Link
		switch {
		case l == nil:
			fail(rep, CheckLink, "the seal carries no cardseal chain attribute")
		case string(l.Level) != rep.Level || l.Code != rep.DivisionCode:
			fail(rep, CheckLink, "the chain attribute names %s %s but the certificate %s %s", l.Level, l.Code, rep.Level, rep.DivisionCode)
		case prev == nil && len(l.Prev) != 0:
			fail(rep, CheckLink, "the first seal links to a previous seal")
		case prev != nil && (prev.signed == nil || !bytes.Equal(l.Prev, seal.Digest(prev.signed.DER))):
			fail(rep, CheckLink, "the seal does not link to the previous seal (transplanted or reordered)")
		case v.opt.DocID != "" && l.DocID != v.opt.DocID:
			fail(rep, CheckLink, "the seal binds document %q, not %q", l.DocID, v.opt.DocID)
		case v.rep.DocID != "" && l.DocID != v.rep.DocID:
			fail(rep, CheckLink, "the seal binds document %q but earlier seals %q", l.DocID, v.rep.DocID)
		case prev != nil && prev.signed != nil && s.signed.SigningTime.Before(prev.signed.SigningTime):
			fail(rep, CheckLink, "signed before the previous seal")
		default:
			pass(rep, CheckLink)
			v.rep.DocID = l.DocID
			rep.DocID = l.DocID
		}
		next := chain.Seal{Level: org.Level(rep.Level), Code: rep.DivisionCode}
		// Each seal is judged against the seals the policy accepted: a
		// refused seal is already a failure, and chain.Policy.Check
		// assumes a valid prefix (it indexes Levels by len(prev)).
		if err := v.opt.Policy.Check(cs, next); err != nil {
			fail(rep, CheckChain, "%v", err)
		} else {
			pass(rep, CheckChain)
			cs = append(cs, next)
		}
		prev = s
	}
}
