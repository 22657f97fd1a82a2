/*
 * run.c — the life of a run (see run.h and DESIGN §2):
 *
 *   detect (checks in parallel) → confirm → severity (confirm.c) → steps
 *   (step.c) → validate (checks in parallel) → resolved | failed |
 *   not_confirmed | inconclusive | cancelled, with notifications on run
 *   events and escalations on timers.
 *
 * Owns: a run's expression context, its journaling, its check, notification
 * and escalation invokers, its approval and escalation timers, and its end.
 * Every transition is appended to the journal before the run acts on it;
 * if the journal refuses a write the run stops: nothing runs that cannot be
 * journaled. The steps themselves are in step.c.
 */
#define _GNU_SOURCE /* asprintf */
#include "run_int.h"
#include "load/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- journaling ---- */

/* now() values handed out on this thread since the last event: each run
 * installs recording_clock (unless a replay installed its own), and the
 * next event journaled on the thread is preceded by a "clock_read" event
 * with them, in the order they were read, so that a replay can give back
 * exactly those values (docs/review.md). */
#define RB__CLOCK_PENDING 64
static _Thread_local double clock_pending[RB__CLOCK_PENDING];
static _Thread_local size_t clock_npending, clock_dropped;

static double recording_clock(void *arg)
{
    (void)arg;
    double t = rb_expr_system_now();
    if (clock_npending < RB__CLOCK_PENDING)
        clock_pending[clock_npending++] = t;
    else
        clock_dropped++;
    return t;
}

/* Journals the pending now() values as "clock_read" {values, dropped?}. */
static int record_clock(rb_run_t *r)
{
    json_t *v = json_array();
    for (size_t i = 0; i < clock_npending; i++)
        json_array_append_new(v, json_real(clock_pending[i]));
    json_t *d = json_pack("{s:o}", "values", v);
    if (clock_dropped)
        json_object_set_new(d, "dropped", json_integer((json_int_t)clock_dropped));
    clock_npending = clock_dropped = 0;
    int rc = rb_journal_event(r->j, r->id, "clock_read", NULL, 0, d);
    json_decref(d);
    return rc;
}

/* Appends an event and tells the observer. Returns 0, or negative when the
 * journal refused it (the caller must stop). data is borrowed. */
int rb__run_emit(rb_run_t *r, const char *type, const char *step, int attempt, const json_t *data)
{
    if (r->journal_broken)
        return RB_EJOURNAL;
    /* Secrets are masked here, the one door to the journal and the
     * terminal: whatever string one was interpolated into. */
    int rc = clock_npending || clock_dropped ? record_clock(r) : 0;
    if (rc < 0) {
        r->journal_broken = 1;
        return rc;
    }
    json_t *d = data ? rb_secrets_mask(r->secrets, data) : json_object();
    rc = rb_journal_event(r->j, r->id, type, step, attempt, d);
    if (rc < 0) {
        r->journal_broken = 1;
    } else if (r->ev) {
        r->ev(r, type, step, attempt, d, r->arg);
    }
    json_decref(d);
    return rc;
}

/* The journal refused a write: stop everything, report what we can. */
void rb__run_journal_failed(rb_run_t *r, int rc)
{
    char msg[512];
    const char *why = rb_journal_errmsg(r->j);
    snprintf(msg, sizeof(msg), "the journal refused a write (%s); stopping before anything "
                               "else runs", why && *why ? why : rb_strerror(rc));
    r->journal_broken = 1;
    if (r->state == RS_DONE)
        return;
    free(r->final_error);
    r->final_error = strdup(msg);
    r->final_status = "failed";
    r->cancelling = 1;
    rb__run_end(r, "failed", msg);
}

void rb__run_set_field(rb_run_t *r, const char *k, json_t *v)
{
    json_object_set_new(json_object_get(r->ctx, "run"), k, v);
}

void rb__run_set_status(rb_run_t *r, const char *st)
{
    r->status = st;
    rb__run_set_field(r, "status", json_string(st));
}

int rb__run_set_waiting(rb_run_t *r, int waiting)
{
    const char *st = waiting ? "waiting_approval" : "running";
    r->waiting_approval = waiting;
    rb__run_set_status(r, st);
    /* R-running: the runs listing says it too (`runbook runs`) */
    int rc = rb_journal_run_status(r->j, r->id, st, 0);
    if (rc < 0)
        rb__run_journal_failed(r, rc);
    return rc;
}

/* ---- creation ---- */

/* The run in memory: context, parameters (given, then defaults), secrets.
 * Nothing is journaled yet. */
int rb__run_alloc(uv_loop_t *loop, const rb_runbook_t *rb, rb_journal_t *j, const rb_run_opts_t *o,
                     const json_t *given, rb_run_t **out, char *err, size_t errlen)
{
    *out = NULL;
    rb_run_t *r = calloc(1, sizeof(*r));
    if (!r)
        return RB_ENOMEM;
    r->loop = loop;
    r->rb = rb;
    r->j = j;
    r->dry_run = o ? o->dry_run : 0;
    r->assume = o && json_is_object(o->assume) ? json_deep_copy(o->assume) : json_object();
    r->depth = o ? o->depth : 0;
    r->parent_run = o ? o->parent_run : 0;
    r->parent = o ? o->parent : NULL;
    r->parent_step = o && o->parent_step ? strdup(o->parent_step) : NULL;
    r->default_key = o && o->default_key ? strdup(o->default_key) : NULL;
    r->external_url = o && o->external_url && *o->external_url ? strdup(o->external_url) : NULL;
    r->preset = o && json_is_object(o->preset) ? json_incref((json_t *)o->preset) : NULL;
    r->replay = o ? o->replay : NULL;
    r->started_at = o ? o->started_at : 0;
    if (!rb_expr_get_clock(NULL))
        rb_expr_set_clock(recording_clock, NULL);
    r->status = "pending";
    uv_timer_init(loop, &r->approval_timer);
    r->approval_timer.data = r;
    r->open_handles = 1;
    /* The alert is shared, not copied (nobody changes it once a run has
     * it): 10,000 runs waiting in an approval hold 10,000 alerts. */
    r->ctx = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "params", json_object(), "alert",
                       o && o->alert ? json_incref((json_t *)o->alert) : json_object(), "steps",
                       json_object(), "checks", json_object(), "run", json_object(), "env",
                       json_object());
    r->secrets = rb_secrets_new();
    if (o && o->secrets)
        rb_secrets_inherit(r->secrets, o->secrets);
    if (o && json_is_object(o->env))
        json_object_update(json_object_get(r->ctx, "env"), (json_t *)o->env);
    json_object_set_new(r->ctx, "inventory", o && json_is_object(o->inventory)
                                                 ? json_incref((json_t *)o->inventory)
                                                 : rb_inventory_empty());
    r->steps = json_object_get(r->ctx, "steps");
    r->checks = json_object_get(r->ctx, "checks");
    /* the host's values for what the runbook declares, under the given */
    json_t *merged = NULL;
    if (o && json_is_object(o->preset)) {
        merged = json_object();
        for (size_t i = 0; merged && i < rb_runbook_nparams(rb); i++) {
            const char *name = rb_runbook_param(rb, i)->name;
            json_t *v = json_object_get(o->preset, name);
            if (v)
                json_object_set(merged, name, v);
        }
        if (merged && json_is_object(given))
            json_object_update(merged, (json_t *)given);
        if (merged)
            given = merged;
    }
    int prc = rb__run_params(r, given, err, errlen);
    json_decref(merged);
    if (prc < 0) {
        rb_run_free(r);
        return RB_EINVAL;
    }
    json_t *params = json_object_get(r->ctx, "params");
    int rc = rb_secrets_collect(r->secrets, rb, params, o ? o->env : NULL,
                                o ? o->secret_env : NULL, err, errlen);
    if (rc < 0) {
        rb_run_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ---- concurrency keys ---- */

/* The keys held by active runs of this process, key → run id: runs not yet
 * committed are not in the journal, so the journal alone cannot tell. Keys
 * are one namespace across runbooks (R-key-global). Loop thread. */
static json_t *held_keys;

/* Renders the run's concurrency key (the runbook's name when it has none,
 * or when it renders empty). Returns 0 or RB_EINVAL with err. */
static int render_key(rb_run_t *r, char *err, size_t errlen)
{
    const rb_tmpl_t *t = rb_runbook_concurrency(r->rb);
    const char *name = rb_runbook_name(r->rb);
    char e[200] = "";
    json_t *v = t ? rb_tmpl_render(t, r->ctx, RB_TMPL_STRING, e, sizeof(e)) : NULL;
    if (t && !v) {
        snprintf(err, errlen, "concurrency: %s", e);
        return RB_EINVAL;
    }
    const char *k = json_string_value(v);
    free(r->key);
    r->key = strdup(k && *k ? k : r->default_key ? r->default_key : name);
    json_decref(v);
    return r->key ? 0 : RB_ENOMEM;
}

/* The run that started this one (or its parent, …) holding the same key,
 * or NULL: a sub-run shares its ancestors' key (R-key-subrun). */
static const rb_run_t *key_holder_above(const rb_run_t *r)
{
    for (const rb_run_t *a = r->parent; a; a = a->parent)
        if (a->key && strcmp(a->key, r->key) == 0)
            return a;
    return NULL;
}

static void busy_active(rb_run_t *r, long long id, const char *runbook, char *err, size_t errlen)
{
    snprintf(err, errlen, "run %lld of %s is still active for the concurrency key \"%s\"", id,
             runbook, r->key);
}

/* At most one active run per key, whatever its runbook (R-key-global); an
 * alert's run not within its runbook's cooldown after that runbook's last
 * run of the key. A sub-run whose key an ancestor holds shares it and is
 * never refused for it. RB_EBUSY with the reason in err. */
static int claim_key(rb_run_t *r, int alerted, char *err, size_t errlen)
{
    int rc = render_key(r, err, errlen);
    if (rc < 0)
        return rc;
    if (key_holder_above(r))
        return 0;
    json_t *mine = held_keys ? json_object_get(held_keys, r->key) : NULL;
    if (mine) {
        busy_active(r, (long long)json_integer_value(json_object_get(mine, "run")),
                    json_string_value(json_object_get(mine, "runbook")), err, errlen);
        return RB_EBUSY;
    }
    int64_t active = 0, last_end = 0;
    char *holder = NULL;
    rc = rb_journal_key_state(r->j, rb_runbook_name(r->rb), r->key, &active, &holder, &last_end);
    if (rc < 0) {
        snprintf(err, errlen, "%s", rb_journal_errmsg(r->j));
        return rc;
    }
    if (active) {
        busy_active(r, (long long)active, holder ? holder : "?", err, errlen);
        free(holder);
        return RB_EBUSY;
    }
    free(holder);
    uint64_t cool = rb_runbook_cooldown_ms(r->rb);
    int64_t now = (int64_t)time(NULL) * 1000;
    if (alerted && cool && last_end && now < last_end + (int64_t)cool) {
        char left[32];
        snprintf(err, errlen, "%s cools down for the key \"%s\": %s more after its last run",
                 rb_runbook_name(r->rb), r->key,
                 rb_duration_format((uint64_t)(last_end + (int64_t)cool - now), left, sizeof(left)));
        return RB_EBUSY;
    }
    return 0;
}

/* Holds the key in this process's registry, unless an ancestor holds it
 * (a shared key is released by its holder). */
static void hold_key(rb_run_t *r)
{
    if (!r->key || key_holder_above(r))
        return;
    if (!held_keys)
        held_keys = json_object();
    if (held_keys)
        json_object_set_new(held_keys, r->key,
                            json_pack("{s:I,s:s}", "run", (json_int_t)r->id, "runbook",
                                      rb_runbook_name(r->rb)));
    r->key_held = 1;
}

void rb__run_release_key(rb_run_t *r)
{
    if (!r->key_held)
        return;
    r->key_held = 0;
    json_object_del(held_keys, r->key);
    if (held_keys && json_object_size(held_keys) == 0) {
        json_decref(held_keys); /* nothing held: nothing left behind at exit */
        held_keys = NULL;
    }
}

int rb__run_hold_key(rb_run_t *r, char *err, size_t errlen)
{
    int rc = render_key(r, err, errlen);
    if (rc == 0)
        hold_key(r);
    return rc;
}

int rb_run_new(uv_loop_t *loop, const rb_runbook_t *rb, rb_journal_t *j, const rb_run_opts_t *o,
               rb_run_t **out, char *err, size_t errlen)
{
    rb_run_t *r;
    int rc = rb__run_alloc(loop, rb, j, o, o && o->params ? o->params : NULL, &r, err, errlen);
    if (rc < 0)
        return rc;
    if ((rc = claim_key(r, o && o->alert, err, errlen)) < 0) {
        rb_run_free(r);
        return rc;
    }
    json_t *params = json_object_get(r->ctx, "params");
    size_t len;
    const char *src = rb_runbook_source(rb, &len);
    char sha[65];
    rc = rb_journal_put_version(j, rb_runbook_name(rb), rb_runbook_path(rb), src, len, sha);
    if (rc == 0) {
        json_t *shown = rb_secrets_mask_params(r->secrets, rb, params);
        rc = rb_journal_run_create_claimed(j, rb_runbook_name(rb), sha, shown,
                                           o && o->trigger ? o->trigger : "cli",
                                           o ? o->claim_fingerprint : NULL,
                                           o ? o->claim_starts_at : NULL, &r->id);
        json_decref(shown);
    }
    /* No commit here: the run's first durable point (or its end) covers
     * these records, so starting many runs never waits on disk. */
    if (rc < 0) {
        const char *why = rb_journal_errmsg(j);
        snprintf(err, errlen, "cannot record the run in the journal: %s",
                 why && *why ? why : rb_strerror(rc));
        rb_run_free(r);
        return rc;
    }
    hold_key(r);
    rb__run_set_id(r);
    rb__run_set_field(r, "key", json_string(r->key));
    rb__run_set_field(r, "status", json_string("pending"));
    rb__run_set_field(r, "dry_run", json_boolean(r->dry_run));
    rb__run_set_field(r, "severity", json_null());
    rb__run_set_field(r, "sha256", json_string(sha));
    *out = r;
    return 0;
}

void rb__run_set_id(rb_run_t *r)
{
    rb__run_set_field(r, "id", json_integer(r->id));
    char *url = NULL;
    if (r->external_url &&
        asprintf(&url, "%s/api/v1/runs/%lld/report", r->external_url, (long long)r->id) >= 0) {
        rb__run_set_field(r, "report_url", json_string(url));
        free(url);
    }
}

/* ---- invoker plumbing ---- */


int rb__run_on_iv_event(rb_invoker_t *iv, const char *type, int attempt, const json_t *data, void *arg)
{
    ivlabel_t *l = rb__invoker_data(iv);
    if (l->item >= 0 || l->rule >= 0) {
        json_t *d = json_deep_copy(data);
        if (l->item >= 0)
            json_object_set_new(d, "item", json_integer(l->item));
        else /* which entry a notification's attempt is: resume.c sends it again */
            json_object_set_new(d, "rule", json_integer(l->rule));
        int rc = rb__run_emit(l->r, type, l->name, attempt, d);
        json_decref(d);
        return rc;
    }
    return rb__run_emit(l->r, type, l->name, attempt, data);
}

/* A replay answers the invocation's attempt from the journal. The
 * parameters go masked, as the journal holds them (R-secret-mask): a
 * what-if compares them with the recorded ones. */
static json_t *replay_answer(rb_invoker_t *iv, const char *phase, const char *action, int attempt,
                             const json_t *with, void *arg)
{
    (void)iv;
    ivlabel_t *l = arg;
    const rb_replay_host_t *h = l->r->replay;
    json_t *shown = rb_secrets_mask(l->r->secrets, with);
    json_t *res = h->answer(h->arg, phase, l->name, l->item, attempt, action, shown);
    json_decref(shown);
    return res;
}

rb_invoker_t *rb__run_new_invoker(rb_run_t *r, const char *name, int item)
{
    rb_invoker_t *iv = rb__invoker_new(r->loop, rb_runbook_dir(r->rb), r->dry_run);
    if (!iv)
        return NULL;
    ivlabel_t *l = calloc(1, sizeof(*l));
    l->r = r;
    l->name = name;
    l->item = item;
    l->rule = -1;
    rb__invoker_set_data(iv, l);
    rb__invoker_set_subrun(iv, &r->subrun);
    if (r->replay)
        rb__invoker_set_answer(iv, replay_answer, l);
    return iv;
}

void rb__run_free_invoker(rb_invoker_t *iv)
{
    if (!iv)
        return;
    free(rb__invoker_data(iv));
    rb__invoker_free(iv);
}

/* ---- the end ---- */

static void on_close(uv_handle_t *h)
{
    rb_run_t *r = h->data;
    if (--r->open_handles == 0) {
        free(r->esc_timers);
        free(r);
    }
}

static void stop_escalations(rb_run_t *r)
{
    for (size_t i = 0; i < r->nesc; i++)
        uv_timer_stop(&r->esc_timers[i]);
}

/* The final record could not be made durable: the run says so. */
static void final_record_failed(rb_run_t *r, int rc)
{
    if (!r->error) {
        const char *why = rb_journal_errmsg(r->j);
        r->error = strdup(why && *why ? why : rb_strerror(rc));
    }
    r->status = "failed";
    if (r->done)
        r->done(r, r->arg);
}

static void tell_owner(rb_run_t *r)
{
    if (r->done)
        r->done(r, r->arg);
}

typedef struct durable {
    rb_run_t *r;
    rb__run_cont_fn k;
} durable_t;

static void on_flushed(int status, void *arg)
{
    durable_t *d = arg;
    rb_run_t *r = d->r;
    rb__run_cont_fn k = d->k;
    free(d);
    r->flushes--;
    if (status < 0) {
        if (r->state == RS_DONE)
            final_record_failed(r, status);
        else
            rb__run_journal_failed(r, status);
        return;
    }
    if (k)
        k(r);
}

/* A replay's journal is in memory and commits at once; k still comes on
 * the next turn of the loop, as after a writer's flush, so that what the
 * record says came in between (a cancel, an escalation) comes in between
 * again. */
typedef struct deferred {
    uv_timer_t t;
    rb_run_t *r;
    rb__run_cont_fn k;
} deferred_t;

static void deferred_closed(uv_handle_t *h) { free(h->data); }

static void on_deferred(uv_timer_t *t)
{
    deferred_t *d = t->data;
    rb_run_t *r = d->r;
    rb__run_cont_fn k = d->k;
    uv_close((uv_handle_t *)&d->t, deferred_closed);
    r->flushes--;
    if (k)
        k(r);
}

void rb__run_durable(rb_run_t *r, rb__run_cont_fn k)
{
    if (r->replay) {
        deferred_t *d = calloc(1, sizeof(*d));
        int rc = rb_journal_sync(r->j);
        if (rc < 0 || !d) {
            free(d);
            rb__run_journal_failed(r, rc < 0 ? rc : RB_ENOMEM);
            return;
        }
        d->r = r;
        d->k = k;
        uv_timer_init(r->loop, &d->t);
        d->t.data = d;
        r->flushes++;
        uv_timer_start(&d->t, on_deferred, 0, 0);
        return;
    }
    durable_t *d = malloc(sizeof(*d));
    if (d) {
        d->r = r;
        d->k = k;
        if (rb_journal_flush(r->j, on_flushed, d) == 0) {
            r->flushes++;
            return;
        }
        free(d); /* direct mode: commit here */
    }
    int rc = rb_journal_sync(r->j);
    if (rc < 0) {
        if (r->state == RS_DONE)
            final_record_failed(r, rc);
        else
            rb__run_journal_failed(r, rc);
        return;
    }
    if (k)
        k(r);
}

/* Writes the final record and tells the owner, once notifications are out. */
static void finish(rb_run_t *r)
{
    if (r->state == RS_DONE || r->npending || !r->end_ready)
        return;
    r->state = RS_DONE;
    uv_update_time(r->loop);
    r->end_ms = uv_now(r->loop);
    /* the duration: from the run's start, a resumed run's first one, to
     * now, the end that the runs listing records too (a replay's start is
     * the recorded one: it measures its own time) */
    int64_t end_wall = rb__run_wall_ms();
    r->duration_ms = r->start_wall_ms > 0 && !r->replay
                         ? (end_wall > r->start_wall_ms ? (uint64_t)(end_wall - r->start_wall_ms) : 0)
                         : r->end_ms - r->t0_ms;
    rb__run_release_key(r);
    rb__run_set_status(r, r->final_status);
    free(r->error);
    r->error = r->final_error ? rb_secrets_mask_str(r->secrets, r->final_error) : NULL;
    json_t *d = json_pack("{s:s,s:I}", "status", r->final_status, "duration_ms",
                          (json_int_t)r->duration_ms);
    if (r->final_error)
        json_object_set_new(d, "error", json_string(r->final_error));
    const json_t *sev = json_object_get(json_object_get(r->ctx, "run"), "severity");
    if (json_is_string(sev))
        json_object_set(d, "severity", (json_t *)sev);
    int rc = rb__run_emit(r, "run_finished", NULL, 0, d);
    json_decref(d);
    if (rc == 0)
        rc = rb_journal_run_status_at(r->j, r->id, r->final_status, 1, 0,
                                      r->start_wall_ms > 0 && !r->replay ? end_wall : 0);
    if (rc == 0 && !r->replay) /* a signed checkpoint of the head, run_finished included (none without a key) */
        rc = rb_journal_seal(r->j);
    if (rc < 0) {
        final_record_failed(r, rc);
        return;
    }
    rb__run_durable(r, tell_owner);
}

/* The end's notifications, once what the run decided is durable: a crash
 * while one is in flight leaves a journal whose steps are all recorded, so
 * that resume goes on after the last step, reaches the end again and sends
 * them again (at least once, docs/notifications.md). */
static void end_notify(rb_run_t *r)
{
    const char *status = r->end_status;
    if (r->state != RS_ENDING || r->end_ready)
        return;
    r->end_ready = 1;
    if (!r->journal_broken) {
        if (!strcmp(status, "resolved"))
            rb__run_notify(r, RB_EV_RESOLVED, "resolved");
        else if (!strcmp(status, "failed"))
            rb__run_notify(r, RB_EV_FAILED, "failed");
        else if (!strcmp(status, "not_confirmed"))
            rb__run_notify(r, RB_EV_NOT_CONFIRMED, "not_confirmed");
        else if (!strcmp(status, "inconclusive"))
            rb__run_notify(r, RB_EV_INCONCLUSIVE, "inconclusive");
    }
    if (r->cancelling) /* cancelled while the end was made durable: stop them too */
        for (size_t i = 0; i < r->nniv; i++)
            if (r->niv[i] && rb__invoker_busy(r->niv[i]))
                rb__invoker_cancel(r->niv[i]);
    finish(r);
}

void rb__run_end(rb_run_t *r, const char *status, const char *error)
{
    if (r->state == RS_ENDING && !r->end_ready && r->journal_broken) {
        /* the journal failed while the end was made durable: end now */
        r->end_ready = 1;
        finish(r);
        return;
    }
    if (r->state == RS_ENDING || r->state == RS_DONE)
        return;
    r->state = RS_ENDING;
    stop_escalations(r);
    uv_timer_stop(&r->approval_timer);
    if (!r->final_status) {
        r->final_status = status;
        r->final_error = error ? strdup(error) : NULL;
    }
    rb__run_set_status(r, r->final_status);
    r->end_status = status;
    if (r->journal_broken)
        end_notify(r);
    else
        rb__run_durable(r, end_notify);
}

/* ---- notifications and escalations ---- */

static void on_notify_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    rb_run_t *r = arg;
    ivlabel_t *l = rb__invoker_data(iv);
    json_t *d = json_pack("{s:O}", "result", res);
    if (l->rule >= 0) /* which entry: resume.c pairs it with its attempt */
        json_object_set_new(d, "rule", json_integer(l->rule));
    int rc = rb__run_emit(r, "notification_sent", l->name, rb__invoker_attempts(iv), d);
    json_decref(d);
    /* R-notify-failure: a message that finally failed is the notify_failed
     * event (a fallback channel, an escalation); never one sent on it, so
     * a broken fallback cannot loop, and never a drill's would-send. */
    if (rc == 0 && !r->journal_broken && !(r->cancelling && r->state == RS_ENDING) &&
        !json_is_true(json_object_get(res, "ok")) &&
        !json_object_get(res, "would_run") && strcmp(l->name, "notify_failed") != 0) {
        /* what failed, for the messages sent on it (the action's run view
         * "failed"); only while they start */
        json_object_set_new(r->ctx, "failed",
                            json_pack("{s:s,s:O?,s:O?,s:O?,s:O?}", "notification", l->name, "channel",
                                      json_object_get(res, "channel"), "target",
                                      json_object_get(res, "target"), "error",
                                      json_object_get(res, "error"), "status",
                                      json_object_get(res, "status")));
        rb__run_notify(r, RB_EV_NOTIFY_FAILED, "notify_failed");
        json_object_del(r->ctx, "failed");
    }
    json_decref(res);
    r->npending--;
    if (r->state == RS_ENDING)
        finish(r);
    else if (r->park_wanted && !r->npending)
        rb__run_park(r); /* a hold waited for this notification */
}

int rb__run_expr_error(rb_run_t *r, const char *step, const char *where, long i, const char *key,
                       const char *err)
{
    json_t *d = json_pack("{s:s,s:s,s:s}", "in", where, "key", key, "error", err);
    if (i >= 0)
        json_object_set_new(d, "index", json_integer(i));
    int rc = rb__run_emit(r, "expression_error", step, 0, d);
    json_decref(d);
    if (rc < 0)
        rb__run_journal_failed(r, rc);
    return rc;
}

static void start_side_invoke(rb_run_t *r, const rb_invoke_t *inv, const char *label,
                              const char *event, const char *phase, int rule)
{
    static const rb_invoker_hooks_t hooks = {rb__run_on_iv_event, on_notify_done};
    rb_invoker_t *iv = rb__run_new_invoker(r, label, -1);
    if (iv)
        ((ivlabel_t *)rb__invoker_data(iv))->rule = rule;
    rb_invoker_t **n = iv ? realloc(r->niv, (r->nniv + 1) * sizeof(*n)) : NULL;
    if (!n) {
        rb__run_free_invoker(iv);
        return;
    }
    r->niv = n;
    r->niv[r->nniv++] = iv;
    r->npending++;
    json_t *c = json_copy(r->ctx);
    json_object_set_new(c, "event", json_string(event));
    rb__invoker_start(iv, inv, c, NULL, phase, &hooks, r);
    json_decref(c);
}

void rb__run_notify(rb_run_t *r, uint32_t bit, const char *event)
{
    for (size_t i = 0; i < rb_runbook_nnotify(r->rb); i++) {
        const rb_notify_rule_t *n = rb_runbook_notify(r->rb, i);
        if (!(n->events & bit))
            continue;
        if (n->when) {
            char e[200] = "";
            int t = rb_expr_test(n->when, r->ctx, e, sizeof(e));
            if (t == 0)
                continue;
            if (t < 0)
                rb__run_expr_error(r, NULL, "notify", (long)i, "when", e); /* R-notify-when-error: sent anyway */
        }
        start_side_invoke(r, &n->inv, event, event, "notify", (int)i);
    }
}

void rb__run_resend(rb_run_t *r)
{
    size_t i;
    json_t *x;
    json_array_foreach(r->resend, i, x) {
        const char *label = json_string_value(json_object_get(x, "label"));
        size_t rule = (size_t)json_integer_value(json_object_get(x, "rule"));
        if (!strcmp(json_string_value(json_object_get(x, "phase")), "escalate")) {
            if (rule < rb_runbook_nescalate(r->rb))
                start_side_invoke(r, &rb_runbook_escalation(r->rb, rule)->inv, "escalation", "escalated",
                                  "escalate", (int)rule);
            continue;
        }
        if (rule >= rb_runbook_nnotify(r->rb))
            continue;
        int failed = !strcmp(label, "notify_failed") && r->resend_failed;
        if (failed) /* what had failed, as the first send said */
            json_object_set(r->ctx, "failed", r->resend_failed);
        start_side_invoke(r, &rb_runbook_notify(r->rb, rule)->inv, label, label, "notify", (int)rule);
        if (failed)
            json_object_del(r->ctx, "failed");
    }
}

void rb_run_escalate(rb_run_t *r, size_t i)
{
    if (i >= rb_runbook_nescalate(r->rb))
        return;
    const rb_escalation_t *e = rb_runbook_escalation(r->rb, i);
    if (r->state == RS_ENDING || r->state == RS_DONE || r->state == RS_PENDING)
        return;
    if (e->unless) {
        char err[200] = "";
        int held = rb_expr_test(e->unless, r->ctx, err, sizeof(err));
        if (held > 0) {
            /* the timer fired and `unless` held: on record, so that a
             * replay fires it at the same place and finds the same */
            json_t *d = json_pack("{s:I,s:i}", "after_ms", (json_int_t)e->after_ms, "level", (int)i + 1);
            int rc = rb__run_emit(r, "escalation_held", NULL, 0, d);
            json_decref(d);
            if (rc < 0)
                rb__run_journal_failed(r, rc);
            return;
        }
        if (held < 0)
            rb__run_expr_error(r, NULL, "escalate", (long)i, "unless", err); /* R-notify-when-error: escalates anyway */
    }
    r->escalated++;
    rb__run_set_field(r, "escalated", json_integer(r->escalated));
    json_t *d = json_pack("{s:I,s:i}", "after_ms", (json_int_t)e->after_ms, "level", (int)i + 1);
    int rc = rb__run_emit(r, "escalated", NULL, 0, d);
    json_decref(d);
    if (rc < 0) {
        rb__run_journal_failed(r, rc);
        return;
    }
    start_side_invoke(r, &e->inv, "escalation", "escalated", "escalate", (int)i);
    rb__run_notify(r, RB_EV_ESCALATED, "escalated");
}

static void on_escalation(uv_timer_t *t)
{
    rb_run_t *r = t->data;
    rb_run_escalate(r, (size_t)(t - r->esc_timers));
}

/* ---- checks (detect, validate) ---- */

static void validate_done(rb_run_t *r);

static void on_check_done(rb_invoker_t *iv, json_t *res, void *arg)
{
    rb_run_t *r = arg;
    ivlabel_t *l = rb__invoker_data(iv);
    json_object_set(r->checks, l->name, res);
    json_t *d = json_pack("{s:s,s:b,s:O}", "phase", r->which ? "validate" : "detect", "ok",
                          json_is_true(json_object_get(res, "ok")), "result", res);
    int rc = rb__run_emit(r, "check_finished", l->name, rb__invoker_attempts(iv), d);
    json_decref(d);
    json_decref(res);
    if (--r->cpending > 0)
        return;
    if (rc < 0 || r->journal_broken) {
        rb__run_journal_failed(r, RB_EJOURNAL);
        return;
    }
    if (r->cancelling) {
        rb__run_end(r, "cancelled", r->cancel_why);
        return;
    }
    if (r->which == 0)
        rb__run_confirm(r);
    else
        validate_done(r);
}

void rb__run_checks(rb_run_t *r, int which)
{
    static const rb_invoker_hooks_t hooks = {rb__run_on_iv_event, on_check_done};
    size_t n = rb_runbook_nchecks(r->rb, which);
    r->which = which;
    json_t *d = json_pack("{s:s,s:i}", "phase", which ? "validate" : "detect", "checks", (int)n);
    int rc = rb__run_emit(r, "phase_started", NULL, 0, d);
    json_decref(d);
    if (rc < 0) {
        rb__run_journal_failed(r, rc);
        return;
    }
    for (size_t i = 0; i < r->nciv; i++)
        rb__run_free_invoker(r->civ[i]);
    free(r->civ);
    r->civ = calloc(n ? n : 1, sizeof(*r->civ));
    r->nciv = n;
    r->cpending = n;
    for (size_t i = 0; i < n; i++) {
        r->civ[i] = rb__run_new_invoker(r, rb_runbook_check(r->rb, which, i)->name, -1);
        /* checks only look: a drill runs them for real, to decide as a real run would */
        rb__invoker_set_dry_run(r->civ[i], 0);
    }
    /* checks read: no intent to make durable first */
    for (size_t i = 0; i < n; i++)
        rb__invoker_start(r->civ[i], &rb_runbook_check(r->rb, which, i)->inv, r->ctx, NULL, "check",
                          &hooks, r);
}

static void validate_done(rb_run_t *r)
{
    char failed[256] = "";
    for (size_t i = 0; i < rb_runbook_nchecks(r->rb, 1); i++) {
        const char *nm = rb_runbook_check(r->rb, 1, i)->name;
        if (!json_is_true(json_object_get(json_object_get(r->checks, nm), "ok")))
            snprintf(failed + strlen(failed), sizeof(failed) - strlen(failed), "%s%s",
                     failed[0] ? ", " : "", nm);
    }
    if (failed[0]) {
        char msg[320];
        snprintf(msg, sizeof(msg), "post-recovery validation failed: %s", failed);
        rb__run_end(r, "failed", msg);
    } else {
        rb__run_end(r, "resolved", NULL);
    }
}

/* ---- after the last step ---- */

void rb__run_steps_done(rb_run_t *r)
{
    if (rb_runbook_nchecks(r->rb, 1) == 0) {
        /* R-resolved-without-validate: some step must have done its work */
        int any = rb_runbook_nsteps(r->rb) == 0;
        const char *k;
        json_t *v;
        json_object_foreach(r->steps, k, v)
            any |= json_is_true(json_object_get(v, "ok"));
        if (any)
            rb__run_end(r, "resolved", NULL);
        else
            rb__run_end(r, "failed", "no step succeeded");
        return;
    }
    r->state = RS_VALIDATE;
    rb__run_checks(r, 1);
}

/* ---- start, cancel, free ---- */

int rb__run_announce(rb_run_t *r, const char *type, const json_t *data)
{
    int rc = rb__run_emit(r, type, NULL, 0, data);
    /* a new run's start is the one its duration counts from (runs.started_at) */
    if (rc == 0)
        rc = rb_journal_run_status_at(r->j, r->id, "running", 0,
                                      r->resumed || r->replay ? 0 : r->start_wall_ms, 0);
    if (rc < 0)
        rb__run_journal_failed(r, rc);
    return rc;
}

int rb_run_start(rb_run_t *r, rb_run_event_cb ev, rb_run_done_cb done, void *arg)
{
    r->ev = ev;
    r->done = done;
    r->arg = arg;
    r->subrun = (rb_subrun_host_t){rb__subrun_start, rb__subrun_cancel, r};
    /* the loop's cached time may be from before the runbook was loaded and
     * the journal opened: the run's zero (its duration, the escalation
     * timers' base) is now, the instant run_started is journaled */
    uv_update_time(r->loop);
    r->t0_ms = uv_now(r->loop);
    rb__run_set_status(r, "running");
    /* a replay gives the recorded start; a resumed run started when it first
     * did (rb_run_resume) */
    /* the start to the millisecond, for the durations people read (a
     * resumed run's: when it first started, set by rb_run_resume; a
     * replay's: the recorded second) */
    if (r->started_at)
        r->start_wall_ms = (int64_t)r->started_at * 1000;
    else if (!r->start_wall_ms)
        r->start_wall_ms = rb__run_wall_ms();
    json_int_t started = r->started_at ? (json_int_t)r->started_at : (json_int_t)(r->start_wall_ms / 1000);
    rb__run_set_field(r, "started_at", json_integer(started));
    rb__run_set_field(r, "started_at_ms", json_integer(r->start_wall_ms));
    if (r->resumed)
        return rb__run_start_resumed(r);
    json_t *shown = rb_secrets_mask_params(r->secrets, r->rb, json_object_get(r->ctx, "params"));
    json_t *d = json_pack("{s:s,s:o,s:O,s:b}", "runbook", rb_runbook_name(r->rb), "params", shown,
                          "sha256", json_object_get(json_object_get(r->ctx, "run"), "sha256"),
                          "dry_run", r->dry_run);
    /* what a replay must give back: run.started_at, and the env values the
     * run may read (secret ones masked, as everywhere) */
    json_object_set_new(d, "started_at", json_integer(started));
    if (json_object_size(json_object_get(r->ctx, "env")))
        json_object_set(d, "env", json_object_get(r->ctx, "env"));
    json_t *empty_inv = rb_inventory_empty();
    if (!json_equal(json_object_get(r->ctx, "inventory"), empty_inv)) /* the hosts it may address */
        json_object_set(d, "inventory", json_object_get(r->ctx, "inventory"));
    json_decref(empty_inv);
    /* where relative paths resolve: `runbook resume` goes on from there */
    if (rb_runbook_path(r->rb)[0] == '/')
        json_object_set_new(d, "path", json_string(rb_runbook_path(r->rb)));
    if (json_object_size(json_object_get(r->ctx, "alert")))
        json_object_set(d, "alert", json_object_get(r->ctx, "alert"));
    if (r->key)
        json_object_set_new(d, "concurrency_key", json_string(r->key));
    if (json_object_size(r->assume))
        json_object_set(d, "assume", r->assume);
    if (r->parent_run) {
        json_object_set_new(d, "parent_run", json_integer(r->parent_run));
        json_object_set_new(d, "parent_step", json_string(r->parent_step ? r->parent_step : ""));
    }
    int rc = rb__run_announce(r, "run_started", d);
    json_decref(d);
    if (rc < 0)
        return 0;
    /* a replay starts no timer: it fires each where the record says (rb_run_escalate) */
    if (!r->replay)
        rb__run_start_escalations(r);
    rb__run_detect(r);
    return 0;
}

void rb__run_start_escalations(rb_run_t *r)
{
    r->nesc = rb_runbook_nescalate(r->rb);
    if (!r->nesc || !(r->esc_timers = calloc(r->nesc, sizeof(uv_timer_t)))) {
        r->nesc = 0;
        return;
    }
    for (size_t i = 0; i < r->nesc; i++) {
        uv_timer_init(r->loop, &r->esc_timers[i]);
        r->esc_timers[i].data = r;
        r->open_handles++;
        if (i < 64 && (r->esc_fired >> i & 1))
            continue; /* escalated before the run was interrupted */
        uint64_t after = rb_runbook_escalation(r->rb, i)->after_ms;
        uv_timer_start(&r->esc_timers[i], on_escalation,
                       after > r->esc_elapsed_ms ? after - r->esc_elapsed_ms : 0, 0);
    }
}

void rb__run_detect(rb_run_t *r)
{
    if (rb_runbook_nchecks(r->rb, 0)) {
        r->state = RS_DETECT;
        rb__run_checks(r, 0);
    } else {
        rb__run_confirm(r);
    }
}

/* Stops the run for the reason given (static text). */
static void cancel_for(rb_run_t *r, const char *why)
{
    if (r->state == RS_ENDING && !r->cancelling && r->npending) {
        /* the outcome is decided and stays (docs/cli.md); what is still
         * being sent is stopped (journaled as cancelled), nothing new starts */
        r->cancelling = 1;
        r->cancel_why = why;
        json_t *d = json_pack("{s:s}", "reason", why);
        rb__run_emit(r, "cancel_requested", NULL, 0, d);
        json_decref(d);
        for (size_t i = 0; i < r->nniv; i++)
            if (r->niv[i] && rb__invoker_busy(r->niv[i]))
                rb__invoker_cancel(r->niv[i]);
        return;
    }
    if (r->state == RS_ENDING || r->state == RS_DONE || r->state == RS_PENDING || r->cancelling)
        return;
    r->cancelling = 1;
    r->cancel_why = why;
    json_t *d = json_pack("{s:s}", "reason", why);
    rb__run_emit(r, "cancel_requested", NULL, 0, d);
    json_decref(d);
    if (r->waiting_approval) {
        rb__step_cancel_approval(r);
        return;
    }
    int busy = 0;
    for (size_t i = 0; i < r->nciv; i++)
        if (r->civ[i] && rb__invoker_busy(r->civ[i])) {
            busy = 1;
            rb__invoker_cancel(r->civ[i]);
        }
    for (size_t i = 0; i < r->nfiv; i++)
        if (r->fiv[i] && rb__invoker_busy(r->fiv[i])) {
            busy = 1;
            rb__invoker_cancel(r->fiv[i]);
        }
    if (r->iv && rb__invoker_busy(r->iv)) {
        busy = 1;
        rb__invoker_cancel(r->iv);
    }
    if (r->viv && rb__invoker_busy(r->viv)) {
        busy = 1;
        rb__invoker_cancel(r->viv);
    }
    if (!busy)
        rb__run_end(r, "cancelled", r->cancel_why);
}

void rb_run_cancel(rb_run_t *r)
{
    cancel_for(r, "cancelled by the operator");
}

void rb_run_cancel_by(rb_run_t *r, const char *who)
{
    if (!who) {
        rb_run_cancel(r);
        return;
    }
    if (r->cancelling)
        return; /* the first reason stays (cancel_why may point at cancel_by) */
    snprintf(r->cancel_by, sizeof r->cancel_by, "cancelled by %s", who);
    cancel_for(r, r->cancel_by);
}

int rb_run_alert_resolved(rb_run_t *r, const json_t *alert)
{
    if (r->state == RS_ENDING || r->state == RS_DONE)
        return 0;
    json_t *d = json_pack("{s:O?,s:b}", "alert", (json_t *)alert, "cancels",
                          rb_runbook_cancel_on_resolve(r->rb));
    int rc = rb__run_emit(r, "alert_resolved", NULL, 0, d);
    json_decref(d);
    if (rc < 0) {
        rb__run_journal_failed(r, rc);
        return 0;
    }
    if (!rb_runbook_cancel_on_resolve(r->rb))
        return 0;
    cancel_for(r, "the alert resolved (cancel_on_resolve)");
    return 1;
}

int64_t rb_run_id(const rb_run_t *r) { return r->id; }
const char *rb_run_status(const rb_run_t *r) { return r->status; }
const char *rb_run_error(const rb_run_t *r) { return r->error; }
const json_t *rb_run_context(const rb_run_t *r) { return r->ctx; }
uint64_t rb_run_duration_ms(const rb_run_t *r) { return r->duration_ms; }

int64_t rb__run_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
const char *rb_run_waiting_step(const rb_run_t *r)
{
    return r->waiting_approval ? rb__step_current(r)->name : NULL;
}

rb_run_t *rb_run_find(rb_run_t *r, int64_t id)
{
    if (!r || r->state == RS_DONE)
        return NULL;
    if (r->id == id)
        return r;
    for (size_t i = 0; i < r->nchildren; i++) {
        rb_run_t *hit = rb_run_find(r->children[i].run, id);
        if (hit)
            return hit;
    }
    return NULL;
}

size_t rb_run_waiting_count(const rb_run_t *r)
{
    if (!r || r->state == RS_DONE)
        return 0;
    size_t n = rb_run_waiting_step(r) ? 1 : 0;
    for (size_t i = 0; i < r->nchildren; i++)
        n += rb_run_waiting_count(r->children[i].run);
    return n;
}

rb_run_t *rb_run_parent(const rb_run_t *r)
{
    return r->parent;
}

void rb_run_free(rb_run_t *r)
{
    if (!r)
        return;
    rb__run_release_key(r);
    free(r->key);
    free(r->default_key);
    free(r->external_url);
    json_decref(r->preset);
    json_decref(r->assume);
    json_decref(r->ctx);
    json_decref(r->intent_with);
    json_decref(r->main_result);
    for (size_t k = 0; r->fitem && k < json_array_size(r->items); k++)
        json_decref(r->fitem[k].main); /* a foreach item's result waiting on its verify */
    json_decref(r->items);
    json_decref(r->item_results);
    json_decref(r->item_with);
    json_decref(r->undo_ctx);
    free(r->fitem);
    free(r->undo_items);
    free(r->error);
    free(r->asked_step);
    json_decref(r->resend);
    json_decref(r->resend_failed);
    free(r->final_error);
    rb_secrets_free(r->secrets);
    free(r->rollback_reason);
    free(r->undo_stack);
    free(r->parent_step);
    for (size_t i = 0; i < r->nchildren; i++) {
        rb_run_free(r->children[i].run);
        rb_runbook_free(r->children[i].rb);
    }
    free(r->children);
    rb__run_free_invoker(r->iv);
    rb__run_free_invoker(r->viv);
    for (size_t i = 0; i < r->nciv; i++)
        rb__run_free_invoker(r->civ[i]);
    free(r->civ);
    for (size_t i = 0; i < r->nfiv; i++)
        rb__run_free_invoker(r->fiv[i]);
    free(r->fiv);
    for (size_t i = 0; i < r->nniv; i++)
        rb__run_free_invoker(r->niv[i]);
    free(r->niv);
    for (size_t i = 0; i < r->nesc; i++)
        uv_close((uv_handle_t *)&r->esc_timers[i], on_close);
    uv_close((uv_handle_t *)&r->approval_timer, on_close);
}
