package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
)

// dialect is what differs between the backends. The SQL text itself is
// shared: both accept $N placeholders, RETURNING and ON CONFLICT.
type dialect struct {
	name string
	// forUpdate is appended to the SELECT that locks a row in a write
	// transaction. SQLite needs none: its write transactions begin
	// IMMEDIATE, which takes the database's write lock up front.
	forUpdate string
	// timeArg converts a time for a query argument; zero becomes NULL.
	timeArg func(time.Time) any
	// snapshot is the isolation level of a consistent read transaction.
	snapshot sql.IsolationLevel
	// classify maps a driver error to ErrDuplicate, ErrNotFound or
	// ErrConflict, or returns nil if it is none of those.
	classify func(error) error
}

// sqlStore implements Store over database/sql for both dialects.
type sqlStore struct {
	d dialect
	r *sql.DB // reads
	w *sql.DB // writes; for SQLite a pool of one connection
	// clock replaces now for the rate limiter's windows in tests.
	clock func() time.Time

	// cardStmts are the card lookups prepared once: the public QR check
	// runs one per scan, and parsing and planning the query was a large
	// part of it (docs/performance.md).
	stmtMu    sync.Mutex
	cardStmts map[string]*sql.Stmt
}

// now is the store's clock for rate-limit windows.
func (s *sqlStore) now() time.Time {
	if s.clock != nil {
		return normTime(s.clock())
	}
	return now()
}

var _ Store = (*sqlStore)(nil)

func (s *sqlStore) Close() error {
	s.stmtMu.Lock()
	for _, st := range s.cardStmts {
		st.Close()
	}
	s.cardStmts = nil
	s.stmtMu.Unlock()
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// wrap maps driver errors to the package's sentinels, keeping the original.
func (s *sqlStore) wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if c := s.d.classify(err); c != nil {
		return fmt.Errorf("%w: %w", c, err)
	}
	return err
}

// tx runs fn in a write transaction and commits if it returns nil.
func (s *sqlStore) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", s.wrap(err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", s.wrap(err))
	}
	return nil
}

// dbTime scans a time stored as timestamptz (PostgreSQL) or as integer
// microseconds (SQLite); NULL is the zero time.
type dbTime struct{ t *time.Time }

func (d dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*d.t = time.Time{}
	case int64:
		*d.t = time.UnixMicro(x).UTC()
	case time.Time:
		*d.t = x.UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	return nil
}

func sqliteTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func postgresTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var (
	digitsRE    = regexp.MustCompile(`^[0-9]+$`)
	cardIDRE    = regexp.MustCompile(`^[0-9a-f]{16}$`)
	coupleKeyRE = regexp.MustCompile(`^[0-9a-f]{1,64}$`)
)

// ---- organisations ----

func (s *sqlStore) CreateOrg(ctx context.Context, o Org) error {
	if err := o.Key().Validate(); err != nil {
		return fmt.Errorf("create org: %w: %w", ErrInvalid, err)
	}
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO orgs (code, level, name, retired) VALUES ($1, $2, $3, $4)`,
		o.Code, string(o.Level), o.Name, o.Retired)
	if err != nil {
		return fmt.Errorf("create org %s: %w", o.Code, s.wrap(err))
	}
	return nil
}

func (s *sqlStore) GetOrg(ctx context.Context, code string) (Org, error) {
	var o Org
	err := s.r.QueryRowContext(ctx, `SELECT code, level, name, retired FROM orgs WHERE code = $1`, code).
		Scan(&o.Code, &o.Level, &o.Name, &o.Retired)
	if err != nil {
		return Org{}, fmt.Errorf("get org %s: %w", code, s.wrap(err))
	}
	return o, nil
}

func (s *sqlStore) ListOrgs(ctx context.Context) ([]Org, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT code, level, name, retired FROM orgs ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []Org
	for rows.Next() {
		var o Org
		if err := rows.Scan(&o.Code, &o.Level, &o.Name, &o.Retired); err != nil {
			return nil, fmt.Errorf("list orgs: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list orgs: %w", s.wrap(err))
	}
	return out, nil
}

func (s *sqlStore) UpdateOrg(ctx context.Context, o Org) error {
	if err := o.Key().Validate(); err != nil {
		return fmt.Errorf("update org: %w: %w", ErrInvalid, err)
	}
	// The level is not written: Validate tied it to the code's length,
	// which also fixed the stored level.
	res, err := s.w.ExecContext(ctx, `UPDATE orgs SET name = $1, retired = $2 WHERE code = $3`,
		o.Name, o.Retired, o.Code)
	return s.updated(res, err, "update org "+o.Code)
}

// updated turns the result of an UPDATE of one row into an error:
// ErrNotFound if it matched none.
func (s *sqlStore) updated(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, s.wrap(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// ---- users ----

const userCols = `id, username, org_code, password_hash, disabled, failed_logins, locked_until`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.OrgCode, &u.PasswordHash, &u.Disabled, &u.FailedLogins, dbTime{&u.LockedUntil})
	return u, err
}

func (s *sqlStore) CreateUser(ctx context.Context, u *User) error {
	if strings.TrimSpace(u.Username) == "" || u.PasswordHash == "" || u.OrgCode == "" {
		return fmt.Errorf("create user: %w: username, organisation and password hash are required", ErrInvalid)
	}
	err := s.w.QueryRowContext(ctx,
		`INSERT INTO users (username, org_code, password_hash, disabled, failed_logins, locked_until)
		 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		u.Username, u.OrgCode, u.PasswordHash, u.Disabled, u.FailedLogins, s.d.timeArg(normTime(u.LockedUntil))).
		Scan(&u.ID)
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Username, s.wrap(err))
	}
	return nil
}

func (s *sqlStore) GetUser(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, s.wrap(err))
	}
	return u, nil
}

func (s *sqlStore) GetUserByName(ctx context.Context, username string) (User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE username = $1`, username))
	if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", username, s.wrap(err))
	}
	return u, nil
}

func (s *sqlStore) UpdateUserLogin(ctx context.Context, id int64, failedLogins int, lockedUntil time.Time) error {
	res, err := s.w.ExecContext(ctx,
		`UPDATE users SET failed_logins = $1, locked_until = $2 WHERE id = $3`,
		failedLogins, s.d.timeArg(normTime(lockedUntil)), id)
	if err != nil {
		return fmt.Errorf("update user %d login: %w", id, s.wrap(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update user %d login: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("update user %d login: %w", id, ErrNotFound)
	}
	return nil
}

func (s *sqlStore) ListUsers(ctx context.Context, orgPrefix string) ([]User, error) {
	q := `SELECT ` + userCols + ` FROM users ORDER BY org_code, username`
	var args []any
	if orgPrefix != "" {
		if !digitsRE.MatchString(orgPrefix) {
			return nil, fmt.Errorf("list users: %w: organisation prefix %q is not digits", ErrInvalid, orgPrefix)
		}
		// Digits only, so LIKE needs no escaping.
		q = `SELECT ` + userCols + ` FROM users WHERE org_code LIKE $1 ORDER BY org_code, username`
		args = append(args, orgPrefix+"%")
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", s.wrap(err))
	}
	return out, nil
}

func (s *sqlStore) SetUserPassword(ctx context.Context, id int64, hash string) error {
	if hash == "" {
		return fmt.Errorf("set password of user %d: %w: empty hash", id, ErrInvalid)
	}
	res, err := s.w.ExecContext(ctx,
		`UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL WHERE id = $2`, hash, id)
	return s.updated(res, err, fmt.Sprintf("set password of user %d", id))
}

func (s *sqlStore) SetUserDisabled(ctx context.Context, id int64, disabled bool) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET disabled = $1 WHERE id = $2`, disabled, id)
	return s.updated(res, err, fmt.Sprintf("set user %d disabled=%t", id, disabled))
}

// ---- sessions ----

func (s *sqlStore) CreateSession(ctx context.Context, se Session) error {
	if len(se.TokenHash) != 32 {
		return fmt.Errorf("create session: %w: token hash has %d bytes, want 32", ErrInvalid, len(se.TokenHash))
	}
	if se.ExpiresAt.IsZero() {
		return fmt.Errorf("create session: %w: no expiry", ErrInvalid)
	}
	if se.CreatedAt.IsZero() {
		se.CreatedAt = now()
	}
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		se.TokenHash, se.UserID, s.d.timeArg(normTime(se.CreatedAt)), s.d.timeArg(normTime(se.ExpiresAt)))
	if err != nil {
		return fmt.Errorf("create session for user %d: %w", se.UserID, s.wrap(err))
	}
	return nil
}

func (s *sqlStore) GetSession(ctx context.Context, tokenHash []byte) (Session, error) {
	var se Session
	err := s.r.QueryRowContext(ctx,
		`SELECT token_hash, user_id, created_at, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2`,
		tokenHash, s.d.timeArg(now())).
		Scan(&se.TokenHash, &se.UserID, dbTime{&se.CreatedAt}, dbTime{&se.ExpiresAt})
	if err != nil {
		return Session{}, fmt.Errorf("get session: %w", s.wrap(err))
	}
	return se, nil
}

func (s *sqlStore) DeleteSession(ctx context.Context, tokenHash []byte) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", s.wrap(err))
	}
	return nil
}

func (s *sqlStore) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, s.d.timeArg(now()))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", s.wrap(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

// ---- cards ----

const cardCols = `id, number, type, status, village_code, county_code, applicant, token_salt,
	qr_token, status_index, superseded_by, status_reason, status_note, seq,
	created_at, updated_at, created_by, version, couple_key`

func scanCard(row interface{ Scan(...any) error }) (Card, error) {
	var c Card
	var token, superseded sql.NullString
	err := row.Scan(&c.ID, &c.Number, &c.Type, &c.Status, &c.VillageCode, &c.CountyCode,
		&c.Applicant, &c.TokenSalt, &token, &c.StatusIndex, &superseded, &c.StatusReason,
		&c.StatusNote, &c.Seq, dbTime{&c.CreatedAt}, dbTime{&c.UpdatedAt}, &c.CreatedBy, &c.Version, &c.CoupleKey)
	c.QRToken, c.SupersededBy = token.String, superseded.String
	return c, err
}

func validCard(c *Card) error {
	switch {
	case !cardIDRE.MatchString(c.ID):
		return fmt.Errorf("id %q is not 16 lower-case hex digits", c.ID)
	case c.Number == "":
		return errors.New("no card number")
	case !c.Type.Valid():
		return fmt.Errorf("unknown card type %q", c.Type)
	case !c.Status.Valid():
		return fmt.Errorf("unknown status %q", c.Status)
	case len(c.VillageCode) != keys.Village.CodeLen() || !digitsRE.MatchString(c.VillageCode):
		return fmt.Errorf("village code %q is not 12 digits", c.VillageCode)
	case c.CountyCode != keys.CountyCode(c.VillageCode):
		return fmt.Errorf("county %q does not contain village %q", c.CountyCode, c.VillageCode)
	case len(c.Applicant) == 0:
		return errors.New("no applicant data")
	case c.StatusIndex < 0 || c.StatusIndex >= StatusListSize:
		return fmt.Errorf("status index %d outside [0, %d)", c.StatusIndex, StatusListSize)
	case c.CreatedBy == "":
		return errors.New("no creator")
	case c.CoupleKey != "" && !coupleKeyRE.MatchString(c.CoupleKey):
		return errors.New("couple key is not 1 to 64 lower-case hex digits")
	}
	return nil
}

func (s *sqlStore) CreateCard(ctx context.Context, c *Card, pdf0 []byte, ev AuditEvent) error {
	if c.Status == "" {
		c.Status = StatusDraft
	}
	if err := validCard(c); err != nil {
		return fmt.Errorf("create card: %w: %w", ErrInvalid, err)
	}
	if len(pdf0) == 0 {
		return fmt.Errorf("create card %s: %w: empty PDF", c.ID, ErrInvalid)
	}
	t := now()
	ev.CardID = c.ID
	if c.TokenSalt == nil {
		c.TokenSalt = []byte{}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cards (`+cardCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14, $14, $15, 1, $16)`,
			c.ID, c.Number, string(c.Type), string(c.Status), c.VillageCode, c.CountyCode,
			c.Applicant, c.TokenSalt, nullString(c.QRToken), c.StatusIndex, nullString(c.SupersededBy),
			c.StatusReason, c.StatusNote, s.d.timeArg(t), c.CreatedBy, c.CoupleKey)
		if err != nil {
			return s.wrap(err)
		}
		if err := s.insertPDF(ctx, tx, c.ID, 0, pdf0, t); err != nil {
			return err
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("create card %s: %w", c.ID, err)
	}
	c.Seq, c.Version, c.CreatedAt, c.UpdatedAt = 0, 1, t, t
	return nil
}

func (s *sqlStore) insertPDF(ctx context.Context, tx *sql.Tx, cardID string, seq int, pdf []byte, t time.Time) error {
	digest := sm3.Sum(pdf)
	_, err := tx.ExecContext(ctx,
		`INSERT INTO card_pdfs (card_id, seq, pdf, digest, created_at) VALUES ($1, $2, $3, $4, $5)`,
		cardID, seq, pdf, digest[:], s.d.timeArg(t))
	if err != nil {
		return fmt.Errorf("insert PDF revision %d: %w", seq, s.wrap(err))
	}
	return nil
}

func (s *sqlStore) getCard(ctx context.Context, what, where string, arg any) (Card, error) {
	st, err := s.cardStmt(ctx, where)
	if err != nil {
		return Card{}, fmt.Errorf("get card %s: %w", what, s.wrap(err))
	}
	c, err := scanCard(st.QueryRowContext(ctx, arg))
	if err != nil {
		return Card{}, fmt.Errorf("get card %s: %w", what, s.wrap(err))
	}
	return c, nil
}

// cardStmt returns the prepared lookup of a card by one column (id,
// number or qr_token: fixed names, never user input).
func (s *sqlStore) cardStmt(ctx context.Context, where string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st, ok := s.cardStmts[where]; ok {
		return st, nil
	}
	st, err := s.r.PrepareContext(ctx, `SELECT `+cardCols+` FROM cards WHERE `+where+` = $1`)
	if err != nil {
		return nil, err
	}
	if s.cardStmts == nil {
		s.cardStmts = map[string]*sql.Stmt{}
	}
	s.cardStmts[where] = st
	return st, nil
}

func (s *sqlStore) GetCard(ctx context.Context, id string) (Card, error) {
	return s.getCard(ctx, id, "id", id)
}

func (s *sqlStore) GetCardByNumber(ctx context.Context, number string) (Card, error) {
	return s.getCard(ctx, "number "+number, "number", number)
}

func (s *sqlStore) GetCardByToken(ctx context.Context, token string) (Card, error) {
	if token == "" {
		return Card{}, fmt.Errorf("get card by token: %w", ErrNotFound)
	}
	return s.getCard(ctx, "by token", "qr_token", token)
}

func (s *sqlStore) CurrentPDF(ctx context.Context, cardID string) (int, []byte, error) {
	var seq int
	var pdf []byte
	err := s.r.QueryRowContext(ctx,
		`SELECT p.seq, p.pdf FROM cards c JOIN card_pdfs p ON p.card_id = c.id AND p.seq = c.seq WHERE c.id = $1`,
		cardID).Scan(&seq, &pdf)
	if err != nil {
		return 0, nil, fmt.Errorf("current PDF of card %s: %w", cardID, s.wrap(err))
	}
	return seq, pdf, nil
}

func (s *sqlStore) PDF(ctx context.Context, cardID string, seq int) ([]byte, error) {
	var pdf []byte
	err := s.r.QueryRowContext(ctx, `SELECT pdf FROM card_pdfs WHERE card_id = $1 AND seq = $2`, cardID, seq).Scan(&pdf)
	if err != nil {
		return nil, fmt.Errorf("PDF revision %d of card %s: %w", seq, cardID, s.wrap(err))
	}
	return pdf, nil
}

func (s *sqlStore) ListCards(ctx context.Context, f CardFilter) ([]Card, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if len(f.Statuses) > 0 {
		var ph []string
		for _, st := range f.Statuses {
			if !st.Valid() {
				return nil, fmt.Errorf("list cards: %w: unknown status %q", ErrInvalid, st)
			}
			ph = append(ph, arg(string(st)))
		}
		where = append(where, "c.status IN ("+strings.Join(ph, ", ")+")")
	}
	if f.CodePrefix != "" {
		if !digitsRE.MatchString(f.CodePrefix) {
			return nil, fmt.Errorf("list cards: %w: code prefix %q is not digits", ErrInvalid, f.CodePrefix)
		}
		// Digits only, so LIKE needs no escaping.
		where = append(where, "c.village_code LIKE "+arg(f.CodePrefix+"%"))
	}
	if f.CountyCode != "" {
		if len(f.CountyCode) != keys.County.CodeLen() || !digitsRE.MatchString(f.CountyCode) {
			return nil, fmt.Errorf("list cards: %w: county code %q is not 6 digits", ErrInvalid, f.CountyCode)
		}
		where = append(where, "c.county_code = "+arg(f.CountyCode))
	}
	if f.CoupleKey != "" {
		if !coupleKeyRE.MatchString(f.CoupleKey) {
			return nil, fmt.Errorf("list cards: %w: couple key is not 1 to 64 lower-case hex digits", ErrInvalid)
		}
		where = append(where, "c.couple_key = "+arg(f.CoupleKey))
	}
	if f.AfterID != "" {
		// The cursor's creation time never changes, so reading it apart
		// from the page cannot mix two states of the card.
		var after time.Time
		if err := s.r.QueryRowContext(ctx, `SELECT created_at FROM cards WHERE id = $1`, f.AfterID).
			Scan(dbTime{&after}); err != nil {
			return nil, fmt.Errorf("list cards after %q: %w", f.AfterID, s.wrap(err))
		}
		where = append(where, "(c.created_at, c.id) > ("+arg(s.d.timeArg(after))+", "+arg(f.AfterID)+")")
	}
	if f.Awaiting != "" {
		idx := -1
		for i, l := range chain.Card.Levels {
			if l == f.Awaiting {
				idx = i
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("list cards: %w: level %q is not in the card chain", ErrInvalid, f.Awaiting)
		}
		where = append(where, "c.status = "+arg(string(StatusDraft)))
		where = append(where, "NOT EXISTS (SELECT 1 FROM seals s WHERE s.card_id = c.id AND s.level = "+arg(string(f.Awaiting))+")")
		for _, l := range chain.Card.Levels[:idx] {
			where = append(where, "EXISTS (SELECT 1 FROM seals s WHERE s.card_id = c.id AND s.level = "+arg(string(l))+")")
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := `SELECT ` + cardCols + ` FROM cards c`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY c.created_at, c.id LIMIT " + arg(limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list cards: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []Card
	for rows.Next() {
		c, err := scanCard(rows)
		if err != nil {
			return nil, fmt.Errorf("list cards: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cards: %w", s.wrap(err))
	}
	return out, nil
}

// statusListed is the condition of the partial index cards_status_list
// (migration 0002), word for word: SQLite uses a partial index only for a
// query that repeats its WHERE term.
const statusListed = `status IN ('voided', 'revoked', 'superseded')`

// statusEntriesQuery reads the status list off the index alone.
const statusEntriesQuery = `SELECT status_index, status FROM cards WHERE ` + statusListed + ` ORDER BY status_index`

func (s *sqlStore) StatusEntries(ctx context.Context) ([]StatusEntry, error) {
	rows, err := s.r.QueryContext(ctx, statusEntriesQuery)
	if err != nil {
		return nil, fmt.Errorf("status entries: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []StatusEntry
	for rows.Next() {
		var e StatusEntry
		if err := rows.Scan(&e.Index, &e.Status); err != nil {
			return nil, fmt.Errorf("status entries: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("status entries: %w", s.wrap(err))
	}
	return out, nil
}

// lockCard reads the card's status and seq inside a write transaction,
// locking the row until the transaction ends.
func (s *sqlStore) lockCard(ctx context.Context, tx *sql.Tx, cardID string) (Status, int, error) {
	var st Status
	var seq int
	err := tx.QueryRowContext(ctx, `SELECT status, seq FROM cards WHERE id = $1`+s.d.forUpdate, cardID).Scan(&st, &seq)
	if err != nil {
		return "", 0, fmt.Errorf("lock card: %w", s.wrap(err))
	}
	return st, seq, nil
}

func (s *sqlStore) AddSeal(ctx context.Context, cardID string, expectSeq int, pdf []byte, seal Seal, newStatus Status, ev AuditEvent) error {
	if newStatus != StatusDraft && newStatus != StatusIssued {
		return fmt.Errorf("seal card %s: %w: a seal leaves the card draft or issued, not %q", cardID, ErrInvalid, newStatus)
	}
	if !seal.Level.Valid() || seal.OrgCode == "" || seal.ByUser == "" {
		return fmt.Errorf("seal card %s: %w: level, organisation and user are required", cardID, ErrInvalid)
	}
	if len(pdf) == 0 {
		return fmt.Errorf("seal card %s: %w: empty PDF", cardID, ErrInvalid)
	}
	digest := sm3.Sum(pdf)
	if seal.PDFDigest != nil && string(seal.PDFDigest) != string(digest[:]) {
		return fmt.Errorf("seal card %s: %w: seal digest is not the SM3 of the PDF", cardID, ErrInvalid)
	}
	seal.CardID, seal.Seq, seal.PDFDigest = cardID, expectSeq+1, digest[:]
	t := now()
	if seal.SignedAt.IsZero() {
		seal.SignedAt = t
	}
	ev.CardID = cardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, seq, err := s.lockCard(ctx, tx, cardID)
		if err != nil {
			return err
		}
		if seq != expectSeq {
			return fmt.Errorf("%w: card is at revision %d, not %d", ErrConflict, seq, expectSeq)
		}
		if st != StatusDraft {
			return fmt.Errorf("%w: card is %s", ErrConflict, st)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM seals WHERE card_id = $1 AND level = $2`,
			cardID, string(seal.Level)).Scan(&n); err != nil {
			return s.wrap(err)
		}
		if n > 0 {
			return fmt.Errorf("%w: %s level already sealed", ErrConflict, seal.Level)
		}
		if err := s.insertPDF(ctx, tx, cardID, seal.Seq, pdf, t); err != nil {
			return asConflict(err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO seals
			(card_id, seq, level, org_code, cert_serial, signed_at, pdf_digest, by_user)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			cardID, seal.Seq, string(seal.Level), seal.OrgCode, seal.CertSerial,
			s.d.timeArg(normTime(seal.SignedAt)), seal.PDFDigest, seal.ByUser)
		if err != nil {
			return fmt.Errorf("insert seal: %w", asConflict(s.wrap(err)))
		}
		res, err := tx.ExecContext(ctx,
			`UPDATE cards SET seq = $1, status = $2, updated_at = $3, version = version + 1 WHERE id = $4 AND seq = $5`,
			seal.Seq, string(newStatus), s.d.timeArg(t), cardID, expectSeq)
		if err != nil {
			return s.wrap(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("%w: card moved during the seal", ErrConflict)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("seal card %s at %s: %w", cardID, seal.Level, err)
	}
	return nil
}

// asConflict turns a unique violation during sealing into ErrConflict:
// another seal won the race.
func asConflict(err error) error {
	if errors.Is(err, ErrDuplicate) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

func (s *sqlStore) SetStatus(ctx context.Context, cardID string, from []Status, to Status, reason, note, supersededBy string, ev AuditEvent) error {
	if !to.Valid() || len(from) == 0 {
		return fmt.Errorf("set status of card %s: %w: target %q, %d allowed sources", cardID, ErrInvalid, to, len(from))
	}
	if (to == StatusSuperseded) != (supersededBy != "") {
		return fmt.Errorf("set status of card %s: %w: superseded, and only superseded, names the new card", cardID, ErrInvalid)
	}
	if supersededBy == cardID {
		return fmt.Errorf("set status of card %s: %w: a card cannot supersede itself", cardID, ErrInvalid)
	}
	for _, st := range from {
		if !st.Valid() {
			return fmt.Errorf("set status of card %s: %w: unknown status %q", cardID, ErrInvalid, st)
		}
	}
	t := now()
	ev.CardID = cardID
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, _, err := s.lockCard(ctx, tx, cardID)
		if err != nil {
			return err
		}
		allowed := false
		for _, f := range from {
			allowed = allowed || f == st
		}
		if !allowed {
			return fmt.Errorf("%w: card is %s", ErrConflict, st)
		}
		_, err = tx.ExecContext(ctx, `UPDATE cards SET status = $1, status_reason = $2, status_note = $3,
			superseded_by = $4, updated_at = $5, version = version + 1 WHERE id = $6`,
			string(to), reason, note, nullString(supersededBy), s.d.timeArg(t), cardID)
		if err != nil {
			return s.wrap(err)
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("set status of card %s to %s: %w", cardID, to, err)
	}
	return nil
}

func (s *sqlStore) Seals(ctx context.Context, cardID string) ([]Seal, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT card_id, seq, level, org_code, cert_serial, signed_at, pdf_digest, by_user
		FROM seals WHERE card_id = $1 ORDER BY seq`, cardID)
	if err != nil {
		return nil, fmt.Errorf("seals of card %s: %w", cardID, s.wrap(err))
	}
	defer rows.Close()
	var out []Seal
	for rows.Next() {
		var se Seal
		if err := rows.Scan(&se.CardID, &se.Seq, &se.Level, &se.OrgCode, &se.CertSerial,
			dbTime{&se.SignedAt}, &se.PDFDigest, &se.ByUser); err != nil {
			return nil, fmt.Errorf("seals of card %s: %w", cardID, err)
		}
		out = append(out, se)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("seals of card %s: %w", cardID, s.wrap(err))
	}
	return out, nil
}

// ---- card numbers ----

func (s *sqlStore) NextCardNumber(ctx context.Context, countyCode string, year int) (string, error) {
	if len(countyCode) != keys.County.CodeLen() || !digitsRE.MatchString(countyCode) {
		return "", fmt.Errorf("next card number: %w: county code %q is not 6 digits", ErrInvalid, countyCode)
	}
	if year < 2000 || year > 9999 {
		return "", fmt.Errorf("next card number: %w: year %d", ErrInvalid, year)
	}
	var n int
	// One statement: the upsert locks the counter row until it commits,
	// so concurrent callers get consecutive numbers.
	err := s.w.QueryRowContext(ctx, `INSERT INTO card_counters (county_code, year, last) VALUES ($1, $2, 1)
		ON CONFLICT (county_code, year) DO UPDATE SET last = card_counters.last + 1
		RETURNING last`, countyCode, year).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("next card number for %s/%d: %w", countyCode, year, s.wrap(err))
	}
	if n > 999999 {
		return "", fmt.Errorf("next card number for %s/%d: sequence exhausted", countyCode, year)
	}
	return fmt.Sprintf("%s%04d%06d", countyCode, year, n), nil
}
