package staff

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jilin-health/cardseal/audit"
)

// Managing accounts: the rules of usernames and passwords, and the
// changes an administrator makes (from the command line). Every change
// is an audit event.

// ErrUsername and ErrPassword: a username or a password the policy
// refuses.
var (
	ErrUsername = errors.New("unacceptable username")
	ErrPassword = errors.New("unacceptable password")
	// ErrRetiredOrg: staff are not added to a retired organisation.
	ErrRetiredOrg = errors.New("the organisation is retired")
)

// Bounds of usernames and passwords (the login's limits).
const (
	MaxUsername = 64
	MinPassword = 8
	MaxPassword = 256
)

// CheckUsername checks a username: 1 to MaxUsername bytes, no spaces or
// control characters.
func CheckUsername(u string) error {
	// Format characters (unicode.Cf: bidi overrides, zero-width joiners)
	// would let two accounts look alike in the console and the audit log.
	if u == "" || len(u) > MaxUsername || !utf8.ValidString(u) || strings.ContainsFunc(u, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	}) {
		return fmt.Errorf("%w: %q: 1 to %d bytes of UTF-8, no spaces, control or format characters", ErrUsername, u, MaxUsername)
	}
	return nil
}

// MaxDisplayName bounds a display name, in characters.
const MaxDisplayName = 32

// ErrDisplayName: a display name the policy refuses.
var ErrDisplayName = errors.New("unacceptable display name")

// CheckDisplayName checks the name of the person an account belongs to:
// up to MaxDisplayName characters of text, no control or format
// characters ("" is allowed: older accounts have none).
func CheckDisplayName(n string) error {
	if !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxDisplayName || n != strings.TrimSpace(n) ||
		strings.ContainsFunc(n, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
		return fmt.Errorf("%w: %q: up to %d characters, no control or format characters, no leading or trailing space", ErrDisplayName, n, MaxDisplayName)
	}
	return nil
}

// CheckPasswordPolicy checks a new password for a username: one line of
// MinPassword to MaxPassword characters, not the username and not on the
// list of common passwords (IsCommonPassword), whatever the case.
func CheckPasswordPolicy(username, password string) error {
	if n := utf8.RuneCountInString(password); n < MinPassword || len(password) > MaxPassword || strings.ContainsAny(password, "\r\n") {
		return fmt.Errorf("%w: one line of %d to %d characters", ErrPassword, MinPassword, MaxPassword)
	}
	if strings.EqualFold(strings.TrimSpace(password), strings.TrimSpace(username)) {
		return fmt.Errorf("%w: the password is the username", ErrPassword)
	}
	if IsCommonPassword(password) {
		return fmt.Errorf("%w: the password is on the list of common passwords", ErrPassword)
	}
	return nil
}

// RandomPassword returns 16 characters from an alphabet without
// look-alikes, for an account whose password is handed over in person.
func RandomPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	out := make([]byte, 0, 16)
	var b [1]byte
	for len(out) < cap(out) {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err)
		}
		if int(b[0]) < 256-256%len(alphabet) { // no modulo bias
			out = append(out, alphabet[int(b[0])%len(alphabet)])
		}
	}
	return string(out)
}

// Admin is who changes accounts, for the audit log ("cli", an operator).
type Admin struct {
	Name   string
	Remote string
}

// AddUser creates an account of the organisation with the code for the
// person named displayName.
func (s *Service) AddUser(ctx context.Context, by Admin, username, displayName, orgCode, password string) (User, error) {
	if err := CheckUsername(username); err != nil {
		return User{}, err
	}
	if err := CheckDisplayName(displayName); err != nil {
		return User{}, err
	}
	if err := CheckPasswordPolicy(username, password); err != nil {
		return User{}, err
	}
	o, err := s.orgs.GetOrg(ctx, orgCode)
	if err != nil {
		return User{}, err
	}
	if o.Retired {
		return User{}, fmt.Errorf("%w: %s %s", ErrRetiredOrg, o.Code, o.Name)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return User{}, err
	}
	u := User{Username: username, OrgCode: o.Code, PasswordHash: hash, DisplayName: displayName}
	if err := s.store.CreateUser(ctx, &u); err != nil {
		return User{}, err
	}
	return u, s.adminEvent(ctx, by, audit.UserAdd, o.Code, map[string]any{"username": u.Username, "display_name": u.DisplayName})
}

// User returns the account with the username.
func (s *Service) User(ctx context.Context, username string) (User, error) {
	if err := CheckUsername(username); err != nil {
		return User{}, err
	}
	return s.store.GetUserByName(ctx, username)
}

// Users lists the accounts of the organisations whose code starts with
// prefix (every account if empty).
func (s *Service) Users(ctx context.Context, prefix string) ([]User, error) {
	return s.store.ListUsers(ctx, prefix)
}

// ResetPassword sets a new password, ends the user's sessions (in the
// same transaction) and clears the user's failure counts.
func (s *Service) ResetPassword(ctx context.Context, by Admin, u User, password string) error {
	if err := CheckPasswordPolicy(u.Username, password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	if err := s.store.SetUserPassword(ctx, u.ID, hash); err != nil {
		return err
	}
	// The owner may have been delayed by their own mistakes: a new
	// password starts with a clean count from every client.
	if err := s.throttle.Forget(ctx, throttleScope, u.Username); err != nil {
		return err
	}
	return s.adminEvent(ctx, by, audit.UserResetPassword, u.OrgCode, map[string]any{"username": u.Username})
}

// SetDisabled disables or re-enables an account and ends its sessions
// (in the same transaction): enabling it again revives none of them.
func (s *Service) SetDisabled(ctx context.Context, by Admin, u User, disabled bool, reason string) error {
	if err := s.store.SetUserDisabled(ctx, u.ID, disabled); err != nil {
		return err
	}
	action := audit.UserEnable
	if disabled {
		action = audit.UserDisable
	}
	return s.adminEvent(ctx, by, action, u.OrgCode, map[string]any{"username": u.Username, "reason": reason})
}

func (s *Service) adminEvent(ctx context.Context, by Admin, action audit.Action, orgCode string, detail any) error {
	return s.audit(ctx, User{Username: by.Name}, orgCode, action, by.Remote, detail)
}
