/*
 * approvals.c — approvals while serving: GET /api/v1/approvals lists the
 * steps waiting for an answer (the runs the journal says wait, that wait
 * in this process), with when each was asked and when its declared
 * timeout ends it; POST /api/v1/runs/ID/approve and /deny answer one
 * ({"step": NAME (optional), "comment": "why"}), journaled with who (the
 * token's name), when (the event's time), yes or no, and the comment,
 * answered once that is durable. A waiting step holds only its run's
 * memory; its timeout is the run's own timer.
 *
 * Owns: nothing past a request. Must never: answer for a run of another
 * process; answer 2xx before the answer is durable; touch SQL.
 */
#define _GNU_SOURCE
#include "api.h"
#include "base/text.h"

#include "log.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB_APPROVAL_COMMENT_MAX 2000

/* The newest approval_requested event of the run: {asked_at, timeout_ms}. */
static json_t *asked(rb_srv_t *s, int64_t id, const char *step)
{
    json_t *run = NULL, *out = json_object();
    if (rb_journal_run_get(s->j, id, &run) < 0)
        return out;
    json_t *ev = json_object_get(run, "events");
    for (size_t i = json_array_size(ev); i-- > 0;) {
        json_t *e = json_array_get(ev, i);
        const char *st = json_string_value(json_object_get(e, "step"));
        if (strcmp(json_string_value(json_object_get(e, "type")), "approval_requested") ||
            !st || strcmp(st, step))
            continue;
        json_int_t at = json_integer_value(json_object_get(e, "wall_ms"));
        json_int_t to = json_integer_value(json_object_get(json_object_get(e, "data"),
                                                          "timeout_ms"));
        json_object_set_new(out, "asked_at", json_integer(at));
        json_object_set_new(out, "timeout_ms", json_integer(to));
        json_object_set_new(out, "expires_at", to ? json_integer(at + to) : json_null());
        break;
    }
    json_decref(run);
    return out;
}

void rb__api_approvals(rb_http_req_t *r, void *arg)
{
    rb_srv_t *s = arg;
    rb_journal_runs_filter_t f = {.status = "waiting_approval", .limit = 1000};
    json_t *runs = NULL;
    if (rb_journal_runs_find(s->j, &f, &runs) < 0) {
        rb_http_reply_error(r, 503, rb_journal_errmsg(s->j));
        return;
    }
    json_t *list = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(runs, i, x) {
        int64_t id = json_integer_value(json_object_get(x, "id"));
        rb_run_t *run = rb__runs_find(s, id);
        const char *step = run ? rb_run_waiting_step(run) : NULL;
        if (!step)
            continue; /* not (or no longer) waiting in this process */
        json_t *a = asked(s, id, step);
        json_object_set_new(a, "run", json_integer(id));
        json_object_set(a, "runbook", json_object_get(x, "runbook"));
        json_object_set_new(a, "step", json_string(step));
        if (rb_run_parent(run)) /* a sub-runbook's run: answered by its own id */
            json_object_set_new(a, "parent_run", json_integer(rb_run_id(rb_run_parent(run))));
        json_array_append_new(list, a);
    }
    json_decref(runs);
    rb_http_reply_json(r, 200, json_pack("{s:o}", "approvals", list));
}

void rb__approvals_answer(rb_srv_t *s, rb_http_req_t *r, int64_t id, int approved)
{
    json_t *body = rb__api_body(r, (const char *const[]){"step", "comment", NULL});
    if (!body)
        return;
    const json_t *jstep = json_object_get(body, "step"), *jc = json_object_get(body, "comment");
    const char *step = json_string_value(jstep), *comment = json_string_value(jc);
    rb_run_t *run = rb__runs_find(s, id);
    const char *waiting = run ? rb_run_waiting_step(run) : NULL;
    if ((jstep && !step) || (jc && !comment)) {
        rb_http_reply_error(r, 400, "step and comment must be strings");
    } else if (comment && strlen(comment) > RB_APPROVAL_COMMENT_MAX) {
        rb_http_reply_error(r, 400, "the comment is longer than 2000 bytes");
    } else if (!run) {
        rb__api_not_in_flight(s, r, id);
    } else if (!waiting || (step && strcmp(step, waiting))) {
        char why[400] = "the run waits for no approval";
        if (waiting) { /* the step asked for, one line and cut: it is the caller's */
            char *asked = rb_text_one_line(step, strlen(step), 80, NULL);
            snprintf(why, sizeof why, "the run waits for the approval of step %s, not \"%s\"", waiting,
                     asked ? asked : "?");
            free(asked);
        }
        rb_http_reply_error(r, 409, why);
    } else {
        char *st = strdup(waiting); /* the run moves on inside the call */
        const char *who = rb_http_req_who(r);
        int rc = st ? rb_run_answer(run, st, approved, who, comment) : RB_ENOMEM;
        if (rc < 0) {
            rb_http_reply_error(r, rc == RB_ENOTFOUND ? 409 : 500, "the answer was not taken");
        } else {
            char sid[32];
            snprintf(sid, sizeof sid, "%lld", (long long)id);
            rb_slog("info", approved ? "approval_granted" : "approval_denied", "run", sid, "step",
                    st, "by", who, (char *)NULL);
            rb__api_reply_durable(s, r, 200,
                                  json_pack("{s:I,s:s,s:s,s:s,s:s*}", "run", (json_int_t)id,
                                            "step", st, "answer",
                                            approved ? "approved" : "denied", "by", who,
                                            "comment", comment && *comment ? comment : NULL));
        }
        free(st);
    }
    json_decref(body);
}
