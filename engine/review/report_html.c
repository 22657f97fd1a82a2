/*
 * report_html.c — the post-incident review as one self-contained HTML
 * file: inline CSS (with print styles), an inline SVG timeline (each step a
 * bar on the run's time axis, its attempts, approval waits and escalations
 * marked), no external asset and no script, so that it reads the same in a
 * browser, from a mail attachment or on paper.
 *
 * Owns nothing. Every value that came from the journal or the runbook goes
 * through esc(): an alert label, a step name or a command's output is text,
 * never markup (a "<script>" in an alert label shows as "<script>").
 */
#include "review_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static json_int_t jint(const json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

/* s[0..len) as HTML text or attribute value: & < > " ' escaped, control
 * characters other than newline and tab (a NUL, an escape) written as ?,
 * as in the other formats. */
void rv_html_esc_n(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; s && i < len; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (((unsigned char)s[i] >= 0x20 && s[i] != 0x7f) || s[i] == '\n' || s[i] == '\t')
                fputc(s[i], f);
            else
                fputc('?', f);
        }
    }
}

static void esc(FILE *f, const char *s) { rv_html_esc_n(f, s, s ? strlen(s) : 0); }

/* o[k], a string that may hold NUL bytes, escaped whole. */
static void esc_key(FILE *f, const json_t *o, const char *k)
{
    const char *s;
    size_t n = rv_jstrn(o, k, &s);
    rv_html_esc_n(f, s, n);
}

static const char *dur(json_int_t ms, char *buf, size_t len) { return rv_fmt_dur(ms, buf, len); }

/* The CSS class of an outcome word. */
const char *rv_html_cls(const char *st)
{
    if (!st)
        return "other";
    if (!strcmp(st, "ok") || !strcmp(st, "resolved") || !strcmp(st, "granted") || !strcmp(st, "simulated"))
        return "ok";
    if (!strcmp(st, "skipped") || !strcmp(st, "not_confirmed") || !strcmp(st, "running") || !strcmp(st, "waiting") ||
        !strcmp(st, "waiting_approval"))
        return "skip";
    return "bad";
}

/* The CSS class of a step or an item: a drill's step --assume took as
 * failed is marked as failed. */
static const char *work_cls(const json_t *e)
{
    const char *a = jstr(e, "assumed");
    return a && !strcmp(a, "failed") ? "bad" : rv_html_cls(jstr(e, "status"));
}

const char rv_html_css[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2329;max-width:1000px;"
    "margin:2em auto;padding:0 1em}h1{font-size:1.7em;margin:.2em 0}h2{font-size:1.25em;border-bottom:1px solid "
    "#d8dee4;padding-bottom:.2em;margin-top:1.8em}table{border-collapse:collapse;width:100%}td,th{text-align:left;"
    "vertical-align:top;padding:.3em .6em;border-bottom:1px solid #eaeef2}th{background:#f6f8fa}"
    "pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:13px}"
    ".badge{display:inline-block;padding:.05em .5em;border-radius:.8em;font-weight:600;font-size:.9em}"
    ".ok{color:#1a7f37}.bad{color:#cf222e}.skip{color:#9a6700}.other{color:#57606a}"
    ".badge.ok{background:#dafbe1}.badge.bad{background:#ffebe9}.badge.skip{background:#fff8c5}"
    ".badge.other{background:#eaeef2}.step{border:1px solid #d8dee4;border-radius:6px;padding:.2em .9em;"
    "margin:.8em 0;break-inside:avoid}.step h3{font-size:1.05em;margin:.5em 0}.meta{color:#57606a}"
    ".fill{min-height:4em;border:1px dashed #afb8c1;border-radius:6px;padding:.5em;color:#57606a}"
    "svg{width:100%;height:auto;border:1px solid #eaeef2;border-radius:6px}"
    "svg text{font:11px system-ui,sans-serif;fill:#1d2329}.bar-ok{fill:#2da44e}.bar-bad{fill:#cf222e}"
    ".bar-skip{fill:#d4a72c}.bar-other{fill:#8c959f}.wait{fill:url(#hatch);stroke:#9a6700}"
    ".att{stroke:#1d2329;stroke-width:1.5}.esc{stroke:#cf222e;stroke-dasharray:4 3}.axis{stroke:#afb8c1}"
    "@media print{body{margin:0;max-width:none;font-size:11pt}h2{break-after:avoid}.fill{min-height:6em}"
    "a{color:inherit;text-decoration:none}}";

/* The visual timeline: a row per step, bars on the run's time axis. */
static void svg_timeline(const json_t *rep, FILE *f)
{
    const json_t *steps = json_object_get(rep, "steps");
    json_int_t total = jint(rep, "duration_ms");
    size_t n = json_array_size(steps);
    const int label = 170, width = 900, row = 24, top = 28;
    int height = top + (int)(n ? n : 1) * row + 12;
    if (total <= 0)
        total = 1;
    double scale = (double)(width - label - 20) / (double)total;
    char b[32];
    fprintf(f, "<svg id=\"timeline-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" role=\"img\" "
               "aria-label=\"timeline of the run\"><defs><pattern id=\"hatch\" width=\"6\" height=\"6\" "
               "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"3\" height=\"6\" "
               "fill=\"#f2cc60\"/></pattern></defs>\n",
            width, height);
    for (int k = 0; k <= 4; k++) { /* the axis */
        double x = label + (double)(width - label - 20) * k / 4.0;
        fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/><text x=\"%.1f\" y=\"14\" "
                   "text-anchor=\"%s\">+%s</text>\n",
                x, top - 6, x, height - 6, x, k == 0 ? "start" : k == 4 ? "end" : "middle", dur(total * k / 4, b, sizeof b));
    }
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s) {
        int y = top + (int)i * row;
        json_int_t t = jint(s, "t_ms"), d = jint(s, "duration_ms");
        double x = label + (double)t * scale, w = (double)d * scale;
        if (w < 2)
            w = 2;
        fprintf(f, "<g class=\"row\" data-step=\"");
        esc(f, jstr(s, "name"));
        fprintf(f, "\"><text x=\"4\" y=\"%d\">", y + 15);
        esc(f, jstr(s, "name"));
        fprintf(f, "</text><rect class=\"bar bar-%s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"14\" rx=\"2\"><title>",
                work_cls(s), x, y + 4, w);
        esc(f, jstr(s, "name"));
        fprintf(f, ": ");
        esc(f, jstr(s, "status"));
        fprintf(f, ", %lld attempt(s), %s</title></rect>", (long long)jint(s, "attempts"), dur(d, b, sizeof b));
        size_t k;
        json_t *a;
        json_array_foreach(json_object_get(s, "attempt_list"), k, a) { /* where each attempt ended */
            double ax = label + (double)jint(a, "t_ms") * scale;
            fprintf(f, "<line class=\"att\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"><title>attempt %zu: ", ax, y + 2, ax, y + 20,
                    k + 1);
            esc(f, jstr(a, "status"));
            fprintf(f, "</title></line>");
        }
        json_array_foreach(json_object_get(rep, "approvals"), k, a) { /* approval waits */
            if (strcmp(jstr(a, "step") ? jstr(a, "step") : "", jstr(s, "name") ? jstr(s, "name") : "") ||
                !json_is_integer(json_object_get(a, "at_ms")))
                continue;
            double ax = label + (double)jint(a, "requested_ms") * scale;
            double aw = (double)(jint(a, "at_ms") - jint(a, "requested_ms")) * scale;
            fprintf(f, "<rect class=\"wait\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"14\"><title>waited for approval: ", ax,
                    y + 4, aw < 2 ? 2 : aw);
            esc(f, jstr(a, "answer"));
            fprintf(f, " by ");
            esc(f, jstr(a, "by") ? jstr(a, "by") : "nobody");
            fprintf(f, "</title></rect>");
        }
        fprintf(f, "</g>\n");
    }
    json_array_foreach(json_object_get(rep, "escalations"), i, s) {
        double x = label + (double)jint(s, "t_ms") * scale;
        fprintf(f, "<line class=\"esc\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"><title>escalation level %lld%s</title></line>\n",
                x, top - 6, x, height - 6, (long long)jint(s, "level"), json_is_true(json_object_get(s, "held")) ? " held" : "");
    }
    fprintf(f, "</svg>\n");
}

/* A JSON value as text: a string as it is, else compact JSON. */
static void html_value(FILE *f, const json_t *v)
{
    if (json_is_string(v)) {
        rv_html_esc_n(f, json_string_value(v), json_string_length(v));
        return;
    }
    char *js = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    esc(f, js);
    free(js);
}

/* What one step or foreach item did: its command, error and output. */
static void html_work(FILE *f, const json_t *e)
{
    if (jstr(e, "command") && *jstr(e, "command")) {
        fprintf(f, "<pre class=\"cmd\">");
        esc_key(f, e, "command");
        fprintf(f, "</pre>\n");
    }
    static const char *const parts[][3] = {{"error", "p", "bad"}, {"output", "pre", "out"}, {"stderr", "pre", "err"}};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++)
        if (jstr(e, parts[k][0])) {
            fprintf(f, "<%s class=\"%s\">", parts[k][1], parts[k][2]);
            esc_key(f, e, parts[k][0]);
            fprintf(f, "</%s>\n", parts[k][1]);
        }
}

static void row2(FILE *f, const char *k, const char *v)
{
    fprintf(f, "<tr><th>%s</th><td>", k);
    esc(f, v);
    fprintf(f, "</td></tr>\n");
}

void rb_review_report_html(const json_t *rep, FILE *f)
{
    char b1[32], b2[64];
    const char *title = jstr(rep, "title") ? jstr(rep, "title") : jstr(rep, "runbook");
    const json_t *sev = json_object_get(rep, "severity"), *tg = json_object_get(rep, "targets");
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
               "<title>Post-incident review: run %lld, ", (long long)jint(rep, "run"));
    esc(f, title);
    fprintf(f, "</title><style>%s</style></head>\n<body>\n<header><h1>Post-Incident Report</h1>"
               "<p class=\"meta\">run <strong id=\"run-id\">%lld</strong> · ", rv_html_css, (long long)jint(rep, "run"));
    esc(f, title);
    fprintf(f, " · <span id=\"status\" class=\"badge %s\">", rv_html_cls(jstr(rep, "status")));
    esc(f, jstr(rep, "status"));
    fprintf(f, "</span></p></header>\n<section id=\"summary\"><h2>Executive summary</h2><p>");
    esc(f, jstr(rep, "summary"));
    fprintf(f, "</p></section>\n<section id=\"details\"><h2>Incident details</h2><table>\n");
    row2(f, "Runbook", jstr(rep, "runbook"));
    row2(f, "Version", jstr(rep, "sha256"));
    row2(f, "Trigger", jstr(rep, "trigger"));
    fprintf(f, "<tr><th>Started</th><td id=\"started\"><time datetime=\"%s\">%s</time></td></tr>\n",
            rv_fmt_time(jint(rep, "started_at"), b2, sizeof b2), b2);
    if (json_is_integer(json_object_get(rep, "ended_at")))
        fprintf(f, "<tr><th>Ended</th><td id=\"ended\"><time datetime=\"%s\">%s</time></td></tr>\n",
                rv_fmt_time(jint(rep, "ended_at"), b2, sizeof b2), b2);
    row2(f, "Duration", dur(jint(rep, "duration_ms"), b1, sizeof b1));
    if (json_is_object(sev)) {
        snprintf(b2, sizeof b2, "%s%s", jstr(sev, "level") ? jstr(sev, "level") : "?",
                 json_is_integer(json_object_get(sev, "rule")) ? "" : " (a rule could not be evaluated)");
        fprintf(f, "<tr><th>Severity</th><td id=\"severity\">");
        esc(f, b2);
        if (json_is_integer(json_object_get(sev, "rule")))
            fprintf(f, " — severity rule %lld matched", (long long)jint(sev, "rule") + 1);
        fprintf(f, "</td></tr>\n");
        if (jint(tg, "respond_ms")) {
            fprintf(f, "<tr><th>Respond</th><td>first action after %s, target %s: <span class=\"%s\">%s</span></td></tr>\n",
                    dur(jint(tg, "responded_ms"), b1, sizeof b1), dur(jint(tg, "respond_ms"), b2, sizeof b2),
                    json_is_true(json_object_get(tg, "respond_met")) ? "ok" : "bad",
                    json_is_true(json_object_get(tg, "respond_met")) ? "met" : "missed");
        }
        if (jint(tg, "resolve_ms")) {
            fprintf(f, "<tr><th>Resolve</th><td>%s, target %s: <span class=\"%s\">%s</span></td></tr>\n",
                    dur(jint(rep, "duration_ms"), b1, sizeof b1), dur(jint(tg, "resolve_ms"), b2, sizeof b2),
                    json_is_true(json_object_get(tg, "resolve_met")) ? "ok" : "bad",
                    json_is_true(json_object_get(tg, "resolve_met")) ? "met" : "missed");
        }
    }
    if (json_object_get(rep, "alert")) {
        char *a = json_dumps(json_object_get(json_object_get(rep, "alert"), "labels"), JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(f, "<tr><th>Alert labels</th><td id=\"alert\"><code>");
        esc(f, a);
        fprintf(f, "</code></td></tr>\n");
        free(a);
    }
    char *params = json_dumps(json_object_get(rep, "params"), JSON_COMPACT | JSON_SORT_KEYS);
    fprintf(f, "<tr><th>Parameters</th><td><code>");
    esc(f, params);
    fprintf(f, "</code></td></tr>\n");
    free(params);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(rep, "missing"), i, e) {
        fprintf(f, "<tr class=\"missing\"><th>Not recorded</th><td>");
        esc(f, jstr(e, "what"));
        fprintf(f, ": ");
        esc(f, jstr(e, "detail"));
        fprintf(f, "</td></tr>\n");
    }
    const json_t *chain = json_object_get(rep, "chain");
    fprintf(f, "<tr><th>Journal</th><td id=\"chain\" class=\"%s\">hash chain %s</td></tr>\n</table></section>\n",
            json_is_true(json_object_get(chain, "ok")) ? "ok" : "bad",
            json_is_true(json_object_get(chain, "ok")) ? "verified for this run" : "BROKEN for this run (runbook audit verify)");
    fprintf(f, "<section id=\"timeline\"><h2>Timeline</h2>\n");
    svg_timeline(rep, f);
    fprintf(f, "<table><thead><tr><th>Time</th><th>Phase</th><th>What</th></tr></thead><tbody>\n");
    json_array_foreach(json_object_get(rep, "timeline"), i, e) {
        fprintf(f, "<tr class=\"%s\"><td>+%s</td><td>", rv_html_cls(jstr(e, "status")), dur(jint(e, "t_ms"), b1, sizeof b1));
        esc(f, jstr(e, "phase"));
        fprintf(f, "</td><td>");
        esc(f, jstr(e, "what"));
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</tbody></table></section>\n<section id=\"steps\"><h2>Response actions</h2>\n");
    json_array_foreach(json_object_get(rep, "steps"), i, e) {
        fprintf(f, "<article class=\"step\" data-step=\"");
        esc(f, jstr(e, "name"));
        fprintf(f, "\"><h3>");
        esc(f, jstr(e, "name"));
        fprintf(f, " <span class=\"badge %s\">", work_cls(e));
        esc(f, jstr(e, "status"));
        if (jstr(e, "assumed")) { /* a drill's simulated step: how --assume took it */
            fprintf(f, " (assumed ");
            esc(f, jstr(e, "assumed"));
            fprintf(f, ")");
        }
        fprintf(f, "</span></h3><p class=\"meta\">+%s · %lld attempt%s · %s</p>\n", dur(jint(e, "t_ms"), b1, sizeof b1),
                (long long)jint(e, "attempts"), jint(e, "attempts") == 1 ? "" : "s", dur(jint(e, "duration_ms"), b2, sizeof b2));
        html_work(f, e);
        size_t k;
        const json_t *it;
        json_array_foreach(json_object_get(e, "items"), k, it) { /* a foreach step: item by item */
            fprintf(f, "<section class=\"item\" data-item=\"%lld\"><h4>item %lld (", (long long)jint(it, "index"),
                    (long long)jint(it, "index"));
            html_value(f, json_object_get(it, "item"));
            fprintf(f, ") <span class=\"badge %s\">", work_cls(it));
            esc(f, jstr(it, "status"));
            if (jstr(it, "assumed")) {
                fprintf(f, " (assumed ");
                esc(f, jstr(it, "assumed"));
                fprintf(f, ")");
            }
            fprintf(f, "</span></h4><p class=\"meta\">%lld attempt%s · %s</p>\n", (long long)jint(it, "attempts"),
                    jint(it, "attempts") == 1 ? "" : "s", dur(jint(it, "duration_ms"), b2, sizeof b2));
            html_work(f, it);
            fprintf(f, "</section>\n");
        }
        fprintf(f, "</article>\n");
    }
    fprintf(f, "</section>\n<section id=\"approvals\"><h2>Approvals</h2>\n");
    if (!json_array_size(json_object_get(rep, "approvals")))
        fprintf(f, "<p>None asked.</p>\n");
    else
        fprintf(f, "<table><tr><th>Step</th><th>Answer</th><th>By</th><th>Asked</th><th>Answered</th><th>Why</th></tr>\n");
    json_array_foreach(json_object_get(rep, "approvals"), i, e) {
        fprintf(f, "<tr><td>");
        esc(f, jstr(e, "step"));
        fprintf(f, "</td><td class=\"%s\">", rv_html_cls(jstr(e, "answer")));
        esc(f, jstr(e, "answer"));
        fprintf(f, "</td><td class=\"by\">");
        esc(f, jstr(e, "by") ? jstr(e, "by") : json_is_integer(json_object_get(e, "at_ms")) ? "nobody answered" : "");
        fprintf(f, "</td><td>+%s</td><td>", dur(jint(e, "requested_ms"), b1, sizeof b1));
        if (json_is_integer(json_object_get(e, "at_ms")))
            fprintf(f, "+%s", dur(jint(e, "at_ms"), b2, sizeof b2));
        else
            fprintf(f, "no answer recorded");
        fprintf(f, "</td><td class=\"comment\">");
        esc(f, jstr(e, "comment") ? jstr(e, "comment") : jstr(e, "reason"));
        fprintf(f, "</td></tr>\n");
    }
    if (json_array_size(json_object_get(rep, "approvals")))
        fprintf(f, "</table>\n");
    fprintf(f, "</section>\n<section id=\"notifications\"><h2>Notifications and escalations</h2><ul>\n");
    json_array_foreach(json_object_get(rep, "notifications"), i, e) {
        fprintf(f, "<li>on ");
        esc(f, jstr(e, "event"));
        fprintf(f, ": <span class=\"%s\">", rv_html_cls(jstr(e, "status")));
        esc(f, jstr(e, "status"));
        fprintf(f, "</span>");
        if (jstr(e, "detail")) {
            fprintf(f, " (");
            esc(f, jstr(e, "detail"));
            fprintf(f, ")");
        }
        fprintf(f, " at +%s</li>\n", dur(jint(e, "t_ms"), b1, sizeof b1));
    }
    json_array_foreach(json_object_get(rep, "escalations"), i, e)
        fprintf(f, "<li>escalation level %lld %s at +%s</li>\n", (long long)jint(e, "level"),
                json_is_true(json_object_get(e, "held")) ? "held (its unless held)" : "sent", dur(jint(e, "t_ms"), b1, sizeof b1));
    fprintf(f, "</ul></section>\n<section id=\"skipped\"><h2>Skipped</h2><ul>\n");
    json_array_foreach(json_object_get(rep, "skipped"), i, e) {
        fprintf(f, "<li>");
        esc(f, jstr(e, "step"));
        fprintf(f, ": ");
        esc(f, jstr(e, "reason"));
        fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul></section>\n");
    if (json_array_size(json_object_get(rep, "subruns"))) {
        fprintf(f, "<section id=\"subruns\"><h2>Sub-runbooks</h2><ul>\n");
        json_array_foreach(json_object_get(rep, "subruns"), i, e) {
            fprintf(f, "<li>run %lld: ", (long long)jint(e, "id"));
            esc(f, jstr(e, "runbook"));
            fprintf(f, " (step ");
            esc(f, jstr(e, "parent_step"));
            fprintf(f, "): <span class=\"%s\">", rv_html_cls(jstr(e, "status")));
            esc(f, jstr(e, "status"));
            fprintf(f, "</span></li>\n");
        }
        fprintf(f, "</ul></section>\n");
    }
    static const char *const fill[][2] = {{"root-cause", "Root cause analysis"}, {"went-well", "What went well"},
                                          {"went-badly", "What went badly"},     {"lessons", "Lessons learned"},
                                          {"action-items", "Action items"},      {"prevention", "Prevention measures"}};
    for (size_t k = 0; k < sizeof fill / sizeof fill[0]; k++)
        fprintf(f, "<section id=\"%s\"><h2>%s</h2><div class=\"fill\" contenteditable=\"true\">(to fill in)</div></section>\n",
                fill[k][0], fill[k][1]);
    fprintf(f, "<footer class=\"meta\"><p>Written by runbook %s from the journal.</p></footer>\n</body></html>\n", RB_VERSION);
}
