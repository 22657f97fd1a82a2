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

#include "run_fixture.h"

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
    assert_string_equal(st, "resolved");
    assert_string_equal(json_string_value(json_object_get(step(ctx, "b"), "stdout")), "hello world!");
    assert_int_equal(json_integer_value(json_object_get(step(ctx, "a"), "exit_code")), 0);
    assert_true(json_is_true(json_object_get(step(ctx, "b"), "ok")));
    count_events(f, id, "run_started", 1);
    count_events(f, id, "step_started", 2);
    count_events(f, id, "step_finished", 2);
    count_events(f, id, "run_finished", 1);
    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(f->j, id, &run), 0);
    assert_string_equal(json_string_value(json_object_get(run, "status")), "resolved");
    /* the rendered argv is journaled with the step's intent */
    json_t *ev = NULL, *x;
    size_t k;
    json_array_foreach(json_object_get(run, "events"), k, x) {
        if (!ev && !strcmp(json_string_value(json_object_get(x, "type")), "step_started"))
            ev = x;
    }
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "step")), "a");
    json_t *argv = json_object_get(json_object_get(json_object_get(ev, "data"), "with"), "argv");
    assert_string_equal(json_string_value(json_array_get(argv, 2)), "world");
    json_decref(run);
    json_decref(ctx);
    rb_runbook_free(rb);
}

/* The parameters journaled with a step's intent are the ones its action
 * got: rendered once (now() would differ between two renderings). */
static void test_intent_is_what_ran(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - { name: a, run: [printf, '%s', '{{ now() }}'] }\n");
    const char *st;
    int64_t id;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "resolved");
    json_t *run = NULL, *x, *intent = NULL;
    size_t k;
    assert_int_equal(rb_journal_run_get(f->j, id, &run), 0);
    json_array_foreach(json_object_get(run, "events"), k, x) {
        if (!strcmp(json_string_value(json_object_get(x, "type")), "step_started"))
            intent = json_object_get(json_object_get(json_object_get(x, "data"), "with"), "argv");
    }
    assert_non_null(intent);
    assert_string_equal(json_string_value(json_array_get(intent, 2)),
                        json_string_value(json_object_get(step(ctx, "a"), "stdout")));
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
    assert_string_equal(st, "resolved");
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
    assert_string_equal(st, "resolved");
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
    json_t *ctx = run_it(f, rb, NULL, &st, NULL);
    assert_string_equal(st, "failed");
    assert_string_equal(json_string_value(json_object_get(step(ctx, "slow"), "status")), "timeout");
    assert_string_equal(json_string_value(json_object_get(step(ctx, "slow"), "signal")), "SIGTERM");
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
    assert_string_equal(st, "resolved");
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
    /* both steps failed with on_failure: continue: no step succeeded */
    assert_string_equal(st, "failed");
    assert_false(json_is_true(json_object_get(step(ctx, "e"), "ok")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(step(ctx, "e"), "json"), "height")), 12);
    assert_false(json_is_true(json_object_get(step(ctx, "v"), "ok")));
    assert_string_equal(json_string_value(json_object_get(step(ctx, "v"), "status")), "failed");
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
    assert_string_equal(st, "resolved");
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
    assert_string_equal(st, "resolved");
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
    rb_run_opts_t o = {.trigger = "test"};
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

/* Journals the start of a run of rb up to its declaration, as a run that
 * was then interrupted would have left it; the events of its steps follow. */
static int64_t journal_declared_run(fixture_t *f, rb_runbook_t *rb)
{
    size_t len;
    const char *src = rb_runbook_source(rb, &len);
    char sha[65];
    int64_t id;
    json_t *params = json_object();
    assert_int_equal(rb_journal_put_version(f->j, "t", f->path, src, len, sha), 0);
    assert_int_equal(rb_journal_run_create(f->j, "t", sha, params, "test", &id), 0);
    json_t *d = json_pack("{s:s,s:s,s:o}", "runbook", "t", "sha256", sha, "params", params);
    assert_int_equal(rb_journal_event(f->j, id, "run_started", NULL, 0, d), 0);
    json_decref(d);
    assert_int_equal(rb_journal_event(f->j, id, "declared", NULL, 0, NULL), 0);
    return id;
}

/* Marks run id interrupted, resumes it as `runbook resume` would and runs it
 * to its end; leaves the resumed run's status (a static string) in *status. */
static void resume_to_end(fixture_t *f, rb_runbook_t *rb, int64_t id, char *status, size_t len)
{
    assert_int_equal(rb_journal_run_status(f->j, id, "interrupted", 0), 0);
    assert_int_equal(rb_journal_sync(f->j), 0);
    json_t *point = NULL, *run = NULL;
    assert_int_equal(rb_journal_run_resume_point(f->j, id, &point), 0);
    assert_int_equal(rb_journal_run_get(f->j, id, &run), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_run_opts_t o = {.trigger = "test"};
    rb_run_t *r = NULL;
    char err[256] = "";
    assert_int_equal(rb_run_resume(&loop, rb, f->j, point, json_object_get(run, "events"), &o, &r, err,
                                   sizeof(err)),
                     0);
    f->done_calls = 0;
    assert_int_equal(rb_run_start(r, NULL, on_done, f), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(f->done_calls, 1);
    snprintf(status, len, "%s", rb_run_status(r));
    rb_run_free(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    json_decref(point);
    json_decref(run);
}

/* 1 when the file name exists in the fixture's folder. */
static int made(fixture_t *f, const char *name)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", f->dir, name);
    return access(p, F_OK) == 0;
}

/* A run interrupted right after a skipped step (a journal without the step
 * list, so resume decides from the last step's result): skipped is not ok,
 * yet it is no failure, so the run goes on instead of ending failed. */
static void test_resume_after_skipped_step(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - { name: a, when: 'false', run: ['true'] }\n"
                               "  - { name: b, run: [touch, b] }\n");
    int64_t id = journal_declared_run(f, rb);
    json_t *d = json_pack("{s:b,s:s,s:s}", "ok", 0, "status", "skipped", "reason", "when is false");
    assert_int_equal(rb_journal_event(f->j, id, "step_skipped", "a", 0, d), 0);
    json_decref(d);
    char st[32];
    resume_to_end(f, rb, id, st, sizeof(st));
    assert_string_equal(st, "resolved");
    assert_true(made(f, "b"));
    rb_runbook_free(rb);
}

/* A run interrupted right after a failed step whose on_failure is a goto:
 * resume goes on at the goto's target, as the run would have, never with
 * the step after the failed one (which the goto jumped over). */
static void test_resume_after_failed_goto(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - { name: a, run: ['false'], on_failure: 'goto:c' }\n"
                               "  - { name: b, run: [touch, b] }\n"
                               "  - { name: c, run: [touch, c] }\n");
    int64_t id = journal_declared_run(f, rb);
    json_t *d = json_pack("{s:s,s:{s:[s]},s:b}", "action", "exec", "with", "argv", "false", "side_effects", 1);
    assert_int_equal(rb_journal_event(f->j, id, "step_started", "a", 0, d), 0);
    json_decref(d);
    d = json_pack("{s:b,s:s,s:i,s:i,s:{s:b,s:s,s:i}}", "ok", 0, "status", "failed", "attempts", 1,
                  "duration_ms", 1, "result", "ok", 0, "status", "failed", "exit_code", 1);
    assert_int_equal(rb_journal_event(f->j, id, "step_finished", "a", 1, d), 0);
    json_decref(d);
    char st[32];
    resume_to_end(f, rb, id, st, sizeof(st));
    assert_string_equal(st, "resolved");
    assert_true(made(f, "c"));
    assert_false(made(f, "b")); /* jumped over */
    rb_runbook_free(rb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_steps_pass_results_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_skipped_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_failed_goto, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intent_is_what_ran, setup, teardown),
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
