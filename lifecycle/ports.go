package lifecycle

import (
	"context"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/throttle"
)

// The storage the lifecycle needs, one small interface per kind of
// record. Package store implements every one of them on SQLite and
// PostgreSQL; tests use the in-memory registry of package lifecycletest,
// which a contract test holds to the store's behaviour. A port keeps
// records and enforces their integrity (unique keys, a revision that
// moved on); it decides no rule.

// Cards keeps card records.
type Cards interface {
	// CreateCard inserts c with PDF revision 0 and the audit event in
	// one transaction. It sets c's Seq, Version and times. If c has a
	// CoupleKey and the registry holds an issued card with the same
	// CoupleKey and Type other than c.Replaces, nothing is stored and
	// the error wraps card.ErrHeld; the check is inside the transaction.
	CreateCard(ctx context.Context, c *card.Card, pdf0 []byte, ev audit.Event) error
	GetCard(ctx context.Context, id string) (card.Card, error)
	GetCardByNumber(ctx context.Context, number string) (card.Card, error)
	GetCardByToken(ctx context.Context, token string) (card.Card, error)
	// ListCards returns matching cards, oldest first.
	ListCards(ctx context.Context, f card.Filter) ([]card.Card, error)
	// SetStatus moves the card to status to if its status is one of from
	// (card.ErrConflict otherwise), recording reason, note and
	// supersededBy, and appends ev in the same transaction.
	SetStatus(ctx context.Context, cardID string, from []card.Status, to card.Status, reason, note, supersededBy string, ev audit.Event) error
	// UpdateApplicant replaces a draft card's encrypted application and
	// the time its file became complete (card.Card.CompleteAt; zero: not
	// complete) and appends ev (card.ErrConflict if the card is not a
	// draft). In the same transaction it cancels the approvals in force
	// of the levels that have not sealed the card: they approved another
	// application.
	UpdateApplicant(ctx context.Context, cardID string, applicant []byte, completeAt time.Time, ev audit.Event) error
	// SetCrossProvince records whether another province must verify a
	// draft card's facts, with staff's reason (non-empty), and appends
	// ev, in one transaction (card.ErrConflict if the card is not a
	// draft).
	SetCrossProvince(ctx context.Context, cardID string, on bool, reason string, ev audit.Event) error
	// StatusEntries returns every voided, revoked or superseded card's
	// status-list entry.
	StatusEntries(ctx context.Context) ([]card.StatusEntry, error)
	// NextCardNumber allocates the next card number of a county and
	// year: county code, four-digit year, six-digit sequence.
	NextCardNumber(ctx context.Context, countyCode string, year int) (string, error)
}

// Seals keeps the PDF revisions of cards and the records of their seals.
type Seals interface {
	// CurrentPDF returns the newest revision of the card's PDF.
	CurrentPDF(ctx context.Context, cardID string) (seq int, pdf []byte, err error)
	// PDF returns revision seq of the card's PDF.
	PDF(ctx context.Context, cardID string, seq int) ([]byte, error)
	// AddSeal commits PDF revision expectSeq+1 with its seal record, sets
	// the status to newStatus (draft or issued) and the awaited level to
	// next, and appends ev, atomically and serialised per card. It
	// returns card.ErrConflict if the card's newest revision is not
	// expectSeq, the card is not a draft, or the level is already
	// sealed, and card.ErrBarred if bar is not nil and another card of
	// the same couple (equal, non-empty CoupleKey) matches it; then
	// nothing changes. The bar is checked under locks that a concurrent
	// SetStatus of the barring card also takes.
	AddSeal(ctx context.Context, cardID string, expectSeq int, pdf []byte, seal card.Seal, newStatus card.Status, next org.Level, bar *card.CoupleBar, ev audit.Event) error
	// Seals returns the card's seal records in order.
	Seals(ctx context.Context, cardID string) ([]card.Seal, error)
	// AddArchive commits PDF revision expectSeq+1 of a card whose seal
	// chain is complete (issued, voided, revoked or superseded), with no
	// seal record: the same document with long-term validation data or
	// an archive timestamp appended (renew.go). It appends ev in the
	// same transaction, serialised per card. card.ErrConflict if the
	// card's newest revision is not expectSeq or the card is a draft or
	// refused; then nothing changes.
	AddArchive(ctx context.Context, cardID string, expectSeq int, pdf []byte, ev audit.Event) error

	// Approve records ap as the approval in force of its level of the
	// card, replacing a cancelled one, and appends ev, in one
	// transaction serialised per card: card.ErrConflict if the card is
	// not a draft or the level has sealed it, card.ErrDuplicate if an
	// approval of the level is in force already; then nothing changes.
	Approve(ctx context.Context, ap card.Approval, ev audit.Event) error
	// Approvals returns the card's approvals, cancelled ones included,
	// village first.
	Approvals(ctx context.Context, cardID string) ([]card.Approval, error)
}

// Documents keeps the documents of a card's procedure: notices, the
// re-birth approval form and the materials citizens sent.
type Documents interface {
	// AddNotice stores a notice with the next seq of its card and
	// appends ev, in one transaction. A second missing-materials notice
	// with the same AppDigest is card.ErrDuplicate. If to is not empty
	// the card, which must be a draft (card.ErrConflict otherwise),
	// moves to that status with reason and the notice number as note.
	AddNotice(ctx context.Context, n *card.Notice, to card.Status, reason string, ev audit.Event) error
	// Notices returns the card's notices in order, without their PDFs.
	Notices(ctx context.Context, cardID string) ([]card.Notice, error)
	// GetNotice returns one notice with its PDF.
	GetNotice(ctx context.Context, cardID string, seq int) (card.Notice, error)

	// CreateForm stores a new form (seq 0) and appends ev; one form per
	// card (card.ErrDuplicate).
	CreateForm(ctx context.Context, f *card.Form, ev audit.Event) error
	GetForm(ctx context.Context, id string) (card.Form, error)
	// UpdateForm replaces the form's PDF with a new revision if its seq
	// is still expectSeq (card.ErrConflict otherwise), and appends ev.
	UpdateForm(ctx context.Context, id string, expectSeq int, pdf []byte, ev audit.Event) error
	// CardForm returns the form of a card (card.ErrNotFound if none).
	CardForm(ctx context.Context, cardID string) (card.Form, error)

	// AddAttachments stores a card's attachments, numbered on from the
	// existing ones, in one transaction; an attachment whose Seq is set
	// must get that number (card.ErrConflict otherwise).
	AddAttachments(ctx context.Context, cardID string, atts []card.Attachment) error
	// Attachments returns the card's attachments in order.
	Attachments(ctx context.Context, cardID string) ([]card.Attachment, error)
}

// Orgs is the registry of organisations: the one source of their names,
// levels and retirement.
type Orgs interface {
	GetOrg(ctx context.Context, code string) (org.Org, error)
	ListOrgs(ctx context.Context) ([]org.Org, error)
	CreateOrg(ctx context.Context, o org.Org) error
	// UpdateOrg sets the name and retired flag of the organisation with
	// o.Code.
	UpdateOrg(ctx context.Context, o org.Org) error
}

// AuditLog is the hash-chained audit log.
type AuditLog interface {
	// AppendAudit appends an event not tied to another write (a staff
	// read of personal data, an export) and returns its ID.
	AppendAudit(ctx context.Context, ev audit.Event) (int64, error)
	// AuditEvents returns up to limit events, newest first; all events
	// if cardID is empty, else the card's.
	AuditEvents(ctx context.Context, cardID string, limit int) ([]audit.Event, error)
}

// Quotas counts requests against limits shared by every instance.
type Quotas interface {
	// Hit counts one request against key in the current fixed window of
	// length window and reports whether it is within limit.
	Hit(ctx context.Context, key string, window time.Duration, limit int) (allowed bool, err error)
}

// Budgets counts amounts against limits shared by every instance.
type Budgets interface {
	// Spend adds amount (1 to limit, at most 2³¹-1) to key's total in
	// the current fixed window of length window if the total stays
	// within limit, and reports whether it did; a refused amount is not
	// added.
	Spend(ctx context.Context, key string, window time.Duration, amount, limit int) (allowed bool, err error)
}

// Findings keeps the county's findings of a false commitment (Art. 20).
type Findings interface {
	// Revoke moves an issued card to revoked with f's reason and note,
	// stores f and appends ev, in one transaction (card.ErrConflict if
	// the card is not issued).
	Revoke(ctx context.Context, cardID string, f card.Finding, ev audit.Event) error
	// Findings returns the county's findings, by date of finding, then
	// card ID.
	Findings(ctx context.Context, countyCode string) ([]card.Finding, error)
}

// Population keeps each county's extract of the population register
// (Art. 9, 23): records found by a keyed digest of the ID number, kept
// encrypted (the lifecycle encrypts them; the store sees no ID number).
type Population interface {
	// ReplacePopulation replaces the county's extract by recs and
	// appends ev, in one transaction; keys are unique
	// (card.ErrDuplicate).
	ReplacePopulation(ctx context.Context, county string, recs []card.PopulationRecord, ev audit.Event) error
	// PopulationRecord returns the county's record under key
	// (card.ErrNotFound if none).
	PopulationRecord(ctx context.Context, county, key string) ([]byte, error)
}

// Postings keeps holders' requests to post the official card (Art. 16).
type Postings interface {
	// AddPosting stores a request (state requested) with the next seq
	// of its card and appends ev; card.ErrConflict while another request
	// of the card is not posted yet.
	AddPosting(ctx context.Context, p *card.Posting, ev audit.Event) error
	// UpdatePosting sets the state, posting date, carrier and tracking
	// number of request seq if its state is one of from
	// (card.ErrConflict otherwise), and appends ev.
	UpdatePosting(ctx context.Context, p card.Posting, from []string, ev audit.Event) error
	// Postings returns the card's requests in order.
	Postings(ctx context.Context, cardID string) ([]card.Posting, error)
	// OpenPostings returns the requests not yet posted of cards whose
	// village code starts with prefix, oldest first (at most 500).
	OpenPostings(ctx context.Context, prefix string) ([]card.Posting, error)
}

// PreReviews keeps the pre-review list of re-birth applications
// (预审上报, Art. 17).
type PreReviews interface {
	// AddPreReview stores p and appends ev in one transaction, setting
	// p.CreatedAt: card.ErrDuplicate if p's level reported the card
	// already, card.ErrConflict if the card is not a draft.
	AddPreReview(ctx context.Context, p *card.PreReview, ev audit.Event) error
	// PreReviews returns the card's reports, oldest first.
	PreReviews(ctx context.Context, cardID string) ([]card.PreReview, error)
	// PreReviewList returns the reports of the draft cards without a
	// seal whose village code starts with prefix, oldest first (at most
	// 500).
	PreReviewList(ctx context.Context, prefix string) ([]card.PreReview, error)
}

// Registry is every port the lifecycle uses; package store's DB is one.
// throttle.Store keeps the failure counts of holders' ID numbers
// (public.go).
type Registry interface {
	Cards
	Seals
	Documents
	Orgs
	AuditLog
	Quotas
	throttle.Store
	Budgets
	Findings
	Population
	Postings
	PreReviews
}
