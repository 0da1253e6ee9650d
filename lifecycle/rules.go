package lifecycle

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

// Who may do what to a card: Allowed is the one answer. Every entry point
// (JSON API, console, command line) calls the Service, and every Service
// method asks Allowed before it changes or shows anything; the console
// asks it too to decide which buttons to offer. Nothing else in the tree
// decides a permission.

// Errors of the rules. Each refusal wraps exactly one of them; package api
// maps them to HTTP statuses.
var (
	// ErrForbidden: the card lies outside the actor's jurisdiction, or
	// belongs to another county.
	ErrForbidden = errors.New("not permitted for this organisation")
	// ErrLevel: the actor's level may never do this (only the county
	// voids, for instance).
	ErrLevel = errors.New("not permitted at this level")
	// ErrWrongLevel: the card awaits a lower level's seal first.
	ErrWrongLevel = errors.New("the card awaits another level's seal")
	// ErrSealed: the actor's level has sealed the card already.
	ErrSealed = errors.New("this level has sealed the card already")
	// ErrStagePassed: the card has moved past the actor's level; only
	// the level whose turn it is, or a higher one, may still act on the
	// application (refuse it, change its materials, give a notice).
	ErrStagePassed = errors.New("the card has passed this level's review")
	// ErrState: the card's status does not allow the action.
	ErrState = errors.New("the card's status does not allow this")
	// ErrRetired: the actor's organisation is retired (merged, closed)
	// and applies no new seal and gives no new document. Seals it
	// applied before keep verifying.
	ErrRetired = errors.New("the organisation is retired")
	// ErrNoCommitment: only a re-birth card whose couple made a written
	// commitment (Art. 10) may be revoked (Art. 20); another card that
	// must end is voided or superseded.
	ErrNoCommitment = errors.New("only a re-birth card whose couple made a commitment may be revoked (Art. 20)")
)

// Actor is who acts: a staff member of an organisation, as the registry
// has it now (its retirement included), from an address.
type Actor struct {
	Username   string
	Org        org.Org
	RemoteAddr string
}

// Action is something an actor may do to a card.
type Action string

const (
	TakeApplication Action = "apply"            // record an application for a village (Art. 3, 14)
	ReadCard        Action = "read"             // the full application, its PDF, notices, forms and materials
	SealCard        Action = "seal"             // approve and apply the actor's level's seal (Art. 15)
	ApproveCard     Action = "approve"          // approve at any time; the seal follows the lower level's (Art. 15)
	ChangeMaterials Action = "materials"        // record how the materials are satisfied (Art. 8-10)
	ReviewMaterial  Action = "materials.review" // accept a material sent, or find it deficient with a reason (Art. 15, 19)
	GiveNotice      Action = "notice"           // the one-time notice (Art. 19)
	RefuseCard      Action = "refuse"           // refuse in writing (Art. 11)
	VoidCard        Action = "void"             // 作废 (Art. 22)
	RevokeCard      Action = "revoke"           // 取消 (Art. 20)
	SupersedeCard   Action = "supersede"        // 换发 (Art. 16)
	DrawForm        Action = "form.draw"        // draw up the re-birth approval form (Art. 17)
	SealForm        Action = "form.seal"        // seal the re-birth approval form, in any order (补盖)
	ExportCards     Action = "export"           // export the registry for the population database (Art. 23)
	ReadReports     Action = "report"           // the overdue report (Art. 19, 24)
	ExportCredit    Action = "credit"           // the revoked cards for the social credit system (Art. 20)
	// ManagePopulation: import the county's population-register extract
	// and compare the cards with it (Art. 9, 23); c names the county
	// (CountyCode).
	ManagePopulation Action = "population"
	// PostCard: record that the official card was printed or posted to
	// the holder who asked (Art. 16).
	PostCard Action = "post"
	// PreReview: the village or the township reports a re-birth
	// application to the county's pre-review list (预审上报, Art. 17).
	PreReview Action = "prereview"
	// IssueDirect: the county issues a re-birth card on its pre-review
	// list directly, with its seal alone (Art. 17); also needs the card
	// on the list (OnPreReviewList).
	IssueDirect Action = "issue.direct"
	// MarkCrossProvince: record, with the reason, that another province
	// must verify the couple's facts (20 working days) or that it need
	// not (10) (Art. 19).
	MarkCrossProvince Action = "cross-province"
)

// Actions lists every action, for the permission table's tests.
var Actions = []Action{TakeApplication, ReadCard, SealCard, ApproveCard, ChangeMaterials, ReviewMaterial, GiveNotice, RefuseCard,
	VoidCard, RevokeCard, SupersedeCard, DrawForm, SealForm, ExportCards, ReadReports, ExportCredit, ManagePopulation, PostCard,
	PreReview, IssueDirect, MarkCrossProvince}

// statusesFor are the card statuses each action needs. TakeApplication,
// ExportCards and ReadReports act on no existing card.
var statusesFor = map[Action][]card.Status{
	ReadCard:        card.Statuses,
	SealCard:        {card.StatusDraft},
	ApproveCard:     {card.StatusDraft},
	ChangeMaterials: {card.StatusDraft},
	ReviewMaterial:  {card.StatusDraft},
	GiveNotice:      {card.StatusDraft},
	RefuseCard:      {card.StatusDraft},
	VoidCard:        {card.StatusIssued},
	RevokeCard:      {card.StatusIssued},
	SupersedeCard:   {card.StatusIssued},
	DrawForm:        {card.StatusDraft},
	// The lower levels add their seals to the form after the county
	// (补盖), also once the card is issued; never on a card that was
	// refused or has ended.
	SealForm:          {card.StatusDraft, card.StatusIssued},
	PostCard:          {card.StatusIssued},
	PreReview:         {card.StatusDraft},
	IssueDirect:       {card.StatusDraft},
	MarkCrossProvince: {card.StatusDraft},
}

// writes are the actions that apply a seal or issue a document: a
// retired organisation does none of them.
var writes = []Action{TakeApplication, SealCard, ApproveCard, ChangeMaterials, ReviewMaterial, GiveNotice, RefuseCard,
	VoidCard, RevokeCard, SupersedeCard, DrawForm, SealForm, PostCard, PreReview, IssueDirect, MarkCrossProvince}

// Allowed reports whether the actor may do act to card c, nil if so and
// otherwise an error wrapping one of the errors above. For
// TakeApplication, c carries only the village the application names; for
// ExportCards nil or the division code exported as its VillageCode; for
// ReadReports and ExportCredit c is nil.
func Allowed(a Actor, c *card.Card, act Action) error {
	if a.Org.Retired && slices.Contains(writes, act) {
		return fmt.Errorf("%w: %s %s", ErrRetired, a.Org.Code, a.Org.Name)
	}
	switch act {
	case ExportCards:
		// Art. 23: every level compares its own jurisdiction's cards
		// with the population database; c, if given, names the part of
		// the jurisdiction exported (its VillageCode a division code).
		if c != nil && !a.Org.Contains(c.VillageCode) {
			return fmt.Errorf("%w: %s lies outside %s", ErrForbidden, c.VillageCode, a.Org.Code)
		}
		return nil
	case ManagePopulation:
		if a.Org.Level != org.County {
			return fmt.Errorf("%w: only county staff %s", ErrLevel, act)
		}
		if c == nil || c.CountyCode != a.Org.Code {
			return fmt.Errorf("%w: the population register of county %s", ErrForbidden, countyOf(c))
		}
		return nil
	case ReadReports, ExportCredit:
		if a.Org.Level != org.County {
			return fmt.Errorf("%w: only county staff %s", ErrLevel, act)
		}
		return nil
	case TakeApplication:
		if c == nil || !a.Org.Contains(c.VillageCode) {
			return fmt.Errorf("%w: village %s lies outside %s", ErrForbidden, villageOf(c), a.Org.Code)
		}
		return nil
	}
	if c == nil {
		return fmt.Errorf("%w: %s needs a card", ErrState, act)
	}
	statuses, ok := statusesFor[act]
	if !ok {
		return fmt.Errorf("%w: unknown action %q", ErrState, act)
	}
	switch act {
	case VoidCard, RevokeCard, SupersedeCard, DrawForm, IssueDirect:
		// The issuing county's acts (Art. 6, 16, 17, 20, 22).
		if a.Org.Level != org.County {
			return fmt.Errorf("%w: only the county may %s", ErrLevel, act)
		}
		if a.Org.Code != c.CountyCode {
			return fmt.Errorf("%w: card of county %s", ErrForbidden, c.CountyCode)
		}
	case PreReview:
		// The levels below the county report to it (预审上报).
		if a.Org.Level != org.Village && a.Org.Level != org.Township {
			return fmt.Errorf("%w: only the village and the township %s", ErrLevel, act)
		}
		if !a.Org.Contains(c.VillageCode) {
			return fmt.Errorf("%w: card of village %s", ErrForbidden, c.VillageCode)
		}
	default:
		if !a.Org.Contains(c.VillageCode) {
			return fmt.Errorf("%w: card of village %s", ErrForbidden, c.VillageCode)
		}
	}
	if !slices.Contains(statuses, c.Status) {
		return fmt.Errorf("%w: card is %s", ErrState, c.Status)
	}
	if act == RevokeCard && (c.Type != card.Rebirth || !c.Commitment) {
		return fmt.Errorf("%w: a %s card, commitment %t", ErrNoCommitment, c.Type, c.Commitment)
	}
	switch act {
	case PreReview, IssueDirect:
		// Art. 17: a re-birth application not yet sealed by anyone;
		// once the village has sealed, the card follows the ordinary
		// chain.
		if c.Type != card.Rebirth {
			return fmt.Errorf("%w: a %s card is never issued directly", ErrState, c.Type)
		}
		if c.NextLevel != org.Village || c.Seq != 0 {
			return fmt.Errorf("%w: the card carries seals and follows the ordinary chain", ErrState)
		}
	case SealCard:
		switch r := rank(a.Org.Level); {
		case r < rank(c.NextLevel):
			return fmt.Errorf("%w: the card awaits the %s level", ErrSealed, c.NextLevel)
		case r > rank(c.NextLevel):
			return fmt.Errorf("%w: the card awaits the %s level", ErrWrongLevel, c.NextLevel)
		}
	case ApproveCard:
		// Simultaneous review (网上同时审核): every level of the
		// jurisdiction approves whenever it likes, once, until it has
		// sealed.
		if rank(a.Org.Level) < rank(c.NextLevel) {
			return fmt.Errorf("%w: the card awaits the %s level", ErrSealed, c.NextLevel)
		}
	case ChangeMaterials, ReviewMaterial, GiveNotice, RefuseCard, MarkCrossProvince:
		// The level whose turn it is, or a higher one of the same
		// jurisdiction: a lower level may not override a stage that
		// has moved past it.
		if rank(a.Org.Level) < rank(c.NextLevel) {
			return fmt.Errorf("%w: the card is with the %s level", ErrStagePassed, c.NextLevel)
		}
	}
	return nil
}

// ErrNotPreReviewed: the county issues a re-birth card directly only
// from its pre-review list (Art. 17).
var ErrNotPreReviewed = errors.New("the card is not on the pre-review list (Art. 17)")

// OnPreReviewList is the rest of IssueDirect's rule, on the card's
// pre-review reports (Registry.PreReviews): at least one, by the village
// or the township of the card. It returns the report the direct card's
// seal names: the township's if it reported, else the village's.
func OnPreReviewList(c *card.Card, reports []card.PreReview) (card.PreReview, error) {
	var best card.PreReview
	for _, p := range reports {
		if p.CardID != c.ID || !strings.HasPrefix(c.VillageCode, p.OrgCode) {
			continue
		}
		if best.ID == "" || rank(p.Level) > rank(best.Level) {
			best = p
		}
	}
	if best.ID == "" {
		return card.PreReview{}, fmt.Errorf("%w: card %s", ErrNotPreReviewed, c.Number)
	}
	return best, nil
}

// rank orders the levels, village lowest; an unknown level ranks below
// every level.
func rank(l org.Level) int { return slices.Index(org.Levels, l) }

func villageOf(c *card.Card) string {
	if c == nil {
		return "(none)"
	}
	return c.VillageCode
}

func countyOf(c *card.Card) string {
	if c == nil {
		return "(none)"
	}
	return c.CountyCode
}
