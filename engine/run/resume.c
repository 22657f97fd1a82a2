/*
 * resume.c — bringing back a run that a crash interrupted (`runbook
 * resume`): the run rebuilt from its journal record (params, step and check
 * results, severity, the undo stack) and started again where it stopped.
 *
 * Owns nothing past the call: the run itself is run.c's. Reads only what
 * rb_journal_run_resume_point and the run's events give; never decides
 * whether a half-done step may run again (the caller does).
 */
#define _GNU_SOURCE /* strndup */
#include "run_int.h"

#include "load/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The run events whose notifications a resume does not send again itself:
 * the end's, sent again when the resumed run reaches its end. */
static int end_event(const char *label)
{
    static const char *const ends[] = {"resolved", "failed", "not_confirmed", "inconclusive", NULL};
    for (size_t i = 0; ends[i]; i++)
        if (!strcmp(label, ends[i]))
            return 1;
    return 0;
}

/* The notifications the journal says were started (an attempt_started of
 * a notify or escalate entry, with its entry's index) but has no
 * notification_sent for: in flight when the run stopped. Into r->resend,
 * but the end's (sent again at the end) and an approval's request that
 * the resumed run asks again (and so notifies again); the last failed
 * notification into r->resend_failed. */
static void in_flight_notifications(rb_run_t *r, const json_t *events)
{
    json_t *open = json_object(); /* "label/rule" → {label, phase, rule, n} */
    size_t i;
    const json_t *ev;
    json_array_foreach(events, i, ev) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        const char *label = json_string_value(json_object_get(ev, "step"));
        const json_t *data = json_object_get(ev, "data");
        const json_t *rule = json_object_get(data, "rule");
        if (!type || !label || !json_is_integer(rule))
            continue;
        char key[160];
        snprintf(key, sizeof key, "%s/%lld", label, (long long)json_integer_value(rule));
        json_t *o = json_object_get(open, key);
        const char *phase = json_string_value(json_object_get(data, "phase"));
        if (!strcmp(type, "attempt_started") && json_integer_value(json_object_get(data, "attempt")) == 1 &&
            phase && (!strcmp(phase, "notify") || !strcmp(phase, "escalate"))) {
            if (!o)
                json_object_set_new(open, key, o = json_pack("{s:s,s:s,s:O,s:i}", "label", label, "phase",
                                                             phase, "rule", rule, "n", 0));
            json_object_set_new(o, "n", json_integer(json_integer_value(json_object_get(o, "n")) + 1));
        } else if (!strcmp(type, "notification_sent")) {
            if (o)
                json_object_set_new(o, "n", json_integer(json_integer_value(json_object_get(o, "n")) - 1));
            const json_t *res = json_object_get(data, "result");
            if (!json_is_true(json_object_get(res, "ok")) && strcmp(label, "notify_failed")) {
                json_decref(r->resend_failed);
                r->resend_failed = json_pack("{s:s,s:O?,s:O?,s:O?,s:O?}", "notification", label, "channel",
                                             json_object_get(res, "channel"), "target",
                                             json_object_get(res, "target"), "error",
                                             json_object_get(res, "error"), "status",
                                             json_object_get(res, "status"));
            }
        }
    }
    const char *key;
    json_t *o;
    json_object_foreach(open, key, o) {
        const char *label = json_string_value(json_object_get(o, "label"));
        if (end_event(label) || (!strcmp(label, "approval_requested") && r->asked_step))
            continue;
        for (json_int_t n = json_integer_value(json_object_get(o, "n")); n > 0; n--) {
            if (!r->resend)
                r->resend = json_array();
            json_array_append(r->resend, o);
        }
    }
    json_decref(open);
}

int rb_run_resume(uv_loop_t *loop, const rb_runbook_t *rb, rb_journal_t *j, const json_t *point,
                  const json_t *events, const rb_run_opts_t *o, rb_run_t **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    /* the recorded parameters, with what the operator gives again on top */
    json_t *given = json_deep_copy(json_object_get(point, "params"));
    if (!json_is_object(given)) {
        json_decref(given);
        given = json_object();
    }
    if (o && json_is_object(o->params))
        json_object_update(given, (json_t *)o->params);
    for (size_t i = 0; i < rb_runbook_nparams(rb); i++) {
        const rb_param_t *p = rb_runbook_param(rb, i);
        const json_t *v = json_object_get(given, p->name);
        json_t *pre = o ? json_object_get(o->preset, p->name) : NULL;
        /* a secret the journal holds masked (the runbook's, or one the
         * host gave as a secret): the host's value again */
        if (pre && json_is_string(v) && strstr(json_string_value(v), RB_SECRET_MASK) &&
            !(o && json_object_get(o->params, p->name))) {
            json_object_set(given, p->name, pre);
            continue;
        }
        if (p->secret && json_is_string(v) && strstr(json_string_value(v), RB_SECRET_MASK) &&
            !(o && json_object_get(o->params, p->name))) {
            snprintf(err, errlen, "parameter \"%s\" is secret, so the journal holds no value for "
                                  "it: give it again (--param %s=…)", p->name, p->name);
            json_decref(given);
            return RB_EINVAL;
        }
    }
    /* the alert that started the run, as its run_started event recorded it:
     * a resumed step renders {{ alert.* }} as the first attempt did */
    rb_run_opts_t with_alert = {0};
    if (o)
        with_alert = *o;
    if (!with_alert.alert) {
        size_t k;
        json_t *e;
        json_array_foreach(events, k, e) {
            const char *type = json_string_value(json_object_get(e, "type"));
            if (type && !strcmp(type, "run_started")) {
                with_alert.alert = json_object_get(json_object_get(e, "data"), "alert");
                break;
            }
        }
    }
    rb_run_t *r;
    int rc = rb__run_alloc(loop, rb, j, &with_alert, given, &r, err, errlen);
    json_decref(given);
    if (rc < 0)
        return rc;
    r->id = (int64_t)json_integer_value(json_object_get(point, "run_id"));
    rb__run_set_id(r);
    rb__run_set_field(r, "dry_run", json_boolean(r->dry_run));
    rb__run_set_field(r, "severity", json_null());
    rb__run_set_field(r, "sha256", json_incref(json_object_get(point, "sha256")));
    json_object_update(r->steps, json_object_get(point, "results"));
    /* what the run had decided before it stopped */
    int declared = 0;
    json_int_t wall0 = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        const json_t *data = json_object_get(ev, "data");
        const char *step = json_string_value(json_object_get(ev, "step"));
        if (!type)
            continue;
        if (!strcmp(type, "declared"))
            declared = 1;
        else if (!strcmp(type, "severity_assigned"))
            rb__run_set_field(r, "severity", json_incref(json_object_get(data, "level")));
        else if (!strcmp(type, "check_finished") && step)
            json_object_set(r->checks, step, json_object_get(data, "result"));
        else if (!strcmp(type, "run_started"))
            wall0 = json_integer_value(json_object_get(ev, "wall_ms"));
        else if (!strcmp(type, "escalated") || !strcmp(type, "escalation_held")) {
            /* a level sent, or whose `unless` held when its time came:
             * decided once, as in a run that was never interrupted */
            json_int_t lv = json_integer_value(json_object_get(data, "level"));
            if (lv >= 1 && lv <= 64)
                r->esc_fired |= (uint64_t)1 << (lv - 1);
            r->escalated += !strcmp(type, "escalated");
        } else if (!strcmp(type, "approval_requested") && step && !json_is_true(json_object_get(data, "would_ask"))) {
            /* the first request not answered yet: asked again on resume,
             * its timeout counts from this one */
            if (!r->asked_step) {
                r->asked_step = strdup(step);
                r->asked_wall_ms = json_integer_value(json_object_get(ev, "wall_ms"));
            }
        } else if (step && (!strcmp(type, "approval_granted") || !strcmp(type, "approval_denied") ||
                            !strcmp(type, "approval_timeout") || !strcmp(type, "step_finished") ||
                            !strcmp(type, "step_skipped"))) {
            if (r->asked_step && !strcmp(r->asked_step, step)) {
                free(r->asked_step);
                r->asked_step = NULL;
            }
        }
    }
    /* escalation timers and the duration count from the original start
     * (docs/cli.md): the runs listing's, else run_started's */
    json_int_t first = json_integer_value(json_object_get(point, "started_at"));
    r->start_wall_ms = first > 0 ? first : wall0;
    long long now_ms = rb__run_wall_ms();
    if (r->start_wall_ms > 0 && now_ms > r->start_wall_ms)
        r->esc_elapsed_ms = (uint64_t)(now_ms - r->start_wall_ms);
    if (r->escalated)
        rb__run_set_field(r, "escalated", json_integer(r->escalated));
    in_flight_notifications(r, events);
    const char *next = json_string_value(json_object_get(point, "next_step"));
    if (!declared) {
        r->resume_at = RB__RESUME_FROM_START;
    } else if (next) {
        long at = rb_runbook_step_index(rb, next);
        if (at < 0) {
            snprintf(err, errlen, "the recorded runbook has no step \"%s\"", next);
            rb_run_free(r);
            return RB_EINVAL;
        }
        r->resume_at = at;
    } else {
        /* It stopped between two steps: the one after the last that
         * finished, as that step's outcome and on_failure decided (a goto
         * may have jumped over steps that have no result). */
        const char *last = json_string_value(json_object_get(point, "last_step"));
        long li = last ? rb_runbook_step_index(rb, last) : -1;
        r->resume_at = li + 1;
        if (li >= 0) {
            const rb_step_t *st = rb_runbook_step(rb, (size_t)li);
            const json_t *res = json_object_get(r->steps, last);
            /* skipped is not ok, yet not failed (R-skipped) */
            int failed = res && !json_is_true(json_object_get(res, "ok")) &&
                         strcmp(rb__result_outcome(res), "skipped");
            if (failed && st->on_failure == RB_ONFAIL_GOTO)
                r->resume_at = (long)st->goto_idx;
            else if (failed && (st->on_failure == RB_ONFAIL_ABORT || st->on_failure == RB_ONFAIL_ROLLBACK))
                r->resume_at = RB__RESUME_FAILED;
        }
    }
    /* a rollback may still need the undo of what completed */
    for (size_t k = 0; k < rb_runbook_nsteps(rb) && (long)k < r->resume_at; k++)
        rb__undo_remember(r, k);
    /* it takes its concurrency key back for as long as it goes on */
    if ((rc = rb__run_hold_key(r, err, errlen)) < 0) {
        rb_run_free(r);
        return rc;
    }
    rb__run_set_field(r, "key", json_string(r->key));
    r->resumed = 1;
    *out = r;
    return 0;
}

/* Goes on where an interrupted run stopped. Escalation timers count from
 * the original start: a level already escalated to is not sent again, one
 * whose time passed while the run was down is sent at once. */
int rb__run_start_resumed(rb_run_t *r)
{
    r->state = RS_STEPS; /* what the run had reached */
    const char *from = r->resume_at >= 0 && (size_t)r->resume_at < rb_runbook_nsteps(r->rb)
                           ? rb_runbook_step(r->rb, (size_t)r->resume_at)->name : NULL;
    json_t *d = json_pack("{s:s?,s:s}", "from_step", from, "phase",
                          r->resume_at == RB__RESUME_FROM_START ? "start"
                          : from ? "steps" : "validate");
    /* the parameters it goes on with (given again on resume, secret ones
     * masked): what a replay of the resumed part needs */
    json_object_set_new(d, "params", rb_secrets_mask_params(r->secrets, r->rb, json_object_get(r->ctx, "params")));
    int rc = rb__run_announce(r, "run_resumed", d);
    json_decref(d);
    if (rc < 0)
        return 0;
    rb__run_resend(r); /* what was in flight when it stopped (docs/notifications.md) */
    rb__run_start_escalations(r);
    if (r->resume_at == RB__RESUME_FAILED) {
        /* the last step failed and its on_failure ends the run: so it does */
        rb__run_end(r, "failed", "the run stopped after a failed step; it ends failed on resume");
        return 0;
    }
    if (r->resume_at == RB__RESUME_FROM_START) {
        rb__run_detect(r);
        return 0;
    }
    r->state = RS_STEPS;
    rb__step_begin(r, (size_t)r->resume_at);
    return 0;
}


/* ---- what `runbook resume` and the server's restart share ---- */

/* Where the relative paths of a resumed run resolve: the folder of the
 * runbook file its run_started event records (an absolute path), whatever
 * directory resume is started in. A run recorded before paths were kept
 * falls back to the folder of the runbook of its name under ./runbooks,
 * else ".": never a walk of the current directory, which may be "/".
 * Returns a malloc'd path. */
static char *resume_dir(const json_t *run, const char *name)
{
    size_t i;
    const json_t *ev;
    const char *path = NULL;
    json_array_foreach(json_object_get(run, "events"), i, ev) {
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (type && !strcmp(type, "run_started")) {
            path = json_string_value(json_object_get(json_object_get(ev, "data"), "path"));
            break;
        }
    }
    char *found = path ? NULL : rb__runbook_find("runbooks", name ? name : "");
    const char *file = path ? path : found;
    const char *slash = file ? strrchr(file, '/') : NULL;
    char *base = slash ? strndup(file, (size_t)(slash - file) + (slash == file)) : strdup(".");
    free(found);
    return base;
}

int rb_run_resume_prepare(uv_loop_t *loop, rb_journal_t *j, int64_t id, const char *dir,
                          int rerun, const rb_run_opts_t *o, rb_diags_t *d, rb_runbook_t **rbp,
                          rb_run_t **runp, char *err, size_t errlen)
{
    *rbp = NULL;
    *runp = NULL;
    json_t *point = NULL, *run = NULL;
    int rc = rb_journal_run_resume_point(j, id, &point);
    if (rc < 0) {
        /* not there, or the journal's own reason: a text that does not
         * match its hash, a read that failed */
        if (rc == RB_ENOTFOUND)
            snprintf(err, errlen, "no run %lld in the journal", (long long)id);
        else
            snprintf(err, errlen, "%s", rb_journal_errmsg(j));
        return rc;
    }
    const char *status = json_string_value(json_object_get(point, "status"));
    if (!status || strcmp(status, "interrupted")) {
        snprintf(err, errlen, "run %lld is %s, not interrupted: %s", (long long)id,
                 status ? status : "?",
                 status && (!strcmp(status, "running") || !strcmp(status, "waiting_approval"))
                     ? "another process is running it"
                     : "start a new run instead");
        json_decref(point);
        return RB_EINVAL;
    }
    const char *src = json_string_value(json_object_get(point, "source"));
    const char *name = json_string_value(json_object_get(point, "runbook"));
    if (rb_journal_run_get(j, id, &run) < 0) {
        snprintf(err, errlen, "%s", rb_journal_errmsg(j));
        json_decref(point);
        return RB_EJOURNAL;
    }
    char *base = dir ? strdup(dir) : resume_dir(run, name);
    rc = rb_runbook_load_text(name ? name : "recorded", src ? src : "", src ? strlen(src) : 0,
                              base, d, rbp);
    free(base);
    if (rc < 0) {
        snprintf(err, errlen, "the recorded runbook does not load in this version");
        json_decref(point);
        json_decref(run);
        return RB_EINVAL;
    }
    const char *next = json_string_value(json_object_get(point, "next_step"));
    long at = next ? rb_runbook_step_index(*rbp, next) : -1;
    const rb_step_t *st = at >= 0 ? rb_runbook_step(*rbp, (size_t)at) : NULL;
    /* A read-only action changed nothing: running it again is always safe. */
    if (st && json_is_true(json_object_get(point, "next_step_started")) && !rerun &&
        !st->idempotent && (st->inv.action->flags & RB_ACTION_SIDE_EFFECTS)) {
        snprintf(err, errlen,
                 "step %s of run %lld was started but its result was never "
                 "recorded: it may have run, in part or whole. It is not marked idempotent, so it "
                 "is not run again on its own. Check what it did, then resume with "
                 "--rerun-started to run it again.", next, (long long)id);
        json_decref(point);
        json_decref(run);
        rb_runbook_free(*rbp);
        *rbp = NULL;
        return RB_EBUSY;
    }
    rc = rb_run_resume(loop, *rbp, j, point, json_object_get(run, "events"), o, runp, err, errlen);
    json_decref(point);
    json_decref(run);
    if (rc < 0) {
        rb_runbook_free(*rbp);
        *rbp = NULL;
    }
    return rc;
}
