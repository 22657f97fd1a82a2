/*
 * run.h — one run of a runbook: the state machine on the uv loop (DESIGN §2).
 *
 * A run renders each step's parameters, starts its action, owns the step's
 * timer (timeout, retry delay), decides retries, verify and on_failure, and
 * writes every transition to the journal. Loop thread only.
 */
#ifndef RB_RUN_H
#define RB_RUN_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "journal/journal.h"
#include "load/runbook.h"

typedef struct rb_run rb_run_t;

/*
 * A replay (engine/review/): what stands in for the world while a recorded
 * run is run again. Every action is answered by answer() instead of being
 * started, except an action that runs a sub-runbook (RB_ACTION_SUBRUN): its
 * child is replayed too, with the runbook and the host subrun() gives.
 * Timers do not run: retry delays pass at once, and approvals, their
 * timeouts and escalations come when the replayer says so
 * (rb_run_approve, rb_run_approval_expire, rb_run_escalate). Borrowed by
 * the run; must outlive it.
 */
typedef struct rb_replay_host rb_replay_host_t;
struct rb_replay_host {
    /* The result of attempt `attempt` of the invocation labelled phase
     * ("main", "verify", "check", "undo", "notify", "escalate") and name
     * (the step, check or run event), item (a foreach item, or -1), of
     * action with the rendered parameters with. A new reference (the
     * replayer makes one up when the journal has none). */
    json_t *(*answer)(void *arg, const char *phase, const char *name, int item, int attempt,
                      const char *action, const json_t *with);
    /* The runbook (owned by the caller after 0) and host of the sub-runbook
     * name started by step; 0, or a negative error with err. */
    int (*subrun)(void *arg, const char *step, const char *name, rb_runbook_t **rb,
                  const rb_replay_host_t **child, char *err, size_t errlen);
    /* The duration in ms the record gives the step that just ended (its
     * next step_finished), so that steps.X.duration replays the same;
     * measured stands in when the record has none. */
    uint64_t (*duration)(void *arg, const char *step, uint64_t measured);
    int64_t started_at; /* run.started_at of the run this host answers (a sub-run's) */
    void *arg;
};

typedef struct rb_run_opts {
    const json_t *params; /* object of given parameters (borrowed); may be NULL */
    const json_t *alert;  /* the alert that started the run; may be NULL. The run
                           * keeps a reference (not a copy): the caller must not
                           * change it afterwards */
    const char *trigger;  /* "cli", "webhook", … */
    int dry_run;          /* a drill: actions with side effects are simulated */
    const json_t *assume; /* a drill's assumed outcomes: {"*" or step name: "ok"|"failed"}
                             (borrowed; NULL: all ok) */
    int64_t parent_run;   /* a sub-runbook's parent run, or 0 */
    const char *parent_step;
    rb_run_t *parent;     /* a sub-runbook's parent run (borrowed; outlives the child):
                             the child shares the concurrency key its parent, or the
                             parent's parent …, holds (R-key-subrun) */
    int depth;            /* nesting of sub-runbooks (0 at the top) */
    const json_t *env;    /* names the run may read as env.NAME → values (borrowed) */
    const json_t *secret_env; /* names of env that are secrets: {NAME: true} (borrowed) */
    const json_t *inventory; /* the hosts remote steps run on, as `inventory` (borrowed;
                                load/inventory.h); NULL: an empty one */
    const struct rb_secrets *secrets; /* more secret values to mask (a parent's) */
    const char *default_key; /* the concurrency key when the runbook declares none
                                (NULL: its name); a foreach item's sub-run gets its own */
    const char *claim_fingerprint; /* the alert this run was claimed for (the server): */
    const char *claim_starts_at;   /* linked to the run in the same journal record */
    const rb_replay_host_t *replay; /* a replay: actions answered, timers stopped (or NULL) */
    int64_t started_at; /* run.started_at in seconds (0: now); a replay gives the recorded one */
    const json_t *preset; /* values the host gives (the server config's params:), used for
                             the parameters the runbook declares and params does not give;
                             on resume also for a secret one the journal holds masked
                             (borrowed; NULL: none); sub-runs get the same */
    const char *external_url; /* where people reach the server: run.report_url is
                                 EXTERNAL_URL/api/v1/runs/ID/report (NULL: no link) */
} rb_run_opts_t;

/* Told of every event the run journals (after it is appended), for live
 * progress. data is borrowed for the call. */
typedef void (*rb_run_event_cb)(rb_run_t *run, const char *type, const char *step, int attempt,
                                const json_t *data, void *arg);
/* Called once when the run has finished (any status). */
typedef void (*rb_run_done_cb)(rb_run_t *run, void *arg);

/*
 * Creates a run: resolves parameters (given, then defaults, then required
 * check) and records the runbook version and the run in the journal. rb and
 * j are borrowed and must outlive the run. On a parameter problem returns
 * RB_EINVAL with a message in err.
 */
int rb_run_new(uv_loop_t *loop, const rb_runbook_t *rb, rb_journal_t *j, const rb_run_opts_t *o,
               rb_run_t **out, char *err, size_t errlen);

/*
 * An interrupted run brought back: point is what rb_journal_run_resume_point
 * returned, events the run's events (rb_journal_run_get's "events"), both
 * borrowed. The run keeps its id; finished steps keep their recorded
 * results; it goes on at the step in flight when it stopped (the caller
 * decides whether that one may run again), or after the last finished
 * step, or from the start when nothing was declared yet. o->params may give
 * parameters again (a secret one must be: the journal holds only its
 * mask). Start it with rb_run_start, which journals "run_resumed".
 */
int rb_run_resume(uv_loop_t *loop, const rb_runbook_t *rb, rb_journal_t *j, const json_t *point,
                  const json_t *events, const rb_run_opts_t *o, rb_run_t **out, char *err,
                  size_t errlen);

/*
 * Everything `runbook resume RUN` does before starting the run, shared
 * with the server's restart: the run must be interrupted; its recorded
 * runbook version is loaded (relative paths resolve in dir, else the
 * folder of the file it was started from); a step whose intent was
 * recorded without a result runs again only when its action is read-only,
 * it is idempotent, or rerun is set. Returns 0 with the runbook (*rbp, the
 * caller frees it after the run) and the run (*runp, start it with
 * rb_run_start); else RB_ENOTFOUND (no such run), RB_EINVAL (not
 * interrupted, or the recorded text does not load: diagnostics in d),
 * RB_EBUSY (the step in flight may not run again), or another code, with
 * why in err.
 */
int rb_run_resume_prepare(uv_loop_t *loop, rb_journal_t *j, int64_t id, const char *dir,
                          int rerun, const rb_run_opts_t *o, rb_diags_t *d, rb_runbook_t **rbp,
                          rb_run_t **runp, char *err, size_t errlen);

/* Starts the run; done is called once when it ends. */
int rb_run_start(rb_run_t *r, rb_run_event_cb ev, rb_run_done_cb done, void *arg);

/* Answers the approval the run is waiting for on step (NULL: whichever
 * step waits). who is journaled. RB_ENOTFOUND when nothing waits. */
int rb_run_approve(rb_run_t *r, const char *step, int approved, const char *who);
/* rb_run_approve with the answerer's comment (NULL or "": none), journaled
 * with the answer as data.comment. */
int rb_run_answer(rb_run_t *r, const char *step, int approved, const char *who,
                  const char *comment);

/* Asks the run to start no new step (a server shutting down): the action
 * in flight finishes as usual, then the run parks at the step boundary
 * with every step so far on record; a run waiting for an approval parks at
 * once (its approval timeout stops). parked(r, arg) is called once when it
 * parks (from inside this call for a waiting run); a run that ends instead
 * calls its done callback. A parked run is left open: the journal marks it
 * interrupted, and `resume` goes on with its next step. */
void rb_run_hold(rb_run_t *r, void (*parked)(rb_run_t *r, void *arg), void *arg);
/* 1 once the run parked for rb_run_hold. */
int rb_run_parked(const rb_run_t *r);

/* The step waiting for approval, or NULL. */
const char *rb_run_waiting_step(const rb_run_t *r);

/* The run of that id among r and the runs of its sub-runbooks (`runbook`
 * steps, at any depth) that have not ended; NULL when none is. A sub-run
 * waits for its own approvals: a server finds it here to answer them. */
rb_run_t *rb_run_find(rb_run_t *r, int64_t id);
/* How many of r and its sub-runs that have not ended wait for an approval. */
size_t rb_run_waiting_count(const rb_run_t *r);
/* The run that started r as a sub-runbook, or NULL at the top. */
rb_run_t *rb_run_parent(const rb_run_t *r);

/* A replay's stand-ins for the run's timers: the approval the run waits
 * for times out now (RB_ENOTFOUND when none waits); escalation rule i
 * (from 0) fires now, as its timer would have. */
int rb_run_approval_expire(rb_run_t *r);
void rb_run_escalate(rb_run_t *r, size_t i);

/* Asks the run to stop: the current action is cancelled, the run ends
 * "cancelled". */
void rb_run_cancel(rb_run_t *r);
/* rb_run_cancel, journaled as "cancelled by WHO" (the API's token name). */
void rb_run_cancel_by(rb_run_t *r, const char *who);

/* The alert that started the run has resolved: journals "alert_resolved"
 * and, when the runbook says cancel_on_resolve: true, cancels the run (it
 * ends "cancelled", the reason journaled). Returns 1 when it cancelled. */
int rb_run_alert_resolved(rb_run_t *r, const json_t *alert);

int64_t rb_run_id(const rb_run_t *r);
/* "pending", "running", "waiting_approval", then one of "resolved",
 * "failed", "not_confirmed", "cancelled". */
const char *rb_run_status(const rb_run_t *r);
/* The error that ended a failed run, or NULL. */
const char *rb_run_error(const rb_run_t *r);
/* The expression context (params, steps, …); borrowed. */
const json_t *rb_run_context(const rb_run_t *r);
/* How long the run took, once it ended: from its start (a resumed run's
 * first start) to its end, as run_finished and the runs listing say. */
uint64_t rb_run_duration_ms(const rb_run_t *r);

/* Frees a run that has finished (or never started); closes its handles and
 * frees it from their close callbacks. */
void rb_run_free(rb_run_t *r);

#endif
