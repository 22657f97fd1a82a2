/*
 * notify.c — the `notify` action: a webhook POST with a Slack-compatible
 * JSON body, {"text": "…"} (plus "blocks" when given), the text written by
 * the runbook (`text`) or filled from one of the built-in message templates
 * (`template`) modelled on the seeds' communication templates: INCIDENT
 * DECLARED, INCIDENT UPDATE, INCIDENT RESOLVED, and an escalation notice.
 *
 * Owns: the built-in templates and their variables, and the message body.
 * The transfer is http_client.c's (the same libcurl multi on the loop as the
 * `http` action).
 *
 * Must never:
 *   - evaluate anything that came from the run: a template's {{ vars.x }}
 *     inserts the value of x as text, and the engine has already rendered
 *     `vars` and `text`; a "{{" in a rendered value stays literal text;
 *   - let a variable's value become Slack markup (<!channel>, <url|label>):
 *     & < > in vars are escaped as Slack asks before they enter a template;
 *   - follow a redirect: a POST that is redirected becomes a GET elsewhere.
 *
 * The named templates are rendered with the engine's template language
 * (engine/expr/expr.h), against {"vars": with.vars}; a missing variable prints as
 * nothing.
 */
#define _GNU_SOURCE
#include <runbook/action.h>

#include "expr/expr.h"
#include "with.h"
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTIFY_DEFAULT_TIMEOUT_MS 10000

typedef struct notify_template {
    const char *name;
    const char *text;
} notify_template_t;

/* Variables: title, severity, runbook, run_id, summary, status, duration,
 * url (docs/actions.md). Slack mrkdwn: *bold*. */
static const notify_template_t notify_templates[] = {
    {"incident", "*INCIDENT DECLARED*: {{ vars.title }}\n"
                 "*Severity:* {{ vars.severity }}\n"
                 "*Status:* {{ vars.status }}\n"
                 "*What we know:* {{ vars.summary }}\n"
                 "*Runbook:* {{ vars.runbook }} (run {{ vars.run_id }})\n"
                 "*Details:* {{ vars.url }}\n"
                 "Updates follow in this channel."},
    {"update", "*INCIDENT UPDATE*: {{ vars.title }}\n"
               "*Severity:* {{ vars.severity }}\n"
               "*Status:* {{ vars.status }}\n"
               "*Open for:* {{ vars.duration }}\n"
               "*Progress:* {{ vars.summary }}\n"
               "*Runbook:* {{ vars.runbook }} (run {{ vars.run_id }})\n"
               "*Details:* {{ vars.url }}"},
    {"resolved", "*INCIDENT RESOLVED*: {{ vars.title }}\n"
                 "*Severity:* {{ vars.severity }}\n"
                 "*Status:* {{ vars.status }}\n"
                 "*Total duration:* {{ vars.duration }}\n"
                 "*Resolution:* {{ vars.summary }}\n"
                 "*Runbook:* {{ vars.runbook }} (run {{ vars.run_id }})\n"
                 "*Details:* {{ vars.url }}\n"
                 "A post-incident review follows. Thank you for your patience."},
    {"escalation", "*INCIDENT ESCALATED*: {{ vars.title }}\n"
                   "*Severity:* {{ vars.severity }}\n"
                   "*Status:* {{ vars.status }}, not resolved after {{ vars.duration }}\n"
                   "*What we know:* {{ vars.summary }}\n"
                   "*Runbook:* {{ vars.runbook }} (run {{ vars.run_id }})\n"
                   "*Details:* {{ vars.url }}\n"
                   "The next level of the escalation chain is asked to respond."},
    {NULL, NULL},
};

typedef struct notify_state {
    rb_action_ctx_t *ctx;
    rb__http_req_t *req;
    json_t *text; /* the message sent, for the result */
} notify_state_t;

static const notify_template_t *template_find(const char *name)
{
    for (const notify_template_t *t = notify_templates; name && t->name; t++)
        if (!strcmp(t->name, name))
            return t;
    return NULL;
}

static int notify_check(const json_t *with, int rendered, char *msg, size_t msglen,
                        const char **key)
{
    char sub[200];
    if (!json_is_object(with))
        RB__WITH_FAIL(NULL, "notify: `with` must be an object");
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
    const json_t *tmpl = rb__with_get(with, "template"), *text = rb__with_get(with, "text");
    if (tmpl && text)
        RB__WITH_FAIL("text", "give either template or text, not both");
    if (!tmpl && !text)
        RB__WITH_FAIL("template", "one of template or text is required");
    if (tmpl && !rb__with_unrendered(tmpl, rendered) &&
        (rb__with_has_nul(tmpl) || !template_find(json_string_value(tmpl))))
        RB__WITH_FAIL("template", "template must be one of incident, update, resolved, escalation");
    if (text && !rb__with_unrendered(text, rendered) && !json_is_string(text))
        RB__WITH_FAIL("text", "text must be a string");
    const json_t *vars = rb__with_get(with, "vars");
    if (vars && !rb__with_unrendered(vars, rendered) && !json_is_object(vars))
        RB__WITH_FAIL("vars", "vars must be a map of names to values");
    if (vars && text)
        RB__WITH_FAIL("vars", "vars are for a named template; with text, write the values into text");
    const json_t *blocks = rb__with_get(with, "blocks");
    if (blocks && !rb__with_unrendered(blocks, rendered) && !json_is_array(blocks))
        RB__WITH_FAIL("blocks", "blocks must be a list of Slack blocks");
    const json_t *headers = rb__with_get(with, "headers");
    if (headers && !rb__with_unrendered(headers, rendered) &&
        rb__http_check_headers(headers, rendered, sub, sizeof(sub)) < 0)
        RB__WITH_FAIL("headers", "%s", sub);
    const json_t *timeout = rb__with_get(with, "timeout");
    uint64_t ms;
    if (timeout && !rb__with_unrendered(timeout, rendered) && rb_duration_value(timeout, &ms) < 0)
        RB__WITH_FAIL("timeout", "timeout: invalid duration (e.g. \"5s\", \"500ms\")");
    return 0;
}

static int notify_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    return notify_check(with, 0, msg, msglen, key);
}

/* s with & < > written as Slack's &amp; &lt; &gt;. NULL when out of memory. */
static json_t *slack_escape(const char *s, size_t len)
{
    char *o = malloc(len * 5 + 1), *q = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        const char *rep = s[i] == '&'   ? "&amp;"
                          : s[i] == '<' ? "&lt;"
                          : s[i] == '>' ? "&gt;"
                                        : NULL;
        if (rep) {
            size_t n = strlen(rep);
            memcpy(q, rep, n);
            q += n;
        } else {
            *q++ = s[i];
        }
    }
    json_t *r = json_stringn(o, (size_t)(q - o));
    free(o);
    return r;
}

/* {"vars": {name: escaped text}} for rendering a named template. */
static json_t *template_ctx(const json_t *vars)
{
    json_t *esc = json_object(), *ctx = NULL;
    if (!esc)
        return NULL;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)vars, k, v) {
        if (json_is_null(v))
            continue;
        char *dumped = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        const char *s = json_is_string(v) ? json_string_value(v) : dumped;
        size_t n = json_is_string(v) ? json_string_length(v) : dumped ? strlen(dumped) : 0;
        json_t *e = s ? slack_escape(s, n) : NULL;
        free(dumped);
        if (!e || json_object_set_new(esc, k, e) < 0) {
            json_decref(esc);
            return NULL;
        }
    }
    ctx = json_pack("{s:o}", "vars", esc);
    return ctx;
}

/* The message text: `text` as given, or the named template filled from vars.
 * A new reference, or NULL with msg. */
static json_t *message_text(const json_t *with, char *msg, size_t msglen)
{
    const json_t *text = rb__with_get(with, "text");
    if (text)
        return json_incref((json_t *)text);
    const notify_template_t *t = template_find(json_string_value(rb__with_get(with, "template")));
    const json_t *vars = rb__with_get(with, "vars");
    rb_expr_error_t err;
    rb_tmpl_t *tp = rb_tmpl_compile(t->text, strlen(t->text), &err);
    if (!tp) {
        snprintf(msg, msglen, "built-in template %s: %s", t->name, err.msg);
        return NULL;
    }
    json_t *empty = json_object();
    json_t *ctx = template_ctx(vars ? vars : empty);
    json_t *r = ctx ? rb_tmpl_render(tp, ctx, RB_TMPL_STRING, msg, msglen) : NULL;
    if (!ctx)
        snprintf(msg, msglen, "out of memory");
    json_decref(ctx);
    json_decref(empty);
    rb_tmpl_free(tp);
    return r;
}

static void notify_done(json_t *result, const char *raw, size_t len, void *arg)
{
    notify_state_t *s = arg;
    rb_action_ctx_t *ctx = s->ctx;
    json_object_set_new(result, "text", s->text);
    free(s);
    rb_action_set_data(ctx, NULL);
    rb_action_done(ctx, result); /* last: the engine may free ctx in there */
}

static int notify_start(rb_action_ctx_t *ctx, const json_t *with)
{
    char msg[256];
    const char *key = NULL;
    if (notify_check(with, 1, msg, sizeof(msg), &key) < 0) {
        rb_action_log(ctx, "error", msg);
        return RB_EINVAL;
    }
    json_t *text = message_text(with, msg, sizeof(msg));
    if (!text) {
        rb_action_log(ctx, "error", msg);
        return RB_EINVAL;
    }
    json_t *payload = json_pack("{s:O}", "text", text);
    if (payload && rb__with_get(with, "blocks"))
        json_object_set(payload, "blocks", (json_t *)rb__with_get(with, "blocks"));
    char *body = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    notify_state_t *s = body ? calloc(1, sizeof(*s)) : NULL;
    if (!s) {
        free(body);
        json_decref(text);
        return RB_ENOMEM;
    }
    s->ctx = ctx;
    s->text = text;
    rb__http_opts_t o = {0};
    o.url = json_string_value(rb__with_get(with, "url"));
    o.method = "POST";
    o.headers = rb__with_get(with, "headers");
    o.body = body;
    o.body_len = strlen(body);
    o.content_type = "application/json";
    o.timeout_ms = NOTIFY_DEFAULT_TIMEOUT_MS;
    if (rb__with_get(with, "timeout"))
        rb_duration_value(rb__with_get(with, "timeout"), &o.timeout_ms);
    o.follow_redirects = 0;
    o.max_body = rb_action_output_cap(ctx);
    int rc = rb__http_start(rb_action_loop(ctx), &o, notify_done, s, &s->req, msg, sizeof(msg));
    free(body);
    if (rc < 0) {
        rb_action_log(ctx, "error", msg);
        json_decref(s->text);
        free(s);
        return rc;
    }
    rb_action_set_data(ctx, s);
    return 0;
}

static void notify_cancel(rb_action_ctx_t *ctx)
{
    notify_state_t *s = rb_action_data(ctx);
    if (s)
        rb__http_cancel(s->req);
}

static const rb_action_param_t notify_params[] = {
    {"url", RB_PARAM_STRING, 1, NULL, "The webhook URL (http:// or https://)."},
    {"template", RB_PARAM_STRING, 0, NULL,
     "A built-in message: incident, update, resolved or escalation (give template or text)."},
    {"text", RB_PARAM_STRING, 0, NULL, "The message text, as written (give template or text)."},
    {"vars", RB_PARAM_MAP, 0, NULL,
     "Values for the template: title, severity, status, summary, runbook, run_id, duration, url."},
    {"blocks", RB_PARAM_ANY, 0, NULL, "Slack Block Kit blocks, sent as the body's \"blocks\"."},
    {"headers", RB_PARAM_MAP, 0, NULL, "Extra request headers (e.g. Authorization)."},
    {"timeout", RB_PARAM_DURATION, 0, "\"10s\"", "Limit for the whole request."},
    {NULL, 0, 0, NULL, NULL},
};

const rb_action_t rb_action_notify = {
    .abi_version = RB_ACTION_ABI_VERSION,
    .struct_size = sizeof(rb_action_t),
    .name = "notify",
    .summary = "POST a message to a webhook (Slack-compatible), from text or a template",
    .flags = RB_ACTION_SIDE_EFFECTS | RB_ACTION_HTTP_STATUS,
    .params = notify_params,
    .validate = notify_validate,
    .start = notify_start,
    .cancel = notify_cancel,
};
