/*
 * action_host.h — the engine's side of the action ABI: the registry of
 * action descriptors and the context one running action is given.
 * Implemented in engine/host/action.c. Loop thread only.
 */
#ifndef RB_ACTION_HOST_H
#define RB_ACTION_HOST_H

#include <runbook/action.h>

/* Called once per started action with its result (stolen by the callee). */
typedef void (*rb_action_done_cb)(rb_action_ctx_t *ctx, json_t *result, void *arg);

/* The descriptor registered under name, or NULL. */
const rb_action_t *rb__action_find(const char *name);

/* The fields added to rb_action_t within ABI version 1 (validate_all,
 * preview), or NULL when the descriptor's struct_size does not cover
 * them (a module built before they existed). Any thread. */
int (*rb__action_validate_all(const rb_action_t *a))(const json_t *, rb_action_report_fn, void *);
json_t *(*rb__action_preview(const rb_action_t *a))(const json_t *, const json_t *, const char *);

/* Every registered descriptor, NULL-terminated. */
const rb_action_t *const *rb__action_list(void);

/* The closest registered name within a small edit distance, or NULL. */
const char *rb__action_suggest(const char *name);

/* The built-in descriptors only, NULL-terminated (static storage). */
const rb_action_t *const *rb__action_builtins(void);

/* Adds a descriptor to the registry after the built-ins (borrowed: it must
 * outlive every use; engine/host/plugin.c keeps the module open). The caller has
 * checked it (rb__plugin_check_action) and its name is free. 0 or RB_ENOMEM.
 * Start-up only: never while a loop runs actions. */
int rb__action_register(const rb_action_t *a);
/* Removes a registered descriptor (no-op for one not registered). */
void rb__action_unregister(const rb_action_t *a);

/* A context for one start of action a. base_dir is copied. cap 0 = default
 * (64 KiB). done is called exactly once with the result after a successful
 * rb__action_start. */
rb_action_ctx_t *rb__action_ctx_new(uv_loop_t *loop, const rb_action_t *a, const char *base_dir,
                                    size_t cap, rb_action_done_cb done, void *arg);
/* Frees the context; only when no start is in flight (after done). */
void rb__action_ctx_free(rb_action_ctx_t *ctx);

/* Where rb_action_log() lines of this context go (default: stderr). */
typedef void (*rb_action_log_cb)(rb_action_ctx_t *ctx, const char *level, const char *message,
                                 size_t len, void *arg);
void rb__action_ctx_set_log(rb_action_ctx_t *ctx, rb_action_log_cb cb, void *arg);

/* What the engine lends the `runbook` action (a sub-runbook as one step):
 * start runs the runbook `name` with params (borrowed) as a child run and
 * later answers through rb_action_done(ctx, …); cancel stops it. */
typedef struct rb_subrun_host {
    int (*start)(void *arg, rb_action_ctx_t *ctx, const char *name, const json_t *params, char *err,
                 size_t errlen);
    void (*cancel)(void *arg, rb_action_ctx_t *ctx);
    void *arg;
} rb_subrun_host_t;
void rb__action_ctx_set_subrun(rb_action_ctx_t *ctx, const rb_subrun_host_t *h);
/* The host, or NULL when the context has none (a unit test, a check). */
const rb_subrun_host_t *rb__action_ctx_subrun(rb_action_ctx_t *ctx);

/* What rb_action_run_view() answers: run, checks, steps and event taken
 * from expr_ctx (the invocation's expression context, borrowed), nothing
 * else of it. NULL clears it. 0 or RB_ENOMEM. */
int rb__action_ctx_set_run_view(rb_action_ctx_t *ctx, const json_t *expr_ctx);
/* The run view (rb_action_run_view) of an expression context: a new
 * reference, NULL when out of memory. Any thread. */
json_t *rb__action_run_view_of(const json_t *expr_ctx);

/* Starts the action (with borrowed). 0, or a negative error and then done is
 * never called. */
int rb__action_start(rb_action_ctx_t *ctx, const json_t *with);

/* The last line the action logged at level "error" (a JSON string,
 * borrowed; NULL when none): after a start that failed, what the action
 * said was wrong (docs/plugins.md, rule 2). */
const json_t *rb__action_last_error(const rb_action_ctx_t *ctx);

/* Asks a started action to stop; done still comes, once. */
void rb__action_cancel(rb_action_ctx_t *ctx);

/* 1 once cancel was asked. */
int rb__action_cancelled(const rb_action_ctx_t *ctx);

/* A result's outcome, the engine's word for how it went (docs/semantics.md):
 * "ok", "failed", "error", "timeout", "cancelled", "skipped", "denied",
 * "simulated". It is the result's "status"; only an action that gave
 * "status" a meaning of its own (http, notify: the integer HTTP status)
 * keeps the word in "outcome" instead. */
void rb__result_set_outcome(json_t *res, const char *word);
/* A result the engine makes for action a (which may be NULL) without
 * running it: {ok, status: word} — or, for an RB_ACTION_HTTP_STATUS action,
 * {ok, status: 0, outcome: word} — with "error": msg when msg is not NULL.
 * ok is true only for "ok". A new reference (NULL when out of memory). */
json_t *rb__result_new(const rb_action_t *a, const char *word, const char *msg);
/* The outcome word of res (never NULL). */
const char *rb__result_outcome(const json_t *res);

/* Levenshtein distance, capped: used for "did you mean" everywhere. */
int rb__edit_distance(const char *a, const char *b);

#endif
