/*
 * report_text.c — the post-incident review (rb_review_report's data) for
 * the terminal: the summary, when and how long, the alert that started the
 * run, the timeline by phase, every command (a foreach step item by item)
 * with its result, the approvals (who, when, why), the sub-runbooks and the
 * hash-chain status. The full review with sections to fill in is the
 * Markdown or HTML one.
 *
 * Owns nothing. Text from the journal never drives the terminal: control
 * characters (an escape, a NUL) are written as ?. Times and durations:
 * report_fmt.c, as in the other formats.
 */
#include "review_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static json_int_t jint(const json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

/* At most max bytes of s, control characters (newlines too) as ?. */
static void tput(FILE *f, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && *s && n < max; s++, n++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

/* A JSON value on one line: a string as it is, else compact JSON. */
static void tput_value(FILE *f, const json_t *v, size_t max)
{
    if (json_is_string(v)) {
        tput(f, json_string_value(v), max);
        return;
    }
    char *js = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    tput(f, js, max);
    free(js);
}

/* "  label  k=v, k=v" for an object's members (alert labels, parameters). */
static void tput_pairs(FILE *f, const char *label, const json_t *o)
{
    const char *k;
    const json_t *v;
    size_t n = 0;
    fprintf(f, "%-9s", label);
    if (!json_object_size(o))
        fputs(" (none)", f);
    json_object_foreach((json_t *)o, k, v) {
        fputs(n++ ? ", " : " ", f);
        tput(f, k, 60);
        fputc('=', f);
        tput_value(f, v, 160);
    }
    fputc('\n', f);
}

static void tput_result(FILE *f, const json_t *e)
{
    tput(f, jstr(e, "status"), 20);
    if (jstr(e, "assumed")) {
        fputs(" (assumed ", f);
        tput(f, jstr(e, "assumed"), 20);
        fputc(')', f);
    }
    if (jint(e, "attempts") > 1)
        fprintf(f, " (%lld attempts)", (long long)jint(e, "attempts"));
}

void rb_review_report_text(const json_t *rep, FILE *f, int color)
{
    const char *bold = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
    char b1[40], b2[40];
    fprintf(f, "%spost-incident review: run %lld%s — ", bold, (long long)jint(rep, "run"), off);
    tput(f, jstr(rep, "title") ? jstr(rep, "title") : jstr(rep, "runbook"), 120);
    fputs("\n\n", f);
    tput(f, jstr(rep, "summary"), 1000);
    int ended = json_is_integer(json_object_get(rep, "ended_at"));
    fprintf(f, "\n\n%-9s %s, %s%s%s\n", "started", rv_fmt_time(jint(rep, "started_at"), b1, sizeof b1),
            ended ? "lasted " : "no end recorded (its last event after ", rv_fmt_dur(jint(rep, "duration_ms"), b2, sizeof b2),
            ended ? "" : ")");
    const json_t *alert = json_object_get(rep, "alert");
    if (json_is_object(alert))
        tput_pairs(f, "alert", json_object_get(alert, "labels"));
    tput_pairs(f, "params", json_object_get(rep, "params"));
    fputs("\ntimeline\n", f);
    size_t i, k;
    json_t *e, *it;
    json_array_foreach(json_object_get(rep, "timeline"), i, e) {
        fprintf(f, "  %10s  %-10s  ", rv_fmt_dur(jint(e, "t_ms"), b1, sizeof b1), jstr(e, "phase"));
        tput(f, jstr(e, "what"), 200);
        fputc('\n', f);
    }
    fputs("\ncommands\n", f);
    json_array_foreach(json_object_get(rep, "steps"), i, e) {
        fputs("  ", f);
        tput(f, jstr(e, "name"), 60);
        fputs(": ", f);
        tput_result(f, e);
        if (jstr(e, "command") && *jstr(e, "command")) {
            fputs("  ", f);
            tput(f, jstr(e, "command"), 160);
        }
        fputc('\n', f);
        json_array_foreach(json_object_get(e, "items"), k, it) { /* a foreach step: item by item */
            fprintf(f, "    item %lld (", (long long)jint(it, "index"));
            tput_value(f, json_object_get(it, "item"), 40);
            fputs("): ", f);
            tput_result(f, it);
            fputs("  ", f);
            tput(f, jstr(it, "command"), 160);
            fputc('\n', f);
        }
    }
    json_array_foreach(json_object_get(rep, "approvals"), i, e) {
        if (i == 0)
            fputs("\napprovals\n", f);
        fputs("  ", f);
        tput(f, jstr(e, "step"), 60);
        fputs(": ", f);
        tput(f, jstr(e, "answer"), 20);
        if (jstr(e, "by")) {
            fputs(" by ", f);
            tput(f, jstr(e, "by"), 80);
        } else if (json_is_integer(json_object_get(e, "at_ms")))
            fputs(", nobody answered,", f);
        if (json_is_integer(json_object_get(e, "at_ms")))
            fprintf(f, " at %s", rv_fmt_offset(jint(e, "at_ms"), b1, sizeof b1));
        else
            fputs(": no answer recorded", f);
        fprintf(f, " (asked at %s)", rv_fmt_offset(jint(e, "requested_ms"), b1, sizeof b1));
        if (jstr(e, "comment")) {
            fputs(": \"", f);
            tput(f, jstr(e, "comment"), 300);
            fputc('"', f);
        } else if (jstr(e, "reason")) {
            fputs(": ", f);
            tput(f, jstr(e, "reason"), 300);
        }
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
    json_array_foreach(json_object_get(rep, "subruns"), i, e) {
        if (i == 0)
            fputs("\nsub-runbooks\n", f);
        fprintf(f, "  run %lld: ", (long long)jint(e, "id"));
        tput(f, jstr(e, "runbook"), 60);
        fputs(" (step ", f);
        tput(f, jstr(e, "parent_step"), 60);
        fputs("): ", f);
        tput(f, jstr(e, "status"), 20);
        fputc('\n', f);
    }
    const json_t *chain = json_object_get(rep, "chain");
    json_array_foreach(json_object_get(rep, "missing"), i, e) {
        fputs(i ? "  " : "\nnot in this journal\n  ", f);
        tput(f, jstr(e, "what"), 40);
        fputs(": ", f);
        tput(f, jstr(e, "detail"), 300);
        fputc('\n', f);
    }
    fprintf(f, "\njournal: hash chain %s\n", json_is_true(json_object_get(chain, "ok")) ? "verified" : "BROKEN");
    fputs("(--format md|html for the full review, with sections to fill in)\n", f);
}
