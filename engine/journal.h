/*
 * journal.h — the SQLite journal (DESIGN §5). engine/journal.c is the only
 * code in the project that touches SQLite.
 *
 * Write model (first slice): appends go into an open transaction on the
 * caller's thread; rb_journal_sync() commits them, and is called by the run
 * before a step with side effects starts, so that the step's intent is
 * durable first (a step's finish and the next step's intent share a commit).
 * All functions: the thread that opened the journal.
 */
#ifndef RB_JOURNAL_H
#define RB_JOURNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rb_journal rb_journal_t;

/* Open flags. */
#define RB_JOURNAL_READONLY 0x1 /* open an existing file for reading only */

/*
 * Opens (creating when needed) the journal at path, applies the schema
 * (schemas/journal.sql, compiled in) and sets WAL mode. On failure returns a
 * negative RB_E* with a one-line reason for the user in err ("not a runbook
 * journal", "database is locked", "read-only file system" …).
 */
int rb_journal_open(const char *path, int flags, rb_journal_t **out, char *err, size_t errlen);

/* Commits anything pending and closes. NULL is fine. */
void rb_journal_close(rb_journal_t *j);

/* Records a runbook version (full source text) keyed by its SHA-256, which it
 * computes and writes as 64 hex digits + NUL to sha256_hex. Idempotent. */
int rb_journal_put_version(rb_journal_t *j, const char *name, const char *path,
                           const char *source, size_t len, char sha256_hex[65]);

/* Creates a run of the given runbook version; params is borrowed. Writes the
 * new run's id to *run_id (ids are 1, 2, 3 … per journal). */
int rb_journal_run_create(rb_journal_t *j, const char *runbook, const char *sha256,
                          const json_t *params, const char *trigger, int64_t *run_id);

/* Appends one event to the run: type ("run_started", "step_started",
 * "attempt_started", "step_finished", "run_finished", …), step name or NULL,
 * attempt (0 when it does not apply), data borrowed (NULL = {}). The event
 * gets the next seq of its run, the wall clock (ms since the epoch) and the
 * monotonic clock (ns). Pending until rb_journal_sync(). */
int rb_journal_event(rb_journal_t *j, int64_t run_id, const char *type, const char *step,
                     int attempt, const json_t *data);

/* Sets the run's status ("running", "succeeded", "failed", …) in the runs
 * listing, and its end time when the status is final. Pending until sync. */
int rb_journal_run_status(rb_journal_t *j, int64_t run_id, const char *status, int final);

/* Commits everything appended so far: durable when it returns 0. */
int rb_journal_sync(rb_journal_t *j);

/* The one-line reason for the last failure on j ("<path>: appending an
 * event: database is locked by another process"), for the user; "" when
 * nothing has failed. Valid until the next call on j. */
const char *rb_journal_errmsg(const rb_journal_t *j);

/* Reading. Each returns a new reference in *out. */

/* The newest runs first, at most limit (0: all): an array of objects
 * {id, runbook, sha256, status, trigger, started_at, ended_at} with times as
 * ms since the epoch (ended_at null while open). */
int rb_journal_runs(rb_journal_t *j, int limit, json_t **out);

/* One run: {id, runbook, sha256, status, trigger, params, started_at,
 * ended_at, events: [{seq, wall_ms, mono_ns, type, step, attempt, data}]}.
 * RB_ENOTFOUND when there is no such run. */
int rb_journal_run_get(rb_journal_t *j, int64_t run_id, json_t **out);

/* The source text of a recorded runbook version (malloc'd, NUL-terminated). */
int rb_journal_get_version(rb_journal_t *j, const char *sha256, char **source, size_t *len);

#endif
