/*
 * metrics.c — GET /metrics in the Prometheus text format (version 0.0.4):
 * the counters and histograms every part reports through the counters
 * hook (rb__srv_count: HTTP requests by endpoint and status, alerts by
 * outcome, runs started and finished, hook rejections), the steps of the
 * runs in flight (by action and outcome, their duration, and the engine's
 * own time per step apart from its action's), and what is read at the
 * scrape: runs active, approvals pending, runbooks in force, the
 * journal's commits, commit latency and leases (rb_journal_stats). Open, or
 * wanting a viewer/operator token, as the config's metrics.open says.
 *
 * Owns: the series (name → label set → value or histogram). Must never:
 * block the loop on anything but memory; touch SQL.
 */
#define _GNU_SOURCE
#include "api.h"

#include "base/buf.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bucket bounds (seconds) of every duration histogram but the journal's. */
static const double LE[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                            0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10,
                            30,     60,      300};
#define NLE (sizeof LE / sizeof *LE)

typedef struct {
    double sum;
    uint64_t count;
    uint64_t b[NLE]; /* each bucket its own range; cumulated when printed */
} hist_t;

/* The families, in the order they are printed. */
static const struct fam {
    const char *key;  /* rb__srv_count's metric name */
    const char *name; /* Prometheus name */
    int hist;
    const char *help;
} FAMS[] = {
    {"http_requests", "runbook_http_requests_total", 0, "HTTP requests answered, by endpoint and status."},
    {"http_seconds", "runbook_http_request_duration_seconds", 1, "From a request's arrival to its answer."},
    {"hook_rejections", "runbook_hook_rejections_total", 0, "Webhook requests refused, by endpoint and reason."},
    {"alerts", "runbook_alerts_total", 0, "Alerts received, by outcome (claimed, duplicate, unmatched, resolved, ...)."},
    {"runs_started", "runbook_runs_started_total", 0, "Runs started, by runbook."},
    {"runs_finished", "runbook_runs_finished_total", 0, "Runs ended, by runbook and status (outcome)."},
    {"steps", "runbook_steps_total", 0, "Steps ended, by action and outcome."},
    {"step_seconds", "runbook_step_duration_seconds", 1, "A step's time from start to end, by action."},
    {"step_overhead_seconds", "runbook_step_engine_overhead_seconds", 1,
     "The engine's own time per step (journal, rendering, scheduling), apart from its action's."},
    {NULL, NULL, 0, NULL},
};

typedef struct {
    json_t *series; /* key → {labels text → index into vals/hists} */
    double *vals;
    hist_t *hists;
    size_t n, cap;
} metrics_t;

static const struct fam *fam_of(const char *key)
{
    for (const struct fam *f = FAMS; f->key; f++)
        if (!strcmp(f->key, key))
            return f;
    return NULL;
}

/* {a="x",b="y"} with \\, \" and \n escaped as the format wants, into b. */
static void labels_text(rb_buf_t *b, const char *const *labels)
{
    for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
        if (i)
            rb_buf_addc(b, ',');
        rb_buf_adds(b, labels[i]);
        rb_buf_adds(b, "=\"");
        for (const char *p = labels[i + 1]; *p; p++) {
            if (*p == '\\' || *p == '"')
                rb_buf_addc(b, '\\');
            if (*p == '\n')
                rb_buf_adds(b, "\\n");
            else
                rb_buf_addc(b, *p);
        }
        rb_buf_addc(b, '"');
    }
}

static void count(void *arg, const char *metric, const char *const *labels, double value)
{
    metrics_t *m = arg;
    const struct fam *f = fam_of(metric);
    if (!f)
        return;
    json_t *fam = json_object_get(m->series, metric);
    if (!fam) {
        fam = json_object();
        json_object_set_new(m->series, metric, fam);
    }
    char mem[256];
    rb_buf_t lb;
    rb_buf_init(&lb, mem, sizeof mem);
    labels_text(&lb, labels);
    if (lb.oom) {
        rb_buf_free(&lb);
        return;
    }
    const char *lt = lb.p;
    json_t *ix = json_object_get(fam, lt);
    if (!ix) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 64;
            double *v = realloc(m->vals, cap * sizeof *v);
            if (v)
                m->vals = v;
            hist_t *h = realloc(m->hists, cap * sizeof *h);
            if (h)
                m->hists = h;
            if (!v || !h) {
                rb_buf_free(&lb);
                return;
            }
            m->cap = cap;
        }
        m->vals[m->n] = 0;
        memset(&m->hists[m->n], 0, sizeof m->hists[m->n]);
        ix = json_integer((json_int_t)m->n++);
        json_object_set_new(fam, lt, ix);
    }
    rb_buf_free(&lb);
    size_t i = (size_t)json_integer_value(ix);
    if (!f->hist) {
        m->vals[i] += value;
        return;
    }
    hist_t *h = &m->hists[i];
    h->sum += value;
    h->count++;
    for (size_t b = 0; b < NLE; b++)
        if (value <= LE[b]) {
            h->b[b]++;
            break;
        }
}

int rb__metrics_init(rb_srv_t *s)
{
    metrics_t *m = calloc(1, sizeof *m);
    if (!m || !(m->series = json_object())) {
        free(m);
        return RB_ENOMEM;
    }
    s->count = count;
    s->count_arg = m;
    return 0;
}

void rb__metrics_free(rb_srv_t *s)
{
    metrics_t *m = s->count == count ? s->count_arg : NULL;
    if (!m)
        return;
    s->count = NULL;
    s->count_arg = NULL;
    json_decref(m->series);
    free(m->vals);
    free(m->hists);
    free(m);
}

/* ---- the steps of the runs in flight ---- */

typedef struct {
    uint64_t t0;          /* step_started (uv_hrtime) */
    uint64_t first_att;   /* the first attempt_started, 0 before */
    uint64_t last_end;    /* the last attempt_finished */
    char action[64];
} step_state_t;

void rb__metrics_run_free(void *state)
{
    free(state);
}

void rb__metrics_run_event(rb_srv_t *s, void **state, const char *type, const char *step,
                           const json_t *data)
{
    if (!s->count || !step)
        return;
    uint64_t now = uv_hrtime();
    step_state_t *st = *state;
    if (!strcmp(type, "step_started")) {
        if (!st && !(st = *state = calloc(1, sizeof *st)))
            return;
        memset(st, 0, sizeof *st);
        st->t0 = now;
        const char *a = json_string_value(json_object_get(data, "action"));
        snprintf(st->action, sizeof st->action, "%s", a ? a : "?");
    } else if (!st || !st->t0) {
        return;
    } else if (!strcmp(type, "attempt_started")) {
        if (!st->first_att)
            st->first_att = now;
    } else if (!strcmp(type, "attempt_finished")) {
        st->last_end = now;
    } else if (!strcmp(type, "step_finished")) {
        const char *out = json_string_value(json_object_get(data, "status"));
        const char *const l2[] = {"action", st->action, "outcome", out ? out : "?", NULL};
        const char *const l1[] = {"action", st->action, NULL};
        rb__srv_count(s, "steps", l2, 1);
        rb__srv_count(s, "step_seconds", l1, (double)(now - st->t0) / 1e9);
        /* the engine's part: before the first attempt and after the last
         * (retry delays are the runbook's, not the engine's) */
        if (st->first_att && st->last_end >= st->first_att)
            rb__srv_count(s, "step_overhead_seconds", NULL,
                          (double)((st->first_att - st->t0) + (now - st->last_end)) / 1e9);
        st->t0 = 0;
    }
}

/* ---- the scrape ---- */

static void put_hist(FILE *f, const char *name, const char *lt, const hist_t *h)
{
    uint64_t cum = 0;
    for (size_t b = 0; b < NLE; b++) {
        cum += h->b[b];
        fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, lt, *lt ? "," : "", LE[b],
                (unsigned long long)cum);
    }
    fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, lt, *lt ? "," : "",
            (unsigned long long)h->count);
    fprintf(f, "%s_sum%s%s%s %.9g\n", name, *lt ? "{" : "", lt, *lt ? "}" : "", h->sum);
    fprintf(f, "%s_count%s%s%s %llu\n", name, *lt ? "{" : "", lt, *lt ? "}" : "",
            (unsigned long long)h->count);
}

static void gauge(FILE *f, const char *name, const char *help, double v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

static void journal_stats(FILE *f, rb_journal_t *j)
{
    rb_journal_stats_t st;
    rb_journal_stats(j, &st);
    fprintf(f, "# HELP runbook_journal_commits_total Journal write transactions committed.\n"
               "# TYPE runbook_journal_commits_total counter\n"
               "runbook_journal_commits_total %llu\n",
            (unsigned long long)st.commits);
    fprintf(f, "# HELP runbook_journal_records_total Journal records committed.\n"
               "# TYPE runbook_journal_records_total counter\n"
               "runbook_journal_records_total %llu\n",
            (unsigned long long)st.records);
    const char *n = "runbook_journal_commit_seconds";
    fprintf(f, "# HELP %s How long each journal COMMIT took (the disk's flush in it).\n"
               "# TYPE %s histogram\n", n, n);
    uint64_t cum = 0;
    for (int b = 0; b < RB_JOURNAL_COMMIT_BUCKETS; b++) {
        cum += st.commit_buckets[b];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", n, rb_journal_commit_le[b],
                (unsigned long long)cum);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", n,
            (unsigned long long)st.commits, n, st.commit_seconds, n,
            (unsigned long long)st.commits);
    /* the journal's leases (docs/high-availability.md): 0 on a file */
    gauge(f, "runbook_journal_leases_held", "Runs whose journal lease this engine holds.",
          (double)st.leases_held);
    fprintf(f, "# HELP runbook_journal_lease_takeovers_total Runs taken over from an engine"
               " whose lease expired.\n"
               "# TYPE runbook_journal_lease_takeovers_total counter\n"
               "runbook_journal_lease_takeovers_total %llu\n"
               "# HELP runbook_journal_fenced_writes_total Journal writes refused because"
               " another engine took the run over.\n"
               "# TYPE runbook_journal_fenced_writes_total counter\n"
               "runbook_journal_fenced_writes_total %llu\n",
            (unsigned long long)st.lease_takeovers, (unsigned long long)st.fenced_writes);
}

void rb__metrics_handler(rb_http_req_t *r, void *arg)
{
    rb_srv_t *s = arg;
    if (!s->cfg->metrics_open) {
        size_t alen = 0;
        const char *who = NULL;
        const char *auth = rb_http_req_header(r, "authorization", &alen);
        int ok = rb_auth_check(s->auth, auth, alen, RB_ROLE_VIEWER | RB_ROLE_OPERATOR, 1, &who);
        if (ok != 200) {
            rb_http_reply_error(r, ok, ok == 401 ? "a valid bearer token is needed (or "
                                                   "metrics: {open: true} in the config)"
                                                 : "this token's role may not read metrics");
            return;
        }
    }
    metrics_t *m = s->count == count ? s->count_arg : NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        rb_http_reply_error(r, 500, "out of memory");
        return;
    }
    for (const struct fam *fm = FAMS; m && fm->key; fm++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fm->name, fm->help, fm->name,
                fm->hist ? "histogram" : "counter");
        const char *lt;
        json_t *ix;
        json_object_foreach(json_object_get(m->series, fm->key), lt, ix) {
            size_t i = (size_t)json_integer_value(ix);
            if (fm->hist)
                put_hist(f, fm->name, lt, &m->hists[i]);
            else
                fprintf(f, "%s%s%s%s %.17g\n", fm->name, *lt ? "{" : "", lt, *lt ? "}" : "",
                        m->vals[i]);
        }
    }
    gauge(f, "runbook_runs_active", "Runs in flight in this process.",
          (double)rb__runs_active(s));
    gauge(f, "runbook_approvals_pending", "Steps waiting for an approval in this process.",
          (double)rb__runs_waiting(s));
    gauge(f, "runbook_runbooks_loaded", "Runbooks in force.",
          (double)rb__books_count(s->books));
    journal_stats(f, s->j);
    fclose(f);
    rb_http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
    free(buf);
}
