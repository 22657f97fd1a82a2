/*
 * test_exec.c — the `exec` action on a real uv loop with real children:
 * argv and shell forms, exit codes and signals, output capture and its cap,
 * the explicit environment, cwd, stdin, missing commands, cancel with a
 * SIGTERM-proof child, a background grandchild holding stdout, and hostile
 * argv bytes. Every case ends by running the loop dry and checking that it
 * closes with no handle left (uv_loop_close() == 0).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host/action_host.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern const rb_action_t rb_action_exec;

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static char g_dir[PATH_MAX]; /* a scratch directory, the base_dir of most cases */

typedef struct harness {
    uv_loop_t loop;
    rb_action_ctx_t *ctx;
    json_t *result;
    int done_calls;
    uint64_t t0;
} harness_t;

static void done_cb(rb_action_ctx_t *ctx, json_t *result, void *arg)
{
    harness_t *h = arg;
    h->done_calls++;
    json_decref(h->result);
    h->result = result;
}

/* Starts the action; `with` is stolen and released right after start(), so
 * an action that kept a borrowed pointer shows up under ASan. */
static void h_start(harness_t *h, const char *base, size_t cap, json_t *with)
{
    memset(h, 0, sizeof(*h));
    assert_int_equal(uv_loop_init(&h->loop), 0);
    h->ctx = rb__action_ctx_new(&h->loop, &rb_action_exec, base ? base : g_dir, cap, done_cb, h);
    assert_non_null(h->ctx);
    assert_non_null(with);
    h->t0 = uv_hrtime();
    assert_int_equal(rb__action_start(h->ctx, with), 0);
    json_decref(with);
}

/* Runs the loop dry; returns the result (owned by the caller). */
static json_t *h_finish(harness_t *h)
{
    assert_int_equal(uv_run(&h->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(h->done_calls, 1);
    rb__action_ctx_free(h->ctx);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    assert_true(json_is_object(h->result));
    return h->result;
}

static double h_elapsed_s(const harness_t *h)
{
    return (double)(uv_hrtime() - h->t0) / 1e9;
}

static json_t *run_exec(const char *base, size_t cap, json_t *with)
{
    harness_t h;
    h_start(&h, base, cap, with);
    return h_finish(&h);
}

static const char *str(const json_t *r, const char *k)
{
    const char *s = json_string_value(json_object_get(r, k));
    assert_non_null(s);
    return s;
}

static json_int_t num(const json_t *r, const char *k)
{
    const json_t *v = json_object_get(r, k);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static int flag(const json_t *r, const char *k)
{
    const json_t *v = json_object_get(r, k);
    assert_true(json_is_boolean(v));
    return json_is_true(v);
}

static void write_file(const char *rel, const char *text, mode_t mode)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", g_dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(p, mode), 0);
}

static int rm_cb(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(p);
}

static int group_setup(void **state)
{
    char tmpl[] = "/tmp/rb-test-exec-XXXXXX";
    if (!mkdtemp(tmpl) || !realpath(tmpl, g_dir))
        return -1;
    char p[PATH_MAX + 16];
    snprintf(p, sizeof(p), "%s/sub", g_dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/scripts", g_dir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/bin", g_dir);
    mkdir(p, 0755);
    write_file("scripts/hello.sh", "#!/bin/sh\necho \"hello $1\"\n", 0755);
    write_file("scripts/noexec.sh", "#!/bin/sh\necho no\n", 0644);
    write_file("bin/rbhello", "#!/bin/sh\necho rbhello\n", 0755);
    return 0;
}

static int group_teardown(void **state)
{
    return nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------- forms, exit codes, capture ---------- */

static void test_argv_stdout(void **state)
{
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s,s,s,s]}", "argv", "printf", "%s-%s", "a b", "c"));
    assert_true(flag(r, "ok"));
    assert_string_equal(str(r, "status"), "ok");
    assert_int_equal(num(r, "exit_code"), 0);
    assert_true(json_is_null(json_object_get(r, "signal")));
    assert_string_equal(str(r, "stdout"), "a b-c");
    assert_string_equal(str(r, "stderr"), "");
    assert_false(flag(r, "stdout_truncated"));
    assert_false(flag(r, "stderr_truncated"));
    assert_true(num(r, "pid") > 0);
    json_decref(r);
}

static void test_argv_scalars(void **state)
{
    /* A single-expression template keeps its type: numbers reach argv too. */
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s,i,b,f]}", "argv", "echo", 5, 1, 0.5));
    assert_string_equal(str(r, "stdout"), "5 true 0.5\n");
    json_decref(r);
}

static void test_shell_form(void **state)
{
    json_t *r = run_exec(NULL, 0,
                         json_pack("{s:s}", "shell", "echo one; echo two >&2; echo 'a  b' | tr a x; exit 3"));
    assert_false(flag(r, "ok"));
    assert_string_equal(str(r, "status"), "failed");
    assert_int_equal(num(r, "exit_code"), 3);
    assert_string_equal(str(r, "stdout"), "one\nx  b\n");
    assert_string_equal(str(r, "stderr"), "two\n");
    json_decref(r);
}

static void test_exit_codes(void **state)
{
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s]}", "argv", "false"));
    assert_int_equal(num(r, "exit_code"), 1);
    assert_string_equal(str(r, "status"), "failed");
    json_decref(r);

    r = run_exec(NULL, 0, json_pack("{s:[s]}", "argv", "true"));
    assert_int_equal(num(r, "exit_code"), 0);
    assert_true(flag(r, "ok"));
    json_decref(r);

    r = run_exec(NULL, 0, json_pack("{s:s}", "shell", "echo before; kill -KILL $$"));
    assert_false(flag(r, "ok"));
    assert_string_equal(str(r, "status"), "failed");
    assert_true(json_is_null(json_object_get(r, "exit_code")));
    assert_string_equal(str(r, "signal"), "SIGKILL");
    assert_string_equal(str(r, "stdout"), "before\n");
    json_decref(r);
}

static void test_stderr_capture(void **state)
{
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s,s,s]}", "argv", "sh", "-c", "echo oops >&2; exit 2"));
    assert_string_equal(str(r, "stderr"), "oops\n");
    assert_string_equal(str(r, "stdout"), "");
    assert_int_equal(num(r, "exit_code"), 2);
    json_decref(r);
}

/* ---------- environment ---------- */

static void test_env_minimal(void **state)
{
    setenv("RB_TEST_SECRET", "leak", 1);
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s]}", "argv", "env"));
    char want[1024];
    const char *home = getenv("HOME");
    if (home)
        snprintf(want, sizeof(want), "PATH=%s\nHOME=%s\nLANG=C.UTF-8\n", DEFAULT_PATH, home);
    else
        snprintf(want, sizeof(want), "PATH=%s\nLANG=C.UTF-8\n", DEFAULT_PATH);
    assert_string_equal(str(r, "stdout"), want);
    json_decref(r);

    r = run_exec(NULL, 0, json_pack("{s:s}", "shell", "echo \"[$RB_TEST_SECRET]\""));
    assert_string_equal(str(r, "stdout"), "[]\n");
    json_decref(r);
    unsetenv("RB_TEST_SECRET");
}

static void test_env_inherit(void **state)
{
    setenv("RB_TEST_SECRET", "leak", 1);
    setenv("RB_TEST_OTHER", "orig", 1);
    json_t *r = run_exec(NULL, 0,
                         json_pack("{s:s,s:b,s:{s:s}}", "shell",
                                   "echo \"[$RB_TEST_SECRET][$RB_TEST_OTHER]\"; env | grep -c '^RB_TEST_OTHER='",
                                   "inherit_env", 1, "env", "RB_TEST_OTHER", "override"));
    assert_string_equal(str(r, "stdout"), "[leak][override]\n1\n");
    json_decref(r);
    unsetenv("RB_TEST_SECRET");
    unsetenv("RB_TEST_OTHER");
}

static void test_env_map(void **state)
{
    json_t *r = run_exec(NULL, 0,
                         json_pack("{s:s,s:{s:s,s:i,s:s}}", "shell", "echo \"$FOO|$N|$LANG\"", "env",
                                   "FOO", "bar  baz", "N", 5, "LANG", "en_US.UTF-8"));
    assert_string_equal(str(r, "stdout"), "bar  baz|5|en_US.UTF-8\n");
    json_decref(r);
}

static void test_path_is_the_childs(void **state)
{
    /* The engine's PATH finds rbhello; the child's must decide. */
    const char *path = getenv("PATH");
    char *old = strdup(path ? path : "");
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/bin:%s", g_dir, old);
    setenv("PATH", p, 1);
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s]}", "argv", "rbhello"));
    assert_string_equal(str(r, "status"), "error");
    assert_int_equal(num(r, "exit_code"), 127);
    assert_string_equal(str(r, "error"), "command not found: rbhello");
    json_decref(r);

    snprintf(p, sizeof(p), "%s/bin", g_dir);
    r = run_exec(NULL, 0, json_pack("{s:[s],s:{s:s}}", "argv", "rbhello", "env", "PATH", p));
    assert_true(flag(r, "ok"));
    assert_string_equal(str(r, "stdout"), "rbhello\n");
    json_decref(r);
    setenv("PATH", old, 1);
    free(old);
}

/* ---------- cwd and relative commands ---------- */

/* Under valgrind (valgrind.exec: RB_VALGRIND is set) a child's failed chdir
 * or exec never reaches the engine: valgrind runs glibc's posix_spawn child,
 * which reports that error through the memory it shares with the parent
 * (CLONE_VFORK), as a plain fork. Those cases are unit.exec's alone. */
static void test_cwd(void **state)
{
    char want[PATH_MAX + 8];
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s]}", "argv", "pwd"));
    snprintf(want, sizeof(want), "%s\n", g_dir);
    assert_string_equal(str(r, "stdout"), want);
    json_decref(r);

    r = run_exec(NULL, 0, json_pack("{s:[s],s:s}", "argv", "pwd", "cwd", "sub"));
    snprintf(want, sizeof(want), "%s/sub\n", g_dir);
    assert_string_equal(str(r, "stdout"), want);
    json_decref(r);

    r = run_exec(NULL, 0, json_pack("{s:[s],s:s}", "argv", "pwd", "cwd", "/"));
    assert_string_equal(str(r, "stdout"), "/\n");
    json_decref(r);

    if (getenv("RB_VALGRIND"))
        return; /* above test_cwd: why */
    r = run_exec(NULL, 0, json_pack("{s:[s],s:s}", "argv", "pwd", "cwd", "missing"));
    assert_string_equal(str(r, "status"), "error");
    assert_false(flag(r, "ok"));
    assert_non_null(strstr(str(r, "error"), "missing: No such file or directory"));
    json_decref(r);
}

static void test_relative_command(void **state)
{
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s,s]}", "argv", "./scripts/hello.sh", "x"));
    assert_true(flag(r, "ok"));
    assert_string_equal(str(r, "stdout"), "hello x\n");
    json_decref(r);

    /* Relative to cwd, not to the base dir or the engine's directory. */
    r = run_exec(NULL, 0,
                 json_pack("{s:[s,s],s:s}", "argv", "../scripts/hello.sh", "y", "cwd", "sub"));
    assert_string_equal(str(r, "stdout"), "hello y\n");
    json_decref(r);
}

/* ---------- stdin ---------- */

static void test_stdin(void **state)
{
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s],s:s}", "argv", "cat", "stdin", "line1\nline2\n"));
    assert_string_equal(str(r, "stdout"), "line1\nline2\n");
    json_decref(r);

    r = run_exec(NULL, 0, json_pack("{s:[s]}", "argv", "cat")); /* /dev/null: no hang */
    assert_string_equal(str(r, "stdout"), "");
    assert_true(flag(r, "ok"));
    json_decref(r);

    /* Larger than a pipe, to a child that never reads it: no SIGPIPE, no hang. */
    size_t n = 1000000;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    r = run_exec(NULL, 0, json_pack("{s:[s,s],s:s}", "argv", "wc", "-c", "stdin", big));
    assert_string_equal(str(r, "stdout"), "1000000\n");
    json_decref(r);
    r = run_exec(NULL, 0, json_pack("{s:[s],s:s}", "argv", "true", "stdin", big));
    assert_true(flag(r, "ok"));
    json_decref(r);
    free(big);
}

/* ---------- commands that cannot run ---------- */

static void test_not_found(void **state)
{
    if (getenv("RB_VALGRIND"))
        skip(); /* above test_cwd: why */
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s,s]}", "argv", "rb-no-such-command-xyz", "arg"));
    assert_false(flag(r, "ok"));
    assert_string_equal(str(r, "status"), "error");
    assert_int_equal(num(r, "exit_code"), 127);
    assert_string_equal(str(r, "error"), "command not found: rb-no-such-command-xyz");
    assert_true(json_is_null(json_object_get(r, "pid")));
    json_decref(r);

    r = run_exec(NULL, 0, json_pack("{s:[s]}", "argv", "./scripts/missing.sh"));
    assert_int_equal(num(r, "exit_code"), 127);
    assert_string_equal(str(r, "error"), "command not found: ./scripts/missing.sh");
    json_decref(r);

    r = run_exec(NULL, 0, json_pack("{s:[s]}", "argv", "./scripts/noexec.sh"));
    assert_string_equal(str(r, "status"), "error");
    assert_int_equal(num(r, "exit_code"), 126);
    assert_non_null(strstr(str(r, "error"), "Permission denied"));
    json_decref(r);

    r = run_exec(NULL, 0, json_pack("{s:[s]}", "argv", "./sub"));
    assert_int_equal(num(r, "exit_code"), 126);
    json_decref(r);
}

/* ---------- output cap ---------- */

static void test_flood_stdout(void **state)
{
    /* 200 MB: must be capped, drained to the end, and the child reaped. */
    json_t *r = run_exec(NULL, 0,
                         json_pack("{s:[s,s,s,s]}", "argv", "head", "-c", "200000000", "/dev/zero"));
    assert_true(flag(r, "ok"));
    assert_int_equal(num(r, "exit_code"), 0);
    assert_true(flag(r, "stdout_truncated"));
    assert_false(flag(r, "stderr_truncated"));
    assert_int_equal(json_string_length(json_object_get(r, "stdout")), 64 * 1024);
    json_decref(r);

    r = run_exec(NULL, 4096,
                 json_pack("{s:s}", "shell", "head -c 5000000 /dev/zero | tr '\\0' e >&2; echo done"));
    assert_true(flag(r, "stderr_truncated"));
    assert_false(flag(r, "stdout_truncated"));
    assert_int_equal(json_string_length(json_object_get(r, "stderr")), 4096);
    assert_string_equal(str(r, "stdout"), "done\n");
    json_decref(r);

    /* Exactly the cap is not truncated. */
    r = run_exec(NULL, 5, json_pack("{s:[s,s]}", "argv", "printf", "12345"));
    assert_false(flag(r, "stdout_truncated"));
    assert_string_equal(str(r, "stdout"), "12345");
    json_decref(r);
}

static void test_utf8(void **state)
{
    /* Ill-formed bytes become U+FFFD; the result is still valid JSON. */
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s,s]}", "argv", "printf", "\\377ok\\300\\342\\202x"));
    assert_string_equal(str(r, "stdout"), "\xEF\xBF\xBDok\xEF\xBF\xBD\xEF\xBF\xBDx");
    char *dump = json_dumps(r, 0);
    assert_non_null(dump);
    free(dump);
    json_decref(r);

    /* A character cut in two by the cap is dropped, not replaced. */
    r = run_exec(NULL, 6, json_pack("{s:[s,s]}", "argv", "printf", "aaaa\\342\\202\\254bbb"));
    assert_true(flag(r, "stdout_truncated"));
    assert_string_equal(str(r, "stdout"), "aaaa");
    json_decref(r);

    r = run_exec(NULL, 0, json_pack("{s:[s,s]}", "argv", "printf", "caf\\303\\251 \\342\\202\\254"));
    assert_string_equal(str(r, "stdout"), "caf\xC3\xA9 \xE2\x82\xAC");
    json_decref(r);
}

/* ---------- cancel ---------- */

typedef struct canceller {
    uv_timer_t timer;
    harness_t *h;
    char ready[PATH_MAX + 16]; /* cancel once this file exists ("" = at once) */
} canceller_t;

static void canceller_cb(uv_timer_t *t)
{
    canceller_t *c = t->data;
    if (c->ready[0] && access(c->ready, F_OK) != 0)
        return;
    rb__action_cancel(c->h->ctx);
    uv_close((uv_handle_t *)t, NULL);
}

static void start_canceller(canceller_t *c, harness_t *h, uint64_t every_ms, const char *ready)
{
    c->h = h;
    snprintf(c->ready, sizeof(c->ready), "%s", ready ? ready : "");
    uv_timer_init(&h->loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, canceller_cb, every_ms, every_ms);
}

static void test_cancel_sigterm(void **state)
{
    harness_t h;
    canceller_t c;
    h_start(&h, NULL, 0, json_pack("{s:[s,s]}", "argv", "sleep", "30"));
    start_canceller(&c, &h, 50, NULL);
    json_t *r = h_finish(&h);
    assert_false(flag(r, "ok"));
    assert_string_equal(str(r, "status"), "cancelled");
    assert_string_equal(str(r, "signal"), "SIGTERM");
    assert_true(json_is_null(json_object_get(r, "exit_code")));
    json_decref(r);
}

/* Members of process group pgid that are not zombies. A killed grandchild
 * is reparented and reaped by init whenever init gets to it, so "gone" means
 * "no live member", not ESRCH. */
static int group_live_members(pid_t pgid)
{
    int live = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[300], buf[512];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(p, sizeof(p), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *rp = strrchr(buf, ')');
        char state;
        int ppid, pgrp;
        if (rp && sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
            state != 'Z' && state != 'X')
            live++;
    }
    closedir(d);
    return live;
}

/* SIGKILL is delivered asynchronously: give the kernel a moment. */
static int group_gone(pid_t pgid)
{
    for (int i = 0; i < 300; i++) {
        if (group_live_members(pgid) == 0)
            return 1;
        usleep(10000);
    }
    return 0;
}

static void test_cancel_term_ignored(void **state)
{
    /* Ignores SIGTERM (and so does its sleep, which inherits the SIG_IGN):
     * only the SIGKILL after the grace ends it, and then fast. */
    harness_t h;
    canceller_t c;
    char ready[PATH_MAX + 16], script[PATH_MAX * 2];
    snprintf(ready, sizeof(ready), "%s/ready-term", g_dir);
    unlink(ready);
    snprintf(script, sizeof(script), "trap '' TERM; touch '%s'; sleep 30; echo not-reached", ready);
    h_start(&h, NULL, 0, json_pack("{s:s,s:s}", "shell", script, "grace", "300ms"));
    start_canceller(&c, &h, 10, ready);
    json_t *r = h_finish(&h);
    assert_string_equal(str(r, "status"), "cancelled");
    assert_false(flag(r, "ok"));
    assert_string_equal(str(r, "signal"), "SIGKILL");
    assert_string_equal(str(r, "stdout"), "");
    double el = h_elapsed_s(&h);
    assert_true(el >= 0.3);
    assert_true(el < 10.0);
    /* The whole group is gone: the sleep did not survive its shell. */
    assert_true(group_gone((pid_t)num(r, "pid")));
    json_decref(r);
    unlink(ready);
}

static void test_cancel_group_outlives_leader(void **state)
{
    /* The shell dies of SIGTERM at once; a subshell of its group ignores
     * SIGTERM and holds stdout. It gets the rest of the grace, then SIGKILL:
     * the cancelled step leaves nothing behind. */
    harness_t h;
    canceller_t c;
    char ready[PATH_MAX + 16], script[PATH_MAX * 2];
    snprintf(ready, sizeof(ready), "%s/ready-group", g_dir);
    unlink(ready);
    snprintf(script, sizeof(script), "(trap '' TERM; touch '%s'; sleep 30) & wait", ready);
    h_start(&h, NULL, 0, json_pack("{s:s,s:s}", "shell", script, "grace", "400ms"));
    start_canceller(&c, &h, 10, ready);
    json_t *r = h_finish(&h);
    assert_string_equal(str(r, "status"), "cancelled");
    assert_string_equal(str(r, "signal"), "SIGTERM");
    double el = h_elapsed_s(&h);
    assert_true(el >= 0.4);
    assert_true(el < 10.0);
    assert_true(group_gone((pid_t)num(r, "pid")));
    json_decref(r);
    unlink(ready);
}

static void test_background_grandchild(void **state)
{
    /* The shell exits at once; its background sleep keeps stdout open. */
    harness_t h;
    h_start(&h, NULL, 0, json_pack("{s:s}", "shell", "sleep 20 & echo started"));
    json_t *r = h_finish(&h);
    assert_true(flag(r, "ok"));
    assert_string_equal(str(r, "stdout"), "started\n");
    assert_true(h_elapsed_s(&h) < 5.0);
    kill(-(pid_t)num(r, "pid"), SIGKILL); /* tidy: the sleep is still in the group */
    json_decref(r);
}

static void test_cancel_after_start_failure(void **state)
{
    /* A command that cannot start still reports once; cancel is harmless. */
    harness_t h;
    canceller_t c;
    h_start(&h, NULL, 0, json_pack("{s:[s]}", "argv", "rb-no-such-command-xyz"));
    rb__action_cancel(h.ctx);
    start_canceller(&c, &h, 1, NULL); /* and once more after the result */
    json_t *r = h_finish(&h);
    assert_int_equal(num(r, "exit_code"), 127);
    json_decref(r);
}

/* ---------- hostile argv ---------- */

static void test_hostile_argv(void **state)
{
    char marker[PATH_MAX + 16], a1[PATH_MAX * 2], a2[PATH_MAX * 2], a3[PATH_MAX * 2];
    snprintf(marker, sizeof(marker), "%s/pwned", g_dir);
    unlink(marker);
    snprintf(a1, sizeof(a1), "$(touch %s)", marker);
    snprintf(a2, sizeof(a2), "`touch %s`", marker);
    snprintf(a3, sizeof(a3), "; touch %s; echo", marker);
    const char *a4 = "'\"\\ && | > < *";
    const char *a5 = "line1\nline2";
    json_t *r = run_exec(NULL, 0,
                         json_pack("{s:[s,s,s,s,s,s,s]}", "argv", "printf", "[%s]\\n", a1, a2, a3, a4, a5));
    char want[PATH_MAX * 8];
    snprintf(want, sizeof(want), "[%s]\n[%s]\n[%s]\n[%s]\n[%s]\n", a1, a2, a3, a4, a5);
    assert_string_equal(str(r, "stdout"), want);
    assert_true(flag(r, "ok"));
    assert_int_equal(access(marker, F_OK), -1);
    json_decref(r);

    /* Through the shell form, a value the engine quoted stays one word. */
    char line[PATH_MAX * 4];
    snprintf(line, sizeof(line), "printf '[%%s]\\n' '$(touch %s)'", marker);
    r = run_exec(NULL, 0, json_pack("{s:s}", "shell", line));
    snprintf(want, sizeof(want), "[$(touch %s)]\n", marker);
    assert_string_equal(str(r, "stdout"), want);
    assert_int_equal(access(marker, F_OK), -1);
    json_decref(r);
}

/* ---------- malformed `with` ---------- */

static void expect_start_einval(json_t *with)
{
    uv_loop_t loop;
    harness_t h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(uv_loop_init(&loop), 0);
    rb_action_ctx_t *ctx = rb__action_ctx_new(&loop, &rb_action_exec, g_dir, 0, done_cb, &h);
    assert_int_equal(rb__action_start(ctx, with), RB_EINVAL);
    json_decref(with);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(h.done_calls, 0); /* an error from start: never a result */
    rb__action_ctx_free(ctx);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_start_rejects(void **state)
{
    expect_start_einval(json_pack("{}"));
    expect_start_einval(json_pack("{s:[s],s:s}", "argv", "true", "shell", "true"));
    expect_start_einval(json_pack("{s:[]}", "argv"));
    expect_start_einval(json_pack("{s:[s]}", "argv", ""));
    expect_start_einval(json_pack("{s:[s,[]]}", "argv", "echo"));
    expect_start_einval(json_pack("{s:[s,n]}", "argv", "echo"));
    expect_start_einval(json_pack("{s:s}", "shell", ""));
    expect_start_einval(json_pack("{s:[s],s:{s:s}}", "argv", "true", "env", "A=B", "x"));
    expect_start_einval(json_pack("{s:[s],s:{s:s}}", "argv", "true", "env", "", "x"));
    expect_start_einval(json_pack("{s:[s],s:{s:[]}}", "argv", "true", "env", "A"));
    expect_start_einval(json_pack("{s:[s],s:s}", "argv", "true", "grace", "soon"));
    expect_start_einval(json_pack("{s:[s],s:s}", "argv", "true", "inherit_env", "yes"));
    /* After rendering, "{{" is literal text, not a template to skip. */
    expect_start_einval(json_pack("{s:s}", "argv", "{{ params.cmd }}"));
    /* An embedded NUL cannot reach execve. */
    expect_start_einval(json_pack("{s:[s#]}", "argv", "a\0b", (size_t)3));
}

static void test_validate(void **state)
{
    char msg[256];
    const char *key;
    struct {
        const char *with;
        int ok;
        const char *key;
    } cases[] = {
        {"{\"argv\": [\"systemctl\", \"restart\", \"{{ params.unit }}\"]}", 1, NULL},
        {"{\"shell\": \"echo {{ params.x }}\"}", 1, NULL},
        {"{\"argv\": \"{{ params.cmd }}\"}", 1, NULL},
        {"{\"argv\": [\"sleep\", 5], \"grace\": \"1s\", \"env\": {\"A\": \"b\"}}", 1, NULL},
        {"{\"argv\": [\"x\"], \"grace\": \"{{ params.grace }}\", \"inherit_env\": true}", 1, NULL},
        {"{\"argv\": [\"x\"], \"cwd\": \"sub\", \"stdin\": \"data\"}", 1, NULL},
        {"{}", 0, "argv"},
        {"{\"argv\": [\"x\"], \"shell\": \"x\"}", 0, "shell"},
        {"{\"argv\": []}", 0, "argv"},
        {"{\"argv\": \"ls -l\"}", 0, "argv"},
        {"{\"argv\": [\"\"]}", 0, "argv"},
        {"{\"argv\": [\"x\", {\"a\": 1}]}", 0, "argv"},
        {"{\"shell\": 5}", 0, "shell"},
        {"{\"argv\": [\"x\"], \"env\": {\"A=B\": \"c\"}}", 0, "env"},
        {"{\"argv\": [\"x\"], \"env\": [\"A=B\"]}", 0, "env"},
        {"{\"argv\": [\"x\"], \"grace\": \"5 s\"}", 0, "grace"},
        {"{\"argv\": [\"x\"], \"grace\": -1}", 0, "grace"},
        {"{\"argv\": [\"x\"], \"inherit_env\": \"no\"}", 0, "inherit_env"},
        {"{\"argv\": [\"x\"], \"cwd\": \"\"}", 0, "cwd"},
        {"{\"argv\": [\"x\"], \"stdin\": [1]}", 0, "stdin"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *w = json_loads(cases[i].with, 0, NULL);
        assert_non_null(w);
        key = NULL;
        msg[0] = '\0';
        int rc = rb_action_exec.validate(w, msg, sizeof(msg), &key);
        if (cases[i].ok) {
            if (rc != 0)
                fail_msg("case %zu (%s) rejected: %s", i, cases[i].with, msg);
        } else {
            if (rc != RB_EINVAL)
                fail_msg("case %zu (%s) accepted", i, cases[i].with);
            assert_true(msg[0] != '\0');
            assert_non_null(key);
            assert_string_equal(key, cases[i].key);
        }
        json_decref(w);
    }
}

static void test_descriptor(void **state)
{
    assert_int_equal(rb_action_exec.abi_version, RB_ACTION_ABI_VERSION);
    assert_int_equal(rb_action_exec.struct_size, sizeof(rb_action_t));
    assert_string_equal(rb_action_exec.name, "exec");
    assert_true(rb_action_exec.flags & RB_ACTION_SIDE_EFFECTS);
    assert_non_null(rb_action_exec.cancel);
    /* Every default in the parameter map is valid JSON text. */
    for (const rb_action_param_t *p = rb_action_exec.params; p->name; p++) {
        if (!p->default_value)
            continue;
        json_t *v = json_loads(p->default_value, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        json_decref(v);
    }
}

static void test_status_lost(void **state)
{
    /* With SIGCHLD ignored the kernel reaps children itself: the pidfd still
     * says "exited", and the result says the status was lost, not a hang. */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGCHLD, &sa, &old);
    json_t *r = run_exec(NULL, 0, json_pack("{s:[s,s]}", "argv", "echo", "hi"));
    sigaction(SIGCHLD, &old, NULL);
    assert_string_equal(str(r, "status"), "error");
    assert_false(flag(r, "ok"));
    assert_non_null(strstr(str(r, "error"), "exit status lost"));
    assert_string_equal(str(r, "stdout"), "hi\n");
    json_decref(r);
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void test_parallel(void **state)
{
    int fds_before = open_fds();
    /* Many children on one loop at once: each gets its own output, and
     * nothing is left open afterwards. */
    enum { N = 40 };
    uv_loop_t loop;
    harness_t hs[N];
    memset(hs, 0, sizeof(hs));
    assert_int_equal(uv_loop_init(&loop), 0);
    for (int i = 0; i < N; i++) {
        char arg[16];
        snprintf(arg, sizeof(arg), "%d", i);
        json_t *with = json_pack("{s:[s,s,s]}", "argv", "sh", "-c", "sleep 0.0$1; echo $1");
        json_array_append_new(json_object_get(with, "argv"), json_string("sh"));
        json_array_append_new(json_object_get(with, "argv"), json_string(arg));
        hs[i].ctx = rb__action_ctx_new(&loop, &rb_action_exec, g_dir, 0, done_cb, &hs[i]);
        assert_int_equal(rb__action_start(hs[i].ctx, with), 0);
        json_decref(with);
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    for (int i = 0; i < N; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%d\n", i);
        assert_int_equal(hs[i].done_calls, 1);
        assert_string_equal(str(hs[i].result, "stdout"), want);
        json_decref(hs[i].result);
        rb__action_ctx_free(hs[i].ctx);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(open_fds(), fds_before); /* pipes, pidfds, memfds: all closed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_start_rejects),
        cmocka_unit_test(test_argv_stdout),
        cmocka_unit_test(test_argv_scalars),
        cmocka_unit_test(test_shell_form),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_stderr_capture),
        cmocka_unit_test(test_env_minimal),
        cmocka_unit_test(test_env_inherit),
        cmocka_unit_test(test_env_map),
        cmocka_unit_test(test_path_is_the_childs),
        cmocka_unit_test(test_cwd),
        cmocka_unit_test(test_relative_command),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_flood_stdout),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_cancel_sigterm),
        cmocka_unit_test(test_cancel_term_ignored),
        cmocka_unit_test(test_cancel_group_outlives_leader),
        cmocka_unit_test(test_cancel_after_start_failure),
        cmocka_unit_test(test_background_grandchild),
        cmocka_unit_test(test_hostile_argv),
        cmocka_unit_test(test_status_lost),
        cmocka_unit_test(test_parallel),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
