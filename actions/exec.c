/*
 * exec.c — the `exec` action: runs one command, given as argv or as a line
 * for /bin/sh -c, and reports how it ended and what it wrote.
 *
 * Owns: the child from posix_spawn until it is reaped, its process group
 * (signalled on cancel), the pipes of its stdout and stderr (both ends of
 * each until the child is reaped), the pidfd that says when it exited, and
 * every uv handle watching them.
 *
 * One wake-up per command: the engine holds the write end of each output
 * pipe until the child is reaped, so a child that exits does not make the
 * pipes report EOF (a wake-up each, and usually another for the pidfd a
 * moment later) — the pidfd alone says it is over; then the write ends
 * are closed and what is left in the pipes is read at once. A pipe still
 * open after that is held by something the command left behind: it gets
 * the short drain below, as before.
 *
 * What to run comes from exec_spec.c, the output is captured by
 * exec_capture.c (exec_int.h); this file is the descriptor and the child.
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
#include "exec_int.h"

#include <errno.h>
#include <fcntl.h>
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

/* How long to wait for EOF on the pipes once the child has exited: a
 * background grandchild keeping them open must not hold the step open. */
#define EXEC_DRAIN_MS 200
/* Poll interval for reaping when no pidfd can be had (kernel < 5.3, EMFILE). */
#define EXEC_REAP_POLL_MS 20
/* Reads per pipe right after the reap, before falling back to the loop. */
#define EXEC_REAP_READS 32

typedef struct exec_state exec_state_t;

enum exec_phase {
    PHASE_RUNNING,  /* the child has not been reaped */
    PHASE_DRAINING, /* reaped; reading what is left in the pipes, briefly */
    PHASE_CLOSING   /* result built; waiting for close callbacks */
};

struct exec_state {
    rb_action_ctx_t *ctx;
    size_t cap;
    uint64_t grace_ms;
    uint64_t soft_ms;  /* stdin_hold: the stop's wait before signals */
    uint64_t limit_ms; /* the action's own time limit (0: none) */
    char *limit_text;
    enum exec_phase phase;
    pid_t pid; /* also the process group id */
    int pidfd;
    uv_timer_t timer; /* grace, then drain; always inited so reports are async */
    uv_poll_t poll;   /* the pidfd */
    uv_timer_t reap_timer;
    uv_timer_t limit_timer;
    int poll_inited, reap_inited, limit_inited;
    exec_stream_t out, err;
    int out_w, err_w; /* the write ends, held until the child is reaped */
    int in_w;         /* stdin_hold: the write end of stdin, held likewise */
    int stdin_hold;
    char *discard; /* scratch for bytes past the cap, allocated on first need */
    int exited, exit_code, term_signal, status_lost;
    int cancelled; /* cancel arrived while the child ran */
    int killed;    /* the grace expired and SIGKILL went out */
    int soft;      /* a stop closed stdin and waits; signals have not gone out */
    int limit_hit; /* the action's own time limit ran out */
    exec_hooks_t hooks;
    int pending_closes;
    json_t *result;
};

/* ---------- small helpers ---------- */

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
    else if (s->limit_hit)
        status = "timeout";
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
    json_object_set_new(r, "stdout", rb__exec_stream_text(&s->out));
    json_object_set_new(r, "stderr", rb__exec_stream_text(&s->err));
    json_object_set_new(r, "stdout_truncated", json_boolean(s->out.truncated));
    json_object_set_new(r, "stderr_truncated", json_boolean(s->err.truncated));
    json_object_set_new(r, "pid", json_integer(s->pid));
    if (s->status_lost)
        json_object_set_new(r, "error",
                            json_string("exit status lost: the child was reaped elsewhere "
                                        "(is SIGCHLD ignored by the engine?)"));
    else if (s->limit_hit) {
        char m[96];
        snprintf(m, sizeof(m), "timed out after %s", s->limit_text ? s->limit_text : "its limit");
        json_object_set_new(r, "error", json_string(m));
    }
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
    json_object_set_new(r, "error", rb__exec_text(msg, strlen(msg), 0));
    s->result = r;
    exec_finish(s);
}

static void exec_report(exec_state_t *s)
{
    rb_action_ctx_t *ctx = s->ctx;
    json_t *r = s->result;
    if (s->hooks.result)
        s->hooks.result(r, s->err.tail, s->err.tail_len, s->hooks.arg);
    if (s->hooks.free)
        s->hooks.free(s->hooks.arg);
    free(s->limit_text);
    rb__exec_stream_release(&s->out);
    rb__exec_stream_release(&s->err);
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
    } else if (h == (uv_handle_t *)&s->out.poll) {
        rb__exec_stream_closed(&s->out);
    } else if (h == (uv_handle_t *)&s->err.poll) {
        rb__exec_stream_closed(&s->err);
    }
    if (--s->pending_closes == 0)
        exec_report(s);
}

static void close_one(exec_state_t *s, void *h)
{
    s->pending_closes++;
    uv_close((uv_handle_t *)h, exec_close_cb);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
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
    close_fd(&s->out_w);
    close_fd(&s->err_w);
    close_fd(&s->in_w);
    close_one(s, &s->timer);
    if (s->poll_inited)
        close_one(s, &s->poll);
    if (s->reap_inited)
        close_one(s, &s->reap_timer);
    if (s->limit_inited)
        close_one(s, &s->limit_timer);
    if (s->out.inited)
        close_one(s, &s->out.poll);
    if (s->err.inited)
        close_one(s, &s->err.poll);
}

/* ---------- output pipes ---------- */

/* A pipe reached EOF: once the child is reaped too, the command is over. */
static void stream_eof(exec_stream_t *st)
{
    exec_state_t *s = st->poll.data;
    if (s->phase == PHASE_DRAINING && s->out.eof && s->err.eof)
        exec_finish(s);
}

static void stream_open(exec_state_t *s, exec_stream_t *st, int fd)
{
    rb__exec_stream_open(st, rb_action_loop(s->ctx), fd, s->cap, &s->discard, stream_eof, s);
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
    if (s->reap_inited)
        uv_timer_stop(&s->reap_timer);
    s->phase = PHASE_DRAINING;
    /* Ours were the last write ends unless the command left something
     * behind that holds them: read to EOF now, no wake-up per pipe. */
    close_fd(&s->out_w);
    close_fd(&s->err_w);
    close_fd(&s->in_w);
    if (s->limit_inited)
        uv_timer_stop(&s->limit_timer);
    int out_eof = rb__exec_stream_drain(&s->out, EXEC_REAP_READS);
    int err_eof = rb__exec_stream_drain(&s->err, EXEC_REAP_READS);
    if (out_eof && err_eof) {
        exec_finish(s); /* closing the handles stops them: no epoll_ctl twice */
        return 1;
    }
    /* Level-triggered: whatever is at EOF (the pidfd too) must stop. */
    if (s->poll_inited)
        uv_poll_stop(&s->poll);
    if (out_eof)
        rb__exec_stream_stop(&s->out);
    if (err_eof)
        rb__exec_stream_stop(&s->err);
    /* After a cancel whose grace still runs, that grace is the deadline for
     * the rest of the group (which got SIGTERM too) to let go of the pipes.
     * Otherwise wait briefly for the last bytes: a background grandchild
     * holding stdout must not hold the step. */
    if (!s->cancelled || s->killed || s->soft) {
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

static void exec_hard_cancel(exec_state_t *s);
static void limit_timer_cb(uv_timer_t *t);

static void exec_timer_cb(uv_timer_t *t)
{
    exec_state_t *s = t->data;
    if (s->phase == PHASE_RUNNING && s->soft) {
        rb_action_log(s->ctx, "warn", "the command did not end after its stdin was closed");
        exec_hard_cancel(s);
    } else if (s->phase == PHASE_RUNNING) {
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

/* Why cwd cannot be the command's directory, as an errno (0: it is a
 * directory). Asked only after something failed, so that a missing
 * directory is not mistaken for a missing command (posix_spawn reports
 * both as ENOENT); a command that started had its cwd, no stat needed. */
static int cwd_errno(const char *cwd)
{
    struct stat st;
    return stat(cwd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

static void exec_launch(exec_state_t *s, exec_spec_t *sp)
{
    const char *name = sp->argv[0];
    char *path = NULL;
    int out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, in_fd = -1, e;

    int rc = rb__exec_resolve(name, sp->envp, sp->cwd, &path);
    if (rc < 0 && (e = cwd_errno(sp->cwd)) != 0) {
        exec_fail(s, -1, "cwd %s: %s", sp->cwd, strerror(e));
        return;
    }
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
    if (sp->has_stdin && !sp->stdin_hold && (in_fd = stdin_fd(sp)) < 0)
        goto sys_fail;
    if (sp->stdin_hold) {
        /* The text (at most a pipe's capacity: the caller's promise) goes
         * in before the child starts, so this write never waits. */
        int in_p[2];
        if (pipe2(in_p, O_CLOEXEC) < 0)
            goto sys_fail;
        in_fd = fd_above_stdio(in_p[0]);
        s->in_w = fd_above_stdio(in_p[1]);
        if (in_fd < 0 || s->in_w < 0)
            goto sys_fail;
        if (sp->has_stdin && write_all(s->in_w, sp->stdin_data, sp->stdin_len) < 0)
            goto sys_fail;
    }

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
    close_fd(&in_fd);
    if (e) {
        close_fd(&s->in_w);
        close_fd(&out_p[1]);
        close_fd(&err_p[1]);
        close_fd(&out_p[0]);
        close_fd(&err_p[0]);
        int ce = cwd_errno(sp->cwd);
        if (ce)
            exec_fail(s, -1, "cwd %s: %s", sp->cwd, strerror(ce));
        else if (e == ENOENT)
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
    s->out_w = out_p[1]; /* closed once the child is reaped (see the top) */
    s->err_w = err_p[1];
    stream_open(s, &s->out, out_p[0]);
    stream_open(s, &s->err, err_p[0]);
    watch_child(s);
    if (s->limit_ms) {
        uv_timer_init(rb_action_loop(s->ctx), &s->limit_timer);
        s->limit_timer.data = s;
        s->limit_inited = 1;
        uv_timer_start(&s->limit_timer, limit_timer_cb, s->limit_ms, 0);
    }
    return;

sys_fail:
    e = errno;
spawn_fail_early:
    close_fd(&s->in_w);
    close_fd(&out_p[0]);
    close_fd(&out_p[1]);
    close_fd(&err_p[0]);
    close_fd(&err_p[1]);
    close_fd(&in_fd);
    free(path);
    exec_fail(s, -1, "cannot start %s: %s", name, strerror(e));
}

/* ---------- the descriptor ---------- */

static int exec_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    return rb__exec_check(with, 0, msg, msglen, key);
}

int rb__exec_run(rb_action_ctx_t *ctx, exec_spec_t *sp, const exec_hooks_t *hooks)
{
    exec_state_t *s = calloc(1, sizeof(*s));
    if (!s) {
        rb__exec_spec_free(sp);
        if (hooks && hooks->free)
            hooks->free(hooks->arg);
        return RB_ENOMEM;
    }
    if (hooks)
        s->hooks = *hooks;
    s->ctx = ctx;
    s->cap = rb_action_output_cap(ctx);
    s->grace_ms = sp->grace_ms;
    s->soft_ms = sp->soft_ms;
    s->limit_ms = sp->limit_ms;
    s->limit_text = sp->limit_text;
    sp->limit_text = NULL;
    s->stdin_hold = sp->stdin_hold;
    s->pidfd = -1;
    s->out_w = s->err_w = s->in_w = -1;
    s->out.fd = s->err.fd = -1;
    s->phase = PHASE_RUNNING;
    /* Inited first and closed last on every path, so even a command that
     * cannot start reports from a close callback, never inside start(). */
    uv_timer_init(rb_action_loop(ctx), &s->timer);
    s->timer.data = s;
    rb_action_set_data(ctx, s);
    exec_launch(s, sp);
    rb__exec_spec_free(sp);
    return 0;
}

static int exec_start(rb_action_ctx_t *ctx, const json_t *with)
{
    exec_spec_t sp;
    int rc = rb__exec_parse(ctx, with, &sp);
    if (rc < 0)
        return rc;
    return rb__exec_run(ctx, &sp, NULL);
}

/* SIGTERM to the group now, SIGKILL after grace. */
static void exec_hard_cancel(exec_state_t *s)
{
    s->cancelled = 1;
    s->soft = 0;
    char g[32], m[160];
    rb_duration_format(s->grace_ms, g, sizeof(g));
    snprintf(m, sizeof(m), "cancel: SIGTERM to process group %d, SIGKILL after %s", (int)s->pid, g);
    rb_action_log(s->ctx, "info", m);
    kill(-s->pid, SIGTERM);
    kill(-s->pid, SIGCONT); /* a stopped process acts on SIGTERM only once continued */
    uv_timer_stop(&s->timer);
    uv_timer_start(&s->timer, exec_timer_cb, s->grace_ms, 0);
}

/* 1 when the command is still to be stopped, else it was handled here. */
static int exec_stop_begin(exec_state_t *s)
{
    if (!s || s->phase == PHASE_CLOSING || s->cancelled)
        return 0;
    if (s->phase == PHASE_DRAINING) {
        /* The command has ended on its own; only stop waiting for stragglers
         * holding its pipes. What it left running in the background stays. */
        exec_finish(s);
        return 0;
    }
    return 1;
}

void rb__exec_cancel(rb_action_ctx_t *ctx)
{
    exec_state_t *s = rb_action_data(ctx);
    if (exec_stop_begin(s))
        exec_hard_cancel(s);
}

static void exec_soft_stop(exec_state_t *s)
{
    if (!s->stdin_hold || s->in_w < 0 ||
        (s->hooks.started && !s->hooks.started(s->err.buf, s->err.len, s->hooks.arg))) {
        exec_hard_cancel(s);
        return;
    }
    s->cancelled = 1;
    s->soft = 1;
    rb_action_log(s->ctx, "info", "cancel: the command's stdin is closed, its cue to stop");
    close_fd(&s->in_w);
    uv_timer_stop(&s->timer);
    uv_timer_start(&s->timer, exec_timer_cb, s->soft_ms, 0);
}

void rb__exec_stop(rb_action_ctx_t *ctx)
{
    exec_state_t *s = rb_action_data(ctx);
    if (exec_stop_begin(s))
        exec_soft_stop(s);
}

static void limit_timer_cb(uv_timer_t *t)
{
    exec_state_t *s = t->data;
    if (s->phase != PHASE_RUNNING || s->cancelled)
        return;
    s->limit_hit = 1;
    exec_soft_stop(s);
}

static void exec_cancel(rb_action_ctx_t *ctx)
{
    rb__exec_cancel(ctx);
}

static const rb_action_param_t exec_params[] = {
    /* RB_PARAM_ANY: a list of strings, where a number or boolean is taken
     * as its text; exec's own check says what an item may be. */
    {"argv", RB_PARAM_ANY, 0, NULL,
     "The command and its arguments (a list of strings; a number or boolean is passed as its "
     "text), run without a shell. Exactly one of argv and shell."},
    {"shell", RB_PARAM_SHELL, 0, NULL,
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
