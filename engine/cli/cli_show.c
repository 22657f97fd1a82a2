/*
 * cli_show.c — `runbook show RUN` (DESIGN §6): one run as a readable
 * timeline, or as recorded (--format json).
 *
 * Owns: the text rendering of journal events for people (the words, the
 * colors, how much of a step's output to show). Reads the journal only
 * through engine/journal/journal.h, opened read-only.
 *
 * Must never: write to the journal, create a journal file, or print text
 * from the journal unsanitised — step output and alert labels come from
 * outside, and a stray escape sequence must not drive the operator's
 * terminal.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli.h"
#include "cli_out.h"
#include "journal/journal.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage_show(FILE *f)
{
    fprintf(f,
"usage: runbook show RUN [--db FILE | --server URL] [--format text|json]\n"
            "\n"
            "Shows one run: its runbook version, trigger and parameters, then every\n"
            "event as a timeline from the run's start, with the first lines of each\n"
            "step's output.\n"
            "\n"
            "Options:\n"
            "      --db FILE        the journal, a file or a postgresql:// URL ($RUNBOOK_DB, else ./runbook.db; here: %s)\n"
            "      --server URL     ask a running `runbook serve` at URL ($RUNBOOK_SERVER),\n"
            "                       with the token in $RUNBOOK_TOKEN\n"
            "      --token-file F   the token is the first line of F (not $RUNBOOK_TOKEN)\n"
            "      --format FORMAT  text (the timeline, default) or json (the run and all\n"
            "                       its events, as recorded)\n"
            "  -h, --help           this help\n"
            "\n"
            "After the run, its part of the journal's hash chain is checked (as `runbook\n"
            "report` does): a record changed after it was written is said on stderr.\n"
            "\n"
            "Exit status: 0 shown; 1 shown, but the run's records do not verify; 2 bad\n"
            "usage, no such run, the journal cannot be read, or the server refused the\n"
            "token (401, 403); 6 the server cannot be reached.\n",
            rb_cli_default_db());
}

/* ---- runbook show ---------------------------------------------------------- */

static void put_outcome(out_t *o, const char *word, const json_t *result, int64_t attempts,
                        int64_t duration_ms)
{
    int c = rb__cli_status_color(word);
    rb__cli_color_on(o, c);
    rb__cli_put_str(o, word);
    rb__cli_color_off(o, c);
    const char *sep = " (";
    const char *assumed = rb__cli_jstr(result, "assumed");
    if (assumed) { /* a drill's simulated step: how --assume took it */
        fputs(" (assumed ", o->f);
        rb__cli_put_str(o, assumed);
        sep = ", ";
    }
    if (rb__cli_jint(result, "exit_code") >= 0) {
        fprintf(o->f, "%sexit %" PRId64, sep, rb__cli_jint(result, "exit_code"));
        sep = ", ";
    }
    json_t *sig = json_object_get(result, "signal");
    if ((json_is_integer(sig) && json_integer_value(sig) > 0) ||
        (json_is_string(sig) && *json_string_value(sig))) {
        fputs(sep, o->f);
        fputs("signal ", o->f);
        if (json_is_string(sig))
            rb__cli_put_str(o, json_string_value(sig));
        else
            fprintf(o->f, "%" JSON_INTEGER_FORMAT, json_integer_value(sig));
        sep = ", ";
    }
    json_t *hs = json_object_get(result, "status");
    if (json_is_integer(hs)) { /* http and the like: the status code */
        fprintf(o->f, "%sstatus %" JSON_INTEGER_FORMAT, sep, json_integer_value(hs));
        sep = ", ";
    }
    if (attempts > 1) {
        fprintf(o->f, "%s%" PRId64 " attempts", sep, attempts);
        sep = ", ";
    }
    if (duration_ms < 0)
        duration_ms = rb__cli_jint(result, "duration_ms");
    if (duration_ms >= 0) {
        char d[32];
        rb__cli_fmt_duration(duration_ms, d, sizeof d);
        fprintf(o->f, "%s%s", sep, d);
        sep = ", ";
    }
    if (sep[0] == ',')
        fputc(')', o->f);
    const char *error = rb__cli_jstr(result, "error");
    const char *reason = rb__cli_jstr(result, "reason");
    if (!(error && *error))
        error = reason; /* it ran, and what judged it said no: "expect was false" */
    if (error && *error) {
        fputs(": ", o->f);
        rb__cli_put_clean(o, error, strlen(error), RB__OUT_COLS);
    }
}

/* The word for a result: its status when that is a word, else ok/failed. */
static const char *outcome_word(const json_t *obj)
{
    const char *s = rb__cli_jstr(obj, "outcome");
    if (!s)
        s = rb__cli_jstr(obj, "status");
    if (s && *s)
        return s;
    json_t *ok = json_object_get(obj, "ok");
    if (json_is_boolean(ok))
        return json_is_true(ok) ? "ok" : "failed";
    return "done";
}

static void put_step(out_t *o, const char *step)
{
    fputs("step ", o->f);
    rb__cli_put_str(o, step ? step : "?");
}

/* What an attempt ran for: a step, a check, an undo, a notification. */
static void put_subject(out_t *o, const char *step, const char *phase)
{
    if (phase && (!strcmp(phase, "check") || !strcmp(phase, "notify") || !strcmp(phase, "undo") ||
                  !strcmp(phase, "escalate"))) {
        fputs(!strcmp(phase, "check") ? "check " : !strcmp(phase, "undo") ? "undo " : "notify ", o->f);
        rb__cli_put_str(o, step ? step : "?");
        return;
    }
    put_step(o, step);
}

/* " item 2 (node-b)": the foreach item an event is about, if any. value:
 * the item itself when the event has it. */
static void put_item(out_t *o, const json_t *data, const json_t *value)
{
    if (!json_is_integer(json_object_get(data, "item")))
        return;
    fprintf(o->f, " item %" PRId64, rb__cli_jint(data, "item"));
    if (value) {
        fputs(" (", o->f);
        rb__cli_put_item(o, value, 60);
        fputc(')', o->f);
    }
}

static int put_run_event(out_t *o, const char *type, const char *step, const json_t *data,
                         int indent)
{
    char d1[32], d2[32];
    if (!strcmp(type, "phase_started")) {
        fprintf(o->f, "%s: %" PRId64 " checks", rb__cli_jstr(data, "phase") ? rb__cli_jstr(data, "phase") : "?",
                rb__cli_jint(data, "checks"));
    } else if (!strcmp(type, "check_finished")) {
        fputs("check ", o->f);
        rb__cli_put_str(o, step ? step : "?");
        fputs(": ", o->f);
        put_outcome(o, outcome_word(json_object_get(data, "result")), json_object_get(data, "result"),
                    -1, -1);
    } else if (!strcmp(type, "confirm")) {
        int yes = json_is_true(json_object_get(data, "confirmed"));
        int unsure = json_is_true(json_object_get(data, "inconclusive"));
        int c = unsure ? C_YELLOW : yes ? C_RED : C_GREEN;
        rb__cli_color_on(o, c);
        fputs(unsure ? "inconclusive: nothing done" : yes ? "confirmed: the failure is real"
                                                          : "not confirmed: nothing done", o->f);
        rb__cli_color_off(o, c);
        size_t i;
        json_t *u;
        json_array_foreach(json_object_get(data, "unrunnable"), i, u) {
            fputs(i ? "; check " : ": check ", o->f);
            rb__cli_put_str(o, rb__cli_jstr(u, "check") ? rb__cli_jstr(u, "check") : "?");
            fputs(" could not run (", o->f);
            rb__cli_put_str(o, rb__cli_jstr(u, "error") ? rb__cli_jstr(u, "error") : "?");
            fputc(')', o->f);
        }
        if (rb__cli_jstr(data, "error")) {
            fputs(": confirm: ", o->f);
            rb__cli_put_str(o, rb__cli_jstr(data, "error"));
        }
    } else if (!strcmp(type, "severity_assigned")) {
        rb__cli_fmt_duration(rb__cli_jint(data, "respond_ms"), d1, sizeof d1);
        rb__cli_fmt_duration(rb__cli_jint(data, "resolve_ms"), d2, sizeof d2);
        rb__cli_color_on(o, C_BOLD);
        fputs("severity ", o->f);
        rb__cli_put_str(o, rb__cli_jstr(data, "level") ? rb__cli_jstr(data, "level") : "?");
        rb__cli_color_off(o, C_BOLD);
        if (rb__cli_jint(data, "respond_ms") > 0 || rb__cli_jint(data, "resolve_ms") > 0)
            fprintf(o->f, " (respond within %s, resolve within %s)", d1, d2);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(data, "errors"), i, e) {
            fputs(i ? "; " : ": the most severe level, as severity rule ", o->f);
            fprintf(o->f, "%" PRId64 " cannot be evaluated: ", rb__cli_jint(e, "rule") + 1);
            rb__cli_put_str(o, rb__cli_jstr(e, "error") ? rb__cli_jstr(e, "error") : "?");
        }
    } else if (!strcmp(type, "expression_error") && step) {
        /* a step's approval.when: the step ends error */
        rb__cli_color_on(o, C_RED);
        fputs("expression error", o->f);
        rb__cli_color_off(o, C_RED);
        fputs(" in step ", o->f);
        rb__cli_put_str(o, step);
        fputc(' ', o->f);
        rb__cli_put_str(o, rb__cli_jstr(data, "in") ? rb__cli_jstr(data, "in") : "?");
        fputc('.', o->f);
        rb__cli_put_str(o, rb__cli_jstr(data, "key") ? rb__cli_jstr(data, "key") : "?");
        fputs(": ", o->f);
        rb__cli_put_str(o, rb__cli_jstr(data, "error") ? rb__cli_jstr(data, "error") : "?");
    } else if (!strcmp(type, "expression_error")) {
        rb__cli_color_on(o, C_YELLOW);
        fputs("expression error", o->f);
        rb__cli_color_off(o, C_YELLOW);
        fprintf(o->f, " in %s[%" PRId64 "].%s (it goes anyway): ",
                rb__cli_jstr(data, "in") ? rb__cli_jstr(data, "in") : "?", rb__cli_jint(data, "index"),
                rb__cli_jstr(data, "key") ? rb__cli_jstr(data, "key") : "?");
        rb__cli_put_str(o, rb__cli_jstr(data, "error") ? rb__cli_jstr(data, "error") : "?");
    } else if (!strcmp(type, "declared")) {
        fputs("incident declared", o->f);
    } else if (!strcmp(type, "notification_sent")) {
        json_t *res = json_object_get(data, "result");
        json_t *would = json_object_get(res, "would_run");
        fputs("notify ", o->f);
        rb__cli_put_str(o, step ? step : "?");
        fputs(": ", o->f);
        if (would && rb__cli_jstr(would, "refused")) { /* a real run would not send it */
            rb__cli_color_on(o, C_RED);
            fputs("would be refused", o->f);
            rb__cli_color_off(o, C_RED);
            fputs(": ", o->f);
            rb__cli_put_str(o, rb__cli_jstr(would, "refused"));
        } else if (would) { /* a drill sends nothing (R-drill-notify) */
            rb__cli_color_on(o, C_YELLOW);
            fputs("would send", o->f);
            rb__cli_color_off(o, C_YELLOW);
            fputs(": ", o->f);
            rb__cli_put_would(o, indent, would);
        } else {
            /* which of the event's notifications, then the action's own
             * tries (notify retries inside one attempt) */
            if (rb__cli_put_channel(o, res))
                fputs(": ", o->f);
            put_outcome(o, json_is_true(json_object_get(res, "ok")) ? "sent" : outcome_word(res), res,
                        rb__cli_jint(res, "attempts"), -1);
        }
    } else if (!strncmp(type, "approval_", 9)) {
        put_step(o, step);
        int c = !strcmp(type, "approval_granted") ? C_GREEN : C_YELLOW;
        if (json_is_true(json_object_get(data, "would_ask"))) { /* a drill asks nobody */
            rb__cli_color_on(o, C_YELLOW);
            fputs(" would ask for approval: a drill takes it as given", o->f);
            rb__cli_color_off(o, C_YELLOW);
            return 1;
        }
        rb__cli_color_on(o, c);
        fprintf(o->f, " %s", !strcmp(type, "approval_requested") ? "waits for approval"
                             : !strcmp(type, "approval_granted")  ? "approved"
                             : !strcmp(type, "approval_denied")   ? "denied"
                                                                  : "approval timed out");
        rb__cli_color_off(o, c);
        if (rb__cli_jstr(data, "by")) {
            fputs(" by ", o->f);
            rb__cli_put_str(o, rb__cli_jstr(data, "by"));
        }
        if (rb__cli_jstr(data, "outcome")) {
            fputs(": ", o->f);
            rb__cli_put_str(o, rb__cli_jstr(data, "outcome"));
        }
        if (rb__cli_jstr(data, "comment")) { /* the answer's why (the server's API) */
            fputs(": \"", o->f);
            rb__cli_put_str(o, rb__cli_jstr(data, "comment"));
            fputs("\"", o->f);
        }
    } else if (!strcmp(type, "rollback_started")) {
        rb__cli_color_on(o, C_YELLOW);
        fprintf(o->f, "rollback: %" PRId64 " undo(s) to run", rb__cli_jint(data, "undo_steps"));
        rb__cli_color_off(o, C_YELLOW);
    } else if (!strcmp(type, "undo_started")) {
        fputs("undo ", o->f);
        rb__cli_put_str(o, step ? step : "?");
        put_item(o, data, NULL);
        fputs(" started", o->f);
    } else if (!strcmp(type, "undo_finished")) {
        fputs("undo ", o->f);
        rb__cli_put_str(o, step ? step : "?");
        put_item(o, data, NULL);
        fputs(": ", o->f);
        put_outcome(o, outcome_word(json_object_get(data, "result")), json_object_get(data, "result"),
                    -1, -1);
    } else if (!strcmp(type, "rollback_finished")) {
        rb__cli_color_on(o, C_YELLOW);
        fprintf(o->f, "rollback finished: %" PRId64 " undo(s) ran, %" PRId64 " failed",
                rb__cli_jint(data, "undos"), rb__cli_jint(data, "failed"));
        if (json_is_true(json_object_get(data, "cancelled"))) { /* R-rollback-cancel */
            fprintf(o->f, ", %" PRId64 " cancelled; the rollback was cancelled, not run:",
                    rb__cli_jint(data, "undos_cancelled"));
            size_t k;
            json_t *u;
            json_array_foreach(json_object_get(data, "not_run"), k, u) {
                fputs(k ? ", " : " ", o->f);
                rb__cli_put_str(o, rb__cli_jstr(u, "step") ? rb__cli_jstr(u, "step") : "?");
                if (rb__cli_jint(u, "item") >= 0)
                    fprintf(o->f, " item %" PRId64, rb__cli_jint(u, "item"));
            }
            if (!json_array_size(json_object_get(data, "not_run")))
                fputs(" none", o->f);
        }
        rb__cli_color_off(o, C_YELLOW);
    } else if (!strcmp(type, "escalated")) {
        rb__cli_fmt_duration(rb__cli_jint(data, "after_ms"), d1, sizeof d1);
        rb__cli_color_on(o, C_RED);
        fprintf(o->f, "escalated (level %" PRId64 ", after %s)", rb__cli_jint(data, "level"), d1);
        rb__cli_color_off(o, C_RED);
    } else if (!strcmp(type, "escalation_held")) {
        rb__cli_fmt_duration(rb__cli_jint(data, "after_ms"), d1, sizeof d1);
        fprintf(o->f, "escalation level %" PRId64 " not sent after %s: its unless holds",
                rb__cli_jint(data, "level"), d1);
    } else if (!strcmp(type, "clock_read")) {
        rb__cli_color_on(o, C_DIM);
        fprintf(o->f, "now() read %zu time(s) (recorded for replay)",
                json_array_size(json_object_get(data, "values")));
        rb__cli_color_off(o, C_DIM);
    } else if (!strcmp(type, "cancel_requested")) {
        fputs("cancel requested", o->f);
    } else if (!strcmp(type, "run_interrupted")) {
        /* written by the journal (the process died) or a stopping server */
        rb__cli_color_on(o, C_YELLOW);
        fputs("run interrupted", o->f);
        rb__cli_color_off(o, C_YELLOW);
        if (rb__cli_jstr(data, "reason")) {
            fputs(": ", o->f);
            rb__cli_put_str(o, rb__cli_jstr(data, "reason"));
        }
        if (rb__cli_jstr(data, "step")) {
            fputs("; step ", o->f);
            rb__cli_put_str(o, rb__cli_jstr(data, "step"));
            fputs(" was in flight", o->f);
        }
    } else if (!strcmp(type, "run_resumed")) {
        const char *ph = rb__cli_jstr(data, "phase"), *from = rb__cli_jstr(data, "from_step");
        rb__cli_color_on(o, C_BOLD);
        fputs("run resumed", o->f);
        rb__cli_color_off(o, C_BOLD);
        if (from) {
            fputs(": goes on at step ", o->f);
            rb__cli_put_str(o, from);
        } else if (ph && !strcmp(ph, "validate")) {
            fputs(": goes on with the validation", o->f);
        } else if (ph && !strcmp(ph, "start")) {
            fputs(": starts again from the checks", o->f);
        } else if (ph && !strcmp(ph, "steps")) {
            fputs(": every step had run", o->f);
        }
    } else {
        return 0;
    }
    return 1;
}

typedef struct {
    out_t *o;
    int64_t started;      /* the run's start: events are shown as offsets from it */
    int offset_w;         /* the width of the offsets column */
    json_t *last_seq;     /* step → the seq of its last event */
    int64_t seq;          /* of the event being printed */
    char *out_step;       /* step and attempt whose output was shown last (owned:
                           * the event it came from is gone when the next is shown) */
    int64_t out_attempt;
} show_state_t;

/* Whether the step has events after the current one. The routine parts of
 * a step (its first attempt starting, an attempt that succeeded) are left
 * out of the timeline when what follows says the same; but when the run
 * stopped right there (a crash, an interrupted run), they are the news. */
static int step_goes_on(const show_state_t *s, const char *step)
{
    return step && json_integer_value(json_object_get(s->last_seq, step)) > s->seq;
}

/* One event, one line (plus output lines for finished work). */
static void put_event(out_t *o, const json_t *ev, int64_t base_ms, int offset_w, show_state_t *s)
{
    s->seq = rb__cli_jint(ev, "seq");
    const char *type = rb__cli_jstr(ev, "type");
    const char *step = rb__cli_jstr(ev, "step");
    int64_t attempt = rb__cli_jint(ev, "attempt");
    json_t *data = json_object_get(ev, "data");
    if (!type)
        type = "?";
    /* The outcome of a step's `verify` is news even when it passes. */
    const char *phase = rb__cli_jstr(data, "phase");
    int verify = phase && strcmp(phase, "verify") == 0;
    if (strcmp(type, "attempt_started") == 0 && attempt <= 1 && step_goes_on(s, step))
        return;
    /* a check's last attempt is said again by its check_finished line */
    if (phase && !strcmp(phase, "check") && strcmp(type, "attempt_finished") == 0 &&
        rb__cli_jint(ev, "attempt") >= rb__cli_jint(data, "of") && step_goes_on(s, step))
        return;
    if (!verify && strcmp(type, "attempt_finished") == 0 &&
        json_is_true(json_object_get(json_object_get(data, "result"), "ok")) &&
        step_goes_on(s, step))
        return;
    char off[32];
    rb__cli_fmt_offset(rb__cli_jint(ev, "wall_ms") - base_ms, off, sizeof off);
    rb__cli_color_on(o, C_DIM);
    fprintf(o->f, "%*s", offset_w, off);
    rb__cli_color_off(o, C_DIM);
    fputs("  ", o->f);
    const int indent = offset_w + 4;

    if (strcmp(type, "run_started") == 0) {
        fputs("run started", o->f);
        if (json_is_true(json_object_get(data, "dry_run"))) {
            rb__cli_color_on(o, C_YELLOW);
            fputs(" (a drill: steps with side effects simulated)", o->f);
            rb__cli_color_off(o, C_YELLOW);
            const char *k;
            json_t *v;
            json_object_foreach(json_object_get(data, "assume"), k, v) { /* the branches it walked */
                fputs(" --assume ", o->f);
                if (strcmp(k, "*")) {
                    rb__cli_put_str(o, k);
                    fputc('=', o->f);
                }
                rb__cli_put_str(o, json_is_string(v) ? json_string_value(v) : "?");
            }
        }
    } else if (strcmp(type, "step_started") == 0) {
        put_step(o, step);
        fputs(" started", o->f);
        json_t *with = json_object_get(data, "with");
        const char *action = rb__cli_jstr(data, "action");
        json_t *items = json_object_get(data, "items");
        if (json_is_array(items)) {
            fprintf(o->f, ": %s, %zu item%s", action ? action : "?", json_array_size(items),
                    json_array_size(items) == 1 ? "" : "s");
        } else if (action) {
            fputs(": ", o->f);
            rb__cli_put_would_run(o, action, with);
        }
        const char *when = rb__cli_jstr(data, "when");
        if (when) {
            rb__cli_color_on(o, C_DIM);
            fputs(" (when ", o->f);
            rb__cli_put_clean(o, when, strlen(when), RB__DATA_COLS);
            fputc(')', o->f);
            rb__cli_color_off(o, C_DIM);
        }
        if (json_is_true(json_object_get(data, "simulated"))) {
            rb__cli_color_on(o, C_YELLOW);
            fputs(" (drill: not run)", o->f);
            rb__cli_color_off(o, C_YELLOW);
        }
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) { /* each item's parameters, as its action got them */
            fprintf(o->f, "\n%*s", indent, "");
            json_t *k = json_pack("{s:I}", "item", (json_int_t)i);
            put_item(o, k, json_object_get(it, "item"));
            json_decref(k);
            fputs(": ", o->f);
            if (rb__cli_jstr(it, "error")) {
                rb__cli_color_on(o, C_RED);
                rb__cli_put_str(o, rb__cli_jstr(it, "error"));
                rb__cli_color_off(o, C_RED);
            } else {
                rb__cli_put_would_run(o, action, json_object_get(it, "with"));
            }
        }
    } else if (put_run_event(o, type, step, data, indent)) {
        if (!strcmp(type, "check_finished")) { /* what the check saw */
            json_t *res = json_object_get(data, "result");
            fputc('\n', o->f);
            rb__cli_put_output(o, indent, "stdout", json_object_get(res, "stdout"), RB__OUT_LINES);
            rb__cli_put_output(o, indent, "stderr", json_object_get(res, "stderr"), RB__OUT_LINES);
            return;
        }
    } else if (strcmp(type, "item_finished") == 0) {
        json_t *res = json_object_get(data, "result");
        put_step(o, step);
        put_item(o, data, json_object_get(data, "value"));
        fputs(": ", o->f);
        put_outcome(o, outcome_word(data), res, rb__cli_jint(res, "attempt"), -1);
    } else if (strcmp(type, "attempt_started") == 0) {
        int64_t n = rb__cli_jint(data, "attempt") > 0 ? rb__cli_jint(data, "attempt") : attempt;
        int c = n > 1 ? C_YELLOW : C_NONE;
        put_subject(o, step, phase);
        put_item(o, data, NULL);
        fputs(verify ? " verify" : "", o->f);
        rb__cli_color_on(o, c);
        fprintf(o->f, " attempt %" PRId64, n);
        rb__cli_color_off(o, c);
        if (rb__cli_jint(data, "of") > 1)
            fprintf(o->f, " of %" PRId64, rb__cli_jint(data, "of"));
    } else if (strcmp(type, "attempt_finished") == 0) {
        json_t *res = json_object_get(data, "result");
        put_subject(o, step, phase);
        put_item(o, data, NULL);
        fprintf(o->f, "%s attempt %" PRId64 ": ", verify ? " verify" : "", attempt);
        put_outcome(o, outcome_word(res), res, -1, -1);
        fputc('\n', o->f);
        rb__cli_put_output(o, indent, "stdout", json_object_get(res, "stdout"), RB__OUT_LINES);
        rb__cli_put_output(o, indent, "stderr", json_object_get(res, "stderr"), RB__OUT_LINES);
        if (!verify) {
            free(s->out_step);
            s->out_step = step ? strdup(step) : NULL;
            s->out_attempt = attempt;
        }
        return;
    } else if (strcmp(type, "step_retry") == 0) {
        put_step(o, step);
        rb__cli_color_on(o, C_YELLOW);
        fputs(" retry", o->f);
        rb__cli_color_off(o, C_YELLOW);
        int64_t next = rb__cli_jint(data, "next_attempt") > 0 ? rb__cli_jint(data, "next_attempt")
                                                      : rb__cli_jint(data, "attempt");
        if (next > 0)
            fprintf(o->f, ": attempt %" PRId64, next);
        if (rb__cli_jint(data, "delay_ms") >= 0) {
            char d[32];
            rb__cli_fmt_duration(rb__cli_jint(data, "delay_ms"), d, sizeof d);
            fprintf(o->f, " in %s", d);
        }
        json_t *reason = json_object_get(data, "reason");
        if (json_is_string(reason)) {
            fputs(" (", o->f);
            rb__cli_put_clean(o, json_string_value(reason), strlen(json_string_value(reason)),
                      RB__DATA_COLS);
            fputc(')', o->f);
        } else if (reason) {
            fputc(' ', o->f);
            rb__cli_put_json(o, reason, RB__DATA_COLS);
        }
    } else if (strcmp(type, "step_skipped") == 0) {
        put_step(o, step);
        rb__cli_color_on(o, C_YELLOW);
        fputs(" skipped", o->f);
        rb__cli_color_off(o, C_YELLOW);
        const char *reason = rb__cli_jstr(data, "reason");
        if (reason) {
            fputs(": ", o->f);
            rb__cli_put_clean(o, reason, strlen(reason), RB__DATA_COLS);
        }
    } else if (strcmp(type, "step_finished") == 0) {
        json_t *res = json_object_get(data, "result");
        int64_t attempts = rb__cli_jint(data, "attempts");
        put_step(o, step);
        fputs(" finished: ", o->f);
        put_outcome(o, outcome_word(data), res, attempts, rb__cli_jint(data, "duration_ms"));
        fputc('\n', o->f);
        /* The last attempt's output was just shown with it. */
        int64_t last = attempts > 0 ? attempts : attempt;
        if (!(s->out_step && step && strcmp(s->out_step, step) == 0 && s->out_attempt == last)) {
            rb__cli_put_output(o, indent, "stdout", json_object_get(res, "stdout"), RB__OUT_LINES);
            rb__cli_put_output(o, indent, "stderr", json_object_get(res, "stderr"), RB__OUT_LINES);
        }
        free(s->out_step);
        s->out_step = NULL;
        return;
    } else if (strcmp(type, "run_finished") == 0) {
        const char *status = rb__cli_jstr(data, "status");
        int c = rb__cli_status_color(status);
        fputs("run finished: ", o->f);
        rb__cli_color_on(o, c);
        rb__cli_put_str(o, status ? status : "?");
        rb__cli_color_off(o, c);
        if (rb__cli_jint(data, "duration_ms") >= 0) {
            char d[32];
            rb__cli_fmt_duration(rb__cli_jint(data, "duration_ms"), d, sizeof d);
            fprintf(o->f, " (%s)", d);
        }
        json_t *error = json_object_get(data, "error");
        if (json_is_string(error)) {
            fputs(": ", o->f);
            rb__cli_put_clean(o, json_string_value(error), strlen(json_string_value(error)),
                      RB__DATA_COLS);
        } else if (error && !json_is_null(error)) {
            fputs(": ", o->f);
            rb__cli_put_json(o, error, RB__DATA_COLS);
        }
    } else if (strcmp(type, "log") == 0) {
        const char *level = rb__cli_jstr(data, "level"), *msg = rb__cli_jstr(data, "message");
        size_t msglen = json_string_length(json_object_get(data, "message"));
        int c = level && (strcmp(level, "error") == 0) ? C_RED
              : level && (strncmp(level, "warn", 4) == 0) ? C_YELLOW : C_NONE;
        if (step) {
            put_subject(o, step, phase);
            fputs(": ", o->f);
        }
        rb__cli_color_on(o, c);
        fputs("log", o->f);
        if (level && strcmp(level, "info") != 0) {
            fputc(' ', o->f);
            rb__cli_put_str(o, level);
        }
        rb__cli_color_off(o, c);
        fputs(": ", o->f);
        if (msg) /* to its length: a NUL byte in it is shown, not an end */
            rb__cli_put_clean(o, msg, msglen, SIZE_MAX);
    } else {
        /* A type this version does not know: everything, generically. */
        rb__cli_put_str(o, type);
        if (step) {
            fputs(" step=", o->f);
            rb__cli_put_str(o, step);
        }
        if (attempt > 0)
            fprintf(o->f, " attempt=%" PRId64, attempt);
        if (json_object_size(data)) {
            fputc(' ', o->f);
            rb__cli_put_json(o, data, RB__DATA_COLS);
        }
    }
    fputc('\n', o->f);
}

/* The run's header; then the state for its events: the width of the
 * offsets column from the newest event's time (last_wall_ms; none: "(no
 * events)" and 0), and each step's last seq. */
static int show_head(const json_t *run, int64_t nevents, const json_t *first, const json_t *fin,
                     show_state_t *st)
{
    out_t *o = st->o;
    const char *sha = rb__cli_jstr(run, "sha256");
    const char *status = rb__cli_jstr(run, "status");
    const char *trigger = rb__cli_jstr(run, "trigger");
    int64_t started = rb__cli_jint(run, "started_at"), ended = rb__cli_jint(run, "ended_at");

    rb__cli_color_on(o, C_BOLD);
    fprintf(o->f, "run %" PRId64 ": ", rb__cli_jint(run, "id"));
    rb__cli_put_str(o, rb__cli_jstr(run, "runbook"));
    rb__cli_color_off(o, C_BOLD);
    if (sha)
        fprintf(o->f, " (version %.12s)", sha);
    fputc('\n', o->f);

    int c = rb__cli_status_color(status);
    fputs("  status   ", o->f);
    rb__cli_color_on(o, c);
    rb__cli_put_str(o, status ? status : "?");
    rb__cli_color_off(o, c);
    fputs("\n  trigger  ", o->f);
    rb__cli_put_str(o, trigger ? trigger : "-");
    /* the alert that started the run: its labels (run_started has it all) */
    const json_t *alert = json_object_get(json_object_get(first, "data"), "alert");
    if (json_is_object(alert) && !strcmp(rb__cli_jstr(first, "type") ? rb__cli_jstr(first, "type") : "", "run_started")) {
        fputs("\n  alert    ", o->f);
        rb__cli_put_json(o, json_object_get(alert, "labels"), SIZE_MAX);
    }
    fputs("\n  params   ", o->f);
    rb__cli_put_json(o, json_object_get(run, "params"), SIZE_MAX);
    char when[32], dur[32];
    rb__cli_fmt_local(started, when, sizeof when);
    fprintf(o->f, "\n  started  %s", when);
    /* the run's zero and its duration as the engine measured them (the
     * summary, the report, escalation delays count from run_started) */
    if (rb__cli_jstr(first, "type") && !strcmp(rb__cli_jstr(first, "type"), "run_started") &&
        rb__cli_jint(first, "wall_ms") >= 0)
        started = rb__cli_jint(first, "wall_ms");
    if (ended >= 0) {
        int64_t d = ended - started;
        if (rb__cli_jstr(fin, "type") && !strcmp(rb__cli_jstr(fin, "type"), "run_finished") &&
            rb__cli_jint(json_object_get(fin, "data"), "duration_ms") >= 0)
            d = rb__cli_jint(json_object_get(fin, "data"), "duration_ms");
        rb__cli_fmt_local(ended, when, sizeof when);
        rb__cli_fmt_duration(d, dur, sizeof dur);
        fprintf(o->f, "\n  ended    %s (%s)", when, dur);
    }
    fputs("\n\n", o->f);

    st->started = started;
    if (nevents == 0) {
        fputs("  (no events)\n", o->f);
        return 0;
    }
    /* One width for the offsets column, from the longest (the last). */
    char off[32];
    rb__cli_fmt_offset(rb__cli_jint(fin, "wall_ms") - started, off, sizeof off);
    st->offset_w = (int)strlen(off) < 9 ? 9 : (int)strlen(off);
    return 1;
}

/* A run as a whole (the server's answer): its header, then its events. */
static void show_text(out_t *o, const json_t *run)
{
    json_t *events = json_object_get(run, "events");
    size_t n = json_array_size(events), i;
    json_t *ev;
    show_state_t st = {.o = o, .last_seq = json_object()};
    json_array_foreach(events, i, ev)
        if (rb__cli_jstr(ev, "step"))
            json_object_set_new(st.last_seq, rb__cli_jstr(ev, "step"), json_integer(rb__cli_jint(ev, "seq")));
    if (show_head(run, (int64_t)n, json_array_get(events, 0), n ? json_array_get(events, n - 1) : NULL, &st))
        json_array_foreach(events, i, ev)
            put_event(o, ev, st.started, st.offset_w, &st);
    json_decref(st.last_seq);
    free(st.out_step);
}

/* A run from the journal, one event at a time (rb_journal_run_walk). */
static int walk_head(json_t *run, void *arg)
{
    show_state_t *st = arg;
    st->last_seq = json_incref(json_object_get(run, "last_seq"));
    show_head(run, rb__cli_jint(run, "events"), json_object_get(run, "first"), json_object_get(run, "last"), st);
    return 0;
}

static int walk_event(json_t *ev, void *arg)
{
    show_state_t *st = arg;
    put_event(st->o, ev, st->started, st->offset_w, st);
    return 0;
}

/* After the run was shown: its part of the hash chain (its events and
 * their links, its version, its status, the chain's head and checkpoints:
 * rb_journal_verify_run, what `runbook report` checks). When it does not
 * verify, what was shown may not be what happened: said on stderr with
 * the findings, exit 1 (as `runbook audit verify`); when it cannot be
 * read, exit 2. */
static int check_chain(rb_journal_t *j, long long id)
{
    json_t *ver = NULL;
    if (rb_journal_verify_run(j, id, &ver) != 0) {
        /* not a finding: the journal could not be read (exit 2, as any read) */
        fprintf(stderr, "runbook show: the hash chain of run %lld could not be read: %s\n", id,
                rb_journal_errmsg(j));
        return RB_EXIT_USAGE;
    }
    const json_t *problems = json_object_get(ver, "problems");
    int rc = RB_EXIT_OK;
    if (json_array_size(problems)) {
        out_t e = {stderr, rb_cli_color(2)};
        long long n = (long long)json_integer_value(json_object_get(ver, "problems_total"));
        if (n < (long long)json_array_size(problems))
            n = (long long)json_array_size(problems);
        rb__cli_color_on(&e, C_RED);
        fprintf(stderr, "runbook show: warning: run %lld does not verify: its records were changed "
                        "after they were written (%lld problem%s; `runbook audit verify` checks the "
                        "whole journal)\n",
                id, n, n == 1 ? "" : "s");
        rb__cli_color_off(&e, C_RED);
        size_t i;
        json_t *p;
        json_array_foreach(problems, i, p)
            rb__cli_put_problem(&e, p);
        rc = RB_EXIT_FAILED;
    }
    json_decref(ver);
    return rc;
}

int rb_cli_show(int argc, char **argv)
{
    opts_t opt;
    int rc = rb__cli_parse_opts(argc, argv, "show", 0, &opt, usage_show);
    if (rc >= 0)
        return rc;
    if (optind >= argc) {
        fprintf(stderr, "runbook show: which run? (runbook show RUN; `runbook runs` lists them)\n");
        return RB_EXIT_USAGE;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "runbook show: unexpected argument '%s'\n", argv[optind + 1]);
        fprintf(stderr, "Try 'runbook show --help'.\n");
        return RB_EXIT_USAGE;
    }
    long long id = rb__cli_run_id("show", argv[optind]);
    if (id <= 0)
        return RB_EXIT_USAGE;

    json_t *run = NULL;
    if (opt.server) {
        rc = rb__cli_api_run("show", &opt, id, &run);
        if (rc != RB_EXIT_OK)
            return rc;
        goto print;
    }
    rb_journal_t *j = rb__cli_open_journal("show", opt.db);
    if (!j)
        return RB_EXIT_USAGE;
    if (!opt.json) {
        /* the timeline as the events are read: never the whole run at once */
        out_t o = { stdout, rb_cli_color(1) };
        show_state_t st = {.o = &o};
        rc = rb_journal_run_walk(j, id, NULL, 0, walk_head, walk_event, &st);
        json_decref(st.last_seq);
        free(st.out_step);
        if (rc == RB_ENOTFOUND)
            fprintf(stderr, "runbook show: no run %lld in %s\n", id, rb_journal_name(j));
        else if (rc != 0)
            fprintf(stderr, "runbook show: %s\n", rb_journal_errmsg(j));
        int ex = rc == 0 ? check_chain(j, id) : RB_EXIT_USAGE;
        rb_journal_close(j);
        return ex;
    }
    rc = rb_journal_run_get(j, id, &run);
    if (rc == RB_ENOTFOUND) {
        fprintf(stderr, "runbook show: no run %lld in %s\n", id, rb_journal_name(j));
        rb_journal_close(j);
        return RB_EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "runbook show: %s\n", rb_journal_errmsg(j));
        rb_journal_close(j);
        return RB_EXIT_USAGE;
    }
    rc = rb__cli_print_json(run);
    json_decref(run);
    if (rc == RB_EXIT_OK)
        rc = check_chain(j, id);
    rb_journal_close(j);
    return rc;

print: /* the server's answer: the server's journal is its to check */
    if (opt.json) {
        rc = rb__cli_print_json(run);
    } else {
        out_t o = { stdout, rb_cli_color(1) };
        show_text(&o, run);
        rc = RB_EXIT_OK;
    }
    json_decref(run);
    return rc;
}

