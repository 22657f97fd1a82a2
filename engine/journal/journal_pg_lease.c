/*
 * journal_pg_lease.c — which engine owns a run (docs/high-availability.md):
 * the leases of run_leases (owner, epoch, expiry on the database's clock)
 * that the engines sharing one PostgreSQL journal take, renew and release;
 * the open runs whose lease expired or was released (what another engine
 * may take over); the fence an append transaction passes before it writes
 * a record of a run (journal_pg_int.h says how the append path calls it);
 * and the same calls on an SQLite file, where one engine owns every run
 * and they succeed at once.
 *
 * Owns: run_leases; the handle's engine id and its epochs (run → epoch);
 * the lease counters of rb_journal_stats. Must never: judge an expiry by
 * this machine's clock (every comparison is clock_timestamp() in the
 * database, so clock skew between engines cannot make two owners); let
 * two engines hold one run at once (a take is one conditional statement on
 * the row, re-checked under its lock); let an append through the fence
 * after another engine took the run (the epoch is compared under a row
 * lock held to the end of the append's transaction); write the history
 * (the engine appends the events of a change of owner itself).
 */
#include "journal_pg_int.h"

#include <runbook/runbook.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB__LEASE_TTL_MAX 86400000 /* 1 day */
#define RB__LEASE_WAIT    "1s"     /* the longest a take waits for a lease row's lock */

void rb__pg_leases_free(struct rb__jpg *pg)
{
    free(pg->engine);
    pg->engine = NULL;
    rb__map_free(&pg->epochs);
}

/* ---- the handle's epochs, under j->mu ---------------------------------------- */

/* The epoch this handle holds run_id at, 0 when none. */
static int64_t rb__lease_held(rb_journal_t *j, int64_t run_id)
{
    int64_t e = 0;
    uv_mutex_lock(&j->mu);
    if (!rb__map_get(&j->pg->epochs, run_id, &e))
        e = 0;
    uv_mutex_unlock(&j->mu);
    return e;
}

/* This handle now holds run_id at epoch (0: no more), counting leases_held
 * (and a takeover). 0 or RB_ENOMEM. */
static int rb__lease_hold(rb_journal_t *j, int64_t run_id, int64_t epoch, int takeover)
{
    int ret = 0;
    uv_mutex_lock(&j->mu);
    int64_t was = 0;
    if (!rb__map_get(&j->pg->epochs, run_id, &was))
        was = 0;
    if (was != epoch && (epoch > 0 || was > 0))
        ret = rb__map_put(&j->pg->epochs, run_id, epoch);
    if (ret == 0) {
        if (was == 0 && epoch > 0)
            j->stats.leases_held++;
        else if (was > 0 && epoch == 0)
            j->stats.leases_held--;
        if (takeover)
            j->stats.lease_takeovers++;
    }
    uv_mutex_unlock(&j->mu);
    return ret;
}

/* ---- checks ------------------------------------------------------------------- */

int rb_journal_set_engine(rb_journal_t *j, const char *engine_id)
{
    size_t n = engine_id ? strlen(engine_id) : 0;
    int bad = n == 0 || n >= RB_JOURNAL_ENGINE_MAX;
    for (size_t i = 0; !bad && i < n; i++)
        bad = (unsigned char)engine_id[i] < 0x20 || engine_id[i] == 0x7f;
    if (bad) {
        snprintf(j->err, sizeof j->err, "%s: an engine id is 1 to %d bytes without control"
                                        " characters", j->path, RB_JOURNAL_ENGINE_MAX - 1);
        return RB_EINVAL;
    }
    if (!j->pg)
        return 0; /* a file: one engine, nothing to tell apart */
    uv_mutex_lock(&j->mu);
    int busy = j->stats.leases_held > 0 && strcmp(j->pg->engine, engine_id) != 0;
    uv_mutex_unlock(&j->mu);
    if (busy) {
        snprintf(j->err, sizeof j->err, "%s: the engine id cannot change while it holds leases",
                 j->path);
        return RB_EINVAL;
    }
    char *id = strdup(engine_id);
    if (!id) {
        snprintf(j->err, sizeof j->err, "%s: out of memory", j->path);
        return RB_ENOMEM;
    }
    uv_mutex_lock(&j->mu);
    free(j->pg->engine);
    j->pg->engine = id;
    uv_mutex_unlock(&j->mu);
    return 0;
}

/* The arguments of a lease call on PostgreSQL (ttl_ms only when ttl). */
static int rb__lease_args(rb_journal_t *j, int64_t run_id, int ttl, int64_t ttl_ms)
{
    if (!j->pg->engine) {
        snprintf(j->err, sizeof j->err, "%s: no engine id (rb_journal_set_engine) to hold"
                                        " leases by", j->path);
        return RB_EINVAL;
    }
    if (run_id <= 0 || (ttl && (ttl_ms < 1 || ttl_ms > RB__LEASE_TTL_MAX))) {
        snprintf(j->err, sizeof j->err, "%s: a lease needs a run id and a ttl of 1 ms to 1 day",
                 j->path);
        return RB_EINVAL;
    }
    if (j->pg->in_txn) {
        snprintf(j->err, sizeof j->err, "%s: a lease is its own transaction: not while appends"
                                        " are pending", j->path);
        return RB_EINVAL;
    }
    return 0;
}

/* Who holds run_id's lease now, for a message: "held by engine-b (epoch
 * 3) for 1200 ms more", "released by …", "expired …", or "not leased".
 * *exists: 0 when there is no such run. */
static int rb__lease_who(rb_journal_t *j, const char *runs, char *out, size_t len, int *exists)
{
    const char *v[1] = { runs };
    PGresult *res = rb__pg_query(
        j, "reading a lease",
        "SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1::bigint), l.owner, l.epoch,"
        " l.released, floor(extract(epoch FROM l.expires_at - clock_timestamp()) * 1000)::bigint"
        " FROM (SELECT 1) one LEFT JOIN run_leases l ON l.run_id = $1::bigint",
        1, v, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    *exists = (int)rb__pg_i64(res, 0, 0);
    const char *owner = rb__pg_text(res, 0, 1);
    int64_t epoch = rb__pg_i64(res, 0, 2), left = rb__pg_i64(res, 0, 4);
    if (!owner)
        snprintf(out, len, "not leased");
    else if (rb__pg_i64(res, 0, 3))
        snprintf(out, len, "released by %s (epoch %" PRId64 ")", owner, epoch);
    else if (left > 0)
        snprintf(out, len, "held by %s (epoch %" PRId64 ") for %" PRId64 " ms more", owner, epoch,
                 left);
    else
        snprintf(out, len, "held by %s (epoch %" PRId64 "), expired", owner, epoch);
    PQclear(res);
    return 0;
}

/* ---- take, renew, release ----------------------------------------------------- */

/* Runs an UPDATE of run_leases: the rows it changed, or RB_EJOURNAL. */
static int rb__lease_update(rb_journal_t *j, const char *what, const char *sql, int n,
                            const char *const *v)
{
    PGresult *res = rb__pg_query(j, what, sql, n, v, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    long rows = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return (int)rows;
}

/* The renewal of a lease the handle holds at epoch: 1 renewed, 0 not held
 * (any more), or the failure. */
static int rb__lease_extend(rb_journal_t *j, const char *runs, int64_t epoch, int64_t ttl_ms)
{
    char e[24], t[24];
    snprintf(e, sizeof e, "%" PRId64, epoch);
    snprintf(t, sizeof t, "%" PRId64, ttl_ms);
    const char *v[4] = { runs, j->pg->engine, e, t };
    int n = rb__lease_update(
        j, "renewing a lease",
        "UPDATE run_leases SET expires_at = clock_timestamp() + $4::bigint * interval '1 ms',"
        " renewed_at = clock_timestamp()"
        " WHERE run_id = $1::bigint AND owner = $2 AND epoch = $3::bigint AND NOT released",
        4, v);
    return n < 0 ? n : n == 1;
}

/*
 * The take itself, in a transaction of its own that waits at most
 * RB__LEASE_WAIT for the row (an owner paused inside an append holds it
 * with the fence's lock: the engine taking over must not hang on it).
 * New, released or expired: the row is locked and the condition checked
 * again on its newest version (ON CONFLICT under READ COMMITTED, set here
 * whatever the database's default), so of
 * several engines racing one wins and the others find it held. 1 taken
 * (*l filled), 0 held by another (or no such run), RB_EBUSY the row is
 * locked, or the failure.
 */
static int rb__lease_claim(rb_journal_t *j, const char *runs, const char *ttl,
                           rb_journal_lease_t *l)
{
    static const char what[] = "taking a lease";
    int ret = rb__pg_exec(j, what, "BEGIN ISOLATION LEVEL READ COMMITTED");
    if (ret != 0)
        return ret;
    j->pg->in_txn = 1;
    ret = rb__pg_exec(j, what, "SET LOCAL lock_timeout = '" RB__LEASE_WAIT "'");
    if (ret == 0) {
        const char *v[3] = { runs, j->pg->engine, ttl };
        PGresult *res = PQexecParams(
            j->pg->conn,
            "INSERT INTO run_leases AS l (run_id, owner, epoch, expires_at, taken_at, renewed_at)"
            " SELECT id, $2, 1, clock_timestamp() + $3::bigint * interval '1 ms',"
            " clock_timestamp(), clock_timestamp() FROM runs WHERE id = $1::bigint"
            " ON CONFLICT (run_id) DO UPDATE SET owner = $2, epoch = l.epoch + 1,"
            " expires_at = clock_timestamp() + $3::bigint * interval '1 ms',"
            " taken_at = clock_timestamp(), renewed_at = clock_timestamp(), released = false,"
            " taken_over = NOT l.released, previous_owner = l.owner"
            " WHERE l.released OR l.expires_at <= clock_timestamp()"
            " RETURNING epoch, taken_over, previous_owner",
            3, NULL, v, NULL, NULL, 1);
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            if (PQntuples(res) == 1) {
                l->epoch = rb__pg_i64(res, 0, 0);
                l->takeover = (int)rb__pg_i64(res, 0, 1);
                const char *prev = rb__pg_text(res, 0, 2);
                snprintf(l->previous, sizeof l->previous, "%s", prev ? prev : "");
                ret = 1;
            }
        } else {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            ret = state && !strcmp(state, "55P03") /* lock_not_available */
                      ? RB_EBUSY
                      : rb__pg_fail(j, res, what);
        }
        PQclear(res);
    }
    if (ret >= 0) {
        int c = rb__pg_exec(j, what, "COMMIT");
        ret = c != 0 ? c : ret;
    } else {
        PQclear(PQexec(j->pg->conn, "ROLLBACK"));
    }
    j->pg->in_txn = 0;
    return ret;
}

int rb_journal_lease_take(rb_journal_t *j, int64_t run_id, int64_t ttl_ms,
                          rb_journal_lease_t *out)
{
    rb_journal_lease_t l = { .epoch = 1 };
    if (!j->pg) {
        if (out)
            *out = l;
        return 0;
    }
    int ret = rb__lease_args(j, run_id, 1, ttl_ms);
    if (ret != 0)
        return ret;
    char runs[24], t[24];
    snprintf(runs, sizeof runs, "%" PRId64, run_id);
    snprintf(t, sizeof t, "%" PRId64, ttl_ms);
    int64_t held = rb__lease_held(j, run_id);
    if (held > 0) {
        /* already ours: a renewal, same epoch */
        if ((ret = rb__lease_extend(j, runs, held, ttl_ms)) < 0)
            return ret;
        if (ret == 1) {
            l.epoch = held;
            if (out)
                *out = l;
            return 0;
        }
        rb__lease_hold(j, run_id, 0, 0); /* lost meanwhile: take it like anyone */
    }
    if ((ret = rb__lease_claim(j, runs, t, &l)) == 1) {
        if ((ret = rb__lease_hold(j, run_id, l.epoch, l.takeover)) != 0) {
            snprintf(j->err, sizeof j->err, "%s: out of memory", j->path);
            return ret;
        }
        if (out)
            *out = l;
        return 0;
    }
    if (ret == RB_EBUSY)
        snprintf(j->err, sizeof j->err, "%s: run %" PRId64 ": its lease is locked by a write in"
                                        " progress (its owner's): try again later", j->path,
                 run_id);
    if (ret != 0)
        return ret;
    char who[RB_JOURNAL_ENGINE_MAX + 80];
    int exists = 0;
    if ((ret = rb__lease_who(j, runs, who, sizeof who, &exists)) != 0)
        return ret;
    if (!exists) {
        snprintf(j->err, sizeof j->err, "%s: taking a lease: no run %" PRId64, j->path, run_id);
        return RB_ENOTFOUND;
    }
    snprintf(j->err, sizeof j->err, "%s: run %" PRId64 ": its lease is %s", j->path, run_id,
             who);
    return RB_EBUSY;
}

/* RB_EFENCED for run_id, which this handle held at epoch (0: never), with
 * who holds it now in the message; the handle forgets it. */
static int rb__lease_lost(rb_journal_t *j, int64_t run_id, const char *runs, int64_t epoch,
                          const char *what)
{
    rb__lease_hold(j, run_id, 0, 0);
    char who[RB_JOURNAL_ENGINE_MAX + 80];
    int exists = 0;
    if (rb__lease_who(j, runs, who, sizeof who, &exists) != 0)
        return RB_EJOURNAL;
    snprintf(j->err, sizeof j->err, "%s: run %" PRId64 ": %s: fenced: this engine holds no lease"
                                    " (epoch %" PRId64 "): the lease is %s",
             j->path, run_id, what, epoch, who);
    return RB_EFENCED;
}

int rb_journal_lease_renew(rb_journal_t *j, int64_t run_id, int64_t ttl_ms)
{
    if (!j->pg)
        return 0;
    int ret = rb__lease_args(j, run_id, 1, ttl_ms);
    if (ret != 0)
        return ret;
    char runs[24];
    snprintf(runs, sizeof runs, "%" PRId64, run_id);
    int64_t held = rb__lease_held(j, run_id);
    if (held > 0 && (ret = rb__lease_extend(j, runs, held, ttl_ms)) != 0)
        return ret < 0 ? ret : 0;
    return rb__lease_lost(j, run_id, runs, held, "renewing its lease");
}

int rb_journal_lease_release(rb_journal_t *j, int64_t run_id)
{
    if (!j->pg)
        return 0;
    int ret = rb__lease_args(j, run_id, 0, 0);
    if (ret != 0)
        return ret;
    int64_t held = rb__lease_held(j, run_id);
    if (held == 0)
        return 0;
    char runs[24], e[24];
    snprintf(runs, sizeof runs, "%" PRId64, run_id);
    snprintf(e, sizeof e, "%" PRId64, held);
    const char *v[3] = { runs, j->pg->engine, e };
    int n = rb__lease_update(
        j, "releasing a lease",
        "UPDATE run_leases SET released = true, expires_at = clock_timestamp(),"
        " renewed_at = clock_timestamp()"
        " WHERE run_id = $1::bigint AND owner = $2 AND epoch = $3::bigint AND NOT released",
        3, v);
    if (n < 0)
        return n;
    if (n != 1)
        return rb__lease_lost(j, run_id, runs, held, "releasing its lease");
    rb__lease_hold(j, run_id, 0, 0);
    return 0;
}

/* ---- takeover candidates --------------------------------------------------------- */

static int rb__lease_expired_row(const PGresult *res, void *arg)
{
    const char *owner = rb__pg_text(res, 0, 3);
    json_t *o = json_pack("{sI ss? ss? ss sI sb sI sI}", "run_id",
                          (json_int_t)rb__pg_i64(res, 0, 0), "runbook", rb__pg_text(res, 0, 1),
                          "status", rb__pg_text(res, 0, 2), "owner", owner ? owner : "",
                          "epoch", (json_int_t)rb__pg_i64(res, 0, 4), "released",
                          (int)rb__pg_i64(res, 0, 5), "expires_at",
                          (json_int_t)rb__pg_i64(res, 0, 6), "expired_ms",
                          (json_int_t)rb__pg_i64(res, 0, 7));
    return o && json_array_append_new(arg, o) == 0 ? 0 : RB_ENOMEM;
}

int rb_journal_leases_expired(rb_journal_t *j, json_t **out)
{
    *out = NULL;
    json_t *a = json_array();
    if (!a)
        return RB_ENOMEM;
    if (!j->pg || j->pg->version < 7) {
        *out = a; /* a file's leases never expire; a journal older than leases has none */
        return 0;
    }
    /* from the open runs (the index runs_open), not from every lease ever taken */
    int ret = rb__pg_each(
        j, "reading the expired leases",
        "SELECT l.run_id, r.runbook, r.status, l.owner, l.epoch, l.released,"
        " floor(extract(epoch FROM l.expires_at) * 1000)::bigint,"
        " floor(extract(epoch FROM clock_timestamp() - l.expires_at) * 1000)::bigint"
        " FROM runs r JOIN run_leases l ON l.run_id = r.id"
        " WHERE r.ended_at IS NULL AND (l.released OR l.expires_at <= clock_timestamp())"
        " ORDER BY l.expires_at, l.run_id",
        0, NULL, rb__lease_expired_row, a);
    if (ret != 0) {
        if (ret == RB_ENOMEM)
            snprintf(j->err, sizeof j->err, "%s: out of memory", j->path);
        json_decref(a);
        return ret;
    }
    *out = a;
    return 0;
}

/* ---- the fence ------------------------------------------------------------------- */

int rb__pg_fence(rb_journal_t *j, PGconn *conn, int64_t run_id, char *err, size_t errlen)
{
    if (!conn)
        conn = j->pg->conn;
    if (!err) {
        err = j->err;
        errlen = sizeof j->err;
    }
    char runs[24];
    snprintf(runs, sizeof runs, "%" PRId64, run_id);
    const char *v[1] = { runs };
    PGresult *res = PQexecParams(conn,
                                 "SELECT owner, epoch, released FROM run_leases"
                                 " WHERE run_id = $1::bigint FOR SHARE",
                                 1, NULL, v, NULL, NULL, 1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorMessage(res);
        snprintf(err, errlen, "%s: run %" PRId64 ": checking its lease: %.*s", j->path, run_id,
                 (int)strcspn(msg, "\n"), msg);
        PQclear(res);
        return RB_EJOURNAL;
    }
    int rows = PQntuples(res);
    const char *owner = rows ? rb__pg_text(res, 0, 0) : NULL;
    int64_t epoch = rows ? rb__pg_i64(res, 0, 1) : 0;
    int released = rows ? (int)rb__pg_i64(res, 0, 2) : 0;
    uv_mutex_lock(&j->mu);
    int64_t held = 0;
    if (!rb__map_get(&j->pg->epochs, run_id, &held))
        held = 0;
    int ok = rows == 0 ? held == 0
                       : held > 0 && epoch == held && !released && owner && j->pg->engine &&
                             !strcmp(owner, j->pg->engine);
    if (!ok) {
        j->stats.fenced_writes++;
        if (held > 0 && rb__map_put(&j->pg->epochs, run_id, 0) == 0)
            j->stats.leases_held--;
    }
    uv_mutex_unlock(&j->mu);
    if (!ok) {
        if (rows)
            snprintf(err, errlen, "%s: run %" PRId64 ": fenced: %s %s the run (epoch %" PRId64
                                  "; this engine held epoch %" PRId64 ")",
                     j->path, run_id, owner ? owner : "?", released ? "released" : "holds",
                     epoch, held);
        else
            snprintf(err, errlen, "%s: run %" PRId64 ": fenced: its lease is gone (this engine"
                                  " held epoch %" PRId64 ")", j->path, run_id, held);
    }
    PQclear(res);
    return ok ? 0 : RB_EFENCED;
}
