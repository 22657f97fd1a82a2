/*
 * server_int.h — what the files of engine/server/ share and nobody else
 * sees: the server's state and the functions each part offers the others.
 *
 *   server.c            the process: start, signals, shutdown, the loop.
 *   config.c            the config file and defaults (config.h).
 *   auth.c              bearer tokens and roles (auth.h).
 *   log.c               one line per event on stderr (log.h).
 *   http.c              libh2o glue, route dispatch, limits (http.h).
 *   routes.c            the route table, /healthz, the counters hook.
 *   books.c             the runbooks in force: load, match, hot reload.
 *   runs.c              the runs in flight: start, cancel, finish.
 *   hook_alertmanager.c POST /hooks/alertmanager.
 *   recover.c           on start: resume interrupted runs, start the runs
 *                       of claimed alerts that never got one.
 *
 * Must never: be included outside engine/server/; touch SQL (the journal's
 * API is the only way to the database). Loop thread only.
 */
#ifndef RB_SERVER_INT_H
#define RB_SERVER_INT_H

#include "auth.h"
#include "config.h"
#include "http.h"
#include "journal/journal.h"
#include "load/runbook.h"
#include "run/run.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

typedef struct rb_srv rb_srv_t;

/* ---- books.c: the runbooks in force ---- */

/* One loaded version of a runbook file. Runs hold a reference: a reload
 * replaces the book in the set, runs in flight keep theirs. */
typedef struct rb_book {
    rb_runbook_t *rb;
    char *path;
    char sha256[65];
    unsigned refs;
} rb_book_t;

typedef struct rb_books rb_books_t;

/* Loads every runbook below dir (invalid files are logged with their
 * diagnostics and left out). Never fails for a bad file; RB_ENOMEM only. */
int rb__books_load(rb_srv_t *s, const char *dir, rb_books_t **out);
void rb__books_free(rb_books_t *b);
/* Re-reads the folder: a changed file that validates replaces its book;
 * one that fails is logged and the last good version stays; a removed
 * file's book goes. what: "sighup", "change". */
void rb__books_reload(rb_srv_t *s, const char *what);
/* Starts watching the folder (uv_fs_event); a change reloads after a short
 * settle time. */
int rb__books_watch(rb_srv_t *s);
void rb__books_unwatch(rb_srv_t *s);
size_t rb__books_count(const rb_books_t *b);
rb_book_t *rb__books_at(const rb_books_t *b, size_t i);
/* The book of that runbook name, or NULL. */
rb_book_t *rb__books_find(const rb_books_t *b, const char *name);
void rb__book_ref(rb_book_t *k);
/* Logs each diagnostic as one line: event, file, at (line:col), message. */
void rb__srv_log_diags(rb_diags_t *d, const char *event);
void rb__book_unref(rb_book_t *k);

/* ---- runs.c: the runs in flight ---- */

typedef struct rb_srv_run rb_srv_run_t;

/* The alert a run was started for, linked in the same journal record as
 * the run (see rb_journal_run_create_claimed). */
typedef struct rb_srv_claim {
    const char *fingerprint;
    const char *starts_at;
} rb_srv_claim_t;

/* Creates and starts a run of book k. alert, params borrowed. Returns 0
 * and the run's id, RB_EBUSY (concurrency key held or cooling down; why in
 * err) or another negative code with why. */
int rb__runs_start(rb_srv_t *s, rb_book_t *k, const json_t *alert, const json_t *params,
                   const char *trigger, const rb_srv_claim_t *claim, int64_t *id, char *err,
                   size_t errlen);
/* Puts a resumed run (rb_run_resume's) in flight; it holds a reference on
 * k (which it owns when own_book: a recorded version, freed at the end). */
int rb__runs_adopt(rb_srv_t *s, rb_run_t *run, rb_book_t *k, int own_book);
/* The run in flight of that id (one the server started, or the run of a
 * sub-runbook one of them started), or NULL. */
rb_run_t *rb__runs_find(rb_srv_t *s, int64_t id);
size_t rb__runs_active(const rb_srv_t *s);
/* How many of them (and of their sub-runs) wait for an approval. */
size_t rb__runs_waiting(const rb_srv_t *s);
/* SIGTERM: no run starts a new step; the actions in flight may finish
 * within grace_ms. cb once every run left is parked at a step boundary (or
 * finished), or when the grace is over. */
void rb__runs_drain(rb_srv_t *s, uint64_t grace_ms, void (*cb)(rb_srv_t *s));
/* Journals every run still in flight as interrupted (run_interrupted, and
 * the status), for resume and the next start. */
void rb__runs_mark_interrupted(rb_srv_t *s);
/* Frees the runs. Returns how many had an action still in flight: those
 * are kept (never freed) and the loop must not be closed. */
size_t rb__runs_free(rb_srv_t *s);

/* ---- routes.c ---- */

extern const rb_http_route_t rb__srv_routes[];
/* The counters hook: where metrics are counted. metric names a counter
 * or histogram ("http_requests", "http_seconds", "alerts", "runs_started"),
 * labels are key, value pairs ending with NULL (may be NULL), value is the
 * increment of a counter or the observation of a histogram. Does nothing
 * until a metrics part sets s->count. */
void rb__srv_count(rb_srv_t *s, const char *metric, const char *const *labels, double value);
/* The http layer's counters hook. */
void rb__srv_count_http(void *arg, const rb_http_route_t *route, int status, uint64_t ns);

/* ---- hook_alertmanager.c ---- */

void rb__hook_alertmanager(rb_http_req_t *r, void *arg);
void rb__hook_alertmanager_free(rb_srv_t *s);

/* ---- recover.c ---- */

/* On start, before accepting: resumes the runs the journal found
 * interrupted (resume's rules: a step with side effects in flight is run
 * again only if idempotent; else the run is left interrupted and logged),
 * and starts the runs of claimed alerts that never got theirs. */
void rb__recover(rb_srv_t *s);

/* ---- the server ---- */

typedef void (*rb_srv_count_fn)(void *arg, const char *metric, const char *const *labels,
                                double value);

struct rb_srv {
    uv_loop_t *loop;
    rb_srv_config_t *cfg;
    rb_journal_t *j;
    rb_auth_t *auth;
    rb_http_t *http;
    rb_books_t *books;
    json_t *inventory; /* the config's inventory, read at start ({{ inventory.* }}), or NULL */
    struct ssl_ctx_st *tls; /* tls: in the config: every connection is TLS; else NULL */
    size_t max_conns;  /* connections at once: what the open-files limit leaves */
    struct rb_secrets *secrets; /* the config's secret params:, masked in every run */
    void *runs;         /* runs.c's */
    void *am;           /* hook_alertmanager.c's */
    int stopping;       /* SIGTERM: no new run starts */
    int journal_failed;
    rb_srv_count_fn count; /* the counters hook; NULL: nothing counted */
    void *count_arg;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t stop_timer;
    uv_timer_t sign_timer;  /* signing_key: signs the head every sign_interval */
    uint64_t stop_deadline; /* uv_now: stop waiting for clients to close */
    size_t abandoned;       /* runs left with an action in flight at the end */
};

/* The journal could not take a write: logged once, the server answers 503
 * to what needs it from then on. */
void rb__srv_journal_failed(rb_srv_t *s, const char *what);

#endif
