/*
 * api_runs.c — the runs over HTTP: GET /api/v1/runs (newest first,
 * filtered by runbook, status, trigger; paged by limit and before),
 * POST /api/v1/runs (start one: {"runbook": NAME, "params": {…}}),
 * GET /api/v1/runs/ID (the run and, while it is in flight here, what it
 * waits for), GET /api/v1/runs/ID/events (?after=SEQ), GET
 * /api/v1/runs/ID/report (handed to api_report.c), and POST
 * /api/v1/runs/ID/cancel, /approve, /deny. Who asked is the token's name,
 * journaled with what it did.
 *
 * Owns: nothing past a request. Must never: start a run for a request it
 * answers 4xx; answer 2xx to a write before it is durable; touch SQL.
 */
#define _GNU_SOURCE
#include "api.h"

#include "log.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "/api/v1/runs/"
#define RB_API_LIMIT 100

/* ?limit= as 1 … 10000 (default 100); -1 for anything else. */
static int get_limit(rb_http_req_t *r)
{
    char *l = rb__api_query(r, "limit");
    if (!l)
        return RB_API_LIMIT;
    char *end;
    long n = strtol(l, &end, 10);
    int bad = *end || end == l || n < 1 || n > 10000;
    free(l);
    return bad ? -1 : (int)n;
}

static void list(rb_srv_t *s, rb_http_req_t *r)
{
    rb_journal_runs_filter_t f = {0};
    char *rb = rb__api_query(r, "runbook"), *st = rb__api_query(r, "status"),
         *tr = rb__api_query(r, "trigger"), *before = rb__api_query(r, "before");
    f.runbook = rb;
    f.status = st;
    f.trigger = tr;
    f.limit = get_limit(r);
    f.before_id = before ? strtoll(before, NULL, 10) : 0;
    json_t *runs = NULL;
    if (f.limit < 0 || f.before_id < 0) {
        rb_http_reply_error(r, 400, "limit must be 1 to 10000, before a run id");
    } else if (rb_journal_runs_find(s->j, &f, &runs) < 0) {
        rb_http_reply_error(r, 503, rb_journal_errmsg(s->j));
    } else {
        size_t n = json_array_size(runs);
        json_t *v = json_pack("{s:o}", "runs", runs);
        /* the next page: ?before= the last id listed */
        if (n && n == (size_t)f.limit)
            json_object_set(v, "next_before", json_object_get(json_array_get(runs, n - 1), "id"));
        rb_http_reply_json(r, 200, v);
    }
    free(rb);
    free(st);
    free(tr);
    free(before);
}

static void show(rb_srv_t *s, rb_http_req_t *r, int64_t id, const char *rest)
{
    json_t *run = NULL;
    int rc = rb_journal_run_get(s->j, id, &run);
    if (rc == RB_ENOTFOUND) {
        rb_http_reply_error(r, 404, "no such run");
        return;
    }
    if (rc < 0) {
        rb_http_reply_error(r, 503, rb_journal_errmsg(s->j));
        return;
    }
    if (!strcmp(rest, "/events")) {
        char *after = rb__api_query(r, "after");
        json_int_t a = after ? strtoll(after, NULL, 10) : 0;
        free(after);
        json_t *ev = json_object_get(run, "events"), *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(ev, i, e)
            if (json_integer_value(json_object_get(e, "seq")) > a)
                json_array_append(out, e);
        json_decref(run);
        rb_http_reply_json(r, 200, json_pack("{s:I,s:o}", "run", (json_int_t)id, "events", out));
        return;
    }
    if (*rest) {
        json_decref(run);
        rb_http_reply_error(r, 404, NULL);
        return;
    }
    json_object_del(run, "events");
    rb_run_t *live = rb__runs_find(s, id);
    json_object_set_new(run, "in_flight", json_boolean(live != NULL));
    if (live && rb_run_waiting_step(live))
        json_object_set_new(run, "waiting_step", json_string(rb_run_waiting_step(live)));
    rb_http_reply_json(r, 200, run);
}

void rb__api_runs_get(rb_http_req_t *r, void *arg)
{
    rb_srv_t *s = arg;
    const char *path = rb_http_req_path(r);
    if (!strcmp(path, "/api/v1/runs") || !strcmp(path, PREFIX)) {
        list(s, r);
        return;
    }
    const char *rest;
    int64_t id = rb__api_path_id(r, PREFIX, &rest);
    if (!id) {
        rb_http_reply_error(r, 404, "a run is /api/v1/runs/ID with ID a run id");
        return;
    }
    if (!strcmp(rest, "/report"))
        rb__api_report(s, r, id);
    else
        show(s, r, id, rest);
}

void rb__api_runs_start(rb_http_req_t *r, void *arg)
{
    rb_srv_t *s = arg;
    json_t *body = rb__api_body(r, (const char *const[]){"runbook", "params", NULL});
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "runbook"));
    json_t *params = json_object_get(body, "params");
    rb_book_t *k = name ? rb__books_find(s->books, name) : NULL;
    char err[512] = "";
    int64_t id = 0;
    if (!name) {
        rb_http_reply_error(r, 400, "the body must name a runbook: {\"runbook\": NAME}");
    } else if (params && !json_is_object(params)) {
        rb_http_reply_error(r, 400, "params must be an object");
    } else if (!k) {
        rb_http_reply_error(r, 404, "no runbook of that name is in force");
    } else if (s->journal_failed) {
        rb_http_reply_error(r, 503, "the journal failed: no run starts");
    } else if (rb__runs_active(s) >= s->cfg->active_runs) {
        rb_http_reply_error(r, 503, "the server runs as many runs as its limit allows "
                                    "(limits.active_runs)");
    } else {
        int rc = rb__runs_start(s, k, NULL, params, "api", NULL, &id, err, sizeof err);
        if (rc == 0) {
            char sid[32];
            snprintf(sid, sizeof sid, "%lld", (long long)id);
            rb_http_req_log(r, "run", sid);
            rb__api_reply_durable(s, r, 201,
                                  json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "runbook",
                                            name, "started_by", rb_http_req_who(r)));
        } else {
            rb_http_reply_error(r, rc == RB_EBUSY        ? 409
                                   : rc == RB_ECANCELED ? 503
                                   : rc == RB_EINVAL    ? 400
                                                        : 500,
                                err);
        }
    }
    json_decref(body);
}

static void cancel(rb_srv_t *s, rb_http_req_t *r, int64_t id)
{
    json_t *body = rb__api_body(r, (const char *const[]){NULL}); /* {} or nothing */
    if (!body)
        return;
    json_decref(body);
    rb_run_t *run = rb__runs_find(s, id);
    if (!run) {
        rb__api_not_in_flight(s, r, id);
        return;
    }
    rb_run_cancel_by(run, rb_http_req_who(r));
    rb__api_reply_durable(s, r, 202,
                          json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "status",
                                    rb_run_status(run), "by", rb_http_req_who(r)));
}

void rb__api_runs_post(rb_http_req_t *r, void *arg)
{
    rb_srv_t *s = arg;
    const char *rest;
    int64_t id = rb__api_path_id(r, PREFIX, &rest);
    if (!id)
        rb_http_reply_error(r, 404, "a run is /api/v1/runs/ID with ID a run id");
    else if (!strcmp(rest, "/cancel"))
        cancel(s, r, id);
    else if (!strcmp(rest, "/approve") || !strcmp(rest, "/deny"))
        rb__approvals_answer(s, r, id, !strcmp(rest, "/approve"));
    else
        rb_http_reply_error(r, 404, "POST /api/v1/runs/ID/cancel, /approve or /deny");
}
