-- cardseal schema, version 11 (SQLite): finding a card by a holder's
-- name or ID number (issue 16), and the person behind a staff account.

-- The keyed blind index of the holders (docs/privacy.md, "Search"): one
-- row per search term of a card, each a keyed HMAC-SM3 digest of a
-- normalised name or ID number under a key derived from the data key —
-- never the name or the number. Written with the card, rewritten by
-- 'cardseal data-key rotate' and 'cardseal data-key reindex' (which also
-- fills it for cards from before this version).
CREATE TABLE card_terms (
	card_id TEXT NOT NULL REFERENCES cards (id),
	term    TEXT NOT NULL CHECK (length(term) = 32),
	PRIMARY KEY (term, card_id)
);
CREATE INDEX card_terms_card ON card_terms (card_id);

-- The name of the person an account belongs to, shown as 操作人 in a
-- card's history; '' for accounts from before this version.
ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
