/*
 * cli.h — the subcommands of the `runbook` command line (DESIGN §8).
 * engine/cli/main.c dispatches argv[1] to one of these; each parses its own
 * options with getopt_long, answers --help, and returns the process exit
 * code: 0 success, 1 the run failed (or was not resolved), 2 invalid input
 * or usage (with a diagnostic on stderr).
 */
#ifndef RB_CLI_H
#define RB_CLI_H

#define RB_EXIT_OK     0
#define RB_EXIT_FAILED 1
#define RB_EXIT_USAGE  2
#define RB_EXIT_NOT_CONFIRMED 3 /* a run whose confirm was false: nothing done */
#define RB_EXIT_BUSY 4 /* not started: another run holds its concurrency key, or it cools down */
#define RB_EXIT_INCONCLUSIVE 5 /* the checks confirm needs could not run: nothing done */

/* argv[0] is the subcommand's name ("validate"); options follow. */
int rb_cli_validate(int argc, char **argv);
int rb_cli_run(int argc, char **argv);
int rb_cli_resume(int argc, char **argv);
int rb_cli_runs(int argc, char **argv);
int rb_cli_show(int argc, char **argv);
/* cli_remote.c: answers sent to a running server (--server URL). */
int rb_cli_approve(int argc, char **argv);
int rb_cli_deny(int argc, char **argv);
int rb_cli_cancel(int argc, char **argv);
/* cli_replay.c: replay (verify, what-if); cli_report.c: the post-incident review */
int rb_cli_replay(int argc, char **argv);
int rb_cli_report(int argc, char **argv);
/* cli_audit.c: `audit verify` (exit 1 when tampering is found) and
 * `journal prune`. argv[0] is "audit" / "journal", argv[1] the action. */
int rb_cli_audit(int argc, char **argv);
int rb_cli_journal(int argc, char **argv);
int rb_cli_actions(int argc, char **argv);
/* cli_serve.c: `runbook serve`, and `validate --config FILE`'s check of a
 * server config (prints its diagnostics; RB_EXIT_OK or RB_EXIT_USAGE). */
int rb_cli_serve(int argc, char **argv);
int rb_cli_config_check(const char *path);

/* Loads the action modules of dir (--plugins), or of $RUNBOOK_PLUGINS when
 * dir is NULL; nothing when neither is set. On a refused module prints
 * "runbook CMD: FILE: why" and returns -1 (exit RB_EXIT_USAGE). In
 * cli_actions.c. */
int rb_cli_plugins(const char *cmd, const char *dir);

/* The default journal path when --db is not given: $RUNBOOK_DB or ./runbook.db */
const char *rb_cli_default_db(void);

/* Gives j the private key $RUNBOOK_SIGNING_KEY names, so that each run's
 * end is a signed checkpoint (docs/journal.md); nothing when it is unset
 * or empty. A key that cannot be used (missing, readable by others, not
 * Ed25519) prints "runbook CMD: why" and returns -1: nothing is to run
 * unsigned that was meant to be signed. In cli_audit.c. */
struct rb_journal;
int rb_cli_signing_key(const char *cmd, struct rb_journal *j);

/* 1 when colors may be used on the stream (a TTY and no NO_COLOR). */
int rb_cli_color(int fd);

#endif
