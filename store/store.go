// Package store owns cardseal's persistence: organisations, staff users and
// their sessions, cards with every PDF revision and seal record, the card
// number counters, and the hash-chained audit log.
//
// Two backends implement one Store interface: SQLite (modernc.org/sqlite,
// pure Go, the embedded default) and PostgreSQL (pgx/v5). Open picks one
// from the URL and applies the embedded, versioned migrations.
//
// Sealing is the operation the package exists to get right: AddSeal commits
// a card's new PDF revision, its seal record, the status change and the
// audit event in one transaction that is serialised per card, so two staff
// sealing one card at once yield one seal and one ErrConflict, and a crash
// leaves the card exactly as it was.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
)

// Errors callers branch on. Every error the store returns for one of these
// conditions wraps the sentinel.
var (
	// ErrNotFound: the row does not exist (or a session has expired, or a
	// referenced row is missing).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the row changed under the caller — a stale seal
	// sequence, a level already sealed, a status that moved on.
	ErrConflict = errors.New("conflict")
	// ErrDuplicate: a unique key is taken (username, card number, QR token,
	// status index, organisation code).
	ErrDuplicate = errors.New("duplicate")
	// ErrInvalid: the caller passed a malformed value; nothing was written.
	ErrInvalid = errors.New("invalid argument")
	// ErrAuditBroken: VerifyAudit found an edited, deleted or reordered
	// audit event.
	ErrAuditBroken = errors.New("audit chain broken")
)

// Status is the lifecycle state of a card.
type Status string

const (
	StatusDraft      Status = "draft"      // applied for; being sealed level by level
	StatusIssued     Status = "issued"     // every seal of the chain applied
	StatusVoided     Status = "voided"     // 作废 (Art. 22)
	StatusRevoked    Status = "revoked"    // 取消 (Art. 20)
	StatusSuperseded Status = "superseded" // reissued (Art. 16); SupersededBy names the new card
	StatusRefused    Status = "refused"    // application refused
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

// Org is an organisation that applies seals.
type Org struct {
	Code    string // significant division code (6, 9 or 12 digits)
	Level   keys.Level
	Name    string
	Retired bool // no longer seals; kept so old seals still resolve
}

// Key returns the organisation in the keys package's terms.
func (o Org) Key() keys.Org { return keys.Org{Code: o.Code, Level: o.Level, Name: o.Name} }

// User is a staff member. Each belongs to one organisation.
type User struct {
	ID           int64
	Username     string
	OrgCode      string
	PasswordHash string // argon2id or bcrypt, encoded; never the password
	Disabled     bool
	FailedLogins int
	LockedUntil  time.Time // zero: not locked
}

// Session is a logged-in staff session. Only the hash of the bearer token
// is stored, so a database dump does not yield usable tokens.
type Session struct {
	TokenHash []byte // SHA-256 or SM3 of the bearer token, 32 bytes
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Card is one fertility service card and its registry state. Personal
// data lives only inside Applicant, which the store treats as opaque bytes.
//
// CoupleKey is a keyed digest of the couple, computed by the caller as 1
// to 64 lower-case hex digits and opaque to the store, so the lifecycle
// finds a couple's earlier cards (CardFilter.CoupleKey) without decrypting
// every applicant. It is empty for cards created before it was recorded.
type Card struct {
	ID           string // 16 lower-case hex digits, random (see NewCardID)
	Number       string // printed card number, unique (see NextCardNumber)
	Type         card.Type
	Status       Status
	VillageCode  string // the applying village's significant division code
	CountyCode   string // the issuing county
	Applicant    []byte // the applicant record as JSON (encrypted by the caller)
	TokenSalt    []byte // salt of the QR token's holder digest
	QRToken      string // the token printed in the QR code; unique when set
	StatusIndex  int    // position in the status list, random and unique (see RandomStatusIndex)
	CoupleKey    string // the caller's keyed digest of the couple (see above); "" if not recorded
	SupersededBy string // ID of the card that replaced this one
	StatusReason string // reason class of the last status change
	StatusNote   string // free-text note of the last status change
	Seq          int    // newest PDF revision: 0 is the rendered card, n follows the nth seal
	CreatedAt    time.Time
	UpdatedAt    time.Time
	CreatedBy    string // username
	Version      int    // incremented on every change
}

// Seal is the record of one seal applied to a card: revision Seq of the
// card's PDF was produced by this seal.
type Seal struct {
	CardID     string
	Seq        int // 1..n
	Level      keys.Level
	OrgCode    string
	CertSerial string // serial of the seal certificate, hex
	SignedAt   time.Time
	PDFDigest  []byte // SM3 of the PDF revision this seal produced
	ByUser     string // username
}

// AuditEvent is one entry of the audit log: who did what, when, why and
// from where. Hash = SM3(PrevHash || canonical encoding), so the events
// form a chain that VerifyAudit checks.
type AuditEvent struct {
	ID         int64 // assigned by the store, 1, 2, 3, … without gaps
	At         time.Time
	Actor      string // username, or a fixed name for the public ("public", "system")
	OrgCode    string
	Action     string // e.g. "card.create", "card.seal", "card.void", "user.login"
	CardID     string
	Reason     string
	Detail     json.RawMessage // optional JSON object
	RemoteAddr string
	PrevHash   []byte
	Hash       []byte
}

// CardFilter selects cards for ListCards. Zero fields do not filter.
type CardFilter struct {
	Statuses   []Status   // any of these
	CodePrefix string     // village code starts with this (a jurisdiction)
	CountyCode string     // issued by this county (6 digits, exact)
	CoupleKey  string     // exactly this Card.CoupleKey
	Awaiting   keys.Level // draft cards whose next seal under chain.Card is this level
	// AfterID pages: only cards after this one in ListCards' order
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

// Store is cardseal's persistence. Implementations are safe for concurrent
// use.
type Store interface {
	// Procedures: notices, re-birth approval forms, attachments (notices.go).
	Procedures

	CreateOrg(ctx context.Context, o Org) error
	GetOrg(ctx context.Context, code string) (Org, error)
	ListOrgs(ctx context.Context) ([]Org, error)
	// UpdateOrg sets the name and retired flag of the organisation with
	// o.Code (rename, retire, reinstate). The level follows from the code.
	UpdateOrg(ctx context.Context, o Org) error

	// CreateUser inserts u and sets u.ID.
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id int64) (User, error)
	GetUserByName(ctx context.Context, username string) (User, error)
	// UpdateUserLogin records the outcome of a login attempt.
	UpdateUserLogin(ctx context.Context, id int64, failedLogins int, lockedUntil time.Time) error
	// ListUsers returns the users of the organisations whose code starts
	// with orgPrefix (all users if empty), by organisation then username.
	ListUsers(ctx context.Context, orgPrefix string) ([]User, error)
	// SetUserPassword replaces the password hash and clears FailedLogins
	// and LockedUntil. It does not end the user's sessions.
	SetUserPassword(ctx context.Context, id int64, hash string) error
	// SetUserDisabled disables or re-enables a user. It does not end the
	// user's sessions; callers check User.Disabled on every request.
	SetUserDisabled(ctx context.Context, id int64, disabled bool) error

	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session unless it is missing or expired
	// (both ErrNotFound).
	GetSession(ctx context.Context, tokenHash []byte) (Session, error)
	DeleteSession(ctx context.Context, tokenHash []byte) error
	DeleteExpiredSessions(ctx context.Context) (int64, error)

	// CreateCard inserts c with PDF revision 0 and the audit event in one
	// transaction. It sets c's Seq, Version and times.
	CreateCard(ctx context.Context, c *Card, pdf0 []byte, ev AuditEvent) error
	GetCard(ctx context.Context, id string) (Card, error)
	GetCardByNumber(ctx context.Context, number string) (Card, error)
	GetCardByToken(ctx context.Context, token string) (Card, error)
	// CurrentPDF returns the newest revision of the card's PDF.
	CurrentPDF(ctx context.Context, cardID string) (seq int, pdf []byte, err error)
	// PDF returns revision seq of the card's PDF.
	PDF(ctx context.Context, cardID string, seq int) ([]byte, error)
	// ListCards returns matching cards, oldest first.
	ListCards(ctx context.Context, f CardFilter) ([]Card, error)
	// StatusEntries returns every card that is voided, revoked or
	// superseded, by index, without a limit: the entries of the signed
	// status list. It reads one partial index that holds only those cards.
	StatusEntries(ctx context.Context) ([]StatusEntry, error)

	// AddSeal commits PDF revision expectSeq+1 with its seal record, sets
	// the status to newStatus (draft or issued) and appends ev, atomically
	// and serialised per card. It returns ErrConflict if the card's newest
	// revision is not expectSeq, the card is not a draft, or the level is
	// already sealed; then nothing changes.
	AddSeal(ctx context.Context, cardID string, expectSeq int, pdf []byte, seal Seal, newStatus Status, ev AuditEvent) error
	// SetStatus moves the card to status to if its status is one of from
	// (ErrConflict otherwise), recording reason, note and supersededBy,
	// and appends ev in the same transaction.
	SetStatus(ctx context.Context, cardID string, from []Status, to Status, reason, note, supersededBy string, ev AuditEvent) error
	// Seals returns the card's seal records in order.
	Seals(ctx context.Context, cardID string) ([]Seal, error)

	// AppendAudit appends an event not tied to another write (a login, a
	// staff read of personal data) and returns its ID.
	AppendAudit(ctx context.Context, ev AuditEvent) (int64, error)
	// AuditEvents returns up to limit events, newest first; all events if
	// cardID is empty, else the card's.
	AuditEvents(ctx context.Context, cardID string, limit int) ([]AuditEvent, error)
	// VerifyAudit recomputes the hash chain. On a break it returns the ID
	// of the first bad (edited, reordered or missing) event and an error
	// wrapping ErrAuditBroken; any other error means it could not check.
	VerifyAudit(ctx context.Context) (badID int64, err error)
	// AuditChain calls fn with every audit event in ID order and returns
	// the chain head (the ID and hash of the newest event as the store
	// recorded them), all read from one snapshot. An error from fn stops
	// the walk and is returned. Package audit checks the chain with it.
	AuditChain(ctx context.Context, fn func(AuditEvent) error) (headID int64, headHash []byte, err error)
	// SignAuditHead signs the chain head with the platform identity and
	// stores the checkpoint, after checking the events since the newest
	// checkpoint (ErrAuditBroken if they do not hold). An empty log is
	// ErrNotFound; an identity without a platform certificate ErrInvalid.
	SignAuditHead(ctx context.Context, id *keys.Identity) (AuditCheckpoint, error)
	// AuditCheckpoints returns every checkpoint, oldest first.
	AuditCheckpoints(ctx context.Context) ([]AuditCheckpoint, error)
	// LastAuditCheckpoint returns the checkpoint covering the newest
	// event, ErrNotFound if there is none.
	LastAuditCheckpoint(ctx context.Context) (AuditCheckpoint, error)

	// NextCardNumber allocates the next card number of a county and year:
	// county code, four-digit year, six-digit sequence.
	NextCardNumber(ctx context.Context, countyCode string, year int) (string, error)

	// Hit counts one request against key in the current fixed window of
	// length window and reports whether it is within limit. The counter
	// lives in the database, so every instance sharing it shares the
	// limit; concurrent hits are counted atomically and never allow more
	// than limit per window. Windows are aligned to multiples of window
	// since the Unix epoch on the calling instance's clock.
	Hit(ctx context.Context, key string, window time.Duration, limit int) (allowed bool, err error)
	// DeleteExpiredRateLimits removes the counters of windows that have
	// ended (Hit already prunes a key's old windows when it opens a new
	// one; this sweeps keys that were not seen again).
	DeleteExpiredRateLimits(ctx context.Context) (int64, error)

	Close() error
}

// Open opens the store named by url and applies pending migrations.
// "postgres://…" or "postgresql://…" selects PostgreSQL; "sqlite:///abs/path",
// "sqlite://rel/path" or a plain file path selects SQLite.
func Open(ctx context.Context, url string) (Store, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	case strings.HasPrefix(url, "sqlite://"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite://"))
	case strings.HasPrefix(url, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite:"))
	case strings.Contains(url, "://"):
		return nil, fmt.Errorf("open store: %w: unsupported database URL scheme in %q", ErrInvalid, redact(url))
	}
	return openSQLite(ctx, url)
}

// redact drops the password of a URL for error messages.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return url
	}
	userinfo := url[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return url[:scheme+3] + userinfo[:i] + ":xxxxx" + url[at:]
	}
	return url
}

// NewCardID returns a fresh random card ID: 16 hex digits (64 bits), so
// IDs cannot be enumerated.
func NewCardID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("card id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// StatusListSize is the number of entries of the status list; a card's
// StatusIndex is below it.
const StatusListSize = 1 << 20

// RandomStatusIndex returns a uniformly random status-list index. Indexes
// are unique: if CreateCard reports ErrDuplicate for it, draw another.
func RandomStatusIndex() (int, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(StatusListSize))
	if err != nil {
		return 0, fmt.Errorf("status index: %w", err)
	}
	return int(n.Int64()), nil
}

// now is the store's clock: UTC, truncated to the microsecond that both
// backends keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}
