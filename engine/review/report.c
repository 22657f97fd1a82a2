/*
 * report.c — the post-incident review of a run as data (rb_review_report):
 * what happened, read back from the journal, in the shape of the seeds'
 * post-incident template: summary, severity and why, duration against the
 * level's targets, a timeline (detection, response, escalation,
 * mitigation, resolution, all clear), every command with its result and an
 * output excerpt, approvals (who, when), notifications, what was skipped
 * and why, sub-runbooks, and the hash-chain status of the run's events.
 * The writers (report_md.c, report_html.c) only format this.
 *
 * Owns nothing past a call. Reads the journal only through its API.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include "review_int.h"

#include "expr/expr.h"
#include "load/diag.h"
#include "load/doc.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXCERPT_LINES 8
#define EXCERPT_BYTES 1200

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static json_int_t jint(const json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

/* The first lines of an output, cut. New reference (a string), or NULL. */
static json_t *excerpt(const char *s)
{
    if (!s || !*s)
        return NULL;
    size_t n = 0, lines = 0;
    while (s[n] && n < EXCERPT_BYTES && lines < EXCERPT_LINES)
        if (s[n++] == '\n')
            lines++;
    size_t len = n;
    while (len && s[len - 1] == '\n')
        len--;
    json_t *v = json_stringn(s, len);
    if (v && s[n]) {
        char *cut = NULL;
        if (asprintf(&cut, "%s\n…", json_string_value(v)) >= 0) {
            json_decref(v);
            v = json_string(cut);
            free(cut);
        }
    }
    return v;
}

/* What an action ran, as a line: "$ argv…" for exec, else the action and
 * its parameters as compact JSON. New reference. */
static json_t *command_of(const char *action, const json_t *with)
{
    const json_t *argv = json_object_get(with, "argv");
    if (action && !strcmp(action, "exec") && json_is_array(argv)) {
        size_t cap = 64, len = 0, i;
        char *buf = malloc(cap);
        json_t *a;
        buf[len++] = '$';
        json_array_foreach(argv, i, a) {
            /* quoted as a shell would need it (a string with a NUL cannot be) */
            char *raw = json_is_string(a) ? NULL : json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT);
            const char *txt = raw ? raw : json_string_value(a);
            size_t tl0 = raw ? strlen(raw) : json_string_length(a);
            int plain = tl0 && strspn(txt, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == tl0;
            char *t = plain ? strdup(txt) : rb_shell_quote(txt, tl0);
            size_t tl = t ? strlen(t) : 0;
            while (len + tl + 8 > cap)
                buf = realloc(buf, cap *= 2);
            buf[len++] = ' ';
            if (t)
                memcpy(buf + len, t, tl), len += tl;
            free(t);
            free(raw);
        }
        json_t *v = json_stringn(buf, len);
        free(buf);
        return v;
    }
    if (action && !strcmp(action, "exec") && json_is_string(json_object_get(with, "shell"))) {
        char *t = NULL;
        json_t *v = asprintf(&t, "$ %s", jstr(with, "shell")) >= 0 ? json_string(t) : json_string("");
        free(t);
        return v;
    }
    char *js = with ? json_dumps(with, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *t = NULL;
    json_t *v = asprintf(&t, "%s %s", action ? action : "?", js ? js : "{}") >= 0 ? json_string(t) : json_string("");
    free(t);
    free(js);
    return v;
}

/* A result's outcome word. */
static const char *outcome(const json_t *res)
{
    const char *o = jstr(res, "outcome");
    if (!o)
        o = jstr(res, "status");
    return o ? o : json_is_true(json_object_get(res, "ok")) ? "ok" : "failed";
}

static void tl(json_t *timeline, json_int_t t, const char *phase, const char *what, const char *step,
               const char *status)
{
    json_array_append_new(timeline, json_pack("{s:I,s:s,s:s,s:s?,s:s?}", "t_ms", t, "phase", phase, "what", what,
                                              "step", step, "status", status));
}

/* The runbook's title and targets from its recorded version (no compile:
 * a version this build could not load still has a report). */
static void version_facts(rb_journal_t *j, const char *sha, json_t *rep)
{
    char *src = NULL;
    size_t len = 0;
    if (!sha || rb_journal_get_version(j, sha, &src, &len) < 0)
        return;
    rb_diags_t *d = rb_diags_new();
    rb_doc_t *doc = NULL;
    if (rb_doc_load_string("recorded", src, len, d, &doc) == 0) {
        const json_t *root = rb_doc_root(doc);
        if (json_is_string(json_object_get(root, "title")))
            json_object_set(rep, "title", json_object_get(root, "title"));
        if (json_is_string(json_object_get(root, "owner")))
            json_object_set(rep, "owner", json_object_get(root, "owner"));
    }
    rb_doc_free(doc);
    rb_diags_free(d);
    free(src);
}

int rb_review_report(rb_journal_t *j, int64_t run_id, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_t *run = NULL;
    if (rb_journal_run_get(j, run_id, &run) < 0) {
        snprintf(err, errlen, "no run %lld in the journal", (long long)run_id);
        return RB_ENOTFOUND;
    }
    const json_t *events = json_object_get(run, "events");
    const json_t *first = json_array_get(events, 0);
    json_int_t t0 = jint(first, "wall_ms");
    json_t *rep = json_pack("{s:I,s:O,s:O,s:O,s:O,s:O,s:O}", "run", (json_int_t)run_id, "runbook",
                            json_object_get(run, "runbook"), "status", json_object_get(run, "status"), "trigger",
                            json_object_get(run, "trigger"), "params", json_object_get(run, "params"), "started_at",
                            json_object_get(run, "started_at"), "ended_at", json_object_get(run, "ended_at"));
    json_object_set(rep, "sha256", json_object_get(run, "sha256"));
    version_facts(j, jstr(run, "sha256"), rep);
    json_t *timeline = json_array(), *steps = json_array(), *approvals = json_array(), *notes = json_array();
    json_t *escal = json_array(), *skipped = json_array(), *people = json_object(), *severity = json_null();
    json_t *open = json_object(); /* step → its entry in steps, while it runs */
    json_int_t first_action = -1, end_t = -1, run_dur = -1;
    size_t unsent = 0;
    const char *final_error = NULL;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        const char *type = jstr(ev, "type"), *step = jstr(ev, "step");
        const json_t *data = json_object_get(ev, "data");
        json_int_t t = jint(ev, "wall_ms") - t0;
        char what[400];
        if (!type)
            continue;
        if (!strcmp(type, "run_started")) {
            json_object_set_new(rep, "dry_run", json_boolean(json_is_true(json_object_get(data, "dry_run"))));
            if (json_object_get(data, "alert"))
                json_object_set(rep, "alert", json_object_get(data, "alert"));
            tl(timeline, t, "detection", json_object_get(data, "alert") ? "the alert started the run" : "the run started",
               NULL, NULL);
        } else if (!strcmp(type, "check_finished")) {
            snprintf(what, sizeof what, "%s check %s: %s", jstr(data, "phase") ? jstr(data, "phase") : "",
                     step ? step : "?", outcome(json_object_get(data, "result")));
            tl(timeline, t, !strcmp(jstr(data, "phase") ? jstr(data, "phase") : "", "validate") ? "resolution" : "detection",
               what, step, outcome(json_object_get(data, "result")));
        } else if (!strcmp(type, "confirm")) {
            tl(timeline, t, "detection",
               json_is_true(json_object_get(data, "confirmed")) ? "the failure is confirmed"
               : json_is_true(json_object_get(data, "inconclusive")) ? "inconclusive: a check confirm needs could not run"
                                                                     : "not confirmed: nothing to do",
               NULL, NULL);
        } else if (!strcmp(type, "severity_assigned")) {
            json_decref(severity);
            severity = json_deep_copy(data);
            snprintf(what, sizeof what, "severity %s%s", jstr(data, "level") ? jstr(data, "level") : "?",
                     json_is_integer(json_object_get(data, "rule")) ? " (its rule matched)" : "");
            tl(timeline, t, "response", what, NULL, NULL);
        } else if (!strcmp(type, "declared")) {
            tl(timeline, t, "response", "declared: recovery starts", NULL, NULL);
        } else if (!strcmp(type, "step_started") && step) {
            if (first_action < 0)
                first_action = t;
            /* started again after an interruption (resume): one step, the
             * one that went on */
            json_t *stale = json_object_get(open, step);
            for (size_t k = 0; stale && k < json_array_size(steps); k++)
                if (json_array_get(steps, k) == stale) {
                    json_array_remove(steps, k);
                    break;
                }
            json_t *s = json_pack("{s:s,s:I,s:O,s:o,s:s,s:i}", "name", step, "t_ms", t, "action",
                                  json_object_get(data, "action"),
                                  "command", command_of(jstr(data, "action"), json_object_get(data, "with")),
                                  "status", "running", "attempts", 0);
            if (json_is_array(json_object_get(data, "items")))
                json_object_set_new(s, "items", json_integer((json_int_t)json_array_size(json_object_get(data, "items"))));
            json_array_append_new(steps, s);
            json_object_set(open, step, s);
            snprintf(what, sizeof what, "step %s started", step);
            tl(timeline, t, "mitigation", what, step, NULL);
        } else if (!strcmp(type, "attempt_finished") && step && json_object_get(open, step)) {
            json_t *s = json_object_get(open, step);
            const json_t *res = json_object_get(data, "result");
            if (!strcmp(jstr(data, "phase") ? jstr(data, "phase") : "", "main")) {
                json_t *att = json_object_get(s, "attempt_list");
                if (!att)
                    json_object_set_new(s, "attempt_list", att = json_array());
                json_array_append_new(att, json_pack("{s:I,s:I,s:s}", "t_ms", t, "duration_ms", jint(res, "duration_ms"),
                                                     "status", outcome(res)));
            }
        } else if (!strcmp(type, "step_retry") && step) {
            snprintf(what, sizeof what, "step %s retries (attempt %lld in %lldms: %s)", step,
                     (long long)jint(data, "next_attempt"), (long long)jint(data, "delay_ms"),
                     jstr(data, "reason") ? jstr(data, "reason") : "");
            tl(timeline, t, "mitigation", what, step, "retry");
        } else if (!strcmp(type, "step_finished") && step) {
            json_t *s = json_object_get(open, step);
            const json_t *res = json_object_get(data, "result");
            if (!s) { /* a step that failed before starting (approval, rendering) */
                s = json_pack("{s:s,s:I,s:s}", "name", step, "t_ms", t, "command", "");
                json_array_append_new(steps, s);
            }
            json_object_set(s, "status", json_object_get(data, "status"));
            json_object_set(s, "attempts", json_object_get(data, "attempts"));
            json_object_set(s, "duration_ms", json_object_get(data, "duration_ms"));
            json_t *o = excerpt(jstr(res, "stdout"));
            if (o)
                json_object_set_new(s, "output", o);
            if ((o = excerpt(jstr(res, "stderr"))))
                json_object_set_new(s, "stderr", o);
            if (jstr(res, "error"))
                json_object_set(s, "error", json_object_get(res, "error"));
            if (json_is_integer(json_object_get(res, "exit_code")))
                json_object_set(s, "exit_code", json_object_get(res, "exit_code"));
            json_object_del(open, step);
            snprintf(what, sizeof what, "step %s: %s", step, jstr(data, "status") ? jstr(data, "status") : "?");
            tl(timeline, t, "mitigation", what, step, jstr(data, "status"));
        } else if (!strcmp(type, "step_skipped") && step) {
            json_array_append_new(skipped, json_pack("{s:s,s:s}", "step", step, "reason",
                                                     jstr(data, "reason") ? jstr(data, "reason") : ""));
            json_array_append_new(steps, json_pack("{s:s,s:I,s:s,s:s,s:i,s:I,s:s}", "name", step, "t_ms", t, "command", "",
                                                   "status", "skipped", "attempts", 0, "duration_ms", (json_int_t)0,
                                                   "error", jstr(data, "reason") ? jstr(data, "reason") : ""));
            snprintf(what, sizeof what, "step %s skipped: %s", step, jstr(data, "reason") ? jstr(data, "reason") : "");
            tl(timeline, t, "mitigation", what, step, "skipped");
        } else if (!strcmp(type, "approval_requested") && step) {
            json_array_append_new(approvals, json_pack("{s:s,s:I,s:s,s:s,s:n}", "step", step, "requested_ms", t,
                                                       "answer", "waiting", "by", "", "at_ms"));
            snprintf(what, sizeof what, "step %s waits for approval", step);
            tl(timeline, t, "mitigation", what, step, "waiting");
        } else if ((!strcmp(type, "approval_granted") || !strcmp(type, "approval_denied") ||
                    !strcmp(type, "approval_timeout")) && step) {
            const char *ans = !strcmp(type, "approval_granted") ? "granted" : !strcmp(type, "approval_denied") ? "denied" : "timed out";
            json_t *a = NULL;
            size_t k = json_array_size(approvals);
            while (k-- > 0)
                if (!strcmp(jstr(json_array_get(approvals, k), "step"), step) &&
                    !strcmp(jstr(json_array_get(approvals, k), "answer"), "waiting")) {
                    a = json_array_get(approvals, k);
                    break;
                }
            if (!a) { /* a drill's, asked of nobody */
                a = json_pack("{s:s,s:I}", "step", step, "requested_ms", t);
                json_array_append_new(approvals, a);
            }
            json_object_set_new(a, "answer", json_string(ans));
            json_object_set(a, "by", json_object_get(data, "by") ? json_object_get(data, "by") : json_string(""));
            json_object_set_new(a, "at_ms", json_integer(t));
            if (jstr(data, "by"))
                json_object_set_new(people, jstr(data, "by"), json_true());
            snprintf(what, sizeof what, "step %s: approval %s by %s", step, ans, jstr(data, "by") ? jstr(data, "by") : "?");
            tl(timeline, t, "mitigation", what, step, ans);
        } else if (!strcmp(type, "escalated") || !strcmp(type, "escalation_held")) {
            int held = !strcmp(type, "escalation_held");
            json_array_append_new(escal, json_pack("{s:I,s:I,s:b}", "level", jint(data, "level"), "t_ms", t, "held", held));
            snprintf(what, sizeof what, held ? "escalation level %lld not sent (its unless held)" : "escalated to level %lld",
                     (long long)jint(data, "level"));
            tl(timeline, t, "escalation", what, NULL, held ? "held" : "escalated");
        } else if (!strcmp(type, "notification_sent")) {
            const json_t *res = json_object_get(data, "result");
            json_t *n = json_pack("{s:s?,s:I,s:b,s:s}", "event", step, "t_ms", t, "ok",
                                  json_is_true(json_object_get(res, "ok")), "status", outcome(res));
            /* where it went and, when it was not sent, why (as journaled:
             * secrets masked) */
            char detail[600] = "";
            size_t dl = 0;
            static const char *const keys[] = {"channel", "target", "error"};
            for (size_t k = 0; k < 3; k++) {
                const char *v = jstr(res, keys[k]);
                if (!v || !*v || (k == 2 && json_is_true(json_object_get(res, "ok"))))
                    continue;
                json_object_set_new(n, keys[k], json_string(v));
                if (dl < sizeof detail)
                    dl += (size_t)snprintf(detail + dl, sizeof detail - dl, "%s%s%s", dl ? (k == 2 ? ": " : " ") : "",
                                           k == 0 ? "via " : k == 1 ? "to " : "", v);
            }
            if (*detail)
                json_object_set_new(n, "detail", json_string(detail));
            if (!json_is_true(json_object_get(res, "ok")))
                unsent++;
            json_array_append_new(notes, n);
        } else if (!strcmp(type, "rollback_started")) {
            snprintf(what, sizeof what, "rollback after %s failed (%lld undo step%s)",
                     jstr(data, "failed_step") ? jstr(data, "failed_step") : "?", (long long)jint(data, "undo_steps"),
                     jint(data, "undo_steps") == 1 ? "" : "s");
            tl(timeline, t, "mitigation", what, NULL, "rollback");
        } else if (!strcmp(type, "undo_finished") && step) {
            snprintf(what, sizeof what, "undo of %s: %s", step, jstr(data, "status") ? jstr(data, "status") : "?");
            tl(timeline, t, "mitigation", what, step, jstr(data, "status"));
        } else if (!strcmp(type, "phase_started") && jstr(data, "phase") && !strcmp(jstr(data, "phase"), "validate")) {
            tl(timeline, t, "resolution", "post-recovery validation started", NULL, NULL);
        } else if (!strcmp(type, "cancel_requested") || !strcmp(type, "alert_resolved") ||
                   !strcmp(type, "run_interrupted") || !strcmp(type, "run_resumed")) {
            tl(timeline, t, "response",
               !strcmp(type, "cancel_requested") ? "cancel requested"
               : !strcmp(type, "alert_resolved") ? "the alert resolved"
               : !strcmp(type, "run_interrupted") ? "the engine stopped (interrupted)" : "resumed",
               NULL, NULL);
        } else if (!strcmp(type, "run_finished")) {
            end_t = t;
            if (json_is_integer(json_object_get(data, "duration_ms"))) /* the engine's own measure */
                run_dur = jint(data, "duration_ms");
            final_error = jstr(data, "error");
            if (final_error)
                json_object_set(rep, "error", json_object_get(data, "error"));
            const char *st = jstr(data, "status") ? jstr(data, "status") : "?";
            snprintf(what, sizeof what, "run finished: %s", st);
            tl(timeline, t, !strcmp(st, "resolved") ? "all clear" : "resolution", what, NULL, st);
        }
    }
    /* the duration the run's summary and `show` say: run_finished's */
    json_int_t dur = run_dur >= 0 ? run_dur
                     : end_t >= 0 ? end_t
                                  : jint(json_array_get(events, json_array_size(events) - 1), "wall_ms") - t0;
    json_object_set_new(rep, "duration_ms", json_integer(dur));
    json_object_set_new(rep, "finished", json_boolean(end_t >= 0));
    /* durations against the level's targets */
    json_t *targets = json_object();
    if (json_is_object(severity)) {
        json_int_t respond = jint(severity, "respond_ms"), resolve = jint(severity, "resolve_ms");
        json_object_set_new(targets, "respond_ms", json_integer(respond));
        json_object_set_new(targets, "resolve_ms", json_integer(resolve));
        if (first_action >= 0) {
            json_object_set_new(targets, "responded_ms", json_integer(first_action));
            if (respond)
                json_object_set_new(targets, "respond_met", json_boolean(first_action <= respond));
        }
        if (end_t >= 0 && resolve)
            json_object_set_new(targets, "resolve_met",
                                json_boolean(!strcmp(jstr(run, "status") ? jstr(run, "status") : "", "resolved") && end_t <= resolve));
    }
    json_object_set_new(rep, "severity", severity);
    json_object_set_new(rep, "targets", targets);
    /* a one-paragraph summary, from the facts */
    size_t nok = 0, nfail = 0;
    json_t *s;
    json_array_foreach(steps, i, s) {
        const char *st = jstr(s, "status");
        if (st && (!strcmp(st, "ok") || !strcmp(st, "simulated")))
            nok++;
        else if (st && strcmp(st, "skipped") && strcmp(st, "running"))
            nfail++;
    }
    char summary[1200], d1[32], ended[160];
    rb_duration_format((uint64_t)(dur > 0 ? dur : 0), d1, sizeof d1);
    const char *rs = jstr(run, "status") ? jstr(run, "status") : "?";
    if (!strcmp(rs, "interrupted")) /* its process stopped, nobody resumed it */
        snprintf(ended, sizeof ended, "was interrupted (its process stopped; `runbook resume %lld` "
                 "finishes it) after", (long long)run_id);
    else if (end_t < 0) /* going, or its process died and no writer marked it yet */
        snprintf(ended, sizeof ended, "has not ended (%s) after", rs);
    else
        snprintf(ended, sizeof ended, "ended %s after", rs);
    snprintf(summary, sizeof summary, "Run %lld of %s (%s) %s %s%s%s. %zu step%s ran ok, %zu did not, %zu %s skipped.%s%s",
             (long long)run_id, jstr(run, "runbook") ? jstr(run, "runbook") : "?", jstr(run, "trigger") ? jstr(run, "trigger") : "?",
             ended, d1,
             json_is_object(json_object_get(rep, "severity")) ? ", graded " : "",
             json_is_object(json_object_get(rep, "severity")) ? jstr(json_object_get(rep, "severity"), "level") : "", nok,
             nok == 1 ? "" : "s", nfail, json_array_size(skipped), json_array_size(skipped) == 1 ? "was" : "were",
             final_error ? " Why: " : "", final_error ? final_error : "");
    if (unsent) {
        size_t sl = strlen(summary);
        snprintf(summary + sl, sizeof summary - sl, " %zu notification%s not sent.", unsent,
                 unsent == 1 ? " was" : "s were");
    }
    json_object_set_new(rep, "summary", json_string(summary));
    json_object_set_new(rep, "timeline", timeline);
    json_object_set_new(rep, "steps", steps);
    json_object_set_new(rep, "approvals", approvals);
    json_object_set_new(rep, "notifications", notes);
    json_object_set_new(rep, "escalations", escal);
    json_object_set_new(rep, "skipped", skipped);
    json_t *who = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(people, k, v)
        json_array_append_new(who, json_string(k));
    json_object_set_new(rep, "people", who);
    json_decref(people);
    json_decref(open);
    /* sub-runbooks */
    json_t *children = NULL;
    if (rb_journal_run_children(j, run_id, &children) == 0)
        json_object_set_new(rep, "subruns", children);
    else
        json_object_set_new(rep, "subruns", json_array());
    /* the hash chain: the whole journal is checked, this run's problems kept */
    json_t *ver = NULL, *chain = json_pack("{s:b,s:[]}", "ok", 1, "problems");
    if (rb_journal_verify(j, &ver) == 0) {
        json_t *p;
        json_array_foreach(json_object_get(ver, "problems"), i, p)
            if (jint(p, "run_id") == run_id || !json_is_integer(json_object_get(p, "run_id")))
                json_array_append(json_object_get(chain, "problems"), p);
        json_object_set_new(chain, "ok", json_boolean(json_array_size(json_object_get(chain, "problems")) == 0));
        json_object_set_new(chain, "journal_ok", json_boolean(json_is_true(json_object_get(ver, "ok"))));
    } else {
        json_object_set_new(chain, "ok", json_false());
        json_object_set_new(chain, "error", json_string(rb_journal_errmsg(j)));
    }
    json_decref(ver);
    json_object_set_new(rep, "chain", chain);
    json_decref(run);
    *out = rep;
    return 0;
}
