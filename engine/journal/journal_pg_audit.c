/*
 * journal_pg_audit.c — `runbook audit verify` on a PostgreSQL journal:
 * reading the chain head, the checkpoints, every event in chain order, the
 * runbook versions and the runs table in one snapshot (REPEATABLE READ,
 * READ ONLY) and handing them to the same verify rules as the file's
 * (journal_chain.c), so that the findings and the report are the same,
 * word for word, on either backend.
 *
 * Owns: nothing written. Must never: write; read the events in memory all
 * at once (single-row mode); say "ok" about a journal it could not read
 * to the end.
 */
#include "journal_pg_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char rb__pg_zero[RB__J_HASH_LEN];

typedef struct {
    rb__jverify_t *v;
    rb__jvcp_t cps;
    json_t *list;
} rb__pgv_t;

static int rb__pgv_checkpoint(const PGresult *r, void *arg)
{
    rb__pgv_t *s = arg;
    rb__jcp_t cp = {
        .id = rb__pg_i64(r, 0, 0), .created_at = rb__pg_i64(r, 0, 1),
        .before_ms = rb__pg_i64(r, 0, 2), .cut_event_id = rb__pg_i64(r, 0, 3),
        .cut_hash = rb__pg_hash(r, 0, 4), .pruned_runs = rb__pg_i64(r, 0, 5),
        .pruned_events = rb__pg_i64(r, 0, 6), .prev_hash = rb__pg_hash(r, 0, 7),
    };
    rb__jv_checkpoint(s->v, &s->cps, &cp, rb__pg_hash(r, 0, 8), s->list);
    return s->v->oom ? RB_ENOMEM : 0;
}

static int rb__pgv_event(const PGresult *r, void *arg)
{
    rb__jverify_t *v = arg;
    const unsigned char *prev = rb__pg_hash(r, 0, 9);
    rb__jev_t e = {
        .id = rb__pg_i64(r, 0, 0), .run_id = rb__pg_i64(r, 0, 1), .seq = rb__pg_i64(r, 0, 2),
        .wall_ms = rb__pg_i64(r, 0, 3), .mono_ns = rb__pg_i64(r, 0, 4),
        .attempt = rb__pg_i64(r, 0, 7), .prev_hash = prev ? prev : rb__pg_zero,
    };
    e.type = rb__pg_bytes(r, 0, 5, &e.type_len);
    e.step = rb__pg_bytes(r, 0, 6, &e.step_len);
    e.data = rb__pg_bytes(r, 0, 8, &e.data_len);
    if (!e.type)
        e.type = "";
    if (!e.data)
        e.data = "";
    size_t hlen;
    const char *hash = rb__pg_bytes(r, 0, 10, &hlen);
    if (!prev)
        rb__jv_event_bad_prev(v, &e, hash, hlen);
    else
        rb__jv_event(v, &e, hash ? hash : "", hlen, (int)rb__pg_i64(r, 0, 11));
    return v->oom ? RB_ENOMEM : 0;
}

static int rb__pgv_version(const PGresult *r, void *arg)
{
    rb__jverify_t *v = arg;
    size_t len;
    const char *src = rb__pg_bytes(r, 0, 2, &len);
    rb__jv_version(v, rb__pg_text(r, 0, 0), rb__pg_text(r, 0, 1), src, len);
    return v->oom ? RB_ENOMEM : 0;
}

static int rb__pgv_run(const PGresult *r, void *arg)
{
    rb__jverify_t *v = arg;
    rb__jv_run_status(v, rb__pg_i64(r, 0, 0), rb__pg_text(r, 0, 1), rb__pg_text(r, 0, 2));
    return v->oom ? RB_ENOMEM : 0;
}

/* One integer from a one-row query with up to one parameter (0: no row). */
static int rb__pg_int(rb_journal_t *j, const char *sql, const char *param, int64_t *out)
{
    const char *vals[1] = { param };
    PGresult *res = rb__pg_query(j, "verify", sql, param ? 1 : 0, vals, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    *out = PQntuples(res) ? rb__pg_i64(res, 0, 0) : 0;
    PQclear(res);
    return 0;
}

/* The chain head record: *id -1 (and a finding) when it is missing. */
static int rb__pgv_head(rb_journal_t *j, rb__jverify_t *v, int64_t *id,
                        unsigned char hash[RB__J_HASH_LEN])
{
    PGresult *res = rb__pg_query(j, "reading the chain head",
                                 "SELECT event_id, hash FROM chain_head WHERE one = 1", 0, NULL,
                                 NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    *id = -1;
    if (PQntuples(res) == 1) {
        const unsigned char *h = rb__pg_hash(res, 0, 1);
        *id = rb__pg_i64(res, 0, 0);
        if (h)
            memcpy(hash, h, RB__J_HASH_LEN);
        else
            memset(hash, 0xff, RB__J_HASH_LEN); /* matches no event */
    }
    PQclear(res);
    if (*id < 0)
        rb__jv_problem(v, NULL, 0, "the chain head record is missing (deleted)");
    return 0;
}

/* The checkpoints' own chain, into cs (the newest cut, the list). */
static int rb__pgv_checkpoints(rb_journal_t *j, rb__pgv_t *cs)
{
    return rb__pg_each(j, "reading checkpoints",
                       "SELECT id, created_at, before_ms, cut_event_id, cut_hash, pruned_runs,"
                       " pruned_events, prev_hash, hash FROM checkpoints ORDER BY id",
                       0, NULL, rb__pgv_checkpoint, cs);
}

/* The runs table against its events (run > 0: that run's row only), as
 * journal_audit.c's rb__j_verify_runs. */
static int rb__pgv_runs(rb_journal_t *j, rb__jverify_t *v, int64_t run)
{
    rb__pgnum_t num;
    const char *vals[1] = {rb__pg_num(&num, run)};
    return rb__pg_each(j, "verify",
                       "SELECT id, status, want FROM (SELECT r.id, r.status, CASE e.type"
                       " WHEN 'run_finished' THEN e.data::json ->> 'status'"
                       " ELSE 'interrupted' END AS want"
                       " FROM runs r JOIN events e ON e.run_id = r.id"
                       " WHERE ($1::bigint = 0 OR r.id = $1::bigint)"
                       " AND e.type IN ('run_finished', 'run_interrupted')"
                       " AND e.seq = (SELECT max(seq) FROM events WHERE run_id = r.id"
                       "   AND type IN ('run_finished', 'run_interrupted', 'run_resumed'))) x"
                       " WHERE want IS NOT NULL AND status IS DISTINCT FROM want ORDER BY id",
                       1, vals, rb__pgv_run, v);
}

/* ---- the rows of the signed checkpoints, for journal_seal_check.c ---------------- */

typedef struct {
    int (*row)(void *arg, const rb__jsigrow_t *r);
    void *arg;
} rb__pgsig_t;

static int rb__pgs_row(const PGresult *r, void *arg)
{
    rb__pgsig_t *w = arg;
    size_t len;
    rb__jsigrow_t row = {
        .id = rb__pg_i64(r, 0, 0), .event_id = rb__pg_i64(r, 0, 1), .hash = rb__pg_hash(r, 0, 2),
        .signed_at = rb__pg_i64(r, 0, 3), .key_id = rb__pg_hash(r, 0, 4),
    };
    row.sig = rb__pg_bytes(r, 0, 5, &len);
    row.sig_len = len;
    if (!row.sig)
        row.sig = "";
    return w->row(w->arg, &row);
}

static int rb__pgs_signatures(void *ctx, int (*row)(void *arg, const rb__jsigrow_t *r), void *arg)
{
    rb__pgsig_t w = {row, arg};
    return rb__pg_each(ctx, "reading signatures",
                       "SELECT id, event_id, hash, signed_at, key_id, signature FROM signatures"
                       " ORDER BY id", 0, NULL, rb__pgs_row, &w);
}

/* One row of sql with $1 = id into at (event_id, hash, checkpoint from
 * cols; a negative col: none). */
static int rb__pgs_at(rb_journal_t *j, const char *sql, int64_t id, int ev_col, int hash_col,
                      int cp_col, rb__jseal_at_t *at)
{
    rb__pgnum_t num;
    const char *vals[1] = {rb__pg_num(&num, id)};
    memset(at, 0, sizeof *at);
    PGresult *res = rb__pg_query(j, "verify", sql, 1, vals, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    if (PQntuples(res) == 1) {
        const unsigned char *h = rb__pg_hash(res, 0, hash_col);
        at->found = 1;
        at->event_id = ev_col >= 0 ? rb__pg_i64(res, 0, ev_col) : id;
        at->checkpoint = cp_col >= 0 ? rb__pg_i64(res, 0, cp_col) : 0;
        if (h) {
            memcpy(at->buf, h, RB__J_HASH_LEN);
            at->hash = at->buf;
        }
    }
    PQclear(res);
    return 0;
}

static int rb__pgs_event_hash(void *ctx, int64_t id, rb__jseal_at_t *at)
{
    return rb__pgs_at(ctx, "SELECT hash FROM events WHERE id = $1::bigint", id, -1, 0, -1, at);
}

static int rb__pgs_cut_at(void *ctx, int64_t id, rb__jseal_at_t *at)
{
    return rb__pgs_at(ctx, "SELECT cut_event_id, cut_hash, id FROM checkpoints"
                           " WHERE cut_event_id >= $1::bigint ORDER BY cut_event_id LIMIT 1",
                      id, 0, 1, 2, at);
}

static int rb__pgs_ended_after(void *ctx, int64_t from, int64_t *n)
{
    rb__pgnum_t num;
    return rb__pg_int(ctx, "SELECT count(*) FROM events WHERE id > $1::bigint"
                           " AND type = 'run_finished'", rb__pg_num(&num, from), n);
}

int rb__pg_verify_in_txn(rb_journal_t *j, const rb_journal_verify_opts_t *o, json_t **out)
{
    *out = NULL;
    rb__jverify_t v;
    if (rb__jv_init(&v, 1, rb__pg_zero) != 0)
        return RB_ENOMEM;
    rb__pgv_t cs = {.v = &v, .list = json_array()};
    int ret = cs.list ? 0 : RB_ENOMEM;
    int64_t head_id = -1, runs = 0, versions = 0, wall = 0;
    unsigned char head_hash[RB__J_HASH_LEN] = { 0 };

    if (!ret)
        ret = rb__pgv_head(j, &v, &head_id, head_hash);
    if (!ret)
        ret = rb__pgv_checkpoints(j, &cs);
    int64_t cut = cs.cps.cut, first_id = cut + 1;
    v.expect_id = first_id;
    memcpy(v.expect_prev, cs.cps.cut_hash, RB__J_HASH_LEN);
    if (!ret)
        ret = rb__pg_each(j, "reading events",
                          "SELECT e.id, e.run_id, e.seq, e.wall_ms, e.mono_ns, e.type, e.step,"
                          " e.attempt, e.data, e.prev_hash, e.hash, r.id IS NOT NULL"
                          " FROM events e LEFT JOIN runs r ON r.id = e.run_id ORDER BY e.id",
                          0, NULL, rb__pgv_event, &v);
    if (!ret && head_id >= 0)
        rb__jv_head(&v, head_id, head_hash, v.events ? v.last_id : cut,
                    v.events ? v.last_hash : cs.cps.cut_hash);
    if (!ret)
        ret = rb__pg_each(j, "reading runbook versions",
                          "SELECT sha256, name, source FROM versions ORDER BY recorded_at, sha256",
                          0, NULL, rb__pgv_version, &v);
    if (!ret)
        ret = rb__pg_int(j, "SELECT count(*) FROM versions", NULL, &versions);
    /* the runs table against its events, as journal_audit.c's rb__j_verify_runs */
    if (!ret)
        ret = rb__pgv_runs(j, &v, 0);
    if (!ret)
        ret = rb__pg_int(j, "SELECT count(*) FROM runs", NULL, &runs);
    if (!ret && head_id >= 0) {
        rb__pgnum_t id;
        ret = rb__pg_int(j, "SELECT wall_ms FROM events WHERE id = $1::bigint",
                         rb__pg_num(&id, head_id), &wall);
    }
    json_t *seals = json_object();
    if (!ret && !seals)
        ret = RB_ENOMEM;
    if (!ret && o && (o->nkeys || o->nanchors)) {
        const rb__jseal_io_t io = {.ctx = j, .signatures = rb__pgs_signatures,
                                   .event_hash = rb__pgs_event_hash, .cut_at = rb__pgs_cut_at,
                                   .ended_after = rb__pgs_ended_after};
        ret = rb__jv_seals(&v, &io, o, cut, v.events ? v.last_id : cut, seals);
    }
    if (!ret && v.oom)
        ret = RB_ENOMEM;
    if (!ret) {
        *out = rb__jv_report(&v, j->path, runs, versions, first_id, cs.list, head_id, head_hash,
                             wall);
        if (*out)
            json_object_update(*out, seals);
        else
            ret = RB_ENOMEM;
    }
    json_decref(seals);
    json_decref(cs.list);
    rb__jv_free(&v);
    return ret;
}

int rb__pg_verify_with(rb_journal_t *j, const rb_journal_verify_opts_t *o, json_t **out)
{
    *out = NULL;
    int opened, ret = rb__pg_read_begin(j, "verify", &opened);
    if (ret != 0)
        return ret;
    ret = rb__pg_verify_in_txn(j, o, out);
    int end = rb__pg_read_end(j, "verify", opened);
    if (ret == 0 && end != 0) {
        json_decref(*out);
        *out = NULL;
        ret = end;
    }
    return ret;
}

/* ---- one run: rb_journal_verify_run ------------------------------------------------ */

/* The walk of a run met its ids out of seq order: walk again in id order
 * (as journal_audit.c's RB__J_UNORDERED). */
#define RB__PGV_UNORDERED 1

/* A run's walk: the state the whole walk would reach each event in. */
typedef struct {
    rb__jverify_t *v;
    int by_id;
    int64_t cut;
    const unsigned char *cut_hash;
} rb__pgvr_t;

/* Sets the walk's state to what it is after the event stored before the
 * next one: id and hash (found 0: none, the chain's start at the cut). */
static void rb__pgv_resync(rb__pgvr_t *w, int found, int64_t id, const unsigned char *hash)
{
    rb__jverify_t *v = w->v;
    if (found) {
        v->last_id = id;
        v->expect_id = id + 1;
        memcpy(v->last_hash, hash ? hash : rb__pg_zero, RB__J_HASH_LEN);
        memcpy(v->expect_prev, v->last_hash, RB__J_HASH_LEN);
    } else {
        v->last_id = 0;
        v->expect_id = w->cut + 1;
        memcpy(v->expect_prev, w->cut_hash, RB__J_HASH_LEN);
    }
}

/* An event of the run, with (columns 12, 13) the event stored before it
 * when the one before it in the walk is not: another run's events, or a
 * hole, lie between. */
static int rb__pgvr_event(const PGresult *r, void *arg)
{
    rb__pgvr_t *w = arg;
    rb__jverify_t *v = w->v;
    int64_t id = rb__pg_i64(r, 0, 0);
    if (!w->by_id && v->events && id <= v->last_id)
        return RB__PGV_UNORDERED;
    if (v->events == 0 || id != v->expect_id)
        rb__pgv_resync(w, !PQgetisnull(r, 0, 12), rb__pg_i64(r, 0, 12), rb__pg_hash(r, 0, 13));
    return rb__pgv_event(r, v);
}

/* One walk of rb_journal_verify_run, in the open snapshot (by_id: in id
 * order rather than seq order). */
static int rb__pg_verify_run_pass(rb_journal_t *j, int64_t run_id, int by_id, json_t **out)
{
    rb__jverify_t v;
    if (rb__jv_init(&v, 1, rb__pg_zero) != 0)
        return RB_ENOMEM;
    rb__pgv_t cs = {.v = &v, .list = json_array()};
    int ret = cs.list ? 0 : RB_ENOMEM;
    int64_t head_id = -1;
    unsigned char head_hash[RB__J_HASH_LEN] = {0};
    rb__pgnum_t num;
    const char *vals[1] = {rb__pg_num(&num, run_id)};
    if (!ret)
        ret = rb__pgv_head(j, &v, &head_id, head_hash);
    if (!ret)
        ret = rb__pgv_checkpoints(j, &cs);
    rb__pgvr_t w = {.v = &v, .by_id = by_id, .cut = cs.cps.cut, .cut_hash = cs.cps.cut_hash};
    /* the event stored before each one is looked up (the primary key,
     * backwards) only where the walk needs it: the run's first event and
     * any after a gap in its ids */
    if (!ret)
        ret = rb__pg_each(j, "reading events",
                          by_id ? "SELECT e.id, e.run_id, e.seq, e.wall_ms, e.mono_ns, e.type,"
                                  " e.step, e.attempt, e.data, e.prev_hash, e.hash, true, b.id,"
                                  " b.hash FROM (SELECT *, lag(id) OVER (ORDER BY id) AS lag_id"
                                  " FROM events WHERE run_id = $1::bigint) e LEFT JOIN LATERAL"
                                  " (SELECT p.id, p.hash FROM events p WHERE e.lag_id IS DISTINCT"
                                  " FROM e.id - 1 AND p.id < e.id ORDER BY p.id DESC LIMIT 1) b"
                                  " ON true ORDER BY e.id"
                                : "SELECT e.id, e.run_id, e.seq, e.wall_ms, e.mono_ns, e.type,"
                                  " e.step, e.attempt, e.data, e.prev_hash, e.hash, true, b.id,"
                                  " b.hash FROM (SELECT *, lag(id) OVER (ORDER BY seq) AS lag_id"
                                  " FROM events WHERE run_id = $1::bigint) e LEFT JOIN LATERAL"
                                  " (SELECT p.id, p.hash FROM events p WHERE e.lag_id IS DISTINCT"
                                  " FROM e.id - 1 AND p.id < e.id ORDER BY p.id DESC LIMIT 1) b"
                                  " ON true ORDER BY e.seq",
                          1, vals, rb__pgvr_event, &w);
    int64_t events = v.events;
    if (!ret && head_id >= 0) {
        /* the newest event, where the whole walk would have ended */
        PGresult *res = rb__pg_query(j, "verify",
                                     "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1", 0,
                                     NULL, NULL, NULL);
        if (!res) {
            ret = RB_EJOURNAL;
        } else {
            int found = PQntuples(res) == 1;
            rb__pgv_resync(&w, found, found ? rb__pg_i64(res, 0, 0) : 0,
                           found ? rb__pg_hash(res, 0, 1) : NULL);
            PQclear(res);
            rb__jv_head(&v, head_id, head_hash, v.last_id ? v.last_id : w.cut,
                        v.last_id ? v.last_hash : w.cut_hash);
        }
    }
    if (!ret)
        ret = rb__pg_each(j, "reading runbook versions",
                          "SELECT sha256, name, source FROM versions WHERE sha256 ="
                          " (SELECT sha256 FROM runs WHERE id = $1::bigint)",
                          1, vals, rb__pgv_version, &v);
    if (!ret)
        ret = rb__pgv_runs(j, &v, run_id);
    if (!ret && v.oom)
        ret = RB_ENOMEM;
    if (!ret) {
        *out = json_pack("{s:b,s:I,s:I,s:I,s:O}", "ok", v.nproblems == 0, "run",
                         (json_int_t)run_id, "events", (json_int_t)events, "problems_total",
                         (json_int_t)v.nproblems, "problems", v.problems);
        if (!*out)
            ret = RB_ENOMEM;
    }
    json_decref(cs.list);
    rb__jv_free(&v);
    return ret;
}

int rb__pg_verify_run(rb_journal_t *j, int64_t run_id, json_t **out)
{
    *out = NULL;
    if (j->pg->in_txn) {
        snprintf(j->err, sizeof j->err, "%s: verify: commit the pending appends first", j->path);
        return RB_EINVAL;
    }
    int opened, ret = rb__pg_read_begin(j, "verify", &opened);
    if (ret != 0)
        return ret;
    ret = rb__pg_verify_run_pass(j, run_id, 0, out);
    if (ret == RB__PGV_UNORDERED)
        ret = rb__pg_verify_run_pass(j, run_id, 1, out);
    int end = rb__pg_read_end(j, "verify", opened);
    if (ret == 0 && end != 0) {
        json_decref(*out);
        *out = NULL;
        ret = end;
    }
    return ret;
}
