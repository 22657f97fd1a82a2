/*
 * api.c — what the /api/v1 handlers and the generic hook share: a query
 * parameter (decoded by libcurl), a run id from the path, the body as a
 * JSON object, the answer that waits until the journal has made durable
 * what the request appended, and the answer of a page for people (an HTML
 * page under a Content-Security-Policy that lets it only show itself).
 *
 * Owns: nothing past a call (the durable answer's context until its
 * flush). Must never: answer 2xx for a write before the flush said durable.
 */
#define _GNU_SOURCE
#include "api.h"
#include "base/text.h"

#include <runbook/runbook.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <errno.h>
#include <stdio.h>
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
            if (n == klen + 1) /* "key=": libcurl would read a length 0 as "up to the NUL" */
                return strdup("");
            /* a '+' is a space (what a browser's form sends); a '+' itself
             * comes as %2B */
            char *raw = strndup(q + klen + 1, n - klen - 1);
            if (!raw)
                return NULL;
            for (char *p = raw; *p; p++)
                if (*p == '+')
                    *p = ' ';
            int out = 0;
            char *v = curl_easy_unescape(NULL, raw, (int)strlen(raw), &out);
            free(raw);
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

json_t *rb__api_body(rb_http_req_t *r, const char *const *keys)
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
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], key))
            i++;
        if (keys[i])
            continue;
        char why[400], known[120] = "";
        for (i = 0; keys[i]; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", keys[i]);
        char *k = rb_text_one_line(key, strlen(key), 64, NULL); /* one line, cut */
        snprintf(why, sizeof why, "unknown key \"%s\" in the body (%s%s)", k ? k : "?",
                 *known ? "it holds " : "it holds nothing", known);
        free(k);
        json_decref(v);
        rb_http_reply_error(r, 400, why);
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

/* The policy for an HTML page: nothing may load, run or frame; a form may
 * submit only where the page says (%s: 'none', or 'self' for the runs
 * list's filters, a GET to itself); the one <style> element of the page is
 * allowed by its SHA-256 (put in at the other %s). */
#define RB_PAGE_CSP                                                                    \
    "default-src 'none'; style-src '%s'; img-src 'none'; base-uri 'none'; "            \
    "form-action %s; frame-ancestors 'none'"

/* "sha256-BASE64" of the text of the page's first <style> element, in src
 * (size cap); "" when the page has none. */
static void style_hash(const char *page, size_t len, char *src, size_t cap)
{
    *src = '\0';
    const char *a = memmem(page, len, "<style>", 7);
    const char *b = a ? memmem(a, len - (size_t)(a - page), "</style>", 8) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE], b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    unsigned int ml = 0;
    if (!b || EVP_Digest(a + 7, (size_t)(b - a - 7), md, &ml, EVP_sha256(), NULL) != 1)
        return;
    EVP_EncodeBlock(b64, md, (int)ml);
    snprintf(src, cap, "sha256-%s", (const char *)b64);
}

void rb__api_reply_page(rb_http_req_t *r, const char *type, const char *page, size_t len,
                        const char *form_action)
{
    if (!strncmp(type, "text/html", 9)) {
        char hash[128], csp[512];
        style_hash(page, len, hash, sizeof hash);
        snprintf(csp, sizeof csp, RB_PAGE_CSP, *hash ? hash : "none", form_action);
        rb_http_res_header(r, "content-security-policy", csp);
    }
    rb_http_res_header(r, "x-content-type-options", "nosniff");
    rb_http_res_header(r, "cache-control", "no-store");
    rb_http_reply(r, 200, type, page, len);
}
