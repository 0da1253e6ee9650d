package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/signer"
)

// Long-term validation (issue 17, PAdES B-LTA): after the seal that
// issues a card, the platform appends a Document Security Store with
// every certificate and the installed CRLs, then a document timestamp of
// its time-stamping authority (signer.AddLTV), in the same transaction as
// the seal: the stored card verifies offline, with the trust list alone,
// for as long as its archive timestamps are renewed
// ('cardseal renew-timestamps', renew.go).

// docStamper is the sealer's time-stamping authority when it can stamp
// documents too (tsa.Authority can); nil without one.
func (s *Sealer) docStamper() signer.DocTimestamper {
	if d, ok := s.Stamp.(signer.DocTimestamper); ok {
		return d
	}
	return nil
}

// addLTV appends the long-term validation data to a card that the seal
// just issued, with the service's installed CRLs.
func (s *Service) addLTV(ctx context.Context, sealed []byte, at time.Time) ([]byte, error) {
	crls, err := s.CRLs()
	if err != nil {
		return nil, fmt.Errorf("long-term validation data: %w", err)
	}
	return s.sealer.ltv(ctx, sealed, crls, at)
}

// FinishCard adds the long-term validation data to a card PDF whose seal
// chain is complete (the county's seal issued it), as the service does
// in the seal's transaction; a card still awaiting a seal comes back
// unchanged. The command line's 'cardseal seal' calls it.
func (s *Sealer) FinishCard(ctx context.Context, pdf []byte, crls []*smx509.RevocationList, at time.Time) ([]byte, error) {
	cs, _, err := signer.Existing(pdf)
	if err != nil {
		return nil, err
	}
	if !chain.Card.Complete(cs) {
		return pdf, nil
	}
	return s.ltv(ctx, pdf, crls, at)
}

// ltv appends the store and the document timestamp. Without a
// time-stamping authority the card stays as sealed (its seals have no
// timestamps then either); with one, a failure stops the seal: nothing
// is stored.
func (s *Sealer) ltv(ctx context.Context, sealed []byte, crls []*smx509.RevocationList, at time.Time) ([]byte, error) {
	ts := s.docStamper()
	if ts == nil {
		return sealed, nil
	}
	out, err := signer.AddLTV(ctx, sealed, crlList(crls).der(), ts, at)
	if err != nil {
		return nil, fmt.Errorf("long-term validation data: %w", err)
	}
	return out, nil
}

// crlList is CRLs as the store of a document holds them.
type crlList []*smx509.RevocationList

func (l crlList) der() [][]byte {
	out := make([][]byte, 0, len(l))
	for _, c := range l {
		out = append(out, c.Raw)
	}
	return out
}
