/*
 * journal_pg_read.c — reading a PostgreSQL journal back: the filtered
 * listing of runs (`runbook runs`), as journal_read.c's rb_journal_runs_find
 * reads the file, in the same order and with the same fields; and the runs
 * orphaned by a dead process, which on PostgreSQL are none to find by pid
 * (an engine's runs will be held under leases: DESIGN §11).
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
    "(SELECT CASE e.type WHEN 'severity_assigned' THEN e.data::jsonb ->> 'level' END"            \
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

static json_t *rb__pg_json_text(const PGresult *r, int row, int col)
{
    const char *s = rb__pg_text(r, row, col);
    return s ? json_string(s) : json_null();
}

static json_t *rb__pg_json_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_integer(rb__pg_i64(r, row, col));
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
    PGresult *res = rb__pg_query(j, "listing runs", q.sql, q.n, q.vals, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    json_t *arr = json_array();
    int ret = arr ? 0 : RB_ENOMEM;
    for (int i = 0; !ret && i < PQntuples(res); i++) {
        json_t *row = json_object();
        if (!row || json_array_append_new(arr, row) != 0) {
            ret = RB_ENOMEM;
            break;
        }
        json_object_set_new(row, "id", rb__pg_json_int(res, i, 0));
        json_object_set_new(row, "runbook", rb__pg_json_text(res, i, 1));
        json_object_set_new(row, "sha256", rb__pg_json_text(res, i, 2));
        json_object_set_new(row, "status", rb__pg_json_text(res, i, 3));
        json_object_set_new(row, "trigger", rb__pg_json_text(res, i, 4));
        json_object_set_new(row, "started_at", rb__pg_json_int(res, i, 5));
        json_object_set_new(row, "ended_at", rb__pg_json_int(res, i, 6));
        if (json_object_set_new(row, "severity", rb__pg_json_text(res, i, 7)) != 0)
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

int rb__pg_runs_orphaned(rb_journal_t *j, json_t **out)
{
    (void)j;
    *out = json_array();
    return *out ? 0 : RB_ENOMEM;
}
