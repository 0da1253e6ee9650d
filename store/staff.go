package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jilin-health/cardseal/staff"
)

// Staff accounts and their sessions (package staff's Store).

const userCols = `id, username, org_code, password_hash, disabled, display_name`

func scanUser(row interface{ Scan(...any) error }) (staff.User, error) {
	var u staff.User
	err := row.Scan(&u.ID, &u.Username, &u.OrgCode, &u.PasswordHash, &u.Disabled, &u.DisplayName)
	return u, err
}

func (s *DB) CreateUser(ctx context.Context, u *staff.User) error {
	if strings.TrimSpace(u.Username) == "" || u.PasswordHash == "" || u.OrgCode == "" {
		return fmt.Errorf("create user: %w: username, organisation and password hash are required", ErrInvalid)
	}
	err := s.w.QueryRowContext(ctx,
		`INSERT INTO users (username, org_code, password_hash, disabled, display_name) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		u.Username, u.OrgCode, u.PasswordHash, u.Disabled, u.DisplayName).
		Scan(&u.ID)
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Username, s.wrapAs(err, staffErrs))
	}
	return nil
}

func (s *DB) GetUser(ctx context.Context, id int64) (staff.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return staff.User{}, fmt.Errorf("get user %d: %w", id, s.wrapAs(err, staffErrs))
	}
	return u, nil
}

func (s *DB) GetUserByName(ctx context.Context, username string) (staff.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE username = $1`, username))
	if err != nil {
		return staff.User{}, fmt.Errorf("get user %q: %w", username, s.wrapAs(err, staffErrs))
	}
	return u, nil
}

func (s *DB) ListUsers(ctx context.Context, orgPrefix string) ([]staff.User, error) {
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
		return nil, fmt.Errorf("list users: %w", s.wrapAs(err, staffErrs))
	}
	defer rows.Close()
	var out []staff.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", s.wrapAs(err, staffErrs))
	}
	return out, nil
}

// SetUserPassword replaces the password hash and deletes the user's
// sessions in the same transaction: whoever held the old password holds
// no session after the reset.
func (s *DB) SetUserPassword(ctx context.Context, id int64, hash string) error {
	if hash == "" {
		return fmt.Errorf("set password of user %d: %w: empty hash", id, ErrInvalid)
	}
	return s.changeUser(ctx, id, fmt.Sprintf("set password of user %d", id),
		`UPDATE users SET password_hash = $1 WHERE id = $2`, hash, id)
}

// SetUserDisabled disables or re-enables a user and deletes the user's
// sessions in the same transaction, so that enabling the account again
// brings none of them back.
func (s *DB) SetUserDisabled(ctx context.Context, id int64, disabled bool) error {
	return s.changeUser(ctx, id, fmt.Sprintf("set user %d disabled=%t", id, disabled),
		`UPDATE users SET disabled = $1 WHERE id = $2`, disabled, id)
}

// changeUser runs an UPDATE of user id and deletes the user's sessions,
// in one transaction.
func (s *DB) changeUser(ctx context.Context, id int64, what, update string, args ...any) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, update, args...)
		if err := s.updated(res, err, staffErrs, what); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
			return fmt.Errorf("%s: end sessions: %w", what, s.wrapAs(err, staffErrs))
		}
		return nil
	})
}

func (s *DB) CreateSession(ctx context.Context, se staff.Session) error {
	if len(se.TokenHash) != 32 {
		return fmt.Errorf("create session: %w: token hash has %d bytes, want 32", ErrInvalid, len(se.TokenHash))
	}
	if se.ExpiresAt.IsZero() {
		return fmt.Errorf("create session: %w: no expiry", ErrInvalid)
	}
	if se.Kind != staff.APISession && se.Kind != staff.ConsoleSession {
		return fmt.Errorf("create session: %w: kind %q", ErrInvalid, se.Kind)
	}
	if se.CreatedAt.IsZero() {
		se.CreatedAt = now()
	}
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO sessions (token_hash, user_id, kind, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		se.TokenHash, se.UserID, string(se.Kind), s.d.timeArg(normTime(se.CreatedAt)), s.d.timeArg(normTime(se.ExpiresAt)))
	if err != nil {
		return fmt.Errorf("create session for user %d: %w", se.UserID, s.wrapAs(err, staffErrs))
	}
	return nil
}

func (s *DB) GetSession(ctx context.Context, tokenHash []byte) (staff.Session, error) {
	var se staff.Session
	err := s.r.QueryRowContext(ctx,
		`SELECT token_hash, user_id, kind, created_at, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2`,
		tokenHash, s.d.timeArg(now())).
		Scan(&se.TokenHash, &se.UserID, (*string)(&se.Kind), dbTime{&se.CreatedAt}, dbTime{&se.ExpiresAt})
	if err != nil {
		return staff.Session{}, fmt.Errorf("get session: %w", s.wrapAs(err, staffErrs))
	}
	return se, nil
}

func (s *DB) DeleteSession(ctx context.Context, tokenHash []byte) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", s.wrapAs(err, staffErrs))
	}
	return nil
}

func (s *DB) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, s.d.timeArg(now()))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", s.wrapAs(err, staffErrs))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}
