/*
 * page_runs.c — GET /runs: the recent runs as a read-only page for people
 * in a browser (docs/api.md#the-runs-page), newest first, each linking to
 * its report (/api/v1/runs/ID/report?format=html); filtered by the query
 * (status, runbook, severity, trigger, drill=no|only) and paged (limit,
 * before); a bad value is a 400 in words naming it. GET / answers 302 to
 * it, with its query. The page is written by
 * engine/review/runs_html.c and served as the report is
 * (rb__api_reply_page: no script, its own <style> only; a form may submit
 * only to the server itself, the filters being a GET form).
 *
 * A browser reaches it with HTTP Basic credentials (any user name, a
 * viewer's or operator's token as the password: auth.h), which is why it
 * only reads. Owns nothing past a request. Must never: write to the
 * journal; touch SQL (it lists runs with rb_journal_runs_find, as
 * `runbook runs` and GET /api/v1/runs do). Loop thread.
 */
#define _GNU_SOURCE
#include "api.h"

#include "review/review.h"

#include <runbook/runbook.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RB_PAGE_MAX_LIMIT 1000

/* A refusal of the query, for a person: text, naming the parameter. */
static void refuse(rb_http_req_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(rb_http_req_t *r, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    strncat(why, "\n", sizeof why - strlen(why) - 1);
    rb_http_res_header(r, "x-content-type-options", "nosniff");
    rb_http_reply(r, 400, NULL, why, strlen(why));
}

/* ?key= as a whole number lo … hi (def when absent or empty) in *out; 0,
 * or -1 with a 400 answered. */
static int query_num(rb_http_req_t *r, const char *key, long long def, long long lo, long long hi,
                     long long *out)
{
    char *v = rb__api_query(r, key);
    *out = def;
    if (!v || !*v) {
        free(v);
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    int bad = errno || *end || !isdigit((unsigned char)*v) || n < lo || n > hi;
    if (bad)
        refuse(r, "%s must be %s, not '%s'", key,
               hi == INT64_MAX ? "a run id (a whole number above 0)" : "a whole number from 1 to 1000", v);
    else
        *out = n;
    free(v);
    return bad ? -1 : 0;
}

/* A query value as the filter: an empty one (what an empty form field
 * sends) filters nothing. */
static char *query_filter(rb_http_req_t *r, const char *key)
{
    char *v = rb__api_query(r, key);
    if (v && !*v) {
        free(v);
        v = NULL;
    }
    return v;
}

void rb__page_runs(rb_http_req_t *r, void *arg)
{
    rb_srv_t *s = arg;
    rb_runs_page_t p = {0};
    char *status = query_filter(r, "status"), *runbook = query_filter(r, "runbook"),
         *severity = query_filter(r, "severity"), *trigger = query_filter(r, "trigger"),
         *drill = query_filter(r, "drill");
    long long limit, before;
    json_t *runs = NULL;
    char *page = NULL;
    size_t len = 0;
    FILE *f = NULL;
    if (query_num(r, "limit", RB_RUNS_PAGE_LIMIT, 1, RB_PAGE_MAX_LIMIT, &limit) < 0 ||
        query_num(r, "before", 0, 1, INT64_MAX, &before) < 0)
        goto out;
    if (drill && strcasecmp(drill, "no") && strcasecmp(drill, "only")) {
        refuse(r, "%s must be no (leave drills out) or only (only drills), not '%s'", "drill", drill);
        goto out;
    }
    /* a status no run can have would list nothing, under a form saying
     * "any": a typo, said so (as `runbook runs --status` does) */
    const char *const *known = rb_journal_run_statuses;
    while (status && *known && strcmp(*known, status))
        known++;
    if (status && !*known) {
        refuse(r, "%s '%s' is no run status: resolved, failed, cancelled, not_confirmed, "
                  "inconclusive, interrupted, running or waiting_approval",
               "status", status);
        goto out;
    }
    rb_journal_runs_filter_t flt = {
        .limit = (int)limit + 1, /* one more: is there an older page? */
        .runbook = runbook,
        .status = status,
        .trigger = trigger,
        .severity = severity,
        .before_id = before,
        .drill = !drill ? 0 : !strcasecmp(drill, "only") ? 1 : -1,
    };
    if (rb_journal_runs_find(s->j, &flt, &runs) < 0) {
        rb_http_reply_error(r, 503, rb_journal_errmsg(s->j));
        goto out;
    }
    p = (rb_runs_page_t){runs, status, runbook, severity, trigger, drill, (int)limit, before, 0};
    if (json_array_size(runs) > (size_t)limit) {
        json_array_remove(runs, (size_t)limit);
        p.next_before = json_integer_value(json_object_get(json_array_get(runs, (size_t)limit - 1), "id"));
    }
    f = open_memstream(&page, &len);
    if (!f) {
        rb_http_reply_error(r, 500, "out of memory");
        goto out;
    }
    rb_review_runs_html(&p, f);
    if (fclose(f) != 0) {
        rb_http_reply_error(r, 500, "out of memory");
        goto out;
    }
    rb__api_reply_page(r, "text/html; charset=utf-8", page, len, "'self'");
out:
    free(page);
    json_decref(runs);
    free(status);
    free(runbook);
    free(severity);
    free(trigger);
    free(drill);
}

void rb__page_root(rb_http_req_t *r, void *arg)
{
    (void)arg;
    /* relative: right also behind a proxy that adds a path prefix; the
     * query (a filter) goes along */
    size_t ql = 0;
    const char *q = rb_http_req_query(r, &ql);
    char *to = NULL;
    if (asprintf(&to, "runs%s%.*s", ql ? "?" : "", (int)ql, q ? q : "") < 0) {
        rb_http_reply_error(r, 500, "out of memory");
        return;
    }
    rb_http_res_header(r, "location", to);
    free(to);
    static const char body[] = "the runs are listed at runs, next to this address\n";
    rb_http_reply(r, 302, NULL, body, sizeof body - 1);
}
