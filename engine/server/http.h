/*
 * http.h — the server's HTTP glue on libh2o (the libuv build), on the
 * engine's own uv loop: a listener, one route table, bearer auth (or a
 * browser's Basic credentials, for GET and HEAD) before any handler runs,
 * the limits (body size, header size, request time), one log line per
 * request, and a counters hook told of every answer.
 *
 * A route is one line of a table (routes.c): method, path, the roles it
 * admits, its handler. A new endpoint is a handler in its own file and one
 * line in the table. A handler answers at once or later (after a journal
 * flush): exactly one rb_http_reply* per request, on the loop thread.
 *
 * Owns: the h2o config and context, the listener, the requests in flight
 * (their memory is h2o's per-request pool). Must never: parse HTTP itself,
 * answer without a content length (keep-alive depends on it), call a
 * handler for a request that auth refused. Loop thread only.
 */
#ifndef RB_SRV_HTTP_H
#define RB_SRV_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "auth.h"

typedef struct rb_http rb_http_t;
typedef struct rb_http_req rb_http_req_t;

typedef void (*rb_http_handler_fn)(rb_http_req_t *r, void *arg);

typedef struct rb_http_route {
    const char *method;  /* "GET", "POST" */
    const char *path;    /* exact path; ending in '/' and prefix set: every path below it */
    int prefix;
    unsigned roles;      /* RB_ROLE_* it admits; RB_ROLE_OPEN: no token wanted */
    const char *name;    /* for logs and counters: "alertmanager", "healthz" */
    rb_http_handler_fn fn;
} rb_http_route_t;

/* Told of every answer (the counters hook: metrics count here). route is
 * NULL for a request no route took (404, 405); ns is the time from the
 * request's arrival to its answer. */
typedef void (*rb_http_count_fn)(void *arg, const rb_http_route_t *route, int status, uint64_t ns);

typedef struct rb_http_opts {
    const char *host;
    int port;              /* 0: the OS picks (rb_http_port says which) */
    uint64_t body_max;     /* 413 above */
    uint64_t header_max;   /* 431 above */
    uint64_t request_ms;   /* the whole request must arrive within this */
    const rb_auth_t *auth; /* borrowed; must outlive the server */
    const rb_http_route_t *routes; /* ends with a {NULL} entry; borrowed */
    void *arg;             /* given to every handler */
    rb_http_count_fn count;
    void *count_arg;
    struct ssl_ctx_st *tls; /* OpenSSL's SSL_CTX: every connection is TLS; NULL: plain */
    size_t max_conns;      /* connections at once (0: no limit); more wait to be accepted */
} rb_http_opts_t;

/* Listens on o->host:o->port. 0, or a negative code with why in err. */
int rb_http_start(uv_loop_t *loop, const rb_http_opts_t *o, rb_http_t **out, char *err,
                  size_t errlen);

/* The port listened on. */
int rb_http_port(const rb_http_t *h);

/* Stops accepting: the listener closes, idle keep-alive connections are
 * closed, requests in flight still get their answers. */
void rb_http_stop(rb_http_t *h);

/* Requests taken and not answered yet, and connections still open. */
size_t rb_http_inflight(const rb_http_t *h);
size_t rb_http_connections(const rb_http_t *h);

/* After rb_http_stop and once no connection is left (or at exit): frees
 * everything; the loop must run once more for the listener's close. */
void rb_http_free(rb_http_t *h);

/* ---- a request, inside a handler ---- */

const char *rb_http_req_method(const rb_http_req_t *r);
/* 1 for GET and HEAD: what only reads, and may carry a browser's Basic
 * credentials (auth.h). */
int rb_http_req_readonly(const rb_http_req_t *r);
/* The normalized path, NUL-terminated. */
const char *rb_http_req_path(const rb_http_req_t *r);
/* The body as received (may hold NUL bytes); len 0 when none. */
const char *rb_http_req_body(const rb_http_req_t *r, size_t *len);
/* A request header's value (the first), or NULL; not NUL-terminated. */
const char *rb_http_req_header(const rb_http_req_t *r, const char *name, size_t *len);
/* The query string after '?', not decoded and not NUL-terminated (NULL,
 * len 0 when none). */
const char *rb_http_req_query(const rb_http_req_t *r, size_t *len);
/* The name of the token that authenticated it ("anonymous" on an open
 * route). */
const char *rb_http_req_who(const rb_http_req_t *r);
/* Adds key=value to the request's log line (both copied). */
void rb_http_req_log(rb_http_req_t *r, const char *key, const char *value);

/* Adds a header to the answer still to come (name in lower case, both
 * copied): call it before rb_http_reply. */
void rb_http_res_header(rb_http_req_t *r, const char *name, const char *value);
/* Answers: body copied; content_type NULL → text/plain. */
void rb_http_reply(rb_http_req_t *r, int status, const char *content_type, const char *body,
                   size_t len);
/* Answers with v as JSON (the reference is taken). */
void rb_http_reply_json(rb_http_req_t *r, int status, json_t *v);
/* Answers {"error": why} (why may be NULL: the status's reason). Every 503
 * says Retry-After (RB_HTTP_RETRY_AFTER seconds). */
#define RB_HTTP_RETRY_AFTER "5"
void rb_http_reply_error(rb_http_req_t *r, int status, const char *why);

#endif
