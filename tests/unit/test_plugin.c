/*
 * test_plugin.c — external action modules: the example module
 * (actions/external/hello.c, built as rb_hello.so) loads, shows up in the
 * registry and runs on a real loop, with cancel; every module of
 * tests/plugins/broken.c is refused with an error that names the file and
 * the fault, and leaves the registry as it was; a directory loads all or
 * nothing; the built-in descriptors pass the loader's own checks.
 *
 * The module paths come from tests/plugins/plugins.cmake (RB_HELLO_SO,
 * RB_PLUGIN_DIR, RB_BROKEN_<VARIANT>).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host/action_host.h"
#include "host/plugin.h"
#include "load/runbook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *env_path(const char *name)
{
    const char *p = getenv(name);
    if (!p || !p[0]) {
        fprintf(stderr, "%s is not set (run through ctest)\n", name);
        fail();
    }
    return p;
}

typedef struct harness {
    uv_loop_t loop;
    uv_timer_t cancel_timer;
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

static void cancel_cb(uv_timer_t *t)
{
    harness_t *h = t->data;
    rb__action_cancel(h->ctx);
    uv_close((uv_handle_t *)t, NULL);
}

/* Runs action name with `with` (JSON text) to its end; cancel_ms > 0
 * cancels it after that long. Returns the result (owned by the caller). */
static json_t *run_action(const char *name, const char *with_text, uint64_t cancel_ms)
{
    harness_t h;
    memset(&h, 0, sizeof(h));
    const rb_action_t *a = rb__action_find(name);
    assert_non_null(a);
    assert_int_equal(uv_loop_init(&h.loop), 0);
    h.ctx = rb__action_ctx_new(&h.loop, a, "/", 0, done_cb, &h);
    assert_non_null(h.ctx);
    json_t *with = json_loads(with_text, 0, NULL);
    assert_non_null(with);
    assert_int_equal(rb__action_start(h.ctx, with), 0);
    json_decref(with);
    if (cancel_ms) {
        uv_timer_init(&h.loop, &h.cancel_timer);
        h.cancel_timer.data = &h;
        uv_timer_start(&h.cancel_timer, cancel_cb, cancel_ms, 0);
    }
    assert_int_equal(uv_run(&h.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(h.done_calls, 1);
    rb__action_ctx_free(h.ctx);
    assert_int_equal(uv_loop_close(&h.loop), 0);
    return h.result;
}

static int registry_is_builtins(void)
{
    return rb__action_list() == rb__action_builtins();
}

static void test_hello_loads_and_runs(void **state)
{
    const char *so = env_path("RB_HELLO_SO");
    char err[512] = "";
    assert_null(rb__action_find("hello"));
    int rc = rb__plugin_load(so, err, sizeof(err));
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);

    const rb_action_t *a = rb__action_find("hello");
    assert_non_null(a);
    assert_string_equal(rb__plugin_source(a), so);
    assert_null(rb__plugin_source(rb__action_find("exec")));
    assert_string_equal(rb__action_suggest("helo"), "hello");
    /* built-ins first, then the module's */
    const rb_action_t *const *all = rb__action_list();
    size_t n = 0;
    while (all[n])
        n++;
    assert_ptr_equal(all[n - 1], a);
    assert_ptr_equal(all[0], rb__action_builtins()[0]);

    json_t *r = run_action("hello", "{\"name\": \"ops\", \"delay\": \"20ms\"}", 0);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(r, "message")), "hello, ops");
    assert_true(json_integer_value(json_object_get(r, "waited_ms")) >= 15);
    json_decref(r);

    r = run_action("hello", "{}", 0);
    assert_string_equal(json_string_value(json_object_get(r, "message")), "hello, world");
    json_decref(r);

    /* its own validate() runs through the descriptor */
    char msg[256] = "";
    const char *key = NULL;
    json_t *w = json_pack("{s:s}", "delay", "2h");
    assert_int_equal(a->validate(w, msg, sizeof(msg), &key), RB_EINVAL);
    assert_string_equal(key, "delay");
    json_decref(w);

    rb__plugins_unload_all();
    assert_null(rb__action_find("hello"));
    assert_true(registry_is_builtins());
}

static void test_hello_cancel(void **state)
{
    char err[512] = "";
    assert_int_equal(rb__plugin_load(env_path("RB_HELLO_SO"), err, sizeof(err)), 0);
    json_t *r = run_action("hello", "{\"delay\": \"1h\"}", 20);
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(r, "status")), "cancelled");
    json_decref(r);
    rb__plugins_unload_all();
}

static void test_load_dir(void **state)
{
    char err[512] = "";
    int rc = rb__plugins_load_dir(env_path("RB_PLUGIN_DIR"), err, sizeof(err));
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(rb__action_find("hello"));
    rb__plugins_unload_all();
    assert_true(registry_is_builtins());

    rc = rb__plugins_load_dir("/nonexistent/plugins", err, sizeof(err));
    assert_true(rc < 0);
    assert_non_null(strstr(err, "/nonexistent/plugins"));
    assert_true(registry_is_builtins());
}

/* Loading env var `var` fails with rc, an error naming the file and
 * holding want, and leaves the registry as it was. */
static void refused(const char *var, int want_rc, const char *want)
{
    const char *so = env_path(var);
    char err[512] = "";
    const rb_action_t *const *before = rb__action_list();
    size_t nbefore = 0;
    while (before[nbefore])
        nbefore++;
    int rc = rb__plugin_load(so, err, sizeof(err));
    if (rc != want_rc || !strstr(err, want) || strncmp(err, so, strlen(so)) != 0)
        fprintf(stderr, "%s: rc %d, error \"%s\"; want %d and \"%s\"\n", var, rc, err, want_rc,
                want);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(err, want));
    assert_int_equal(strncmp(err, so, strlen(so)), 0);
    const rb_action_t *const *after = rb__action_list();
    size_t nafter = 0;
    while (after[nafter])
        nafter++;
    assert_int_equal(nafter, nbefore);
    assert_null(rb__action_find("broken"));
    assert_null(rb__action_find("second"));
}

static void test_refused(void **state)
{
    refused("RB_BROKEN_BAD_ABI", RB_EABI, ": ABI version 99, this engine speaks 1");
    refused("RB_BROKEN_BAD_SIZE", RB_EABI, ": struct_size 16 is smaller than rb_action_t");
    refused("RB_BROKEN_NO_ENTRY", RB_EABI, ": the module has no symbol rb_action_module_entry");
    refused("RB_BROKEN_CLASH", RB_EINVAL, ": action \"exec\" is already built in");
    refused("RB_BROKEN_UNDEF", RB_EIO, "undefined symbol: rb_action_no_such_service");
    refused("RB_BROKEN_NO_FLAGS", RB_EINVAL,
            "must set exactly one of RB_ACTION_SIDE_EFFECTS and RB_ACTION_READ_ONLY");
    refused("RB_BROKEN_BAD_DEFAULT", RB_EINVAL, "the default of \"level\" is not JSON text");
    refused("RB_BROKEN_SECOND_BAD", RB_EABI, ": descriptor 1: ABI version 99");
    assert_true(registry_is_builtins());
}

static int fake_validate_all(const json_t *with, rb_action_report_fn report, void *arg)
{
    (void)with, (void)report, (void)arg;
    return 0;
}

/* A module built before validate_all and preview were added to ABI
 * version 1 (struct_size RB_ACTION_MIN_SIZE, 64 bytes on 64-bit Linux) is
 * still taken, and the engine reads neither field of it. */
static void test_older_descriptor(void **state)
{
    (void)state;
    char err[512] = "";
    extern const rb_action_t rb_action_notify;
    rb_action_t d = rb_action_notify;
    d.name = "older";
    d.validate_all = fake_validate_all;
    d.struct_size = (uint32_t)RB_ACTION_MIN_SIZE;
    assert_int_equal(RB_ACTION_MIN_SIZE, offsetof(rb_action_t, cancel) + sizeof(d.cancel));
    assert_int_equal(rb__plugin_check_action(&d, err, sizeof err), 0);
    assert_null(rb__action_validate_all(&d));
    assert_null(rb__action_preview(&d));
    d.struct_size = (uint32_t)sizeof(rb_action_t);
    assert_ptr_equal(rb__action_validate_all(&d), fake_validate_all);
    d.struct_size = (uint32_t)RB_ACTION_MIN_SIZE - 8;
    assert_int_equal(rb__plugin_check_action(&d, err, sizeof err), RB_EABI);
}

static void test_clash_between_modules(void **state)
{
    const char *hello = env_path("RB_HELLO_SO");
    char err[512] = "", want[600];
    assert_int_equal(rb__plugin_load(hello, err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "action \"hello\" is already provided by %s", hello);
    refused("RB_BROKEN_DUP_HELLO", RB_EINVAL, want);
    /* the same file twice is a clash with itself, and changes nothing */
    assert_int_equal(rb__plugin_load(hello, err, sizeof(err)), RB_EINVAL);
    assert_non_null(strstr(err, want));
    assert_non_null(rb__action_find("hello"));
    json_t *r = run_action("hello", "{}", 0); /* still loaded, still runs */
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    rb__plugins_unload_all();
    assert_true(registry_is_builtins());
}

/* A directory holding a good module and, later in name order, a bad one:
 * the error names the bad file and the good one does not stay loaded. */
static void test_dir_all_or_nothing(void **state)
{
    char dir[] = "/tmp/rb-plugins-XXXXXX", a[256], b[256], err[512] = "";
    assert_non_null(mkdtemp(dir));
    snprintf(a, sizeof(a), "%s/a_hello.so", dir);
    snprintf(b, sizeof(b), "%s/b_bad.so", dir);
    assert_int_equal(symlink(env_path("RB_HELLO_SO"), a), 0);
    assert_int_equal(symlink(env_path("RB_BROKEN_BAD_ABI"), b), 0);
    int rc = rb__plugins_load_dir(dir, err, sizeof(err));
    assert_int_equal(rc, RB_EABI);
    assert_non_null(strstr(err, "b_bad.so: ABI version 99"));
    assert_null(rb__action_find("hello"));
    assert_true(registry_is_builtins());
    unlink(b);
    assert_int_equal(rb__plugins_load_dir(dir, err, sizeof(err)), 0);
    assert_non_null(rb__action_find("hello"));
    rb__plugins_unload_all();
    unlink(a);
    rmdir(dir);
}

/* The loader's checks hold for every built-in too (so `runbook actions`,
 * the docs and the schema can trust every descriptor alike). */
static void test_builtins_pass_the_checks(void **state)
{
    const rb_action_t *const *b = rb__action_builtins();
    for (size_t i = 0; b[i]; i++) {
        char err[512] = "";
        int rc = rb__plugin_check_action(b[i], err, sizeof(err));
        if (rc)
            fprintf(stderr, "built-in %s: %s\n", b[i]->name, err);
        assert_int_equal(rc, 0);
    }
}

/* The validator sees plugin actions through the same registry: their
 * parameter map checks `with:` at load time. */
static void test_validator_sees_plugins(void **state)
{
    char path[] = "/tmp/rb-plugin-rbXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "apiVersion: runbook/v1\n"
                       "name: greet\n"
                       "steps:\n"
                       "  - name: hi\n"
                       "    action: hello\n"
                       "    with: { nme: ops }\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);

    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    assert_true(rb_runbook_load(path, d, &rb) < 0); /* unknown action */
    rb_runbook_free(rb);
    json_t *j = rb_diags_json(d);
    char *s = json_dumps(j, 0);
    assert_non_null(strstr(s, "unknown action \\\"hello\\\""));
    free(s);
    json_decref(j);
    rb_diags_free(d);

    char err[512];
    assert_int_equal(rb__plugin_load(env_path("RB_HELLO_SO"), err, sizeof(err)), 0);
    d = rb_diags_new();
    rb = NULL;
    assert_true(rb_runbook_load(path, d, &rb) < 0); /* now: a bad parameter */
    rb_runbook_free(rb);
    j = rb_diags_json(d);
    s = json_dumps(j, 0);
    assert_non_null(strstr(s, "has no parameter \\\"nme\\\" (did you mean \\\"name\\\"?)"));
    free(s);
    json_decref(j);
    rb_diags_free(d);
    rb__plugins_unload_all();
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_loads_and_runs),
        cmocka_unit_test(test_hello_cancel),
        cmocka_unit_test(test_load_dir),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_older_descriptor),
        cmocka_unit_test(test_clash_between_modules),
        cmocka_unit_test(test_dir_all_or_nothing),
        cmocka_unit_test(test_builtins_pass_the_checks),
        cmocka_unit_test(test_validator_sees_plugins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
