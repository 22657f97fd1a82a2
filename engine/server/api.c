/*
 * api.c — what the /api/v1 handlers and the generic hook share: a query
 * parameter (decoded by libcurl), a run id from the path, the body as a
 * JSON object, and the answer that waits until the journal has made
 * durable what the request appended.
 *
 * Owns: nothing past a call (the durable answer's context until its
 * flush). Must never: answer 2xx for a write before the flush said durable.
 */
#define _GNU_SOURCE
#include "api.h"

#include <runbook/runbook.h>

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *rb__api_query(rb_http_req_t *r, const char *key)
{
    size_t len, klen = strlen(key);
    const char *q = rb_http_req_query(r, &len);
    while (q && len) {
        const char *amp = memchr(q, '&', len);
        size_t n = amp ? (size_t)(amp - q) : len;
        if (n > klen && !memcmp(q, key, klen) && q[klen] == '=') {
            int out = 0;
            char *v = curl_easy_unescape(NULL, q + klen + 1, (int)(n - klen - 1), &out);
            if (!v)
                return NULL;
            char *dup = strndup(v, (size_t)out); /* a %00 ends it */
            curl_free(v);
            return dup;
        }
        if (!amp)
            break;
        len -= n + 1;
        q = amp + 1;
    }
    return NULL;
}

int64_t rb__api_path_id(rb_http_req_t *r, const char *prefix, const char **rest)
{
    const char *p = rb_http_req_path(r);
    size_t pl = strlen(prefix);
    *rest = "";
    if (strncmp(p, prefix, pl) != 0)
        return 0;
    p += pl;
    if (*p < '1' || *p > '9')
        return 0;
    char *end;
    errno = 0;
    long long id = strtoll(p, &end, 10);
    if (errno || (*end && *end != '/'))
        return 0;
    *rest = end;
    return (int64_t)id;
}

json_t *rb__api_body(rb_http_req_t *r)
{
    size_t len;
    const char *b = rb_http_req_body(r, &len);
    if (!len)
        return json_object();
    json_error_t e;
    json_t *v = json_loadb(b, len, 0, &e);
    if (!v) {
        char why[300];
        snprintf(why, sizeof why, "the body is not JSON: %s (line %d, column %d)", e.text,
                 e.line, e.column);
        rb_http_reply_error(r, 400, why);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        rb_http_reply_error(r, 400, "the body must be a JSON object");
        return NULL;
    }
    return v;
}

typedef struct {
    rb_srv_t *s;
    rb_http_req_t *r;
    int status;
    json_t *v;
} durable_t;

static void on_durable(int status, void *arg)
{
    durable_t *d = arg;
    if (status < 0) {
        rb__srv_journal_failed(d->s, "an API request");
        json_decref(d->v);
        rb_http_reply_error(d->r, 503, "the journal could not take the request");
    } else {
        rb_http_reply_json(d->r, d->status, d->v);
    }
    free(d);
}

void rb__api_reply_durable(rb_srv_t *s, rb_http_req_t *r, int status, json_t *v)
{
    durable_t *d = malloc(sizeof *d);
    if (!d) {
        json_decref(v);
        rb_http_reply_error(r, 500, "out of memory");
        return;
    }
    *d = (durable_t){s, r, status, v};
    if (rb_journal_flush(s->j, on_durable, d) < 0)
        on_durable(RB_EJOURNAL, d);
}

void rb__api_not_in_flight(rb_srv_t *s, rb_http_req_t *r, int64_t id)
{
    json_t *v = NULL;
    int rc = rb_journal_run_get(s->j, id, &v);
    json_decref(v);
    rb_http_reply_error(r, rc == RB_ENOTFOUND ? 404 : 409,
                        rc == RB_ENOTFOUND ? "no such run"
                                           : "the run is not in flight on this server");
}
