package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/org"
)

// Orgs finds a user's organisation in the registry.
type Orgs interface {
	GetOrg(ctx context.Context, code string) (org.Org, error)
}

// AuditLog records logins, logouts and account changes.
type AuditLog interface {
	AppendAudit(ctx context.Context, ev audit.Event) (int64, error)
}

// Policy tunes sessions and the answer to wrong passwords. Zero values
// mean the defaults.
type Policy struct {
	// SessionTTL is how long a session lasts (default 8h).
	SessionTTL time.Duration
	// MaxFailedLogins consecutive failures lock a user for
	// LockoutPeriod (defaults 5 and 15 min).
	MaxFailedLogins int
	LockoutPeriod   time.Duration
}

func (p *Policy) fill() {
	if p.SessionTTL <= 0 {
		p.SessionTTL = 8 * time.Hour
	}
	if p.MaxFailedLogins <= 0 {
		p.MaxFailedLogins = 5
	}
	if p.LockoutPeriod <= 0 {
		p.LockoutPeriod = 15 * time.Minute
	}
}

// Service is the one place staff log in, are recognised and confirm an
// action with their password.
type Service struct {
	store  Store
	orgs   Orgs
	log    AuditLog
	policy Policy
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewService returns the staff service over its store, the registry of
// organisations and the audit log.
func NewService(st Store, orgs Orgs, log AuditLog, p Policy) *Service {
	p.fill()
	return &Service{store: st, orgs: orgs, log: log, policy: p, Now: time.Now}
}

// Policy returns the service's policy with its defaults filled in.
func (s *Service) Policy() Policy { return s.policy }

// Principal is a recognised staff member: the user, their organisation
// as the registry has it now, and the session they came with.
type Principal struct {
	User      User
	Org       org.Org
	TokenHash []byte
	ExpiresAt time.Time
}

// Outcome names the result of a login attempt for metrics.
type Outcome string

const (
	OutcomeOK            Outcome = "ok"
	OutcomeUnknownUser   Outcome = "unknown_user"
	OutcomeLocked        Outcome = "locked"
	OutcomeWrongPassword Outcome = "bad_password"
)

// LoginError is a refused login: it wraps ErrBadCredentials (every
// refusal looks the same to the client) and says why, for logs and
// metrics only.
type LoginError struct {
	Outcome Outcome
	Detail  string
}

func (e *LoginError) Error() string {
	return fmt.Sprintf("login refused (%s): %s", e.Outcome, e.Detail)
}
func (e *LoginError) Unwrap() error { return ErrBadCredentials }

// Session tokens are 32 random bytes, sent as unpadded Base64url; the
// store keeps only their SHA-256.
const (
	tokenBytes = 32
	// TokenLength is the length of a session token as sent.
	TokenLength = 43
)

func newToken() (string, []byte, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("session token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, HashToken(tok), nil
}

// HashToken is what the store keeps of a session token.
func HashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// Login checks a username and password and starts a session. Unknown
// users, disabled and locked accounts and wrong passwords all fail with a
// *LoginError (ErrBadCredentials) after the same work (one password
// hash); a wrong password counts towards the lockout. It returns the
// bearer token, shown to the client once and stored only as its hash.
func (s *Service) Login(ctx context.Context, username, password, remote string) (string, Principal, error) {
	p, err := s.check(ctx, username, password, remote)
	if err != nil {
		return "", Principal{}, err
	}
	tok, hash, err := newToken()
	if err != nil {
		return "", Principal{}, err
	}
	now := s.Now().UTC()
	p.TokenHash, p.ExpiresAt = hash, now.Add(s.policy.SessionTTL).Truncate(time.Second)
	if err := s.store.CreateSession(ctx, Session{TokenHash: hash, UserID: p.User.ID, CreatedAt: now, ExpiresAt: p.ExpiresAt}); err != nil {
		return "", Principal{}, err
	}
	if err := s.audit(ctx, p.User, p.Org.Code, audit.UserLogin, remote, nil); err != nil {
		return "", Principal{}, err
	}
	return tok, p, nil
}

// check authenticates a username and password without starting a
// session.
func (s *Service) check(ctx context.Context, username, password, remote string) (Principal, error) {
	if username == "" || password == "" || len(username) > 64 || len(password) > 256 {
		_, _ = CheckPassword(dummyHash(), password)
		return Principal{}, &LoginError{OutcomeUnknownUser, "empty or oversized username or password"}
	}
	u, err := s.store.GetUserByName(ctx, username)
	switch {
	case errors.Is(err, ErrNotFound):
		_, _ = CheckPassword(dummyHash(), password)
		return Principal{}, &LoginError{OutcomeUnknownUser, "unknown user"}
	case err != nil:
		return Principal{}, err
	case u.Disabled, s.Now().Before(u.LockedUntil):
		_, _ = CheckPassword(dummyHash(), password)
		return Principal{}, &LoginError{OutcomeLocked, fmt.Sprintf("user %q is disabled or locked until %s", u.Username, u.LockedUntil.Format(time.RFC3339))}
	}
	if err := s.checkPassword(ctx, u, password, remote); err != nil {
		return Principal{}, err
	}
	o, err := s.orgs.GetOrg(ctx, u.OrgCode)
	if err != nil {
		return Principal{}, fmt.Errorf("user %q: %w", u.Username, err)
	}
	return Principal{User: u, Org: o}, nil
}

// checkPassword checks u's password; a wrong one counts towards the
// lockout and is a *LoginError.
func (s *Service) checkPassword(ctx context.Context, u User, password, remote string) error {
	ok, err := CheckPassword(u.PasswordHash, password)
	if err != nil {
		return fmt.Errorf("user %q: %w", u.Username, err)
	}
	if !ok {
		failed, until, action := u.FailedLogins+1, time.Time{}, audit.UserLoginFailed
		if failed >= s.policy.MaxFailedLogins {
			failed, until, action = 0, s.Now().Add(s.policy.LockoutPeriod), audit.UserLocked
		}
		if err := s.store.UpdateUserLogin(ctx, u.ID, failed, until); err != nil {
			return err
		}
		if err := s.audit(ctx, u, u.OrgCode, action, remote, map[string]any{"consecutive_failures": u.FailedLogins + 1}); err != nil {
			return err
		}
		return &LoginError{OutcomeWrongPassword, fmt.Sprintf("user %q: wrong password (%d in a row)", u.Username, u.FailedLogins+1)}
	}
	if u.FailedLogins != 0 || !u.LockedUntil.IsZero() {
		return s.store.UpdateUserLogin(ctx, u.ID, 0, time.Time{})
	}
	return nil
}

// Authenticate recognises the bearer of a session token. A missing,
// expired or unknown session, a disabled or deleted user: ErrNoSession.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if len(token) != TokenLength {
		return Principal{}, fmt.Errorf("%w: malformed token", ErrNoSession)
	}
	hash := HashToken(token)
	se, err := s.store.GetSession(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: unknown or expired session", ErrNoSession)
	} else if err != nil {
		return Principal{}, err
	}
	u, err := s.store.GetUser(ctx, se.UserID)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: session of a deleted user", ErrNoSession)
	} else if err != nil {
		return Principal{}, err
	}
	if u.Disabled {
		return Principal{}, fmt.Errorf("%w: user %q is disabled", ErrNoSession, u.Username)
	}
	o, err := s.orgs.GetOrg(ctx, u.OrgCode)
	if err != nil {
		return Principal{}, fmt.Errorf("user %q: %w", u.Username, err)
	}
	return Principal{User: u, Org: o, TokenHash: hash, ExpiresAt: se.ExpiresAt}, nil
}

// Confirm checks the password of a recognised staff member again before
// an act that needs it (applying a seal): a wrong one counts towards the
// lockout exactly as a failed login does.
func (s *Service) Confirm(ctx context.Context, p Principal, password, remote string) error {
	if password == "" || len(password) > 256 {
		return &LoginError{OutcomeWrongPassword, "empty or oversized password"}
	}
	u, err := s.store.GetUser(ctx, p.User.ID)
	if err != nil {
		return err
	}
	return s.checkPassword(ctx, u, password, remote)
}

// Logout ends the principal's session.
func (s *Service) Logout(ctx context.Context, p Principal, remote string) error {
	if err := s.store.DeleteSession(ctx, p.TokenHash); err != nil {
		return err
	}
	return s.audit(ctx, p.User, p.Org.Code, audit.UserLogout, remote, nil)
}

// Sweep deletes expired sessions.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	return s.store.DeleteExpiredSessions(ctx)
}

func (s *Service) audit(ctx context.Context, u User, orgCode string, action audit.Action, remote string, detail any) error {
	ev := audit.Event{Actor: u.Username, OrgCode: orgCode, Action: action, RemoteAddr: remote}
	if detail != nil {
		ev.Detail, _ = json.Marshal(detail)
	}
	_, err := s.log.AppendAudit(ctx, ev)
	return err
}
