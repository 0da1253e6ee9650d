-- cardseal schema, version 2 (SQLite).

-- The couple's keyed digest (lower-case hex, computed by the caller), so a
-- couple's earlier cards are found without decrypting applicants. Empty:
-- not recorded (cards created before version 2).
ALTER TABLE cards ADD COLUMN couple_key TEXT NOT NULL DEFAULT '' CHECK (length(couple_key) <= 64);
CREATE INDEX cards_couple ON cards (couple_key, created_at, id);

-- Keyset paging in ListCards' order, overall and per issuing county.
CREATE INDEX cards_created ON cards (created_at, id);
CREATE INDEX cards_county ON cards (county_code, created_at, id);

-- The entries of the signed status list: only cards that are no longer
-- good. The WHERE clause must stay word for word the one in
-- StatusEntries, or SQLite will not use the index.
CREATE INDEX cards_status_list ON cards (status, status_index)
	WHERE status IN ('voided', 'revoked', 'superseded');

-- Fixed-window request counters shared by every instance on this database.
CREATE TABLE rate_limits (
	key          TEXT NOT NULL,
	window_start INTEGER NOT NULL,
	window_end   INTEGER NOT NULL,
	count        INTEGER NOT NULL CHECK (count >= 1),
	PRIMARY KEY (key, window_start)
) WITHOUT ROWID;
CREATE INDEX rate_limits_end ON rate_limits (window_end);
