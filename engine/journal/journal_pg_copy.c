/*
 * journal_pg_copy.c — `runbook journal copy`: an SQLite journal's rows
 * (journal_export.c) into an empty PostgreSQL journal, in one transaction,
 * the stored hashes verbatim. Each event goes through the verify rules as
 * it is copied (a broken chain stops the copy at the event that breaks
 * it), and the whole copy is verified by audit verify's own walk
 * (journal_pg_audit.c) inside the transaction before it commits: what
 * commits verifies, or nothing does.
 *
 * Owns: the emptiness check of the target and the id sequences after a
 * copy. Must never: write into a journal that holds anything; commit a
 * copy that does not verify; recompute a stored hash instead of carrying
 * it.
 */
#include "journal_pg_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char rb__pgc_zero[RB__J_HASH_LEN];

typedef struct {
    rb_journal_t *dst;
    const char *from;
    rb__jverify_t v;  /* the rules, as each event goes over */
    rb__jvcp_t cps;
    json_t *cplist;
    json_t *counts;   /* table → rows */
    const rb__jtable_t *prepared; /* the table whose insert is prepared as "ins" */
    int pending;      /* rows sent in the pipeline, not yet answered */
    char ebuf[RB__J_ERRLEN];
} rb__pgc_t;

/* Rows go over in libpq's pipeline mode, RB__PGC_BATCH at a time: one
 * round trip per batch instead of one per row (a copy of 50,000 events
 * took 4 s row by row). The answers of a batch are small (a command tag
 * each), so a batch never fills the socket's buffers both ways. */
#define RB__PGC_BATCH 256

/* Waits for the answers of the rows sent; 0, or the first failure. */
static int rb__pgc_drain(rb__pgc_t *x)
{
    if (!x->pending)
        return 0;
    x->pending = 0;
    char what[80];
    snprintf(what, sizeof what, "copying %s", x->prepared ? x->prepared->name : "rows");
    return rb__pg_pipeline_sync(x->dst, what);
}

/* Leaves pipeline mode, everything sent answered. */
static int rb__pgc_pipeline_end(rb__pgc_t *x)
{
    int ret = rb__pgc_drain(x);
    if (PQpipelineStatus(x->dst->pg->conn) != PQ_PIPELINE_OFF &&
        !PQexitPipelineMode(x->dst->pg->conn) && !ret)
        ret = rb__pg_fail(x->dst, NULL, "copying");
    return ret;
}

static int rb__pgc_prepare(rb__pgc_t *x, const rb__jtable_t *t)
{
    char sql[512];
    if (!strcmp(t->name, "chain_head")) {
        snprintf(sql, sizeof sql, "UPDATE chain_head SET event_id = $1, hash = $2 WHERE one = 1");
    } else if (!strcmp(t->name, "sqlite_sequence")) {
        /* the next id the target hands out is the one the file would have */
        snprintf(sql, sizeof sql, "SELECT setval(pg_get_serial_sequence($1, 'id'),"
                                  " $2::bigint)");
    } else {
        int n = snprintf(sql, sizeof sql, "INSERT INTO %s (%s) VALUES (", t->name, t->cols);
        for (int i = 0; i < t->ncols && n > 0 && (size_t)n < sizeof sql; i++)
            n += snprintf(sql + n, sizeof sql - (size_t)n, "%s$%d", i ? ", " : "", i + 1);
        if (n > 0 && (size_t)n < sizeof sql)
            snprintf(sql + n, sizeof sql - (size_t)n, ")");
    }
    int ret = rb__pgc_pipeline_end(x);
    if (ret != 0)
        return ret;
    PQclear(PQexec(x->dst->pg->conn, "DEALLOCATE ALL"));
    PGresult *res = PQprepare(x->dst->pg->conn, "ins", sql, t->ncols, NULL);
    int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
        char what[80];
        snprintf(what, sizeof what, "copying %s", t->name);
        rb__pg_fail(x->dst, res, what);
    }
    PQclear(res);
    x->prepared = t;
    if (ok && !PQenterPipelineMode(x->dst->pg->conn))
        return rb__pg_fail(x->dst, NULL, "copying");
    return ok ? 0 : RB_EJOURNAL;
}

/* The event as the chain sees it, from the exported values. */
static void rb__pgc_event(const rb__jval_t *c, rb__jev_t *e)
{
    memset(e, 0, sizeof *e);
    e->id = c[0].i;
    e->run_id = c[1].i;
    e->seq = c[2].i;
    e->wall_ms = c[3].i;
    e->mono_ns = c[4].i;
    e->type = c[5].kind == RB__JVAL_NULL ? "" : c[5].p;
    e->type_len = c[5].len;
    e->step = c[6].kind == RB__JVAL_NULL ? NULL : c[6].p;
    e->step_len = c[6].len;
    e->attempt = c[7].i;
    e->data = c[8].kind == RB__JVAL_NULL ? "" : c[8].p;
    e->data_len = c[8].len;
    e->prev_hash = c[9].kind == RB__JVAL_BLOB && c[9].len == RB__J_HASH_LEN
                       ? (const unsigned char *)c[9].p
                       : NULL;
}

/* The rules of audit verify on what goes over; the first finding stops it. */
static int rb__pgc_check(rb__pgc_t *x, const rb__jtable_t *t, const rb__jval_t *c)
{
    int64_t before = x->v.nproblems;
    if (!strcmp(t->name, "checkpoints")) {
        rb__jcp_t cp = {
            .id = c[0].i, .created_at = c[1].i, .before_ms = c[2].i, .cut_event_id = c[3].i,
            .cut_hash = c[4].len == RB__J_HASH_LEN ? (const unsigned char *)c[4].p : NULL,
            .pruned_runs = c[5].i, .pruned_events = c[6].i,
            .prev_hash = c[7].len == RB__J_HASH_LEN ? (const unsigned char *)c[7].p : NULL,
        };
        rb__jv_checkpoint(&x->v, &x->cps, &cp,
                          c[8].len == RB__J_HASH_LEN ? (const unsigned char *)c[8].p : NULL,
                          x->cplist);
        x->v.expect_id = x->cps.cut + 1;
        memcpy(x->v.expect_prev, x->cps.cut_hash, RB__J_HASH_LEN);
    } else if (!strcmp(t->name, "events")) {
        rb__jev_t e;
        rb__pgc_event(c, &e);
        const char *hash = c[10].kind == RB__JVAL_NULL ? "" : c[10].p;
        if (!e.prev_hash) {
            e.prev_hash = rb__pgc_zero;
            rb__jv_event_bad_prev(&x->v, &e, hash, c[10].len);
        } else {
            rb__jv_event(&x->v, &e, hash, c[10].len, 1);
        }
    }
    if (x->v.oom)
        return RB_ENOMEM;
    if (x->v.nproblems == before)
        return 0;
    const json_t *p = json_array_get(x->v.problems, 0);
    const json_t *id = json_object_get(p, "event_id");
    if (json_is_integer(id))
        snprintf(x->ebuf, sizeof x->ebuf, "%s: event #%lld: %s", x->from,
                 (long long)json_integer_value(id), json_string_value(json_object_get(p, "what")));
    else
        snprintf(x->ebuf, sizeof x->ebuf, "%s: %s", x->from,
                 json_string_value(json_object_get(p, "what")));
    return RB_EJOURNAL;
}

static int rb__pgc_row(const rb__jtable_t *t, const rb__jval_t *c, void *arg)
{
    rb__pgc_t *x = arg;
    int ret;
    if (!strcmp(t->name, "chain_head") && c[0].i == 0)
        return 0; /* nothing appended yet: the new journal's head is that already */
    if (!strcmp(t->name, "sqlite_sequence") && c[1].i <= 0)
        return 0;
    if (x->prepared != t && (ret = rb__pgc_prepare(x, t)) != 0)
        return ret;
    if ((ret = rb__pgc_check(x, t, c)) != 0)
        return ret;
    const char *vals[RB__J_COPY_MAXCOLS];
    int lens[RB__J_COPY_MAXCOLS], fmts[RB__J_COPY_MAXCOLS];
    char nums[RB__J_COPY_MAXCOLS][24];
    for (int i = 0; i < t->ncols; i++) {
        lens[i] = 0;
        fmts[i] = 0;
        switch (c[i].kind) {
        case RB__JVAL_NULL:
            vals[i] = NULL;
            break;
        case RB__JVAL_INT:
            snprintf(nums[i], sizeof nums[i], "%lld", (long long)c[i].i);
            vals[i] = nums[i];
            break;
        case RB__JVAL_BLOB:
            vals[i] = c[i].p ? c[i].p : "";
            lens[i] = (int)c[i].len;
            fmts[i] = 1;
            break;
        default:
            vals[i] = c[i].p;
            break;
        }
    }
    if (!PQsendQueryPrepared(x->dst->pg->conn, "ins", t->ncols, vals, lens, fmts, 1))
        return rb__pg_fail(x->dst, NULL, "copying");
    if (++x->pending >= RB__PGC_BATCH && (ret = rb__pgc_drain(x)) != 0)
        return ret;
    json_t *n = json_object_get(x->counts, t->name);
    if (json_object_set_new(x->counts, t->name,
                            json_integer(n ? json_integer_value(n) + 1 : 1)) != 0)
        return RB_ENOMEM;
    return 0;
}

/* Refuses a target that holds anything: what it holds, in j->err. */
static int rb__pgc_empty(rb_journal_t *j)
{
    PGresult *res = rb__pg_query(
        j, "reading the target",
        "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM events),"
        " (SELECT count(*) FROM versions), (SELECT count(*) FROM alerts),"
        " (SELECT count(*) FROM checkpoints), (SELECT count(*) FROM signatures)",
        0, NULL, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    int64_t n[6];
    int64_t any = 0;
    for (int i = 0; i < 6; i++)
        any += n[i] = rb__pg_i64(res, 0, i);
    PQclear(res);
    if (!any)
        return 0;
    snprintf(j->err, sizeof j->err, "%s: the journal is not empty (%lld runs, %lld events,"
                                    " %lld runbook versions, %lld alerts, %lld checkpoints,"
                                    " %lld signatures): journal copy fills an empty journal"
                                    " only", j->path, (long long)n[0], (long long)n[1],
             (long long)n[2], (long long)n[3], (long long)n[4], (long long)n[5]);
    return RB_EINVAL;
}

/* The copy refused for a source that does not verify: 0, *out says why. */
static int rb__pgc_refused(json_t **out, const char *from, const char *to, const char *why)
{
    *out = json_pack("{s:b,s:s,s:s,s:s}", "copied", 0, "from", from, "to", to, "problem", why);
    return *out ? 0 : RB_ENOMEM;
}

static long long rb__pgc_count(const rb__pgc_t *x, const char *table)
{
    return (long long)json_integer_value(json_object_get(x->counts, table));
}

int rb_journal_copy(const char *from, const char *to, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!rb_journal_is_url(to)) {
        snprintf(err, errlen, "the target must be a postgresql:// URL");
        return RB_EINVAL;
    }
    if (rb_journal_is_url(from)) {
        snprintf(err, errlen, "the source must be an SQLite journal file");
        return RB_EINVAL;
    }
    rb_journal_t *src = NULL;
    int ret = rb_journal_open(from, RB_JOURNAL_READONLY | RB_JOURNAL_NO_RECOVER, &src, err,
                              errlen);
    if (ret != 0)
        return ret;
    rb_journal_t dst = {.lock_fd = -1, .path = strdup(to)};
    rb__pgc_t x = {.dst = &dst, .from = from, .cplist = json_array(), .counts = json_object()};
    if (!dst.path || !x.cplist || !x.counts || rb__jv_init(&x.v, 1, rb__pgc_zero) != 0) {
        snprintf(err, errlen, "out of memory");
        ret = RB_ENOMEM;
        goto done;
    }
    if ((ret = rb__pg_open(&dst, to, 1)) != 0)
        goto fail;
    if ((ret = rb__pg_exec(&dst, "copying", "BEGIN")) != 0)
        goto fail;
    dst.pg->in_txn = 1;
    /* a second copy at once waits here, then finds the first one's rows */
    if ((ret = rb__pg_exec(&dst, "copying",
                           "LOCK TABLE versions, runs, events, chain_head, checkpoints,"
                           " signatures, alerts, alert_runs IN EXCLUSIVE MODE")) != 0 ||
        (ret = rb__pgc_empty(&dst)) != 0)
        goto fail;
    ret = rb__j_export(src, rb__pgc_row, &x);
    int end = rb__pgc_pipeline_end(&x);
    if (ret == 0)
        ret = end;
    if (ret != 0) {
        if (x.ebuf[0]) {
            ret = rb__pgc_refused(out, from, dst.path, x.ebuf);
            goto done;
        }
        if (!dst.err[0] && rb_journal_errmsg(src)[0])
            snprintf(dst.err, sizeof dst.err, "%s", rb_journal_errmsg(src));
        goto fail;
    }
    json_t *report = NULL;
    if ((ret = rb__pg_verify_in_txn(&dst, NULL, &report)) != 0)
        goto fail;
    if (!json_is_true(json_object_get(report, "ok"))) {
        const json_t *p = json_array_get(json_object_get(report, "problems"), 0);
        snprintf(x.ebuf, sizeof x.ebuf, "%s: %lld problem%s; the first: %s", from,
                 (long long)json_integer_value(json_object_get(report, "problems_total")),
                 json_integer_value(json_object_get(report, "problems_total")) == 1 ? "" : "s",
                 json_string_value(json_object_get(p, "what")));
        json_decref(report);
        ret = rb__pgc_refused(out, from, dst.path, x.ebuf);
        goto done;
    }
    if ((ret = rb__pg_exec(&dst, "committing the copy", "COMMIT")) != 0) {
        json_decref(report);
        goto fail;
    }
    dst.pg->in_txn = 0;
    *out = json_pack("{s:b,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:O}", "copied", 1, "from", from,
                     "to", dst.path,
                     "versions", (json_int_t)rb__pgc_count(&x, "versions"),
                     "runs", (json_int_t)rb__pgc_count(&x, "runs"),
                     "events", (json_int_t)rb__pgc_count(&x, "events"),
                     "checkpoints", (json_int_t)rb__pgc_count(&x, "checkpoints"),
                     "signatures", (json_int_t)rb__pgc_count(&x, "signatures"),
                     "alerts", (json_int_t)rb__pgc_count(&x, "alerts"),
                     "alert_runs", (json_int_t)rb__pgc_count(&x, "alert_runs"),
                     "head", json_object_get(report, "head"));
    json_decref(report);
    if (!*out)
        ret = RB_ENOMEM;
    goto done;
fail:
    snprintf(err, errlen, "%s", dst.err[0] ? dst.err : rb_strerror(ret));
done:
    rb__pg_close(&dst); /* rolls back what is not committed */
    free(dst.path);
    json_decref(x.cplist);
    json_decref(x.counts);
    rb__jv_free(&x.v);
    rb_journal_close(src);
    return ret;
}
