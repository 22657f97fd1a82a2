/*
 * test_journal_writer.c — the journal in writer mode on a real uv loop:
 * many runs appending concurrently from one loop with flush callbacks that
 * come back in the order of the flush calls and only once the records are
 * visible to another connection; group commit (fewer commits than
 * flushes); run ids reserved ahead and unique beside another writer; seq
 * and the hash chain right when another handle writes the same run between
 * batches; sync in writer mode; detach and close with flushes pending; a
 * failed commit (disk full) surfacing through the callback and staying
 * failed, with nothing acknowledged lost. Every test ends with the loop
 * closing with no handle left.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "journal_fixture.h"

#include <uv.h>

static void close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT); /* the async handle's close callback */
    assert_int_equal(uv_loop_close(loop), 0);
}

/* ---- many runs, one loop ------------------------------------------------------- */

#define NRUNS  200
#define NSTEPS 5

typedef struct trun trun_t;

typedef struct {
    rb_journal_t *j;
    const char *db;
    int calls;      /* flush calls made */
    int next;       /* the call number the next callback must carry */
    int in_flush;   /* inside rb_journal_flush: a callback now would be synchronous */
    int finished;
    int64_t appended;
    int64_t at_check; /* appended when the durability check was asked for */
    int check_call;   /* its flush call number */
} world_t;

struct trun {
    world_t *w;
    int64_t id;
    int step;
};

typedef struct {
    trun_t *run;
    int call;
    int64_t appended; /* events appended before the flush */
} tflush_t;

static void step_flushed(int status, void *arg);

static void flush_now(trun_t *r)
{
    tflush_t *f = malloc(sizeof *f);
    assert_non_null(f);
    f->run = r;
    f->call = r->w->calls++;
    f->appended = r->w->appended;
    r->w->in_flush = 1;
    assert_int_equal(rb_journal_flush(r->w->j, step_flushed, f), 0);
    r->w->in_flush = 0;
}

static void append(trun_t *r, const char *type, const char *step)
{
    json_t *d = json_pack("{s:i,s:s}", "step", r->step, "out", "some output of the step");
    assert_int_equal(rb_journal_event(r->w->j, r->id, type, step, 0, d), 0);
    json_decref(d);
    r->w->appended++;
}

/* A run as run.c drives one: each step's intent, flushed before the step
 * "runs"; its attempt and result ride along with the next intent. */
static void step_flushed(int status, void *arg)
{
    tflush_t *f = arg;
    trun_t *r = f->run;
    world_t *w = r->w;
    assert_int_equal(status, 0);
    assert_false(w->in_flush);
    /* In the order of the flush calls … */
    assert_int_equal(f->call, w->next);
    w->next++;
    free(f);
    if (r->step == NSTEPS) {
        w->finished++;
        return;
    }
    append(r, "attempt_started", "s");
    append(r, "step_finished", "s");
    r->step++;
    if (r->step == NSTEPS) {
        append(r, "run_finished", NULL);
        assert_int_equal(rb_journal_run_status(w->j, r->id, "succeeded", 1), 0);
    } else {
        append(r, "step_started", "s");
    }
    flush_now(r);
}

/* … and only once what came before is durable: another connection sees it. */
static void durable_check(int status, void *arg)
{
    world_t *w = arg;
    assert_int_equal(status, 0);
    assert_int_equal(w->check_call, w->next);
    w->next++;
    assert_true(w->at_check > 0);
    assert_true(sql_int(w->db, "SELECT count(*) FROM events") >= w->at_check);
    w->finished++;
}

static void test_many_runs_one_loop(void **state)
{
    fx_t *fx = *state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    world_t w = { .db = fx->db };
    w.j = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_attach_loop(w.j, &loop), 0);
    assert_int_equal(rb_journal_attach_loop(w.j, &loop), RB_EINVAL);

    static trun_t runs[NRUNS];
    char sha[65];
    const char *src = "apiVersion: runbook/v1\nname: many\n";
    assert_int_equal(rb_journal_put_version(w.j, "many", NULL, src, strlen(src), sha), 0);
    for (int i = 0; i < NRUNS; i++) {
        runs[i] = (trun_t){ .w = &w };
        assert_int_equal(rb_journal_run_create(w.j, "many", sha, NULL, "test", &runs[i].id), 0);
        append(&runs[i], "run_started", NULL);
        append(&runs[i], "step_started", "s");
        flush_now(&runs[i]);
    }
    /* A check of durability from the middle of it all. */
    w.at_check = w.appended;
    w.check_call = w.calls++;
    w.in_flush = 1;
    assert_int_equal(rb_journal_flush(w.j, durable_check, &w), 0);
    w.in_flush = 0;
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(w.finished, NRUNS + 1);
    assert_int_equal(w.next, w.calls);

    rb_journal_stats_t st;
    rb_journal_stats(w.j, &st);
    /* Group commit: far fewer commits than flushes. */
    print_message("commits %llu for %d flushes (max batch %llu)\n", (unsigned long long)st.commits, w.calls, (unsigned long long)st.max_batch);
    assert_true(st.commits < (uint64_t)w.calls / 4);
    assert_int_equal(st.events, (uint64_t)w.appended);
    assert_int_equal(rb_journal_detach_loop(w.j), 0);
    rb_journal_close(w.j);
    close_loop(&loop);

    /* Every run: ids 1..NRUNS, its events in the order appended. */
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM runs"), NRUNS);
    assert_int_equal(sql_int(fx->db, "SELECT max(id) FROM runs"), NRUNS);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), w.appended);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM (SELECT run_id FROM events GROUP BY"
                                     " run_id HAVING max(seq) = count(*) AND min(seq) = 1)"),
                     NRUNS);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events a JOIN events b ON"
                                     " a.run_id = b.run_id AND b.seq = a.seq + 1"
                                     " WHERE b.id < a.id OR json_extract(b.data, '$.step') <"
                                     " json_extract(a.data, '$.step')"),
                     0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM runs WHERE status = 'succeeded'"),
                     NRUNS);
    assert_true(verify_path_ok(fx->db, NULL));
}

/* ---- small cases ------------------------------------------------------------------- */

typedef struct {
    int called;
    int status;
    int order[8];
    int n;
} counter_t;

static void count_cb(int status, void *arg)
{
    counter_t *c = arg;
    c->called++;
    c->status = status;
}

typedef struct {
    counter_t *c;
    int no;
} ordered_t;

static void ordered_cb(int status, void *arg)
{
    ordered_t *o = arg;
    o->c->order[o->c->n++] = o->no;
    o->c->status = status;
}

static void test_flush_basics(void **state)
{
    fx_t *fx = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_journal_t *j = open_ok(fx->db, 0);
    counter_t c = { 0 };
    /* Not attached: refused, and the callback is never called. */
    assert_int_equal(rb_journal_flush(j, count_cb, &c), RB_EINVAL);
    assert_int_equal(rb_journal_attach_loop(j, &loop), 0);
    assert_int_equal(rb_journal_flush(j, NULL, NULL), RB_EINVAL);

    /* Nothing appended: still answered, from the loop, not from the call. */
    assert_int_equal(rb_journal_flush(j, count_cb, &c), 0);
    assert_int_equal(c.called, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.called, 1);
    assert_int_equal(c.status, 0);

    /* Three flushes, three callbacks, in order. */
    int64_t r = new_run(j, "t");
    ordered_t o[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, NULL), 0);
        o[i] = (ordered_t){ &c, i };
        assert_int_equal(rb_journal_flush(j, ordered_cb, &o[i]), 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.order[0], 0);
    assert_int_equal(c.order[1], 1);
    assert_int_equal(c.order[2], 2);

    /* sync blocks until durable, in writer mode too. */
    assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 4);

    /* Reads work beside the writer. */
    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(j, r, &run), 0);
    assert_int_equal(json_array_size(json_object_get(run, "events")), 4);
    json_decref(run);

    /* Detach with a flush waiting: called from inside detach, status 0. */
    assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, NULL), 0);
    c.called = 0;
    c.status = -1;
    assert_int_equal(rb_journal_flush(j, count_cb, &c), 0);
    assert_int_equal(rb_journal_detach_loop(j), 0);
    assert_int_equal(c.called, 1);
    assert_int_equal(c.status, 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 5);
    /* Direct mode again. */
    assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(rb_journal_detach_loop(j), 0);
    rb_journal_close(j);
    close_loop(&loop);
    assert_true(verify_path_ok(fx->db, NULL));
}

/* rb_journal_close while attached: drains, calls back, and the loop still
 * closes clean. Events appended without a flush are not lost either. */
static void test_close_attached(void **state)
{
    fx_t *fx = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_journal_t *j = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_attach_loop(j, &loop), 0);
    int64_t r = new_run(j, "t");
    for (int i = 0; i < 50; i++)
        assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, NULL), 0);
    counter_t c = { 0 };
    assert_int_equal(rb_journal_flush(j, count_cb, &c), 0);
    rb_journal_close(j);
    assert_int_equal(c.called, 1);
    close_loop(&loop);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 50);
}

/* Unflushed events reach the disk on their own, soon (the linger). */
static void test_commits_without_flush(void **state)
{
    fx_t *fx = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_journal_t *j = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_attach_loop(j, &loop), 0);
    int64_t r = new_run(j, "t");
    assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, NULL), 0);
    /* No timing assertion: wait as long as it takes. */
    while (sql_int(fx->db, "SELECT count(*) FROM events") != 1)
        uv_sleep(5);
    rb_journal_close(j);
    close_loop(&loop);
}

/* The same once the writer has gone quiet: after a commit and a pause
 * longer than the linger, an event appended while the loop does not turn
 * (a callback that blocks it, an embedder between two uv_run calls) still
 * reaches the disk on its own. The writer used to hear of a record only
 * at the end of a loop iteration, so this waited forever. */
static void test_commits_after_a_quiet_spell(void **state)
{
    fx_t *fx = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_journal_t *j = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_attach_loop(j, &loop), 0);
    int64_t r = new_run(j, "t");
    assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    uv_sleep(3 * 100); /* quiet for longer than the writer's linger */
    assert_int_equal(rb_journal_event(j, r, "log", NULL, 0, NULL), 0);
    /* No timing assertion: wait as long as it takes. */
    while (sql_int(fx->db, "SELECT count(*) FROM events") != 2)
        uv_sleep(5);
    rb_journal_close(j);
    close_loop(&loop);
}

/* Run ids come from blocks reserved in the file: unique beside another
 * writer, and given back at detach so a lone process keeps 1, 2, 3 … */
static void test_run_ids(void **state)
{
    fx_t *fx = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_journal_t *j = open_ok(fx->db, 0), *other = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_attach_loop(j, &loop), 0);
    int64_t ids[300], o1 = new_run(other, "other");
    assert_int_equal(rb_journal_sync(other), 0);
    /* A burst far bigger than the first block. */
    for (int i = 0; i < 300; i++)
        assert_int_equal(rb_journal_run_create(j, "t", NULL, NULL, "test", &ids[i]), 0);
    int64_t o2 = new_run(other, "other");
    assert_int_equal(rb_journal_sync(other), 0);
    for (int i = 0; i < 300; i++) {
        assert_true(ids[i] != o1 && ids[i] != o2);
        if (i)
            assert_true(ids[i] > ids[i - 1]);
    }
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(rb_journal_detach_loop(j), 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM runs"), 302);
    /* After detach, the next run follows the newest one. */
    int64_t last = sql_int(fx->db, "SELECT max(id) FROM runs");
    int64_t next = new_run(j, "t");
    assert_int_equal(next, last + 1);
    rb_journal_close(j);
    rb_journal_close(other);
    close_loop(&loop);

    /* A lone process: 1, 2, 3 … with no gap across attach/detach. */
    char path[160];
    snprintf(path, sizeof path, "%s/lone.db", fx->dir);
    uv_loop_init(&loop);
    j = open_ok(path, 0);
    assert_int_equal(new_run(j, "t"), 1);
    assert_int_equal(rb_journal_attach_loop(j, &loop), 0);
    assert_int_equal(new_run(j, "t"), 2);
    assert_int_equal(rb_journal_detach_loop(j), 0);
    assert_int_equal(new_run(j, "t"), 3);
    rb_journal_close(j);
    close_loop(&loop);
}

/* Another handle appends to the same run between the writer's batches:
 * seq stays 1, 2, 3 … and the chain whole (the writer's seq cache must
 * notice the chain moved under it). */
static void test_seq_with_another_writer(void **state)
{
    fx_t *fx = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_journal_t *j = open_ok(fx->db, 0), *other = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_attach_loop(j, &loop), 0);
    int64_t r = new_run(j, "t");
    for (int i = 0; i < 10; i++) {
        assert_int_equal(rb_journal_event(j, r, "log", "a", i, NULL), 0);
        assert_int_equal(rb_journal_sync(j), 0);
        assert_int_equal(rb_journal_event(other, r, "log", "b", i, NULL), 0);
        assert_int_equal(rb_journal_sync(other), 0);
    }
    rb_journal_close(j);
    rb_journal_close(other);
    close_loop(&loop);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events"), 20);
    assert_int_equal(sql_int(fx->db, "SELECT max(seq) FROM events"), 20);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events WHERE seq % 2 = 1 AND step = 'a'"),
                     10);
    assert_true(verify_path_ok(fx->db, NULL));
}

/* ---- a failed commit -------------------------------------------------------------- */

typedef struct {
    rb_journal_t *j;
    int64_t run;
    int64_t appended, acked;
    int failures, ok_after_failure, rounds;
    char msg[512];
} full_t;

static void full_round(full_t *f);

static void full_flushed(int status, void *arg)
{
    full_t *f = arg;
    if (status == 0) {
        if (f->failures)
            f->ok_after_failure++;
        f->acked = f->appended;
        full_round(f);
        return;
    }
    f->failures++;
    assert_int_equal(status, RB_EJOURNAL);
    snprintf(f->msg, sizeof f->msg, "%s", rb_journal_errmsg(f->j));
    /* Sticky: no more appends, and a new flush fails too. */
    assert_int_equal(rb_journal_event(f->j, f->run, "log", NULL, 0, NULL), RB_EJOURNAL);
    if (f->failures == 1)
        assert_int_equal(rb_journal_flush(f->j, full_flushed, f), 0);
}

static void full_round(full_t *f)
{
    static char big[4000];
    memset(big, 'x', sizeof big - 1);
    json_t *d = json_pack("{s:s}", "stdout", big);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rb_journal_event(f->j, f->run, "attempt_finished", "a", 1, d), 0);
        f->appended++;
    }
    json_decref(d);
    f->rounds++;
    assert_true(f->rounds < 10000);
    assert_int_equal(rb_journal_flush(f->j, full_flushed, f), 0);
}

static void test_disk_full_through_callback(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r = new_run(j, "t");
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);
    char cap[32];
    snprintf(cap, sizeof cap, "%lld", (long long)sql_int(fx->db, "PRAGMA page_count") + 8);
    setenv("RUNBOOK_JOURNAL_MAX_PAGES", cap, 1);

    uv_loop_t loop;
    uv_loop_init(&loop);
    full_t f = { .run = r };
    f.j = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_attach_loop(f.j, &loop), 0);
    full_round(&f);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(f.failures, 2);
    assert_int_equal(f.ok_after_failure, 0);
    assert_true(f.acked > 0);
    assert_non_null(strstr(f.msg, "database or disk is full"));
    assert_non_null(strstr(f.msg, fx->db));
    assert_int_equal(rb_journal_sync(f.j), RB_EJOURNAL);
    int64_t id;
    assert_int_equal(rb_journal_run_create(f.j, "t", NULL, NULL, "x", &id), RB_EJOURNAL);
    assert_int_equal(rb_journal_detach_loop(f.j), RB_EJOURNAL);
    rb_journal_close(f.j);
    close_loop(&loop);
    unsetenv("RUNBOOK_JOURNAL_MAX_PAGES");

    /* Nothing acknowledged is missing; the file and the chain are sound. */
    assert_true(sql_int(fx->db, "SELECT count(*) FROM events") >= f.acked);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(fx->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_true(verify_path_ok(fx->db, NULL));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_many_runs_one_loop),
        T(test_flush_basics),
        T(test_close_attached),
        T(test_commits_without_flush),
        T(test_commits_after_a_quiet_spell),
        T(test_run_ids),
        T(test_seq_with_another_writer),
        T(test_disk_full_through_callback),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
