/*
 * exec_int.h — what the files of the `exec` action share and nothing else
 * sees:
 *
 *   exec.c          the descriptor, and the child: spawn, watch, reap,
 *                   cancel (SIGTERM, grace, SIGKILL), the result, and the
 *                   close callbacks the result is handed over from.
 *   exec_spec.c     `with` to what to run: the checks validate() and
 *                   start() share, argv, environment, cwd, stdin, grace,
 *                   and finding the program in the child's PATH.
 *   exec_capture.c  one output pipe read into a buffer up to the cap (the
 *                   rest read and dropped), on the loop or at once
 *                   (drain), and output to UTF-8 JSON text.
 *
 * Must never: be included outside actions/exec*.c.
 */
#ifndef RB_EXEC_INT_H
#define RB_EXEC_INT_H

#include <runbook/action.h>

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- exec_spec.c */

/* What start() runs, parsed from the rendered `with`. */
typedef struct exec_spec {
    char **argv; /* NULL-terminated; argv[0] as the user wrote it */
    char **envp;
    char *cwd; /* absolute, or relative to the engine's cwd if base_dir is */
    const char *stdin_data; /* borrowed from `with` (used only inside start()) or stdin_own */
    char *stdin_own;        /* the text of a number or boolean given as stdin */
    size_t stdin_len;
    int has_stdin;
    int stdin_hold; /* stdin is a pipe the engine holds open (after writing the
                     * stdin text, at most 64 KiB, into it) until the child is
                     * reaped or rb__exec_stop closes it: the command's cue to
                     * stop (the ssh action's remote side) */
    uint64_t grace_ms;
    uint64_t soft_ms;  /* stdin_hold: how long a stop waits for the command after
                        * closing its stdin before it signals it */
    uint64_t limit_ms; /* non-zero: the action's own time limit; when it runs out
                        * the command is stopped and the result says timeout */
    char *limit_text;  /* how the limit was written, for the error ("30s") */
} exec_spec_t;

/* The checks validate() runs at load time and start() runs again on the
 * rendered values; rendered says which (templates are only allowed
 * before). 0, or RB_EINVAL with msg and *key (the parameter, or NULL). */
int rb__exec_check(const json_t *with, int rendered, char *msg, size_t msglen, const char **key);

/* argv as exec and ssh take it: a non-empty list of strings (a number or
 * boolean counts as its text), no NUL byte, argv[0] not empty. 0, or
 * RB_EINVAL with msg and *key. */
int rb__exec_check_argv(const json_t *argv, char *msg, size_t msglen, const char **key);

/* env: a map of names (name_ok says which; what names them in the
 * message) to scalars without a NUL byte. 0, or RB_EINVAL with msg, *key. */
int rb__exec_check_env(const json_t *env, int (*name_ok)(const char *), const char *what,
                       char *msg, size_t msglen, const char **key);

/* A scalar where a string is wanted: a string, number or boolean (a
 * template that is exactly one {{ }} keeps its value's type). */
int rb__exec_scalar_ok(const json_t *v);

/* Its text, allocated (numbers as JSON writes them); NULL: out of memory. */
char *rb__exec_scalar_dup(const json_t *v);

/* Fills *sp from the rendered with (borrowed; sp borrows a string stdin
 * from it). 0, or a negative error (logged to ctx) and *sp is empty. */
int rb__exec_parse(rb_action_ctx_t *ctx, const json_t *with, exec_spec_t *sp);
void rb__exec_spec_free(exec_spec_t *sp);

/* The file argv[0] names, looked up in the child's PATH (envp) and cwd.
 * 0 with *out allocated, -ENOENT / -EACCES as execvp would, or RB_ENOMEM. */
int rb__exec_resolve(const char *name, char *const *envp, const char *cwd, char **out);

/* ---------------------------------------------------------------- exec.c */

/* What an action built on exec adds to it (the ssh action). result sees the
 * result before it is reported and may change it (it borrows r); free(arg)
 * runs once, after the result is built or when the run fails to start.
 * started (optional) is asked by a stop of a stdin_hold command with the
 * stderr captured so far: 0 says the command proper has not started (ssh
 * still connecting), so there is nothing to stop gently and the client is
 * signalled at once. */
typedef struct exec_hooks {
    /* tail: the last bytes the command wrote to stderr (at most
     * EXEC_TAIL_SIZE), kept past the cap, so that what ends a long stderr
     * (ssh's end marker) is still seen when the capture was cut. */
    void (*result)(json_t *r, const char *tail, size_t tail_len, void *arg);
    void (*free)(void *arg);
    void *arg;
    int (*started)(const char *err, size_t n, void *arg);
} exec_hooks_t;

/* Runs what sp says, as exec does, and reports through ctx (which must
 * belong to an action whose cancel calls rb__exec_stop or rb__exec_cancel).
 * Takes sp over (freed here, on every path) and hooks->arg. 0 (the result
 * comes through rb_action_done), or RB_ENOMEM (nothing is reported). Loop
 * thread. */
int rb__exec_run(rb_action_ctx_t *ctx, exec_spec_t *sp, const exec_hooks_t *hooks);

/* The cancel of exec: SIGTERM to the command's group, SIGKILL after grace. */
void rb__exec_cancel(rb_action_ctx_t *ctx);

/* The cancel of a command started with stdin_hold: its stdin is closed,
 * which it takes as the request to stop; if it has not ended within
 * soft_ms, rb__exec_cancel follows. Without stdin_hold, rb__exec_cancel.
 * Loop thread. */
void rb__exec_stop(rb_action_ctx_t *ctx);

/* ---------------------------------------------------------------- exec_capture.c */

typedef struct exec_stream exec_stream_t;

#define EXEC_TAIL_SIZE 256 /* bytes of a stream's end kept past the cap */

/* EOF or a read error on st: nothing more will come, reading has stopped. */
typedef void (*exec_eof_cb)(exec_stream_t *st);

/* One of the child's output pipes, read end. poll is the first member: the
 * capture finds the stream from the handle. poll.data is the owner's. */
struct exec_stream {
    uv_poll_t poll;
    int fd;    /* the read end, non-blocking; -1 once closed */
    char *buf; /* captured bytes, never more than the cap */
    size_t len, alloc;
    size_t cap;
    char **discard; /* the owner's scratch for bytes past the cap, made on first need */
    exec_eof_cb on_eof;
    char tail[EXEC_TAIL_SIZE]; /* the last bytes read, past the cap too */
    size_t tail_len;
    int inited; /* the handle is registered with the loop and must be closed */
    int eof;
    int truncated;
};

/* Reads fd (taken over: closed here on failure, else by
 * rb__exec_stream_closed) into st as the loop sees data, at most cap
 * bytes; the rest is read into *discard (shared by the owner's streams,
 * freed by the owner) and dropped. On failure st->eof is set at once and
 * on_eof is not called. owner goes to st->poll.data. Loop thread. */
void rb__exec_stream_open(exec_stream_t *st, uv_loop_t *loop, int fd, size_t cap, char **discard,
                          exec_eof_cb on_eof, void *owner);

/* Reads what the pipe holds now, at most max_reads reads, without waiting
 * and without calling on_eof. 1 when the stream is at EOF (the handle still
 * polls: close it, or rb__exec_stream_stop), 0 when the pipe is empty but
 * still open or max_reads ran out. */
int rb__exec_stream_drain(exec_stream_t *st, int max_reads);

/* Stops polling a stream that is at EOF but whose handle stays open. */
void rb__exec_stream_stop(exec_stream_t *st);

/* From the handle's close callback: closes the read end. */
void rb__exec_stream_closed(exec_stream_t *st);

/* The captured output as a JSON string (rb__exec_text). New reference. */
json_t *rb__exec_stream_text(const exec_stream_t *st);

/* Frees what st captured; its handle must be closed already. */
void rb__exec_stream_release(exec_stream_t *st);

/* A JSON string of the bytes, ill-formed UTF-8 as U+FFFD (actions/utf8.c),
 * so a binary or Latin-1 output still journals; when truncated, a character
 * cut in half by the cap is dropped. "" when memory ran out. */
json_t *rb__exec_text(const char *buf, size_t len, int truncated);

#endif
