/*
 * journal_append.c — writing into the journal: the write transaction and
 * the chain head inside it, each record (a runbook version, a run, an
 * event, a status) turned into its row, the writer thread's batches and its
 * reserved run ids, and in direct mode the appends and rb_journal_sync on
 * the caller's thread. Every event gets its seq, its place in the chain and
 * its hash here, inside the transaction that writes it.
 *
 * Owns: the write transaction of a connection (journal.c owns the
 * connection), and the commit counters of rb_journal_stats. Must never:
 * update or delete an event; let an append become durable out of order;
 * commit events without moving the chain head in the same commit; report
 * an append durable that a rollback took away.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_int.h"

#include <runbook/runbook.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB__J_SEQ_CACHE 65536 /* runs whose last seq a connection remembers */

void rb__j_txn_rollback(rb__jconn_t *c)
{
    if (!sqlite3_get_autocommit(c->db))
        rb__j_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    c->in_txn = 0;
    c->pending = 0;
    c->head_dirty = 0;
    c->seqs_valid = 0; /* it may hold seqs that were rolled back */
}

/* Runs a cached statement that returns no row (BEGIN, COMMIT): an SQLite
 * result code, SQLITE_OK when it ran. */
static int rb__j_run_stmt(rb__jconn_t *c, int id)
{
    sqlite3_stmt *st;
    if (!c->st[id]) {
        int rc = rb__j_prepare_v3(c->db, rb__j_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->st[id], NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    st = c->st[id];
    int rc = rb__j_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* BEGIN IMMEDIATE takes the write lock now, so a busy file fails here, at a
 * clear point, and never halfway through a group of appends. */
int rb__j_txn_begin(rb__jconn_t *c, const char *what)
{
    int rc = rb__j_run_stmt(c, RB__JST_BEGIN);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, what);
    c->in_txn = 1;
    c->pending = 0;
    c->head_dirty = 0;
    c->txn_records = c->txn_events = 0;

    sqlite3_stmt *st;
    int ret = rb__j_stmt(c, RB__JST_HEAD_GET, &st);
    if (ret != 0) {
        rb__j_txn_rollback(c);
        return ret;
    }
    rc = rb__j_step(st);
    const unsigned char *h = rc == SQLITE_ROW ? rb__j_col_hash(st, 1) : NULL;
    if (rc == SQLITE_ROW && h) {
        c->head_id = sqlite3_column_int64(st, 0);
        memcpy(c->head_hash, h, RB__J_HASH_LEN);
    }
    rb__j_release(st);
    if (rc != SQLITE_ROW || !h) {
        ret = rc == SQLITE_ROW || rc == SQLITE_DONE
                  ? rb__j_say(c, RB_EJOURNAL, "%s: the chain head record is missing or damaged"
                                              " (run `runbook audit verify`)", what)
                  : rb__j_failc(c, rc, what);
        rb__j_txn_rollback(c);
        return ret;
    }
    if (!c->seqs_valid || c->seqs_head_id != c->head_id ||
        memcmp(c->seqs_head_hash, c->head_hash, RB__J_HASH_LEN) != 0 ||
        c->seqs.len > RB__J_SEQ_CACHE)
        rb__map_clear(&c->seqs);
    c->seqs_valid = 1;
    return 0;
}

const double rb_journal_commit_le[RB_JOURNAL_COMMIT_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
};

void rb__j_stats_commit(rb_journal_t *j, int64_t commit_ns, uint64_t records, uint64_t events)
{
    double sec = (double)commit_ns / 1e9;
    uv_mutex_lock(&j->mu);
    j->stats.commit_seconds += sec;
    for (int i = 0; i < RB_JOURNAL_COMMIT_BUCKETS; i++)
        if (sec <= rb_journal_commit_le[i]) {
            j->stats.commit_buckets[i]++;
            break;
        }
    j->stats.commits++;
    j->stats.records += records;
    j->stats.events += events;
    if (records > j->stats.max_batch)
        j->stats.max_batch = records;
    uv_mutex_unlock(&j->mu);
}

/* Moves the chain head to the newest event, in the same commit as the
 * events: deleting the newest events later leaves a head that names an
 * event that is not there. */
int rb__j_txn_commit(rb__jconn_t *c, const char *what)
{
    int rc;
    if (c->head_dirty) {
        sqlite3_stmt *st;
        int ret = rb__j_stmt(c, RB__JST_HEAD_SET, &st);
        if (ret != 0) {
            rb__j_txn_rollback(c);
            return ret;
        }
        sqlite3_bind_int64(st, 1, c->head_id);
        sqlite3_bind_blob(st, 2, c->head_hash, RB__J_HASH_LEN, SQLITE_STATIC);
        rc = rb__j_step(st);
        rb__j_release(st);
        if (rc != SQLITE_DONE) {
            ret = rb__j_failc(c, rc, what);
            rb__j_txn_rollback(c);
            return ret;
        }
    }
    int64_t t0 = rb__j_mono_ns();
    rc = rb__j_run_stmt(c, RB__JST_COMMIT);
    if (rc != SQLITE_OK) {
        /* A failed COMMIT may leave the transaction open (BUSY) or not;
         * either way what was pending is not durable, and carrying it into
         * the next commit would break the order the caller relies on. */
        int ret = rb__j_failc(c, rc, what);
        rb__j_txn_rollback(c);
        return ret;
    }
    c->in_txn = 0;
    c->pending = 0;
    c->head_dirty = 0;
    c->seqs_head_id = c->head_id;
    memcpy(c->seqs_head_hash, c->head_hash, RB__J_HASH_LEN);
    rb__j_stats_commit(c->j, rb__j_mono_ns() - t0, c->txn_records, c->txn_events);
    return 0;
}

/* ---- applying records --------------------------------------------------------- */

static int rb__j_next_seq(rb__jconn_t *c, int64_t run_id, int64_t *seq)
{
    int64_t last = 0;
    if (rb__map_get(&c->seqs, run_id, &last)) {
        *seq = last + 1;
        return 0;
    }
    sqlite3_stmt *st;
    int ret = rb__j_stmt(c, RB__JST_SEQ_MAX, &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = rb__j_step(st);
    if (rc == SQLITE_ROW)
        last = sqlite3_column_int64(st, 0);
    rb__j_release(st);
    if (rc != SQLITE_ROW)
        return rb__j_failc(c, rc, "appending an event");
    *seq = last + 1;
    return 0;
}

static const char *rb__j_what(rb__rec_kind_t k)
{
    switch (k) {
    case RB__REC_VERSION: return "recording a runbook version";
    case RB__REC_RUN: return "creating a run";
    case RB__REC_EVENT: return "appending an event";
    case RB__REC_STATUS: return "setting a run's status";
    case RB__REC_ALERT: return "claiming an alert";
    case RB__REC_ALERT_RUN: return "recording an alert's outcome";
    case RB__REC_ALERT_RESOLVED: return "recording a resolved alert";
    case RB__REC_SEAL: return "signing the chain head";
    }
    return "writing";
}

/* Binds this process as the owner: pid, start time and boot id in columns
 * col, col + 1 and col + 2 (an unknown start or boot stays NULL). Only runs
 * and statuses record the owner: no getpid() per event. */
static void rb__j_bind_owner(sqlite3_stmt *st, int col)
{
    const rb__owner_t *me = rb__owner_self();
    sqlite3_bind_int64(st, col, me->pid);
    if (me->start >= 0)
        sqlite3_bind_int64(st, col + 1, me->start);
    if (me->boot[0])
        sqlite3_bind_text(st, col + 2, me->boot, -1, SQLITE_STATIC);
}

/*
 * Writes one record inside the open transaction. Returns 0, RB_ENOTFOUND
 * (a status for no such run: nothing written), or the failure, described
 * in c->err. *run_id: the id of a run it created.
 */
int rb__j_apply(rb__jconn_t *c, const rb__jrec_t *r, int64_t *run_id)
{
    const char *what = rb__j_what(r->kind);
    sqlite3_stmt *st;
    int ret, rc;
    switch (r->kind) {
    case RB__REC_VERSION:
        if ((ret = rb__j_stmt(c, RB__JST_VERSION_PUT, &st)) != 0)
            return ret;
        sqlite3_bind_text(st, 1, r->sha256, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->name ? r->name : "", -1, SQLITE_STATIC);
        if (r->path)
            sqlite3_bind_text(st, 3, r->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, r->source, (int)r->source_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, r->wall_ms);
        break;
    case RB__REC_RUN:
        if ((ret = rb__j_stmt(c, RB__JST_RUN_CREATE, &st)) != 0)
            return ret;
        if (r->run_id > 0)
            sqlite3_bind_int64(st, 1, r->run_id);
        sqlite3_bind_text(st, 2, r->runbook ? r->runbook : "", -1, SQLITE_STATIC);
        if (r->sha256)
            sqlite3_bind_text(st, 3, r->sha256, -1, SQLITE_STATIC);
        if (r->trigger)
            sqlite3_bind_text(st, 4, r->trigger, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, r->params, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, r->wall_ms);
        rb__j_bind_owner(st, 7);
        break;
    case RB__REC_EVENT: {
        int64_t seq = 0;
        if ((ret = rb__j_next_seq(c, r->run_id, &seq)) != 0 ||
            (ret = rb__j_stmt(c, RB__JST_EVENT, &st)) != 0)
            return ret;
        rb__jev_t e = {
            .id = c->head_id + 1, .run_id = r->run_id, .seq = seq, .wall_ms = r->wall_ms,
            .mono_ns = r->mono_ns, .attempt = r->attempt, .type = r->type,
            .type_len = strlen(r->type), .step = r->step, .step_len = r->step ? strlen(r->step) : 0,
            .data = r->data, .data_len = strlen(r->data), .prev_hash = c->head_hash,
        };
        unsigned char hash[RB__J_HASH_LEN];
        if (rb__chain_event_hash(&c->hasher, &e, hash) != 0)
            return rb__j_say(c, RB_EJOURNAL, "%s: SHA-256 failed", what);
        rb__j_bind_event(st, &e, hash);
        rc = rb__j_step(st);
        rb__j_release(st);
        if (rc != SQLITE_DONE)
            return rb__j_failc(c, rc, what);
        c->head_id = e.id;
        memcpy(c->head_hash, hash, RB__J_HASH_LEN);
        c->head_dirty = 1;
        rb__map_put(&c->seqs, r->run_id, seq); /* out of memory: looked up next time */
        c->txn_events++;
        c->txn_records++;
        return 0;
    }
    case RB__REC_STATUS:
        if ((ret = rb__j_stmt(c, RB__JST_RUN_STATUS, &st)) != 0)
            return ret;
        sqlite3_bind_int64(st, 1, r->run_id);
        sqlite3_bind_text(st, 2, r->status, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, r->final ? 1 : 0);
        sqlite3_bind_int64(st, 4, r->wall_ms);
        rb__j_bind_owner(st, 5);
        if (r->started_ms > 0)
            sqlite3_bind_int64(st, 8, r->started_ms);
        break;
    case RB__REC_ALERT:
    case RB__REC_ALERT_RUN:
    case RB__REC_ALERT_RESOLVED:
        if ((ret = rb__j_apply_alert(c, r, 0)) == 0)
            c->txn_records++;
        return ret;
    case RB__REC_SEAL:
        if ((ret = rb__j_apply_seal(c)) == 0)
            c->txn_records++;
        return ret;
    default:
        return rb__j_say(c, RB_EINVAL, "unknown record");
    }
    rc = rb__j_step(st);
    rb__j_release(st);
    if (rc != SQLITE_DONE)
        return rb__j_failc(c, rc, what);
    if (r->kind == RB__REC_RUN) {
        int64_t id = sqlite3_last_insert_rowid(c->db);
        rb__map_put(&c->seqs, id, 0);
        if (run_id)
            *run_id = id;
        /* The claim link goes with the run: one never exists without the
         * other, whichever commit the writer cuts. */
        if (r->fingerprint && (ret = rb__j_apply_alert(c, r, id)) != 0)
            return ret;
    }
    if (r->kind == RB__REC_STATUS && sqlite3_changes(c->db) == 0)
        return rb__j_say(c, RB_ENOTFOUND, "no run %lld", (long long)r->run_id);
    c->txn_records++;
    return 0;
}

int rb__j_batch(rb__jconn_t *c, const rb__jrec_t *recs, int64_t reserve, rb__jbatch_t *out)
{
    memset(out, 0, sizeof *out);
    int ret = rb__j_txn_begin(c, recs ? rb__j_what(recs->kind) : "reserving run ids");
    if (ret != 0)
        return ret;
    for (const rb__jrec_t *r = recs; r; r = r->next) {
        ret = rb__j_apply(c, r, NULL);
        /* A status for a run that is not there changes nothing: no reason
         * to lose the other records of the batch over it. */
        if (ret != 0 && !(ret == RB_ENOTFOUND && r->kind == RB__REC_STATUS)) {
            rb__j_txn_rollback(c);
            return ret;
        }
    }
    if (reserve > 0) {
        /* Ids above sqlite_sequence's value are nobody's yet; moving it
         * past a block makes the block ours (AUTOINCREMENT never hands out
         * an id at or below it). */
        int64_t seq = 0, top = 0, has = 0;
        int rc;
        char sql[160];
        if ((rc = rb__j_int(c->db, "SELECT count(*) FROM sqlite_sequence WHERE name = 'runs'",
                            &has)) != SQLITE_OK ||
            (rc = rb__j_int(c->db, "SELECT seq FROM sqlite_sequence WHERE name = 'runs'", &seq)) !=
                SQLITE_OK ||
            (rc = rb__j_int(c->db, "SELECT coalesce(max(id), 0) FROM runs", &top)) != SQLITE_OK) {
            ret = rb__j_failc(c, rc, "reserving run ids");
            rb__j_txn_rollback(c);
            return ret;
        }
        if (seq > top)
            top = seq;
        out->ids_lo = top + 1;
        out->ids_hi = top + reserve;
        snprintf(sql, sizeof sql,
                 has ? "UPDATE sqlite_sequence SET seq = %lld WHERE name = 'runs'"
                     : "INSERT INTO sqlite_sequence(name, seq) VALUES ('runs', %lld)",
                 (long long)out->ids_hi);
        if ((rc = rb__j_exec(c->db, sql, NULL, NULL, NULL)) != SQLITE_OK) {
            ret = rb__j_failc(c, rc, "reserving run ids");
            rb__j_txn_rollback(c);
            return ret;
        }
    }
    out->records = c->txn_records;
    out->events = c->txn_events;
    return rb__j_txn_commit(c, "commit");
}

void rb__j_release_ids(rb__jconn_t *c, int64_t top, int64_t new_seq)
{
    int64_t seq = 0;
    if (rb__j_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return;
    if (rb__j_int(c->db, "SELECT seq FROM sqlite_sequence WHERE name = 'runs'", &seq) ==
            SQLITE_OK && seq == top && new_seq < top) {
        char sql[96];
        snprintf(sql, sizeof sql, "UPDATE sqlite_sequence SET seq = %lld WHERE name = 'runs'",
                 (long long)new_seq);
        if (rb__j_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK &&
            rb__j_exec(c->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
            return;
    }
    rb__j_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- direct-mode writes, and the public append API ----------------------------- */

/* After a failed write in direct mode: some errors (disk full, I/O) make
 * SQLite roll the whole transaction back. The appends before this one had
 * returned 0, so remember that they are gone and say so at the next sync. */
static void rb__j_after_failure(rb__jconn_t *c)
{
    if (c->in_txn && sqlite3_get_autocommit(c->db)) {
        if (c->pending) {
            char reason[RB__J_ERRLEN];
            memcpy(reason, c->err, sizeof reason);
            snprintf(c->err, c->errlen, "%.440s; %d earlier write(s) were rolled back", reason,
                     c->pending);
            c->lost = 1;
        }
        rb__j_txn_rollback(c);
    }
}

int rb__j_write(rb_journal_t *j, const rb__jrec_t *r, int64_t *run_id)
{
    rb__jconn_t *c = j->c;
    const char *what = rb__j_what(r->kind);
    if (j->flags & RB_JOURNAL_READONLY) {
        snprintf(j->err, sizeof j->err,
                 "%s: %s: attempt to write a readonly database (opened read-only)", j->path, what);
        return RB_EJOURNAL;
    }
    if (j->w)
        return rb__jw_submit(j, r);
    if (j->pg)
        return rb__pg_write(j, r, run_id);
    int ret;
    if (!c->in_txn && (ret = rb__j_txn_begin(c, what)) != 0)
        return ret;
    ret = rb__j_apply(c, r, run_id);
    if (ret == 0 || ret == RB_ENOTFOUND)
        c->pending++;
    else
        rb__j_after_failure(c);
    return ret;
}

int rb_journal_sync(rb_journal_t *j)
{
    if (j->w)
        return rb__jw_sync(j);
    if (j->pg)
        return rb__pg_sync(j);
    rb__jconn_t *c = j->c;
    if (c->lost) {
        /* j->err still says what was lost and why (rb__j_after_failure). */
        c->lost = 0;
        return RB_EJOURNAL;
    }
    if (!c->in_txn)
        return 0;
    return rb__j_txn_commit(c, "commit");
}

int rb_journal_put_version(rb_journal_t *j, const char *name, const char *path,
                           const char *source, size_t len, char sha256_hex[65])
{
    if (rb__j_sha256_hex(source, len, sha256_hex) != 0) {
        snprintf(j->err, sizeof j->err, "%s: SHA-256 failed", j->path);
        return RB_EJOURNAL;
    }
    if (len > INT32_MAX) {
        snprintf(j->err, sizeof j->err, "%s: runbook source too large", j->path);
        return RB_ETOOBIG;
    }
    rb__jrec_t r = {
        .kind = RB__REC_VERSION, .sha256 = sha256_hex, .name = name, .path = path,
        .source = source, .source_len = len, .wall_ms = rb__j_wall_ms(),
    };
    return rb__j_write(j, &r, NULL);
}

int rb_journal_run_create(rb_journal_t *j, const char *runbook, const char *sha256,
                          const json_t *params, const char *trigger, int64_t *run_id)
{
    return rb_journal_run_create_claimed(j, runbook, sha256, params, trigger, NULL, NULL, run_id);
}

int rb_journal_run_create_claimed(rb_journal_t *j, const char *runbook, const char *sha256,
                                  const json_t *params, const char *trigger,
                                  const char *fingerprint, const char *starts_at, int64_t *run_id)
{
    char *p = rb__j_dumps(params);
    if (!p) {
        snprintf(j->err, sizeof j->err, "%s: creating a run: params are not JSON", j->path);
        return RB_EINVAL;
    }
    rb__jrec_t r = {
        .kind = RB__REC_RUN, .runbook = runbook, .sha256 = sha256, .trigger = trigger,
        .params = p, .wall_ms = rb__j_wall_ms(),
        .fingerprint = fingerprint && starts_at ? fingerprint : NULL,
        .starts_at = fingerprint && starts_at ? starts_at : NULL,
    };
    int64_t id = 0;
    int ret;
    if (j->w && !(j->flags & RB_JOURNAL_READONLY)) {
        /* PostgreSQL: the sequence hands out ids to every engine at once */
        if ((ret = j->pg ? rb__pg_run_id(j, &id) : rb__jw_run_id(j, &id)) == 0) {
            r.run_id = id;
            ret = rb__j_write(j, &r, NULL);
        }
    } else {
        ret = rb__j_write(j, &r, &id);
    }
    free(p);
    if (ret == 0 && run_id)
        *run_id = id;
    return ret;
}

int rb_journal_event(rb_journal_t *j, int64_t run_id, const char *type, const char *step,
                     int attempt, const json_t *data)
{
    if (!type || !*type) {
        snprintf(j->err, sizeof j->err, "%s: appending an event: no type", j->path);
        return RB_EINVAL;
    }
    int ret = rb__canon_json(&j->enc, data);
    if (ret != 0) {
        snprintf(j->err, sizeof j->err, "%s: appending %s: %s", j->path, type,
                 ret == RB_ENOMEM ? "out of memory"
                                  : "data is not valid JSON (invalid UTF-8, or nested too deep)");
        return ret;
    }
    rb__jrec_t r = {
        .kind = RB__REC_EVENT, .run_id = run_id, .type = type, .step = step,
        .attempt = attempt, .data = j->enc.p, .wall_ms = rb__j_wall_ms(),
        .mono_ns = rb__j_mono_ns(),
    };
    if (!(j->flags & RB_JOURNAL_SCRATCH) || strcmp(type, "run_started") == 0)
        ret = rb__j_write(j, &r, NULL);
    /* A big output once should not stay allocated for good. */
    if (j->enc.cap > 65536)
        rb__buf_free(&j->enc);
    return ret;
}

int rb_journal_run_status(rb_journal_t *j, int64_t run_id, const char *status, int final)
{
    return rb_journal_run_status_at(j, run_id, status, final, 0, 0);
}

int rb_journal_run_status_at(rb_journal_t *j, int64_t run_id, const char *status, int final,
                             int64_t started_ms, int64_t at_ms)
{
    rb__jrec_t r = {
        .kind = RB__REC_STATUS, .run_id = run_id, .status = status ? status : "",
        .final = final, .wall_ms = at_ms > 0 ? at_ms : rb__j_wall_ms(), .started_ms = started_ms,
    };
    return rb__j_write(j, &r, NULL);
}

void rb_journal_stats(rb_journal_t *j, rb_journal_stats_t *out)
{
    uv_mutex_lock(&j->mu);
    *out = j->stats;
    uv_mutex_unlock(&j->mu);
}
