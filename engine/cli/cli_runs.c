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
            "Usage: runbook runs [--db FILE | --server URL] [--limit N] [--format text|json]\n"
            "\n"
            "Lists the runs in the journal, newest first; with --server, those of a\n"
            "running `runbook serve` (its /api/v1/runs).\n"
            "\n"
            "Options:\n"
            "      --db FILE        the journal ($RUNBOOK_DB, else ./runbook.db; here: %s)\n"
            "      --server URL     ask the server at URL ($RUNBOOK_SERVER), e.g.\n"
            "                       http://127.0.0.1:9095, with the token in $RUNBOOK_TOKEN\n"
            "      --token-file F   the token is the first line of F (not $RUNBOOK_TOKEN)\n"
            "  -n, --limit N        at most N runs (default %d; 0 shows all)\n"
            "      --format FORMAT  text (a table, default) or json (an array of runs)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 listed; 2 bad usage, the journal cannot be read, or the\n"
            "server refused the token (401, 403); 6 the server cannot be reached.\n",
            rb_cli_default_db(), RB__RUNS_DEFAULT_LIMIT);
}

int rb_cli_runs(int argc, char **argv)
{
    opts_t opt;
    int rc = rb__cli_parse_opts(argc, argv, "runs", 1, &opt, usage_runs);
    if (rc >= 0)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "runbook runs: unexpected argument '%s'\n", argv[optind]);
        fprintf(stderr, "Try 'runbook runs --help'.\n");
        return RB_EXIT_USAGE;
    }
    json_t *runs = NULL;
    /* One more than asked, to know whether to say that there are more. */
    int limit = opt.limit > 0 ? (int)opt.limit + 1 : 0;
    if (opt.server) {
        char path[64];
        json_t *v = NULL;
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
        if (rb_journal_runs(j, limit, &runs) != 0) {
            fprintf(stderr, "runbook runs: %s\n", rb_journal_errmsg(j));
            rb_journal_close(j);
            return RB_EXIT_USAGE;
        }
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
        printf("no runs in %s\n", opt.server ? opt.server : opt.db);
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
        fprintf(o.f, "%-19s  %s\n", when, dur);
    }
    if (more)
        fprintf(stderr, "(the newest %ld run%s; --limit 0 shows all)\n", opt.limit,
                opt.limit == 1 ? "" : "s");
    json_decref(runs);
    return RB_EXIT_OK;
}

