package seal

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Claim is the value of the cardseal policy attribute: the seal chain
// policy the document follows, when it is not the ordinary one of its
// type, and the records that policy rests on. It is a signed attribute,
// so the seal that carries it vouches for it; package chain says which
// policies exist and package verifier which claims it accepts.
//
//	CardsealPolicy ::= SEQUENCE {
//	    version   INTEGER (1),
//	    policy    UTF8String (SIZE (1..32)),   -- e.g. "rebirth-direct"
//	    preReview UTF8String (SIZE (0..128)),  -- the pre-review the act rests on
//	    form      UTF8String (SIZE (0..128)) } -- the approval form's number
type Claim struct {
	Policy    string
	PreReview string
	Form      string
}

const (
	claimVersion   = 1
	maxPolicyName  = 32
	maxClaimRefLen = 128
)

// Validate checks the Claim can be encoded: a policy name of 1 to 32
// bytes and references of at most 128 bytes, all UTF-8. Errors wrap
// ErrInvalidLink.
func (c Claim) Validate() error {
	if c.Policy == "" || len(c.Policy) > maxPolicyName || !utf8.ValidString(c.Policy) {
		return linkErr("policy name must be 1 to %d bytes of UTF-8", maxPolicyName)
	}
	for _, r := range []string{c.PreReview, c.Form} {
		if len(r) > maxClaimRefLen || !utf8.ValidString(r) {
			return linkErr("policy references must be at most %d bytes of UTF-8", maxClaimRefLen)
		}
	}
	return nil
}

// addClaim appends the DER CardsealPolicy. c must be valid.
func addClaim(b *cryptobyte.Builder, c *Claim) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(claimVersion)
		for _, s := range []string{c.Policy, c.PreReview, c.Form} {
			b.AddASN1(asn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
		}
	})
}

// parseClaim decodes one DER CardsealPolicy (the whole of in).
func parseClaim(in cryptobyte.String) (*Claim, error) {
	const field = "cardseal policy"
	var seq, name, pre, form cryptobyte.String
	var version int
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() {
		return nil, malformed(field, "not one SEQUENCE")
	}
	if !seq.ReadASN1Integer(&version) || version != claimVersion {
		return nil, malformed(field, "version must be %d", claimVersion)
	}
	if !seq.ReadASN1(&name, asn1.UTF8String) || !seq.ReadASN1(&pre, asn1.UTF8String) ||
		!seq.ReadASN1(&form, asn1.UTF8String) || !seq.Empty() {
		return nil, malformed(field, "want policy, preReview and form, each a UTF8String")
	}
	c := &Claim{Policy: string(name), PreReview: string(pre), Form: string(form)}
	if err := c.Validate(); err != nil {
		return nil, &FormatError{Field: field, Reason: "invalid value", Err: err}
	}
	return c, nil
}

// String is the claim for reports.
func (c *Claim) String() string {
	return fmt.Sprintf("%s (pre-review %q, form %q)", c.Policy, c.PreReview, c.Form)
}
