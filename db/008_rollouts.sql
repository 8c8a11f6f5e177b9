-- Rollouts (issue 14): a reinstall of many hosts in waves with a canary and a failure budget.
-- The engine (src/rollout/engine.ts) keeps ALL of its state here, so a restarted daemon picks
-- up exactly where the last one stopped. Side effects are recorded in the same transaction as
-- the state change that causes them (the mark) or before/after them (power), see docs/rollouts.md.
CREATE TABLE rollouts (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  state       TEXT    NOT NULL CHECK (state IN ('scheduled','running','paused','stopped-budget','stopped-canary','aborted','completed')),
  selector    TEXT    NOT NULL,          -- how the hosts were chosen ("role=web", "hosts a,b")
  options     TEXT    NOT NULL,          -- JSON: canary, wave, parallel, maxFailures, retries, deadlines, health
  created_by  TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,          -- ms since epoch
  start_at    INTEGER NOT NULL,          -- --at (created_at when not given)
  started_at  INTEGER,
  finished_at INTEGER,
  updated_at  INTEGER NOT NULL,
  reason      TEXT                       -- why it stopped / was paused / aborted
);
CREATE INDEX rollouts_state ON rollouts(state);

CREATE TABLE rollout_hosts (
  rollout_id  INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
  host        TEXT    NOT NULL,
  position    INTEGER NOT NULL,          -- order within the rollout (inventory order)
  wave        INTEGER NOT NULL,          -- 0 = canary, 1.. = waves
  state       TEXT    NOT NULL CHECK (state IN ('pending','power','booting','installing','up-wait','health','retry','done','failed','cancelled')),
  attempt     INTEGER NOT NULL DEFAULT 0,  -- attempts started (a mark each)
  run_id      INTEGER REFERENCES install_runs(id),
  phase_at    INTEGER,                   -- when the current phase began (its deadline runs from here)
  started_at  INTEGER,
  finished_at INTEGER,
  last_error  TEXT,
  PRIMARY KEY (rollout_id, host)
);
CREATE INDEX rollout_hosts_state ON rollout_hosts(rollout_id, state);

-- One row per side effect per attempt: the UNIQUE key makes a repeated mark impossible even if
-- the engine's own bookkeeping had a bug (the insert fails and the transaction rolls back).
CREATE TABLE rollout_steps (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  rollout_id  INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
  host        TEXT,
  attempt     INTEGER NOT NULL DEFAULT 0,
  kind        TEXT    NOT NULL,          -- mark, power, power-again, boot, installed, up, health, retry, failed, done, rollout.*
  at          INTEGER NOT NULL,
  detail      TEXT
);
CREATE INDEX rollout_steps_rollout ON rollout_steps(rollout_id, id);
CREATE UNIQUE INDEX rollout_steps_once ON rollout_steps(rollout_id, host, attempt, kind) WHERE kind IN ('mark', 'power');

-- Outbox of webhook notifications: written in the transaction that changes the rollout's state,
-- sent by the notifier on its own schedule (never inside the engine's tick), with backoff.
CREATE TABLE notify_outbox (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  rollout_id  INTEGER REFERENCES rollouts(id) ON DELETE CASCADE,
  event       TEXT    NOT NULL,          -- rollout.canary_failed | rollout.stopped_budget | rollout.completed
  target      INTEGER NOT NULL,          -- index into notify.webhooks at the time of the event
  url_hint    TEXT    NOT NULL,          -- the configured URL without its secret, for display/logs
  payload     TEXT    NOT NULL,          -- JSON facts; rendered per format when sent
  created_at  INTEGER NOT NULL,
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_at     INTEGER NOT NULL,
  sent_at     INTEGER,
  gave_up_at  INTEGER,
  last_error  TEXT
);
CREATE INDEX notify_outbox_due ON notify_outbox(sent_at, gave_up_at, next_at);
