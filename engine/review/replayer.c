/*
 * replayer.c — the action host of a replay: a recorded run read back from
 * the journal, answering the replayed run instead of the world. Every
 * attempt gets the result the journal recorded for it (the action's own
 * answer, before expect and until judged it, so that they are judged
 * again); a sub-runbook gets its recorded run and version; approvals,
 * escalation timers, cancels and resolved alerts come back at the place of
 * the record where they came the first time; now() gives back the values
 * it gave.
 *
 * Owns: the recorded runs of a replay (rv_rec_t) and what they answer.
 * Must never: start an action, touch a database but through the journal's
 * API, or write to the recorded journal.
 */
#include "review_int.h"

#include "expr/expr.h"
#include "host/action_host.h"
#include "load/diag.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_SEP "\x1f"

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

void rv_missing(rv_replay_t *rp, const rv_rec_t *rec, const char *what, const char *step,
                const char *detail)
{
    json_t *m = json_pack("{s:I,s:s,s:s}", "run", (json_int_t)(rec ? rec->id : 0), "what", what,
                          "detail", detail ? detail : "");
    if (step)
        json_object_set_new(m, "step", json_string(step));
    json_array_append_new(rp->missing, m);
}

/* The events of a run as the replay must see them: a resumed run's part
 * that the interruption left unfinished (from its last finished step, or
 * its declaration, up to run_interrupted) is left out, and so are
 * run_interrupted and run_resumed; the resumed part follows. */
static json_t *effective_events(const json_t *events)
{
    json_t *out = json_array();
    size_t boundary = 0, i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        const char *t = jstr(ev, "type");
        if (!t)
            continue;
        if (!strcmp(t, "run_interrupted")) {
            while (json_array_size(out) > boundary)
                json_array_remove(out, json_array_size(out) - 1);
            continue;
        }
        if (!strcmp(t, "run_resumed"))
            continue;
        json_array_append(out, ev);
        if (!strcmp(t, "step_finished") || !strcmp(t, "step_skipped") || !strcmp(t, "declared") ||
            !strcmp(t, "run_started"))
            boundary = json_array_size(out);
    }
    return out;
}

/* An event's kind as an anchor of stimuli: type, step and attempt. 0 for
 * events a replay never emits (an action's log lines: nothing runs), that
 * are no transition (now() values), or that come from work running beside
 * the run's own path (notifications, escalations' messages, parallel
 * checks): a replay answers those on another turn of the loop than the
 * record did, so a stimulus keeps its place on the run's own path. */
static int anchor_of(const char *type, const char *step, int attempt, const json_t *data, char *buf,
                     size_t len)
{
    const char *phase = json_string_value(json_object_get(data, "phase"));
    if (!type || !strcmp(type, "log") || !strcmp(type, "clock_read") || !strcmp(type, "notification_sent") ||
        !strcmp(type, "check_finished") ||
        (phase && (!strcmp(phase, "notify") || !strcmp(phase, "escalate") || !strcmp(phase, "check"))))
        return 0;
    snprintf(buf, len, "%s" KEY_SEP "%s" KEY_SEP "%d", type, step ? step : "", attempt);
    return 1;
}

/* What came from outside the run: a timer that fired, an operator, the
 * alert. The replay makes it happen again at the same place. */
static int is_stimulus(const char *type, const json_t *data, const char *prev_type,
                       const json_t *prev_data)
{
    if (!strcmp(type, "escalated") || !strcmp(type, "escalation_held")) {
        /* after an `unless` that could not be evaluated, the escalation
         * is that expression_error's consequence */
        const char *in = prev_type && !strcmp(prev_type, "expression_error") ? jstr(prev_data, "in") : NULL;
        return !(in && !strcmp(in, "escalate"));
    }
    if (!strcmp(type, "expression_error"))
        return jstr(data, "in") && !strcmp(jstr(data, "in"), "escalate");
    return !strcmp(type, "cancel_requested") || !strcmp(type, "alert_resolved");
}

static void answer_key(char *buf, size_t len, const char *phase, const char *name, int item,
                       int attempt)
{
    snprintf(buf, len, "%s" KEY_SEP "%s" KEY_SEP "%d" KEY_SEP "%d", phase ? phase : "main",
             name ? name : "", item, attempt);
}

/* The id of the last sub-run that step of rec started and that ended
 * cancelled; 0 when none. */
static json_int_t cancelled_child(const rv_rec_t *rec, const char *step)
{
    json_int_t id = 0;
    size_t i;
    json_t *c;
    json_array_foreach(step ? rec->children : NULL, i, c)
        if (jstr(c, "parent_step") && !strcmp(jstr(c, "parent_step"), step) && jstr(c, "status") &&
            !strcmp(jstr(c, "status"), "cancelled"))
            id = json_integer_value(json_object_get(c, "id"));
    return id;
}

/* What indexing a recorded run carries from one event to the next. */
typedef struct {
    json_t *with, *items, *undo_with; /* step → what its step_started/undo_started ran with */
    json_t *seen;                     /* anchor → how many so far */
    json_t *prev;                     /* the event of the last anchor */
    char prev_anchor[512];
    long prev_n;
    json_t *in_flight; /* the main step running (its name) */
} rv_index_t;

static void index_init(rv_index_t *ix)
{
    memset(ix, 0, sizeof *ix);
    ix->with = json_object();
    ix->items = json_object();
    ix->undo_with = json_object();
    ix->seen = json_object();
}

static void index_free(rv_index_t *ix)
{
    json_decref(ix->with);
    json_decref(ix->items);
    json_decref(ix->undo_with);
    json_decref(ix->seen);
    json_decref(ix->prev);
    json_decref(ix->in_flight);
    memset(ix, 0, sizeof *ix);
}

/* Indexes what one event of the recorded run answers (in the order of
 * its effective events): an attempt's result with the parameters it ran
 * with, an approval, a stimulus. */
static void index_event(rv_rec_t *rec, rv_index_t *ix, json_t *ev)
{
    const char *type = jstr(ev, "type"), *step = jstr(ev, "step");
    const json_t *data = json_object_get(ev, "data");
    int attempt = (int)json_integer_value(json_object_get(ev, "attempt"));
    if (!type)
        return;
    if (step && !strcmp(type, "step_started")) {
        json_decref(ix->in_flight);
        ix->in_flight = json_incref(json_object_get(ev, "step"));
    } else if (step && !strcmp(type, "step_finished")) {
        json_decref(ix->in_flight);
        ix->in_flight = NULL;
    }
    if (step && !strcmp(type, "step_started")) {
        json_object_set(ix->with, step, json_object_get(data, "with"));
        json_object_set(ix->items, step, json_object_get(data, "items"));
    } else if (step && !strcmp(type, "step_finished")) {
        json_t *q = json_object_get(rec->durations, step);
        if (!q) {
            q = json_array();
            json_object_set_new(rec->durations, step, q);
        }
        json_array_append(q, json_object_get(data, "duration_ms"));
    } else if (step && !strcmp(type, "undo_started")) {
        json_object_set(ix->undo_with, step, json_object_get(data, "with"));
    } else if (!strcmp(type, "attempt_finished")) {
        const char *phase = jstr(data, "phase");
        const json_t *item = json_object_get(data, "item");
        int k = json_is_integer(item) ? (int)json_integer_value(item) : -1;
        const json_t *res = json_object_get(data, "raw");
        if (!json_is_object(res))
            res = json_object_get(data, "result");
        const json_t *w = NULL;
        if (phase && !strcmp(phase, "main"))
            w = k >= 0 ? json_object_get(json_array_get(json_object_get(ix->items, step ? step : ""), (size_t)k), "with")
                       : json_object_get(ix->with, step ? step : "");
        else if (phase && !strcmp(phase, "undo"))
            w = json_object_get(ix->undo_with, step ? step : "");
        char key[512];
        answer_key(key, sizeof key, phase, step, k, attempt);
        json_t *q = json_object_get(rec->answers, key);
        if (!q) {
            q = json_array();
            json_object_set_new(rec->answers, key, q);
        }
        json_t *a = json_object();
        json_object_set_nocheck(a, "result", res ? (json_t *)res : json_null());
        json_object_set_nocheck(a, "with", w ? (json_t *)w : json_null());
        json_array_append_new(q, a);
    } else if (step && (!strcmp(type, "approval_granted") || !strcmp(type, "approval_denied") ||
                        !strcmp(type, "approval_timeout"))) {
        const char *by = jstr(data, "by");
        if (!(by && !strcmp(by, "drill"))) { /* a drill asks nobody: it answers itself */
            json_t *q = json_object_get(rec->approvals, step);
            if (!q) {
                q = json_array();
                json_object_set_new(rec->approvals, step, q);
            }
            json_array_append(q, ev);
        }
    }
    if (is_stimulus(type, data, ix->prev ? jstr(ix->prev, "type") : NULL, json_object_get(ix->prev, "data"))) {
        json_t *s = json_pack("{s:s,s:I,s:O,s:b}", "anchor", ix->prev_anchor, "n", (json_int_t)ix->prev_n,
                              "event", ev, "fired", 0);
        /* a cancel while a step's sub-run ran reached the sub-run: it
         * came when the sub-run was where its own cancel is recorded */
        const char *in_flight = json_string_value(ix->in_flight);
        json_int_t child = !strcmp(type, "cancel_requested") ? cancelled_child(rec, in_flight) : 0;
        if (child) {
            json_object_set_new(s, "via_child", json_integer(child));
            json_object_set_new(s, "via_step", json_string(in_flight));
        }
        json_array_append_new(rec->stimuli, s);
    }
    char a[512];
    if (anchor_of(type, step, attempt, data, a, sizeof a)) {
        json_int_t n = json_integer_value(json_object_get(ix->seen, a)) + 1;
        json_object_set_new(ix->seen, a, json_integer(n));
        snprintf(ix->prev_anchor, sizeof ix->prev_anchor, "%s", a);
        ix->prev_n = (long)n;
        json_decref(ix->prev);
        ix->prev = json_incref(ev);
    }
}

static json_t *host_answer(void *arg, const char *phase, const char *name, int item, int attempt,
                           const char *action, const json_t *with);
static int host_subrun(void *arg, const char *step, const char *name, rb_runbook_t **rb,
                       const rb_replay_host_t **child, char *err, size_t errlen);

/* steps.X.duration: the recorded one, in order; the measured one for a
 * step the record does not have (a what-if's). */
static uint64_t host_duration(void *arg, const char *step, uint64_t measured)
{
    rv_rec_t *rec = arg;
    char key[300];
    snprintf(key, sizeof key, "duration" KEY_SEP "%s", step);
    size_t n = (size_t)json_integer_value(json_object_get(rec->cursor, key));
    const json_t *v = json_array_get(json_object_get(rec->durations, step), n);
    if (!json_is_integer(v))
        return measured;
    json_object_set_new(rec->cursor, key, json_integer((json_int_t)n + 1));
    return (uint64_t)json_integer_value(v);
}

/* What a record's load carries from one event to the next. */
typedef struct {
    rv_rec_t *rec;
    rv_index_t ix;
    json_t *clock; /* its clock_read events (replay.c's collect_clock reads them) */
} rv_load_t;

/* One event of a run that was never interrupted: its effective events
 * are all of its events, indexed as they are read (rb_journal_run_walk)
 * rather than held all at once (most of a replay's memory, and the page
 * faults of touching it most of its time). 1 (the walk ends) at the first
 * sign of an interruption: the run is read whole (effective_events). */
static int load_event(json_t *ev, void *arg)
{
    rv_load_t *ld = arg;
    rv_rec_t *rec = ld->rec;
    const char *type = jstr(ev, "type");
    if (type && (!strcmp(type, "run_interrupted") || !strcmp(type, "run_resumed")))
        return 1;
    if (!rec->first)
        rec->first = json_incref(ev);
    if (type && !strcmp(type, "clock_read"))
        json_array_append(ld->clock, ev);
    index_event(rec, &ld->ix, ev);
    json_t *d = rv_decision(type, jstr(ev, "step"), json_integer_value(json_object_get(ev, "attempt")),
                            json_object_get(ev, "data"));
    if (d)
        json_array_append_new(rec->recorded, d);
    return 0;
}

/* What indexing makes, empty (again, after a walk that ended at an
 * interruption). */
static void rec_index_reset(rv_rec_t *rec)
{
    json_t **all[] = {&rec->answers, &rec->approvals, &rec->durations, &rec->recorded, &rec->stimuli};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        json_decref(*all[i]);
    rec->answers = json_object();
    rec->approvals = json_object();
    rec->durations = json_object();
    rec->recorded = json_array();
    rec->stimuli = json_array();
    json_decref(rec->first);
    rec->first = NULL;
}

/* rec's events: streamed (load_event), or, for a run that was
 * interrupted, read whole and cut to the effective ones. 0, or the
 * journal's error. */
static int rec_read(rv_rec_t *rec)
{
    rv_replay_t *rp = rec->rp;
    /* log lines are the one kind of event a replay never reads: nothing
     * runs, so none is answered or emitted */
    static const char *const unread[] = {"log", NULL};
    rv_load_t ld = {.rec = rec, .clock = json_array()};
    index_init(&ld.ix);
    int rc = rb_journal_run_walk(rp->src, rec->id, unread, 1, NULL, load_event, &ld);
    index_free(&ld.ix);
    if (rc == 0) {
        json_object_set_new(rec->run, "events", ld.clock);
        return 0;
    }
    json_decref(ld.clock);
    if (rc < 0)
        return rc;
    rec_index_reset(rec);
    json_t *run = NULL;
    if ((rc = rb_journal_run_get_some(rp->src, rec->id, unread, 1, &run)) < 0)
        return rc;
    json_object_set(rec->run, "events", json_object_get(run, "events"));
    json_decref(run);
    rec->events = effective_events(json_object_get(rec->run, "events"));
    rec->first = json_incref(json_array_get(rec->events, 0));
    index_init(&ld.ix);
    size_t i;
    json_t *ev;
    json_array_foreach(rec->events, i, ev)
        index_event(rec, &ld.ix, ev);
    index_free(&ld.ix);
    json_decref(rec->recorded);
    rec->recorded = rv_decisions(rec->events);
    return 0;
}

rv_rec_t *rv_rec_load(rv_replay_t *rp, int64_t id)
{
    json_t *run = NULL, *children = NULL;
    int rc = rb_journal_run_row(rp->src, id, &run);
    if (rc < 0) {
        if (rc == RB_ENOTFOUND)
            snprintf(rp->err, rp->errlen, "no run %lld in the journal", (long long)id);
        else
            snprintf(rp->err, rp->errlen, "%s", rb_journal_errmsg(rp->src));
        return NULL;
    }
    if (rb_journal_run_children(rp->src, id, &children) < 0) {
        snprintf(rp->err, rp->errlen, "%s", rb_journal_errmsg(rp->src));
        json_decref(run);
        return NULL;
    }
    rv_rec_t *rec = calloc(1, sizeof(*rec));
    rec->rp = rp;
    rec->id = id;
    rec->run = run;
    rec->cursor = json_object();
    rec->counts = json_object();
    rec->children = children;
    rec->used = json_object();
    rec->replayed = json_array();
    rec_index_reset(rec);
    if (rec_read(rec) < 0) {
        snprintf(rp->err, rp->errlen, "%s", rb_journal_errmsg(rp->src));
        rv_rec_free(rec);
        return NULL;
    }
    const json_t *st = json_object_get(rec->first, "data");
    rec->host = (rb_replay_host_t){.answer = host_answer, .subrun = host_subrun, .duration = host_duration,
                                   .started_at = json_integer_value(json_object_get(st, "started_at")), .arg = rec};
    /* appended, so that the list keeps the order runs were replayed in */
    rv_rec_t **p = &rp->recs;
    while (*p)
        p = &(*p)->next;
    *p = rec;
    return rec;
}

void rv_rec_release(rv_rec_t *rec)
{
    json_object_del(rec->run, "events");
    json_decref(rec->events);
    rec->events = NULL;
}

void rv_rec_free(rv_rec_t *rec)
{
    json_decref(rec->run);
    json_decref(rec->events);
    json_decref(rec->first);
    json_decref(rec->recorded);
    json_decref(rec->answers);
    json_decref(rec->cursor);
    json_decref(rec->approvals);
    json_decref(rec->durations);
    json_decref(rec->stimuli);
    json_decref(rec->counts);
    json_decref(rec->children);
    json_decref(rec->used);
    json_decref(rec->replayed);
    free(rec);
}

rb_runbook_t *rv_rec_runbook(rv_replay_t *rp, const rv_rec_t *rec)
{
    const char *sha = jstr(rec->run, "sha256"), *name = jstr(rec->run, "runbook");
    char *src = NULL;
    size_t len = 0;
    int vrc = sha ? rb_journal_get_version(rp->src, sha, &src, &len) : RB_ENOTFOUND;
    if (vrc == RB_ENOTFOUND) {
        snprintf(rp->err, rp->errlen, "run %lld: its runbook version is not in the journal",
                 (long long)rec->id);
        return NULL;
    }
    if (vrc < 0) {
        snprintf(rp->err, rp->errlen, "%s", rb_journal_errmsg(rp->src));
        return NULL;
    }
    /* where relative paths resolved: only a sub-runbook lookup would use
     * it, and a replay looks none up */
    const char *path = jstr(json_object_get(rec->first, "data"), "path");
    char *dir = NULL;
    if (path && strrchr(path, '/'))
        dir = strndup(path, (size_t)(strrchr(path, '/') - path) + (strrchr(path, '/') == path));
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    int rc = rb_runbook_load_text(name ? name : "recorded", src, len, dir, d, &rb);
    if (rc < 0) {
        json_t *all = rb_diags_json(d);
        const json_t *first = json_array_get(all, 0);
        snprintf(rp->err, rp->errlen,
                 "run %lld: its recorded runbook version does not load in this version of "
                 "runbook: %s",
                 (long long)rec->id, first ? jstr(first, "message") : "?");
        json_decref(all);
    }
    rb_diags_free(d);
    free(dir);
    free(src);
    return rc < 0 ? NULL : rb;
}

/* A what-if step with no recorded answer "would run": its outcome is the
 * one --assume gives it (default ok). */
static const char *assumed(const rv_replay_t *rp, const char *name)
{
    const char *a = json_string_value(json_object_get(rp->assume, name ? name : ""));
    if (!a)
        a = json_string_value(json_object_get(rp->assume, "*"));
    return a && !strcmp(a, "failed") ? "failed" : "ok";
}

static json_t *host_answer(void *arg, const char *phase, const char *name, int item, int attempt,
                           const char *action, const json_t *with)
{
    rv_rec_t *rec = arg;
    rv_replay_t *rp = rec->rp;
    char key[512];
    answer_key(key, sizeof key, phase, name, item, attempt);
    json_t *q = json_object_get(rec->answers, key);
    size_t n = (size_t)json_integer_value(json_object_get(rec->cursor, key));
    const json_t *a = json_array_get(q, n);
    const json_t *rw = json_object_get(a, "with");
    /* what-if: a recorded result answers only the same action run with the
     * same parameters; a changed step would run */
    int fits = a && !(rp->whatif && !json_is_null(rw) && !json_equal(rw, with));
    if (fits) {
        json_object_set_new(rec->cursor, key, json_integer((json_int_t)n + 1));
        return json_deep_copy(json_object_get(a, "result"));
    }
    const rb_action_t *desc = rb__action_find(action);
    char detail[300];
    if (rp->whatif) {
        const char *word = assumed(rp, name);
        snprintf(detail, sizeof detail, "%s %s attempt %d would run (%s, %s): answered as %s",
                 phase ? phase : "main", name ? name : "?", attempt, action,
                 a ? "its parameters changed" : "no recorded result", word);
        rv_missing(rp, rec, "would run", name, detail);
        json_t *res = rb__result_new(desc, word, !strcmp(word, "ok") ? NULL : "assumed failed (--assume)");
        json_object_set_new(res, "replay_assumed", json_string(word));
        json_object_set_new(res, "would_run", json_pack("{s:s,s:O}", "action", action, "with", (json_t *)with));
        return res;
    }
    snprintf(detail, sizeof detail, "%s %s%s attempt %d (%s)", phase ? phase : "main", name ? name : "?",
             item >= 0 ? " item" : "", attempt, action);
    rv_missing(rp, rec, "no recorded answer", name, detail);
    return rb__result_new(desc, "error", "replay: the journal holds no result for this attempt");
}

static int host_subrun(void *arg, const char *step, const char *name, rb_runbook_t **rb,
                       const rb_replay_host_t **child, char *err, size_t errlen)
{
    rv_rec_t *rec = arg;
    rv_replay_t *rp = rec->rp;
    size_t i;
    json_t *c;
    json_array_foreach(rec->children, i, c) {
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(c, "id")));
        const char *ps = jstr(c, "parent_step"), *rn = jstr(c, "runbook");
        if (json_object_get(rec->used, id) || !ps || strcmp(ps, step) || !rn || strcmp(rn, name))
            continue;
        json_object_set_new(rec->used, id, json_true());
        rv_rec_t *sub = rv_rec_load(rp, json_integer_value(json_object_get(c, "id")));
        if (sub)
            sub->parent = rec;
        json_t *edit = json_object_get(rp->subs, name); /* what-if: an edited version */
        rb_runbook_t *srb = NULL;
        if (sub && edit) {
            rb_diags_t *d = rb_diags_new();
            if (rb_runbook_load(jstr(edit, "path"), d, &srb) < 0)
                snprintf(rp->err, rp->errlen, "%s does not load", jstr(edit, "path"));
            else
                json_object_set_new(edit, "used", json_true());
            rb_diags_free(d);
        } else if (sub) {
            srb = rv_rec_runbook(rp, sub);
        }
        if (sub)
            rv_rec_release(sub);
        if (!srb) {
            snprintf(err, errlen, "replay: %s", rp->err);
            return RB_EINVAL;
        }
        sub->claim = 1;
        *rb = srb;
        *child = &sub->host;
        return 0;
    }
    char detail[300];
    snprintf(detail, sizeof detail, "step %s: no recorded run of sub-runbook %s", step, name);
    rv_missing(rp, rec, "no recorded sub-run", step, detail);
    snprintf(err, errlen, "replay: the journal holds no run of sub-runbook \"%s\" for step %s", name, step);
    return RB_ENOTFOUND;
}

void rv_rec_saw(rv_rec_t *rec, const char *type, const char *step, int attempt, const json_t *data)
{
    rv_replay_t *rp = rec->rp;
    /* the decision, taken now and copied: the run goes on changing the
     * objects it journaled (the journal itself writes their text at once);
     * only what was decided is kept, not the whole event (a foreach's
     * step_finished holds every item's result) */
    json_t *dn = rv_decision(type, step, attempt, data);
    if (dn) {
        /* its containers copied (nothing in the engine changes a number
         * or a string it made: jansson's *_set of scalars is never used) */
        json_t *dec = json_object_get(dn, "decision"), *v;
        const char *k;
        json_object_foreach(dec, k, v)
            if (json_is_object(v) || json_is_array(v))
                json_object_set_new(dec, k, json_deep_copy(v));
        json_array_append_new(rec->replayed, dn);
    }
    if (step && !strcmp(type, "approval_requested")) {
        /* the recorded answer to this step's request, in order */
        json_t *q = json_object_get(rec->approvals, step);
        char key[300];
        snprintf(key, sizeof key, "approval" KEY_SEP "%s", step);
        size_t n = (size_t)json_integer_value(json_object_get(rec->cursor, key));
        json_t *ans = json_array_get(q, n);
        if (ans) {
            json_object_set_new(rec->cursor, key, json_integer((json_int_t)n + 1));
            json_array_append_new(rp->pending, json_pack("{s:I,s:O}", "rec", (json_int_t)(intptr_t)rec, "event", ans));
        } else if (rp->whatif) {
            /* a what-if's new approval is granted, as assumed */
            rv_missing(rp, rec, "no recorded approval", step, "a new approval: taken as granted");
            json_t *ev = json_pack("{s:s,s:s,s:{s:s}}", "type", "approval_granted", "step", step, "data", "by",
                                   "replay (assumed)");
            json_array_append_new(rp->pending, json_pack("{s:I,s:o}", "rec", (json_int_t)(intptr_t)rec, "event", ev));
        }
        /* a verify with none recorded: nobody answered (the run was
         * cancelled while it waited, or it was still waiting); the run
         * waits, and the stimuli recorded say what came */
    }
    char a[512];
    if (!anchor_of(type, step, attempt, data, a, sizeof a))
        return;
    json_int_t n = json_integer_value(json_object_get(rec->counts, a)) + 1;
    json_object_set_new(rec->counts, a, json_integer(n));
    size_t i;
    json_t *s;
    /* a deferred cancel whose step is over (a what-if ran no sub-run
     * there) comes now */
    for (i = 0; i < json_array_size(rp->deferred);) {
        json_t *d = json_array_get(rp->deferred, i);
        /* "rec" holds a record's address (replay.c), compared, never read */
        if ((rv_rec_t *)(intptr_t)json_integer_value(json_object_get(d, "rec")) == rec && // NOLINT(performance-no-int-to-ptr)
            (!step || strcmp(step, jstr(d, "step")))) {
            json_array_append_new(rp->pending, json_pack("{s:O,s:O}", "rec", json_object_get(d, "rec"), "event",
                                                         json_object_get(d, "event")));
            json_array_remove(rp->deferred, i);
        } else {
            i++;
        }
    }
    json_array_foreach(rec->stimuli, i, s) {
        if (json_is_true(json_object_get(s, "fired")) || json_integer_value(json_object_get(s, "n")) != n ||
            strcmp(jstr(s, "anchor"), a))
            continue;
        json_object_set_new(s, "fired", json_true());
        if (json_object_get(s, "via_child")) { /* waits for the sub-run (deferred) */
            json_array_append_new(rp->deferred, json_pack("{s:O,s:O,s:I,s:O}", "child", json_object_get(s, "via_child"),
                                                          "step", json_object_get(s, "via_step"), "rec",
                                                          (json_int_t)(intptr_t)rec, "event",
                                                          json_object_get(s, "event")));
            continue;
        }
        const json_t *ev = json_object_get(s, "event");
        json_t *from = NULL; /* the parent's cancel that reached this sub-run here */
        size_t k;
        json_t *d;
        json_array_foreach(rp->deferred, k, d)
            if (jstr(ev, "type") && !strcmp(jstr(ev, "type"), "cancel_requested") &&
                json_integer_value(json_object_get(d, "child")) == rec->id) {
                from = json_incref(d);
                json_array_remove(rp->deferred, k);
                break;
            }
        if (from)
            json_array_append_new(rp->pending, json_pack("{s:O,s:O}", "rec", json_object_get(from, "rec"), "event",
                                                         json_object_get(from, "event")));
        else
            json_array_append_new(rp->pending, json_pack("{s:I,s:O}", "rec", (json_int_t)(intptr_t)rec, "event", ev));
        json_decref(from);
    }
}

double rv_clock(void *arg)
{
    rv_replay_t *rp = arg;
    const json_t *v = json_array_get(rp->clock, rp->clock_next);
    if (v) {
        rp->clock_next++;
        return json_number_value(v);
    }
    rv_missing(rp, rp->top, "now()", NULL,
               "now() was called more often than the journal recorded: the clock answered");
    return rb_expr_system_now();
}
