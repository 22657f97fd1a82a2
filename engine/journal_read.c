/*
 * journal_read.c — reading the journal back: the list of runs, one run with
 * its events, the source of a runbook version, each row turned into the
 * JSON that `runbook runs`, `runbook show` and the server's API print.
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

static json_t *rb__j_col_text(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    const char *s = (const char *)sqlite3_column_text(st, col);
    return json_stringn(s ? s : "", (size_t)sqlite3_column_bytes(st, col));
}

static json_t *rb__j_col_int(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    return json_integer(sqlite3_column_int64(st, col));
}

/* A JSON column; text that does not parse (a hand-edited file) is returned
 * as the string it is rather than lost. */
static json_t *rb__j_col_json(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    const char *s = (const char *)sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    json_t *v = json_loadb(s ? s : "", n, JSON_DECODE_ANY, NULL);
    return v ? v : json_stringn(s ? s : "", n);
}

/* Sets key on obj; a NULL value (out of memory) marks the whole read failed. */
static void rb__j_set(json_t *obj, const char *key, json_t *v, int *oom)
{
    if (!v || json_object_set_new(obj, key, v) != 0)
        *oom = 1;
}

int rb_journal_runs(rb_journal_t *j, int limit, json_t **out)
{
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    int ret, rc, oom = 0;
    *out = NULL;
    if ((ret = rb__j_stmt(c, RB__JST_RUNS, &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    json_t *arr = json_array();
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *r = json_object();
        if (!r || json_array_append_new(arr, r) != 0) {
            oom = 1;
            break;
        }
        rb__j_set(r, "id", rb__j_col_int(st, 0), &oom);
        rb__j_set(r, "runbook", rb__j_col_text(st, 1), &oom);
        rb__j_set(r, "sha256", rb__j_col_text(st, 2), &oom);
        rb__j_set(r, "status", rb__j_col_text(st, 3), &oom);
        rb__j_set(r, "trigger", rb__j_col_text(st, 4), &oom);
        rb__j_set(r, "started_at", rb__j_col_int(st, 5), &oom);
        rb__j_set(r, "ended_at", rb__j_col_int(st, 6), &oom);
    }
    if (!arr || oom) {
        rb__j_release(st);
        json_decref(arr);
        return RB_ENOMEM;
    }
    rb__j_release(st);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return rb__j_failc(c, rc, "listing runs");
    }
    *out = arr;
    return 0;
}

static int rb__j_events(rb__jconn_t *c, int64_t run_id, json_t *events)
{
    sqlite3_stmt *st;
    int ret, rc, oom = 0;
    if ((ret = rb__j_stmt(c, RB__JST_RUN_EVENTS, &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, run_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *e = json_object();
        if (!e || json_array_append_new(events, e) != 0) {
            oom = 1;
            break;
        }
        rb__j_set(e, "seq", rb__j_col_int(st, 0), &oom);
        rb__j_set(e, "wall_ms", rb__j_col_int(st, 1), &oom);
        rb__j_set(e, "mono_ns", rb__j_col_int(st, 2), &oom);
        rb__j_set(e, "type", rb__j_col_text(st, 3), &oom);
        rb__j_set(e, "step", rb__j_col_text(st, 4), &oom);
        rb__j_set(e, "attempt", rb__j_col_int(st, 5), &oom);
        rb__j_set(e, "data", rb__j_col_json(st, 6), &oom);
    }
    rb__j_release(st);
    if (oom)
        return RB_ENOMEM;
    if (rc != SQLITE_DONE)
        return rb__j_failc(c, rc, "reading events");
    return 0;
}

int rb_journal_run_get(rb_journal_t *j, int64_t run_id, json_t **out)
{
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    int ret, rc, oom = 0;
    *out = NULL;
    if ((ret = rb__j_stmt(c, RB__JST_RUN_GET, &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, run_id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rb__j_release(st);
        if (rc == SQLITE_DONE) {
            snprintf(j->err, sizeof j->err, "%s: no run %lld", j->path, (long long)run_id);
            return RB_ENOTFOUND;
        }
        return rb__j_failc(c, rc, "reading a run");
    }
    json_t *r = json_object();
    if (!r) {
        rb__j_release(st);
        return RB_ENOMEM;
    }
    rb__j_set(r, "id", rb__j_col_int(st, 0), &oom);
    rb__j_set(r, "runbook", rb__j_col_text(st, 1), &oom);
    rb__j_set(r, "sha256", rb__j_col_text(st, 2), &oom);
    rb__j_set(r, "status", rb__j_col_text(st, 3), &oom);
    rb__j_set(r, "trigger", rb__j_col_text(st, 4), &oom);
    rb__j_set(r, "params", rb__j_col_json(st, 5), &oom);
    rb__j_set(r, "started_at", rb__j_col_int(st, 6), &oom);
    rb__j_set(r, "ended_at", rb__j_col_int(st, 7), &oom);
    rb__j_release(st);
    json_t *events = json_array();
    rb__j_set(r, "events", events, &oom);
    if (oom) {
        json_decref(r);
        return RB_ENOMEM;
    }
    /* The run row and its events come from two statements; outside a write
     * transaction each takes its own snapshot, so a run being written
     * concurrently may show events newer than its row. That is harmless for
     * reading, and cheaper than a read transaction around both. */
    if ((ret = rb__j_events(c, run_id, events)) != 0) {
        json_decref(r);
        return ret;
    }
    *out = r;
    return 0;
}

int rb_journal_get_version(rb_journal_t *j, const char *sha256, char **source, size_t *len)
{
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    int ret;
    *source = NULL;
    if (len)
        *len = 0;
    if ((ret = rb__j_stmt(c, RB__JST_VERSION_GET, &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rb__j_release(st);
        if (rc == SQLITE_DONE) {
            snprintf(j->err, sizeof j->err, "%s: no runbook version %s", j->path, sha256);
            return RB_ENOTFOUND;
        }
        return rb__j_failc(c, rc, "reading a runbook version");
    }
    const char *s = (const char *)sqlite3_column_text(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    char *copy = malloc(n + 1);
    if (!copy) {
        rb__j_release(st);
        return RB_ENOMEM;
    }
    if (n)
        memcpy(copy, s, n);
    copy[n] = '\0';
    rb__j_release(st);
    *source = copy;
    if (len)
        *len = n;
    return 0;
}
