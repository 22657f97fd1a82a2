/*
 * report_md.c — the post-incident review (rb_review_report's data) as
 * Markdown, following the seeds' template (executive summary, incident
 * details, timeline, response actions, root cause, lessons, action items,
 * prevention), for the team's repository, where people fill it in.
 *
 * Owns nothing. Text from the journal is written so that it shows as it
 * was, whatever the renderer, and cannot break out of its place: in text
 * and table cells, every character Markdown gives a meaning (\ ` * _ [ ]
 * < > # | ~ &) is escaped with a backslash, a newline is a <br> in a cell;
 * commands and outputs go in a code fence longer than any run of
 * backticks they hold, untouched but for control characters (shown as ?,
 * as everywhere in the report). Times and durations: report_fmt.c.
 */
#include "review_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static json_int_t jint(const json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

/* s[0..len) as Markdown text: shown as it is. nl: what a newline becomes
 * ("<br>" in a table cell, " " in a heading or a list item). */
static void md_textn(FILE *f, const char *s, size_t len, const char *nl)
{
    for (size_t i = 0; s && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (strchr("\\`*_[]<>#|~&", c) && c)
            fputc('\\', f), fputc(c, f);
        else if (c == '\n')
            fputs(nl, f);
        else if (c == '\t')
            fputc(' ', f);
        else if (c < 0x20 || c == 0x7f)
            fputc('?', f);
        else
            fputc(c, f);
    }
}

static void md_text(FILE *f, const char *s, const char *nl) { md_textn(f, s, s ? strlen(s) : 0, nl); }

/* A table cell. */
static void md_cell(FILE *f, const char *s) { md_text(f, s, "<br>"); }

/* s[0..len) in a fenced code block, as it is (control characters as ?):
 * the fence is longer than the longest run of backticks in s, so nothing
 * in s can close it. */
static void md_coden(FILE *f, const char *s, size_t len)
{
    size_t run = 0, longest = 0;
    for (size_t i = 0; i < len; i++) {
        run = s[i] == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    size_t fence = longest < 3 ? 3 : longest + 1;
    for (size_t k = 0; k < fence; k++)
        fputc('`', f);
    fputc('\n', f);
    rv_put_visible(f, s, len);
    if (!len || s[len - 1] != '\n')
        fputc('\n', f);
    for (size_t k = 0; k < fence; k++)
        fputc('`', f);
    fputs("\n\n", f);
}

static void md_code(FILE *f, const json_t *o, const char *k)
{
    const char *s;
    size_t n = rv_jstrn(o, k, &s);
    if (s && n)
        md_coden(f, s, n);
}

static void md_time(FILE *f, json_int_t ms)
{
    char b[40];
    fputs(rv_fmt_offset(ms, b, sizeof b), f);
}

/* An object's members as "key=value" pairs in a cell (labels, params). */
static void md_pairs(FILE *f, const json_t *o)
{
    const char *k;
    const json_t *v;
    int first = 1;
    if (!json_object_size(o))
        fputs("_(none)_", f);
    json_object_foreach((json_t *)o, k, v) {
        fputs(first ? "" : "<br>", f);
        first = 0;
        md_cell(f, k);
        fputs("=", f);
        if (json_is_string(v))
            md_textn(f, json_string_value(v), json_string_length(v), "<br>");
        else {
            char *js = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
            md_cell(f, js);
            free(js);
        }
    }
}

/* What one step or foreach item did: its command, error and output. */
static void md_work(FILE *f, const json_t *e)
{
    md_code(f, e, "command");
    if (jstr(e, "error")) {
        fputs("Error: ", f);
        md_text(f, jstr(e, "error"), " ");
        fputs("\n\n", f);
    }
    if (jstr(e, "output")) {
        fputs("Output:\n\n", f);
        md_code(f, e, "output");
    }
    if (jstr(e, "stderr")) {
        fputs("stderr:\n\n", f);
        md_code(f, e, "stderr");
    }
}

/* "ok (2 attempts, 1.2s)", "simulated (assumed failed, 1 attempt, 0ms)". */
static void md_outcome(FILE *f, const json_t *e)
{
    char b[32];
    md_text(f, jstr(e, "status"), " ");
    fputs(" (", f);
    if (jstr(e, "assumed")) {
        fputs("assumed ", f);
        md_text(f, jstr(e, "assumed"), " ");
        fputs(", ", f);
    }
    fprintf(f, "%lld attempt%s, %s)", (long long)jint(e, "attempts"), jint(e, "attempts") == 1 ? "" : "s",
            rv_fmt_dur(jint(e, "duration_ms"), b, sizeof b));
}

static void md_details(const json_t *rep, FILE *f)
{
    char b1[40], b2[40];
    const json_t *sev = json_object_get(rep, "severity"), *tg = json_object_get(rep, "targets");
    fputs("| | |\n|---|---|\n| Runbook | ", f);
    md_cell(f, jstr(rep, "runbook"));
    fputs(" (version `", f);
    md_cell(f, jstr(rep, "sha256") ? jstr(rep, "sha256") : "");
    fputs("`) |\n| Trigger | ", f);
    md_cell(f, jstr(rep, "trigger"));
    fputs(" |\n| Status | ", f);
    md_cell(f, jstr(rep, "status"));
    fprintf(f, " |\n| Started | %s |\n", rv_fmt_time(jint(rep, "started_at"), b1, sizeof b1));
    if (json_is_integer(json_object_get(rep, "ended_at")))
        fprintf(f, "| Ended | %s |\n", rv_fmt_time(jint(rep, "ended_at"), b1, sizeof b1));
    fprintf(f, "| Duration | %s |\n", rv_fmt_dur(jint(rep, "duration_ms"), b1, sizeof b1));
    if (json_is_object(sev)) {
        fputs("| Severity | ", f);
        md_cell(f, jstr(sev, "level"));
        if (json_is_integer(json_object_get(sev, "rule")))
            fprintf(f, " (severity rule %lld matched)", (long long)jint(sev, "rule") + 1);
        else if (json_object_get(sev, "errors"))
            fputs(" (a rule could not be evaluated: the most severe level named)", f);
        fputs(" |\n", f);
        if (jint(tg, "respond_ms"))
            fprintf(f, "| Respond | first action after %s, target %s: %s |\n",
                    rv_fmt_dur(jint(tg, "responded_ms"), b1, sizeof b1), rv_fmt_dur(jint(tg, "respond_ms"), b2, sizeof b2),
                    json_is_true(json_object_get(tg, "respond_met")) ? "met" : "**missed**");
        if (jint(tg, "resolve_ms"))
            fprintf(f, "| Resolve | %s, target %s: %s |\n", rv_fmt_dur(jint(rep, "duration_ms"), b1, sizeof b1),
                    rv_fmt_dur(jint(tg, "resolve_ms"), b2, sizeof b2),
                    json_is_true(json_object_get(tg, "resolve_met")) ? "met" : "**missed**");
    }
    const json_t *alert = json_object_get(rep, "alert");
    if (json_is_object(alert)) {
        fputs("| Alert labels | ", f);
        md_pairs(f, json_object_get(alert, "labels"));
        fputs(" |\n", f);
        if (json_object_size(json_object_get(alert, "annotations"))) {
            fputs("| Alert annotations | ", f);
            md_pairs(f, json_object_get(alert, "annotations"));
            fputs(" |\n", f);
        }
    }
    fputs("| Parameters | ", f);
    md_pairs(f, json_object_get(rep, "params"));
    fputs(" |\n", f);
    size_t i;
    const json_t *m;
    json_array_foreach(json_object_get(rep, "missing"), i, m) {
        fputs("| Not recorded | ", f);
        md_cell(f, jstr(m, "what"));
        fputs(": ", f);
        md_cell(f, jstr(m, "detail"));
        fputs(" |\n", f);
    }
    const json_t *chain = json_object_get(rep, "chain");
    fprintf(f, "| Journal | hash chain %s |\n| Impact | _(to fill in)_ |\n",
            json_is_true(json_object_get(chain, "ok")) ? "verified for this run" : "**BROKEN for this run** (runbook audit verify)");
}

static void md_steps(const json_t *rep, FILE *f)
{
    size_t i, k;
    const json_t *e, *it;
    json_array_foreach(json_object_get(rep, "steps"), i, e) {
        fputs("### ", f);
        md_text(f, jstr(e, "name"), " ");
        fputs(": ", f);
        md_outcome(f, e);
        fputs("\n\n", f);
        if (!json_is_array(json_object_get(e, "items"))) {
            md_work(f, e);
            continue;
        }
        if (jstr(e, "error")) {
            fputs("Error: ", f);
            md_text(f, jstr(e, "error"), " ");
            fputs("\n\n", f);
        }
        json_array_foreach(json_object_get(e, "items"), k, it) { /* a foreach step: item by item */
            fprintf(f, "#### item %lld (", (long long)jint(it, "index"));
            if (json_is_string(json_object_get(it, "item")))
                md_text(f, jstr(it, "item"), " ");
            else {
                char *js = json_dumps(json_object_get(it, "item"), JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
                md_text(f, js, " ");
                free(js);
            }
            fputs("): ", f);
            md_outcome(f, it);
            fputs("\n\n", f);
            md_work(f, it);
        }
    }
}

static void md_approvals(const json_t *rep, FILE *f)
{
    size_t i;
    const json_t *e;
    fputs("## Approvals\n\n", f);
    if (!json_array_size(json_object_get(rep, "approvals")))
        fputs("None asked.\n", f);
    json_array_foreach(json_object_get(rep, "approvals"), i, e) {
        fputs("- step ", f);
        md_text(f, jstr(e, "step"), " ");
        fputs(": ", f);
        md_text(f, jstr(e, "answer"), " ");
        if (jstr(e, "by")) {
            fputs(" by ", f);
            md_text(f, jstr(e, "by"), " ");
        } else if (json_is_integer(json_object_get(e, "at_ms")))
            fputs(", nobody answered,", f);
        if (json_is_integer(json_object_get(e, "at_ms"))) {
            fputs(" at ", f);
            md_time(f, jint(e, "at_ms"));
        } else
            fputs(": no answer recorded", f);
        fputs(" (asked at ", f);
        md_time(f, jint(e, "requested_ms"));
        fputs(")", f);
        if (jstr(e, "comment")) {
            fputs(": “", f);
            md_text(f, jstr(e, "comment"), " ");
            fputs("”", f);
        } else if (jstr(e, "reason")) {
            fputs(": ", f);
            md_text(f, jstr(e, "reason"), " ");
        }
        fputc('\n', f);
    }
}

void rb_review_report_md(const json_t *rep, FILE *f)
{
    fprintf(f, "# Post-Incident Report: run %lld, ", (long long)jint(rep, "run"));
    md_text(f, jstr(rep, "title") ? jstr(rep, "title") : jstr(rep, "runbook"), " ");
    fputs("\n\n## Executive Summary\n\n", f);
    md_text(f, jstr(rep, "summary"), " ");
    fputs("\n\n## Incident Details\n\n", f);
    md_details(rep, f);
    fputs("\n## Timeline\n\n| Time | Phase | What |\n|---|---|---|\n", f);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(rep, "timeline"), i, e) {
        fputs("| ", f);
        md_time(f, jint(e, "t_ms"));
        fputs(" | ", f);
        md_cell(f, jstr(e, "phase"));
        fputs(" | ", f);
        md_cell(f, jstr(e, "what"));
        fputs(" |\n", f);
    }
    fputs("\n## Response Actions\n\n", f);
    md_steps(rep, f);
    md_approvals(rep, f);
    fputs("\n## Notifications and Escalations\n\n", f);
    json_array_foreach(json_object_get(rep, "notifications"), i, e) {
        fputs("- notification on ", f);
        md_text(f, jstr(e, "event"), " ");
        fputs(": ", f);
        md_text(f, jstr(e, "status"), " ");
        if (jstr(e, "detail")) {
            fputs(" (", f);
            md_text(f, jstr(e, "detail"), " ");
            fputc(')', f);
        }
        fputs(" at ", f);
        md_time(f, jint(e, "t_ms"));
        fputc('\n', f);
    }
    json_array_foreach(json_object_get(rep, "escalations"), i, e) {
        fprintf(f, "- escalation level %lld %s at ", (long long)jint(e, "level"),
                json_is_true(json_object_get(e, "held")) ? "held (its unless held)" : "sent");
        md_time(f, jint(e, "t_ms"));
        fputc('\n', f);
    }
    if (!json_array_size(json_object_get(rep, "notifications")) && !json_array_size(json_object_get(rep, "escalations")))
        fputs("None.\n", f);
    fputs("\n## Skipped\n\n", f);
    if (!json_array_size(json_object_get(rep, "skipped")))
        fputs("Nothing was skipped.\n", f);
    json_array_foreach(json_object_get(rep, "skipped"), i, e) {
        fputs("- ", f);
        md_text(f, jstr(e, "step"), " ");
        fputs(": ", f);
        md_text(f, jstr(e, "reason"), " ");
        fputc('\n', f);
    }
    fputs("\n## Sub-runbooks\n\n", f);
    if (!json_array_size(json_object_get(rep, "subruns")))
        fputs("None.\n", f);
    json_array_foreach(json_object_get(rep, "subruns"), i, e) {
        fprintf(f, "- run %lld: ", (long long)jint(e, "id"));
        md_text(f, jstr(e, "runbook"), " ");
        fputs(" (step ", f);
        md_text(f, jstr(e, "parent_step"), " ");
        fputs("): ", f);
        md_text(f, jstr(e, "status"), " ");
        fprintf(f, " (`runbook report %lld`)\n", (long long)jint(e, "id"));
    }
    fputs("\n## Root Cause Analysis\n\n_(what went wrong and why)_\n\n## What Went Well\n\n_(to fill in)_\n\n"
          "## What Went Badly\n\n_(to fill in)_\n\n## Lessons Learned\n\n_(to fill in)_\n\n"
          "## Action Items\n\n- [ ] Immediate fix\n- [ ] Long-term improvement\n\n"
          "## Prevention Measures\n\n_(how to prevent a recurrence)_\n",
          f);
}
