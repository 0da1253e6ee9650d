package store

import (
	"context"
	"fmt"

	"github.com/jilin-health/cardseal/org"
)

// The registry of organisations: the one place their names, levels and
// retirement are kept (package keys holds only their key material).

func (s *DB) CreateOrg(ctx context.Context, o org.Org) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("create org: %w: %w", ErrInvalid, err)
	}
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO orgs (code, level, name, retired) VALUES ($1, $2, $3, $4)`,
		o.Code, string(o.Level), o.Name, o.Retired)
	if err != nil {
		return fmt.Errorf("create org %s: %w", o.Code, s.wrapAs(err, orgErrs))
	}
	return nil
}

func (s *DB) GetOrg(ctx context.Context, code string) (org.Org, error) {
	var o org.Org
	err := s.r.QueryRowContext(ctx, `SELECT code, level, name, retired FROM orgs WHERE code = $1`, code).
		Scan(&o.Code, &o.Level, &o.Name, &o.Retired)
	if err != nil {
		return org.Org{}, fmt.Errorf("get org %s: %w", code, s.wrapAs(err, orgErrs))
	}
	return o, nil
}

func (s *DB) ListOrgs(ctx context.Context) ([]org.Org, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT code, level, name, retired FROM orgs ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", s.wrapAs(err, orgErrs))
	}
	defer rows.Close()
	var out []org.Org
	for rows.Next() {
		var o org.Org
		if err := rows.Scan(&o.Code, &o.Level, &o.Name, &o.Retired); err != nil {
			return nil, fmt.Errorf("list orgs: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list orgs: %w", s.wrapAs(err, orgErrs))
	}
	return out, nil
}

func (s *DB) UpdateOrg(ctx context.Context, o org.Org) error {
	if err := o.Validate(); err != nil {
		return fmt.Errorf("update org: %w: %w", ErrInvalid, err)
	}
	// The level is not written: Validate tied it to the code's length,
	// which also fixed the stored level.
	res, err := s.w.ExecContext(ctx, `UPDATE orgs SET name = $1, retired = $2 WHERE code = $3`,
		o.Name, o.Retired, o.Code)
	return s.updated(res, err, orgErrs, "update org "+o.Code)
}
