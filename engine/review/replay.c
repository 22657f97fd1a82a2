/*
 * replay.c — `runbook replay RUN` (verify) and `--with FILE` (what-if):
 * the recorded run is run again by the engine itself (engine/run/), on a
 * loop of its own, against a journal in memory, with replayer.c standing in
 * for the world; then the decision paths are compared (decisions.c).
 *
 * Owns: the replay's loop, its scratch journal in memory, the now() clock
 * it installs on the calling thread (restored after), and the stimuli due
 * (approvals, escalations, cancels, resolved alerts), delivered in order on
 * the next turn of the loop. Must never: start an action (every invoker has
 * an answer hook: see rb_replay_host_t), or write the recorded journal.
 */
#include "review_int.h"

#include "expr/expr.h"
#include "load/diag.h"
#include "load/param.h"
#include "run/secret.h"

#include <runbook/runbook.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static rv_rec_t *rec_of(rv_replay_t *rp, rb_run_t *run)
{
    for (rv_rec_t *r = rp->recs; r; r = r->next)
        if (r->live == run)
            return r;
    /* a sub-run's first event: the child replayer.c handed out last */
    rv_rec_t *claim = NULL;
    for (rv_rec_t *r = rp->recs; r; r = r->next)
        if (r->claim)
            claim = r;
    if (claim) {
        claim->claim = 0;
        claim->live = run;
    }
    return claim;
}

static void on_tick(uv_timer_t *t);

static void on_event(rb_run_t *run, const char *type, const char *step, int attempt, const json_t *data,
                     void *arg)
{
    rv_replay_t *rp = arg;
    rv_rec_t *rec = rec_of(rp, run);
    if (!rec)
        return;
    rv_rec_saw(rec, type, step, attempt, data);
    /* started once: restarting it would put it behind the answers that
     * were started after it, and the stimulus would come late */
    if (json_array_size(rp->pending) && !uv_is_active((uv_handle_t *)&rp->tick))
        uv_timer_start(&rp->tick, on_tick, 0, 0);
}

/* Delivers the stimuli due, in the order they became due; one that
 * becomes due while doing so (an escalation right after another) follows
 * in the same turn, as it did before anything else could answer. */
static void on_tick(uv_timer_t *t)
{
    rv_replay_t *rp = t->data;
    while (json_array_size(rp->pending)) {
        json_t *p = json_incref(json_array_get(rp->pending, 0));
        json_array_remove(rp->pending, 0);
        /* the record's address, kept in the JSON it travels with (set above) */
        rv_rec_t *rec = (rv_rec_t *)(intptr_t)json_integer_value(json_object_get(p, "rec")); // NOLINT(performance-no-int-to-ptr)
        const json_t *ev = json_object_get(p, "event"), *data = json_object_get(ev, "data");
        const char *type = jstr(ev, "type"), *step = jstr(ev, "step");
        rb_run_t *run = rec->live;
        if (!run || !type)
            ;
        else if (!strcmp(type, "approval_granted") || !strcmp(type, "approval_denied"))
            rb_run_approve(run, step, !strcmp(type, "approval_granted"), jstr(data, "by"));
        else if (!strcmp(type, "approval_timeout"))
            rb_run_approval_expire(run);
        else if (!strcmp(type, "escalated") || !strcmp(type, "escalation_held"))
            rb_run_escalate(run, (size_t)json_integer_value(json_object_get(data, "level")) - 1);
        else if (!strcmp(type, "expression_error")) /* an escalation whose unless failed */
            rb_run_escalate(run, (size_t)json_integer_value(json_object_get(data, "index")));
        else if (!strcmp(type, "cancel_requested")) {
            /* who cancelled is in the record ("cancelled by alice" through
             * the API, "cancelled by the operator" at the terminal) */
            const char *why = jstr(data, "reason");
            if (why && !strncmp(why, "cancelled by ", 13) && why[13])
                rb_run_cancel_by(run, why + 13);
            else
                rb_run_cancel(run);
        }
        else if (!strcmp(type, "alert_resolved"))
            rb_run_alert_resolved(run, json_object_get(data, "alert"));
        json_decref(p);
    }
}

/* The now() values of the run and its sub-runs, in the order they were
 * read (by wall clock, then the monotonic clock, then the record). */
static void collect_clock(rv_replay_t *rp, int64_t id, const json_t *loaded, json_t *stamps, int depth)
{
    json_t *run = NULL, *children = NULL;
    int rc;
    if (loaded) /* the top run, read once */
        run = json_incref((json_t *)loaded);
    else if (depth > 16)
        return;
    else if ((rc = rb_journal_run_get_some(rp->src, id, (const char *const[]){"clock_read", NULL}, 0, &run)) < 0) {
        if (rc != RB_ENOTFOUND && !rp->jrc)
            rp->jrc = rc;
        return;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(run, "events"), i, ev) {
        const char *t = jstr(ev, "type");
        if (!t || strcmp(t, "clock_read"))
            continue;
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(json_object_get(ev, "data"), "values"), k, v)
            json_array_append_new(stamps, json_pack("{s:O,s:O,s:I,s:I,s:O}", "wall", json_object_get(ev, "wall_ms"),
                                                    "mono", json_object_get(ev, "mono_ns"), "run", (json_int_t)id,
                                                    "k", (json_int_t)(i * 1000 + k), "v", v));
        if (json_object_get(json_object_get(ev, "data"), "dropped"))
            rv_missing(rp, NULL, "now()", NULL, "more than 64 now() values between two events: some were not recorded");
    }
    json_decref(run);
    if ((rc = rb_journal_run_children(rp->src, id, &children)) == 0) {
        json_t *c;
        json_array_foreach(children, i, c)
            collect_clock(rp, json_integer_value(json_object_get(c, "id")), NULL, stamps, depth + 1);
    } else if (!rp->jrc) {
        rp->jrc = rc;
    }
    json_decref(children);
}

static int stamp_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    static const char *const keys[] = {"wall", "mono", "run", "k"};
    for (size_t i = 0; i < 4; i++) {
        json_int_t p = json_integer_value(json_object_get(x, keys[i])), q = json_integer_value(json_object_get(y, keys[i]));
        if (p != q)
            return p < q ? -1 : 1;
    }
    return 0;
}

static json_t *clock_values(rv_replay_t *rp, int64_t id)
{
    json_t *stamps = json_array();
    collect_clock(rp, id, rp->top->run, stamps, 0);
    size_t n = json_array_size(stamps);
    json_t **v = calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(stamps, i);
    qsort(v, n, sizeof(*v), stamp_cmp);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(out, json_object_get(v[i], "v"));
    free(v);
    json_decref(stamps);
    return out;
}

/* The options the recorded run was started with, from its run_started:
 * parameters (a secret one stands in: the journal holds only its mask),
 * alert, trigger, drill, env, run.started_at. */
static void recorded_opts(rv_replay_t *rp, rv_rec_t *rec, const rb_runbook_t *rb, rb_run_opts_t *o,
                          json_t **params)
{
    const json_t *first = rec->first;
    const json_t *st = json_object_get(first, "data");
    *params = json_deep_copy(json_object_get(st, "params"));
    if (!json_is_object(*params)) {
        json_decref(*params);
        *params = json_deep_copy(json_object_get(rec->run, "params"));
    }
    if (!json_is_object(*params)) {
        json_decref(*params);
        *params = json_object();
    }
    for (size_t i = 0; i < rb_runbook_nparams(rb); i++) {
        const rb_param_t *p = rb_runbook_param(rb, i);
        const json_t *v = json_object_get(*params, p->name);
        if (p->secret && json_is_string(v) && strstr(json_string_value(v), RB_SECRET_MASK)) {
            /* a stand-in of the parameter's type, long enough to be masked
             * like the secret was */
            json_object_set_new(*params, p->name, p->type == RB_PTYPE_INT || p->type == RB_PTYPE_NUMBER
                                                      ? json_integer(31337)
                                                  : p->type == RB_PTYPE_BOOL ? json_true()
                                                                             : json_string("(secret: not in the journal)"));
            rv_missing(rp, rec, "secret parameter", NULL, p->name);
        }
    }
    /* a resumed run goes on with the parameters given again on resume */
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(rec->run, "events"), i, ev)
        if (json_string_value(json_object_get(ev, "type")) && !strcmp(jstr(ev, "type"), "run_resumed") &&
            json_is_object(json_object_get(json_object_get(ev, "data"), "params")))
            json_object_update(*params, json_object_get(json_object_get(ev, "data"), "params"));
    o->params = *params;
    o->alert = json_object_get(st, "alert");
    o->trigger = jstr(rec->run, "trigger") ? jstr(rec->run, "trigger") : "replay";
    o->dry_run = json_is_true(json_object_get(st, "dry_run"));
    o->assume = json_object_get(st, "assume");
    o->env = json_object_get(st, "env");
    o->inventory = json_object_get(st, "inventory");
    o->replay = &rec->host;
    const json_t *sa = json_object_get(st, "started_at");
    if (json_is_integer(sa)) {
        o->started_at = json_integer_value(sa);
    } else {
        o->started_at = json_integer_value(json_object_get(first, "wall_ms")) / 1000;
        rv_missing(rp, rec, "run.started_at", NULL, "not recorded (an older journal): taken from the time of run_started");
    }
    if (!json_object_get(st, "env")) {
        size_t len;
        const char *src = rb_runbook_source(rb, &len);
        if (src && strstr(src, "env."))
            rv_missing(rp, rec, "env", NULL, "the env values the run read were not recorded (an older journal)");
    }
}

/* --with-sub FILE…: each file loads, names a runbook other than the top
 * one, and only one file names it. */
static int load_subs(rv_replay_t *rp, const rb_replay_opts_t *o, char *err, size_t errlen)
{
    for (const char *const *p = o->with_subs; p && *p; p++) {
        rb_diags_t *d = rb_diags_new();
        rb_runbook_t *rb = NULL;
        int rc = rb_runbook_load(*p, d, &rb);
        if (rc < 0) {
            json_t *all = rb_diags_json(d);
            const json_t *f = json_array_get(all, 0);
            snprintf(err, errlen, "%s:%lld:%lld: %s", f ? jstr(f, "file") : *p,
                     f ? (long long)json_integer_value(json_object_get(f, "line")) : 0LL,
                     f ? (long long)json_integer_value(json_object_get(f, "col")) : 0LL,
                     f ? jstr(f, "message") : "does not load");
            json_decref(all);
        } else if (!strcmp(rb_runbook_name(rb), rb_runbook_name(rp->top_rb))) {
            snprintf(err, errlen, "--with-sub %s is the runbook \"%s\" itself: give it as --with", *p,
                     rb_runbook_name(rb));
            rc = RB_EINVAL;
        } else if (json_object_get(rp->subs, rb_runbook_name(rb))) {
            snprintf(err, errlen, "--with-sub %s: another file is already the runbook \"%s\"", *p,
                     rb_runbook_name(rb));
            rc = RB_EINVAL;
        } else {
            json_t *steps = json_array();
            for (size_t i = 0; i < rb_runbook_nsteps(rb); i++)
                json_array_append_new(steps, json_string(rb_runbook_step(rb, i)->name));
            json_object_set_new(rp->subs, rb_runbook_name(rb),
                                json_pack("{s:s,s:b,s:o}", "path", *p, "used", 0, "steps", steps));
        }
        rb_runbook_free(rb);
        rb_diags_free(d);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* 1 when an edited sub-runbook (--with-sub) has a step named name. */
static int sub_has_step(const rv_replay_t *rp, const char *name)
{
    const char *k;
    json_t *sub, *s;
    size_t i;
    json_object_foreach(rp->subs, k, sub)
        json_array_foreach(json_object_get(sub, "steps"), i, s)
            if (!strcmp(json_string_value(s), name))
                return 1;
    return 0;
}

/* A what-if runs an edit of the recorded runbook: a file of another name
 * (the wrong file) is refused, and so is --assume STEP for a step the edit
 * does not have (a typo would assume nothing), as a drill refuses it. */
static int whatif_refused(const rv_replay_t *rp, const char *path, char *err, size_t errlen)
{
    const char *was = jstr(rp->top->run, "runbook"), *is = rb_runbook_name(rp->top_rb);
    if (was && is && strcmp(was, is)) {
        snprintf(err, errlen,
                 "%s is the runbook \"%s\", run %lld ran \"%s\": a what-if runs an edit of "
                 "the same runbook",
                 path, is, (long long)rp->top->id, was);
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)rp->assume, k, v) {
        if (strcmp(k, "*") && rb_runbook_step_index(rp->top_rb, k) < 0 && !sub_has_step(rp, k)) {
            snprintf(err, errlen, "--assume %s=%s: %s has no step named \"%s\"", k,
                     json_string_value(v), path, k);
            return -1;
        }
    }
    return 0;
}

int rb_review_replay(rb_journal_t *j, int64_t run_id, const rb_replay_opts_t *o, json_t **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    rv_replay_t rp;
    memset(&rp, 0, sizeof rp);
    rp.src = j;
    rp.whatif = o && o->with_path;
    rp.assume = o ? o->assume : NULL;
    rp.missing = json_array();
    rp.pending = json_array();
    rp.deferred = json_array();
    rp.subs = json_object();
    rp.err = err;
    rp.errlen = errlen;
    int rc = RB_EINVAL;
    rb_journal_t *scratch = NULL;
    rb_run_t *run = NULL;
    json_t *params = NULL;
    uv_loop_t loop;
    int loop_ready = 0;
    void *old_arg;
    rb_expr_clock_fn old_clock = rb_expr_get_clock(&old_arg);

    rp.top = rv_rec_load(&rp, run_id);
    if (!rp.top) {
        rc = RB_ENOTFOUND;
        goto done;
    }
    const json_t *st = json_object_get(rp.top->first, "data");
    if (json_is_integer(json_object_get(st, "parent_run"))) {
        snprintf(err, errlen, "run %lld is a sub-runbook of run %lld: replay run %lld (sub-runbooks replay with their parent)",
                 (long long)run_id, (long long)json_integer_value(json_object_get(st, "parent_run")),
                 (long long)json_integer_value(json_object_get(st, "parent_run")));
        goto done;
    }
    const char *status = jstr(rp.top->run, "status");
    json_t *gone = NULL, *g;
    size_t gi;
    int orc = rb_journal_runs_orphaned(j, &gone);
    if (orc == 0) /* open, its process gone: interrupted */
        json_array_foreach(gone, gi, g)
            if (json_integer_value(g) == run_id)
                status = "interrupted";
    json_decref(gone);
    if (orc < 0) {
        snprintf(err, errlen, "%s", rb_journal_errmsg(j));
        goto done;
    }
    if (status && !strcmp(status, "interrupted")) {
        snprintf(err, errlen, "run %lld was interrupted (its process stopped) and has not been resumed: "
                 "there is no end to compare; `runbook resume %lld` finishes it, then replay it",
                 (long long)run_id, (long long)run_id);
        goto done;
    }
    if (!json_is_integer(json_object_get(rp.top->run, "ended_at"))) {
        snprintf(err, errlen, "run %lld has not ended (%s): a replay compares a run that ended; if its "
                 "process is gone, `runbook resume %lld` finishes it",
                 (long long)run_id, status ? status : "?", (long long)run_id);
        goto done;
    }
    if (rp.whatif) {
        rb_diags_t *d = rb_diags_new();
        if (rb_runbook_load(o->with_path, d, &rp.top_rb) < 0) {
            json_t *all = rb_diags_json(d);
            const json_t *f = json_array_get(all, 0);
            snprintf(err, errlen, "%s:%lld:%lld: %s", f ? jstr(f, "file") : o->with_path,
                     f ? (long long)json_integer_value(json_object_get(f, "line")) : 0LL,
                     f ? (long long)json_integer_value(json_object_get(f, "col")) : 0LL,
                     f ? jstr(f, "message") : "does not load");
            json_decref(all);
            rb_diags_free(d);
            goto done;
        }
        rb_diags_free(d);
        if (load_subs(&rp, o, err, errlen) < 0 || whatif_refused(&rp, o->with_path, err, errlen) < 0)
            goto done;
    } else if (!(rp.top_rb = rv_rec_runbook(&rp, rp.top))) {
        goto done;
    }
    char jerr[300];
    if (rb_journal_open(":memory:", RB_JOURNAL_NO_RECOVER | RB_JOURNAL_SCRATCH, &scratch, jerr, sizeof jerr) < 0) {
        snprintf(err, errlen, "replay: a journal in memory: %s", jerr);
        goto done;
    }
    uv_loop_init(&loop);
    loop_ready = 1;
    rp.loop = &loop;
    uv_timer_init(&loop, &rp.tick);
    rp.tick.data = &rp;
    rp.clock = clock_values(&rp, run_id);
    if (rp.jrc) {
        snprintf(err, errlen, "%s", rb_journal_errmsg(j));
        goto done;
    }
    rb_expr_set_clock(rv_clock, &rp);
    rb_run_opts_t ro;
    memset(&ro, 0, sizeof ro);
    recorded_opts(&rp, rp.top, rp.top_rb, &ro, &params);
    char rerr[512] = "";
    if (rb_run_new(&loop, rp.top_rb, scratch, &ro, &run, rerr, sizeof rerr) < 0) {
        snprintf(err, errlen, "the run does not start again: %s", rerr);
        goto done;
    }
    rp.top->live = run;
    rv_rec_release(rp.top); /* the run is set up: what it answers is indexed */
    rb_run_start(run, on_event, NULL, &rp);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* what the replayed run could not journal would read as a decision
     * that differs: it is the replay that failed */
    if (*rb_journal_errmsg(scratch)) {
        snprintf(err, errlen, "replay: its journal in memory failed: %s", rb_journal_errmsg(scratch));
        goto done;
    }
    const char *sname;
    json_t *sub;
    json_object_foreach(rp.subs, sname, sub)
        if (!json_is_true(json_object_get(sub, "used"))) {
            char m[400];
            snprintf(m, sizeof m, "--with-sub %s: no recorded sub-run of \"%s\" ran: the edit was not used",
                     jstr(sub, "path"), sname);
            rv_missing(&rp, rp.top, "edit not used", NULL, m);
        }
    if (rp.clock_next < json_array_size(rp.clock)) {
        char m[160];
        snprintf(m, sizeof m, "%zu recorded now() value(s) were not asked for", json_array_size(rp.clock) - rp.clock_next);
        rv_missing(&rp, rp.top, "now()", NULL, m);
    }

    /* compare, run by run (the top run first, then its sub-runs in the
     * order they were replayed) */
    json_t *res = json_pack("{s:I,s:s?,s:s,s:{s:s?,s:s}}", "run", (json_int_t)run_id, "runbook",
                            jstr(rp.top->run, "runbook"), "mode", rp.whatif ? "what-if" : "verify", "status",
                            "recorded", jstr(rp.top->run, "status"), "replayed", rb_run_status(run));
    json_t *div = json_null(), *runs = json_array();
    for (rv_rec_t *r = rp.recs; r; r = r->next) {
        json_t *a = json_incref(r->recorded), *b = json_incref(r->replayed);
        json_t *d = rv_first_divergence(a, b);
        if (json_is_null(div) && !json_is_null(d)) {
            json_decref(div);
            div = json_deep_copy(d);
            json_object_set_new(div, "run", json_integer(r->id));
        }
        json_array_append_new(runs, json_pack("{s:I,s:s?,s:b,s:I,s:I}", "recorded", (json_int_t)r->id, "runbook",
                                              jstr(r->run, "runbook"), "identical", json_is_null(d),
                                              "decisions_recorded", (json_int_t)json_array_size(a),
                                              "decisions_replayed", (json_int_t)json_array_size(b)));
        if (r == rp.top) {
            json_object_set(res, "recorded", a);
            json_object_set(res, "replayed", b);
            if (rp.whatif)
                json_object_set_new(res, "steps", rv_step_diff(a, b, rp.top_rb));
        }
        json_decref(a);
        json_decref(b);
        json_decref(d);
    }
    /* a run that never finished (an approval nobody answered) diverges too */
    if (json_is_null(div) && !strcmp(rb_run_status(run), "waiting_approval")) {
        json_decref(div);
        div = json_pack("{s:I,s:s,s:I,s:n,s:n}", "run", (json_int_t)run_id, "lane", "main", "index", (json_int_t)0,
                        "recorded", "replayed");
    }
    json_object_set_new(res, "identical", json_boolean(json_is_null(div)));
    json_object_set_new(res, "divergence", div);
    json_object_set_new(res, "runs", runs);
    json_object_set(res, "missing", rp.missing);
    *out = res;
    rc = 0;
done:
    rb_expr_set_clock(old_clock, old_arg);
    if (run)
        rb_run_free(run);
    if (loop_ready) {
        uv_close((uv_handle_t *)&rp.tick, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    rb_journal_close(scratch);
    json_decref(params);
    rb_runbook_free(rp.top_rb);
    while (rp.recs) {
        rv_rec_t *n = rp.recs->next;
        rv_rec_free(rp.recs);
        rp.recs = n;
    }
    json_decref(rp.missing);
    json_decref(rp.pending);
    json_decref(rp.deferred);
    json_decref(rp.subs);
    json_decref(rp.clock);
    return rc;
}
