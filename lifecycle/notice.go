package lifecycle

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/seal"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/workday"
)

// NoticeReason is the /Reason of the seal on a one-time or refusal
// notice (Art. 19, 11).
const NoticeReason = "受理单位出具书面告知"

// SealDocument applies the seal of the organisation to any cardseal document, in box (page 1, [llx lly urx ury] PDF
// points), under the given chain policy and bound to docID. The seal's
// reason is the level's (see Reason). Chain errors (order, repetition,
// jurisdiction, a complete chain) come back from the signer before
// anything is written.
func (s *Sealer) SealDocument(pdf []byte, o org.Org, docID string, policy chain.Policy, box [4]float64, at time.Time) ([]byte, error) {
	return s.sealIn(pdf, o, docID, policy, func(org.Level) [4]float64 { return box }, Reason, at)
}

// SealNotice applies the receiving organisation's seal, of any level, to
// a one-time notice or a refusal notice (templates.RenderNotice), in its
// one seal box. A notice takes one seal: a second is refused with
// chain.ErrComplete.
func (s *Sealer) SealNotice(pdf []byte, o org.Org, number string, at time.Time) ([]byte, error) {
	return s.sealIn(pdf, o, number, chain.Notice,
		func(org.Level) [4]float64 { return templates.NoticeSealBox() },
		func(org.Level) string { return NoticeReason }, at)
}

// SealRebirthForm applies a level's seal to a re-birth approval form
// (templates.RenderRebirthForm), in that level's box, under the
// chain.RebirthForm policy: the county may seal first from a
// pre-reviewed list and the village and township add their seals
// afterwards (补盖, Art. 17); each level once, all in one jurisdiction.
func (s *Sealer) SealRebirthForm(pdf []byte, o org.Org, number string, at time.Time) ([]byte, error) {
	return s.sealIn(pdf, o, number, chain.RebirthForm, templates.RebirthFormSealBox, Reason, at)
}

// sealIn is SealCard generalised over the policy, the box of each level
// and the seal's reason.
func (s *Sealer) sealIn(pdf []byte, o org.Org, docID string, policy chain.Policy, box func(org.Level) [4]float64, reason func(org.Level) string, at time.Time) ([]byte, error) {
	return s.sealClaiming(pdf, o, docID, policy, nil, box, reason, at)
}

// sealClaiming is sealIn with the seal's policy claim (seal.Claim), nil
// for a document that follows its type's ordinary policy.
func (s *Sealer) sealClaiming(pdf []byte, o org.Org, docID string, policy chain.Policy, claim *seal.Claim, box func(org.Level) [4]float64, reason func(org.Level) string, at time.Time) ([]byte, error) {
	id, err := s.Keys.SealIdentity(o.Code)
	if err != nil {
		return nil, err
	}
	app, err := s.appearance(o)
	if err != nil {
		return nil, err
	}
	return signer.Seal(pdf, &signer.Request{
		Identity:    id,
		Org:         o,
		Policy:      policy,
		Page:        0,
		Rect:        signer.Rect(box(o.Level)),
		Appearance:  app,
		Reason:      reason(o.Level),
		Location:    o.Name,
		DocID:       docID,
		Time:        at,
		Timestamper: s.Stamp,
		Claim:       claim,
	})
}

// NoticeSealBoxes are the rectangles a notice's seal may lie in, for the
// verifier (verifier.Options.SealBoxes): the one box, whatever the level
// of the receiving organisation.
func NoticeSealBoxes() map[org.Level][4]float64 {
	m := make(map[org.Level][4]float64, len(org.Levels))
	for _, l := range org.Levels {
		m[l] = templates.NoticeSealBox()
	}
	return m
}

// RebirthFormSealBoxes are the rectangles of a re-birth approval form's
// three seals, for the verifier.
func RebirthFormSealBoxes() map[org.Level][4]float64 {
	m := make(map[org.Level][4]float64, len(org.Levels))
	for _, l := range org.Levels {
		m[l] = templates.RebirthFormSealBox(l)
	}
	return m
}

// SealBoxes returns the seal boxes of the document type a chain policy
// belongs to (card, rebirth-form, notice), for the verifier; nil for a
// policy of no cardseal document.
func SealBoxes(p chain.Policy) map[org.Level][4]float64 {
	switch p.Name {
	case chain.Card.Name, chain.RebirthDirect.Name:
		return CardSealBoxes()
	case chain.RebirthForm.Name:
		return RebirthFormSealBoxes()
	case chain.Notice.Name:
		return NoticeSealBoxes()
	}
	return nil
}

// ErrNothingMissing is returned when a one-time notice is asked for an
// application that lacks nothing: Art. 19 wants it handled at once.
var ErrNothingMissing = errors.New("the application lacks no material (Art. 19: handle it at once)")

// ErrUnreviewed: a material sent online awaits staff's review, so what is
// missing is not yet known; the one-time notice must list everything at
// once (Art. 19), so it waits for the review.
var ErrUnreviewed = errors.New("materials sent online await review before the one-time notice (Art. 19)")

// NoticeNumber is the number of the n-th notice (n ≥ 1) of an
// application or card number: base + "-N" + n.
func NoticeNumber(base string, n int) string { return base + "-N" + strconv.Itoa(n) }

// RebirthFormNumber is the number of a re-birth approval form: the
// card or application number + "-F".
func RebirthFormNumber(base string) string { return base + "-F" }

// ApplicationDigest is a fingerprint of an application's content (hex
// SM3 of its JSON form). Art. 19 allows one one-time notice per
// application: a store keeps the digest with the notice and refuses a
// second notice while the digest is unchanged.
func ApplicationDigest(app *card.Applicant) (string, error) {
	b, err := json.Marshal(app) // struct fields in order, map keys sorted
	if err != nil {
		return "", err
	}
	d := sm3.Sum(b)
	return hex.EncodeToString(d[:]), nil
}

// receiving checks that the application's village lies in the
// jurisdiction of the organisation that received it.
func receiving(app *card.Applicant, o org.Org) (org.Org, error) {
	if !o.Contains(app.Village) {
		return org.Org{}, fmt.Errorf("%w: village %s lies outside %s", ErrForbidden, app.Village, o.Code)
	}
	return o, nil
}

// MissingNotice builds the one-time notice (一次性告知书, Art. 19) of an
// incomplete application, from the organisation that received it: every
// required material that is neither provided, nor verified from the
// population database (Art. 9), nor covered by the couple's commitment
// (Art. 10) — all of them, in the checklist's order, the deficient ones
// with their reasons (MissingItems). While a material sent online awaits
// review it is ErrUnreviewed.
// The notice prints the time limit dl.Limit: 20 working days when staff
// found that another province must verify (Card.CrossProvince), else 10,
// counted from the day the materials are complete (Art. 19); dl.Due, when
// the clock runs, is printed as the date the application will be decided
// by. An application that lacks nothing is ErrNothingMissing.
func MissingNotice(app *card.Applicant, by org.Org, number string, date time.Time, dl Deadline) (*templates.NoticeData, error) {
	o, err := receiving(app, by)
	if err != nil {
		return nil, err
	}
	if len(app.MaterialsIn(card.Submitted)) > 0 {
		return nil, ErrUnreviewed
	}
	missing := app.MissingMaterials()
	if len(missing) == 0 {
		return nil, ErrNothingMissing
	}
	return &templates.NoticeData{
		Kind: templates.NoticeMissing, Number: number,
		Male: app.Male.Name, Female: app.Female.Name, CardType: app.Type,
		Org: o, Date: date.In(China), Items: MissingItems(app),
		CrossProvince: dl.Limit == workday.LimitOtherProvince, DueDate: dl.Due,
	}, nil
}

// MissingItems are the items of an application's one-time notice: each
// unsatisfied material by name, in the checklist's order, a deficient
// one with the reason staff found it so.
func MissingItems(app *card.Applicant) []string {
	var out []string
	for _, m := range app.MissingMaterials() {
		it := m.Chinese()
		if app.Materials[m] == card.Deficient {
			it += "（已提交的材料不符合要求：" + app.MaterialNotes[m] + "）"
		}
		out = append(out, it)
	}
	return out
}

// RefusalNotice builds the written refusal (不予办理告知书, Art. 11) of an
// application by the organisation that received it, with its reasons (at
// least one, each non-empty).
func RefusalNotice(app *card.Applicant, by org.Org, number string, reasons []string, date time.Time) (*templates.NoticeData, error) {
	o, err := receiving(app, by)
	if err != nil {
		return nil, err
	}
	if len(reasons) == 0 {
		return nil, fmt.Errorf("%w: a refusal states its reasons (Art. 11)", ErrReason)
	}
	for _, r := range reasons {
		if strings.TrimSpace(r) == "" {
			return nil, fmt.Errorf("%w: an empty refusal reason", ErrReason)
		}
	}
	return &templates.NoticeData{
		Kind: templates.NoticeRefusal, Number: number,
		Male: app.Male.Name, Female: app.Female.Name, CardType: app.Type,
		Org: o, Date: date.In(China), Items: reasons,
	}, nil
}

// NewRebirthForm builds the re-birth approval form (再生育审批表, Art. 6,
// 17) of a re-birth application: the village, township and county come
// from the application's village code. Opinions may be nil (each level
// gets templates.DefaultOpinion).
func NewRebirthForm(ctx context.Context, src OrgSource, app *card.Applicant, number, reason, conditions string, opinions map[org.Level]string, date time.Time) (*templates.RebirthFormData, error) {
	if app.Type != card.Rebirth {
		return nil, fmt.Errorf("%w: a re-birth approval form needs a re-birth application, not %q", templates.ErrNoticeData, app.Type)
	}
	v, t, c, err := OrgsOf(ctx, src, app.Village)
	if err != nil {
		return nil, err
	}
	return &templates.RebirthFormData{
		Number: number, Applicant: app, Village: v, Township: t, County: c,
		Date: date.In(China), Reason: reason, Conditions: conditions, Opinions: opinions,
	}, nil
}
