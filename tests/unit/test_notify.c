/*
 * test_notify.c — the `notify` action against a local webhook on 127.0.0.1
 * (local_server.h, on the test's loop): each built-in template filled from
 * `vars` and POSTed as Slack-compatible JSON, free text with blocks and
 * headers, missing variables printed empty, Slack markup in values made
 * inert, a webhook that fails or redirects, and parameter checks. Every
 * case ends with uv_loop_close() == 0. No timing assertions.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host/action_host.h"
#include "local_server.h"
#include "../../actions/notify_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const rb_action_t rb_action_notify;

#define SLACK_OK "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

typedef struct harness {
    uv_loop_t loop;
    rb_action_ctx_t *ctx;
    json_t *result;
    int done_calls;
    lsrv_t srv;
    json_t *view; /* the run the action is told about, or NULL */
    char logs[2048]; /* the action's log lines, one a line */
} harness_t;

static void log_cb(rb_action_ctx_t *ctx, const char *level, const char *message, size_t len,
                   void *arg)
{
    harness_t *h = arg;
    size_t used = strlen(h->logs);
    snprintf(h->logs + used, sizeof(h->logs) - used, "%s: %.*s\n", level, (int)len, message);
}

static void done_cb(rb_action_ctx_t *ctx, json_t *result, void *arg)
{
    harness_t *h = arg;
    h->done_calls++;
    json_decref(h->result);
    h->result = result;
    lsrv_close(&h->srv);
}

static void h_init(harness_t *h, const char *response)
{
    memset(h, 0, sizeof(*h));
    assert_int_equal(uv_loop_init(&h->loop), 0);
    assert_int_equal(lsrv_start(&h->srv, &h->loop, LS_RESPOND), 0);
    lsrv_add_response(&h->srv, response);
}

static const char *h_url(harness_t *h)
{
    static char u[128];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/hooks/T000/B000", h->srv.port);
    return u;
}

static json_t *h_run(harness_t *h, json_t *with)
{
    h->ctx = rb__action_ctx_new(&h->loop, &rb_action_notify, "/", 0, done_cb, h);
    assert_non_null(h->ctx);
    assert_non_null(with);
    rb__action_ctx_set_log(h->ctx, log_cb, h);
    if (h->view) {
        assert_int_equal(rb__action_ctx_set_run_view(h->ctx, h->view), 0);
        json_decref(h->view);
        h->view = NULL;
    }
    assert_int_equal(rb__action_start(h->ctx, with), 0);
    json_decref(with);
    assert_int_equal(h->done_calls, 0);
    assert_int_equal(uv_run(&h->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(h->done_calls, 1);
    rb__action_ctx_free(h->ctx);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    assert_true(json_is_object(h->result));
    return h->result;
}

static const char *str(const json_t *r, const char *k)
{
    const char *s = json_string_value(json_object_get(r, k));
    assert_non_null(s);
    return s;
}

/* The JSON body the webhook received (owned by the caller). */
static json_t *received(harness_t *h)
{
    assert_int_equal(h->srv.nrequests, 1);
    assert_non_null(strstr(h->srv.last, "POST /hooks/T000/B000 HTTP/1.1\r\n"));
    assert_non_null(strstr(h->srv.last, "\r\nContent-Type: application/json\r\n"));
    json_error_t e;
    json_t *b = json_loads(lsrv_last_body(&h->srv), 0, &e);
    assert_non_null(b);
    assert_true(json_is_string(json_object_get(b, "text")));
    return b;
}

static json_t *vars(void)
{
    return json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s}", "title", "neo-node down on node-7",
                     "severity", "P1", "runbook", "node-crash", "run_id", 42, "summary",
                     "RPC not responding", "status", "investigating", "duration", "17m", "url",
                     "https://status.example/i/42");
}

/* Durations people read: as precise as is useful at their size, from the
 * run's start to the millisecond (run.started_at_ms). */
static void test_durations_for_people(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(rb_duration_human(0, b, sizeof b), "0 ms");
    assert_string_equal(rb_duration_human(850, b, sizeof b), "850 ms");
    assert_string_equal(rb_duration_human(12400, b, sizeof b), "12.4 s");
    assert_string_equal(rb_duration_human(12000, b, sizeof b), "12 s");
    assert_string_equal(rb_duration_human(59970, b, sizeof b), "59.9 s");
    assert_string_equal(rb_duration_human(185000, b, sizeof b), "3 min 05 s");
    assert_string_equal(rb_duration_human(7500000, b, sizeof b), "2 h 05 min");
    assert_string_equal(rb_duration_human((3 * 24 + 4) * 3600000ull, b, sizeof b), "3 d 04 h");
    json_t *view = json_pack("{s:{s:I,s:I},s:s}", "run", "started_at", (json_int_t)1000,
                             "started_at_ms", (json_int_t)1000123, "event", "resolved");
    json_t *f = rb__notify_fields(view, NULL, 1000123 + 850);
    assert_string_equal(json_string_value(json_object_get(f, "duration")), "850 ms");
    char *t = rb__notify_render("resolved", f, NOTIFY_FMT_PLAIN);
    assert_non_null(strstr(t, "\nTotal duration: 850 ms\n"));
    free(t);
    json_decref(f);
    f = rb__notify_fields(view, NULL, 1000123 + 185000);
    assert_string_equal(json_string_value(json_object_get(f, "duration")), "3 min 05 s");
    json_decref(f);
    json_decref(view);
}

static void test_incident_template(void **state)
{
    harness_t h;
    h_init(&h, SLACK_OK);
    json_t *r = h_run(
        &h, json_pack("{s:s,s:s,s:o}", "url", h_url(&h), "template", "incident", "vars", vars()));
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(str(r, "outcome"), "ok");
    assert_string_equal(str(r, "body"), "ok");
    json_t *b = received(&h);
    const char *text = json_string_value(json_object_get(b, "text"));
    assert_non_null(strstr(text, "INCIDENT DECLARED"));
    assert_non_null(strstr(text, "neo-node down on node-7"));
    assert_non_null(strstr(text, "*Severity:* P1\n"));
    assert_non_null(strstr(text, "node-crash (run 42)"));
    assert_non_null(strstr(text, "RPC not responding"));
    assert_non_null(strstr(text, "investigating"));
    assert_non_null(strstr(text, "https://status.example/i/42"));
    assert_null(json_object_get(b, "blocks"));
    /* the result keeps what was sent */
    assert_string_equal(str(r, "text"), text);
    json_decref(b);
    json_decref(r);
    lsrv_free(&h.srv);
}

static void test_every_template(void **state)
{
    static const char *const names[] = {"incident", "update", "resolved", "escalation", NULL};
    static const char *const titles[] = {"INCIDENT DECLARED", "INCIDENT UPDATE",
                                         "INCIDENT RESOLVED", "INCIDENT ESCALATED"};
    for (size_t i = 0; names[i]; i++) {
        harness_t h;
        h_init(&h, SLACK_OK);
        json_t *r = h_run(
            &h, json_pack("{s:s,s:s,s:o}", "url", h_url(&h), "template", names[i], "vars", vars()));
        json_t *b = received(&h);
        const char *text = json_string_value(json_object_get(b, "text"));
        assert_non_null(strstr(text, titles[i]));
        assert_non_null(strstr(text, "neo-node down on node-7"));
        assert_non_null(strstr(text, "P1"));
        if (i > 0)
            assert_non_null(strstr(text, "17m")); /* duration */
        json_decref(b);
        json_decref(r);
        lsrv_free(&h.srv);
    }
}

static void test_missing_vars_print_empty(void **state)
{
    harness_t h;
    h_init(&h, SLACK_OK);
    json_t *r = h_run(&h, json_pack("{s:s,s:s,s:{s:s}}", "url", h_url(&h), "template", "resolved",
                                    "vars", "severity", "P2"));
    json_t *b = received(&h);
    const char *text = json_string_value(json_object_get(b, "text"));
    assert_non_null(strstr(text, "*INCIDENT RESOLVED*: \n"));
    assert_non_null(strstr(text, "*Severity:* P2\n"));
    assert_null(strstr(text, "Runbook")); /* a line without a value is left out */
    assert_null(strstr(text, "Status"));
    assert_null(strstr(text, "{{"));
    json_decref(b);
    json_decref(r);
    lsrv_free(&h.srv);

    h_init(&h, SLACK_OK); /* no vars at all */
    r = h_run(&h, json_pack("{s:s,s:s}", "url", h_url(&h), "template", "escalation"));
    b = received(&h);
    assert_non_null(strstr(json_string_value(json_object_get(b, "text")), "INCIDENT ESCALATED"));
    json_decref(b);
    json_decref(r);
    lsrv_free(&h.srv);
}

static void test_values_are_inert(void **state)
{
    /* A label is data: no Slack mention or link, no second evaluation. */
    harness_t h;
    h_init(&h, SLACK_OK);
    json_t *r = h_run(&h, json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:i}}}", "url", h_url(&h), "template",
                                    "incident", "vars", "title",
                                    "<!channel> & <https://evil.example|click>", "summary",
                                    "{{ env.SECRET }}", "status", "n", 1));
    json_t *b = received(&h);
    const char *text = json_string_value(json_object_get(b, "text"));
    assert_null(strstr(text, "<!channel>"));
    assert_non_null(strstr(text, "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"));
    assert_non_null(strstr(text, "{{ env.SECRET }}")); /* printed, not evaluated */
    assert_non_null(strstr(text, "{\"n\":1}"));         /* an object prints as JSON */
    json_decref(b);
    json_decref(r);
    lsrv_free(&h.srv);
}

static void test_text_blocks_headers(void **state)
{
    harness_t h;
    h_init(&h, SLACK_OK);
    json_t *r = h_run(&h, json_pack("{s:s,s:s,s:[{s:s,s:{s:s,s:s}}],s:{s:s}}", "url", h_url(&h),
                                    "text", "Deploy paused by runbook", "blocks", "type", "section",
                                    "text", "type", "mrkdwn", "text", "*Deploy paused*", "headers",
                                    "Authorization", "Bearer t0ken"));
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_t *b = received(&h);
    assert_string_equal(json_string_value(json_object_get(b, "text")), "Deploy paused by runbook");
    json_t *blocks = json_object_get(b, "blocks");
    assert_int_equal(json_array_size(blocks), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(blocks, 0), "type")),
                        "section");
    assert_non_null(strstr(h.srv.last, "\r\nAuthorization: Bearer t0ken\r\n"));
    json_decref(b);
    json_decref(r);
    lsrv_free(&h.srv);
}

static void test_webhook_fails(void **state)
{
    harness_t h;
    h_init(&h, "HTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\nno_such_hook\r\n");
    json_t *r = h_run(&h, json_pack("{s:s,s:s}", "url", h_url(&h), "text", "hello"));
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(str(r, "outcome"), "failed");
    assert_non_null(strstr(str(r, "body"), "no_such_hook"));
    json_decref(r);
    lsrv_free(&h.srv);

    /* A redirected POST is not followed (it would become a GET elsewhere). */
    h_init(&h, "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n");
    r = h_run(&h, json_pack("{s:s,s:s}", "url", h_url(&h), "text", "hello"));
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(str(r, "outcome"), "failed");
    assert_int_equal(h.srv.nrequests, 1);
    json_decref(r);
    lsrv_free(&h.srv);
}

#define H500 "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
#define H429 "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n"
#define H202 "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
#define H400 "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"

/* Tries: 500, 500, 202 is delivered on the third; 429 then 202 on the
 * second; a 400 is not tried again; 5xx to the end is not ok, with every
 * try in the result. */
static void test_retries(void **state)
{
    static const struct {
        const char *resp[3];
        int attempts, want_requests, want_ok;
        json_int_t want_status;
    } cases[] = {
        {{H500, H500, H202}, 3, 3, 1, 202},
        {{H429, H202, NULL}, 3, 2, 1, 202},
        {{H400, H202, NULL}, 3, 1, 0, 400},
        {{H500, NULL, NULL}, 2, 2, 0, 500},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        harness_t h;
        h_init(&h, cases[i].resp[0]);
        for (int k = 1; k < 3 && cases[i].resp[k]; k++)
            lsrv_add_response(&h.srv, cases[i].resp[k]);
        json_t *r = h_run(&h, json_pack("{s:s,s:s,s:s,s:i,s:s}", "url", h_url(&h), "channel",
                                        "webhook", "text", "x", "attempts", cases[i].attempts,
                                        "retry_delay", "10ms"));
        if (h.srv.nrequests != cases[i].want_requests) {
            char *d = json_dumps(r, JSON_INDENT(1));
            fprintf(stderr, "%s\n", d);
            free(d);
        }
        assert_int_equal(h.srv.nrequests, cases[i].want_requests);
        assert_int_equal(json_is_true(json_object_get(r, "ok")), cases[i].want_ok);
        assert_int_equal(json_integer_value(json_object_get(r, "status")), cases[i].want_status);
        assert_int_equal(json_integer_value(json_object_get(r, "attempts")), cases[i].want_requests);
        assert_int_equal(json_array_size(json_object_get(r, "tries")), cases[i].want_requests);
        assert_string_equal(str(r, "channel"), "webhook");
        char origin[64];
        snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", h.srv.port);
        assert_string_equal(str(r, "target"), origin); /* never the path: it is the secret */
        assert_null(json_object_get(r, "url"));
        json_decref(r);
        lsrv_free(&h.srv);
    }
}

/* A 429's Retry-After (seconds) lengthens the wait before the next try. */
static void test_retry_after(void **state)
{
    harness_t h;
    h_init(&h, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n");
    lsrv_add_response(&h.srv, H202);
    json_t *r = h_run(&h, json_pack("{s:s,s:s,s:s,s:s}", "url", h_url(&h), "channel", "pagerduty",
                                    "routing_key", "k", "retry_delay", "10ms"));
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 2);
    assert_non_null(strstr(h.logs, "warn: notify pagerduty: try 1 of 3: failed 429; again in 1s\n"));
    json_decref(r);
    lsrv_free(&h.srv);
}

/* PagerDuty Events v2: the exact bodies of a trigger and a resolve for one
 * run, the dedup_key derived from the run and the same in both. */
static void test_pagerduty_from_run(void **state)
{
    static const char *const events[] = {"declared", "resolved"};
    for (int i = 0; i < 2; i++) {
        harness_t h;
        h_init(&h, "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: "
                   "63\r\n\r\n{\"status\":\"success\",\"message\":\"Event processed\",\"dedup_key\":\"\"}");
        h.view = json_pack("{s:{s:i,s:s,s:s,s:s},s:{s:{s:b,s:s,s:s}},s:{s:{s:b,s:s}},s:s}", "run", "id",
                           7, "key", "node-7", "severity", "P1", "status", "running", "checks", "rpc",
                           "ok", 0, "status", "failed", "error", "refused", "steps", "restart", "ok",
                           1, "status", "ok", "event", events[i]);
        json_t *r = h_run(&h, json_pack("{s:s,s:s,s:s,s:{s:s}}", "channel", "pagerduty", "url",
                                        h_url(&h), "routing_key", "R0UTINGKEY", "vars", "title",
                                        "node-7: RPC down"));
        assert_true(json_is_true(json_object_get(r, "ok")));
        assert_int_equal(json_integer_value(json_object_get(r, "status")), 202);
        assert_string_equal(str(r, "dedup_key"), "runbook/node-7/7");
        json_error_t e;
        json_t *b = json_loads(lsrv_last_body(&h.srv), 0, &e);
        assert_non_null(b);
        json_t *want;
        if (i == 0) {
            assert_string_equal(str(r, "event_action"), "trigger");
            const char *text = json_string_value(json_object_get(
                json_object_get(json_object_get(b, "payload"), "custom_details"), "text"));
            assert_non_null(text);
            assert_string_equal(text, "INCIDENT DECLARED: node-7: RPC down\nSeverity: P1\n"
                                      "Status: declared\nDetected:\n- rpc: failed (refused)\n"
                                      "Runbook: run 7\nUpdates follow in this channel.");
            want = json_pack(
                "{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:[s],s:[s],s:[],s:s}}}",
                "routing_key", "R0UTINGKEY", "event_action", "trigger", "dedup_key",
                "runbook/node-7/7", "client", "runbook", "payload", "summary",
                "[P1] INCIDENT DECLARED: node-7: RPC down", "source", "runbook", "severity",
                "critical", "custom_details", "severity", "P1", "status", "declared", "run_id", "7",
                "title", "node-7: RPC down", "detected", "rpc: failed (refused)", "steps",
                "restart: ok", "approvals", "text", text);
        } else {
            assert_string_equal(str(r, "event_action"), "resolve");
            want = json_pack("{s:s,s:s,s:s}", "routing_key", "R0UTINGKEY", "event_action", "resolve",
                             "dedup_key", "runbook/node-7/7");
        }
        if (!json_equal(b, want)) {
            char *got = json_dumps(b, JSON_SORT_KEYS);
            fprintf(stderr, "got %s\n", got);
            free(got);
            fail();
        }
        json_decref(want);
        json_decref(b);
        json_decref(r);
        lsrv_free(&h.srv);
    }
}

/* The run view an action is given holds run, checks, steps and event, and
 * nothing else of the expression context: never params, env or the alert,
 * where secrets live. */
static void test_run_view_keeps_secrets_out(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    rb_action_ctx_t *ctx = rb__action_ctx_new(&loop, &rb_action_notify, "/", 0, done_cb, NULL);
    assert_non_null(ctx);
    assert_null(rb_action_run_view(ctx));
    json_t *expr = json_pack("{s:{s:s},s:{s:s},s:{s:{s:s}},s:{s:i},s:{},s:{},s:s}", "params",
                             "token", "s3cret", "env", "API_KEY", "k3y", "alert", "labels", "a",
                             "b", "run", "id", 3, "checks", "steps", "event", "declared");
    assert_int_equal(rb__action_ctx_set_run_view(ctx, expr), 0);
    const json_t *v = rb_action_run_view(ctx);
    assert_non_null(v);
    assert_int_equal(json_object_size(v), 4);
    assert_non_null(json_object_get(v, "run"));
    assert_non_null(json_object_get(v, "checks"));
    assert_non_null(json_object_get(v, "steps"));
    assert_string_equal(json_string_value(json_object_get(v, "event")), "declared");
    char *d = json_dumps(v, 0);
    assert_null(strstr(d, "s3cret"));
    assert_null(strstr(d, "k3y"));
    free(d);
    assert_int_equal(rb__action_ctx_set_run_view(ctx, NULL), 0);
    assert_null(rb_action_run_view(ctx));
    json_decref(expr);
    rb__action_ctx_free(ctx);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* webhook: the message's fields by default, exactly `json` when given. */
static void test_webhook_bodies(void **state)
{
    harness_t h;
    h_init(&h, H202);
    json_t *r = h_run(&h, json_pack("{s:s,s:s,s:{s:i,s:[s,s]}}", "channel", "webhook", "url",
                                    h_url(&h), "json", "incident", 42, "tags", "a", "b"));
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(lsrv_last_body(&h.srv), "{\"incident\":42,\"tags\":[\"a\",\"b\"]}");
    json_decref(r);
    lsrv_free(&h.srv);

    h_init(&h, H202);
    h.view = json_pack("{s:{s:i,s:s},s:{},s:{},s:s}", "run", "id", 5, "severity", "P3", "checks",
                       "steps", "event", "resolved");
    r = h_run(&h, json_pack("{s:s,s:s,s:{s:s}}", "channel", "webhook", "url", h_url(&h), "vars",
                            "title", "disk \"full\"\n<b>"));
    json_error_t e;
    json_t *b = json_loads(lsrv_last_body(&h.srv), 0, &e);
    assert_non_null(b);
    json_t *want = json_pack("{s:s,s:s,s:s,s:s,s:[],s:[],s:[],s:s,s:s}", "title", "disk \"full\" <b>",
                             "severity", "P3", "status", "resolved", "run_id", "5", "detected",
                             "steps", "approvals", "event", "resolved", "template", "resolved");
    json_object_set(want, "text", json_object_get(b, "text"));
    assert_true(json_equal(b, want));
    assert_string_equal(json_string_value(json_object_get(b, "text")),
                        "INCIDENT RESOLVED: disk \"full\" <b>\nSeverity: P3\nStatus: resolved\n"
                        "Runbook: run 5\nA post-incident review follows. Thank you for your patience.");
    json_decref(want);
    json_decref(b);
    json_decref(r);
    lsrv_free(&h.srv);
}

static int validate_with(json_t *with, const char **key)
{
    char msg[256] = "";
    *key = NULL;
    int rc = rb_action_notify.validate(with, msg, sizeof(msg), key);
    if (rc < 0)
        assert_true(msg[0] != '\0');
    json_decref(with);
    return rc;
}

static void test_validate(void **state)
{
    const char *key;
    assert_int_equal(
        validate_with(json_pack("{s:s,s:s}", "url", "{{ env.HOOK }}", "template", "incident"),
                      &key),
        0);
    assert_int_equal(
        validate_with(json_pack("{s:s,s:s}", "url", "https://h/", "text", "{{ run.id }}"), &key),
        0);
    assert_true(validate_with(json_pack("{s:s}", "template", "incident"), &key) < 0);
    assert_string_equal(key, "url");
    /* no template nor text: the run event's template */
    assert_int_equal(validate_with(json_pack("{s:s}", "url", "https://h/"), &key), 0);
    assert_true(validate_with(json_pack("{s:s,s:s,s:s}", "url", "https://h/", "template",
                                        "incident", "text", "x"),
                              &key) < 0);
    assert_string_equal(key, "text");
    assert_true(validate_with(json_pack("{s:s,s:s}", "url", "https://h/", "template", "declared"),
                              &key) < 0);
    assert_string_equal(key, "template");
    assert_true(validate_with(json_pack("{s:s,s:s,s:{}}", "url", "https://h/", "text", "x", "vars"),
                              &key) < 0);
    assert_string_equal(key, "vars");
    assert_true(validate_with(json_pack("{s:s,s:s}", "url", "mailto:oncall@x", "text", "x"), &key) <
                0);
    assert_string_equal(key, "url");
    assert_true(
        validate_with(json_pack("{s:s,s:s,s:{}}", "url", "https://h/", "text", "x", "blocks"),
                      &key) < 0);
    assert_string_equal(key, "blocks");
    /* channels: each takes its own keys */
    assert_true(validate_with(json_pack("{s:s,s:s}", "channel", "sms", "url", "https://h/"), &key) < 0);
    assert_string_equal(key, "channel");
    assert_true(validate_with(json_pack("{s:s,s:s,s:s,s:s,s:[]}", "channel", "email", "url",
                                        "smtp://m:587", "from", "a@x", "to", "b@y", "blocks"),
                              &key) < 0);
    assert_string_equal(key, "blocks");
    assert_true(validate_with(json_pack("{s:s}", "channel", "pagerduty"), &key) < 0);
    assert_string_equal(key, "routing_key");
    assert_true(validate_with(json_pack("{s:s,s:s,s:s}", "channel", "pagerduty", "routing_key", "k",
                                        "event_action", "page"),
                              &key) < 0);
    assert_string_equal(key, "event_action");
    assert_int_equal(validate_with(json_pack("{s:s,s:s}", "channel", "pagerduty", "routing_key",
                                             "{{ env.PD_KEY }}"),
                                   &key),
                     0);
    assert_true(validate_with(json_pack("{s:s,s:s,s:s}", "channel", "email", "url", "smtp://m:587",
                                        "to", "b@y"),
                              &key) < 0);
    assert_string_equal(key, "from");
    assert_true(validate_with(json_pack("{s:s,s:s,s:s,s:s}", "channel", "email", "url",
                                        "http://m/", "from", "a@x", "to", "b@y"),
                              &key) < 0);
    assert_string_equal(key, "url");
    assert_true(validate_with(json_pack("{s:s,s:s,s:s,s:[s,s]}", "channel", "email", "url",
                                        "smtp://m:587", "from", "a@x", "to", "b@y",
                                        "c@z\r\nBcc: e@v"),
                              &key) < 0);
    assert_string_equal(key, "to");
    assert_true(validate_with(json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "channel", "email", "url",
                                        "smtp://m:587", "from", "a@x", "to", "b@y", "starttls", 0,
                                        "password", "pw12"),
                              &key) < 0);
    assert_string_equal(key, "starttls");
    assert_true(validate_with(json_pack("{s:s,s:s,s:i}", "url", "https://h/", "text", "x",
                                        "attempts", 11),
                              &key) < 0);
    assert_string_equal(key, "attempts");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations_for_people),
        cmocka_unit_test(test_incident_template),
        cmocka_unit_test(test_every_template),
        cmocka_unit_test(test_missing_vars_print_empty),
        cmocka_unit_test(test_values_are_inert),
        cmocka_unit_test(test_text_blocks_headers),
        cmocka_unit_test(test_webhook_fails),
        cmocka_unit_test(test_retries),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_pagerduty_from_run),
        cmocka_unit_test(test_run_view_keeps_secrets_out),
        cmocka_unit_test(test_webhook_bodies),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
