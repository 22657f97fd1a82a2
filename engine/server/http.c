/*
 * http.c — libh2o on the engine's uv loop (http.h). One h2o handler at
 * "/" takes every request: it checks the header size, finds the route by
 * method and path, checks the token, then calls the route's handler. h2o
 * itself parses HTTP/1.1, enforces the body limit (413), a head of at most
 * 100 headers, and the request timeout (a slow client is cut off).
 *
 * Owns: the h2o global config and context, the listener, the accepted
 * connections (counted so that shutdown knows when they are gone).
 * Must never: parse HTTP by hand; answer without a content length; run a
 * handler for a request that was refused.
 */
#define _GNU_SOURCE
#include "http.h"

#include "log.h"

#include <h2o.h>
#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RB_HTTP_LOG_PAIRS 8

struct rb_http {
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    uv_tcp_t *listener;
    int listening;
    int port;
    rb_http_opts_t o;
    size_t inflight;
    size_t conns;
    int accept_waiting; /* a connection waits for the budget (max_conns) */
    h2o_handler_t *handler;
};

typedef struct {
    h2o_handler_t super;
    rb_http_t *h;
} handler_t;

struct rb_http_req {
    h2o_req_t *req;
    rb_http_t *h;
    const rb_http_route_t *route;
    const char *who;
    char *path;
    uint64_t t0;
    int replied;
    size_t nlog;
    const char *log[RB_HTTP_LOG_PAIRS][2];
};

/* An accepted connection's handle; freed by h2o's close. */
typedef struct {
    uv_tcp_t tcp;
    rb_http_t *h;
} conn_t;

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    }
    return status < 300 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
}

/* ---- answers ---- */

static void log_request(rb_http_req_t *r, int status)
{
    char st[16], ms[32];
    snprintf(st, sizeof st, "%d", status);
    snprintf(ms, sizeof ms, "%.3f", (double)(uv_hrtime() - r->t0) / 1e6);
    const char *v[RB_HTTP_LOG_PAIRS][2] = {{0}};
    for (size_t i = 0; i < r->nlog; i++) {
        v[i][0] = r->log[i][0];
        v[i][1] = r->log[i][1];
    }
    rb_slog(status >= 500 ? "error" : status >= 400 ? "warn" : "info", "request", "method",
            rb_http_req_method(r), "path", r->path, "status", st, "who", r->who, "ms", ms,
            v[0][0] ? v[0][0] : "", v[0][1], v[1][0] ? v[1][0] : "", v[1][1],
            v[2][0] ? v[2][0] : "", v[2][1], v[3][0] ? v[3][0] : "", v[3][1],
            v[4][0] ? v[4][0] : "", v[4][1], v[5][0] ? v[5][0] : "", v[5][1],
            v[6][0] ? v[6][0] : "", v[6][1], v[7][0] ? v[7][0] : "", v[7][1], (char *)NULL);
}

void rb_http_res_header(rb_http_req_t *r, const char *name, const char *value)
{
    if (r->replied || !name || !value)
        return;
    h2o_req_t *req = r->req;
    h2o_iovec_t n = h2o_strdup(&req->pool, name, SIZE_MAX);
    h2o_iovec_t v = h2o_strdup(&req->pool, value, SIZE_MAX);
    h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
}

void rb_http_reply(rb_http_req_t *r, int status, const char *ct, const char *body, size_t len)
{
    if (r->replied)
        return;
    r->replied = 1;
    h2o_req_t *req = r->req;
    rb_http_t *h = r->h;
    static h2o_generator_t gen = {NULL, NULL};
    req->res.status = status;
    req->res.reason = reason(status);
    req->res.content_length = len;
    const char *type = ct ? ct : "text/plain; charset=utf-8";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type,
                   strlen(type));
    if (status == 401) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"runbook\""));
        /* a browser asks its user for a name and password (the token) */
        if (rb_http_req_readonly(r))
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                           H2O_STRLIT("Basic realm=\"runbook\""));
    }
    if (status == 503)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       H2O_STRLIT(RB_HTTP_RETRY_AFTER));
    h2o_iovec_t buf = h2o_strdup(&req->pool, body ? body : "", len);
    log_request(r, status);
    if (h->o.count)
        h->o.count(h->o.count_arg, r->route, status, uv_hrtime() - r->t0);
    h->inflight--;
    h2o_start_response(req, &gen);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

void rb_http_reply_json(rb_http_req_t *r, int status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s) {
        rb_http_reply(r, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
        return;
    }
    size_t n = strlen(s);
    s[n] = '\n'; /* json_dumps leaves room for its NUL: the newline takes it */
    rb_http_reply(r, status, "application/json", s, n + 1);
    free(s);
}

void rb_http_reply_error(rb_http_req_t *r, int status, const char *why)
{
    rb_http_reply_json(r, status, json_pack("{s:s}", "error", why ? why : reason(status)));
}

/* ---- requests ---- */

const char *rb_http_req_method(const rb_http_req_t *r)
{
    const h2o_iovec_t m = r->req->method;
    static const char *const known[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", NULL};
    for (size_t i = 0; known[i]; i++)
        if (h2o_memis(m.base, m.len, known[i], strlen(known[i])))
            return known[i];
    return "OTHER";
}

int rb_http_req_readonly(const rb_http_req_t *r)
{
    const char *m = rb_http_req_method(r);
    return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

const char *rb_http_req_path(const rb_http_req_t *r)
{
    return r->path;
}

const char *rb_http_req_body(const rb_http_req_t *r, size_t *len)
{
    *len = r->req->entity.base ? r->req->entity.len : 0;
    return r->req->entity.base ? r->req->entity.base : "";
}

const char *rb_http_req_header(const rb_http_req_t *r, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    const h2o_headers_t *hs = &r->req->headers;
    for (size_t i = 0; i < hs->size; i++) {
        const h2o_header_t *e = &hs->entries[i];
        if (e->name->len == nl && !strncasecmp(e->name->base, name, nl)) {
            *len = e->value.len;
            return e->value.base;
        }
    }
    *len = 0;
    return NULL;
}

const char *rb_http_req_query(const rb_http_req_t *r, size_t *len)
{
    const h2o_req_t *q = r->req;
    if (q->query_at == SIZE_MAX || q->query_at + 1 > q->path.len) {
        *len = 0;
        return NULL;
    }
    *len = q->path.len - q->query_at - 1;
    return q->path.base + q->query_at + 1;
}

const char *rb_http_req_who(const rb_http_req_t *r)
{
    return r->who;
}

void rb_http_req_log(rb_http_req_t *r, const char *key, const char *value)
{
    if (r->nlog >= RB_HTTP_LOG_PAIRS || !key || !value)
        return;
    r->log[r->nlog][0] = h2o_strdup(&r->req->pool, key, SIZE_MAX).base;
    r->log[r->nlog][1] = h2o_strdup(&r->req->pool, value, SIZE_MAX).base;
    r->nlog++;
}

static int path_matches(const rb_http_route_t *rt, const char *path)
{
    if (rt->prefix)
        return !strncmp(path, rt->path, strlen(rt->path));
    return !strcmp(path, rt->path);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    rb_http_t *h = ((handler_t *)self)->h;
    rb_http_req_t *r = h2o_mem_alloc_pool(&req->pool, sizeof *r);
    memset(r, 0, sizeof *r);
    r->req = req;
    r->h = h;
    r->t0 = uv_hrtime();
    r->who = "-";
    r->path = h2o_strdup(&req->pool, req->path_normalized.base, req->path_normalized.len).base;
    h->inflight++;

    /* The configured header limit, under h2o's own (100 headers). */
    size_t hbytes = req->path.len + req->method.len;
    for (size_t i = 0; i < req->headers.size; i++)
        hbytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    if (hbytes > h->o.header_max) {
        rb_http_reply_error(r, 431, "request headers are larger than the server's limit");
        return 0;
    }
    /* A path holding a NUL byte is nobody's route. */
    int nul = strlen(r->path) != req->path_normalized.len;
    const char *method = rb_http_req_method(r);
    const rb_http_route_t *hit = NULL;
    int path_known = 0, path_open = 0;
    for (const rb_http_route_t *rt = h->o.routes; !nul && rt && rt->method; rt++) {
        if (!path_matches(rt, r->path))
            continue;
        path_known = 1;
        path_open |= rt->roles == RB_ROLE_OPEN;
        if (!strcmp(rt->method, method) ||
            (!strcmp(method, "HEAD") && !strcmp(rt->method, "GET"))) {
            hit = rt;
            break;
        }
    }
    r->route = hit;
    /* 404 and 405 come after the token: a caller without one learns
     * nothing of the routes (but those open to all: /healthz). */
    unsigned roles = hit ? hit->roles
                         : path_open ? RB_ROLE_OPEN
                                     : RB_ROLE_HOOK | RB_ROLE_OPERATOR | RB_ROLE_VIEWER;
    size_t alen = 0;
    const char *auth = rb_http_req_header(r, "authorization", &alen);
    int ok = rb_auth_check(h->o.auth, auth, alen, roles, rb_http_req_readonly(r), &r->who);
    if (!r->who)
        r->who = "-";
    if (ok == 200 && !hit) {
        rb_http_reply_error(r, path_known ? 405 : 404, NULL);
        return 0;
    }
    if (ok != 200) {
        int basic = auth && alen >= 6 && !strncasecmp(auth, "Basic ", 6);
        rb_http_reply_error(r, ok, ok == 403 ? "this token's role may not call this endpoint"
                                   : basic && !rb_http_req_readonly(r)
                                       ? "Basic credentials are taken for GET and HEAD only "
                                         "(what a browser reads); send Authorization: Bearer SECRET"
                                       : "a valid bearer token is needed (Authorization: Bearer "
                                         "SECRET; a browser: any user name, the token as password)");
        return 0;
    }
    hit->fn(r, h->o.arg);
    return 0;
}

/* ---- connections ---- */

static void accept_one(rb_http_t *h);

static void on_conn_closed(uv_handle_t *hd)
{
    conn_t *c = (conn_t *)hd;
    rb_http_t *h = c->h;
    h->conns--;
    free(c);
    if (h->accept_waiting && h->listening) { /* one left the budget: the next comes in */
        h->accept_waiting = 0;
        accept_one(h);
    }
}

static void on_accept(uv_stream_t *l, int status)
{
    rb_http_t *h = l->data;
    if (status != 0 || !h->listening)
        return;
    if (h->o.max_conns && h->conns >= h->o.max_conns) {
        /* Not taken now: libuv stops reading the listener until it is,
         * and the client waits in the kernel's queue. */
        h->accept_waiting = 1;
        return;
    }
    accept_one(h);
}

static void accept_one(rb_http_t *h)
{
    uv_stream_t *l = (uv_stream_t *)h->listener;
    conn_t *c = malloc(sizeof *c);
    if (!c)
        return;
    c->h = h;
    uv_tcp_init(l->loop, &c->tcp);
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    h->conns++;
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
    h2o_accept(&h->accept, sock);
}

static int listen_on(rb_http_t *h, uv_loop_t *loop, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    const char *host = !strcmp(h->o.host, "localhost") ? "127.0.0.1" : h->o.host;
    if (uv_ip4_addr(host, h->o.port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, h->o.port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "listen: \"%s\" is not an IP address", h->o.host);
        return RB_EINVAL;
    }
    h->listener = calloc(1, sizeof *h->listener);
    if (!h->listener)
        return RB_ENOMEM;
    uv_tcp_init(loop, h->listener);
    h->listener->data = h;
    int rc = uv_tcp_bind(h->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)h->listener, 511, on_accept);
    if (rc != 0) {
        snprintf(err, errlen, "listen on %s:%d: %s", h->o.host, h->o.port, uv_strerror(rc));
        uv_close((uv_handle_t *)h->listener, (uv_close_cb)free);
        h->listener = NULL;
        return RB_EIO;
    }
    struct sockaddr_storage got;
    int n = sizeof got;
    uv_tcp_getsockname(h->listener, (struct sockaddr *)&got, &n);
    h->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                              : ((struct sockaddr_in *)&got)->sin_port);
    h->listening = 1;
    return 0;
}

int rb_http_start(uv_loop_t *loop, const rb_http_opts_t *o, rb_http_t **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    rb_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return RB_ENOMEM;
    h->o = *o;
    h2o_config_init(&h->config);
    h->config.max_request_entity_size = (size_t)o->body_max;
    h->config.http1.req_timeout = o->request_ms;
    h->config.http1.upgrade_to_http2 = 0;
    h->config.server_name = h2o_iovec_init(H2O_STRLIT("runbook"));
    h2o_hostconf_t *hc =
        h2o_config_register_host(&h->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(hc, "/", 0);
    handler_t *hd = (handler_t *)h2o_create_handler(pc, sizeof *hd);
    hd->h = h;
    hd->super.on_req = on_req;
    h2o_context_init(&h->ctx, loop, &h->config);
    h->accept.ctx = &h->ctx;
    h->accept.hosts = h->config.hosts;
    h->accept.ssl_ctx = o->tls; /* h2o makes the handshake before the request */
    int rc = listen_on(h, loop, err, errlen);
    if (rc < 0) {
        h2o_context_dispose(&h->ctx);
        h2o_config_dispose(&h->config);
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int rb_http_port(const rb_http_t *h)
{
    return h->port;
}

void rb_http_stop(rb_http_t *h)
{
    if (!h || !h->listening)
        return;
    h->listening = 0;
    uv_close((uv_handle_t *)h->listener, (uv_close_cb)free);
    h->listener = NULL;
    h2o_context_request_shutdown(&h->ctx);
}

size_t rb_http_inflight(const rb_http_t *h)
{
    return h ? h->inflight : 0;
}

size_t rb_http_connections(const rb_http_t *h)
{
    return h ? h->conns : 0;
}

void rb_http_free(rb_http_t *h)
{
    if (!h)
        return;
    rb_http_stop(h);
    /* request_shutdown arms HTTP/2's graceful-shutdown timer even with no
     * HTTP/2 connection; dispose insists that no timer is armed. */
    if (h2o_timeout_is_linked(&h->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&h->ctx.http2._graceful_shutdown_timeout);
    h2o_context_dispose(&h->ctx);
    h2o_config_dispose(&h->config);
    free(h);
}
