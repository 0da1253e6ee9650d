-- cardseal schema, version 3 (SQLite).

-- Signed checkpoints of the audit chain: the platform key's SM2 signature
-- over "cardseal-audit-v1\n<up_to_id>\n<hex hash>\n<RFC 3339 signed_at>\n",
-- so an attacker who edits an event and recomputes every later hash is
-- still caught. No foreign key to audit_events: a checkpoint must outlive
-- the events it covers, or deleting the newest events would delete the
-- evidence of their deletion.
CREATE TABLE audit_checkpoints (
	id        INTEGER PRIMARY KEY,
	up_to_id  INTEGER NOT NULL CHECK (up_to_id >= 1),
	hash      BLOB NOT NULL,
	signed_at INTEGER NOT NULL,
	signature BLOB NOT NULL,
	cert      BLOB NOT NULL
);
CREATE INDEX audit_checkpoints_up_to ON audit_checkpoints (up_to_id, id);
