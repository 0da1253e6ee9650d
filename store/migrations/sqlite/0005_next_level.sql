-- cardseal schema, version 5 (sqlite): the level a draft card awaits.

-- Lifecycle sets next_level from the card's chain policy on every seal;
-- the registry only keeps it, so a queue is one index lookup and the
-- store needs no knowledge of any policy. '' once a card is issued or
-- closed.
ALTER TABLE cards ADD COLUMN next_level TEXT NOT NULL DEFAULT '';

-- Cards created before version 5: every one followed village → township
-- → county, so a draft awaits the level after its seals so far.
UPDATE cards SET next_level = CASE (SELECT count(*) FROM seals s WHERE s.card_id = cards.id)
	WHEN 0 THEN 'village' WHEN 1 THEN 'township' WHEN 2 THEN 'county' ELSE '' END
WHERE status = 'draft';

CREATE INDEX cards_awaiting ON cards (next_level, village_code, created_at, id) WHERE status = 'draft';
