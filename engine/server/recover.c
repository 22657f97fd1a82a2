/*
 * recover.c — what a new server process picks up from the last one,
 * before it reads any request:
 *
 *  1. the runs it started that were left interrupted (a crash: the journal
 *     marked them on open; a stop: they were marked at SIGTERM) are resumed
 *     by resume's own rules (rb_run_resume_prepare): a step whose intent is
 *     on record without a result runs again only if it is read-only or
 *     idempotent; otherwise the run stays interrupted and the log says so,
 *     for an operator's `runbook resume --rerun-started`. A resumed run that
 *     waits for an approval asks again, and its timeout starts again.
 *  2. the alerts it claimed whose run never became durable (it died between
 *     the claim's commit and the run's) get their runs now, from the
 *     runbooks in force, linked to the claim like any other.
 *
 * Owns: nothing past the call (the runs are runs.c's). Must never: resume a
 * run another live process owns (the journal only marks dead owners'), or
 * a run the server did not start (a CLI run is its operator's).
 */
#define _GNU_SOURCE
#include "server_int.h"

#include "log.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB_SRV_TRIGGER "alertmanager"

static void resume_one(rb_srv_t *s, int64_t id)
{
    char sid[32], err[1024] = "";
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    rb_runbook_t *rb = NULL;
    rb_run_t *run = NULL;
    rb_diags_t *d = rb_diags_new();
    rb_run_opts_t o = {.trigger = RB_SRV_TRIGGER, .env = s->cfg->env,
                       .secret_env = s->cfg->secret_env, .inventory = s->inventory,
                       .preset = s->cfg->params, .secrets = s->secrets,
                       .external_url = s->cfg->external_url};
    int rc = rb_run_resume_prepare(s->loop, s->j, id, NULL, 0, &o, d, &rb, &run, err, sizeof err);
    rb_diags_free(d);
    if (rc < 0) {
        rb_slog("warn", "run_not_resumed", "run", sid, "why", err, "then",
                rc == RB_EBUSY ? "check what the step did, then: runbook resume --rerun-started"
                               : "it stays interrupted",
                (char *)NULL);
        return;
    }
    rb_book_t *k = calloc(1, sizeof *k);
    if (!k || !(k->path = strdup(rb_runbook_path(rb) ? rb_runbook_path(rb) : ""))) {
        free(k);
        rb_run_free(run);
        rb_runbook_free(rb);
        return;
    }
    k->rb = rb;
    k->refs = 1;
    if (rb__runs_adopt(s, run, k, 1) < 0) {
        rb_run_free(run);
        rb_runbook_free(rb);
        free(k->path);
        free(k);
        return;
    }
    rb_slog("info", "run_resumed", "run", sid, "runbook", rb_runbook_name(rb), (char *)NULL);
}

static void resume_interrupted(rb_srv_t *s)
{
    json_t *runs = NULL;
    if (rb_journal_runs(s->j, 0, &runs) < 0) {
        rb__srv_journal_failed(s, "listing interrupted runs");
        return;
    }
    /* Oldest first: they resume in the order they started. */
    for (size_t i = json_array_size(runs); i-- > 0;) {
        const json_t *r = json_array_get(runs, i);
        const char *st = json_string_value(json_object_get(r, "status"));
        const char *tr = json_string_value(json_object_get(r, "trigger"));
        if (st && !strcmp(st, "interrupted") && tr && !strcmp(tr, RB_SRV_TRIGGER))
            resume_one(s, json_integer_value(json_object_get(r, "id")));
    }
    json_decref(runs);
}

static void start_unstarted(rb_srv_t *s)
{
    json_t *v = NULL;
    if (rb_journal_alerts_unstarted(s->j, 0, &v) < 0) {
        rb__srv_journal_failed(s, "listing claimed alerts");
        return;
    }
    size_t i, k;
    json_t *a, *name;
    json_array_foreach(v, i, a) {
        const char *fp = json_string_value(json_object_get(a, "fingerprint"));
        const char *sa = json_string_value(json_object_get(a, "starts_at"));
        json_array_foreach(json_object_get(a, "missing"), k, name) {
            const char *nm = json_string_value(name);
            rb_book_t *b = nm ? rb__books_find(s->books, nm) : NULL;
            char err[512] = "";
            int64_t id = 0;
            rb_srv_claim_t claim = {fp, sa};
            int rc = b ? rb__runs_start(s, b, json_object_get(a, "alert"), NULL, RB_SRV_TRIGGER,
                                        &claim, &id, err, sizeof err)
                       : RB_ENOTFOUND;
            if (rc == 0) {
                char sid[32];
                snprintf(sid, sizeof sid, "%lld", (long long)id);
                rb_slog("info", "claim_started", "run", sid, "runbook", nm, "fingerprint", fp,
                        "why", "claimed before a restart, its run never recorded", (char *)NULL);
                continue;
            }
            char outcome[600];
            snprintf(outcome, sizeof outcome, "%s: %s", rc == RB_EBUSY ? "busy" : "error",
                     rc == RB_ENOTFOUND ? "the runbook is gone" : err);
            rb_slog("warn", "run_not_started", "runbook", nm ? nm : "?", "fingerprint", fp, "why",
                    outcome, (char *)NULL);
            if (rb_journal_alert_outcome(s->j, fp, sa, nm ? nm : "?", outcome) < 0)
                rb__srv_journal_failed(s, "recording an alert's outcome");
        }
    }
    json_decref(v);
}

void rb__recover(rb_srv_t *s)
{
    json_t *rec = NULL;
    if (rb_journal_recovered(s->j, &rec) == 0 && json_array_size(rec)) {
        char n[32];
        snprintf(n, sizeof n, "%zu", json_array_size(rec));
        rb_slog("warn", "recovered", "interrupted_runs", n, "why",
                "their process was gone when the journal opened", (char *)NULL);
    }
    json_decref(rec);
    resume_interrupted(s);
    start_unstarted(s);
}
