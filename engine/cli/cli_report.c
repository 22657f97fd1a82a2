/*
 * cli_report.c — `runbook report RUN [--format text|md|html|json] [-o FILE]`:
 * the post-incident review of a run, from the journal (--db) or from a
 * running server (--server: its GET /api/v1/runs/ID/report?format=json,
 * written here by the same writers). Thin: engine/review/ builds and
 * writes it (docs/review.md).
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
#include <sys/stat.h>
#include <unistd.h>

static void usage_report(FILE *f)
{
    fprintf(f,
            "usage: runbook report RUN [--format text|md|html|json] [-o FILE]\n"
            "                          [--db FILE | --server URL [--token-file FILE]]\n"
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
            "  -o, --output FILE    write to FILE instead of standard output (- is standard\n"
            "                       output); a database is never written over\n"
            "      --db FILE        the journal, a file or a postgresql:// URL ($RUNBOOK_DB, else ./runbook.db; here: %s)\n"
            "      --server URL     ask a running `runbook serve` at URL ($RUNBOOK_SERVER),\n"
            "                       e.g. http://127.0.0.1:9095, instead of reading a journal\n"
            "      --token-file FILE  the token for --server (else $RUNBOOK_TOKEN)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 written; 2 bad usage, no such run, the journal cannot be read,\n"
            "FILE cannot be written, or the server refused the token (401, 403); 6 the\n"
            "server cannot be reached.\n",
            rb_cli_default_db());
}

/* 1 when the file at path starts with the n bytes of head. */
static int starts_with(const char *path, const void *head, size_t n)
{
    char got[16];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t r = fread(got, 1, n, f);
    fclose(f);
    return r == n && !memcmp(got, head, n);
}

/* 1 when path is a file SQLite owns: a database (a journal, most likely the
 * one being read: `-o runbook.db` for `-o review.html`), a write-ahead log,
 * or the -wal, -shm or -journal name beside a database, whether that file
 * exists now or not (replacing a live journal's WAL loses what the server
 * answered as durable). A symlink is judged by the file it names. */
static int is_database(const char *path)
{
    static const unsigned char wal1[4] = {0x37, 0x7f, 0x06, 0x82}, wal2[4] = {0x37, 0x7f, 0x06, 0x83};
    if (starts_with(path, "SQLite format 3", 16) || starts_with(path, wal1, 4) || starts_with(path, wal2, 4))
        return 1;
    char *real = realpath(path, NULL);
    const char *name = real ? real : path;
    static const char *const beside[] = {"-wal", "-shm", "-journal"};
    int owned = 0;
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof beside / sizeof *beside && !owned; i++) {
        size_t k = strlen(beside[i]);
        if (n > k && !strcmp(name + n - k, beside[i])) {
            char *db = strndup(name, n - k);
            owned = db && starts_with(db, "SQLite format 3", 16);
            free(db);
        }
    }
    free(real);
    return owned;
}

/* A new file beside path (path.XXXXXX, mode 0666 less the umask) that
 * replaces path once written: a report that fails half-way leaves path as
 * it was. *tmp: its name (malloc'd). NULL with errno on failure. */
static FILE *open_beside(const char *path, char **tmp)
{
    if (asprintf(tmp, "%s.XXXXXX", path) < 0) {
        *tmp = NULL;
        return NULL;
    }
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        free(*tmp);
        *tmp = NULL;
        return NULL;
    }
    mode_t um = umask(0);
    umask(um);
    FILE *f = fchmod(fd, 0666 & ~um) == 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int e = errno;
        close(fd);
        unlink(*tmp);
        free(*tmp);
        *tmp = NULL;
        errno = e;
    }
    return f;
}

int rb_cli_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, RB__OPT_DB}, {"format", required_argument, NULL, RB__OPT_FORMAT},
        {"output", required_argument, NULL, 'o'},  {"help", no_argument, NULL, 'h'},
        {"server", required_argument, NULL, RB__OPT_SERVER},
        {"token-file", required_argument, NULL, RB__OPT_TOKEN_FILE},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *format = "text", *output = NULL;
    opts_t srv;
    rb__cli_opts_defaults(&srv);
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
            if (strcmp(optarg, "text") && strcmp(optarg, "md") && strcmp(optarg, "html") && strcmp(optarg, "json"))
                return rb__cli_usage("report", "--format must be text, md, html or json, not '%s'", optarg);
            format = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case RB__OPT_SERVER:
            srv.server = optarg;
            break;
        case RB__OPT_TOKEN_FILE:
            srv.token_file = optarg;
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
    long long id = rb__cli_run_id("report", argv[optind]);
    if (id <= 0)
        return RB_EXIT_USAGE;
    if (output && !strcmp(output, "-"))
        output = NULL; /* -o -: standard output, as the usual tools take it */
    if (output && is_database(output)) {
        fprintf(stderr,
                "runbook report: %s is a database (a journal?) or a file SQLite keeps beside one "
                "(-wal, -shm, -journal): a report never writes over one; give -o another file (review.html)\n",
                output);
        return RB_EXIT_USAGE;
    }
    json_t *rep = NULL;
    if (srv.server) {
        char path[80];
        snprintf(path, sizeof path, "/api/v1/runs/%lld/report?format=json", id);
        int rc = rb__cli_api("report", srv.server, srv.token_file, "GET", path, NULL, &rep);
        if (rc != RB_EXIT_OK)
            return rc;
    } else {
        rb_journal_t *j = rb__cli_open_journal("report", db ? db : rb_cli_default_db());
        if (!j)
            return RB_EXIT_USAGE;
        char err[300] = "";
        int rc = rb_review_report(j, id, &rep, err, sizeof err);
        rb_journal_close(j);
        if (rc < 0) {
            fprintf(stderr, "runbook report: %s\n", err);
            return RB_EXIT_USAGE;
        }
    }
    char *tmp = NULL;
    FILE *f = output ? open_beside(output, &tmp) : stdout;
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
    // cppcheck-suppress useClosedFile -- fflush only where f was not closed (stdout)
    int bad = output ? fclose(f) != 0 : fflush(f) != 0;
    if (!bad && output && rename(tmp, output) != 0)
        bad = 1;
    if (bad) {
        fprintf(stderr, "runbook report: %s: %s\n", output ? output : "stdout", strerror(errno));
        if (tmp)
            unlink(tmp);
    }
    free(tmp);
    return bad ? RB_EXIT_USAGE : RB_EXIT_OK;
}
