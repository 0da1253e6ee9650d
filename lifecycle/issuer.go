package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// Who issues which card (发证机关): one table, a row per card type, that a
// province may change by configuration (the setting "issuers"). The seal
// chain stays village → township → county for every type (Art. 15); the
// issuer is the organisation, at the row's level, whose jurisdiction
// holds the couple's village, printed on the card and named by the
// public answer.

// IssuerPolicy maps each card type to the level of its issuing
// organisation.
type IssuerPolicy map[card.Type]org.Level

// DefaultIssuers is the rule of 吉卫发〔2016〕22号: 一孩、二孩 cards are
// issued by the township (Art. 3); re-birth cards by the county after the
// township's opinion (Art. 6).
var DefaultIssuers = IssuerPolicy{card.First: org.Township, card.Second: org.Township, card.Rebirth: org.County}

// ErrIssuers: the issuers setting does not parse.
var ErrIssuers = errors.New("invalid issuers policy")

// ParseIssuers reads a policy written "type=level,…" (for instance
// "first=township,second=township,rebirth=county"); types left out keep
// DefaultIssuers' row.
func ParseIssuers(s string) (IssuerPolicy, error) {
	p := IssuerPolicy{}
	for k, v := range DefaultIssuers {
		p[k] = v
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		t, l, ok := strings.Cut(part, "=")
		typ, lvl := card.Type(strings.TrimSpace(t)), org.Level(strings.TrimSpace(l))
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: %q is not type=level", ErrIssuers, part)
		case !typ.Valid():
			return nil, fmt.Errorf("%w: unknown card type %q (first, second, rebirth)", ErrIssuers, typ)
		case lvl != org.Township && lvl != org.County:
			return nil, fmt.Errorf("%w: %s cards: a card is issued by a township or a county, not %q", ErrIssuers, typ, lvl)
		}
		p[typ] = lvl
	}
	return p, nil
}

// String writes the policy as ParseIssuers reads it, in the order of the
// card types.
func (p IssuerPolicy) String() string {
	var out []string
	for _, t := range card.Types {
		if l, ok := p[t]; ok {
			out = append(out, string(t)+"="+string(l))
		}
	}
	return strings.Join(out, ",")
}

// Level is the issuing level of a card type (the default table's for a
// type the policy leaves out).
func (p IssuerPolicy) Level(t card.Type) org.Level {
	if l, ok := p[t]; ok {
		return l
	}
	if l, ok := DefaultIssuers[t]; ok {
		return l
	}
	return org.County
}

func (s *Service) issuers() IssuerPolicy {
	if s.Issuers == nil {
		return DefaultIssuers
	}
	return s.Issuers
}

// issuerFor is the organisation that issues a card of type t: the
// township or the county holding the couple's village.
func issuerFor(p IssuerPolicy, t card.Type, township, county org.Org) org.Org {
	if p.Level(t) == org.Township {
		return township
	}
	return county
}

// IssuerOf returns the organisation that issued (or will issue) the card:
// the one recorded when it was made, or — for cards from before the
// policy — the county, which every such card printed.
func (s *Service) IssuerOf(ctx context.Context, c *card.Card) (org.Org, error) {
	code := c.IssuerCode
	if code == "" {
		code = c.CountyCode
	}
	return s.reg.GetOrg(ctx, code)
}
