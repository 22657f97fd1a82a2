/*
 * replay_print.c — a replay's result for people (rb_review_replay_print):
 * the verdict, the first divergence as recorded vs replayed, the values the
 * journal lacked; for a what-if, both decision paths side by side, step by
 * step, with what changed marked.
 *
 * Owns nothing. Everything printed that came from the journal or a runbook
 * goes through clean(): no control character reaches the terminal.
 */
#include "review_int.h"

#include <stdio.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* s with control characters as '?', cut to max bytes (… when cut). */
static void clean(FILE *f, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && *s && n < max; s++, n++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
    if (s && *s)
        fputs("…", f);
}

static void cpad(FILE *f, const char *s, size_t width)
{
    size_t n = s ? strlen(s) : 0;
    clean(f, s ? s : "-", width);
    for (size_t i = n < width ? (s ? n : 1) : width + 1; i < width; i++)
        fputc(' ', f);
}

static void decision_line(FILE *f, const char *label, const json_t *d)
{
    char buf[600];
    fprintf(f, "  %s ", label);
    if (!json_is_object(d)) {
        fputs("(nothing: the path ends here)\n", f);
        return;
    }
    rv_decision_text(d, buf, sizeof buf);
    const char *type = jstr(d, "type"), *step = jstr(d, "step");
    if (!strcmp(type, "step_finished") || !strcmp(type, "step_skipped")) {
        fputs("step ", f);
        clean(f, step, 80);
        fputs(": ", f);
    } else if (!strcmp(type, "confirm") || !strcmp(type, "severity_assigned") || !strcmp(type, "run_finished")) {
        fprintf(f, "%s: ", !strcmp(type, "confirm") ? "confirm" : !strcmp(type, "run_finished") ? "final status" : "severity");
    }
    clean(f, buf, 300);
    fputc('\n', f);
}

void rb_review_replay_print(const json_t *res, FILE *f, int color)
{
    const char *on_ok = color ? "\033[32m" : "", *on_bad = color ? "\033[31m" : "", *off = color ? "\033[0m" : "";
    int whatif = !strcmp(jstr(res, "mode"), "what-if");
    int identical = json_is_true(json_object_get(res, "identical"));
    const json_t *runs = json_object_get(res, "runs");
    fprintf(f, "%s of run %lld (", whatif ? "what-if" : "replay", (long long)json_integer_value(json_object_get(res, "run")));
    clean(f, jstr(res, "runbook"), 80);
    fprintf(f, "): ");
    if (identical)
        fprintf(f, "%s%s%s", on_ok, whatif ? "the same decisions" : "identical", off);
    else
        fprintf(f, "%s%s%s", on_bad, whatif ? "the decisions differ" : "DIVERGES", off);
    size_t nrec = json_array_size(json_object_get(res, "recorded"));
    fprintf(f, " — %zu decision%s", nrec, nrec == 1 ? "" : "s");
    if (json_array_size(runs) > 1)
        fprintf(f, ", %zu sub-run%s replayed with it", json_array_size(runs) - 1, json_array_size(runs) == 2 ? "" : "s");
    fprintf(f, "; status recorded %s, replayed %s\n", jstr(json_object_get(res, "status"), "recorded"),
            jstr(json_object_get(res, "status"), "replayed"));
    const json_t *div = json_object_get(res, "divergence");
    if (json_is_object(div)) {
        fprintf(f, "first divergence: run %lld, ", (long long)json_integer_value(json_object_get(div, "run")));
        clean(f, jstr(div, "lane"), 80);
        fprintf(f, " decision %lld\n", (long long)json_integer_value(json_object_get(div, "index")) + 1);
        decision_line(f, "recorded:", json_object_get(div, "recorded"));
        decision_line(f, "replayed:", json_object_get(div, "replayed"));
    }
    if (whatif) {
        const json_t *steps = json_object_get(res, "steps");
        fprintf(f, "\n  %-24s %-40s %s\n", "STEP", "RECORDED", "WHAT-IF");
        size_t i;
        json_t *s;
        json_array_foreach(steps, i, s) {
            const char *ch = jstr(s, "change");
            const char *mark = !strcmp(ch, "same") ? " " : !strcmp(ch, "added") ? "+" : !strcmp(ch, "removed") ? "-" : "~";
            fprintf(f, "%s%s ", strcmp(mark, " ") ? on_bad : "", mark);
            cpad(f, jstr(s, "step"), 24);
            fputc(' ', f);
            cpad(f, jstr(s, "recorded"), 40);
            fputc(' ', f);
            clean(f, jstr(s, "replayed") ? jstr(s, "replayed") : "-", 60);
            fprintf(f, "%s\n", strcmp(mark, " ") ? off : "");
        }
    }
    const json_t *missing = json_object_get(res, "missing");
    size_t i;
    json_t *m;
    json_array_foreach(missing, i, m) {
        if (i == 0)
            fputc('\n', f);
        if (i >= 20) {
            fprintf(f, "  … %zu more (--format json lists them all)\n", json_array_size(missing) - 20);
            break;
        }
        fprintf(f, "  note: run %lld: ", (long long)json_integer_value(json_object_get(m, "run")));
        clean(f, jstr(m, "what"), 60);
        fputs(": ", f);
        clean(f, jstr(m, "detail"), 200);
        fputc('\n', f);
    }
}
