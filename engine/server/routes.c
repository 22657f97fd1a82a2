/*
 * routes.c — the server's route table and the counters hook. A new
 * endpoint is a handler in its own file (declared in server_int.h) and one
 * line here; metrics count through rb__srv_count.
 *
 * Owns: the table, GET /healthz. Must never: do an endpoint's work here
 * (beyond /healthz, which says only that the process answers).
 */
#include "api.h"
#include "server_int.h"

#include <stdio.h>

static void healthz(rb_http_req_t *r, void *arg)
{
    rb_srv_t *s = arg;
    /* 503 once the journal failed or shutdown began: a load balancer
     * should send no more alerts here. */
    if (s->journal_failed)
        rb_http_reply(r, 503, NULL, "journal failed\n", 15);
    else if (s->stopping)
        rb_http_reply(r, 503, NULL, "stopping\n", 9);
    else
        rb_http_reply(r, 200, NULL, "ok\n", 3);
}

const rb_http_route_t rb__srv_routes[] = {
    {"GET", "/healthz", 0, RB_ROLE_OPEN, "healthz", healthz},
    {"POST", "/hooks/alertmanager", 0, RB_ROLE_HOOK | RB_ROLE_OPERATOR, "alertmanager",
     rb__hook_alertmanager},
    {"POST", "/hooks/generic/", 1, RB_ROLE_HOOK | RB_ROLE_OPERATOR, "generic", rb__hook_generic},
    {"GET", "/metrics", 0, RB_ROLE_OPEN, "metrics", rb__metrics_handler}, /* auth: metrics.c */
    {"GET", "/api/v1/runbooks", 0, RB_ROLE_VIEWER | RB_ROLE_OPERATOR, "runbooks", rb__api_runbooks},
    {"GET", "/api/v1/runbooks/", 1, RB_ROLE_VIEWER | RB_ROLE_OPERATOR, "runbooks", rb__api_runbooks},
    {"GET", "/api/v1/runs", 0, RB_ROLE_VIEWER | RB_ROLE_OPERATOR, "runs", rb__api_runs_get},
    {"POST", "/api/v1/runs", 0, RB_ROLE_OPERATOR, "runs", rb__api_runs_start},
    {"GET", "/api/v1/runs/", 1, RB_ROLE_VIEWER | RB_ROLE_OPERATOR, "runs", rb__api_runs_get},
    {"POST", "/api/v1/runs/", 1, RB_ROLE_OPERATOR, "runs", rb__api_runs_post},
    {"GET", "/api/v1/approvals", 0, RB_ROLE_VIEWER | RB_ROLE_OPERATOR, "approvals", rb__api_approvals},
    {"GET", "/runs", 0, RB_ROLE_VIEWER | RB_ROLE_OPERATOR, "pages", rb__page_runs},
    {"GET", "/", 0, RB_ROLE_VIEWER | RB_ROLE_OPERATOR, "pages", rb__page_root},
    {NULL, NULL, 0, 0, NULL, NULL},
};

void rb__srv_count(rb_srv_t *s, const char *metric, const char *const *labels, double value)
{
    if (s && s->count)
        s->count(s->count_arg, metric, labels, value);
}

void rb__srv_count_http(void *arg, const rb_http_route_t *route, int status, uint64_t ns)
{
    rb_srv_t *s = arg;
    char st[16];
    snprintf(st, sizeof st, "%d", status);
    const char *const labels[] = {"endpoint", route ? route->name : "none", "status", st, NULL};
    rb__srv_count(s, "http_requests", labels, 1);
    rb__srv_count(s, "http_seconds", labels, (double)ns / 1e9);
}
