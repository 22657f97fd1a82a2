/*
 * cli_remote.c — `runbook approve`, `deny` and `cancel`: the answers that
 * only the process running a run can take, sent to a running `runbook
 * serve` (--server URL or $RUNBOOK_SERVER; docs/api.md): approve or deny
 * the step a run waits on, with a comment; cancel a run in flight. The
 * server journals who (the token's name) before it answers.
 *
 * Owns: nothing past a call. Must never: take a token on the command line.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "cli_out.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cur; /* the command, for the usage text */

static void usage(FILE *f)
{
    if (!strcmp(cur, "cancel"))
        fprintf(f, "usage: runbook cancel RUN [--server URL] [--token-file FILE] [--format text|json]\n"
                   "\n"
                   "Cancels a run in flight on a running `runbook serve`: its action in flight\n"
                   "is stopped and the run ends cancelled, journaled as cancelled by the\n"
                   "token's name.\n");
    else
        fprintf(f, "usage: runbook %s RUN [STEP] [--comment TEXT] [--server URL] [--token-file FILE]\n"
                   "                       [--format text|json]\n"
                   "\n"
                   "%s the step a run waits on (STEP: say which; by default whichever\n"
                   "waits), on a running `runbook serve`. The answer is journaled with the\n"
                   "token's name, the time and the comment; `runbook show RUN` prints it.\n",
                cur, !strcmp(cur, "approve") ? "Approves" : "Denies");
    fprintf(f, "\n"
               "Options:\n"
               "      --server URL     the server ($RUNBOOK_SERVER), e.g. http://127.0.0.1:9095\n"
               "      --token-file F   the token is the first line of F (else $RUNBOOK_TOKEN);\n"
               "                       it must be an operator's\n");
    if (strcmp(cur, "cancel"))
        fprintf(f, "  -m, --comment TEXT   why (journaled with the answer)\n");
    fprintf(f, "      --format FORMAT  text (one line, default) or json (the server's answer)\n"
               "  -h, --help           this help\n"
               "\n"
               "Exit status: 0 done; 2 bad usage, no such run, nothing to %s, or the token\n"
               "refused (401, 403); 6 the server cannot be reached or failed (try again).\n",
               !strcmp(cur, "cancel") ? "cancel" : "answer");
}

static int remote(int argc, char **argv, const char *cmd)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, RB__OPT_SERVER},
        {"token-file", required_argument, NULL, RB__OPT_TOKEN_FILE},
        {"format", required_argument, NULL, RB__OPT_FORMAT},
        {"comment", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cur = cmd;
    int answer = strcmp(cmd, "cancel") != 0;
    const char *server = getenv("RUNBOOK_SERVER"), *token_file = NULL, *comment = NULL,
               *db = NULL;
    int json = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, answer ? ":hm:" : ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return RB_EXIT_OK;
        case RB__OPT_SERVER:
            server = optarg;
            break;
        case RB__OPT_TOKEN_FILE:
            token_file = optarg;
            break;
        case RB__OPT_FORMAT: {
            int rc = rb__cli_journal_opt(c, cmd, &db, &json);
            if (rc >= 0)
                return rc;
            break;
        }
        case 'm':
            if (answer) {
                comment = optarg;
                break;
            }
            /* fall through */
        default:
            return rb__cli_bad_option(cmd, c == ':' ? ':' : '?', argv);
        }
    }
    int args = argc - optind;
    if (args < 1 || args > (answer ? 2 : 1)) {
        fprintf(stderr, args < 1 ? "runbook %s: which run? (runbook %s RUN)\n"
                                 : "runbook %s: too many arguments (runbook %s RUN%s)\n",
                cmd, cmd, answer ? " [STEP]" : "");
        fprintf(stderr, "Try 'runbook %s --help'.\n", cmd);
        return RB_EXIT_USAGE;
    }
    long long id = rb__cli_run_id(cmd, argv[optind]);
    if (id <= 0)
        return RB_EXIT_USAGE;
    if (!server || !*server) {
        fprintf(stderr,
                "runbook %s: which server? Give --server URL or set RUNBOOK_SERVER: only the "
                "`runbook serve` that runs run %lld can %s it\n",
                cmd, id, answer ? "answer for" : "cancel");
        return RB_EXIT_USAGE;
    }
    char path[96];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/%s", id, cmd);
    json_t *body = json_object(), *v = NULL;
    if (answer && args == 2)
        json_object_set_new(body, "step", json_string(argv[optind + 1]));
    if (comment)
        json_object_set_new(body, "comment", json_string(comment));
    int rc = rb__cli_api(cmd, server, token_file, "POST", path, body, &v);
    json_decref(body);
    if (rc != RB_EXIT_OK)
        return rc;
    if (json) {
        rc = rb__cli_print_json(v);
    } else if (answer) {
        printf("run %lld: step %s %s by %s\n", id, rb__cli_jstr(v, "step"),
               rb__cli_jstr(v, "answer"), rb__cli_jstr(v, "by"));
    } else {
        printf("run %lld: cancelling (by %s)\n", id, rb__cli_jstr(v, "by"));
    }
    json_decref(v);
    return rc;
}

int rb_cli_approve(int argc, char **argv)
{
    return remote(argc, argv, "approve");
}

int rb_cli_deny(int argc, char **argv)
{
    return remote(argc, argv, "deny");
}

int rb_cli_cancel(int argc, char **argv)
{
    return remote(argc, argv, "cancel");
}
