-- Runtime state only: configuration lives in YAML files in git.
CREATE TABLE install_runs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  host          TEXT    NOT NULL,
  role          TEXT    NOT NULL,
  token         TEXT    NOT NULL UNIQUE,
  state         TEXT    NOT NULL CHECK (state IN ('marked','booting','installing','rebooting','done','failed','stalled','cancelled')),
  stage         TEXT,
  message       TEXT,
  marked_by     TEXT,
  created_at    INTEGER NOT NULL, -- ms since epoch
  updated_at    INTEGER NOT NULL,
  last_event_at INTEGER,
  booted_at     INTEGER,
  finished_at   INTEGER,
  token_expires_at INTEGER NOT NULL
);
CREATE INDEX install_runs_host ON install_runs(host, id);
CREATE INDEX install_runs_state ON install_runs(state);

CREATE TABLE events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id     INTEGER REFERENCES install_runs(id) ON DELETE CASCADE,
  host       TEXT    NOT NULL,
  at         INTEGER NOT NULL,
  kind       TEXT    NOT NULL, -- 'state' | 'progress' | 'log' | 'boot' | 'dhcp' | 'tftp' | 'http'
  stage      TEXT,
  message    TEXT,
  source     TEXT              -- client address or subsystem
);
CREATE INDEX events_host ON events(host, at);
CREATE INDEX events_run ON events(run_id, id);

-- A host is marked for reinstall until its run reaches done (or the mark is cancelled).
CREATE TABLE reinstall_marks (
  host      TEXT PRIMARY KEY,
  run_id    INTEGER NOT NULL REFERENCES install_runs(id),
  marked_at INTEGER NOT NULL,
  marked_by TEXT
);

CREATE TABLE discovered (
  mac        TEXT PRIMARY KEY,
  first_seen INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL,
  seen_count INTEGER NOT NULL DEFAULT 1,
  ip         TEXT,
  arch       TEXT,
  client     TEXT,  -- vendor class / user class as seen
  via        TEXT
);
