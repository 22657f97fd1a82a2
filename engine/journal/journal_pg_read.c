/*
 * journal_pg_read.c — the listings of a PostgreSQL journal, as
 * journal_read.c reads them from the file, in the same order and with the
 * same fields (journal_rows.c): the filtered listing of runs (`runbook
 * runs`) and the newest runs; a runbook's versions and a version's text; a
 * run's sub-runs; the runs of a concurrency key; and the runs orphaned by a
 * dead process, which on PostgreSQL are none to find by pid (an engine's
 * runs will be held under leases: DESIGN §11). One run with its events:
 * journal_pg_run.c.
 *
 * Owns: nothing written. Must never: write; paste a filter's value into SQL
 * (every value is a parameter).
 */
#include "journal_pg_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB__PG_SEVERITY_SQL                                                                       \
    "(SELECT CASE e.type WHEN 'severity_assigned' THEN e.data::json ->> 'level' END"             \
    " FROM events e WHERE e.run_id = runs.id"                                                     \
    " AND e.type IN ('severity_assigned', 'declared') ORDER BY e.seq LIMIT 1)"

/* Appends text to the statement, and, when val is not NULL, names it as
 * the next parameter ($N in text is replaced by its number). */
typedef struct {
    char sql[2048];
    size_t len;
    const char *vals[8];
    char nums[8][24];
    int n;
    int overflow;
} rb__pgq_t;

static void rb__pgq_add(rb__pgq_t *q, const char *text, const char *val)
{
    char piece[512];
    const char *src = text;
    if (val) {
        if (q->n == 8) {
            q->overflow = 1;
            return;
        }
        q->vals[q->n++] = val;
        /* every "$N" of text is this parameter */
        size_t o = 0;
        for (const char *p = text; *p && o + 8 < sizeof piece; p++) {
            if (p[0] == '$' && p[1] == 'N') {
                o += (size_t)snprintf(piece + o, sizeof piece - o, "$%d", q->n);
                p++;
            } else {
                piece[o++] = *p;
            }
        }
        piece[o] = '\0';
        src = piece;
    }
    int w = snprintf(q->sql + q->len, sizeof q->sql - q->len, "%s", src);
    if (w < 0 || (size_t)w >= sizeof q->sql - q->len)
        q->overflow = 1;
    else
        q->len += (size_t)w;
}

static const char *rb__pgq_num(rb__pgq_t *q, int64_t v)
{
    if (q->n == 8)
        return NULL;
    snprintf(q->nums[q->n], sizeof q->nums[q->n], "%lld", (long long)v);
    return q->nums[q->n];
}

/* Every row of res appended to a new array in *out as rows of the shape
 * cols; clears res. 0 or RB_ENOMEM. */
static int rb__pg_rows(PGresult *res, const rb__jcol_t *cols, json_t **out)
{
    json_t *arr = json_array();
    int ret = arr ? 0 : RB_ENOMEM;
    rb__pgrow_t at;
    for (int i = 0; !ret && i < PQntuples(res); i++) {
        const rb__jrow_t src = rb__pg_row(&at, res, i);
        json_t *row = rb__j_row(&src, cols, 0);
        if (!row || json_array_append_new(arr, row) != 0)
            ret = RB_ENOMEM;
    }
    PQclear(res);
    if (ret) {
        json_decref(arr);
        return ret;
    }
    *out = arr;
    return 0;
}

/* rb__pg_rows of sql with its n parameters, or RB_EJOURNAL (j->err). */
static int rb__pg_list(rb_journal_t *j, const char *what, const char *sql, int n,
                       const char *const *vals, const rb__jcol_t *cols, json_t **out)
{
    *out = NULL;
    PGresult *res = rb__pg_query(j, what, sql, n, vals, NULL, NULL);
    return res ? rb__pg_rows(res, cols, out) : RB_EJOURNAL;
}

int rb__pg_runs_find(rb_journal_t *j, const rb_journal_runs_filter_t *f, json_t **out)
{
    static const rb_journal_runs_filter_t none;
    *out = NULL;
    if (!f)
        f = &none;
    /* the statement of journal_read.c's rb_journal_runs_find, in PostgreSQL's words */
    rb__pgq_t q = {.n = 0};
    rb__pgq_add(&q, "SELECT id, runbook, sha256, status, trigger, started_at, ended_at, "
                    RB__PG_SEVERITY_SQL " AS severity FROM runs WHERE id IN"
                    " (SELECT id FROM runs WHERE true", NULL);
    if (f->runbook)
        rb__pgq_add(&q, " AND runbook = $N::text", f->runbook);
    if (f->status)
        rb__pgq_add(&q, " AND status = $N::text", f->status);
    if (f->trigger)
        rb__pgq_add(&q, " AND (trigger = $N::text OR substr(trigger, 1, length($N::text) + 1)"
                        " IN ($N::text || ':', $N::text || ' '))", f->trigger);
    if (f->severity)
        rb__pgq_add(&q, " AND lower(" RB__PG_SEVERITY_SQL ") = lower($N::text)", f->severity);
    if (f->since_ms)
        rb__pgq_add(&q, " AND started_at >= $N::bigint", rb__pgq_num(&q, f->since_ms));
    if (f->before_id)
        rb__pgq_add(&q, " AND (started_at, id) < (SELECT b.started_at, b.id FROM runs b"
                        " WHERE b.id = $N::bigint)", rb__pgq_num(&q, f->before_id));
    /* a drill's trigger ends " (drill)" (engine/cli/cli_run.c) */
    if (f->drill > 0)
        rb__pgq_add(&q, " AND right(trigger, 8) = ' (drill)'", NULL);
    else if (f->drill < 0)
        rb__pgq_add(&q, " AND right(trigger, 8) IS DISTINCT FROM ' (drill)'", NULL);
    rb__pgq_add(&q, " ORDER BY started_at DESC, id DESC", NULL);
    if (f->limit > 0)
        rb__pgq_add(&q, " LIMIT $N::bigint", rb__pgq_num(&q, f->limit));
    rb__pgq_add(&q, ") ORDER BY started_at DESC, id DESC", NULL);
    if (q.overflow) {
        snprintf(j->err, sizeof j->err, "%s: listing runs: the filter is too long", j->path);
        return RB_EINVAL;
    }
    return rb__pg_list(j, "listing runs", q.sql, q.n, q.vals, rb__j_runs_find_row, out);
}

int rb__pg_runs(rb_journal_t *j, int limit, json_t **out)
{
    rb__pgnum_t num;
    const char *vals[1] = {limit > 0 ? rb__pg_num(&num, limit) : NULL}; /* LIMIT NULL: all */
    return rb__pg_list(j, "listing runs",
                       "SELECT id, runbook, sha256, status, trigger, started_at, ended_at"
                       " FROM runs ORDER BY id DESC LIMIT $1::bigint",
                       1, vals, rb__j_runs_row, out);
}

int rb__pg_versions(rb_journal_t *j, const char *name, json_t **out)
{
    /* the file breaks a tie of recorded_at by the newer row; PostgreSQL
     * keeps no insertion order, so by the hash */
    const char *vals[1] = {name};
    return rb__pg_list(j, "listing runbook versions",
                       "SELECT v.sha256, v.path, v.recorded_at,"
                       " (SELECT count(*) FROM runs r WHERE r.sha256 = v.sha256),"
                       " (SELECT max(started_at) FROM runs r WHERE r.sha256 = v.sha256)"
                       " FROM versions v WHERE v.name = $1::text"
                       " ORDER BY v.recorded_at DESC, v.sha256 DESC",
                       1, vals, rb__j_version_row, out);
}

int rb__pg_run_children(rb_journal_t *j, int64_t run_id, json_t **out)
{
    rb__pgnum_t num;
    const char *vals[1] = {rb__pg_num(&num, run_id)};
    /* a sub-run's trigger is "runbook:<parent id>" (engine/run/step.c); its
     * run_started (seq 1) names the parent's step. json, not jsonb: the
     * data may hold a "\u0000" jsonb refuses. */
    return rb__pg_list(j, "listing sub-runs",
                       "SELECT id, runbook, sha256, status,"
                       " (SELECT e.data::json ->> 'parent_step' FROM events e"
                       " WHERE e.run_id = runs.id AND e.seq = 1)"
                       " FROM runs WHERE trigger = 'runbook:' || $1::text ORDER BY id",
                       1, vals, rb__j_children_row, out);
}

int rb__pg_get_version(rb_journal_t *j, const char *sha256, char **source, size_t *len)
{
    const char *vals[1] = {sha256};
    *source = NULL;
    if (len)
        *len = 0;
    PGresult *res = rb__pg_query(j, "reading a runbook version",
                                 "SELECT source FROM versions WHERE sha256 = $1::text", 1, vals,
                                 NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    if (PQntuples(res) != 1) {
        PQclear(res);
        snprintf(j->err, sizeof j->err, "%s: no runbook version %s", j->path, sha256);
        return RB_ENOTFOUND;
    }
    size_t n = 0;
    const char *s = rb__pg_bytes(res, 0, 0, &n);
    int ret = rb__j_text_copy(s, n, source, len);
    PQclear(res);
    return ret;
}

int rb__pg_key_state(rb_journal_t *j, const char *runbook, const char *key, int64_t *active_run,
                     char **active_runbook, int64_t *last_end_ms)
{
    const char *vals[1] = {key};
    *active_run = 0;
    *last_end_ms = 0;
    if (active_runbook)
        *active_runbook = NULL;
    /* the newest runs, of any runbook, with the concurrency key (as the
     * file's RB__JST_KEY_RUNS) */
    PGresult *res = rb__pg_query(j, "reading runs by concurrency key",
                                 "SELECT r.id, r.ended_at, r.runbook FROM events e"
                                 " JOIN runs r ON r.id = e.run_id WHERE e.type = 'run_started'"
                                 " AND e.data::json ->> 'concurrency_key' = $1::text"
                                 " ORDER BY r.id DESC LIMIT 64", 1, vals, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    int ret = 0;
    for (int i = 0; !ret && i < PQntuples(res); i++) {
        const char *name = rb__pg_text(res, i, 2);
        if (PQgetisnull(res, i, 1)) {
            if (!*active_run) {
                *active_run = rb__pg_i64(res, i, 0);
                if (active_runbook && name && !(*active_runbook = strdup(name)))
                    ret = RB_ENOMEM;
            }
        } else if (name && strcmp(name, runbook) == 0 && rb__pg_i64(res, i, 1) > *last_end_ms) {
            *last_end_ms = rb__pg_i64(res, i, 1);
        }
    }
    PQclear(res);
    return ret;
}

int rb__pg_runs_orphaned(rb_journal_t *j, json_t **out)
{
    (void)j;
    *out = json_array();
    return *out ? 0 : RB_ENOMEM;
}
