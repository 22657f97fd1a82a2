-- journal.sql — the SQLite schema of the runbook journal (DESIGN §5),
-- version 6. engine/journal_schema.c compiles this text in (CMake turns it into
-- journal_sql.h) and runs it, inside one IMMEDIATE transaction, on a file
-- whose user_version is 0. A file of an older version is brought here by the
-- migrations in journal_schema.c (keyed by user_version; version 1 is kept in
-- tests/fixtures/journal/v1.sql, and a test checks that a migrated file has
-- the same tables, columns, indexes and triggers as a new one). Never edit a
-- released version of this file in a way that an existing journal would not
-- get through a migration.
--
-- Times are integers: ms since the Unix epoch (wall clock) unless the column
-- says otherwise. JSON columns hold compact JSON text written by jansson.
-- Hashes are 32-byte BLOBs (SHA-256); docs/journal.md gives the encoding.

-- 'RUNB': lets the journal tell its own files from other SQLite databases.
PRAGMA application_id = 1381322306;
PRAGMA user_version = 6;

-- Every runbook text a run was started from, verbatim, keyed by the SHA-256
-- of that text: replay and review re-read exactly what ran.
CREATE TABLE versions (
    sha256      TEXT PRIMARY KEY NOT NULL,   -- 64 lowercase hex digits
    name        TEXT NOT NULL,               -- the runbook's `name:`
    path        TEXT,                        -- where it was loaded from
    source      TEXT NOT NULL,               -- the full YAML text
    recorded_at INTEGER NOT NULL             -- first time it was recorded
);

-- A projection of each run for listing; the events are the record.
CREATE TABLE runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    runbook    TEXT NOT NULL,
    sha256     TEXT REFERENCES versions(sha256),
    status     TEXT NOT NULL,           -- running, succeeded, failed, interrupted, …
    trigger    TEXT,                    -- cli, alert, api, …
    params     TEXT NOT NULL DEFAULT '{}',  -- JSON object
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,                 -- NULL while the run is open
    -- The process that runs it, for crash recovery: a run left open by a
    -- process that is gone is marked interrupted. NULL: unknown (version 1).
    owner_pid   INTEGER,
    owner_start INTEGER,                -- its start time, clock ticks after boot (/proc/PID/stat)
    owner_boot  TEXT                    -- the kernel's boot id (/proc/sys/kernel/random/boot_id)
);

-- Open runs, looked at on every open for writing.
CREATE INDEX runs_open ON runs(id) WHERE ended_at IS NULL;

-- The runs by start time: the listings show the newest first (version 6).
CREATE INDEX runs_started ON runs(started_at, id);

-- The append-only record of every transition of every run, hash-chained in
-- insertion order over all runs: event N carries the hash of event N-1.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,      -- place in the chain: 1, 2, 3 … over all runs
    run_id    INTEGER NOT NULL REFERENCES runs(id),
    seq       INTEGER NOT NULL,         -- 1, 2, 3 … per run, no gaps
    wall_ms   INTEGER NOT NULL,         -- CLOCK_REALTIME, ms
    mono_ns   INTEGER NOT NULL,         -- CLOCK_MONOTONIC of the appending process, ns
    type      TEXT NOT NULL,            -- run_started, step_started, …
    step      TEXT,                     -- NULL for run-level events
    attempt   INTEGER NOT NULL DEFAULT 0, -- 0 when it does not apply
    data      TEXT NOT NULL DEFAULT '{}', -- JSON, compact, keys sorted
    prev_hash BLOB NOT NULL,            -- hash of event id-1 (zeros before event 1;
                                        -- the newest checkpoint's cut_hash after a prune)
    hash      BLOB NOT NULL,            -- SHA-256 of this event's canonical encoding
    UNIQUE (run_id, seq)
);

-- Runs by concurrency key (run_started's data.concurrency_key): is a run
-- of any runbook still active for the key, and when did this runbook's last one end
-- (cooldown)? Version 3.
CREATE INDEX events_concurrency ON events(json_extract(data, '$.concurrency_key'))
    WHERE type = 'run_started';

-- The newest event of the chain, written in the same commit as the events.
-- Without it, deleting the newest events would leave a chain that still
-- verifies. One row.
CREATE TABLE chain_head (
    one      INTEGER PRIMARY KEY CHECK (one = 1),
    event_id INTEGER NOT NULL,          -- id of the newest event ever appended (0: none)
    hash     BLOB NOT NULL              -- its hash
);
INSERT INTO chain_head(one, event_id, hash) VALUES (1, 0, zeroblob(32));

-- What `runbook journal prune` removed: events 1..cut_event_id are gone and
-- the chain resumes at cut_hash. Checkpoints are chained too.
CREATE TABLE checkpoints (
    id            INTEGER PRIMARY KEY,  -- 1, 2, 3 …
    created_at    INTEGER NOT NULL,
    before_ms     INTEGER NOT NULL,     -- the prune's --before
    cut_event_id  INTEGER NOT NULL,     -- events with an id up to this one were removed
    cut_hash      BLOB NOT NULL,        -- the hash of that event
    pruned_runs   INTEGER NOT NULL,
    pruned_events INTEGER NOT NULL,
    prev_hash     BLOB NOT NULL,        -- the previous checkpoint's hash (zeros for the first)
    hash          BLOB NOT NULL         -- SHA-256 of this checkpoint's canonical encoding
);

-- Signed checkpoints: the chain head (its newest event and that event's
-- hash) signed with an Ed25519 key the journal's writers are given
-- (RUNBOOK_SIGNING_KEY, or the server's signing_key), at every run's end and
-- at the server's sign_interval. Rewriting the chain up to a signed head
-- needs the private key; `runbook audit verify --pubkey` checks them.
-- docs/journal.md gives the signed bytes. Version 5.
CREATE TABLE signatures (
    id        INTEGER PRIMARY KEY,      -- 1, 2, 3 …; signed too, so a deleted one shows
    event_id  INTEGER NOT NULL,         -- the head signed: its newest event
    hash      BLOB NOT NULL,            -- that event's hash
    signed_at INTEGER NOT NULL,         -- ms since the epoch
    key_id    BLOB NOT NULL,            -- SHA-256 of the raw Ed25519 public key
    signature BLOB NOT NULL             -- Ed25519, 64 bytes
);

-- SQLite cannot revoke UPDATE or DELETE, so refuse them here. Whoever can
-- write the file can drop these triggers too; the hash chain and
-- `runbook audit verify` are what detect that.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

-- The one way out for events: below a checkpoint's cut (journal prune).
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
WHEN OLD.id > coalesce((SELECT max(cut_event_id) FROM checkpoints), 0)
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

-- The head only moves forward, to the newest event and its hash.
CREATE TRIGGER chain_head_follows BEFORE UPDATE ON chain_head
WHEN NEW.one IS NOT 1 OR NEW.event_id < OLD.event_id
  OR NEW.event_id IS NOT (SELECT max(id) FROM events)
  OR NEW.hash IS NOT (SELECT hash FROM events WHERE id = NEW.event_id)
BEGIN
    SELECT RAISE(ABORT, 'the chain head can only move to the newest event');
END;

CREATE TRIGGER chain_head_no_delete BEFORE DELETE ON chain_head
BEGIN
    SELECT RAISE(ABORT, 'the chain head cannot be deleted');
END;

-- A checkpoint cuts at an existing event, after the previous cut.
CREATE TRIGGER checkpoints_cut BEFORE INSERT ON checkpoints
WHEN NEW.cut_hash IS NOT (SELECT hash FROM events WHERE id = NEW.cut_event_id)
  OR NEW.cut_event_id <= coalesce((SELECT max(cut_event_id) FROM checkpoints), 0)
BEGIN
    SELECT RAISE(ABORT, 'a checkpoint must cut the chain at an existing event');
END;

CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;

CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;

CREATE TRIGGER signatures_no_update BEFORE UPDATE ON signatures
BEGIN
    SELECT RAISE(ABORT, 'signatures are append-only');
END;

CREATE TRIGGER signatures_no_delete BEFORE DELETE ON signatures
BEGIN
    SELECT RAISE(ABORT, 'signatures are append-only');
END;

-- A recorded version is what replay trusts: it never changes. (Deleting one
-- that a run refers to is refused by the foreign key.)
CREATE TRIGGER versions_no_update BEFORE UPDATE ON versions
BEGIN
    SELECT RAISE(ABORT, 'runbook versions are immutable');
END;

-- Alerts received from webhooks. An alert is its fingerprint + startsAt: the
-- UNIQUE insert is the durable claim that makes a repeated delivery start
-- nothing new, across restarts. run_id is unused (a claim may start several
-- runs: alert_runs says which). Version 4 adds status, runbooks, resolved_at
-- and resolved.
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    starts_at   TEXT NOT NULL,          -- startsAt as the sender wrote it
    received_at INTEGER NOT NULL,
    payload     TEXT NOT NULL,          -- the alert's JSON
    run_id      INTEGER REFERENCES runs(id),
    status      TEXT NOT NULL DEFAULT 'claimed', -- claimed (runbooks matched), unmatched,
                                                 -- resolved (first heard of resolved)
    runbooks    TEXT NOT NULL DEFAULT '[]',      -- JSON array: the runbooks it matched
    resolved_at INTEGER,                -- when a resolved notice was first journaled
    resolved    TEXT,                   -- that notice's JSON
    UNIQUE (fingerprint, starts_at)
);

-- What each claimed alert did with each runbook it matched: the run it
-- started (run_id, written in the same record as the run itself, so a run
-- never exists without its claim link) or why none (outcome). A matched
-- runbook with no row here after a crash is a run that was never created:
-- the server starts it on its next start. Version 4.
CREATE TABLE alert_runs (
    fingerprint TEXT NOT NULL,
    starts_at   TEXT NOT NULL,
    runbook     TEXT NOT NULL,
    run_id      INTEGER REFERENCES runs(id), -- NULL: no run (outcome says why)
    outcome     TEXT NOT NULL,          -- started, or why not ("busy: …", "error: …")
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (fingerprint, starts_at, runbook)
);
CREATE INDEX alert_runs_run ON alert_runs(run_id);
CREATE INDEX alerts_open ON alerts(id) WHERE status = 'claimed';
