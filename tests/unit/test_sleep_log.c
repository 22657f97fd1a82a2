/*
 * test_sleep_log.c — the `sleep` and `log` actions on a real uv loop:
 * results, cancel of a sleep, parameter checks, and that each case leaves
 * the loop with no handle (uv_loop_close() == 0).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host/action_host.h"

#include <stdlib.h>
#include <string.h>

extern const rb_action_t rb_action_sleep;
extern const rb_action_t rb_action_log_desc;

typedef struct harness {
    uv_loop_t loop;
    rb_action_ctx_t *ctx;
    json_t *result;
    int done_calls;
} harness_t;

static void done_cb(rb_action_ctx_t *ctx, json_t *result, void *arg)
{
    harness_t *h = arg;
    h->done_calls++;
    json_decref(h->result);
    h->result = result;
}

static int h_start(harness_t *h, const rb_action_t *a, json_t *with)
{
    memset(h, 0, sizeof(*h));
    assert_int_equal(uv_loop_init(&h->loop), 0);
    h->ctx = rb__action_ctx_new(&h->loop, a, "/", 0, done_cb, h);
    assert_non_null(h->ctx);
    int rc = rb__action_start(h->ctx, with);
    json_decref(with); /* borrowed by start(): nothing may point into it now */
    return rc;
}

static json_t *h_finish(harness_t *h, int want_done)
{
    assert_int_equal(uv_run(&h->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(h->done_calls, want_done);
    rb__action_ctx_free(h->ctx);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    return h->result;
}

static json_t *run(const rb_action_t *a, json_t *with)
{
    harness_t h;
    assert_int_equal(h_start(&h, a, with), 0);
    json_t *r = h_finish(&h, 1);
    assert_true(json_is_object(r));
    return r;
}

static void start_fails(const rb_action_t *a, json_t *with)
{
    harness_t h;
    assert_int_equal(h_start(&h, a, with), RB_EINVAL);
    assert_null(h_finish(&h, 0));
}

static int validates(const rb_action_t *a, const char *text, const char **key)
{
    char msg[256] = "";
    json_t *w = json_loads(text, 0, NULL);
    assert_non_null(w);
    *key = NULL;
    int rc = a->validate(w, msg, sizeof(msg), key);
    if (rc)
        assert_true(msg[0] != '\0');
    json_decref(w);
    return rc;
}

/* ---------- sleep ---------- */

static void test_sleep(void **state)
{
    json_t *r = run(&rb_action_sleep, json_pack("{s:s}", "duration", "50ms"));
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
    json_int_t ms = json_integer_value(json_object_get(r, "slept_ms"));
    assert_true(ms >= 40);
    json_decref(r);

    /* An integer is seconds; 0 finishes on the next turn. */
    r = run(&rb_action_sleep, json_pack("{s:i}", "duration", 0));
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
}

static void cancel_cb(uv_timer_t *t)
{
    harness_t *h = t->data;
    rb__action_cancel(h->ctx);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_sleep_cancel(void **state)
{
    harness_t h;
    uv_timer_t t;
    assert_int_equal(h_start(&h, &rb_action_sleep, json_pack("{s:s}", "duration", "1h")), 0);
    uv_timer_init(&h.loop, &t);
    t.data = &h;
    uv_timer_start(&t, cancel_cb, 20, 0);
    json_t *r = h_finish(&h, 1);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "cancelled");
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_true(json_integer_value(json_object_get(r, "slept_ms")) < 5000); /* cut short */
    json_decref(r);
}

static void test_sleep_params(void **state)
{
    const char *key;
    assert_int_equal(validates(&rb_action_sleep, "{\"duration\": \"30s\"}", &key), 0);
    assert_int_equal(validates(&rb_action_sleep, "{\"duration\": 5}", &key), 0);
    assert_int_equal(validates(&rb_action_sleep, "{\"duration\": \"{{ params.wait }}\"}", &key), 0);
    assert_int_equal(validates(&rb_action_sleep, "{}", &key), RB_EINVAL);
    assert_string_equal(key, "duration");
    assert_int_equal(validates(&rb_action_sleep, "{\"duration\": \"soon\"}", &key), RB_EINVAL);
    assert_int_equal(validates(&rb_action_sleep, "{\"duration\": -1}", &key), RB_EINVAL);
    assert_int_equal(validates(&rb_action_sleep, "{\"duration\": [1]}", &key), RB_EINVAL);

    start_fails(&rb_action_sleep, json_pack("{}"));
    start_fails(&rb_action_sleep, json_pack("{s:s}", "duration", "{{ x }}"));
    assert_true(rb_action_sleep.flags & RB_ACTION_READ_ONLY);
    assert_int_equal(rb_action_sleep.abi_version, RB_ACTION_ABI_VERSION);
}

static void test_many_sleeps_one_loop(void **state)
{
    /* One timer each, no thread: a thousand concurrent sleeps are cheap. */
    enum { N = 1000 };
    uv_loop_t loop;
    harness_t *hs = calloc(N, sizeof(*hs));
    assert_int_equal(uv_loop_init(&loop), 0);
    json_t *with = json_pack("{s:s}", "duration", "10ms");
    for (int i = 0; i < N; i++) {
        hs[i].ctx = rb__action_ctx_new(&loop, &rb_action_sleep, "/", 0, done_cb, &hs[i]);
        assert_int_equal(rb__action_start(hs[i].ctx, with), 0);
    }
    json_decref(with);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(hs[i].done_calls, 1);
        assert_true(json_is_true(json_object_get(hs[i].result, "ok")));
        json_decref(hs[i].result);
        rb__action_ctx_free(hs[i].ctx);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
    free(hs);
}

/* ---------- log ---------- */

static void test_log(void **state)
{
    json_t *r = run(&rb_action_log_desc, json_pack("{s:s,s:s}", "message", "node restarted", "level", "warn"));
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(r, "message")), "node restarted");
    assert_string_equal(json_string_value(json_object_get(r, "level")), "warn");
    json_decref(r);

    r = run(&rb_action_log_desc, json_pack("{s:s}", "message", "default level"));
    assert_string_equal(json_string_value(json_object_get(r, "level")), "info");
    json_decref(r);

    /* A rendered single expression keeps its type: logged as JSON text. */
    r = run(&rb_action_log_desc, json_pack("{s:{s:i}}", "message", "height", 42));
    assert_string_equal(json_string_value(json_object_get(r, "message")), "{\"height\":42}");
    json_decref(r);
}

static void test_log_params(void **state)
{
    const char *key;
    assert_int_equal(validates(&rb_action_log_desc, "{\"message\": \"hi\"}", &key), 0);
    assert_int_equal(validates(&rb_action_log_desc, "{\"message\": \"hi\", \"level\": \"error\"}", &key), 0);
    assert_int_equal(validates(&rb_action_log_desc, "{\"message\": \"hi\", \"level\": \"debug\"}", &key), 0);
    assert_int_equal(
        validates(&rb_action_log_desc, "{\"message\": \"hi\", \"level\": \"{{ params.lvl }}\"}", &key), 0);
    assert_int_equal(validates(&rb_action_log_desc, "{\"message\": \"hi\", \"level\": \"verbose\"}", &key),
                     RB_EINVAL);
    assert_string_equal(key, "level");
    assert_int_equal(validates(&rb_action_log_desc, "{\"message\": \"hi\", \"level\": 3}", &key), RB_EINVAL);
    assert_int_equal(validates(&rb_action_log_desc, "{\"level\": \"info\"}", &key), RB_EINVAL);
    assert_string_equal(key, "message");

    start_fails(&rb_action_log_desc, json_pack("{s:s,s:s}", "message", "x", "level", "loud"));
    start_fails(&rb_action_log_desc, json_pack("{s:s}", "level", "info"));
    assert_true(rb_action_log_desc.flags & RB_ACTION_READ_ONLY);
    assert_string_equal(rb_action_log_desc.name, "log");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sleep),
        cmocka_unit_test(test_sleep_cancel),
        cmocka_unit_test(test_sleep_params),
        cmocka_unit_test(test_many_sleeps_one_loop),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_log_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
