/*
 * http_client.c — HTTP transfers for the built-in actions (`http`, `notify`):
 * libcurl's multi_socket interface driven by the uv loop, as in curl's
 * docs/examples/multi-uv.c.
 *
 * Owns: a small registry of per-loop states, one per uv loop that has a
 * transfer in flight: its CURLM, the uv_timer_t curl asks for
 * (CURLMOPT_TIMERFUNCTION) and one uv_poll_t per socket curl watches
 * (CURLMOPT_SOCKETFUNCTION). A loop's state is made by the first transfer on
 * it and torn down (curl_multi_cleanup, every handle closed) when its last
 * transfer ends, so a loop that ran transfers closes clean. Each request owns
 * its easy handle, its request headers and body, what it has received, and
 * one never-started uv_timer_t whose close callback hands the result over.
 *
 * Must never:
 *   - run a blocking transfer (curl_easy_perform) or start a thread per
 *     request: every byte moves in curl_multi_socket_action on the loop
 *     (libcurl's own resolver thread is the one exception, and it is
 *     detached, never joined on the loop: CURLOPT_QUICK_EXIT);
 *   - call curl from inside a curl callback, or report from inside start or
 *     cancel: results go out from a close callback, after the easy handle
 *     has left the multi;
 *   - keep more than max_body bytes of a body, nor RB_HTTP_MAX_HEADER_BYTES
 *     of headers, whatever the server sends;
 *   - speak anything but http and https, follow a redirect to another
 *     scheme, or from https down to http — except through a caller's own
 *     setup (rb__http_opts_t.setup: notify's SMTP), which names its
 *     protocols itself.
 */
#define _GNU_SOURCE
#include "http_client.h"

#include <runbook/runbook.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_USER_AGENT "runbook/" RB_VERSION

typedef struct http_loop http_loop_t;

typedef struct http_sock {
    uv_poll_t poll;
    http_loop_t *L;
    curl_socket_t fd;
    int events; /* UV_READABLE | UV_WRITABLE, as curl last asked */
    int closing;
    struct http_sock *next, *prev;
} http_sock_t;

struct http_loop {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    http_sock_t *socks;
    size_t ntransfers;
    int handles;  /* our uv handles on the loop not yet closed */
    int detached; /* out of the registry, being torn down */
    http_loop_t *next;
};

struct rb__http_req {
    http_loop_t *L;
    CURL *easy;
    struct curl_slist *req_headers;
    char *req_body;
    char errbuf[CURL_ERROR_SIZE];
    uv_timer_t done_timer; /* never started: its close callback reports */
    rb__http_done_cb done;
    void *arg;
    int finished;
    int silent; /* start failed after the timer was inited: free, no report */
    /* the response */
    size_t max_body, hard_limit;
    char *buf;
    size_t len, alloc, seen;
    int truncated, too_large;
    json_t *headers;
    size_t hdr_count, hdr_bytes;
    json_t *result;
    void (*release)(void *); /* the caller's, after curl_easy_cleanup */
    void *release_arg;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static http_loop_t *g_loops;
static size_t g_nloops;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc;

static void global_init(void)
{
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

size_t rb__http_active_loops(void)
{
    pthread_mutex_lock(&g_lock);
    size_t n = g_nloops;
    pthread_mutex_unlock(&g_lock);
    return n;
}

/* ---------- the per-loop state ---------- */

static void loop_handle_closed(http_loop_t *L)
{
    if (--L->handles == 0 && L->detached)
        free(L);
}

static void loop_timer_closed(uv_handle_t *h)
{
    loop_handle_closed(h->data);
}

static void sock_closed(uv_handle_t *h)
{
    http_sock_t *sc = h->data;
    http_loop_t *L = sc->L;
    free(sc);
    loop_handle_closed(L);
}

static void sock_close(http_sock_t *sc)
{
    if (sc->closing)
        return;
    sc->closing = 1;
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        sc->L->socks = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    uv_poll_stop(&sc->poll);
    uv_close((uv_handle_t *)&sc->poll, sock_closed);
}

static void drain(http_loop_t *L);

static void poll_cb(uv_poll_t *p, int status, int events)
{
    http_sock_t *sc = p->data;
    http_loop_t *L = sc->L;
    int flags = 0, running = 0;
    if (status < 0) {
        /* libuv stops the handle on POLLERR (a reset, a refused connect):
         * let curl read or write the socket to learn the real error. */
        flags = (sc->events & UV_READABLE ? CURL_CSELECT_IN : 0) |
                (sc->events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
        if (!flags)
            flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(L->multi, sc->fd, flags, &running);
    /* Still wanted by curl after an error: watch it again (curl fails the
     * transfer on its next read or write, and then removes the socket). */
    if (status < 0 && !sc->closing && !L->detached)
        uv_poll_start(&sc->poll, sc->events, poll_cb);
    drain(L);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    http_loop_t *L = userp;
    http_sock_t *sc = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            sock_close(sc);
            if (!L->detached)
                curl_multi_assign(L->multi, s, NULL);
        }
        return 0;
    }
    if (L->detached)
        return 0;
    if (!sc) {
        sc = calloc(1, sizeof(*sc));
        if (!sc)
            return -1;
        if (uv_poll_init_socket(L->loop, &sc->poll, s) < 0) {
            free(sc);
            return -1;
        }
        sc->poll.data = sc;
        sc->L = L;
        sc->fd = s;
        sc->next = L->socks;
        if (L->socks)
            L->socks->prev = sc;
        L->socks = sc;
        L->handles++;
        curl_multi_assign(L->multi, s, sc);
    }
    sc->events = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    uv_poll_start(&sc->poll, sc->events, poll_cb);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    http_loop_t *L = t->data;
    int running = 0;
    curl_multi_socket_action(L->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(L);
}

/* curl's timer: never act here (curl is on the stack), only arm the uv one. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    http_loop_t *L = userp;
    if (L->detached)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&L->timer);
    else
        uv_timer_start(&L->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* The live state of loop, made on first use. NULL when out of memory. */
static http_loop_t *loop_get(uv_loop_t *loop)
{
    http_loop_t *L;
    pthread_mutex_lock(&g_lock);
    for (L = g_loops; L; L = L->next)
        if (L->loop == loop)
            break;
    pthread_mutex_unlock(&g_lock);
    if (L)
        return L;
    L = calloc(1, sizeof(*L));
    if (!L)
        return NULL;
    L->loop = loop;
    L->multi = curl_multi_init();
    if (!L->multi) {
        free(L);
        return NULL;
    }
    curl_multi_setopt(L->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(L->multi, CURLMOPT_SOCKETDATA, L);
    curl_multi_setopt(L->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(L->multi, CURLMOPT_TIMERDATA, L);
    uv_timer_init(loop, &L->timer);
    L->timer.data = L;
    L->handles = 1;
    pthread_mutex_lock(&g_lock);
    L->next = g_loops;
    g_loops = L;
    g_nloops++;
    pthread_mutex_unlock(&g_lock);
    return L;
}

/* Tears the loop's state down once its last transfer has ended. Never
 * called from inside a curl call. The next transfer on the loop makes a new
 * one; this one is freed when its last handle has closed. */
static void loop_release_if_idle(http_loop_t *L)
{
    if (L->ntransfers || L->detached)
        return;
    pthread_mutex_lock(&g_lock);
    for (http_loop_t **pp = &g_loops; *pp; pp = &(*pp)->next)
        if (*pp == L) {
            *pp = L->next;
            g_nloops--;
            break;
        }
    pthread_mutex_unlock(&g_lock);
    L->detached = 1;
    /* Closes the cached connections; curl may call socket_cb(REMOVE). */
    curl_multi_cleanup(L->multi);
    L->multi = NULL;
    while (L->socks)
        sock_close(L->socks);
    uv_timer_stop(&L->timer);
    uv_close((uv_handle_t *)&L->timer, loop_timer_closed);
}

/* ---------- one request ---------- */

static void req_closed(uv_handle_t *h)
{
    rb__http_req_t *req = h->data;
    rb__http_done_cb done = req->done;
    void *arg = req->arg;
    json_t *result = req->result;
    char *buf = req->buf;
    size_t len = req->len;
    int silent = req->silent;
    json_decref(req->headers);
    free(req);
    if (!silent)
        done(result, buf ? buf : "", len, arg);
    else
        json_decref(result);
    free(buf);
}

static size_t body_cb(char *p, size_t size, size_t n, void *ud)
{
    rb__http_req_t *req = ud;
    size_t len = size * n;
    req->seen += len;
    if (req->len < req->max_body && len) {
        size_t take = req->max_body - req->len < len ? req->max_body - req->len : len;
        if (req->len + take > req->alloc) {
            size_t a = req->alloc ? req->alloc : 4096;
            while (a < req->len + take)
                a *= 2;
            if (a > req->max_body)
                a = req->max_body;
            char *nb = realloc(req->buf, a);
            if (!nb) {
                req->truncated = 1;
                take = 0;
            } else {
                req->buf = nb;
                req->alloc = a;
            }
        }
        if (take)
            memcpy(req->buf + req->len, p, take);
        req->len += take;
    }
    if (req->seen > req->max_body)
        req->truncated = 1;
    if (req->seen > req->hard_limit) {
        req->too_large = 1;
        return 0; /* curl stops the transfer: CURLE_WRITE_ERROR */
    }
    return len;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    rb__http_req_t *req = ud;
    size_t len = size * n, l = len;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or a 100 Continue): only the
         * last one's headers and body are the result. */
        json_object_clear(req->headers);
        req->hdr_count = req->hdr_bytes = 0;
        req->len = req->seen = 0;
        req->truncated = 0;
        return len;
    }
    while (l && (p[l - 1] == '\r' || p[l - 1] == '\n'))
        l--;
    if (!l || p[0] == ' ' || p[0] == '\t')
        return len; /* the blank line, or an obsolete folded continuation */
    const char *colon = memchr(p, ':', l);
    size_t nl = colon ? (size_t)(colon - p) : 0;
    if (!nl || nl > 128 || req->hdr_count >= RB_HTTP_MAX_HEADERS ||
        req->hdr_bytes + l > RB_HTTP_MAX_HEADER_BYTES)
        return len;
    char name[129];
    for (size_t i = 0; i < nl; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!rb__http_token_char(c))
            return len;
        name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    name[nl] = '\0';
    const char *v = colon + 1, *end = p + l;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    json_t *val = rb__http_text(v, (size_t)(end - v), 0);
    if (!val)
        return len;
    const char *prev = json_string_value(json_object_get(req->headers, name));
    if (prev) { /* a repeated header: one value, joined with ", " */
        char *joined = NULL;
        if (asprintf(&joined, "%s, %s", prev, json_string_value(val)) >= 0) {
            json_decref(val);
            val = json_string(joined);
            free(joined);
        }
    }
    json_object_set_new(req->headers, name, val);
    req->hdr_count++;
    req->hdr_bytes += l;
    return len;
}

/* The URL without user:password, for the result (and so the journal). */
static json_t *url_public(const char *url)
{
    CURLU *u = curl_url();
    char *out = NULL;
    json_t *r;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_set(u, CURLUPART_USER, NULL, 0);
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
        curl_url_get(u, CURLUPART_URL, &out, 0);
    }
    r = json_string(out ? out : "");
    curl_free(out);
    curl_url_cleanup(u);
    return r;
}

static json_t *build_result(rb__http_req_t *req, CURLcode rc, int cancelled)
{
    long code = 0, redirects = 0;
    curl_off_t total_us = 0;
    char *eff = NULL;
    curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(req->easy, CURLINFO_REDIRECT_COUNT, &redirects);
    curl_easy_getinfo(req->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    curl_easy_getinfo(req->easy, CURLINFO_EFFECTIVE_URL, &eff);

    const char *outcome;
    char err[CURL_ERROR_SIZE + 96] = "";
    if (cancelled) {
        outcome = "cancelled";
        snprintf(err, sizeof(err), "cancelled");
    } else if (req->too_large) {
        outcome = "error";
        snprintf(err, sizeof(err),
                 "response too large: stopped reading after %zu bytes (max_body %zu)", req->seen,
                 req->max_body);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        outcome = "timeout";
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
               rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
               rc == CURLE_PARTIAL_FILE) {
        /* the probe ran and the target did not answer (refused, reset,
         * unknown name): evidence, as tcp says, not an error of the probe
         * (docs/semantics.md, R-probe-error) */
        outcome = "failed";
    } else if (rc != CURLE_OK) {
        outcome = "error";
    } else {
        outcome = code >= 200 && code < 300 ? "ok" : "failed";
    }
    if (!err[0] && rc != CURLE_OK)
        snprintf(err, sizeof(err), "%s", req->errbuf[0] ? req->errbuf : curl_easy_strerror(rc));

    json_t *body = rb__http_text(req->buf ? req->buf : "", req->len, req->truncated);
    json_t *r = json_object();
    if (!r || !body) {
        json_decref(r);
        json_decref(body);
        return NULL;
    }
    json_object_set_new(r, "ok", json_boolean(!strcmp(outcome, "ok")));
    json_object_set_new(r, "outcome", json_string(outcome));
    json_object_set_new(r, "status", json_integer(code));
    json_object_set(r, "headers", req->headers);
    json_object_set_new(r, "body", body);
    json_object_set_new(r, "body_truncated", json_boolean(req->truncated));
    json_object_set_new(r, "time_ms", json_integer((json_int_t)(total_us / 1000)));
    json_object_set_new(r, "redirects", json_integer(redirects));
    if (eff)
        json_object_set_new(r, "url", url_public(eff));
    if (err[0])
        json_object_set_new(r, "error", json_string(err));
    return r;
}

/* Ends a request: out of the multi, result built, easy handle freed, report
 * on its way. Never from inside a curl call. */
static void req_finish(rb__http_req_t *req, CURLcode rc, int cancelled)
{
    if (req->finished)
        return;
    req->finished = 1;
    http_loop_t *L = req->L;
    curl_multi_remove_handle(L->multi, req->easy);
    req->result = build_result(req, rc, cancelled);
    if (!req->result)
        req->result = json_pack("{s:b,s:s,s:i,s:s}", "ok", 0, "outcome", "error", "status", 0,
                                "error", "out of memory");
    curl_easy_cleanup(req->easy);
    req->easy = NULL;
    if (req->release)
        req->release(req->release_arg);
    req->release = NULL;
    curl_slist_free_all(req->req_headers);
    req->req_headers = NULL;
    free(req->req_body);
    req->req_body = NULL;
    req->L = NULL;
    L->ntransfers--;
    uv_close((uv_handle_t *)&req->done_timer, req_closed);
}

/* Hands over every finished transfer, then lets the loop state go if idle. */
static void drain(http_loop_t *L)
{
    CURLMsg *m;
    int left;
    while (!L->detached && (m = curl_multi_info_read(L->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        char *priv = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        if (priv)
            req_finish((rb__http_req_t *)priv, rc, 0);
    }
    loop_release_if_idle(L);
}

void rb__http_cancel(rb__http_req_t *req)
{
    if (!req || req->finished)
        return;
    http_loop_t *L = req->L;
    req_finish(req, CURLE_OK, 1);
    loop_release_if_idle(L);
}

/* Request headers: the caller's, then Content-Type for the body unless they
 * gave one, and an empty Expect (no 100-continue wait on larger bodies). */
static int build_headers(rb__http_req_t *req, const rb__http_opts_t *o, char *msg, size_t msglen)
{
    int has_ct = 0, has_expect = 0;
    if (o->headers) {
        if (rb__http_check_headers(o->headers, 1, msg, msglen) < 0)
            return RB_EINVAL;
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)o->headers, k, v) {
            char *line = NULL, *val;
            if (json_is_string(v))
                val = strdup(json_string_value(v));
            else
                val = json_dumps(v, JSON_ENCODE_ANY);
            if (!val)
                return RB_ENOMEM;
            /* "Name:" would tell curl to drop the header; "Name;" sends it empty. */
            int rc = *val ? asprintf(&line, "%s: %s", k, val) : asprintf(&line, "%s;", k);
            free(val);
            if (rc < 0)
                return RB_ENOMEM;
            struct curl_slist *nl = curl_slist_append(req->req_headers, line);
            free(line);
            if (!nl)
                return RB_ENOMEM;
            req->req_headers = nl;
            has_ct |= !strcasecmp(k, "content-type");
            has_expect |= !strcasecmp(k, "expect");
        }
    }
    struct curl_slist *nl;
    if (o->body && o->content_type && !has_ct) {
        char *line = NULL;
        if (asprintf(&line, "Content-Type: %s", o->content_type) < 0)
            return RB_ENOMEM;
        nl = curl_slist_append(req->req_headers, line);
        free(line);
        if (!nl)
            return RB_ENOMEM;
        req->req_headers = nl;
    }
    if (!has_expect) {
        if (!(nl = curl_slist_append(req->req_headers, "Expect:")))
            return RB_ENOMEM;
        req->req_headers = nl;
    }
    return 0;
}

#define SET(opt, val) RB__HTTP_SET(e, opt, val)

/* The options of every transfer, HTTP or the caller's own protocol. */
static int setup_common(rb__http_req_t *req, const rb__http_opts_t *o, char *msg, size_t msglen)
{
    CURL *e = req->easy;
    SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700 /* 7.87.0 */
    /* A transfer that ends (cancel, timeout) while libcurl's resolver thread
     * is still in getaddrinfo: detach that thread instead of joining it,
     * which would block the loop until the lookup returns. */
    SET(CURLOPT_QUICK_EXIT, 1L);
#endif
    SET(CURLOPT_PRIVATE, req);
    SET(CURLOPT_ERRORBUFFER, req->errbuf);
    SET(CURLOPT_USERAGENT, HTTP_USER_AGENT);
    SET(CURLOPT_WRITEFUNCTION, body_cb);
    SET(CURLOPT_WRITEDATA, req);
    SET(CURLOPT_HEADERFUNCTION, header_cb);
    SET(CURLOPT_HEADERDATA, req);
    SET(CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    if (o->timeout_ms) {
        long t = o->timeout_ms > (uint64_t)0x7fffffff ? 0x7fffffffL : (long)o->timeout_ms;
        SET(CURLOPT_TIMEOUT_MS, t);
        SET(CURLOPT_CONNECTTIMEOUT_MS, t);
    }
    if (o->setup)
        return o->setup(e, o->setup_arg, msg, msglen);
    return 0;
}

static int setup_easy(rb__http_req_t *req, const rb__http_opts_t *o, char *msg, size_t msglen)
{
    CURL *e = req->easy;
    const char *method = o->method ? o->method : o->body ? "POST" : "GET";
    if (!rb__http_token_ok(method, 32)) {
        snprintf(msg, msglen, "invalid method \"%.40s\"", method);
        return RB_EINVAL;
    }
    SET(CURLOPT_URL, o->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, rb__http_redir_protocols(o->url));
    SET(CURLOPT_FOLLOWLOCATION, o->follow_redirects ? 1L : 0L);
    SET(CURLOPT_MAXREDIRS, (long)RB_HTTP_MAX_REDIRS);
    if (req->req_headers)
        SET(CURLOPT_HTTPHEADER, req->req_headers);
    if (!strcmp(method, "HEAD")) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (!strcmp(method, "GET") && !o->body) {
        SET(CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, method);
        if (o->body || !strcmp(method, "POST")) {
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(o->body ? o->body_len : 0));
            SET(CURLOPT_POSTFIELDS, req->req_body ? req->req_body : "");
        }
    }
    return 0;
}

int rb__http_start(uv_loop_t *loop, const rb__http_opts_t *o, rb__http_done_cb done, void *arg,
                   rb__http_req_t **out, char *msg, size_t msglen)
{
    pthread_once(&g_once, global_init);
    if (g_init_rc != CURLE_OK) {
        snprintf(msg, msglen, "libcurl failed to initialise: %s", curl_easy_strerror(g_init_rc));
        if (o->release)
            o->release(o->setup_arg);
        return RB_EIO;
    }
    if (!o->setup && rb__http_check_url(o->url, msg, msglen) < 0)
        return RB_EINVAL;
    rb__http_req_t *req = calloc(1, sizeof(*req));
    if (!req || !(req->headers = json_object()) || !(req->easy = curl_easy_init())) {
        if (req)
            json_decref(req->headers);
        free(req);
        snprintf(msg, msglen, "out of memory");
        if (o->release)
            o->release(o->setup_arg);
        return RB_ENOMEM;
    }
    req->release = o->release;
    req->release_arg = o->setup_arg;
    req->done = done;
    req->arg = arg;
    req->max_body = o->max_body;
    req->hard_limit = o->max_body > SIZE_MAX / RB_HTTP_DRAIN_FACTOR
                          ? SIZE_MAX
                          : o->max_body * RB_HTTP_DRAIN_FACTOR;
    if (req->hard_limit < RB_HTTP_DRAIN_MIN)
        req->hard_limit = RB_HTTP_DRAIN_MIN;
    if (o->drain_body)
        req->hard_limit = SIZE_MAX;
    int rc = 0;
    if (!o->setup && o->body && !(req->req_body = malloc(o->body_len ? o->body_len : 1)))
        rc = RB_ENOMEM;
    if (!rc && !o->setup && o->body)
        memcpy(req->req_body, o->body, o->body_len);
    if (!rc && !o->setup)
        rc = build_headers(req, o, msg, msglen);
    if (!rc && !o->setup)
        rc = setup_easy(req, o, msg, msglen);
    if (!rc)
        rc = setup_common(req, o, msg, msglen);
    http_loop_t *L = rc ? NULL : loop_get(loop);
    if (!rc && !L)
        rc = RB_ENOMEM;
    if (rc != 0) {
        if (rc == RB_ENOMEM)
            snprintf(msg, msglen, "out of memory");
        curl_easy_cleanup(req->easy);
        if (req->release)
            req->release(req->release_arg);
        curl_slist_free_all(req->req_headers);
        free(req->req_body);
        json_decref(req->headers);
        free(req);
        return rc;
    }
    uv_timer_init(loop, &req->done_timer);
    req->done_timer.data = req;
    req->L = L;
    L->ntransfers++;
    CURLMcode mc = curl_multi_add_handle(L->multi, req->easy);
    if (mc != CURLM_OK) {
        snprintf(msg, msglen, "libcurl: %s", curl_multi_strerror(mc));
        L->ntransfers--;
        req->L = NULL;
        req->finished = 1;
        req->silent = 1;
        curl_easy_cleanup(req->easy);
        if (req->release)
            req->release(req->release_arg);
        req->release = NULL;
        curl_slist_free_all(req->req_headers);
        free(req->req_body);
        uv_close((uv_handle_t *)&req->done_timer, req_closed);
        loop_release_if_idle(L);
        return RB_EIO;
    }
    *out = req;
    return 0;
}
