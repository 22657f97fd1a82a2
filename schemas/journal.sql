-- journal.sql — the SQLite schema of the runbook journal (DESIGN §5),
-- version 1. engine/journal.c compiles this text in (CMake turns it into
-- journal_sql.h) and runs it, inside one IMMEDIATE transaction, on a file
-- whose user_version is 0. Later versions are migrations in journal.c keyed
-- by user_version; never edit a released version of this file in a way that
-- an existing journal would not get through a migration.
--
-- Times are integers: ms since the Unix epoch (wall clock) unless the column
-- says otherwise. JSON columns hold compact JSON text written by jansson.

-- 'RUNB': lets the journal tell its own files from other SQLite databases.
PRAGMA application_id = 1381322306;
PRAGMA user_version = 1;

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
    status     TEXT NOT NULL,           -- running, succeeded, failed, …
    trigger    TEXT,                    -- cli, alert, api, …
    params     TEXT NOT NULL DEFAULT '{}',  -- JSON object
    started_at INTEGER NOT NULL,
    ended_at   INTEGER                  -- NULL while the run is open
);

-- The append-only record of every transition of every run.
CREATE TABLE events (
    run_id  INTEGER NOT NULL REFERENCES runs(id),
    seq     INTEGER NOT NULL,           -- 1, 2, 3 … per run, no gaps
    wall_ms INTEGER NOT NULL,           -- CLOCK_REALTIME, ms
    mono_ns INTEGER NOT NULL,           -- CLOCK_MONOTONIC of the writer, ns
    type    TEXT NOT NULL,              -- run_started, step_started, …
    step    TEXT,                       -- NULL for run-level events
    attempt INTEGER NOT NULL DEFAULT 0, -- 0 when it does not apply
    data    TEXT NOT NULL DEFAULT '{}', -- JSON object
    PRIMARY KEY (run_id, seq)
);

-- SQLite cannot revoke UPDATE or DELETE, so refuse them here. (Whoever can
-- write the file can drop these triggers too; the hash chain that comes with
-- a later version is what detects that.)
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

-- A recorded version is what replay trusts: it never changes. (Deleting one
-- that a run refers to is refused by the foreign key.)
CREATE TRIGGER versions_no_update BEFORE UPDATE ON versions
BEGIN
    SELECT RAISE(ABORT, 'runbook versions are immutable');
END;

-- Alerts received from webhooks. An alert is its fingerprint + startsAt: the
-- UNIQUE insert is the durable claim that makes a repeated delivery start
-- nothing new, across restarts. run_id is the run it started, if any.
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    starts_at   TEXT NOT NULL,          -- startsAt as the sender wrote it
    received_at INTEGER NOT NULL,
    payload     TEXT NOT NULL,          -- the alert's JSON
    run_id      INTEGER REFERENCES runs(id),
    UNIQUE (fingerprint, starts_at)
);
