package verifier_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/seal"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/verifier"
)

// sealClaim applies code's seal under pol with the policy claim c (nil:
// none), as a forger with the organisation's own key could.
func (f *fixture) sealClaim(t testing.TB, doc []byte, code string, pol chain.Policy, c *seal.Claim) []byte {
	t.Helper()
	o, err := keys.Demo.GetOrg(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.ks.SealIdentity(code)
	if err != nil {
		t.Fatal(err)
	}
	img, err := templates.SealImage(o)
	if err != nil {
		t.Fatal(err)
	}
	app, err := signer.NewAppearance(img)
	if err != nil {
		t.Fatal(err)
	}
	out, err := signer.Seal(doc, &signer.Request{
		Identity: id, Org: o, Policy: pol, Rect: signer.Rect(templates.SealBox(o.Level)),
		Appearance: app, Reason: lifecycle.Reason(o.Level), Location: o.Name, DocID: f.number, Time: time.Now(),
		Timestamper: f.sealer.Stamp, Claim: c,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const (
	directPreReview = "5f0c3a9e7b214d68"
	directForm      = "2201022026000001-F"
)

func directClaim() *seal.Claim {
	return &seal.Claim{Policy: chain.RebirthDirect.Name, PreReview: directPreReview, Form: directForm}
}

// TestArt17DirectCardPolicy: the county's seal alone makes a valid card
// only when that seal claims the rebirth-direct policy with the
// pre-review and the form it rests on; the report names the policy.
func TestArt17DirectCardPolicy(t *testing.T) {
	f := demo(t)
	direct, err := f.sealer.SealCardDirect(f.card, mustOrg(keys.Demo.GetOrg(context.Background(), "220102")), f.number, directPreReview, directForm, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rep := f.verify(t, direct)
	mustContain(t, rep, verifier.Valid, "")
	if rep.Policy != "rebirth-direct" || rep.PreReview != directPreReview || rep.Form != directForm || len(rep.Seals) != 1 {
		t.Fatalf("policy %q, pre-review %q, form %q, %d seals", rep.Policy, rep.PreReview, rep.Form, len(rep.Seals))
	}
	// The ordinary card names its policy too.
	if rep := f.verify(t, f.sealed[3]); rep.Policy != "card" || rep.Form != "" {
		t.Fatalf("ordinary card: policy %q, form %q", rep.Policy, rep.Form)
	}
	// Asked for explicitly, the claimed policy holds too.
	opt := f.options()
	opt.Policy = chain.RebirthDirect
	if rep, err := verifier.Verify(direct, opt); err != nil || rep.Verdict != verifier.Valid {
		t.Fatalf("as rebirth-direct: %v %v", err, rep.Reasons())
	}
}

// TestArt17CountyOnlyCardClaimingOrdinaryPolicyRefused: a card with the
// county's seal alone that claims nothing (so defaults to the ordinary
// village → township → county chain), or that the caller checks as
// rebirth-direct without the claim, or whose claim lacks the pre-review
// or the form, is invalid.
func TestArt17CountyOnlyCardClaimingOrdinaryPolicyRefused(t *testing.T) {
	f := demo(t)
	countyOnly := f.sealClaim(t, f.card, "220102", chain.Unchecked, nil)
	mustContain(t, f.verify(t, countyOnly), verifier.Invalid, "out of order")

	opt := f.options()
	opt.Policy = chain.RebirthDirect
	rep, err := verifier.Verify(countyOnly, opt)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, rep, verifier.Invalid, "must be claimed by the first seal")

	for name, c := range map[string]*seal.Claim{
		"no pre-review": {Policy: chain.RebirthDirect.Name, Form: directForm},
		"no form":       {Policy: chain.RebirthDirect.Name, PreReview: directPreReview},
	} {
		t.Run(name, func(t *testing.T) {
			doc := f.sealClaim(t, f.card, "220102", chain.RebirthDirect, c)
			rep := f.verify(t, doc)
			mustContain(t, rep, verifier.Invalid, "without the pre-review and the approval form")
			if rep.Policy == "rebirth-direct" {
				t.Fatal("the report takes a refused claim's policy")
			}
		})
	}
}

// TestArt17ForgedPolicy: claims a forger could make are refused — a
// policy no document may claim, a direct claim by a level other than the
// county, a claim on a later seal of an ordinary chain, a claim on a
// notice, a seal added to a direct card, and a claim altered after
// signing.
func TestArt17ForgedPolicy(t *testing.T) {
	f := demo(t)
	cases := map[string]struct {
		doc    func() []byte
		policy chain.Policy
		reason string
	}{
		"claims the ordinary policy": {
			doc: func() []byte {
				return f.sealClaim(t, f.card, "220102", chain.Unchecked, &seal.Claim{Policy: "card", PreReview: directPreReview, Form: directForm})
			},
			reason: "which no document may claim",
		},
		"claims an unknown policy": {
			doc: func() []byte {
				return f.sealClaim(t, f.card, "220102", chain.Unchecked, &seal.Claim{Policy: "county-only", PreReview: directPreReview, Form: directForm})
			},
			reason: "which no document may claim",
		},
		"village claims direct": {
			doc:    func() []byte { return f.sealClaim(t, f.card, "220102001001", chain.Unchecked, directClaim()) },
			reason: "level not part of this document's chain",
		},
		"claim on the county's seal of an ordinary chain": {
			doc:    func() []byte { return f.sealClaim(t, f.sealed[2], "220102", chain.Card, directClaim()) },
			reason: "only the first seal may claim",
		},
		"claim on a notice": {
			doc:    func() []byte { return f.sealClaim(t, f.card, "220102", chain.Unchecked, directClaim()) },
			policy: chain.Notice,
			reason: "but the document is checked as notice",
		},
		"village seal added to a direct card": {
			doc: func() []byte {
				d := f.sealClaim(t, f.card, "220102", chain.RebirthDirect, directClaim())
				return f.sealClaim(t, d, "220102001001", chain.Unchecked, nil)
			},
			reason: "already has every required seal",
		},
		"claim altered after signing": {
			doc: func() []byte {
				d := f.sealClaim(t, f.card, "220102", chain.RebirthDirect, directClaim())
				old := hex.EncodeToString([]byte(directPreReview))
				if !strings.Contains(string(d), old) {
					old = strings.ToUpper(old)
				}
				return replaceSame(t, d, old, hex.EncodeToString([]byte("5f0c3a9e7b214d69")))
			},
			reason: "cms_signature",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opt := f.options()
			if tc.policy.Name != "" {
				opt.Policy = tc.policy
			}
			rep, err := verifier.Verify(tc.doc(), opt)
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, rep, verifier.Invalid, tc.reason)
		})
	}
}
