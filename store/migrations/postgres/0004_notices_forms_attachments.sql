-- cardseal schema, version 4 (PostgreSQL): the documents of the procedure.

-- Written notices of an application (Art. 19 one-time notice 一次性告知书,
-- Art. 11 refusal notice 不予办理告知书), sealed by the receiving
-- organisation. app_digest is the SM3 of the application the notice was
-- given on: Art. 19 allows one missing-materials notice per application,
-- so a second one on an unchanged application is a duplicate.
CREATE TABLE notices (
	card_id    text NOT NULL REFERENCES cards (id),
	seq        integer NOT NULL CHECK (seq >= 1),
	kind       text NOT NULL CHECK (kind IN ('missing', 'refusal')),
	number     text NOT NULL UNIQUE,
	app_digest text NOT NULL,
	org_code   text NOT NULL REFERENCES orgs (code),
	pdf        bytea NOT NULL,
	created_at timestamptz NOT NULL,
	created_by text NOT NULL,
	PRIMARY KEY (card_id, seq)
);
CREATE UNIQUE INDEX notices_once ON notices (card_id, app_digest) WHERE kind = 'missing';

-- Re-birth approval forms (再生育审批表, Art. 17): the newest sealed
-- revision; seq counts the seals applied (in any order, 补盖).
CREATE TABLE forms (
	id         text PRIMARY KEY,
	card_id    text NOT NULL UNIQUE REFERENCES cards (id),
	number     text NOT NULL UNIQUE,
	seq        integer NOT NULL CHECK (seq >= 0),
	pdf        bytea NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	created_by text NOT NULL
);

-- Photos and scans of materials sent online by citizens (Art. 16),
-- encrypted by the caller like the applicant record.
CREATE TABLE attachments (
	card_id      text NOT NULL REFERENCES cards (id),
	seq          integer NOT NULL CHECK (seq >= 1),
	material     text NOT NULL,
	content_type text NOT NULL,
	size         integer NOT NULL,
	data         bytea NOT NULL,
	created_at   timestamptz NOT NULL,
	PRIMARY KEY (card_id, seq)
);
