-- cardseal schema, version 10 (SQLite): the Art. 19 clock (issue 14).
-- The 10/20-working-day limit counts from the day the file became
-- complete, not from the application; another province's verification
-- (20 days) is a flag staff set with a reason.

-- When the file became complete (every required material satisfied, none
-- awaiting review), in microseconds; NULL while it is not. Cards from
-- before this version keep the clock they had: from their creation.
ALTER TABLE cards ADD COLUMN complete_at INTEGER;
UPDATE cards SET complete_at = created_at;

-- Another province must verify the couple's facts (Art. 19: 20 working
-- days), set by staff with the reason. Before this version the flag was
-- a field of the encrypted application, which the store cannot read: a
-- draft that had it set is back to 10 days until staff set it again.
ALTER TABLE cards ADD COLUMN cross_province INTEGER NOT NULL DEFAULT 0 CHECK (cross_province IN (0, 1));
ALTER TABLE cards ADD COLUMN cross_province_reason TEXT NOT NULL DEFAULT '';
