/*
 * cli_out.h — what `runbook runs`, `runbook show` and the other journal
 * commands share: the terminal writer (colors only when asked, text from
 * the journal sanitised so that no escape sequence reaches the terminal),
 * times and durations for people, and the --db/--format options with a
 * read-only journal open. Internal to the CLI.
 */
#ifndef RB_CLI_OUT_H
#define RB_CLI_OUT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "journal/journal.h"

#define RB__RUNS_DEFAULT_LIMIT 20
#define RB__OUT_LINES          5   /* lines of stdout/stderr shown per result */
#define RB__OUT_COLS           160 /* bytes of each such line */
#define RB__DATA_COLS          200 /* bytes of compact JSON shown inline */
#define RB__MSG_LINES          30  /* lines of a drill's message shown */

typedef struct {
    FILE *f;
    int color;
} out_t;

enum { C_NONE, C_GREEN, C_RED, C_YELLOW, C_DIM, C_BOLD };

typedef struct {
    const char *db;
    int json;
    long limit;
    const char *server;     /* --server URL (else $RUNBOOK_SERVER): ask a running server */
    const char *token_file; /* --token-file FILE (else $RUNBOOK_TOKEN) */
} opts_t;

void rb__cli_color_on(out_t *o, int c);
void rb__cli_color_off(out_t *o, int c);
size_t rb__cli_put_clean(out_t *o, const char *s, size_t len, size_t max);
void rb__cli_put_str(out_t *o, const char *s);
/* One finding of the hash-chain check (rb_journal_verify's problems) as a
 * line: "  event #12 (run 3 seq 4, step_finished of step x): what". */
void rb__cli_put_problem(out_t *o, const json_t *p);
/* The first `lines` lines of a captured output stream (a JSON string that
 * may hold NUL bytes), each "LABEL | text" indented, cleaned and cut at
 * RB__OUT_COLS bytes as rb__cli_put_clean does, then how many were left
 * out: how show and live progress print a step's stdout and stderr. */
void rb__cli_put_output(out_t *o, int indent, const char *label, const json_t *v, int lines);
void rb__cli_put_json(out_t *o, const json_t *v, size_t max);
/* What an action would run or ran, as show and live progress print it:
 * "$ argv…" (an argument a shell would split quoted; a number or boolean as
 * its text), "$ shell line", or the action's name and its parameters. */
void rb__cli_put_would_run(out_t *o, const char *action, const json_t *with);
/* What a drill's would_run (the action, its with, and the action's
 * preview when it gave one) says would have been sent or run: with a
 * preview, "slack to http://h:p" and the rendered message below it, each
 * line indented by indent and "| "; else rb__cli_put_would_run's. */
void rb__cli_put_would(out_t *o, int indent, const json_t *would);
/* A notification's channel and where it went, from its result (or a
 * drill's preview): "pagerduty resolve to https://events.pagerduty.com",
 * "email to a@x, b@y", "webhook" (no target). 0, printing nothing, when
 * the result names no channel. */
int rb__cli_put_channel(out_t *o, const json_t *res);
/* The host an ssh step's with names: an inventory host's name, or
 * [user@]address[:port]; nothing when with has no host. */
void rb__cli_put_host(out_t *o, const json_t *with);
/* An ssh step's `with` names a host (a template that gave null names none). */
int rb__cli_has_host(const json_t *with);
/* A foreach item as a label, at most max bytes: an inventory host by its
 * name, a string as itself, anything else as compact JSON. */
void rb__cli_put_item(out_t *o, const json_t *value, size_t max);
int rb__cli_status_color(const char *s);
void rb__cli_fmt_local(int64_t ms, char *buf, size_t len);
void rb__cli_fmt_duration(int64_t ms, char *buf, size_t len);
void rb__cli_fmt_offset(int64_t ms, char *buf, size_t len);
const char *rb__cli_jstr(const json_t *obj, const char *key);
int64_t rb__cli_jint(const json_t *obj, const char *key);
/* getopt_long values of the options every journal command takes. */
enum { RB__OPT_DB = 0x100, RB__OPT_FORMAT, RB__OPT_SERVER, RB__OPT_TOKEN_FILE, RB__OPT_NEXT };
/* --db FILE and --format text|json, given getopt_long's answer c (with
 * optarg). Returns -1 when c was one of them and is taken, 0 when it is
 * another option, or the exit code for a bad value (said on stderr). */
int rb__cli_journal_opt(int c, const char *cmd, const char **db, int *json);
/* What getopt_long (with opterr = 0 and a ':' first in its optstring) said
 * no to, c being its ':' (an option without its value) or '?' (an unknown
 * option): one line on stderr, then "Try 'runbook CMD --help'."; returns
 * RB_EXIT_USAGE. */
int rb__cli_bad_option(const char *cmd, int c, char **argv);
/* A usage error: "runbook CMD: " and the message on stderr, then "Try
 * 'runbook CMD --help'." (docs/cli.md); returns RB_EXIT_USAGE. */
int rb__cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses --db, --format and (with_limit) --limit/-n for a journal command.
 * Returns -1 to go on, or the exit code to return now (help printed,
 * bad usage). */
int rb__cli_parse_opts(int argc, char **argv, const char *cmd, int with_limit, opts_t *o,
                       void (*usage)(FILE *));
/* Opens the journal read-only; on failure says why on stderr. */
rb_journal_t *rb__cli_open_journal(const char *cmd, const char *db);
/* arg as a run id (> 0), or 0 with "runbook CMD: 'arg' is not a run id" said. */
long long rb__cli_run_id(const char *cmd, const char *arg);

/* ---- cli_seal.c: signed checkpoints and anchors (docs/journal.md) ---- */

/* `runbook audit key …` and `runbook audit anchor …` (argv[0] the word). */
int rb__cli_audit_key(int argc, char **argv);
int rb__cli_audit_anchor(int argc, char **argv);
/* Appends the anchors arg holds (an anchor line, or a file of them) to
 * *arr (*n of *cap); -1 with why said on stderr. */
int rb__cli_anchors_add(const char *cmd, const char *arg, rb_journal_anchor_t **arr, size_t *n,
                        size_t *cap);

/* ---- cli_client.c: a running server's API (docs/api.md) ---- */

/* The exit code of a command that could not reach the server, or that the
 * server could not serve (5xx): trying again later may work. */
#define RB_EXIT_UNREACHABLE 6

/* Calls METHOD server+path with the token ($RUNBOOK_TOKEN, or the first
 * line of token_file) and body (NULL: none). Returns RB_EXIT_OK with the
 * answer's JSON in *out (new reference), or says why on stderr as
 * "runbook CMD: …" and returns RB_EXIT_USAGE (401, 403, another 4xx: what
 * the server said) or RB_EXIT_UNREACHABLE (no connection, a 5xx). */
/* The defaults a command that reads a journal or a server starts from:
 * $RUNBOOK_SERVER, no token file, the default --limit. */
void rb__cli_opts_defaults(opts_t *o);
int rb__cli_api(const char *cmd, const char *server, const char *token_file, const char *method,
                const char *path, const json_t *body, json_t **out);
/* A run as rb_journal_run_get's shape (with its events) from the server. */
int rb__cli_api_run(const char *cmd, const opts_t *o, long long id, json_t **out);
int rb__cli_print_json(const json_t *v);
void rb__cli_pad(out_t *o, size_t used, size_t width);

#endif
