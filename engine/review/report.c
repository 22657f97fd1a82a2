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

/* The first lines of an output (s[0..len), which may hold NUL bytes: all
 * of them are kept), cut with a mark "…" when there is more. New reference
 * (a string), or NULL when there is nothing. */
static json_t *excerpt(const char *s, size_t len)
{
    if (!s || !len)
        return NULL;
    size_t n = 0, lines = 0;
    while (n < len && n < EXCERPT_BYTES && lines < EXCERPT_LINES)
        if (s[n++] == '\n')
            lines++;
    size_t keep = n;
    while (keep && s[keep - 1] == '\n')
        keep--;
    if (!keep)
        return NULL;
    if (n >= len)
        return json_stringn(s, keep);
    char *cut = malloc(keep + 8);
    if (!cut)
        return NULL;
    memcpy(cut, s, keep);
    memcpy(cut + keep, "\n\xe2\x80\xa6", 4); /* "\n…" */
    json_t *v = json_stringn(cut, keep + 4);
    free(cut);
    return v;
}

/* A result's output excerpts, error and exit code, onto the report entry e
 * (a step or a foreach item). */
static void result_facts(json_t *e, const json_t *res)
{
    const char *s;
    size_t n = rv_jstrn(res, "stdout", &s);
    json_t *o = excerpt(s, n);
    if (o)
        json_object_set_new(e, "output", o);
    n = rv_jstrn(res, "stderr", &s);
    if ((o = excerpt(s, n)))
        json_object_set_new(e, "stderr", o);
    if (jstr(res, "error"))
        json_object_set(e, "error", json_object_get(res, "error"));
    if (json_is_integer(json_object_get(res, "exit_code")))
        json_object_set(e, "exit_code", json_object_get(res, "exit_code"));
    if (jstr(res, "assumed")) /* a drill's simulated step: how --assume took it */
        json_object_set(e, "assumed", json_object_get(res, "assumed"));
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
        if (!buf)
            return json_string("");
        buf[len++] = '$';
        json_array_foreach(argv, i, a) {
            /* quoted as a shell would need it (a string with a NUL cannot be) */
            char *raw = json_is_string(a) ? NULL : json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT);
            const char *txt = raw ? raw : json_string_value(a);
            size_t tl0 = raw ? strlen(raw) : json_string_length(a);
            int plain = tl0 && strspn(txt, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == tl0;
            char *t = plain ? strdup(txt) : rb_shell_quote(txt, tl0);
            size_t tl = t ? strlen(t) : 0;
            while (len + tl + 8 > cap) {
                char *nb = realloc(buf, cap *= 2);
                if (!nb) { /* out of memory: as asprintf's failure below */
                    free(t);
                    free(raw);
                    free(buf);
                    return json_string("");
                }
                buf = nb;
            }
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
 * a version this build could not load still has a report). 0, or the
 * journal's error when it could not be read (a version not recorded is
 * not one: the report goes without it). */
static int version_facts(rb_journal_t *j, const char *sha, json_t *rep)
{
    char *src = NULL;
    size_t len = 0;
    int rc = sha ? rb_journal_get_version(j, sha, &src, &len) : RB_ENOTFOUND;
    if (rc < 0)
        return rc == RB_ENOTFOUND ? 0 : rc;
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
    return 0;
}

/* The events whose data the report never reads: a step's log lines and
 * its attempt_started events (their times only) are most of a big run.
 * Every other event is parsed, so an event type the loop below starts to
 * read needs no change here (as the replayer's rv_rec_load). */
static const char *const report_skips[] = {"log", "attempt_started", NULL};

/* Notes a fact the journal does not hold (once per what). */
static void note_missing(json_t *missing, const char *what, const char *detail)
{
    size_t i;
    const json_t *m;
    json_array_foreach(missing, i, m)
        if (!strcmp(jstr(m, "what"), what))
            return;
    json_array_append_new(missing, json_pack("{s:s,s:s}", "what", what, "detail", detail));
}

/* The executive summary, one paragraph from the facts. A drill says that
 * nothing ran: its steps were simulated, some taken as failed (R-drill-*).
 * malloc'd. */
static char *summary_of(const json_t *rep, const json_t *steps, size_t nskipped, const char *why, size_t unsent)
{
    size_t nok = 0, nfail = 0, nsim = 0, nsimfail = 0, i;
    const json_t *s;
    json_array_foreach(steps, i, s) {
        const char *st = jstr(s, "status");
        if (st && !strcmp(st, "simulated")) {
            nsim++;
            nsimfail += jstr(s, "assumed") && !strcmp(jstr(s, "assumed"), "failed");
        } else if (st && !strcmp(st, "ok"))
            nok++;
        else if (st && strcmp(st, "skipped") && strcmp(st, "running"))
            nfail++;
    }
    char d[32], counts[300], *out = NULL;
    const json_t *sev = json_object_get(rep, "severity");
    int drill = json_is_true(json_object_get(rep, "dry_run"));
    if (drill) {
        int n = snprintf(counts, sizeof counts, "A drill: nothing with side effects ran. %zu step%s %s simulated (%zu taken as "
                         "failed), %zu %s skipped.", nsim, nsim == 1 ? "" : "s", nsim == 1 ? "was" : "were", nsimfail,
                         nskipped, nskipped == 1 ? "was" : "were");
        if (nok + nfail && n > 0 && (size_t)n < sizeof counts)
            snprintf(counts + n, sizeof counts - (size_t)n, " %zu step%s without side effects ran: %zu ok, %zu not.",
                     nok + nfail, nok + nfail == 1 ? "" : "s", nok, nfail);
    }
    else
        snprintf(counts, sizeof counts, "%zu step%s ran ok, %zu did not, %zu %s skipped.", nok, nok == 1 ? "" : "s", nfail,
                 nskipped, nskipped == 1 ? "was" : "were");
    char ended[160], unsent_s[80] = "";
    const char *rs = jstr(rep, "status") ? jstr(rep, "status") : "?";
    if (!strcmp(rs, "interrupted")) /* its process stopped, nobody resumed it */
        snprintf(ended, sizeof ended, "was interrupted (its process stopped; `runbook resume %lld` finishes it) after",
                 (long long)jint(rep, "run"));
    else if (!json_is_true(json_object_get(rep, "finished"))) /* going, or its process died unmarked */
        snprintf(ended, sizeof ended, "has not ended (%s) after", rs);
    else
        snprintf(ended, sizeof ended, "ended %s after", rs);
    if (unsent)
        snprintf(unsent_s, sizeof unsent_s, " %zu notification%s not sent.", unsent, unsent == 1 ? " was" : "s were");
    if (asprintf(&out, "Run %lld of %s (%s) %s %s%s%s. %s%s%s%s", (long long)jint(rep, "run"),
                 jstr(rep, "runbook") ? jstr(rep, "runbook") : "?", jstr(rep, "trigger") ? jstr(rep, "trigger") : "?", ended,
                 rv_fmt_dur(jint(rep, "duration_ms"), d, sizeof d), json_is_object(sev) ? ", graded " : "",
                 json_is_object(sev) && jstr(sev, "level") ? jstr(sev, "level") : "", counts, why ? " Why: " : "",
                 why ? why : "", unsent_s) < 0)
        return NULL;
    return out;
}

/* The report as its events are read (rb_journal_run_walk, one event at a
 * time: a run's events parsed whole would be most of the report's memory,
 * and its page faults most of its time): what the events add up to. */
typedef struct {
    json_t *rep, *timeline, *steps, *approvals, *notes, *escal, *skipped, *people, *severity;
    json_t *open;    /* step → its entry in steps, while it runs */
    json_t *last;    /* step → its newest entry in steps */
    json_t *missing; /* [{what, detail}] the journal did not record */
    json_t *undone;  /* the steps a rollback undid (or simulated undoing) */
    json_int_t t0, last_wall, first_action, end_t, run_dur;
    size_t nevents, unsent;
    const char *final_error; /* held by rep ("error") */
    char rollback_why[400], rollback_failed[200]; /* the run's end in the report's words, after a rollback */
} report_walk_t;

static int report_event(json_t *ev, void *arg)
{
    report_walk_t *w = arg;
    json_t *rep = w->rep, *timeline = w->timeline, *steps = w->steps, *approvals = w->approvals;
    json_t *notes = w->notes, *escal = w->escal, *skipped = w->skipped, *people = w->people;
    json_t *open = w->open, *last = w->last, *missing = w->missing, *undone = w->undone;
    if (w->nevents++ == 0)
        w->t0 = jint(ev, "wall_ms");
    w->last_wall = jint(ev, "wall_ms");
    json_int_t t0 = w->t0;
        const char *type = jstr(ev, "type"), *step = jstr(ev, "step");
        const json_t *data = json_object_get(ev, "data");
        json_int_t t = jint(ev, "wall_ms") - t0;
        char what[400];
        if (!type)
            return 0;
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
            json_decref(w->severity);
            w->severity = json_deep_copy(data);
            snprintf(what, sizeof what, "severity %s%s", jstr(data, "level") ? jstr(data, "level") : "?",
                     json_is_integer(json_object_get(data, "rule")) ? " (its rule matched)" : "");
            tl(timeline, t, "response", what, NULL, NULL);
        } else if (!strcmp(type, "declared")) {
            tl(timeline, t, "response", "declared: recovery starts", NULL, NULL);
        } else if (!strcmp(type, "step_started") && step) {
            if (w->first_action < 0)
                w->first_action = t;
            /* started again after an interruption (resume): one step, the
             * one that went on */
            json_t *stale = json_object_get(open, step);
            for (size_t k = 0; stale && k < json_array_size(steps); k++)
                if (json_array_get(steps, k) == stale) {
                    json_array_remove(steps, k);
                    break;
                }
            const json_t *items = json_object_get(data, "items");
            json_t *s = json_pack("{s:s,s:I,s:O,s:o,s:s,s:i}", "name", step, "t_ms", t, "action",
                                  json_object_get(data, "action"), "command",
                                  json_is_array(items) ? json_string("")
                                                       : command_of(jstr(data, "action"), json_object_get(data, "with")),
                                  "status", "running", "attempts", 0);
            if (json_is_array(items)) { /* a foreach step: what each item ran (R-foreach) */
                json_t *list = json_array(), *it;
                size_t k;
                json_array_foreach(items, k, it)
                    json_array_append_new(list, json_pack("{s:I,s:O,s:o,s:s,s:i}", "index", (json_int_t)k, "item",
                                                          json_object_get(it, "item") ? json_object_get(it, "item")
                                                                                      : json_null(),
                                                          "command",
                                                          command_of(jstr(data, "action"), json_object_get(it, "with")),
                                                          "status", "running", "attempts", 0));
                json_object_set_new(s, "items", list);
            }
            json_array_append_new(steps, s);
            json_object_set(open, step, s);
            json_object_set(last, step, s);
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
                json_t *it = json_array_get(json_object_get(s, "items"), (size_t)jint(data, "item"));
                if (it && json_is_integer(json_object_get(data, "item")))
                    json_object_set_new(it, "attempts", json_integer(jint(it, "attempts") + 1));
            }
        } else if (!strcmp(type, "item_finished") && step && json_object_get(open, step)) {
            json_t *it = json_is_integer(json_object_get(data, "item"))
                             ? json_array_get(json_object_get(json_object_get(open, step), "items"), (size_t)jint(data, "item"))
                             : NULL;
            const json_t *res = json_object_get(data, "result");
            if (it) {
                json_object_set(it, "status", json_object_get(data, "status") ? json_object_get(data, "status")
                                                                              : json_string(outcome(res)));
                if (json_is_integer(json_object_get(res, "attempt")))
                    json_object_set(it, "attempts", json_object_get(res, "attempt"));
                if (json_is_integer(json_object_get(res, "duration_ms")))
                    json_object_set(it, "duration_ms", json_object_get(res, "duration_ms"));
                result_facts(it, res);
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
                json_object_set(last, step, s);
            }
            json_object_set(s, "status", json_object_get(data, "status"));
            json_object_set(s, "attempts", json_object_get(data, "attempts"));
            json_object_set(s, "duration_ms", json_object_get(data, "duration_ms"));
            if (!json_object_get(s, "items"))
                result_facts(s, res);
            else if (jstr(res, "error"))
                json_object_set(s, "error", json_object_get(res, "error"));
            json_object_del(open, step);
            /* an approval still waiting when its step ended: nobody answered
             * (cancelled, the run stopped) — the step's end says why */
            size_t k = json_array_size(approvals);
            while (k-- > 0) {
                json_t *a = json_array_get(approvals, k);
                if (strcmp(jstr(a, "step"), step))
                    continue;
                if (!strcmp(jstr(a, "answer"), "waiting")) {
                    json_object_set(a, "answer", json_object_get(data, "status") ? json_object_get(data, "status")
                                                                                : json_string(outcome(res)));
                    json_object_set_new(a, "at_ms", json_integer(t));
                    if (jstr(res, "error"))
                        json_object_set(a, "reason", json_object_get(res, "error"));
                }
                break;
            }
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
            json_array_append_new(approvals, json_pack("{s:s,s:I,s:s,s:n,s:n}", "step", step, "requested_ms", t,
                                                       "answer", "waiting", "by", "at_ms"));
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
            json_object_set(a, "by", jstr(data, "by") ? json_object_get(data, "by") : json_null());
            if (!jstr(data, "by"))
                note_missing(missing, "approval", "who answered a step's approval is not recorded");
            json_object_set_new(a, "at_ms", json_integer(t));
            if (jstr(data, "comment")) /* the answer's why (the server's API) */
                json_object_set(a, "comment", json_object_get(data, "comment"));
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
                w->unsent++;
            json_array_append_new(notes, n);
        } else if (!strcmp(type, "rollback_started")) {
            /* undo_steps counts undos (a foreach step has one per item) */
            snprintf(w->rollback_failed, sizeof w->rollback_failed, "step %s failed",
                     jstr(data, "failed_step") ? jstr(data, "failed_step") : "?");
            snprintf(what, sizeof what, "rollback after %s failed: %lld undo%s to run",
                     jstr(data, "failed_step") ? jstr(data, "failed_step") : "?", (long long)jint(data, "undo_steps"),
                     jint(data, "undo_steps") == 1 ? "" : "s");
            tl(timeline, t, "mitigation", what, NULL, "rollback");
        } else if (!strcmp(type, "undo_finished") && step) {
            const json_t *it = json_is_integer(json_object_get(data, "item"))
                                   ? json_array_get(json_object_get(json_object_get(last, step), "items"),
                                                    (size_t)jint(data, "item"))
                                   : NULL;
            char item[120] = "";
            if (json_is_integer(json_object_get(data, "item"))) {
                char *v = json_dumps(json_object_get(it, "item"), JSON_ENCODE_ANY | JSON_COMPACT);
                snprintf(item, sizeof item, " item %lld%s%.80s%s", (long long)jint(data, "item"), v ? " (" : "",
                         v ? (json_is_string(json_object_get(it, "item")) ? jstr(it, "item") : v) : "", v ? ")" : "");
                free(v);
            }
            json_object_set_new(undone, step, json_true());
            snprintf(what, sizeof what, "undo of %s%s: %s", step, item, jstr(data, "status") ? jstr(data, "status") : "?");
            tl(timeline, t, "mitigation", what, step, jstr(data, "status"));
        } else if (!strcmp(type, "rollback_finished")) {
            int drill = json_is_true(json_object_get(rep, "dry_run"));
            snprintf(what, sizeof what, "rollback finished: %lld undo%s %s for %zu step%s, %lld failed",
                     (long long)jint(data, "undos"), jint(data, "undos") == 1 ? "" : "s", drill ? "simulated" : "ran",
                     json_object_size(undone), json_object_size(undone) == 1 ? "" : "s", (long long)jint(data, "failed"));
            if (json_is_true(json_object_get(data, "cancelled"))) { /* a cancel stopped it: its own words stand */
                size_t used = strlen(what), k;
                const json_t *nr;
                json_array_foreach(json_object_get(data, "not_run"), k, nr)
                    if (used < sizeof what) {
                        int n = snprintf(what + used, sizeof what - used, "%s%s", k ? ", " : "; cancelled, not run: ",
                                         jstr(nr, "step") ? jstr(nr, "step") : "?");
                        used += n > 0 ? (size_t)n : 0;
                        if (json_is_integer(json_object_get(nr, "item")) && used < sizeof what) {
                            n = snprintf(what + used, sizeof what - used, " item %lld", (long long)jint(nr, "item"));
                            used += n > 0 ? (size_t)n : 0;
                        }
                    }
                tl(timeline, t, "mitigation", what, NULL, "cancelled");
                return 0;
            }
            tl(timeline, t, "mitigation", what, NULL, jint(data, "failed") ? "failed" : "rollback");
            /* R-rollback-count: how many undos ran (the recorded error counts them as "steps") */
            snprintf(w->rollback_why, sizeof w->rollback_why, "%s; rollback: %lld undo%s %s for %zu step%s, %lld failed.",
                     w->rollback_failed[0] ? w->rollback_failed : "a step failed", (long long)jint(data, "undos"),
                     jint(data, "undos") == 1 ? "" : "s", drill ? "simulated" : "ran", json_object_size(undone),
                     json_object_size(undone) == 1 ? "" : "s", (long long)jint(data, "failed"));
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
            w->end_t = t;
            if (json_is_integer(json_object_get(data, "duration_ms"))) /* what the engine measured and said */
                w->run_dur = jint(data, "duration_ms");
            w->final_error = jstr(data, "error");
            if (w->final_error)
                json_object_set(rep, "error", json_object_get(data, "error"));
            const char *st = jstr(data, "status") ? jstr(data, "status") : "?";
            snprintf(what, sizeof what, "run finished: %s", st);
            tl(timeline, t, !strcmp(st, "resolved") ? "all clear" : "resolution", what, NULL, st);
        }
    return 0;
}

int rb_review_report(rb_journal_t *j, int64_t run_id, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_t *run = NULL;
    int rc = rb_journal_run_row(j, run_id, &run);
    if (rc < 0) {
        /* a run that is not there, or a journal that cannot be read: a
         * review never goes on with part of what the journal holds */
        if (rc == RB_ENOTFOUND)
            snprintf(err, errlen, "no run %lld in the journal", (long long)run_id);
        else
            snprintf(err, errlen, "%s", rb_journal_errmsg(j));
        return rc;
    }
    json_t *rep = json_pack("{s:I,s:O,s:O,s:O,s:O,s:O,s:O}", "run", (json_int_t)run_id, "runbook",
                            json_object_get(run, "runbook"), "status", json_object_get(run, "status"), "trigger",
                            json_object_get(run, "trigger"), "params", json_object_get(run, "params"), "started_at",
                            json_object_get(run, "started_at"), "ended_at", json_object_get(run, "ended_at"));
    json_object_set(rep, "sha256", json_object_get(run, "sha256"));
    /* what the journal could not read: the report fails with it (jrc) */
    int jrc = version_facts(j, jstr(run, "sha256"), rep);
    report_walk_t w = {.rep = rep, .timeline = json_array(), .steps = json_array(), .approvals = json_array(),
                       .notes = json_array(), .escal = json_array(), .skipped = json_array(),
                       .people = json_object(), .severity = json_null(), .open = json_object(),
                       .last = json_object(), .missing = json_array(), .undone = json_object(),
                       .first_action = -1, .end_t = -1, .run_dur = -1};
    rc = rb_journal_run_walk(j, run_id, report_skips, 1, NULL, report_event, &w);
    json_t *timeline = w.timeline, *steps = w.steps, *approvals = w.approvals, *notes = w.notes;
    json_t *escal = w.escal, *skipped = w.skipped, *people = w.people, *severity = w.severity;
    json_t *open = w.open, *last = w.last, *missing = w.missing, *undone = w.undone;
    if (rc < 0) {
        snprintf(err, errlen, "%s", rb_journal_errmsg(j));
        json_t *all[] = {timeline, steps, approvals, notes, escal, skipped, people, severity,
                         open, last, missing, undone, rep, run};
        for (size_t k = 0; k < sizeof all / sizeof *all; k++)
            json_decref(all[k]);
        return rc;
    }
    json_int_t t0 = w.t0, first_action = w.first_action, end_t = w.end_t, run_dur = w.run_dur;
    size_t unsent = w.unsent, i;
    const char *final_error = w.final_error;
    const char *rollback_why = w.rollback_why, *rollback_failed = w.rollback_failed;
    /* One duration for the run, the one its end recorded (the live summary's
     * and `show`'s); an older journal's: from its start to its end as the
     * runs table has them */
    json_int_t dur = run_dur >= 0 ? run_dur
                     : json_is_integer(json_object_get(run, "ended_at"))
                         ? jint(run, "ended_at") - jint(run, "started_at")
                         : w.last_wall - t0;
    json_object_set_new(rep, "duration_ms", json_integer(dur));
    /* what this journal did not record, that a newer one does (the report
     * says so rather than guess) */
    if (end_t >= 0 && run_dur < 0)
        note_missing(missing, "duration", "the run's end has no duration (an older journal): taken from its start to "
                                          "its end as the runs table has them");
    if (json_object_get(rep, "alert") && jstr(run, "trigger") && !strncmp(jstr(run, "trigger"), "cli", 3))
        note_missing(missing, "trigger", "an alert started this run, journaled with the trigger cli by an older runbook "
                                         "(now: alert)");
    json_object_set_new(rep, "missing", missing);
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
                                json_boolean(!strcmp(jstr(run, "status") ? jstr(run, "status") : "", "resolved") && dur <= resolve));
    }
    json_object_set_new(rep, "severity", severity);
    json_object_set_new(rep, "targets", targets);
    /* a one-paragraph summary, from the facts */
    if (end_t < 0) { /* its process is gone and nobody marked it yet: interrupted, as `runs` says */
        json_t *gone = NULL, *g;
        int orc = rb_journal_runs_orphaned(j, &gone);
        if (orc == 0) {
            json_array_foreach(gone, i, g)
                if (json_integer_value(g) == run_id)
                    json_object_set_new(rep, "status", json_string("interrupted"));
        } else if (!jrc) {
            jrc = orc;
        }
        json_decref(gone);
    }
    char *summary = summary_of(rep, steps, json_array_size(skipped),
                               rollback_why[0] && final_error && !strncmp(final_error, rollback_failed, strlen(rollback_failed))
                                   ? rollback_why : final_error, unsent);
    json_object_set_new(rep, "summary", json_string(summary ? summary : ""));
    free(summary);
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
    json_decref(last);
    json_decref(undone);
    /* sub-runbooks */
    json_t *children = NULL;
    int crc = rb_journal_run_children(j, run_id, &children);
    if (crc == 0)
        json_object_set_new(rep, "subruns", children);
    else if (!jrc)
        jrc = crc;
    /* the hash chain, as far as this run is concerned: its events and
     * their links, its version, its status, the head and checkpoints
     * (rb_journal_verify_run); `runbook audit verify` reads the whole
     * journal, which a report of one run must not wait for */
    json_t *ver = NULL, *chain = json_pack("{s:b,s:[]}", "ok", 1, "problems");
    int vrc = jrc ? 0 : rb_journal_verify_run(j, run_id, &ver);
    if (vrc == 0) {
        json_object_set(chain, "problems", json_object_get(ver, "problems"));
        json_object_set_new(chain, "ok", json_boolean(json_array_size(json_object_get(chain, "problems")) == 0));
    } else {
        jrc = vrc;
    }
    json_decref(ver);
    json_object_set_new(rep, "chain", chain);
    json_decref(run);
    if (jrc) {
        snprintf(err, errlen, "%s", rb_journal_errmsg(j));
        json_decref(rep);
        return jrc;
    }
    *out = rep;
    return 0;
}
