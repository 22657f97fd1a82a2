/*
 * ssh_remote.c — the one line the `ssh` action sends: what the remote login
 * shell runs.
 *
 * OpenSSH sends a command as one string that the remote user's login shell
 * parses, so every word that came from a runbook, a param or an alert label
 * is single-quoted here (rb_shell_quote: inside '…' a POSIX shell gives no
 * character a meaning). The line is
 *
 *   exec /bin/sh -c '<WRAPPER>' rb-ssh '<nonce>' '<grace>' '<argv0>' '<argv1>'…
 *
 * so the words reach the wrapper as its positional parameters and are never
 * parsed again. `env` does not travel in that line (a remote `ps` would show
 * it to every user there) but on the session's stdin, before anything else:
 * lines `export NAME='value'` (names were checked to be shell names, values
 * are quoted), then a line with the marker. The wrapper (below) then:
 *   - reads the env lines up to the marker and evaluates them;
 *   - writes a start marker to stderr: ssh.c tells "the command ran" from
 *     "ssh could not connect" by it (ssh's own failures exit 255 too);
 *   - runs the command in the background with stdin from /dev/null, and a
 *     watcher that reads the session's stdin: the engine writes nothing and
 *     holds it open, so EOF means the step was cancelled or timed out, or
 *     the connection is gone. The watcher then sends SIGTERM to the whole
 *     process group (sshd makes the session its own group), waits up to
 *     grace seconds for the command, and sends SIGKILL to the group — so a
 *     cancelled step leaves no remote process behind;
 *   - when the command ends on its own, stops the watcher and writes an end
 *     marker with the exit status to stderr (ssh.c takes the status from it,
 *     so a remote exit 255 is not mistaken for ssh's 255).
 *
 * Owns: nothing beyond the returned string. Pure.
 *
 * Must never: put a word into the line unquoted, or use anything but POSIX
 * sh in the wrapper (the remote /bin/sh may be dash, bash or busybox).
 */
#define _GNU_SOURCE
#include "ssh_int.h"

#include "expr/expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $1 nonce, $2 grace seconds, then argv; env on stdin up to the marker. */
static const char wrapper[] =
    "m=$1; g=$2; shift 2\n"
    "e=\n"
    "while IFS= read -r l; do\n"
    "  [ \"$l\" = \"rb-ssh-$m-env\" ] && break\n"
    "  e=\"$e$l\n\"\n"
    "done\n"
    "eval \"$e\"\n"
    "exec 3<&0\n"
    "printf 'rb-ssh-%s-start\\n' \"$m\" >&2\n"
    "\"$@\" </dev/null 3<&- &\n"
    "p=$!\n"
    "(\n"
    "  while read -r _; do :; done\n"
    "  trap '' TERM\n"
    "  kill -TERM 0\n"
    "  i=0\n"
    "  while [ \"$i\" -lt \"$g\" ] && kill -0 \"$p\" 2>/dev/null; do sleep 1; i=$((i + 1)); done\n"
    "  kill -KILL 0\n"
    ") <&3 >/dev/null 2>&1 &\n"
    "w=$!\n"
    "exec 3<&-\n"
    "wait \"$p\"; s=$?\n"
    "kill \"$w\" 2>/dev/null\n"
    "printf '\\nrb-ssh-%s-end-%d\\n' \"$m\" \"$s\" >&2\n"
    "exit \"$s\"\n";

typedef struct line {
    char *p;
    size_t len, cap;
    int failed;
} line_t;

static void add(line_t *l, const char *s)
{
    size_t n = strlen(s);
    if (l->failed)
        return;
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->len + n + 1)
            cap *= 2;
        char *p = realloc(l->p, cap);
        if (!p) {
            l->failed = 1;
            return;
        }
        l->p = p;
        l->cap = cap;
    }
    memcpy(l->p + l->len, s, n + 1);
    l->len += n;
}

static void add_quoted(line_t *l, const char *s)
{
    char *q = rb_shell_quote(s, strlen(s));
    if (!q) {
        l->failed = 1;
        return;
    }
    add(l, " ");
    add(l, q);
    free(q);
}

char *rb__ssh_env_text(const char *nonce, char *const *names, char *const *values)
{
    line_t l = {0};
    for (size_t i = 0; names && names[i]; i++) {
        add(&l, "export ");
        add(&l, names[i]);
        add(&l, "=");
        char *q = rb_shell_quote(values[i], strlen(values[i]));
        if (!q)
            l.failed = 1;
        else
            add(&l, q);
        free(q);
        add(&l, "\n");
    }
    add(&l, "rb-ssh-");
    add(&l, nonce);
    add(&l, "-env\n");
    if (l.failed) {
        free(l.p);
        return NULL;
    }
    return l.p;
}

char *rb__ssh_remote_line(const char *nonce, uint64_t grace_s, char *const *argv)
{
    line_t l = {0};
    char g[24];
    snprintf(g, sizeof(g), "%llu", (unsigned long long)grace_s);
    add(&l, "exec /bin/sh -c");
    add_quoted(&l, wrapper);
    add(&l, " rb-ssh");
    add_quoted(&l, nonce);
    add_quoted(&l, g);
    for (char *const *a = argv; *a; a++)
        add_quoted(&l, *a);
    if (l.failed) {
        free(l.p);
        return NULL;
    }
    return l.p;
}
