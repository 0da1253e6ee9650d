package verifier

import (
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/seal"
)

// resolvePolicy decides the chain policy the document follows from what
// its seals sign, not from what the caller assumes: the caller's
// (Options.Policy) unless the first seal claims another policy a
// document of that kind may follow (a card: chain.Cards). A claimed
// policy (chain.Policy.Claimed) is never assumed: a document checked as
// one whose first seal does not claim it fails, and so does a claim
// without the records it rests on. A claim on a later seal fails that
// seal: the first seal fixes the policy before any other is applied.
// A county-only card that claims nothing is checked under the ordinary
// policy and fails its order.
func (v *run) resolvePolicy() {
	if len(v.seals) == 0 {
		return
	}
	first := v.seals[0]
	for _, s := range v.seals[1:] {
		if s.signed != nil && s.signed.Claim != nil {
			fail(s.report, CheckClaim, "only the first seal may claim a chain policy; this one claims %s", s.signed.Claim.Policy)
		}
	}
	want := v.opt.Policy
	var claim *seal.Claim
	if first.signed != nil {
		claim = first.signed.Claim
	}
	if claim == nil {
		if want.Claimed {
			v.rep.problem("the %s policy must be claimed by the first seal, which claims no policy", want.Name)
		}
		return
	}
	p, ok := chain.ForName(claim.Policy)
	switch {
	case !ok || !p.Claimed:
		fail(first.report, CheckClaim, "claims the policy %q, which no document may claim", claim.Policy)
	case p.Name != want.Name && !(chain.CardPolicy(want) && chain.CardPolicy(p)):
		fail(first.report, CheckClaim, "claims the %s policy, but the document is checked as %s", p.Name, want.Name)
	case claim.PreReview == "" || claim.Form == "":
		fail(first.report, CheckClaim, "claims the %s policy without the pre-review and the approval form it rests on", p.Name)
	default:
		pass(first.report, CheckClaim)
		v.opt.Policy = p
		v.rep.Policy, v.rep.PreReview, v.rep.Form = p.Name, claim.PreReview, claim.Form
	}
}
