-- cardseal schema, version 1 (SQLite).
-- Times are INTEGER microseconds since the Unix epoch, UTC: they compare
-- correctly as numbers and round-trip exactly into the audit hash.

CREATE TABLE orgs (
	code    TEXT PRIMARY KEY,
	level   TEXT NOT NULL CHECK (level IN ('village', 'township', 'county')),
	name    TEXT NOT NULL,
	retired INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1))
);

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	org_code      TEXT NOT NULL REFERENCES orgs (code),
	password_hash TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	failed_logins INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER
);

CREATE TABLE sessions (
	token_hash BLOB PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE cards (
	id            TEXT PRIMARY KEY,
	number        TEXT NOT NULL UNIQUE,
	type          TEXT NOT NULL CHECK (type IN ('first', 'second', 'rebirth')),
	status        TEXT NOT NULL CHECK (status IN ('draft', 'issued', 'voided', 'revoked', 'superseded', 'refused')),
	village_code  TEXT NOT NULL,
	county_code   TEXT NOT NULL,
	applicant     BLOB NOT NULL,
	token_salt    BLOB NOT NULL,
	qr_token      TEXT UNIQUE,
	status_index  INTEGER NOT NULL UNIQUE CHECK (status_index >= 0),
	superseded_by TEXT REFERENCES cards (id),
	status_reason TEXT NOT NULL DEFAULT '',
	status_note   TEXT NOT NULL DEFAULT '',
	seq           INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	created_by    TEXT NOT NULL,
	version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX cards_queue ON cards (status, village_code, created_at);

CREATE TABLE card_pdfs (
	card_id    TEXT NOT NULL REFERENCES cards (id),
	seq        INTEGER NOT NULL CHECK (seq >= 0),
	pdf        BLOB NOT NULL,
	digest     BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (card_id, seq)
);

CREATE TABLE seals (
	card_id     TEXT NOT NULL,
	seq         INTEGER NOT NULL CHECK (seq >= 1),
	level       TEXT NOT NULL CHECK (level IN ('village', 'township', 'county')),
	org_code    TEXT NOT NULL REFERENCES orgs (code),
	cert_serial TEXT NOT NULL,
	signed_at   INTEGER NOT NULL,
	pdf_digest  BLOB NOT NULL,
	by_user     TEXT NOT NULL,
	PRIMARY KEY (card_id, seq),
	UNIQUE (card_id, level),
	FOREIGN KEY (card_id, seq) REFERENCES card_pdfs (card_id, seq)
);

CREATE TABLE card_counters (
	county_code TEXT NOT NULL,
	year        INTEGER NOT NULL,
	last        INTEGER NOT NULL,
	PRIMARY KEY (county_code, year)
);

CREATE TABLE audit_events (
	id          INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	org_code    TEXT NOT NULL,
	action      TEXT NOT NULL,
	card_id     TEXT NOT NULL,
	reason      TEXT NOT NULL,
	detail      TEXT NOT NULL,
	remote_addr TEXT NOT NULL,
	prev_hash   BLOB NOT NULL,
	hash        BLOB NOT NULL
);
CREATE INDEX audit_events_card ON audit_events (card_id, id);

-- One row: the id and hash of the newest audit event. Appending locks it,
-- so the chain never forks, and deleting the newest events is detected.
CREATE TABLE audit_head (
	id        INTEGER PRIMARY KEY CHECK (id = 1),
	last_id   INTEGER NOT NULL,
	last_hash BLOB NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, X'');
