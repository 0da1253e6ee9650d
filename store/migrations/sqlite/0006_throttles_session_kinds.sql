-- cardseal schema, version 6 (SQLite): growing delays per (subject,
-- client) instead of the per-account lockout, and the kind of a session.

-- Failures of one client on one secret (package throttle): a staff
-- password ("login", username, client IP), a holder's ID number
-- ("download" or "track", card, client IP). A stranger's failures delay
-- only the stranger's own row.
CREATE TABLE throttles (
	scope      TEXT NOT NULL CHECK (length(scope) BETWEEN 1 AND 128),
	subject    TEXT NOT NULL CHECK (length(subject) BETWEEN 1 AND 128),
	client     TEXT NOT NULL CHECK (length(client) BETWEEN 1 AND 128),
	failures   INTEGER NOT NULL CHECK (failures >= 1),
	not_before INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (scope, subject, client)
) WITHOUT ROWID;
CREATE INDEX throttles_expires ON throttles (expires_at);

-- The per-account lockout is gone: any stranger could trigger it, since
-- usernames are public division codes.
ALTER TABLE users DROP COLUMN failed_logins;
ALTER TABLE users DROP COLUMN locked_until;

-- A session is either a bearer token of the JSON API ('api') or the
-- cookie of the console ('console'); one never works as the other.
-- Sessions from before this version have no kind: they end, and their
-- users log in again.
DELETE FROM sessions;
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT '' CHECK (kind IN ('', 'api', 'console'));
CREATE INDEX sessions_user ON sessions (user_id);
