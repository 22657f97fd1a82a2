/*
 * journal_pg_run.c — one run of a PostgreSQL journal read back: its row,
 * the run with its events (rb_journal_run_get_some), and the walk that
 * hands them over one at a time after the run's outline
 * (rb_journal_run_walk), as journal_read.c reads them from the file: the
 * same JSON (journal_rows.c), the events in seq order.
 *
 * Owns: nothing written. Must never: write; hold a run's events in memory
 * to walk them (single-row mode: `show` and `report` of a run of any size
 * read in constant memory); parse an event's data as jsonb (it would
 * refuse the "\u0000" a command's output can hold).
 */
#include "journal_pg_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* rb__j_event_row's columns, in seq order (UNIQUE (run_id, seq) serves it). */
static const char rb__pg_events_sql[] =
    "SELECT seq, wall_ms, mono_ns, type, step, attempt, data FROM events"
    " WHERE run_id = $1::bigint ORDER BY seq";

int rb__pg_run_row(rb_journal_t *j, int64_t run_id, json_t **out)
{
    rb__pgnum_t num;
    const char *vals[1] = {rb__pg_num(&num, run_id)};
    *out = NULL;
    PGresult *res = rb__pg_query(j, "reading a run",
                                 "SELECT id, runbook, sha256, status, trigger, params, started_at,"
                                 " ended_at FROM runs WHERE id = $1::bigint", 1, vals, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    if (PQntuples(res) != 1) {
        PQclear(res);
        snprintf(j->err, sizeof j->err, "%s: no run %lld", j->path, (long long)run_id);
        return RB_ENOTFOUND;
    }
    rb__pgrow_t at;
    const rb__jrow_t src = rb__pg_row(&at, res, 0);
    *out = rb__j_row(&src, rb__j_run_row, 0);
    PQclear(res);
    return *out ? 0 : RB_ENOMEM;
}

/* Each event of a walk, as it arrives. */
typedef struct {
    rb__jpick_t pick;
    json_t *events;            /* run_get_some: appended to */
    rb_journal_event_fn event; /* run_walk: handed to */
    void *arg;
} rb__pgev_t;

static int rb__pg_event(const PGresult *res, void *arg)
{
    rb__pgev_t *w = arg;
    rb__pgrow_t at;
    const rb__jrow_t src = rb__pg_row(&at, res, 0);
    json_t *ev = rb__j_row(&src, rb__j_event_row, rb__j_skip_json(&src, &w->pick));
    if (!ev)
        return RB_ENOMEM;
    if (w->events)
        return json_array_append_new(w->events, ev) ? RB_ENOMEM : 0;
    int ret = w->event(ev, w->arg);
    json_decref(ev);
    return ret;
}

static int rb__pg_events(rb_journal_t *j, int64_t run_id, rb__pgev_t *w)
{
    rb__pgnum_t num;
    const char *vals[1] = {rb__pg_num(&num, run_id)};
    return rb__pg_each(j, "reading events", rb__pg_events_sql, 1, vals, rb__pg_event, w);
}

int rb__pg_run_get_some(rb_journal_t *j, int64_t run_id, const char *const *types, int except,
                        json_t **out)
{
    json_t *r = NULL;
    *out = NULL;
    int opened, ret = rb__pg_read_begin(j, "reading a run", &opened);
    if (ret == 0)
        ret = rb__pg_run_row(j, run_id, &r);
    json_t *events = ret ? NULL : json_array();
    if (ret == 0 && (!events || json_object_set_new(r, "events", events) != 0))
        ret = RB_ENOMEM;
    rb__pgev_t w = {.pick = {3, types, except}, .events = events};
    if (ret == 0)
        ret = rb__pg_events(j, run_id, &w);
    int end = rb__pg_read_end(j, "reading a run", opened);
    if (ret == 0)
        ret = end;
    if (ret != 0) {
        json_decref(r);
        return ret;
    }
    *out = r;
    return 0;
}

/* The first or the last event of the outline from a row of type, wall_ms
 * and data: what rb__j_outline_end says of it (labels: the first's only). */
static json_t *rb__pg_outline_end(const PGresult *res, int row, int labels)
{
    size_t n = 0;
    const char *s = rb__pg_bytes(res, row, 2, &n);
    json_t *data = s ? json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    json_t *lab = NULL, *obj = json_object_get(json_object_get(data, "alert"), "labels");
    if (labels && json_is_object(obj)) {
        /* the file's read takes the labels back from their own text, without
         * JSON_ALLOW_NUL: as strict here */
        char *text = json_dumps(obj, JSON_COMPACT);
        lab = text ? json_loads(text, 0, NULL) : NULL;
        free(text);
    }
    json_t *end = rb__j_outline_end(rb__pg_text(res, row, 0), rb__pg_i64(res, row, 1),
                                    json_object_get(data, "duration_ms"), lab);
    json_decref(lab);
    json_decref(data);
    return end;
}

/* What rb_journal_run_walk's outline adds to the run's row: how many
 * events, the first and the last, and each step's last seq. */
static int rb__pg_outline(rb_journal_t *j, int64_t run_id, json_t *r)
{
    rb__pgnum_t num;
    const char *vals[1] = {rb__pg_num(&num, run_id)};
    /* the steps in byte order, as the file's GROUP BY hands them */
    PGresult *res = rb__pg_query(j, "reading a run's outline",
                                 "SELECT step, count(*), max(seq) FROM events"
                                 " WHERE run_id = $1::bigint GROUP BY step"
                                 " ORDER BY step COLLATE \"C\" NULLS FIRST", 1, vals, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    json_t *steps = json_object();
    int64_t n = 0;
    int ret = steps ? 0 : RB_ENOMEM;
    for (int i = 0; !ret && i < PQntuples(res); i++) {
        n += rb__pg_i64(res, i, 1);
        const char *step = rb__pg_text(res, i, 0);
        if (step && json_object_set_new(steps, step, json_integer(rb__pg_i64(res, i, 2))) != 0)
            ret = RB_ENOMEM;
    }
    PQclear(res);
    res = ret ? NULL
              : rb__pg_query(j, "reading a run's outline",
                             "SELECT type, wall_ms, data FROM (SELECT * FROM"
                             " (SELECT 0 AS k, type, wall_ms, data FROM events"
                             " WHERE run_id = $1::bigint ORDER BY seq LIMIT 1) f UNION ALL"
                             " SELECT * FROM (SELECT 1, type, wall_ms, data FROM events"
                             " WHERE run_id = $1::bigint ORDER BY seq DESC LIMIT 1) l) x"
                             " ORDER BY k", 1, vals, NULL, NULL);
    if (!ret && !res)
        ret = RB_EJOURNAL;
    json_t *first = NULL, *last = NULL;
    if (!ret && PQntuples(res) == 2 &&
        (!(first = rb__pg_outline_end(res, 0, 1)) || !(last = rb__pg_outline_end(res, 1, 0))))
        ret = RB_ENOMEM;
    PQclear(res);
    if (!ret && (json_object_set_new(r, "events", json_integer(n)) != 0 ||
                 json_object_set(r, "first", first ? first : json_null()) != 0 ||
                 json_object_set(r, "last", last ? last : json_null()) != 0 ||
                 json_object_set(r, "last_seq", steps) != 0))
        ret = RB_ENOMEM;
    json_decref(first);
    json_decref(last);
    json_decref(steps);
    return ret;
}

int rb__pg_run_walk(rb_journal_t *j, int64_t run_id, const char *const *types, int except,
                    rb_journal_outline_fn outline, rb_journal_event_fn event, void *arg)
{
    /* one snapshot for the outline and the events */
    int opened, ret = rb__pg_read_begin(j, "reading a run", &opened);
    if (ret != 0)
        return ret;
    json_t *r = NULL;
    if (outline && (ret = rb__pg_run_row(j, run_id, &r)) == 0 &&
        (ret = rb__pg_outline(j, run_id, r)) == 0)
        ret = outline(r, arg);
    json_decref(r);
    rb__pgev_t w = {.pick = {3, types, except}, .event = event, .arg = arg};
    if (ret == 0)
        ret = rb__pg_events(j, run_id, &w);
    int end = rb__pg_read_end(j, "reading a run", opened);
    return ret ? ret : end;
}
