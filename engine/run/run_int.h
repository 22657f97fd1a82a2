/*
 * run_int.h — what run.c (the run's life: phases, checks, notifications,
 * escalations, the end), confirm.c (confirm and severity), step.c (the
 * steps: approval, attempts, verify, rollback, sub-runbooks), foreach.c (a
 * foreach step's items), resume.c and run_params.c share about a run.
 * Internal to those files; everything else sees rb_run_t as an opaque
 * handle (run.h).
 */
#ifndef RB_RUN_INT_H
#define RB_RUN_INT_H

#include "invoke.h"
#include "run.h"
#include "secret.h"

typedef enum { RS_PENDING, RS_DETECT, RS_STEPS, RS_VALIDATE, RS_ENDING, RS_DONE } rstate_t;

struct rb_run {
    uv_loop_t *loop;
    const rb_runbook_t *rb;
    rb_journal_t *j;
    int64_t id;
    int dry_run;
    json_t *assume; /* a drill's --assume: {"*" or step name: "ok"|"failed"} */
    const char *status;
    char *error;
    json_t *ctx;    /* {params, alert, steps, checks, run, env} */
    json_t *steps;  /* borrowed from ctx */
    json_t *checks; /* borrowed from ctx */
    uint64_t t0_ms, end_ms;
    rstate_t state;
    int cancelling;
    const char *cancel_why; /* static text: why the run is being cancelled */
    char cancel_by[160];    /* rb_run_cancel_by's reason (cancel_why points here) */
    int journal_broken;

    /* parallel checks (detect or validate) */
    rb_invoker_t **civ;
    size_t nciv, cpending;
    int which;

    /* the step in flight */
    size_t step;
    rb_invoker_t *iv;
    json_t *main_result;
    json_t *intent_with; /* parameters journaled with the intent, for the action */
    uint64_t step_t0;
    int in_verify;
    rb_invoker_t *viv;          /* the step's verify */
    rb_invoker_t *verify_again; /* the invoker a failed verify retries, or NULL */

    /* foreach: the items, each one's rendered parameters (null: they did
     * not render) and result, its invoker and state */
    json_t *items, *item_results, *item_with;
    rb_invoker_t **fiv;
    struct rb_fe_item *fitem;
    size_t nfiv, next_item, items_running, items_done;
    int items_failed;
    int in_foreach_next, foreach_again;

    /* approval */
    uv_timer_t approval_timer;
    int waiting_approval;
    /* rb_run_hold: no new step starts; parked once it stopped at a step
     * boundary (or while waiting for an approval). */
    int hold, parked;
    int park_wanted; /* it stopped, but a notification is still in flight */
    void (*parked_cb)(rb_run_t *r, void *arg);
    void *parked_arg;

    /* undo: steps that completed and have an undo, in order */
    size_t *undo_stack;
    int *undo_items; /* the foreach item each entry undoes, or -1 */
    size_t nundo, rollback_pos;
    int undo_item;     /* the item of the undo in flight, or -1 */
    json_t *undo_ctx;  /* what the undo in flight sees (with its item) */
    int rolling_back;
    size_t undos_run, undos_failed, undos_cancelled;
    char *rollback_reason;

    /* notifications and escalations */
    rb_invoker_t **niv;
    size_t nniv;
    size_t npending;
    uv_timer_t *esc_timers;
    size_t nesc;
    int escalated;
    /* a resumed run: how long ago it first started (escalation timers count
     * from then), and the levels it had already escalated to (bit i: level
     * i + 1) */
    uint64_t esc_elapsed_ms;
    uint64_t esc_fired;
    /* the run's start (wall clock, ms since the epoch; a resumed run's: its
     * first start, runs.started_at) and its duration once it ended, from
     * that start to the end (docs/semantics.md, "Durations") */
    int64_t start_wall_ms;
    uint64_t duration_ms;
    /* a resumed run: when the approval it waited on was first asked (wall
     * clock ms) and for which step; its timeout counts from then */
    int64_t asked_wall_ms;
    char *asked_step;
    /* a resumed run: the notifications in flight when it stopped, sent
     * again as it resumes ([{label, phase, rule}], resume.c), and the last
     * one that had failed (the run view's "failed" of a notify_failed) */
    json_t *resend, *resend_failed;

    /* the end, once the last notifications are out */
    const char *final_status;
    char *final_error;

    /* sub-runbooks started by this run's `runbook` steps */
    rb_subrun_host_t subrun;
    struct child *children;
    size_t nchildren;
    int depth;
    int64_t parent_run;
    char *parent_step;
    rb_run_t *parent; /* the run whose `runbook` step started this one */

    size_t flushes; /* durable() calls whose callback has not come yet */
    size_t undo_step; /* the step whose undo is in flight */

    rb_secrets_t *secrets; /* masked out of everything the run writes down */
    char *key;      /* the concurrency key */
    char *default_key; /* the key when the runbook declares none (a sub-run's), or NULL */
    char *external_url; /* rb_run_opts_t.external_url (copied), or NULL */
    json_t *preset;     /* rb_run_opts_t.preset (a reference), for sub-runs; or NULL */
    int key_held;
    int resumed;    /* rb_run_resume(): goes on at resume_at */
    const char *end_status; /* rb__run_end's status (static text), for its notifications */
    int end_ready;  /* the end is durable and its notifications are out: finish may end */
    long resume_at; /* a step index, or RB__RESUME_FROM_START */

    const rb_replay_host_t *replay; /* a replay's stand-in for the world, or NULL */
    int64_t started_at;             /* run.started_at given (a replay's), or 0 */

    int open_handles;
    rb_run_event_cb ev;
    rb_run_done_cb done;
    void *arg;
};

/* A foreach item in flight (foreach.c). */
struct rb_fe_item {
    rb_run_t *r;
    size_t k;
    json_t *main;            /* the action's result while the verify runs */
    rb_subrun_host_t subrun; /* a sub-runbook started for this item */
};

/* A sub-runbook in flight or finished: freed with its parent. */
struct child {
    rb_run_t *run;
    rb_runbook_t *rb;
    rb_action_ctx_t *ctx; /* NULL once answered */
};

#define RB_MAX_SUBRUN_DEPTH 8


#define RB__RESUME_FROM_START (-2L)
#define RB__RESUME_FAILED     (-3L) /* the last step failed with abort/rollback */

/* Labels an invoker's events with the step or check it runs for. */
typedef struct ivlabel {
    rb_run_t *r;
    const char *name; /* step or check name */
    int item;         /* foreach item index, or -1 */
    int rule;         /* a notification's: its notify (escalate) entry's index, or -1 */
} ivlabel_t;

/* run.c */

/* The wall clock, ms since the epoch. */
int64_t rb__run_wall_ms(void);

/* The run in memory (context, parameters, secrets); nothing journaled. */
int rb__run_alloc(uv_loop_t *loop, const rb_runbook_t *rb, rb_journal_t *j, const rb_run_opts_t *o,
                  const json_t *given, rb_run_t **out, char *err, size_t errlen);
/* run_params.c: params.<name> of the run's context from the values given
 * (a parameter the runbook does not declare is an error) and the
 * defaults. 0, or RB_EINVAL with err. */
int rb__run_params(rb_run_t *r, const json_t *given, char *err, size_t errlen);
/* Sets run.<k> in the expression context (steals v). */
void rb__run_set_field(rb_run_t *r, const char *k, json_t *v);
/* run.id from r->id, and run.report_url when the run has an external_url. */
void rb__run_set_id(rb_run_t *r);
/* Runs the detect (which 0) or validate (1) checks, in parallel. */
void rb__run_checks(rb_run_t *r, int which);
/* Journals the run's start (run_started, run_resumed) with data and claims
 * the run as running for this process. 0, or the journal's error (the run
 * has then been stopped). */
int rb__run_announce(rb_run_t *r, const char *type, const json_t *data);
/* The run's first phase: detect when it has checks, else confirm. */
void rb__run_detect(rb_run_t *r);
/* confirm.c: confirm (or inconclusive), then severity, then the steps. */
void rb__run_confirm(rb_run_t *r);

/* Continues k(r) once everything the run journaled so far is durable: a
 * flush through the writer thread when the journal has one (the loop never
 * waits on disk), else a commit right here. k may be NULL (just make it
 * durable). A journal failure ends the run instead; a run being cancelled
 * still gets k, which must check r->cancelling. */
typedef void (*rb__run_cont_fn)(rb_run_t *r);
void rb__run_durable(rb_run_t *r, rb__run_cont_fn k);
int rb__run_emit(rb_run_t *r, const char *type, const char *step, int attempt, const json_t *data);
void rb__run_journal_failed(rb_run_t *r, int rc);
/* Journals an expression that could not be evaluated ("expression_error"):
 * where ("notify", "escalate", "approval") and i (its index there, or -1)
 * and key say which; step names the step it guards, or NULL. Returns 0, or
 * the journal's error (the run has then been stopped). */
int rb__run_expr_error(rb_run_t *r, const char *step, const char *where, long i, const char *key,
                       const char *err);
void rb__run_set_status(rb_run_t *r, const char *st);
/* The run waits for an approval (1) or no longer does (0): run.status and
 * the journal's runs listing say waiting_approval, then running again.
 * 0, or the journal's error (the run has then been stopped). */
int rb__run_set_waiting(rb_run_t *r, int waiting);
void rb__run_end(rb_run_t *r, const char *status, const char *error);
void rb__run_notify(rb_run_t *r, uint32_t bit, const char *event);
/* A resumed run: sends again the notifications of r->resend. */
void rb__run_resend(rb_run_t *r);

/* Starts the escalation timers: each level after its `after`, less
 * r->esc_elapsed_ms, but the levels in r->esc_fired (a resumed run's). */
void rb__run_start_escalations(rb_run_t *r);
void rb__run_steps_done(rb_run_t *r);
rb_invoker_t *rb__run_new_invoker(rb_run_t *r, const char *name, int item);
void rb__run_free_invoker(rb_invoker_t *iv);
int rb__run_on_iv_event(rb_invoker_t *iv, const char *type, int attempt, const json_t *data, void *arg);

/* The concurrency key: rendered and held by this process's registry
 * (a resumed run takes its key back), released at the end. */
int rb__run_hold_key(rb_run_t *r, char *err, size_t errlen);
void rb__run_release_key(rb_run_t *r);

/* resume.c: a resumed run's start (journals run_resumed). */
int rb__run_start_resumed(rb_run_t *r);

/* step.c */
void rb__step_begin(rb_run_t *r, size_t i);
/* The run is cancelled while the step in flight waits for its approval:
 * the step ends cancelled (and so does the run). */
void rb__step_cancel_approval(rb_run_t *r);
/* Puts what step i completed (the step, or a foreach step's ok items) on
 * the undo stack, from its result in steps.<name>. */
void rb__undo_remember(rb_run_t *r, size_t i);
const rb_step_t *rb__step_current(const rb_run_t *r);
int rb__subrun_start(void *arg, rb_action_ctx_t *ctx, const char *name, const json_t *params,
                     char *err, size_t errlen);
void rb__subrun_cancel(void *arg, rb_action_ctx_t *ctx);
/* What foreach.c needs of a step: record its outcome and move on as
 * on_failure says (steals res); fail it without running its action;
 * journal its intent (items: a foreach step's [{item, with}]); go on with
 * k once the intent is on record (durably first for side effects). */
void rb__step_end(rb_run_t *r, json_t *res, int attempts);
void rb__step_error(rb_run_t *r, const char *msg);
void rb__step_unstartable(rb_run_t *r, const char *msg);
int rb__step_intent(rb_run_t *r, const json_t *with, const json_t *items);
void rb__step_after_intent(rb_run_t *r, rb__run_cont_fn k);

/* foreach.c: starts the foreach step in flight (after its approval). */
void rb__foreach_start(rb_run_t *r);
/* The context a foreach item's action, verify and undo see: the run's,
 * with `item` and (res not NULL) `result`. New reference. */
json_t *rb__item_ctx(const rb_run_t *r, const json_t *item, const json_t *res);

/* The same for the sub-runbook of a foreach item (arg: its struct rb_fe_item). */
int rb__subrun_start_item(void *arg, rb_action_ctx_t *ctx, const char *name, const json_t *params,
                          char *err, size_t errlen);
void rb__subrun_cancel_item(void *arg, rb_action_ctx_t *ctx);
/* Drills: sets how iv treats an action with side effects for step s — run
 * it, or simulate it with the outcome --assume gives s. */
void rb__run_invoker_set_assume(rb_run_t *r, rb_invoker_t *iv, const rb_step_t *s);

/* step.c: the run stops at a step boundary for rb_run_hold (the
 * approval it waits for, if any, is no longer timed). */
void rb__run_park(rb_run_t *r);

#endif
