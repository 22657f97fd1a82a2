/*
 * pg_lease.c — the leases and the fence of a PostgreSQL journal
 * (docs/high-availability.md), white-box, against the real PostgreSQL that
 * tests/e2e/pg_lease.sh starts: several handles on one journal are several
 * engines. Built as pg_lease_check (tests/tests.cmake) and run by that
 * script only.
 *
 * Env: RB_PG_URL (the owner's URL of a journal whose runs 1-7 are open and
 * run 8 ended), RB_PG_URL_OLD (a journal of schema version 6, which a
 * writable open migrates), RB_PG_URL_ENGINE (the engine role's URL of
 * RB_PG_URL, granted as docs/journal.md says).
 *
 * Each test uses runs of its own; a handle is opened writable the way an
 * engine's open will (rb__pg_open with create), after rb_journal_open made
 * it read-only. Expiry is waited for by asking the database, or made at
 * once by setting expires_at in the past through another connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "journal/journal_pg_int.h"
#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static const char *url(const char *name)
{
    const char *u = getenv(name);
    if (!u || !*u)
        fail_msg("%s is not set: run tests/e2e/pg_lease.sh", name);
    return u;
}

/* A writable handle on the journal at u, held by engine (NULL: none set). */
static rb_journal_t *open_rw(const char *u, const char *engine)
{
    rb_journal_t *j = NULL;
    char err[512];
    int rc = rb_journal_open(u, RB_JOURNAL_READONLY, &j, err, sizeof err);
    if (rc != 0)
        fail_msg("rb_journal_open: %d: %s", rc, err);
    rb__pg_close(j);
    rc = rb__pg_open(j, u, 1);
    if (rc != 0)
        fail_msg("rb__pg_open: %d: %s", rc, rb_journal_errmsg(j));
    if (engine)
        assert_int_equal(rb_journal_set_engine(j, engine), 0);
    return j;
}

/* One integer from sql on j's connection (outside any transaction). */
static int64_t q_i64(rb_journal_t *j, const char *sql)
{
    PGresult *res = rb__pg_query(j, "test", sql, 0, NULL, NULL, NULL);
    if (!res)
        fail_msg("%s: %s", sql, rb_journal_errmsg(j));
    int64_t v = PQntuples(res) ? rb__pg_i64(res, 0, 0) : -1;
    PQclear(res);
    return v;
}

static void q_exec(rb_journal_t *j, const char *sql)
{
    if (rb__pg_exec(j, "test", sql) != 0)
        fail_msg("%s: %s", sql, rb_journal_errmsg(j));
}

/* Sets run's lease to have expired ago_ms ago (the database's clock). */
static void expire(rb_journal_t *admin, int64_t run, int ago_ms)
{
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE run_leases SET expires_at = clock_timestamp() - interval"
                              " '%d ms' WHERE run_id = %lld", ago_ms, (long long)run);
    q_exec(admin, sql);
}

/* The fence of run in a transaction of its own on j's connection. */
static int fence(rb_journal_t *j, int64_t run)
{
    q_exec(j, "BEGIN");
    j->pg->in_txn = 1;
    int rc = rb__pg_fence(j, NULL, run, NULL, 0);
    q_exec(j, rc == 0 ? "COMMIT" : "ROLLBACK");
    j->pg->in_txn = 0;
    return rc;
}

static rb_journal_stats_t stats(rb_journal_t *j)
{
    rb_journal_stats_t st;
    rb_journal_stats(j, &st);
    return st;
}

/* The entry of run in rb_journal_leases_expired, or NULL (borrowed from *list). */
static json_t *expired_entry(rb_journal_t *j, int64_t run, json_t **list)
{
    assert_int_equal(rb_journal_leases_expired(j, list), 0);
    size_t i;
    json_t *e;
    json_array_foreach(*list, i, e) {
        if (json_integer_value(json_object_get(e, "run_id")) == run)
            return e;
    }
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* A takes run 1; B is refused while it is held; the lease expires (waited
 * for on the database's clock); B takes it over at epoch 2; A is fenced,
 * renewing and writing; B releases; A takes it again, not a takeover. */
static void test_take_expire_takeover(void **state)
{
    (void)state;
    const int64_t run = 1;
    rb_journal_t *a = open_rw(url("RB_PG_URL"), "engine-a");
    rb_journal_t *b = open_rw(url("RB_PG_URL"), "engine-b");
    rb_journal_lease_t l;

    assert_int_equal(rb_journal_lease_take(a, run, 60000, &l), 0);
    assert_int_equal(l.epoch, 1);
    assert_int_equal(l.takeover, 0);
    assert_string_equal(l.previous, "");
    assert_int_equal(stats(a).leases_held, 1);
    assert_int_equal(rb_journal_lease_take(a, run, 60000, &l), 0); /* a renewal */
    assert_int_equal(l.epoch, 1);
    assert_int_equal(stats(a).leases_held, 1);

    assert_int_equal(rb_journal_lease_take(b, run, 60000, &l), RB_EBUSY);
    assert_non_null(strstr(rb_journal_errmsg(b), "held by engine-a (epoch 1) for"));
    assert_int_equal(rb_journal_lease_renew(b, run, 60000), RB_EFENCED);
    assert_int_equal(fence(b, run), RB_EFENCED);
    assert_int_equal(stats(b).fenced_writes, 1);
    assert_int_equal(stats(b).leases_held, 0);
    assert_int_equal(fence(a, run), 0);
    json_t *list = NULL;
    assert_null(expired_entry(b, run, &list));
    json_decref(list);

    /* a short ttl, and its end awaited on the database's clock */
    assert_int_equal(rb_journal_lease_renew(a, run, 200), 0);
    int expired = 0;
    for (int i = 0; i < 500 && !expired; i++) {
        expired = (int)q_i64(b, "SELECT expires_at <= clock_timestamp() FROM run_leases"
                                " WHERE run_id = 1");
        if (!expired)
            sleep_ms(20);
    }
    assert_true(expired);
    json_t *e = expired_entry(b, run, &list);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "owner")), "engine-a");
    assert_int_equal(json_integer_value(json_object_get(e, "epoch")), 1);
    assert_true(json_is_false(json_object_get(e, "released")));
    assert_true(json_integer_value(json_object_get(e, "expired_ms")) >= 0);
    assert_string_equal(json_string_value(json_object_get(e, "status")), "running");
    json_decref(list);

    assert_int_equal(rb_journal_lease_take(b, run, 60000, &l), 0);
    assert_int_equal(l.epoch, 2);
    assert_int_equal(l.takeover, 1);
    assert_string_equal(l.previous, "engine-a");
    assert_int_equal(stats(b).lease_takeovers, 1);
    assert_int_equal(stats(b).leases_held, 1);
    assert_null(expired_entry(b, run, &list));
    json_decref(list);

    /* A comes back: fenced */
    assert_int_equal(rb_journal_lease_renew(a, run, 60000), RB_EFENCED);
    assert_non_null(strstr(rb_journal_errmsg(a), "held by engine-b (epoch 2)"));
    assert_int_equal(stats(a).leases_held, 0);
    assert_int_equal(fence(a, run), RB_EFENCED);
    assert_int_equal(stats(a).fenced_writes, 1);
    assert_int_equal(rb_journal_lease_take(a, run, 60000, &l), RB_EBUSY);
    assert_int_equal(fence(b, run), 0);
    assert_int_equal(stats(b).fenced_writes, 1); /* its own refusal above, no more */

    /* released: listed (the run is open), taken at once, not a takeover */
    assert_int_equal(rb_journal_lease_release(b, run), 0);
    assert_int_equal(stats(b).leases_held, 0);
    assert_int_equal(fence(b, run), RB_EFENCED); /* a write after its release */
    e = expired_entry(a, run, &list);
    assert_non_null(e);
    assert_true(json_is_true(json_object_get(e, "released")));
    json_decref(list);
    assert_int_equal(rb_journal_lease_take(a, run, 60000, &l), 0);
    assert_int_equal(l.epoch, 3);
    assert_int_equal(l.takeover, 0);
    assert_string_equal(l.previous, "engine-b");
    assert_int_equal(stats(a).lease_takeovers, 0);
    assert_int_equal(rb_journal_lease_release(b, run), 0); /* holds none: nothing to do */
    assert_int_equal(rb_journal_lease_release(a, run), 0);
    assert_int_equal(q_i64(a, "SELECT count(*) FROM run_leases WHERE run_id = 1 AND released"
                              " AND epoch = 3 AND owner = 'engine-a'"), 1);
    rb_journal_close(a);
    rb_journal_close(b);
}

/* The epoch, not the owner's name, is what fences: an engine restarted
 * with the same id takes its old run over at epoch 2, and the old
 * incarnation's writes and renewals are refused. */
static void test_epoch_fences_same_owner(void **state)
{
    (void)state;
    const int64_t run = 2;
    rb_journal_t *admin = open_rw(url("RB_PG_URL"), NULL);
    rb_journal_t *old = open_rw(url("RB_PG_URL"), "engine-a");
    rb_journal_t *now = open_rw(url("RB_PG_URL"), "engine-a");
    rb_journal_lease_t l;
    assert_int_equal(rb_journal_lease_take(old, run, 60000, &l), 0);
    assert_int_equal(l.epoch, 1);
    assert_int_equal(rb_journal_lease_take(now, run, 60000, &l), RB_EBUSY);
    expire(admin, run, 1);
    assert_int_equal(rb_journal_lease_take(now, run, 60000, &l), 0);
    assert_int_equal(l.epoch, 2);
    assert_int_equal(l.takeover, 1);
    assert_string_equal(l.previous, "engine-a");
    assert_int_equal(fence(old, run), RB_EFENCED);
    assert_non_null(strstr(rb_journal_errmsg(old), "this engine held epoch 1"));
    assert_int_equal(fence(now, run), 0);
    assert_int_equal(rb_journal_lease_renew(old, run, 60000), RB_EFENCED);
    assert_int_equal(rb_journal_lease_renew(now, run, 60000), 0);
    rb_journal_close(old);
    rb_journal_close(now);
    rb_journal_close(admin);
}

/* The fence's row lock holds a takeover off until the append's
 * transaction ends (the taker is told busy after a bounded wait); the
 * taker then gets the next epoch. An expired lease
 * nobody took still lets its owner write (its epoch is current). */
static void test_fence_holds_takeover_off(void **state)
{
    (void)state;
    const int64_t run = 3;
    rb_journal_t *admin = open_rw(url("RB_PG_URL"), NULL);
    rb_journal_t *a = open_rw(url("RB_PG_URL"), "engine-a");
    rb_journal_t *b = open_rw(url("RB_PG_URL"), "engine-b");
    rb_journal_lease_t l;
    assert_int_equal(rb_journal_lease_take(a, run, 60000, &l), 0);
    int64_t epoch = l.epoch;
    expire(admin, run, 1);
    q_exec(a, "BEGIN");
    a->pg->in_txn = 1;
    assert_int_equal(rb__pg_fence(a, NULL, run, NULL, 0), 0);
    /* the take waits a bounded time, then says busy: it never hangs */
    assert_int_equal(rb_journal_lease_take(b, run, 60000, &l), RB_EBUSY);
    assert_non_null(strstr(rb_journal_errmsg(b), "locked by a write in progress"));
    assert_int_equal(rb_journal_lease_take(b, run, 60000, &l), RB_EBUSY);
    q_exec(a, "COMMIT");
    a->pg->in_txn = 0;
    assert_int_equal(rb_journal_lease_take(b, run, 60000, &l), 0);
    assert_int_equal(l.epoch, epoch + 1);
    assert_int_equal(l.takeover, 1);
    assert_int_equal(fence(a, run), RB_EFENCED);
    rb_journal_close(a);
    rb_journal_close(b);
    rb_journal_close(admin);
}

/* Takeover candidates: open runs whose lease expired or was released, the
 * longest expired first; not an unexpired lease, not an ended run. */
static void test_expired_list(void **state)
{
    (void)state;
    rb_journal_t *admin = open_rw(url("RB_PG_URL"), NULL);
    rb_journal_t *a = open_rw(url("RB_PG_URL"), "engine-a");
    for (int64_t run = 4; run <= 8; run++)
        assert_int_equal(rb_journal_lease_take(a, run, 60000, NULL), 0);
    expire(admin, 4, 1000);
    expire(admin, 5, 3000);
    expire(admin, 8, 5000); /* run 8 has ended */
    /* 6: held, unexpired; 7: released */
    assert_int_equal(rb_journal_lease_release(a, 7), 0);
    json_t *list = NULL;
    assert_int_equal(rb_journal_leases_expired(a, &list), 0);
    int64_t order[8];
    int n = 0;
    size_t i;
    json_t *e;
    int64_t prev_expiry = INT64_MIN;
    json_array_foreach(list, i, e) {
        int64_t run = json_integer_value(json_object_get(e, "run_id"));
        int64_t at = json_integer_value(json_object_get(e, "expires_at"));
        assert_true(at >= prev_expiry);
        prev_expiry = at;
        if (run >= 4 && run <= 8 && n < 8)
            order[n++] = run;
        if (run == 5)
            assert_true(json_integer_value(json_object_get(e, "expired_ms")) >= 3000);
    }
    assert_int_equal(n, 3);
    assert_int_equal(order[0], 5);
    assert_int_equal(order[1], 4);
    assert_int_equal(order[2], 7);
    json_decref(list);
    rb_journal_close(a);
    rb_journal_close(admin);
}

/* What the calls refuse. */
static void test_refusals(void **state)
{
    (void)state;
    rb_journal_t *j = open_rw(url("RB_PG_URL"), NULL);
    rb_journal_lease_t l;
    assert_int_equal(rb_journal_lease_take(j, 6, 1000, &l), RB_EINVAL); /* no engine id */
    assert_non_null(strstr(rb_journal_errmsg(j), "no engine id"));
    assert_int_equal(rb_journal_set_engine(j, "engine-c"), 0);
    assert_int_equal(rb_journal_lease_take(j, 6, 0, &l), RB_EINVAL);
    assert_int_equal(rb_journal_lease_take(j, 6, 86400001, &l), RB_EINVAL);
    assert_int_equal(rb_journal_lease_renew(j, 6, -1), RB_EINVAL);
    assert_int_equal(rb_journal_lease_take(j, 0, 1000, &l), RB_EINVAL);
    assert_int_equal(rb_journal_lease_take(j, 999999, 1000, &l), RB_ENOTFOUND);
    assert_int_equal(rb_journal_lease_take(j, 6, 1000, &l), RB_EBUSY); /* engine-a's */
    assert_int_equal(rb_journal_lease_take(j, 7, 60000, &l), 0);       /* released */
    assert_int_equal(rb_journal_set_engine(j, "engine-d"), RB_EINVAL); /* holds one */
    assert_int_equal(rb_journal_set_engine(j, "engine-c"), 0);
    assert_int_equal(rb_journal_lease_release(j, 7), 0);
    assert_int_equal(rb_journal_set_engine(j, "engine-d"), 0);
    rb_journal_close(j);

    /* a reader cannot take */
    rb_journal_t *r = NULL;
    char err[512];
    assert_int_equal(rb_journal_open(url("RB_PG_URL"), RB_JOURNAL_READONLY, &r, err, sizeof err),
                     0);
    assert_int_equal(rb_journal_set_engine(r, "reader"), 0);
    assert_int_equal(rb_journal_lease_take(r, 7, 1000, &l), RB_EJOURNAL);
    assert_non_null(strstr(rb_journal_errmsg(r), "read-only"));
    json_t *list = NULL;
    assert_int_equal(rb_journal_leases_expired(r, &list), 0); /* a read */
    json_decref(list);
    rb_journal_close(r);
}

/* The engine's role, granted as docs/journal.md says, takes and releases. */
static void test_engine_role(void **state)
{
    (void)state;
    rb_journal_t *j = open_rw(url("RB_PG_URL_ENGINE"), "engine-role");
    rb_journal_lease_t l;
    assert_int_equal(rb_journal_lease_take(j, 7, 60000, &l), 0);
    assert_int_equal(fence(j, 7), 0);
    assert_int_equal(rb_journal_lease_renew(j, 7, 60000), 0);
    assert_int_equal(rb_journal_lease_release(j, 7), 0);
    rb_journal_close(j);
}

/* ---- many engines racing for one expired lease ------------------------------- */

#define RACERS 8
#define ROUNDS 100

typedef struct {
    rb_journal_t *j;
    uv_barrier_t *go, *done;
    int rc[ROUNDS];
    rb_journal_lease_t l[ROUNDS];
} racer_t;

static void race(void *arg)
{
    racer_t *r = arg;
    for (int i = 0; i < ROUNDS; i++) {
        uv_barrier_wait(r->go);
        r->rc[i] = rb_journal_lease_take(r->j, 6, 60000, &r->l[i]);
        uv_barrier_wait(r->done);
    }
}

/* RACERS engines take run 6's expired lease at once, ROUNDS times: each
 * round exactly one wins, at the epoch the database holds, and a change of
 * owner is a takeover at the epoch + 1. */
static void test_race(void **state)
{
    (void)state;
    const int64_t run = 6;
    rb_journal_t *admin = open_rw(url("RB_PG_URL"), NULL);
    static racer_t rs[RACERS];
    uv_barrier_t go, done;
    uv_barrier_init(&go, RACERS + 1);
    uv_barrier_init(&done, RACERS + 1);
    uv_thread_t th[RACERS];
    for (int k = 0; k < RACERS; k++) {
        char id[32];
        snprintf(id, sizeof id, "racer-%d", k);
        rs[k].j = open_rw(url("RB_PG_URL"), id);
        rs[k].go = &go;
        rs[k].done = &done;
        assert_int_equal(uv_thread_create(&th[k], race, &rs[k]), 0);
    }
    int64_t epoch = q_i64(admin, "SELECT epoch FROM run_leases WHERE run_id = 6");
    int last = -1;
    for (int i = 0; i < ROUNDS; i++) {
        expire(admin, run, 1);
        uv_barrier_wait(&go);
        uv_barrier_wait(&done);
        int wins = 0, winner = -1;
        for (int k = 0; k < RACERS; k++) {
            if (rs[k].rc[i] == 0) {
                wins++;
                winner = k;
            } else if (rs[k].rc[i] != RB_EBUSY) {
                fail_msg("round %d, racer %d: %d: %s", i, k, rs[k].rc[i],
                         rb_journal_errmsg(rs[k].j));
            }
        }
        if (wins != 1)
            fail_msg("round %d: %d engines took the lease", i, wins);
        const rb_journal_lease_t *l = &rs[winner].l[i];
        if (winner == last) {
            assert_int_equal(l->epoch, epoch); /* its own lease, renewed */
        } else {
            assert_int_equal(l->epoch, epoch + 1);
            assert_int_equal(l->takeover, 1);
        }
        epoch = l->epoch;
        last = winner;
        assert_int_equal(q_i64(admin, "SELECT epoch FROM run_leases WHERE run_id = 6"), epoch);
    }
    uint64_t takeovers = 0, held = 0;
    for (int k = 0; k < RACERS; k++) {
        uv_thread_join(&th[k]);
        takeovers += stats(rs[k].j).lease_takeovers;
        held += stats(rs[k].j).leases_held;
        rb_journal_close(rs[k].j);
    }
    assert_true(takeovers >= 1);
    assert_int_equal(held, 1);
    uv_barrier_destroy(&go);
    uv_barrier_destroy(&done);
    rb_journal_close(admin);
}

/* A journal of version 6 is read as it is by a reader and migrated by a
 * writable open (tests/e2e/pg_lease.sh compares its shape with a new one's). */
static void test_migrate(void **state)
{
    (void)state;
    rb_journal_t *r = NULL;
    char err[512];
    assert_int_equal(rb_journal_open(url("RB_PG_URL_OLD"), RB_JOURNAL_READONLY, &r, err,
                                     sizeof err), 0);
    assert_int_equal(r->pg->version, 6);
    json_t *list = NULL;
    assert_int_equal(rb_journal_leases_expired(r, &list), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    rb_journal_close(r);
    rb_journal_t *j = open_rw(url("RB_PG_URL_OLD"), "engine-a");
    assert_int_equal(j->pg->version, RB__PG_SCHEMA_VERSION);
    assert_int_equal(q_i64(j, "SELECT value::bigint FROM journal_meta"
                              " WHERE key = 'schema_version'"), RB__PG_SCHEMA_VERSION);
    assert_int_equal(q_i64(j, "SELECT count(*) FROM run_leases"), 0);
    rb_journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_expire_takeover),
        cmocka_unit_test(test_epoch_fences_same_owner),
        cmocka_unit_test(test_fence_holds_takeover_off),
        cmocka_unit_test(test_expired_list),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_engine_role),
        cmocka_unit_test(test_race),
        cmocka_unit_test(test_migrate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
