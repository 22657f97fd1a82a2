/*
 * runs_html.c — the list of recent runs as one self-contained HTML page
 * (GET /runs of `runbook serve`, docs/api.md#the-runs-page): newest first,
 * each run's id, runbook, trigger, severity, status, start (UTC) and
 * duration, a drill marked as one, each linking to its post-incident
 * report; a filter form and links to the older page. Inline CSS (the
 * report's, with print styles), no script, no external asset: it reads
 * the same with JavaScript off and on paper.
 *
 * Links are relative ("api/v1/runs/7/report?format=html", "runs?…"), so
 * that the page works behind a proxy that serves the server under a path
 * prefix. Query values are percent-encoded by libcurl, then escaped as
 * HTML like every value of the journal (rv_html_esc_n): a runbook named
 * "<script>…" shows as text and stays inside its href.
 *
 * Owns nothing. Must never: read the journal (it is given the rows), write
 * a value unescaped.
 */
#include "review.h"
#include "review_int.h"

#include <runbook/runbook.h>

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void esc(FILE *f, const char *s) { rv_html_esc_n(f, s, s ? strlen(s) : 0); }

/* What the list page adds to the report's stylesheet. */
static const char runs_css[] =
    "form.filters{display:flex;flex-wrap:wrap;gap:.6em 1.2em;align-items:end;margin:1em 0}"
    "form.filters label{display:flex;flex-direction:column;font-size:.9em;color:#57606a}"
    "form.filters input,form.filters select{font:inherit;padding:.15em .3em}"
    "td.num{white-space:nowrap}nav.pages{margin:1.2em 0;display:flex;gap:1.5em}"
    ".drill{margin-left:.4em}"
    "@media print{form.filters,nav.pages{display:none}td a{color:inherit;text-decoration:none}}";

/* One query parameter "k=v" of a link (v percent-encoded), after sep. */
static void param(FILE *f, const char **sep, const char *k, const char *v)
{
    if (!v || !*v)
        return;
    char *e = curl_easy_escape(NULL, v, (int)strlen(v));
    if (!e)
        return;
    fprintf(f, "%s%s=", *sep, k);
    esc(f, e);
    curl_free(e);
    *sep = "&amp;";
}

/* A link's href to the list with the page's filters, one of them (key,
 * value) put in place of the page's (value NULL: left out), and before
 * (0: the newest page). */
static void href(FILE *f, const rb_runs_page_t *p, const char *key, const char *value, long long before)
{
    static const char *const keys[] = {"status", "runbook", "severity", "trigger", "drill"};
    const char *vals[] = {p->status, p->runbook, p->severity, p->trigger, p->drill};
    const char *sep = "?";
    fputs("runs", f);
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        param(f, &sep, keys[k], key && !strcmp(key, keys[k]) ? value : vals[k]);
    if (p->limit != RB_RUNS_PAGE_LIMIT) {
        char n[16];
        snprintf(n, sizeof n, "%d", p->limit);
        param(f, &sep, "limit", n);
    }
    if (before > 0) {
        char n[32];
        snprintf(n, sizeof n, "%lld", before);
        param(f, &sep, "before", n);
    }
}

static void text_input(FILE *f, const char *name, const char *label, const char *value)
{
    fprintf(f, "<label>%s <input type=\"text\" name=\"%s\" value=\"", label, name);
    esc(f, value);
    fputs("\"></label>\n", f);
}

static void filters(FILE *f, const rb_runs_page_t *p)
{
    static const char *const drills[][2] = {{"", "shown"}, {"no", "left out"}, {"only", "only drills"}};
    fputs("<form class=\"filters\" method=\"get\" action=\"runs\">\n<label>status <select name=\"status\">"
          "<option value=\"\">any</option>",
          f);
    for (const char *const *st = rb_journal_run_statuses; *st; st++)
        fprintf(f, "<option%s>%s</option>", p->status && !strcmp(p->status, *st) ? " selected" : "", *st);
    fputs("</select></label>\n", f);
    text_input(f, "runbook", "runbook", p->runbook);
    text_input(f, "severity", "severity", p->severity);
    text_input(f, "trigger", "trigger", p->trigger);
    fputs("<label>drills <select name=\"drill\">", f);
    for (size_t k = 0; k < sizeof drills / sizeof *drills; k++)
        fprintf(f, "<option value=\"%s\"%s>%s</option>", drills[k][0],
                !strcmp(p->drill ? p->drill : "", drills[k][0]) ? " selected" : "", drills[k][1]);
    fprintf(f, "</select></label>\n<input type=\"hidden\" name=\"limit\" value=\"%d\">"
               "<button type=\"submit\">Show</button> <a href=\"runs\">all runs</a></form>\n",
            p->limit);
}

static void row(FILE *f, const rb_runs_page_t *p, const json_t *r)
{
    long long id = (long long)json_integer_value(json_object_get(r, "id"));
    const json_t *st = json_object_get(r, "started_at"), *en = json_object_get(r, "ended_at");
    const char *trigger = jstr(r, "trigger"), *status = jstr(r, "status"), *sev = jstr(r, "severity");
    size_t tl = trigger ? strlen(trigger) : 0;
    int drill = tl >= 8 && !strcmp(trigger + tl - 8, " (drill)");
    char when[64], dur[32] = "";
    fprintf(f, "<tr class=\"run%s\" data-run=\"%lld\"><td class=\"num\"><a class=\"report\" "
               "href=\"api/v1/runs/%lld/report?format=html\">%lld</a></td><td><a class=\"runbook\" href=\"",
            drill ? " drill" : "", id, id, id);
    href(f, p, "runbook", jstr(r, "runbook"), 0);
    fputs("\">", f);
    esc(f, jstr(r, "runbook"));
    fputs("</a></td><td class=\"trigger\">", f);
    rv_html_esc_n(f, trigger, drill ? tl - 8 : tl);
    if (drill)
        fputs("<span class=\"badge skip drill\">drill</span>", f);
    fputs("</td><td class=\"severity\">", f);
    esc(f, sev ? sev : "");
    fprintf(f, "</td><td><span class=\"badge status %s\">", rv_html_cls(status));
    esc(f, status);
    rv_fmt_time(json_integer_value(st), when, sizeof when);
    if (json_is_integer(en) && json_is_integer(st))
        rv_fmt_dur(json_integer_value(en) - json_integer_value(st), dur, sizeof dur);
    fprintf(f, "</span></td><td class=\"num\"><time datetime=\"%s\">", when);
    /* 2026-12-03T15:11:50Z → 2026-12-03 15:11:50 (the column says UTC) */
    if (strlen(when) == 20)
        when[10] = ' ', when[19] = '\0';
    fprintf(f, "%s</time></td><td class=\"num\">%s</td></tr>\n", when, *dur ? dur : "—");
}

void rb_review_runs_html(const rb_runs_page_t *p, FILE *f)
{
    size_t n = json_array_size(p->runs);
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
               "<title>Runs — runbook</title><style>%s%s</style></head>\n<body>\n<header><h1>Runs</h1>"
               "<p class=\"meta\" id=\"shown\">%zu run%s, newest first%s</p></header>\n",
            rv_html_css, runs_css, n, n == 1 ? "" : "s", p->before > 0 ? ", older page" : "");
    filters(f, p);
    if (!n) {
        fputs("<p id=\"none\">No runs match.</p>\n", f);
    } else {
        fputs("<table id=\"runs\"><thead><tr><th>Run</th><th>Runbook</th><th>Trigger</th><th>Severity</th>"
              "<th>Status</th><th>Started (UTC)</th><th>Duration</th></tr></thead>\n<tbody>\n",
              f);
        size_t i;
        const json_t *r;
        json_array_foreach(p->runs, i, r)
            row(f, p, r);
        fputs("</tbody></table>\n", f);
    }
    fputs("<nav class=\"pages\">", f);
    if (p->before > 0) {
        fputs("<a id=\"newest\" href=\"", f);
        href(f, p, NULL, NULL, 0);
        fputs("\">newest runs</a>", f);
    }
    if (p->next_before > 0) {
        fputs("<a id=\"older\" href=\"", f);
        href(f, p, NULL, NULL, (long long)p->next_before);
        fputs("\">older runs</a>", f);
    }
    fprintf(f, "</nav>\n<footer class=\"meta\"><p>runbook %s · each run links to its post-incident "
               "report</p></footer>\n</body></html>\n",
            RB_VERSION);
}
