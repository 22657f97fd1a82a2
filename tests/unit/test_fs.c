/*
 * test_fs.c — the `fs` action on a real uv loop: exists, age (with and
 * without max_age), free space (with min_free on both sides), a missing
 * path for each check, paths relative to the runbook's folder, a cancel,
 * and the load-time checks of validate(). Each case ends with the loop
 * closed clean (no handle left).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host/action_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

extern const rb_action_t rb_action_fs;

static char tmpdir[64];
static char file_path[128];

static int setup(void **state)
{
    strcpy(tmpdir, "/tmp/rb-fs-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(file_path, sizeof(file_path), "%s/backup.tar", tmpdir);
    FILE *f = fopen(file_path, "w");
    if (!f)
        return -1;
    fputs("data", f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    unlink(file_path);
    rmdir(tmpdir);
    return 0;
}

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

/* Runs fs with `with` (JSON text, %s replaced by the temp dir), base dir
 * base; cancel: cancel right after start. */
static json_t *run_fs(const char *base, int cancel, const char *with_fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *run_fs(const char *base, int cancel, const char *with_fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, with_fmt);
    vsnprintf(text, sizeof(text), with_fmt, ap);
    va_end(ap);
    harness_t h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(uv_loop_init(&h.loop), 0);
    h.ctx = rb__action_ctx_new(&h.loop, &rb_action_fs, base, 0, done_cb, &h);
    json_t *with = json_loads(text, 0, NULL);
    assert_non_null(with);
    assert_int_equal(rb__action_start(h.ctx, with), 0);
    json_decref(with);
    assert_int_equal(h.done_calls, 0); /* never from inside start() */
    if (cancel)
        rb__action_cancel(h.ctx);
    assert_int_equal(uv_run(&h.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(h.done_calls, 1);
    rb__action_ctx_free(h.ctx);
    assert_int_equal(uv_loop_close(&h.loop), 0);
    assert_true(json_is_object(h.result));
    return h.result;
}

static int ok_of(const json_t *r)
{
    return json_is_true(json_object_get(r, "ok"));
}
static const char *status_of(const json_t *r)
{
    return json_string_value(json_object_get(r, "status"));
}

static void test_exists(void **state)
{
    json_t *r =
        run_fs("/", 0, "{\"path\": \"%s/backup.tar\"}", tmpdir); /* check defaults to exists */
    assert_true(ok_of(r));
    assert_true(json_is_true(json_object_get(r, "exists")));
    json_decref(r);

    r = run_fs("/", 0, "{\"path\": \"%s/missing\", \"check\": \"exists\"}", tmpdir);
    assert_false(ok_of(r));
    assert_string_equal(status_of(r), "failed");
    assert_true(json_is_false(json_object_get(r, "exists")));
    assert_null(json_object_get(r, "error"));
    json_decref(r);

    /* relative: against the runbook's folder */
    r = run_fs(tmpdir, 0, "{\"path\": \"backup.tar\"}");
    assert_true(ok_of(r));
    json_decref(r);
    r = run_fs("/", 0, "{\"path\": \"backup.tar\"}");
    assert_false(ok_of(r));
    json_decref(r);
}

static void test_age(void **state)
{
    /* modified two hours ago */
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 7200;
    tv[1] = tv[0];
    assert_int_equal(utimes(file_path, tv), 0);

    json_t *r = run_fs("/", 0, "{\"path\": \"%s/backup.tar\", \"check\": \"age\"}", tmpdir);
    assert_true(ok_of(r)); /* no max_age: ok when it exists */
    double age = json_number_value(json_object_get(r, "age_s"));
    assert_true(age >= 7199 && age < 7300);
    json_decref(r);

    r = run_fs("/", 0, "{\"path\": \"%s/backup.tar\", \"check\": \"age\", \"max_age\": \"1h\"}",
               tmpdir);
    assert_false(ok_of(r)); /* older than an hour */
    assert_string_equal(status_of(r), "failed");
    json_decref(r);

    r = run_fs("/", 0, "{\"path\": \"%s/backup.tar\", \"check\": \"age\", \"max_age\": \"3h\"}",
               tmpdir);
    assert_true(ok_of(r));
    json_decref(r);

    r = run_fs("/", 0, "{\"path\": \"%s/backup.tar\", \"check\": \"age\", \"max_age\": 10800}",
               tmpdir);
    assert_true(ok_of(r)); /* a bare number is seconds */
    json_decref(r);

    r = run_fs("/", 0, "{\"path\": \"%s/nope\", \"check\": \"age\", \"max_age\": \"3h\"}", tmpdir);
    assert_false(ok_of(r));
    assert_true(json_is_false(json_object_get(r, "exists")));
    assert_null(json_object_get(r, "age_s"));
    json_decref(r);
}

static void test_free_space(void **state)
{
    json_t *r = run_fs("/", 0, "{\"path\": \"%s\", \"check\": \"free\"}", tmpdir);
    assert_true(ok_of(r));
    double pct = json_number_value(json_object_get(r, "free_percent"));
    json_int_t fb = json_integer_value(json_object_get(r, "free_bytes"));
    json_int_t tb = json_integer_value(json_object_get(r, "total_bytes"));
    assert_true(pct >= 0 && pct <= 100);
    assert_true(tb > 0 && fb >= 0 && fb <= tb);
    json_decref(r);

    r = run_fs("/", 0, "{\"path\": \"%s\", \"check\": \"free\", \"min_free\": 0}", tmpdir);
    assert_true(ok_of(r));
    json_decref(r);

    if (pct < 99.99) {
        r = run_fs("/", 0, "{\"path\": \"%s\", \"check\": \"free\", \"min_free\": 100}", tmpdir);
        assert_false(ok_of(r));
        assert_string_equal(status_of(r), "failed");
        json_decref(r);
    }

    r = run_fs("/", 0, "{\"path\": \"%s/no/such/dir\", \"check\": \"free\", \"min_free\": 5.5}",
               tmpdir);
    assert_false(ok_of(r));
    assert_string_equal(status_of(r), "error");
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "no/such/dir"));
    json_decref(r);
}

static void test_cancel(void **state)
{
    json_t *r = run_fs("/", 1, "{\"path\": \"%s\", \"check\": \"free\"}", tmpdir);
    assert_false(ok_of(r));
    assert_string_equal(status_of(r), "cancelled");
    json_decref(r);
}

static void start_refused(const char *with_text)
{
    uv_loop_t loop;
    int calls = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    rb_action_ctx_t *ctx = rb__action_ctx_new(&loop, &rb_action_fs, "/", 0, NULL, &calls);
    rb__action_ctx_set_log(ctx, NULL, NULL);
    json_t *w = json_loads(with_text, 0, NULL);
    assert_non_null(w);
    assert_int_equal(rb__action_start(ctx, w), RB_EINVAL);
    json_decref(w);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    rb__action_ctx_free(ctx);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Returns 0 or the error, with the key it names. */
static int check(const char *text, const char **key)
{
    char msg[256] = "";
    json_t *w = json_loads(text, 0, NULL);
    assert_non_null(w);
    *key = NULL;
    int rc = rb_action_fs.validate(w, msg, sizeof(msg), key);
    assert_true(rc == 0 || msg[0]);
    json_decref(w);
    return rc;
}

static void test_validate(void **state)
{
    const char *key;
    assert_int_equal(check("{\"path\": \"/var\"}", &key), 0);
    assert_int_equal(check("{\"path\": \"/var\", \"check\": \"free\", \"min_free\": 10}", &key), 0);
    assert_int_equal(check("{\"path\": \"/var\", \"check\": \"free\", \"min_free\": 12.5}", &key),
                     0);
    assert_int_equal(check("{\"path\": \"/b\", \"check\": \"age\", \"max_age\": \"24h\"}", &key),
                     0);
    /* templates are checked once rendered */
    assert_int_equal(check("{\"path\": \"{{ params.p }}\", \"check\": \"{{ params.c }}\", "
                           "\"min_free\": \"{{ params.m }}\"}",
                           &key),
                     0);

    assert_int_equal(check("{\"path\": \"/var\", \"check\": \"size\"}", &key), RB_EINVAL);
    assert_string_equal(key, "check");
    assert_int_equal(check("{\"path\": \"/var\", \"check\": \"free\", \"min_free\": 101}", &key),
                     RB_EINVAL);
    assert_string_equal(key, "min_free");
    assert_int_equal(check("{\"path\": \"/var\", \"check\": \"free\", \"min_free\": -1}", &key),
                     RB_EINVAL);
    assert_int_equal(
        check("{\"path\": \"/var\", \"check\": \"free\", \"min_free\": \"10%\"}", &key), RB_EINVAL);
    assert_int_equal(check("{\"path\": \"/var\", \"min_free\": 10}", &key), RB_EINVAL);
    assert_string_equal(key, "min_free"); /* the default check is exists */
    assert_int_equal(check("{\"path\": \"/var\", \"check\": \"free\", \"max_age\": \"1h\"}", &key),
                     RB_EINVAL);
    assert_string_equal(key, "max_age");
    assert_int_equal(check("{\"path\": \"/b\", \"check\": \"age\", \"max_age\": \"soon\"}", &key),
                     RB_EINVAL);
    assert_int_equal(check("{\"check\": \"free\"}", &key), RB_EINVAL);
    assert_string_equal(key, "path");

    /* what a template rendered to is checked again at start */
    start_refused("{\"path\": \"/var\", \"check\": \"bogus\"}");
    start_refused("{\"path\": \"\"}");
    start_refused("{\"path\": \"/var\", \"check\": \"free\", \"min_free\": \"x\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exists),     cmocka_unit_test(test_age),
        cmocka_unit_test(test_free_space), cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
