/*
 * journal.h — the journal (DESIGN §5, §11): an SQLite file, or a PostgreSQL
 * database named by a postgresql:// URL (libpq). The engine/journal*.c files
 * are the only code in the project that touches either (engine/journal/
 * journal_int.h says what each does and how the two backends are chosen).
 * A PostgreSQL journal takes every write, in both modes below (several
 * engines may append to one database at once: they take turns on the
 * chain head's row lock), is filled by rb_journal_copy and read by
 * rb_journal_verify, rb_journal_verify_with, rb_journal_runs_find and
 * rb_journal_runs_orphaned (none there), and its runs' leases are taken,
 * renewed and released by the rb_journal_lease_* calls; a function that
 * does not serve it yet answers RB_EJOURNAL and "not supported on a PostgreSQL journal
 * yet: …" in rb_journal_errmsg.
 *
 * Two write modes:
 *
 * Direct (after rb_journal_open): appends go into an open transaction on
 * the caller's thread; rb_journal_sync() commits them. The run syncs
 * before a step with side effects starts, so that the step's intent is
 * durable first. All functions: the thread that opened the journal.
 *
 * Writer (after rb_journal_attach_loop): appends are serialised on the
 * loop thread into a queue and return at once; a writer thread with its
 * own connection drains the whole queue into one transaction per wake-up
 * (group commit). rb_journal_flush() calls back on the loop once what was
 * appended before it is durable. The loop never waits on disk (except in
 * rb_journal_sync, meant for the end of a CLI run). All functions: the
 * loop thread.
 *
 * Every event is hash-chained: it carries the SHA-256 of its canonical
 * content and of the previous event (docs/journal.md), and
 * rb_journal_verify() checks the whole chain.
 */
#ifndef RB_JOURNAL_H
#define RB_JOURNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct rb_journal rb_journal_t;

/* Open flags. */
#define RB_JOURNAL_READONLY    0x1 /* open an existing file for reading only */
#define RB_JOURNAL_SYNC_NORMAL 0x2 /* synchronous=NORMAL: a commit is not flushed to the
                                    * disk at once; the newest commits may be lost on power
                                    * failure or an OS crash (never on a crash of runbook
                                    * itself), the file stays consistent. Default: FULL. */
#define RB_JOURNAL_NO_RECOVER  0x4 /* do not mark dead processes' runs interrupted on open */
#define RB_JOURNAL_EXCLUSIVE   0x8 /* this process alone serves from the file (`runbook
                                    * serve`): an exclusive flock on it, taken before
                                    * anything is read and held until rb_journal_close; a
                                    * second opener with the flag gets RB_EBUSY. Openers
                                    * without it (run, show) are not held back. */
#define RB_JOURNAL_SCRATCH    0x10 /* a replay's journal in memory: rb_journal_event checks
                                    * an event (its data must encode) but keeps only
                                    * run_started (what rb_journal_key_state reads): nobody
                                    * reads the others back, and storing and chaining them
                                    * was a third of a replay's time */

/*
 * Opens (creating when needed) the journal at path, applies the schema
 * (schemas/journal.sql, compiled in) or migrates an older one, and sets WAL
 * mode. Opened for writing (and without RB_JOURNAL_NO_RECOVER), it also
 * marks runs whose owning process is gone `interrupted` (event
 * run_interrupted; see rb_journal_recovered). On failure returns a negative
 * RB_E* with a one-line reason for the user in err ("not a runbook
 * journal", "database is locked", "read-only file system" …).
 *
 * path may be a PostgreSQL URL (rb_journal_is_url): opened for writing,
 * the schema is made in a database that has none (as a new file is);
 * RB_JOURNAL_READONLY opens it read-only; the other flags do not apply to
 * it (no file lock, no crash recovery on open).
 *
 * The environment variable RUNBOOK_JOURNAL_MAX_PAGES (a test and
 * operations knob, read only when set) caps the file at that many pages
 * (PRAGMA max_page_count): writes beyond it fail with "database or disk is
 * full" as on a full disk.
 */
int rb_journal_open(const char *path, int flags, rb_journal_t **out, char *err, size_t errlen);

/* 1 when path names a PostgreSQL journal: a postgresql:// or postgres:// URL
 * (libpq's: postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DB[?PARAM=VALUE…]). */
int rb_journal_is_url(const char *path);

/*
 * Copies the SQLite journal at from into the PostgreSQL journal at to (a
 * URL), in one transaction: every runbook version, run, event, checkpoint,
 * signature, alert and alert link, the chain head and the id sequences,
 * with their stored hashes verbatim. The target's schema is made when the
 * database has none; a target holding any run, event, version, alert,
 * checkpoint or signature is refused (RB_EINVAL). Each event is checked
 * against its hash and the one before it as it is copied, and the copy is
 * verified as a whole (rb_journal_verify's rules) before it commits.
 * Returns 0 when the copy ran to its end: *out {copied: true, from, to
 * (without a password), versions, runs, events, checkpoints, signatures,
 * alerts, alert_runs, head: {event_id, hash, wall_ms}}, or, for a source
 * whose chain does not verify, {copied: false, from, to, problem (the
 * first finding)} and nothing written. Else a negative RB_E* with why, one
 * line, in err.
 */
int rb_journal_copy(const char *from, const char *to, json_t **out, char *err, size_t errlen);

/* The journal schema version this program writes (PRAGMA user_version of a
 * new or migrated file), for `runbook --version`. Any thread. */
int rb_journal_schema_version(void);

/* Detaches from the loop if attached (see rb_journal_detach_loop), commits
 * anything pending and closes. NULL is fine. */
void rb_journal_close(rb_journal_t *j);

/* Records a runbook version (full source text) keyed by its SHA-256, which it
 * computes and writes as 64 hex digits + NUL to sha256_hex. Idempotent. */
int rb_journal_put_version(rb_journal_t *j, const char *name, const char *path,
                           const char *source, size_t len, char sha256_hex[65]);

/* Creates a run of the given runbook version; params is borrowed. Writes the
 * new run's id to *run_id (ids are 1, 2, 3 … per journal, never reused).
 * The run records its owner (this process) for crash recovery.
 * Writer mode: the id comes from a block reserved ahead by the writer, so
 * this returns at once; only when a burst of creations empties the block
 * does it wait for the writer to reserve more. */
int rb_journal_run_create(rb_journal_t *j, const char *runbook, const char *sha256,
                          const json_t *params, const char *trigger, int64_t *run_id);

/* rb_journal_run_create, and the run linked to a claimed alert in the same
 * record (see rb_journal_alert_claim): alert_runs gets (fingerprint,
 * starts_at, runbook, the new id, "started") in whichever commit takes the
 * run, so a run never exists without its link. fingerprint or starts_at
 * NULL: no link. */
int rb_journal_run_create_claimed(rb_journal_t *j, const char *runbook, const char *sha256,
                                  const json_t *params, const char *trigger,
                                  const char *fingerprint, const char *starts_at, int64_t *run_id);

/* Appends one event to the run: type ("run_started", "step_started",
 * "attempt_started", "step_finished", "run_finished", …), step name or NULL,
 * attempt (0 when it does not apply), data borrowed (NULL = {}), stored as
 * compact JSON with sorted keys (RB_EINVAL for a string that is not UTF-8
 * or nesting deeper than 2048). The event takes the wall clock (ms since
 * the epoch) and the monotonic clock (ns) now; its seq (1, 2, 3 … per run)
 * and its place in the hash chain are assigned when it is written, inside
 * the transaction (by the writer thread in writer mode), from the file: so
 * they stay right whichever processes take turns writing one journal.
 * Pending until rb_journal_sync() (direct) or rb_journal_flush() (writer). */
int rb_journal_event(rb_journal_t *j, int64_t run_id, const char *type, const char *step,
                     int attempt, const json_t *data);

/* Sets the run's status ("running", "succeeded", "failed", …) in the runs
 * listing. final: also sets its end time. Not final (a run starting, or
 * resumed): clears the end time and makes this process the run's owner.
 * Pending until sync/flush. Direct mode: RB_ENOTFOUND for no such run. */
int rb_journal_run_status(rb_journal_t *j, int64_t run_id, const char *status, int final);
/* rb_journal_run_status at a given wall clock (ms since the epoch; 0:
 * now), and, started_ms > 0, the run's start (started_at) set too: the
 * engine gives both, so that the runs listing's duration (ended_at -
 * started_at) is the run's own (docs/semantics.md, "Durations"). */
int rb_journal_run_status_at(rb_journal_t *j, int64_t run_id, const char *status, int final,
                             int64_t started_ms, int64_t at_ms);

/* Commits everything appended so far: durable when it returns 0. In writer
 * mode it blocks the calling (loop) thread until the writer has committed
 * everything appended before the call: use it only where the loop has
 * nothing else to do (the end of a CLI run). */
int rb_journal_sync(rb_journal_t *j);

/* The one-line reason for the last failure on j ("<path>: appending an
 * event: database is locked by another process"), for the user; "" when
 * nothing has failed. Valid until the next call on j. */
const char *rb_journal_errmsg(const rb_journal_t *j);

/* The journal's name as messages show it: the file's path, or a
 * PostgreSQL URL without its password (postgresql://USER@HOST:PORT/DB).
 * Valid until rb_journal_close. */
const char *rb_journal_name(const rb_journal_t *j);

/* ---- writer mode ----------------------------------------------------------- */

/*
 * Switches j to writer mode on loop: commits what is pending, opens the
 * writer thread's own connection, reserves a first block of run ids and
 * starts the thread. It adds three handles to the loop: a uv_async_t (the
 * writer's "committed"), and a uv_check_t with a uv_idle_t that wake the
 * writer once at the end of each loop iteration in which something was
 * appended or flushed (so all of it is one group commit). None of them
 * keeps the loop alive by itself: only a flush that is waiting does.
 * Returns 0, RB_EINVAL (already attached, or read-only) or the journal's
 * error. Loop thread.
 *
 * Failure is sticky in writer mode: once a commit fails (disk full, I/O,
 * lock held too long), what it held is lost, so every later append, flush
 * and sync fails with that first error (rb_journal_errmsg) — nothing more
 * is written that could make a run look complete. Detach and reopen to go
 * on.
 */
int rb_journal_attach_loop(rb_journal_t *j, uv_loop_t *loop);

/* status: 0 when everything appended before the flush is durable; else
 * the negative RB_E* of the failure (message: rb_journal_errmsg). */
typedef void (*rb_journal_flush_cb)(int status, void *arg);

/*
 * Asks to be told when everything appended so far is durable. cb is called
 * once, on the loop thread, from the loop (never from inside this call);
 * callbacks run in the order of their flush calls. Returns 0, or RB_EINVAL
 * when j is not in writer mode or cb is NULL (then cb is never called).
 */
int rb_journal_flush(rb_journal_t *j, rb_journal_flush_cb cb, void *arg);

/*
 * Leaves writer mode: lets the writer commit everything queued, joins it,
 * calls every flush callback still waiting (from inside this call), and
 * closes the three handles (the loop must run once more for their close to
 * complete; then it closes with no handle left). Returns 0, or the sticky
 * error if a commit failed. j is back in direct mode. Loop thread.
 */
int rb_journal_detach_loop(rb_journal_t *j);

#define RB_JOURNAL_COMMIT_BUCKETS 12

typedef struct rb_journal_stats {
    uint64_t commits;   /* write transactions committed */
    uint64_t records;   /* records committed: events, runs, versions, statuses */
    uint64_t events;    /* events committed */
    uint64_t max_batch; /* most records in one commit */
    int synchronous;    /* as the connection reports it: 2 FULL, 1 NORMAL; 0 read-only */
    /* How long each COMMIT took (the disk's flush in it): the sum, and
     * how many took at most rb_journal_commit_le[i] seconds (each bucket
     * counts only its own range; above the last: commits minus them all). */
    double commit_seconds;
    uint64_t commit_buckets[RB_JOURNAL_COMMIT_BUCKETS];
    /* Leases (rb_journal_lease_take; always 0 on a file): the runs this
     * handle holds now, the takes of a run whose owner let its lease
     * expire (takeovers), and the appends the fence refused. */
    uint64_t leases_held;
    uint64_t lease_takeovers;
    uint64_t fenced_writes;
} rb_journal_stats_t;

/* The upper bounds (seconds) of the commit latency buckets. */
extern const double rb_journal_commit_le[RB_JOURNAL_COMMIT_BUCKETS];

/* Counters since open, both modes. Any thread. */
void rb_journal_stats(rb_journal_t *j, rb_journal_stats_t *out);

/* ---- leases: which engine owns a run (docs/high-availability.md) ----------
 *
 * Several engines on one PostgreSQL journal each own the runs they hold a
 * lease on: (owner, epoch, expiry), the expiry judged by the database's
 * clock only. An owner renews its leases well within their ttl; one that
 * does not (dead, paused, cut off) loses the run to the next engine that
 * takes it after the expiry, at epoch + 1. Every append of a leased run
 * passes a fence in its own transaction: refused (RB_EFENCED) once another
 * engine took the run, and that engine must stop the run at once.
 *
 * These calls change state, not the history: the engine appends an event
 * of the run for each change of owner (docs/high-availability.md, "Events":
 * lease_taken, run_taken_over, lease_released).
 *
 * On an SQLite file (one engine, held by the file's flock) they succeed at
 * once without reading anything: a take gives epoch 1 and never a
 * takeover, renew and release do nothing, no lease ever expires; so a
 * server calls them the same way on either backend. The thread that
 * opened the journal (they are their own transactions on its connection:
 * not while appends of direct mode are pending on PostgreSQL).
 */

#define RB_JOURNAL_ENGINE_MAX 128 /* an engine id's bytes, its NUL included */

/* This handle's owner id in the leases (stable for the life of the
 * process, unique among the engines: "HOST:PID:START", say). 1 to 127
 * bytes, no control characters (else RB_EINVAL). It cannot change while
 * the handle holds leases (RB_EINVAL). */
int rb_journal_set_engine(rb_journal_t *j, const char *engine_id);

/* What a take found and made. */
typedef struct rb_journal_lease {
    int64_t epoch;      /* the epoch this engine now holds the run at */
    int takeover;       /* 1: the previous owner let its lease expire (it did
                         * not release it): the run is taken over */
    char previous[RB_JOURNAL_ENGINE_MAX]; /* the owner before this take, "" when none */
} rb_journal_lease_t;

/*
 * Takes the run's lease for ttl_ms (1 ms to 1 day) when nobody holds it,
 * its owner released it or it has expired (the database's clock): one
 * conditional statement, so among engines racing for one run exactly one
 * wins. The first take gives epoch 1, every later one the epoch + 1. When
 * this handle already holds the run, it renews it (same epoch). *out (may
 * be NULL) says what it took. RB_EBUSY: another engine holds it unexpired
 * (rb_journal_errmsg: who, at which epoch, for how long), or its row stayed
 * locked for a second by a write in progress (its owner's append, which
 * may yet commit under the old epoch: try again later; a take never hangs
 * on an owner paused inside a transaction); RB_ENOTFOUND: no such run;
 * RB_EINVAL: no engine id set, a bad ttl or run id.
 */
int rb_journal_lease_take(rb_journal_t *j, int64_t run_id, int64_t ttl_ms,
                          rb_journal_lease_t *out);

/* Pushes the expiry of a lease this handle holds to ttl_ms from now (the
 * database's clock). RB_EFENCED: it does not hold it any more at its epoch
 * (another engine took the run over, or it was never taken here): the
 * handle forgets the run, and the engine must stop it. */
int rb_journal_lease_renew(rb_journal_t *j, int64_t run_id, int64_t ttl_ms);

/* Gives the lease up (after the run's last append is durable: a write to
 * a released run is fenced): another engine may take it at once, and that
 * take is not a takeover. 0 also when this handle holds no lease for the
 * run; RB_EFENCED when another engine had taken it over meanwhile. */
int rb_journal_lease_release(rb_journal_t *j, int64_t run_id);

/* The runs not ended (ended_at NULL) whose lease expired or was released:
 * what an engine may take over, the longest expired first. *out: [{run_id,
 * runbook, status, owner, epoch, released, expires_at (ms since the epoch,
 * the database's clock), expired_ms (how long ago, the database's clock)}],
 * a new reference. A run with no lease (never leased) is not listed. */
int rb_journal_leases_expired(rb_journal_t *j, json_t **out);

/* ---- reading: each returns a new reference in *out. ---------------------- */

/* The newest runs first, at most limit (0: all): an array of objects
 * {id, runbook, sha256, status, trigger, started_at, ended_at} with times as
 * ms since the epoch (ended_at null while open). */
int rb_journal_runs(rb_journal_t *j, int limit, json_t **out);

/* Every status a run can have in the listing, NULL-terminated: resolved,
 * failed, cancelled, not_confirmed, inconclusive, interrupted, running,
 * waiting_approval (what a filter by status may ask for). */
extern const char *const rb_journal_run_statuses[];

/* Which runs rb_journal_runs_find lists; a NULL or 0 field does not filter. */
typedef struct rb_journal_runs_filter {
    int limit;            /* at most this many (0: all) */
    const char *runbook;  /* the runbook's name */
    const char *status;   /* the status in the listing (resolved, failed, running …) */
    const char *trigger;  /* the trigger, or its kind: "cli" also matches "cli (drill)",
                           * "runbook" matches "runbook:12" (a sub-runbook) */
    const char *severity; /* the level severity_assigned recorded (P1 …; p1 matches it:
                           * ASCII case does not count) */
    int64_t since_ms;     /* started at or after (ms since the epoch) */
    int64_t before_id;    /* only the runs listed after this run (the next page; a run
                           * the journal does not hold: none) */
    int drill;            /* 1: only drills (dry runs: a trigger "… (drill)");
                           * -1: no drills; 0: both */
} rb_journal_runs_filter_t;
/* The newest runs first that pass f (NULL: every run): by started_at, then
 * id (a newer run may have a smaller id while two processes write the
 * journal), with rb_journal_runs' fields and severity (the
 * level assigned, or null). */
int rb_journal_runs_find(rb_journal_t *j, const rb_journal_runs_filter_t *f, json_t **out);
/* The sub-runbook runs that run_id's steps started, oldest first: an array
 * of {id, runbook, sha256, status, parent_step}. */
int rb_journal_run_children(rb_journal_t *j, int64_t run_id, json_t **out);

/* The recorded versions of the runbook of that name, newest first:
 * [{sha256, path, recorded_at (ms), runs (how many it started),
 * last_run_at (ms or null)}]. */
int rb_journal_versions(rb_journal_t *j, const char *name, json_t **out);

/* One run: {id, runbook, sha256, status, trigger, params, started_at,
 * ended_at, events: [{seq, wall_ms, mono_ns, type, step, attempt, data}]}.
 * RB_ENOTFOUND when there is no such run. */
int rb_journal_run_get(rb_journal_t *j, int64_t run_id, json_t **out);

/* The run's row alone: rb_journal_run_get without "events". */
int rb_journal_run_row(rb_journal_t *j, int64_t run_id, json_t **out);

/* rb_journal_run_get for a reader that needs the data of some events only:
 * an event's data is parsed when its type is one of types (NULL-terminated)
 * or, with except, when it is none of them; the other events have data
 * null. Parsing the JSON is most of the cost of reading a run (a run of
 * 10,000 events is about 1 MB of it): a reader that passes over log lines
 * or foreach items should not pay for them. types NULL: every event's. */
int rb_journal_run_get_some(rb_journal_t *j, int64_t run_id, const char *const *types,
                            int except, json_t **out);

/*
 * A run for a reader that prints as it reads, holding one event at a time
 * (a run of 10,000 events parsed whole is 40 MB; the page faults alone
 * were a third of `runbook show`'s time): in one read snapshot, outline(run,
 * arg) with the run's row as rb_journal_run_get gives it but, for events,
 * what such a reader must know ahead: "events" (how many), "first" and
 * "last" (the first and the newest event as {type, wall_ms, data:
 * {duration_ms}}, data holding only that, when it is an integer; null when
 * there are none) and "last_seq" ({step: the seq of its last event}); then event(ev, arg) for each event in seq order, as
 * rb_journal_run_get_some holds it (types, except). Both get borrowed
 * objects, freed after the call (incref to keep one). A callback's nonzero
 * return ends the walk and is returned. outline may read j (the events'
 * statement is not yet running), event must not use it.
 * RB_ENOTFOUND when there is no such run (outline is not called).
 * outline NULL: events only, for a reader that has the run's row
 * (rb_journal_run_row) and needs nothing ahead; neither the row nor the
 * outline is read (the outline costs a pass over the run's events), and a
 * run that is not there has no events.
 */
typedef int (*rb_journal_outline_fn)(json_t *run, void *arg);
typedef int (*rb_journal_event_fn)(json_t *ev, void *arg);
int rb_journal_run_walk(rb_journal_t *j, int64_t run_id, const char *const *types, int except,
                        rb_journal_outline_fn outline, rb_journal_event_fn event, void *arg);

/* Runs whose run_started recorded concurrency_key = key, of any runbook
 * (keys are one namespace, R-key-global): the newest one still open
 * (ended_at NULL) in *active_run (0: none) and its runbook's name in
 * *active_runbook (malloc'd, NULL when none; the pointer may be NULL), and
 * the newest end time of runbook's own others in *last_end_ms (0: none;
 * the cooldown), among the key's newest 64 runs. What is read is what is
 * committed: runs of this process not yet written are the caller's to
 * know. */
int rb_journal_key_state(rb_journal_t *j, const char *runbook, const char *key, int64_t *active_run,
                         char **active_runbook, int64_t *last_end_ms);

/* The source text of a recorded runbook version (malloc'd, NUL-terminated). */
int rb_journal_get_version(rb_journal_t *j, const char *sha256, char **source, size_t *len);

/* ---- alerts: the server's claims (DESIGN §7; docs/journal.md) ------------- */

/*
 * Claims an alert: one UNIQUE insert of (fingerprint, starts_at) with the
 * alert's JSON (borrowed) and the names of the runbooks it matched
 * (runbooks: an array of strings, borrowed). Its status is "claimed" when
 * runbooks is not empty, "unmatched" when it is, "resolved" when resolved
 * is set (an alert first heard of as resolved: nothing to start). A claim
 * of an alert already claimed changes nothing (the insert is ignored):
 * callers look first with rb_journal_alert_get and remember their own
 * claims until they are durable. Pending until sync/flush, in order with
 * every other append: a run created after the claim is never durable
 * without it.
 */
int rb_journal_alert_claim(rb_journal_t *j, const char *fingerprint, const char *starts_at,
                           const json_t *alert, const json_t *runbooks, int resolved);

/* Records why a runbook the claimed alert matched started no run
 * (outcome: "busy: …", "error: …"; the first outcome stays). Pending until
 * sync/flush. */
int rb_journal_alert_outcome(rb_journal_t *j, const char *fingerprint, const char *starts_at,
                             const char *runbook, const char *outcome);

/* Records the alert's resolved notice (JSON, borrowed) on its claim: the
 * first one; later ones change nothing. Pending until sync/flush. */
int rb_journal_alert_resolved(rb_journal_t *j, const char *fingerprint, const char *starts_at,
                              const json_t *notice);

/* The claim as committed: {fingerprint, starts_at, status, runbooks,
 * received_at, resolved_at (ms or null), alert, runs: [{runbook, run_id
 * (or null), outcome}]}. RB_ENOTFOUND when the alert was never claimed. */
int rb_journal_alert_get(rb_journal_t *j, const char *fingerprint, const char *starts_at,
                         json_t **out);

/* The newest claim of that fingerprint with no resolved notice yet, shaped
 * as rb_journal_alert_get's; RB_ENOTFOUND when there is none. A resolved
 * notice whose startsAt is not the one claimed (Alertmanager moves an
 * alert's startsAt when a resolve posted with an earlier time merges into
 * it) still finds its alert this way. */
int rb_journal_alert_open(rb_journal_t *j, const char *fingerprint, json_t **out);

/* The claimed alerts that a matched runbook has no run or outcome for (the
 * process died between the claim and the run), oldest first, at most
 * limit (0: all): [{fingerprint, starts_at, alert, missing: [runbook…]}]. */
int rb_journal_alerts_unstarted(rb_journal_t *j, int limit, json_t **out);

/* ---- audit, retention, recovery ------------------------------------------- */

/*
 * Checks the whole journal in one read snapshot: every event's hash
 * against its content, every link to the previous event, ids without gaps,
 * seq 1, 2, 3 … per run in chain order, every event's run present, the
 * chain head record against the newest event (this is what catches the
 * newest events being deleted), the checkpoints' own chain and the chain's
 * start at the newest checkpoint, and every runbook version's SHA-256.
 * *out: {ok, path, events, runs, versions, first_event_id, head: {event_id,
 * hash}, checkpoints: [{id, created_at, before_ms, cut_event_id, cut_hash,
 * pruned_runs, pruned_events}], problems: [{event_id, run_id, seq, type,
 * step, what}] (the first bad event first; at most 20), problems_total}.
 * Returns 0 when the check ran (whatever it found; see "ok"), or a negative
 * RB_E* when it could not (RB_EINVAL: appends of this handle are pending).
 */
int rb_journal_verify(rb_journal_t *j, json_t **out);

/*
 * The checks of rb_journal_verify that concern one run, in one read
 * snapshot, without reading the rest of the chain: each of the run's
 * events against its hash, its link to the event stored before it
 * (whichever run that is) and its id, the run's seq; the chain head
 * against the newest event; the checkpoints' chain; the run's runbook
 * version against its SHA-256; the run's status in the runs table against
 * its events. Its findings are the ones rb_journal_verify makes on those
 * records, with the same texts (event-level ones carry run_id). What it
 * reads grows with the run, not with the journal: what a report of a run
 * checks. *out: {ok, run, events (the run's), problems_total, problems}.
 */
int rb_journal_verify_run(rb_journal_t *j, int64_t run_id, json_t **out);

/*
 * Removes the runs that finished (ended_at set) before before_ms, with
 * their events, their alerts and the runbook versions no run refers to any
 * more, and records a checkpoint: the chain's hash at the cut, so that
 * verify starts there. Only a prefix of the chain can go: a run that
 * ended before the date but whose events interleave with a run that stays
 * is kept (reported in kept_runs) until that run goes too. The triggers
 * allow deleting events only at or below a checkpoint's cut. dry_run: say
 * what would go, change nothing. Direct mode only (RB_EINVAL attached).
 * *out: {before_ms, dry_run, pruned_runs, pruned_events, kept_runs,
 * checkpoint: {id, cut_event_id, cut_hash} | null}.
 */
int rb_journal_prune(rb_journal_t *j, int64_t before_ms, int dry_run, json_t **out);

/* ---- signed checkpoints (docs/journal.md, "Signed checkpoints") ------------ */

/* An Ed25519 key: private (it signs, and verifies) or public (it verifies).
 * Immutable once loaded: one key may be used from several threads. */
typedef struct rb_journal_key rb_journal_key_t;

/* Makes a new Ed25519 key pair: prefix.key (the private key, PKCS#8 PEM,
 * created mode 0600) and prefix.pub (the public key, PEM). Refuses to
 * overwrite either (RB_EINVAL, nothing written); key_id (may be NULL)
 * gets the new key's id (rb_journal_key_id). err: why, for the user. */
int rb_journal_key_generate(const char *prefix, char key_id[65], char *err, size_t errlen);

/* Loads a private key (PEM). Refused (RB_EINVAL) when the file is not a
 * regular file, others than its owner may read or write it (mode & 077),
 * or it is not an Ed25519 private key. */
int rb_journal_key_load_private(const char *path, rb_journal_key_t **out, char *err,
                                size_t errlen);
/* Loads a public key (PEM); a private key's file is accepted too. */
int rb_journal_key_load_public(const char *path, rb_journal_key_t **out, char *err,
                               size_t errlen);
void rb_journal_key_free(rb_journal_key_t *k);
/* The key's id: 64 hex digits of the SHA-256 of its raw 32-byte public key. */
const char *rb_journal_key_id(const rb_journal_key_t *k);

/* Gives j the private key it signs with (j owns it from here, also on
 * failure; NULL: none). Before rb_journal_attach_loop. RB_EINVAL for a
 * public key or a read-only journal. */
int rb_journal_set_signing_key(rb_journal_t *j, rb_journal_key_t *k);

/* Appends a signed checkpoint: the chain head as it is when the record is
 * written (after everything appended before this call), signed with j's
 * key, in the same commit. Nothing when j has no key, the journal has no
 * event yet, or the newest signature by this key already names that head.
 * Pending until sync/flush like any append. */
int rb_journal_seal(rb_journal_t *j);

/* A head an operator kept elsewhere (rb_journal_verify_with checks it). */
typedef struct rb_journal_anchor {
    int64_t event_id;
    unsigned char hash[32];
    int64_t wall_ms; /* the event's time as the anchor says it (shown, not trusted) */
} rb_journal_anchor_t;

/* "runbook-anchor-v1:EVENT_ID:HASH:WALL_MS", the form `audit anchor` prints,
 * into a. 0, or RB_EINVAL. */
int rb_journal_anchor_parse(const char *s, size_t len, rb_journal_anchor_t *a);

typedef struct rb_journal_verify_opts {
    rb_journal_key_t *const *keys; /* public keys: check the signed checkpoints */
    size_t nkeys;
    const rb_journal_anchor_t *anchors; /* heads kept elsewhere: check each is still there */
    size_t nanchors;
} rb_journal_verify_opts_t;

/*
 * rb_journal_verify, and (o not NULL) in the same snapshot: with keys,
 * every signature row made by one of them (its Ed25519 signature, its
 * signed head against the chain as it is now: the event, or the cut of a
 * checkpoint, with that hash); the ids of the signature rows without gaps;
 * at least one signed head when the journal has events; with anchors,
 * each anchor's event with that hash. A difference is a problem naming the
 * span it can be in: after the newest signed head or anchor before it that
 * still matches, up to it. *out gets also "signatures": {total, by_keys,
 * valid, other_keys: [id…], last: {id, event_id, hash, signed_at, key_id} |
 * null (the newest valid one that matches), unsigned_events (events after
 * it)} and "anchors": [{event_id, hash, wall_ms, ok, what}]; the head gets
 * wall_ms (its event's time, 0 when all were pruned).
 */
int rb_journal_verify_with(rb_journal_t *j, const rb_journal_verify_opts_t *o, json_t **out);

/*
 * What open() did for crash recovery: an array of the runs it marked
 * interrupted, [{id, runbook, last_seq, last_event_type, step}] (step: the
 * step in flight, or null). New reference.
 */
int rb_journal_recovered(rb_journal_t *j, json_t **out);

/* The ids of the runs still open (running, waiting_approval) whose owning
 * process is gone: interrupted in fact, not marked yet (a read-only open
 * marks nothing; the next writer's open will). *out: [id…], a new
 * reference. Reads only. */
int rb_journal_runs_orphaned(rb_journal_t *j, json_t **out);

/*
 * What resuming the run needs, from its events (the hash-chained record):
 * {run_id, status, runbook, sha256, source (the recorded text), params,
 * trigger, alert (run_started's, or null), dry_run, last_seq,
 *  results: {step name → result} of the steps that finished or were skipped
 *           (step_finished data.result, or the step_skipped data),
 *  finished: [names in the order they finished],
 *  last_step: the step that finished last, or null,
 *  next_step: the step in flight (step_started without step_finished), else
 *             the first step of run_started's data.steps (when the run
 *             recorded its step list) that has no result, else null,
 *  next_step_started: true when next_step's intent was recorded but no
 *             result (it may have run, or be half done),
 *  next_step_with: the rendered parameters of that intent, or null,
 *  next_step_attempts: attempts started for it,
 *  started_at: the run's start (ms, the runs row's)}.
 * RB_ENOTFOUND: no such run, or its runbook version is missing;
 * RB_EJOURNAL: the recorded text does not match its SHA-256.
 */
int rb_journal_run_resume_point(rb_journal_t *j, int64_t run_id, json_t **out);

#endif
