-- cardseal schema, version 4 (SQLite): the documents of the procedure.

-- Written notices of an application (Art. 19 one-time notice 一次性告知书,
-- Art. 11 refusal notice 不予办理告知书), sealed by the receiving
-- organisation. app_digest is the SM3 of the application the notice was
-- given on: Art. 19 allows one missing-materials notice per application,
-- so a second one on an unchanged application is a duplicate.
CREATE TABLE notices (
	card_id    TEXT NOT NULL REFERENCES cards (id),
	seq        INTEGER NOT NULL CHECK (seq >= 1),
	kind       TEXT NOT NULL CHECK (kind IN ('missing', 'refusal')),
	number     TEXT NOT NULL UNIQUE,
	app_digest TEXT NOT NULL,
	org_code   TEXT NOT NULL REFERENCES orgs (code),
	pdf        BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	PRIMARY KEY (card_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX notices_once ON notices (card_id, app_digest) WHERE kind = 'missing';

-- Re-birth approval forms (再生育审批表, Art. 17): the newest sealed
-- revision; seq counts the seals applied (in any order, 补盖).
CREATE TABLE forms (
	id         TEXT PRIMARY KEY,
	card_id    TEXT NOT NULL UNIQUE REFERENCES cards (id),
	number     TEXT NOT NULL UNIQUE,
	seq        INTEGER NOT NULL CHECK (seq >= 0),
	pdf        BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	created_by TEXT NOT NULL
);

-- Photos and scans of materials sent online by citizens (Art. 16),
-- encrypted by the caller like the applicant record.
CREATE TABLE attachments (
	card_id      TEXT NOT NULL REFERENCES cards (id),
	seq          INTEGER NOT NULL CHECK (seq >= 1),
	material     TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size         INTEGER NOT NULL,
	data         BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (card_id, seq)
) WITHOUT ROWID;
