/*
 * api.h — the second half of `runbook serve`: the JSON API under /api/v1
 * (api_runbooks.c, api_runs.c, api_report.c, approvals.c), /metrics
 * (metrics.c) and the generic webhook (hook_generic.c), with the helpers
 * they share (api.c).
 * Declared apart from server_int.h so that these files stay their own.
 *
 * Must never: be included outside engine/server/; touch SQL. Loop thread.
 */
#ifndef RB_SRV_API_H
#define RB_SRV_API_H

#include "server_int.h"

/* ---- api.c: what the handlers share ---- */

/* The value of the query parameter key, percent-decoded, a '+' read as a
 * space as a browser's form means it (malloc'd; NULL when absent; "" for
 * "key="). */
char *rb__api_query(rb_http_req_t *r, const char *key);
/* The path's part after prefix up to the next '/' as a run id (> 0), and
 * in *rest what follows it ("" or "/events"…). 0 when it is not an id. */
int64_t rb__api_path_id(rb_http_req_t *r, const char *prefix, const char **rest);
/* The body as a JSON object (an empty body is {}) whose keys are all in
 * keys (NULL-terminated; a typo never falls back to a default silently).
 * NULL with a 400 sent (naming an unknown key). */
json_t *rb__api_body(rb_http_req_t *r, const char *const *keys);
/* Answers status with v (taken) once everything appended so far is
 * durable; 503 when the journal could not take it. */
void rb__api_reply_durable(rb_srv_t *s, rb_http_req_t *r, int status, json_t *v);

/* Answers a request about run id that is not in flight here: 404 when the
 * journal has no such run, 409 when it has (finished, or another's). */
void rb__api_not_in_flight(rb_srv_t *s, rb_http_req_t *r, int64_t id);

/* Answers 200 with a document for people (a report, the runs page):
 * no-store, nosniff, and for text/html a Content-Security-Policy that
 * allows no script, no request to anywhere, no framing, only the page's
 * first <style> (by its hash) and forms submitting to form_action ("'none'"
 * or "'self'"). */
void rb__api_reply_page(rb_http_req_t *r, const char *type, const char *page, size_t len,
                        const char *form_action);

/* ---- the handlers (routes.c's table) ---- */

void rb__api_runbooks(rb_http_req_t *r, void *arg);     /* GET /api/v1/runbooks[/NAME] */
void rb__api_runs_get(rb_http_req_t *r, void *arg);     /* GET /api/v1/runs[/ID[/events]] */
void rb__api_runs_start(rb_http_req_t *r, void *arg);   /* POST /api/v1/runs */
void rb__api_runs_post(rb_http_req_t *r, void *arg);    /* POST /api/v1/runs/ID/{cancel,approve,deny} */
void rb__api_approvals(rb_http_req_t *r, void *arg);    /* GET /api/v1/approvals */
void rb__metrics_handler(rb_http_req_t *r, void *arg);  /* GET /metrics */
void rb__hook_generic(rb_http_req_t *r, void *arg);     /* POST /hooks/generic/RUNBOOK */
/* Forgets the signatures taken (at the end). */
void rb__hook_generic_free(void);

/* ---- api_report.c, for api_runs.c ---- */

/* GET /api/v1/runs/ID/report?format=html|md|text|json. */
void rb__api_report(rb_srv_t *s, rb_http_req_t *r, int64_t id);

/* ---- approvals.c, for api_runs.c ---- */

/* POST /api/v1/runs/ID/approve or /deny. */
void rb__approvals_answer(rb_srv_t *s, rb_http_req_t *r, int64_t id, int approved);

/* ---- page_runs.c ---- */

void rb__page_runs(rb_http_req_t *r, void *arg); /* GET /runs: the runs as a page */
void rb__page_root(rb_http_req_t *r, void *arg); /* GET /: to /runs */

/* ---- metrics.c ---- */

/* Sets s->count: from then on every rb__srv_count is kept for /metrics. */
int rb__metrics_init(rb_srv_t *s);
void rb__metrics_free(rb_srv_t *s);
/* Told of every event of a run in flight (runs.c): steps by action and
 * outcome, their duration, and the engine's own time per step apart
 * from its action's. *state is the run's (freed by rb__metrics_run_free). */
void rb__metrics_run_event(rb_srv_t *s, void **state, const char *type, const char *step,
                           const json_t *data);
void rb__metrics_run_free(void *state);

#endif
