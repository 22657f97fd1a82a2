/*
 * cli_replay.c — `runbook replay RUN` (verify) and `runbook replay RUN
 * --with FILE` (what-if): thin; engine/review/ does the work
 * (docs/review.md).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli.h"
#include "cli_out.h"
#include "review/review.h"

#include <runbook/runbook.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage_replay(FILE *f)
{
    fprintf(f,
            "usage: runbook replay RUN [--verify] [--db FILE] [--format text|json]\n"
            "       runbook replay RUN --with FILE [--with-sub FILE]… [--assume ok|failed|STEP=ok|failed]…\n"
            "\n"
            "Runs a recorded run again with every action answered from the journal and\n"
            "nothing executed, and compares every decision (confirm, severity and its rule,\n"
            "each when, attempts, retries and until, goto, rollback and undos, approvals,\n"
            "foreach items, escalations, validation, the final status). Sub-runbooks replay\n"
            "with their parent.\n"
            "\n"
            "With --with FILE (what-if), runs the edited runbook FILE against the recorded\n"
            "incident instead: the recorded alert and params; recorded results answer the\n"
            "steps whose action and rendered parameters match; a new or changed step would\n"
            "run and is answered as --assume says (default ok). Prints both decision paths\n"
            "side by side.\n"
            "\n"
            "Options:\n"
            "      --verify         replay the recorded version (the default)\n"
            "      --with FILE      what-if: replay the edited runbook FILE\n"
            "      --with-sub FILE  what-if: an edited sub-runbook: it replaces the recorded\n"
            "                       version of the runbook of its name (repeatable)\n"
            "      --assume A       what-if: ok or failed for every step without a recording,\n"
            "                       or STEP=ok|failed for one (repeatable)\n"
            "      --db FILE        the journal, a file or a postgresql:// URL ($RUNBOOK_DB, else ./runbook.db; here: %s)\n"
            "      --format FORMAT  text (default) or json\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 identical (what-if: the same decisions); 1 a decision differs\n"
            "(the first divergence is printed: which event, recorded vs replayed); 2 bad\n"
            "usage, no such run, or the journal or a runbook cannot be read.\n",
            rb_cli_default_db());
}

static int add_assume(json_t *assume, const char *v)
{
    const char *eq = strrchr(v, '=');
    const char *word = eq ? eq + 1 : v;
    if (strcmp(word, "ok") && strcmp(word, "failed")) {
        rb__cli_usage("replay", "--assume takes ok, failed, or STEP=ok|failed, not '%s'", v);
        return -1;
    }
    char *name = eq ? strndup(v, (size_t)(eq - v)) : strdup("*");
    json_object_set_new(assume, name, json_string(word));
    free(name);
    return 0;
}

int rb_cli_replay(int argc, char **argv)
{
    enum { O_VERIFY = RB__OPT_NEXT, O_WITH, O_ASSUME, O_WITH_SUB };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, RB__OPT_DB},     {"format", required_argument, NULL, RB__OPT_FORMAT},
        {"verify", no_argument, NULL, O_VERIFY},        {"with", required_argument, NULL, O_WITH},
        {"assume", required_argument, NULL, O_ASSUME}, {"help", no_argument, NULL, 'h'},
        {"with-sub", required_argument, NULL, O_WITH_SUB},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *with = NULL;
    int json = 0, c, verify = 0;
    json_t *assume = json_object();
    const char **subs = calloc((size_t)argc + 1, sizeof *subs);
    size_t nsubs = 0;
    int rc = RB_EXIT_USAGE;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int r = rb__cli_journal_opt(c, "replay", &db, &json);
        if (r > 0)
            goto out;
        if (r == -1)
            continue;
        switch (c) {
        case 'h':
            usage_replay(stdout);
            rc = RB_EXIT_OK;
            goto out;
        case O_VERIFY: verify = 1; break;
        case O_WITH: with = optarg; break;
        case O_WITH_SUB: subs[nsubs++] = optarg; break;
        case O_ASSUME:
            if (add_assume(assume, optarg) < 0)
                goto out;
            break;
        default:
            rc = rb__cli_bad_option("replay", c == ':' ? ':' : '?', argv);
            goto out;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "runbook replay: %s\nTry 'runbook replay --help'.\n",
                optind >= argc ? "which run? (runbook runs lists them)" : "one run at a time");
        goto out;
    }
    if (verify && with) {
        rb__cli_usage("replay", "--verify and --with exclude each other");
        goto out;
    }
    if (json_object_size(assume) && !with) {
        rb__cli_usage("replay", "--assume is for a what-if (--with FILE)");
        goto out;
    }
    if (nsubs && !with) {
        rb__cli_usage("replay", "--with-sub is for a what-if (--with FILE)");
        goto out;
    }
    long long id = rb__cli_run_id("replay", argv[optind]);
    if (id <= 0)
        goto out;
    if (!db)
        db = rb_cli_default_db();
    rb_journal_t *j = rb__cli_open_journal("replay", db);
    if (!j)
        goto out;
    json_t *res = NULL;
    char err[600] = "";
    rb_replay_opts_t o = {.with_path = with, .assume = assume, .with_subs = subs};
    if (rb_review_replay(j, id, &o, &res, err, sizeof err) < 0) {
        fprintf(stderr, "runbook replay: %s\n", err);
        rb_journal_close(j);
        goto out;
    }
    rb_journal_close(j);
    if (json)
        rb__cli_print_json(res);
    else
        rb_review_replay_print(res, stdout, rb_cli_color(1));
    rc = json_is_true(json_object_get(res, "identical")) ? RB_EXIT_OK : RB_EXIT_FAILED;
    json_decref(res);
out:
    free(subs);
    json_decref(assume);
    return rc;
}
