/*
 * notify_body.c — the JSON bodies of notify's HTTP channels: a Slack-style
 * {"text": …} (Slack, Mattermost, Teams connectors and chat bridges), a
 * generic JSON webhook object, and a PagerDuty Events API v2 event
 * (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
 *
 * Owns: the shape of each body, PagerDuty's dedup_key derived from the run,
 * its event_action from the run event, and its severity from the run's.
 *
 * Must never: build JSON by hand (jansson escapes every value), or put the
 * routing key anywhere but the body it authenticates.
 */
#define _GNU_SOURCE
#include "notify_int.h"

#include "with.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define PD_SUMMARY_MAX 1024
#define PD_DEDUP_MAX 255

/* "runbook/<run key>/<run id>": the same for every notification of one run
 * (and a resumed run keeps both), different for two runs. A key too long
 * for PagerDuty's 255 bytes keeps its beginning and is told apart by its
 * SHA-256 ("runbook/<beginning>~<16 hex digits>/<run id>"): the run id is
 * never cut off, so two runs never share a page. */
static json_t *derived_dedup_key(const json_t *view)
{
    const json_t *run = json_object_get(view, "run");
    const json_t *id = json_object_get(run, "id");
    const char *key = json_string_value(json_object_get(run, "key"));
    if (!json_is_integer(id))
        return NULL;
    char tail[48];
    snprintf(tail, sizeof(tail), "/%lld", (long long)json_integer_value(id));
    char *k = rb__notify_one_line(key ? key : "", key ? strlen(key) : 0, (size_t)-1);
    if (!k)
        return NULL;
    size_t room = PD_DEDUP_MAX - strlen("runbook/") - strlen(tail);
    if (strlen(k) > room) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char hash[18] = "~";
        if (EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL) != 1) {
            free(k);
            return NULL;
        }
        for (int i = 0; i < 8; i++)
            snprintf(hash + 1 + 2 * i, 3, "%02x", md[i]);
        size_t n = room - strlen(hash);
        while (n > 0 && ((unsigned char)k[n] & 0xC0) == 0x80)
            n--; /* never cut inside a UTF-8 sequence */
        memcpy(k + n, hash, strlen(hash) + 1);
    }
    char *s = NULL;
    json_t *r = asprintf(&s, "runbook/%s%s", k, tail) < 0 ? NULL : json_string(s);
    free(s);
    free(k);
    return r;
}

const char *rb__notify_pd_action(const json_t *with, const json_t *view)
{
    const char *a = json_string_value(rb__with_get(with, "event_action"));
    if (a)
        return a;
    const char *ev = json_string_value(json_object_get(view, "event"));
    return ev && !strcmp(ev, "resolved") ? "resolve" : "trigger";
}

/* PagerDuty's severity from the run's level: P1 critical, P2 error, P3
 * warning, P4 info; a PagerDuty word passes; anything else is error. */
static const char *pd_severity(const json_t *with, const json_t *fields)
{
    const char *s = json_string_value(rb__with_get(with, "pd_severity"));
    if (s)
        return s;
    s = json_string_value(json_object_get(fields, "severity"));
    static const char *const words[] = {"critical", "error", "warning", "info"};
    for (int i = 0; s && i < 4; i++) {
        char p[3] = {'p', (char)('1' + i), 0};
        if (!strcasecmp(s, p) || !strcasecmp(s, words[i]))
            return words[i];
    }
    return "error";
}

static json_t *pagerduty_body(const json_t *with, const json_t *fields, const char *headline,
                              const char *text, const json_t *view, json_t *info)
{
    const char *action = rb__notify_pd_action(with, view);
    json_t *dk = json_incref((json_t *)rb__with_get(with, "dedup_key"));
    if (!dk)
        dk = derived_dedup_key(view);
    json_t *b = json_pack("{s:O,s:s}", "routing_key", rb__with_get(with, "routing_key"),
                          "event_action", action);
    if (!b) {
        json_decref(dk);
        return NULL;
    }
    if (dk)
        json_object_set(b, "dedup_key", dk);
    json_object_set_new(info, "event_action", json_string(action));
    if (dk)
        json_object_set(info, "dedup_key", dk);
    json_decref(dk);
    if (strcmp(action, "trigger") != 0)
        return b; /* acknowledge and resolve carry only the key (Events v2) */
    char *sum = rb__notify_one_line(headline, strlen(headline), PD_SUMMARY_MAX);
    const json_t *src = rb__with_get(with, "source");
    json_t *details = json_deep_copy(fields);
    if (details) {
        json_object_del(details, "run_ref"); /* the template's, not a field */
        json_object_set_new(details, "text", json_string(text));
    }
    json_t *payload = sum && details ? json_pack("{s:s,s:s,s:s,s:O}", "summary", sum, "source",
                                                 src ? json_string_value(src) : "runbook",
                                                 "severity", pd_severity(with, fields),
                                                 "custom_details", details)
                                     : NULL;
    free(sum);
    json_decref(details);
    if (!payload) {
        json_decref(b);
        return NULL;
    }
    json_object_set_new(b, "payload", payload);
    json_object_set_new(b, "client", json_string("runbook"));
    const char *url = json_string_value(json_object_get(fields, "url"));
    const char *rep = json_string_value(json_object_get(fields, "report_url"));
    json_t *links = json_array();
    if (url && (!strncmp(url, "https://", 8) || !strncmp(url, "http://", 7)))
        json_array_append_new(links, json_pack("{s:s,s:s}", "href", url, "text", "Details"));
    if (rep && (!strncmp(rep, "https://", 8) || !strncmp(rep, "http://", 7))) {
        /* the run's report on the server (external_url) */
        json_array_append_new(links, json_pack("{s:s,s:s}", "href", rep, "text", "Report"));
        json_object_set_new(b, "client_url", json_string(rep));
    }
    if (json_array_size(links))
        json_object_set_new(b, "links", links);
    else
        json_decref(links);
    return b;
}

json_t *rb__notify_body(notify_channel_t ch, const json_t *with, const char *tmpl,
                        const json_t *fields, const char *text, const char *headline,
                        const json_t *view, json_t *info)
{
    switch (ch) {
    case NOTIFY_SLACK: {
        json_t *b = json_pack("{s:s}", "text", text);
        if (b && rb__with_get(with, "blocks"))
            json_object_set(b, "blocks", (json_t *)rb__with_get(with, "blocks"));
        return b;
    }
    case NOTIFY_WEBHOOK: {
        const json_t *js = rb__with_get(with, "json");
        if (js)
            return json_incref((json_t *)js);
        json_t *b = json_deep_copy(fields);
        if (b)
            json_object_del(b, "run_ref"); /* the template's, not a field */
        const json_t *ev = json_object_get(view, "event");
        if (b && json_is_string(ev))
            json_object_set(b, "event", (json_t *)ev);
        if (b && tmpl)
            json_object_set_new(b, "template", json_string(tmpl));
        if (b)
            json_object_set_new(b, "text", json_string(text));
        return b;
    }
    case NOTIFY_PAGERDUTY:
        return pagerduty_body(with, fields, headline, text, view, info);
    default:
        return NULL;
    }
}
