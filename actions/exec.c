/*
 * exec.c — the `exec` action: runs one command, given as argv or as a line
 * for /bin/sh -c, and reports how it ended and what it wrote.
 *
 * Owns: the child from posix_spawn until it is reaped, its process group
 * (signalled on cancel), the pipes of its stdout and stderr, the pidfd that
 * says when it exited, and every uv handle watching them.
 *
 * Must never:
 *   - run a shell unless asked through `shell` (argv values reach the program
 *     as literal bytes, whatever an alert label put in them);
 *   - fork the engine (uv_spawn, fork): glibc's posix_spawn uses CLONE_VFORK,
 *     so starting a command costs the same however large the engine grows;
 *   - install a SIGCHLD handler or call waitpid without WNOHANG: the child is
 *     watched through a pidfd on the loop, and nothing here blocks the loop;
 *   - keep more than the output cap of a stream in memory (the rest is read
 *     and discarded, so a flooding child still runs to its end and is reaped);
 *   - report before every handle it opened is closed: the result is handed
 *     over from the last close callback, so a loop that only ran this action
 *     ends with no handle left.
 */
#define _GNU_SOURCE
#include <runbook/action.h>

#include "utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture but alpha */
#endif

extern char **environ;

/* The child's PATH when it does not inherit the engine's environment. */
#define EXEC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* How long to wait for EOF on the pipes once the child has exited: a
 * background grandchild keeping them open must not hold the step open. */
#define EXEC_DRAIN_MS 200
/* Poll interval for reaping when no pidfd can be had (kernel < 5.3, EMFILE). */
#define EXEC_REAP_POLL_MS 20
#define EXEC_DISCARD_SIZE 65536
#define EXEC_DEFAULT_GRACE_MS 5000

typedef struct exec_state exec_state_t;

typedef struct exec_stream {
    uv_pipe_t pipe;
    char *buf; /* captured bytes, never more than the cap */
    size_t len, alloc;
    int inited; /* the handle is registered with the loop and must be closed */
    int eof;
    int truncated;
} exec_stream_t;

enum exec_phase {
    PHASE_RUNNING,  /* the child has not been reaped */
    PHASE_DRAINING, /* reaped; reading what is left in the pipes, briefly */
    PHASE_CLOSING   /* result built; waiting for close callbacks */
};

struct exec_state {
    rb_action_ctx_t *ctx;
    size_t cap;
    uint64_t grace_ms;
    enum exec_phase phase;
    pid_t pid; /* also the process group id */
    int pidfd;
    uv_timer_t timer; /* grace, then drain; always inited so reports are async */
    uv_poll_t poll;   /* the pidfd */
    uv_timer_t reap_timer;
    int poll_inited, reap_inited;
    exec_stream_t out, err;
    char *discard; /* scratch for bytes past the cap, allocated on first need */
    int exited, exit_code, term_signal, status_lost;
    int cancelled; /* cancel arrived while the child ran */
    int killed;    /* the grace expired and SIGKILL went out */
    int pending_closes;
    json_t *result;
};

typedef struct exec_spec {
    char **argv; /* NULL-terminated; argv[0] as the user wrote it */
    char **envp;
    char *cwd; /* absolute, or relative to the engine's cwd if base_dir is */
    const char *stdin_data; /* borrowed from `with` (used only inside start()) or stdin_own */
    char *stdin_own;        /* the text of a number or boolean given as stdin */
    size_t stdin_len;
    int has_stdin;
    uint64_t grace_ms;
} exec_spec_t;

/* ---------- small helpers ---------- */

static void strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static const json_t *opt_get(const json_t *with, const char *key)
{
    const json_t *v = json_object_get(with, key);
    return json_is_null(v) ? NULL : v; /* an explicit null means "not given" */
}

/* A string that will still be rendered. After rendering, "{{" is literal
 * text (it may have come from an alert label) and means nothing here. */
static int is_template(const json_t *v, int rendered)
{
    return !rendered && json_is_string(v) && strstr(json_string_value(v), "{{");
}

static int has_nul(const json_t *s)
{
    return strlen(json_string_value(s)) != json_string_length(s);
}

/* Scalars are accepted where a string is wanted: a template that is exactly
 * one {{ expr }} keeps its value's type, so `[sleep, "{{ params.n }}"]` may
 * render to a number. */
static int scalar_ok(const json_t *v)
{
    if (json_is_string(v))
        return !has_nul(v);
    return json_is_number(v) || json_is_boolean(v);
}

static char *scalar_dup(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

static int env_name_ok(const char *k)
{
    return *k && !strchr(k, '=');
}

/* A duration: "250ms", "5s", "1m30s", or a number of seconds. */
static int param_duration(const json_t *v, uint64_t *ms)
{
    if (json_is_string(v))
        return rb_duration_parse(json_string_value(v), ms);
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= 366 * 86400) {
        *ms = (uint64_t)json_integer_value(v) * 1000u;
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) <= 366.0 * 86400) {
        *ms = (uint64_t)(json_real_value(v) * 1000.0);
        return 0;
    }
    return RB_EINVAL;
}

static char *path_join(const char *dir, const char *rel)
{
    char *p;
    if (rel[0] == '/')
        return strdup(rel);
    if (asprintf(&p, "%s/%s", dir, rel) < 0)
        return NULL;
    return p;
}

/* Moves fd above 0-2: in a daemon whose stdio is closed, a pipe may land on
 * fd 1, and the child's dup2 sequence would clobber it. */
static int fd_above_stdio(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fd);
    errno = e;
    return n;
}

static void signal_name(int sig, char *buf, size_t len)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, len, "SIG%s", abbrev);
    else
        snprintf(buf, len, "SIG%d", sig);
}

/* ---------- UTF-8 ---------- */

/* A JSON string of the bytes (actions/utf8.c): ill-formed UTF-8 becomes
 * U+FFFD, so a binary or Latin-1 output still journals. When the output was
 * truncated, a character cut in half by the cap is dropped rather than
 * replaced. "" when memory ran out. */
static json_t *bytes_to_json(const char *buf, size_t len, int truncated)
{
    json_t *s = rb__utf8_json(buf, len, truncated);
    return s ? s : json_string("");
}

/* ---------- checking and parsing `with` ---------- */

#define FAIL(k, ...)                                                                               \
    do {                                                                                           \
        snprintf(msg, msglen, __VA_ARGS__);                                                        \
        if (key)                                                                                   \
            *key = (k);                                                                            \
        return RB_EINVAL;                                                                          \
    } while (0)

/* The checks validate() runs at load time and start() runs again on the
 * rendered values; `rendered` says which (templates are only allowed before). */
static int exec_check(const json_t *with, int rendered, char *msg, size_t msglen, const char **key)
{
    if (!json_is_object(with))
        FAIL(NULL, "exec: `with` must be an object");
    const json_t *argv = opt_get(with, "argv"), *shell = opt_get(with, "shell");
    if (argv && shell)
        FAIL("shell", "give either argv or shell, not both");
    if (!argv && !shell)
        FAIL("argv", "one of argv or shell is required");
    if (argv && !is_template(argv, rendered)) {
        if (!json_is_array(argv) || json_array_size(argv) == 0)
            FAIL("argv", "argv must be a non-empty list of strings");
        size_t i;
        const json_t *v;
        json_array_foreach(argv, i, v) {
            if (!scalar_ok(v))
                FAIL("argv", "argv[%zu] must be a string", i);
        }
        const json_t *a0 = json_array_get(argv, 0);
        if (json_is_string(a0) && json_string_length(a0) == 0)
            FAIL("argv", "argv[0] (the command) is empty");
    }
    if (shell && !is_template(shell, rendered)) {
        if (!json_is_string(shell) || has_nul(shell))
            FAIL("shell", "shell must be a string");
        if (json_string_length(shell) == 0)
            FAIL("shell", "shell is empty");
    }
    const json_t *env = opt_get(with, "env");
    if (env && !is_template(env, rendered)) {
        if (!json_is_object(env))
            FAIL("env", "env must be a map of names to strings");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)env, k, v) {
            if (!env_name_ok(k))
                FAIL("env", "env: invalid variable name \"%s\"", k);
            if (!scalar_ok(v))
                FAIL("env", "env.%s must be a string", k);
        }
    }
    const json_t *inh = opt_get(with, "inherit_env");
    if (inh && !is_template(inh, rendered) && !json_is_boolean(inh))
        FAIL("inherit_env", "inherit_env must be true or false");
    const json_t *cwd = opt_get(with, "cwd");
    if (cwd && !is_template(cwd, rendered) &&
        (!json_is_string(cwd) || has_nul(cwd) || json_string_length(cwd) == 0))
        FAIL("cwd", "cwd must be a non-empty string");
    const json_t *in = opt_get(with, "stdin");
    if (in && !json_is_string(in) && !json_is_number(in) && !json_is_boolean(in))
        FAIL("stdin", "stdin must be a string");
    const json_t *grace = opt_get(with, "grace");
    uint64_t ms;
    if (grace && !is_template(grace, rendered) && param_duration(grace, &ms) < 0)
        FAIL("grace", "grace: invalid duration (e.g. \"5s\", \"500ms\")");
    return 0;
}

static int exec_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    return exec_check(with, 0, msg, msglen, key);
}

/* Builds the child's environment: explicit and minimal unless inherit_env,
 * so the engine's own secrets (tokens, DSNs) never reach a command that was
 * not asked to see them. `env` entries replace same-named ones. */
static int env_build(const json_t *env, int inherit, char ***out)
{
    size_t n_base = 3, n = 0;
    if (inherit)
        for (n_base = 0; environ && environ[n_base]; n_base++)
            ;
    char **v = calloc(n_base + (env ? json_object_size(env) : 0) + 1, sizeof(*v));
    if (!v)
        return RB_ENOMEM;

    const char *minimal[3] = {"PATH=" EXEC_DEFAULT_PATH, NULL, "LANG=C.UTF-8"};
    char *home = NULL;
    if (!inherit && getenv("HOME") && asprintf(&home, "HOME=%s", getenv("HOME")) < 0)
        home = NULL;
    minimal[1] = home;

    for (size_t i = 0; i < n_base; i++) {
        const char *e = inherit ? environ[i] : minimal[i];
        if (!e)
            continue;
        const char *eq = strchr(e, '=');
        if (!eq)
            continue;
        int overridden = 0;
        const char *k;
        const json_t *val;
        json_object_foreach((json_t *)env, k, val) {
            if (strlen(k) == (size_t)(eq - e) && strncmp(k, e, (size_t)(eq - e)) == 0)
                overridden = 1;
        }
        if (!overridden && !(v[n++] = strdup(e)))
            goto nomem;
    }
    if (env) {
        const char *k;
        const json_t *val;
        json_object_foreach((json_t *)env, k, val) {
            char *s = scalar_dup(val);
            int rc = s ? asprintf(&v[n], "%s=%s", k, s) : -1;
            free(s);
            if (rc < 0) {
                v[n] = NULL;
                goto nomem;
            }
            n++;
        }
    }
    free(home);
    *out = v;
    return 0;
nomem:
    free(home);
    strv_free(v);
    return RB_ENOMEM;
}

static void spec_free(exec_spec_t *sp)
{
    strv_free(sp->argv);
    strv_free(sp->envp);
    free(sp->cwd);
    free(sp->stdin_own);
}

static int exec_parse(rb_action_ctx_t *ctx, const json_t *with, exec_spec_t *sp)
{
    char msg[256];
    const char *key = NULL;
    memset(sp, 0, sizeof(*sp));
    int rc = exec_check(with, 1, msg, sizeof(msg), &key);
    if (rc < 0) {
        /* start() can only return a code: say what was wrong in the run log. */
        rb_action_log(ctx, "error", msg);
        return rc;
    }
    const json_t *argv = opt_get(with, "argv"), *shell = opt_get(with, "shell");
    size_t n = argv ? json_array_size(argv) : 3;
    if (!(sp->argv = calloc(n + 1, sizeof(char *))))
        return RB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (argv)
            sp->argv[i] = scalar_dup(json_array_get(argv, i));
        else
            sp->argv[i] = strdup(i == 0 ? "/bin/sh" : i == 1 ? "-c" : json_string_value(shell));
        if (!sp->argv[i])
            goto nomem;
    }
    rc = env_build(opt_get(with, "env"), json_is_true(opt_get(with, "inherit_env")), &sp->envp);
    if (rc < 0) {
        spec_free(sp);
        return rc;
    }
    const json_t *cwd = opt_get(with, "cwd");
    sp->cwd = cwd ? path_join(rb_action_base_dir(ctx), json_string_value(cwd))
                  : strdup(rb_action_base_dir(ctx));
    if (!sp->cwd)
        goto nomem;
    const json_t *in = opt_get(with, "stdin");
    if (json_is_string(in)) {
        sp->stdin_data = json_string_value(in);
        sp->stdin_len = json_string_length(in);
        sp->has_stdin = 1;
    } else if (in) {
        if (!(sp->stdin_own = scalar_dup(in)))
            goto nomem;
        sp->stdin_data = sp->stdin_own;
        sp->stdin_len = strlen(sp->stdin_own);
        sp->has_stdin = 1;
    }
    sp->grace_ms = EXEC_DEFAULT_GRACE_MS;
    const json_t *grace = opt_get(with, "grace");
    if (grace)
        param_duration(grace, &sp->grace_ms);
    return 0;
nomem:
    spec_free(sp);
    return RB_ENOMEM;
}

/* ---------- finding the program ---------- */

/*
 * The file argv[0] names. A name with a '/' is a path, relative to cwd (the
 * child's directory, not the engine's). A bare name is looked up in the
 * child's PATH: posix_spawnp would search the engine's, which is not the
 * environment the command was promised. Returns 0 with *out allocated, or
 * -ENOENT / -EACCES as execvp would, or RB_ENOMEM.
 */
static int resolve_command(const char *name, char *const *envp, const char *cwd, char **out)
{
    if (strchr(name, '/'))
        return (*out = path_join(cwd, name)) ? 0 : RB_ENOMEM;
    const char *path = EXEC_DEFAULT_PATH;
    for (char *const *e = envp; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0) {
            path = *e + 5; /* the first, as getenv() in the child would see */
            break;
        }
    int err = -ENOENT;
    for (const char *p = path;;) {
        const char *colon = strchrnul(p, ':');
        char *cand = NULL;
        int dl = (int)(colon - p);
        /* An empty entry means the current directory (POSIX), here cwd. */
        int rc = dl == 0 ? asprintf(&cand, "%s/%s", cwd, name)
                 : p[0] == '/' ? asprintf(&cand, "%.*s/%s", dl, p, name)
                               : asprintf(&cand, "%s/%.*s/%s", cwd, dl, p, name);
        if (rc < 0)
            return RB_ENOMEM;
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
            if (faccessat(AT_FDCWD, cand, X_OK, AT_EACCESS) == 0) {
                *out = cand;
                return 0;
            }
            err = -EACCES; /* keep looking; report this only if nothing runs */
        }
        free(cand);
        if (!*colon)
            return err;
        p = colon + 1;
    }
}

/* ---------- lifetime: finish, close, report ---------- */

static void exec_finish(exec_state_t *s);
static void exec_timer_cb(uv_timer_t *t);

static json_t *exec_result(exec_state_t *s)
{
    json_t *r = json_object();
    int ok = 0;
    const char *status;
    if (s->status_lost)
        status = "error";
    else if (s->cancelled)
        status = "cancelled";
    else if (s->term_signal)
        status = "failed";
    else {
        ok = s->exit_code == 0;
        status = ok ? "ok" : "failed";
    }
    char sig[32];
    if (s->term_signal)
        signal_name(s->term_signal, sig, sizeof(sig));
    json_object_set_new(r, "ok", json_boolean(ok));
    json_object_set_new(r, "status", json_string(status));
    json_object_set_new(r, "exit_code", s->exited && !s->term_signal && !s->status_lost
                                            ? json_integer(s->exit_code)
                                            : json_null());
    json_object_set_new(r, "signal", s->term_signal ? json_string(sig) : json_null());
    json_object_set_new(r, "stdout", bytes_to_json(s->out.buf, s->out.len, s->out.truncated));
    json_object_set_new(r, "stderr", bytes_to_json(s->err.buf, s->err.len, s->err.truncated));
    json_object_set_new(r, "stdout_truncated", json_boolean(s->out.truncated));
    json_object_set_new(r, "stderr_truncated", json_boolean(s->err.truncated));
    json_object_set_new(r, "pid", json_integer(s->pid));
    if (s->status_lost)
        json_object_set_new(r, "error",
                            json_string("exit status lost: the child was reaped elsewhere "
                                        "(is SIGCHLD ignored by the engine?)"));
    return r;
}

/* The outcome when no child ran (or none could be watched). exit_code
 * follows the shell: 127 not found, 126 found but not executable, null for
 * anything else. */
__attribute__((format(printf, 3, 4))) static void exec_fail(exec_state_t *s, int exit_code,
                                                            const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *r = json_object();
    json_object_set_new(r, "ok", json_false());
    json_object_set_new(r, "status", json_string("error"));
    json_object_set_new(r, "exit_code", exit_code >= 0 ? json_integer(exit_code) : json_null());
    json_object_set_new(r, "signal", json_null());
    json_object_set_new(r, "stdout", json_string(""));
    json_object_set_new(r, "stderr", json_string(""));
    json_object_set_new(r, "stdout_truncated", json_false());
    json_object_set_new(r, "stderr_truncated", json_false());
    json_object_set_new(r, "pid", json_null());
    /* The name came from the runbook or an alert: it may not be UTF-8. */
    json_object_set_new(r, "error", bytes_to_json(msg, strlen(msg), 0));
    s->result = r;
    exec_finish(s);
}

static void exec_report(exec_state_t *s)
{
    rb_action_ctx_t *ctx = s->ctx;
    json_t *r = s->result;
    free(s->out.buf);
    free(s->err.buf);
    free(s->discard);
    free(s);
    rb_action_set_data(ctx, NULL);
    rb_action_done(ctx, r); /* last: the engine may free ctx in there */
}

static void exec_close_cb(uv_handle_t *h)
{
    exec_state_t *s = h->data;
    /* uv_close does not close a polled fd; the pidfd is ours. */
    if (h == (uv_handle_t *)&s->poll && s->pidfd >= 0) {
        close(s->pidfd);
        s->pidfd = -1;
    }
    if (--s->pending_closes == 0)
        exec_report(s);
}

static void close_one(exec_state_t *s, void *h)
{
    s->pending_closes++;
    uv_close((uv_handle_t *)h, exec_close_cb);
}

static void exec_finish(exec_state_t *s)
{
    if (s->phase == PHASE_CLOSING)
        return;
    s->phase = PHASE_CLOSING;
    /* A cancelled step leaves nothing behind: whatever of its group outlived
     * SIGTERM (or the leader) is killed now. The leader is reaped, but the
     * group id cannot be reused while any member lives, and once none does
     * this is ESRCH. */
    if (s->cancelled && s->pid > 0)
        kill(-s->pid, SIGKILL);
    if (!s->result)
        s->result = exec_result(s);
    close_one(s, &s->timer);
    if (s->poll_inited)
        close_one(s, &s->poll);
    if (s->reap_inited)
        close_one(s, &s->reap_timer);
    if (s->out.inited)
        close_one(s, &s->out.pipe);
    if (s->err.inited)
        close_one(s, &s->err.pipe);
}

/* ---------- output pipes ---------- */

static exec_stream_t *stream_of(exec_state_t *s, const void *h)
{
    return h == (const void *)&s->out.pipe ? &s->out : &s->err;
}

/* Reads land straight in the capture buffer while it is under the cap, then
 * in one scratch buffer that is overwritten: the child is drained (so it
 * neither blocks on a full pipe nor dies of SIGPIPE) without memory growing. */
static void stream_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    exec_state_t *s = h->data;
    exec_stream_t *st = stream_of(s, h);
    if (st->len < s->cap) {
        if (st->alloc == st->len) {
            size_t na = st->alloc ? st->alloc * 2 : 4096;
            if (na > s->cap)
                na = s->cap;
            char *nb = realloc(st->buf, na);
            if (nb) {
                st->buf = nb;
                st->alloc = na;
            }
        }
        if (st->alloc > st->len) {
            size_t room = st->alloc - st->len;
            *buf = uv_buf_init(st->buf + st->len, room > UINT_MAX ? UINT_MAX : (unsigned)room);
            return;
        }
    }
    if (!s->discard)
        s->discard = malloc(EXEC_DISCARD_SIZE);
    *buf = uv_buf_init(s->discard, s->discard ? EXEC_DISCARD_SIZE : 0);
}

static void stream_read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    exec_state_t *s = h->data;
    exec_stream_t *st = stream_of(s, h);
    if (nread > 0) {
        if (buf->base == s->discard)
            st->truncated = 1;
        else
            st->len += (size_t)nread;
        return;
    }
    if (nread == 0)
        return;
    st->eof = 1; /* EOF or a read error: nothing more will come either way */
    uv_read_stop(h);
    if (s->phase == PHASE_DRAINING && s->out.eof && s->err.eof)
        exec_finish(s);
}

static void stream_open(exec_state_t *s, exec_stream_t *st, int fd)
{
    if (uv_pipe_init(rb_action_loop(s->ctx), &st->pipe, 0) != 0) {
        close(fd);
        st->eof = 1;
        return;
    }
    st->inited = 1;
    st->pipe.data = s;
    if (uv_pipe_open(&st->pipe, fd) != 0) {
        close(fd); /* not adopted by the handle */
        st->eof = 1;
        return;
    }
    if (uv_read_start((uv_stream_t *)&st->pipe, stream_alloc_cb, stream_read_cb) != 0)
        st->eof = 1;
}

/* ---------- the child ---------- */

static void reap_timer_cb(uv_timer_t *t);

static void watch_by_timer(exec_state_t *s)
{
    if (!s->reap_inited) {
        uv_timer_init(rb_action_loop(s->ctx), &s->reap_timer);
        s->reap_timer.data = s;
        s->reap_inited = 1;
    }
    uv_timer_start(&s->reap_timer, reap_timer_cb, EXEC_REAP_POLL_MS, EXEC_REAP_POLL_MS);
}

/* Returns 1 when the child was reaped (or is gone), 0 while it runs. */
static int exec_try_reap(exec_state_t *s)
{
    if (s->exited)
        return 1;
    int wst = 0;
    pid_t r;
    do
        r = waitpid(s->pid, &wst, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    s->exited = 1;
    if (r < 0)
        s->status_lost = 1; /* ECHILD: auto-reaped (SIGCHLD ignored) or taken by another reaper */
    else if (WIFEXITED(wst))
        s->exit_code = WEXITSTATUS(wst);
    else if (WIFSIGNALED(wst))
        s->term_signal = WTERMSIG(wst);
    if (s->poll_inited)
        uv_poll_stop(&s->poll);
    if (s->reap_inited)
        uv_timer_stop(&s->reap_timer);
    s->phase = PHASE_DRAINING;
    if (s->out.eof && s->err.eof) {
        exec_finish(s);
        return 1;
    }
    /* After a cancel whose grace still runs, that grace is the deadline for
     * the rest of the group (which got SIGTERM too) to let go of the pipes.
     * Otherwise wait briefly for the last bytes: a background grandchild
     * holding stdout must not hold the step. */
    if (!s->cancelled || s->killed) {
        uv_timer_stop(&s->timer);
        uv_timer_start(&s->timer, exec_timer_cb, EXEC_DRAIN_MS, 0);
    }
    return 1;
}

static void child_poll_cb(uv_poll_t *p, int status, int events)
{
    exec_state_t *s = p->data;
    if (!exec_try_reap(s) && s->phase == PHASE_RUNNING) {
        /* Readable but not waitable (older kernels signal a pidfd when the
         * thread-group leader exits while other threads run). The pidfd is
         * level-triggered: poll by timer rather than spin. */
        uv_poll_stop(&s->poll);
        watch_by_timer(s);
    }
}

static void reap_timer_cb(uv_timer_t *t)
{
    exec_try_reap(t->data);
}

static void exec_timer_cb(uv_timer_t *t)
{
    exec_state_t *s = t->data;
    if (s->phase == PHASE_RUNNING) {
        char m[128];
        snprintf(m, sizeof(m), "grace expired: SIGKILL to process group %d", (int)s->pid);
        rb_action_log(s->ctx, "warn", m);
        s->killed = 1;
        kill(-s->pid, SIGKILL);
    } else if (s->phase == PHASE_DRAINING) {
        exec_finish(s);
    }
}

static void watch_child(exec_state_t *s)
{
    /* pidfd_open marks the fd close-on-exec itself. */
    int fd = (int)syscall(SYS_pidfd_open, s->pid, 0);
    if (fd >= 0) {
        if (uv_poll_init(rb_action_loop(s->ctx), &s->poll, fd) == 0) {
            s->poll_inited = 1;
            s->pidfd = fd;
            s->poll.data = s;
            if (uv_poll_start(&s->poll, UV_READABLE, child_poll_cb) == 0)
                return;
        } else {
            close(fd);
        }
    }
    watch_by_timer(s); /* no pidfd (kernel < 5.3, fd limit): still never block */
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* stdin goes through a memfd, not a pipe: the whole text is there before the
 * child starts, nothing has to be written asynchronously, and a child that
 * never reads it cannot make the engine take SIGPIPE. */
static int stdin_fd(const exec_spec_t *sp)
{
    int fd = memfd_create("rb-exec-stdin", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (write_all(fd, sp->stdin_data, sp->stdin_len) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd_above_stdio(fd);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void exec_launch(exec_state_t *s, exec_spec_t *sp)
{
    const char *name = sp->argv[0];
    char *path = NULL;
    int out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, in_fd = -1, e;
    struct stat st;

    /* Checked here so that a missing directory is not mistaken for a missing
     * command (posix_spawn reports both as ENOENT). */
    e = stat(sp->cwd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (e) {
        exec_fail(s, -1, "cwd %s: %s", sp->cwd, strerror(e));
        return;
    }
    int rc = resolve_command(name, sp->envp, sp->cwd, &path);
    if (rc == -ENOENT) {
        exec_fail(s, 127, "command not found: %s", name);
        return;
    }
    if (rc == -EACCES) {
        exec_fail(s, 126, "permission denied: %s", name);
        return;
    }
    if (rc < 0) {
        exec_fail(s, -1, "cannot start %s: %s", name, rb_strerror(rc));
        return;
    }

    if (pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0)
        goto sys_fail;
    for (int i = 0; i < 2; i++)
        if ((out_p[i] = fd_above_stdio(out_p[i])) < 0 || (err_p[i] = fd_above_stdio(err_p[i])) < 0)
            goto sys_fail;
    if (sp->has_stdin && (in_fd = stdin_fd(sp)) < 0)
        goto sys_fail;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    sigemptyset(&none);
    /* Every signal back to its default: the engine (or libuv, or whoever
     * started the engine under nohup) may ignore SIGPIPE, SIGHUP, SIGINT…,
     * and ignored dispositions survive exec. */
    sigfillset(&dfl);
    sigdelset(&dfl, SIGKILL);
    sigdelset(&dfl, SIGSTOP);
    if ((e = posix_spawn_file_actions_init(&fa)) != 0)
        goto spawn_fail_early;
    if ((e = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        goto spawn_fail_early;
    }
    if (in_fd >= 0)
        e = posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!e)
        e = posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
    if (!e)
        e = posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* Belt and braces over O_CLOEXEC: no engine fd (the journal's database
     * above all) reaches a command. */
    if (!e)
        e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    if (!e)
        e = posix_spawn_file_actions_addchdir_np(&fa, sp->cwd);
    if (!e)
        e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETSIGDEF);
    if (!e)
        e = posix_spawnattr_setpgroup(&at, 0); /* its own group: cancel signals all of it */
    if (!e)
        e = posix_spawnattr_setsigmask(&at, &none);
    if (!e)
        e = posix_spawnattr_setsigdefault(&at, &dfl);
    pid_t pid = 0;
    if (!e)
        e = posix_spawn(&pid, path, &fa, &at, sp->argv, sp->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close_fd(&out_p[1]);
    close_fd(&err_p[1]);
    close_fd(&in_fd);
    if (e) {
        close_fd(&out_p[0]);
        close_fd(&err_p[0]);
        if (e == ENOENT)
            exec_fail(s, 127, "command not found: %s", name);
        else if (e == EACCES || e == ENOEXEC || e == EISDIR || e == ETXTBSY || e == ELOOP ||
                 e == ENOTDIR || e == EPERM)
            exec_fail(s, 126, "cannot execute %s: %s", name, strerror(e));
        else
            exec_fail(s, -1, "cannot start %s: %s", name, strerror(e));
        free(path);
        return;
    }
    free(path);
    s->pid = pid;
    stream_open(s, &s->out, out_p[0]);
    stream_open(s, &s->err, err_p[0]);
    watch_child(s);
    return;

sys_fail:
    e = errno;
spawn_fail_early:
    close_fd(&out_p[0]);
    close_fd(&out_p[1]);
    close_fd(&err_p[0]);
    close_fd(&err_p[1]);
    close_fd(&in_fd);
    free(path);
    exec_fail(s, -1, "cannot start %s: %s", name, strerror(e));
}

/* ---------- the descriptor ---------- */

static int exec_start(rb_action_ctx_t *ctx, const json_t *with)
{
    exec_spec_t sp;
    int rc = exec_parse(ctx, with, &sp);
    if (rc < 0)
        return rc;
    exec_state_t *s = calloc(1, sizeof(*s));
    if (!s) {
        spec_free(&sp);
        return RB_ENOMEM;
    }
    s->ctx = ctx;
    s->cap = rb_action_output_cap(ctx);
    s->grace_ms = sp.grace_ms;
    s->pidfd = -1;
    s->phase = PHASE_RUNNING;
    /* Inited first and closed last on every path, so even a command that
     * cannot start reports from a close callback, never inside start(). */
    uv_timer_init(rb_action_loop(ctx), &s->timer);
    s->timer.data = s;
    rb_action_set_data(ctx, s);
    exec_launch(s, &sp);
    spec_free(&sp);
    return 0;
}

static void exec_cancel(rb_action_ctx_t *ctx)
{
    exec_state_t *s = rb_action_data(ctx);
    if (!s || s->phase == PHASE_CLOSING || s->cancelled)
        return;
    if (s->phase == PHASE_DRAINING) {
        /* The command has ended on its own; only stop waiting for stragglers
         * holding its pipes. What it left running in the background stays. */
        exec_finish(s);
        return;
    }
    s->cancelled = 1;
    char g[32], m[160];
    rb_duration_format(s->grace_ms, g, sizeof(g));
    snprintf(m, sizeof(m), "cancel: SIGTERM to process group %d, SIGKILL after %s", (int)s->pid, g);
    rb_action_log(ctx, "info", m);
    kill(-s->pid, SIGTERM);
    kill(-s->pid, SIGCONT); /* a stopped process acts on SIGTERM only once continued */
    uv_timer_start(&s->timer, exec_timer_cb, s->grace_ms, 0);
}

static const rb_action_param_t exec_params[] = {
    {"argv", RB_PARAM_STRINGS, 0, NULL,
     "The command and its arguments, run without a shell. Exactly one of argv and shell."},
    {"shell", RB_PARAM_STRING, 0, NULL,
     "A command line run by /bin/sh -c; every interpolated value is shell-quoted."},
    {"env", RB_PARAM_MAP, 0, NULL, "Extra environment variables for the command."},
    {"inherit_env", RB_PARAM_BOOL, 0, "false",
     "true: the command gets the engine's environment (plus env); false: only PATH, HOME, "
     "LANG=C.UTF-8 and env."},
    {"cwd", RB_PARAM_STRING, 0, NULL,
     "Working directory, relative to the runbook's folder (default: that folder)."},
    {"stdin", RB_PARAM_STRING, 0, NULL, "Text given to the command on stdin (default: /dev/null)."},
    {"grace", RB_PARAM_DURATION, 0, "\"5s\"",
     "On cancel or timeout: time between SIGTERM and SIGKILL to the command's process group."},
    {NULL, 0, 0, NULL, NULL},
};

const rb_action_t rb_action_exec = {
    .abi_version = RB_ACTION_ABI_VERSION,
    .struct_size = sizeof(rb_action_t),
    .name = "exec",
    .summary = "Run a command (argv, or a line for /bin/sh -c) and capture its exit and output",
    .flags = RB_ACTION_SIDE_EFFECTS,
    .params = exec_params,
    .validate = exec_validate,
    .start = exec_start,
    .cancel = exec_cancel,
};
