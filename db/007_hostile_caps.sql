-- Issue 13 (hostile and careless input). A reload the shrink guard holds (src/config/reload-guard.ts),
-- kept here so `fleetboot reload` (another process) can show it and confirm that exact version of
-- the files; the daemon applies a confirmed row and deletes it. At most one row.
CREATE TABLE held_reload (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  fingerprint  TEXT    NOT NULL,
  message      TEXT    NOT NULL,
  hosts_before INTEGER NOT NULL,
  hosts_after  INTEGER NOT NULL,
  removed      TEXT    NOT NULL, -- JSON list of host names
  held_at      INTEGER NOT NULL, -- ms since epoch
  confirmed_by TEXT,
  confirmed_at INTEGER
);
