/*
 * fuzz_shell_quote.c — shell quoting as a property (engine/expr:
 * rb_shell_quote and templates rendered with RB_TMPL_SHELL_QUOTE, what
 * every `run:` string and `shell_quote()` rely on): for any value, the
 * quoted form run through /bin/sh prints the value back.
 *
 * The input is the value, any bytes. It is quoted with rb_shell_quote and
 * put in three templates as params.v, bare, inside "…" and inside '…':
 *
 *     printf %s {{ params.v }}
 *     printf %s "<{{ params.v }}>"
 *     printf %s '<{{ params.v }}>'
 *
 * rendered for the shell (when the value is UTF-8, as every value of a
 * run's context is). One /bin/sh -c runs the commands (the fuzzer execs
 * it for every input: a real shell, not a model of one) and its output
 * must be exactly the value once per command, with the brackets where the
 * template has them. A value with a NUL byte cannot be an argv
 * string: quoting must refuse it, and so must rendering.
 *
 * Owns nothing; starts one short-lived /bin/sh per input (stdin
 * /dev/null, a minimal environment). Built with -DRB_FUZZ=ON (clang); run
 * by tests/fuzz/run.sh.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static rb_tmpl_t *tmpl[3];
static const char *const forms[3][3] = {
    /* template, what it prints before and after the value */
    {"printf %s {{ params.v }}", "", ""},
    {"printf %s \"<{{ params.v }}>\"", "<", ">"},
    {"printf %s '<{{ params.v }}>'", "<", ">"},
};

static void setup(void)
{
    rb_expr_error_t err;
    for (int i = 0; i < 3; i++)
        if (!(tmpl[i] = rb_tmpl_compile(forms[i][0], strlen(forms[i][0]), &err)) ||
            rb_tmpl_shell_check(tmpl[i], &err) < 0)
            abort();
}

/* Runs cmd with /bin/sh -c; its whole stdout (malloc'd) in *out. */
static size_t sh(const char *cmd, char **out)
{
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) < 0)
        abort();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};
    pid_t pid;
    if (posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, envp) != 0)
        abort();
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        if (n == cap && !(buf = realloc(buf, cap *= 2)))
            abort();
        ssize_t r = read(fd[0], buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *out = buf;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tmpl[0])
        setup();
    const char *v = (const char *)data;
    int has_nul = memchr(v, '\0', size) != NULL;
    char *q = rb_shell_quote(v, size);
    if (has_nul != (q == NULL))
        abort(); /* refuses exactly what no argv string can carry */

    /* A context value is UTF-8 (jansson checks every string the engine
     * makes); other bytes go through rb_shell_quote alone. */
    json_t *s = json_stringn(v, size);
    json_t *ctx = s ? json_pack("{s:{s:o}}", "params", "v", s) : NULL;
    char msg[256];
    json_t *r[3] = {NULL, NULL, NULL};
    for (int i = 0; ctx && i < 3; i++) {
        r[i] = rb_tmpl_render(tmpl[i], ctx, RB_TMPL_SHELL_QUOTE, msg, sizeof msg);
        if (has_nul != (r[i] == NULL))
            abort();
    }
    json_decref(ctx);
    if (has_nul)
        return 0;

    /* one shell, four commands; the expected output, byte for byte */
    size_t cap = 8 * size + 4096, cn = 0, en = 0;
    char *cmd = malloc(cap), *want = malloc(cap);
    cn += (size_t)snprintf(cmd, cap, "printf %%s %s;", q);
    memcpy(want, v, size);
    en += size;
    for (int i = 0; i < 3 && r[i]; i++) {
        size_t l = json_string_length(r[i]);
        if (cn + l + 2 > cap)
            abort();
        memcpy(cmd + cn, json_string_value(r[i]), l);
        cn += l;
        cmd[cn++] = ';';
        en += (size_t)sprintf(want + en, "%s", forms[i][1]);
        memcpy(want + en, v, size);
        en += size;
        en += (size_t)sprintf(want + en, "%s", forms[i][2]);
        json_decref(r[i]);
    }
    cmd[cn] = '\0';
    char *got;
    size_t gn = sh(cmd, &got);
    if (gn != en || memcmp(got, want, en) != 0) {
        fprintf(stderr, "shell_quote: the shell printed %zu bytes, not the %zu of the value "
                        "once per command\ncommand: %s\n", gn, en, cmd);
        abort();
    }
    free(got);
    free(cmd);
    free(want);
    free(q);
    return 0;
}
