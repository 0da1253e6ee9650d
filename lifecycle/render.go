package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/token"
)

// Draft is what rendering needs to know of a new card.
type Draft struct {
	Number    string // 16 digits
	Applicant *card.Applicant
	IssueDate time.Time
	// StatusIndex is the card's position in the status list, written
	// into revision 0 for offline checks (StatusIndex).
	StatusIndex int
	// IssuerLevel is the level of the card's issuing authority
	// (发证机关), printed on the card: the township or the county ("").
	IssuerLevel org.Level
}

// Rendered is revision 0 of a card.
type Rendered struct {
	PDF []byte
	// Token is the card's version-2 QR token, a fresh random handle: the
	// registry keeps it as the card's QR token and finds the card by it.
	Token            string
	URL              string
	VerificationCode string
}

// OrgSource finds organisations in the registry (Orgs is one).
type OrgSource interface {
	GetOrg(ctx context.Context, code string) (org.Org, error)
}

// OrgsOf resolves the village, township and county of a village code.
func OrgsOf(ctx context.Context, src OrgSource, village string) (v, t, c org.Org, err error) {
	if len(village) != org.Village.CodeLen() {
		err = fmt.Errorf("%w: %s is not a village code", org.ErrUnknown, village)
		return
	}
	if v, err = src.GetOrg(ctx, village); err != nil {
		return
	}
	if v.Level != org.Village {
		err = fmt.Errorf("%w: %s is not a village-level organisation", org.ErrUnknown, village)
		return
	}
	if t, err = src.GetOrg(ctx, village[:9]); err != nil {
		return
	}
	c, err = src.GetOrg(ctx, village[:6])
	return
}

// Render draws revision 0 of a card: the fields, the seal boxes and the
// QR code with the verification URL of a fresh version-2 token. Nothing
// in the token depends on the draft: it is random (docs/qr-token.md).
func Render(ctx context.Context, src OrgSource, d *Draft, publicURL string) (*Rendered, error) {
	v, t, c, err := OrgsOf(ctx, src, d.Applicant.Village)
	if err != nil {
		return nil, err
	}
	tok := token.NewHandle().String()
	u, err := token.URL(publicURL, tok)
	if err != nil {
		return nil, err
	}
	vc := token.VerificationCode(tok)
	pdf, err := templates.RenderCard(&templates.CardData{
		Number:           d.Number,
		Type:             d.Applicant.Type,
		Applicant:        d.Applicant,
		Village:          v,
		Township:         t,
		County:           c,
		IssueDate:        d.IssueDate,
		QRURL:            u,
		VerificationCode: vc,
		StatusIndex:      d.StatusIndex,
		IssuerLevel:      d.IssuerLevel,
	})
	if err != nil {
		return nil, err
	}
	return &Rendered{PDF: pdf, Token: tok, URL: u, VerificationCode: vc}, nil
}

// China is the time zone of dates printed on cards.
var China = time.FixedZone("CST", 8*3600)

// SeedOrgs records in the registry every organisation of certified (the
// keystore's seal certificates, keys.FileStore.SealOrgs) the registry
// lacks. The registry owns names and retirement afterwards; nothing is
// ever deleted, so old seals still resolve.
func SeedOrgs(ctx context.Context, reg Orgs, certified []org.Org) error {
	for _, o := range certified {
		if err := reg.CreateOrg(ctx, o); err != nil && !errors.Is(err, org.ErrDuplicate) {
			return fmt.Errorf("record organisation %s: %w", o.Code, err)
		}
	}
	return nil
}
