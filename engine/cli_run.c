/*
 * cli_run.c — `runbook run NAME|FILE`: loads a runbook, opens the journal,
 * runs it on a uv loop and shows its progress; exits 0 when the run was
 * resolved, 1 when it failed or was cancelled, 2 on invalid input, 3 when
 * the failure was not confirmed (nothing was done).
 *
 * Owns: the loop of one CLI run, its signal handlers and the progress
 * printer. The run itself lives in run.c.
 */
#define _GNU_SOURCE /* asprintf, strndup */
#include "catalog.h"
#include "cli.h"
#include "diag.h"
#include "journal.h"
#include "run.h"
#include "runbook.h"

#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: runbook run [OPTIONS] NAME|FILE\n\n"
            "Runs a runbook now. NAME is looked up in --dir (default ./runbooks, then .).\n"
            "Every step is written to the journal; `runbook show RUN` prints it later.\n\n"
            "  -p, --param KEY=VALUE  set a parameter (repeatable; values are strings)\n"
            "      --alert FILE       an alert (JSON: one alert, or an Alertmanager webhook\n"
            "                         body whose first alert is used) for {{ alert.* }}\n"
            "      --db FILE          journal file (default $RUNBOOK_DB or ./runbook.db)\n"
            "      --dir DIR          where to look up runbooks by NAME\n"
            "      --dry-run          do not start actions with side effects (a drill)\n"
            "  -y, --yes              approve every step that asks for approval\n"
            "      --format text|json progress as text on stderr (default) or JSON lines on stdout\n"
            "  -q, --quiet            print only the summary\n"
            "  -h, --help             this text\n\n"
            "exit codes: 0 resolved, 1 failed or cancelled, 2 invalid runbook, parameter\n"
            "            or usage, 3 not confirmed (the checks found nothing to do).\n");
}

typedef struct cli_run {
    int json, quiet, color, yes;
    uv_signal_t sigint, sigterm;
    uv_tty_t tty;
    int tty_open;
    uv_timer_t later; /* answers an approval on the next turn of the loop */
    int later_open;
    int later_approve;
    const char *later_who;
    char answer[16];
    size_t answer_len;
    rb_run_t *run;
    size_t nsteps, nok, nfailed, nskipped;
} cli_run_t;

/* ---- progress ---- */

static const char *C(const cli_run_t *c, const char *code) { return c->color ? code : ""; }

static double secs(const json_t *d, const char *k)
{
    return (double)json_integer_value(json_object_get(d, k)) / 1000.0;
}

static void print_result_line(const cli_run_t *c, const json_t *res)
{
    const json_t *ec = json_object_get(res, "exit_code");
    const char *sig = json_string_value(json_object_get(res, "signal"));
    const char *err = json_string_value(json_object_get(res, "error"));
    if (err)
        fprintf(stderr, " — %s", err);
    else if (sig)
        fprintf(stderr, " (killed by %s)", sig);
    else if (json_is_integer(ec))
        fprintf(stderr, " (exit %lld)", (long long)json_integer_value(ec));
    (void)c;
}

/* ---- approvals: --yes, a question on the terminal, or the declared timeout ---- */

static void on_later(uv_timer_t *t)
{
    cli_run_t *c = t->data;
    rb_run_approve(c->run, NULL, c->later_approve, c->later_who);
}

/* Approves or denies on the next turn of the loop: the run is in the
 * middle of journaling its request when the observer hears of it. */
static void answer_later(cli_run_t *c, int approve, const char *who)
{
    c->later_approve = approve;
    c->later_who = who;
    uv_timer_start(&c->later, on_later, 0, 0);
}

static void on_tty_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    static char buf[256];
    b->base = buf;
    b->len = sizeof(buf);
}

static void on_tty_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    cli_run_t *c = s->data;
    int done = n < 0;
    for (ssize_t i = 0; i < n && !done; i++) {
        if (b->base[i] == '\n')
            done = 1;
        else if (c->answer_len + 1 < sizeof(c->answer))
            c->answer[c->answer_len++] = b->base[i];
    }
    if (!done)
        return;
    c->answer[c->answer_len] = 0;
    uv_read_stop(s);
    uv_close((uv_handle_t *)s, NULL);
    c->tty_open = 0;
    int yes = c->answer[0] == 'y' || c->answer[0] == 'Y';
    rb_run_approve(c->run, NULL, yes, yes ? "operator at the terminal" : "operator at the terminal (no)");
}

static void ask_approval(cli_run_t *c, const char *step, const json_t *data)
{
    if (c->yes) {
        answer_later(c, 1, "--yes");
        return;
    }
    if (!c->json && !c->tty_open && isatty(0) && uv_tty_init(c->later.loop, &c->tty, 0, 1) == 0) {
        c->tty_open = 1;
        c->tty.data = c;
        c->answer_len = 0;
        fprintf(stderr, "  approve step %s? [y/N] ", step);
        uv_read_start((uv_stream_t *)&c->tty, on_tty_alloc, on_tty_read);
        return;
    }
    if (json_integer_value(json_object_get(data, "timeout_ms")) > 0) {
        if (!c->json)
            fprintf(stderr, "  no terminal to ask and no --yes: waiting for the approval timeout\n");
        return;
    }
    answer_later(c, 0, "nobody: no terminal to ask and no --yes given");
}

static void on_event(rb_run_t *run, const char *type, const char *step, int attempt,
                     const json_t *data, void *arg)
{
    cli_run_t *c = arg;
    if (!strcmp(type, "approval_requested"))
        ask_approval(c, step, data);
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
    if (run != c->run) {
        /* a sub-runbook's events: one line per step, indented */
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
        if (lv && strcmp(lv, "debug"))
            fprintf(stderr, "    %s%s%s: %s%s\n", C(c, loud ? "\033[33m" : "\033[2m"), lv,
                    step ? "" : "", json_string_value(json_object_get(data, "message")), C(c, "\033[0m"));
    } else if (!strcmp(type, "check_finished")) {
        const json_t *res = json_object_get(data, "result");
        int ok = json_is_true(json_object_get(data, "ok"));
        fprintf(stderr, "  %s%s%s %s check %s", C(c, ok ? "\033[32m" : "\033[33m"), ok ? "✔" : "✘",
                C(c, "\033[0m"), json_string_value(json_object_get(data, "phase")), step);
        if (!ok)
            print_result_line(c, res);
        fputc('\n', stderr);
    } else if (!strcmp(type, "confirm")) {
        int yes = json_is_true(json_object_get(data, "confirmed"));
        fprintf(stderr, "%s%s%s\n", C(c, yes ? "\033[1;31m" : "\033[32m"),
                yes ? "confirmed: the failure is real" : "not confirmed: nothing to do",
                C(c, "\033[0m"));
    } else if (!strcmp(type, "severity_assigned")) {
        char a[32], b[32];
        fprintf(stderr, "%sseverity %s%s (respond within %s, resolve within %s)\n", C(c, "\033[1m"),
                json_string_value(json_object_get(data, "level")), C(c, "\033[0m"),
                rb_duration_format((uint64_t)json_integer_value(json_object_get(data, "respond_ms")), a, sizeof(a)),
                rb_duration_format((uint64_t)json_integer_value(json_object_get(data, "resolve_ms")), b, sizeof(b)));
    } else if (!strcmp(type, "phase_started")) {
        fprintf(stderr, "%s%s%s (%lld checks)\n", C(c, "\033[36m"),
                !strcmp(json_string_value(json_object_get(data, "phase")), "detect") ? "detect" : "validate",
                C(c, "\033[0m"), (long long)json_integer_value(json_object_get(data, "checks")));
    } else if (!strcmp(type, "approval_requested")) {
        fprintf(stderr, "%s? step %s needs approval%s\n", C(c, "\033[1;33m"), step, C(c, "\033[0m"));
    } else if (!strcmp(type, "approval_granted") || !strcmp(type, "approval_denied") ||
               !strcmp(type, "approval_timeout")) {
        fprintf(stderr, "  %s: %s\n", type, json_string_value(json_object_get(data, "by"))
                                                ? json_string_value(json_object_get(data, "by")) : "");
    } else if (!strcmp(type, "rollback_started")) {
        fprintf(stderr, "%s↶ rolling back %lld step(s)%s\n", C(c, "\033[33m"),
                (long long)json_integer_value(json_object_get(data, "undo_steps")), C(c, "\033[0m"));
    } else if (!strcmp(type, "undo_finished")) {
        int ok = json_is_true(json_object_get(data, "ok"));
        fprintf(stderr, "  undo %s: %s\n", step, ok ? "ok" : "failed");
    } else if (!strcmp(type, "escalated")) {
        fprintf(stderr, "%s⚑ escalated (level %lld)%s\n", C(c, "\033[1;31m"),
                (long long)json_integer_value(json_object_get(data, "level")), C(c, "\033[0m"));
    } else if (!strcmp(type, "notification_sent")) {
        int ok = json_is_true(json_object_get(json_object_get(data, "result"), "ok"));
        fprintf(stderr, "  notify %s: %s\n", step, ok ? "sent" : "failed");
    } else if (!strcmp(type, "step_started")) {
        fprintf(stderr, "%s▶%s %s%s%s (%s)\n", C(c, "\033[36m"), C(c, "\033[0m"), C(c, "\033[1m"), step,
                C(c, "\033[0m"), json_string_value(json_object_get(data, "action")));
    } else if (!strcmp(type, "attempt_finished")) {
        const json_t *res = json_object_get(data, "result");
        int ok = json_is_true(json_object_get(res, "ok"));
        const char *phase = json_string_value(json_object_get(data, "phase"));
        fprintf(stderr, "    %s%s %d%s%s %s%s", C(c, ok ? "\033[32m" : "\033[31m"),
                phase && !strcmp(phase, "verify") ? "verify attempt" : "attempt", attempt,
                ok ? ": " : ": ", json_string_value(json_object_get(res, "status")),
                C(c, "\033[0m"), "");
        if (!ok)
            print_result_line(c, res);
        fprintf(stderr, " [%.2fs]\n", secs(res, "duration_ms"));
    } else if (!strcmp(type, "step_retry")) {
        fprintf(stderr, "    %sretrying in %.1fs%s\n", C(c, "\033[33m"), secs(data, "delay_ms"),
                C(c, "\033[0m"));
    } else if (!strcmp(type, "step_skipped")) {
        c->nsteps++;
        c->nskipped++;
        fprintf(stderr, "%s⤼ %s skipped%s: %s\n", C(c, "\033[33m"), step, C(c, "\033[0m"),
                json_string_value(json_object_get(data, "reason")));
    } else if (!strcmp(type, "step_finished")) {
        int ok = json_is_true(json_object_get(data, "ok"));
        c->nsteps++;
        if (ok)
            c->nok++;
        else
            c->nfailed++;
        fprintf(stderr, "%s%s %s %s%s after %d attempt%s, %.2fs\n", C(c, ok ? "\033[32m" : "\033[31m"),
                ok ? "✔" : "✘", step, ok ? "ok" : "failed", C(c, "\033[0m"),
                (int)json_integer_value(json_object_get(data, "attempts")),
                json_integer_value(json_object_get(data, "attempts")) == 1 ? "" : "s",
                secs(data, "duration_ms"));
        if (!ok) {
            const char *err = json_string_value(json_object_get(json_object_get(data, "result"), "stderr"));
            if (err && *err) {
                int lines = 0;
                fprintf(stderr, "    stderr: ");
                for (const char *p = err; *p && lines < 3; p++) {
                    fputc(*p, stderr);
                    if (*p == '\n' && (lines++, p[1] && lines < 3))
                        fprintf(stderr, "            ");
                }
                if (err[strlen(err) - 1] != '\n')
                    fputc('\n', stderr);
            }
        }
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    cli_run_t *c = s->data;
    fprintf(stderr, "\nrunbook: %s received; cancelling the run (the journal keeps what happened)\n",
            signum == SIGINT ? "SIGINT" : "SIGTERM");
    rb_run_cancel(c->run);
}

static void on_done(rb_run_t *run, void *arg)
{
    cli_run_t *c = arg;
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    uv_close((uv_handle_t *)&c->later, NULL);
    if (c->tty_open) {
        uv_read_stop((uv_stream_t *)&c->tty);
        uv_close((uv_handle_t *)&c->tty, NULL);
        c->tty_open = 0;
        fputc('\n', stderr);
    }
    if (c->json)
        return;
    const char *st = rb_run_status(run);
    int ok = !strcmp(st, "resolved") || !strcmp(st, "not_confirmed");
    fprintf(stderr, "%srun %lld %s%s in %.2fs — %zu step%s: %zu ok, %zu failed, %zu skipped\n",
            C(c, ok ? "\033[1;32m" : "\033[1;31m"), (long long)rb_run_id(run), st, C(c, "\033[0m"),
            (double)rb_run_duration_ms(run) / 1000.0, c->nsteps, c->nsteps == 1 ? "" : "s", c->nok,
            c->nfailed, c->nskipped);
    if (rb_run_error(run))
        fprintf(stderr, "  %s\n", rb_run_error(run));
    fprintf(stderr, "  timeline: runbook show %lld\n", (long long)rb_run_id(run));
}

/* ---- options ---- */

static int add_param(json_t *params, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        fprintf(stderr, "runbook run: --param wants KEY=VALUE, got \"%s\"\n", kv);
        return -1;
    }
    char *k = strndup(kv, (size_t)(eq - kv));
    json_t *v = json_string(eq + 1);
    if (!v) {
        fprintf(stderr, "runbook run: --param %s: value is not valid UTF-8\n", k);
        free(k);
        return -1;
    }
    json_object_set_new(params, k, v);
    free(k);
    return 0;
}

static json_t *load_alert(const char *path)
{
    json_error_t e;
    json_t *a = json_load_file(path, 0, &e);
    if (!a) {
        fprintf(stderr, "%s:%d:%d: error: %s\n", path, e.line, e.column, e.text);
        return NULL;
    }
    json_t *alerts = json_object_get(a, "alerts");
    if (json_is_array(alerts)) {
        json_t *first = json_incref(json_array_get(alerts, 0));
        json_decref(a);
        if (!json_is_object(first)) {
            fprintf(stderr, "%s: error: the webhook body holds no alert\n", path);
            json_decref(first);
            return NULL;
        }
        return first;
    }
    if (!json_is_object(a)) {
        fprintf(stderr, "%s: error: an alert must be a JSON object\n", path);
        json_decref(a);
        return NULL;
    }
    return a;
}

int rb_cli_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"param", required_argument, NULL, 'p'}, {"alert", required_argument, NULL, 'a'},
        {"db", required_argument, NULL, 'D'},    {"dir", required_argument, NULL, 'd'},
        {"dry-run", no_argument, NULL, 'n'},     {"format", required_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},       {"help", no_argument, NULL, 'h'},
        {"yes", no_argument, NULL, 'y'},
        {NULL, 0, NULL, 0}};
    cli_run_t c;
    memset(&c, 0, sizeof(c));
    json_t *params = json_object(), *alert = NULL;
    const char *db = rb_cli_default_db(), *dir = NULL;
    int dry = 0, opt, rc = RB_EXIT_USAGE;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "+p:qhy", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (add_param(params, optarg) < 0)
                goto out;
            break;
        case 'a':
            json_decref(alert);
            if (!(alert = load_alert(optarg)))
                goto out;
            break;
        case 'D': db = optarg; break;
        case 'd': dir = optarg; break;
        case 'n': dry = 1; break;
        case 'f':
            if (!strcmp(optarg, "json"))
                c.json = 1;
            else if (strcmp(optarg, "text")) {
                fprintf(stderr, "runbook run: --format must be text or json\n");
                goto out;
            }
            break;
        case 'q': c.quiet = 1; break;
        case 'y': c.yes = 1; break;
        case 'h':
            help(stdout);
            rc = RB_EXIT_OK;
            goto out;
        default: help(stderr); goto out;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "runbook run: give one runbook NAME or FILE\n");
        help(stderr);
        goto out;
    }
    const char *what = argv[optind];
    char *path = NULL;
    path = rb__runbook_locate(what, dir);
    if (!path) {
        fprintf(stderr, "runbook run: no runbook file or runbook named \"%s\" in %s\n", what,
                dir ? dir : "./runbooks or .");
        goto out;
    }
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    if (rb_runbook_load(path, d, &rb) < 0) {
        rb_diags_print(d, stderr, rb_cli_color(2));
        fprintf(stderr, "runbook run: %s is not a valid runbook; nothing was run\n", path);
        rb_diags_free(d);
        free(path);
        goto out;
    }
    rb_diags_free(d);
    free(path);
    char err[512] = "";
    rb_journal_t *j = NULL;
    if (rb_journal_open(db, 0, &j, err, sizeof(err)) < 0) {
        fprintf(stderr, "runbook run: %s\n", err);
        rb_runbook_free(rb);
        goto out;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    rb_run_opts_t o = {.params = params, .alert = alert, .trigger = "cli", .dry_run = dry};
    if (rb_run_new(&loop, rb, j, &o, &c.run, err, sizeof(err)) < 0) {
        fprintf(stderr, "runbook run: %s\n", err);
    } else {
        c.color = !c.json && rb_cli_color(2);
        uv_timer_init(&loop, &c.later);
        c.later.data = &c;
        uv_signal_init(&loop, &c.sigint);
        uv_signal_init(&loop, &c.sigterm);
        c.sigint.data = c.sigterm.data = &c;
        uv_signal_start(&c.sigint, on_signal, SIGINT);
        uv_signal_start(&c.sigterm, on_signal, SIGTERM);
        if (!c.json && !c.quiet)
            fprintf(stderr, "%srun %lld%s: %s (%s)%s\n", C(&c, "\033[1m"), (long long)rb_run_id(c.run),
                    C(&c, "\033[0m"), rb_runbook_name(rb), rb_runbook_path(rb), dry ? " — dry run" : "");
        rb_run_start(c.run, on_event, on_done, &c);
        uv_run(&loop, UV_RUN_DEFAULT);
        const char *st = rb_run_status(c.run);
        rc = !strcmp(st, "resolved") ? RB_EXIT_OK
             : !strcmp(st, "not_confirmed") ? RB_EXIT_NOT_CONFIRMED : RB_EXIT_FAILED;
        rb_run_free(c.run);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "runbook run: internal error: handles left open on the loop\n");
    rb_journal_close(j);
    rb_runbook_free(rb);
out:
    json_decref(params);
    json_decref(alert);
    return rc;
}
