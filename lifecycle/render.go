// Package lifecycle owns the path of a card from application to check:
// rendering revision 0 with its QR token, applying each level's
// seal with the organisation's key, and (with a store) the registry's
// statuses — draft, issued, voided, revoked, superseded.
package lifecycle

import (
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
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

// Orgs resolves the village, township and county of a village code.
func Orgs(ks keys.Store, village string) (v, t, c keys.Org, err error) {
	if v, err = ks.Org(village); err != nil {
		return
	}
	if v.Level != keys.Village {
		err = fmt.Errorf("%w: %s is not a village-level organisation", keys.ErrUnknownOrg, village)
		return
	}
	if t, err = ks.Org(village[:9]); err != nil {
		return
	}
	c, err = ks.Org(village[:6])
	return
}

// Render draws revision 0 of a card: the fields, the seal boxes and the
// QR code with the verification URL of a fresh version-2 token. Nothing
// in the token depends on the draft: it is random (docs/qr-token.md).
func Render(ks keys.Store, d *Draft, publicURL string) (*Rendered, error) {
	v, t, c, err := Orgs(ks, d.Applicant.Village)
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
	})
	if err != nil {
		return nil, err
	}
	return &Rendered{PDF: pdf, Token: tok, URL: u, VerificationCode: vc}, nil
}

// China is the time zone of dates printed on cards.
var China = time.FixedZone("CST", 8*3600)
