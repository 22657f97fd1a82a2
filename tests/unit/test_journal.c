/*
 * test_journal.c — unit tests of the journal (engine/journal*.c) in direct mode: creating
 * and reopening the file, versions and their SHA-256, runs and event
 * sequence numbers, durability at sync, the append-only triggers, the
 * synchronous level, and the errors an operator sees for a file that is not
 * a journal, read-only, locked or full. (The chain: test_journal_chain.c;
 * the writer thread: test_journal_writer.c; recovery:
 * test_journal_recover.c.)
 *
 * Tests may use SQLite directly (to inspect or tamper with the file as
 * another process would); production code outside engine/journal*.c never does.
 * Each test gets its own temporary directory and removes it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "journal_fixture.h"

/* ---- tests ---------------------------------------------------------------- */

static void test_open_creates_schema(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    assert_string_equal(rb_journal_errmsg(j), "");
    rb_journal_close(j);

    assert_int_equal(access(fx->db, F_OK), 0);
    assert_int_equal(sql_int(fx->db, "PRAGMA user_version"), 6);
    assert_int_equal(sql_int(fx->db, "PRAGMA application_id"), 0x52554e42);
    assert_int_equal(sql_int(fx->db,
                             "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                             " ('versions', 'runs', 'events', 'alerts', 'chain_head',"
                             " 'checkpoints')"),
                     6);
    /* The chain starts empty: head at event 0 with the all-zero hash. */
    assert_int_equal(sql_int(fx->db, "SELECT event_id FROM chain_head"), 0);
    assert_int_equal(sql_int(fx->db, "SELECT hash = zeroblob(32) FROM chain_head"), 1);
    /* WAL is a property of the file: another connection sees it. */
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Reopening an existing journal changes nothing. */
    j = open_ok(fx->db, 0);
    rb_journal_close(j);
    assert_int_equal(sql_int(fx->db, "PRAGMA user_version"), 6);
    rb_journal_close(NULL);
}

static void test_version_sha256_idempotent(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    char a[65], b[65];
    assert_int_equal(rb_journal_put_version(j, "demo", "demo.yaml", "hello", 5, a), 0);
    /* sha256("hello"), as sha256sum prints it */
    assert_string_equal(a, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_int_equal(rb_journal_put_version(j, "demo", "elsewhere.yaml", "hello", 5, b), 0);
    assert_string_equal(a, b);
    /* The empty text has a digest too. */
    assert_int_equal(rb_journal_put_version(j, "empty", NULL, "", 0, b), 0);
    assert_string_equal(b, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    char *src = NULL;
    size_t len = 0;
    assert_int_equal(rb_journal_get_version(j, a, &src, &len), 0);
    assert_int_equal(len, 5);
    assert_string_equal(src, "hello");
    free(src);
    assert_int_equal(rb_journal_get_version(j, "00", &src, &len), RB_ENOTFOUND);
    assert_null(src);

    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM versions"), 2);
}

static void test_events_seq(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r1 = new_run(j, "node-crash");
    int64_t r2 = new_run(j, "disk-full");
    assert_int_equal(r1, 1);
    assert_int_equal(r2, 2);

    json_t *d = json_pack("{s:s}", "action", "exec");
    assert_int_equal(rb_journal_event(j, r1, "run_started", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_event(j, r2, "run_started", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_event(j, r1, "step_started", "restart", 0, d), 0);
    assert_int_equal(rb_journal_event(j, r1, "attempt_started", "restart", 1, NULL), 0);
    json_decref(d);
    assert_int_equal(rb_journal_event(j, r1, "", NULL, 0, NULL), RB_EINVAL);
    assert_int_equal(rb_journal_sync(j), 0);

    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(j, r1, &run), 0);
    json_t *ev = json_object_get(run, "events");
    assert_int_equal(json_array_size(ev), 3);
    int64_t prev_mono = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(ev, i);
        assert_int_equal(json_integer_value(json_object_get(e, "seq")), (json_int_t)i + 1);
        assert_true(json_integer_value(json_object_get(e, "wall_ms")) > 1600000000000LL);
        int64_t mono = json_integer_value(json_object_get(e, "mono_ns"));
        assert_true(mono >= prev_mono);
        prev_mono = mono;
    }
    json_t *e1 = json_array_get(ev, 0), *e2 = json_array_get(ev, 1), *e3 = json_array_get(ev, 2);
    assert_string_equal(json_string_value(json_object_get(e1, "type")), "run_started");
    assert_true(json_is_null(json_object_get(e1, "step")));
    assert_true(json_is_object(json_object_get(e1, "data")));
    assert_int_equal(json_object_size(json_object_get(e1, "data")), 0);
    assert_string_equal(json_string_value(json_object_get(e2, "step")), "restart");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(e2, "data"), "action")), "exec");
    assert_int_equal(json_integer_value(json_object_get(e3, "attempt")), 1);
    json_decref(run);
    rb_journal_close(j);

    /* Another process (here: another handle, after the first closed) goes
     * on with the same run where the file says it stopped. */
    j = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_event(j, r1, "step_finished", "restart", 1, NULL), 0);
    assert_int_equal(rb_journal_event(j, r2, "run_finished", NULL, 0, NULL), 0);
    rb_journal_close(j);
    assert_int_equal(sql_int(fx->db, "SELECT max(seq) FROM events WHERE run_id = 1"), 4);
    assert_int_equal(sql_int(fx->db, "SELECT max(seq) FROM events WHERE run_id = 2"), 2);

    /* Two handles taking turns on one run: no seq is taken twice. */
    rb_journal_t *a = open_ok(fx->db, 0), *b = open_ok(fx->db, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rb_journal_event(a, r1, "log", NULL, 0, NULL), 0);
        assert_int_equal(rb_journal_sync(a), 0);
        assert_int_equal(rb_journal_event(b, r1, "log", NULL, 0, NULL), 0);
        assert_int_equal(rb_journal_sync(b), 0);
    }
    rb_journal_close(a);
    rb_journal_close(b);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events WHERE run_id = 1"), 10);
    assert_int_equal(sql_int(fx->db, "SELECT max(seq) FROM events WHERE run_id = 1"), 10);

    /* An event for a run that does not exist is refused (foreign key). */
    j = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_event(j, 999, "log", NULL, 0, NULL), RB_EJOURNAL);
    assert_non_null(strstr(rb_journal_errmsg(j), "FOREIGN KEY"));
    rb_journal_close(j);
}

static void test_durable_at_sync(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r = new_run(j, "node-crash");
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM runs"), 1);

    /* Appends share one transaction: nobody else sees them before sync. */
    assert_int_equal(rb_journal_event(j, r, "run_started", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_event(j, r, "step_started", "a", 0, NULL), 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 2);
    assert_int_equal(rb_journal_sync(j), 0); /* nothing pending: fine */

    /* Close commits what is pending; reopening shows it. */
    assert_int_equal(rb_journal_event(j, r, "step_finished", "a", 1, NULL), 0);
    rb_journal_close(j);
    j = open_ok(fx->db, RB_JOURNAL_READONLY);
    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(j, r, &run), 0);
    assert_int_equal(json_array_size(json_object_get(run, "events")), 3);
    json_decref(run);
    rb_journal_close(j);
}

static void test_events_append_only(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r = new_run(j, "node-crash");
    assert_int_equal(rb_journal_event(j, r, "run_started", NULL, 0, NULL), 0);
    rb_journal_close(j);

    sqlite3 *db;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "UPDATE events SET type = 'x'", NULL, NULL, &msg),
                         SQLITE_OK);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "events are append-only"));
    sqlite3_free(msg);
    msg = NULL;
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM events", NULL, NULL, &msg), SQLITE_OK);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "events are append-only"));
    sqlite3_free(msg);
    msg = NULL;
    /* The version a run was started from cannot change under it either. */
    assert_int_not_equal(sqlite3_exec(db, "UPDATE versions SET source = 'x'", NULL, NULL, &msg),
                         SQLITE_OK);
    sqlite3_free(msg);
    sqlite3_close(db);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events WHERE type = 'run_started'"), 1);
}

static void test_not_a_database(void **state)
{
    fx_t *fx = *state;
    FILE *f = fopen(fx->db, "w");
    assert_non_null(f);
    for (int i = 0; i < 100; i++)
        fputs("this is a text file, not a journal\n", f);
    fclose(f);

    rb_journal_t *j = NULL;
    char err[512] = "";
    assert_int_equal(rb_journal_open(fx->db, 0, &j, err, sizeof err), RB_EJOURNAL);
    assert_null(j);
    assert_non_null(strstr(err, "not a database"));
    assert_non_null(strstr(err, fx->db));
    assert_null(strchr(err, '\n'));
}

static void test_foreign_sqlite_database(void **state)
{
    fx_t *fx = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE accounts(id)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    rb_journal_t *j = NULL;
    char err[512] = "";
    assert_int_equal(rb_journal_open(fx->db, 0, &j, err, sizeof err), RB_EJOURNAL);
    assert_non_null(strstr(err, "not a runbook journal"));
    /* and it was left as it was */
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM sqlite_master"), 1);
}

static void test_readonly(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = NULL;
    char err[512] = "";

    /* Read-only never creates a file. */
    assert_int_equal(rb_journal_open(fx->db, RB_JOURNAL_READONLY, &j, err, sizeof err),
                     RB_EJOURNAL);
    assert_non_null(strstr(err, "unable to open"));
    assert_int_not_equal(access(fx->db, F_OK), 0);

    j = open_ok(fx->db, 0);
    new_run(j, "node-crash");
    rb_journal_close(j);

    j = open_ok(fx->db, RB_JOURNAL_READONLY);
    json_t *runs = NULL;
    assert_int_equal(rb_journal_runs(j, 0, &runs), 0);
    assert_int_equal(json_array_size(runs), 1);
    json_decref(runs);
    assert_int_equal(rb_journal_event(j, 1, "log", NULL, 0, NULL), RB_EJOURNAL);
    assert_non_null(strstr(rb_journal_errmsg(j), "readonly"));
    int64_t id;
    assert_int_equal(rb_journal_run_create(j, "x", NULL, NULL, "cli", &id), RB_EJOURNAL);
    assert_int_equal(rb_journal_run_status(j, 1, "failed", 1), RB_EJOURNAL);
    rb_journal_close(j);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 0);
}

static void test_locked(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = NULL;
    char err[512] = "";
    sqlite3 *other;

    /* A file that another process holds exclusively before it is a journal:
     * the header cannot even be read. */
    assert_int_equal(sqlite3_open(fx->db, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE; CREATE TABLE t(x);", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(rb_journal_open(fx->db, 0, &j, err, sizeof err), RB_EJOURNAL);
    assert_null(j);
    assert_non_null(strstr(err, "locked"));
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);

    /* A journal (WAL) whose write lock another process holds: reading
     * works, the first append fails once the busy timeout runs out. */
    j = open_ok(fx->db, 0);
    int64_t r = new_run(j, "node-crash");
    rb_journal_close(j);
    assert_int_equal(sqlite3_open(fx->db, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    j = open_ok(fx->db, 0);
    json_t *runs = NULL;
    assert_int_equal(rb_journal_runs(j, 0, &runs), 0);
    json_decref(runs);
    assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, NULL), RB_EJOURNAL);
    assert_non_null(strstr(rb_journal_errmsg(j), "locked"));
    assert_non_null(strstr(rb_journal_errmsg(j), fx->db));
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    /* Once the other process lets go, the same handle writes again. */
    assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 1);
}

static void test_runs_and_run_get_shape(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r1 = new_run(j, "node-crash");
    int64_t r2 = new_run(j, "disk-full");
    assert_int_equal(rb_journal_run_status(j, r1, "succeeded", 1), 0);
    assert_int_equal(rb_journal_run_status(j, 77, "failed", 1), RB_ENOTFOUND);
    assert_int_equal(rb_journal_sync(j), 0);

    json_t *runs = NULL;
    assert_int_equal(rb_journal_runs(j, 0, &runs), 0);
    assert_true(json_is_array(runs));
    assert_int_equal(json_array_size(runs), 2);
    json_t *newest = json_array_get(runs, 0), *oldest = json_array_get(runs, 1);
    assert_int_equal(json_integer_value(json_object_get(newest, "id")), r2);
    assert_string_equal(json_string_value(json_object_get(newest, "runbook")), "disk-full");
    assert_string_equal(json_string_value(json_object_get(newest, "status")), "running");
    assert_string_equal(json_string_value(json_object_get(newest, "trigger")), "cli");
    assert_int_equal(strlen(json_string_value(json_object_get(newest, "sha256"))), 64);
    assert_true(json_is_integer(json_object_get(newest, "started_at")));
    assert_true(json_is_null(json_object_get(newest, "ended_at")));
    assert_string_equal(json_string_value(json_object_get(oldest, "status")), "succeeded");
    assert_true(json_integer_value(json_object_get(oldest, "ended_at")) >=
                json_integer_value(json_object_get(oldest, "started_at")));
    assert_null(json_object_get(newest, "params")); /* the listing stays small */
    json_decref(runs);

    assert_int_equal(rb_journal_runs(j, 1, &runs), 0);
    assert_int_equal(json_array_size(runs), 1);
    json_decref(runs);

    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(j, r1, &run), 0);
    const char *keys[] = { "id", "runbook", "sha256", "status", "trigger",
                           "params", "started_at", "ended_at", "events" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_non_null(json_object_get(run, keys[i]));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(run, "params"), "instance")),
        "10.0.0.1");
    assert_true(json_is_array(json_object_get(run, "events")));
    assert_int_equal(json_array_size(json_object_get(run, "events")), 0);
    json_decref(run);

    run = (json_t *)1;
    assert_int_equal(rb_journal_run_get(j, 42, &run), RB_ENOTFOUND);
    assert_null(run);
    rb_journal_close(j);
}

/* The server's reads: runs filtered and paged, a runbook's versions with
 * their runs, and the commit latency counters. */
static void test_runs_find_versions_stats(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    char v1[65], v2[65];
    const char *s1 = "apiVersion: runbook/v1\nname: a\n# one\n";
    const char *s2 = "apiVersion: runbook/v1\nname: a\n# two\n";
    assert_int_equal(rb_journal_put_version(j, "a", "runbooks/a.yaml", s1, strlen(s1), v1), 0);
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        if (i == 3)
            assert_int_equal(rb_journal_put_version(j, "a", "runbooks/a.yaml", s2, strlen(s2), v2), 0);
        assert_int_equal(rb_journal_run_create(j, i == 4 ? "b" : "a", i < 3 ? v1 : v2, NULL,
                                               i % 2 ? "api" : "webhook", &ids[i]), 0);
    }
    assert_int_equal(rb_journal_run_status(j, ids[1], "resolved", 1), 0);
    assert_int_equal(rb_journal_sync(j), 0);

    json_t *runs = NULL;
    rb_journal_runs_filter_t f = {.runbook = "a"};
    assert_int_equal(rb_journal_runs_find(j, &f, &runs), 0);
    assert_int_equal(json_array_size(runs), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 0), "id")), ids[3]);
    json_decref(runs);
    f = (rb_journal_runs_filter_t){.trigger = "api", .status = "running"};
    assert_int_equal(rb_journal_runs_find(j, &f, &runs), 0);
    assert_int_equal(json_array_size(runs), 1); /* ids[3]; ids[1] is resolved */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 0), "id")), ids[3]);
    json_decref(runs);
    f = (rb_journal_runs_filter_t){.before_id = ids[3], .limit = 2};
    assert_int_equal(rb_journal_runs_find(j, &f, &runs), 0);
    assert_int_equal(json_array_size(runs), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 1), "id")), ids[1]);
    json_decref(runs);
    assert_int_equal(rb_journal_runs_find(j, NULL, &runs), 0);
    assert_int_equal(json_array_size(runs), 5);
    json_decref(runs);

    json_t *vs = NULL;
    assert_int_equal(rb_journal_versions(j, "a", &vs), 0);
    assert_int_equal(json_array_size(vs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(vs, 0), "sha256")), v2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(vs, 0), "runs")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(vs, 1), "runs")), 3);
    assert_true(json_is_integer(json_object_get(json_array_get(vs, 1), "last_run_at")));
    json_decref(vs);
    assert_int_equal(rb_journal_versions(j, "nope", &vs), 0);
    assert_int_equal(json_array_size(vs), 0);
    json_decref(vs);

    rb_journal_stats_t st;
    rb_journal_stats(j, &st);
    uint64_t in_buckets = 0;
    for (int i = 0; i < RB_JOURNAL_COMMIT_BUCKETS; i++)
        in_buckets += st.commit_buckets[i];
    assert_true(st.commits >= 1);
    assert_true(in_buckets <= st.commits); /* the rest took over the last bound */
    assert_true(st.commit_seconds > 0);
    rb_journal_close(j);
}

static void test_sync_level(void **state)
{
    fx_t *fx = *state;
    rb_journal_stats_t st;
    /* FULL unless asked: what the connection itself reports. */
    rb_journal_t *j = open_ok(fx->db, 0);
    rb_journal_stats(j, &st);
    assert_int_equal(st.synchronous, 2);
    rb_journal_close(j);
    j = open_ok(fx->db, RB_JOURNAL_SYNC_NORMAL);
    rb_journal_stats(j, &st);
    assert_int_equal(st.synchronous, 1);
    /* NORMAL still commits at sync: another connection sees it. */
    int64_t r = new_run(j, "node-crash");
    assert_int_equal(rb_journal_event(j, r, "run_started", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 1);
    rb_journal_stats(j, &st);
    assert_int_equal(st.commits, 1);
    assert_int_equal(st.events, 1);
    assert_int_equal(st.records, 3); /* version, run, event */
    rb_journal_close(j);
}

/* The events table keeps what was committed; the data column is the
 * canonical text (sorted keys) that the hash covers. */
static void test_canonical_data(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r = new_run(j, "node-crash");
    json_t *d = json_pack("{s:i,s:s,s:{s:b,s:n}}", "zeta", 1, "alpha", "x", "mid", "b", 1, "a");
    assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, d), 0);
    json_decref(d);
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);
    assert_int_equal(sql_int(fx->db, "SELECT data = '{\"alpha\":\"x\",\"mid\":{\"a\":null,"
                                     "\"b\":true},\"zeta\":1}' FROM events"),
                     1);
}

/* A string holding a NUL byte (a step's output: printf 'a\0b') is stored
 * as "\u0000" and reads back as the same object, not as the text of it:
 * every reader of the journal (show, resume, review) sees what was
 * written. */
static void test_nul_round_trip(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r = new_run(j, "node-crash");
    json_t *d = json_pack("{s:{s:s%,s:i}}", "result", "stdout", "a\0b", (size_t)3, "exit_code", 0);
    assert_int_equal(rb_journal_event(j, r, "attempt_finished", "a", 1, d), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(j, r, &run), 0);
    json_t *got = json_object_get(json_array_get(json_object_get(run, "events"), 0), "data");
    assert_true(json_is_object(got));
    assert_true(json_equal(got, d));
    json_t *out = json_object_get(json_object_get(got, "result"), "stdout");
    assert_int_equal(json_string_length(out), 3);
    assert_memory_equal(json_string_value(out), "a\0b", 3);
    json_decref(run);
    json_decref(d);
    rb_journal_close(j);
}

/* A full disk (here: the page cap of RUNBOOK_JOURNAL_MAX_PAGES) fails the
 * append or the commit with the reason, and damages nothing written. */
static void test_disk_full(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r = new_run(j, "disk-full");
    assert_int_equal(rb_journal_event(j, r, "run_started", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);

    char cap[32];
    snprintf(cap, sizeof cap, "%lld", (long long)sql_int(fx->db, "PRAGMA page_count") + 4);
    setenv("RUNBOOK_JOURNAL_MAX_PAGES", cap, 1);
    j = open_ok(fx->db, 0);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_t *d = json_pack("{s:s}", "stdout", big);
    int committed = 1, rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++) {
        int pending = 0;
        for (int k = 0; k < 3 && rc == 0; k++) {
            rc = rb_journal_event(j, r, "attempt_finished", "a", 1, d);
            pending += rc == 0;
        }
        if (rc == 0)
            rc = rb_journal_sync(j);
        if (rc == 0)
            committed += pending;
    }
    json_decref(d);
    assert_int_equal(rc, RB_EJOURNAL);
    assert_non_null(strstr(rb_journal_errmsg(j), "database or disk is full"));
    assert_non_null(strstr(rb_journal_errmsg(j), fx->db));
    assert_true(committed > 1);
    rb_journal_close(j);
    unsetenv("RUNBOOK_JOURNAL_MAX_PAGES");

    /* Everything acknowledged is there, the file is sound, the chain too. */
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), committed);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(fx->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    json_t *rep = NULL;
    assert_true(verify_path_ok(fx->db, &rep));
    assert_int_equal(json_integer_value(json_object_get(rep, "events")), committed);
    json_decref(rep);
}

static void test_open_bad_path(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = NULL;
    char err[512] = "", path[256];
    snprintf(path, sizeof path, "%s/no/such/dir/runbook.db", fx->dir);
    assert_int_equal(rb_journal_open(path, 0, &j, err, sizeof err), RB_EJOURNAL);
    assert_null(j);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "unable to open"));
    assert_int_equal(rb_journal_open("", 0, &j, err, sizeof err), RB_EINVAL);
}

/* rb_journal_run_get_some parses the data of the events asked for only
 * (the others read back with data null, everything else the same), and a
 * scratch journal (a replay's) keeps run_started and checks, but does not
 * store, the other events. */
static void test_run_get_some_and_scratch(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r = new_run(j, "node-crash");
    static const char *const types[] = {"run_started", "log", "step_finished"};
    for (size_t i = 0; i < 3; i++) {
        json_t *d = json_pack("{s:i,s:s}", "n", (int)i, "concurrency_key", "k");
        assert_int_equal(rb_journal_event(j, r, types[i], i ? "s" : NULL, 0, d), 0);
        json_decref(d);
    }
    assert_int_equal(rb_journal_sync(j), 0);
    json_t *all = NULL, *some = NULL, *not_log = NULL;
    assert_int_equal(rb_journal_run_get(j, r, &all), 0);
    assert_int_equal(rb_journal_run_get_some(j, r, (const char *const[]){"log", NULL}, 0, &some), 0);
    assert_int_equal(rb_journal_run_get_some(j, r, (const char *const[]){"log", NULL}, 1, &not_log), 0);
    json_t *ea = json_object_get(all, "events"), *es = json_object_get(some, "events"),
           *en = json_object_get(not_log, "events");
    assert_int_equal(json_array_size(es), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *a = json_array_get(ea, i), *b = json_array_get(es, i), *c = json_array_get(en, i);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "data"), "n")), (json_int_t)i);
        /* the same but for data: null where it was not asked for */
        assert_true(json_is_null(json_object_get(i == 1 ? c : b, "data")));
        assert_true(json_equal(json_object_get(a, "data"), json_object_get(i == 1 ? b : c, "data")));
        json_t *x = json_copy(a), *y = json_copy(b);
        json_object_del(x, "data");
        json_object_del(y, "data");
        assert_true(json_equal(x, y));
        json_decref(x);
        json_decref(y);
    }
    assert_true(json_equal(json_object_get(all, "params"), json_object_get(some, "params")));
    json_decref(all);
    json_decref(some);
    json_decref(not_log);
    rb_journal_close(j);

    char err[256];
    rb_journal_t *s = NULL;
    assert_int_equal(rb_journal_open(":memory:", RB_JOURNAL_NO_RECOVER | RB_JOURNAL_SCRATCH, &s, err, sizeof err), 0);
    r = new_run(s, "node-crash");
    for (size_t i = 0; i < 3; i++) {
        json_t *d = json_pack("{s:i,s:s}", "n", (int)i, "concurrency_key", "k");
        assert_int_equal(rb_journal_event(s, r, types[i], i ? "s" : NULL, 0, d), 0);
        json_decref(d);
    }
    /* an event whose data cannot be journaled is refused all the same */
    json_t *bad = json_stringn_nocheck("\xff", 1), *d = json_pack("{s:o}", "out", bad);
    assert_int_equal(rb_journal_event(s, r, "log", "s", 0, d), RB_EINVAL);
    json_decref(d);
    assert_int_equal(rb_journal_sync(s), 0);
    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(s, r, &run), 0);
    assert_int_equal(json_array_size(json_object_get(run, "events")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(run, "events"), 0), "type")),
                        "run_started");
    json_decref(run);
    int64_t active = 0, last = 0;
    assert_int_equal(rb_journal_key_state(s, "node-crash", "k", &active, NULL, &last), 0);
    assert_int_equal(active, r); /* run_started is what tells */
    rb_journal_close(s);
}

/* The severity rb_journal_runs_find lists (and filters on) is the level of
 * the run's first severity_assigned, found without walking a long run's
 * events when it has none: runs as the engine writes them, with a
 * severity, without one (declared, then many events), never declared,
 * and declared only after an interruption and a resume; each compared
 * with the plain definition, asked of SQLite on another connection. */
static void test_runs_severity(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    static const char *const shapes[][8] = {
        {"run_started", "check_finished", "confirm", "severity_assigned", "declared", "step_started", "run_finished", NULL},
        {"run_started", "declared", "step_started", "log", "log", "log", "run_finished", NULL},
        {"run_started", "check_finished", "confirm", "run_finished", NULL},
        {"run_started", "check_finished", "run_interrupted", "run_resumed", "severity_assigned", "declared", "run_finished", NULL},
    };
    static const char *const levels[] = {"P1", NULL, NULL, "P2"};
    int64_t ids[4];
    for (int r = 0; r < 4; r++) {
        ids[r] = new_run(j, "node-crash");
        for (int k = 0; shapes[r][k]; k++) {
            json_t *d = !strcmp(shapes[r][k], "severity_assigned") ? json_pack("{s:s}", "level", levels[r])
                                                                   : json_pack("{s:i}", "k", k);
            assert_int_equal(rb_journal_event(j, ids[r], shapes[r][k], NULL, 0, d), 0);
            json_decref(d);
        }
        /* a long run after its declared, with no severity: its log lines */
        for (int k = 0; r == 1 && k < 500; k++) {
            json_t *d = json_pack("{s:i}", "k", k);
            assert_int_equal(rb_journal_event(j, ids[r], "log", "s", 0, d), 0);
            json_decref(d);
        }
    }
    assert_int_equal(rb_journal_sync(j), 0);
    json_t *runs = NULL;
    assert_int_equal(rb_journal_runs_find(j, NULL, &runs), 0);
    assert_int_equal(json_array_size(runs), 4);
    for (int r = 0; r < 4; r++) {
        const json_t *row = json_array_get(runs, (size_t)(3 - r)); /* newest first */
        assert_int_equal(json_integer_value(json_object_get(row, "id")), ids[r]);
        const char *got = json_string_value(json_object_get(row, "severity"));
        if (levels[r])
            assert_string_equal(got, levels[r]);
        else
            assert_true(json_is_null(json_object_get(row, "severity")));
        char sql[300];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM runs WHERE id = %lld AND (SELECT json_extract(data, '$.level')"
                 " FROM events WHERE run_id = runs.id AND type = 'severity_assigned' ORDER BY seq LIMIT 1)"
                 " IS %s%s%s", (long long)ids[r], levels[r] ? "'" : "", levels[r] ? levels[r] : "NULL",
                 levels[r] ? "'" : "");
        assert_int_equal(sql_int(fx->db, sql), 1);
    }
    json_decref(runs);
    rb_journal_runs_filter_t f = {.severity = "P2"};
    assert_int_equal(rb_journal_runs_find(j, &f, &runs), 0);
    assert_int_equal(json_array_size(runs), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 0), "id")), ids[3]);
    json_decref(runs);
    rb_journal_close(j);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_creates_schema),
        T(test_version_sha256_idempotent),
        T(test_events_seq),
        T(test_durable_at_sync),
        T(test_events_append_only),
        T(test_not_a_database),
        T(test_foreign_sqlite_database),
        T(test_readonly),
        T(test_locked),
        T(test_runs_and_run_get_shape),
        T(test_runs_find_versions_stats),
        T(test_open_bad_path),
        T(test_sync_level),
        T(test_canonical_data),
        T(test_nul_round_trip),
        T(test_disk_full),
        T(test_run_get_some_and_scratch),
        T(test_runs_severity),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
