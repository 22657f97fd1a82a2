/*
 * cli_history.c — `runbook runs` and `runbook show RUN` (DESIGN §6, §8):
 * the journal's runs as a table, and one run as a readable timeline.
 *
 * Owns: the text rendering of journal events for people (the words, the
 * colors, how much of a step's output to show). Reads the journal only
 * through engine/journal.h, opened read-only.
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
#include "journal.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RB__RUNS_DEFAULT_LIMIT 20
#define RB__OUT_LINES          5   /* lines of stdout/stderr shown per result */
#define RB__OUT_COLS           160 /* bytes of each such line */
#define RB__DATA_COLS          200 /* bytes of compact JSON shown inline */

typedef struct {
    FILE *f;
    int color;
} out_t;

enum { C_NONE, C_GREEN, C_RED, C_YELLOW, C_DIM, C_BOLD };

static void color_on(out_t *o, int c)
{
    static const char *const seq[] = { "", "\033[32m", "\033[31m", "\033[33m", "\033[2m", "\033[1m" };
    if (o->color && c != C_NONE)
        fputs(seq[c], o->f);
}

static void color_off(out_t *o, int c)
{
    if (o->color && c != C_NONE)
        fputs("\033[0m", o->f);
}

/* Writes at most max bytes of s (stopping at a UTF-8 boundary), with every
 * control character but tab shown as '?'. Returns the bytes consumed. */
static size_t put_clean(out_t *o, const char *s, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc((c < 0x20 && c != '\t') || c == 0x7f ? '?' : c, o->f);
    }
    if (n < len)
        fputs("...", o->f);
    return n;
}

static void put_str(out_t *o, const char *s)
{
    if (s)
        put_clean(o, s, strlen(s), SIZE_MAX);
}

/* Compact JSON, capped; json_dumps escapes control characters itself. */
static void put_json(out_t *o, const json_t *v, size_t max)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (s) {
        put_clean(o, s, strlen(s), max);
        free(s);
    } else {
        fputs("null", o->f);
    }
}

/* Green for a good end, red for a bad one, yellow for the in-between. */
static int status_color(const char *s)
{
    if (!s)
        return C_NONE;
    static const char *const good[] = { "ok", "succeeded", "success", "resolved", NULL };
    static const char *const bad[] = { "failed", "error", "timeout", "timed_out", "aborted",
                                       "verify_failed", "interrupted", "rolled_back",
                                       "not_resolved", NULL };
    static const char *const meh[] = { "skipped", "cancelled", "canceled", "not_confirmed",
                                       "retry", "waiting", "dry_run", NULL };
    for (int i = 0; good[i]; i++)
        if (strcmp(s, good[i]) == 0)
            return C_GREEN;
    for (int i = 0; bad[i]; i++)
        if (strcmp(s, bad[i]) == 0)
            return C_RED;
    for (int i = 0; meh[i]; i++)
        if (strcmp(s, meh[i]) == 0)
            return C_YELLOW;
    return C_NONE;
}

static void fmt_local(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, len, "?");
}

static void fmt_duration(int64_t ms, char *buf, size_t len)
{
    rb_duration_format(ms > 0 ? (uint64_t)ms : 0, buf, len);
}

/* "+1.234s", "+2m05.120s", "+1h02m03s": precise near the start, where
 * steps are short, and readable when an incident ran for hours. */
static void fmt_offset(int64_t ms, char *buf, size_t len)
{
    char sign = ms < 0 ? '-' : '+';
    long long a = ms < 0 ? -(long long)ms : (long long)ms;
    if (a < 60000)
        snprintf(buf, len, "%c%lld.%03llds", sign, a / 1000, a % 1000);
    else if (a < 3600000)
        snprintf(buf, len, "%c%lldm%02lld.%03llds", sign, a / 60000, a / 1000 % 60, a % 1000);
    else
        snprintf(buf, len, "%c%lldh%02lldm%02llds", sign, a / 3600000, a / 60000 % 60,
                 a / 1000 % 60);
}

static const char *jstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* An integer field, or -1 when absent or not an integer. */
static int64_t jint(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* ---- options ---------------------------------------------------------------- */

typedef struct {
    const char *db;
    int json;
    long limit;
} opts_t;

enum { OPT_DB = 0x100, OPT_FORMAT };

static void usage_runs(FILE *f)
{
    fprintf(f,
            "Usage: runbook runs [--db FILE] [--limit N] [--format text|json]\n"
            "\n"
            "Lists the runs in the journal, newest first.\n"
            "\n"
            "Options:\n"
            "      --db FILE        the journal ($RUNBOOK_DB, else ./runbook.db; here: %s)\n"
            "  -n, --limit N        at most N runs (default %d; 0 shows all)\n"
            "      --format FORMAT  text (a table, default) or json (an array of runs)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 listed; 2 bad usage, or the journal cannot be read.\n",
            rb_cli_default_db(), RB__RUNS_DEFAULT_LIMIT);
}

static void usage_show(FILE *f)
{
    fprintf(f,
            "Usage: runbook show RUN [--db FILE] [--format text|json]\n"
            "\n"
            "Shows one run: its runbook version, trigger and parameters, then every\n"
            "event as a timeline from the run's start, with the first lines of each\n"
            "step's output.\n"
            "\n"
            "Options:\n"
            "      --db FILE        the journal ($RUNBOOK_DB, else ./runbook.db; here: %s)\n"
            "      --format FORMAT  text (the timeline, default) or json (the run and all\n"
            "                       its events, as recorded)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 shown; 2 bad usage, no such run, or the journal cannot be read.\n",
            rb_cli_default_db());
}

/* Parses the options both commands share (and --limit where allowed).
 * Returns -1 to go on, or the exit code to return now. */
static int parse_opts(int argc, char **argv, const char *cmd, int with_limit, opts_t *o,
                      void (*usage)(FILE *))
{
    static const struct option longopts[] = {
        { "db", required_argument, NULL, OPT_DB },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "limit", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    o->db = NULL;
    o->json = 0;
    o->limit = RB__RUNS_DEFAULT_LIMIT;
    /* 0, not 1: a full GNU reset, since another subcommand (or a test) may
     * have run getopt in this process before. Our own messages, not
     * getopt's, which would name argv[0] ("runs") as the program. */
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, with_limit ? ":hn:" : ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return RB_EXIT_OK;
        case OPT_DB:
            if (!*optarg) {
                fprintf(stderr, "runbook %s: --db needs a file name\n", cmd);
                return RB_EXIT_USAGE;
            }
            o->db = optarg;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "json") == 0) {
                o->json = 1;
            } else if (strcmp(optarg, "text") == 0) {
                o->json = 0;
            } else {
                fprintf(stderr, "runbook %s: --format must be text or json, not '%s'\n", cmd,
                        optarg);
                return RB_EXIT_USAGE;
            }
            break;
        case 'n': {
            if (!with_limit)
                goto unknown;
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 0 || v > 1000000000) {
                fprintf(stderr, "runbook %s: --limit needs a number >= 0, not '%s'\n", cmd,
                        optarg);
                return RB_EXIT_USAGE;
            }
            o->limit = v;
            break;
        }
        case ':':
            fprintf(stderr, "runbook %s: %s needs a value\n", cmd, argv[optind - 1]);
            fprintf(stderr, "Try 'runbook %s --help'.\n", cmd);
            return RB_EXIT_USAGE;
        default:
        unknown:
            if (optopt && optopt < 0x100)
                fprintf(stderr, "runbook %s: unknown option '-%c'\n", cmd, optopt);
            else
                fprintf(stderr, "runbook %s: unknown option '%s'\n", cmd, argv[optind - 1]);
            fprintf(stderr, "Try 'runbook %s --help'.\n", cmd);
            return RB_EXIT_USAGE;
        }
    }
    if (!o->db)
        o->db = rb_cli_default_db();
    return -1;
}

/* Opens the journal read-only; on failure says why on stderr. A missing
 * file gets its own message: it almost always means "wrong directory". */
static rb_journal_t *open_journal(const char *cmd, const char *db)
{
    if (access(db, F_OK) != 0 && errno == ENOENT) {
        fprintf(stderr,
                "runbook %s: no journal at %s (nothing has run here yet? pass --db FILE or"
                " set RUNBOOK_DB)\n",
                cmd, db);
        return NULL;
    }
    rb_journal_t *j = NULL;
    char err[512];
    if (rb_journal_open(db, RB_JOURNAL_READONLY, &j, err, sizeof err) != 0) {
        fprintf(stderr, "runbook %s: %s\n", cmd, err);
        return NULL;
    }
    return j;
}

static int print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (!s)
        return RB_EXIT_FAILED;
    puts(s);
    free(s);
    return RB_EXIT_OK;
}

/* ---- runbook runs ---------------------------------------------------------- */

static void pad(out_t *o, size_t used, size_t width)
{
    for (size_t i = used; i < width; i++)
        fputc(' ', o->f);
}

int rb_cli_runs(int argc, char **argv)
{
    opts_t opt;
    int rc = parse_opts(argc, argv, "runs", 1, &opt, usage_runs);
    if (rc >= 0)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "runbook runs: unexpected argument '%s'\n", argv[optind]);
        fprintf(stderr, "Try 'runbook runs --help'.\n");
        return RB_EXIT_USAGE;
    }
    rb_journal_t *j = open_journal("runs", opt.db);
    if (!j)
        return RB_EXIT_USAGE;
    json_t *runs = NULL;
    /* One more than asked, to know whether to say that there are more. */
    int limit = opt.limit > 0 ? (int)opt.limit + 1 : 0;
    if (rb_journal_runs(j, limit, &runs) != 0) {
        fprintf(stderr, "runbook runs: %s\n", rb_journal_errmsg(j));
        rb_journal_close(j);
        return RB_EXIT_USAGE;
    }
    rb_journal_close(j);
    int more = opt.limit > 0 && json_array_size(runs) > (size_t)opt.limit;
    if (more)
        json_array_remove(runs, (size_t)opt.limit);

    if (opt.json) {
        rc = print_json(runs);
        json_decref(runs);
        return rc;
    }

    out_t o = { stdout, rb_cli_color(1) };
    if (json_array_size(runs) == 0) {
        printf("no runs in %s\n", opt.db);
        json_decref(runs);
        return RB_EXIT_OK;
    }
    size_t w_id = 2, w_name = 7, w_status = 6;
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r) {
        char id[32];
        size_t n = (size_t)snprintf(id, sizeof id, "%" PRId64, jint(r, "id"));
        const char *name = jstr(r, "runbook"), *status = jstr(r, "status");
        if (n > w_id)
            w_id = n;
        if (name && strlen(name) > w_name)
            w_name = strlen(name) < 40 ? strlen(name) : 40;
        if (status && strlen(status) > w_status)
            w_status = strlen(status);
    }
    color_on(&o, C_BOLD);
    fprintf(o.f, "%-*s  %-*s  %-*s  %-19s  %s", (int)w_id, "ID", (int)w_name, "RUNBOOK",
            (int)w_status, "STATUS", "STARTED", "DURATION");
    color_off(&o, C_BOLD);
    fputc('\n', o.f);
    json_array_foreach(runs, i, r) {
        const char *name = jstr(r, "runbook"), *status = jstr(r, "status");
        int64_t started = jint(r, "started_at"), ended = jint(r, "ended_at");
        char when[32], dur[32] = "-";
        fmt_local(started, when, sizeof when);
        if (ended >= 0 && started >= 0)
            fmt_duration(ended - started, dur, sizeof dur);
        fprintf(o.f, "%-*" PRId64 "  ", (int)w_id, jint(r, "id"));
        size_t n = 0;
        if (name && strlen(name) > w_name)
            n = put_clean(&o, name, strlen(name), w_name - 3) + 3; /* + "..." */
        else if (name)
            n = put_clean(&o, name, strlen(name), w_name);
        pad(&o, n, w_name + 2);
        int c = status_color(status);
        color_on(&o, c);
        n = status ? put_clean(&o, status, strlen(status), w_status) : 0;
        color_off(&o, c);
        pad(&o, n, w_status + 2);
        fprintf(o.f, "%-19s  %s\n", when, dur);
    }
    if (more)
        fprintf(stderr, "(the newest %ld run%s; --limit 0 shows all)\n", opt.limit,
                opt.limit == 1 ? "" : "s");
    json_decref(runs);
    return RB_EXIT_OK;
}

/* ---- runbook show ---------------------------------------------------------- */

/* Prints the first lines of a captured output stream, indented under the
 * event, and how many lines were left out. */
static void put_output(out_t *o, int indent, const char *label, const char *s)
{
    if (!s || !*s)
        return;
    size_t len = strlen(s);
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    if (!len)
        return;
    int shown = 0, total = 0;
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        total++;
        if (shown < RB__OUT_LINES) {
            size_t n = (size_t)(le - p);
            if (n && p[n - 1] == '\r')
                n--;
            fprintf(o->f, "%*s", indent, "");
            color_on(o, C_DIM);
            fprintf(o->f, "%s | ", label);
            color_off(o, C_DIM);
            put_clean(o, p, n, RB__OUT_COLS);
            fputc('\n', o->f);
            shown++;
        }
        p = nl ? nl + 1 : end;
    }
    if (total > shown) {
        fprintf(o->f, "%*s", indent, "");
        color_on(o, C_DIM);
        fprintf(o->f, "%s | ... (%d more line%s)", label, total - shown,
                total - shown == 1 ? "" : "s");
        color_off(o, C_DIM);
        fputc('\n', o->f);
    }
}

/* A command as one would type it: arguments that a shell would split or
 * interpret are single-quoted. */
static void put_argv(out_t *o, const json_t *argv)
{
    size_t i;
    json_t *a;
    json_array_foreach(argv, i, a) {
        if (i)
            fputc(' ', o->f);
        const char *s = json_string_value(a);
        if (!s) {
            put_json(o, a, 40);
            continue;
        }
        int plain = *s != '\0';
        for (const char *c = s; *c && plain; c++)
            plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                           "_@%+=:,./-", *c) != NULL;
        if (plain) {
            put_str(o, s);
            continue;
        }
        fputc('\'', o->f);
        for (const char *c = s; *c; c++) {
            if (*c == '\'')
                fputs("'\\''", o->f);
            else
                put_clean(o, c, 1, 1);
        }
        fputc('\'', o->f);
    }
}

/* "ok (exit 0, 2 attempts, 120ms)" — the outcome word and the facts an
 * operator checks first. attempts < 0: not shown. */
static void put_outcome(out_t *o, const char *word, const json_t *result, int64_t attempts,
                        int64_t duration_ms)
{
    int c = status_color(word);
    color_on(o, c);
    put_str(o, word);
    color_off(o, c);
    const char *sep = " (";
    if (jint(result, "exit_code") >= 0) {
        fprintf(o->f, "%sexit %" PRId64, sep, jint(result, "exit_code"));
        sep = ", ";
    }
    json_t *sig = json_object_get(result, "signal");
    if ((json_is_integer(sig) && json_integer_value(sig) > 0) ||
        (json_is_string(sig) && *json_string_value(sig))) {
        fputs(sep, o->f);
        fputs("signal ", o->f);
        if (json_is_string(sig))
            put_str(o, json_string_value(sig));
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
        duration_ms = jint(result, "duration_ms");
    if (duration_ms >= 0) {
        char d[32];
        fmt_duration(duration_ms, d, sizeof d);
        fprintf(o->f, "%s%s", sep, d);
        sep = ", ";
    }
    if (sep[0] == ',')
        fputc(')', o->f);
    const char *error = jstr(result, "error");
    if (error && *error) {
        fputs(": ", o->f);
        put_clean(o, error, strlen(error), RB__OUT_COLS);
    }
}

/* The word for a result: its status when that is a word, else ok/failed. */
static const char *outcome_word(const json_t *obj)
{
    const char *s = jstr(obj, "outcome");
    if (!s)
        s = jstr(obj, "status");
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
    put_str(o, step ? step : "?");
}

/* What an attempt ran for: a step, a check, an undo, a notification. */
static void put_subject(out_t *o, const char *step, const char *phase)
{
    if (phase && (!strcmp(phase, "check") || !strcmp(phase, "notify") || !strcmp(phase, "undo") ||
                  !strcmp(phase, "escalate"))) {
        fputs(!strcmp(phase, "check") ? "check " : !strcmp(phase, "undo") ? "undo " : "notify ", o->f);
        put_str(o, step ? step : "?");
        return;
    }
    put_step(o, step);
}

/* The run-level events (phases, decisions, approvals, rollback,
 * escalation): one line each. Returns 0 for a type it does not know. */
static int put_run_event(out_t *o, const char *type, const char *step, const json_t *data)
{
    char d1[32], d2[32];
    if (!strcmp(type, "phase_started")) {
        fprintf(o->f, "%s: %" PRId64 " checks", jstr(data, "phase") ? jstr(data, "phase") : "?",
                jint(data, "checks"));
    } else if (!strcmp(type, "check_finished")) {
        fputs("check ", o->f);
        put_str(o, step ? step : "?");
        fputs(": ", o->f);
        put_outcome(o, json_is_true(json_object_get(data, "ok")) ? "ok" : "failed",
                    json_object_get(data, "result"), -1, -1);
    } else if (!strcmp(type, "confirm")) {
        int yes = json_is_true(json_object_get(data, "confirmed"));
        color_on(o, yes ? C_RED : C_GREEN);
        fputs(yes ? "confirmed: the failure is real" : "not confirmed: nothing done", o->f);
        color_off(o, yes ? C_RED : C_GREEN);
    } else if (!strcmp(type, "severity_assigned")) {
        fmt_duration(jint(data, "respond_ms"), d1, sizeof d1);
        fmt_duration(jint(data, "resolve_ms"), d2, sizeof d2);
        color_on(o, C_BOLD);
        fputs("severity ", o->f);
        put_str(o, jstr(data, "level") ? jstr(data, "level") : "?");
        color_off(o, C_BOLD);
        fprintf(o->f, " (respond within %s, resolve within %s)", d1, d2);
    } else if (!strcmp(type, "declared")) {
        fputs("incident declared", o->f);
    } else if (!strcmp(type, "notification_sent")) {
        json_t *res = json_object_get(data, "result");
        fputs("notify ", o->f);
        put_str(o, step ? step : "?");
        fputs(": ", o->f);
        put_outcome(o, json_is_true(json_object_get(res, "ok")) ? "sent" : "failed", res, -1, -1);
    } else if (!strncmp(type, "approval_", 9)) {
        put_step(o, step);
        int c = !strcmp(type, "approval_granted") ? C_GREEN : C_YELLOW;
        color_on(o, c);
        fprintf(o->f, " %s", !strcmp(type, "approval_requested") ? "waits for approval"
                             : !strcmp(type, "approval_granted")  ? "approved"
                             : !strcmp(type, "approval_denied")   ? "denied"
                                                                  : "approval timed out");
        color_off(o, c);
        if (jstr(data, "by")) {
            fputs(" by ", o->f);
            put_str(o, jstr(data, "by"));
        }
        if (jstr(data, "outcome")) {
            fputs(": ", o->f);
            put_str(o, jstr(data, "outcome"));
        }
    } else if (!strcmp(type, "rollback_started")) {
        color_on(o, C_YELLOW);
        fprintf(o->f, "rollback: undoing %" PRId64 " step(s)", jint(data, "undo_steps"));
        color_off(o, C_YELLOW);
    } else if (!strcmp(type, "undo_started")) {
        fputs("undo ", o->f);
        put_str(o, step ? step : "?");
        fputs(" started", o->f);
    } else if (!strcmp(type, "undo_finished")) {
        fputs("undo ", o->f);
        put_str(o, step ? step : "?");
        fputs(": ", o->f);
        put_outcome(o, json_is_true(json_object_get(data, "ok")) ? "ok" : "failed",
                    json_object_get(data, "result"), -1, -1);
    } else if (!strcmp(type, "escalated")) {
        fmt_duration(jint(data, "after_ms"), d1, sizeof d1);
        color_on(o, C_RED);
        fprintf(o->f, "escalated (level %" PRId64 ", after %s)", jint(data, "level"), d1);
        color_off(o, C_RED);
    } else if (!strcmp(type, "cancel_requested")) {
        fputs("cancel requested", o->f);
    } else {
        return 0;
    }
    return 1;
}

typedef struct {
    const json_t *events;
    size_t index;         /* of the event being printed */
    const char *out_step; /* step and attempt whose output was shown last */
    int64_t out_attempt;
} show_state_t;

/* Whether the step has events after the current one. The routine parts of
 * a step (its first attempt starting, an attempt that succeeded) are left
 * out of the timeline when what follows says the same; but when the run
 * stopped right there (a crash, an interrupted run), they are the news. */
static int step_goes_on(const show_state_t *s, const char *step)
{
    if (!step)
        return 0;
    for (size_t i = s->index + 1; i < json_array_size(s->events); i++) {
        const char *other = jstr(json_array_get(s->events, i), "step");
        if (other && strcmp(other, step) == 0)
            return 1;
    }
    return 0;
}

/* One event, one line (plus output lines for finished work). */
static void put_event(out_t *o, const json_t *ev, int64_t base_ms, int offset_w, show_state_t *s)
{
    const char *type = jstr(ev, "type");
    const char *step = jstr(ev, "step");
    int64_t attempt = jint(ev, "attempt");
    json_t *data = json_object_get(ev, "data");
    if (!type)
        type = "?";
    /* The outcome of a step's `verify` is news even when it passes. */
    const char *phase = jstr(data, "phase");
    int verify = phase && strcmp(phase, "verify") == 0;
    if (strcmp(type, "attempt_started") == 0 && attempt <= 1 && step_goes_on(s, step))
        return;
    if (!verify && strcmp(type, "attempt_finished") == 0 &&
        json_is_true(json_object_get(json_object_get(data, "result"), "ok")) &&
        step_goes_on(s, step))
        return;
    char off[32];
    fmt_offset(jint(ev, "wall_ms") - base_ms, off, sizeof off);
    color_on(o, C_DIM);
    fprintf(o->f, "%*s", offset_w, off);
    color_off(o, C_DIM);
    fputs("  ", o->f);
    const int indent = offset_w + 4;

    if (strcmp(type, "run_started") == 0) {
        fputs("run started", o->f);
        if (json_is_true(json_object_get(data, "dry_run"))) {
            color_on(o, C_YELLOW);
            fputs(" (dry run: no side effects)", o->f);
            color_off(o, C_YELLOW);
        }
    } else if (strcmp(type, "step_started") == 0) {
        put_step(o, step);
        fputs(" started", o->f);
        json_t *with = json_object_get(data, "with");
        const char *action = jstr(data, "action");
        json_t *argv = json_object_get(with, "argv");
        const char *shell = jstr(with, "shell");
        if (json_is_array(argv)) {
            fputs(": $ ", o->f);
            put_argv(o, argv);
        } else if (shell) {
            fputs(": $ ", o->f);
            put_clean(o, shell, strlen(shell), RB__DATA_COLS);
        } else if (action) {
            fputs(": ", o->f);
            put_str(o, action);
            if (json_object_size(with)) {
                fputc(' ', o->f);
                put_json(o, with, RB__DATA_COLS);
            }
        }
        const char *when = jstr(data, "when");
        if (when) {
            color_on(o, C_DIM);
            fputs(" (when ", o->f);
            put_clean(o, when, strlen(when), RB__DATA_COLS);
            fputc(')', o->f);
            color_off(o, C_DIM);
        }
    } else if (put_run_event(o, type, step, data)) {
        /* printed */
    } else if (strcmp(type, "attempt_started") == 0) {
        int64_t n = jint(data, "attempt") > 0 ? jint(data, "attempt") : attempt;
        int c = n > 1 ? C_YELLOW : C_NONE;
        put_subject(o, step, phase);
        fputs(verify ? " verify" : "", o->f);
        color_on(o, c);
        fprintf(o->f, " attempt %" PRId64, n);
        color_off(o, c);
        if (jint(data, "of") > 1)
            fprintf(o->f, " of %" PRId64, jint(data, "of"));
    } else if (strcmp(type, "attempt_finished") == 0) {
        json_t *res = json_object_get(data, "result");
        put_subject(o, step, phase);
        fprintf(o->f, "%s attempt %" PRId64 ": ", verify ? " verify" : "", attempt);
        put_outcome(o, outcome_word(res), res, -1, -1);
        fputc('\n', o->f);
        put_output(o, indent, "stdout", jstr(res, "stdout"));
        put_output(o, indent, "stderr", jstr(res, "stderr"));
        if (!verify) {
            s->out_step = step;
            s->out_attempt = attempt;
        }
        return;
    } else if (strcmp(type, "step_retry") == 0) {
        put_step(o, step);
        color_on(o, C_YELLOW);
        fputs(" retry", o->f);
        color_off(o, C_YELLOW);
        int64_t next = jint(data, "next_attempt") > 0 ? jint(data, "next_attempt")
                                                      : jint(data, "attempt");
        if (next > 0)
            fprintf(o->f, ": attempt %" PRId64, next);
        if (jint(data, "delay_ms") >= 0) {
            char d[32];
            fmt_duration(jint(data, "delay_ms"), d, sizeof d);
            fprintf(o->f, " in %s", d);
        }
        json_t *reason = json_object_get(data, "reason");
        if (json_is_string(reason)) {
            fputs(" (", o->f);
            put_clean(o, json_string_value(reason), strlen(json_string_value(reason)),
                      RB__DATA_COLS);
            fputc(')', o->f);
        } else if (reason) {
            fputc(' ', o->f);
            put_json(o, reason, RB__DATA_COLS);
        }
    } else if (strcmp(type, "step_skipped") == 0) {
        put_step(o, step);
        color_on(o, C_YELLOW);
        fputs(" skipped", o->f);
        color_off(o, C_YELLOW);
        const char *reason = jstr(data, "reason");
        if (reason) {
            fputs(": ", o->f);
            put_clean(o, reason, strlen(reason), RB__DATA_COLS);
        }
    } else if (strcmp(type, "step_finished") == 0) {
        json_t *res = json_object_get(data, "result");
        int64_t attempts = jint(data, "attempts");
        put_step(o, step);
        fputs(" finished: ", o->f);
        put_outcome(o, outcome_word(data), res, attempts, jint(data, "duration_ms"));
        fputc('\n', o->f);
        /* The last attempt's output was just shown with it. */
        int64_t last = attempts > 0 ? attempts : attempt;
        if (!(s->out_step && step && strcmp(s->out_step, step) == 0 && s->out_attempt == last)) {
            put_output(o, indent, "stdout", jstr(res, "stdout"));
            put_output(o, indent, "stderr", jstr(res, "stderr"));
        }
        s->out_step = NULL;
        return;
    } else if (strcmp(type, "run_finished") == 0) {
        const char *status = jstr(data, "status");
        int c = status_color(status);
        fputs("run finished: ", o->f);
        color_on(o, c);
        put_str(o, status ? status : "?");
        color_off(o, c);
        if (jint(data, "duration_ms") >= 0) {
            char d[32];
            fmt_duration(jint(data, "duration_ms"), d, sizeof d);
            fprintf(o->f, " (%s)", d);
        }
        json_t *error = json_object_get(data, "error");
        if (json_is_string(error)) {
            fputs(": ", o->f);
            put_clean(o, json_string_value(error), strlen(json_string_value(error)),
                      RB__DATA_COLS);
        } else if (error && !json_is_null(error)) {
            fputs(": ", o->f);
            put_json(o, error, RB__DATA_COLS);
        }
    } else if (strcmp(type, "log") == 0) {
        const char *level = jstr(data, "level"), *msg = jstr(data, "message");
        int c = level && (strcmp(level, "error") == 0) ? C_RED
              : level && (strncmp(level, "warn", 4) == 0) ? C_YELLOW : C_NONE;
        if (step) {
            put_step(o, step);
            fputs(": ", o->f);
        }
        color_on(o, c);
        fputs("log", o->f);
        if (level && strcmp(level, "info") != 0) {
            fputc(' ', o->f);
            put_str(o, level);
        }
        color_off(o, c);
        fputs(": ", o->f);
        if (msg)
            put_clean(o, msg, strlen(msg), SIZE_MAX);
    } else {
        /* A type this version does not know: everything, generically. */
        put_str(o, type);
        if (step) {
            fputs(" step=", o->f);
            put_str(o, step);
        }
        if (attempt > 0)
            fprintf(o->f, " attempt=%" PRId64, attempt);
        if (json_object_size(data)) {
            fputc(' ', o->f);
            put_json(o, data, RB__DATA_COLS);
        }
    }
    fputc('\n', o->f);
}

static void show_text(out_t *o, const json_t *run)
{
    const char *sha = jstr(run, "sha256");
    const char *status = jstr(run, "status");
    const char *trigger = jstr(run, "trigger");
    int64_t started = jint(run, "started_at"), ended = jint(run, "ended_at");

    color_on(o, C_BOLD);
    fprintf(o->f, "run %" PRId64 ": ", jint(run, "id"));
    put_str(o, jstr(run, "runbook"));
    color_off(o, C_BOLD);
    if (sha)
        fprintf(o->f, " (version %.12s)", sha);
    fputc('\n', o->f);

    int c = status_color(status);
    fputs("  status   ", o->f);
    color_on(o, c);
    put_str(o, status ? status : "?");
    color_off(o, c);
    fputs("\n  trigger  ", o->f);
    put_str(o, trigger ? trigger : "-");
    fputs("\n  params   ", o->f);
    put_json(o, json_object_get(run, "params"), SIZE_MAX);
    char when[32], dur[32];
    fmt_local(started, when, sizeof when);
    fprintf(o->f, "\n  started  %s", when);
    if (ended >= 0) {
        fmt_local(ended, when, sizeof when);
        fmt_duration(ended - started, dur, sizeof dur);
        fprintf(o->f, "\n  ended    %s (%s)", when, dur);
    }
    fputs("\n\n", o->f);

    json_t *events = json_object_get(run, "events");
    if (json_array_size(events) == 0) {
        fputs("  (no events)\n", o->f);
        return;
    }
    /* One width for the offsets column, from the longest (the last). */
    char off[32];
    json_t *last = json_array_get(events, json_array_size(events) - 1);
    fmt_offset(jint(last, "wall_ms") - started, off, sizeof off);
    int w = (int)strlen(off) < 9 ? 9 : (int)strlen(off);
    show_state_t st = { events, 0, NULL, 0 };
    json_t *ev;
    json_array_foreach(events, st.index, ev)
        put_event(o, ev, started, w, &st);
}

int rb_cli_show(int argc, char **argv)
{
    opts_t opt;
    int rc = parse_opts(argc, argv, "show", 0, &opt, usage_show);
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
    const char *arg = argv[optind];
    char *end;
    errno = 0;
    long long id = strtoll(arg, &end, 10);
    if (errno || end == arg || *end || id <= 0) {
        fprintf(stderr, "runbook show: '%s' is not a run id (a number, as `runbook runs` lists)\n",
                arg);
        return RB_EXIT_USAGE;
    }

    rb_journal_t *j = open_journal("show", opt.db);
    if (!j)
        return RB_EXIT_USAGE;
    json_t *run = NULL;
    rc = rb_journal_run_get(j, id, &run);
    if (rc == RB_ENOTFOUND) {
        fprintf(stderr, "runbook show: no run %lld in %s\n", id, opt.db);
        rb_journal_close(j);
        return RB_EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "runbook show: %s\n", rb_journal_errmsg(j));
        rb_journal_close(j);
        return RB_EXIT_USAGE;
    }
    rb_journal_close(j);

    if (opt.json) {
        rc = print_json(run);
    } else {
        out_t o = { stdout, rb_cli_color(1) };
        show_text(&o, run);
        rc = RB_EXIT_OK;
    }
    json_decref(run);
    return rc;
}
