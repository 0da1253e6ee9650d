-- cardseal schema, version 9 (PostgreSQL): the pre-review list of re-birth
-- applications (预审上报, Art. 17). The village or the township reports a
-- couple's re-birth application to the county; the county may then issue
-- the card directly with its seal alone, the card's seal naming the
-- pre-review (docs/seal-format.md, the cardseal policy attribute), and the
-- village and the township seal the re-birth approval form afterwards.

-- One report per level of a card; id is what the direct card's seal names.
CREATE TABLE pre_reviews (
	id         text PRIMARY KEY CHECK (length(id) = 16),
	card_id    text NOT NULL REFERENCES cards (id),
	level      text NOT NULL CHECK (level IN ('village', 'township')),
	org_code   text NOT NULL REFERENCES orgs (code),
	by_user    text NOT NULL CHECK (length(by_user) BETWEEN 1 AND 128),
	created_at timestamptz NOT NULL,
	UNIQUE (card_id, level)
);
CREATE INDEX pre_reviews_org ON pre_reviews (org_code, created_at);
