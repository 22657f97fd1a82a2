/*
 * notify.c — the `notify` action: tells people where they are. One action,
 * a `channel` parameter: `slack` (a Slack / Mattermost / Teams-style
 * incoming webhook, the default), `webhook` (any JSON endpoint: status
 * pages and the rest), `pagerduty` (Events API v2: trigger, acknowledge,
 * resolve) and `email` (SMTP with STARTTLS). Every channel sends the same
 * built-in templates (notify_msg.c) or the runbook's own text, so a chain
 * of notify entries reads as one list of who hears what.
 *
 * Owns: the parameter map and its checks per channel, the delivery — each
 * try a transfer of http_client.c on the loop, a transient failure (no
 * answer, HTTP 429 or 5xx, SMTP 4xx) tried again after retry_delay,
 * doubled each time — and the result: the last try's answer plus channel,
 * target, attempts and tries.
 *
 * Must never:
 *   - fail a run: a notification that finally fails is a result with ok
 *     false, journaled as the notification_sent event; what the run does
 *     about it is the engine's (docs/semantics.md);
 *   - put a webhook's path, a routing key, an SMTP password or a URL's
 *     credentials in the result: `target` is scheme://host[:port] or the
 *     mail's recipients (the engine masks secrets in everything else);
 *   - follow a redirect: a POST that is redirected becomes a GET elsewhere;
 *   - call rb_action_done from start or cancel: the end goes through the
 *     close callback of the retry timer.
 */
#define _GNU_SOURCE
#include <runbook/action.h>

#include "http_client.h"
#include "notify_int.h"
#include "with.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOTIFY_DEFAULT_TIMEOUT_MS 10000
#define NOTIFY_DEFAULT_ATTEMPTS 3
#define NOTIFY_MAX_ATTEMPTS 10
#define NOTIFY_DEFAULT_DELAY_MS 1000
#define NOTIFY_MAX_DELAY_MS 60000
#define PAGERDUTY_EVENTS_URL "https://events.pagerduty.com/v2/enqueue"

#define CH(c) (1u << (c))
#define CH_ALL (CH(NOTIFY_SLACK) | CH(NOTIFY_WEBHOOK) | CH(NOTIFY_PAGERDUTY) | CH(NOTIFY_EMAIL))
#define CH_HTTP (CH(NOTIFY_SLACK) | CH(NOTIFY_WEBHOOK) | CH(NOTIFY_PAGERDUTY))

/* Which channels take which parameter (the rest are refused at load). */
static const struct {
    const char *key;
    unsigned channels;
    const char *say; /* the channels, in words */
} key_channels[] = {
    {"blocks", CH(NOTIFY_SLACK), "slack"},
    {"json", CH(NOTIFY_WEBHOOK), "webhook"},
    {"headers", CH_HTTP, "slack, webhook and pagerduty"},
    {"routing_key", CH(NOTIFY_PAGERDUTY), "pagerduty"},
    {"event_action", CH(NOTIFY_PAGERDUTY), "pagerduty"},
    {"dedup_key", CH(NOTIFY_PAGERDUTY), "pagerduty"},
    {"pd_severity", CH(NOTIFY_PAGERDUTY), "pagerduty"},
    {"source", CH(NOTIFY_PAGERDUTY), "pagerduty"},
    {"subject", CH(NOTIFY_PAGERDUTY) | CH(NOTIFY_EMAIL), "email and pagerduty"},
    {"html", CH(NOTIFY_EMAIL), "email"},
    {"from", CH(NOTIFY_EMAIL), "email"},
    {"to", CH(NOTIFY_EMAIL), "email"},
    {"username", CH(NOTIFY_EMAIL), "email"},
    {"password", CH(NOTIFY_EMAIL), "email"},
    {"starttls", CH(NOTIFY_EMAIL), "email"},
    {"ca_file", CH(NOTIFY_EMAIL), "email"},
};

static int one_of(const json_t *v, const char *const *words)
{
    for (; *words; words++)
        if (json_is_string(v) && !rb__with_has_nul(v) && !strcmp(json_string_value(v), *words))
            return 1;
    return 0;
}

/* The HTTP channels' url (required for slack and webhook). */
static int check_http_url(const json_t *with, int ch, int rendered, char *msg, size_t msglen,
                          const char **key)
{
    char sub[200];
    const json_t *url = rb__with_get(with, "url");
    if (!url && ch != NOTIFY_PAGERDUTY)
        RB__WITH_FAIL("url", "url is required: the webhook's http:// or https:// URL");
    if (url && !rb__with_unrendered(url, rendered)) {
        if (!json_is_string(url))
            RB__WITH_FAIL("url", "url must be a string");
        if (rb__with_has_nul(url))
            RB__WITH_FAIL("url", "url contains a NUL byte");
        if (rb__http_check_url(json_string_value(url), sub, sizeof(sub)) < 0)
            RB__WITH_FAIL("url", "%s", sub);
    }
    const json_t *headers = rb__with_get(with, "headers");
    if (headers && !rb__with_unrendered(headers, rendered) &&
        rb__http_check_headers(headers, rendered, sub, sizeof(sub)) < 0)
        RB__WITH_FAIL("headers", "%s", sub);
    return 0;
}

static int check_pagerduty(const json_t *with, int rendered, char *msg, size_t msglen,
                           const char **key)
{
    static const char *const actions[] = {"trigger", "acknowledge", "resolve", NULL};
    static const char *const sevs[] = {"critical", "error", "warning", "info", NULL};
    const json_t *rk = rb__with_get(with, "routing_key");
    if (!rk)
        RB__WITH_FAIL("routing_key", "routing_key is required (the integration key; keep it in a secret)");
    if (!rb__with_unrendered(rk, rendered) && (!json_is_string(rk) || !json_string_length(rk)))
        RB__WITH_FAIL("routing_key", "routing_key must be a non-empty string");
    const json_t *a = rb__with_get(with, "event_action");
    if (a && !rb__with_unrendered(a, rendered) && !one_of(a, actions))
        RB__WITH_FAIL("event_action", "event_action must be trigger, acknowledge or resolve");
    const json_t *s = rb__with_get(with, "pd_severity");
    if (s && !rb__with_unrendered(s, rendered) && !one_of(s, sevs))
        RB__WITH_FAIL("pd_severity", "pd_severity must be critical, error, warning or info");
    const json_t *dk = rb__with_get(with, "dedup_key");
    if (dk && !rb__with_unrendered(dk, rendered) &&
        (!json_is_string(dk) || !json_string_length(dk) || json_string_length(dk) > 255))
        RB__WITH_FAIL("dedup_key", "dedup_key must be a string of 1 to 255 bytes");
    return 0;
}

static int notify_check(const json_t *with, int rendered, char *msg, size_t msglen,
                        const char **key)
{
    if (!json_is_object(with))
        RB__WITH_FAIL(NULL, "notify: `with` must be an object");
    const json_t *chv = rb__with_get(with, "channel");
    int ch = NOTIFY_SLACK;
    if (chv && rb__with_unrendered(chv, rendered))
        RB__WITH_FAIL("channel", "channel must be written out (slack, webhook, pagerduty or email), not a template");
    if (chv && (!json_is_string(chv) || rb__with_has_nul(chv) ||
                (ch = rb__notify_channel(json_string_value(chv))) < 0))
        RB__WITH_FAIL("channel", "channel must be slack, webhook, pagerduty or email");
    for (size_t i = 0; i < sizeof(key_channels) / sizeof(key_channels[0]); i++)
        if (rb__with_get(with, key_channels[i].key) && !(key_channels[i].channels & CH(ch)))
            RB__WITH_FAIL(key_channels[i].key, "%s is for channel %s, not %s", key_channels[i].key,
                          key_channels[i].say, rb__notify_channel_name(ch));
    int rc = ch == NOTIFY_EMAIL ? rb__notify_mail_check(with, rendered, msg, msglen, key)
                                : check_http_url(with, ch, rendered, msg, msglen, key);
    if (rc == 0 && ch == NOTIFY_PAGERDUTY)
        rc = check_pagerduty(with, rendered, msg, msglen, key);
    if (rc < 0)
        return rc;
    const json_t *tmpl = rb__with_get(with, "template"), *text = rb__with_get(with, "text");
    if (tmpl && text)
        RB__WITH_FAIL("text", "give either template or text, not both");
    if (tmpl && !rb__with_unrendered(tmpl, rendered) &&
        (!json_is_string(tmpl) || rb__with_has_nul(tmpl) ||
         !rb__notify_template_known(json_string_value(tmpl))))
        RB__WITH_FAIL("template", "template must be one of incident, update, resolved, escalation");
    if (text && !rb__with_unrendered(text, rendered) && (!json_is_string(text) || rb__with_has_nul(text)))
        RB__WITH_FAIL("text", "text must be a string without NUL bytes");
    const json_t *vars = rb__with_get(with, "vars");
    if (vars && !rb__with_unrendered(vars, rendered) && !json_is_object(vars))
        RB__WITH_FAIL("vars", "vars must be a map of names to values");
    if (vars && text)
        RB__WITH_FAIL("vars", "vars are for a template; with text, write the values into text");
    const json_t *subj = rb__with_get(with, "subject");
    if (subj && !rb__with_unrendered(subj, rendered) && (!json_is_string(subj) || rb__with_has_nul(subj)))
        RB__WITH_FAIL("subject", "subject must be a string");
    const json_t *blocks = rb__with_get(with, "blocks");
    if (blocks && !rb__with_unrendered(blocks, rendered) && !json_is_array(blocks))
        RB__WITH_FAIL("blocks", "blocks must be a list of Slack blocks");
    const json_t *att = rb__with_get(with, "attempts");
    if (att && !rb__with_unrendered(att, rendered) &&
        (!json_is_integer(att) || json_integer_value(att) < 1 || json_integer_value(att) > NOTIFY_MAX_ATTEMPTS))
        RB__WITH_FAIL("attempts", "attempts must be a whole number from 1 to %d", NOTIFY_MAX_ATTEMPTS);
    static const char *const durs[] = {"timeout", "retry_delay"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *d = rb__with_get(with, durs[i]);
        uint64_t ms;
        if (!d || rb__with_unrendered(d, rendered))
            continue;
        if (rb_duration_value(d, &ms) < 0)
            RB__WITH_FAIL(durs[i], "%s: invalid duration (e.g. \"5s\", \"500ms\")", durs[i]);
        /* a try without a limit could hold the run's end forever */
        if (i == 0 && ms == 0)
            RB__WITH_FAIL("timeout", "timeout must be longer than 0s: it is the limit for each try");
        if (i == 1 && ms > NOTIFY_MAX_DELAY_MS)
            RB__WITH_FAIL("retry_delay", "retry_delay must be at most 1m (the longest wait between tries)");
    }
    const json_t *js = rb__with_get(with, "json");
    if (js && (tmpl || text || vars))
        RB__WITH_FAIL(tmpl ? "template" : text ? "text" : "vars",
                      "json is the whole body: a template, text or vars would not be sent");
    return 0;
}

static int notify_validate(const json_t *with, char *msg, size_t msglen, const char **key)
{
    return notify_check(with, 0, msg, msglen, key);
}

/* Every problem of an entry in one pass (validate_all). A problem with
 * the channel stops there: the other checks depend on it. */
static int notify_validate_all(const json_t *with, rb_action_report_fn report, void *arg)
{
    return rb__with_check_all(with, notify_check, "channel", report, arg);
}

/* ---------- delivery ---------- */

typedef struct notify_state {
    rb_action_ctx_t *ctx;
    notify_channel_t ch;
    rb__http_req_t *req; /* the try in flight, or NULL */
    uv_timer_t timer;    /* the wait before the next try; its close callback reports */
    int waiting, cancelled, ending;
    rb__http_opts_t o;
    char *url, *body;
    notify_mail_t *mail;
    int attempt, max_attempts;
    uint64_t delay_ms;
    json_t *headers; /* the request headers, kept for every try */
    json_t *info;   /* what the result adds: channel, target, text, … */
    json_t *tries;  /* one line per try */
    json_t *result; /* the last try's, reported at the end */
} notify_state_t;

static void state_free(notify_state_t *s)
{
    free(s->url);
    free(s->body);
    rb__notify_mail_free(s->mail);
    json_decref(s->headers);
    json_decref(s->info);
    json_decref(s->tries);
    json_decref(s->result);
    free(s);
}

static void ended(uv_handle_t *h)
{
    notify_state_t *s = h->data;
    rb_action_ctx_t *ctx = s->ctx;
    json_t *r = s->result;
    s->result = NULL;
    json_object_del(r, "url"); /* a webhook's path is its secret: `target` says where */
    json_object_update(r, s->info);
    json_object_set_new(r, "attempts", json_integer(s->attempt));
    json_object_set(r, "tries", s->tries);
    state_free(s);
    rb_action_set_data(ctx, NULL);
    rb_action_done(ctx, r); /* last: the engine may free ctx in there */
}

static void finish(notify_state_t *s, json_t *result)
{
    json_decref(s->result);
    s->result = result;
    s->ending = 1;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, ended);
}

/* Worth another try: no answer, or an answer that says "later". */
static int transient(const notify_state_t *s, const json_t *r)
{
    const char *outcome = json_string_value(json_object_get(r, "outcome"));
    json_int_t code = json_integer_value(json_object_get(r, "status"));
    if (!outcome || !strcmp(outcome, "cancelled") || !strcmp(outcome, "ok"))
        return 0;
    if (code == 0)
        return !strcmp(outcome, "failed") || !strcmp(outcome, "timeout");
    if (s->ch == NOTIFY_EMAIL)
        return code >= 400 && code < 500; /* SMTP 4xx: try again later */
    return code == 429 || code >= 500;
}

static void try_start(notify_state_t *s);

static void on_timer(uv_timer_t *t)
{
    notify_state_t *s = t->data;
    s->waiting = 0;
    try_start(s);
}

/* A mail that failed says why in the server's words ("554 5.7.1 relay
 * denied", not libcurl's "Weird server reply"), and its status is the
 * failing reply's code, or 0 when none failed (a TLS or connection
 * failure after the server's 220 greeting). */
static void mail_failure(notify_state_t *s, json_t *result)
{
    const char *reply = rb__notify_mail_reply(s->mail);
    json_int_t code = json_integer_value(json_object_get(result, "status"));
    if (code >= 400 && reply[0] >= '4' && reply[0] <= '5') {
        json_object_set_new(result, "error", json_string(reply));
    } else if (code < 400 && code != 0) {
        json_object_set_new(result, "status", json_integer(0));
        if (!json_object_get(result, "error"))
            json_object_set_new(result, "error", json_string("the mail was not accepted"));
    }
}

static void on_try_done(json_t *result, const char *raw, size_t len, void *arg)
{
    notify_state_t *s = arg;
    (void)raw;
    (void)len;
    s->req = NULL;
    if (s->mail && !json_is_true(json_object_get(result, "ok")))
        mail_failure(s, result);
    json_t *st = json_object_get(result, "status"), *oc = json_object_get(result, "outcome"),
           *err = json_object_get(result, "error");
    json_array_append_new(s->tries, json_pack("{s:O,s:O,s:O?}", "status", st, "outcome", oc, "error", err));
    if (s->cancelled || !transient(s, result) || s->attempt >= s->max_attempts) {
        finish(s, result);
        return;
    }
    uint64_t delay = s->delay_ms;
    const char *ra = json_string_value(json_object_get(json_object_get(result, "headers"), "retry-after"));
    if (ra && *ra >= '0' && *ra <= '9') {
        uint64_t sec = strtoull(ra, NULL, 10);
        if (sec * 1000 > delay)
            delay = sec > NOTIFY_MAX_DELAY_MS / 1000 ? NOTIFY_MAX_DELAY_MS : sec * 1000;
    }
    char d[32], line[400];
    snprintf(line, sizeof(line), "notify %s: try %d of %d: %s %lld%s%s; again in %s",
             rb__notify_channel_name(s->ch), s->attempt, s->max_attempts,
             json_string_value(oc) ? json_string_value(oc) : "?", (long long)json_integer_value(st),
             json_string_value(err) ? ": " : "", json_string_value(err) ? json_string_value(err) : "",
             rb_duration_format(delay, d, sizeof(d)));
    rb_action_log(s->ctx, "warn", line);
    json_decref(s->result);
    s->result = result;
    s->delay_ms = s->delay_ms * 2 > NOTIFY_MAX_DELAY_MS ? NOTIFY_MAX_DELAY_MS : s->delay_ms * 2;
    s->waiting = 1;
    uv_timer_start(&s->timer, on_timer, delay, 0);
}

static void try_start(notify_state_t *s)
{
    char msg[256];
    s->attempt++;
    int rc = rb__http_start(rb_action_loop(s->ctx), &s->o, on_try_done, s, &s->req, msg, sizeof(msg));
    if (rc < 0) {
        json_t *r = json_pack("{s:b,s:s,s:i,s:s}", "ok", 0, "outcome", "error", "status", 0, "error", msg);
        json_array_append_new(s->tries, json_pack("{s:i,s:s,s:s}", "status", 0, "outcome", "error", "error", msg));
        finish(s, r);
    }
}

/* The first line of text, for a headline. */
static char *first_line(const char *text)
{
    size_t n = strcspn(text, "\r\n");
    return rb__notify_one_line(text, n, 1024);
}

/* Builds what s sends: the message, then the body or the mail. 0 or an
 * error with msg. */
/* The message, its body and where it goes, into s (view: the run's;
 * base_dir: the runbook's folder). 0, or a negative error with msg. */
static int prepare(notify_state_t *s, const json_t *with, const json_t *view, const char *base_dir,
                   char *msg, size_t msglen)
{
    const json_t *textv = rb__with_get(with, "text"), *subj = rb__with_get(with, "subject");
    const char *tmpl = textv ? NULL : json_string_value(rb__with_get(with, "template"));
    if (!textv && !tmpl)
        tmpl = rb__notify_template_for(json_string_value(json_object_get(view, "event")));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    json_t *fields = rb__notify_fields(view, rb__with_get(with, "vars"),
                                       (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    char *text = !fields ? NULL
                 : textv ? strdup(json_string_value(textv))
                         : rb__notify_render(tmpl, fields, s->ch == NOTIFY_SLACK ? NOTIFY_FMT_SLACK
                                                                                 : NOTIFY_FMT_PLAIN);
    char *headline = !text ? NULL
                     : subj  ? strdup(json_string_value(subj))
                     : textv ? first_line(text)
                             : rb__notify_headline(tmpl, fields);
    int rc = headline ? 0 : RB_ENOMEM;
    if (!rc) {
        json_object_set_new(s->info, "channel", json_string(rb__notify_channel_name(s->ch)));
        /* with json, the body is the runbook's own: no message was sent */
        if (!(s->ch == NOTIFY_WEBHOOK && rb__with_get(with, "json"))) {
            json_object_set_new(s->info, "text", json_string(text));
            if (tmpl)
                json_object_set_new(s->info, "template", json_string(tmpl));
        }
    }
    if (!rc && s->ch == NOTIFY_EMAIL) {
        const json_t *h = rb__with_get(with, "html");
        char *html = h ? strdup(json_string_value(h)) : tmpl ? rb__notify_render(tmpl, fields, NOTIFY_FMT_HTML) : NULL;
        s->mail = rb__notify_mail_new(with, headline, text, html, base_dir, msg, msglen);
        free(html);
        if (!s->mail) {
            rc = RB_EINVAL;
        } else {
            json_object_set_new(s->info, "target", json_string(rb__notify_mail_rcpts(s->mail)));
            json_object_set_new(s->info, "subject", json_string(headline));
            s->o.setup = rb__notify_mail_setup;
            s->o.release = rb__notify_mail_release;
            s->o.setup_arg = s->mail;
        }
    } else if (!rc) {
        const char *u = json_string_value(rb__with_get(with, "url"));
        s->url = strdup(u ? u : PAGERDUTY_EVENTS_URL);
        json_t *body = rb__notify_body(s->ch, with, tmpl, fields, text, headline, view, s->info);
        s->body = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(body);
        char *origin = s->url ? rb__notify_origin(s->url) : NULL;
        if (!s->body || !origin)
            rc = RB_ENOMEM;
        else
            json_object_set_new(s->info, "target", json_string(origin));
        free(origin);
        s->o.url = s->url;
        s->o.method = "POST";
        s->headers = json_deep_copy(rb__with_get(with, "headers"));
        s->o.headers = s->headers;
        s->o.body = s->body;
        s->o.body_len = s->body ? strlen(s->body) : 0;
        s->o.content_type = "application/json";
        s->o.follow_redirects = 0;
    }
    if (rc == RB_ENOMEM)
        snprintf(msg, msglen, "out of memory");
    free(text);
    free(headline);
    json_decref(fields);
    return rc;
}

/* Where a notification that cannot be sent would have gone, as far as
 * its parameters say: the result's channel and target (a webhook's
 * origin, a mail's recipients), so that every notification line names
 * them (docs/notifications.md, "Journal"). */
static void refused_info(const json_t *with, json_t *info)
{
    const json_t *chv = rb__with_get(with, "channel");
    int ch = chv ? rb__notify_channel(json_string_value(chv)) : NOTIFY_SLACK;
    if (ch < 0)
        return;
    json_object_set_new(info, "channel", json_string(rb__notify_channel_name((notify_channel_t)ch)));
    if (ch == NOTIFY_EMAIL) {
        const json_t *to = rb__with_get(with, "to"), *v;
        size_t i;
        char *all = NULL;
        if (json_is_string(to))
            all = strdup(json_string_value(to));
        json_array_foreach(json_is_array(to) ? to : NULL, i, v) {
            char *next = NULL;
            if (json_is_string(v) && asprintf(&next, "%s%s%s", all ? all : "", all ? ", " : "",
                                              json_string_value(v)) >= 0) {
                free(all);
                all = next;
            }
        }
        json_object_set_new(info, "target", json_string(all ? all : ""));
        free(all);
        return;
    }
    const char *u = json_string_value(rb__with_get(with, "url"));
    if (!u && ch == NOTIFY_PAGERDUTY)
        u = PAGERDUTY_EVENTS_URL;
    char *origin = u && *u ? rb__notify_origin(u) : NULL;
    json_object_set_new(info, "target", json_string(origin ? origin : ""));
    free(origin);
}

/* A notification refused before anything was sent (an empty url, a
 * recipient that rendered to a line break): an error result that says
 * where it would have gone, reported on the loop's next turn. */
static int refuse(rb_action_ctx_t *ctx, notify_state_t *s, const json_t *with, const char *msg)
{
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s || !(s->info = json_object()) || !(s->tries = json_array())) {
            if (s)
                state_free(s);
            return RB_ENOMEM;
        }
        s->ctx = ctx;
    }
    refused_info(with, s->info);
    json_object_del(s->info, "text"); /* nothing was sent */
    json_object_del(s->info, "template");
    json_object_del(s->info, "subject");
    json_t *r = json_pack("{s:b,s:s,s:i,s:s}", "ok", 0, "outcome", "error", "status", 0, "error", msg);
    if (!r) {
        state_free(s);
        return RB_ENOMEM;
    }
    uv_timer_init(rb_action_loop(ctx), &s->timer);
    s->timer.data = s;
    rb_action_set_data(ctx, s);
    finish(s, r);
    return 0;
}

static int notify_start(rb_action_ctx_t *ctx, const json_t *with)
{
    char msg[256];
    const char *key = NULL;
    if (notify_check(with, 1, msg, sizeof(msg), &key) < 0)
        return refuse(ctx, NULL, with, msg);
    notify_state_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->info = json_object()) || !(s->tries = json_array())) {
        if (s)
            state_free(s);
        return RB_ENOMEM;
    }
    s->ctx = ctx;
    const json_t *chv = rb__with_get(with, "channel");
    s->ch = chv ? (notify_channel_t)rb__notify_channel(json_string_value(chv)) : NOTIFY_SLACK;
    s->max_attempts = rb__with_get(with, "attempts") ? (int)json_integer_value(rb__with_get(with, "attempts"))
                                                     : NOTIFY_DEFAULT_ATTEMPTS;
    s->delay_ms = NOTIFY_DEFAULT_DELAY_MS;
    if (rb__with_get(with, "retry_delay"))
        rb_duration_value(rb__with_get(with, "retry_delay"), &s->delay_ms);
    if (s->delay_ms > NOTIFY_MAX_DELAY_MS)
        s->delay_ms = NOTIFY_MAX_DELAY_MS;
    s->o.timeout_ms = NOTIFY_DEFAULT_TIMEOUT_MS;
    if (rb__with_get(with, "timeout"))
        rb_duration_value(rb__with_get(with, "timeout"), &s->o.timeout_ms);
    s->o.max_body = rb_action_output_cap(ctx);
    s->o.drain_body = 1; /* a long answer to a delivered message is still a delivery */
    int rc = prepare(s, with, rb_action_run_view(ctx), rb_action_base_dir(ctx), msg, sizeof(msg));
    if (rc == RB_ENOMEM) {
        state_free(s);
        return rc;
    }
    if (rc < 0)
        return refuse(ctx, s, with, msg);
    uv_timer_init(rb_action_loop(ctx), &s->timer);
    s->timer.data = s;
    rb_action_set_data(ctx, s);
    try_start(s);
    return 0;
}

/* A drill's preview: the message as it would go — channel, target, the
 * rendered text (or, with json, the body) and the subject — built by the
 * same code as a real send, which it never starts. */
static json_t *notify_preview(const json_t *with, const json_t *view, const char *base_dir)
{
    char msg[256];
    const char *key = NULL;
    if (notify_check(with, 1, msg, sizeof(msg), &key) < 0)
        return NULL; /* the drill says why it would be refused */
    notify_state_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->info = json_object()) || !(s->tries = json_array())) {
        if (s)
            state_free(s);
        return NULL;
    }
    const json_t *chv = rb__with_get(with, "channel");
    s->ch = chv ? (notify_channel_t)rb__notify_channel(json_string_value(chv)) : NOTIFY_SLACK;
    json_t *out = NULL;
    if (prepare(s, with, view, base_dir, msg, sizeof(msg)) == 0) {
        out = json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?}", "channel", json_object_get(s->info, "channel"),
                        "target", json_object_get(s->info, "target"), "template",
                        json_object_get(s->info, "template"), "subject",
                        json_object_get(s->info, "subject"), "message",
                        json_object_get(s->info, "text"));
        if (out && s->ch == NOTIFY_WEBHOOK && rb__with_get(with, "json"))
            json_object_set(out, "body", (json_t *)rb__with_get(with, "json"));
        if (out && s->ch == NOTIFY_PAGERDUTY) {
            const json_t *ea = json_object_get(s->info, "event_action");
            json_object_set(out, "event_action", (json_t *)ea);
            json_object_set(out, "dedup_key", json_object_get(s->info, "dedup_key"));
            if (json_string_value(ea) && strcmp(json_string_value(ea), "trigger")) {
                /* acknowledge and resolve carry the key only */
                json_object_del(out, "message");
                json_object_del(out, "subject");
            }
        }
    }
    state_free(s);
    return out;
}

static void notify_cancel(rb_action_ctx_t *ctx)
{
    notify_state_t *s = rb_action_data(ctx);
    if (!s || s->ending)
        return;
    s->cancelled = 1;
    if (s->req) {
        rb__http_cancel(s->req);
    } else if (s->waiting) {
        s->waiting = 0;
        json_t *r = s->result ? json_incref(s->result) : json_object();
        json_object_set_new(r, "ok", json_false());
        json_object_set_new(r, "outcome", json_string("cancelled"));
        json_object_set_new(r, "error", json_string("cancelled"));
        finish(s, r);
    }
}

static const rb_action_param_t notify_params[] = {
    {"channel", RB_PARAM_STRING, 0, "\"slack\"",
     "slack (a Slack, Mattermost or Teams-style webhook), webhook (any JSON endpoint), pagerduty "
     "(Events API v2) or email (SMTP)."},
    {"url", RB_PARAM_STRING, 0, NULL,
     "slack, webhook: the webhook URL (required). pagerduty: the Events API URL (default "
     "https://events.pagerduty.com/v2/enqueue). email: the server, smtp://host:587 or "
     "smtps://host:465 (required)."},
    {"template", RB_PARAM_STRING, 0, NULL,
     "A built-in message: incident, update, resolved or escalation (default: the one for the run "
     "event)."},
    {"text", RB_PARAM_STRING, 0, NULL, "The message as written, instead of a template."},
    {"vars", RB_PARAM_MAP, 0, NULL,
     "Template values over the run's: title, severity, status, summary, runbook, run_id, duration, "
     "url."},
    {"subject", RB_PARAM_STRING, 0, NULL,
     "email: the Subject; pagerduty: the summary (default: the message's headline)."},
    {"html", RB_PARAM_STRING, 0, NULL, "email: the HTML part (default: the template's; none with text)."},
    {"blocks", RB_PARAM_ANY, 0, NULL, "slack: Block Kit blocks, sent as the body's \"blocks\"."},
    {"json", RB_PARAM_ANY, 0, NULL,
     "webhook: the whole body to send, instead of the message (no template, text or vars)."},
    {"headers", RB_PARAM_MAP, 0, NULL, "slack, webhook, pagerduty: extra request headers."},
    {"routing_key", RB_PARAM_STRING, 0, NULL,
     "pagerduty: the integration's routing key (required; keep it in a secret)."},
    {"event_action", RB_PARAM_STRING, 0, NULL,
     "pagerduty: trigger, acknowledge or resolve (default: resolve on the resolved event, else "
     "trigger)."},
    {"dedup_key", RB_PARAM_STRING, 0, NULL,
     "pagerduty: the alert's key, 1 to 255 bytes (default: runbook/RUN-KEY/RUN-ID, one per run; "
     "a long RUN-KEY is cut and hashed, the run id kept)."},
    {"pd_severity", RB_PARAM_STRING, 0, NULL,
     "pagerduty: critical, error, warning or info (default: from the run's severity, P1 critical "
     "... P4 info)."},
    {"source", RB_PARAM_STRING, 0, "\"runbook\"", "pagerduty: the payload's source."},
    {"from", RB_PARAM_STRING, 0, NULL, "email: the sender, a@x or \"Name <a@x>\" (required)."},
    {"to", RB_PARAM_ANY, 0, NULL, "email: an address or a list of addresses (required)."},
    {"username", RB_PARAM_STRING, 0, NULL, "email: the SMTP login."},
    {"password", RB_PARAM_STRING, 0, NULL, "email: the SMTP password (keep it in a secret)."},
    {"starttls", RB_PARAM_BOOL, 0, "true",
     "email: require STARTTLS on smtp:// (false only for a relay without TLS, and then no "
     "password)."},
    {"ca_file", RB_PARAM_STRING, 0, NULL, "email: a CA bundle (PEM) to verify the server with."},
    {"attempts", RB_PARAM_INT, 0, "3",
     "Tries in all, 1 to 10, when delivery fails for a while (no answer, HTTP 429 or 5xx, SMTP "
     "4xx)."},
    {"retry_delay", RB_PARAM_DURATION, 0, "\"1s\"",
     "The wait before the second try; doubled for each next one, at most 1m."},
    {"timeout", RB_PARAM_DURATION, 0, "\"10s\"", "Limit for each try, more than 0s."},
    {NULL, 0, 0, NULL, NULL},
};

const rb_action_t rb_action_notify = {
    .abi_version = RB_ACTION_ABI_VERSION,
    .struct_size = sizeof(rb_action_t),
    .name = "notify",
    .summary = "Tell people: a chat webhook, PagerDuty, email or any JSON webhook, from a template or text",
    .flags = RB_ACTION_SIDE_EFFECTS | RB_ACTION_HTTP_STATUS,
    .params = notify_params,
    .validate = notify_validate,
    .start = notify_start,
    .cancel = notify_cancel,
    .validate_all = notify_validate_all,
    .preview = notify_preview,
};
