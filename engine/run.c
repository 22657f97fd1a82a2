/*
 * run.c — the run state machine (see run.h).
 *
 * Owns: a run's expression context, its one timer (a step's timeout and its
 * retry delay never overlap) and the action context in flight. Every
 * transition is appended to the journal before the run acts on it; before
 * an action with side effects starts, the journal is synced so that its
 * intent is durable first. If the journal refuses a write, the run stops:
 * nothing runs that cannot be journaled.
 *
 * States: pending → running (step i: when → render → attempt … → verify …)
 * → succeeded | failed | cancelled.
 */
#include "run.h"

#include "action_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { PH_MAIN, PH_VERIFY } phase_t;

struct rb_run {
    uv_loop_t *loop;
    const rb_runbook_t *rb;
    rb_journal_t *j;
    int64_t id;
    int dry_run;
    const char *status;
    char *error;
    json_t *ctx;   /* {params, alert, steps, checks, run, env} */
    json_t *steps; /* borrowed from ctx */
    uv_timer_t timer;
    uint64_t t0_ms;   /* uv_now at start */
    uint64_t end_ms;

    /* the step in flight */
    size_t step;
    phase_t phase;
    const rb_invoke_t *inv;
    json_t *with;     /* rendered parameters of the current invocation */
    uint32_t attempt;
    uint32_t main_attempts;
    json_t *main_result;
    uint64_t step_t0, attempt_t0;
    rb_action_ctx_t *actx;
    int timed_out;
    int cancelling;
    int waiting;      /* the timer holds a retry delay */

    rb_run_event_cb ev;
    rb_run_done_cb done;
    void *arg;
};

static void step_begin(rb_run_t *r, size_t i);
static void attempt_begin(rb_run_t *r);

/* ---- journaling ---- */

static void finish(rb_run_t *r, const char *status, const char *error);

/* Appends an event and tells the observer. Returns 0, or negative when the
 * journal refused it (the caller must stop). data is borrowed. */
static int emit(rb_run_t *r, const char *type, const char *step, int attempt, const json_t *data)
{
    int rc = rb_journal_event(r->j, r->id, type, step, attempt, data);
    if (rc < 0)
        return rc;
    if (r->ev) {
        json_t *empty = data ? NULL : json_object();
        r->ev(r, type, step, attempt, data ? data : empty, r->arg);
        json_decref(empty);
    }
    return 0;
}

static void journal_failed(rb_run_t *r, int rc)
{
    char msg[512];
    const char *why = rb_journal_errmsg(r->j);
    snprintf(msg, sizeof(msg), "the journal refused a write (%s); stopping before anything "
                               "else runs", why && *why ? why : rb_strerror(rc));
    r->status = "failed";
    free(r->error);
    r->error = strdup(msg);
    r->end_ms = uv_now(r->loop);
    /* Best effort: the journal may take the final record later. */
    rb_journal_run_status(r->j, r->id, "failed", 1);
    rb_journal_sync(r->j);
    if (r->done)
        r->done(r, r->arg);
}

static void set_run_field(rb_run_t *r, const char *k, json_t *v)
{
    json_object_set_new(json_object_get(r->ctx, "run"), k, v);
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
    r->status = "pending";
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    r->ctx = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "params", json_object(), "alert",
                       o && o->alert ? json_deep_copy(o->alert) : json_object(), "steps", json_object(), "checks",
                       json_object(), "run", json_object(), "env", json_object());
    r->steps = json_object_get(r->ctx, "steps");
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
        snprintf(err, errlen, "cannot record the run in the journal: %s", rb_strerror(rc));
        rb_run_free(r);
        return rc;
    }
    set_run_field(r, "id", json_integer(r->id));
    set_run_field(r, "status", json_string("pending"));
    set_run_field(r, "dry_run", json_boolean(r->dry_run));
    set_run_field(r, "severity", json_null());
    json_object_set_new(json_object_get(r->ctx, "run"), "sha256", json_string(sha));
    *out = r;
    return 0;
}

int rb_run_start(rb_run_t *r, rb_run_event_cb ev, rb_run_done_cb done, void *arg)
{
    r->ev = ev;
    r->done = done;
    r->arg = arg;
    r->status = "running";
    r->t0_ms = uv_now(r->loop);
    set_run_field(r, "status", json_string("running"));
    set_run_field(r, "started_at", json_integer((json_int_t)time(NULL)));
    json_t *d = json_pack("{s:s,s:O,s:s,s:b}", "runbook", rb_runbook_name(r->rb), "params",
                          json_object_get(r->ctx, "params"), "sha256",
                          json_string_value(json_object_get(json_object_get(r->ctx, "run"), "sha256")),
                          "dry_run", r->dry_run);
    int rc = emit(r, "run_started", NULL, 0, d);
    json_decref(d);
    if (rc == 0)
        rc = rb_journal_run_status(r->j, r->id, "running", 0);
    if (rc < 0) {
        journal_failed(r, rc);
        return 0;
    }
    step_begin(r, 0);
    return 0;
}

/* ---- finishing ---- */

static void finish(rb_run_t *r, const char *status, const char *error)
{
    r->status = status;
    r->end_ms = uv_now(r->loop);
    free(r->error);
    r->error = error ? strdup(error) : NULL;
    set_run_field(r, "status", json_string(status));
    json_t *d = json_pack("{s:s,s:I}", "status", status, "duration_ms",
                          (json_int_t)(r->end_ms - r->t0_ms));
    if (error)
        json_object_set_new(d, "error", json_string(error));
    int rc = emit(r, "run_finished", NULL, 0, d);
    json_decref(d);
    if (rc == 0)
        rc = rb_journal_run_status(r->j, r->id, status, 1);
    if (rc == 0)
        rc = rb_journal_sync(r->j);
    if (rc < 0) {
        journal_failed(r, rc);
        return;
    }
    if (r->done)
        r->done(r, r->arg);
}

/* ---- steps ---- */

static const rb_step_t *cur(const rb_run_t *r) { return rb_runbook_step(r->rb, r->step); }

/* Records the step's outcome and moves on as on_failure says. Steals res. */
static void step_end(rb_run_t *r, json_t *res)
{
    const rb_step_t *s = cur(r);
    int ok = json_is_true(json_object_get(res, "ok"));
    json_object_set_new(res, "attempt", json_integer(r->main_attempts));
    json_object_set_new(res, "duration", json_integer((json_int_t)(uv_now(r->loop) - r->step_t0)));
    json_object_set(r->steps, s->name, res);
    json_t *d = json_pack("{s:b,s:O,s:i,s:I,s:O}", "ok", ok, "status", json_object_get(res, "status"),
                          "attempts", (int)r->main_attempts, "duration_ms",
                          (json_int_t)(uv_now(r->loop) - r->step_t0), "result", res);
    int rc = emit(r, "step_finished", s->name, (int)r->main_attempts, d);
    json_decref(d);
    json_decref(res);
    json_decref(r->with);
    r->with = NULL;
    if (rc < 0) {
        journal_failed(r, rc);
        return;
    }
    if (r->cancelling) {
        finish(r, "cancelled", "cancelled by the operator");
        return;
    }
    if (ok) {
        step_begin(r, r->step + 1);
        return;
    }
    switch (s->on_failure) {
    case RB_ONFAIL_CONTINUE:
        step_begin(r, r->step + 1);
        return;
    case RB_ONFAIL_GOTO:
        step_begin(r, s->goto_idx);
        return;
    default: {
        char msg[256];
        snprintf(msg, sizeof(msg), "step %s failed", s->name);
        finish(r, "failed", msg);
        return;
    }
    }
}

/* Fails the current step without running its action (a render error …). */
static void step_error(rb_run_t *r, const char *msg)
{
    r->main_attempts = r->attempt;
    step_end(r, json_pack("{s:b,s:s,s:s}", "ok", 0, "status", "error", "error", msg));
}

static int begin_invoke(rb_run_t *r, const rb_invoke_t *inv, phase_t ph)
{
    char e[256] = "";
    r->inv = inv;
    r->phase = ph;
    r->attempt = 0;
    json_decref(r->with);
    r->with = rb_tvalue_render(inv->with, r->ctx, e, sizeof(e));
    if (!r->with) {
        char msg[300];
        snprintf(msg, sizeof(msg), "cannot render parameters: %s", e);
        step_error(r, msg);
        return -1;
    }
    return 0;
}

static void step_begin(rb_run_t *r, size_t i)
{
    if (i >= rb_runbook_nsteps(r->rb)) {
        finish(r, "succeeded", NULL);
        return;
    }
    r->step = i;
    const rb_step_t *s = cur(r);
    r->step_t0 = uv_now(r->loop);
    r->main_attempts = 0;
    json_decref(r->main_result);
    r->main_result = NULL;
    if (s->when) {
        char e[200] = "";
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
                finish(r, "failed", msg);
                return;
            }
            step_begin(r, i + 1);
            return;
        }
    }
    if (begin_invoke(r, &s->inv, PH_MAIN) < 0)
        return;
    json_t *d = json_pack("{s:s,s:O,s:b}", "action", s->inv.action->name, "with", r->with,
                          "side_effects", !!(s->inv.action->flags & RB_ACTION_SIDE_EFFECTS));
    int rc = emit(r, "step_started", s->name, 0, d);
    json_decref(d);
    /* The intent of a step with side effects is durable before it starts. */
    if (rc == 0 && (s->inv.action->flags & RB_ACTION_SIDE_EFFECTS))
        rc = rb_journal_sync(r->j);
    if (rc < 0) {
        journal_failed(r, rc);
        return;
    }
    attempt_begin(r);
}

static void on_action_done(rb_action_ctx_t *actx, json_t *res, void *arg);

static void on_timer(uv_timer_t *t)
{
    rb_run_t *r = t->data;
    if (r->waiting) {
        r->waiting = 0;
        attempt_begin(r);
        return;
    }
    if (r->actx) {
        r->timed_out = 1;
        rb__action_cancel(r->actx);
    }
}

static void attempt_begin(rb_run_t *r)
{
    const rb_step_t *s = cur(r);
    r->attempt++;
    if (r->phase == PH_MAIN)
        r->main_attempts = r->attempt;
    r->timed_out = 0;
    r->attempt_t0 = uv_now(r->loop);
    json_t *d = json_pack("{s:i,s:i,s:s}", "attempt", (int)r->attempt, "of",
                          (int)r->inv->retry.attempts, "phase", r->phase == PH_MAIN ? "main" : "verify");
    int rc = emit(r, "attempt_started", s->name, (int)r->attempt, d);
    json_decref(d);
    if (rc < 0) {
        journal_failed(r, rc);
        return;
    }
    if (r->dry_run && (r->inv->action->flags & RB_ACTION_SIDE_EFFECTS)) {
        on_action_done(NULL, json_pack("{s:b,s:s}", "ok", 1, "status", "dry_run"), r);
        return;
    }
    r->actx = rb__action_ctx_new(r->loop, r->inv->action, rb_runbook_dir(r->rb), 0, on_action_done, r);
    if (!r->actx) {
        step_error(r, "out of memory");
        return;
    }
    rc = rb__action_start(r->actx, r->with);
    if (rc < 0) {
        rb__action_ctx_free(r->actx);
        r->actx = NULL;
        char msg[200];
        snprintf(msg, sizeof(msg), "action %s did not start: %s", r->inv->action->name, rb_strerror(rc));
        on_action_done(NULL, json_pack("{s:b,s:s,s:s}", "ok", 0, "status", "error", "error", msg), r);
        return;
    }
    if (r->inv->timeout_ms && r->actx)
        uv_timer_start(&r->timer, on_timer, r->inv->timeout_ms, 0);
}

static uint64_t retry_delay(const rb_retry_t *rt, uint32_t attempt)
{
    double d = (double)rt->delay_ms;
    for (uint32_t i = 1; i < attempt; i++)
        d *= rt->backoff;
    if (rt->max_delay_ms && d > (double)rt->max_delay_ms)
        d = (double)rt->max_delay_ms;
    if (d > 86400000.0)
        d = 86400000.0;
    return (uint64_t)d;
}

/* Adds the fields every step result has, and a parsed `json` of stdout. */
static void decorate(rb_run_t *r, json_t *res)
{
    json_object_set_new(res, "duration_ms", json_integer((json_int_t)(uv_now(r->loop) - r->attempt_t0)));
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

static void on_action_done(rb_action_ctx_t *actx, json_t *res, void *arg)
{
    rb_run_t *r = arg;
    const rb_step_t *s = cur(r);
    uv_timer_stop(&r->timer);
    if (actx) {
        rb__action_ctx_free(actx);
        r->actx = NULL;
    }
    decorate(r, res);
    if (r->timed_out) {
        char msg[96], dur[32];
        snprintf(msg, sizeof(msg), "timed out after %s",
                 rb_duration_format(r->inv->timeout_ms, dur, sizeof(dur)));
        json_object_set_new(res, "ok", json_false());
        json_object_set_new(res, "status", json_string("timeout"));
        json_object_set_new(res, "error", json_string(msg));
    }
    int ok = json_is_true(json_object_get(res, "ok"));
    char e[200] = "";
    /* expect and until see the result as `result` and its fields as names
     * of their own (`status == 200`); the run's names take precedence. */
    json_t *ectx = NULL;
    if ((r->inv->expect || r->inv->retry.until) && !r->cancelling) {
        ectx = json_copy(r->ctx);
        json_object_set(ectx, "result", res);
        json_object_update_missing(ectx, res);
    }
    if (r->inv->expect && !r->timed_out && !r->cancelling) {
        int t = rb_expr_test(r->inv->expect, ectx, e, sizeof(e));
        ok = t > 0;
        json_object_set_new(res, "ok", json_boolean(ok));
        if (t < 0)
            json_object_set_new(res, "error", json_string(e));
        if (!ok && !strcmp(json_string_value(json_object_get(res, "status")), "ok"))
            json_object_set_new(res, "status", json_string("failed"));
        if (ok)
            json_object_set_new(res, "status", json_string("ok"));
    }
    int again = !ok;
    if (r->inv->retry.until && !r->cancelling) {
        int t = rb_expr_test(r->inv->retry.until, ectx, e, sizeof(e));
        again = t <= 0;
    }
    json_decref(ectx);
    json_t *d = json_pack("{s:O}", "result", res);
    json_object_set_new(d, "phase", json_string(r->phase == PH_MAIN ? "main" : "verify"));
    int rc = emit(r, "attempt_finished", s->name, (int)r->attempt, d);
    json_decref(d);
    if (rc < 0) {
        json_decref(res);
        journal_failed(r, rc);
        return;
    }
    if (again && !r->cancelling && r->attempt < r->inv->retry.attempts) {
        uint64_t delay = retry_delay(&r->inv->retry, r->attempt);
        d = json_pack("{s:i,s:I,s:s}", "next_attempt", (int)r->attempt + 1, "delay_ms",
                      (json_int_t)delay, "reason", ok ? "until is false" : "attempt failed");
        rc = emit(r, "step_retry", s->name, (int)r->attempt, d);
        json_decref(d);
        json_decref(res);
        if (rc < 0) {
            journal_failed(r, rc);
            return;
        }
        r->waiting = 1;
        uv_timer_start(&r->timer, on_timer, delay, 0);
        return;
    }
    if (r->phase == PH_MAIN && ok && s->verify && !r->cancelling) {
        r->main_result = res;
        if (begin_invoke(r, s->verify, PH_VERIFY) < 0)
            return;
        attempt_begin(r);
        return;
    }
    if (r->phase == PH_VERIFY) {
        json_t *main = r->main_result;
        r->main_result = NULL;
        json_object_set_new(main, "verify", res);
        if (!ok) {
            json_object_set_new(main, "ok", json_false());
            json_object_set_new(main, "status", json_string("verify_failed"));
        }
        res = main;
    }
    step_end(r, res);
}

void rb_run_cancel(rb_run_t *r)
{
    if (strcmp(r->status, "running") || r->cancelling)
        return;
    r->cancelling = 1;
    if (r->actx) {
        rb__action_cancel(r->actx);
    } else if (r->waiting) {
        r->waiting = 0;
        uv_timer_stop(&r->timer);
        finish(r, "cancelled", "cancelled by the operator");
    }
}

int64_t rb_run_id(const rb_run_t *r) { return r->id; }
const char *rb_run_status(const rb_run_t *r) { return r->status; }
const char *rb_run_error(const rb_run_t *r) { return r->error; }
const json_t *rb_run_context(const rb_run_t *r) { return r->ctx; }
uint64_t rb_run_duration_ms(const rb_run_t *r) { return r->end_ms - r->t0_ms; }

static void on_close(uv_handle_t *h)
{
    free(h->data);
}

void rb_run_free(rb_run_t *r)
{
    if (!r)
        return;
    json_decref(r->ctx);
    json_decref(r->with);
    json_decref(r->main_result);
    free(r->error);
    uv_close((uv_handle_t *)&r->timer, on_close);
}
