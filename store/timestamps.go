package store

import (
	"context"
	"fmt"
	"time"
)

// tsaCounter is the key of the time-stamping authority's serial numbers
// in card_counters: no county code (six digits) can take it. One row per
// year, so a counter (a 32-bit integer column) never runs out.
const tsaCounter = "tsa"

// NextTimestampSerial implements tsa.Serials: a serial number that no
// other call, from this instance or another on the same database, ever
// returned — the year in the high 32 bits, the year's count in the low —
// and the reference clock's time when it was taken: the database
// server's clock on PostgreSQL (so an instance whose clock drifts from
// the database's stops time-stamping), the store's clock on SQLite, which
// is on the same machine. The upsert locks the row until it commits, as
// NextCardNumber's does.
func (s *DB) NextTimestampSerial(ctx context.Context) (int64, time.Time, error) {
	year := s.now().Year()
	var n int64
	var ref time.Time
	var err error
	if s.d.name == "postgres" {
		err = s.w.QueryRowContext(ctx, `INSERT INTO card_counters (county_code, year, last) VALUES ($1, $2, 1)
			ON CONFLICT (county_code, year) DO UPDATE SET last = card_counters.last + 1
			RETURNING last, clock_timestamp()`, tsaCounter, year).Scan(&n, &ref)
	} else {
		err = s.w.QueryRowContext(ctx, `INSERT INTO card_counters (county_code, year, last) VALUES ($1, $2, 1)
			ON CONFLICT (county_code, year) DO UPDATE SET last = card_counters.last + 1
			RETURNING last`, tsaCounter, year).Scan(&n)
		ref = s.now()
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("next timestamp serial: %w", s.wrap(err))
	}
	if n <= 0 || n >= 1<<31 {
		return 0, time.Time{}, fmt.Errorf("next timestamp serial: the counter of %d is exhausted", year)
	}
	return int64(year)<<32 | n, ref.UTC(), nil
}
