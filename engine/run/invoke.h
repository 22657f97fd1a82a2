/*
 * invoke.h — runs one action invocation (a step's, a verify's, a check's,
 * an undo's, a notification's) to its final result: attempts, the timeout,
 * retry delays with backoff, `expect` and `retry.until`. Several invokers
 * run side by side for parallel checks and foreach items. Loop thread only.
 */
#ifndef RB_INVOKE_H
#define RB_INVOKE_H

#include <jansson.h>
#include <uv.h>

#include "host/action_host.h"
#include "load/runbook.h"

typedef struct rb_invoker rb_invoker_t;

typedef struct rb_invoker_hooks {
    /* An event of this invocation to journal ("attempt_started",
     * "attempt_finished", "step_retry"); data borrowed. A negative return
     * (the journal refused it) stops the invocation: done() then gets a
     * result with status "error". */
    int (*event)(rb_invoker_t *iv, const char *type, int attempt, const json_t *data, void *arg);
    /* The final result (stolen), once. */
    void (*done)(rb_invoker_t *iv, json_t *result, void *arg);
} rb_invoker_hooks_t;

/* A drill's invoker does not start actions with side effects: they are
 * `simulated`, with this assumed outcome (docs/semantics.md, R-drill-…). */
#define RB__SIMULATE_OK     1
#define RB__SIMULATE_FAILED 2

/* A new invoker on loop. base_dir: where relative paths resolve. dry_run:
 * 0, or RB__SIMULATE_OK / RB__SIMULATE_FAILED: actions with side effects
 * are not started and answer, on the next turn of the loop, {ok (as
 * assumed), status: "simulated", assumed: "ok"|"failed", would_run:
 * {action, with}}; expect and until are not applied and nothing is
 * retried. */
rb_invoker_t *rb__invoker_new(uv_loop_t *loop, const char *base_dir, int dry_run);

/*
 * Starts inv. ctx (borrowed, increfed for the invocation) is what expect and
 * until are evaluated against, with the attempt's result added as `result`
 * and its fields as names. with: the parameters already rendered (stolen:
 * what the intent record says is exactly what runs), or NULL to render
 * inv's `with` against ctx here; a rendering error ends the invocation at
 * once with status "error" (done is still called, from this call). phase
 * labels the events ("main", "verify", "check", "undo", "notify").
 * Returns 0; done is always called.
 */
int rb__invoker_start(rb_invoker_t *iv, const rb_invoke_t *inv, json_t *ctx, json_t *with,
                      const char *phase, const rb_invoker_hooks_t *hooks, void *arg);

/* The parameters as rendered for the invocation in flight (borrowed), or
 * NULL before start / after a rendering error. */
const json_t *rb__invoker_with(const rb_invoker_t *iv);

/* After done: starts the next attempt of the same invocation (same
 * parameters, same context) after its retry delay, as if the last attempt
 * had failed for reason (journaled with the step_retry event) — a failed
 * verify fails its attempt this way (R-verify). Returns 1 when an attempt
 * is coming (done will be called again), 0 when none is left or the
 * invocation was cancelled, or a negative error when the journal refused
 * the record. */
int rb__invoker_again(rb_invoker_t *iv, const char *reason);

/* Number of the attempt in flight or last made. */
int rb__invoker_attempts(const rb_invoker_t *iv);

/* Stops the invocation: the action is cancelled or the retry delay cut
 * short; done comes with status "cancelled". */
void rb__invoker_cancel(rb_invoker_t *iv);

/* 1 while an invocation is in flight. */
int rb__invoker_busy(const rb_invoker_t *iv);

/* Frees the invoker; not while busy. Its timer is closed and the memory
 * freed in the close callback, so the loop must run once more. */
void rb__invoker_free(rb_invoker_t *iv);

/* The sub-runbook service given to every action this invoker starts
 * (borrowed; must outlive the invoker). */
void rb__invoker_set_subrun(rb_invoker_t *iv, const rb_subrun_host_t *h);

/* Sets dry_run (as for rb__invoker_new) for the invocations this invoker
 * starts from now on: checks observe, so a drill runs them for real (0);
 * a step takes the outcome --assume gives it. */
void rb__invoker_set_dry_run(rb_invoker_t *iv, int dry_run);

/* A replay: every attempt is answered by answer(iv, phase, action, attempt,
 * with, arg)
 * (a new reference) instead of starting the action — except an action
 * that runs a sub-runbook (RB_ACTION_SUBRUN), which the replay runs as the
 * child's replay. The answer comes on the next turn of the loop and is
 * judged (expect, until) as an action's result would be; retry delays pass
 * at once (the journaled delay_ms is still the computed one). */
typedef json_t *(*rb_invoker_answer_fn)(rb_invoker_t *iv, const char *phase, const char *action,
                                        int attempt, const json_t *with, void *arg);
void rb__invoker_set_answer(rb_invoker_t *iv, rb_invoker_answer_fn fn, void *arg);

/* Opaque per-invoker user slot (e.g. the foreach item index). */
void rb__invoker_set_data(rb_invoker_t *iv, void *data);
void *rb__invoker_data(const rb_invoker_t *iv);

#endif
