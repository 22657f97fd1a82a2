/*
 * http.c — the `http` action: one HTTP(S) request, its status, headers and
 * body, and the body parsed as JSON when it is JSON.
 *
 * Owns: the parameter map and its checks, turning `with` into a transfer for
 * http_client.c, and the JSON view of the body. The transfer itself (libcurl
 * multi on the uv loop, caps, redirect rules) is http_client.c's.
 *
 * Must never:
 *   - run a transfer of its own (curl_easy_perform, a thread): every request
 *     goes through rb__http_start on the step's loop;
 *   - let a value from an alert label become a header line or a second
 *     header (CR, LF and NUL are refused in header values after rendering);
 *   - treat a body that is not JSON as a failure: `json_error` says why it
 *     was not parsed, `ok` is about the HTTP status only.
 *
 * The result's "status" is the HTTP status code (an integer, 0 when no
 * response came), so that `expect: "status == 200"` reads as in DESIGN §3;
 * the outcome word every action has is in "outcome" (docs/actions.md).
 */
#define _GNU_SOURCE
#include <runbook/action.h>

#include "http_client.h"
#include "with.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_DEFAULT_TIMEOUT_MS 10000
#define HTTP_MAX_BODY_LIMIT (16 * 1024 * 1024)

typedef struct http_state {
    rb_action_ctx_t *ctx;
    rb__http_req_t *req;
} http_state_t;

/* GET, post, Patch …: a token, upper-cased into buf. */
static int method_norm(const char *m, char *buf, size_t len)
{
    size_t n = strlen(m);
    if (n == 0 || n >= len)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = m[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return -1;
        buf[i] = c;
    }
    buf[n] = '\0';
    return 0;
}

/* Load-time (rendered = 0: templates pass) and start-time checks. */
static int http_check(const json_t *with, int rendered, char *msg, size_t msglen, const char **key)
{
    char sub[200];
    if (!json_is_object(with))
        RB__WITH_FAIL(NULL, "http: `with` must be an object");
    const json_t *url = rb__with_get(with, "url");
    if (!url)
        RB__WITH_FAIL("url", "url is required");
    if (!rb__with_unrendered(url, rendered)) {
        if (!json_is_string(url))
            RB__WITH_FAIL("url", "url must be a string");
        if (rb__with_has_nul(url))
            RB__WITH_FAIL("url", "url contains a NUL byte");
        if (rb__http_check_url(json_string_value(url), sub, sizeof(sub)) < 0)
            RB__WITH_FAIL("url", "%s", sub);
    }
    const json_t *method = rb__with_get(with, "method");
    char mbuf[33] = "";
    if (method && !rb__with_unrendered(method, rendered)) {
        if (!json_is_string(method) || rb__with_has_nul(method) ||
            method_norm(json_string_value(method), mbuf, sizeof(mbuf)) < 0)
            RB__WITH_FAIL("method", "method must be an HTTP method such as GET, POST, PUT, DELETE");
    }
    const json_t *js = rb__with_get(with, "json"), *body = rb__with_get(with, "body");
    if (js && body)
        RB__WITH_FAIL("body", "give either json or body, not both");
    if (body && !rb__with_unrendered(body, rendered) && !json_is_string(body))
        RB__WITH_FAIL("body", "body must be a string (use json for structured data)");
    if (!strcmp(mbuf, "HEAD") && (js || body))
        RB__WITH_FAIL("method", "a HEAD request has no body");
    const json_t *headers = rb__with_get(with, "headers");
    if (headers && !rb__with_unrendered(headers, rendered) &&
        rb__http_check_headers(headers, rendered, sub, sizeof(sub)) < 0)
        RB__WITH_FAIL("headers", "%s", sub);
    const json_t *timeout = rb__with_get(with, "timeout");
    uint64_t ms;
    if (timeout && !rb__with_unrendered(timeout, rendered) && rb_duration_value(timeout, &ms) < 0)
        RB__WITH_FAIL("timeout", "timeout: invalid duration (e.g. \"5s\", \"500ms\")");
    static const char *const bools[] = {"insecure", "follow_redirects"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *b = rb__with_get(with, bools[i]);
        if (b && !rb__with_unrendered(b, rendered) && !json_is_boolean(b))
            RB__WITH_FAIL(bools[i], "%s must be true or false", bools[i]);
    }
    const json_t *mb = rb__with_get(with, "max_body");
    if (mb && !rb__with_unrendered(mb, rendered) &&
        (!json_is_integer(mb) || json_integer_value(mb) < 0 ||
         json_integer_value(mb) > HTTP_MAX_BODY_LIMIT))
        RB__WITH_FAIL("max_body", "max_body must be a number of bytes from 0 to %d", HTTP_MAX_BODY_LIMIT);
    return 0;
}

static int http_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    return http_check(with, 0, msg, msglen, key);
}

/* Adds `json` (the parsed body) or `json_error` to r. */
static void add_json(json_t *r, const char *raw, size_t len)
{
    const char *ct =
        json_string_value(json_object_get(json_object_get(r, "headers"), "content-type"));
    int json_ct = ct && (strncasecmp(ct, "application/json", 16) == 0 || strcasestr(ct, "+json"));
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", raw[i]))
        i++;
    int looks = i < len && (raw[i] == '{' || raw[i] == '[');
    if (i == len || (!json_ct && !looks))
        return;
    if (json_is_true(json_object_get(r, "body_truncated"))) {
        json_object_set_new(r, "json_error", json_string("body truncated at max_body: not parsed"));
        return;
    }
    json_error_t je;
    json_t *x = json_loadb(raw, len, JSON_DECODE_ANY, &je);
    if (x) {
        json_object_set_new(r, "json", x);
        return;
    }
    char e[JSON_ERROR_TEXT_LENGTH + 64];
    snprintf(e, sizeof(e), "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
    json_object_set_new(r, "json_error", json_string(e));
}

static void http_done(json_t *result, const char *raw, size_t len, void *arg)
{
    http_state_t *s = arg;
    rb_action_ctx_t *ctx = s->ctx;
    free(s);
    rb_action_set_data(ctx, NULL);
    add_json(result, raw, len);
    rb_action_done(ctx, result); /* last: the engine may free ctx in there */
}

static int http_start(rb_action_ctx_t *ctx, const json_t *with)
{
    char msg[256];
    const char *key = NULL;
    if (http_check(with, 1, msg, sizeof(msg), &key) < 0) {
        /* start() can only return a code: say what was wrong in the run log. */
        rb_action_log(ctx, "error", msg);
        return RB_EINVAL;
    }
    rb__http_opts_t o = {0};
    char method[33];
    const json_t *m = rb__with_get(with, "method");
    o.method = m && method_norm(json_string_value(m), method, sizeof(method)) == 0 ? method : NULL;
    o.url = json_string_value(json_object_get(with, "url"));
    o.headers = rb__with_get(with, "headers");
    o.timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
    if (rb__with_get(with, "timeout"))
        rb_duration_value(rb__with_get(with, "timeout"), &o.timeout_ms);
    o.insecure = json_is_true(rb__with_get(with, "insecure"));
    o.follow_redirects = !json_is_false(rb__with_get(with, "follow_redirects"));
    o.max_body = rb__with_get(with, "max_body") ? (size_t)json_integer_value(rb__with_get(with, "max_body"))
                                           : rb_action_output_cap(ctx);
    char *jbody = NULL;
    const json_t *js = rb__with_get(with, "json"), *body = rb__with_get(with, "body");
    if (js) {
        if (!(jbody = json_dumps(js, JSON_COMPACT | JSON_ENCODE_ANY)))
            return RB_ENOMEM;
        o.body = jbody;
        o.body_len = strlen(jbody);
        o.content_type = "application/json";
    } else if (body) {
        o.body = json_string_value(body);
        o.body_len = json_string_length(body);
    }
    http_state_t *s = calloc(1, sizeof(*s));
    if (!s) {
        free(jbody);
        return RB_ENOMEM;
    }
    s->ctx = ctx;
    int rc = rb__http_start(rb_action_loop(ctx), &o, http_done, s, &s->req, msg, sizeof(msg));
    free(jbody);
    if (rc < 0) {
        rb_action_log(ctx, "error", msg);
        free(s);
        return rc;
    }
    rb_action_set_data(ctx, s);
    return 0;
}

static void http_cancel(rb_action_ctx_t *ctx)
{
    http_state_t *s = rb_action_data(ctx);
    if (s)
        rb__http_cancel(s->req);
}

static const rb_action_param_t http_params[] = {
    {"url", RB_PARAM_STRING, 1, NULL, "The http:// or https:// URL."},
    {"method", RB_PARAM_STRING, 0, "\"GET\"",
     "GET, HEAD, POST, PUT, PATCH, DELETE, … (POST when json or body is given)."},
    {"headers", RB_PARAM_MAP, 0, NULL, "Request headers, name to value."},
    {"json", RB_PARAM_ANY, 0, NULL,
     "A value sent as the JSON body, with Content-Type: application/json."},
    {"body", RB_PARAM_STRING, 0, NULL, "A text body sent as is (give json or body, not both)."},
    {"timeout", RB_PARAM_DURATION, 0, "\"10s\"",
     "Limit for the whole request, connecting included."},
    {"insecure", RB_PARAM_BOOL, 0, "false", "true: do not verify the server's TLS certificate."},
    {"follow_redirects", RB_PARAM_BOOL, 0, "true",
     "Follow up to 5 redirects, never to another scheme nor from https to http."},
    {"max_body", RB_PARAM_INT, 0, NULL,
     "Response body bytes kept (default: the output cap, 64 KiB)."},
    {NULL, 0, 0, NULL, NULL},
};

const rb_action_t rb_action_http = {
    .abi_version = RB_ACTION_ABI_VERSION,
    .struct_size = sizeof(rb_action_t),
    .name = "http",
    .summary = "Make an HTTP(S) request; result status, headers, body, json",
    /* Per descriptor, not per call: a POST changes things, so http counts as
     * having side effects even when a step only GETs (see docs/actions.md). */
    .flags = RB_ACTION_SIDE_EFFECTS | RB_ACTION_HTTP_STATUS,
    .params = http_params,
    .validate = http_validate,
    .start = http_start,
    .cancel = http_cancel,
};
