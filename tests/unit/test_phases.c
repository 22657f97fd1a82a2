/*
 * test_phases.c — the whole run: detect → confirm → severity → steps
 * (approval, foreach, rollback) → validate, notifications and escalation,
 * on a real loop with real processes and a real journal.
 */
#define _GNU_SOURCE /* memmem in local_server.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "run_fixture.h"

#include "local_server.h"

static int exists(fixture_t *f, const char *name)
{
    char p[200];
    snprintf(p, sizeof(p), "%s/%s", f->dir, name);
    return access(p, F_OK) == 0;
}

static char *slurp(fixture_t *f, const char *name)
{
    char p[200];
    snprintf(p, sizeof(p), "%s/%s", f->dir, name);
    FILE *fp = fopen(p, "r");
    if (!fp)
        return strdup("");
    char *buf = calloc(1, 4096);
    size_t n = fread(buf, 1, 4095, fp);
    buf[n] = 0;
    fclose(fp);
    return buf;
}

static void test_detect_confirm_severity_validate(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f,
        "apiVersion: runbook/v1\nname: t\n"
        "detect:\n"
        "  - { name: up, run: ['false'] }\n"
        "  - { name: height, run: [echo, '{\"h\": 7}'], expect: 'json.h > 5' }\n"
        "confirm: '!checks.up.ok'\n"
        "severity:\n"
        "  - { level: P1, when: '!checks.up.ok && !checks.height.ok' }\n"
        "  - { level: P2, when: '!checks.up.ok' }\n"
        "  - { level: P3 }\n"
        "steps:\n"
        "  - { name: fix, run: [touch, fixed], when: 'run.severity == \"P2\"' }\n"
        "validate:\n"
        "  - { name: fixed, run: [test, -f, fixed] }\n");
    const char *st;
    int64_t id;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "resolved");
    json_t *run = json_object_get(ctx, "run");
    assert_string_equal(json_string_value(json_object_get(run, "severity")), "P2");
    assert_false(json_is_true(json_object_get(json_object_get(json_object_get(ctx, "checks"), "up"), "ok")));
    assert_true(json_is_true(json_object_get(json_object_get(json_object_get(ctx, "checks"), "height"), "ok")));
    assert_true(exists(f, "fixed"));
    count_events(f, id, "check_finished", 3); /* 2 detect + 1 validate */
    count_events(f, id, "severity_assigned", 1);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_not_confirmed_touches_nothing(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\n"
                               "detect: [ { name: up, run: ['true'] } ]\n"
                               "confirm: '!checks.up.ok'\n"
                               "steps: [ { name: fix, run: [touch, touched] } ]\n"
                               "notify:\n"
                               "  - { on: [not_confirmed], run: [touch, told] }\n");
    const char *st;
    int64_t id;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "not_confirmed");
    assert_false(exists(f, "touched"));
    assert_true(exists(f, "told"));
    count_events(f, id, "step_started", 0);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_validate_failure_fails_run(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\n"
                               "steps: [ { name: a, run: ['true'] } ]\n"
                               "validate:\n"
                               "  - { name: still-broken, run: ['false'], retry: { attempts: 2, delay: 1ms } }\n");
    const char *st;
    int64_t id;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "failed");
    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(f->j, id, &run), 0);
    assert_string_equal(json_string_value(json_object_get(run, "status")), "failed");
    json_decref(run);
    count_events(f, id, "attempt_started", 1 + 2);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_foreach_fans_out_in_order(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\n"
                               "params: { nodes: { default: [a, b, c, d, e] } }\n"
                               "steps:\n"
                               "  - name: each\n"
                               "    foreach: '{{ params.nodes }}'\n"
                               "    max_parallel: 2\n"
                               "    run: [sh, -c, 'echo \"$1\"; [ \"$1\" != c ]', x, '{{ item }}']\n"
                               "    on_failure: continue\n"
                               "  - { name: none, foreach: [], run: ['false'] }\n");
    const char *st;
    json_t *ctx = run_it(f, rb, NULL, &st, NULL);
    assert_string_equal(st, "resolved");
    const json_t *each = step(ctx, "each");
    assert_false(json_is_true(json_object_get(each, "ok")));
    const json_t *items = json_object_get(each, "items");
    assert_int_equal(json_array_size(items), 5);
    const char *want[] = {"a\n", "b\n", "c\n", "d\n", "e\n"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(items, i), "stdout")), want[i]);
    assert_false(json_is_true(json_object_get(json_array_get(items, 2), "ok")));
    assert_int_equal(json_integer_value(json_object_get(each, "failed")), 1);
    assert_true(json_is_true(json_object_get(step(ctx, "none"), "ok"))); /* nothing to do */
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_foreach_over_non_list_fails_step(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\n"
                               "params: { nodes: { default: not-a-list } }\n"
                               "steps:\n"
                               "  - { name: each, foreach: '{{ params.nodes }}', run: [touch, ran] }\n");
    const char *st;
    json_t *ctx = run_it(f, rb, NULL, &st, NULL);
    assert_string_equal(st, "failed");
    assert_non_null(strstr(json_string_value(json_object_get(step(ctx, "each"), "error")), "must give a list"));
    assert_false(exists(f, "ran"));
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_rollback_runs_undo_newest_first(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - { name: one, run: [sh, -c, 'echo do1 >> log'], undo: { run: [sh, -c, 'echo undo1 >> log'] } }\n"
                               "  - { name: two, run: ['true'] }\n"
                               "  - { name: three, run: [sh, -c, 'echo do3 >> log'], undo: { run: [sh, -c, 'echo undo3 >> log'] } }\n"
                               "  - { name: four, run: ['false'], on_failure: rollback }\n"
                               "  - { name: five, run: [sh, -c, 'echo do5 >> log'] }\n");
    const char *st;
    int64_t id;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "failed");
    char *log = slurp(f, "log");
    assert_string_equal(log, "do1\ndo3\nundo3\nundo1\n");
    free(log);
    count_events(f, id, "undo_finished", 2);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_approval_granted_denied_timeout(void **state)
{
    fixture_t *f = *state;
#define APPROVAL_YAML(on_timeout)                                                        \
    "apiVersion: runbook/v1\nname: t\nsteps:\n"                                           \
    "  - name: risky\n"                                                                   \
    "    approval: { timeout: 100ms, on_timeout: " on_timeout " }\n"                     \
    "    run: [touch, risky-ran]\n"                                                       \
    "  - { name: after, run: [touch, after-ran] }\n"
    rb_runbook_t *rb = load(f, APPROVAL_YAML("fail"));
    const char *st;
    int64_t id;

    f->approve = 1;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "resolved");
    assert_true(exists(f, "risky-ran"));
    count_events(f, id, "approval_granted", 1);
    json_decref(ctx);

    char p[200];
    snprintf(p, sizeof(p), "%s/risky-ran", f->dir);
    unlink(p);
    f->approve = -1;
    ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "failed");
    assert_false(exists(f, "risky-ran"));
    count_events(f, id, "approval_denied", 1);
    json_decref(ctx);

    f->approve = 0; /* nobody answers: the timeout decides (fail) */
    ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "failed");
    assert_false(exists(f, "risky-ran"));
    count_events(f, id, "approval_timeout", 1);
    json_decref(ctx);
    rb_runbook_free(rb);

    rb = load(f, APPROVAL_YAML("continue")); /* nobody answers: the step runs as declared */
    ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "resolved");
    assert_true(exists(f, "risky-ran"));
    assert_true(exists(f, "after-ran"));
    count_events(f, id, "approval_timeout", 1);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_notify_and_escalate(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\n"
                               "severity: [ { level: P1 } ]\n"
                               "steps:\n"
                               "  - { name: slow, run: [sleep, '1'] }\n"
                               "  - { name: bad, run: ['false'] }\n"
                               "notify:\n"
                               "  - { on: [declared, severity, step_failed, escalated, failed], "
                               "run: [sh, -c, 'echo \"$1\" >> events', x, '{{ event }}:{{ run.severity }}'] }\n"
                               "  - { on: [resolved], run: [touch, wrongly-resolved] }\n"
                               "escalate:\n"
                               "  - { after: 100ms, run: [touch, escalated] }\n"
                               "  - { after: 150ms, unless: 'run.severity == \"P1\"', run: [touch, not-escalated] }\n");
    const char *st;
    int64_t id;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "failed");
    char *ev = slurp(f, "events");
    assert_non_null(strstr(ev, "declared:P1\n"));
    assert_non_null(strstr(ev, "severity:P1\n"));
    assert_non_null(strstr(ev, "escalated:P1\n"));
    assert_non_null(strstr(ev, "step_failed:P1\n"));
    assert_non_null(strstr(ev, "failed:P1\n"));
    free(ev);
    assert_true(exists(f, "escalated"));
    assert_false(exists(f, "not-escalated"));
    assert_false(exists(f, "wrongly-resolved"));
    count_events(f, id, "escalated", 1);
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void test_sub_runbook_runs_as_one_step(void **state)
{
    fixture_t *f = *state;
    char p[200];
    snprintf(p, sizeof(p), "%s/child.yaml", f->dir);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("apiVersion: runbook/v1\nname: child\nparams: { who: { required: true } }\nsteps:\n"
          "  - { name: hello, run: [sh, -c, 'echo \"hi $1\" > child-out', x, '{{ params.who }}'] }\n", fp);
    fclose(fp);
    snprintf(p, sizeof(p), "%s/loop.yaml", f->dir);
    fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("apiVersion: runbook/v1\nname: loops\nsteps:\n"
          "  - { name: again, action: runbook, with: { name: loops } }\n", fp);
    fclose(fp);
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: parent\nsteps:\n"
                               "  - { name: sub, action: runbook, with: { name: child, params: { who: parent } } }\n"
                               /* a literal name that does not exist is a load error; one
                                * rendered at run time fails the step */
                               "  - { name: missing, action: runbook, with: { name: \"{{ 'nosuch' }}\" }, on_failure: continue }\n"
                               "  - { name: recursive, action: runbook, with: { name: loops }, on_failure: continue }\n");
    const char *st;
    int64_t id;
    json_t *ctx = run_it(f, rb, NULL, &st, &id);
    assert_string_equal(st, "resolved");
    const json_t *sub = step(ctx, "sub");
    assert_true(json_is_true(json_object_get(sub, "ok")));
    int64_t child_id = json_integer_value(json_object_get(sub, "run_id"));
    assert_true(child_id > id);
    char *out = slurp(f, "child-out");
    assert_string_equal(out, "hi parent\n");
    free(out);
    /* the child run is in the journal, linked to its parent */
    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(f->j, child_id, &run), 0);
    json_t *first = json_object_get(json_array_get(json_object_get(run, "events"), 0), "data");
    assert_int_equal(json_integer_value(json_object_get(first, "parent_run")), id);
    assert_string_equal(json_string_value(json_object_get(first, "parent_step")), "sub");
    json_decref(run);
    assert_non_null(strstr(json_string_value(json_object_get(step(ctx, "missing"), "error")), "no runbook named"));
    const json_t *rec = step(ctx, "recursive");
    assert_false(json_is_true(json_object_get(rec, "ok")));
    json_decref(ctx);
    rb_runbook_free(rb);
}

static void close_server(void *arg) { lsrv_close(arg); }

static void test_http_check_expects_status_code(void **state)
{
    fixture_t *f = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lsrv_t srv;
    assert_int_equal(lsrv_start(&srv, &loop, LS_RESPOND), 0);
    lsrv_add_response(&srv, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    lsrv_add_response(&srv, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: 15\r\n\r\n{\"height\": 42}\n");
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "apiVersion: runbook/v1\nname: t\n"
             "detect:\n  - { name: rpc, action: http, with: { url: 'http://127.0.0.1:%d/health' },"
             " expect: 'status == 200' }\n"
             "confirm: '!checks.rpc.ok'\n"
             "steps:\n  - name: wait-up\n    action: http\n"
             "    with: { url: 'http://127.0.0.1:%d/health' }\n"
             "    expect: 'status == 200 && json.height > 10'\n",
             srv.port, srv.port);
    rb_runbook_t *rb = load(f, yaml);
    f->at_done = close_server;
    f->at_done_arg = &srv;
    const char *st;
    json_t *ctx = run_on(f, &loop, rb, NULL, &st, NULL);
    assert_string_equal(st, "resolved");
    const json_t *rpc = json_object_get(json_object_get(ctx, "checks"), "rpc");
    assert_int_equal(json_integer_value(json_object_get(rpc, "status")), 503);
    assert_false(json_is_true(json_object_get(rpc, "ok")));
    const json_t *up = step(ctx, "wait-up");
    assert_int_equal(json_integer_value(json_object_get(up, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(up, "outcome")), "ok");
    assert_true(json_is_true(json_object_get(up, "ok")));
    json_decref(ctx);
    f->at_done = NULL;
    lsrv_free(&srv);
    assert_int_equal(uv_loop_close(&loop), 0);
    rb_runbook_free(rb);
}

static void on_cancel_timer(uv_timer_t *t) { rb_run_cancel(t->data); }

/* At most one active run per concurrency key; other keys run side by side. */
static void test_concurrency_key(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\n"
                               "params: { host: { required: true } }\n"
                               "concurrency: \"{{ params.host }}\"\n"
                               "steps: [ { name: wait, action: sleep, with: { duration: 200ms } } ]\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    json_t *pa = json_pack("{s:s}", "host", "a"), *pb = json_pack("{s:s}", "host", "b");
    rb_run_opts_t oa = {.params = pa, .trigger = "test"}, ob = {.params = pb, .trigger = "test"};
    rb_run_t *r1 = NULL, *r2 = NULL, *r3 = NULL;
    char err[256] = "";
    assert_int_equal(rb_run_new(&loop, rb, f->j, &oa, &r1, err, sizeof(err)), 0);
    assert_int_equal(rb_run_new(&loop, rb, f->j, &ob, &r2, err, sizeof(err)), 0); /* another key */
    assert_int_equal(rb_run_new(&loop, rb, f->j, &oa, &r3, err, sizeof(err)), RB_EBUSY);
    assert_null(r3);
    assert_non_null(strstr(err, "still active for the concurrency key \"a\""));
    f->done_calls = 0;
    rb_run_start(r1, NULL, on_done, f);
    rb_run_start(r2, NULL, on_done, f);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(f->done_calls, 2);
    /* once the run has ended, the key is free again */
    assert_int_equal(rb_run_new(&loop, rb, f->j, &oa, &r3, err, sizeof(err)), 0);
    rb_run_free(r1);
    rb_run_free(r2);
    rb_run_free(r3);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    json_decref(pa);
    json_decref(pb);
    rb_runbook_free(rb);
}

/* Cooldown: an alert's run of a key that ended a moment ago is not started;
 * an operator's run (no alert) is. */
static void test_cooldown_after_alert_run(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\ncooldown: 1h\n"
                               "concurrency: \"{{ alert.labels.instance }}\"\n"
                               "steps: [ { name: a, run: ['true'] } ]\n");
    json_t *alert = json_pack("{s:{s:s,s:s}}", "labels", "alertname", "NodeDown", "instance", "n1");
    json_t *other = json_pack("{s:{s:s,s:s}}", "labels", "alertname", "NodeDown", "instance", "n2");
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_run_opts_t o = {.alert = alert, .trigger = "test"};
    rb_run_t *r = NULL;
    char err[256] = "";
    assert_int_equal(rb_run_new(&loop, rb, f->j, &o, &r, err, sizeof(err)), 0);
    f->done_calls = 0;
    rb_run_start(r, NULL, on_done, f);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_string_equal(rb_run_status(r), "resolved");
    rb_run_free(r);
    r = NULL;
    assert_int_equal(rb_run_new(&loop, rb, f->j, &o, &r, err, sizeof(err)), RB_EBUSY);
    assert_non_null(strstr(err, "cools down for the key \"n1\""));
    o.alert = other; /* another key: no cooldown */
    assert_int_equal(rb_run_new(&loop, rb, f->j, &o, &r, err, sizeof(err)), 0);
    rb_run_free(r);
    r = NULL;
    rb_run_opts_t manual = {.trigger = "test"}; /* the operator's own run: no cooldown */
    assert_int_equal(rb_run_new(&loop, rb, f->j, &manual, &r, err, sizeof(err)), 0);
    rb_run_free(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    json_decref(alert);
    json_decref(other);
    rb_runbook_free(rb);
}

static int resolved_said;
static void on_resolve_timer(uv_timer_t *t)
{
    json_t *alert = json_pack("{s:s,s:{s:s}}", "status", "resolved", "labels", "alertname", "NodeDown");
    resolved_said = rb_run_alert_resolved(t->data, alert);
    json_decref(alert);
}

/* Runs rb to its end on a loop of its own, with poke(run) called from a
 * timer after_ms into the run. */
static void run_poked(fixture_t *f, rb_runbook_t *rb, uv_timer_cb poke, uint64_t after_ms,
                      const char **status, int64_t *id)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_run_opts_t o = {.trigger = "test"};
    rb_run_t *r = NULL;
    char err[200];
    assert_int_equal(rb_run_new(&loop, rb, f->j, &o, &r, err, sizeof(err)), 0);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = r;
    uv_timer_start(&t, poke, after_ms, 0);
    f->done_calls = 0;
    assert_int_equal(rb_run_start(r, NULL, on_done, f), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(f->done_calls, 1);
    *status = rb_run_status(r);
    *id = rb_run_id(r);
    uv_close((uv_handle_t *)&t, NULL);
    rb_run_free(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A resolved alert cancels the run only where the runbook says so. */
static void run_with_resolve(fixture_t *f, const char *flag, const char **status, int64_t *id)
{
    char yaml[512];
    snprintf(yaml, sizeof(yaml), "apiVersion: runbook/v1\nname: t\ncancel_on_resolve: %s\nsteps:\n"
                                 "  - { name: wait, action: sleep, with: { duration: 400ms } }\n"
                                 "  - { name: after, run: [touch, after-ran] }\n", flag);
    rb_runbook_t *rb = load(f, yaml);
    run_poked(f, rb, on_resolve_timer, 50, status, id);
    rb_runbook_free(rb);
}

static void test_cancel_on_resolve(void **state)
{
    fixture_t *f = *state;
    const char *st;
    int64_t id;
    run_with_resolve(f, "true", &st, &id);
    assert_string_equal(st, "cancelled");
    assert_int_equal(resolved_said, 1);
    assert_false(exists(f, "after-ran"));
    count_events(f, id, "alert_resolved", 1);
    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(f->j, id, &run), 0);
    json_t *evs = json_object_get(run, "events");
    json_t *last = json_array_get(evs, json_array_size(evs) - 1);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(last, "data"), "error")),
                           "cancel_on_resolve"));
    json_decref(run);

    run_with_resolve(f, "false", &st, &id); /* journaled, and the run goes on */
    assert_string_equal(st, "resolved");
    assert_int_equal(resolved_said, 0);
    assert_true(exists(f, "after-ran"));
    count_events(f, id, "alert_resolved", 1);
}

static void test_cancel_stops_the_step(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - { name: long, run: [sleep, '30'] }\n"
                               "  - { name: never, run: [touch, never] }\n");
    const char *st;
    int64_t id;
    run_poked(f, rb, on_cancel_timer, 100, &st, &id);
    assert_string_equal(st, "cancelled");
    assert_false(exists(f, "never"));
    count_events(f, id, "cancel_requested", 1);
    rb_runbook_free(rb);
}

static void test_dry_run_starts_nothing_with_side_effects(void **state)
{
    fixture_t *f = *state;
    rb_runbook_t *rb = load(f, "apiVersion: runbook/v1\nname: t\nsteps:\n"
                               "  - { name: change, run: [touch, changed] }\n"
                               "  - { name: say, action: log, with: { message: hi } }\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_run_opts_t o = {.trigger = "test", .dry_run = 1};
    rb_run_t *r = NULL;
    char err[200];
    assert_int_equal(rb_run_new(&loop, rb, f->j, &o, &r, err, sizeof(err)), 0);
    assert_int_equal(rb_run_start(r, NULL, on_done, f), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_string_equal(rb_run_status(r), "resolved");
    assert_false(exists(f, "changed"));
    const json_t *st = json_object_get(json_object_get(rb_run_context(r), "steps"), "change");
    assert_string_equal(json_string_value(json_object_get(st, "status")), "simulated");
    st = json_object_get(json_object_get(rb_run_context(r), "steps"), "say");
    assert_string_equal(json_string_value(json_object_get(st, "status")), "ok");
    rb_run_free(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    rb_runbook_free(rb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_detect_confirm_severity_validate, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_not_confirmed_touches_nothing, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_validate_failure_fails_run, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_foreach_fans_out_in_order, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_foreach_over_non_list_fails_step, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_runs_undo_newest_first, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_approval_granted_denied_timeout, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_notify_and_escalate, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_sub_runbook_runs_as_one_step, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_http_check_expects_status_code, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_stops_the_step, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_on_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency_key, setup_writer, teardown),
        cmocka_unit_test_setup_teardown(test_cooldown_after_alert_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_starts_nothing_with_side_effects, setup_writer, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
