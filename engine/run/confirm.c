/*
 * confirm.c — the run's decision between detect and the steps (see
 * run_int.h, docs/semantics.md "Detect and confirm"): `confirm`, the
 * checks it depends on, the inconclusive end when a probe it needs could
 * not run or it cannot be evaluated, then severity and the declaration.
 *
 * Owns no state of its own: it reads the detect results in the run's
 * context, journals through run.c and ends the run only through
 * rb__run_end().
 */
#include "run_int.h"

#include <stdio.h>
#include <string.h>

/* Which checks `confirm` depends on (R-probe-error): it reads anything of
 * them but their outcome (`status`, or `outcome` for an action whose status
 * is its own) and `error`, and does not read their outcome — a confirm
 * that reads checks.X.status says itself what an error of X means. For an
 * http check `status` is the HTTP code: reading it is reading evidence,
 * and only `outcome` says what its error means. */
typedef struct deps {
    json_t *names;   /* {name: true}: read for evidence */
    json_t *status;  /* {name: true}: its `status` is read */
    json_t *outcome; /* {name: true}: its `outcome` is read */
    int all;         /* a computed name: any check may be read */
} deps_t;

static void on_confirm_field(const char *name, const char *field, void *arg)
{
    deps_t *d = arg;
    if (field && !strcmp(field, "error"))
        return;
    if (field && (!strcmp(field, "status") || !strcmp(field, "outcome"))) {
        if (name)
            json_object_set_new(!strcmp(field, "status") ? d->status : d->outcome, name,
                                json_true());
        return;
    }
    if (!name)
        d->all = 1;
    else
        json_object_set_new(d->names, name, json_true());
}

/* The detect checks that could not run (outcome error) and that confirm
 * depends on, as [{check, error}] (a new reference; empty when none). */
static json_t *unrunnable_checks(rb_run_t *r, const rb_expr_t *cf)
{
    deps_t d = {json_object(), json_object(), json_object(), 0};
    if (cf)
        rb_expr_fields(cf, "checks", on_confirm_field, &d);
    json_t *out = json_array();
    for (size_t i = 0; i < rb_runbook_nchecks(r->rb, 0); i++) {
        const char *nm = rb_runbook_check(r->rb, 0, i)->name;
        const json_t *res = json_object_get(r->checks, nm);
        if (strcmp(rb__result_outcome(res), "error"))
            continue;
        /* `status` is the outcome only when it is a word (not http's code) */
        int word = json_is_string(json_object_get(res, "status"));
        int handled = json_object_get(d.outcome, nm) || (word && json_object_get(d.status, nm));
        int read = d.all || json_object_get(d.names, nm) || (!word && json_object_get(d.status, nm));
        /* without confirm, every check is evidence (R-default-confirm) */
        if (cf && (!read || handled))
            continue;
        const char *why = json_string_value(json_object_get(res, "error"));
        json_array_append_new(out,
                              json_pack("{s:s,s:s}", "check", nm, "error", why ? why : "error"));
    }
    json_decref(d.names);
    json_decref(d.status);
    json_decref(d.outcome);
    return out;
}

/* Ends the run inconclusive (R-probe-error, R-confirm-error): nothing acted.
 * data: the confirm event's data (borrowed), with what could not run. */
static void end_inconclusive(rb_run_t *r, json_t *data, const char *msg)
{
    json_object_set_new(data, "confirmed", json_false());
    json_object_set_new(data, "inconclusive", json_true());
    int rc = rb__run_emit(r, "confirm", NULL, 0, data);
    if (rc < 0) {
        rb__run_journal_failed(r, rc);
        return;
    }
    rb__run_end(r, "inconclusive", msg);
}

/* Picks the severity (first rule that matches). A rule whose `when` cannot
 * be evaluated is journaled and the run takes the most severe level any
 * rule names, so a broken rule never lowers the severity (R-severity-error).
 * Returns the level or NULL; *errors gets [{rule, error}] or stays NULL;
 * *rule the index of the rule that chose it (-1: none did, or an error). */
static const char *pick_severity(rb_run_t *r, json_t **errors, long *rule)
{
    const char *level = NULL;
    *rule = -1;
    char e[256] = "";
    *errors = NULL;
    size_t n = rb_runbook_nseverity(r->rb);
    for (size_t i = 0; i < n && !level; i++) {
        const rb_severity_rule_t *s = rb_runbook_severity(r->rb, i);
        int t = s->when ? rb_expr_test(s->when, r->ctx, e, sizeof(e)) : 1;
        if (t > 0) {
            level = s->level;
            *rule = (long)i;
        } else if (t < 0) {
            if (!*errors)
                *errors = json_array();
            json_array_append_new(
                *errors, json_pack("{s:i,s:s,s:s}", "rule", (int)i, "level", s->level, "error", e));
        }
    }
    if (!*errors)
        return level;
    *rule = -1;
    const char *worst = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *l = rb_runbook_severity(r->rb, i)->level;
        if (!worst || rb_runbook_level_rank(r->rb, l) < rb_runbook_level_rank(r->rb, worst))
            worst = l;
    }
    return worst;
}

void rb__run_confirm(rb_run_t *r)
{
    char e[256] = "";
    const rb_expr_t *cf = rb_runbook_confirm(r->rb);
    /* A probe that could not run is never a symptom (R-probe-error,
     * R-default-confirm). */
    json_t *unrun = unrunnable_checks(r, cf);
    if (json_array_size(unrun)) {
        char msg[400];
        size_t o = 0;
        size_t i;
        json_t *u;
        json_array_foreach(unrun, i, u)
        {
            if (o < sizeof(msg))
                o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%scheck %s could not run (%s)",
                                      i ? "; " : "", json_string_value(json_object_get(u, "check")),
                                      json_string_value(json_object_get(u, "error")));
        }
        json_t *d = json_pack("{s:o}", "unrunnable", unrun);
        end_inconclusive(r, d, msg);
        json_decref(d);
        return;
    }
    json_decref(unrun);
    if (cf) {
        int t = rb_expr_test(cf, r->ctx, e, sizeof(e));
        if (t < 0) {
            char msg[300];
            snprintf(msg, sizeof(msg), "confirm: %s", e);
            json_t *d = json_pack("{s:s}", "error", e);
            end_inconclusive(r, d, msg);
            json_decref(d);
            return;
        }
        json_t *d = json_pack("{s:b}", "confirmed", t > 0);
        int rc = rb__run_emit(r, "confirm", NULL, 0, d);
        json_decref(d);
        if (rc < 0) {
            rb__run_journal_failed(r, rc);
            return;
        }
        if (t == 0) {
            rb__run_end(r, "not_confirmed", NULL);
            return;
        }
    }
    json_t *sev_errors;
    long rule;
    const char *level = pick_severity(r, &sev_errors, &rule);
    if (level) {
        uint64_t respond = 0, resolve = 0;
        rb_runbook_level_targets(r->rb, level, &respond, &resolve);
        rb__run_set_field(r, "severity", json_string(level));
        json_t *d = json_pack("{s:s,s:I,s:I}", "level", level, "respond_ms", (json_int_t)respond,
                              "resolve_ms", (json_int_t)resolve);
        if (sev_errors)
            json_object_set(d, "errors", sev_errors);
        if (rule >= 0) /* which rule chose it: a replay checks the same one does */
            json_object_set_new(d, "rule", json_integer(rule));
        int rc = rb__run_emit(r, "severity_assigned", NULL, 0, d);
        json_decref(d);
        if (rc < 0) {
            json_decref(sev_errors);
            rb__run_journal_failed(r, rc);
            return;
        }
    }
    json_decref(sev_errors);
    if (rb__run_emit(r, "declared", NULL, 0, NULL) < 0) {
        rb__run_journal_failed(r, RB_EJOURNAL);
        return;
    }
    rb__run_notify(r, RB_EV_DECLARED, "declared");
    if (level)
        rb__run_notify(r, RB_EV_SEVERITY, "severity");
    r->state = RS_STEPS;
    rb__step_begin(r, 0);
}
