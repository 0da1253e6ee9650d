// Package lifecycle owns the path of a card from application to check:
// rendering revision 0 with its signed QR token, applying each level's
// seal with the organisation's key, and (with a store) the registry's
// statuses — draft, issued, voided, revoked, superseded.
package lifecycle

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/token"
)

// Draft is what rendering needs to know of a new card.
type Draft struct {
	CardID    uint64
	Number    string // 16 digits
	Applicant *card.Applicant
	IssueDate time.Time
	Salt      [8]byte
	// StatusIndex is the card's position in the status list.
	StatusIndex int
}

// Rendered is revision 0 of a card.
type Rendered struct {
	PDF              []byte
	Token            string
	URL              string
	VerificationCode string
	Claims           *token.Claims
}

// NewCardID returns a random, unguessable card id.
func NewCardID() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return binary.BigEndian.Uint64(b[:]) | 1
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
// QR code whose token the platform key signs.
func Render(ks keys.Store, d *Draft, publicURL string) (*Rendered, error) {
	v, t, c, err := Orgs(ks, d.Applicant.Village)
	if err != nil {
		return nil, err
	}
	plat, err := ks.PlatformIdentity()
	if err != nil {
		return nil, fmt.Errorf("platform key: %w", err)
	}
	claims := &token.Claims{
		CardID:    d.CardID,
		Number:    d.Number,
		Type:      d.Applicant.Type,
		County:    c.Code,
		IssueDate: d.IssueDate,
		Salt:      d.Salt,

		StatusIndex: d.StatusIndex,
	}
	claims.BindHolders(d.Applicant.Male.IDNumber, d.Applicant.Female.IDNumber)
	tok, err := token.Sign(claims, plat)
	if err != nil {
		return nil, err
	}
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
	})
	if err != nil {
		return nil, err
	}
	return &Rendered{PDF: pdf, Token: tok, URL: u, VerificationCode: vc, Claims: claims}, nil
}

// China is the time zone of dates printed on cards.
var China = time.FixedZone("CST", 8*3600)
