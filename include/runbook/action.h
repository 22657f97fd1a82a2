/*
 * action.h — the action module ABI (versioned). Built-in actions and external
 * .so modules use exactly this interface; the core never knows an action by
 * name.
 *
 * An action is one descriptor (rb_action_t). The engine:
 *   1. at load time checks every `with:` against the descriptor's parameter
 *      map (types, required, unknown keys) and then calls validate();
 *   2. at run time renders the templates in `with:`, then calls start() on the
 *      loop thread with the rendered object;
 *   3. owns the step's timer: on timeout or abort it calls cancel().
 *
 * Contract (as in libuv): start() returns 0 for "started" and the action then
 * calls rb_action_done() exactly once, on the loop thread, possibly after
 * cancel(). If start() returns a negative error, rb_action_done() is never
 * called. Work off the loop goes through uv_queue_work or a thread that hands
 * back with uv_async_send.
 *
 * An external module exports one symbol, RB_ACTION_ENTRY_SYMBOL, returning a
 * NULL-terminated array of descriptors. The loader checks abi_version and
 * struct_size before it trusts any other field (engine/host/plugin.c; how to write,
 * build and load a module: docs/plugins.md).
 */
#ifndef RUNBOOK_ACTION_H
#define RUNBOOK_ACTION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "runbook.h"

#define RB_ACTION_ABI_VERSION 1
#define RB_ACTION_ENTRY_SYMBOL "rb_action_module_entry"

/* Flags. An action with side effects has its intent made durable in the
 * journal before it starts, and is simulated (not started) in a drill
 * (--dry-run); a read-only one runs for real in a drill too. */
#define RB_ACTION_SIDE_EFFECTS 0x1u
#define RB_ACTION_READ_ONLY    0x2u
/* Optional, with one of the two above: the result's "status" is an HTTP
 * status code (an integer, 0 when no response came) and the outcome word
 * ("ok", "failed", "error", …) is in "outcome". The results the engine
 * makes for the action (it could not start, its parameters did not
 * render, a drill, a cancel) then have that shape too. */
#define RB_ACTION_HTTP_STATUS  0x4u
/* The action runs a sub-runbook through the host (rb_action_ctx's sub-run
 * service): a replay does not answer it from the journal but replays the
 * child run with its parent. Reserved for the built-in `runbook` action: a
 * module that sets it is refused. */
#define RB_ACTION_SUBRUN       0x8u

typedef enum rb_param_type {
    RB_PARAM_STRING = 1, /* a string (templates allowed) */
    RB_PARAM_INT,        /* an integer, or a template that renders to one */
    RB_PARAM_BOOL,       /* a boolean */
    RB_PARAM_DURATION,   /* "30s", "5m", …, or an integer of seconds */
    RB_PARAM_STRINGS,    /* a list of strings */
    RB_PARAM_MAP,        /* an object of string values */
    RB_PARAM_ANY,        /* any JSON value */
    RB_PARAM_SHELL       /* a command line for a POSIX shell: a string in which every
                          * interpolated {{ }} value is shell-quoted (as `run: "…"`) */
} rb_param_type_t;

/* One entry of an action's parameter map. The map is the one source for
 * load-time checks, `runbook actions`, docs/actions.md and the schema. */
typedef struct rb_action_param {
    const char *name;
    rb_param_type_t type;
    int required;              /* non-zero: must be given */
    const char *default_value; /* JSON text of the default, or NULL */
    const char *description;
} rb_action_param_t;

typedef struct rb_action_ctx rb_action_ctx_t; /* opaque, owned by the engine */

/* How validate_all() tells one problem: key is the offending key of `with`
 * (NULL when none applies), msg the message (both borrowed for the call). */
typedef void (*rb_action_report_fn)(void *arg, const char *key, const char *msg);

typedef struct rb_action {
    uint32_t abi_version; /* RB_ACTION_ABI_VERSION */
    uint32_t struct_size; /* sizeof(rb_action_t). The loader accepts a size at least
                           * its own: within one ABI version fields are only ever
                           * added at the end, zero meaning "absent" (docs/plugins.md) */
    const char *name;     /* [a-z0-9_]+, unique */
    const char *summary;  /* one line for `runbook actions` */
    uint32_t flags;       /* RB_ACTION_* */
    const rb_action_param_t *params; /* terminated by an entry with name NULL */

    /* Optional extra load-time check of `with` (as written: strings may still
     * hold unrendered {{ }} templates). Returns 0, or a negative error with a
     * message in msg and, where it applies, *key set to the offending key.
     * Any thread; must not touch the loop. */
    int (*validate)(const json_t *with, char *msg, size_t msglen, const char **key);

    /* Starts the action with the rendered `with` (borrowed: copy what must
     * outlive the call). Loop thread. Returns 0 or a negative error. */
    int (*start)(rb_action_ctx_t *ctx, const json_t *with);

    /* Asks a started action to stop (timeout, abort). It must still call
     * rb_action_done() once, soon. Loop thread. May be NULL for actions that
     * always finish promptly. */
    void (*cancel)(rb_action_ctx_t *ctx);

    /* ---- Added within ABI version 1, at the end (docs/plugins.md,
     * Versioning): the engine reads them only when struct_size covers them,
     * and a module built before them (struct_size RB_ACTION_MIN_SIZE) is
     * taken as having them NULL. ---- */

    /* Optional: every problem of `with` at load time, not only the first:
     * calls report(arg, key, msg) once for each and returns how many it
     * reported (0: none). When set, load-time checks call it instead of
     * validate(), which still checks the rendered values (a drill's "would
     * be refused"). Any thread; must not touch the loop. */
    int (*validate_all)(const json_t *with, rb_action_report_fn report, void *arg);

    /* Optional: for a drill (--dry-run), what the action would send or do
     * with the rendered `with`, for people: a new reference — e.g.
     * {"message": "INCIDENT DECLARED: …"} — that the drill journals as
     * would_run.preview and `show` prints instead of the raw `with`; NULL
     * for nothing to add. run_view is what rb_action_run_view() would give
     * (may be NULL), base_dir the runbook's folder. Loop thread; must not
     * start anything or touch the network. */
    json_t *(*preview)(const json_t *with, const json_t *run_view, const char *base_dir);
} rb_action_t;

/* The size of rb_action_t as ABI version 1 first defined it (through
 * cancel): the smallest struct_size the loader accepts. */
#define RB_ACTION_MIN_SIZE (offsetof(rb_action_t, validate_all))

/* Signature of the entry symbol of an external module. */
typedef const rb_action_t *const *(*rb_action_entry_fn)(void);

/* A duration parameter's value as a runbook or a template gives it: a
 * string ("250ms", "30s", "1h30m"), or a non-negative number of seconds
 * (at most 366 days). 0 and *out_ms, RB_ETOOBIG for one longer than 366
 * days, or RB_EINVAL. Any thread. */
int rb_duration_value(const json_t *v, uint64_t *out_ms);

/* --- services the engine gives an action (loop thread only) --- */

/* The loop the action must schedule its work on. */
uv_loop_t *rb_action_loop(rb_action_ctx_t *ctx);

/* One pointer of action-private state, set in start(). */
void rb_action_set_data(rb_action_ctx_t *ctx, void *data);
void *rb_action_data(rb_action_ctx_t *ctx);

/* The directory relative paths are resolved against (the runbook's folder). */
const char *rb_action_base_dir(rb_action_ctx_t *ctx);

/* Cap in bytes for each captured output (stdout, stderr, body). */
size_t rb_action_output_cap(rb_action_ctx_t *ctx);

/* What the run the action works for has seen so far: an object with `run`
 * (id, key, severity, status, started_at …), `checks`, `steps` and, for a
 * notification or an escalation, `event` — the names of the same meaning
 * in expressions (docs/authoring.md), never `params`, `env` or `alert` —
 * and, for a message sent on notify_failed, `failed`: {notification (the
 * event it was for), channel, target, error} of the one not sent.
 * Borrowed, read-only, valid until rb_action_done(); NULL when the action
 * runs outside a run (a unit test). Lets an action (`notify`) describe the
 * run without the runbook spelling each value out. */
const json_t *rb_action_run_view(rb_action_ctx_t *ctx);

/* Writes a line to the run's log (and the journal). level: "debug", "info",
 * "warn", "error". */
void rb_action_log(rb_action_ctx_t *ctx, const char *level, const char *message);

/* The same for a message of len bytes that may hold NUL bytes: the line is
 * journaled whole, never cut at a NUL. */
void rb_action_logn(rb_action_ctx_t *ctx, const char *level, const char *message, size_t len);

/*
 * Reports the result, exactly once. Steals `result`, which must be an object
 * holding at least "ok" (boolean); the action adds its own fields (exec:
 * exit_code, signal, stdout, stderr, …). "status" defaults to "ok"/"failed"
 * from "ok". May be called from within start() only if start() then returns 0.
 */
void rb_action_done(rb_action_ctx_t *ctx, json_t *result);

#endif
