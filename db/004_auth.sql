-- Admin users, their sessions and API tokens, and the audit log of who did what.
-- Secrets are never stored: passwords as scrypt hashes, session ids and API tokens as SHA-256.
CREATE TABLE users (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT    NOT NULL UNIQUE,
  pw_hash    TEXT    NOT NULL, -- scrypt$N$r$p$salt$hash (base64url)
  created_at INTEGER NOT NULL,
  created_by TEXT
);

CREATE TABLE sessions (
  id_hash    TEXT    PRIMARY KEY, -- sha256 of the cookie value
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf       TEXT    NOT NULL,    -- synchronizer token for this session's writes
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  ip         TEXT
);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE api_tokens (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT    NOT NULL,
  token_hash   TEXT    NOT NULL UNIQUE, -- sha256 of fb_...
  hint         TEXT    NOT NULL,        -- first characters, to tell tokens apart in the UI
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
);

CREATE TABLE audit_log (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at     INTEGER NOT NULL,
  actor  TEXT    NOT NULL,
  action TEXT    NOT NULL, -- reinstall.mark, reinstall.cancel, login, login.failed, user.add, token.create ...
  target TEXT,
  detail TEXT,
  ip     TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);
