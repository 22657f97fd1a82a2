/*
 * journal_read.c — reading the journal file back: the list of runs, one run
 * with its events, the source of a runbook version, each row turned into
 * the JSON that `runbook runs`, `runbook show` and the server's API print
 * (journal_rows.c, which the PostgreSQL twins use too); the filtered
 * listing and a run's sub-runs (for replay and reports). On a PostgreSQL
 * journal each function hands over to its twin (journal_pg_read.c,
 * journal_pg_run.c) before any SQLite code runs.
 *
 * Owns: nothing but the statements' rows while it reads them; every read
 * goes through the caller's connection (j->c) and its cached statements
 * (journal.c). Must never: write, open a transaction (a read outside one
 * takes its own snapshot and blocks no writer), or fail a whole read over
 * a column that a hand-edited file made unparsable.
 */
#include "journal_int.h"

#include <runbook/runbook.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A statement's current row, as journal_rows.c reads it. */
static int rb__j_sq_null(void *ctx, int col)
{
    return sqlite3_column_type(ctx, col) == SQLITE_NULL;
}

static int64_t rb__j_sq_i64(void *ctx, int col)
{
    return sqlite3_column_int64(ctx, col);
}

static const char *rb__j_sq_text(void *ctx, int col, size_t *len)
{
    const char *s = (const char *)sqlite3_column_text(ctx, col);
    *len = (size_t)sqlite3_column_bytes(ctx, col);
    return s;
}

#define RB__J_ROW(st) {(st), rb__j_sq_null, rb__j_sq_i64, rb__j_sq_text}

/* Appends each remaining row of st to arr as rb__j_row(st, cols), then
 * releases st. Returns 0, RB_ENOMEM, or SQLite's failure described as
 * what (rb__j_failc). */
static int rb__j_rows(rb__jconn_t *c, sqlite3_stmt *st, const rb__jcol_t *cols,
                      const rb__jpick_t *pick, json_t *arr, const char *what)
{
    int rc;
    const rb__jrow_t src = RB__J_ROW(st);
    while ((rc = rb__j_step(st)) == SQLITE_ROW) {
        json_t *row = rb__j_row(&src, cols, rb__j_skip_json(&src, pick));
        if (!row || json_array_append_new(arr, row) != 0) {
            rb__j_release(st);
            return RB_ENOMEM;
        }
    }
    rb__j_release(st);
    return rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, what);
}

/* Runs st (bound) into a new array of rows of shape cols in *out. */
static int rb__j_list(rb__jconn_t *c, sqlite3_stmt *st, const rb__jcol_t *cols, const char *what,
                      json_t **out)
{
    json_t *arr = json_array();
    if (!arr) {
        rb__j_release(st);
        return RB_ENOMEM;
    }
    int ret = rb__j_rows(c, st, cols, NULL, arr, what);
    if (ret != 0) {
        json_decref(arr);
        return ret;
    }
    *out = arr;
    return 0;
}

int rb_journal_runs(rb_journal_t *j, int limit, json_t **out)
{
    if (j->pg)
        return rb__pg_runs(j, limit, out);
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    *out = NULL;
    int ret = rb__j_stmt(c, RB__JST_RUNS, &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    return rb__j_list(c, st, rb__j_runs_row, "listing runs", out);
}

int rb_journal_versions(rb_journal_t *j, const char *name, json_t **out)
{
    if (j->pg)
        return rb__pg_versions(j, name, out);
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    *out = NULL;
    int ret = rb__j_stmt(c, RB__JST_VERSIONS, &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    return rb__j_list(c, st, rb__j_version_row, "listing runbook versions", out);
}

int rb_journal_run_get(rb_journal_t *j, int64_t run_id, json_t **out)
{
    if (j->pg)
        return rb__pg_run_get_some(j, run_id, NULL, 0, out);
    return rb_journal_run_get_some(j, run_id, NULL, 0, out);
}

/* The run's row (rb__j_run_row) in *out. RB_ENOTFOUND when there is none. */
static int rb__j_run_row_get(rb_journal_t *j, int64_t run_id, json_t **out)
{
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    *out = NULL;
    int ret = rb__j_stmt(c, RB__JST_RUN_GET, &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = rb__j_step(st);
    if (rc != SQLITE_ROW) {
        rb__j_release(st);
        if (rc == SQLITE_DONE) {
            snprintf(j->err, sizeof j->err, "%s: no run %lld", j->path, (long long)run_id);
            return RB_ENOTFOUND;
        }
        return rb__j_failc(c, rc, "reading a run");
    }
    const rb__jrow_t src = RB__J_ROW(st);
    *out = rb__j_row(&src, rb__j_run_row, 0);
    rb__j_release(st);
    return *out ? 0 : RB_ENOMEM;
}

int rb_journal_run_row(rb_journal_t *j, int64_t run_id, json_t **out)
{
    if (j->pg)
        return rb__pg_run_row(j, run_id, out);
    return rb__j_run_row_get(j, run_id, out);
}

int rb_journal_run_get_some(rb_journal_t *j, int64_t run_id, const char *const *types,
                            int except, json_t **out)
{
    if (j->pg)
        return rb__pg_run_get_some(j, run_id, types, except, out);
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    json_t *r = NULL;
    *out = NULL;
    int ret = rb__j_run_row_get(j, run_id, &r);
    if (ret != 0)
        return ret;
    json_t *events = json_array();
    if (!events || json_object_set_new(r, "events", events) != 0) {
        json_decref(r);
        return RB_ENOMEM;
    }
    /* The run row and its events come from two statements; outside a write
     * transaction each takes its own snapshot, so a run being written
     * concurrently may show events newer than its row. That is harmless for
     * reading, and cheaper than a read transaction around both. */
    if ((ret = rb__j_stmt(c, RB__JST_RUN_EVENTS, &st)) != 0) {
        json_decref(r);
        return ret;
    }
    sqlite3_bind_int64(st, 1, run_id);
    /* column 3 of rb__j_event_row: the type */
    const rb__jpick_t pick = {3, types, except};
    if ((ret = rb__j_rows(c, st, rb__j_event_row, &pick, events, "reading events")) != 0) {
        json_decref(r);
        return ret;
    }
    *out = r;
    return 0;
}

/* The first and the last event of a run for its outline (rb__j_outline_end)
 * from a row of type, wall_ms, the data's duration_ms and alert.labels. */
static json_t *rb__j_outline_row(sqlite3_stmt *st)
{
    json_t *dur = sqlite3_column_type(st, 2) == SQLITE_INTEGER
                      ? json_integer(sqlite3_column_int64(st, 2))
                      : NULL;
    json_t *labels = sqlite3_column_type(st, 3) == SQLITE_TEXT
                         ? json_loadb((const char *)sqlite3_column_text(st, 3),
                                      (size_t)sqlite3_column_bytes(st, 3), 0, NULL)
                         : NULL;
    json_t *end = rb__j_outline_end((const char *)sqlite3_column_text(st, 0),
                                    sqlite3_column_int64(st, 1), dur, labels);
    json_decref(dur);
    json_decref(labels);
    return end;
}

/* What rb_journal_run_walk's outline adds to the run's row: how many
 * events, the first and the last, and each step's last seq. */
static int rb__j_outline(rb__jconn_t *c, int64_t run_id, json_t *r)
{
    static const char steps_sql[] =
        "SELECT step, count(*), max(seq) FROM events WHERE run_id = ?1 GROUP BY step";
    static const char ends_sql[] =
        "SELECT * FROM (SELECT type, wall_ms, json_extract(data, '$.duration_ms'),"
        " json_extract(data, '$.alert.labels') FROM events"
        " WHERE run_id = ?1 ORDER BY seq LIMIT 1) UNION ALL"
        " SELECT * FROM (SELECT type, wall_ms, json_extract(data, '$.duration_ms'), NULL FROM events"
        " WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1)";
    sqlite3_stmt *st;
    int rc = rb__j_prepare_v2(c->db, steps_sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "reading a run's outline");
    sqlite3_bind_int64(st, 1, run_id);
    json_t *steps = json_object(), *ends = json_array();
    int64_t n = 0;
    int ret = steps && ends ? 0 : RB_ENOMEM;
    while (!ret && (rc = rb__j_step(st)) == SQLITE_ROW) {
        n += sqlite3_column_int64(st, 1);
        const char *step = (const char *)sqlite3_column_text(st, 0);
        if (step && json_object_set_new(steps, step, json_integer(sqlite3_column_int64(st, 2))) != 0)
            ret = RB_ENOMEM;
    }
    sqlite3_finalize(st);
    if (!ret && rc != SQLITE_DONE)
        ret = rb__j_failc(c, rc, "reading a run's outline");
    if (!ret && (rc = rb__j_prepare_v2(c->db, ends_sql, -1, &st, NULL)) != SQLITE_OK)
        ret = rb__j_failc(c, rc, "reading a run's outline");
    else if (!ret) {
        sqlite3_bind_int64(st, 1, run_id);
        while (!ret && (rc = rb__j_step(st)) == SQLITE_ROW)
            if (json_array_append_new(ends, rb__j_outline_row(st)) != 0)
                ret = RB_ENOMEM;
        sqlite3_finalize(st);
        if (!ret && rc != SQLITE_DONE)
            ret = rb__j_failc(c, rc, "reading a run's outline");
    }
    json_t *first = json_array_get(ends, 0), *last = json_array_get(ends, 1);
    if (!ret && (json_object_set_new(r, "events", json_integer(n)) != 0 ||
                 json_object_set(r, "first", first ? first : json_null()) != 0 ||
                 json_object_set(r, "last", last ? last : json_null()) != 0 ||
                 json_object_set(r, "last_seq", steps) != 0))
        ret = RB_ENOMEM;
    json_decref(ends);
    json_decref(steps);
    return ret;
}

int rb_journal_run_walk(rb_journal_t *j, int64_t run_id, const char *const *types, int except,
                        rb_journal_outline_fn outline, rb_journal_event_fn event, void *arg)
{
    if (j->pg)
        return rb__pg_run_walk(j, run_id, types, except, outline, event, arg);
    rb__jconn_t *c = j->c;
    /* one snapshot for the outline and the events (unless the caller's
     * own write transaction already is one) */
    int txn = !c->in_txn && sqlite3_get_autocommit(c->db);
    int rc = txn ? rb__j_exec(c->db, "BEGIN", NULL, NULL, NULL) : SQLITE_OK;
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "reading a run");
    json_t *r = NULL;
    sqlite3_stmt *st = NULL;
    int ret = outline ? rb__j_run_row_get(j, run_id, &r) : 0;
    if (!ret && outline)
        ret = rb__j_outline(c, run_id, r);
    if (!ret && outline)
        ret = outline(r, arg);
    json_decref(r);
    if (!ret && (ret = rb__j_stmt(c, RB__JST_RUN_EVENTS, &st)) == 0) {
        sqlite3_bind_int64(st, 1, run_id);
        const rb__jpick_t pick = {3, types, except};
        const rb__jrow_t src = RB__J_ROW(st);
        while (!ret && (rc = rb__j_step(st)) == SQLITE_ROW) {
            json_t *ev = rb__j_row(&src, rb__j_event_row, rb__j_skip_json(&src, &pick));
            ret = ev ? event(ev, arg) : RB_ENOMEM;
            json_decref(ev);
        }
        rb__j_release(st);
        if (!ret && rc != SQLITE_DONE)
            ret = rb__j_failc(c, rc, "reading events");
    }
    if (txn)
        rb__j_exec(c->db, "COMMIT", NULL, NULL, NULL);
    return ret;
}

int rb_journal_get_version(rb_journal_t *j, const char *sha256, char **source, size_t *len)
{
    if (j->pg)
        return rb__pg_get_version(j, sha256, source, len);
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    int ret;
    *source = NULL;
    if (len)
        *len = 0;
    if ((ret = rb__j_stmt(c, RB__JST_VERSION_GET, &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
    int rc = rb__j_step(st);
    if (rc != SQLITE_ROW) {
        rb__j_release(st);
        if (rc == SQLITE_DONE) {
            snprintf(j->err, sizeof j->err, "%s: no runbook version %s", j->path, sha256);
            return RB_ENOTFOUND;
        }
        return rb__j_failc(c, rc, "reading a runbook version");
    }
    const char *s = (const char *)sqlite3_column_text(st, 0);
    ret = rb__j_text_copy(s, (size_t)sqlite3_column_bytes(st, 0), source, len);
    rb__j_release(st);
    return ret;
}

int rb_journal_key_state(rb_journal_t *j, const char *runbook, const char *key, int64_t *active_run,
                         char **active_runbook, int64_t *last_end_ms)
{
    if (j->pg)
        return rb__pg_key_state(j, runbook, key, active_run, active_runbook, last_end_ms);
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    int ret;
    *active_run = 0;
    *last_end_ms = 0;
    if (active_runbook)
        *active_runbook = NULL;
    if ((ret = rb__j_stmt(c, RB__JST_KEY_RUNS, &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc;
    while ((rc = rb__j_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 2);
        if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
            if (!*active_run) {
                *active_run = sqlite3_column_int64(st, 0);
                if (active_runbook && name && !(*active_runbook = strdup(name)))
                    rc = SQLITE_NOMEM;
            }
        } else if (name && strcmp(name, runbook) == 0 &&
                   sqlite3_column_int64(st, 1) > *last_end_ms) {
            *last_end_ms = sqlite3_column_int64(st, 1);
        }
        if (rc == SQLITE_NOMEM)
            break;
    }
    rb__j_release(st);
    return rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, "reading runs by concurrency key");
}

/* Every row of st (prepared for this one call) as an array in *out;
 * finalizes st. 0, RB_ENOMEM or SQLite's failure described as what. */
static int rb__j_rows_once(rb__jconn_t *c, sqlite3_stmt *st, const rb__jcol_t *cols,
                           const char *what, json_t **out)
{
    json_t *arr = json_array();
    int ret = arr ? 0 : RB_ENOMEM, rc = SQLITE_DONE;
    const rb__jrow_t src = RB__J_ROW(st);
    while (!ret && (rc = rb__j_step(st)) == SQLITE_ROW) {
        json_t *row = rb__j_row(&src, cols, 0);
        if (!row || json_array_append_new(arr, row) != 0)
            ret = RB_ENOMEM;
    }
    sqlite3_finalize(st);
    if (!ret && rc != SQLITE_DONE)
        ret = rb__j_failc(c, rc, what);
    if (ret) {
        json_decref(arr);
        return ret;
    }
    *out = arr;
    return 0;
}

const char *const rb_journal_run_statuses[] = {"resolved", "failed", "cancelled", "not_confirmed",
                                               "inconclusive", "interrupted", "running",
                                               "waiting_approval", NULL};

/* The level a run's first severity_assigned recorded. The engine emits it
 * only right before the run's declared (engine/run/confirm.c), and never
 * confirms again once a run declared (a resume goes on from its steps):
 * so the walk in seq order stops at the first of the two, a few rows in
 * however long the run, also when the run has no severity (a runbook
 * without `severity:`; before, that walk read every event of the run:
 * 2.7 s of `runs --severity P1` over 100 such runs of 10,000 events). A
 * run that never declared is walked to its end: its checks only. */
#define RB__J_SEVERITY_SQL                                                                        \
    "(SELECT CASE e.type WHEN 'severity_assigned' THEN json_extract(e.data, '$.level') END"       \
    " FROM events e WHERE e.run_id = runs.id"                                                     \
    " AND e.type IN ('severity_assigned', 'declared') ORDER BY e.seq LIMIT 1)"

int rb_journal_runs_find(rb_journal_t *j, const rb_journal_runs_filter_t *f, json_t **out)
{
    if (j->pg)
        return rb__pg_runs_find(j, f, out);
    static const rb_journal_runs_filter_t none;
    rb__jconn_t *c = j->c;
    *out = NULL;
    if (!f)
        f = &none;
    /* The statement depends on which filters are given: built from fixed
     * pieces (values are bound, never pasted) and prepared for this call.
     * Newest first is by start time, then id: ids are handed out in
     * blocks per writing process (journal.md), so while a server and a
     * command write one journal a newer run may have a smaller id. The
     * inner query picks the page (the severity only read where it
     * filters); the outer reads the severity of those runs only. The page
     * after run ?7 is what comes after it in that order. */
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT id, runbook, sha256, status, trigger, started_at, ended_at, %s AS severity"
             " FROM runs WHERE id IN (SELECT id FROM runs WHERE 1%s%s%s%s%s%s%s"
             " ORDER BY started_at DESC, id DESC LIMIT ?6) ORDER BY started_at DESC, id DESC",
             RB__J_SEVERITY_SQL, f->runbook ? " AND runbook = ?1" : "",
             f->status ? " AND status = ?2" : "",
             f->trigger ? " AND (trigger = ?3 OR substr(trigger, 1, length(?3) + 1) IN (?3 || ':', ?3 || ' '))" : "",
             f->severity ? " AND " RB__J_SEVERITY_SQL " = ?4 COLLATE NOCASE" : "",
             f->since_ms ? " AND started_at >= ?5" : "",
             f->before_id ? " AND (started_at, id) < (SELECT b.started_at, b.id FROM runs b WHERE b.id = ?7)" : "",
             /* a drill's trigger ends " (drill)" (engine/cli/cli_run.c) */
             f->drill > 0 ? " AND substr(trigger, -8) = ' (drill)'"
             : f->drill < 0 ? " AND substr(trigger, -8) IS NOT ' (drill)'" : "");
    sqlite3_stmt *st = NULL;
    int rc = rb__j_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "listing runs");
    if (f->runbook)
        sqlite3_bind_text(st, 1, f->runbook, -1, SQLITE_STATIC);
    if (f->status)
        sqlite3_bind_text(st, 2, f->status, -1, SQLITE_STATIC);
    if (f->trigger)
        sqlite3_bind_text(st, 3, f->trigger, -1, SQLITE_STATIC);
    if (f->severity)
        sqlite3_bind_text(st, 4, f->severity, -1, SQLITE_STATIC);
    if (f->since_ms)
        sqlite3_bind_int64(st, 5, f->since_ms);
    sqlite3_bind_int64(st, 6, f->limit > 0 ? f->limit : -1);
    if (f->before_id)
        sqlite3_bind_int64(st, 7, f->before_id);
    return rb__j_rows_once(c, st, rb__j_runs_find_row, "listing runs", out);
}

int rb_journal_run_children(rb_journal_t *j, int64_t run_id, json_t **out)
{
    if (j->pg)
        return rb__pg_run_children(j, run_id, out);
    rb__jconn_t *c = j->c;
    *out = NULL;
    /* a sub-run's trigger is "runbook:<parent id>" (engine/run/step.c); its
     * run_started (seq 1) names the parent's step */
    static const char sql[] =
        "SELECT id, runbook, sha256, status,"
        " (SELECT json_extract(e.data, '$.parent_step') FROM events e WHERE e.run_id = runs.id"
        " AND e.seq = 1) FROM runs WHERE trigger = 'runbook:' || ?1 ORDER BY id";
    sqlite3_stmt *st = NULL;
    int rc = rb__j_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "listing sub-runs");
    sqlite3_bind_int64(st, 1, run_id);
    return rb__j_rows_once(c, st, rb__j_children_row, "listing sub-runs", out);
}
