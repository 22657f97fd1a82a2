/*
 * cli_report.c — `runbook report RUN [--format text|md|html|json] [-o FILE]`:
 * the post-incident review of a run, from the journal. Thin:
 * engine/review/ builds and writes it (docs/review.md).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli.h"
#include "cli_out.h"
#include "review/review.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage_report(FILE *f)
{
    fprintf(f,
            "usage: runbook report RUN [--format text|md|html|json] [-o FILE] [--db FILE]\n"
            "\n"
            "Writes the post-incident review of a run from the journal: summary, severity\n"
            "and why, duration against the level's targets, the timeline (detection,\n"
            "response, escalation, mitigation, resolution, all clear), every command with\n"
            "its result and an output excerpt, approvals (who, when), notifications,\n"
            "what was skipped and why, the hash-chain status of the run, and empty\n"
            "sections (root cause, what went well or badly, action items) to fill in.\n"
            "\n"
            "Options:\n"
            "      --format F       text (for the terminal, the default), md (Markdown),\n"
            "                       html (one self-contained file: open it in a browser,\n"
            "                       print it), json (the data)\n"
            "  -o, --output FILE    write to FILE instead of standard output\n"
            "      --db FILE        the journal ($RUNBOOK_DB, else ./runbook.db; here: %s)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 written; 2 bad usage, no such run, the journal cannot be read or\n"
            "FILE cannot be written.\n",
            rb_cli_default_db());
}

int rb_cli_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, RB__OPT_DB}, {"format", required_argument, NULL, RB__OPT_FORMAT},
        {"output", required_argument, NULL, 'o'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *format = "text", *output = NULL;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage_report(stdout);
            return RB_EXIT_OK;
        case RB__OPT_DB:
            db = optarg;
            break;
        case RB__OPT_FORMAT:
            if (strcmp(optarg, "text") && strcmp(optarg, "md") && strcmp(optarg, "html") && strcmp(optarg, "json")) {
                fprintf(stderr, "runbook report: --format must be text, md, html or json, not '%s'\n", optarg);
                return RB_EXIT_USAGE;
            }
            format = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        default:
            return rb__cli_bad_option("report", c == ':' ? ':' : '?', argv);
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "runbook report: %s\nTry 'runbook report --help'.\n",
                optind >= argc ? "which run? (runbook runs lists them)" : "one run at a time");
        return RB_EXIT_USAGE;
    }
    char *end;
    long long id = strtoll(argv[optind], &end, 10);
    if (*end || id <= 0) {
        fprintf(stderr, "runbook report: \"%s\" is not a run id\n", argv[optind]);
        return RB_EXIT_USAGE;
    }
    rb_journal_t *j = rb__cli_open_journal("report", db ? db : rb_cli_default_db());
    if (!j)
        return RB_EXIT_USAGE;
    json_t *rep = NULL;
    char err[300] = "";
    int rc = rb_review_report(j, id, &rep, err, sizeof err);
    rb_journal_close(j);
    if (rc < 0) {
        fprintf(stderr, "runbook report: %s\n", err);
        return RB_EXIT_USAGE;
    }
    FILE *f = output ? fopen(output, "w") : stdout;
    if (!f) {
        fprintf(stderr, "runbook report: %s: %s\n", output, strerror(errno));
        json_decref(rep);
        return RB_EXIT_USAGE;
    }
    if (!strcmp(format, "html"))
        rb_review_report_html(rep, f);
    else if (!strcmp(format, "md"))
        rb_review_report_md(rep, f);
    else if (!strcmp(format, "json")) {
        char *s = json_dumps(rep, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        fprintf(f, "%s\n", s ? s : "null");
        free(s);
    } else
        rb_review_report_text(rep, f, !output && rb_cli_color(1));
    json_decref(rep);
    if ((output ? fclose(f) : fflush(f)) != 0) {
        fprintf(stderr, "runbook report: %s: %s\n", output ? output : "stdout", strerror(errno));
        return RB_EXIT_USAGE;
    }
    return RB_EXIT_OK;
}
