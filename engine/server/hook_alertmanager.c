/*
 * hook_alertmanager.c — POST /hooks/alertmanager: Prometheus Alertmanager's
 * webhook (version "4"). Every alert of the group is matched against every
 * runbook's triggers; a new firing alert is claimed in the journal (its
 * fingerprint + startsAt, one UNIQUE insert) and starts a run of each
 * runbook it matches, linked to the claim in the run's own record; an alert
 * heard of before (a retry, a repeat, a peer's duplicate) starts nothing; a
 * resolved alert is journaled on its claim and against each of its runs
 * (cancelling those whose runbook says cancel_on_resolve); an alert no
 * runbook matches is claimed as unmatched.
 *
 * The answer waits for the journal: 200 only once every claim, run and
 * resolution of the request is durable (rb_journal_flush), 503 when the
 * journal could not take them (Alertmanager retries), 4xx for what a retry
 * cannot fix (the request is checked whole before anything is done, so a
 * rejected request starts nothing).
 *
 * Crash windows: a claim is appended before its runs and the writer
 * commits in append order, so a durable run always has its claim (and its
 * link, in the same record); a claim whose run never became durable is
 * found by rb_journal_alerts_unstarted on the next start (recover.c).
 *
 * Owns: the claims of this process not yet durable (the journal reads what
 * is committed; these fill the gap until the flush). Must never: answer 2xx
 * before the flush said durable; start a run for a request it rejects.
 */
#define _GNU_SOURCE
#include "server_int.h"

#include "hook_parse.h"
#include "log.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RB_AM_MAX_KEY 512 /* bytes of a fingerprint or a startsAt */

/* The claims of this process that are not durable yet: "fp\x1fstartsAt" →
 * {runs: [id…], resolved: bool, n: requests holding it}. */
typedef struct {
    json_t *pending;
} am_t;

static am_t *AM(rb_srv_t *s)
{
    if (!s->am) {
        am_t *a = calloc(1, sizeof *a);
        if (!a || !(a->pending = json_object())) {
            free(a);
            return NULL;
        }
        s->am = a;
    }
    return s->am;
}

void rb__hook_alertmanager_free(rb_srv_t *s)
{
    am_t *a = s->am;
    if (!a)
        return;
    json_decref(a->pending);
    free(a);
    s->am = NULL;
}

/* What the request does with one alert (the first pass decides, the
 * second does it). */
typedef enum {
    ACT_SKIP = 0,     /* a duplicate: nothing */
    ACT_CLAIM,        /* new and firing: claim, start its runs (or unmatched) */
    ACT_CLAIM_RESOLVED, /* new but already resolved: claim, nothing to start */
    ACT_RESOLVE,      /* resolved, its claim known: journal on the claim and its runs */
} act_t;

typedef struct {
    const json_t *alert;
    const char *fp, *sa;
    char *sa_owned;  /* sa when it is a claim's, not the request's */
    char *key;
    act_t act;
    int held;        /* holds its pending entry (released after the flush) */
    json_t *matched; /* ACT_CLAIM: runbook names */
    json_t *runs;    /* ACT_RESOLVE: the run ids of the claim */
} plan_t;

typedef struct {
    rb_srv_t *s;
    rb_http_req_t *r;
    json_t *body;
    plan_t *p;
    size_t n;
    json_t *reply;
} req_t;

static void req_free(req_t *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->p[i].key);
        free(q->p[i].sa_owned);
        json_decref(q->p[i].matched);
        json_decref(q->p[i].runs);
    }
    free(q->p);
    json_decref(q->body);
    json_decref(q->reply);
    free(q);
}

static void bump(json_t *reply, const char *k)
{
    json_object_set_new(reply, k, json_integer(json_integer_value(json_object_get(reply, k)) + 1));
}

static void count_alert(rb_srv_t *s, const char *outcome)
{
    const char *const labels[] = {"outcome", outcome, NULL};
    rb__srv_count(s, "alerts", labels, 1);
}

/* ---- the first pass: check the whole request, decide per alert ---- */

static int digits(const char *p, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        *out = *out * 10 + (p[i] - '0');
    }
    return 1;
}

/* An RFC 3339 date-time (what Alertmanager sends, Go's time.RFC3339Nano):
 * 2026-11-21T23:46:58.46Z, 2026-11-21T23:46:58+02:00. */
static int rfc3339(const char *s)
{
    int y, mo, d, h, mi, se, oh, om;
    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return 0;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || se > 60)
        return 0;
    const char *p = s + 19;
    if (*p == '.') {
        const char *f = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == f)
            return 0;
    }
    if ((*p == 'Z' || *p == 'z') && !p[1])
        return 1;
    return (*p == '+' || *p == '-') && digits(p + 1, 2, &oh) && p[3] == ':' &&
           digits(p + 4, 2, &om) && !p[6] && oh < 24 && om < 60;
}

static const char *check_alert(const json_t *a, size_t i, char *why, size_t whylen)
{
    if (!json_is_object(a)) {
        snprintf(why, whylen, "alerts[%zu] is not an object", i);
        return why;
    }
    const char *st = json_string_value(json_object_get(a, "status"));
    const char *fp = json_string_value(json_object_get(a, "fingerprint"));
    const char *sa = json_string_value(json_object_get(a, "startsAt"));
    const json_t *labels = json_object_get(a, "labels");
    if (!st || (strcmp(st, "firing") && strcmp(st, "resolved")))
        snprintf(why, whylen, "alerts[%zu].status must be \"firing\" or \"resolved\"", i);
    else if (!fp || !*fp || strlen(fp) > RB_AM_MAX_KEY)
        snprintf(why, whylen, "alerts[%zu].fingerprint must be a string of 1 to %d bytes", i,
                 RB_AM_MAX_KEY);
    else if (!sa || strlen(sa) > RB_AM_MAX_KEY || !rfc3339(sa))
        snprintf(why, whylen,
                 "alerts[%zu].startsAt must be an RFC 3339 time (2026-11-21T23:46:58.46Z)", i);
    else if (!json_is_object(labels))
        snprintf(why, whylen, "alerts[%zu].labels must be an object", i);
    else {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)labels, k, v) {
            if (!json_is_string(v)) {
                snprintf(why, whylen, "alerts[%zu].labels.%s must be a string", i, k);
                return why;
            }
        }
        return NULL;
    }
    return why;
}

/* The names of the runbooks whose triggers match the alert. */
static json_t *match(rb_srv_t *s, const json_t *alert)
{
    json_t *names = json_array();
    for (size_t i = 0; i < rb__books_count(s->books); i++) {
        rb_book_t *k = rb__books_at(s->books, i);
        if (rb_runbook_match_alert(k->rb, alert))
            json_array_append_new(names, json_string(rb_runbook_name(k->rb)));
    }
    return names;
}

/* Decides what to do with alert i. 0, or a journal failure (5xx). */
static int plan_one(req_t *q, am_t *am, json_t *seen, size_t i, size_t *new_runs)
{
    plan_t *p = &q->p[i];
    p->alert = json_array_get(json_object_get(q->body, "alerts"), i);
    p->fp = json_string_value(json_object_get(p->alert, "fingerprint"));
    p->sa = json_string_value(json_object_get(p->alert, "startsAt"));
    int resolved = !strcmp(json_string_value(json_object_get(p->alert, "status")), "resolved");
    if (asprintf(&p->key, "%s\x1f%s", p->fp, p->sa) < 0) {
        p->key = NULL;
        return RB_ENOMEM;
    }
    /* The same alert twice in one request: the first one counts. */
    if (json_object_get(seen, p->key))
        return 0;
    json_object_set_new(seen, p->key, json_true());
    json_t *mine = json_object_get(am->pending, p->key);
    json_t *claim = NULL;
    int rc = mine ? RB_ENOTFOUND : rb_journal_alert_get(q->s->j, p->fp, p->sa, &claim);
    if (rc == RB_ENOTFOUND && !mine && resolved) {
        /* Resolved with a startsAt that is not the one claimed: the open
         * claim of the fingerprint is the alert that ended. */
        rc = rb_journal_alert_open(q->s->j, p->fp, &claim);
        if (rc == 0) {
            p->sa = json_string_value(json_object_get(claim, "starts_at"));
            p->sa_owned = strdup(p->sa ? p->sa : "");
            p->sa = p->sa_owned;
            free(p->key);
            if (!p->sa || asprintf(&p->key, "%s\x1f%s", p->fp, p->sa) < 0) {
                p->key = NULL;
                json_decref(claim);
                return RB_ENOMEM;
            }
        }
    }
    if (rc < 0 && rc != RB_ENOTFOUND)
        return rc;
    if (mine || claim) {
        int was_resolved = mine ? json_is_true(json_object_get(mine, "resolved"))
                                : !json_is_null(json_object_get(claim, "resolved_at"));
        if (resolved && !was_resolved) {
            p->act = ACT_RESOLVE;
            p->runs = json_array();
            if (mine) {
                json_array_extend(p->runs, json_object_get(mine, "runs"));
            } else {
                size_t k;
                json_t *x;
                json_array_foreach(json_object_get(claim, "runs"), k, x)
                    if (json_is_integer(json_object_get(x, "run_id")))
                        json_array_append(p->runs, json_object_get(x, "run_id"));
            }
        }
        json_decref(claim);
        return 0;
    }
    if (resolved) {
        p->act = ACT_CLAIM_RESOLVED;
        return 0;
    }
    p->act = ACT_CLAIM;
    p->matched = match(q->s, p->alert);
    *new_runs += json_array_size(p->matched);
    return 0;
}

/* ---- the second pass ---- */

static json_t *hold_pending(am_t *am, plan_t *p)
{
    const char *key = p->key;
    p->held = 1;
    json_t *m = json_object_get(am->pending, key);
    if (!m) {
        m = json_pack("{s:[],s:b,s:i}", "runs", "resolved", 0, "n", 0);
        json_object_set_new(am->pending, key, m);
    }
    json_object_set_new(m, "n", json_integer(json_integer_value(json_object_get(m, "n")) + 1));
    return m;
}

static void release_pending(am_t *am, const char *key)
{
    json_t *m = json_object_get(am->pending, key);
    json_int_t n = json_integer_value(json_object_get(m, "n")) - 1;
    if (n <= 0)
        json_object_del(am->pending, key);
    else
        json_object_set_new(m, "n", json_integer(n));
}

static int do_claim(req_t *q, am_t *am, plan_t *p)
{
    rb_srv_t *s = q->s;
    int resolved = p->act == ACT_CLAIM_RESOLVED;
    int rc = rb_journal_alert_claim(s->j, p->fp, p->sa, p->alert, p->matched, resolved);
    if (rc < 0)
        return rc;
    json_t *mine = hold_pending(am, p);
    if (resolved) {
        json_object_set_new(mine, "resolved", json_true());
        bump(q->reply, "resolved");
        count_alert(s, "resolved_unknown");
        return 0;
    }
    if (!json_array_size(p->matched)) {
        bump(q->reply, "unmatched");
        count_alert(s, "unmatched");
        char labels_text[512];
        char *l = json_dumps(json_object_get(p->alert, "labels"), JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(labels_text, sizeof labels_text, "%s", l ? l : "{}");
        free(l);
        rb_slog("info", "alert_unmatched", "fingerprint", p->fp, "starts_at", p->sa, "labels",
                labels_text, (char *)NULL);
        return 0;
    }
    bump(q->reply, "claimed");
    count_alert(s, "claimed");
    size_t i;
    json_t *name;
    json_array_foreach(p->matched, i, name) {
        rb_book_t *k = rb__books_find(s->books, json_string_value(name));
        char err[512] = "";
        int64_t id = 0;
        rb_srv_claim_t claim = {p->fp, p->sa};
        rc = k ? rb__runs_start(s, k, p->alert, NULL, "alertmanager", &claim, &id, err,
                                sizeof err)
               : RB_ENOTFOUND;
        if (rc == 0) {
            json_array_append_new(json_object_get(mine, "runs"), json_integer(id));
            json_array_append_new(json_object_get(q->reply, "runs"), json_integer(id));
            continue;
        }
        if (s->journal_failed || rc == RB_EJOURNAL)
            return RB_EJOURNAL;
        char outcome[600];
        snprintf(outcome, sizeof outcome, "%s: %s", rc == RB_EBUSY ? "busy" : "error",
                 rc == RB_ENOTFOUND ? "the runbook is gone" : err);
        rb_slog(rc == RB_EBUSY ? "info" : "warn", "run_not_started", "runbook",
                json_string_value(name), "fingerprint", p->fp, "why", outcome, (char *)NULL);
        bump(q->reply, rc == RB_EBUSY ? "busy" : "errors");
        if ((rc = rb_journal_alert_outcome(s->j, p->fp, p->sa, json_string_value(name),
                                           outcome)) < 0)
            return rc;
    }
    return 0;
}

static int do_resolve(req_t *q, am_t *am, plan_t *p)
{
    rb_srv_t *s = q->s;
    int rc = rb_journal_alert_resolved(s->j, p->fp, p->sa, p->alert);
    if (rc < 0)
        return rc;
    json_t *mine = hold_pending(am, p);
    json_object_set_new(mine, "resolved", json_true());
    bump(q->reply, "resolved");
    count_alert(s, "resolved");
    size_t i;
    json_t *idv;
    json_array_foreach(p->runs, i, idv) {
        int64_t id = json_integer_value(idv);
        rb_run_t *run = rb__runs_find(s, id);
        char sid[32];
        snprintf(sid, sizeof sid, "%lld", (long long)id);
        if (run) {
            int cancelled = rb_run_alert_resolved(run, p->alert);
            rb_slog("info", "alert_resolved", "run", sid, "fingerprint", p->fp, "cancelled",
                    cancelled ? "true" : "false", (char *)NULL);
            if (cancelled)
                bump(q->reply, "cancelled");
        } else {
            /* The run is over (or was pruned): the resolution is still
             * journaled against it, after its end. */
            json_t *d = json_pack("{s:O,s:b}", "alert", p->alert, "after_end", 1);
            rc = rb_journal_event(s->j, id, "alert_resolved", NULL, 0, d);
            json_decref(d);
            if (rc < 0)
                return rc;
            rb_slog("info", "alert_resolved", "run", sid, "fingerprint", p->fp, "after_end",
                    "true", (char *)NULL);
        }
    }
    return 0;
}

static void on_flushed(int status, void *arg)
{
    req_t *q = arg;
    am_t *am = q->s->am;
    for (size_t i = 0; am && i < q->n; i++)
        if (q->p[i].held)
            release_pending(am, q->p[i].key);
    if (status < 0) {
        rb__srv_journal_failed(q->s, "journaling alerts");
        rb_http_reply_error(q->r, 503, "the journal could not take the alerts: retry later");
    } else {
        rb_http_reply_json(q->r, 200, json_incref(q->reply));
    }
    req_free(q);
}

json_t *rb__hook_am_parse(const char *body, size_t len, int *status, char *why, size_t whylen)
{
    json_error_t e;
    json_t *doc = json_loadb(body, len, 0, &e);
    *status = 400;
    if (!doc) {
        snprintf(why, whylen, "malformed JSON at line %d, column %d: %s", e.line, e.column,
                 e.text);
        return NULL;
    }
    const char *version = json_string_value(json_object_get(doc, "version"));
    const json_t *alerts = json_object_get(doc, "alerts");
    const char *bad = NULL;
    if (!json_is_object(doc))
        bad = "the body must be a JSON object (an Alertmanager webhook)";
    else if (!version || strcmp(version, "4"))
        bad = "webhook version must be \"4\" (Alertmanager's)";
    else if (!json_is_array(alerts))
        bad = "\"alerts\" must be an array";
    for (size_t i = 0; !bad && i < json_array_size(alerts); i++)
        bad = check_alert(json_array_get(alerts, i), i, why, whylen);
    if (!bad)
        return doc;
    if (bad == why)
        *status = 422;
    else
        snprintf(why, whylen, "%s", bad);
    json_decref(doc);
    return NULL;
}

void rb__hook_alertmanager(rb_http_req_t *r, void *arg)
{
    rb_srv_t *s = arg;
    am_t *am = AM(s);
    if (s->stopping || s->journal_failed || !am) {
        rb_http_reply_error(r, 503, s->stopping ? "the server is stopping: retry"
                                                : "the journal failed: retry later");
        return;
    }
    /* Alertmanager sends application/json; anything else is not its
     * webhook (a form, a text body): 415, before the body is parsed. */
    size_t ctl;
    const char *ct = rb_http_req_header(r, "content-type", &ctl);
    static const char json_type[] = "application/json";
    if (!ct || ctl < sizeof json_type - 1 || strncasecmp(ct, json_type, sizeof json_type - 1) ||
        (ctl > sizeof json_type - 1 && ct[sizeof json_type - 1] != ';' &&
         ct[sizeof json_type - 1] != ' ')) {
        rb_http_reply_error(r, 415, "the body must be JSON (Content-Type: application/json)");
        return;
    }
    size_t len;
    const char *body = rb_http_req_body(r, &len);
    char why[300];
    int status;
    json_t *doc = rb__hook_am_parse(body, len, &status, why, sizeof why);
    if (!doc) {
        rb_http_reply_error(r, status, why);
        return;
    }
    const json_t *alerts = json_object_get(doc, "alerts");
    req_t *q = calloc(1, sizeof *q);
    size_t n = json_array_size(alerts);
    if (!q || !(q->p = calloc(n ? n : 1, sizeof *q->p))) {
        free(q);
        json_decref(doc);
        rb_http_reply_error(r, 503, "out of memory");
        return;
    }
    q->s = s;
    q->r = r;
    q->body = doc;
    q->n = n;
    q->reply = json_pack("{s:I,s:i,s:i,s:i,s:i,s:[]}", "alerts", (json_int_t)n, "claimed", 0,
                         "duplicates", 0, "unmatched", 0, "resolved", 0, "runs");
    json_t *seen = json_object();
    size_t new_runs = 0;
    int rc = 0;
    /* Stop at the first alert whose runs would pass limits.active_runs:
     * the answer is 503 whatever the rest holds, and a burst of new alerts
     * is refused after a few journal reads, not one per alert. */
    size_t active = rb__runs_active(s);
    int over = 0;
    for (size_t i = 0; rc == 0 && !over && i < n; i++) {
        rc = plan_one(q, am, seen, i, &new_runs);
        over = active + new_runs > s->cfg->active_runs;
    }
    json_decref(seen);
    if (rc < 0) {
        q->n = n;
        rb_http_reply_error(r, 503, "the journal could not be read: retry later");
        req_free(q);
        return;
    }
    if (over) {
        snprintf(why, sizeof why, "%zu runs or more would exceed the limit of %llu active runs: "
                                  "retry later", active + new_runs,
                 (unsigned long long)s->cfg->active_runs);
        rb_http_reply_error(r, 503, why);
        req_free(q);
        return;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        plan_t *p = &q->p[i];
        if (p->act == ACT_CLAIM || p->act == ACT_CLAIM_RESOLVED)
            rc = do_claim(q, am, p);
        else if (p->act == ACT_RESOLVE)
            rc = do_resolve(q, am, p);
        else {
            bump(q->reply, "duplicates");
            count_alert(s, "duplicate");
        }
    }
    char nbuf[32];
    snprintf(nbuf, sizeof nbuf, "%zu", n);
    rb_http_req_log(r, "alerts", nbuf);
    if (rc < 0 || rb_journal_flush(s->j, on_flushed, q) < 0)
        on_flushed(RB_EJOURNAL, q);
}
