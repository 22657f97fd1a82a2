/*
 * progress.c — what a run shows on the terminal while it goes (see
 * progress.h): one line per event that matters, a live status line on a
 * TTY (spinner, phase, step, attempt, elapsed), and a one-screen summary.
 * With --format json, one JSON object per journaled event instead.
 *
 * Owns: its status-line timer and nothing of the run: it only reads the
 * events it is given. Colors only when asked (a TTY without NO_COLOR).
 */
#include "progress.h"
#include "cli_out.h"

#include "host/action_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rb_progress {
    uv_loop_t *loop;
    int json, quiet, color, live;
    rb_run_t *main;
    uv_timer_t timer;
    int timer_on;
    int frame;
    uint64_t t0;
    char what[160]; /* what the status line says the run is doing */
    size_t nsteps;
    size_t undos, undos_failed, undos_simulated; /* a drill's undos are simulated (R-drill-simulated) */
    size_t unsent; /* notifications and escalations that did not go */
    int rolled_back;
    json_t *rows;   /* [{step, status, attempts, duration_ms}] for the summary */
    char severity[16];
    uint64_t respond_ms, resolve_ms, first_action_ms;
    int have_first_action;
    uint64_t ahead_ms; /* a resumed run: how long ago it first started */
};

static const char *C(const rb_progress_t *c, const char *code) { return c->color ? code : ""; }

static double secs(const json_t *d, const char *k)
{
    return (double)json_integer_value(json_object_get(d, k)) / 1000.0;
}

/* A duration field as it was given (50ms, 1.5s, 2m): R-durations-shown. */
static const char *dur(const json_t *d, const char *k, char *buf, size_t len)
{
    json_int_t v = json_integer_value(json_object_get(d, k));
    return rb_duration_format(v > 0 ? (uint64_t)v : 0, buf, len);
}

static const char *str(const json_t *d, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(d, k));
    return s ? s : dflt;
}

/* Text that came from outside (an error, a reason, a name a command or a
 * host printed): cleaned and cut as show prints it (rb__cli_put_clean). */
static void put(const char *pre, const char *s, const char *post)
{
    out_t o = {stderr, 0};
    fputs(pre, stderr);
    if (s)
        rb__cli_put_clean(&o, s, strlen(s), RB__OUT_COLS);
    fputs(post, stderr);
}

static void print_result_line(const rb_progress_t *c, const json_t *res)
{
    const json_t *ec = json_object_get(res, "exit_code");
    const char *sig = json_string_value(json_object_get(res, "signal"));
    const char *err = json_string_value(json_object_get(res, "error"));
    const char *why = json_string_value(json_object_get(res, "reason"));
    const char *assumed = json_string_value(json_object_get(res, "assumed"));
    if (err)
        put(" — ", err, "");
    else if (assumed) /* a drill's simulated step: how --assume took it */
        put(" (assumed ", assumed, ")");
    else if (why) /* it ran, and what judged it said no: "expect was false" */
        put(" — ", why, "");
    else if (sig)
        put(" (killed by ", sig, ")");
    else if (json_is_integer(ec))
        fprintf(stderr, " (exit %lld)", (long long)json_integer_value(ec));
    (void)c;
}

/* " (node-b)": a foreach item as the operator wrote it, cut short. */
static void print_item_value(const json_t *v)
{
    out_t o = {stderr, 0};
    if (!v)
        return;
    fputs(" (", stderr);
    rb__cli_put_item(&o, v, 60);
    fputc(')', stderr);
}

/* "$ systemctl restart neo" or "notify {…}": what a drill would have run,
 * as show prints it. */
static void print_would_run(const char *action, const json_t *with)
{
    out_t o = {stderr, 0};
    rb__cli_put_would_run(&o, action, with);
}

static void clear_line(rb_progress_t *c)
{
    if (c->live)
        fputs("\r\033[K", stderr);
}

static void on_tick(uv_timer_t *t)
{
    static const char *const spin[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
    rb_progress_t *c = t->data;
    c->frame = (c->frame + 1) % 10;
    fprintf(stderr, "\r\033[K%s%s%s %s %s[%.1fs]%s", C(c, "\033[36m"), spin[c->frame], C(c, "\033[0m"),
            c->what, C(c, "\033[2m"), (double)(c->ahead_ms + uv_now(c->loop) - c->t0) / 1000.0,
            C(c, "\033[0m"));
    fflush(stderr);
}

rb_progress_t *rb_progress_new(uv_loop_t *loop, int json, int quiet, int color, int live)
{
    rb_progress_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = loop;
    c->json = json;
    c->quiet = quiet;
    c->color = color;
    c->live = live && !json && !quiet;
    c->rows = json_array();
    c->t0 = uv_now(loop);
    snprintf(c->what, sizeof(c->what), "starting");
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    if (c->live) {
        uv_timer_start(&c->timer, on_tick, 100, 100);
        c->timer_on = 1;
    }
    return c;
}

static void on_close(uv_handle_t *h)
{
    rb_progress_t *c = h->data;
    json_decref(c->rows);
    free(c);
}

void rb_progress_free(rb_progress_t *c)
{
    if (!c)
        return;
    if (c->timer_on)
        clear_line(c);
    uv_close((uv_handle_t *)&c->timer, on_close);
}

void rb_progress_set_run(rb_progress_t *c, rb_run_t *run)
{
    c->main = run;
}

/* Keeps what the status line and the summary need. */
static void track(rb_progress_t *c, const char *type, const char *step, int attempt, const json_t *data)
{
    if (!strcmp(type, "phase_started"))
        snprintf(c->what, sizeof(c->what), "%s checks", json_string_value(json_object_get(data, "phase")));
    else if (!strcmp(type, "step_started") || !strcmp(type, "undo_started"))
        snprintf(c->what, sizeof(c->what), "%s %s", !strcmp(type, "undo_started") ? "undo" : "step", step);
    else if (!strcmp(type, "attempt_started"))
        snprintf(c->what, sizeof(c->what), "%s %s · attempt %d/%lld", 
                 !strcmp(json_string_value(json_object_get(data, "phase")), "verify") ? "verify" : "step",
                 step ? step : "", attempt, (long long)json_integer_value(json_object_get(data, "of")));
    else if (!strcmp(type, "step_retry")) {
        char d[32];
        snprintf(c->what, sizeof(c->what), "step %s · waiting %s to retry", step ? step : "",
                 dur(data, "delay_ms", d, sizeof(d)));
    }
    else if (!strcmp(type, "approval_requested"))
        snprintf(c->what, sizeof(c->what), "step %s · waiting for approval", step);
    if (!strcmp(type, "run_started")) { /* the run's zero, as the engine's (rb_run_start) */
        uv_update_time(c->loop);
        c->t0 = uv_now(c->loop);
    }
    if (!strcmp(type, "step_started") && !c->have_first_action) {
        uv_update_time(c->loop);
        c->have_first_action = 1;
        c->first_action_ms = c->ahead_ms + uv_now(c->loop) - c->t0;
    }
    if (!strcmp(type, "severity_assigned")) {
        snprintf(c->severity, sizeof(c->severity), "%s", json_string_value(json_object_get(data, "level")));
        c->respond_ms = (uint64_t)json_integer_value(json_object_get(data, "respond_ms"));
        c->resolve_ms = (uint64_t)json_integer_value(json_object_get(data, "resolve_ms"));
    }
    if (!strcmp(type, "notification_sent")) {
        const json_t *res = json_object_get(data, "result");
        /* a drill's would-send is not a message that failed to go */
        c->unsent += !json_is_true(json_object_get(res, "ok")) && !json_object_get(res, "would_run");
    }
    if (!strcmp(type, "step_skipped") || !strcmp(type, "step_finished")) {
        c->nsteps++;
    } else if (!strcmp(type, "undo_finished")) {
        const char *st = json_string_value(json_object_get(data, "status"));
        c->undos_simulated += st && !strcmp(st, "simulated");
    } else if (!strcmp(type, "rollback_finished")) {
        c->undos = (size_t)json_integer_value(json_object_get(data, "undos"));
        c->undos_failed = (size_t)json_integer_value(json_object_get(data, "failed"));
        c->rolled_back = 1;
    }
    if (!strcmp(type, "step_finished") || !strcmp(type, "step_skipped"))
        json_array_append_new(c->rows, json_pack("{s:s,s:O,s:i,s:I}", "step", step, "status",
                                                 json_object_get(data, "status"), "attempts", attempt,
                                                 "duration_ms",
                                                 json_integer_value(json_object_get(data, "duration_ms"))));
}

void rb_progress_history(rb_progress_t *c, const json_t *run)
{
    int64_t w0 = json_integer_value(json_object_get(run, "started_at"));
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(run, "events"), i, e) {
        const char *type = json_string_value(json_object_get(e, "type"));
        int64_t wall = json_integer_value(json_object_get(e, "wall_ms"));
        if (!type || !strcmp(type, "run_started"))
            continue; /* the live zero stays this process's start */
        if (!strcmp(type, "step_started") && !c->have_first_action) {
            c->have_first_action = 1;
            c->first_action_ms = wall > w0 ? (uint64_t)(wall - w0) : 0;
        }
        if (!c->json)
            track(c, type, json_string_value(json_object_get(e, "step")),
                  (int)json_integer_value(json_object_get(e, "attempt")), json_object_get(e, "data"));
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    uv_update_time(c->loop);
    c->t0 = uv_now(c->loop);
    c->ahead_ms = w0 > 0 && now_ms > w0 ? (uint64_t)(now_ms - w0) : 0;
}

void rb_progress_event(rb_progress_t *c, rb_run_t *run, const char *type, const char *step,
                       int attempt, const json_t *data)
{
    if (!c->json && run == c->main)
        track(c, type, step, attempt, data);
    clear_line(c);
    /* While the run waits for an answer at the terminal, the status line
     * must not draw over the question. */
    if (c->timer_on && !strcmp(type, "approval_requested")) /* a sub-runbook's too */
        uv_timer_stop(&c->timer);
    else if (c->timer_on && !strncmp(type, "approval_", 9))
        uv_timer_start(&c->timer, on_tick, 100, 100);

    if (c->json) {
        json_t *line = json_pack("{s:I,s:s,s:s?,s:i,s:O}", "run", (json_int_t)rb_run_id(run), "type",
                                 type, "step", step, "attempt", attempt, "data", data);
        json_dumpf(line, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        fflush(stdout);
        json_decref(line);
        return;
    }
    if (c->quiet)
        return;
    if (run != c->main) {
        /* a sub-runbook's events: one line per step, indented, and the
         * approvals it waits for (the operator is asked for them) */
        if (!strcmp(type, "approval_requested"))
            fprintf(stderr, "    ↳ run %lld: %s? step %s needs approval%s\n", (long long)rb_run_id(run),
                    C(c, "\033[1;33m"), step, C(c, "\033[0m"));
        if (!strcmp(type, "step_finished")) {
            int ok = json_is_true(json_object_get(data, "ok"));
            fprintf(stderr, "    ↳ run %lld: %s%s %s%s\n", (long long)rb_run_id(run),
                    C(c, ok ? "\033[32m" : "\033[31m"), ok ? "✔" : "✘", step, C(c, "\033[0m"));
        }
        return;
    }
    if (!strcmp(type, "log")) {
        const char *lv = json_string_value(json_object_get(data, "level"));
        int loud = lv && (!strcmp(lv, "warn") || !strcmp(lv, "error"));
        if (lv && strcmp(lv, "debug")) {
            /* to its length, as show prints it: a NUL byte is no end */
            const json_t *m = json_object_get(data, "message");
            out_t o = {stderr, 0};
            fprintf(stderr, "    %s%s: ", C(c, loud ? "\033[33m" : "\033[2m"), lv);
            rb__cli_put_clean(&o, json_is_string(m) ? json_string_value(m) : "",
                              json_string_length(m), SIZE_MAX);
            fprintf(stderr, "%s\n", C(c, "\033[0m"));
        }
    } else if (!strcmp(type, "check_finished")) {
        const json_t *res = json_object_get(data, "result");
        int ok = json_is_true(json_object_get(data, "ok"));
        fprintf(stderr, "  %s%s%s %s check %s", C(c, ok ? "\033[32m" : "\033[33m"), ok ? "✔" : "✘",
                C(c, "\033[0m"), str(data, "phase", "?"), step ? step : "?");
        if (!ok) {
            fprintf(stderr, ": %s", rb__result_outcome(res));
            print_result_line(c, res);
        }
        fputc('\n', stderr);
    } else if (!strcmp(type, "confirm")) {
        int yes = json_is_true(json_object_get(data, "confirmed"));
        int unsure = json_is_true(json_object_get(data, "inconclusive"));
        fprintf(stderr, "%s%s%s", C(c, unsure ? "\033[1;33m" : yes ? "\033[1;31m" : "\033[32m"),
                unsure ? "inconclusive: nothing acted on" : yes ? "confirmed: the failure is real"
                                                               : "not confirmed: nothing to do",
                C(c, "\033[0m"));
        size_t i;
        json_t *u;
        json_array_foreach(json_object_get(data, "unrunnable"), i, u)
        {
            fprintf(stderr, "%scheck %s could not run", i ? "; " : ": ", str(u, "check", "?"));
            put(" (", str(u, "error", "?"), ")");
        }
        if (json_is_string(json_object_get(data, "error")))
            put(": confirm: ", str(data, "error", ""), "");
        fputc('\n', stderr);
    } else if (!strcmp(type, "expression_error") && step) {
        /* a step's approval.when: the step ends error (its step_finished says so) */
        fprintf(stderr, "  %sexpression error%s in step %s %s.%s", C(c, "\033[31m"), C(c, "\033[0m"),
                step, str(data, "in", "?"), str(data, "key", "?"));
        put(": ", str(data, "error", "?"), "\n");
    } else if (!strcmp(type, "expression_error")) {
        fprintf(stderr, "  %sexpression error%s in %s[%lld].%s (it goes anyway)", C(c, "\033[33m"),
                C(c, "\033[0m"), str(data, "in", "?"), (long long)json_integer_value(json_object_get(data, "index")),
                str(data, "key", "?"));
        put(": ", str(data, "error", "?"), "\n");
    } else if (!strcmp(type, "severity_assigned")) {
        char a[32], b[32];
        fprintf(stderr, "%sseverity %s%s", C(c, "\033[1m"), str(data, "level", "?"), C(c, "\033[0m"));
        if (json_integer_value(json_object_get(data, "respond_ms")) > 0 ||
            json_integer_value(json_object_get(data, "resolve_ms")) > 0)
            fprintf(stderr, " (respond within %s, resolve within %s)", dur(data, "respond_ms", a, sizeof(a)),
                    dur(data, "resolve_ms", b, sizeof(b)));
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(data, "errors"), i, e)
        {
            fprintf(stderr, "%sseverity rule %lld cannot be evaluated", i ? "; " : ": the most severe level, as ",
                    (long long)json_integer_value(json_object_get(e, "rule")) + 1);
            put(": ", str(e, "error", "?"), "");
        }
        fputc('\n', stderr);
    } else if (!strcmp(type, "phase_started")) {
        fprintf(stderr, "%s%s%s (%lld checks)\n", C(c, "\033[36m"),
                !strcmp(json_string_value(json_object_get(data, "phase")), "detect") ? "detect" : "validate",
                C(c, "\033[0m"), (long long)json_integer_value(json_object_get(data, "checks")));
    } else if (!strcmp(type, "approval_requested")) {
        fprintf(stderr, "%s? step %s needs approval%s\n", C(c, "\033[1;33m"), step, C(c, "\033[0m"));
    } else if (!strcmp(type, "approval_granted") || !strcmp(type, "approval_denied") ||
               !strcmp(type, "approval_timeout")) {
        const char *by = json_string_value(json_object_get(data, "by"));
        if (!strcmp(type, "approval_timeout"))
            fprintf(stderr, "  %sno answer in time%s: the step %s\n", C(c, "\033[33m"), C(c, "\033[0m"),
                    json_is_string(json_object_get(data, "outcome")) &&
                            !strcmp(json_string_value(json_object_get(data, "outcome")), "continue")
                        ? "runs as declared" : "fails");
        else if (json_is_true(json_object_get(data, "would_ask")))
            fprintf(stderr, "%s? step %s would ask for approval%s: a drill takes it as given\n",
                    C(c, "\033[33m"), step, C(c, "\033[0m"));
        else
        {
            fprintf(stderr, "  %s%s%s", C(c, type[9] == 'g' ? "\033[32m" : "\033[31m"),
                    type[9] == 'g' ? "approved" : "approval denied", C(c, "\033[0m"));
            put(" by ", by ? by : "?", "\n");
        }
    } else if (!strcmp(type, "rollback_started")) {
        /* undo_steps counts undos: a foreach step has one per item (R-rollback-count) */
        fprintf(stderr, "%s↶ rolling back: %lld undo(s) to run%s\n", C(c, "\033[33m"),
                (long long)json_integer_value(json_object_get(data, "undo_steps")), C(c, "\033[0m"));
    } else if (!strcmp(type, "undo_finished")) {
        const json_t *res = json_object_get(data, "result");
        fprintf(stderr, "  undo %s", step ? step : "?");
        if (json_is_integer(json_object_get(data, "item"))) /* a foreach item's undo */
            fprintf(stderr, " item %lld", (long long)json_integer_value(json_object_get(data, "item")));
        fprintf(stderr, ": %s", rb__result_outcome(res));
        if (!json_is_true(json_object_get(data, "ok")))
            print_result_line(c, res);
        fputc('\n', stderr);
    } else if (!strcmp(type, "rollback_finished")) {
        fprintf(stderr, "%s↶ rolled back: %lld undo(s) %s, %lld failed%s%s\n", C(c, "\033[33m"),
                (long long)json_integer_value(json_object_get(data, "undos")),
                c->undos_simulated ? "simulated (a drill)" : "ran",
                (long long)json_integer_value(json_object_get(data, "failed")),
                json_is_true(json_object_get(data, "cancelled")) ? "; cancelled before the rest" : "",
                C(c, "\033[0m"));
    } else if (!strcmp(type, "escalated")) {
        fprintf(stderr, "%s⚑ escalated (level %lld)%s\n", C(c, "\033[1;31m"),
                (long long)json_integer_value(json_object_get(data, "level")), C(c, "\033[0m"));
    } else if (!strcmp(type, "notification_sent")) {
        const json_t *res = json_object_get(data, "result");
        int ok = json_is_true(json_object_get(res, "ok"));
        const json_t *would = json_object_get(res, "would_run");
        if (would && json_is_string(json_object_get(would, "refused"))) {
            fprintf(stderr, "  notify %s: would be refused", step);
            put(": ", json_string_value(json_object_get(would, "refused")), "\n");
        } else if (would) { /* a drill sends nothing (R-drill-notify) */
            out_t o = {stderr, 0};
            fprintf(stderr, "  notify %s: would send: ", step);
            rb__cli_put_would(&o, 4, would);
            fputc('\n', stderr);
        } else {
            out_t o = {stderr, 0};
            fprintf(stderr, "  notify %s: ", step);
            if (rb__cli_put_channel(&o, res)) /* which of the event's notifications */
                fputs(": ", stderr);
            fputs(ok ? "sent" : rb__result_outcome(res), stderr);
            if (!ok)
                print_result_line(c, res);
            fputc('\n', stderr);
        }
    } else if (!strcmp(type, "step_started")) {
        const json_t *items = json_object_get(data, "items");
        fprintf(stderr, "%s▶%s %s%s%s (%s", C(c, "\033[36m"), C(c, "\033[0m"), C(c, "\033[1m"), step,
                C(c, "\033[0m"), str(data, "action", "?"));
        if (!json_is_array(items) && !strcmp(str(data, "action", "?"), "ssh") &&
            rb__cli_has_host(json_object_get(data, "with"))) { /* where it runs */
            out_t o = {stderr, 0};
            fputs(" on ", stderr);
            rb__cli_put_host(&o, json_object_get(data, "with"));
        }
        if (json_is_array(items))
            fprintf(stderr, ", %zu item%s", json_array_size(items), json_array_size(items) == 1 ? "" : "s");
        fputs(")\n", stderr);
        if (json_is_true(json_object_get(data, "simulated"))) { /* a drill: say what would run */
            size_t i;
            json_t *it;
            if (!json_is_array(items)) {
                fprintf(stderr, "    %swould run:%s ", C(c, "\033[33m"), C(c, "\033[0m"));
                print_would_run(json_string_value(json_object_get(data, "action")), json_object_get(data, "with"));
                fputc('\n', stderr);
            }
            json_array_foreach(items, i, it) {
                fprintf(stderr, "    %sitem %zu would run:%s ", C(c, "\033[33m"), i, C(c, "\033[0m"));
                print_would_run(json_string_value(json_object_get(data, "action")), json_object_get(it, "with"));
                fputc('\n', stderr);
            }
        }
    } else if (!strcmp(type, "item_finished")) {
        const json_t *res = json_object_get(data, "result");
        int ok = json_is_true(json_object_get(data, "ok"));
        fprintf(stderr, "    %s%s item %lld", C(c, ok ? "\033[32m" : "\033[31m"), ok ? "✔" : "✘",
                (long long)json_integer_value(json_object_get(data, "item")));
        print_item_value(json_object_get(data, "value"));
        fprintf(stderr, ": %s%s", json_string_value(json_object_get(data, "status")), C(c, "\033[0m"));
        if (!ok)
            print_result_line(c, res);
        fputc('\n', stderr);
    } else if (!strcmp(type, "attempt_finished") &&
               !strcmp(json_string_value(json_object_get(data, "phase")), "check")) {
        /* a check's outcome is its check_finished line */
    } else if (!strcmp(type, "attempt_finished") &&
               strcmp(json_string_value(json_object_get(data, "phase")), "notify") &&
               strcmp(json_string_value(json_object_get(data, "phase")), "escalate")) {
        const json_t *res = json_object_get(data, "result");
        int ok = json_is_true(json_object_get(res, "ok"));
        const char *phase = json_string_value(json_object_get(data, "phase"));
        char it[32] = "";
        if (json_is_integer(json_object_get(data, "item")))
            snprintf(it, sizeof(it), "item %lld ", (long long)json_integer_value(json_object_get(data, "item")));
        fprintf(stderr, "    %s%s%s %d%s%s %s%s", C(c, ok ? "\033[32m" : "\033[31m"), it,
                phase && !strcmp(phase, "verify") ? "verify attempt" : "attempt", attempt,
                ": ", rb__result_outcome(res),
                C(c, "\033[0m"), "");
        if (!ok)
            print_result_line(c, res);
        fprintf(stderr, " [%.2fs]\n", secs(res, "duration_ms"));
    } else if (!strcmp(type, "step_retry")) {
        char d[32];
        fprintf(stderr, "    %sretrying in %s%s", C(c, "\033[33m"), dur(data, "delay_ms", d, sizeof(d)),
                C(c, "\033[0m"));
        put(" (", str(data, "reason", "attempt failed"), ")\n");
    } else if (!strcmp(type, "step_skipped")) {
        fprintf(stderr, "%s⤼ %s skipped%s", C(c, "\033[33m"), step ? step : "?", C(c, "\033[0m"));
        put(": ", str(data, "reason", "when is false"), "\n");
    } else if (!strcmp(type, "step_finished")) {
        int ok = json_is_true(json_object_get(data, "ok"));
        const char *word = str(data, "status", ok ? "ok" : "failed");
        fprintf(stderr, "%s%s %s %s%s%s after %d attempt%s, %.2fs", C(c, ok ? "\033[32m" : "\033[31m"),
                ok ? "✔" : "✘", step ? step : "?", word,
                json_object_get(json_object_get(data, "result"), "assumed") && !ok ? " (assumed failed)" : "",
                C(c, "\033[0m"),
                (int)json_integer_value(json_object_get(data, "attempts")),
                json_integer_value(json_object_get(data, "attempts")) == 1 ? "" : "s",
                secs(data, "duration_ms"));
        const char *why = str(json_object_get(data, "result"), "error", NULL);
        if (!ok && why)
            put(" — ", why, "");
        fputc('\n', stderr);
        if (!ok) {
            out_t o = {stderr, 0}; /* cleaned and capped as show prints it */
            rb__cli_put_output(&o, 4, "stderr", json_object_get(json_object_get(data, "result"), "stderr"), 3);
        }
    }
}

void rb_progress_summary(rb_progress_t *c, rb_run_t *run)
{
    if (c->timer_on) {
        uv_timer_stop(&c->timer);
        clear_line(c);
    }
    if (c->json)
        return;
    const char *st = rb_run_status(run);
    int ok = !strcmp(st, "resolved") || !strcmp(st, "not_confirmed");
    int meh = !strcmp(st, "inconclusive") || !strcmp(st, "cancelled");
    uint64_t dur = rb_run_duration_ms(run);
    char a[32], b[32], d1[32], d2[32];
    fprintf(stderr, "%s── run %lld: %s%s in %s", C(c, ok ? "\033[1;32m" : meh ? "\033[1;33m" : "\033[1;31m"),
            (long long)rb_run_id(run), st, C(c, "\033[0m"), rb_duration_format(dur, d1, sizeof(d1)));
    if (c->severity[0])
        fprintf(stderr, " · severity %s", c->severity);
    fputc('\n', stderr);
    if (c->severity[0] && (c->respond_ms || c->resolve_ms)) {
        int late_r = c->have_first_action && c->first_action_ms > c->respond_ms;
        int late_s = dur > c->resolve_ms;
        fprintf(stderr, "   respond: %s%s%s (target %s)   resolve: %s%s%s (target %s)\n",
                C(c, late_r ? "\033[31m" : "\033[32m"),
                c->have_first_action ? rb_duration_format(c->first_action_ms, d1, sizeof(d1)) : "-",
                C(c, "\033[0m"), rb_duration_format(c->respond_ms, a, sizeof(a)),
                C(c, late_s ? "\033[31m" : "\033[32m"), rb_duration_format(dur, d2, sizeof(d2)),
                C(c, "\033[0m"), rb_duration_format(c->resolve_ms, b, sizeof(b)));
    }
    size_t i;
    json_t *row;
    json_array_foreach(c->rows, i, row) {
        if (i >= 20) {
            fprintf(stderr, "   … %zu more steps (runbook show %lld)\n", json_array_size(c->rows) - 20,
                    (long long)rb_run_id(run));
            break;
        }
        const char *rs = json_string_value(json_object_get(row, "status"));
        int rok = rs && !strcmp(rs, "ok");
        fprintf(stderr, "   %s%-9s%s %-28s %2lld× %s\n",
                C(c, rok ? "\033[32m" : rs && !strcmp(rs, "skipped") ? "\033[33m" : "\033[31m"),
                rs ? rs : "?", C(c, "\033[0m"), json_string_value(json_object_get(row, "step")),
                (long long)json_integer_value(json_object_get(row, "attempts")),
                rb_duration_format((uint64_t)json_integer_value(json_object_get(row, "duration_ms")), a, sizeof(a)));
    }
    /* counted by outcome word (R-outcome-words): ok, failed and skipped
     * always, the others when they happened */
    static const char *const words[] = {"ok",        "failed",  "error",  "timeout",
                                        "cancelled", "skipped", "denied", "simulated"};
    fprintf(stderr, "   %zu step%s:", c->nsteps, c->nsteps == 1 ? "" : "s");
    for (size_t w = 0, first = 1; w < sizeof(words) / sizeof(*words); w++) {
        size_t n = 0;
        json_array_foreach(c->rows, i, row) {
            const char *rs = json_string_value(json_object_get(row, "status"));
            n += rs && !strcmp(rs, words[w]);
        }
        if (n || !strcmp(words[w], "ok") || !strcmp(words[w], "failed") || !strcmp(words[w], "skipped")) {
            fprintf(stderr, "%s %zu %s", first ? "" : ",", n, words[w]);
            first = 0;
        }
    }
    fputc('\n', stderr);
    if (c->rolled_back && c->undos_simulated)
        fprintf(stderr, "   rollback: %zu undo%s simulated (a drill: nothing undone), %zu ran, %zu failed\n",
                c->undos_simulated, c->undos_simulated == 1 ? "" : "s", c->undos - c->undos_simulated,
                c->undos_failed);
    else if (c->rolled_back)
        fprintf(stderr, "   rollback: %zu undo%s ran, %zu failed\n", c->undos, c->undos == 1 ? "" : "s",
                c->undos_failed);
    if (c->unsent)
        fprintf(stderr, "   %s%zu notification%s not sent%s\n", C(c, "\033[31m"), c->unsent,
                c->unsent == 1 ? "" : "s", C(c, "\033[0m"));
    if (rb_run_error(run))
        put("   ", rb_run_error(run), "\n");
    fprintf(stderr, "   timeline: runbook show %lld\n", (long long)rb_run_id(run));
}
