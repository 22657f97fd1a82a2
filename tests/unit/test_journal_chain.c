/*
 * test_journal_chain.c — the journal's hash chain: the documented encoding
 * (recomputed here byte by byte), the links, and rb_journal_verify against
 * every kind of tampering an attacker with the sqlite3 tool can do after
 * dropping the triggers (edit any column, delete the first, a middle or the
 * newest event, delete the newest run, insert, reorder, renumber, delete the
 * head, edit a runbook text); what the triggers refuse while they stand;
 * journal prune and its checkpoint (verify passes after it, tampering after
 * it is still caught); and the migration of a version 1 journal.
 * rb_journal_verify_run (one run's part of the chain) finds what verify
 * finds about that run, under every attack.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "journal_fixture.h"

#include <openssl/evp.h>

/* ---- helpers ---------------------------------------------------------------- */

/* nruns runs whose events interleave: e1 of each run, then e2 of each …
 * Every run finished. Events 1..nruns*nev, run r's k-th event is
 * id (k-1)*nruns + r. */
static void build(fx_t *fx, int nruns, int nev)
{
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t ids[16];
    assert_true(nruns <= 16);
    for (int r = 0; r < nruns; r++)
        ids[r] = new_run(j, "node-crash");
    for (int k = 0; k < nev; k++)
        for (int r = 0; r < nruns; r++) {
            json_t *d = json_pack("{s:i,s:s}", "k", k, "out", "hello");
            assert_int_equal(rb_journal_event(j, ids[r], k == 0 ? "run_started" : "log",
                                              k == 0 ? NULL : "s1", k, d), 0);
            json_decref(d);
        }
    for (int r = 0; r < nruns; r++)
        assert_int_equal(rb_journal_run_status(j, ids[r], "succeeded", 1), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);
}

/* Runs the attack, then verify must fail, with its first finding at
 * event_id (when >= 0) and saying what. */
static void expect_caught(fx_t *fx, const char *attack, int64_t event_id, const char *what)
{
    sql_exec(fx->db, attack);
    json_t *r = NULL;
    if (verify_path_ok(fx->db, &r)) {
        json_decref(r);
        fail_msg("not caught: %s", attack);
    }
    if (event_id >= 0 && first_problem_int(r, "event_id") != event_id)
        fail_msg("%s: first finding at #%lld, expected #%lld (%s)", attack,
                 (long long)first_problem_int(r, "event_id"), (long long)event_id,
                 first_problem(r));
    if (!strstr(first_problem(r), what))
        fail_msg("%s: \"%s\" does not say \"%s\"", attack, first_problem(r), what);
    json_decref(r);
}

static void put64(unsigned char *b, size_t *n, int64_t v)
{
    for (int i = 0; i < 8; i++)
        b[(*n)++] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
}

static void putb(unsigned char *b, size_t *n, const void *p, size_t len)
{
    memcpy(b + *n, p, len);
    *n += len;
}

/* ---- tests --------------------------------------------------------------------- */

/* docs/journal.md gives the encoding; this builds it by hand from the
 * columns and checks the stored hash is its SHA-256. */
static void test_hash_encoding(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r = new_run(j, "node-crash");
    json_t *d = json_pack("{s:s,s:i}", "b", "x", "a", 1);
    assert_int_equal(rb_journal_event(j, r, "run_started", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_event(j, r, "attempt_started", "restart", 2, d), 0);
    json_decref(d);
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);

    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT run_id, seq, wall_ms, mono_ns, type, step, attempt,"
                                        " data, prev_hash, hash FROM events ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    unsigned char prev[32] = { 0 };
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        unsigned char buf[512], md[32];
        size_t n = 0;
        unsigned int mdlen = 0;
        static const char tag[] = "runbook-journal-event-v1";
        putb(buf, &n, tag, sizeof tag); /* with its NUL */
        for (int c = 0; c < 4; c++)
            put64(buf, &n, sqlite3_column_int64(st, c));
        const char *type = (const char *)sqlite3_column_text(st, 4);
        put64(buf, &n, (int64_t)strlen(type));
        putb(buf, &n, type, strlen(type));
        if (sqlite3_column_type(st, 5) == SQLITE_NULL) {
            buf[n++] = 0;
        } else {
            const char *step = (const char *)sqlite3_column_text(st, 5);
            buf[n++] = 1;
            put64(buf, &n, (int64_t)strlen(step));
            putb(buf, &n, step, strlen(step));
        }
        put64(buf, &n, sqlite3_column_int64(st, 6));
        const char *data = (const char *)sqlite3_column_text(st, 7);
        put64(buf, &n, (int64_t)strlen(data));
        putb(buf, &n, data, strlen(data));
        assert_int_equal(sqlite3_column_bytes(st, 8), 32);
        assert_memory_equal(sqlite3_column_blob(st, 8), prev, 32);
        putb(buf, &n, prev, 32);
        assert_true(EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL));
        assert_int_equal(sqlite3_column_bytes(st, 9), 32);
        assert_memory_equal(sqlite3_column_blob(st, 9), md, 32);
        memcpy(prev, md, 32);
        if (rows == 1)
            assert_string_equal(data, "{\"a\":1,\"b\":\"x\"}");
        rows++;
    }
    sqlite3_finalize(st);
    /* The head names the newest event, in the same commit. */
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT event_id, hash FROM chain_head", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 2);
    assert_memory_equal(sqlite3_column_blob(st, 1), prev, 32);
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(rows, 2);
}

/* The stored data is the canonical text: byte for byte what jansson's
 * json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) writes (the journal has its
 * own, faster encoder; this pins the two together). */
static void test_canonical_json(void **state)
{
    fx_t *fx = *state;
    json_t *big = json_object();
    for (int i = 40; i > 0; i--) { /* more keys than the in-place sort takes */
        char k[16];
        snprintf(k, sizeof k, "k%02d", i);
        json_object_set_new(big, k, json_integer(i));
    }
    json_t *vals[] = {
        json_pack("{s:s,s:i,s:b,s:n,s:[i,f,s]}", "zeta", "z", "alpha", 1, "mid", 1, "nul", "arr",
                  -7, 2.5, "x"),
        json_pack("{s:s}", "ctl", "quote\" back\\ nl\n tab\t cr\r bs\b ff\f \x01\x1f del\x7f /"),
        json_pack("{s:s,s:s}", "utf8", "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\xa5",
                  "\xc3\xa9", "accented key"),
        json_pack("[f,f,f,f,f,f,f,f]", 0.1, 1e20, -1.5e-7, 3.0, 1e300, 123456789.125, -0.0,
                  5e-324),
        json_pack("[I,I,i,i]", (json_int_t)INT64_MIN, (json_int_t)INT64_MAX, 0, -1),
        json_pack("{s:{},s:[],s:{s:{s:{}}}}", "o", "a", "deep", "er", "est"),
        json_string("a top-level string"),
        json_pack("[[],{},n,b,b]", 1, 0),
        big,
    };
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r = new_run(j, "canon");
    size_t n = sizeof vals / sizeof *vals;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(vals[i]);
        assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, vals[i]), 0);
    }
    /* Invalid UTF-8 (a string made without jansson's check) and nesting
     * past jansson's own limit are refused, with the reason. */
    json_t *bad = json_pack("{s:o}", "s", json_stringn_nocheck("\xff\xfe", 2));
    assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, bad), RB_EINVAL);
    assert_non_null(strstr(rb_journal_errmsg(j), "not valid JSON"));
    json_decref(bad);
    json_t *deep = json_array(), *cur = deep;
    for (int i = 0; i < 2100; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, deep), RB_EINVAL);
    json_decref(deep);
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);

    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT data FROM events ORDER BY id", -1, &st, NULL),
                     SQLITE_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        char *want = json_dumps(vals[i], JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        assert_non_null(want);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), want);
        free(want);
        json_decref(vals[i]);
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_true(verify_path_ok(fx->db, NULL));
}

static void test_clean_journal_verifies(void **state)
{
    fx_t *fx = *state;
    build(fx, 3, 5);
    json_t *r = NULL;
    assert_true(verify_path_ok(fx->db, &r));
    assert_int_equal(json_integer_value(json_object_get(r, "events")), 15);
    assert_int_equal(json_integer_value(json_object_get(r, "runs")), 3);
    assert_int_equal(json_integer_value(json_object_get(r, "versions")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "first_event_id")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "head"), "event_id")),
                     15);
    assert_int_equal(json_array_size(json_object_get(r, "problems")), 0);
    json_decref(r);

    /* An empty journal verifies too. */
    char path[160];
    snprintf(path, sizeof path, "%s/empty.db", fx->dir);
    rb_journal_close(open_ok(path, 0));
    assert_true(verify_path_ok(path, NULL));
}

static void test_edit_any_column(void **state)
{
    fx_t *fx; /* a fresh fixture for each edit, below */
    static const char *const edits[] = {
        "run_id = 99",  "seq = 9",          "wall_ms = wall_ms + 1", "mono_ns = mono_ns - 1",
        "type = 'x'",   "step = 's2'",      "step = NULL",           "attempt = 7",
        "data = '{}'",  "data = data || ' '", "prev_hash = randomblob(32)",
        "hash = randomblob(32)", "prev_hash = x''",
    };
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        fx_teardown(state);
        fx_setup(state);
        fx = *state;
        build(fx, 3, 5);
        char sql[256];
        /* event #8: run 2, seq 3 */
        snprintf(sql, sizeof sql, "DROP TRIGGER events_no_update; UPDATE events SET %s WHERE id = 8",
                 edits[i]);
        /* A new prev_hash breaks the link, a new hash the content check;
         * both name event #8 (a new hash also unlinks #9, reported after). */
        expect_caught(fx, sql, 8, "");
    }
}

static void test_delete_caught(void **state)
{
    fx_t *fx = *state;
    build(fx, 3, 5);
    expect_caught(fx, "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = 7", 8,
                  "event #7, before it, is missing");
    fx_teardown(state), fx_setup(state), fx = *state;
    build(fx, 3, 5);
    expect_caught(fx, "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = 1", 2,
                  "event #1, before it, is missing");
    /* The newest event of the newest run: only the head can tell. */
    fx_teardown(state), fx_setup(state), fx = *state;
    build(fx, 3, 5);
    expect_caught(fx, "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = 15", 15,
                  "the newest event was deleted");
    /* The whole newest run, with its row. */
    fx_teardown(state), fx_setup(state), fx = *state;
    build(fx, 3, 5);
    sql_exec(fx->db, "DROP TRIGGER events_no_delete; DELETE FROM events WHERE run_id = 3;"
                     " DELETE FROM runs WHERE id = 3");
    json_t *r = NULL;
    assert_false(verify_path_ok(fx->db, &r));
    assert_int_equal(first_problem_int(r, "event_id"), 4); /* #3 was the first of run 3 */
    json_decref(r);
    /* The head itself. */
    fx_teardown(state), fx_setup(state), fx = *state;
    build(fx, 2, 2);
    expect_caught(fx, "DROP TRIGGER chain_head_no_delete; DELETE FROM chain_head", -1,
                  "chain head record is missing");
    /* A run's row, its events left. */
    fx_teardown(state), fx_setup(state), fx = *state;
    build(fx, 2, 2);
    expect_caught(fx, "DELETE FROM runs WHERE id = 2", 2, "no record in the runs table");
}

static void test_insert_caught(void **state)
{
    fx_t *fx = *state;
    build(fx, 2, 3);
    /* A copy of the newest event as a new one: its hash is not its own. */
    expect_caught(fx,
                  "INSERT INTO events SELECT 7, run_id, seq + 1, wall_ms, mono_ns, type, step,"
                  " attempt, data, hash, hash FROM events WHERE id = 6",
                  7, "does not match its hash");
    /* In the middle: ids shifted up to make room. */
    fx_teardown(state), fx_setup(state), fx = *state;
    build(fx, 2, 3);
    expect_caught(fx,
                  "DROP TRIGGER events_no_update;"
                  " UPDATE events SET id = id + 100 WHERE id > 3;"
                  " UPDATE events SET id = id - 99 WHERE id > 100;"
                  " INSERT INTO events SELECT 4, run_id, seq + 50, wall_ms, mono_ns, 'log', step,"
                  " attempt, '{}', hash, randomblob(32) FROM events WHERE id = 3",
                  4, "does not match its hash");
}

static void test_reorder_caught(void **state)
{
    fx_t *fx = *state;
    build(fx, 3, 5);
    /* Swap events #4 and #5 (two runs' events). */
    expect_caught(fx,
                  "DROP TRIGGER events_no_update;"
                  " UPDATE events SET id = 0 WHERE id = 4;"
                  " UPDATE events SET id = 4 WHERE id = 5;"
                  " UPDATE events SET id = 5 WHERE id = 0",
                  4, "does not follow event #3");
    /* Two events of one run swap their seqs (same ids): content edited. */
    fx_teardown(state), fx_setup(state), fx = *state;
    build(fx, 1, 4);
    expect_caught(fx,
                  "DROP TRIGGER events_no_update;"
                  " UPDATE events SET seq = 0 WHERE seq = 2;"
                  " UPDATE events SET seq = 2 WHERE seq = 3;"
                  " UPDATE events SET seq = 3 WHERE seq = 0",
                  2, "does not match its hash");
    /* Delete one and renumber the rest down: no gap, but a broken link. */
    fx_teardown(state), fx_setup(state), fx = *state;
    build(fx, 3, 5);
    expect_caught(fx,
                  "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;"
                  " DROP TRIGGER chain_head_follows;"
                  " DELETE FROM events WHERE id = 9;"
                  " UPDATE events SET id = id - 1 WHERE id > 9;"
                  " UPDATE chain_head SET event_id = 14, hash = (SELECT hash FROM events"
                  " WHERE id = 14)",
                  9, "does not follow event #8");
}

static void test_version_text_edit_caught(void **state)
{
    fx_t *fx = *state;
    build(fx, 1, 2);
    expect_caught(fx, "DROP TRIGGER versions_no_update; UPDATE versions SET source = 'x'", -1,
                  "does not match its SHA-256");
}

/* While the triggers stand, none of this gets in. */
static void test_triggers_refuse(void **state)
{
    fx_t *fx = *state;
    build(fx, 2, 3);
    static const struct {
        const char *sql, *why;
    } cases[] = {
        { "UPDATE events SET data = '{}' WHERE id = 2", "events are append-only" },
        { "DELETE FROM events WHERE id = 6", "events are append-only" },
        { "UPDATE chain_head SET event_id = 5, hash = (SELECT hash FROM events WHERE id = 5)",
          "chain head can only move to the newest event" },
        { "UPDATE chain_head SET hash = zeroblob(32)", "chain head" },
        { "DELETE FROM chain_head", "cannot be deleted" },
        { "INSERT INTO chain_head VALUES (2, 0, zeroblob(32))", "CHECK constraint" },
        { "INSERT INTO checkpoints VALUES (1, 0, 0, 3, zeroblob(32), 1, 3, zeroblob(32),"
          " zeroblob(32))", "checkpoint must cut the chain at an existing event" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *msg = sql_refused(fx->db, cases[i].sql);
        if (!msg)
            fail_msg("not refused: %s", cases[i].sql);
        // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): fail_msg above does not return
        if (!strstr(msg, cases[i].why))
            fail_msg("%s: \"%s\"", cases[i].sql, msg);
        free(msg);
    }
    assert_true(verify_path_ok(fx->db, NULL));
}

static void test_prune_then_verify(void **state)
{
    fx_t *fx = *state;
    build(fx, 3, 4); /* all finished now */
    sql_exec(fx->db, "INSERT INTO alerts(fingerprint, starts_at, received_at, payload, run_id)"
                     " VALUES ('f1', '2025-01-01T00:00:00Z', 0, '{}', 2)");
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t keep = new_run(j, "disk-full"); /* open: stays */
    assert_int_equal(rb_journal_event(j, keep, "run_started", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    int64_t before = sql_int(fx->db, "SELECT max(ended_at) FROM runs") + 1;

    json_t *r = NULL;
    assert_int_equal(rb_journal_prune(j, before, 1, &r), 0); /* dry run */
    assert_int_equal(json_integer_value(json_object_get(r, "pruned_runs")), 3);
    json_decref(r);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 13);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM checkpoints"), 0);

    assert_int_equal(rb_journal_prune(j, before, 0, &r), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "pruned_runs")), 3);
    assert_int_equal(json_integer_value(json_object_get(r, "pruned_events")), 12);
    assert_int_equal(json_integer_value(json_object_get(r, "kept_runs")), 0);
    json_t *cp = json_object_get(r, "checkpoint");
    assert_int_equal(json_integer_value(json_object_get(cp, "cut_event_id")), 12);
    json_decref(r);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 1);
    assert_int_equal(sql_int(fx->db, "SELECT min(id) FROM events"), 13);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM alerts"), 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM versions"), 1); /* the open run's */
    assert_true(verify_path_ok(fx->db, NULL));

    /* Writing goes on after the cut; ids are not reused. */
    assert_int_equal(rb_journal_event(j, keep, "run_finished", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_run_status(j, keep, "succeeded", 1), 0);
    int64_t next = new_run(j, "oom");
    assert_true(next > keep);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_true(verify_path_ok(fx->db, NULL));

    /* Everything: the chain resumes at the second checkpoint's cut. */
    assert_int_equal(rb_journal_prune(j, sql_int(fx->db, "SELECT max(ended_at) FROM runs") + 1, 0,
                                      &r), 0);
    json_decref(r);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM checkpoints"), 2);
    json_t *rep = NULL;
    assert_true(verify_path_ok(fx->db, &rep));
    assert_int_equal(json_array_size(json_object_get(rep, "checkpoints")), 2);
    json_decref(rep);
    assert_int_equal(rb_journal_event(j, next, "run_started", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);
    assert_true(verify_path_ok(fx->db, NULL));
    assert_int_equal(sql_int(fx->db, "SELECT min(id) FROM events"), 15);

    /* Deleting above the cut is still refused. */
    char *msg = sql_refused(fx->db, "DELETE FROM events");
    assert_non_null(msg);
    assert_non_null(strstr(msg, "append-only"));
    free(msg);
}

/* A finished run whose events interleave with one that stays cannot go
 * without splitting the chain: it is kept, and said so. */
static void test_prune_interleaved_keeps(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t a = new_run(j, "a"), b = new_run(j, "b"), c = new_run(j, "c");
    assert_int_equal(rb_journal_event(j, a, "run_started", NULL, 0, NULL), 0); /* 1 */
    assert_int_equal(rb_journal_event(j, a, "run_finished", NULL, 0, NULL), 0); /* 2 */
    assert_int_equal(rb_journal_event(j, b, "run_started", NULL, 0, NULL), 0); /* 3 */
    assert_int_equal(rb_journal_event(j, c, "run_started", NULL, 0, NULL), 0); /* 4: c stays */
    assert_int_equal(rb_journal_event(j, b, "run_finished", NULL, 0, NULL), 0); /* 5 */
    assert_int_equal(rb_journal_run_status(j, a, "succeeded", 1), 0);
    assert_int_equal(rb_journal_run_status(j, b, "succeeded", 1), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    json_t *r = NULL;
    assert_int_equal(rb_journal_prune(j, sql_int(fx->db, "SELECT max(ended_at) FROM runs") + 1,
                                      0, &r), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "pruned_runs")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "pruned_events")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "kept_runs")), 1);
    json_decref(r);
    rb_journal_close(j);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM runs WHERE id IN (2, 3)"), 2);
    assert_int_equal(sql_int(fx->db, "SELECT min(id) FROM events"), 3);
    assert_true(verify_path_ok(fx->db, NULL));
}

static void test_prune_then_tamper_caught(void **state)
{
    fx_t *fx = *state;
    build(fx, 2, 3);
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r3 = new_run(j, "stays");
    for (int i = 0; i < 3; i++)
        assert_int_equal(rb_journal_event(j, r3, "log", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    json_t *r = NULL;
    assert_int_equal(rb_journal_prune(j, sql_int(fx->db, "SELECT max(ended_at) FROM runs") + 1,
                                      0, &r), 0);
    json_decref(r);
    rb_journal_close(j);
    assert_true(verify_path_ok(fx->db, NULL));
    char copy[256];
    snprintf(copy, sizeof copy, "cp %s %s/clean.db", fx->db, fx->dir);
    assert_int_equal(system(copy), 0);

    /* An event that remains, edited. */
    expect_caught(fx, "DROP TRIGGER events_no_update; UPDATE events SET data = '{\"x\":1}'"
                      " WHERE id = 8", 8, "does not match its hash");
    /* The first event after the cut, deleted (a prefix hidden behind the
     * checkpoint). */
    snprintf(copy, sizeof copy, "cp %s/clean.db %s", fx->dir, fx->db);
    assert_int_equal(system(copy), 0);
    expect_caught(fx, "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = 7", 8,
                  "event #7, before it, is missing");
    /* The checkpoint moved to hide more. */
    assert_int_equal(system(copy), 0);
    expect_caught(fx, "DROP TRIGGER checkpoints_no_update; UPDATE checkpoints SET cut_event_id = 7",
                  -1, "checkpoint 1: its content does not match its hash");
}

/* A journal written by version 1 (no chain) is migrated on open: its
 * events chained in insertion order, the owners' columns added, and the
 * same shape as a new journal. */
static void test_migrate_from_v1(void **state)
{
    fx_t *fx = *state;
    const char *src = getenv("RB_SOURCE_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/journal/v1.sql", src ? src : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char v1[16384];
    size_t n = fread(v1, 1, sizeof v1 - 1, f);
    fclose(f);
    v1[n] = '\0';
    sqlite3 *db;
    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO versions VALUES ('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e7"
                     "3043362938b9824', 'x', NULL, 'hello', 1);"
                     "INSERT INTO runs(runbook, sha256, status, params, started_at, ended_at)"
                     " VALUES ('x', '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',"
                     " 'succeeded', '{}', 1, 2);"
                     "INSERT INTO runs(runbook, status, params, started_at) VALUES ('y', 'succeeded',"
                     " '{}', 1);"
                     "UPDATE runs SET ended_at = 3 WHERE id = 2;"
                     "INSERT INTO events VALUES (2, 1, 10, 20, 'run_started', NULL, 0, '{\"b\":1,\"a\":2}');"
                     "INSERT INTO events VALUES (1, 1, 11, 21, 'run_started', NULL, 0, '{}');"
                     "INSERT INTO events VALUES (1, 2, 12, 22, 'step_started', 'a', 1, '{}');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    /* Read-only cannot migrate: it says how. */
    rb_journal_t *j = NULL;
    char err[512];
    assert_int_equal(rb_journal_open(fx->db, RB_JOURNAL_READONLY, &j, err, sizeof err),
                     RB_EJOURNAL);
    assert_non_null(strstr(err, "open it once read-write"));

    j = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_event(j, 1, "run_finished", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);
    assert_int_equal(sql_int(fx->db, "PRAGMA user_version"), 6);
    /* Insertion order, and the v1 text kept byte for byte. */
    assert_int_equal(sql_int(fx->db, "SELECT run_id FROM events WHERE id = 1"), 2);
    assert_int_equal(sql_int(fx->db, "SELECT data = '{\"b\":1,\"a\":2}' FROM events WHERE id = 1"),
                     1);
    assert_int_equal(sql_int(fx->db, "SELECT seq FROM events WHERE id = 4"), 3);
    json_t *r = NULL;
    assert_true(verify_path_ok(fx->db, &r));
    assert_int_equal(json_integer_value(json_object_get(r, "events")), 4);
    json_decref(r);

    /* The same tables, columns, indexes and triggers as a new journal. */
    char fresh[160];
    snprintf(fresh, sizeof fresh, "%s/fresh.db", fx->dir);
    rb_journal_close(open_ok(fresh, 0));
    static const char *const shape =
        "SELECT group_concat(x, ';') FROM (SELECT m.type || ':' || m.name || ':' ||"
        " coalesce((SELECT group_concat(p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' ' ||"
        " coalesce(p.dflt_value, '') || ' ' || p.pk, ',') FROM pragma_table_info(m.name) p), '')"
        " AS x FROM sqlite_master m WHERE m.name NOT LIKE 'sqlite_%' ORDER BY m.type, m.name)";
    sqlite3 *a, *b;
    sqlite3_stmt *sa, *sb;
    assert_int_equal(sqlite3_open(fx->db, &a), SQLITE_OK);
    assert_int_equal(sqlite3_open(fresh, &b), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(a, shape, -1, &sa, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(b, shape, -1, &sb, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(sa), SQLITE_ROW);
    assert_int_equal(sqlite3_step(sb), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(sa, 0),
                        (const char *)sqlite3_column_text(sb, 0));
    sqlite3_finalize(sa);
    sqlite3_finalize(sb);
    sqlite3_close(a);
    sqlite3_close(b);
}

/* rb_journal_verify_run(r) reads only run r's events (and the head, the
 * checkpoints, r's version and status), yet finds what the whole verify
 * finds about them: for every attack, every run's findings are exactly the
 * whole verify's findings on that run's events and on the records every
 * run shares (head, checkpoints, versions: there is one here), in the
 * same order with the same words, and a runs-table edit of another run is
 * not this run's. Runs interleave, so each run's links cross the others'. */
static void expect_run_findings_match(fx_t *fx, const char *attack, int nruns)
{
    if (attack)
        sql_exec(fx->db, attack);
    json_t *all = NULL;
    verify_path_ok(fx->db, &all);
    rb_journal_t *j = open_ok(fx->db, RB_JOURNAL_READONLY);
    for (int64_t run = 1; run <= nruns; run++) {
        json_t *mine = NULL;
        assert_int_equal(rb_journal_verify_run(j, run, &mine), 0);
        json_t *want = json_array();
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(all, "problems"), i, p) {
            const json_t *rid = json_object_get(p, "run_id");
            long long other = 0;
            const char *what = json_string_value(json_object_get(p, "what"));
            if (json_is_integer(rid) ? json_integer_value(rid) == run
                                     : !(sscanf(what, "run %lld:", &other) == 1 && other != run))
                json_array_append(want, p);
        }
        if (!json_equal(want, json_object_get(mine, "problems"))) {
            char *a = json_dumps(want, JSON_COMPACT), *b = json_dumps(mine, JSON_COMPACT);
            fail_msg("%s: run %lld: verify says %s, verify_run says %s", attack ? attack : "(none)",
                     (long long)run, a, b);
        }
        assert_int_equal(json_is_true(json_object_get(mine, "ok")), json_array_size(want) == 0);
        json_decref(want);
        json_decref(mine);
    }
    rb_journal_close(j);
    json_decref(all);
}

static void test_verify_run_matches_verify(void **state)
{
    static const char *const attacks[] = {
        NULL,
        "DROP TRIGGER events_no_update; UPDATE events SET data = '{}' WHERE id = 8",
        "DROP TRIGGER events_no_update; UPDATE events SET prev_hash = randomblob(32) WHERE id = 8",
        "DROP TRIGGER events_no_update; UPDATE events SET hash = randomblob(32) WHERE id = 8",
        "DROP TRIGGER events_no_update; UPDATE events SET prev_hash = x'' WHERE id = 8",
        "DROP TRIGGER events_no_update; UPDATE events SET hash = x'00' WHERE id = 7",
        "DROP TRIGGER events_no_update; UPDATE events SET run_id = 1, seq = 9 WHERE id = 8",
        "DROP TRIGGER events_no_update; UPDATE events SET seq = 9 WHERE id = 8",
        "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = 7",
        "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = 1",
        "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id IN (5, 6, 7)",
        "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = 15",
        "DROP TRIGGER events_no_delete; DELETE FROM events WHERE run_id = 3;"
        " DELETE FROM runs WHERE id = 3",
        "DROP TRIGGER chain_head_no_delete; DELETE FROM chain_head",
        "INSERT INTO events SELECT 16, run_id, seq + 1, wall_ms, mono_ns, type, step,"
        " attempt, data, hash, hash FROM events WHERE id = 15",
        /* two runs' events swap places */
        "DROP TRIGGER events_no_update; UPDATE events SET id = 0 WHERE id = 4;"
        " UPDATE events SET id = 4 WHERE id = 5; UPDATE events SET id = 5 WHERE id = 0",
        /* two events of run 1 swap ids: its seq order is no longer its id
         * order (the walk in id order) */
        "DROP TRIGGER events_no_update; UPDATE events SET id = 0 WHERE id = 4;"
        " UPDATE events SET id = 4 WHERE id = 7; UPDATE events SET id = 7 WHERE id = 0",
        "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;"
        " DROP TRIGGER chain_head_follows; DELETE FROM events WHERE id = 9;"
        " UPDATE events SET id = id - 1 WHERE id > 9;"
        " UPDATE chain_head SET event_id = 14, hash = (SELECT hash FROM events WHERE id = 14)",
        "DROP TRIGGER versions_no_update; UPDATE versions SET source = 'x'",
        "UPDATE runs SET status = 'failed' WHERE id = 2",
    };
    for (size_t i = 0; i < sizeof attacks / sizeof *attacks; i++) {
        if (i) {
            fx_teardown(state);
            fx_setup(state);
        }
        fx_t *fx = *state;
        build(fx, 3, 5);
        expect_run_findings_match(fx, attacks[i], 3);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_hash_encoding),
        T(test_canonical_json),
        T(test_clean_journal_verifies),
        T(test_edit_any_column),
        T(test_delete_caught),
        T(test_insert_caught),
        T(test_reorder_caught),
        T(test_version_text_edit_caught),
        T(test_verify_run_matches_verify),
        T(test_triggers_refuse),
        T(test_prune_then_verify),
        T(test_prune_interleaved_keeps),
        T(test_prune_then_tamper_caught),
        T(test_migrate_from_v1),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
