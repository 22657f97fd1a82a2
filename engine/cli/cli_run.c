/*
 * cli_run.c — `runbook run NAME|FILE`: loads a runbook, opens the journal,
 * runs it on a uv loop and shows its progress; exits 0 when the run was
 * resolved, 1 when it failed or was cancelled, 2 on invalid input, 3 when
 * the failure was not confirmed (nothing was done).
 *
 * Owns: the loop of one CLI run, its signal handlers and the progress
 * printer. The run itself lives in run.c.
 */
#define _GNU_SOURCE /* asprintf, strndup */
#include "load/catalog.h"
#include "cli.h"
#include "cli_out.h"
#include "load/diag.h"
#include "load/inventory.h"
#include "journal/journal.h"
#include "progress.h"
#include "run/run.h"
#include "server/config.h"
#include "load/runbook.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: runbook run [OPTIONS] NAME|FILE\n"
            "       runbook run [OPTIONS] --alert FILE\n\n"
            "Runs a runbook now. NAME is looked up in --dir (default ./runbooks, then .).\n"
            "With --alert and no NAME, the runbook whose triggers match the alert runs.\n"
            "Every step is written to the journal; `runbook show RUN` prints it later.\n"
            "Options may come before or after NAME; `--` ends them.\n\n"
            "  -p, --param KEY=VALUE  set a parameter (repeatable), parsed by its type\n"
            "      --alert FILE       an alert (JSON: one alert, or an Alertmanager webhook\n"
            "                         body whose first alert is used) for {{ alert.* }}\n"
            "      --db FILE          journal: a file or a postgresql:// URL (default $RUNBOOK_DB or ./runbook.db)\n"
            "      --dir DIR          where to look up runbooks by NAME\n"
            "      --force            run even though the --alert is resolved\n"
            "      --env NAME         let the runbook read $NAME as {{ env.NAME }} (repeatable)\n"
            "      --secret-env NAME  the same, and mask its value everywhere it is written\n"
            "      --inventory FILE   the hosts and groups remote steps use, as {{ inventory.* }}\n"
            "                         ($RUNBOOK_INVENTORY; docs/remote.md)\n"
            "      --sync full|normal the journal's commits: full (default) flushes each to the\n"
            "                         disk; normal may lose the newest on power loss (not on a\n"
            "                         crash of runbook) and is faster ($RUNBOOK_JOURNAL_SYNC)\n"
            "      --dry-run          a drill: checks and read-only actions run, steps with side\n"
            "                         effects are simulated (docs/semantics.md, Drills)\n"
            "      --assume ok|failed the outcome a drill takes for every simulated step\n"
            "                         (default ok), so the fallback branches can be walked\n"
            "      --assume STEP=ok|failed  the same for one step (repeatable)\n"
            "  -y, --yes              approve every step that asks for approval\n"
            "      --format text|json progress as text on stderr (default) or JSON lines on stdout\n"
            "  -q, --quiet            print only the summary\n"
            "      --plugins DIR      load the action modules (*.so) in DIR ($RUNBOOK_PLUGINS)\n"
            "  -h, --help             this text\n\n"
            "environment: $RUNBOOK_EXTERNAL_URL (https://runbook.example.com), where people\n"
            "reach the server that holds this journal: {{ run.report_url }} and the built-in\n"
            "notify templates link EXTERNAL_URL/api/v1/runs/ID/report (docs/notifications.md).\n"
            "$RUNBOOK_SIGNING_KEY (runbook audit key init): the run's end is signed with it\n"
            "(runbook audit verify --pubkey; docs/journal.md).\n\n"
            "exit codes: 0 resolved, 1 failed or cancelled, 2 invalid runbook, parameter\n"
            "            or usage, 3 not confirmed (the checks found nothing to do), 4 not\n"
            "            started: another run holds its concurrency key, or it cools down,\n"
            "            5 inconclusive (a check that confirm needs could not run).\n");
}

static void help_resume(FILE *f)
{
    fprintf(f,
            "usage: runbook resume [OPTIONS] RUN\n\n"
            "Goes on with a run that was interrupted (the engine died: kill -9, power loss, OOM)\n"
            "from its first unfinished step, with the recorded runbook version, parameters and\n"
            "results. A step whose intent was recorded but whose result was not may have run:\n"
            "it runs again only when its action is read-only or it is marked idempotent, or\n"
            "with --rerun-started.\n\n"
            "      --rerun-started    run the step in flight again even if it is not idempotent\n"
            "  -p, --param KEY=VALUE  give a parameter again (a secret one must be given again)\n"
            "      --db FILE          journal: a file or a postgresql:// URL (default $RUNBOOK_DB or ./runbook.db)\n"
            "      --dir DIR          where relative commands resolve (default: the folder of\n"
            "                         the runbook of that name under ./runbooks, else .)\n"
            "      --env NAME, --secret-env NAME, --inventory FILE, -y/--yes, --format, -q,\n"
            "      --plugins, $RUNBOOK_EXTERNAL_URL: as for run\n"
            "  -h, --help             this text\n\n"
            "exit codes: as for run; 2 when the run is not interrupted or cannot resume.\n");
}

/* The exit code of a run's status (docs/semantics.md, R-exit-codes). */
static int exit_code(const char *status)
{
    if (!strcmp(status, "resolved"))
        return RB_EXIT_OK;
    if (!strcmp(status, "not_confirmed"))
        return RB_EXIT_NOT_CONFIRMED;
    if (!strcmp(status, "inconclusive"))
        return RB_EXIT_INCONCLUSIVE;
    return RB_EXIT_FAILED; /* failed, cancelled */
}

/* An approval a run (the top-level run or a sub-runbook's) waits for. */
typedef struct ask {
    rb_run_t *run;
    char *step;
    int approve;     /* the answer, once given */
    const char *who; /* static text or the login name */
} ask_t;

typedef struct cli_run {
    int json, quiet, yes;
    rb_progress_t *progress;
    uv_signal_t sigint, sigterm;
    uv_tty_t tty;
    int tty_open;   /* the terminal handle is open: it stays so until the run ends */
    int tty_gone;   /* the terminal said EOF: nobody is left to ask */
    int asking;     /* a question (questions[0]) is on the terminal, reading its answer */
    uv_timer_t later; /* gives the answers on the next turn of the loop */
    ask_t *answers;   /* answered, not yet given to their run */
    size_t nanswers;
    ask_t *questions; /* for the terminal, in the order they came */
    size_t nquestions;
    char who[64];   /* the login name of whoever answers at the terminal */
    char answer[16];
    size_t answer_len;
    rb_run_t *run;
} cli_run_t;

/* ---- approvals: --yes, a question on the terminal, or the declared timeout ---- */

/* The top-level run's approval policy is its children's too: a step of a
 * sub-runbook (action: runbook) that asks is answered by --yes, asked at
 * the terminal like the parent's, or denied when there is neither and it
 * has no timeout — never left waiting for an answer that cannot come.
 * Several runs may wait at once (a foreach of sub-runbooks): the terminal
 * asks one question at a time, in the order they came.
 *
 * The terminal is opened once, at the first question, and closed when the
 * run ends: a handle closed and opened again in the same turn of the loop
 * is still closing when it is reused (libuv aborts), and a question that
 * timed out must leave it ready for the next one. */

static int push_ask(ask_t **v, size_t *n, rb_run_t *run, const char *step, int approve,
                    const char *who)
{
    ask_t *m = realloc(*v, (*n + 1) * sizeof(*m));
    char *st = strdup(step ? step : "");
    if (!m || !st) {
        free(st);
        if (m)
            *v = m;
        return -1;
    }
    *v = m;
    m[(*n)++] = (ask_t){run, st, approve, who};
    // cppcheck-suppress memleak -- st is kept in the entry (drop_ask frees it)
    return 0;
}

/* Removes entry i of v (its step freed). */
static void drop_ask(ask_t *v, size_t *n, size_t i)
{
    free(v[i].step);
    memmove(&v[i], &v[i + 1], (--*n - i) * sizeof(*v));
}

static void on_later(uv_timer_t *t)
{
    cli_run_t *c = t->data;
    /* An answer may start the next step, whose question comes back here:
     * it is given on the next turn. */
    ask_t *a = c->answers;
    size_t n = c->nanswers;
    c->answers = NULL;
    c->nanswers = 0;
    for (size_t i = 0; i < n; i++) {
        rb_run_approve(a[i].run, a[i].step, a[i].approve, a[i].who);
        free(a[i].step);
    }
    free(a);
}

/* Approves or denies on the next turn of the loop: the run is in the
 * middle of journaling its request when the observer hears of it, and an
 * answer read from the terminal must not start the next step (and its
 * question) from inside the read callback. */
static void answer_later(cli_run_t *c, rb_run_t *run, const char *step, int approve, const char *who)
{
    if (push_ask(&c->answers, &c->nanswers, run, step, approve, who) == 0)
        uv_timer_start(&c->later, on_later, 0, 0);
}
/* The login name of the operator at the terminal: getlogin() names the
 * terminal's session owner; a terminal without a utmp entry (script,
 * tmux, a container) falls back to the user the process runs as. */
static const char *login_name(cli_run_t *c)
{
    if (!c->who[0]) {
        /* the CLI's loop thread only: nothing else calls these */
        // cppcheck-suppress getloginCalled
        const char *n = getlogin();
        // cppcheck-suppress getpwuidCalled
        struct passwd *pw = n && *n ? NULL : getpwuid(getuid());
        if (!(n && *n))
            n = pw ? pw->pw_name : NULL;
        if (n && *n)
            snprintf(c->who, sizeof(c->who), "%s", n);
        else
            snprintf(c->who, sizeof(c->who), "uid %ld", (long)getuid());
    }
    return c->who;
}

static void on_tty_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    static char buf[256];
    (void)h;
    (void)n;
    b->base = buf;
    b->len = sizeof(buf);
}

/* Stops reading the terminal: the question was answered, or the run no
 * longer waits for it (the approval timed out, the run was cancelled). */
static void stop_asking(cli_run_t *c)
{
    if (!c->asking)
        return;
    c->asking = 0;
    uv_read_stop((uv_stream_t *)&c->tty);
}

static void ask_next(cli_run_t *c);

static void on_tty_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    cli_run_t *c = s->data;
    if (!c->asking)
        return;
    int done = n < 0;
    for (ssize_t i = 0; i < n && !done; i++) {
        if (b->base[i] == '\n')
            done = 1;
        else if (c->answer_len + 1 < sizeof(c->answer))
            c->answer[c->answer_len++] = b->base[i];
    }
    if (!done)
        return;
    if (n < 0)
        c->tty_gone = 1; /* EOF: no answer is coming; a no, and no more questions */
    c->answer[c->answer_len] = 0;
    stop_asking(c);
    int yes = n >= 0 && (c->answer[0] == 'y' || c->answer[0] == 'Y');
    answer_later(c, c->questions[0].run, c->questions[0].step, yes,
                 n < 0 ? "nobody: the terminal closed" : login_name(c));
    drop_ask(c->questions, &c->nquestions, 0);
    ask_next(c);
}

/* Puts the first question waiting on the terminal; with the terminal gone,
 * the ones left are denied. */
static void ask_next(cli_run_t *c)
{
    while (c->tty_gone && c->nquestions) {
        answer_later(c, c->questions[0].run, c->questions[0].step, 0, "nobody: the terminal closed");
        drop_ask(c->questions, &c->nquestions, 0);
    }
    if (c->asking || !c->nquestions)
        return;
    c->answer_len = 0;
    c->asking = 1;
    if (c->questions[0].run == c->run)
        fprintf(stderr, "  approve step %s? [y/N] ", c->questions[0].step);
    else
        fprintf(stderr, "  approve step %s of run %lld? [y/N] ", c->questions[0].step,
                (long long)rb_run_id(c->questions[0].run));
    fflush(stderr);
    uv_read_start((uv_stream_t *)&c->tty, on_tty_alloc, on_tty_read);
}

/* The question of run's step is void (it timed out, or the run ended):
 * off the terminal, and the next one asked. step NULL: any of run's. */
static void forget_question(cli_run_t *c, rb_run_t *run, const char *step)
{
    for (size_t i = c->nquestions; i-- > 0;) {
        if (c->questions[i].run != run || (step && strcmp(c->questions[i].step, step)))
            continue;
        if (i == 0 && c->asking) {
            stop_asking(c);
            fputc('\n', stderr);
        }
        drop_ask(c->questions, &c->nquestions, i);
    }
    ask_next(c);
}

static void ask_approval(cli_run_t *c, rb_run_t *run, const char *step, const json_t *data)
{
    if (c->yes) {
        answer_later(c, run, step, 1, "--yes");
        return;
    }
    if (!c->json && !c->tty_open && !c->tty_gone && isatty(0) &&
        uv_tty_init(c->later.loop, &c->tty, 0, 1) == 0) {
        c->tty_open = 1;
        c->tty.data = c;
    }
    if (!c->json && c->tty_open && !c->tty_gone) {
        if (push_ask(&c->questions, &c->nquestions, run, step, 0, NULL) == 0) {
            ask_next(c);
            return;
        }
    } else if (json_integer_value(json_object_get(data, "timeout_ms")) > 0) {
        if (!c->json)
            fprintf(stderr, "  no terminal to ask and no --yes: waiting for the approval timeout\n");
        return;
    }
    answer_later(c, run, step, 0, "nobody: no terminal to ask and no --yes given");
}

static void on_event(rb_run_t *run, const char *type, const char *step, int attempt,
                     const json_t *data, void *arg)
{
    cli_run_t *c = arg;
    if (c->nquestions && !strcmp(type, "approval_timeout"))
        forget_question(c, run, step); /* nobody answered in time: the question is void */
    else if (c->nquestions && !strcmp(type, "run_finished"))
        forget_question(c, run, NULL); /* a sub-run cancelled while it waited */
    rb_progress_event(c->progress, run, type, step, attempt, data);
    if (!strcmp(type, "approval_requested"))
        ask_approval(c, run, step, data); /* after the line that says why it asks */
}

static void on_signal(uv_signal_t *s, int signum)
{
    cli_run_t *c = s->data;
    fprintf(stderr, "\nrunbook: %s received; cancelling the run (the journal keeps what happened)\n",
            signum == SIGINT ? "SIGINT" : "SIGTERM");
    rb_run_cancel(c->run);
}

static void on_done(rb_run_t *run, void *arg)
{
    cli_run_t *c = arg;
    uv_close((uv_handle_t *)&c->sigint, NULL);
    uv_close((uv_handle_t *)&c->sigterm, NULL);
    uv_close((uv_handle_t *)&c->later, NULL);
    if (c->asking)
        fputc('\n', stderr); /* the question was left unanswered */
    stop_asking(c);
    for (size_t i = 0; i < c->nquestions; i++)
        free(c->questions[i].step);
    for (size_t i = 0; i < c->nanswers; i++)
        free(c->answers[i].step);
    free(c->questions);
    free(c->answers);
    c->questions = c->answers = NULL;
    c->nquestions = c->nanswers = 0;
    if (c->tty_open) {
        uv_close((uv_handle_t *)&c->tty, NULL);
        c->tty_open = 0;
    }
    rb_progress_summary(c->progress, run);
}

/* ---- options ---- */

static int add_param(json_t *params, const char *kv, const char *cmd)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        fprintf(stderr, "runbook %s: --param wants KEY=VALUE, got \"%s\"\nTry 'runbook %s --help'.\n",
                cmd, kv, cmd);
        return -1;
    }
    char *k = strndup(kv, (size_t)(eq - kv));
    json_t *v = json_string(eq + 1);
    if (!v) {
        fprintf(stderr, "runbook %s: --param %s: value is not valid UTF-8\n", cmd, k);
        free(k);
        return -1;
    }
    json_object_set_new(params, k, v);
    free(k);
    return 0;
}

/* --assume ok|failed (every simulated step, key "*") or STEP=ok|failed. */
static int add_assume(json_t *assume, const char *arg)
{
    const char *eq = strrchr(arg, '=');
    const char *v = eq ? eq + 1 : arg;
    if (strcmp(v, "ok") && strcmp(v, "failed")) {
        fprintf(stderr, "runbook run: --assume wants ok, failed, STEP=ok or STEP=failed, got \"%s\"\n", arg);
        return -1;
    }
    char *k = eq ? strndup(arg, (size_t)(eq - arg)) : strdup("*");
    json_object_set_new(assume, k, json_string(v));
    free(k);
    return 0;
}

/* Every STEP of --assume STEP=… is a step of the runbook. */
static int check_assume(const json_t *assume, const rb_runbook_t *rb)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)assume, k, v) {
        if (strcmp(k, "*") && rb_runbook_step_index(rb, k) < 0) {
            fprintf(stderr, "runbook run: --assume %s=%s: %s has no step named \"%s\"\n", k,
                    json_string_value(v), rb_runbook_name(rb), k);
            return -1;
        }
    }
    return 0;
}

static json_t *load_alert(const char *path)
{
    json_error_t e;
    json_t *a = json_load_file(path, 0, &e);
    if (!a) {
        /* jansson's own words for a NUL name its flag, which means nothing here */
        fprintf(stderr, "%s:%d:%d: error: %s\n", path, e.line, e.column,
                json_error_code(&e) == json_error_null_character
                    ? "an alert may not hold a NUL character (\\u0000)"
                    : e.text);
        return NULL;
    }
    json_t *alerts = json_object_get(a, "alerts");
    if (json_is_array(alerts)) {
        json_t *first = json_incref(json_array_get(alerts, 0));
        json_decref(a);
        if (!json_is_object(first)) {
            fprintf(stderr, "%s: error: the webhook body holds no alert\n", path);
            json_decref(first);
            return NULL;
        }
        return first;
    }
    if (!json_is_object(a)) {
        fprintf(stderr, "%s: error: an alert must be a JSON object\n", path);
        json_decref(a);
        return NULL;
    }
    return a;
}

/* $RUNBOOK_EXTERNAL_URL, checked as the server checks its external_url:
 * 0 with *out (malloc'd, no trailing '/'; NULL when unset or empty), or
 * -1 after saying why. */
static int cli_external_url(const char *cmd, char **out)
{
    const char *v = getenv("RUNBOOK_EXTERNAL_URL");
    char why[200];
    *out = NULL;
    if (!v || !*v)
        return 0;
    if (rb_srv_external_url_check(v, why, sizeof why) < 0) {
        fprintf(stderr, "runbook %s: $RUNBOOK_EXTERNAL_URL %s\n", cmd, why);
        return -1;
    }
    if (!(*out = strdup(v)))
        return -1;
    size_t n = strlen(*out);
    while (n > 8 && (*out)[n - 1] == '/')
        (*out)[--n] = 0;
    return 0;
}

/* Prepares the run of `runbook resume RUN` (rb_run_resume_prepare).
 * Returns 0, or prints why not and returns -1. */
static int prepare_resume(rb_journal_t *j, const char *what, const char *dir, int rerun,
                          const rb_run_opts_t *o, uv_loop_t *loop, rb_runbook_t **rbp,
                          rb_run_t **runp)
{
    char *end;
    long long id = strtoll(what, &end, 10);
    if (*end || id <= 0) {
        fprintf(stderr, "runbook resume: \"%s\" is not a run id\n", what);
        return -1;
    }
    char err[1024] = "";
    rb_diags_t *d = rb_diags_new();
    int rc = rb_run_resume_prepare(loop, j, id, dir, rerun, o, d, rbp, runp, err, sizeof(err));
    if (rc < 0) {
        rb_diags_print(d, stderr, 0);
        fprintf(stderr, "runbook resume: %s\n", err);
    }
    rb_diags_free(d);
    return rc < 0 ? -1 : 0;
}

/* The folders a NAME or an alert is looked up in: --dir, else ./runbooks
 * and then ".". */
static const char *const *lookup_dirs(const char *dir, const char *two[3])
{
    two[0] = dir ? dir : "runbooks";
    two[1] = dir ? NULL : ".";
    two[2] = NULL;
    return two;
}

/* The runbook file that what names: a path to a file, else a runbook's
 * name. Prints why not (with the diagnostics of a file of that name that
 * is invalid, or of two files that share it) and returns NULL. */
static char *locate(const char *what, const char *dir)
{
    struct stat st;
    int exists = stat(what, &st) == 0;
    if (exists && S_ISREG(st.st_mode))
        return strdup(what);
    if (strchr(what, '/')) { /* a path: a runbook's name never has a '/' */
        fprintf(stderr, "runbook run: %s: %s\n", what,
                !exists ? "no such file" : S_ISDIR(st.st_mode) ? "a folder, not a runbook file"
                                                             : "not a regular file");
        return NULL;
    }
    const char *two[3];
    rb_diags_t *d = rb_diags_new();
    char *path = NULL;
    int rc = RB_ENOTFOUND;
    for (const char *const *in = lookup_dirs(dir, two); *in && rc == RB_ENOTFOUND; in++)
        rc = rb__runbook_lookup(*in, what, d, &path);
    if (rc == RB_EINVAL) {
        rb_diags_print(d, stderr, rb_cli_color(2));
        fprintf(stderr, "runbook run: the runbook named \"%s\" is not valid (see above); "
                        "nothing was run\n", what);
    } else if (rc < 0) {
        rb_diags_print(d, stderr, rb_cli_color(2)); /* a walk cut short says so */
        if (exists && !S_ISDIR(st.st_mode))
            fprintf(stderr, "runbook run: %s is not a regular file, and no runbook is named so in "
                            "%s\n", what, dir ? dir : "./runbooks or .");
        else
            fprintf(stderr, "runbook run: no runbook file or runbook named \"%s\" in %s\n", what,
                    dir ? dir : "./runbooks or .");
    }
    rb_diags_free(d);
    return path;
}

/* The one runbook whose triggers match the alert; none, several or an
 * invalid one is an error the operator must settle. */
static char *pick_by_alert(const json_t *alert, const char *dir)
{
    json_t *found = json_array();
    rb_diags_t *d = rb_diags_new();
    size_t invalid = 0;
    const char *two[3];
    for (const char *const *in = lookup_dirs(dir, two);
         *in && !json_array_size(found) && !invalid; in++)
        invalid = rb__runbooks_matching(*in, alert, found, d);
    char *path = NULL;
    size_t n = json_array_size(found);
    if (invalid) {
        rb_diags_print(d, stderr, rb_cli_color(2));
        fprintf(stderr, "runbook run: %zu runbook%s whose triggers match the alert %s not valid "
                        "(see above); nothing was run\n", invalid, invalid == 1 ? "" : "s",
                invalid == 1 ? "is" : "are");
    } else if (n == 1) {
        path = strdup(json_string_value(json_object_get(json_array_get(found, 0), "path")));
    } else if (n == 0) {
        char *labels = json_dumps(json_object_get(alert, "labels"), JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "runbook run: no runbook under %s has triggers matching the alert's labels "
                        "%s; name the runbook to run\n", dir ? dir : "./runbooks or .",
                labels ? labels : "{}");
        free(labels);
    } else {
        fprintf(stderr, "runbook run: %zu runbooks' triggers match the alert; name one:\n", n);
        size_t i;
        json_t *m;
        json_array_foreach(found, i, m)
            fprintf(stderr, "  %s (%s)\n", json_string_value(json_object_get(m, "name")),
                    json_string_value(json_object_get(m, "path")));
    }
    rb_diags_free(d);
    json_decref(found);
    return path;
}

/* `run` and `resume` share everything but how the run is made. */
static int cli_main(int argc, char **argv, int resume)
{
    static const struct option opts[] = {
        {"param", required_argument, NULL, 'p'}, {"alert", required_argument, NULL, 'a'},
        {"db", required_argument, NULL, 'D'},    {"dir", required_argument, NULL, 'd'},
        {"dry-run", no_argument, NULL, 'n'},     {"format", required_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},       {"help", no_argument, NULL, 'h'},
        {"yes", no_argument, NULL, 'y'},         {"rerun-started", no_argument, NULL, 'R'},
        {"env", required_argument, NULL, 'e'},   {"secret-env", required_argument, NULL, 'E'},
        {"plugins", required_argument, NULL, 'P'}, {"sync", required_argument, NULL, 'S'},
        {"force", no_argument, NULL, 'F'},       {"assume", required_argument, NULL, 'A'},
        {"inventory", required_argument, NULL, 'I'},
        {NULL, 0, NULL, 0}};
    const char *cmd = resume ? "resume" : "run";
    void (*usage)(FILE *) = resume ? help_resume : help;
    cli_run_t c;
    memset(&c, 0, sizeof(c));
    /* A peer that closes a pipe or socket early must not kill the engine:
     * the write fails with EPIPE and the action reports it. */
    signal(SIGPIPE, SIG_IGN);
    json_t *params = json_object(), *alert = NULL, *env = json_object(), *secret_env = json_object();
    json_t *assume = json_object();
    const char *db = rb_cli_default_db(), *dir = NULL, *plugins = NULL;
    int dry = 0, rerun = 0, force = 0, opt, rc = RB_EXIT_USAGE;
    const char *sync = getenv("RUNBOOK_JOURNAL_SYNC");
    const char *inventory_file = getenv("RUNBOOK_INVENTORY");
    json_t *inventory = NULL;
    char *external_url = NULL; /* $RUNBOOK_EXTERNAL_URL */
    optind = 0;
    opterr = 0; /* our own words for a bad option (rb__cli_bad_option) */
    /* GNU permutation: options may follow the runbook's name (`run NAME
     * --param k=v --db F`); `--` ends them. */
    while ((opt = getopt_long(argc, argv, ":p:qhy", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (add_param(params, optarg, cmd) < 0)
                goto out;
            break;
        case 'a':
            json_decref(alert);
            if (resume || !(alert = load_alert(optarg))) {
                if (resume)
                    fprintf(stderr, "runbook resume: a resumed run keeps its recorded alert\n");
                goto out;
            }
            break;
        case 'D': db = optarg; break;
        case 'd': dir = optarg; break;
        case 'n': dry = 1; break;
        case 'F': force = 1; break;
        case 'R': rerun = 1; break;
        case 'f':
            if (!strcmp(optarg, "json"))
                c.json = 1;
            else if (strcmp(optarg, "text")) {
                fprintf(stderr, "runbook %s: --format must be text or json\n", cmd);
                goto out;
            }
            break;
        case 'q': c.quiet = 1; break;
        case 'y': c.yes = 1; break;
        case 'e':
        case 'E': {
            const char *v = getenv(optarg);
            if (!v) {
                fprintf(stderr, "runbook %s: --%s %s: the variable is not set\n", cmd,
                        opt == 'E' ? "secret-env" : "env", optarg);
                goto out;
            }
            json_t *jv = json_string(v);
            if (!jv) {
                fprintf(stderr, "runbook %s: $%s is not valid UTF-8\n", cmd, optarg);
                goto out;
            }
            json_object_set_new(env, optarg, jv);
            if (opt == 'E')
                json_object_set_new(secret_env, optarg, json_true());
            break;
        }
        case 'A':
            if (add_assume(assume, optarg) < 0)
                goto out;
            break;
        case 'P': plugins = optarg; break;
        case 'S': sync = optarg; break;
        case 'I': inventory_file = optarg; break;
        case 'h':
            usage(stdout);
            rc = RB_EXIT_OK;
            goto out;
        default: rb__cli_bad_option(cmd, opt, argv); goto out;
        }
    }
    int by_alert = !resume && optind == argc && alert;
    if (optind != argc - 1 && !by_alert) {
        fprintf(stderr, resume ? "runbook resume: give one run id\n"
                               : "runbook run: give one runbook NAME or FILE (or --alert FILE "
                                 "to pick the runbook whose triggers match it)\n");
        fprintf(stderr, "Try 'runbook %s --help'.\n", cmd);
        goto out;
    }
    if (json_object_size(assume) && (!dry || resume)) {
        fprintf(stderr, "runbook %s: --assume decides the outcome of simulated steps: it needs "
                        "--dry-run\n", cmd);
        goto out;
    }
    if (cli_external_url(cmd, &external_url) < 0)
        goto out;
    const char *astatus = json_string_value(json_object_get(alert, "status"));
    if (astatus && !strcmp(astatus, "resolved") && !force) {
        /* A resolved alert says the failure is over: acting on it is a
         * mistake unless the operator says otherwise. */
        fprintf(stderr, "runbook run: the alert is resolved (status \"resolved\"): nothing to "
                        "recover; give --force to run anyway\n");
        goto out;
    }
    if (sync && *sync && strcmp(sync, "full") && strcmp(sync, "normal")) {
        fprintf(stderr, "runbook %s: --sync must be full or normal, not \"%s\"\n", cmd, sync);
        goto out;
    }
    /* A --dir that is no folder: else every lookup in it says "no runbook
     * named", which misleads. */
    struct stat dst;
    int derr = !dir ? 0 : stat(dir, &dst) < 0 ? errno : S_ISDIR(dst.st_mode) ? 0 : ENOTDIR;
    if (derr) {
        fprintf(stderr, "runbook %s: --dir %s: %s\n", cmd, dir,
                derr == ENOENT ? "no such folder" : derr == ENOTDIR ? "not a folder" : strerror(derr));
        goto out;
    }
    if (rb_cli_plugins(cmd, plugins) < 0)
        goto out;
    if (inventory_file && *inventory_file) {
        rb_diags_t *d = rb_diags_new();
        int irc = rb_inventory_load(inventory_file, d, &inventory);
        if (irc < 0) {
            rb_diags_print(d, stderr, rb_cli_color(2));
            if (!rb_diags_errors(d))
                fprintf(stderr, "runbook %s: --inventory %s: %s\n", cmd, inventory_file,
                        rb_strerror(irc));
            fprintf(stderr, "runbook %s: the inventory %s is not valid; nothing was run\n", cmd,
                    inventory_file);
            rb_diags_free(d);
            goto out;
        }
        rb_diags_free(d);
    }
    const char *what = by_alert ? NULL : argv[optind];
    rb_runbook_t *rb = NULL;
    char *picked = NULL;
    if (by_alert && !(picked = pick_by_alert(alert, dir)))
        goto out;
    if (!resume) {
        char *path = picked ? picked : locate(what, dir);
        if (!path)
            goto out;
        rb_diags_t *d = rb_diags_new();
        if (rb_runbook_load(path, d, &rb) < 0) {
            rb_diags_print(d, stderr, rb_cli_color(2));
            fprintf(stderr, "runbook run: %s is not a valid runbook; nothing was run\n", path);
            rb_diags_free(d);
            free(path);
            goto out;
        }
        rb_diags_free(d);
        free(path);
        if (check_assume(assume, rb) < 0) {
            rb_runbook_free(rb);
            goto out;
        }
        if (alert && !by_alert && rb_runbook_ntriggers(rb) && !rb_runbook_match_alert(rb, alert))
            fprintf(stderr, "runbook run: warning: the alert matches none of %s's triggers; "
                            "running it because you named it\n", rb_runbook_name(rb));
    }
    char err[512] = "";
    rb_journal_t *j = NULL;
    int jflags = sync && !strcmp(sync, "normal") ? RB_JOURNAL_SYNC_NORMAL : 0;
    if (rb_journal_open(db, jflags, &j, err, sizeof(err)) < 0) {
        fprintf(stderr, "runbook %s: %s\n", cmd, err);
        rb_runbook_free(rb);
        goto out;
    }
    if (rb_cli_signing_key(cmd, j) < 0) {
        rb_journal_close(j);
        rb_runbook_free(rb);
        goto out;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* the trigger `runs --trigger` finds it by: an alert given with --alert
     * started it (docs/journal.md); a drill says so after the word */
    const char *trigger = alert ? (dry ? "alert (drill)" : "alert") : (dry ? "cli (drill)" : "cli");
    rb_run_opts_t o = {.params = params, .alert = alert, .trigger = trigger,
                       .dry_run = dry, .assume = assume, .env = env, .secret_env = secret_env,
                       .inventory = inventory, .external_url = external_url};
    /* The writer thread commits in groups; the loop never waits on disk. */
    int attached = 0, made;
    if (resume) {
        made = prepare_resume(j, what, dir, rerun, &o, &loop, &rb, &c.run) == 0;
    } else {
        attached = rb_journal_attach_loop(j, &loop) == 0;
        int nrc = rb_run_new(&loop, rb, j, &o, &c.run, err, sizeof(err));
        made = nrc == 0;
        if (!made)
            fprintf(stderr, "runbook run: %s%s\n", err,
                    nrc == RB_EBUSY ? "; nothing was started" : "");
        if (nrc == RB_EBUSY)
            rc = RB_EXIT_BUSY;
    }
    if (made) {
        if (resume)
            attached = rb_journal_attach_loop(j, &loop) == 0;
        c.progress = rb_progress_new(&loop, c.json, c.quiet, !c.json && rb_cli_color(2),
                                     !c.json && isatty(2) && !getenv("RUNBOOK_NO_LIVE"));
        rb_progress_set_run(c.progress, c.run);
        json_t *before = NULL;
        if (resume && rb_journal_run_get(j, rb_run_id(c.run), &before) == 0)
            rb_progress_history(c.progress, before);
        json_decref(before);
        uv_timer_init(&loop, &c.later);
        c.later.data = &c;
        uv_signal_init(&loop, &c.sigint);
        uv_signal_init(&loop, &c.sigterm);
        c.sigint.data = c.sigterm.data = &c;
        uv_signal_start(&c.sigint, on_signal, SIGINT);
        uv_signal_start(&c.sigterm, on_signal, SIGTERM);
        if (!c.json && !c.quiet)
            fprintf(stderr, "%s %lld: %s (%s)%s\n", resume ? "resuming run" : "run",
                    (long long)rb_run_id(c.run), rb_runbook_name(rb), rb_runbook_path(rb),
                    dry ? " — a drill: steps with side effects are simulated" : "");
        rb_run_start(c.run, on_event, on_done, &c);
        uv_run(&loop, UV_RUN_DEFAULT);
        rc = exit_code(rb_run_status(c.run));
        rb_run_free(c.run);
        rb_progress_free(c.progress);
    }
    if (attached && rb_journal_detach_loop(j) < 0) {
        fprintf(stderr, "runbook %s: the journal could not commit the last records: %s\n", cmd,
                rb_journal_errmsg(j));
        rc = RB_EXIT_FAILED;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        fprintf(stderr, "runbook %s: internal error: handles left open on the loop\n", cmd);
    rb_journal_close(j);
    rb_runbook_free(rb);
out:
    json_decref(params);
    json_decref(alert);
    json_decref(env);
    json_decref(secret_env);
    json_decref(inventory);
    json_decref(assume);
    free(external_url);
    return rc;
}

int rb_cli_run(int argc, char **argv)
{
    return cli_main(argc, argv, 0);
}

int rb_cli_resume(int argc, char **argv)
{
    return cli_main(argc, argv, 1);
}
