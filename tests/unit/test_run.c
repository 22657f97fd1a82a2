/*
 * test_run.c — the run state machine end to end on a real loop: real
 * processes through the exec action, a real journal file. Each test writes
 * a runbook to a temp dir, runs it, and checks the results, the journal's
 * events and that the loop closes with no handle left.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "diag.h"
#include "journal.h"
#include "run.h"
#include "runbook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
    char dir[64];
    char path[128];
    rb_journal_t *j;
    int done_calls;
    int events;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/rb-test-run-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char db[128], err[256];
    snprintf(db, sizeof(db), "%s/j.db", f->dir);
    assert_int_equal(rb_journal_open(db, 0, &f->j, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    rb_journal_close(f->j);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static rb_runbook_t *load(fixture_t *f, const char *yaml)
{
    snprintf(f->path, sizeof(f->path), "%s/rb.yaml", f->dir);
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs(yaml, fp);
    fclose(fp);
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    int rc = rb_runbook_load(f->path, d, &rb);
    if (rc != 0)
        rb_diags_print(d, stderr, 0);
    rb_diags_free(d);
    assert_int_equal(rc, 0);
    return rb;
}

static void on_done(rb_run_t *r, void *arg) { ((fixture_t *)arg)->done_calls++; }
static void on_ev(rb_run_t *r, const char *t, const char *s, int a, const json_t *d, void *arg)
{
    ((fixture_t *)arg)->events++;
}

/* Runs rb to the end; returns the final context (a new reference) and the
 * status in *status (static string). */
static json_t *run_it(fixture_t *f, rb_runbook_t *rb, json_t *params, const char **status,
                      int64_t *id)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_run_opts_t o = {params, NULL, "test", 0};
    rb_run_t *r = NULL;
    char err[256] = "";
    int rc = rb_run_new(&loop, rb, f->j, &o, &r, err, sizeof(err));
    if (rc)
        fprintf(stderr, "rb_run_new: %s\n", err);
    assert_int_equal(rc, 0);
    f->done_calls = 0;
    assert_int_equal(rb_run_start(r, on_ev, on_done, f), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(f->done_calls, 1);
    *status = rb_run_status(r);
    if (id)
        *id = rb_run_id(r);
    json_t *ctx = json_deep_copy(rb_run_context(r));
    rb_run_free(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return ctx;
}

static const json_t *step(const json_t *ctx, const char *name)
{
    return json_object_get(json_object_get(ctx, "steps"), name);
}

static void count_events(fixture_t *f, int64_t id, const char *type, int want)
{
    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(f->j, id, &run), 0);
    json_t *evs = json_object_get(run, "events");
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e) n += !strcmp(json_string_value(json_object_get(e, "type")), type);
    json_decref(run);
    assert_int_equal(n, want);
}

static void test_steps_pass_results_on(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\n"
                               "params: { who: { default: world } }\n"
                               "steps:\n"
                               "  - { name: a, run: [printf, 'hello %s', '{{ params.who }}'] }\n"
                               "  - { name: b, run: [printf, '%s!', '{{ steps.a.stdout }}'] }\n");
    const char *st;
    int64_t id;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "succeeded");
    assert_string_equal(json_string_value(json_object_get(step(ctx, "b"), "stdout")), "hello world!");
    assert_int_equal(json_integer_value(json_object_get(step(ctx, "a"), "exit_code")), 0);
    assert_true(json_is_true(json_object_get(step(ctx, "b"), "ok")));
    count_events(f, id, "run_started", 1);
    count_events(f, id, "step_started", 2);
    count_events(f, id, "step_finished", 2);
    count_events(f, id, "run_finished", 1);
    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(f->j, id, &run), 0);
    assert_string_equal(json_string_value(json_object_get(run, "status")), "succeeded");
    /* the rendered argv is journaled with the step's intent */
    json_t *ev = json_array_get(json_object_get(run, "events"), 1);
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "step_started");
    json_t *argv = json_object_get(json_object_get(json_object_get(ev, "data"), "with"), "argv");
    assert_string_equal(json_string_value(json_array_get(argv, 2)), "world");
    json_decref(run);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_retry_until_success(void **state)
{
    fixture_t *f = *state;
    /* fails twice, then succeeds: a counter file in the runbook's folder */
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - name: flaky\n"
                               "    run: \"n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; "
                               "[ $n -ge 3 ]\"\n"
                               "    retry: { attempts: 5, delay: 10ms, backoff: 2 }\n");
    const char *st;
    int64_t id;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "succeeded");
    assert_int_equal(json_integer_value(json_object_get(step(ctx, "flaky"), "attempt")), 3);
    count_events(f, id, "step_retry", 2);
    count_events(f, id, "attempt_started", 3);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_retry_exhausted_aborts(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - { name: bad, run: [sh, -c, 'exit 7'], retry: { attempts: 2, delay: 1ms } }\n"
                               "  - { name: never, run: [touch, never-ran] }\n");
    const char *st;
    int64_t id;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "failed");
    assert_int_equal(json_integer_value(json_object_get(step(ctx, "bad"), "exit_code")), 7);
    assert_null(step(ctx, "never"));
    char p[160];
    snprintf(p, sizeof(p), "%s/never-ran", f->dir);
    assert_int_not_equal(access(p, F_OK), 0);
    count_events(f, id, "attempt_started", 2);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_until_demands_retry(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - name: count\n"
                               "    run: \"n=$(cat c 2>/dev/null || echo 0); echo $((n+1)) > c; cat c\"\n"
                               "    retry: { attempts: 10, delay: 1ms, until: \"int(result.stdout) >= 4\" }\n");
    const char *st;
    json_t *ctx = run_it(f, rb, NULL, &st, NULL);
    assert_string_equal(st, "succeeded");
    assert_int_equal(json_integer_value(json_object_get(step(ctx, "count"), "attempt")), 4);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_timeout_kills_and_fails(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - { name: slow, run: [sleep, 30], timeout: 200ms }\n");
    const char *st;
    uint64_t t0 = uv_hrtime();
    json_t *ctx = run_it(f, rb, NULL, &st, NULL);
    uint64_t took_ms = (uv_hrtime() - t0) / 1000000;
    assert_string_equal(st, "failed");
    assert_string_equal(json_string_value(json_object_get(step(ctx, "slow"), "status")), "timeout");
    assert_string_equal(json_string_value(json_object_get(step(ctx, "slow"), "signal")), "SIGTERM");
    assert_true(took_ms < 10000); /* not a timing assertion: only that sleep 30 was stopped */
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_when_continue_and_goto(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - { name: check, run: ['false'], on_failure: continue }\n"
                               "  - { name: only-if-ok, when: steps.check.ok, run: [touch, a] }\n"
                               "  - { name: branch, run: ['false'], on_failure: 'goto:recover' }\n"
                               "  - { name: jumped-over, run: [touch, b] }\n"
                               "  - { name: recover, run: [touch, c] }\n");
    const char *st;
    json_t *ctx = run_it(f, rb, NULL, &st, NULL);
    assert_string_equal(st, "succeeded");
    assert_string_equal(json_string_value(json_object_get(step(ctx, "only-if-ok"), "status")), "skipped");
    assert_null(step(ctx, "jumped-over"));
    assert_true(json_is_true(json_object_get(step(ctx, "recover"), "ok")));
    char p[160];
    snprintf(p, sizeof(p), "%s/a", f->dir);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/b", f->dir);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/c", f->dir);
    assert_int_equal(access(p, F_OK), 0);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_expect_and_verify(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - { name: e, run: [echo, '{\"height\": 12}'], expect: 'result.json.height > 100',"
                               " on_failure: continue }\n"
                               "  - name: v\n"
                               "    run: ['true']\n"
                               "    verify: { run: ['false'], retry: { attempts: 2, delay: 1ms } }\n"
                               "    on_failure: continue\n");
    const char *st;
    int64_t id;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "succeeded");
    assert_false(json_is_true(json_object_get(step(ctx, "e"), "ok")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(step(ctx, "e"), "json"), "height")), 12);
    assert_false(json_is_true(json_object_get(step(ctx, "v"), "ok")));
    assert_string_equal(json_string_value(json_object_get(step(ctx, "v"), "status")), "verify_failed");
    /* one main attempt and two verify attempts */
    count_events(f, id, "attempt_started", 1 + 1 + 2);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_expect_sees_result_fields_as_names(void **state)
{
    fixture_t *f = *state;
    /* DESIGN's form: `expect: "status == 200"` names the result's fields */
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - { name: three, run: [sh, -c, 'exit 3'], expect: 'exit_code == 3' }\n"
                               "  - { name: out, run: [echo, hi], expect: 'stdout == \"nope\\n\"',"
                               " on_failure: continue }\n");
    const char *st;
    json_t *ctx = run_it(f, rb, NULL, &st, NULL);
    assert_string_equal(st, "succeeded");
    assert_true(json_is_true(json_object_get(step(ctx, "three"), "ok")));
    assert_string_equal(json_string_value(json_object_get(step(ctx, "three"), "status")), "ok");
    assert_false(json_is_true(json_object_get(step(ctx, "out"), "ok")));
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_hostile_params_stay_data(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\n"
                               "params: { x: { required: true } }\nsteps:\n"
                               "  - { name: shell, run: \"printf %s {{ params.x }}\" }\n"
                               "  - { name: argv, run: [printf, '%s', '{{ params.x }}'] }\n");
    const char *hostile = "$(touch pwned1); `touch pwned2`; touch pwned3 'a\"b\n";
    json_t *params = json_pack("{s:s}", "x", hostile);
    const char *st;
    json_t *ctx = run_it(f, rb, params, &st, NULL);
    assert_string_equal(st, "succeeded");
    assert_string_equal(json_string_value(json_object_get(step(ctx, "shell"), "stdout")), hostile);
    assert_string_equal(json_string_value(json_object_get(step(ctx, "argv"), "stdout")), hostile);
    for (int i = 1; i <= 3; i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s/pwned%d", f->dir, i);
        assert_int_not_equal(access(p, F_OK), 0);
    }
    json_decref(params);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_param_errors(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\n"
                               "params: { need: { required: true } }\nsteps:\n"
                               "  - { name: a, run: ['true'] }\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_run_t *r = NULL;
    char err[256] = "";
    rb_run_opts_t o = {NULL, NULL, "test", 0};
    assert_int_equal(rb_run_new(&loop, rb, f->j, &o, &r, err, sizeof(err)), RB_EINVAL);
    assert_non_null(strstr(err, "\"need\" is required"));
    json_t *p = json_pack("{s:s,s:s}", "need", "x", "typo", "y");
    o.params = p;
    assert_int_equal(rb_run_new(&loop, rb, f->j, &o, &r, err, sizeof(err)), RB_EINVAL);
    assert_non_null(strstr(err, "no parameter \"typo\""));
    assert_null(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    json_decref(p);
    rb_runbook_free(rb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_steps_pass_results_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_until_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_exhausted_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_until_demands_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kills_and_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_when_continue_and_goto, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_sees_result_fields_as_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_params_stay_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_param_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
