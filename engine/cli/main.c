/*
 * main.c — the `runbook` command: dispatches argv[1] to a subcommand in
 * cli_*.c. Owns nothing else.
 */
#include "cli.h"

#include <runbook/runbook.h>

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
    {"audit", rb_cli_audit, "audit verify: check the journal's hash chain for tampering"},
    {"journal", rb_cli_journal, "journal prune: remove old finished runs behind a checkpoint"},
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
    fprintf(f, "\n`runbook COMMAND --help` describes each command.\n"
               "exit codes: 0 success (a run: resolved), 1 the run failed or was cancelled,\n"
               "  2 invalid input or usage, 3 not confirmed (the checks found nothing to do),\n"
               "  4 not started (its concurrency key is held, or it cools down), 5 inconclusive\n"
               "  (a check that confirm needs could not run; nothing was done).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return RB_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return RB_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("runbook %s\n", RB_VERSION);
        return RB_EXIT_OK;
    }
    for (const command_t *c = commands; c->name; c++)
        if (!strcmp(c->name, cmd))
            return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "runbook: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return RB_EXIT_USAGE;
}
