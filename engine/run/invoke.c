/*
 * invoke.c — one action invocation, attempt after attempt (see invoke.h).
 *
 * Owns: the invocation's timer (its timeout and its retry delay never
 * overlap), the action context in flight and the rendered parameters.
 * Decides nothing about the run: it reports the final result and leaves
 * on_failure, verify and what comes next to run.c.
 */
#include "invoke.h"

#include "host/action_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rb_invoker {
    uv_loop_t *loop;
    char *base_dir;
    int dry_run;       /* 0, or a drill: RB__SIMULATE_OK / RB__SIMULATE_FAILED */
    json_t *simulated; /* a drill's stand-in result (or a replay's answer), handed back on the
                          next turn */
    rb_invoker_answer_fn answer; /* a replay's: answers each attempt (or NULL) */
    void *answer_arg;
    int answered; /* the result in flight is a replay's answer, already complete */
    uv_timer_t timer;
    const rb_invoke_t *inv;
    json_t *ctx;
    json_t *with;
    const char *phase;
    rb_invoker_hooks_t hooks;
    void *arg;
    void *data;
    const rb_subrun_host_t *subrun;
    rb_action_ctx_t *actx;
    int attempt;
    int busy;
    int waiting; /* the timer holds a retry delay */
    int timed_out;
    int cancelled;
    uint64_t attempt_t0;
};

static void attempt_begin(rb_invoker_t *iv);

rb_invoker_t *rb__invoker_new(uv_loop_t *loop, const char *base_dir, int dry_run)
{
    rb_invoker_t *iv = calloc(1, sizeof(*iv));
    if (!iv)
        return NULL;
    iv->loop = loop;
    iv->base_dir = strdup(base_dir ? base_dir : ".");
    iv->dry_run = dry_run;
    uv_timer_init(loop, &iv->timer);
    iv->timer.data = iv;
    return iv;
}

static void on_close(uv_handle_t *h)
{
    rb_invoker_t *iv = h->data;
    free(iv->base_dir);
    free(iv);
}

void rb__invoker_free(rb_invoker_t *iv)
{
    if (!iv)
        return;
    json_decref(iv->ctx);
    json_decref(iv->with);
    json_decref(iv->simulated);
    iv->ctx = iv->with = iv->simulated = NULL;
    uv_close((uv_handle_t *)&iv->timer, on_close);
}

void rb__invoker_set_data(rb_invoker_t *iv, void *data) { iv->data = data; }
void rb__invoker_set_answer(rb_invoker_t *iv, rb_invoker_answer_fn fn, void *arg)
{
    iv->answer = fn;
    iv->answer_arg = arg;
}
void rb__invoker_set_subrun(rb_invoker_t *iv, const rb_subrun_host_t *h) { iv->subrun = h; }
void rb__invoker_set_dry_run(rb_invoker_t *iv, int dry_run) { iv->dry_run = dry_run; }
void *rb__invoker_data(const rb_invoker_t *iv) { return iv->data; }
const json_t *rb__invoker_with(const rb_invoker_t *iv) { return iv->with; }
int rb__invoker_attempts(const rb_invoker_t *iv) { return iv->attempt; }
int rb__invoker_busy(const rb_invoker_t *iv) { return iv->busy; }

static void finish(rb_invoker_t *iv, json_t *res)
{
    iv->busy = 0;
    iv->hooks.done(iv, res, iv->arg);
}

/* A result of the engine's for this invocation's action (the shape of an
 * HTTP-status action's results when it is one). */
static json_t *error_result(const rb_invoker_t *iv, const char *status, const char *msg)
{
    return rb__result_new(iv->inv->action, status, msg);
}

int rb__invoker_start(rb_invoker_t *iv, const rb_invoke_t *inv, json_t *ctx, json_t *with,
                      const char *phase, const rb_invoker_hooks_t *hooks, void *arg)
{
    iv->inv = inv;
    json_decref(iv->ctx);
    iv->ctx = json_incref(ctx);
    iv->phase = phase;
    iv->hooks = *hooks;
    iv->arg = arg;
    iv->attempt = 0;
    iv->cancelled = 0;
    iv->busy = 1;
    json_decref(iv->with);
    char e[256] = "";
    iv->with = with ? with : rb_tvalue_render(inv->with, ctx, e, sizeof(e));
    if (!iv->with) {
        char msg[320];
        snprintf(msg, sizeof(msg), "cannot render parameters: %s", e);
        finish(iv, error_result(iv, "error", msg));
        return 0;
    }
    attempt_begin(iv);
    return 0;
}

static void on_action_done(rb_action_ctx_t *actx, json_t *res, void *arg);

static void on_timer(uv_timer_t *t)
{
    rb_invoker_t *iv = t->data;
    if (iv->simulated) {
        json_t *res = iv->simulated;
        iv->simulated = NULL;
        on_action_done(NULL, res, iv);
        return;
    }
    if (iv->waiting) {
        iv->waiting = 0;
        attempt_begin(iv);
        return;
    }
    if (iv->actx) {
        iv->timed_out = 1;
        rb__action_cancel(iv->actx);
    }
}

/* An action's log line becomes a journaled "log" event of the invocation. */
static void on_action_log(rb_action_ctx_t *ctx, const char *level, const char *message, size_t len,
                          void *arg)
{
    rb_invoker_t *iv = arg;
    (void)ctx;
    json_t *d = json_pack("{s:s,s:s%,s:s,s:s}", "level", level, "message", message, len, "action",
                          iv->inv->action->name, "phase", iv->phase);
    iv->hooks.event(iv, "log", iv->attempt, d, iv->arg);
    json_decref(d);
}

static void attempt_begin(rb_invoker_t *iv)
{
    const rb_invoke_t *inv = iv->inv;
    iv->attempt++;
    iv->timed_out = 0;
    iv->attempt_t0 = uv_now(iv->loop);
    json_t *d = json_pack("{s:i,s:i,s:s}", "attempt", iv->attempt, "of", (int)inv->retry.attempts,
                          "phase", iv->phase);
    int rc = iv->hooks.event(iv, "attempt_started", iv->attempt, d, iv->arg);
    json_decref(d);
    if (rc < 0) {
        finish(iv, error_result(iv, "error", "the journal refused the attempt's record"));
        return;
    }
    iv->answered = 0;
    if (iv->answer && !(inv->action->flags & RB_ACTION_SUBRUN)) {
        /* A replay: the journal answers; nothing is started. */
        iv->simulated = iv->answer(iv, iv->phase, inv->action->name, iv->attempt, iv->with, iv->answer_arg);
        if (!iv->simulated)
            iv->simulated = error_result(iv, "error", "out of memory");
        iv->answered = 1;
        uv_timer_start(&iv->timer, on_timer, 0, 0);
        return;
    }
    if (iv->dry_run && (inv->action->flags & RB_ACTION_SIDE_EFFECTS) && !inv->read_only) {
        /* A drill: the action is not started. Its result says what would
         * have run and takes the outcome --assume gives it; it comes back
         * on the next turn of the loop, as a real action's would, so that
         * nobody is called back from inside its own start. */
        int ok = iv->dry_run != RB__SIMULATE_FAILED;
        iv->simulated = rb__result_new(inv->action, "simulated", NULL);
        json_object_set_new(iv->simulated, "ok", json_boolean(ok));
        json_object_set_new(iv->simulated, "assumed", json_string(ok ? "ok" : "failed"));
        json_t *would = json_pack("{s:s,s:O}", "action", inv->action->name, "with", iv->with);
        /* what the rendered parameters would meet: a real run's action
         * refuses them before sending anything (R-drill-notify) */
        char why[256] = "";
        const char *key = NULL;
        if (would && inv->action->validate &&
            inv->action->validate(iv->with, why, sizeof(why), &key) < 0)
            json_object_set_new(would, "refused", json_string(why[0] ? why : "invalid parameters"));
        json_t *(*preview)(const json_t *, const json_t *, const char *) =
            rb__action_preview(inv->action);
        if (would && preview && !json_object_get(would, "refused")) {
            /* what it would send, rendered (R-drill-notify) */
            json_t *view = json_is_object(iv->ctx) ? rb__action_run_view_of(iv->ctx) : NULL;
            json_t *pv = preview(iv->with, view, iv->base_dir);
            if (json_is_object(pv))
                json_object_set_new(would, "preview", pv);
            else
                json_decref(pv);
            json_decref(view);
        }
        json_object_set_new(iv->simulated, "would_run", would);
        uv_timer_start(&iv->timer, on_timer, 0, 0);
        return;
    }
    iv->actx = rb__action_ctx_new(iv->loop, inv->action, iv->base_dir, 0, on_action_done, iv);
    if (!iv->actx) {
        finish(iv, error_result(iv, "error", "out of memory"));
        return;
    }
    rb__action_ctx_set_log(iv->actx, on_action_log, iv);
    if (iv->subrun)
        rb__action_ctx_set_subrun(iv->actx, iv->subrun);
    if (rb__action_ctx_set_run_view(iv->actx, iv->ctx) < 0) {
        rb__action_ctx_free(iv->actx);
        iv->actx = NULL;
        finish(iv, error_result(iv, "error", "out of memory"));
        return;
    }
    rc = rb__action_start(iv->actx, iv->with);
    if (rc < 0) {
        /* the step's error is the action's own reason (R-error-detail) */
        json_t *res = error_result(iv, "error", NULL);
        const json_t *why = rb__action_last_error(iv->actx);
        char miss[600], both[900];
        if (why && rb_tvalue_missing(inv->with, iv->ctx, miss, sizeof miss)) {
            /* "host is required" says the action; which lookup gave it null */
            snprintf(both, sizeof both, "%s (%s)", json_string_value(why), miss);
            json_object_set_new(res, "error", json_string(both));
        } else if (why) {
            json_object_set(res, "error", (json_t *)why);
        } else {
            char msg[200];
            snprintf(msg, sizeof(msg), "action %s did not start: %s", inv->action->name, rb_strerror(rc));
            json_object_set_new(res, "error", json_string(msg));
        }
        rb__action_ctx_free(iv->actx);
        iv->actx = NULL;
        on_action_done(NULL, res, iv);
        return;
    }
    if (inv->timeout_ms && iv->actx) {
        /* Timers count from the loop's clock, read at its last turn: read it
         * now, or a step started late in a turn gets less than its time. */
        uv_update_time(iv->loop);
        uv_timer_start(&iv->timer, on_timer, inv->timeout_ms, 0);
    }
}

static uint64_t retry_delay(const rb_retry_t *rt, int attempt)
{
    double d = (double)rt->delay_ms;
    for (int i = 1; i < attempt; i++)
        d *= rt->backoff;
    if (rt->max_delay_ms && d > (double)rt->max_delay_ms)
        d = (double)rt->max_delay_ms;
    if (d > 86400000.0)
        d = 86400000.0;
    return (uint64_t)d;
}

/* Adds the fields every result has, and `json` parsed from stdout. */
static void decorate(rb_invoker_t *iv, json_t *res)
{
    json_object_set_new(res, "duration_ms", json_integer((json_int_t)(uv_now(iv->loop) - iv->attempt_t0)));
    const char *out = json_string_value(json_object_get(res, "stdout"));
    if (out && !json_object_get(res, "json")) {
        const char *p = out + strspn(out, " \t\r\n");
        if (*p == '{' || *p == '[') {
            json_t *x = json_loads(out, JSON_DECODE_ANY, NULL);
            if (x)
                json_object_set_new(res, "json", x);
        }
    }
}

/* Journals the retry and waits its delay; 0 when no attempt is left (or
 * the invocation is being cancelled), 1 when the next attempt will come, or
 * a negative error when the journal refused the record. */
static int schedule_retry(rb_invoker_t *iv, const char *reason)
{
    const rb_invoke_t *inv = iv->inv;
    if (iv->cancelled || iv->attempt >= (int)inv->retry.attempts)
        return 0;
    uint64_t delay = retry_delay(&inv->retry, iv->attempt);
    json_t *d = json_pack("{s:i,s:I,s:s,s:s}", "next_attempt", iv->attempt + 1, "delay_ms",
                          (json_int_t)delay, "reason", reason, "phase", iv->phase);
    int rc = iv->hooks.event(iv, "step_retry", iv->attempt, d, iv->arg);
    json_decref(d);
    if (rc < 0)
        return rc;
    iv->busy = 1;
    iv->waiting = 1;
    uv_update_time(iv->loop); /* the delay counts from now (see above) */
    uv_timer_start(&iv->timer, on_timer, iv->answer ? 0 : delay, 0); /* a replay waits for nothing */
    return 1;
}

/* Marks res as not ok with outcome word and error message. */
static void set_outcome(json_t *res, const char *word, const char *prefix, const char *msg)
{
    char buf[700]; /* prefix + an expression error (invoke_judge e[600]) */
    json_object_set_new(res, "ok", json_false());
    rb__result_set_outcome(res, word);
    if (msg) {
        snprintf(buf, sizeof(buf), "%s%s", prefix, msg);
        json_object_set_new(res, "error", json_string(buf));
    }
}

/*
 * Judges an attempt (docs/semantics.md, R-attempt-ok): the action's outcome,
 * then `expect` (which replaces the action's own ok when the action ran and
 * answered: ok or failed), then `until` (false fails an attempt that was
 * ok; it never makes a failed one succeed). An expression that cannot be
 * evaluated makes the attempt `error` (R-expect-error).
 */
static const char *judge(rb_invoker_t *iv, json_t *res)
{
    const rb_invoke_t *inv = iv->inv;
    const char *st = rb__result_outcome(res);
    /* A drill's stand-in result has nothing to judge; a cut-short one
     * neither. */
    const char *why = "attempt failed";
    if (iv->cancelled || iv->timed_out || !strcmp(st, "simulated") || (!inv->expect && !inv->retry.until))
        return why;
    char e[600] = ""; /* room for a script's whole reason (int(stderr), R-expect-error) */
    /* expect and until see the result as `result` and its fields as names
     * of their own (`status == 200`); the run's names take precedence. */
    json_t *ectx = json_copy(iv->ctx);
    json_object_set(ectx, "result", res);
    json_object_update_missing(ectx, res);
    if (inv->expect && (!strcmp(st, "ok") || !strcmp(st, "failed"))) {
        int t = rb_expr_test(inv->expect, ectx, e, sizeof(e));
        if (t < 0) {
            set_outcome(res, "error", "expect: ", e);
        } else {
            json_object_set_new(res, "ok", json_boolean(t > 0));
            rb__result_set_outcome(res, t > 0 ? "ok" : "failed");
            if (t > 0)
                json_object_del(res, "error");
            else /* what said no, so that it is not shown as "exit 0" */
                json_object_set_new(res, "reason", json_string("expect was false"));
        }
    }
    if (inv->retry.until && json_is_true(json_object_get(res, "ok"))) {
        int t = rb_expr_test(inv->retry.until, ectx, e, sizeof(e));
        if (t < 0)
            set_outcome(res, "error", "until: ", e);
        else if (t == 0)
            set_outcome(res, "failed", "", why = "until is false");
    }
    json_decref(ectx);
    return why;
}

static void on_action_done(rb_action_ctx_t *actx, json_t *res, void *arg)
{
    rb_invoker_t *iv = arg;
    const rb_invoke_t *inv = iv->inv;
    uv_timer_stop(&iv->timer);
    if (actx) {
        rb__action_ctx_free(actx);
        iv->actx = NULL;
    }
    if (!iv->answered) /* a replay's answer is the recorded result, duration and all */
        decorate(iv, res);
    /* An action that answers the step's timeout with error says that what
     * it runs never started (an ssh probe still connecting): that is no
     * evidence, so error stays (R-timeout-is-evidence). */
    if (iv->timed_out && !strcmp(rb__result_outcome(res), "error")) {
        char msg[96], dur[32];
        snprintf(msg, sizeof(msg), "; the step's timeout (%s) ran out first",
                 rb_duration_format(inv->timeout_ms, dur, sizeof(dur)));
        const char *e = json_string_value(json_object_get(res, "error"));
        json_object_set_new(res, "error", json_sprintf("%s%s", e ? e : "error", msg));
    } else if (iv->timed_out) {
        char msg[96], dur[32];
        snprintf(msg, sizeof(msg), "timed out after %s", rb_duration_format(inv->timeout_ms, dur, sizeof(dur)));
        set_outcome(res, "timeout", "", msg);
    } else if (iv->cancelled && json_is_false(json_object_get(res, "ok"))) {
        rb__result_set_outcome(res, "cancelled");
    }
    /* What the action said before expect and until judged it: recorded
     * when they changed it, so that a replay (or a what-if with another
     * expect) judges the action's own answer again. */
    json_t *raw = inv->expect || inv->retry.until ? json_deep_copy(res) : NULL;
    const char *why = judge(iv, res);
    /* ok only with the outcome ok (or a drill's stand-in): R-ok-field */
    const char *st = rb__result_outcome(res);
    if (strcmp(st, "ok") && strcmp(st, "simulated"))
        json_object_set_new(res, "ok", json_false());
    int ok = json_is_true(json_object_get(res, "ok"));
    json_t *d = json_pack("{s:O,s:s}", "result", res, "phase", iv->phase);
    if (raw && !json_equal(raw, res))
        json_object_set(d, "raw", raw);
    json_decref(raw);
    int rc = iv->hooks.event(iv, "attempt_finished", iv->attempt, d, iv->arg);
    json_decref(d);
    /* a drill's assumed failure is not retried: nothing ran */
    if (rc == 0 && !ok && strcmp(st, "cancelled") && strcmp(st, "simulated"))
        rc = schedule_retry(iv, why);
    if (rc < 0) {
        json_decref(res);
        finish(iv, error_result(iv, "error", "the journal refused the attempt's record"));
        return;
    }
    if (rc > 0) {
        json_decref(res);
        return;
    }
    json_object_set_new(res, "attempt", json_integer(iv->attempt));
    finish(iv, res);
}

int rb__invoker_again(rb_invoker_t *iv, const char *reason)
{
    if (iv->busy)
        return 0;
    int rc = schedule_retry(iv, reason);
    return rc > 0 ? 1 : rc;
}

void rb__invoker_cancel(rb_invoker_t *iv)
{
    if (!iv->busy || iv->cancelled)
        return;
    iv->cancelled = 1;
    if (iv->simulated && iv->answered)
        return; /* a replay: the recorded result says how the cancel ended the attempt */
    if (iv->simulated) {
        json_decref(iv->simulated);
        iv->simulated = NULL;
        uv_timer_stop(&iv->timer);
        finish(iv, error_result(iv, "cancelled", "cancelled"));
    } else if (iv->actx) {
        rb__action_cancel(iv->actx);
    } else if (iv->waiting) {
        iv->waiting = 0;
        uv_timer_stop(&iv->timer);
        finish(iv, error_result(iv, "cancelled", "cancelled"));
    }
}
