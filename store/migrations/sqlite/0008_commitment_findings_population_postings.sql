-- cardseal schema, version 8 (SQLite): the procedure rules of issue 14 —
-- the couple's commitment on the card row (Art. 10, 20), the county's
-- findings of a false commitment (Art. 20), population-register extracts
-- (Art. 9, 23) and requests to post an official card (Art. 16).

-- Whether the couple made a written commitment (承诺, Art. 10): only such
-- a re-birth card may be revoked (Art. 20). Cards from before this
-- version record none.
ALTER TABLE cards ADD COLUMN commitment INTEGER NOT NULL DEFAULT 0 CHECK (commitment IN (0, 1));

-- The county's finding that a commitment was false (Art. 20), recorded
-- with the revocation; the file for the social credit system lists them.
CREATE TABLE findings (
	card_id     TEXT PRIMARY KEY REFERENCES cards (id),
	county_code TEXT NOT NULL,
	found_on    TEXT NOT NULL CHECK (length(found_on) = 10),
	reason      TEXT NOT NULL,
	note        TEXT NOT NULL,
	recorded_by TEXT NOT NULL,
	recorded_at INTEGER NOT NULL
);
CREATE INDEX findings_county ON findings (county_code, found_on, card_id);

-- A county's extract of the population register (全员人口数据库): one row
-- per person, found by a keyed digest of the ID number; the record itself
-- is encrypted by the caller. No ID number is stored in clear.
CREATE TABLE population (
	county_code TEXT NOT NULL,
	id_key      TEXT NOT NULL CHECK (length(id_key) BETWEEN 1 AND 64),
	record      BLOB NOT NULL,
	imported_at INTEGER NOT NULL,
	PRIMARY KEY (county_code, id_key)
) WITHOUT ROWID;

-- Requests to post an official card (正式证件) to the holder (Art. 16):
-- the address encrypted by the caller; posted once the receiving
-- organisation records the posting.
CREATE TABLE postings (
	card_id      TEXT NOT NULL REFERENCES cards (id),
	seq          INTEGER NOT NULL CHECK (seq >= 1),
	village_code TEXT NOT NULL,
	address      BLOB NOT NULL,
	requested_at INTEGER NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('requested', 'printed', 'posted')),
	posted_on    TEXT NOT NULL DEFAULT '',
	carrier      TEXT NOT NULL DEFAULT '',
	tracking     TEXT NOT NULL DEFAULT '',
	updated_by   TEXT NOT NULL DEFAULT '',
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (card_id, seq)
);
CREATE INDEX postings_queue ON postings (state, village_code, requested_at);
