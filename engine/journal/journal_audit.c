/*
 * journal_audit.c — `runbook audit verify` and `runbook audit prune` on the
 * file: reading the whole chain, the checkpoints' own chain, the chain head
 * and the runbook versions in one snapshot and handing them to the verify
 * rules (journal_chain.c); pruning whole old runs behind a new checkpoint
 * that records where the chain was cut and the hash it had there.
 *
 * Owns: the checkpoints table (only prune writes it). Must never: delete an
 * event that no checkpoint covers; delete a run that is still open or has
 * events after the cut; let a commit that lands meanwhile make the head and
 * the events disagree (verify reads in one transaction); commit a dry run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_int.h"

#include <runbook/runbook.h>

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char rb__j_zero[RB__J_HASH_LEN];

/* The checkpoints' own chain; leaves the newest cut (0 and zeros when
 * there is none) and appends each checkpoint to list. */
static int rb__j_verify_checkpoints(rb__jconn_t *c, rb__jverify_t *v, json_t *list,
                                    int64_t *cut, unsigned char cut_hash[RB__J_HASH_LEN])
{
    sqlite3_stmt *st;
    int rc = rb__j_prepare_v2(c->db,
                                "SELECT id, created_at, before_ms, cut_event_id, cut_hash,"
                                " pruned_runs, pruned_events, prev_hash, hash"
                                " FROM checkpoints ORDER BY id", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "reading checkpoints");
    rb__jvcp_t s = { .cut = 0 };
    while ((rc = rb__j_step(st)) == SQLITE_ROW) {
        rb__jcp_t cp = {
            .id = sqlite3_column_int64(st, 0), .created_at = sqlite3_column_int64(st, 1),
            .before_ms = sqlite3_column_int64(st, 2), .cut_event_id = sqlite3_column_int64(st, 3),
            .pruned_runs = sqlite3_column_int64(st, 5),
            .pruned_events = sqlite3_column_int64(st, 6),
            .cut_hash = rb__j_col_hash(st, 4), .prev_hash = rb__j_col_hash(st, 7),
        };
        rb__jv_checkpoint(v, &s, &cp, rb__j_col_hash(st, 8), list);
    }
    sqlite3_finalize(st);
    *cut = s.cut;
    memcpy(cut_hash, s.cut_hash, RB__J_HASH_LEN);
    return rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, "reading checkpoints");
}

/* Sets the walk's state to what it is after the event stored before id:
 * the one the whole walk would have checked last (or the chain's start,
 * cut and cut_hash, when there is none). */
static int rb__j_verify_resync(rb__jconn_t *c, rb__jverify_t *v, sqlite3_stmt *before, int64_t id,
                               int64_t cut, const unsigned char cut_hash[RB__J_HASH_LEN])
{
    sqlite3_bind_int64(before, 1, id);
    int rc = rb__j_step(before);
    if (rc == SQLITE_ROW) {
        const unsigned char *h = rb__j_col_hash(before, 1);
        v->last_id = sqlite3_column_int64(before, 0);
        v->expect_id = v->last_id + 1;
        memcpy(v->last_hash, h ? h : rb__j_zero, RB__J_HASH_LEN);
        memcpy(v->expect_prev, v->last_hash, RB__J_HASH_LEN);
    } else if (rc == SQLITE_DONE) {
        v->last_id = 0;
        v->expect_id = cut + 1;
        memcpy(v->expect_prev, cut_hash, RB__J_HASH_LEN);
    }
    sqlite3_reset(before);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, "reading events");
}

/* rb__j_verify_events walked a run in seq order and found its ids not in
 * the same order: walk again in id order. */
#define RB__J_UNORDERED 1

/* Feeds the events to the rules in chain order: all of them, or (run > 0)
 * only that run's, each checked in the state the whole walk would have
 * reached it in (the link to the event stored before it, whichever run
 * that is), so that a run's findings are the ones `audit verify` makes.
 * A run's events are read in seq order, straight from the (run_id, seq)
 * index, which is their id order unless someone renumbered them: then
 * (by_id 0) RB__J_UNORDERED; by_id sorts them by id first. */
static int rb__j_verify_events(rb__jconn_t *c, rb__jverify_t *v, int64_t run, int by_id,
                               int64_t cut, const unsigned char cut_hash[RB__J_HASH_LEN])
{
    sqlite3_stmt *st, *before = NULL;
    int rc = rb__j_prepare_v2(c->db,
                                run > 0 && by_id
                                    ? "SELECT e.id, e.run_id, e.seq, e.wall_ms, e.mono_ns, e.type,"
                                      " e.step, e.attempt, e.data, e.prev_hash, e.hash, 1"
                                      " FROM events e WHERE e.run_id = ?1 ORDER BY e.id"
                                : run > 0
                                    ? "SELECT e.id, e.run_id, e.seq, e.wall_ms, e.mono_ns, e.type,"
                                      " e.step, e.attempt, e.data, e.prev_hash, e.hash, 1"
                                      " FROM events e WHERE e.run_id = ?1 ORDER BY e.seq"
                                    : "SELECT e.id, e.run_id, e.seq, e.wall_ms, e.mono_ns, e.type,"
                                      " e.step, e.attempt, e.data, e.prev_hash, e.hash,"
                                      " r.id IS NOT NULL FROM events e"
                                      " LEFT JOIN runs r ON r.id = e.run_id ORDER BY e.id",
                                -1, &st, NULL);
    if (rc == SQLITE_OK && run > 0) {
        sqlite3_bind_int64(st, 1, run);
        rc = rb__j_prepare_v2(c->db,
                                "SELECT id, hash FROM events WHERE id < ?1 ORDER BY id DESC LIMIT 1",
                                -1, &before, NULL);
    }
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return rb__j_failc(c, rc, "reading events");
    }
    int ret = 0;
    while ((rc = rb__j_step(st)) == SQLITE_ROW && !v->oom) {
        const unsigned char *prev = rb__j_col_hash(st, 9);
        rb__jev_t e = {.id = sqlite3_column_int64(st, 0), .prev_hash = prev ? prev : rb__j_zero};
        rb__j_col_event(st, 1, &e);
        if (before && !by_id && v->events && e.id <= v->last_id) {
            ret = RB__J_UNORDERED;
            break;
        }
        /* another run's events (or a hole) between this one and the last */
        if (before && (v->events == 0 || e.id != v->expect_id) &&
            (ret = rb__j_verify_resync(c, v, before, e.id, cut, cut_hash)) != 0)
            break;
        if (!prev) {
            rb__jv_event_bad_prev(v, &e, sqlite3_column_blob(st, 10),
                                  (size_t)sqlite3_column_bytes(st, 10));
            continue;
        }
        rb__jv_event(v, &e, sqlite3_column_blob(st, 10), (size_t)sqlite3_column_bytes(st, 10),
                     sqlite3_column_int(st, 11));
    }
    sqlite3_finalize(st);
    sqlite3_finalize(before);
    if (ret != 0)
        return ret;
    if (v->oom)
        return RB_ENOMEM;
    return rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, "reading events");
}

/* Every runbook version's text against its SHA-256; run > 0: only the
 * version that run ran. */
static void rb__j_verify_versions(rb__jconn_t *c, rb__jverify_t *v, int64_t run, int64_t *count,
                                  int *rcp)
{
    sqlite3_stmt *st;
    int rc = rb__j_prepare_v2(c->db,
                                run > 0 ? "SELECT sha256, name, source FROM versions WHERE sha256 ="
                                          " (SELECT sha256 FROM runs WHERE id = ?1)"
                                        : "SELECT sha256, name, source FROM versions",
                                -1, &st, NULL);
    *count = 0;
    if (rc != SQLITE_OK) {
        *rcp = rc;
        return;
    }
    if (run > 0)
        sqlite3_bind_int64(st, 1, run);
    while ((rc = rb__j_step(st)) == SQLITE_ROW) {
        (*count)++;
        rb__jv_version(v, (const char *)sqlite3_column_text(st, 0),
                       (const char *)sqlite3_column_text(st, 1),
                       (const char *)sqlite3_column_text(st, 2),
                       (size_t)sqlite3_column_bytes(st, 2));
    }
    sqlite3_finalize(st);
    *rcp = rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The runs table is a projection of the events for listing: it is not
 * hash-chained, so an edit of it would go unseen unless checked against
 * the chain. A run whose newest end event is run_finished must have that
 * event's status (when the event names one), one whose newest is
 * run_interrupted "interrupted". */
static void rb__j_verify_runs(rb__jconn_t *c, rb__jverify_t *v, int64_t run, int *rcp)
{
    /* ?1 0: every run */
    static const char sql[] =
        "SELECT r.id, r.status, CASE e.type WHEN 'run_finished'"
        " THEN json_extract(e.data, '$.status') ELSE 'interrupted' END AS want"
        " FROM runs r JOIN events e ON e.run_id = r.id"
        " WHERE (?1 = 0 OR r.id = ?1) AND e.type IN ('run_finished', 'run_interrupted')"
        " AND e.seq = (SELECT max(seq) FROM events WHERE run_id = r.id"
        "   AND type IN ('run_finished', 'run_interrupted', 'run_resumed'))"
        " AND want IS NOT NULL AND r.status IS NOT want ORDER BY r.id";
    sqlite3_stmt *st;
    int rc = rb__j_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        *rcp = rc;
        return;
    }
    sqlite3_bind_int64(st, 1, run);
    while ((rc = rb__j_step(st)) == SQLITE_ROW) {
        rb__jv_run_status(v, sqlite3_column_int64(st, 0),
                          (const char *)sqlite3_column_text(st, 1),
                          (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    *rcp = rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The chain head record: *id -1 (and a finding) when it is missing. */
static int rb__j_verify_head_read(rb__jconn_t *c, rb__jverify_t *v, int64_t *id,
                                  unsigned char hash[RB__J_HASH_LEN])
{
    sqlite3_stmt *st;
    int rc = rb__j_prepare_v2(c->db, rb__j_sql[RB__JST_HEAD_GET], -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "reading the chain head");
    *id = -1;
    if ((rc = rb__j_step(st)) == SQLITE_ROW) {
        const unsigned char *h = rb__j_col_hash(st, 1);
        *id = sqlite3_column_int64(st, 0);
        if (h)
            memcpy(hash, h, RB__J_HASH_LEN);
        else
            memset(hash, 0xff, RB__J_HASH_LEN); /* matches no event */
    }
    sqlite3_finalize(st);
    /* A read that failed is not a missing record: no false tamper alarm. */
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return rb__j_failc(c, rc, "reading the chain head");
    if (*id < 0)
        rb__jv_problem(v, NULL, 0, "the chain head record is missing (deleted)");
    return 0;
}

int rb_journal_verify(rb_journal_t *j, json_t **out)
{
    return rb_journal_verify_with(j, NULL, out);
}

/* The time of the head's event (0 when it is gone: pruned). */
static int64_t rb__j_head_wall_ms(rb__jconn_t *c, int64_t head_id)
{
    sqlite3_stmt *st;
    int64_t ms = 0;
    if (sqlite3_prepare_v2(c->db, "SELECT wall_ms FROM events WHERE id = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, head_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            ms = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return ms;
}

int rb_journal_verify_with(rb_journal_t *j, const rb_journal_verify_opts_t *o, json_t **out)
{
    *out = NULL;
    /* on PostgreSQL too: verify's snapshot would end the open transaction */
    if (j->pg ? rb__pg_pending(j) : j->c->in_txn) {
        snprintf(j->err, sizeof j->err, "%s: verify: commit the pending appends first", j->path);
        return RB_EINVAL;
    }
    if (j->pg)
        return rb__pg_verify_with(j, o, out);
    rb__jconn_t *c = j->c;
    rb__jverify_t v;
    if (rb__jv_init(&v, 1, rb__j_zero) != 0)
        return RB_ENOMEM;
    json_t *cps = json_array();
    int ret = 0, rc;
    int64_t head_id = -1, cut = 0, runs = 0, versions = 0;
    unsigned char head_hash[RB__J_HASH_LEN] = { 0 }, cut_hash[RB__J_HASH_LEN];

    /* One snapshot for everything: a writer committing meanwhile must not
     * make the head and the events disagree. */
    if ((rc = rb__j_exec(c->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK) {
        ret = rb__j_failc(c, rc, "verify");
        goto done;
    }
    if ((ret = rb__j_verify_head_read(c, &v, &head_id, head_hash)) != 0)
        goto end;

    if ((ret = rb__j_verify_checkpoints(c, &v, cps, &cut, cut_hash)) != 0)
        goto end;
    v.expect_id = cut + 1;
    memcpy(v.expect_prev, cut_hash, RB__J_HASH_LEN);
    int64_t first_id = v.expect_id;
    if ((ret = rb__j_verify_events(c, &v, 0, 1, cut, cut_hash)) != 0)
        goto end;

    if (head_id >= 0)
        rb__jv_head(&v, head_id, head_hash, v.events ? v.last_id : cut,
                          v.events ? v.last_hash : cut_hash);
    rb__j_verify_versions(c, &v, 0, &versions, &rc);
    if (rc == SQLITE_OK)
        rb__j_verify_runs(c, &v, 0, &rc);
    if (rc == SQLITE_OK)
        rc = rb__j_int(c->db, "SELECT count(*) FROM runs", &runs);
    if (rc != SQLITE_OK) {
        ret = rb__j_failc(c, rc, "verify");
        goto end;
    }
    json_t *seals = json_object();
    if (!seals) {
        ret = RB_ENOMEM;
        goto end;
    }
    if (o && (o->nkeys || o->nanchors) &&
        (ret = rb__j_verify_seals(c, &v, o, cut, v.events ? v.last_id : cut, seals)) != 0) {
        json_decref(seals);
        goto end;
    }
    if (v.oom) {
        json_decref(seals);
        ret = RB_ENOMEM;
        goto end;
    }
    *out = rb__jv_report(&v, j->path, runs, versions, first_id, cps, head_id, head_hash,
                         rb__j_head_wall_ms(c, head_id));
    if (*out)
        json_object_update(*out, seals);
    else
        ret = RB_ENOMEM;
    json_decref(seals);
end:
    rb__j_exec(c->db, "COMMIT", NULL, NULL, NULL);
done:
    json_decref(cps);
    rb__jv_free(&v);
    return ret;
}

/* One walk of rb_journal_verify_run (by_id: see rb__j_verify_events). */
static int rb__j_verify_run_pass(rb__jconn_t *c, int64_t run_id, int by_id, json_t **out)
{
    rb__jverify_t v;
    if (rb__jv_init(&v, 1, rb__j_zero) != 0)
        return RB_ENOMEM;
    json_t *cps = json_array();
    int ret, rc;
    int64_t head_id = -1, cut = 0, versions = 0;
    unsigned char head_hash[RB__J_HASH_LEN] = { 0 }, cut_hash[RB__J_HASH_LEN];
    if ((ret = rb__j_verify_head_read(c, &v, &head_id, head_hash)) != 0 ||
        (ret = rb__j_verify_checkpoints(c, &v, cps, &cut, cut_hash)) != 0 ||
        (ret = rb__j_verify_events(c, &v, run_id, by_id, cut, cut_hash)) != 0)
        goto done;
    int64_t events = v.events;
    if (head_id >= 0) {
        /* the newest event, where the whole walk would have ended */
        sqlite3_stmt *before;
        if ((rc = rb__j_prepare_v2(c->db, "SELECT id, hash FROM events WHERE id < ?1"
                                     " ORDER BY id DESC LIMIT 1", -1, &before, NULL)) != SQLITE_OK) {
            ret = rb__j_failc(c, rc, "verify");
            goto done;
        }
        ret = rb__j_verify_resync(c, &v, before, INT64_MAX, cut, cut_hash);
        sqlite3_finalize(before);
        if (ret != 0)
            goto done;
        rb__jv_head(&v, head_id, head_hash, v.last_id ? v.last_id : cut,
                          v.last_id ? v.last_hash : cut_hash);
    }
    rb__j_verify_versions(c, &v, run_id, &versions, &rc);
    if (rc == SQLITE_OK)
        rb__j_verify_runs(c, &v, run_id, &rc);
    if (rc != SQLITE_OK) {
        ret = rb__j_failc(c, rc, "verify");
        goto done;
    }
    if (v.oom) {
        ret = RB_ENOMEM;
        goto done;
    }
    *out = json_pack("{s:b,s:I,s:I,s:I,s:O}", "ok", v.nproblems == 0, "run", (json_int_t)run_id,
                     "events", (json_int_t)events, "problems_total", (json_int_t)v.nproblems,
                     "problems", v.problems);
    if (!*out)
        ret = RB_ENOMEM;
done:
    json_decref(cps);
    rb__jv_free(&v);
    return ret;
}

int rb_journal_verify_run(rb_journal_t *j, int64_t run_id, json_t **out)
{
    if (j->pg)
        return rb__pg_verify_run(j, run_id, out);
    rb__jconn_t *c = j->c;
    *out = NULL;
    if (c->in_txn) {
        snprintf(j->err, sizeof j->err, "%s: verify: commit the pending appends first", j->path);
        return RB_EINVAL;
    }
    int rc = rb__j_exec(c->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "verify");
    int ret = rb__j_verify_run_pass(c, run_id, 0, out);
    if (ret == RB__J_UNORDERED)
        ret = rb__j_verify_run_pass(c, run_id, 1, out);
    rb__j_exec(c->db, "COMMIT", NULL, NULL, NULL);
    return ret;
}

/* ---- prune -------------------------------------------------------------------- */

typedef struct {
    int64_t id, min_ev, max_ev, events;
    int prunable;
} rb__jprun_t;

int rb_journal_prune(rb_journal_t *j, int64_t before_ms, int dry_run, json_t **out)
{
    RB__J_SQLITE_ONLY(j, "journal prune");
    rb__jconn_t *c = j->c;
    *out = NULL;
    if (j->w || (j->flags & RB_JOURNAL_READONLY)) {
        snprintf(j->err, sizeof j->err, "%s: prune needs the journal open for writing and not"
                                        " attached to a loop", j->path);
        return RB_EINVAL;
    }
    int ret = rb_journal_sync(j);
    if (ret != 0)
        return ret;
    if ((ret = rb__j_txn_begin(c, "pruning")) != 0)
        return ret;

    rb__jprun_t *runs = NULL;
    size_t n = 0, cap = 0;
    int64_t cut0 = 0, cp_id = 0, pruned_events = 0, pruned_runs = 0, kept = 0;
    unsigned char cp_prev[RB__J_HASH_LEN] = { 0 };
    sqlite3_stmt *st = NULL;
    int rc = rb__j_prepare_v2(c->db,
                                "SELECT id, cut_event_id, hash FROM checkpoints ORDER BY id DESC"
                                " LIMIT 1", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = rb__j_step(st)) == SQLITE_ROW) {
        cp_id = sqlite3_column_int64(st, 0);
        cut0 = sqlite3_column_int64(st, 1);
        const unsigned char *h = rb__j_col_hash(st, 2);
        if (h)
            memcpy(cp_prev, h, RB__J_HASH_LEN);
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(st);
    st = NULL;
    /* Every run with the span of its events in the chain. */
    if (rc == SQLITE_OK)
        rc = rb__j_prepare_v2(c->db,
                                "SELECT r.id, r.ended_at IS NOT NULL AND r.ended_at < ?1,"
                                " min(e.id), max(e.id), count(e.id)"
                                " FROM runs r LEFT JOIN events e ON e.run_id = r.id GROUP BY r.id",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, before_ms);
        while ((rc = rb__j_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                rb__jprun_t *p = realloc(runs, cap * sizeof *p);
                if (!p) {
                    rc = SQLITE_NOMEM;
                    break;
                }
                runs = p;
            }
            runs[n++] = (rb__jprun_t){ sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 2),
                                       sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
                                       sqlite3_column_int(st, 1) };
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_OK) {
        ret = rb__j_failc(c, rc, "pruning");
        goto fail;
    }

    /* The cut: the longest prefix of the chain made only of whole runs
     * that may go. A run that stays stops it at its first event; a run
     * that may go but reaches past the cut pulls it back to before its
     * own first event. */
    int64_t cut = c->head_id;
    for (size_t i = 0; i < n; i++)
        if (!runs[i].prunable && runs[i].events && runs[i].min_ev - 1 < cut)
            cut = runs[i].min_ev - 1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < n; i++)
            if (runs[i].prunable && runs[i].events && runs[i].min_ev <= cut &&
                runs[i].max_ev > cut) {
                cut = runs[i].min_ev - 1;
                changed = 1;
            }
    }
    if (cut < cut0)
        cut = cut0;

    sqlite3_stmt *del_alerts = NULL, *del_run = NULL, *unlink_st = NULL;
    rc = rb__j_prepare_v2(c->db, "DELETE FROM alerts WHERE run_id = ?1", -1, &del_alerts, NULL);
    /* A pruned run's claim link stays, without its run: the alert is still
     * known as handled (a link gone would read as a run never created). */
    if (rc == SQLITE_OK)
        rc = rb__j_prepare_v2(c->db,
                                "UPDATE alert_runs SET run_id = NULL,"
                                " outcome = 'started (run pruned)' WHERE run_id = ?1",
                                -1, &unlink_st, NULL);
    if (rc == SQLITE_OK)
        rc = rb__j_prepare_v2(c->db, "DELETE FROM runs WHERE id = ?1", -1, &del_run, NULL);
    json_t *cp = json_null();
    if (rc == SQLITE_OK && cut > cut0) {
        /* The checkpoint first: the trigger lets events go only below a
         * checkpoint's cut. */
        unsigned char cut_hash[RB__J_HASH_LEN], h[RB__J_HASH_LEN];
        for (size_t i = 0; i < n; i++)
            if (runs[i].prunable && runs[i].events && runs[i].max_ev <= cut)
                pruned_events += runs[i].events;
        rc = rb__j_prepare_v2(c->db, "SELECT hash FROM events WHERE id = ?1", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, cut);
            rc = rb__j_step(st);
            const unsigned char *ch = rc == SQLITE_ROW ? rb__j_col_hash(st, 0) : NULL;
            if (ch) {
                memcpy(cut_hash, ch, RB__J_HASH_LEN);
                rc = SQLITE_OK;
            } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
                rc = SQLITE_CORRUPT; /* the chain has a hole: verify will say where */
            }
            sqlite3_finalize(st);
            st = NULL;
        }
        int64_t nruns = 0;
        for (size_t i = 0; i < n; i++)
            if (runs[i].prunable && (!runs[i].events || runs[i].max_ev <= cut))
                nruns++;
        rb__jcp_t k = { .id = cp_id + 1, .created_at = rb__j_wall_ms(), .before_ms = before_ms,
                        .cut_event_id = cut, .cut_hash = cut_hash, .pruned_runs = nruns,
                        .pruned_events = pruned_events, .prev_hash = cp_prev };
        if (rc == SQLITE_OK && rb__chain_checkpoint_hash(&c->hasher, &k, h) != 0)
            rc = SQLITE_NOMEM;
        if (rc == SQLITE_OK)
            rc = rb__j_prepare_v2(c->db,
                                    "INSERT INTO checkpoints(id, created_at, before_ms, cut_event_id,"
                                    " cut_hash, pruned_runs, pruned_events, prev_hash, hash)"
                                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, k.id);
            sqlite3_bind_int64(st, 2, k.created_at);
            sqlite3_bind_int64(st, 3, k.before_ms);
            sqlite3_bind_int64(st, 4, k.cut_event_id);
            sqlite3_bind_blob(st, 5, cut_hash, RB__J_HASH_LEN, SQLITE_STATIC);
            sqlite3_bind_int64(st, 6, k.pruned_runs);
            sqlite3_bind_int64(st, 7, k.pruned_events);
            sqlite3_bind_blob(st, 8, cp_prev, RB__J_HASH_LEN, SQLITE_STATIC);
            sqlite3_bind_blob(st, 9, h, RB__J_HASH_LEN, SQLITE_STATIC);
            rc = rb__j_step(st);
            if (rc == SQLITE_DONE)
                rc = SQLITE_OK;
            sqlite3_finalize(st);
            st = NULL;
        }
        if (rc == SQLITE_OK) {
            char sql[96];
            snprintf(sql, sizeof sql, "DELETE FROM events WHERE id <= %lld", (long long)cut);
            rc = rb__j_exec(c->db, sql, NULL, NULL, NULL);
        }
        if (rc == SQLITE_OK) {
            char hex[2 * RB__J_HASH_LEN + 1];
            rb__hex(cut_hash, RB__J_HASH_LEN, hex);
            cp = json_pack("{s:I,s:I,s:s}", "id", (json_int_t)k.id, "cut_event_id",
                           (json_int_t)cut, "cut_hash", hex);
        }
    }
    /* Then the runs that have no events left, with their alerts. */
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        if (!runs[i].prunable)
            continue;
        if (runs[i].events && runs[i].max_ev > cut) {
            kept++;
            continue;
        }
        sqlite3_bind_int64(del_alerts, 1, runs[i].id);
        sqlite3_bind_int64(unlink_st, 1, runs[i].id);
        sqlite3_bind_int64(del_run, 1, runs[i].id);
        if ((rc = rb__j_step(del_alerts)) == SQLITE_DONE &&
            (rc = rb__j_step(unlink_st)) == SQLITE_DONE)
            rc = rb__j_step(del_run);
        sqlite3_reset(del_alerts);
        sqlite3_reset(unlink_st);
        sqlite3_reset(del_run);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        pruned_runs++;
    }
    sqlite3_finalize(del_alerts);
    sqlite3_finalize(unlink_st);
    sqlite3_finalize(del_run);
    if (rc == SQLITE_OK)
        rc = rb__j_exec(c->db,
                          "DELETE FROM versions WHERE sha256 NOT IN"
                          " (SELECT sha256 FROM runs WHERE sha256 IS NOT NULL)", NULL, NULL, NULL);
    free(runs);
    runs = NULL;
    if (rc != SQLITE_OK) {
        json_decref(cp);
        ret = rb__j_failc(c, rc, "pruning");
        goto fail;
    }
    if (dry_run)
        rb__j_txn_rollback(c);
    else if ((ret = rb__j_txn_commit(c, "pruning")) != 0) {
        json_decref(cp);
        return ret;
    }
    *out = json_pack("{s:I,s:b,s:I,s:I,s:I,s:o}", "before_ms", (json_int_t)before_ms, "dry_run",
                     dry_run, "pruned_runs", (json_int_t)pruned_runs, "pruned_events",
                     (json_int_t)pruned_events, "kept_runs", (json_int_t)kept, "checkpoint", cp);
    return *out ? 0 : RB_ENOMEM;

fail:
    free(runs);
    rb__j_txn_rollback(c);
    return ret;
}
