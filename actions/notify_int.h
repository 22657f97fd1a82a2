/*
 * notify_int.h — what the files of the `notify` action share: the channels,
 * the message built from a template and the run (notify_msg.c), the bodies
 * of the HTTP channels (notify_body.c) and the mail (notify_mail.c).
 * notify.c owns the action: parameters, delivery, retries, the result.
 *
 * Internal to the built-in actions. Everything here touches only its
 * arguments (any thread), except rb__notify_mail_* which hand a transfer to
 * http_client.c on the loop thread.
 */
#ifndef RB_NOTIFY_INT_H
#define RB_NOTIFY_INT_H

#include <jansson.h>
#include <stddef.h>

typedef enum notify_channel {
    NOTIFY_SLACK = 0, /* Slack / Mattermost / Teams-style incoming webhook: {"text": …} */
    NOTIFY_WEBHOOK,   /* generic JSON webhook (status pages, anything else) */
    NOTIFY_PAGERDUTY, /* PagerDuty Events API v2 */
    NOTIFY_EMAIL,     /* SMTP through libcurl, STARTTLS */
    NOTIFY_NCHANNELS
} notify_channel_t;

/* "slack" … "email"; -1 for anything else. */
int rb__notify_channel(const char *name);
const char *rb__notify_channel_name(notify_channel_t c);

/* 1 when name is a built-in template: incident, update, resolved, escalation. */
int rb__notify_template_known(const char *name);

/* The template a run event sends when the runbook names none: declared ->
 * incident, resolved -> resolved, escalated -> escalation, anything else
 * (severity, step_failed, failed, …, or no event) -> update. */
const char *rb__notify_template_for(const char *event);

/*
 * The message's fields: the built-in ones filled from the run view
 * (rb_action_run_view: run, checks, steps, event; may be NULL), then every
 * value of vars (an object or NULL) over them, as text (a list or object as
 * compact JSON). An object of strings, plus "detected", "steps" and
 * "approvals": lists of one-line strings. now_ms: milliseconds since the epoch, for
 * "duration" (from run.started_at_ms, in rb_duration_human's words). A new
 * reference, NULL when out of memory.
 */
json_t *rb__notify_fields(const json_t *run_view, const json_t *vars, long long now_ms);

typedef enum notify_format {
    NOTIFY_FMT_SLACK, /* *bold* mrkdwn, & < > escaped as Slack asks */
    NOTIFY_FMT_PLAIN, /* plain text: mail's text part, PagerDuty, webhooks */
    NOTIFY_FMT_HTML   /* an HTML fragment, every value escaped */
} notify_format_t;

/* The template rendered from fields in one format (malloc'd, NUL-ended;
 * NULL when out of memory). Values are inserted as text, never evaluated. */
char *rb__notify_render(const char *tmpl, const json_t *fields, notify_format_t fmt);

/* The first line of the plain rendering ("INCIDENT DECLARED: title"),
 * with severity in front when there is one: "[P1] INCIDENT …". */
char *rb__notify_headline(const char *tmpl, const json_t *fields);

/* s with CR, LF, other control characters (ASCII or Unicode, NUL too) and
 * Unicode line breaks replaced by spaces, cut to at most max bytes on a
 * UTF-8 boundary and then ending in "[…]": a single header-safe line
 * (rb_text_one_line, which secret masking follows). */
char *rb__notify_one_line(const char *s, size_t len, size_t max);

/* scheme://host[:port] of a URL: where a message went, without the path or
 * credentials (a webhook's path is its secret). "" when it does not parse. */
char *rb__notify_origin(const char *url);

/* ---- notify_body.c ---- */

/*
 * The JSON body of an HTTP channel (slack, webhook, pagerduty), a new
 * reference or NULL when out of memory. tmpl: the template used (NULL when
 * the runbook wrote text); text: the message; headline: its one-line form
 * (PagerDuty's summary). info gets what the result reports besides the
 * HTTP answer (PagerDuty: event_action, dedup_key).
 */
json_t *rb__notify_body(notify_channel_t ch, const json_t *with, const char *tmpl,
                        const json_t *fields, const char *text, const char *headline,
                        const json_t *view, json_t *info);

/* PagerDuty's event_action: with's, else resolve on the run's resolved
 * event and trigger on any other. */
const char *rb__notify_pd_action(const json_t *with, const json_t *view);

/* ---- notify_mail.c ---- */

typedef struct notify_mail notify_mail_t;

/*
 * Checks the mail parameters of with (rendered or not, as rendered says):
 * url (smtp:// or smtps://), from, to (a string or a list), username,
 * password, subject, html, ca_file, starttls. 0, or RB_EINVAL with msg and
 * *key.
 */
int rb__notify_mail_check(const json_t *with, int rendered, char *msg, size_t msglen,
                          const char **key);

/* A mail ready to send: headers and a text part, and an HTML part when html
 * is not NULL. base_dir resolves a relative ca_file. NULL with msg. */
notify_mail_t *rb__notify_mail_new(const json_t *with, const char *subject, const char *text,
                                   const char *html, const char *base_dir, char *msg,
                                   size_t msglen);
void rb__notify_mail_free(notify_mail_t *m);

/* The server's first failing (4xx, 5xx) reply line in the last try, ""
 * when none; borrowed. */
const char *rb__notify_mail_reply(const notify_mail_t *m);

/* The recipients, "a@x, b@y" (borrowed from m). */
const char *rb__notify_mail_rcpts(const notify_mail_t *m);

/* For rb__http_opts_t.setup: configures an easy handle to send m (which
 * must outlive the transfer) over SMTP, building the MIME message on it.
 * rb__notify_mail_release (for .release) frees what one transfer used, so
 * that the next attempt builds it again on its own handle. */
int rb__notify_mail_setup(void *easy, void *m, char *msg, size_t msglen);
void rb__notify_mail_release(void *m);

#endif
