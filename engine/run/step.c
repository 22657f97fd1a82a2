/*
 * step.c — the steps of a run, in order (see run_int.h): `when`, approval,
 * the intent record (durable first for actions with side effects),
 * attempts through an invoker, verify (foreach fan-out: foreach.c),
 * on_failure (abort, continue, goto, rollback through the undo of every
 * completed step, newest first) and sub-runbooks (the `runbook` action).
 *
 * Owns: the step in flight and the state of its foreach, rollback and
 * child runs. Journals through run.c and never ends a run by itself except
 * through rb__run_end().
 */
#include "run_int.h"

#include "load/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- steps ---- */

const rb_step_t *rb__step_current(const rb_run_t *r) { return rb_runbook_step(r->rb, r->step); }

static void rollback_next(rb_run_t *r);

static void undo_push(rb_run_t *r, size_t step, int item)
{
    size_t *n = realloc(r->undo_stack, (r->nundo + 1) * sizeof(*n));
    if (n)
        r->undo_stack = n;
    int *m = n ? realloc(r->undo_items, (r->nundo + 1) * sizeof(*m)) : NULL;
    if (!m)
        return;
    r->undo_items = m;
    r->undo_stack[r->nundo] = step;
    r->undo_items[r->nundo++] = item;
}

/* Puts what step i completed on the undo stack: the step when it ended ok;
 * for a foreach step, each item that ended ok, in item order (so a
 * rollback undoes them newest first, each with its `item`), also when
 * another item failed. Reads the step's result from steps.<name>. */
void rb__undo_remember(rb_run_t *r, size_t i)
{
    const rb_step_t *s = rb_runbook_step(r->rb, i);
    const json_t *res = json_object_get(r->steps, s->name);
    if (!s->undo)
        return;
    if (!s->foreach) {
        if (json_is_true(json_object_get(res, "ok")))
            undo_push(r, i, -1);
        return;
    }
    size_t k;
    json_t *it;
    json_array_foreach(json_object_get(res, "items"), k, it)
        if (json_is_true(json_object_get(it, "ok")))
            undo_push(r, i, (int)k);
}

/* Records the step's outcome and moves on as on_failure says. Steals res. */
static void step_end(rb_run_t *r, json_t *res, int attempts)
{
    const rb_step_t *s = rb__step_current(r);
    const char *st = rb__result_outcome(res);
    /* R-on-failure: anything but ok (or a drill's stand-in taken as ok) has failed */
    int ok = json_is_true(json_object_get(res, "ok")) && (!strcmp(st, "ok") || !strcmp(st, "simulated"));
    json_object_set_new(res, "ok", json_boolean(ok));
    uint64_t dur = uv_now(r->loop) - r->step_t0;
    if (r->replay && r->replay->duration) /* a replay: the recorded duration */
        dur = r->replay->duration(r->replay->arg, s->name, dur);
    json_object_set_new(res, "attempt", json_integer(attempts));
    json_object_set_new(res, "duration", json_integer((json_int_t)dur));
    json_object_set(r->steps, s->name, res);
    json_t *d = json_pack("{s:b,s:s,s:i,s:I,s:O}", "ok", ok, "status", rb__result_outcome(res),
                          "attempts", attempts, "duration_ms", (json_int_t)dur, "result", res);
    int rc = rb__run_emit(r, "step_finished", s->name, attempts, d);
    json_decref(d);
    json_decref(res);
    if (rc < 0) {
        rb__run_journal_failed(r, rc);
        return;
    }
    if (r->cancelling) {
        rb__run_end(r, "cancelled", r->cancel_why);
        return;
    }
    rb__undo_remember(r, r->step);
    if (ok) {
        rb__step_begin(r, r->step + 1);
        return;
    }
    rb__run_notify(r, RB_EV_STEP_FAILED, "step_failed");
    char msg[256];
    snprintf(msg, sizeof(msg), "step %s failed", s->name);
    switch (s->on_failure) {
    case RB_ONFAIL_CONTINUE:
        rb__step_begin(r, r->step + 1);
        return;
    case RB_ONFAIL_GOTO:
        rb__step_begin(r, s->goto_idx);
        return;
    case RB_ONFAIL_ROLLBACK:
        r->rolling_back = 1;
        r->rollback_pos = r->nundo;
        free(r->rollback_reason);
        r->rollback_reason = strdup(msg);
        d = json_pack("{s:s,s:i}", "failed_step", s->name, "undo_steps", (int)r->nundo);
        rc = rb__run_emit(r, "rollback_started", NULL, 0, d);
        json_decref(d);
        if (rc < 0) {
            rb__run_journal_failed(r, rc);
            return;
        }
        rollback_next(r);
        return;
    default:
        rb__run_end(r, "failed", msg);
        return;
    }
}

static void on_main_done(rb_invoker_t *iv, json_t *res, void *arg);

static void start_main(rb_run_t *r);

/* Ends the current step without running its action: its outcome is word
 * ("error", "denied"), msg says why, and its on_failure applies. */
static void step_fail(rb_run_t *r, const char *word, const char *msg)
{
    step_end(r, rb__result_new(rb__step_current(r)->inv.action, word, msg), 0);
}

static void proceed_after_approval(rb_run_t *r)
{
    const rb_step_t *s = rb__step_current(r);
    if (s->foreach)
        rb__foreach_start(r);
    else
        start_main(r);
}

/* run.approvals gets {step, answer, by}: what notifications and later
 * expressions can say about who approved what (this process's answers;
 * the journal keeps every one). */
static void note_approval(rb_run_t *r, const char *step, const char *answer, const char *by)
{
    json_t *run = json_object_get(r->ctx, "run");
    json_t *list = json_object_get(run, "approvals");
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(run, "approvals", list);
    }
    json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "step", step, "answer", answer, "by", by));
}

int rb_run_approval_expire(rb_run_t *r)
{
    if (!r->waiting_approval || r->state != RS_STEPS)
        return RB_ENOTFOUND;
    const rb_step_t *s = rb__step_current(r);
    uv_timer_stop(&r->approval_timer);
    if (rb__run_set_waiting(r, 0) < 0)
        return 0;
    json_t *d = json_pack("{s:s,s:s}", "outcome", s->approval->on_timeout_continue ? "continue" : "fail",
                          "by", "timeout");
    int rc = rb__run_emit(r, "approval_timeout", s->name, 0, d);
    json_decref(d);
    if (rc < 0) {
        rb__run_journal_failed(r, rc);
        return 0;
    }
    note_approval(r, s->name, s->approval->on_timeout_continue ? "granted" : "denied", "timeout");
    if (s->approval->on_timeout_continue)
        proceed_after_approval(r); /* nobody objected in time: run it as declared */
    else
        step_fail(r, "denied", "approval timed out");
    return 0;
}

static void on_approval_timeout(uv_timer_t *t)
{
    rb_run_approval_expire(t->data);
}

/* How long the approval of step s waits: its timeout, less the time since
 * it was first asked when a resumed run asks it again (0: it times out at
 * once, its on_timeout applied). */
static uint64_t approval_left(rb_run_t *r, const rb_step_t *s)
{
    uint64_t t = s->approval->timeout_ms;
    if (!r->asked_step || strcmp(r->asked_step, s->name) || r->asked_wall_ms <= 0)
        return t;
    int64_t now = rb__run_wall_ms();
    uint64_t gone = now > r->asked_wall_ms ? (uint64_t)(now - r->asked_wall_ms) : 0;
    free(r->asked_step); /* once: a later request of the step waits its whole timeout */
    r->asked_step = NULL;
    return gone < t ? t - gone : 0;
}

void rb__run_park(rb_run_t *r)
{
    if (r->parked)
        return;
    uv_timer_stop(&r->approval_timer); /* asked again when the run resumes */
    if (r->npending) { /* parked once its notifications are out (run.c) */
        r->park_wanted = 1;
        return;
    }
    r->parked = 1;
    if (r->parked_cb)
        r->parked_cb(r, r->parked_arg);
}

void rb_run_hold(rb_run_t *r, void (*parked)(rb_run_t *r, void *arg), void *arg)
{
    r->hold = 1;
    r->parked_cb = parked;
    r->parked_arg = arg;
    if (r->waiting_approval)
        rb__run_park(r);
}

int rb_run_parked(const rb_run_t *r)
{
    return r->parked;
}

int rb_run_approve(rb_run_t *r, const char *step, int approved, const char *who)
{
    return rb_run_answer(r, step, approved, who, NULL);
}

int rb_run_answer(rb_run_t *r, const char *step, int approved, const char *who,
                  const char *comment)
{
    if (!r->waiting_approval || r->state != RS_STEPS)
        return RB_ENOTFOUND;
    const rb_step_t *s = rb__step_current(r);
    if (step && strcmp(step, s->name))
        return RB_ENOTFOUND;
    uv_timer_stop(&r->approval_timer);
    if (rb__run_set_waiting(r, 0) < 0)
        return 0;
    json_t *d = json_pack("{s:s,s:s*}", "by", who ? who : "operator", "comment",
                          comment && *comment ? comment : NULL);
    int rc = rb__run_emit(r, approved ? "approval_granted" : "approval_denied", s->name, 0, d);
    json_decref(d);
    if (rc < 0) {
        rb__run_journal_failed(r, rc);
        return 0;
    }
    note_approval(r, s->name, approved ? "granted" : "denied", who ? who : "operator");
    if (approved) {
        proceed_after_approval(r);
    } else {
        char why[200];
        snprintf(why, sizeof(why), "approval denied by %s", who ? who : "operator");
        step_fail(r, "denied", why);
    }
    return 0;
}

void rb__step_cancel_approval(rb_run_t *r)
{
    uv_timer_stop(&r->approval_timer);
    if (rb__run_set_waiting(r, 0) < 0)
        return;
    char why[300];
    snprintf(why, sizeof(why), "cancelled while waiting for approval: %s", r->cancel_why);
    step_fail(r, "cancelled", why); /* the run is cancelling: it ends cancelled */
}

void rb__step_begin(rb_run_t *r, size_t i)
{
    if (r->state != RS_STEPS)
        return;
    if (r->hold && i < rb_runbook_nsteps(r->rb)) {
        rb__run_park(r); /* a shutdown: the steps so far are on record, no new one starts */
        return;
    }
    if (i >= rb_runbook_nsteps(r->rb)) {
        rb__run_steps_done(r);
        return;
    }
    r->step = i;
    const rb_step_t *s = rb__step_current(r);
    r->step_t0 = uv_now(r->loop);
    r->in_verify = 0;
    json_decref(r->main_result);
    r->main_result = NULL;
    char e[200] = "";
    if (s->when) {
        int t = rb_expr_test(s->when, r->ctx, e, sizeof(e));
        if (t < 0) {
            /* R-when-error: an error of the step, and its on_failure decides */
            char msg[300];
            snprintf(msg, sizeof(msg), "when: %s", e);
            step_fail(r, "error", msg);
            return;
        }
        if (t == 0) {
            /* steps.X has the action's result shape (an http step's status
             * is 0, its outcome "skipped"); the event says the word */
            json_t *res = rb__result_new(s->inv.action, "skipped", NULL);
            json_object_set_new(res, "reason", json_string("when is false"));
            json_object_set_new(r->steps, s->name, res);
            json_t *d = json_pack("{s:b,s:s,s:s}", "ok", 0, "status", "skipped", "reason",
                                  "when is false");
            int rc = rb__run_emit(r, "step_skipped", s->name, 0, d);
            json_decref(d);
            if (rc < 0) {
                rb__run_journal_failed(r, rc);
                return;
            }
            rb__step_begin(r, i + 1);
            return;
        }
    }
    int ask = s->approval != NULL;
    if (ask && s->approval->when) {
        ask = rb_expr_test(s->approval->when, r->ctx, e, sizeof(e));
        if (ask < 0) {
            /* R-approval-when-error: never a silent "no approval needed";
             * an error of the step, and its on_failure decides */
            char msg[300];
            snprintf(msg, sizeof(msg), "approval.when: %s", e);
            if (rb__run_expr_error(r, s->name, "approval", -1, "when", e) == 0)
                step_fail(r, "error", msg);
            return;
        }
    }
    if (ask) {
        if (r->dry_run) { /* a drill asks nobody: it would ask, and takes the answer as yes */
            json_t *d = json_pack("{s:s,s:b,s:I}", "by", "drill", "would_ask", 1, "timeout_ms",
                                  (json_int_t)s->approval->timeout_ms);
            int rc = rb__run_emit(r, "approval_granted", s->name, 0, d);
            json_decref(d);
            if (rc < 0) {
                rb__run_journal_failed(r, rc);
            } else {
                note_approval(r, s->name, "granted", "drill");
                proceed_after_approval(r);
            }
            return;
        }
        if (rb__run_set_waiting(r, 1) < 0)
            return;
        json_t *d = json_pack("{s:I}", "timeout_ms", (json_int_t)s->approval->timeout_ms);
        int rc = rb__run_emit(r, "approval_requested", s->name, 0, d);
        json_decref(d);
        if (rc < 0) {
            rb__run_journal_failed(r, rc);
            return;
        }
        rb__run_durable(r, NULL); /* the request is on record before anyone answers */
        /* R-notify-approval: say who should answer, and where */
        rb__run_set_field(r, "approval_step", json_string(s->name));
        rb__run_notify(r, RB_EV_APPROVAL_REQUESTED, "approval_requested");
        if (s->approval->timeout_ms && !r->replay) /* a replay: rb_run_approval_expire */
            uv_timer_start(&r->approval_timer, on_approval_timeout, approval_left(r, s), 0);
        return; /* rb_run_approve() or the timer moves on */
    }
    proceed_after_approval(r);
}

/* Journals the step's intent (durable first when it has side effects). */
static int step_intent(rb_run_t *r, const json_t *with, const json_t *items)
{
    const rb_step_t *s = rb__step_current(r);
    json_t *d = json_pack("{s:s,s:O,s:b}", "action", s->inv.action->name, "with",
                          with ? (json_t *)with : json_null(), "side_effects",
                          !!(s->inv.action->flags & RB_ACTION_SIDE_EFFECTS));
    if (items)
        json_object_set(d, "items", (json_t *)items);
    if (r->dry_run)
        json_object_set_new(d, "simulated", json_boolean((s->inv.action->flags & RB_ACTION_SIDE_EFFECTS) &&
                                                         !s->inv.read_only));
    int rc = rb__run_emit(r, "step_started", s->name, 0, d);
    json_decref(d);
    if (rc < 0)
        rb__run_journal_failed(r, rc);
    return rc;
}

/* Goes on with k once the intent is on record: durably first when the
 * action has side effects (the crash guarantee), at once otherwise. */
static void after_intent(rb_run_t *r, rb__run_cont_fn k)
{
    if (rb__step_current(r)->inv.action->flags & RB_ACTION_SIDE_EFFECTS)
        rb__run_durable(r, k);
    else
        k(r);
}

static void start_main_go(rb_run_t *r)
{
    static const rb_invoker_hooks_t hooks = {rb__run_on_iv_event, on_main_done};
    const rb_step_t *s = rb__step_current(r);
    if (r->cancelling) {
        rb__run_end(r, "cancelled", r->cancel_why);
        return;
    }
    if (!r->iv)
        r->iv = rb__run_new_invoker(r, NULL, -1);
    ((ivlabel_t *)rb__invoker_data(r->iv))->name = s->name;
    rb__run_invoker_set_assume(r, r->iv, s);
    json_t *with = r->intent_with; /* what the intent record says runs */
    r->intent_with = NULL;
    rb__invoker_start(r->iv, &s->inv, r->ctx, with, "main", &hooks, r);
}

static void start_main(rb_run_t *r)
{
    const rb_step_t *s = rb__step_current(r);
    char e[256] = "";
    /* Rendered once: the intent record and the action get the same values. */
    json_t *with = rb_tvalue_render(s->inv.with, r->ctx, e, sizeof(e));
    if (!with) {
        char msg[300];
        snprintf(msg, sizeof(msg), "cannot render parameters: %s", e);
        /* R-render-error: reached, nothing started */
        rb__step_unstartable(r, msg);
        return;
    }
    int rc = step_intent(r, with, NULL);
    json_decref(r->intent_with);
    r->intent_with = with;
    if (rc == 0)
        after_intent(r, start_main_go);
}

static void on_verify_done(rb_invoker_t *iv, json_t *res, void *arg);

/* Runs the step's verify after an attempt that succeeded (R-verify). It sees
 * the attempt's result as `result` and the step so far as steps.<name>
 * (R-verify-context). main: the attempt's result (stolen); again: the
 * invoker whose next attempt a failed verify starts, or NULL. */
static void start_verify(rb_run_t *r, json_t *main, rb_invoker_t *again)
{
    static const rb_invoker_hooks_t hooks = {rb__run_on_iv_event, on_verify_done};
    const rb_step_t *s = rb__step_current(r);
    json_decref(r->main_result);
    r->main_result = main;
    r->verify_again = again;
    r->in_verify = 1;
    json_t *so_far = json_deep_copy(main);
    json_object_set_new(so_far, "duration", json_integer((json_int_t)(uv_now(r->loop) - r->step_t0)));
    json_object_set_new(r->steps, s->name, so_far);
    if (!r->viv)
        r->viv = rb__run_new_invoker(r, NULL, -1);
    ((ivlabel_t *)rb__invoker_data(r->viv))->name = s->name;
    json_t *c = json_copy(r->ctx);
    json_object_set(c, "result", main);
    rb__invoker_start(r->viv, s->verify, c, NULL, "verify", &hooks, r);
    json_decref(c);
}

static void on_main_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    rb_run_t *r = arg;
    const rb_step_t *s = rb__step_current(r);
    if (json_is_true(json_object_get(res, "ok")) && s->verify && !r->cancelling &&
        strcmp(rb__result_outcome(res), "simulated")) { /* a drill's stand-in: nothing to verify */
        start_verify(r, res, iv);
        return;
    }
    step_end(r, res, rb__invoker_attempts(iv));
}

static void on_verify_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    (void)iv;
    rb_run_t *r = arg;
    json_t *main = r->main_result;
    r->main_result = NULL;
    r->in_verify = 0;
    int attempts = (int)json_integer_value(json_object_get(main, "attempt"));
    const char *vst = rb__result_outcome(res);
    int ok = json_is_true(json_object_get(res, "ok"));
    json_object_set_new(main, "verify", res);
    if (ok) {
        step_end(r, main, attempts);
        return;
    }
    /* A verify that fails fails the attempt: the step's retry starts the
     * main action again (its outcome word stays when it could not even
     * judge: error, timeout, cancelled). */
    char msg[300];
    const char *why = json_string_value(json_object_get(res, "error"));
    snprintf(msg, sizeof(msg), "verify %s%s%s", !strcmp(vst, "ok") ? "failed" : vst, why ? ": " : "",
             why ? why : "");
    json_object_set_new(main, "ok", json_false());
    rb__result_set_outcome(main, !strcmp(vst, "error") || !strcmp(vst, "timeout") ||
                                         !strcmp(vst, "cancelled") ? vst : "failed");
    json_object_set_new(main, "error", json_string(msg));
    rb_invoker_t *again = r->verify_again;
    r->verify_again = NULL;
    int rc = again && !r->cancelling ? rb__invoker_again(again, "verify failed") : 0;
    if (rc < 0) {
        json_decref(main);
        rb__run_journal_failed(r, rc);
        return;
    }
    if (rc > 0) {
        json_decref(main); /* on_main_done comes again with the next attempt */
        return;
    }
    step_end(r, main, attempts);
}

/* What foreach.c needs of a step (run_int.h). */
void rb__step_end(rb_run_t *r, json_t *res, int attempts) { step_end(r, res, attempts); }
void rb__step_error(rb_run_t *r, const char *msg) { step_fail(r, "error", msg); }

/* A step that was reached but whose action cannot start (its parameters or
 * its items do not render): step_started says which action and why, with
 * no parameters, and the step ends `error` with msg. */
void rb__step_unstartable(rb_run_t *r, const char *msg)
{
    const rb_step_t *s = rb__step_current(r);
    json_t *d = json_pack("{s:s,s:n,s:s}", "action", s->inv.action->name, "with", "error", msg);
    int rc = rb__run_emit(r, "step_started", s->name, 0, d);
    json_decref(d);
    if (rc < 0) {
        rb__run_journal_failed(r, rc);
        return;
    }
    step_fail(r, "error", msg);
}
int rb__step_intent(rb_run_t *r, const json_t *with, const json_t *items) { return step_intent(r, with, items); }
void rb__step_after_intent(rb_run_t *r, rb__run_cont_fn k) { after_intent(r, k); }

/* ---- drills ---- */

/* In a drill, a step whose action has side effects is simulated with the
 * outcome --assume gives it: `--assume STEP=ok|failed`, else `--assume
 * ok|failed` (key "*"), else ok (R-drill-assume). s NULL (an undo, a
 * notification): ok. */
void rb__run_invoker_set_assume(rb_run_t *r, rb_invoker_t *iv, const rb_step_t *s)
{
    const char *a = NULL;
    if (r->dry_run && s) {
        a = json_string_value(json_object_get(r->assume, s->name));
        if (!a)
            a = json_string_value(json_object_get(r->assume, "*"));
    }
    rb__invoker_set_dry_run(iv, !r->dry_run ? 0 : a && !strcmp(a, "failed") ? RB__SIMULATE_FAILED : RB__SIMULATE_OK);
}

/* ---- rollback ---- */

static void on_undo_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    rb_run_t *r = arg;
    ivlabel_t *l = rb__invoker_data(iv);
    int ok = json_is_true(json_object_get(res, "ok"));
    int cancelled = !ok && !strcmp(rb__result_outcome(res), "cancelled");
    r->undos_run++;
    r->undos_failed += !ok && !cancelled;
    r->undos_cancelled += cancelled;
    json_t *d = json_pack("{s:b,s:s,s:O}", "ok", ok, "status", rb__result_outcome(res), "result", res);
    if (l->item >= 0)
        json_object_set_new(d, "item", json_integer(l->item));
    int rc = rb__run_emit(r, "undo_finished", l->name, rb__invoker_attempts(iv), d);
    json_decref(d);
    json_decref(res);
    if (rc < 0) {
        rb__run_journal_failed(r, rc);
        return;
    }
    rollback_next(r);
}

/* An undo sees the step's own result as steps.<name> and as `result`
 * (R-verify-context). A new reference. */
static json_t *undo_ctx(rb_run_t *r, const rb_step_t *s)
{
    json_t *c = json_copy(r->ctx);
    json_object_set(c, "result", json_object_get(r->steps, s->name));
    return c;
}

static void undo_go(rb_run_t *r)
{
    static const rb_invoker_hooks_t hooks = {rb__run_on_iv_event, on_undo_done};
    const rb_step_t *s = rb_runbook_step(r->rb, r->undo_step);
    if (!r->iv)
        r->iv = rb__run_new_invoker(r, NULL, -1);
    ivlabel_t *l = rb__invoker_data(r->iv);
    l->name = s->name;
    l->item = r->undo_item; /* a foreach item's undo: its events name the item */
    rb__run_invoker_set_assume(r, r->iv, NULL);
    json_t *with = r->intent_with;
    r->intent_with = NULL;
    rb__invoker_start(r->iv, s->undo, r->undo_ctx, with, "undo", &hooks, r);
}

/* A cancel stopped the rollback (R-rollback-cancel): the undos not
 * started are named, and the run ends cancelled. */
static void rollback_cancelled(rb_run_t *r)
{
    json_t *not_run = json_array();
    char names[300] = "";
    size_t used = 0;
    for (size_t k = r->rollback_pos; k-- > 0;) {
        const rb_step_t *s = rb_runbook_step(r->rb, r->undo_stack[k]);
        int item = r->undo_items ? r->undo_items[k] : -1;
        json_array_append_new(not_run, item >= 0 ? json_pack("{s:s,s:i}", "step", s->name, "item", item)
                                                 : json_pack("{s:s}", "step", s->name));
        if (used < sizeof names) {
            int n = item >= 0 ? snprintf(names + used, sizeof names - used, "%s%s (item %d)",
                                         used ? ", " : "", s->name, item)
                              : snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", s->name);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    char msg[800];
    snprintf(msg, sizeof(msg), "%s; the rollback was cancelled (%s): %zu undo%s ran, %zu failed, %zu cancelled; "
             "not run: %s", r->rollback_reason, r->cancel_why ? r->cancel_why : "cancelled", r->undos_run,
             r->undos_run == 1 ? "" : "s", r->undos_failed, r->undos_cancelled, *names ? names : "none");
    json_t *d = json_pack("{s:I,s:I,s:I,s:b,s:o}", "undos", (json_int_t)r->undos_run, "failed",
                          (json_int_t)r->undos_failed, "undos_cancelled", (json_int_t)r->undos_cancelled,
                          "cancelled", 1, "not_run", not_run);
    int rc = rb__run_emit(r, "rollback_finished", NULL, 0, d);
    json_decref(d);
    if (rc < 0) {
        rb__run_journal_failed(r, rc);
        return;
    }
    rb__run_end(r, "cancelled", msg);
}

static void rollback_next(rb_run_t *r)
{
    if (r->cancelling) {
        rollback_cancelled(r);
        return;
    }
    if (r->rollback_pos == 0) {
        /* R-rollback-count: how many undos ran, and how many of them failed */
        char msg[400];
        snprintf(msg, sizeof(msg), "%s; rolled back %zu step%s, %zu undo%s failed", r->rollback_reason,
                 r->undos_run, r->undos_run == 1 ? "" : "s", r->undos_failed,
                 r->undos_failed == 1 ? "" : "s");
        json_t *d = json_pack("{s:I,s:I}", "undos", (json_int_t)r->undos_run, "failed",
                              (json_int_t)r->undos_failed);
        int rc = rb__run_emit(r, "rollback_finished", NULL, 0, d);
        json_decref(d);
        if (rc < 0) {
            rb__run_journal_failed(r, rc);
            return;
        }
        rb__run_end(r, "failed", msg);
        return;
    }
    r->undo_step = r->undo_stack[--r->rollback_pos];
    r->undo_item = r->undo_items ? r->undo_items[r->rollback_pos] : -1;
    const rb_step_t *s = rb_runbook_step(r->rb, r->undo_step);
    /* the undo sees the step's own result as steps.<name>; a foreach item's
     * undo also sees its `item`, and that item's result as `result` */
    json_decref(r->undo_ctx);
    if (r->undo_item >= 0) {
        const json_t *res = json_array_get(json_object_get(json_object_get(r->steps, s->name), "items"),
                                           (size_t)r->undo_item);
        r->undo_ctx = rb__item_ctx(r, json_object_get(res, "item"), res);
    } else {
        r->undo_ctx = undo_ctx(r, s);
    }
    char e[256] = "";
    json_t *with = rb_tvalue_render(s->undo->with, r->undo_ctx, e, sizeof(e));
    json_t *d = json_pack("{s:s,s:O}", "action", s->undo->action->name, "with", with ? with : json_null());
    if (r->undo_item >= 0)
        json_object_set_new(d, "item", json_integer(r->undo_item));
    int rc = rb__run_emit(r, "undo_started", s->name, 0, d);
    json_decref(d);
    json_decref(r->intent_with);
    r->intent_with = with; /* NULL: the invoker renders it and reports why not */
    if (rc < 0) {
        rb__run_journal_failed(r, rc);
        return;
    }
    if (s->undo->action->flags & RB_ACTION_SIDE_EFFECTS)
        rb__run_durable(r, undo_go);
    else
        undo_go(r);
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
            json_object_set_new(summary, k, json_string(rb__result_outcome(v)));
        /* the child's status as an outcome: inconclusive could not judge */
        const char *word = !strcmp(st, "resolved")       ? "ok"
                           : !strcmp(st, "cancelled")    ? "cancelled"
                           : !strcmp(st, "inconclusive") ? "error"
                                                         : "failed";
        json_t *res = json_pack("{s:b,s:s,s:I,s:s,s:o}", "ok", !strcmp(st, "resolved"), "status", word,
                                "run_id",
                                (json_int_t)rb_run_id(child), "run_status", st, "steps", summary);
        if (rb_run_error(child))
            json_object_set_new(res, "error", json_string(rb_run_error(child)));
        rb_action_ctx_t *ctx = c->ctx;
        c->ctx = NULL;
        rb_action_done(ctx, res);
        return;
    }
}

/* Why the sub-runbook name cannot be used (invalid, or its name is used by
 * two files): its first diagnostic, as `file:line:col: message`. */
static void subrun_lookup_error(const rb_diags_t *d, const char *name, char *err, size_t errlen)
{
    json_t *all = rb_diags_json(d);
    const json_t *first = json_array_get(all, 0);
    if (first)
        snprintf(err, errlen, "runbook \"%s\" cannot run: %s:%lld:%lld: %s", name,
                 json_string_value(json_object_get(first, "file")),
                 (long long)json_integer_value(json_object_get(first, "line")),
                 (long long)json_integer_value(json_object_get(first, "col")),
                 json_string_value(json_object_get(first, "message")));
    else
        snprintf(err, errlen, "runbook \"%s\" cannot run (run `runbook validate`)", name);
    json_decref(all);
}

/* Starts the sub-runbook name for the step in flight. key: the child's
 * concurrency key when its runbook declares none (NULL: its name). */
static int subrun_start(rb_run_t *r, rb_action_ctx_t *ctx, const char *name, const json_t *params,
                        const char *key, char *err, size_t errlen)
{
    if (r->depth + 1 > RB_MAX_SUBRUN_DEPTH) {
        snprintf(err, errlen, "sub-runbooks nest deeper than %d (a runbook that runs itself?)",
                 RB_MAX_SUBRUN_DEPTH);
        return RB_EINVAL;
    }
    rb_runbook_t *rb = NULL;
    const rb_replay_host_t *child_replay = NULL;
    int rc;
    if (r->replay) {
        /* a replay runs the child's recorded version, answered from its record */
        rc = r->replay->subrun(r->replay->arg, rb__step_current(r)->name, name, &rb, &child_replay,
                               err, errlen);
        if (rc < 0)
            return rc;
        goto have_runbook;
    }
    char *path = NULL;
    rb_diags_t *d = rb_diags_new();
    rc = d ? rb__runbook_lookup(rb_runbook_dir(r->rb), name, d, &path) : RB_ENOMEM;
    if (rc == RB_ENOTFOUND)
        snprintf(err, errlen, "no runbook named \"%s\" in %s", name, rb_runbook_dir(r->rb));
    else if (rc < 0)
        subrun_lookup_error(d, name, err, errlen);
    if (rc < 0) {
        rb_diags_free(d);
        return rc;
    }
    rc = rb_runbook_load(path, d, &rb);
    rb_diags_free(d);
    if (rc < 0) {
        snprintf(err, errlen, "%s does not load (run `runbook validate %s`)", path, path);
        free(path);
        return rc;
    }
    free(path);
have_runbook:;
    struct child *n = realloc(r->children, (r->nchildren + 1) * sizeof(*n));
    if (!n) {
        rb_runbook_free(rb);
        return RB_ENOMEM;
    }
    r->children = n;
    char trigger[64];
    snprintf(trigger, sizeof(trigger), "runbook:%lld", (long long)r->id);
    const char *step = rb__step_current(r)->name;
    rb_run_opts_t o = {.params = params, .alert = json_object_get(r->ctx, "alert"), .trigger = trigger,
                       .dry_run = r->dry_run, .parent_run = r->id, .parent_step = step, .parent = r,
                       .depth = r->depth + 1, .env = json_object_get(r->ctx, "env"),
                       .inventory = json_object_get(r->ctx, "inventory"),
                       .secrets = r->secrets, .default_key = key, .replay = child_replay,
                       .started_at = child_replay ? child_replay->started_at : 0,
                       .external_url = r->external_url, .preset = r->preset};
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

int rb__subrun_start(void *arg, rb_action_ctx_t *ctx, const char *name, const json_t *params,
                     char *err, size_t errlen)
{
    return subrun_start(arg, ctx, name, params, NULL, err, errlen);
}

/* A foreach item's sub-runbook: its default concurrency key is the parent
 * run, the step and the item, so the items' children do not refuse each
 * other (R-subrun-key). */
int rb__subrun_start_item(void *arg, rb_action_ctx_t *ctx, const char *name, const json_t *params,
                          char *err, size_t errlen)
{
    struct rb_fe_item *fi = arg;
    char key[300];
    snprintf(key, sizeof(key), "run %lld, step %s, item %zu", (long long)fi->r->id,
             rb__step_current(fi->r)->name, fi->k);
    return subrun_start(fi->r, ctx, name, params, key, err, errlen);
}

void rb__subrun_cancel_item(void *arg, rb_action_ctx_t *ctx)
{
    rb__subrun_cancel(((struct rb_fe_item *)arg)->r, ctx);
}

void rb__subrun_cancel(void *arg, rb_action_ctx_t *ctx)
{
    rb_run_t *r = arg;
    for (size_t i = 0; i < r->nchildren; i++)
        if (r->children[i].ctx == ctx)
            rb_run_cancel(r->children[i].run);
}

