/*
 * journal_pg_append.c — writing into a PostgreSQL journal: the twin of
 * journal_append.c. The write transaction and the chain head inside it,
 * each record (a runbook version, a run, an event, a status, an alert
 * claim, its outcome, its resolved notice, a signed checkpoint of the
 * head) turned into the same row(s) the
 * file gets, the direct-mode appends and rb_journal_sync on the caller's
 * connection, and the writer thread's batches on a connection of its own.
 * Every event gets its seq, its place in the chain and its hash here, with
 * journal_chain.c's encoding, so the chain is byte for byte the file's and
 * `audit verify` (journal_pg_audit.c) checks it with the same rules.
 *
 * The transaction: BEGIN, then SELECT … FROM chain_head FOR UPDATE. That
 * row lock is what serializes every engine appending to one database: the
 * next event's id and prev_hash are the head's, each run's next seq is
 * read after the lock is held (READ COMMITTED: every statement sees what
 * the engine before committed), and the head moves to the newest event in
 * the same commit as the events. How long the lock is held: in writer mode
 * (runbook run, runbook serve) one batch — the time to write a group and
 * commit it; in direct mode, as on the file, from the first append after a
 * sync to the next rb_journal_sync (the engine syncs before every side
 * effect, so at most the records between two of them). Other engines wait
 * for it up to lock_timeout (2 s for a caller, 10 s for the writer thread,
 * as the file's busy timeouts), then the append fails.
 *
 * Run ids: runs.id's identity sequence. Direct mode lets the insert take
 * the next value; writer mode takes it on the caller's connection when the
 * run is created (rb__pg_run_id: nextval is atomic across sessions and is
 * never rolled back, so two engines never get the same id), and the writer
 * inserts the run with it.
 *
 * A statement that fails aborts a PostgreSQL transaction whole: every
 * failure rolls back, and in direct mode appends that had returned 0 are
 * then reported lost at the next sync (journal_append.c's rule).
 *
 * Owns: the write state of a PostgreSQL connection (struct rb__jpgw), its
 * prepared statements, and the writer thread's PostgreSQL connection.
 * Must never: update or delete an event; commit events without moving the
 * chain head in the same commit; report an append durable that a rollback
 * took away; compute an event's hash any other way than
 * rb__chain_event_hash.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_pg_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB__PGW_SEQ_CACHE 65536 /* runs whose last seq a connection remembers */

enum {
    RB__PGW_HEAD_GET,
    RB__PGW_HEAD_SET,
    RB__PGW_SEQ_MAX,
    RB__PGW_VERSION_PUT,
    RB__PGW_RUN_CREATE,
    RB__PGW_RUN_CREATE_ID,
    RB__PGW_RUN_STATUS,
    RB__PGW_EVENT,
    RB__PGW_ALERT_PUT,
    RB__PGW_ALERT_RUN_PUT,
    RB__PGW_ALERT_RESOLVE,
    RB__PGW_RUN_ID,
    RB__PGW_SIG_LAST,
    RB__PGW_SIG_PUT,
    RB__PGW_COUNT
};

/* The rows the file's statements write (journal.c's rb__j_sql), in
 * PostgreSQL's words: ON CONFLICT DO NOTHING for INSERT OR IGNORE, every
 * parameter's type spelled out (they are prepared once per connection). */
static const char *const rb__pgw_sql[RB__PGW_COUNT] = {
    [RB__PGW_HEAD_GET] = "SELECT event_id, hash FROM chain_head WHERE one = 1 FOR UPDATE",
    [RB__PGW_HEAD_SET] = "UPDATE chain_head SET event_id = $1::bigint, hash = $2::bytea"
                         " WHERE one = 1",
    [RB__PGW_SEQ_MAX] = "SELECT coalesce(max(seq), 0) FROM events WHERE run_id = $1::bigint",
    [RB__PGW_VERSION_PUT] =
        "INSERT INTO versions(sha256, name, path, source, recorded_at)"
        " VALUES ($1::text, $2::text, $3::text, $4::text, $5::bigint)"
        " ON CONFLICT (sha256) DO NOTHING",
    [RB__PGW_RUN_CREATE] =
        "INSERT INTO runs(runbook, sha256, status, trigger, params, started_at, owner_pid,"
        " owner_start, owner_boot) VALUES ($1::text, $2::text, 'running', $3::text, $4::text,"
        " $5::bigint, $6::bigint, $7::bigint, $8::text) RETURNING id",
    [RB__PGW_RUN_CREATE_ID] =
        "INSERT INTO runs(id, runbook, sha256, status, trigger, params, started_at, owner_pid,"
        " owner_start, owner_boot) VALUES ($9::bigint, $1::text, $2::text, 'running', $3::text,"
        " $4::text, $5::bigint, $6::bigint, $7::bigint, $8::text) RETURNING id",
    [RB__PGW_RUN_STATUS] =
        "UPDATE runs SET status = $2::text,"
        " ended_at = CASE WHEN $3::boolean THEN $4::bigint ELSE NULL END,"
        " owner_pid = CASE WHEN $3::boolean THEN owner_pid ELSE $5::bigint END,"
        " owner_start = CASE WHEN $3::boolean THEN owner_start ELSE $6::bigint END,"
        " owner_boot = CASE WHEN $3::boolean THEN owner_boot ELSE $7::text END,"
        " started_at = coalesce($8::bigint, started_at)"
        " WHERE id = $1::bigint",
    [RB__PGW_EVENT] =
        "INSERT INTO events(id, run_id, seq, wall_ms, mono_ns, type, step, attempt, data,"
        " prev_hash, hash) VALUES ($1::bigint, $2::bigint, $3::bigint, $4::bigint, $5::bigint,"
        " $6::text, $7::text, $8::bigint, $9::text, $10::bytea, $11::bytea)",
    [RB__PGW_ALERT_PUT] =
        "INSERT INTO alerts(fingerprint, starts_at, received_at, payload, status, runbooks,"
        " resolved_at, resolved) VALUES ($1::text, $2::text, $3::bigint, $4::text, $5::text,"
        " $6::text, CASE WHEN $5::text = 'resolved' THEN $3::bigint END,"
        " CASE WHEN $5::text = 'resolved' THEN $4::text END)"
        " ON CONFLICT (fingerprint, starts_at) DO NOTHING",
    [RB__PGW_ALERT_RUN_PUT] =
        "INSERT INTO alert_runs(fingerprint, starts_at, runbook, run_id, outcome, recorded_at)"
        " VALUES ($1::text, $2::text, $3::text, $4::bigint, $5::text, $6::bigint)"
        " ON CONFLICT (fingerprint, starts_at, runbook) DO NOTHING",
    [RB__PGW_ALERT_RESOLVE] =
        "UPDATE alerts SET resolved_at = $3::bigint, resolved = $4::text"
        " WHERE fingerprint = $1::text AND starts_at = $2::text AND resolved_at IS NULL",
    [RB__PGW_RUN_ID] = "SELECT nextval(pg_get_serial_sequence('runs', 'id'))",
    [RB__PGW_SIG_LAST] = "SELECT id, event_id, key_id FROM signatures ORDER BY id DESC LIMIT 1",
    [RB__PGW_SIG_PUT] =
        "INSERT INTO signatures(id, event_id, hash, signed_at, key_id, signature)"
        " VALUES ($1::bigint, $2::bigint, $3::bytea, $4::bigint, $5::bytea, $6::bytea)",
};

/* The write state of one connection: the open transaction and its chain. */
struct rb__jpgw {
    rb_journal_t *stats;   /* whose rb_journal_stats the commits count */
    int in_txn;            /* a write transaction (BEGIN … FOR UPDATE) is open */
    int pending;           /* direct mode: appends in it */
    int lost;              /* direct mode: a rollback took appends that had returned 0 */
    int head_dirty;
    int64_t head_id;
    unsigned char head_hash[RB__J_HASH_LEN];
    uint64_t txn_records, txn_events;
    /* Each run's last seq, valid while nobody else appended: checked at
     * BEGIN against the head this connection last committed. */
    rb__i64map_t seqs;
    int seqs_valid;
    int64_t seqs_head_id;
    unsigned char seqs_head_hash[RB__J_HASH_LEN];
    rb__hasher_t hasher;
    unsigned prepared;     /* bit i: rb__pgw_sql[i] is prepared on the connection */
    int piped;             /* a batch's statements are sent in pipeline mode, their
                            * answers read at the commit (rb__pg_batch) */
    rb__i64map_t fenced;   /* the runs rb__pg_fence let through in the open transaction */
};

/* ---- statements ------------------------------------------------------------------ */

#define RB__PGW_MAXP 11

/* A statement's parameters: text, or binary (bytea, or text with a length). */
typedef struct {
    const char *v[RB__PGW_MAXP];
    int len[RB__PGW_MAXP], fmt[RB__PGW_MAXP];
    char num[RB__PGW_MAXP][24];
    int n;
} rb__pgp_t;

static void p_text(rb__pgp_t *p, const char *s)
{
    p->len[p->n] = p->fmt[p->n] = 0;
    p->v[p->n++] = s;
}

static void p_i64(rb__pgp_t *p, int64_t x)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)x);
    p_text(p, p->num[p->n]);
}

static void p_bin(rb__pgp_t *p, const void *b, size_t n)
{
    p->v[p->n] = b;
    p->len[p->n] = (int)n;
    p->fmt[p->n++] = 1;
}

/* The write state of j's connection, made on its first write. */
static rb__jpgw_t *rb__pgw(rb_journal_t *j)
{
    rb__jpgw_t *w = j->pg->w;
    if (w)
        return w;
    w = calloc(1, sizeof *w);
    if (!w || rb__hasher_init(&w->hasher) != 0) {
        free(w);
        snprintf(j->err, sizeof j->err, "%s: out of memory", j->path);
        return NULL;
    }
    w->stats = j;
    /* The file's busy timeouts (journal.c): a caller waits 2 s for the
     * chain head's lock, then is told; the writer thread raises it. */
    if (rb__pg_exec(j, "connecting", "SET lock_timeout = '2s'") != 0) {
        rb__hasher_free(&w->hasher);
        free(w);
        return NULL;
    }
    j->pg->w = w;
    return w;
}

void rb__pg_append_free(rb_journal_t *j)
{
    rb__jpgw_t *w = j->pg ? j->pg->w : NULL;
    if (!w)
        return;
    rb__map_free(&w->seqs);
    rb__map_free(&w->fenced);
    rb__hasher_free(&w->hasher);
    free(w);
    j->pg->w = NULL;
}

/* Prepares statement id on the connection, once: 0 or RB_EJOURNAL. */
static int rb__pgw_prepare(rb_journal_t *j, int id, const char *what, char name[16])
{
    rb__jpgw_t *w = j->pg->w;
    snprintf(name, 16, "rb_w%d", id);
    if (!(w->prepared & (1u << id))) {
        PGresult *res = PQprepare(j->pg->conn, name, rb__pgw_sql[id], 0, NULL);
        int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            rb__pg_fail(j, res, what);
        PQclear(res);
        if (!ok)
            return RB_EJOURNAL;
        w->prepared |= 1u << id;
    }
    return 0;
}

/* Runs statement id (prepared on first use) with p; the result, or NULL
 * with the failure in j->err. Not in pipeline mode. */
static PGresult *rb__pgw_run(rb_journal_t *j, int id, const char *what, const rb__pgp_t *p)
{
    char name[16];
    if (rb__pgw_prepare(j, id, what, name) != 0)
        return NULL;
    return rb__pg_result(j,
                         PQexecPrepared(j->pg->conn, name, p ? p->n : 0, p ? p->v : NULL,
                                        p ? p->len : NULL, p ? p->fmt : NULL, 1),
                         what);
}

/* rb__pgw_run for a statement whose result is not wanted: 0 or RB_EJOURNAL;
 * *changed (may be NULL): the rows it changed. In pipeline mode it is only
 * sent (its failure is the commit's), and *changed says 1. */
static int rb__pgw_do(rb_journal_t *j, int id, const char *what, const rb__pgp_t *p,
                      int64_t *changed)
{
    if (j->pg->w->piped) {
        char name[16];
        snprintf(name, sizeof name, "rb_w%d", id);
        if (!PQsendQueryPrepared(j->pg->conn, name, p ? p->n : 0, p ? p->v : NULL,
                                 p ? p->len : NULL, p ? p->fmt : NULL, 1))
            return rb__pg_fail(j, NULL, what);
        if (changed)
            *changed = 1;
        return 0;
    }
    PGresult *res = rb__pgw_run(j, id, what, p);
    if (!res)
        return RB_EJOURNAL;
    if (changed)
        *changed = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return 0;
}

/* ---- the write transaction ---------------------------------------------------------- */

/* Leaves pipeline mode after reading every answer: 0 or the first failure. */
static int rb__pgw_unpipe(rb_journal_t *j, const char *what)
{
    rb__jpgw_t *w = j->pg->w;
    if (!w->piped)
        return 0;
    w->piped = 0;
    int ret = rb__pg_pipeline_sync(j, what);
    if (!PQexitPipelineMode(j->pg->conn) && ret == 0)
        ret = rb__pg_fail(j, NULL, what);
    return ret;
}

static void rb__pgw_rollback(rb_journal_t *j)
{
    rb__jpgw_t *w = j->pg->w;
    char keep[RB__J_ERRLEN];
    memcpy(keep, j->err, sizeof keep); /* the failure that got us here */
    rb__pgw_unpipe(j, "rolling back");
    memcpy(j->err, keep, sizeof keep);
    if (PQtransactionStatus(j->pg->conn) != PQTRANS_IDLE)
        PQclear(PQexec(j->pg->conn, "ROLLBACK"));
    j->pg->in_txn = 0;
    w->in_txn = 0;
    w->pending = 0;
    w->head_dirty = 0;
    w->seqs_valid = 0; /* it may hold seqs that were rolled back */
}

/* The lease's fence (journal_pg_lease.c) for the run of r, once per run and
 * transaction: 0, or the failure (RB_EFENCED: another engine holds the
 * run) in j->err. The leases are the handle's that the writer works for
 * (w->stats). A record that does not belong to a run needs none. */
static int rb__pgw_fence(rb_journal_t *j, const rb__jrec_t *r)
{
    rb__jpgw_t *w = j->pg->w;
    int64_t seen;
    if ((r->kind != RB__REC_EVENT && r->kind != RB__REC_STATUS) ||
        rb__map_get(&w->fenced, r->run_id, &seen))
        return 0;
    int ret = rb__pg_fence(w->stats, j->pg->conn, r->run_id, j->err, sizeof j->err);
    if (ret == 0)
        rb__map_put(&w->fenced, r->run_id, 1); /* out of memory: fenced again */
    return ret;
}

/* BEGIN; the fence of every run recs (a list) write to, before anything
 * else is locked (journal_pg_int.h); then the chain head, locked. */
static int rb__pgw_begin(rb_journal_t *j, const char *what, const rb__jrec_t *recs)
{
    rb__jpgw_t *w = j->pg->w;
    if (rb__pg_exec(j, what, "BEGIN") != 0)
        return RB_EJOURNAL;
    j->pg->in_txn = 1;
    w->in_txn = 1;
    w->pending = 0;
    w->head_dirty = 0;
    w->txn_records = w->txn_events = 0;
    rb__map_clear(&w->fenced);
    for (const rb__jrec_t *r = recs; r; r = r->next) {
        int ret = rb__pgw_fence(j, r);
        if (ret != 0) {
            rb__pgw_rollback(j);
            return ret;
        }
    }
    PGresult *res = rb__pgw_run(j, RB__PGW_HEAD_GET, what, NULL);
    const unsigned char *h = res && PQntuples(res) == 1 ? rb__pg_hash(res, 0, 1) : NULL;
    if (h) {
        w->head_id = rb__pg_i64(res, 0, 0);
        memcpy(w->head_hash, h, RB__J_HASH_LEN);
    } else if (res) {
        snprintf(j->err, sizeof j->err, "%s: %s: the chain head record is missing or damaged"
                                        " (run `runbook audit verify`)", j->path, what);
    }
    PQclear(res);
    if (!h) {
        rb__pgw_rollback(j);
        return RB_EJOURNAL;
    }
    if (!w->seqs_valid || w->seqs_head_id != w->head_id ||
        memcmp(w->seqs_head_hash, w->head_hash, RB__J_HASH_LEN) != 0 ||
        w->seqs.len > RB__PGW_SEQ_CACHE)
        rb__map_clear(&w->seqs);
    w->seqs_valid = 1;
    return 0;
}

/* After a commit that began at t0. */
static int rb__pgw_committed(rb_journal_t *j, int64_t t0)
{
    rb__jpgw_t *w = j->pg->w;
    j->pg->in_txn = 0;
    w->in_txn = 0;
    w->pending = 0;
    w->head_dirty = 0;
    w->seqs_head_id = w->head_id;
    memcpy(w->seqs_head_hash, w->head_hash, RB__J_HASH_LEN);
    rb__j_stats_commit(w->stats, rb__j_mono_ns() - t0, w->txn_records, w->txn_events);
    return 0;
}

/* Moves the chain head to the newest event in the same commit as the events. */
static int rb__pgw_commit(rb_journal_t *j, const char *what)
{
    rb__jpgw_t *w = j->pg->w;
    if (w->head_dirty) {
        rb__pgp_t p = {0};
        p_i64(&p, w->head_id);
        p_bin(&p, w->head_hash, RB__J_HASH_LEN);
        if (rb__pgw_do(j, RB__PGW_HEAD_SET, what, &p, NULL) != 0) {
            rb__pgw_rollback(j);
            return RB_EJOURNAL;
        }
    }
    int64_t t0 = rb__j_mono_ns();
    if (w->piped) {
        /* Every statement sent, and the COMMIT after them: one round trip.
         * Not idle after it: something failed, nothing was committed. */
        int ret = PQsendQueryParams(j->pg->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 1)
                      ? rb__pgw_unpipe(j, what)
                      : rb__pg_fail(j, NULL, what);
        if (ret == 0 && PQtransactionStatus(j->pg->conn) != PQTRANS_IDLE) {
            snprintf(j->err, sizeof j->err, "%s: %s: the transaction was rolled back", j->path,
                     what);
            ret = RB_EJOURNAL;
        }
        if (ret != 0) {
            rb__pgw_rollback(j);
            return ret;
        }
        return rb__pgw_committed(j, t0);
    }
    PGresult *res = PQexec(j->pg->conn, "COMMIT");
    /* A COMMIT of an aborted transaction answers ROLLBACK: not committed. */
    int ok = res && PQresultStatus(res) == PGRES_COMMAND_OK &&
             !strcmp(PQcmdStatus(res), "COMMIT");
    if (!ok) {
        if (res && PQresultStatus(res) == PGRES_COMMAND_OK)
            snprintf(j->err, sizeof j->err, "%s: %s: the transaction was rolled back", j->path,
                     what);
        else
            rb__pg_fail(j, res, what);
        PQclear(res);
        rb__pgw_rollback(j);
        return RB_EJOURNAL;
    }
    PQclear(res);
    return rb__pgw_committed(j, t0);
}

/* ---- applying records --------------------------------------------------------------- */

static int rb__pgw_next_seq(rb_journal_t *j, int64_t run_id, int64_t *seq)
{
    rb__jpgw_t *w = j->pg->w;
    int64_t last = 0;
    if (!rb__map_get(&w->seqs, run_id, &last)) {
        rb__pgp_t p = {0};
        p_i64(&p, run_id);
        PGresult *res = rb__pgw_run(j, RB__PGW_SEQ_MAX, "appending an event", &p);
        if (!res)
            return RB_EJOURNAL;
        last = rb__pg_i64(res, 0, 0);
        PQclear(res);
    }
    *seq = last + 1;
    return 0;
}

/* This process as a run's owner: pid, start time and boot id (unknown: NULL). */
static void p_owner(rb__pgp_t *p)
{
    const rb__owner_t *me = rb__owner_self();
    p_i64(p, me->pid);
    if (me->start >= 0)
        p_i64(p, me->start);
    else
        p_text(p, NULL);
    p_text(p, me->boot[0] ? me->boot : NULL);
}

static int rb__pgw_event(rb_journal_t *j, const rb__jrec_t *r)
{
    rb__jpgw_t *w = j->pg->w;
    int64_t seq = 0;
    int ret = rb__pgw_next_seq(j, r->run_id, &seq);
    if (ret != 0)
        return ret;
    rb__jev_t e = {
        .id = w->head_id + 1, .run_id = r->run_id, .seq = seq, .wall_ms = r->wall_ms,
        .mono_ns = r->mono_ns, .attempt = r->attempt, .type = r->type,
        .type_len = strlen(r->type), .step = r->step, .step_len = r->step ? strlen(r->step) : 0,
        .data = r->data, .data_len = strlen(r->data), .prev_hash = w->head_hash,
    };
    unsigned char hash[RB__J_HASH_LEN];
    if (rb__chain_event_hash(&w->hasher, &e, hash) != 0) {
        snprintf(j->err, sizeof j->err, "%s: appending an event: SHA-256 failed", j->path);
        return RB_EJOURNAL;
    }
    rb__pgp_t p = {0};
    p_i64(&p, e.id);
    p_i64(&p, e.run_id);
    p_i64(&p, e.seq);
    p_i64(&p, e.wall_ms);
    p_i64(&p, e.mono_ns);
    p_text(&p, e.type);
    p_text(&p, e.step);
    p_i64(&p, e.attempt);
    p_text(&p, e.data);
    p_bin(&p, e.prev_hash, RB__J_HASH_LEN);
    p_bin(&p, hash, RB__J_HASH_LEN);
    if ((ret = rb__pgw_do(j, RB__PGW_EVENT, "appending an event", &p, NULL)) != 0)
        return ret;
    w->head_id = e.id;
    memcpy(w->head_hash, hash, RB__J_HASH_LEN);
    w->head_dirty = 1;
    rb__map_put(&w->seqs, r->run_id, seq); /* out of memory: looked up next time */
    w->txn_events++;
    return 0;
}

/* journal_alerts.c's rows: the claim, a run's link or outcome, the resolved
 * notice. run_id: the run just inserted (a RUN record's link), else 0. */
static int rb__pgw_alert(rb_journal_t *j, const rb__jrec_t *r, int64_t run_id)
{
    rb__pgp_t p = {0};
    p_text(&p, r->fingerprint);
    p_text(&p, r->starts_at);
    switch (r->kind) {
    case RB__REC_ALERT:
        p_i64(&p, r->wall_ms);
        p_text(&p, r->data ? r->data : "{}");
        p_text(&p, r->status);
        p_text(&p, r->runbooks ? r->runbooks : "[]");
        return rb__pgw_do(j, RB__PGW_ALERT_PUT, "claiming an alert", &p, NULL);
    case RB__REC_RUN:
    case RB__REC_ALERT_RUN:
        p_text(&p, r->runbook ? r->runbook : "");
        if (run_id > 0)
            p_i64(&p, run_id);
        else
            p_text(&p, NULL);
        p_text(&p, r->kind == RB__REC_RUN ? "started" : r->outcome);
        p_i64(&p, r->wall_ms);
        return rb__pgw_do(j, RB__PGW_ALERT_RUN_PUT,
                          r->kind == RB__REC_RUN ? "linking a run to its alert"
                                                 : "recording an alert's outcome",
                          &p, NULL);
    case RB__REC_ALERT_RESOLVED:
        p_i64(&p, r->wall_ms);
        p_text(&p, r->data ? r->data : "{}");
        return rb__pgw_do(j, RB__PGW_ALERT_RESOLVE, "recording a resolved alert", &p, NULL);
    default:
        snprintf(j->err, sizeof j->err, "%s: unknown record", j->path);
        return RB_EINVAL;
    }
}

/* journal_seal.c's rb__j_apply_seal: signs the head of the open
 * transaction with the journal's key (none: nothing) and stores the
 * signature; the head lock makes the ids 1, 2, 3 … across engines. */
static int rb__pgw_seal(rb_journal_t *j)
{
    rb__jpgw_t *w = j->pg->w;
    const rb_journal_key_t *k = j->sign_key;
    const char *what = "signing the chain head";
    if (!k || w->head_id <= 0)
        return 0;
    PGresult *res = rb__pgw_run(j, RB__PGW_SIG_LAST, what, NULL);
    if (!res)
        return RB_EJOURNAL;
    int64_t last = 0;
    int same = 0;
    if (PQntuples(res) == 1) {
        last = rb__pg_i64(res, 0, 0);
        const unsigned char *kid = rb__pg_hash(res, 0, 2);
        same = rb__pg_i64(res, 0, 1) == w->head_id && kid &&
               memcmp(kid, rb__key_raw_id(k), RB__J_HASH_LEN) == 0;
    }
    PQclear(res);
    if (same)
        return 0; /* this head is signed already */
    rb__jsig_t s = {.id = last + 1, .event_id = w->head_id, .hash = w->head_hash,
                    .signed_at = rb__j_wall_ms()};
    unsigned char msg[RB__J_SIGMSG_LEN], sig[RB__J_SIG_LEN];
    size_t n = rb__chain_sig_message(&s, msg);
    if (rb__key_sign(k, msg, n, sig) != 0) {
        snprintf(j->err, sizeof j->err, "%s: %s: Ed25519 signing failed", j->path, what);
        return RB_EJOURNAL;
    }
    rb__pgp_t p = {0};
    p_i64(&p, s.id);
    p_i64(&p, s.event_id);
    p_bin(&p, s.hash, RB__J_HASH_LEN);
    p_i64(&p, s.signed_at);
    p_bin(&p, rb__key_raw_id(k), RB__J_HASH_LEN);
    p_bin(&p, sig, RB__J_SIG_LEN);
    return rb__pgw_do(j, RB__PGW_SIG_PUT, what, &p, NULL);
}

static int rb__pgw_run_create(rb_journal_t *j, const rb__jrec_t *r, int64_t *run_id)
{
    rb__jpgw_t *w = j->pg->w;
    rb__pgp_t p = {0};
    p_text(&p, r->runbook ? r->runbook : "");
    p_text(&p, r->sha256);
    p_text(&p, r->trigger);
    p_text(&p, r->params);
    p_i64(&p, r->wall_ms);
    p_owner(&p);
    int64_t id = r->run_id;
    if (id > 0)
        p_i64(&p, id);
    if (w->piped) { /* the id is known (rb__pgw_can_pipe) */
        int ret = rb__pgw_do(j, RB__PGW_RUN_CREATE_ID, "creating a run", &p, NULL);
        if (ret != 0)
            return ret;
    } else {
        PGresult *res = rb__pgw_run(j, id > 0 ? RB__PGW_RUN_CREATE_ID : RB__PGW_RUN_CREATE,
                                    "creating a run", &p);
        if (!res)
            return RB_EJOURNAL;
        id = rb__pg_i64(res, 0, 0);
        PQclear(res);
    }
    rb__map_put(&w->seqs, id, 0);
    if (run_id)
        *run_id = id;
    /* The claim link goes with the run: one never exists without the
     * other, whichever commit the writer cuts. */
    return r->fingerprint ? rb__pgw_alert(j, r, id) : 0;
}

/* One record inside the open transaction: 0, RB_ENOTFOUND (a status for no
 * such run: nothing written) or the failure, in j->err. */
static int rb__pgw_apply(rb_journal_t *j, const rb__jrec_t *r, int64_t *run_id)
{
    rb__jpgw_t *w = j->pg->w;
    int ret;
    rb__pgp_t p = {0};
    switch (r->kind) {
    case RB__REC_VERSION:
        p_text(&p, r->sha256);
        p_text(&p, r->name ? r->name : "");
        p_text(&p, r->path);
        p_bin(&p, r->source ? r->source : "", r->source ? r->source_len : 0);
        p_i64(&p, r->wall_ms);
        ret = rb__pgw_do(j, RB__PGW_VERSION_PUT, "recording a runbook version", &p, NULL);
        break;
    case RB__REC_RUN:
        ret = rb__pgw_run_create(j, r, run_id);
        break;
    case RB__REC_EVENT:
        ret = rb__pgw_event(j, r);
        break;
    case RB__REC_STATUS: {
        int64_t changed = 0;
        p_i64(&p, r->run_id);
        p_text(&p, r->status);
        p_text(&p, r->final ? "t" : "f");
        p_i64(&p, r->wall_ms);
        p_owner(&p);
        if (r->started_ms > 0)
            p_i64(&p, r->started_ms);
        else
            p_text(&p, NULL);
        ret = rb__pgw_do(j, RB__PGW_RUN_STATUS, "setting a run's status", &p, &changed);
        if (ret == 0 && changed == 0) {
            snprintf(j->err, sizeof j->err, "%s: no run %lld", j->path, (long long)r->run_id);
            return RB_ENOTFOUND;
        }
        break;
    }
    case RB__REC_ALERT:
    case RB__REC_ALERT_RUN:
    case RB__REC_ALERT_RESOLVED:
        ret = rb__pgw_alert(j, r, 0);
        break;
    case RB__REC_SEAL:
        ret = rb__pgw_seal(j);
        break;
    default:
        snprintf(j->err, sizeof j->err, "%s: unknown record", j->path);
        return RB_EINVAL;
    }
    if (ret == 0)
        w->txn_records++;
    return ret;
}

/* ---- direct mode ------------------------------------------------------------------- */

int rb__pg_write(rb_journal_t *j, const rb__jrec_t *r, int64_t *run_id)
{
    rb__jpgw_t *w = rb__pgw(j);
    if (!w)
        return RB_ENOMEM;
    int ret;
    if (!w->in_txn && (ret = rb__pgw_begin(j, "writing", r)) != 0)
        return ret;
    /* a run the open transaction had not written to yet: fenced now, with
     * the chain head already locked (direct mode holds it to the sync) */
    ret = rb__pgw_fence(j, r);
    if (ret == 0)
        ret = rb__pgw_apply(j, r, run_id);
    if (ret == 0 || ret == RB_ENOTFOUND) {
        w->pending++;
        return ret;
    }
    /* PostgreSQL aborts the whole transaction: the appends before this one
     * had returned 0, so say at the next sync that they are gone. */
    if (w->pending) {
        char reason[RB__J_ERRLEN];
        memcpy(reason, j->err, sizeof reason);
        snprintf(j->err, sizeof j->err, "%.440s; %d earlier write(s) were rolled back", reason,
                 w->pending);
        w->lost = 1;
    }
    rb__pgw_rollback(j);
    return ret;
}

int rb__pg_sync(rb_journal_t *j)
{
    rb__jpgw_t *w = j->pg->w;
    if (!w)
        return 0;
    if (w->lost) {
        /* j->err still says what was lost and why (rb__pg_write). */
        w->lost = 0;
        return RB_EJOURNAL;
    }
    return w->in_txn ? rb__pgw_commit(j, "commit") : 0;
}

int rb__pg_pending(const rb_journal_t *j)
{
    return j->pg->w && j->pg->w->in_txn;
}

int rb__pg_run_id(rb_journal_t *j, int64_t *id)
{
    if (!rb__pgw(j))
        return RB_ENOMEM;
    PGresult *res = rb__pgw_run(j, RB__PGW_RUN_ID, "creating a run", NULL);
    if (!res)
        return RB_EJOURNAL;
    *id = rb__pg_i64(res, 0, 0);
    PQclear(res);
    return 0;
}

/* ---- the writer thread's connection ------------------------------------------------- */

int rb__pg_writer_open(rb_journal_t *j, rb_journal_t **out)
{
    *out = NULL;
    rb_journal_t *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(j->path))) {
        free(c);
        snprintf(j->err, sizeof j->err, "%s: out of memory", j->path);
        return RB_ENOMEM;
    }
    c->lock_fd = -1;
    c->flags = j->flags;
    c->sign_key = j->sign_key; /* j's: set before the writer starts, then only read */
    int ret = rb__pg_open(c, j->pg->conninfo, 1);
    if (ret == 0 && !rb__pgw(c))
        ret = c->err[0] ? RB_EJOURNAL : RB_ENOMEM;
    if (ret == 0)
        ret = rb__pg_exec(c, "connecting", "SET lock_timeout = '10s'");
    if (ret != 0) {
        memcpy(j->err, c->err, sizeof j->err);
        rb__pg_writer_close(c);
        return ret;
    }
    c->pg->w->stats = j;
    *out = c;
    return 0;
}

void rb__pg_writer_close(rb_journal_t *c)
{
    if (!c)
        return;
    rb__pg_close(c);
    c->sign_key = NULL; /* j's */
    free(c->path);
    free(c);
}

/*
 * Whether a batch's statements can all be sent before any answer is read
 * (pipeline mode): none needs an answer to go on — every run's id is known
 * (the writer's are), no signed checkpoint (it reads the last signature),
 * and the last seq of every run an event is appended to is known: looked up
 * here, in the open transaction, when it is not. Prepares every statement
 * first (pipeline mode cannot). 1: pipe it; 0: one statement at a time.
 */
static int rb__pgw_can_pipe(rb_journal_t *c, const rb__jrec_t *recs)
{
    rb__jpgw_t *w = c->pg->w;
    char name[16];
    for (int id = 0; id < RB__PGW_COUNT; id++)
        if (rb__pgw_prepare(c, id, "writing", name) != 0)
            return 0;
    for (const rb__jrec_t *r = recs; r; r = r->next) {
        int64_t last;
        if (r->kind == RB__REC_SEAL || (r->kind == RB__REC_RUN && r->run_id <= 0))
            return 0;
        if (r->kind == RB__REC_RUN && rb__map_put(&w->seqs, r->run_id, 0) != 0)
            return 0;
        if (r->kind == RB__REC_EVENT && !rb__map_get(&w->seqs, r->run_id, &last) &&
            (rb__pgw_next_seq(c, r->run_id, &last) != 0 ||
             rb__map_put(&w->seqs, r->run_id, last - 1) != 0))
            return 0;
    }
    return 1;
}

int rb__pg_batch(rb_journal_t *c, const rb__jrec_t *recs, rb__jbatch_t *out)
{
    rb__jpgw_t *w = c->pg->w;
    memset(out, 0, sizeof *out);
    if (!recs)
        return 0;
    int ret = rb__pgw_begin(c, "writing", recs);
    if (ret != 0)
        return ret;
    if (rb__pgw_can_pipe(c, recs)) {
        w->piped = PQenterPipelineMode(c->pg->conn);
    } else if (PQtransactionStatus(c->pg->conn) != PQTRANS_INTRANS) {
        /* a failed lookup aborted the transaction: again, one at a time */
        rb__pgw_rollback(c);
        if ((ret = rb__pgw_begin(c, "writing", recs)) != 0)
            return ret;
    }
    for (const rb__jrec_t *r = recs; r; r = r->next) {
        ret = rb__pgw_apply(c, r, NULL);
        /* A status for a run that is not there changes nothing: no reason
         * to lose the other records of the batch over it. */
        if (ret != 0 && !(ret == RB_ENOTFOUND && r->kind == RB__REC_STATUS)) {
            rb__pgw_rollback(c);
            return ret;
        }
    }
    out->records = w->txn_records;
    out->events = w->txn_events;
    return rb__pgw_commit(c, "commit");
}
