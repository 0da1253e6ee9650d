// Package staff owns the accounts of the people who review and seal
// cards: users and their organisation, password hashing and policy,
// sessions, and the throttling of wrong passwords. The JSON API, the
// console and the command line all go through it; none of them looks a
// user or a session up on its own.
//
// It declares the storage it needs (Store); package store implements it.
package staff

import (
	"context"
	"errors"
	"time"

	"github.com/jilin-health/cardseal/throttle"
)

// Errors callers branch on.
var (
	// ErrNotFound: no such user or session (an expired session is not
	// found).
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: the username (or session token) is taken.
	ErrDuplicate = errors.New("already exists")
	// ErrBadCredentials: unknown user, disabled account or wrong
	// password — one answer for all of them, so a client learns nothing
	// about which. (A client that must wait after too many failures gets
	// a *throttle.WaitError instead, whether or not the user exists.)
	ErrBadCredentials = errors.New("invalid credentials")
	// ErrNoSession: the request carries no valid session of the kind
	// the entry point needs.
	ErrNoSession = errors.New("no valid session")
)

// User is a staff member. Each belongs to one organisation.
type User struct {
	ID           int64
	Username     string
	OrgCode      string
	PasswordHash string // argon2id, PHC-encoded; never the password
	Disabled     bool
	// DisplayName is the name of the person the account belongs to
	// (操作人 in a card's history); "" for accounts from before it was
	// kept. Accounts are per person, never shared by an office.
	DisplayName string
}

// SessionKind is how a session's token travels: as the bearer token of
// the JSON API or in the console's cookie. A token of one kind is no
// session of the other, so a cookie that leaks into a script is no API
// token, and an API token pasted into a browser opens no console.
type SessionKind string

const (
	APISession     SessionKind = "api"
	ConsoleSession SessionKind = "console"
)

// Session is a logged-in staff session. Only the hash of the bearer token
// is stored, so a database dump does not yield usable tokens.
type Session struct {
	TokenHash []byte // SHA-256 of the bearer token, 32 bytes
	UserID    int64
	Kind      SessionKind
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Store is the persistence the package needs: accounts, sessions, and the
// failure counts of wrong passwords (per username and client).
type Store interface {
	throttle.Store

	// CreateUser inserts u and sets u.ID (ErrDuplicate for a taken
	// username).
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id int64) (User, error)
	GetUserByName(ctx context.Context, username string) (User, error)
	// ListUsers returns the users of the organisations whose code starts
	// with orgPrefix (all users if empty), by organisation then username.
	ListUsers(ctx context.Context, orgPrefix string) ([]User, error)
	// SetUserPassword replaces the password hash and deletes the user's
	// sessions, in one transaction.
	SetUserPassword(ctx context.Context, id int64, hash string) error
	// SetUserDisabled disables or re-enables a user and deletes the
	// user's sessions, in one transaction.
	SetUserDisabled(ctx context.Context, id int64, disabled bool) error

	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session unless it is missing or expired
	// (both ErrNotFound).
	GetSession(ctx context.Context, tokenHash []byte) (Session, error)
	DeleteSession(ctx context.Context, tokenHash []byte) error
	DeleteExpiredSessions(ctx context.Context) (int64, error)
}
