/*
 * run.c — the run state machine (see run.h and DESIGN §2):
 *
 *   detect (checks in parallel) → confirm → severity → steps (in order:
 *   when, approval, foreach, attempts, verify, on_failure, undo) →
 *   validate (checks in parallel) → resolved | failed | not_confirmed |
 *   cancelled, with notifications on run events and escalations on timers.
 *
 * Owns: a run's expression context, its invokers (invoke.c runs each action
 * invocation), its approval and escalation timers. Every transition is
 * appended to the journal before the run acts on it; before an action with
 * side effects starts, the journal is synced so that its intent is durable
 * first. If the journal refuses a write the run stops: nothing runs that
 * cannot be journaled.
 */
#include "run.h"

#include "catalog.h"
#include "invoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { RS_PENDING, RS_DETECT, RS_STEPS, RS_VALIDATE, RS_ENDING, RS_DONE } rstate_t;

struct rb_run {
    uv_loop_t *loop;
    const rb_runbook_t *rb;
    rb_journal_t *j;
    int64_t id;
    int dry_run;
    const char *status;
    char *error;
    json_t *ctx;    /* {params, alert, steps, checks, run, env} */
    json_t *steps;  /* borrowed from ctx */
    json_t *checks; /* borrowed from ctx */
    uint64_t t0_ms, end_ms;
    rstate_t state;
    int cancelling;
    int journal_broken;

    /* parallel checks (detect or validate) */
    rb_invoker_t **civ;
    size_t nciv, cpending;
    int which;

    /* the step in flight */
    size_t step;
    rb_invoker_t *iv;
    json_t *main_result;
    uint64_t step_t0;
    int in_verify;

    /* foreach */
    json_t *items, *item_results;
    rb_invoker_t **fiv;
    size_t nfiv, next_item, items_running, items_done;
    int items_failed;

    /* approval */
    uv_timer_t approval_timer;
    int waiting_approval;

    /* undo: steps that completed and have an undo, in order */
    size_t *undo_stack;
    size_t nundo, rollback_pos;
    int rolling_back;
    char *rollback_reason;

    /* notifications and escalations */
    rb_invoker_t **niv;
    size_t nniv;
    size_t npending;
    uv_timer_t *esc_timers;
    size_t nesc;
    int escalated;

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

    int open_handles;
    rb_run_event_cb ev;
    rb_run_done_cb done;
    void *arg;
};

/* A sub-runbook in flight or finished: freed with its parent. */
struct child {
    rb_run_t *run;
    rb_runbook_t *rb;
    rb_action_ctx_t *ctx; /* NULL once answered */
};

#define RB_MAX_SUBRUN_DEPTH 8

static void step_begin(rb_run_t *r, size_t i);
static void end_run(rb_run_t *r, const char *status, const char *error);
static void notify(rb_run_t *r, uint32_t bit, const char *event);

/* ---- journaling ---- */

/* Appends an event and tells the observer. Returns 0, or negative when the
 * journal refused it (the caller must stop). data is borrowed. */
static int emit(rb_run_t *r, const char *type, const char *step, int attempt, const json_t *data)
{
    if (r->journal_broken)
        return RB_EJOURNAL;
    json_t *empty = data ? NULL : json_object();
    int rc = rb_journal_event(r->j, r->id, type, step, attempt, data ? data : empty);
    if (rc < 0) {
        r->journal_broken = 1;
    } else if (r->ev) {
        r->ev(r, type, step, attempt, data ? data : empty, r->arg);
    }
    json_decref(empty);
    return rc;
}

/* The journal refused a write: stop everything, report what we can. */
static void journal_failed(rb_run_t *r, int rc)
{
    char msg[512];
    const char *why = rb_journal_errmsg(r->j);
    snprintf(msg, sizeof(msg), "the journal refused a write (%s); stopping before anything "
                               "else runs", why && *why ? why : rb_strerror(rc));
    r->journal_broken = 1;
    if (r->state == RS_DONE)
        return;
    free(r->final_error);
    r->final_error = strdup(msg);
    r->final_status = "failed";
    r->cancelling = 1;
    end_run(r, "failed", msg);
}

static void set_run_field(rb_run_t *r, const char *k, json_t *v)
{
    json_object_set_new(json_object_get(r->ctx, "run"), k, v);
}

static void set_status(rb_run_t *r, const char *st)
{
    r->status = st;
    set_run_field(r, "status", json_string(st));
}

/* ---- creation ---- */

int rb_run_new(uv_loop_t *loop, const rb_runbook_t *rb, rb_journal_t *j, const rb_run_opts_t *o,
               rb_run_t **out, char *err, size_t errlen)
{
    *out = NULL;
    const json_t *given = o && o->params ? o->params : NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)given, k, v) {
        size_t i = 0;
        while (i < rb_runbook_nparams(rb) && strcmp(rb_runbook_param(rb, i)->name, k))
            i++;
        if (i == rb_runbook_nparams(rb)) {
            snprintf(err, errlen, "runbook %s has no parameter \"%s\"", rb_runbook_name(rb), k);
            return RB_EINVAL;
        }
    }
    rb_run_t *r = calloc(1, sizeof(*r));
    if (!r)
        return RB_ENOMEM;
    r->loop = loop;
    r->rb = rb;
    r->j = j;
    r->dry_run = o ? o->dry_run : 0;
    r->depth = o ? o->depth : 0;
    r->parent_run = o ? o->parent_run : 0;
    r->parent_step = o && o->parent_step ? strdup(o->parent_step) : NULL;
    r->status = "pending";
    uv_timer_init(loop, &r->approval_timer);
    r->approval_timer.data = r;
    r->open_handles = 1;
    r->ctx = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "params", json_object(), "alert",
                       o && o->alert ? json_deep_copy(o->alert) : json_object(), "steps",
                       json_object(), "checks", json_object(), "run", json_object(), "env",
                       json_object());
    r->steps = json_object_get(r->ctx, "steps");
    r->checks = json_object_get(r->ctx, "checks");
    json_t *params = json_object_get(r->ctx, "params");
    /* Given values first, then defaults in declaration order: a default may
     * use the alert and parameters resolved before it. */
    json_object_foreach((json_t *)given, k, v)
        json_object_set(params, k, v);
    for (size_t i = 0; i < rb_runbook_nparams(rb); i++) {
        const rb_param_t *p = rb_runbook_param(rb, i);
        if (json_object_get(params, p->name))
            continue;
        json_t *val = NULL;
        if (p->def) {
            char e[200] = "";
            val = rb_tmpl_render(p->def, r->ctx, 0, e, sizeof(e));
            if (!val) {
                snprintf(err, errlen, "default of parameter \"%s\": %s", p->name, e);
                rb_run_free(r);
                return RB_EINVAL;
            }
            if (json_is_string(val) && json_string_length(val) == 0) {
                json_decref(val); /* a default from an absent label is no value */
                val = NULL;
            }
        } else if (p->def_lit) {
            val = json_incref(p->def_lit);
        }
        if (!val && p->required) {
            snprintf(err, errlen, "parameter \"%s\" is required (give --param %s=VALUE)", p->name,
                     p->name);
            rb_run_free(r);
            return RB_EINVAL;
        }
        if (val)
            json_object_set_new(params, p->name, val);
    }

    size_t len;
    const char *src = rb_runbook_source(rb, &len);
    char sha[65];
    int rc = rb_journal_put_version(j, rb_runbook_name(rb), rb_runbook_path(rb), src, len, sha);
    if (rc == 0)
        rc = rb_journal_run_create(j, rb_runbook_name(rb), sha, params,
                                   o && o->trigger ? o->trigger : "cli", &r->id);
    if (rc == 0)
        rc = rb_journal_sync(j);
    if (rc < 0) {
        const char *why = rb_journal_errmsg(j);
        snprintf(err, errlen, "cannot record the run in the journal: %s",
                 why && *why ? why : rb_strerror(rc));
        rb_run_free(r);
        return rc;
    }
    set_run_field(r, "id", json_integer(r->id));
    set_run_field(r, "status", json_string("pending"));
    set_run_field(r, "dry_run", json_boolean(r->dry_run));
    set_run_field(r, "severity", json_null());
    set_run_field(r, "sha256", json_string(sha));
    *out = r;
    return 0;
}

/* ---- invoker plumbing ---- */

typedef struct ivlabel {
    rb_run_t *r;
    const char *name; /* step or check name */
    int item;         /* foreach item index, or -1 */
} ivlabel_t;

static int on_iv_event(rb_invoker_t *iv, const char *type, int attempt, const json_t *data, void *arg)
{
    ivlabel_t *l = rb__invoker_data(iv);
    if (l->item >= 0) {
        json_t *d = json_deep_copy(data);
        json_object_set_new(d, "item", json_integer(l->item));
        int rc = emit(l->r, type, l->name, attempt, d);
        json_decref(d);
        return rc;
    }
    return emit(l->r, type, l->name, attempt, data);
}

static rb_invoker_t *new_invoker(rb_run_t *r, const char *name, int item)
{
    rb_invoker_t *iv = rb__invoker_new(r->loop, rb_runbook_dir(r->rb), r->dry_run);
    if (!iv)
        return NULL;
    ivlabel_t *l = calloc(1, sizeof(*l));
    l->r = r;
    l->name = name;
    l->item = item;
    rb__invoker_set_data(iv, l);
    rb__invoker_set_subrun(iv, &r->subrun);
    return iv;
}

static void free_invoker(rb_invoker_t *iv)
{
    if (!iv)
        return;
    free(rb__invoker_data(iv));
    rb__invoker_free(iv);
}

/* ---- the end ---- */

static void on_close(uv_handle_t *h)
{
    rb_run_t *r = h->data;
    if (--r->open_handles == 0) {
        free(r->esc_timers);
        free(r);
    }
}

static void stop_escalations(rb_run_t *r)
{
    for (size_t i = 0; i < r->nesc; i++)
        uv_timer_stop(&r->esc_timers[i]);
}

/* Writes the final record and tells the owner, once notifications are out. */
static void finish(rb_run_t *r)
{
    if (r->state == RS_DONE || r->npending)
        return;
    r->state = RS_DONE;
    r->end_ms = uv_now(r->loop);
    set_status(r, r->final_status);
    free(r->error);
    r->error = r->final_error ? strdup(r->final_error) : NULL;
    json_t *d = json_pack("{s:s,s:I}", "status", r->final_status, "duration_ms",
                          (json_int_t)(r->end_ms - r->t0_ms));
    if (r->final_error)
        json_object_set_new(d, "error", json_string(r->final_error));
    const json_t *sev = json_object_get(json_object_get(r->ctx, "run"), "severity");
    if (json_is_string(sev))
        json_object_set(d, "severity", (json_t *)sev);
    int rc = emit(r, "run_finished", NULL, 0, d);
    json_decref(d);
    if (rc == 0)
        rc = rb_journal_run_status(r->j, r->id, r->final_status, 1);
    if (rc == 0)
        rc = rb_journal_sync(r->j);
    if (rc < 0 && !r->error) {
        const char *why = rb_journal_errmsg(r->j);
        r->error = strdup(why && *why ? why : "the journal refused the final record");
        r->status = "failed";
    }
    if (r->done)
        r->done(r, r->arg);
}

static void end_run(rb_run_t *r, const char *status, const char *error)
{
    if (r->state == RS_ENDING || r->state == RS_DONE)
        return;
    r->state = RS_ENDING;
    stop_escalations(r);
    uv_timer_stop(&r->approval_timer);
    if (!r->final_status) {
        r->final_status = status;
        r->final_error = error ? strdup(error) : NULL;
    }
    set_status(r, r->final_status);
    if (!r->journal_broken) {
        if (!strcmp(status, "resolved"))
            notify(r, RB_EV_RESOLVED, "resolved");
        else if (!strcmp(status, "failed"))
            notify(r, RB_EV_FAILED, "failed");
        else if (!strcmp(status, "not_confirmed"))
            notify(r, RB_EV_NOT_CONFIRMED, "not_confirmed");
    }
    finish(r);
}

/* ---- notifications and escalations ---- */

static void on_notify_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    rb_run_t *r = arg;
    ivlabel_t *l = rb__invoker_data(iv);
    json_t *d = json_pack("{s:O}", "result", res);
    emit(r, "notification_sent", l->name, rb__invoker_attempts(iv), d);
    json_decref(d);
    json_decref(res);
    r->npending--;
    if (r->state == RS_ENDING)
        finish(r);
}

static void start_side_invoke(rb_run_t *r, const rb_invoke_t *inv, const char *label,
                              const char *event, const char *phase)
{
    static const rb_invoker_hooks_t hooks = {on_iv_event, on_notify_done};
    rb_invoker_t *iv = new_invoker(r, label, -1);
    rb_invoker_t **n = iv ? realloc(r->niv, (r->nniv + 1) * sizeof(*n)) : NULL;
    if (!n) {
        free_invoker(iv);
        return;
    }
    r->niv = n;
    r->niv[r->nniv++] = iv;
    r->npending++;
    json_t *c = json_copy(r->ctx);
    json_object_set_new(c, "event", json_string(event));
    rb__invoker_start(iv, inv, c, phase, &hooks, r);
    json_decref(c);
}

static void notify(rb_run_t *r, uint32_t bit, const char *event)
{
    for (size_t i = 0; i < rb_runbook_nnotify(r->rb); i++) {
        const rb_notify_rule_t *n = rb_runbook_notify(r->rb, i);
        if (!(n->events & bit))
            continue;
        if (n->when) {
            char e[200];
            if (rb_expr_test(n->when, r->ctx, e, sizeof(e)) <= 0)
                continue;
        }
        start_side_invoke(r, &n->inv, event, event, "notify");
    }
}

static void on_escalation(uv_timer_t *t)
{
    rb_run_t *r = t->data;
    size_t i = (size_t)(t - r->esc_timers);
    const rb_escalation_t *e = rb_runbook_escalation(r->rb, i);
    if (r->state == RS_ENDING || r->state == RS_DONE)
        return;
    if (e->unless) {
        char err[200];
        if (rb_expr_test(e->unless, r->ctx, err, sizeof(err)) > 0)
            return;
    }
    r->escalated++;
    set_run_field(r, "escalated", json_integer(r->escalated));
    json_t *d = json_pack("{s:I,s:i}", "after_ms", (json_int_t)e->after_ms, "level", (int)i + 1);
    int rc = emit(r, "escalated", NULL, 0, d);
    json_decref(d);
    if (rc < 0) {
        journal_failed(r, rc);
        return;
    }
    start_side_invoke(r, &e->inv, "escalation", "escalated", "escalate");
    notify(r, RB_EV_ESCALATED, "escalated");
}

/* ---- checks (detect, validate) ---- */

static void confirm_and_grade(rb_run_t *r);
static void validate_done(rb_run_t *r);

static void on_check_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    rb_run_t *r = arg;
    ivlabel_t *l = rb__invoker_data(iv);
    json_object_set(r->checks, l->name, res);
    json_t *d = json_pack("{s:s,s:b,s:O}", "phase", r->which ? "validate" : "detect", "ok",
                          json_is_true(json_object_get(res, "ok")), "result", res);
    int rc = emit(r, "check_finished", l->name, rb__invoker_attempts(iv), d);
    json_decref(d);
    json_decref(res);
    if (--r->cpending > 0)
        return;
    if (rc < 0 || r->journal_broken) {
        journal_failed(r, RB_EJOURNAL);
        return;
    }
    if (r->cancelling) {
        end_run(r, "cancelled", "cancelled by the operator");
        return;
    }
    if (r->which == 0)
        confirm_and_grade(r);
    else
        validate_done(r);
}

static void run_checks(rb_run_t *r, int which)
{
    static const rb_invoker_hooks_t hooks = {on_iv_event, on_check_done};
    size_t n = rb_runbook_nchecks(r->rb, which);
    r->which = which;
    json_t *d = json_pack("{s:s,s:i}", "phase", which ? "validate" : "detect", "checks", (int)n);
    int rc = emit(r, "phase_started", NULL, 0, d);
    json_decref(d);
    if (rc < 0) {
        journal_failed(r, rc);
        return;
    }
    for (size_t i = 0; i < r->nciv; i++)
        free_invoker(r->civ[i]);
    free(r->civ);
    r->civ = calloc(n ? n : 1, sizeof(*r->civ));
    r->nciv = n;
    r->cpending = n;
    for (size_t i = 0; i < n; i++)
        r->civ[i] = new_invoker(r, rb_runbook_check(r->rb, which, i)->name, -1);
    /* checks read: no intent to make durable first */
    for (size_t i = 0; i < n; i++)
        rb__invoker_start(r->civ[i], &rb_runbook_check(r->rb, which, i)->inv, r->ctx, "check",
                          &hooks, r);
}

static void confirm_and_grade(rb_run_t *r)
{
    char e[256] = "";
    const rb_expr_t *cf = rb_runbook_confirm(r->rb);
    if (cf) {
        int t = rb_expr_test(cf, r->ctx, e, sizeof(e));
        json_t *d = json_pack("{s:b}", "confirmed", t > 0);
        if (t < 0)
            json_object_set_new(d, "error", json_string(e));
        int rc = emit(r, "confirm", NULL, 0, d);
        json_decref(d);
        if (rc < 0) {
            journal_failed(r, rc);
            return;
        }
        if (t < 0) {
            char msg[300];
            snprintf(msg, sizeof(msg), "confirm: %s", e);
            end_run(r, "failed", msg);
            return;
        }
        if (t == 0) {
            end_run(r, "not_confirmed", NULL);
            return;
        }
    }
    const char *level = NULL;
    for (size_t i = 0; i < rb_runbook_nseverity(r->rb) && !level; i++) {
        const rb_severity_rule_t *s = rb_runbook_severity(r->rb, i);
        if (!s->when || rb_expr_test(s->when, r->ctx, e, sizeof(e)) > 0)
            level = s->level;
    }
    if (level) {
        uint64_t respond = 0, resolve = 0;
        rb_runbook_level_targets(r->rb, level, &respond, &resolve);
        set_run_field(r, "severity", json_string(level));
        json_t *d = json_pack("{s:s,s:I,s:I}", "level", level, "respond_ms", (json_int_t)respond,
                              "resolve_ms", (json_int_t)resolve);
        int rc = emit(r, "severity_assigned", NULL, 0, d);
        json_decref(d);
        if (rc < 0) {
            journal_failed(r, rc);
            return;
        }
    }
    if (emit(r, "declared", NULL, 0, NULL) < 0) {
        journal_failed(r, RB_EJOURNAL);
        return;
    }
    notify(r, RB_EV_DECLARED, "declared");
    if (level)
        notify(r, RB_EV_SEVERITY, "severity");
    r->state = RS_STEPS;
    step_begin(r, 0);
}

static void validate_done(rb_run_t *r)
{
    char failed[256] = "";
    for (size_t i = 0; i < rb_runbook_nchecks(r->rb, 1); i++) {
        const char *nm = rb_runbook_check(r->rb, 1, i)->name;
        if (!json_is_true(json_object_get(json_object_get(r->checks, nm), "ok")))
            snprintf(failed + strlen(failed), sizeof(failed) - strlen(failed), "%s%s",
                     failed[0] ? ", " : "", nm);
    }
    if (failed[0]) {
        char msg[320];
        snprintf(msg, sizeof(msg), "post-recovery validation failed: %s", failed);
        end_run(r, "failed", msg);
    } else {
        end_run(r, "resolved", NULL);
    }
}

/* ---- steps ---- */

static const rb_step_t *cur(const rb_run_t *r) { return rb_runbook_step(r->rb, r->step); }

static void after_steps(rb_run_t *r)
{
    if (rb_runbook_nchecks(r->rb, 1) == 0) {
        end_run(r, "resolved", NULL);
        return;
    }
    r->state = RS_VALIDATE;
    run_checks(r, 1);
}

static void rollback_next(rb_run_t *r);

/* Records the step's outcome and moves on as on_failure says. Steals res. */
static void step_end(rb_run_t *r, json_t *res, int attempts)
{
    const rb_step_t *s = cur(r);
    int ok = json_is_true(json_object_get(res, "ok"));
    uint64_t dur = uv_now(r->loop) - r->step_t0;
    json_object_set_new(res, "attempt", json_integer(attempts));
    json_object_set_new(res, "duration", json_integer((json_int_t)dur));
    json_object_set(r->steps, s->name, res);
    json_t *d = json_pack("{s:b,s:O,s:i,s:I,s:O}", "ok", ok, "status", json_object_get(res, "status"),
                          "attempts", attempts, "duration_ms", (json_int_t)dur, "result", res);
    int rc = emit(r, "step_finished", s->name, attempts, d);
    json_decref(d);
    json_decref(res);
    if (rc < 0) {
        journal_failed(r, rc);
        return;
    }
    if (r->cancelling) {
        end_run(r, "cancelled", "cancelled by the operator");
        return;
    }
    if (ok) {
        if (s->undo) {
            size_t *n = realloc(r->undo_stack, (r->nundo + 1) * sizeof(*n));
            if (n) {
                r->undo_stack = n;
                r->undo_stack[r->nundo++] = r->step;
            }
        }
        step_begin(r, r->step + 1);
        return;
    }
    notify(r, RB_EV_STEP_FAILED, "step_failed");
    char msg[256];
    snprintf(msg, sizeof(msg), "step %s failed", s->name);
    switch (s->on_failure) {
    case RB_ONFAIL_CONTINUE:
        step_begin(r, r->step + 1);
        return;
    case RB_ONFAIL_GOTO:
        step_begin(r, s->goto_idx);
        return;
    case RB_ONFAIL_ROLLBACK:
        r->rolling_back = 1;
        r->rollback_pos = r->nundo;
        free(r->rollback_reason);
        r->rollback_reason = strdup(msg);
        d = json_pack("{s:s,s:i}", "failed_step", s->name, "undo_steps", (int)r->nundo);
        rc = emit(r, "rollback_started", NULL, 0, d);
        json_decref(d);
        if (rc < 0) {
            journal_failed(r, rc);
            return;
        }
        rollback_next(r);
        return;
    default:
        end_run(r, "failed", msg);
        return;
    }
}

static void on_main_done(rb_invoker_t *iv, json_t *res, void *arg);

static void start_main(rb_run_t *r);
static void start_foreach(rb_run_t *r);

/* Fails the current step without running its action. */
static void step_error(rb_run_t *r, const char *msg)
{
    step_end(r, json_pack("{s:b,s:s,s:s}", "ok", 0, "status", "error", "error", msg), 0);
}

static void proceed_after_approval(rb_run_t *r)
{
    const rb_step_t *s = cur(r);
    if (s->foreach)
        start_foreach(r);
    else
        start_main(r);
}

static void on_approval_timeout(uv_timer_t *t)
{
    rb_run_t *r = t->data;
    const rb_step_t *s = cur(r);
    if (!r->waiting_approval)
        return;
    r->waiting_approval = 0;
    set_status(r, "running");
    json_t *d = json_pack("{s:s}", "outcome", s->approval->on_timeout_continue ? "continue" : "fail");
    int rc = emit(r, "approval_timeout", s->name, 0, d);
    json_decref(d);
    if (rc < 0) {
        journal_failed(r, rc);
        return;
    }
    if (s->approval->on_timeout_continue) {
        json_t *res = json_pack("{s:n,s:s,s:s}", "ok", "status", "skipped", "reason",
                                "approval timed out");
        json_object_set(r->steps, s->name, res);
        emit(r, "step_skipped", s->name, 0, res);
        json_decref(res);
        step_begin(r, r->step + 1);
    } else {
        step_error(r, "approval timed out");
    }
}

int rb_run_approve(rb_run_t *r, const char *step, int approved, const char *who)
{
    if (!r->waiting_approval || r->state != RS_STEPS)
        return RB_ENOTFOUND;
    const rb_step_t *s = cur(r);
    if (step && strcmp(step, s->name))
        return RB_ENOTFOUND;
    r->waiting_approval = 0;
    uv_timer_stop(&r->approval_timer);
    set_status(r, "running");
    json_t *d = json_pack("{s:s}", "by", who ? who : "operator");
    int rc = emit(r, approved ? "approval_granted" : "approval_denied", s->name, 0, d);
    json_decref(d);
    if (rc < 0) {
        journal_failed(r, rc);
        return 0;
    }
    if (approved)
        proceed_after_approval(r);
    else
        step_error(r, "approval denied");
    return 0;
}

static void step_begin(rb_run_t *r, size_t i)
{
    if (r->state != RS_STEPS)
        return;
    if (i >= rb_runbook_nsteps(r->rb)) {
        after_steps(r);
        return;
    }
    r->step = i;
    const rb_step_t *s = cur(r);
    r->step_t0 = uv_now(r->loop);
    r->in_verify = 0;
    json_decref(r->main_result);
    r->main_result = NULL;
    char e[200] = "";
    if (s->when) {
        int t = rb_expr_test(s->when, r->ctx, e, sizeof(e));
        if (t <= 0) {
            json_t *res = json_pack("{s:n,s:s,s:s}", "ok", "status", "skipped", "reason",
                                    t < 0 ? e : "when is false");
            json_object_set(r->steps, s->name, res);
            int rc = emit(r, "step_skipped", s->name, 0, res);
            json_decref(res);
            if (rc < 0) {
                journal_failed(r, rc);
                return;
            }
            if (t < 0) {
                char msg[300];
                snprintf(msg, sizeof(msg), "step %s: when: %s", s->name, e);
                end_run(r, "failed", msg);
                return;
            }
            step_begin(r, i + 1);
            return;
        }
    }
    if (s->approval && (!s->approval->when || rb_expr_test(s->approval->when, r->ctx, e, sizeof(e)) > 0)) {
        r->waiting_approval = 1;
        set_status(r, "waiting_approval");
        json_t *d = json_pack("{s:I}", "timeout_ms", (json_int_t)s->approval->timeout_ms);
        int rc = emit(r, "approval_requested", s->name, 0, d);
        json_decref(d);
        if (rc == 0)
            rc = rb_journal_sync(r->j);
        if (rc < 0) {
            journal_failed(r, rc);
            return;
        }
        if (s->approval->timeout_ms)
            uv_timer_start(&r->approval_timer, on_approval_timeout, s->approval->timeout_ms, 0);
        return; /* rb_run_approve() or the timer moves on */
    }
    proceed_after_approval(r);
}

/* Journals the step's intent (durable first when it has side effects). */
static int step_intent(rb_run_t *r, const json_t *with, const json_t *items)
{
    const rb_step_t *s = cur(r);
    json_t *d = json_pack("{s:s,s:O,s:b}", "action", s->inv.action->name, "with",
                          with ? (json_t *)with : json_null(), "side_effects",
                          !!(s->inv.action->flags & RB_ACTION_SIDE_EFFECTS));
    if (items)
        json_object_set(d, "items", (json_t *)items);
    if (r->dry_run)
        json_object_set_new(d, "dry_run", json_true());
    int rc = emit(r, "step_started", s->name, 0, d);
    json_decref(d);
    if (rc == 0 && (s->inv.action->flags & RB_ACTION_SIDE_EFFECTS))
        rc = rb_journal_sync(r->j);
    if (rc < 0)
        journal_failed(r, rc);
    return rc;
}

static void start_main(rb_run_t *r)
{
    static const rb_invoker_hooks_t hooks = {on_iv_event, on_main_done};
    const rb_step_t *s = cur(r);
    char e[256] = "";
    /* Render once here for the intent record; the invoker renders the same. */
    json_t *with = rb_tvalue_render(s->inv.with, r->ctx, e, sizeof(e));
    if (!with) {
        char msg[300];
        snprintf(msg, sizeof(msg), "cannot render parameters: %s", e);
        if (emit(r, "step_started", s->name, 0, NULL) < 0) {
            journal_failed(r, RB_EJOURNAL);
            return;
        }
        step_error(r, msg);
        return;
    }
    int rc = step_intent(r, with, NULL);
    json_decref(with);
    if (rc < 0)
        return;
    if (!r->iv)
        r->iv = new_invoker(r, NULL, -1);
    ((ivlabel_t *)rb__invoker_data(r->iv))->name = s->name;
    rb__invoker_start(r->iv, &s->inv, r->ctx, "main", &hooks, r);
}

static void on_main_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    static const rb_invoker_hooks_t hooks = {on_iv_event, on_main_done};
    rb_run_t *r = arg;
    const rb_step_t *s = cur(r);
    int ok = json_is_true(json_object_get(res, "ok"));
    if (!r->in_verify) {
        if (ok && s->verify && !r->cancelling) {
            r->main_result = res;
            r->in_verify = 1;
            rb__invoker_start(r->iv, s->verify, r->ctx, "verify", &hooks, r);
            return;
        }
        step_end(r, res, rb__invoker_attempts(iv));
        return;
    }
    json_t *main = r->main_result;
    r->main_result = NULL;
    json_object_set_new(main, "verify", res);
    if (!ok) {
        json_object_set_new(main, "ok", json_false());
        json_object_set_new(main, "status", json_string("verify_failed"));
    }
    step_end(r, main, (int)json_integer_value(json_object_get(main, "attempt")));
}

/* ---- foreach ---- */

static void foreach_next(rb_run_t *r);

static void on_item_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    rb_run_t *r = arg;
    ivlabel_t *l = rb__invoker_data(iv);
    if (!json_is_true(json_object_get(res, "ok")))
        r->items_failed++;
    json_array_set_new(r->item_results, (size_t)l->item, res);
    r->items_running--;
    r->items_done++;
    foreach_next(r);
}

static void foreach_next(rb_run_t *r)
{
    static const rb_invoker_hooks_t hooks = {on_iv_event, on_item_done};
    const rb_step_t *s = cur(r);
    size_t n = json_array_size(r->items);
    while (!r->cancelling && r->next_item < n && r->items_running < s->max_parallel) {
        size_t k = r->next_item++;
        rb_invoker_t *iv = r->fiv[k] = new_invoker(r, s->name, (int)k);
        json_t *c = json_copy(r->ctx);
        json_object_set(c, "item", json_array_get(r->items, k));
        r->items_running++;
        rb__invoker_start(iv, &s->inv, c, "main", &hooks, r);
        json_decref(c);
    }
    if (r->items_running > 0 || (r->next_item < n && !r->cancelling))
        return;
    /* all items are in (or the run is being cancelled and the rest never started) */
    int ok = r->items_failed == 0 && r->items_done == n;
    json_t *res = json_pack("{s:b,s:s,s:O,s:i,s:i}", "ok", ok, "status", ok ? "ok" : "failed", "items",
                            r->item_results, "total", (int)n, "failed", r->items_failed);
    for (size_t i = 0; i < r->nfiv; i++)
        free_invoker(r->fiv[i]);
    free(r->fiv);
    r->fiv = NULL;
    r->nfiv = 0;
    json_decref(r->items);
    json_decref(r->item_results);
    r->items = r->item_results = NULL;
    if (ok && s->verify && !r->cancelling) {
        static const rb_invoker_hooks_t vhooks = {on_iv_event, on_main_done};
        r->main_result = res;
        r->in_verify = 1;
        json_object_set_new(res, "attempt", json_integer(1));
        if (!r->iv)
            r->iv = new_invoker(r, NULL, -1);
        ((ivlabel_t *)rb__invoker_data(r->iv))->name = s->name;
        rb__invoker_start(r->iv, s->verify, r->ctx, "verify", &vhooks, r);
        return;
    }
    step_end(r, res, 1);
}

static void start_foreach(rb_run_t *r)
{
    const rb_step_t *s = cur(r);
    char e[256] = "";
    json_t *items = rb_tvalue_render(s->foreach, r->ctx, e, sizeof(e));
    if (!items || !json_is_array(items)) {
        char msg[320];
        if (items)
            snprintf(msg, sizeof(msg), "foreach must give a list, got %s",
                     json_is_object(items) ? "a mapping" : json_is_string(items) ? "a string"
                                                          : json_is_null(items) ? "null" : "a scalar");
        else
            snprintf(msg, sizeof(msg), "foreach: %s", e);
        json_decref(items);
        if (emit(r, "step_started", s->name, 0, NULL) < 0) {
            journal_failed(r, RB_EJOURNAL);
            return;
        }
        step_error(r, msg);
        return;
    }
    if (step_intent(r, NULL, items) < 0) {
        json_decref(items);
        return;
    }
    r->items = items;
    size_t n = json_array_size(items);
    r->item_results = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(r->item_results, json_null());
    r->fiv = calloc(n ? n : 1, sizeof(*r->fiv));
    r->nfiv = n;
    r->next_item = r->items_running = r->items_done = 0;
    r->items_failed = 0;
    foreach_next(r);
}

/* ---- rollback ---- */

static void on_undo_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    rb_run_t *r = arg;
    ivlabel_t *l = rb__invoker_data(iv);
    json_t *d = json_pack("{s:b,s:O}", "ok", json_is_true(json_object_get(res, "ok")), "result", res);
    int rc = emit(r, "undo_finished", l->name, rb__invoker_attempts(iv), d);
    json_decref(d);
    json_decref(res);
    if (rc < 0) {
        journal_failed(r, rc);
        return;
    }
    rollback_next(r);
}

static void rollback_next(rb_run_t *r)
{
    static const rb_invoker_hooks_t hooks = {on_iv_event, on_undo_done};
    if (r->rollback_pos == 0 || r->cancelling) {
        char msg[320];
        snprintf(msg, sizeof(msg), "%s; rolled back %zu step%s", r->rollback_reason,
                 r->nundo - r->rollback_pos, r->nundo - r->rollback_pos == 1 ? "" : "s");
        end_run(r, "failed", msg);
        return;
    }
    const rb_step_t *s = rb_runbook_step(r->rb, r->undo_stack[--r->rollback_pos]);
    /* the undo sees the step's own result as steps.<name> */
    char e[256] = "";
    json_t *with = rb_tvalue_render(s->undo->with, r->ctx, e, sizeof(e));
    json_t *d = json_pack("{s:s,s:O}", "action", s->undo->action->name, "with", with ? with : json_null());
    int rc = emit(r, "undo_started", s->name, 0, d);
    json_decref(d);
    json_decref(with);
    if (rc == 0 && (s->undo->action->flags & RB_ACTION_SIDE_EFFECTS))
        rc = rb_journal_sync(r->j);
    if (rc < 0) {
        journal_failed(r, rc);
        return;
    }
    if (!r->iv)
        r->iv = new_invoker(r, NULL, -1);
    ((ivlabel_t *)rb__invoker_data(r->iv))->name = s->name;
    rb__invoker_start(r->iv, s->undo, r->ctx, "undo", &hooks, r);
}

/* ---- sub-runbooks (the `runbook` action) ---- */

static void on_child_done(rb_run_t *child, void *arg)
{
    rb_run_t *r = child->parent;
    for (size_t i = 0; i < r->nchildren; i++) {
        struct child *c = &r->children[i];
        if (c->run != child || !c->ctx)
            continue;
        const char *st = rb_run_status(child);
        /* the child's own journal holds its results; the step keeps a summary */
        json_t *summary = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(rb_run_context(child), "steps"), k, v)
            json_object_set(summary, k, json_object_get(v, "status"));
        json_t *res = json_pack("{s:b,s:s,s:I,s:s,s:o}", "ok", !strcmp(st, "resolved"), "status",
                                !strcmp(st, "resolved") ? "ok" : "failed", "run_id",
                                (json_int_t)rb_run_id(child), "run_status", st, "steps", summary);
        if (rb_run_error(child))
            json_object_set_new(res, "error", json_string(rb_run_error(child)));
        rb_action_ctx_t *ctx = c->ctx;
        c->ctx = NULL;
        rb_action_done(ctx, res);
        return;
    }
}

static int subrun_start(void *arg, rb_action_ctx_t *ctx, const char *name, const json_t *params,
                        char *err, size_t errlen)
{
    rb_run_t *r = arg;
    if (r->depth + 1 > RB_MAX_SUBRUN_DEPTH) {
        snprintf(err, errlen, "sub-runbooks nest deeper than %d (a runbook that runs itself?)",
                 RB_MAX_SUBRUN_DEPTH);
        return RB_EINVAL;
    }
    char *path = rb__runbook_find(rb_runbook_dir(r->rb), name);
    if (!path) {
        snprintf(err, errlen, "no runbook named \"%s\" in %s", name, rb_runbook_dir(r->rb));
        return RB_ENOTFOUND;
    }
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    int rc = rb_runbook_load(path, d, &rb);
    rb_diags_free(d);
    if (rc < 0) {
        snprintf(err, errlen, "%s does not load (run `runbook validate %s`)", path, path);
        free(path);
        return rc;
    }
    free(path);
    struct child *n = realloc(r->children, (r->nchildren + 1) * sizeof(*n));
    if (!n) {
        rb_runbook_free(rb);
        return RB_ENOMEM;
    }
    r->children = n;
    char trigger[64];
    snprintf(trigger, sizeof(trigger), "runbook:%lld", (long long)r->id);
    const char *step = cur(r)->name;
    rb_run_opts_t o = {.params = params, .alert = json_object_get(r->ctx, "alert"), .trigger = trigger,
                       .dry_run = r->dry_run, .parent_run = r->id, .parent_step = step,
                       .depth = r->depth + 1};
    rb_run_t *child = NULL;
    rc = rb_run_new(r->loop, rb, r->j, &o, &child, err, errlen);
    if (rc < 0) {
        rb_runbook_free(rb);
        return rc;
    }
    r->children[r->nchildren++] = (struct child){child, rb, ctx};
    child->parent = r;
    return rb_run_start(child, r->ev, on_child_done, r->arg);
}

static void subrun_cancel(void *arg, rb_action_ctx_t *ctx)
{
    rb_run_t *r = arg;
    for (size_t i = 0; i < r->nchildren; i++)
        if (r->children[i].ctx == ctx)
            rb_run_cancel(r->children[i].run);
}

/* ---- start, cancel, free ---- */

int rb_run_start(rb_run_t *r, rb_run_event_cb ev, rb_run_done_cb done, void *arg)
{
    r->ev = ev;
    r->done = done;
    r->arg = arg;
    r->subrun = (rb_subrun_host_t){subrun_start, subrun_cancel, r};
    r->t0_ms = uv_now(r->loop);
    set_status(r, "running");
    set_run_field(r, "started_at", json_integer((json_int_t)time(NULL)));
    json_t *d = json_pack("{s:s,s:O,s:O,s:b}", "runbook", rb_runbook_name(r->rb), "params",
                          json_object_get(r->ctx, "params"), "sha256",
                          json_object_get(json_object_get(r->ctx, "run"), "sha256"), "dry_run",
                          r->dry_run);
    if (json_object_size(json_object_get(r->ctx, "alert")))
        json_object_set(d, "alert", json_object_get(r->ctx, "alert"));
    if (r->parent_run) {
        json_object_set_new(d, "parent_run", json_integer(r->parent_run));
        json_object_set_new(d, "parent_step", json_string(r->parent_step ? r->parent_step : ""));
    }
    int rc = emit(r, "run_started", NULL, 0, d);
    json_decref(d);
    if (rc == 0)
        rc = rb_journal_run_status(r->j, r->id, "running", 0);
    if (rc < 0) {
        journal_failed(r, rc);
        return 0;
    }
    r->nesc = rb_runbook_nescalate(r->rb);
    if (r->nesc) {
        r->esc_timers = calloc(r->nesc, sizeof(uv_timer_t));
        for (size_t i = 0; i < r->nesc; i++) {
            uv_timer_init(r->loop, &r->esc_timers[i]);
            r->esc_timers[i].data = r;
            r->open_handles++;
            uv_timer_start(&r->esc_timers[i], on_escalation, rb_runbook_escalation(r->rb, i)->after_ms, 0);
        }
    }
    if (rb_runbook_nchecks(r->rb, 0)) {
        r->state = RS_DETECT;
        run_checks(r, 0);
    } else {
        confirm_and_grade(r);
    }
    return 0;
}

void rb_run_cancel(rb_run_t *r)
{
    if (r->state == RS_ENDING || r->state == RS_DONE || r->state == RS_PENDING || r->cancelling)
        return;
    r->cancelling = 1;
    emit(r, "cancel_requested", NULL, 0, NULL);
    if (r->waiting_approval) {
        r->waiting_approval = 0;
        end_run(r, "cancelled", "cancelled by the operator");
        return;
    }
    int busy = 0;
    for (size_t i = 0; i < r->nciv; i++)
        if (r->civ[i] && rb__invoker_busy(r->civ[i])) {
            busy = 1;
            rb__invoker_cancel(r->civ[i]);
        }
    for (size_t i = 0; i < r->nfiv; i++)
        if (r->fiv[i] && rb__invoker_busy(r->fiv[i])) {
            busy = 1;
            rb__invoker_cancel(r->fiv[i]);
        }
    if (r->iv && rb__invoker_busy(r->iv)) {
        busy = 1;
        rb__invoker_cancel(r->iv);
    }
    if (!busy)
        end_run(r, "cancelled", "cancelled by the operator");
}

int64_t rb_run_id(const rb_run_t *r) { return r->id; }
const char *rb_run_status(const rb_run_t *r) { return r->status; }
const char *rb_run_error(const rb_run_t *r) { return r->error; }
const json_t *rb_run_context(const rb_run_t *r) { return r->ctx; }
uint64_t rb_run_duration_ms(const rb_run_t *r) { return r->end_ms - r->t0_ms; }
const char *rb_run_waiting_step(const rb_run_t *r)
{
    return r->waiting_approval ? cur(r)->name : NULL;
}

void rb_run_free(rb_run_t *r)
{
    if (!r)
        return;
    json_decref(r->ctx);
    json_decref(r->main_result);
    json_decref(r->items);
    json_decref(r->item_results);
    free(r->error);
    free(r->final_error);
    free(r->rollback_reason);
    free(r->undo_stack);
    free(r->parent_step);
    for (size_t i = 0; i < r->nchildren; i++) {
        rb_run_free(r->children[i].run);
        rb_runbook_free(r->children[i].rb);
    }
    free(r->children);
    free_invoker(r->iv);
    for (size_t i = 0; i < r->nciv; i++)
        free_invoker(r->civ[i]);
    free(r->civ);
    for (size_t i = 0; i < r->nfiv; i++)
        free_invoker(r->fiv[i]);
    free(r->fiv);
    for (size_t i = 0; i < r->nniv; i++)
        free_invoker(r->niv[i]);
    free(r->niv);
    for (size_t i = 0; i < r->nesc; i++)
        uv_close((uv_handle_t *)&r->esc_timers[i], on_close);
    uv_close((uv_handle_t *)&r->approval_timer, on_close);
}
