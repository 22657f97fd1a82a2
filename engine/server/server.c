/*
 * server.c — the life of `runbook serve` (server.h): opens the journal
 * (writer mode on the loop), loads the runbooks, picks up what a previous
 * process left (recover.c), listens, and on SIGTERM stops accepting, lets
 * the steps in flight finish within the grace, marks the runs still open
 * interrupted, commits and exits. SIGHUP reloads the runbooks.
 *
 * Owns: the loop, the rb_srv_t and the order parts start and stop in.
 * Must never: answer a request before the journal is open; exit with a
 * journal record pending (every append is flushed before the end).
 */
#define _GNU_SOURCE
#include "server.h"

#include "api.h"
#include "log.h"
#include "server_check.h"
#include "server_int.h"
#include "host/plugin.h"
#include "run/secret.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define RB_SRV_LOCAL_TOKENS "runbook.tokens"

void rb__srv_journal_failed(rb_srv_t *s, const char *what)
{
    if (s->journal_failed)
        return;
    s->journal_failed = 1;
    rb_slog("error", "journal_failed", "while", what, "why", rb_journal_errmsg(s->j), "then",
            "alerts are answered 503 (Alertmanager retries); restart the server once the "
            "journal is fixed", (char *)NULL);
}

/* ---- the local token of a server started with no config ---- */

/* ./runbook.tokens, made once (mode 600) with one operator token "local",
 * reused after. Returns 0, or -1 with why logged. */
static int local_tokens(rb_srv_config_t *cfg)
{
    struct stat st;
    if (stat(RB_SRV_LOCAL_TOKENS, &st) != 0) {
        unsigned char b[24];
        char hex[49];
        if (RAND_bytes(b, sizeof b) != 1) {
            rb_slog("error", "start_failed", "why", "no random bytes for a token", (char *)NULL);
            return -1;
        }
        for (size_t i = 0; i < sizeof b; i++)
            snprintf(hex + 2 * i, 3, "%02x", b[i]);
        int fd = open(RB_SRV_LOCAL_TOKENS, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f || fprintf(f, "# NAME ROLE SECRET (docs/server.md)\nlocal operator %s\n", hex) < 0 ||
            fclose(f) != 0) {
            rb_slog("error", "start_failed", "file", RB_SRV_LOCAL_TOKENS, "why", strerror(errno),
                    (char *)NULL);
            if (f == NULL && fd >= 0)
                close(fd);
            return -1;
        }
    }
    return rb_srv_config_set(&cfg->tokens, RB_SRV_LOCAL_TOKENS) == 0 ? 0 : -1;
}

/* ---- file descriptors ---- */

/* What the process may hold open: the journal, the loop, the listener and
 * logs (reserved), a few for each run (a command's pipes, a connection to
 * a host) and one for each connection. The soft limit is raised to the
 * hard one; when even that cannot hold limits.active_runs, the limit is
 * lowered to what fits and the log says so (a run that cannot open a pipe
 * fails; a connection beyond the budget waits in the listen queue). */
#define RB_SRV_FDS_RESERVED 64
#define RB_SRV_FDS_PER_RUN 4
#define RB_SRV_MIN_CONNS 64

static int fd_budget(rb_srv_t *s)
{
    rb_srv_config_t *cfg = s->cfg;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    uint64_t fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX / 2 : (uint64_t)rl.rlim_cur;
    uint64_t fixed = RB_SRV_FDS_RESERVED + RB_SRV_MIN_CONNS;
    char have[32], want[32], runs[32];
    snprintf(have, sizeof have, "%llu", (unsigned long long)fds);
    if (fds < fixed + RB_SRV_FDS_PER_RUN) {
        rb_slog("error", "start_failed", "open_files", have, "why",
                "the process may open too few files to serve: raise its limit (ulimit -n, "
                "LimitNOFILE= in the systemd unit)", (char *)NULL);
        return -1;
    }
    uint64_t fit = (fds - fixed) / RB_SRV_FDS_PER_RUN;
    if (cfg->active_runs > fit) {
        snprintf(want, sizeof want, "%llu", (unsigned long long)cfg->active_runs);
        snprintf(runs, sizeof runs, "%llu", (unsigned long long)fit);
        rb_slog("warn", "limits_lowered", "active_runs", runs, "configured", want, "open_files",
                have, "why",
                "each run may hold 4 files open and the process may open no more: raise "
                "the limit (ulimit -n, LimitNOFILE=) for more runs at once", (char *)NULL);
        cfg->active_runs = fit;
    }
    uint64_t conns = fds - RB_SRV_FDS_RESERVED - RB_SRV_FDS_PER_RUN * cfg->active_runs;
    s->max_conns = conns > SIZE_MAX ? SIZE_MAX : (size_t)conns;
    return 0;
}

/* ---- shutdown ---- */

static void close_handles(rb_srv_t *s)
{
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
    uv_close((uv_handle_t *)&s->stop_timer, NULL);
    uv_close((uv_handle_t *)&s->sign_timer, NULL);
}

/* sign_interval: a signed checkpoint of the head (nothing when it has not
 * moved since the last one, or with no key). */
static void on_sign(uv_timer_t *t)
{
    rb_srv_t *s = t->data;
    if (rb_journal_seal(s->j) < 0 && !s->journal_failed)
        rb__srv_journal_failed(s, "signing the chain head");
}

/* The HTTP state of connections left open at the end: kept reachable. */
static rb_http_t *left_http;

/* Every connection is gone (or the wait is over): the end. */
static void on_stop_poll(uv_timer_t *t)
{
    rb_srv_t *s = t->data;
    if (rb_http_connections(s->http) && uv_now(s->loop) < s->stop_deadline)
        return;
    uv_timer_stop(t);
    if (rb_http_connections(s->http)) {
        /* A client that neither sends nor reads past the wait: its
         * connection keeps h2o's state, which is left as it is (the
         * process ends; nothing of the journal depends on it). */
        char n[32];
        snprintf(n, sizeof n, "%zu", rb_http_connections(s->http));
        rb_slog("warn", "connections_left", "connections", n, (char *)NULL);
        left_http = s->http;
        s->abandoned++;
    } else {
        rb_http_free(s->http);
    }
    s->http = NULL;
    rb__hook_alertmanager_free(s);
    s->abandoned += rb__runs_free(s);
    rb__books_free(s->books);
    s->books = NULL;
    close_handles(s);
    if (rb_journal_seal(s->j) < 0 && !s->journal_failed) /* the last head, signed */
        rb__srv_journal_failed(s, "signing the chain head");
    int rc = rb_journal_detach_loop(s->j);
    if (rc < 0 && !s->journal_failed)
        rb__srv_journal_failed(s, "committing the last records");
    char n[32];
    snprintf(n, sizeof n, "%zu", s->abandoned);
    rb_slog("info", "stopped", "left_in_flight", n, (char *)NULL);
    /* An action still in flight keeps its handles: the process ends here,
     * and systemd (KillMode=control-group) stops its child processes. */
    if (s->abandoned)
        uv_stop(s->loop);
}

static void on_marked(int status, void *arg)
{
    rb_srv_t *s = arg;
    if (status < 0)
        rb__srv_journal_failed(s, "marking runs interrupted");
    /* Requests in flight got their answers from their own flushes; wait
     * for the clients to close (a request timeout at most). */
    s->stop_deadline = uv_now(s->loop) + s->cfg->request_ms + 1000;
    uv_timer_start(&s->stop_timer, on_stop_poll, 0, 50);
}

/* The grace is over, or every run finished or parked: the runs still
 * open are marked interrupted, for `resume` (and the next start). */
static void on_drained(rb_srv_t *s)
{
    rb__runs_mark_interrupted(s);
    if (rb_journal_flush(s->j, on_marked, s) < 0)
        on_marked(RB_EJOURNAL, s);
}

static void begin_stop(rb_srv_t *s, const char *why)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    char n[32], g[32];
    snprintf(n, sizeof n, "%zu", rb__runs_active(s));
    rb_duration_format(s->cfg->grace_ms, g, sizeof g);
    rb_slog("info", "stopping", "signal", why, "runs", n, "grace", g, (char *)NULL);
    rb_http_stop(s->http);
    rb__books_unwatch(s);
    rb__runs_drain(s, s->cfg->grace_ms, on_drained);
}

static void on_signal(uv_signal_t *h, int signum)
{
    rb_srv_t *s = h->data;
    if (signum == SIGHUP) {
        if (!s->stopping)
            rb__books_reload(s, "sighup");
        return;
    }
    begin_stop(s, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

int rb_server_main(rb_srv_config_t *cfg, int no_config)
{
    rb_slog_format(cfg->log_json);
    signal(SIGPIPE, SIG_IGN); /* a client that goes away is its connection's problem */
    rb_srv_t s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    if (no_config && !cfg->tokens && local_tokens(cfg) < 0)
        return 2;
    /* What validate --config checks, checked the same way. */
    rb_diags_t *d = rb_diags_new();
    rb_srv_checked_t k;
    int rc = d ? rb_srv_config_check(cfg, d, &k) : RB_ENOMEM;
    if (rc < 0) {
        rb__srv_log_diags(d, "config_invalid");
        rb_diags_free(d);
        rb_slog("error", "start_failed", "why",
                rc == RB_ENOMEM ? "out of memory" : "the config is refused (see above)",
                (char *)NULL);
        return 2;
    }
    rb_diags_free(d);
    s.auth = k.auth;
    s.inventory = k.inventory;
    s.tls = k.tls;
    char err[512] = "";
    if (cfg->plugins && rb__plugins_load_dir(cfg->plugins, err, sizeof err) < 0) {
        rb_slog("error", "start_failed", "plugins", cfg->plugins, "why", err, (char *)NULL);
        rb_srv_checked_free(&k);
        return 2;
    }
    if (fd_budget(&s) < 0) {
        rb_srv_checked_free(&k);
        return 2;
    }
    rc = rb_journal_open(cfg->db, RB_JOURNAL_EXCLUSIVE, &s.j, err, sizeof err);
    if (rc < 0) {
        rb_slog("error", "start_failed", "why", err, (char *)NULL);
        rb_srv_checked_free(&k);
        return rc == RB_EBUSY ? RB_SRV_EXIT_BUSY : 2;
    }
    if (rb__metrics_init(&s) < 0) { /* from here on, every part counts */
        rb_slog("error", "start_failed", "why", "out of memory", (char *)NULL);
        rb_journal_close(s.j);
        rb_srv_checked_free(&k);
        return 2;
    }
    s.secrets = rb_secrets_new(); /* params: given as secrets (config_runs.c) */
    size_t si;
    json_t *sv;
    json_array_foreach(cfg->param_secrets, si, sv)
        rb_secrets_add(s.secrets, json_string_value(sv), json_string_length(sv));
    /* static: when runs are left with an action in flight, the loop is
     * never closed and what it holds stays reachable to the end. */
    static uv_loop_t loop;
    uv_loop_init(&loop);
    s.loop = &loop;
    int code = 2;
    int signing = k.sign_key != NULL;
    rb_journal_set_signing_key(s.j, k.sign_key); /* the journal owns it */
    k.sign_key = NULL;
    if (rb_journal_attach_loop(s.j, &loop) < 0) {
        rb_slog("error", "start_failed", "why", rb_journal_errmsg(s.j), (char *)NULL);
        goto out_journal;
    }
    if (rb__books_load(&s, cfg->dir, &s.books) < 0) {
        rb_slog("error", "start_failed", "why", "out of memory loading the runbooks", (char *)NULL);
        goto out_detach;
    }
    rb_http_opts_t ho = {
        .host = cfg->host, .port = cfg->port, .body_max = cfg->body_max,
        .header_max = cfg->header_max, .request_ms = cfg->request_ms, .auth = s.auth,
        .routes = rb__srv_routes, .arg = &s, .count = rb__srv_count_http, .count_arg = &s,
        .tls = s.tls, .max_conns = s.max_conns,
    };
    if (rb_http_start(&loop, &ho, &s.http, err, sizeof err) < 0) {
        rb_slog("error", "start_failed", "why", err, (char *)NULL);
        rb__books_free(s.books);
        goto out_detach;
    }
    /* Listening, but no request is read before the loop runs: what the
     * last process left is picked up first. */
    rb__books_watch(&s);
    rb__recover(&s);
    uv_signal_init(&loop, &s.sigterm);
    uv_signal_init(&loop, &s.sigint);
    uv_signal_init(&loop, &s.sighup);
    s.sigterm.data = s.sigint.data = s.sighup.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sighup, on_signal, SIGHUP);
    uv_timer_init(&loop, &s.stop_timer);
    s.stop_timer.data = &s;
    uv_timer_init(&loop, &s.sign_timer);
    s.sign_timer.data = &s;
    if (signing)
        uv_timer_start(&s.sign_timer, on_sign, cfg->sign_interval_ms, cfg->sign_interval_ms);
    char port[16], ntok[16];
    snprintf(port, sizeof port, "%d", rb_http_port(s.http));
    snprintf(ntok, sizeof ntok, "%zu", rb_auth_count(s.auth));
    char nruns[32];
    snprintf(nruns, sizeof nruns, "%llu", (unsigned long long)cfg->active_runs);
    rb_slog("info", "listening", "address", cfg->host, "port", port, "scheme",
            s.tls ? "https" : "http", "db", cfg->db, "runbooks", cfg->dir, "tokens", ntok,
            "active_runs", nruns, (char *)NULL);
    if (no_config)
        rb_slog("info", "auth", "how",
                "send Authorization: Bearer SECRET, with SECRET the third field of the line "
                "\"local operator SECRET\" in ./runbook.tokens (give --tokens FILE for your own)",
                (char *)NULL);
    else if (!rb_auth_count(s.auth))
        rb_slog("warn", "auth", "how",
                "no tokens: every request but /healthz is refused 401; give --tokens FILE "
                "(lines NAME ROLE SECRET, chmod 600)", (char *)NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    code = s.journal_failed ? 1 : 0;
    goto out_loop;
out_detach:
    if (rb_journal_detach_loop(s.j) < 0)
        code = 1;
out_loop:
    if (s.abandoned)
        goto out_journal; /* their handles stay: the loop is not closed */
    uv_run(&loop, UV_RUN_DEFAULT); /* the close callbacks */
    if (uv_loop_close(&loop) != 0)
        rb_slog("warn", "loop_not_closed", "why", "handles left open at exit", (char *)NULL);
out_journal:
    rb_journal_close(s.j);
    rb_secrets_free(s.secrets);
    rb_srv_checked_free(&k); /* the tokens, inventory and TLS context */
    rb__metrics_free(&s); /* no loop turn follows: no run reports again */
    rb__hook_generic_free();
    return code;
}
