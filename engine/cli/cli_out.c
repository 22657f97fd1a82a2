/*
 * cli_out.c — the terminal writer and options the journal commands share
 * (see cli_out.h). Owns no state.
 *
 * Must never: write to the journal, or print text from the journal
 * unsanitised — step output and alert labels come from outside.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli.h"
#include "cli_out.h"
#include "base/text.h"
#include "journal/journal.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


void rb__cli_color_on(out_t *o, int c)
{
    static const char *const seq[] = { "", "\033[32m", "\033[31m", "\033[33m", "\033[2m", "\033[1m" };
    if (o->color && c != C_NONE)
        fputs(seq[c], o->f);
}

void rb__cli_color_off(out_t *o, int c)
{
    if (o->color && c != C_NONE)
        fputs("\033[0m", o->f);
}

/* Writes at most max bytes of s (stopping at a UTF-8 boundary), with every
 * control character but tab shown as '?': C0, DEL, C1, U+2028/9 and the
 * bidirectional controls, the characters rb_text_break_len knows (the same
 * table the notify messages make a space of). Returns the bytes consumed. */
size_t rb__cli_put_clean(out_t *o, const char *s, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    for (size_t i = 0; i < n;) {
        size_t b = s[i] == '\t' ? 0 : rb_text_break_len(s + i, n - i);
        fputc(b ? '?' : s[i], o->f);
        i += b ? b : 1;
    }
    if (n < len)
        fputs("...", o->f);
    return n;
}

/* Prints the first lines of a captured output stream (a JSON string, which
 * may hold NUL bytes: its length is jansson's, not strlen's), indented under
 * the event, and how many lines were left out. */
void rb__cli_put_output(out_t *o, int indent, const char *label, const json_t *v, int lines)
{
    const char *s = json_string_value(v);
    if (!s)
        return;
    size_t len = json_string_length(v);
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    if (!len)
        return;
    int shown = 0, total = 0;
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        total++;
        if (shown < lines) {
            size_t n = (size_t)(le - p);
            if (n && p[n - 1] == '\r')
                n--;
            fprintf(o->f, "%*s", indent, "");
            rb__cli_color_on(o, C_DIM);
            fprintf(o->f, "%s | ", label);
            rb__cli_color_off(o, C_DIM);
            rb__cli_put_clean(o, p, n, RB__OUT_COLS);
            fputc('\n', o->f);
            shown++;
        }
        p = nl ? nl + 1 : end;
    }
    if (total > shown) {
        fprintf(o->f, "%*s", indent, "");
        rb__cli_color_on(o, C_DIM);
        fprintf(o->f, "%s | ... (%d more line%s)", label, total - shown,
                total - shown == 1 ? "" : "s");
        rb__cli_color_off(o, C_DIM);
        fputc('\n', o->f);
    }
}

void rb__cli_put_str(out_t *o, const char *s)
{
    if (s)
        rb__cli_put_clean(o, s, strlen(s), SIZE_MAX);
}

void rb__cli_put_problem(out_t *o, const json_t *p)
{
    const json_t *ev = json_object_get(p, "event_id");
    fputs("  ", o->f);
    if (json_is_integer(ev))
        fprintf(o->f, "event #%lld", (long long)json_integer_value(ev));
    else
        fputs("journal", o->f);
    if (json_is_integer(json_object_get(p, "run_id"))) {
        fprintf(o->f, " (run %lld seq %lld, %s", (long long)rb__cli_jint(p, "run_id"),
                (long long)rb__cli_jint(p, "seq"), rb__cli_jstr(p, "type") ? "" : "?");
        rb__cli_put_str(o, rb__cli_jstr(p, "type"));
        if (rb__cli_jstr(p, "step")) {
            fputs(" of step ", o->f);
            rb__cli_put_str(o, rb__cli_jstr(p, "step"));
        }
        fputc(')', o->f);
    }
    fputs(": ", o->f);
    rb__cli_put_str(o, rb__cli_jstr(p, "what"));
    fputc('\n', o->f);
}

/* Compact JSON, capped; json_dumps escapes control characters itself. */
void rb__cli_put_json(out_t *o, const json_t *v, size_t max)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (s) {
        rb__cli_put_clean(o, s, strlen(s), max);
        free(s);
    } else {
        fputs("null", o->f);
    }
}

/* A command as one would type it: arguments that a shell would split or
 * interpret are single-quoted. */
static void put_argv(out_t *o, const json_t *argv)
{
    size_t i;
    json_t *a;
    json_array_foreach(argv, i, a) {
        if (i)
            fputc(' ', o->f);
        const char *s = json_string_value(a);
        if (!s) {
            rb__cli_put_json(o, a, 40);
            continue;
        }
        int plain = *s != '\0';
        for (const char *c = s; *c && plain; c++)
            plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                           "_@%+=:,./-", *c) != NULL;
        if (plain) {
            rb__cli_put_str(o, s);
            continue;
        }
        fputc('\'', o->f);
        for (const char *c = s; *c;) { /* cleaned a run at a time: a control may be 3 bytes */
            size_t run = strcspn(c, "'");
            rb__cli_put_clean(o, c, run, run);
            c += run;
            if (*c == '\'')
                fputs("'\\''", o->f), c++;
        }
        fputc('\'', o->f);
    }
}

/* The host a remote (ssh) step's with names, as docs/remote.md promises
 * it is shown: an inventory host by its name ("n1"), an address as given
 * with its user and port ("neo@10.0.0.12:2222"). Nothing when with names
 * no host. */
void rb__cli_put_host(out_t *o, const json_t *with)
{
    const json_t *h = json_object_get(with, "host");
    const char *user = rb__cli_jstr(with, "user");
    const json_t *port = json_object_get(with, "port");
    if (json_is_object(h) && rb__cli_jstr(h, "name")) {
        rb__cli_put_str(o, rb__cli_jstr(h, "name"));
        return;
    }
    if (!json_is_string(h))
        return;
    if (user && *user) {
        rb__cli_put_clean(o, user, strlen(user), 64);
        fputc('@', o->f);
    }
    rb__cli_put_clean(o, json_string_value(h), json_string_length(h), 120);
    if (json_is_integer(port))
        fprintf(o->f, ":%" PRId64, (int64_t)json_integer_value(port));
    else if (json_is_string(port))
        fprintf(o->f, ":%.8s", json_string_value(port));
}

void rb__cli_put_item(out_t *o, const json_t *value, size_t max)
{
    if (json_is_object(value) && rb__cli_jstr(value, "name") &&
        json_is_string(json_object_get(value, "address")))
        value = json_object_get(value, "name"); /* an inventory host: its name */
    if (json_is_string(value))
        rb__cli_put_clean(o, json_string_value(value), json_string_length(value), max);
    else
        rb__cli_put_json(o, value, max);
}

/* What an action would run or ran: "$ argv…", "$ shell line", or the
 * action's name and its parameters; a remote step starts with its host
 * ("on n1: $ systemctl is-active neo-node"). */
int rb__cli_has_host(const json_t *with)
{
    const json_t *h = json_object_get(with, "host");
    return h && !json_is_null(h);
}

void rb__cli_put_would_run(out_t *o, const char *action, const json_t *with)
{
    json_t *argv = json_object_get(with, "argv");
    const char *shell = rb__cli_jstr(with, "shell");
    int remote = action && !strcmp(action, "ssh") && rb__cli_has_host(with);
    if (remote) {
        fputs("on ", o->f);
        rb__cli_put_host(o, with);
        fputs(": ", o->f);
        if (!shell)
            shell = rb__cli_jstr(with, "command");
    }
    if (json_is_array(argv)) {
        fputs("$ ", o->f);
        put_argv(o, argv);
    } else if (shell) {
        fputs("$ ", o->f);
        rb__cli_put_clean(o, shell, strlen(shell), RB__DATA_COLS);
    } else if (action) {
        rb__cli_put_str(o, action);
        if (json_object_size(with)) {
            fputc(' ', o->f);
            rb__cli_put_json(o, with, RB__DATA_COLS);
        }
    }
}

int rb__cli_put_channel(out_t *o, const json_t *res)
{
    const char *ch = rb__cli_jstr(res, "channel"), *to = rb__cli_jstr(res, "target");
    const char *ev = rb__cli_jstr(res, "event_action");
    if (!ch)
        return 0;
    rb__cli_put_str(o, ch);
    if (ev) {
        fputc(' ', o->f);
        rb__cli_put_str(o, ev);
    }
    if (to && *to) {
        fputs(" to ", o->f);
        rb__cli_put_clean(o, to, strlen(to), RB__OUT_COLS);
    }
    return 1;
}

void rb__cli_put_would(out_t *o, int indent, const json_t *would)
{
    const json_t *pv = json_object_get(would, "preview");
    if (!json_is_object(pv)) {
        rb__cli_put_would_run(o, rb__cli_jstr(would, "action"), json_object_get(would, "with"));
        return;
    }
    if (!rb__cli_put_channel(o, pv))
        rb__cli_put_str(o, rb__cli_jstr(would, "action"));
    const char *dk = rb__cli_jstr(pv, "dedup_key");
    if (dk) {
        fputs(", dedup_key ", o->f);
        rb__cli_put_clean(o, dk, strlen(dk), RB__OUT_COLS);
    }
    const char *subj = rb__cli_jstr(pv, "subject");
    if (subj && *subj) {
        fputs(", subject: ", o->f);
        rb__cli_put_clean(o, subj, strlen(subj), RB__OUT_COLS);
    }
    const char *msg = rb__cli_jstr(pv, "message");
    const json_t *body = json_object_get(pv, "body");
    if (!msg && body) {
        fprintf(o->f, "\n%*s| ", indent, "");
        rb__cli_put_json(o, body, RB__DATA_COLS);
    }
    int n = 0;
    for (const char *p = msg; p && *p && n < RB__MSG_LINES; n++) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        fprintf(o->f, "\n%*s| ", indent, "");
        rb__cli_put_clean(o, p, len, RB__OUT_COLS);
        p = e ? e + 1 : p + len;
        if (n + 1 == RB__MSG_LINES && *p)
            fprintf(o->f, "\n%*s| ...", indent, "");
    }
}

/* The run-level events (phases, decisions, approvals, rollback,
 * escalation): one line each. Returns 0 for a type it does not know. *//* Green for a good end, red for a bad one, yellow for the in-between. */
int rb__cli_status_color(const char *s)
{
    if (!s)
        return C_NONE;
    /* the words of docs/semantics.md (and a few older journals' words) */
    static const char *const good[] = { "ok", "succeeded", "resolved", "sent", NULL };
    static const char *const bad[] = { "failed", "error", "timeout", "denied", "interrupted",
                                       "verify_failed", NULL };
    static const char *const meh[] = { "skipped", "cancelled", "not_confirmed", "inconclusive",
                                       "simulated", "dry_run", "running", "waiting_approval",
                                       NULL };
    for (int i = 0; good[i]; i++)
        if (strcmp(s, good[i]) == 0)
            return C_GREEN;
    for (int i = 0; bad[i]; i++)
        if (strcmp(s, bad[i]) == 0)
            return C_RED;
    for (int i = 0; meh[i]; i++)
        if (strcmp(s, meh[i]) == 0)
            return C_YELLOW;
    return C_NONE;
}

void rb__cli_fmt_local(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, len, "?");
}

void rb__cli_fmt_duration(int64_t ms, char *buf, size_t len)
{
    rb_duration_format(ms > 0 ? (uint64_t)ms : 0, buf, len);
}

/* "+1.234s", "+2m05.120s", "+1h02m03s": precise near the start, where
 * steps are short, and readable when an incident ran for hours. */
void rb__cli_fmt_offset(int64_t ms, char *buf, size_t len)
{
    char sign = ms < 0 ? '-' : '+';
    long long a = ms < 0 ? -(long long)ms : (long long)ms;
    if (a < 60000)
        snprintf(buf, len, "%c%lld.%03llds", sign, a / 1000, a % 1000);
    else if (a < 3600000)
        snprintf(buf, len, "%c%lldm%02lld.%03llds", sign, a / 60000, a / 1000 % 60, a % 1000);
    else
        snprintf(buf, len, "%c%lldh%02lldm%02llds", sign, a / 3600000, a / 60000 % 60,
                 a / 1000 % 60);
}

const char *rb__cli_jstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* An integer field, or -1 when absent or not an integer. */
int64_t rb__cli_jint(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* ---- options ---------------------------------------------------------------- */


int rb__cli_journal_opt(int c, const char *cmd, const char **db, int *json)
{
    switch (c) {
    case RB__OPT_DB:
        if (!*optarg)
            return rb__cli_usage(cmd, "--db needs a file name");
        *db = optarg;
        return -1;
    case RB__OPT_FORMAT:
        if (strcmp(optarg, "json") && strcmp(optarg, "text"))
            return rb__cli_usage(cmd, "--format must be text or json, not '%s'", optarg);
        *json = !strcmp(optarg, "json");
        return -1;
    default:
        return 0;
    }
}

/* Parses the options both commands share (and --limit where allowed).
 * Returns -1 to go on, or the exit code to return now. */
int rb__cli_bad_option(const char *cmd, int c, char **argv)
{
    if (c == ':')
        fprintf(stderr, "runbook %s: %s needs a value\n", cmd, argv[optind - 1]);
    else if (optopt && optopt < 0x100)
        fprintf(stderr, "runbook %s: unknown option '-%c'\n", cmd, optopt);
    else
        fprintf(stderr, "runbook %s: unknown option '%s'\n", cmd, argv[optind - 1]);
    fprintf(stderr, "Try 'runbook %s --help'.\n", cmd);
    return RB_EXIT_USAGE;
}

int rb__cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "runbook %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'runbook %s --help'.\n", cmd);
    return RB_EXIT_USAGE;
}

void rb__cli_opts_defaults(opts_t *o)
{
    const char *server = getenv("RUNBOOK_SERVER");
    o->server = server && *server ? server : NULL;
    o->token_file = NULL;
    o->limit = RB__RUNS_DEFAULT_LIMIT;
}

int rb__cli_parse_opts(int argc, char **argv, const char *cmd, int with_limit, opts_t *o,
                      void (*usage)(FILE *))
{
    static const struct option longopts[] = {
        { "db", required_argument, NULL, RB__OPT_DB },
        { "format", required_argument, NULL, RB__OPT_FORMAT },
        { "limit", required_argument, NULL, 'n' },
        { "server", required_argument, NULL, RB__OPT_SERVER },
        { "token-file", required_argument, NULL, RB__OPT_TOKEN_FILE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    o->db = NULL;
    o->json = 0;
    rb__cli_opts_defaults(o);
    /* 0, not 1: a full GNU reset, since another subcommand (or a test) may
     * have run getopt in this process before. Our own messages, not
     * getopt's, which would name argv[0] ("runs") as the program. */
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, with_limit ? ":hn:" : ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return RB_EXIT_OK;
        case RB__OPT_DB:
        case RB__OPT_FORMAT: {
            int rc = rb__cli_journal_opt(c, cmd, &o->db, &o->json);
            if (rc >= 0)
                return rc;
            break;
        }
        case RB__OPT_SERVER:
            o->server = optarg;
            break;
        case RB__OPT_TOKEN_FILE:
            o->token_file = optarg;
            break;
        case 'n': {
            if (!with_limit)
                goto unknown;
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 0 || v > 1000000000)
                return rb__cli_usage(cmd, "--limit needs a number >= 0, not '%s'", optarg);
            o->limit = v;
            break;
        }
        default:
        unknown:
            return rb__cli_bad_option(cmd, c == ':' ? ':' : '?', argv);
        }
    }
    if (!o->db)
        o->db = rb_cli_default_db();
    return -1;
}

/* Opens the journal read-only; on failure says why on stderr. A missing
 * file gets its own message: it almost always means "wrong directory". */
rb_journal_t *rb__cli_open_journal(const char *cmd, const char *db)
{
    if (!rb_journal_is_url(db) && access(db, F_OK) != 0 && errno == ENOENT) {
        fprintf(stderr,
                "runbook %s: no journal at %s (nothing has run here yet? pass --db FILE or"
                " set RUNBOOK_DB)\n",
                cmd, db);
        return NULL;
    }
    rb_journal_t *j = NULL;
    char err[512];
    if (rb_journal_open(db, RB_JOURNAL_READONLY, &j, err, sizeof err) != 0) {
        fprintf(stderr, "runbook %s: %s\n", cmd, err);
        return NULL;
    }
    return j;
}

int rb__cli_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (!s)
        return RB_EXIT_FAILED;
    puts(s);
    free(s);
    return RB_EXIT_OK;
}

void rb__cli_pad(out_t *o, size_t used, size_t width)
{
    for (size_t i = used; i < width; i++)
        fputc(' ', o->f);
}


long long rb__cli_run_id(const char *cmd, const char *arg)
{
    char *end;
    errno = 0;
    long long id = strtoll(arg, &end, 10);
    if (errno || end == arg || *end || id <= 0) {
        rb__cli_usage(cmd, "'%s' is not a run id (a number, as `runbook runs` lists)", arg);
        return 0;
    }
    return id;
}
