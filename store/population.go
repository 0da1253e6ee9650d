package store

import (
	"context"
	"database/sql"
	"fmt"

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
