-- cardseal schema, version 7 (PostgreSQL): simultaneous review (Art. 15) and
-- the issuer of each card (Art. 3, 6). Every level records its approval of an
-- application when it likes; the platform applies the level's seal once the
-- level below has sealed.

-- The approval of one level of one card: at most one per level. A change
-- of the application (materials, data) cancels the approvals in force of
-- the levels that have not sealed yet (cancelled_at); approving again
-- replaces the row.
CREATE TABLE approvals (
	card_id      text NOT NULL REFERENCES cards (id),
	level        text NOT NULL CHECK (level IN ('village', 'township', 'county')),
	org_code     text NOT NULL REFERENCES orgs (code),
	by_user      text NOT NULL CHECK (length(by_user) BETWEEN 1 AND 128),
	approved_at  timestamptz NOT NULL,
	cancelled_at timestamptz,
	PRIMARY KEY (card_id, level)
);

-- A seal records the approval it carries out: when and by whom the level
-- approved, beside when the seal was signed (signed_at). Seals from
-- before this version have none.
ALTER TABLE seals ADD COLUMN approved_at timestamptz;
ALTER TABLE seals ADD COLUMN approved_by text NOT NULL DEFAULT '';

-- Who issues the card (发证机关, Art. 3, 6): the township or the county
-- the issuer policy of its type named when the card was made. Cards from
-- before this version were issued by their county ('').
ALTER TABLE cards ADD COLUMN issuer_code text NOT NULL DEFAULT '' CHECK (length(issuer_code) <= 12);
