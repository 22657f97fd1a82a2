/*
 * report_md.c — the post-incident review (rb_review_report's data) as
 * Markdown, following the seeds' template (executive summary, incident
 * details, timeline, response actions, root cause, lessons, action items,
 * prevention), and as text for the terminal.
 *
 * Owns nothing. Text from the journal is written so that it cannot break
 * out of its place: in Markdown, table cells have | and newlines escaped
 * and code spans are fenced; on the terminal control characters become ?.
 */
#include "review_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static json_int_t jint(const json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

static const char *dur(json_int_t ms, char *buf, size_t len)
{
    return rb_duration_format((uint64_t)(ms > 0 ? ms : 0), buf, len);
}

/* A table cell: | and newlines escaped, control characters dropped. */
static void md_cell(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputs("<br>", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if ((unsigned char)*s >= 0x20 && *s != 0x7f)
            fputc(*s, f);
    }
}

static void md_time(FILE *f, json_int_t ms)
{
    char b[32];
    fprintf(f, "+%s", dur(ms, b, sizeof b));
}

void rb_review_report_md(const json_t *rep, FILE *f)
{
    char b1[32], b2[32];
    const json_t *sev = json_object_get(rep, "severity"), *tg = json_object_get(rep, "targets");
    fprintf(f, "# Post-Incident Report: run %lld, ", (long long)jint(rep, "run"));
    md_cell(f, jstr(rep, "title") ? jstr(rep, "title") : jstr(rep, "runbook"));
    fputs("\n\n## Executive Summary\n\n", f);
    md_cell(f, jstr(rep, "summary"));
    fputs("\n\n## Incident Details\n\n| | |\n|---|---|\n| Runbook | ", f);
    md_cell(f, jstr(rep, "runbook"));
    fprintf(f, " (version `%.12s`) |\n| Trigger | ", jstr(rep, "sha256") ? jstr(rep, "sha256") : "");
    md_cell(f, jstr(rep, "trigger"));
    fputs(" |\n| Status | ", f);
    md_cell(f, jstr(rep, "status"));
    fprintf(f, " |\n| Started | %lld (ms since the epoch) |\n| Duration | %s |\n", (long long)jint(rep, "started_at"),
            dur(jint(rep, "duration_ms"), b1, sizeof b1));
    if (json_is_object(sev)) {
        fputs("| Severity | ", f);
        md_cell(f, jstr(sev, "level"));
        if (json_is_integer(json_object_get(sev, "rule")))
            fprintf(f, " (severity rule %lld matched)", (long long)jint(sev, "rule") + 1);
        else if (json_object_get(sev, "errors"))
            fputs(" (a rule could not be evaluated: the most severe level named)", f);
        fputs(" |\n", f);
        if (jint(tg, "respond_ms"))
            fprintf(f, "| Respond | first action after %s, target %s: %s |\n", dur(jint(tg, "responded_ms"), b1, sizeof b1),
                    dur(jint(tg, "respond_ms"), b2, sizeof b2),
                    json_is_true(json_object_get(tg, "respond_met")) ? "met" : "**missed**");
        if (jint(tg, "resolve_ms"))
            fprintf(f, "| Resolve | %s, target %s: %s |\n", dur(jint(rep, "duration_ms"), b1, sizeof b1),
                    dur(jint(tg, "resolve_ms"), b2, sizeof b2),
                    json_is_true(json_object_get(tg, "resolve_met")) ? "met" : "**missed**");
    }
    const json_t *chain = json_object_get(rep, "chain");
    fprintf(f, "| Journal | hash chain %s |\n| Impact | _(to fill in)_ |\n",
            json_is_true(json_object_get(chain, "ok")) ? "verified for this run" : "**BROKEN for this run** (runbook audit verify)");
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
    json_array_foreach(json_object_get(rep, "steps"), i, e) {
        fputs("### ", f);
        md_cell(f, jstr(e, "name"));
        fputs(": ", f);
        md_cell(f, jstr(e, "status"));
        fprintf(f, " (%lld attempt%s, %s)\n\n", (long long)jint(e, "attempts"), jint(e, "attempts") == 1 ? "" : "s",
                dur(jint(e, "duration_ms"), b1, sizeof b1));
        if (jstr(e, "command") && *jstr(e, "command")) {
            fputs("````\n", f);
            md_cell(f, jstr(e, "command"));
            fputs("\n````\n\n", f);
        }
        if (jstr(e, "error")) {
            fputs("Error: ", f);
            md_cell(f, jstr(e, "error"));
            fputs("\n\n", f);
        }
        const char *outs[] = {"output", "stderr"};
        for (int k = 0; k < 2; k++)
            if (jstr(e, outs[k])) {
                fprintf(f, "%s:\n\n````\n", k ? "stderr" : "Output");
                const char *s = jstr(e, outs[k]);
                for (; *s; s++) /* a fence of four: the output cannot close it with ``` */
                    fputc((unsigned char)*s < 0x20 && *s != '\n' ? '?' : *s, f);
                fputs("\n````\n\n", f);
            }
    }
    fputs("## Approvals\n\n", f);
    if (!json_array_size(json_object_get(rep, "approvals")))
        fputs("None asked.\n", f);
    json_array_foreach(json_object_get(rep, "approvals"), i, e) {
        fputs("- step ", f);
        md_cell(f, jstr(e, "step"));
        fputs(": ", f);
        md_cell(f, jstr(e, "answer"));
        fputs(" by ", f);
        md_cell(f, jstr(e, "by"));
        fputs(" at ", f);
        md_time(f, jint(e, "at_ms"));
        fputs(" (asked at ", f);
        md_time(f, jint(e, "requested_ms"));
        fputs(")\n", f);
    }
    fputs("\n## Notifications and Escalations\n\n", f);
    json_array_foreach(json_object_get(rep, "notifications"), i, e) {
        fputs("- notification on ", f);
        md_cell(f, jstr(e, "event"));
        fputs(": ", f);
        md_cell(f, jstr(e, "status"));
        if (jstr(e, "detail")) {
            fputs(" (", f);
            md_cell(f, jstr(e, "detail"));
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
        md_cell(f, jstr(e, "step"));
        fputs(": ", f);
        md_cell(f, jstr(e, "reason"));
        fputc('\n', f);
    }
    fputs("\n## Root Cause Analysis\n\n_(what went wrong and why)_\n\n## What Went Well\n\n_(to fill in)_\n\n"
          "## What Went Badly\n\n_(to fill in)_\n\n## Lessons Learned\n\n_(to fill in)_\n\n"
          "## Action Items\n\n- [ ] Immediate fix\n- [ ] Long-term improvement\n\n"
          "## Prevention Measures\n\n_(how to prevent a recurrence)_\n",
          f);
}

/* Text for a terminal: control characters as ?. */
static void tput(FILE *f, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && *s && n < max; s++, n++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

void rb_review_report_text(const json_t *rep, FILE *f, int color)
{
    const char *bold = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
    char b1[32];
    fprintf(f, "%spost-incident review: run %lld%s — ", bold, (long long)jint(rep, "run"), off);
    tput(f, jstr(rep, "title") ? jstr(rep, "title") : jstr(rep, "runbook"), 120);
    fputs("\n\n", f);
    tput(f, jstr(rep, "summary"), 1000);
    fputs("\n\ntimeline\n", f);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(rep, "timeline"), i, e) {
        fprintf(f, "  %10s  %-10s  ", dur(jint(e, "t_ms"), b1, sizeof b1), jstr(e, "phase"));
        tput(f, jstr(e, "what"), 200);
        fputc('\n', f);
    }
    fputs("\ncommands\n", f);
    json_array_foreach(json_object_get(rep, "steps"), i, e) {
        fputs("  ", f);
        tput(f, jstr(e, "name"), 60);
        fputs(": ", f);
        tput(f, jstr(e, "status"), 20);
        if (jstr(e, "command") && *jstr(e, "command")) {
            fputs("  ", f);
            tput(f, jstr(e, "command"), 160);
        }
        fputc('\n', f);
    }
    json_array_foreach(json_object_get(rep, "approvals"), i, e) {
        if (i == 0)
            fputs("\napprovals\n", f);
        fputs("  ", f);
        tput(f, jstr(e, "step"), 60);
        fputs(": ", f);
        tput(f, jstr(e, "answer"), 20);
        fputs(" by ", f);
        tput(f, jstr(e, "by"), 80);
        fputc('\n', f);
    }
    json_array_foreach(json_object_get(rep, "notifications"), i, e) {
        if (i == 0)
            fputs("\nnotifications\n", f);
        fputs("  on ", f);
        tput(f, jstr(e, "event"), 60);
        fputs(": ", f);
        tput(f, jstr(e, "status"), 20);
        if (jstr(e, "detail")) {
            fputs(" (", f);
            tput(f, jstr(e, "detail"), 300);
            fputc(')', f);
        }
        fputc('\n', f);
    }
    const json_t *chain = json_object_get(rep, "chain");
    fprintf(f, "\njournal: hash chain %s\n", json_is_true(json_object_get(chain, "ok")) ? "verified" : "BROKEN");
    fputs("(--format md|html for the full review, with sections to fill in)\n", f);
}
