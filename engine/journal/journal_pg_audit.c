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
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)id);
    const char *vals[1] = { num };
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
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)from);
    return rb__pg_int(ctx, "SELECT count(*) FROM events WHERE id > $1::bigint"
                           " AND type = 'run_finished'", num, n);
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

    PGresult *res = ret ? NULL
                        : rb__pg_query(j, "reading the chain head",
                                       "SELECT event_id, hash FROM chain_head WHERE one = 1", 0,
                                       NULL, NULL, NULL);
    if (!ret && !res)
        ret = RB_EJOURNAL;
    if (res && PQntuples(res) == 1) {
        const unsigned char *h = rb__pg_hash(res, 0, 1);
        head_id = rb__pg_i64(res, 0, 0);
        if (h)
            memcpy(head_hash, h, RB__J_HASH_LEN);
        else
            memset(head_hash, 0xff, RB__J_HASH_LEN); /* matches no event */
    }
    PQclear(res);
    if (!ret && head_id < 0)
        rb__jv_problem(&v, NULL, 0, "the chain head record is missing (deleted)");
    if (!ret)
        ret = rb__pg_each(j, "reading checkpoints",
                          "SELECT id, created_at, before_ms, cut_event_id, cut_hash, pruned_runs,"
                          " pruned_events, prev_hash, hash FROM checkpoints ORDER BY id",
                          0, NULL, rb__pgv_checkpoint, &cs);
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
        ret = rb__pg_each(j, "verify",
                          "SELECT id, status, want FROM (SELECT r.id, r.status, CASE e.type"
                          " WHEN 'run_finished' THEN e.data::jsonb ->> 'status'"
                          " ELSE 'interrupted' END AS want"
                          " FROM runs r JOIN events e ON e.run_id = r.id"
                          " WHERE e.type IN ('run_finished', 'run_interrupted')"
                          " AND e.seq = (SELECT max(seq) FROM events WHERE run_id = r.id"
                          "   AND type IN ('run_finished', 'run_interrupted', 'run_resumed'))) x"
                          " WHERE want IS NOT NULL AND status IS DISTINCT FROM want ORDER BY id",
                          0, NULL, rb__pgv_run, &v);
    if (!ret)
        ret = rb__pg_int(j, "SELECT count(*) FROM runs", NULL, &runs);
    if (!ret && head_id >= 0) {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)head_id);
        ret = rb__pg_int(j, "SELECT wall_ms FROM events WHERE id = $1::bigint", id, &wall);
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
    int ret = rb__pg_exec(j, "verify", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (ret != 0)
        return ret;
    j->pg->in_txn = 1;
    ret = rb__pg_verify_in_txn(j, o, out);
    int end = rb__pg_exec(j, "verify", "COMMIT");
    j->pg->in_txn = 0;
    if (ret == 0 && end != 0) {
        json_decref(*out);
        *out = NULL;
        ret = end;
    }
    return ret;
}
