package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
)

// Population-register extracts (Art. 9, 23): per county, records found
// by a keyed digest of the ID number, kept as the lifecycle encrypted
// them.

func (s *DB) ReplacePopulation(ctx context.Context, county string, recs []card.PopulationRecord, ev audit.Event) error {
	if len(county) != 6 || !digitsRE.MatchString(county) {
		return fmt.Errorf("replace population: %w: county %q", ErrInvalid, county)
	}
	for _, r := range recs {
		if !coupleKeyRE.MatchString(r.Key) || len(r.Data) == 0 {
			return fmt.Errorf("replace population of %s: %w: a record needs a hex key and data", county, ErrInvalid)
		}
	}
	t := now()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM population WHERE county_code = $1`, county); err != nil {
			return s.wrap(err)
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO population (county_code, id_key, record, imported_at) VALUES ($1, $2, $3, $4)`)
		if err != nil {
			return s.wrap(err)
		}
		defer st.Close()
		for _, r := range recs {
			if _, err := st.ExecContext(ctx, county, r.Key, r.Data, s.d.timeArg(t)); err != nil {
				return s.wrap(err)
			}
		}
		_, err = s.appendAudit(ctx, tx, &ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("replace population of %s: %w", county, err)
	}
	return nil
}

func (s *DB) PopulationRecord(ctx context.Context, county, key string) ([]byte, error) {
	var b []byte
	err := s.r.QueryRowContext(ctx, `SELECT record FROM population WHERE county_code = $1 AND id_key = $2`, county, key).Scan(&b)
	if err != nil {
		return nil, fmt.Errorf("population record: %w", s.wrap(err))
	}
	return b, nil
}

// PopulationCounties lists the counties that hold an extract.
func (s *DB) PopulationCounties(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT county_code FROM population ORDER BY county_code`)
	if err != nil {
		return nil, fmt.Errorf("population counties: %w", s.wrap(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("population counties: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("population counties: %w", s.wrap(err))
	}
	return out, nil
}

// RewritePopulation calls fn with every record of the county's extract,
// by key, and replaces them by what fn returns — the same number, in the
// same order, each keeping its import time — in one transaction: the
// data-key rotation (lifecycle.RotateDataKey) re-encrypts an extract, and
// derives its keys again, all at once or not at all. A new key equal to
// another record's old one (keys are 256-bit digests: never in practice)
// fails the transaction as card.ErrDuplicate.
func (s *DB) RewritePopulation(ctx context.Context, county string, fn func([]card.PopulationRecord) ([]card.PopulationRecord, error)) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id_key, record FROM population WHERE county_code = $1 ORDER BY id_key`, county)
		if err != nil {
			return s.wrap(err)
		}
		var recs []card.PopulationRecord
		for rows.Next() {
			var r card.PopulationRecord
			if err := rows.Scan(&r.Key, &r.Data); err != nil {
				rows.Close()
				return err
			}
			recs = append(recs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.wrap(err)
		}
		out, err := fn(slices.Clone(recs))
		if err != nil {
			return err
		}
		if len(out) != len(recs) {
			return fmt.Errorf("%w: a rewrite replaces records, it does not add or remove them", ErrInvalid)
		}
		st, err := tx.PrepareContext(ctx, `UPDATE population SET id_key = $1, record = $2 WHERE county_code = $3 AND id_key = $4`)
		if err != nil {
			return s.wrap(err)
		}
		defer st.Close()
		for i, r := range out {
			if !coupleKeyRE.MatchString(r.Key) || len(r.Data) == 0 {
				return fmt.Errorf("%w: a record needs a hex key and data", ErrInvalid)
			}
			if r.Key == recs[i].Key && bytes.Equal(r.Data, recs[i].Data) {
				continue
			}
			if _, err := st.ExecContext(ctx, r.Key, r.Data, county, recs[i].Key); err != nil {
				return s.wrap(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rewrite population of %s: %w", county, err)
	}
	return nil
}
