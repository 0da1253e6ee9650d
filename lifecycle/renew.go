package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/verifier"
)

// Renewal of archive timestamps ('cardseal renew-timestamps', issue 17,
// docs/operations.md "Renewing archive timestamps"). A card's PDF proves
// its seals for as long as the certificate of its newest timestamp is
// trusted. Before that certificate ends (within the window), the
// platform appends a fresh /DSS with the current CRLs and a new document
// timestamp, made with its current time-stamping key: the new timestamp
// stamps the old ones while they still hold. Each card is one
// transaction (AddArchive); a card changed meanwhile is left for the next
// run. The walk also reports every card with a timestamp that is already
// past help: its time-stamping certificate ended or was revoked and no
// later archive timestamp was made before.

// ArchiveActor is the name the audit log gives the platform when it
// appends archive timestamps: an operator's scheduled command, not a
// member of staff.
const ArchiveActor = "platform:renew-timestamps"

// ErrNoTimestamper: renewal needs the platform's time-stamping authority.
var ErrNoTimestamper = errors.New("no time-stamping authority that stamps documents")

// ErrTSAEnded: the authority's own certificate has ended; renewal with
// it would add timestamps that prove nothing.
var ErrTSAEnded = errors.New("the time-stamping certificate has ended")

// CardFinding is one card the renewal names, with why.
type CardFinding struct {
	Number string `json:"number"`
	Reason string `json:"reason"`
}

// Renewal is what RenewTimestamps found and did.
type Renewal struct {
	Checked int `json:"checked"` // cards whose seal chain is complete
	// Renewed are the cards that got a new archive timestamp (in a dry
	// run: would have).
	Renewed []CardFinding `json:"renewed,omitempty"`
	// Unprotected are the cards with a timestamp whose certificate ended
	// or was revoked with no later archive timestamp (verifier
	// Report.Unprotected), or whose /DSS holds no CRL current at a seal's
	// time, so that it cannot be validated offline (offlineGap), before
	// this run's renewal.
	Unprotected []CardFinding `json:"unprotected,omitempty"`
	// Failed are the cards that do not verify or could not be renewed;
	// they are left as they are.
	Failed []CardFinding `json:"failed,omitempty"`
	// TSANotAfter is the end of the authority's certificate; TSAEndsSoon
	// says it ends within the window, so that the new timestamps would
	// need renewing at once: rotate the time-stamping key first.
	TSANotAfter time.Time `json:"tsa_not_after"`
	TSAEndsSoon bool      `json:"tsa_ends_soon"`
}

// RenewTimestamps walks every card whose chain is complete and appends a
// fresh archive timestamp to those whose renewal is due within window
// (verifier Report.RenewBy); with dryRun it only reports. A card due is
// not renewed, and is reported as failed, when the authority's own
// certificate ends no later than the timestamps it would protect.
func (s *Service) RenewTimestamps(ctx context.Context, window time.Duration, dryRun bool) (*Renewal, error) {
	ts := s.sealer.docStamper()
	if ts == nil {
		return nil, ErrNoTimestamper
	}
	now := s.Now()
	r := &Renewal{}
	if a, ok := ts.(interface{ Identity() *keys.Identity }); ok && a.Identity() != nil {
		r.TSANotAfter = a.Identity().Cert.NotAfter
		r.TSAEndsSoon = !now.Add(window).Before(r.TSANotAfter)
		if !now.Before(r.TSANotAfter) && !dryRun {
			// Its timestamps would prove nothing: the verifier judges a
			// token's certificate at the token's time.
			return nil, fmt.Errorf("%w: the time-stamping certificate ended on %s", ErrTSAEnded, r.TSANotAfter.UTC().Format(time.RFC3339))
		}
	}
	crls, err := s.CRLs()
	if err != nil {
		return nil, err
	}
	f := card.Filter{Statuses: []card.Status{card.StatusIssued, card.StatusVoided, card.StatusRevoked, card.StatusSuperseded}}
	err = s.pages(ctx, f, func(c *card.Card) error {
		r.Checked++
		seq, pdf, err := s.reg.CurrentPDF(ctx, c.ID)
		if err != nil {
			r.Failed = append(r.Failed, CardFinding{c.Number, err.Error()})
			return nil
		}
		rep, err := verifier.VerifyContext(ctx, pdf, verifier.Options{
			Trust: s.keys.TrustList(), SealBoxes: CardSealBoxes(), DocID: c.Number, CRLs: crls,
			Now: func() time.Time { return now },
		})
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			r.Failed = append(r.Failed, CardFinding{c.Number, err.Error()})
			return nil
		}
		if rep.Verdict != verifier.Valid {
			r.Failed = append(r.Failed, CardFinding{c.Number, fmt.Sprintf("verdict %s: %v", rep.Verdict, rep.Reasons())})
			return nil
		}
		for _, u := range rep.Unprotected {
			r.Unprotected = append(r.Unprotected, CardFinding{c.Number, u})
		}
		if u := offlineGap(ctx, s.keys.TrustList(), pdf, c.Number, now); u != "" {
			r.Unprotected = append(r.Unprotected, CardFinding{c.Number, u})
		}
		if rep.RenewBy.IsZero() || now.Add(window).Before(rep.RenewBy) {
			return nil
		}
		if !r.TSANotAfter.IsZero() && !r.TSANotAfter.After(rep.RenewBy) {
			// A timestamp whose certificate ends no later than the ones it
			// would protect protects nothing, and renewing again and
			// again would only pile up signature fields.
			r.Failed = append(r.Failed, CardFinding{c.Number, fmt.Sprintf(
				"renewal due by %s, but the time-stamping certificate ends on %s, no later: rotate the TSA key first",
				rep.RenewBy.UTC().Format(time.RFC3339), r.TSANotAfter.UTC().Format(time.RFC3339))})
			return nil
		}
		due := CardFinding{c.Number, fmt.Sprintf("renewal due by %s", rep.RenewBy.UTC().Format(time.RFC3339))}
		if dryRun {
			r.Renewed = append(r.Renewed, due)
			return nil
		}
		if err := s.renewCard(ctx, c, seq, pdf, crlList(crls), now, ts, rep.RenewBy); err != nil {
			if ctx.Err() != nil {
				return err
			}
			r.Failed = append(r.Failed, CardFinding{c.Number, err.Error()})
			return nil
		}
		r.Renewed = append(r.Renewed, due)
		return nil
	})
	return r, err
}

// offlineGap says why a card that verifies online cannot be validated
// offline — with its /DSS alone (verifier Options.Offline), as
// 'cardseal verify --offline' does: a seal with no CRL current at its
// time, typically a card sealed while the server had no CRL installed.
// "" when it can be, or when the offline run could not check.
func offlineGap(ctx context.Context, tl *keys.TrustList, pdf []byte, number string, now time.Time) string {
	rep, err := verifier.VerifyContext(ctx, pdf, verifier.Options{
		Trust: tl, SealBoxes: CardSealBoxes(), DocID: number, Offline: true,
		Now: func() time.Time { return now },
	})
	if err != nil {
		return ""
	}
	for _, sl := range rep.Seals {
		for _, ck := range sl.Checks {
			if !ck.OK && ck.Name == verifier.CheckRevocation {
				return fmt.Sprintf("cannot be validated offline: seal %d: %s", sl.Index, ck.Reason)
			}
		}
	}
	return ""
}

// renewCard appends the archive revisions to one card and stores them.
func (s *Service) renewCard(ctx context.Context, c *card.Card, seq int, pdf []byte, crls crlList, now time.Time, ts signer.DocTimestamper, due time.Time) error {
	out, err := signer.AddLTV(ctx, pdf, crls.der(), ts, now)
	if err != nil {
		return fmt.Errorf("archive timestamp: %w", err)
	}
	ev := audit.Event{Actor: ArchiveActor, OrgCode: c.CountyCode, Action: audit.CardArchive, CardID: c.ID,
		Reason: "存档时间戳续期"}
	ev.Detail = fmt.Appendf(nil, `{"seq":%d,"renew_by":%q}`, seq+1, due.UTC().Format(time.RFC3339))
	return s.reg.AddArchive(ctx, c.ID, seq, out, ev)
}

// AddArchive stores an archive revision encrypted, as every revision.
func (v vault) AddArchive(ctx context.Context, cardID string, expectSeq int, pdf []byte, ev audit.Event) error {
	enc, err := v.seal(pdfSlot(cardID, expectSeq+1), pdf)
	if err != nil {
		return err
	}
	return v.Registry.AddArchive(ctx, cardID, expectSeq, enc, ev)
}
