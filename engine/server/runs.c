/*
 * runs.c — the runs the server has in flight: started from an alert (or
 * resumed after a restart), each holding its runbook's book so that a
 * reload never changes a run under way; logged when they start and end;
 * freed on the next turn of the loop after they finish; drained on
 * SIGTERM.
 *
 * Owns: the rb_run_t of every run it started or adopted, and its book
 * reference. Must never: free a run from inside its own callback; start a
 * run once shutdown began.
 */
#define _GNU_SOURCE
#include "server_int.h"

#include "api.h"
#include "log.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rb_srv_run {
    rb_srv_t *s;
    rb_run_t *run;
    rb_book_t *book;
    int own_book;  /* a recorded version (a resumed run): freed with the run */
    int64_t id;
    int finished;
    int parked;    /* held at a step boundary for shutdown */
    void *metrics; /* metrics.c's state of the step in flight */
    rb_srv_run_t *next; /* the reap list */
};

typedef struct {
    rb_srv_run_t **v;
    size_t n, cap;
    rb_srv_run_t *reap;
    uv_timer_t *reaper;
    uv_timer_t *grace;
    void (*drained)(rb_srv_t *s);
} runs_t;

static runs_t *R(rb_srv_t *s)
{
    if (!s->runs) {
        runs_t *rs = calloc(1, sizeof *rs);
        if (!rs)
            return NULL;
        rs->reaper = calloc(1, sizeof *rs->reaper);
        if (!rs->reaper) {
            free(rs);
            return NULL;
        }
        uv_timer_init(s->loop, rs->reaper);
        rs->reaper->data = s;
        s->runs = rs;
    }
    return s->runs;
}

size_t rb__runs_active(const rb_srv_t *s)
{
    const runs_t *rs = s->runs;
    return rs ? rs->n : 0;
}

rb_run_t *rb__runs_find(rb_srv_t *s, int64_t id)
{
    runs_t *rs = s->runs;
    for (size_t i = 0; rs && i < rs->n; i++) {
        if (rs->v[i]->id == id)
            return rs->v[i]->run;
        /* a sub-runbook's run (a `runbook` step's): it answers for itself */
        rb_run_t *sub = rb_run_find(rs->v[i]->run, id);
        if (sub)
            return sub;
    }
    return NULL;
}

static void free_entry(rb_srv_run_t *e)
{
    rb__metrics_run_free(e->metrics);
    rb_run_free(e->run);
    if (e->own_book) {
        rb_runbook_free(e->book->rb);
        free(e->book->path);
        free(e->book);
    } else {
        rb__book_unref(e->book);
    }
    free(e);
}

static void drained_if_quiet(rb_srv_t *s);

static void on_reap(uv_timer_t *t)
{
    rb_srv_t *s = t->data;
    runs_t *rs = s->runs;
    rb_srv_run_t *e = rs->reap;
    rs->reap = NULL;
    while (e) {
        rb_srv_run_t *next = e->next;
        free_entry(e);
        e = next;
    }
    drained_if_quiet(s);
}

/* Draining: every run left is parked (none has an action in flight). */
static void drained_if_quiet(rb_srv_t *s)
{
    runs_t *rs = s->runs;
    if (!rs->drained)
        return;
    for (size_t i = 0; i < rs->n; i++)
        if (!rs->v[i]->parked)
            return;
    void (*cb)(rb_srv_t *) = rs->drained;
    rs->drained = NULL;
    if (rs->grace)
        uv_timer_stop(rs->grace);
    cb(s);
}

static void on_parked(rb_run_t *run, void *arg)
{
    rb_srv_run_t *e = arg;
    e->parked = 1;
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)rb_run_id(run));
    rb_slog("info", "run_parked", "run", id, (char *)NULL);
    /* on the next turn: the run is inside its own step machine now */
    uv_timer_start(((runs_t *)e->s->runs)->reaper, on_reap, 0, 0);
}

static void on_event(rb_run_t *run, const char *type, const char *step, int attempt,
                     const json_t *data, void *arg)
{
    rb_srv_run_t *e = arg;
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)rb_run_id(run));
    if (!strcmp(type, "step_finished") || !strcmp(type, "step_failed")) {
        const json_t *ok = json_object_get(data, "ok");
        rb_slog(json_is_false(ok) ? "warn" : "info", type, "run", id, "step", step, "status",
                json_string_value(json_object_get(data, "status")), (char *)NULL);
    } else if (!strcmp(type, "approval_requested")) {
        /* alert_resolved and run_resumed are logged where they are decided
         * (the hook, recover.c), with what they know: not again here */
        rb_slog("info", type, "run", id, "step", step, (char *)NULL);
    }
    rb__metrics_run_event(e->s, &e->metrics, type, step, data);
    (void)attempt;
}

static void on_done(rb_run_t *run, void *arg)
{
    rb_srv_run_t *e = arg;
    rb_srv_t *s = e->s;
    runs_t *rs = s->runs;
    char id[32], ms[32];
    snprintf(id, sizeof id, "%lld", (long long)e->id);
    snprintf(ms, sizeof ms, "%llu", (unsigned long long)rb_run_duration_ms(run));
    const char *st = rb_run_status(run);
    rb_slog(!strcmp(st, "resolved") ? "info" : "warn", "run_finished", "run", id, "runbook",
            rb_runbook_name(e->book->rb), "status", st, "ms", ms, "error", rb_run_error(run),
            (char *)NULL);
    const char *const labels[] = {"runbook", rb_runbook_name(e->book->rb), "status", st, NULL};
    rb__srv_count(s, "runs_finished", labels, 1);
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i] == e) {
            rs->v[i] = rs->v[--rs->n];
            break;
        }
    e->finished = 1;
    e->next = rs->reap;
    rs->reap = e;
    uv_timer_start(rs->reaper, on_reap, 0, 0);
}

static int add(rb_srv_t *s, rb_srv_run_t *e)
{
    runs_t *rs = R(s);
    if (!rs)
        return RB_ENOMEM;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        rb_srv_run_t **v = realloc(rs->v, cap * sizeof *v);
        if (!v)
            return RB_ENOMEM;
        rs->v = v;
        rs->cap = cap;
    }
    rs->v[rs->n++] = e;
    return 0;
}

int rb__runs_start(rb_srv_t *s, rb_book_t *k, const json_t *alert, const json_t *params,
                   const char *trigger, const rb_srv_claim_t *claim, int64_t *id, char *err,
                   size_t errlen)
{
    *id = 0;
    if (s->stopping) {
        snprintf(err, errlen, "the server is stopping");
        return RB_ECANCELED;
    }
    rb_srv_run_t *e = calloc(1, sizeof *e);
    if (!e || add(s, e) < 0) {
        free(e);
        snprintf(err, errlen, "out of memory");
        return RB_ENOMEM;
    }
    e->s = s;
    e->book = k;
    rb__book_ref(k);
    rb_run_opts_t o = {
        .params = params, .alert = alert, .trigger = trigger, .env = s->cfg->env,
        .secret_env = s->cfg->secret_env, .inventory = s->inventory,
        .preset = s->cfg->params, .secrets = s->secrets, .external_url = s->cfg->external_url,
        .claim_fingerprint = claim ? claim->fingerprint : NULL,
        .claim_starts_at = claim ? claim->starts_at : NULL,
    };
    int rc = rb_run_new(s->loop, k->rb, s->j, &o, &e->run, err, errlen);
    if (rc < 0) {
        runs_t *rs = s->runs;
        rs->n--; /* e was the last one added */
        rb__book_unref(k);
        free(e);
        return rc;
    }
    e->id = rb_run_id(e->run);
    *id = e->id;
    char sid[32];
    snprintf(sid, sizeof sid, "%lld", (long long)e->id);
    rb_slog("info", "run_started", "run", sid, "runbook", rb_runbook_name(k->rb), "sha256",
            k->sha256, "trigger", trigger, "fingerprint", claim ? claim->fingerprint : NULL,
            (char *)NULL);
    const char *const labels[] = {"runbook", rb_runbook_name(k->rb), NULL};
    rb__srv_count(s, "runs_started", labels, 1);
    rb_run_start(e->run, on_event, on_done, e);
    return 0;
}

int rb__runs_adopt(rb_srv_t *s, rb_run_t *run, rb_book_t *k, int own_book)
{
    rb_srv_run_t *e = calloc(1, sizeof *e);
    if (!e || add(s, e) < 0) {
        free(e);
        return RB_ENOMEM;
    }
    e->s = s;
    e->run = run;
    e->book = k;
    e->own_book = own_book;
    if (!own_book)
        rb__book_ref(k);
    e->id = rb_run_id(run);
    rb_run_start(run, on_event, on_done, e);
    return 0;
}

static void on_grace(uv_timer_t *t)
{
    rb_srv_t *s = t->data;
    runs_t *rs = s->runs;
    char n[32];
    snprintf(n, sizeof n, "%zu", rs->n);
    rb_slog("warn", "grace_over", "runs", n, "then",
            "left open: marked interrupted on the next start, resumed where resumable",
            (char *)NULL);
    void (*cb)(rb_srv_t *) = rs->drained;
    rs->drained = NULL;
    if (cb)
        cb(s);
}

void rb__runs_drain(rb_srv_t *s, uint64_t grace_ms, void (*cb)(rb_srv_t *s))
{
    runs_t *rs = R(s);
    if (!rs) {
        cb(s);
        return;
    }
    rs->drained = cb;
    rs->grace = calloc(1, sizeof *rs->grace);
    if (rs->grace) {
        uv_timer_init(s->loop, rs->grace);
        rs->grace->data = s;
        uv_timer_start(rs->grace, on_grace, grace_ms, 0);
    }
    for (size_t i = 0; i < rs->n; i++)
        rb_run_hold(rs->v[i]->run, on_parked, rs->v[i]);
    uv_timer_start(rs->reaper, on_reap, 0, 0); /* nothing to wait for: drained now */
}

void rb__runs_mark_interrupted(rb_srv_t *s)
{
    runs_t *rs = s->runs;
    for (size_t i = 0; rs && i < rs->n; i++) {
        rb_srv_run_t *e = rs->v[i];
        json_t *d = json_pack("{s:s,s:b}", "reason",
                              e->parked ? "the server stopped between two steps"
                                        : "the server stopped while a step was in flight (its "
                                          "grace ran out)",
                              "parked", e->parked);
        int rc = rb_journal_event(s->j, e->id, "run_interrupted", NULL, 0, d);
        json_decref(d);
        if (rc == 0)
            rc = rb_journal_run_status(s->j, e->id, "interrupted", 1);
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)e->id);
        rb_slog("warn", "run_interrupted", "run", id, "runbook", rb_runbook_name(e->book->rb),
                "parked", e->parked ? "true" : "false", "then",
                "resumed on the next start where resume's rules allow", (char *)NULL);
        if (rc < 0)
            rb__srv_journal_failed(s, "marking a run interrupted");
    }
}

/* Runs whose action was still in flight when the server stopped: never
 * freed (their action's handles would call back into freed memory), kept
 * reachable here; the process ends without closing the loop. */
static rb_srv_run_t **abandoned;

size_t rb__runs_free(rb_srv_t *s)
{
    runs_t *rs = s->runs;
    if (!rs)
        return 0;
    size_t left = 0;
    for (size_t i = 0; i < rs->n; i++) {
        if (rs->v[i]->parked) {
            free_entry(rs->v[i]);
        } else {
            rs->v[left++] = rs->v[i]; /* rs->v becomes the abandoned list */
        }
    }
    while (rs->reap) {
        rb_srv_run_t *next = rs->reap->next;
        free_entry(rs->reap);
        rs->reap = next;
    }
    uv_close((uv_handle_t *)rs->reaper, (uv_close_cb)free);
    if (rs->grace)
        uv_close((uv_handle_t *)rs->grace, (uv_close_cb)free);
    if (left)
        abandoned = rs->v;
    else
        free(rs->v);
    free(rs);
    s->runs = NULL;
    return left;
}

size_t rb__runs_waiting(const rb_srv_t *s)
{
    const runs_t *rs = s->runs;
    size_t n = 0;
    for (size_t i = 0; rs && i < rs->n; i++)
        n += rb_run_waiting_count(rs->v[i]->run); /* its sub-runs' too */
    return n;
}
