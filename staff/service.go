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
	"github.com/jilin-health/cardseal/throttle"
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
	// Throttle is the delay after wrong passwords from one client for
	// one username (default: 3 free, then 2 s doubling up to 15 min,
	// forgotten after a day). It replaces a per-account lockout, which
	// anyone could trigger: usernames are public division codes.
	Throttle throttle.Policy
}

// DefaultThrottle is the default Policy.Throttle.
var DefaultThrottle = throttle.Policy{Free: 3, First: 2 * time.Second, Max: 15 * time.Minute, Forget: 24 * time.Hour}

func (p *Policy) fill() {
	if p.SessionTTL <= 0 {
		p.SessionTTL = 8 * time.Hour
	}
	if p.Throttle == (throttle.Policy{}) {
		p.Throttle = DefaultThrottle
	}
}

// Service is the one place staff log in, are recognised and confirm an
// action with their password.
type Service struct {
	store    Store
	orgs     Orgs
	log      AuditLog
	policy   Policy
	throttle *throttle.Throttle
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewService returns the staff service over its store, the registry of
// organisations and the audit log. It panics on an unusable throttle
// policy (a programming error).
func NewService(st Store, orgs Orgs, log AuditLog, p Policy) *Service {
	p.fill()
	s := &Service{store: st, orgs: orgs, log: log, policy: p, Now: time.Now}
	s.throttle = throttle.New(st, p.Throttle, func() time.Time { return s.Now() })
	return s
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
	OutcomeDisabled      Outcome = "disabled"
	OutcomeWrongPassword Outcome = "bad_password"
	// OutcomeThrottled: the client had to wait (a *throttle.WaitError,
	// not a LoginError); the password was not tried.
	OutcomeThrottled Outcome = "throttled"
)

// throttleScope is the scope of the failure counts of passwords: one
// per (username, client), shared by logins and confirmations.
const throttleScope = "login"

func throttleKey(username, remote string) throttle.Key {
	if remote == "" {
		remote = "unknown"
	}
	return throttle.Key{Scope: throttleScope, Subject: username, Client: remote}
}

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

// Login checks a username and password and starts a session of the
// kind. Unknown users, disabled accounts and wrong passwords all fail
// with a *LoginError (ErrBadCredentials) after the same work (one
// password hash). Every failure counts against the (username, client)
// pair; once it must wait, Login answers a *throttle.WaitError without
// trying the password — for an unknown username exactly as for a real
// one. It returns the token, shown to the client once and stored only as
// its hash.
func (s *Service) Login(ctx context.Context, kind SessionKind, username, password, remote string) (string, Principal, error) {
	if kind != APISession && kind != ConsoleSession {
		return "", Principal{}, fmt.Errorf("login: unknown session kind %q", kind)
	}
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
	if err := s.store.CreateSession(ctx, Session{TokenHash: hash, UserID: p.User.ID, Kind: kind, CreatedAt: now, ExpiresAt: p.ExpiresAt}); err != nil {
		return "", Principal{}, err
	}
	if err := s.audit(ctx, p.User, p.Org.Code, audit.UserLogin, remote, map[string]any{"session": kind}); err != nil {
		return "", Principal{}, err
	}
	return tok, p, nil
}

// check authenticates a username and password without starting a
// session.
func (s *Service) check(ctx context.Context, username, password, remote string) (Principal, error) {
	if username == "" || password == "" || len(username) > MaxUsername || len(password) > MaxPassword {
		_, _ = checkPassword(ctx, dummyHash(), password)
		return Principal{}, &LoginError{OutcomeUnknownUser, "empty or oversized username or password"}
	}
	at, err := s.throttle.Begin(ctx, throttleKey(username, remote))
	if err != nil {
		return Principal{}, fmt.Errorf("login: %w", err)
	}
	u, err := s.store.GetUserByName(ctx, username)
	switch {
	case errors.Is(err, ErrNotFound):
		_, _ = checkPassword(ctx, dummyHash(), password)
		if err := at.Failed(ctx); err != nil {
			return Principal{}, err
		}
		return Principal{}, &LoginError{OutcomeUnknownUser, fmt.Sprintf("unknown user (%d failures from %s)", at.Failures(), remote)}
	case err != nil:
		return Principal{}, err
	case u.Disabled:
		_, _ = checkPassword(ctx, dummyHash(), password)
		if err := at.Failed(ctx); err != nil {
			return Principal{}, err
		}
		return Principal{}, &LoginError{OutcomeDisabled, fmt.Sprintf("user %q is disabled", u.Username)}
	}
	if err := s.checkPassword(ctx, u, at, password, remote); err != nil {
		return Principal{}, err
	}
	o, err := s.orgs.GetOrg(ctx, u.OrgCode)
	if err != nil {
		return Principal{}, fmt.Errorf("user %q: %w", u.Username, err)
	}
	return Principal{User: u, Org: o}, nil
}

// checkPassword checks u's password for an attempt that the throttle let
// through: a wrong one is counted, audited and is a *LoginError; a right
// one clears the count.
func (s *Service) checkPassword(ctx context.Context, u User, at *throttle.Attempt, password, remote string) error {
	ok, err := checkPassword(ctx, u.PasswordHash, password)
	if err != nil {
		return fmt.Errorf("user %q: %w", u.Username, err)
	}
	if !ok {
		if err := at.Failed(ctx); err != nil {
			return err
		}
		n := at.Failures()
		detail := map[string]any{"consecutive_failures": n}
		if d := s.throttle.Policy().Delay(n); d > 0 {
			detail["delay_seconds"] = int(d.Seconds())
		}
		if err := s.audit(ctx, u, u.OrgCode, audit.UserLoginFailed, remote, detail); err != nil {
			return err
		}
		return &LoginError{OutcomeWrongPassword, fmt.Sprintf("user %q: wrong password (%d in a row from %s)", u.Username, n, remote)}
	}
	return at.Succeeded(ctx)
}

// Authenticate recognises the bearer of a session token of the kind. A
// missing, expired or unknown session, one of the other kind, a disabled
// or deleted user: ErrNoSession.
func (s *Service) Authenticate(ctx context.Context, kind SessionKind, token string) (Principal, error) {
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
	if se.Kind != kind {
		return Principal{}, fmt.Errorf("%w: a %q session used as a %q one", ErrNoSession, se.Kind, kind)
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
// an act that needs it (applying a seal), whichever door the request came
// through. A wrong one counts against the same (username, client) pair
// as a failed login, and the same delay applies (*throttle.WaitError).
func (s *Service) Confirm(ctx context.Context, p Principal, password, remote string) error {
	if password == "" || len(password) > MaxPassword {
		return &LoginError{OutcomeWrongPassword, "empty or oversized password"}
	}
	at, err := s.throttle.Begin(ctx, throttleKey(p.User.Username, remote))
	if err != nil {
		return fmt.Errorf("confirm: %w", err)
	}
	u, err := s.store.GetUser(ctx, p.User.ID)
	if err != nil {
		return err
	}
	return s.checkPassword(ctx, u, at, password, remote)
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
