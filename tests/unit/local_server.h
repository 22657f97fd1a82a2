/*
 * local_server.h — a tiny HTTP/1.1 test server on 127.0.0.1 (an ephemeral
 * port) that runs on the test's own uv loop, for test_http.c and
 * test_notify.c. It reads one request per connection (headers and a
 * Content-Length body), keeps its bytes, then answers canned bytes and
 * closes, says nothing, or resets the connection.
 *
 * Owns: its listener and connection handles; lsrv_close() closes them all,
 * so a test's loop still ends with no handle left. Test code only: it
 * trusts its input and asserts on anything unexpected.
 */
#ifndef RB_TEST_LOCAL_SERVER_H
#define RB_TEST_LOCAL_SERVER_H

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define LS_FN static __attribute__((unused))
#define LS_MAX_RESPONSES 8

typedef enum { LS_RESPOND, LS_SILENT, LS_RESET } lsrv_mode_t;

typedef struct lsrv lsrv_t;

typedef struct lconn {
    uv_tcp_t tcp;
    lsrv_t *srv;
    char *buf;
    size_t len, alloc;
    int done;    /* the request is complete */
    int closing;
    uv_write_t wreq;
    struct lconn *next, *prev;
} lconn_t;

struct lsrv {
    uv_tcp_t listener;
    int port;
    lsrv_mode_t mode;
    /* Request i (0-based, over all connections) gets responses[min(i, n-1)]. */
    const char *responses[LS_MAX_RESPONSES];
    int nresponses;
    size_t fill; /* then this many 'x' bytes after the response */
    char *fillbuf;
    int nconns, nrequests;
    char *last; /* the bytes of the last complete request, NUL-terminated */
    size_t last_len;
    lconn_t *conns;
    int closed;
};

static void ls_conn_closed(uv_handle_t *h)
{
    lconn_t *c = h->data;
    lsrv_t *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->buf);
    free(c);
}

static void ls_conn_close(lconn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, ls_conn_closed);
}

static void ls_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    lconn_t *c = h->data;
    if (c->alloc - c->len < 65536) {
        c->alloc = c->alloc ? c->alloc * 2 : 65536;
        c->buf = realloc(c->buf, c->alloc + 1);
    }
    *b = uv_buf_init(c->buf + c->len, (unsigned)(c->alloc - c->len));
}

static void ls_written(uv_write_t *w, int status)
{
    ls_conn_close(w->data);
}

/* Complete when the headers have ended and Content-Length bytes followed. */
static int ls_request_complete(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t hdr = (size_t)(end - buf) + 4, cl = 0;
    for (const char *p = buf; p < end; p++)
        if ((p == buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
            cl = strtoul(p + 15, NULL, 10);
    return len >= hdr + cl;
}

static void ls_respond(lconn_t *c)
{
    lsrv_t *s = c->srv;
    int i = s->nrequests - 1;
    if (i >= s->nresponses)
        i = s->nresponses - 1;
    const char *r =
        i >= 0 ? s->responses[i] : "HTTP/1.1 500 No Response Set\r\nContent-Length: 0\r\n\r\n";
    uv_buf_t bufs[2] = {uv_buf_init((char *)r, (unsigned)strlen(r)),
                        uv_buf_init(s->fillbuf, (unsigned)s->fill)};
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, s->fill ? 2 : 1, ls_written) < 0)
        ls_conn_close(c);
}

static void ls_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    lconn_t *c = st->data;
    lsrv_t *s = c->srv;
    if (n < 0) {
        ls_conn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    if (c->done || !ls_request_complete(c->buf, c->len))
        return;
    c->done = 1;
    s->nrequests++;
    free(s->last);
    s->last = malloc(c->len + 1);
    memcpy(s->last, c->buf, c->len + 1);
    s->last_len = c->len;
    if (s->mode == LS_RESET) {
        c->closing = 1;
        uv_tcp_close_reset(&c->tcp, ls_conn_closed);
    } else if (s->mode == LS_RESPOND) {
        ls_respond(c);
    } /* LS_SILENT: keep reading until the client goes away */
}

static void ls_accept(uv_stream_t *l, int status)
{
    lsrv_t *s = l->data;
    if (status < 0)
        return;
    lconn_t *c = calloc(1, sizeof(*c));
    c->srv = s;
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
        free(c);
        return;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    uv_read_start((uv_stream_t *)&c->tcp, ls_alloc, ls_read);
}

/* Listens on 127.0.0.1:0. Returns 0, or a negative uv error. */
LS_FN int lsrv_start(lsrv_t *s, uv_loop_t *loop, lsrv_mode_t mode)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&s->listener, 64, ls_accept);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (!rc)
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (!rc)
        s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return rc;
}

LS_FN void lsrv_add_response(lsrv_t *s, const char *r)
{
    s->responses[s->nresponses++] = r;
}

/* After the canned response, n bytes of 'x' (a large body). */
LS_FN void lsrv_fill(lsrv_t *s, size_t n)
{
    s->fill = n;
    s->fillbuf = malloc(n ? n : 1);
    memset(s->fillbuf, 'x', n);
}

/* Closes the listener and every connection; the loop can then end. */
LS_FN void lsrv_close(lsrv_t *s)
{
    if (s->closed)
        return;
    s->closed = 1;
    uv_close((uv_handle_t *)&s->listener, NULL);
    for (lconn_t *c = s->conns; c; c = c->next)
        ls_conn_close(c);
}

/* Frees what the server kept; after the loop has run dry. */
LS_FN void lsrv_free(lsrv_t *s)
{
    free(s->last);
    free(s->fillbuf);
    s->last = s->fillbuf = NULL;
}

/* The body of the last request (after the blank line), or "". */
LS_FN const char *lsrv_last_body(const lsrv_t *s)
{
    const char *e = s->last ? strstr(s->last, "\r\n\r\n") : NULL;
    return e ? e + 4 : "";
}

#endif
