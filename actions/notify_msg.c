/*
 * notify_msg.c — the words of a notification: the built-in templates
 * (modelled on the seeds' communication templates: INCIDENT DECLARED,
 * INCIDENT UPDATE, INCIDENT RESOLVED, and the escalation notice), the
 * fields they are filled from (the run's severity, status, run id and age,
 * what detect found, the steps so far, who approved what; the runbook's
 * `vars` over them), and
 * their rendering as Slack mrkdwn, plain text or HTML.
 *
 * Owns: the template tables and the escaping of every format.
 *
 * Must never:
 *   - evaluate a value: a field is inserted as text, so "{{ env.X }}" or
 *     "<!channel>" in an alert label prints as those characters;
 *   - let a value make a line of its own: CR, LF and other control bytes
 *     in a value become spaces, so a label cannot forge a "Severity:" line,
 *     a mail header or an HTML tag (& < > " ' are escaped in HTML; & < >
 *     as Slack asks in mrkdwn);
 *   - touch the loop or the network.
 */
#define _GNU_SOURCE
#include "notify_int.h"

#include <runbook/runbook.h>

#include "base/text.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A line of a template: Label: the field's value (omitted when empty). A
 * field that is a list ("detected", "steps") prints as one item a line. */
typedef struct tline {
    const char *label;
    const char *field;
} tline_t;

typedef struct template {
    const char *name;
    const char *heading;
    tline_t lines[12];
    const char *footer;
} template_t;

static const template_t templates[] = {
    {"incident",
     "INCIDENT DECLARED",
     {{"Severity", "severity"},
      {"Status", "status"},
      {"What we know", "summary"},
      {"Detected", "detected"},
      {"Runbook", "run_ref"},
      {"Details", "url"},
      {"Report", "report_url"}},
     "Updates follow in this channel."},
    {"update",
     "INCIDENT UPDATE",
     {{"Severity", "severity"},
      {"Status", "status"},
      {"Open for", "duration"},
      {"Progress", "summary"},
      {"Steps so far", "steps"},
      {"Approvals", "approvals"},
      {"Runbook", "run_ref"},
      {"Details", "url"},
      {"Report", "report_url"}},
     NULL},
    {"resolved",
     "INCIDENT RESOLVED",
     {{"Severity", "severity"},
      {"Status", "status"},
      {"Total duration", "duration"},
      {"Resolution", "summary"},
      {"Steps taken", "steps"},
      {"Approvals", "approvals"},
      {"Runbook", "run_ref"},
      {"Details", "url"},
      {"Report", "report_url"}},
     "A post-incident review follows. Thank you for your patience."},
    {"escalation",
     "INCIDENT ESCALATED",
     {{"Severity", "severity"},
      {"Status", "status"},
      {"Open for", "duration"},
      {"What we know", "summary"},
      {"Detected", "detected"},
      {"Steps so far", "steps"},
      {"Approvals", "approvals"},
      {"Runbook", "run_ref"},
      {"Details", "url"},
      {"Report", "report_url"}},
     "The next level of the escalation chain is asked to respond."},
};

#define NTEMPLATES (sizeof(templates) / sizeof(templates[0]))

static const char *const channel_names[NOTIFY_NCHANNELS] = {"slack", "webhook", "pagerduty", "email"};

int rb__notify_channel(const char *name)
{
    for (int i = 0; name && i < NOTIFY_NCHANNELS; i++)
        if (!strcmp(name, channel_names[i]))
            return i;
    return -1;
}

const char *rb__notify_channel_name(notify_channel_t c)
{
    return c < NOTIFY_NCHANNELS ? channel_names[c] : "?";
}

static const template_t *template_find(const char *name)
{
    for (size_t i = 0; name && i < NTEMPLATES; i++)
        if (!strcmp(templates[i].name, name))
            return &templates[i];
    return NULL;
}

int rb__notify_template_known(const char *name)
{
    return template_find(name) != NULL;
}

const char *rb__notify_template_for(const char *event)
{
    if (event && !strcmp(event, "declared"))
        return "incident";
    if (event && !strcmp(event, "resolved"))
        return "resolved";
    if (event && !strcmp(event, "escalated"))
        return "escalation";
    return "update";
}

char *rb__notify_one_line(const char *s, size_t len, size_t max)
{
    return rb_text_one_line(s, len, max, NULL);
}

/* v as one line of text (NULL for null or when out of memory). */
static char *value_text(const json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return rb__notify_one_line(json_string_value(v), json_string_length(v), 4096);
    char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    char *r = d ? rb__notify_one_line(d, strlen(d), 4096) : NULL;
    free(d);
    return r;
}

static void set_text(json_t *f, const char *k, char *s)
{
    if (s && *s)
        json_object_set_new(f, k, json_string(s));
    free(s);
}

/* "name: status — error" for each result of an object of results, in
 * order; only those that were not ok when not_ok_only. */
static json_t *result_lines(const json_t *results, int not_ok_only)
{
    json_t *list = json_array();
    const char *k;
    const json_t *res;
    json_object_foreach((json_t *)results, k, res) {
        int ok = json_is_true(json_object_get(res, "ok"));
        if (not_ok_only && ok)
            continue;
        const json_t *st = json_object_get(res, "outcome");
        if (!json_is_string(st))
            st = json_object_get(res, "status");
        char *word = value_text(st), *err = value_text(json_object_get(res, "error")), *line = NULL;
        int n = err && *err ? asprintf(&line, "%s: %s (%.200s)", k, word ? word : ok ? "ok" : "failed", err)
                            : asprintf(&line, "%s: %s", k, word ? word : ok ? "ok" : "failed");
        free(word);
        free(err);
        if (n >= 0) {
            char *one = rb__notify_one_line(line, strlen(line), 400);
            if (one)
                json_array_append_new(list, json_string(one));
            free(one);
            free(line);
        }
    }
    return list;
}

/* "restart: granted by alice" for each of run.approvals. */
static json_t *approval_lines(const json_t *approvals)
{
    json_t *list = json_array();
    size_t i;
    const json_t *a;
    json_array_foreach(approvals, i, a) {
        char *step = value_text(json_object_get(a, "step")), *ans = value_text(json_object_get(a, "answer")),
             *by = value_text(json_object_get(a, "by")), *line = NULL;
        if (step && ans && asprintf(&line, "%s: %s by %s", step, ans, by ? by : "?") >= 0) {
            char *one = rb__notify_one_line(line, strlen(line), 400);
            if (one)
                json_array_append_new(list, json_string(one));
            free(one);
            free(line);
        }
        free(step);
        free(ans);
        free(by);
    }
    return list;
}

json_t *rb__notify_fields(const json_t *view, const json_t *vars, long long now_ms)
{
    json_t *f = json_object();
    if (!f)
        return NULL;
    const json_t *run = json_object_get(view, "run");
    set_text(f, "severity", value_text(json_object_get(run, "severity")));
    const json_t *event = json_object_get(view, "event");
    set_text(f, "status", value_text(json_is_string(event) ? event : json_object_get(run, "status")));
    set_text(f, "run_id", value_text(json_object_get(run, "id")));
    set_text(f, "title", value_text(json_object_get(run, "key")));
    set_text(f, "report_url", value_text(json_object_get(run, "report_url")));
    const json_t *t0 = json_object_get(run, "started_at_ms");
    long long start = json_is_integer(t0) ? (long long)json_integer_value(t0) : -1;
    if (start < 0 && json_is_integer(json_object_get(run, "started_at")))
        start = (long long)json_integer_value(json_object_get(run, "started_at")) * 1000;
    if (start >= 0) {
        char d[32];
        rb_duration_human(now_ms > start ? (uint64_t)(now_ms - start) : 0, d, sizeof(d));
        json_object_set_new(f, "duration", json_string(d));
    }
    json_object_set_new(f, "detected", result_lines(json_object_get(view, "checks"), 1));
    json_object_set_new(f, "steps", result_lines(json_object_get(view, "steps"), 0));
    json_object_set_new(f, "approvals", approval_lines(json_object_get(run, "approvals")));
    /* on notify_failed: which notification was not sent, and why */
    const json_t *failed = json_object_get(view, "failed");
    if (json_is_object(failed)) {
        char *what = NULL;
        const char *ch = json_string_value(json_object_get(failed, "channel"));
        const char *to = json_string_value(json_object_get(failed, "target"));
        const char *err = json_string_value(json_object_get(failed, "error"));
        const char *on = json_string_value(json_object_get(failed, "notification"));
        if (asprintf(&what, "the %s notification (%s to %s) was not sent%s%s", on ? on : "?",
                     ch ? ch : "?", to && *to ? to : "?", err ? ": " : "", err ? err : "") >= 0)
            set_text(f, "summary", rb__notify_one_line(what, strlen(what), 4096));
        free(what);
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)vars, k, v) {
        char *s = value_text(v);
        if (s)
            json_object_set_new(f, k, json_string(s));
        else
            json_object_del(f, k);
        free(s);
    }
    /* "node-crash (run 42)", or "run 42" */
    const char *rb = json_string_value(json_object_get(f, "runbook"));
    const char *id = json_string_value(json_object_get(f, "run_id"));
    char *ref = NULL;
    int has_rb = rb && *rb, has_id = id && *id, n = 0;
    if (has_rb && has_id)
        n = asprintf(&ref, "%s (run %s)", rb, id);
    else if (has_rb)
        ref = strdup(rb);
    else if (has_id)
        n = asprintf(&ref, "run %s", id);
    set_text(f, "run_ref", n < 0 ? NULL : ref);
    return f;
}

/* ---------- rendering ---------- */

static void put_escaped(FILE *o, const char *s, notify_format_t fmt)
{
    for (; *s; s++) {
        const char *rep = fmt == NOTIFY_FMT_PLAIN ? NULL : rb_text_entity(*s, fmt == NOTIFY_FMT_HTML);
        if (rep)
            fputs(rep, o);
        else
            fputc(*s, o);
    }
}

static void put_label(FILE *o, const char *label, notify_format_t fmt)
{
    if (fmt == NOTIFY_FMT_SLACK)
        fprintf(o, "*%s:*", label);
    else if (fmt == NOTIFY_FMT_HTML)
        fprintf(o, "<b>%s:</b>", label);
    else
        fprintf(o, "%s:", label);
}

char *rb__notify_render(const char *name, const json_t *fields, notify_format_t fmt)
{
    const template_t *t = template_find(name);
    if (!t)
        t = &templates[1];
    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    if (!o)
        return NULL;
    const char *title = json_string_value(json_object_get(fields, "title"));
    if (fmt == NOTIFY_FMT_HTML)
        fprintf(o, "<html><body>\n<h2>%s: ", t->heading);
    else if (fmt == NOTIFY_FMT_SLACK)
        fprintf(o, "*%s*: ", t->heading);
    else
        fprintf(o, "%s: ", t->heading);
    put_escaped(o, title ? title : "", fmt);
    fputs(fmt == NOTIFY_FMT_HTML ? "</h2>\n" : "", o);
    for (const tline_t *l = t->lines; l->label; l++) {
        const json_t *v = json_object_get(fields, l->field);
        if (json_is_array(v)) {
            if (!json_array_size(v))
                continue;
            fputs(fmt == NOTIFY_FMT_HTML ? "<p>" : "\n", o);
            put_label(o, l->label, fmt);
            fputs(fmt == NOTIFY_FMT_HTML ? "</p>\n<ul>\n" : "", o);
            size_t i;
            const json_t *item;
            json_array_foreach(v, i, item) {
                fputs(fmt == NOTIFY_FMT_HTML ? "<li>" : fmt == NOTIFY_FMT_SLACK ? "\n• " : "\n- ", o);
                put_escaped(o, json_string_value(item) ? json_string_value(item) : "", fmt);
                fputs(fmt == NOTIFY_FMT_HTML ? "</li>\n" : "", o);
            }
            fputs(fmt == NOTIFY_FMT_HTML ? "</ul>\n" : "", o);
            continue;
        }
        const char *s = json_string_value(v);
        if (!s || !*s)
            continue;
        fputs(fmt == NOTIFY_FMT_HTML ? "<p>" : "\n", o);
        put_label(o, l->label, fmt);
        fputc(' ', o);
        put_escaped(o, s, fmt);
        fputs(fmt == NOTIFY_FMT_HTML ? "</p>\n" : "", o);
    }
    if (t->footer)
        fprintf(o, fmt == NOTIFY_FMT_HTML ? "<p>%s</p>\n" : "\n%s", t->footer);
    if (fmt == NOTIFY_FMT_HTML)
        fputs("</body></html>\n", o);
    if (fclose(o) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

char *rb__notify_headline(const char *name, const json_t *fields)
{
    const template_t *t = template_find(name);
    if (!t)
        t = &templates[1];
    const char *title = json_string_value(json_object_get(fields, "title"));
    const char *sev = json_string_value(json_object_get(fields, "severity"));
    char *s = NULL;
    int n = sev && *sev ? asprintf(&s, "[%s] %s: %s", sev, t->heading, title ? title : "")
                        : asprintf(&s, "%s: %s", t->heading, title ? title : "");
    if (n < 0)
        return NULL;
    char *one = rb__notify_one_line(s, strlen(s), 900);
    free(s);
    return one;
}

char *rb__notify_origin(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        if (asprintf(&out, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "") < 0)
            out = NULL;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out ? out : strdup("");
}
