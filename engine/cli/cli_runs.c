/*
 * cli_runs.c — `runbook runs`: the journal's runs as a table, newest first
 * (DESIGN §8). Reads the journal read-only, through engine/journal/journal.h.
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

static void usage_runs(FILE *f)
{
    fprintf(f,
            "usage: runbook runs [--db FILE | --server URL] [--limit N] [--format text|json]\n"
            "                    [--runbook NAME] [--status S] [--since WHEN] [--severity L]\n"
            "                    [--trigger T] [--drill | --no-drill]\n"
            "\n"
            "Lists the runs in the journal, newest first; with --server, those of a\n"
            "running `runbook serve` (its /api/v1/runs).\n"
            "\n"
            "Options:\n"
            "      --db FILE        the journal, a file or a postgresql:// URL ($RUNBOOK_DB, else ./runbook.db; here: %s)\n"
            "      --server URL     ask the server at URL ($RUNBOOK_SERVER), e.g.\n"
            "                       http://127.0.0.1:9095, with the token in $RUNBOOK_TOKEN\n"
            "      --token-file F   the token is the first line of F (not $RUNBOOK_TOKEN)\n"
            "  -n, --limit N        at most N runs (default %d; 0 shows all)\n"
            "      --format FORMAT  text (a table, default) or json (an array of runs)\n"
            "      --runbook NAME   only runs of this runbook\n"
            "      --status S       only runs with this status (resolved, failed, running …)\n"
            "      --since WHEN     only runs started since WHEN: a duration ago (2h, 7d),\n"
            "                       or a local date and time (2025-03-14, 2025-03-14 03:00)\n"
            "      --severity L     only runs graded L (P1 …; p1 finds P1 too)\n"
            "      --trigger T      only runs started by T: cli, alert, api, runbook (a\n"
            "                       sub-runbook) … (cli also lists drills)\n"
            "      --drill          only drills (runs of `run --dry-run`)\n"
            "      --no-drill       leave drills out\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 listed; 2 bad usage, the journal cannot be read, or the\n"
            "server refused the token (401, 403); 6 the server cannot be reached.\n",
            rb_cli_default_db(), RB__RUNS_DEFAULT_LIMIT);
}

/* --since: a duration ago ("2h", "7d"), or a local date "YYYY-MM-DD" with
 * an optional time "HH:MM[:SS]" (after a space or a T). ms since the
 * epoch, or -1. */
static int64_t parse_since(const char *s)
{
    uint64_t ago;
    if (rb_duration_parse(s, &ago) == 0)
        return (int64_t)time(NULL) * 1000 - (int64_t)ago;
    static const char *const fmts[] = {"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                                       "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(s, fmts[i], &tm);
        if (end && !*end) {
            tm.tm_isdst = -1;
            time_t t = mktime(&tm);
            return t == (time_t)-1 ? -1 : (int64_t)t * 1000;
        }
    }
    return -1;
}

/* The options of `runs`: the journal's, --limit and the filters. Returns
 * -1 to go on, or the exit code. */
static int parse_runs_opts(int argc, char **argv, opts_t *o, rb_journal_runs_filter_t *f)
{
    enum { O_RUNBOOK = RB__OPT_NEXT, O_STATUS, O_SINCE, O_SEVERITY, O_TRIGGER, O_DRILL, O_NO_DRILL };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, RB__OPT_DB},  {"format", required_argument, NULL, RB__OPT_FORMAT},
        {"limit", required_argument, NULL, 'n'},      {"runbook", required_argument, NULL, O_RUNBOOK},
        {"status", required_argument, NULL, O_STATUS}, {"since", required_argument, NULL, O_SINCE},
        {"severity", required_argument, NULL, O_SEVERITY},
        {"trigger", required_argument, NULL, O_TRIGGER}, {"help", no_argument, NULL, 'h'},
        {"drill", no_argument, NULL, O_DRILL},        {"no-drill", no_argument, NULL, O_NO_DRILL},
        {"server", required_argument, NULL, RB__OPT_SERVER},
        {"token-file", required_argument, NULL, RB__OPT_TOKEN_FILE},
        {NULL, 0, NULL, 0},
    };
    o->db = NULL;
    o->json = 0;
    rb__cli_opts_defaults(o);
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hn:", longopts, NULL)) != -1) {
        int rc = rb__cli_journal_opt(c, "runs", &o->db, &o->json);
        if (rc > 0)
            return rc;
        if (rc == -1)
            continue;
        switch (c) {
        case 'h':
            usage_runs(stdout);
            return RB_EXIT_OK;
        case 'n': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 0 || v > 1000000000)
                return rb__cli_usage("runs", "--limit needs a number >= 0, not '%s'", optarg);
            o->limit = v;
            break;
        }
        case RB__OPT_SERVER: o->server = optarg; break;
        case RB__OPT_TOKEN_FILE: o->token_file = optarg; break;
        case O_RUNBOOK: f->runbook = optarg; break;
        case O_STATUS: {
            /* a status no run can have matches nothing: a typo, said so */
            const char *const *known = rb_journal_run_statuses;
            size_t k = 0;
            while (known[k] && strcmp(known[k], optarg))
                k++;
            if (!known[k])
                return rb__cli_usage("runs", "--status '%s' is no run status: resolved, failed, "
                                             "cancelled, not_confirmed, inconclusive, interrupted, "
                                             "running or waiting_approval", optarg);
            f->status = optarg;
            break;
        }
        case O_SEVERITY: f->severity = optarg; break;
        case O_TRIGGER: f->trigger = optarg; break;
        case O_DRILL:
        case O_NO_DRILL:
            if (f->drill && f->drill != (c == O_DRILL ? 1 : -1))
                return rb__cli_usage("runs", "--drill and --no-drill exclude each other");
            f->drill = c == O_DRILL ? 1 : -1;
            break;
        case O_SINCE:
            f->since_ms = parse_since(optarg);
            if (f->since_ms <= 0)
                return rb__cli_usage("runs", "--since needs a duration (2h, 7d) or a local date "
                                             "and time (2025-03-14 03:00), not '%s'", optarg);
            break;
        default:
            return rb__cli_bad_option("runs", c == ':' ? ':' : '?', argv);
        }
    }
    if (!o->db)
        o->db = rb_cli_default_db();
    return -1;
}

/* A run still open whose process is gone is not going: it is listed
 * interrupted, as the next writer to open the journal will mark it
 * (process_gone: not marked yet). */
static void mark_orphaned(rb_journal_t *j, json_t *runs)
{
    json_t *gone = NULL, *r, *id;
    size_t i, k;
    if (rb_journal_runs_orphaned(j, &gone) != 0)
        return;
    json_array_foreach(runs, i, r)
        json_array_foreach(gone, k, id)
            if (json_equal(id, json_object_get(r, "id"))) {
                json_object_set_new(r, "status", json_string("interrupted"));
                json_object_set_new(r, "process_gone", json_true());
            }
    json_decref(gone);
}

int rb_cli_runs(int argc, char **argv)
{
    opts_t opt;
    rb_journal_runs_filter_t filter;
    memset(&filter, 0, sizeof filter);
    int rc = parse_runs_opts(argc, argv, &opt, &filter);
    if (rc >= 0)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "runbook runs: unexpected argument '%s'\n", argv[optind]);
        fprintf(stderr, "Try 'runbook runs --help'.\n");
        return RB_EXIT_USAGE;
    }
    json_t *runs = NULL;
    char shown[512] = "";
    /* One more than asked, to know whether to say that there are more. */
    filter.limit = opt.limit > 0 ? (int)opt.limit + 1 : 0;
    int filtered = filter.runbook || filter.status || filter.trigger || filter.severity ||
                   filter.since_ms || filter.drill;
    if (opt.server) {
        if (filtered) {
            fprintf(stderr, "runbook runs: --runbook, --status, --since, --severity, --trigger and "
                            "--drill/--no-drill read a journal (--db), not a server\n");
            fprintf(stderr, "Try 'runbook runs --help'.\n");
            return RB_EXIT_USAGE;
        }
        char path[64];
        json_t *v = NULL;
        int limit = filter.limit;
        snprintf(path, sizeof path, "/api/v1/runs?limit=%d", limit && limit <= 10000 ? limit : 10000);
        rc = rb__cli_api("runs", opt.server, opt.token_file, "GET", path, NULL, &v);
        if (rc != RB_EXIT_OK)
            return rc;
        runs = json_incref(json_object_get(v, "runs"));
        json_decref(v);
        if (!json_is_array(runs)) {
            json_decref(runs);
            fprintf(stderr, "runbook runs: the server's answer has no runs\n");
            return RB_EXIT_UNREACHABLE;
        }
    } else {
        rb_journal_t *j = rb__cli_open_journal("runs", opt.db);
        if (!j)
            return RB_EXIT_USAGE;
        if (rb_journal_runs_find(j, &filter, &runs) != 0) {
            fprintf(stderr, "runbook runs: %s\n", rb_journal_errmsg(j));
            rb_journal_close(j);
            return RB_EXIT_USAGE;
        }
        mark_orphaned(j, runs);
        /* the name a message gives it: never a URL's password */
        snprintf(shown, sizeof shown, "%s", rb_journal_name(j));
        rb_journal_close(j);
    }
    int more = opt.limit > 0 && json_array_size(runs) > (size_t)opt.limit;
    if (more)
        json_array_remove(runs, (size_t)opt.limit);

    if (opt.json) {
        rc = rb__cli_print_json(runs);
        json_decref(runs);
        return rc;
    }

    out_t o = { stdout, rb_cli_color(1) };
    if (json_array_size(runs) == 0) {
        printf("no runs%s in %s\n", filtered ? " match" : "", opt.server ? opt.server : shown);
        json_decref(runs);
        return RB_EXIT_OK;
    }
    size_t w_id = 2, w_name = 7, w_status = 6;
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r) {
        char id[32];
        size_t n = (size_t)snprintf(id, sizeof id, "%" PRId64, rb__cli_jint(r, "id"));
        const char *name = rb__cli_jstr(r, "runbook"), *status = rb__cli_jstr(r, "status");
        if (n > w_id)
            w_id = n;
        if (name && strlen(name) > w_name)
            w_name = strlen(name) < 40 ? strlen(name) : 40;
        if (status && strlen(status) > w_status)
            w_status = strlen(status);
    }
    rb__cli_color_on(&o, C_BOLD);
    fprintf(o.f, "%-*s  %-*s  %-*s  %-19s  %s", (int)w_id, "ID", (int)w_name, "RUNBOOK",
            (int)w_status, "STATUS", "STARTED", "DURATION");
    rb__cli_color_off(&o, C_BOLD);
    fputc('\n', o.f);
    json_array_foreach(runs, i, r) {
        const char *name = rb__cli_jstr(r, "runbook"), *status = rb__cli_jstr(r, "status");
        int64_t started = rb__cli_jint(r, "started_at"), ended = rb__cli_jint(r, "ended_at");
        char when[32], dur[32] = "-";
        rb__cli_fmt_local(started, when, sizeof when);
        if (ended >= 0 && started >= 0)
            rb__cli_fmt_duration(ended - started, dur, sizeof dur);
        fprintf(o.f, "%-*" PRId64 "  ", (int)w_id, rb__cli_jint(r, "id"));
        size_t n = 0;
        if (name && strlen(name) > w_name)
            n = rb__cli_put_clean(&o, name, strlen(name), w_name - 3) + 3; /* + "..." */
        else if (name)
            n = rb__cli_put_clean(&o, name, strlen(name), w_name);
        rb__cli_pad(&o, n, w_name + 2);
        int c = rb__cli_status_color(status);
        rb__cli_color_on(&o, c);
        n = status ? rb__cli_put_clean(&o, status, strlen(status), w_status) : 0;
        rb__cli_color_off(&o, c);
        rb__cli_pad(&o, n, w_status + 2);
        /* a drill (runbook run --dry-run) is no incident: said on its line */
        const char *tr = rb__cli_jstr(r, "trigger");
        int drill = tr && strstr(tr, "(drill)");
        fprintf(o.f, "%-19s  %s%s\n", when, dur, drill ? "  (drill)" : "");
    }
    if (more)
        fprintf(stderr, "(the newest %ld run%s; --limit 0 shows all)\n", opt.limit,
                opt.limit == 1 ? "" : "s");
    json_decref(runs);
    return RB_EXIT_OK;
}

