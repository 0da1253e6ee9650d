package card

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jilin-health/cardseal/org"
)

// The card as the registry keeps it: its record, its statuses, the
// records of its seals and the documents of its procedure. Package
// lifecycle decides what may happen to them; package store keeps them.

// Errors of the registry that callers branch on. Storage returns them
// (wrapped) for these conditions, whatever the backend.
var (
	// ErrNotFound: no such card, seal, notice, form or attachment.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the record changed under the caller — a stale
	// revision, a level already sealed, a status that moved on.
	ErrConflict = errors.New("conflict")
	// ErrDuplicate: a unique key is taken (card number, QR token, status
	// index, a second one-time notice for the same application).
	ErrDuplicate = errors.New("duplicate")
	// ErrBarred: a write refused because another card of the same couple
	// is in a state the caller named as barring it (a CoupleBar).
	ErrBarred = errors.New("barred by another card of the couple")
	// ErrHeld: a new card's couple holds an issued card of its type
	// already (other than the one the new card replaces).
	ErrHeld = errors.New("the couple holds an issued card of this type")
)

// CoupleBar names the cards of a couple that bar a write to another card
// of the couple: any card of type Type whose status is one of Statuses
// (lifecycle decides which; Art. 22: a voided re-birth card bars every
// seal of a re-birth card). The registry checks it inside the write's
// transaction, so a status change racing the write is seen by one of
// them.
type CoupleBar struct {
	Type     Type
	Statuses []Status
}

// Status is the lifecycle state of a card. The transitions between them
// are lifecycle's (lifecycle/rules.go).
type Status string

const (
	StatusDraft      Status = "draft"      // applied for; under review and being sealed level by level
	StatusIssued     Status = "issued"     // every seal of the chain applied
	StatusVoided     Status = "voided"     // 作废 (Art. 22)
	StatusRevoked    Status = "revoked"    // 取消 (Art. 20)
	StatusSuperseded Status = "superseded" // 换发 (Art. 16); SupersededBy names the new card
	StatusRefused    Status = "refused"    // 不予办理 (Art. 11)
)

// Statuses lists every status.
var Statuses = []Status{StatusDraft, StatusIssued, StatusVoided, StatusRevoked, StatusSuperseded, StatusRefused}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, x := range Statuses {
		if s == x {
			return true
		}
	}
	return false
}

// Chinese is the status as staff read it.
func (s Status) Chinese() string {
	switch s {
	case StatusDraft:
		return "审批中"
	case StatusIssued:
		return "已办结（有效）"
	case StatusVoided:
		return "已作废"
	case StatusRevoked:
		return "已取消"
	case StatusSuperseded:
		return "已换发"
	case StatusRefused:
		return "不予办理"
	}
	return string(s)
}

// Card is one fertility service card and its registry state. Personal
// data lives only inside Applicant, encrypted by lifecycle (SM4-GCM, the
// card ID as associated data); the registry treats it as opaque bytes.
//
// CoupleKey is a keyed digest of the couple (lifecycle computes it), so a
// couple's earlier cards are found (Filter.CoupleKey) without decrypting
// every applicant. It is empty for cards created before it was recorded.
type Card struct {
	ID           string // 16 lower-case hex digits, random (NewID)
	Number       string // printed card number, unique
	Type         Type
	Status       Status
	VillageCode  string // the applying village's significant division code
	CountyCode   string // the issuing county
	Applicant    []byte // the application, encrypted (never plaintext)
	QRToken      string // the token printed in the QR code; unique when set
	StatusIndex  int    // position in the status list, random and unique
	CoupleKey    string // keyed digest of the couple (see above); "" if not recorded
	SupersededBy string // ID of the card that replaced this one
	StatusReason string // reason class of the last status change
	StatusNote   string // free-text note of the last status change
	Seq          int    // newest PDF revision: 0 is the rendered card, n follows the nth seal
	// NextLevel is the level whose seal the card awaits ("" once issued
	// or closed). Lifecycle sets it from the card's chain policy on
	// every seal; the registry only keeps it, so queues are one index
	// lookup without knowing any policy.
	NextLevel org.Level
	// IssuerCode is the organisation that issues the card (发证机关): a
	// township or the county, by the issuer policy of the card's type
	// when it was made (lifecycle/issuer.go); "" on cards from before the
	// policy, which the county issued.
	IssuerCode string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	CreatedBy  string // username
	Version    int    // incremented on every change
	// Commitment: the couple made a written commitment (承诺, Art. 10)
	// in their application. Only a re-birth card with one may be revoked
	// (Art. 20). Recorded at application; false for older cards.
	Commitment bool
	// Terms are the card's search terms (lifecycle's keyed blind index
	// of the holders' names and ID numbers, docs/privacy.md "Search"):
	// read by CreateCard only, which stores them with the card; not read
	// back.
	Terms []string
	// Replaces is the ID of the issued card a new card is to replace
	// (换发, Art. 16): read by CreateCard only, not kept. A couple
	// holds one issued card per type; CreateCard refuses another
	// (ErrHeld) unless it replaces that one.
	Replaces string
	// CompleteAt is when the file became complete (材料齐全: every
	// required material satisfied, none awaiting review); the Art. 19
	// time limit counts from that day. Zero while materials are
	// missing, deficient or awaiting review. Lifecycle decides it
	// (lifecycle/deadline.go); the registry keeps it.
	CompleteAt time.Time
	// CrossProvince: staff found that another province must verify the
	// couple's facts, so the time limit is 20 working days, not 10
	// (Art. 19); CrossProvinceReason says why. Set only through
	// lifecycle's SetCrossProvince, never derived.
	CrossProvince       bool
	CrossProvinceReason string
}

// NewID returns a fresh random record ID (cards, forms): 16 hex digits,
// 64 bits, so IDs cannot be enumerated.
func NewID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("record id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// StatusListSize is the number of entries of the status list; a card's
// StatusIndex is below it. 2^24: a province that has issued a million
// cards has taken 6 % of the slots, so a new card's random index is
// free at the first or second draw (at 2^20 it would be taken 95 % of the
// time). The compressed list stays a few kilobytes.
const StatusListSize = 1 << 24

// RandomStatusIndex returns a uniformly random status-list index. Indexes
// are unique: if storing the card reports ErrDuplicate, draw another.
func RandomStatusIndex() (int, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(StatusListSize))
	if err != nil {
		return 0, fmt.Errorf("status index: %w", err)
	}
	return int(n.Int64()), nil
}

// Seal is the record of one seal applied to a card: revision Seq of the
// card's PDF was produced by this seal.
type Seal struct {
	CardID     string
	Seq        int // 1..n
	Level      org.Level
	OrgCode    string
	CertSerial string // serial of the seal certificate, hex
	SignedAt   time.Time
	PDFDigest  []byte // SM3 of the PDF revision this seal produced
	ByUser     string // username
	// The approval the seal carries out (Art. 15): when and by whom the
	// level approved the application. A level approves first and the
	// platform seals once the level below has sealed, so SignedAt may be
	// later; a seal applied at once has ApprovedAt = SignedAt. Zero for
	// seals from before approvals were recorded.
	ApprovedAt time.Time
	ApprovedBy string
}

// Approval is one level's approval of an application, recorded at any
// time while the card is under review (网上同时审核, Art. 15). The
// platform applies the level's seal once the level below has sealed. A
// change of the application after it cancels it (CancelledAt set).
type Approval struct {
	CardID      string
	Level       org.Level
	OrgCode     string
	ByUser      string
	ApprovedAt  time.Time
	CancelledAt time.Time // zero while the approval is in force
}

// InForce reports whether the approval still holds.
func (a Approval) InForce() bool { return a.CancelledAt.IsZero() }

// Filter selects cards. Zero fields do not filter.
type Filter struct {
	Statuses   []Status  // any of these
	CodePrefix string    // village code starts with this (a jurisdiction)
	CountyCode string    // issued by this county (6 digits, exact)
	CoupleKey  string    // exactly this Card.CoupleKey
	Awaiting   org.Level // drafts whose NextLevel is this
	// UnsealedBy: drafts that still await this level's seal, whatever
	// level's turn it is (NextLevel is this level or a lower one): the
	// queue of simultaneous review (Art. 15).
	UnsealedBy org.Level
	// SealedBy: drafts this level has sealed already, awaiting a higher
	// level's seal (the console's 已办).
	SealedBy org.Level
	// Terms: cards stored with any of these search terms (Card.Terms);
	// each is 32 lower-case hex digits.
	Terms []string
	// AfterID pages: only cards after this one in the listing's order
	// (created_at, then id). Pass the ID of the last card of the previous
	// page; a page shorter than Limit is the last. ErrNotFound if no such
	// card. A card committed during paging with a creation time before
	// the cursor is not seen, so an export pages over a settled period.
	AfterID string
	Limit   int // default 100, at most 1000
}

// StatusEntry is one entry of the status list: the card at Index is no
// longer good, for the reason Status (voided, revoked or superseded).
type StatusEntry struct {
	Index  int
	Status Status
}

// NoticeKind is the kind of a written notice of an application.
type NoticeKind string

const (
	NoticeMissing NoticeKind = "missing" // 一次性告知书 (Art. 19)
	NoticeRefusal NoticeKind = "refusal" // 不予办理告知书 (Art. 11)
)

// Notice is a sealed written notice given on an application (a draft card).
type Notice struct {
	CardID    string
	Seq       int // 1, 2, … per card, assigned when stored
	Kind      NoticeKind
	Number    string // the notice number printed and bound by the seal
	AppDigest string // SM3 of the application the notice was given on (hex)
	OrgCode   string // the receiving organisation that sealed it
	PDF       []byte
	CreatedAt time.Time
	CreatedBy string
}

// Form is a re-birth approval form (再生育审批表, Art. 17): its newest
// revision and the number of seals applied.
type Form struct {
	ID        string // 16 lower-case hex digits, random (NewID)
	CardID    string
	Number    string
	Seq       int
	PDF       []byte
	CreatedAt time.Time
	UpdatedAt time.Time
	CreatedBy string
}

// Attachment is a material sent online (Art. 16); Data is encrypted by
// lifecycle.
type Attachment struct {
	CardID      string
	Seq         int // assigned when stored
	Material    string
	ContentType string
	Size        int // plaintext size in bytes
	Data        []byte
	CreatedAt   time.Time
}

// Finding is the county's finding that a couple's commitment was false
// (Art. 20), recorded with the revocation of their re-birth card; the
// file for the social credit system (社会征信) lists them.
type Finding struct {
	CardID     string
	CountyCode string
	FoundOn    string // YYYY-MM-DD, the day of the finding (China time)
	Reason     string // the reason class
	Note       string
	RecordedBy string
	RecordedAt time.Time
}

// Posting states (Art. 16): the holder asked, the official card printed,
// posted.
const (
	PostingRequested = "requested"
	PostingPrinted   = "printed"
	PostingPosted    = "posted"
)

// Posting is a holder's request that the official card (正式证件) be
// posted (Art. 16), and what the receiving organisation did about it.
// Address is the encrypted address (lifecycle).
type Posting struct {
	CardID      string
	Seq         int // 1, 2, … per card, assigned when stored
	VillageCode string
	Address     []byte
	RequestedAt time.Time
	State       string
	PostedOn    string // YYYY-MM-DD
	Carrier     string
	Tracking    string
	UpdatedBy   string
	UpdatedAt   time.Time
}

// PreReview is a village's or township's pre-review report (预审上报) of
// a re-birth application to the county (Art. 17): with one on its list
// the county may issue the card directly, with its own seal alone. ID is
// what the direct card's seal names (seal.Claim.PreReview).
type PreReview struct {
	ID        string // 16 lower-case hex digits, random (NewID)
	CardID    string
	Level     org.Level // village or township
	OrgCode   string
	By        string
	CreatedAt time.Time
}
