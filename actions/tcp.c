/*
 * tcp.c — the `tcp` action: a connect probe. Resolves host, connects to
 * port (each resolved address in turn until one accepts), closes at once,
 * and reports how long the connect took.
 *
 * Owns: one uv_getaddrinfo_t, the uv_tcp_t of the attempt in flight and a
 * uv_timer_t for the probe's own timeout, all freed before the report.
 *
 * Must never:
 *   - send or read a byte: the probe only opens and closes a connection;
 *   - block the loop (name resolution goes through libuv's thread pool) or
 *     report from inside start() or cancel(): the result is handed over once
 *     the lookup has returned and every handle is closed, so a loop that ran
 *     only this action ends with no handle left.
 */
#define _GNU_SOURCE
#include <runbook/action.h>

#include "with.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TCP_DEFAULT_TIMEOUT_MS 5000

typedef struct tcp_state {
    rb_action_ctx_t *ctx;
    uv_loop_t *loop;
    char *host;
    int port;
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t timer;
    struct addrinfo *addrs, *next_addr;
    int gai_pending, tcp_open, timer_open;
    int finishing; /* no new attempt: report once everything has closed */
    int connected, timed_out, cancelled;
    uint64_t t0, attempt_t0, connect_ms;
    char address[80];
    char error[200];
} tcp_state_t;

static int tcp_check(const json_t *with, int rendered, char *msg, size_t msglen, const char **key)
{
    if (!json_is_object(with))
        RB__WITH_FAIL(NULL, "tcp: `with` must be an object");
    const json_t *host = rb__with_get(with, "host"), *port = rb__with_get(with, "port");
    if (!host)
        RB__WITH_FAIL("host", "host is required");
    if (!rb__with_unrendered(host, rendered)) {
        if (rb__with_has_nul(host))
            RB__WITH_FAIL("host", "host contains a NUL byte");
        if (!json_is_string(host) || json_string_length(host) == 0)
            RB__WITH_FAIL("host", "host must be a non-empty string");
        if (json_string_length(host) > 253)
            RB__WITH_FAIL("host", "host is longer than a host name can be");
    }
    if (!port)
        RB__WITH_FAIL("port", "port is required");
    int p;
    if (!rb__with_unrendered(port, rendered) && rb__with_port(port, &p) < 0) {
        if (rendered && json_is_string(port)) /* say what the template made of it */
            RB__WITH_FAIL("port", "port must be a number from 1 to 65535 (got \"%.40s\")",
                          json_string_value(port));
        RB__WITH_FAIL("port", "port must be a number from 1 to 65535");
    }
    const json_t *timeout = rb__with_get(with, "timeout");
    uint64_t ms;
    if (timeout && !rb__with_unrendered(timeout, rendered) && rb_duration_value(timeout, &ms) < 0)
        RB__WITH_FAIL("timeout", "timeout: invalid duration (e.g. \"5s\", \"500ms\")");
    return 0;
}

static int tcp_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    return tcp_check(with, 0, msg, msglen, key);
}

static void report(tcp_state_t *s)
{
    rb_action_ctx_t *ctx = s->ctx;
    const char *status = s->connected   ? "ok"
                         : s->cancelled ? "cancelled"
                         : s->timed_out ? "timeout"
                                        : "failed";
    json_t *r = json_pack("{s:b,s:s,s:s,s:i}", "ok", s->connected, "status", status, "host",
                          s->host, "port", s->port);
    if (r) {
        json_object_set_new(r, "connect_ms", s->connected ? json_integer((json_int_t)s->connect_ms)
                                                          : json_null());
        json_object_set_new(r, "address", s->address[0] ? json_string(s->address) : json_null());
        if (!s->connected && s->error[0])
            json_object_set_new(r, "error", json_string(s->error));
    }
    if (s->addrs)
        uv_freeaddrinfo(s->addrs);
    free(s->host);
    free(s);
    rb_action_set_data(ctx, NULL);
    rb_action_done(ctx, r); /* last: the engine may free ctx in there */
}

/* Reports once the lookup is back and every handle has closed. */
static void maybe_report(tcp_state_t *s)
{
    if (s->finishing && !s->gai_pending && !s->tcp_open && !s->timer_open)
        report(s);
}

static void timer_closed(uv_handle_t *h)
{
    tcp_state_t *s = h->data;
    s->timer_open = 0;
    maybe_report(s);
}

static void try_next(tcp_state_t *s);

static void tcp_closed(uv_handle_t *h)
{
    tcp_state_t *s = h->data;
    s->tcp_open = 0;
    if (!s->finishing)
        try_next(s);
    else
        maybe_report(s);
}

/* Stops everything in flight; the report follows from the callbacks. */
static void finish(tcp_state_t *s)
{
    if (s->finishing)
        return;
    s->finishing = 1;
    if (s->gai_pending)
        uv_cancel((uv_req_t *)&s->gai); /* if it already runs, its callback still comes */
    if (s->tcp_open && !uv_is_closing((uv_handle_t *)&s->tcp))
        uv_close((uv_handle_t *)&s->tcp, tcp_closed);
    if (s->timer_open && !uv_is_closing((uv_handle_t *)&s->timer)) {
        uv_timer_stop(&s->timer);
        uv_close((uv_handle_t *)&s->timer, timer_closed);
    }
}

static void addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof(ip));
        snprintf(buf, len, "[%s]:%d", ip, ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
    } else {
        uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof(ip));
        snprintf(buf, len, "%s:%d", ip, ntohs(((const struct sockaddr_in *)sa)->sin_port));
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    tcp_state_t *s = req->data;
    if (status == UV_ECANCELED)
        return; /* finish() closed the handle; tcp_closed reports */
    if (status == 0) {
        s->connected = 1;
        s->connect_ms = (uv_hrtime() - s->attempt_t0) / 1000000u;
        finish(s);
        return;
    }
    snprintf(s->error, sizeof(s->error), "connect %s: %s", s->address, uv_strerror(status));
    uv_close((uv_handle_t *)&s->tcp, tcp_closed); /* then the next address */
}

static void try_next(tcp_state_t *s)
{
    while (s->next_addr) {
        struct addrinfo *ai = s->next_addr;
        s->next_addr = ai->ai_next;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        addr_text(ai->ai_addr, s->address, sizeof(s->address));
        int rc = uv_tcp_init(s->loop, &s->tcp);
        if (rc < 0) {
            snprintf(s->error, sizeof(s->error), "socket: %s", uv_strerror(rc));
            break;
        }
        s->tcp.data = s;
        s->tcp_open = 1;
        s->attempt_t0 = uv_hrtime();
        s->creq.data = s;
        rc = uv_tcp_connect(&s->creq, &s->tcp, ai->ai_addr, on_connect);
        if (rc == 0)
            return;
        snprintf(s->error, sizeof(s->error), "connect %s: %s", s->address, uv_strerror(rc));
        uv_close((uv_handle_t *)&s->tcp, tcp_closed); /* then the next address */
        return;
    }
    if (!s->error[0])
        snprintf(s->error, sizeof(s->error), "%s has no IPv4 or IPv6 address", s->host);
    finish(s);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    tcp_state_t *s = req->data;
    s->gai_pending = 0;
    s->addrs = res;
    if (s->finishing) {
        maybe_report(s);
        return;
    }
    if (status < 0) {
        snprintf(s->error, sizeof(s->error), "cannot resolve %s: %s", s->host, uv_strerror(status));
        finish(s);
        return;
    }
    s->next_addr = res;
    try_next(s);
}

static void on_timeout(uv_timer_t *t)
{
    tcp_state_t *s = t->data;
    s->timed_out = 1;
    if (s->address[0])
        snprintf(s->error, sizeof(s->error), "connect %s: timed out", s->address);
    else
        snprintf(s->error, sizeof(s->error), "resolving %s: timed out", s->host);
    finish(s);
}

static int tcp_start(rb_action_ctx_t *ctx, const json_t *with)
{
    char msg[256];
    const char *key = NULL;
    if (tcp_check(with, 1, msg, sizeof(msg), &key) < 0) {
        rb_action_log(ctx, "error", msg);
        return RB_EINVAL;
    }
    uint64_t timeout_ms = TCP_DEFAULT_TIMEOUT_MS;
    if (rb__with_get(with, "timeout"))
        rb_duration_value(rb__with_get(with, "timeout"), &timeout_ms);
    tcp_state_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->host = strdup(json_string_value(json_object_get(with, "host"))))) {
        free(s);
        return RB_ENOMEM;
    }
    rb__with_port(json_object_get(with, "port"), &s->port);
    s->ctx = ctx;
    s->loop = rb_action_loop(ctx);
    s->t0 = uv_hrtime();
    /* Inited first and closed last on every path: the report always comes
     * from a callback, never from inside start(). */
    uv_timer_init(s->loop, &s->timer);
    s->timer.data = s;
    s->timer_open = 1;
    if (timeout_ms)
        uv_timer_start(&s->timer, on_timeout, timeout_ms, 0);
    rb_action_set_data(ctx, s);

    char service[8];
    snprintf(service, sizeof(service), "%d", s->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    s->gai.data = s;
    int rc = uv_getaddrinfo(s->loop, &s->gai, on_resolved, s->host, service, &hints);
    if (rc < 0) {
        snprintf(s->error, sizeof(s->error), "cannot resolve %s: %s", s->host, uv_strerror(rc));
        finish(s);
    } else {
        s->gai_pending = 1;
    }
    return 0;
}

static void tcp_cancel(rb_action_ctx_t *ctx)
{
    tcp_state_t *s = rb_action_data(ctx);
    if (!s || s->finishing)
        return;
    s->cancelled = 1;
    snprintf(s->error, sizeof(s->error), "cancelled");
    finish(s);
}

static const rb_action_param_t tcp_params[] = {
    {"host", RB_PARAM_STRING, 1, NULL, "Host name or IP address."},
    /* RB_PARAM_ANY: an integer or its decimal text; tcp's own check says
     * which (an RB_PARAM_INT would refuse "5432" at load). */
    {"port", RB_PARAM_ANY, 1, NULL,
     "TCP port, 1 to 65535: a number, or its decimal text (\"5432\")."},
    {"timeout", RB_PARAM_DURATION, 0, "\"5s\"", "Limit for resolving and connecting."},
    {NULL, 0, 0, NULL, NULL},
};

const rb_action_t rb_action_tcp = {
    .abi_version = RB_ACTION_ABI_VERSION,
    .struct_size = sizeof(rb_action_t),
    .name = "tcp",
    .summary = "Check that a TCP port accepts connections",
    .flags = RB_ACTION_READ_ONLY,
    .params = tcp_params,
    .validate = tcp_validate,
    .start = tcp_start,
    .cancel = tcp_cancel,
};
