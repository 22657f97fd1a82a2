/*
 * main.c — the `runbook` command: dispatches argv[1] to a subcommand in
 * cli_*.c. Owns nothing else.
 */
#include "cli.h"

#include "journal/journal.h"

#include <runbook/action.h>
#include <runbook/runbook.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"validate", rb_cli_validate, "check runbook files and report errors as file:line:col"},
    {"run", rb_cli_run, "run a runbook now, journaling every step"},
    {"resume", rb_cli_resume, "go on with a run that was interrupted by a crash"},
    {"runs", rb_cli_runs, "list the runs in the journal"},
    {"show", rb_cli_show, "print the timeline of one run"},
    {"approve", rb_cli_approve, "approve the step a run waits on (a running server: --server)"},
    {"deny", rb_cli_deny, "deny the step a run waits on (a running server: --server)"},
    {"cancel", rb_cli_cancel, "cancel a run in flight on a running server (--server)"},
    {"report", rb_cli_report, "the post-incident review of a run: text, Markdown, HTML or JSON"},
    {"replay", rb_cli_replay, "run a recorded run again from the journal and compare every decision"},
    {"audit", rb_cli_audit, "audit verify: check the journal's hash chain for tampering"},
    {"journal", rb_cli_journal, "journal prune: remove old finished runs behind a checkpoint; journal copy: a journal file into PostgreSQL"},
    {"serve", rb_cli_serve, "serve alert webhooks over HTTP: Alertmanager starts runbooks"},
    {"actions", rb_cli_actions, "list the actions (built in and plugins) and their parameters"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: runbook COMMAND [OPTIONS] [ARGS]\n\n"
               "A declarative runbook engine: YAML runbooks that detect, grade and recover\n"
               "from failures, with every step written to a SQLite journal.\n\ncommands:\n");
    for (const command_t *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n`runbook COMMAND --help` (or `runbook help COMMAND`) describes each command.\n"
               "Options may come before or after the arguments; `--` ends them.\n\n"
               "options:\n"
               "  --version   print the version, the journal schema and the action ABI\n"
               "              versions (also: runbook version)\n"
               "  -h, --help  print this help (also: runbook help)\n\n"
               "exit codes:\n"
               "  0 success: the files are valid, the run was resolved\n"
               "  1 the run failed or was cancelled\n"
               "  2 invalid input or usage: a runbook with errors, a bad parameter or option\n"
               "  3 not confirmed: the checks found nothing to do, nothing was acted on\n"
               "  4 not started: another run holds its concurrency key, or it cools down\n"
               "    (serve: another `runbook serve` serves from the same journal)\n"
               "  5 inconclusive: the checks that decide could not run, nothing was acted on\n"
               "  6 the server (--server) cannot be reached or failed: try again later\n");
}

int main(int argc, char **argv)
{
    /* A file-size limit (ulimit -f, systemd's LimitFSIZE=) must end in an
     * error the journal reports ("File too large"), not in SIGXFSZ killing
     * the engine mid-run with nothing said. Steps get the default back
     * (actions/exec.c resets every signal in the child). */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return RB_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") && argc > 2 &&
        (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h") || !strcmp(argv[2], "help"))) { // NOLINT(bugprone-branch-clone): before `help CMD` below
        usage(stdout); /* `runbook help --help`: help answers --help as every command does */
        return RB_EXIT_OK;
    } else if (!strcmp(cmd, "help") && argc > 2) {
        /* `runbook help run` is `runbook run --help` */
        for (const command_t *c = commands; c->name; c++)
            if (!strcmp(c->name, argv[2]))
                return c->fn(2, (char *[]){argv[2], "--help", NULL});
        cmd = argv[2]; /* an unknown command, said so below */
    } else if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return RB_EXIT_OK;
    } else if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        /* The journal files it reads and writes, and the modules it loads. */
        printf("runbook %s\njournal schema %d\naction ABI %d\n", RB_VERSION,
               rb_journal_schema_version(), RB_ACTION_ABI_VERSION);
        return RB_EXIT_OK;
    } else {
        for (const command_t *c = commands; c->name; c++)
            if (!strcmp(c->name, cmd))
                return c->fn(argc - 1, argv + 1);
    }
    /* A usage error is one line and where to read more (docs/cli.md). */
    if (cmd[0] == '-')
        fprintf(stderr, "runbook: unknown option '%s'\n", cmd);
    else
        fprintf(stderr, "runbook: unknown command \"%s\"\n", cmd);
    fprintf(stderr, "Try 'runbook --help'.\n");
    return RB_EXIT_USAGE;
}
