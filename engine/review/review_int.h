/*
 * review_int.h — what the files of engine/review/ share: the replay in
 * progress (replay.c drives it), the recorded run a replayed run answers
 * from (replayer.c) and the decision paths (decisions.c). Internal.
 */
#ifndef RB_REVIEW_INT_H
#define RB_REVIEW_INT_H

#include <jansson.h>
#include <uv.h>

#include "load/runbook.h"
#include "review.h"
#include "run/run.h"

typedef struct rv_replay rv_replay_t;
typedef struct rv_rec rv_rec_t;

/* One recorded run (the top run or a sub-runbook's) and the replayed run
 * that answers from it. Owned by its replay (rv_replay_t.recs). */
struct rv_rec {
    rv_replay_t *rp;
    int64_t id;        /* the recorded run's id */
    json_t *run;       /* the run's row (rb_journal_run_row) with "events": its
                          clock_read events, or, for a run that was interrupted, all
                          of them (let go once the replay is set up: rv_rec_release) */
    json_t *events;    /* a run that was interrupted: its effective events (its
                          unfinished part left out); NULL otherwise (a run that never
                          was is indexed as it is read) and after rv_rec_release */
    json_t *first;     /* its first event (run_started): what the run was started with */
    json_t *recorded;  /* the decision path of events (rv_decisions), taken at load */
    json_t *answers;   /* "phase\x1fname\x1fitem\x1fattempt" → [{result, with}] in order */
    json_t *cursor;    /* the same keys → how many were handed out */
    json_t *approvals; /* step → [recorded answer events] */
    json_t *durations; /* step → [duration_ms of its step_finished events] */
    json_t *stimuli;   /* [{anchor, n, event}]: what came from outside (escalation
                          timers, cancels, resolved alerts, approval answers), each after
                          the n-th event of kind anchor */
    json_t *counts;    /* anchor → how many the replayed run has emitted */
    json_t *children;  /* the recorded sub-runs [{id, runbook, sha256, status, parent_step}] */
    json_t *used;      /* ids of those handed out */
    json_t *replayed;  /* the replayed run's decision path [D…], as it emitted them */
    rb_replay_host_t host;
    rb_run_t *live;    /* the replayed run (the top one is replay.c's; children step.c's) */
    int claim;         /* handed to step.c, its run not yet seen */
    rv_rec_t *parent;  /* the run whose step started this one (NULL: the top run) */
    rv_rec_t *next;
};

struct rv_replay {
    rb_journal_t *src; /* the recorded journal (only read) */
    uv_loop_t *loop;
    int whatif;
    const json_t *assume;
    rb_runbook_t *top_rb; /* the runbook the top run replays (recorded, or --with) */
    rv_rec_t *recs, *top;
    json_t *missing;      /* [{run, what, step?, detail}] */
    json_t *clock;        /* the recorded now() values of the whole tree, in order */
    size_t clock_next;
    json_t *pending;      /* stimuli due: [{rec (pointer as integer), event}] */
    json_t *subs;         /* what-if: sub-runbook name → {path, used}: its edited file */
    json_t *deferred;     /* a parent's cancel that reached its sub-run in the record:
                             [{child (id), step, rec, event}], delivered when the
                             replayed sub-run gets to where its cancel came */
    uv_timer_t tick;
    char *err;
    size_t errlen;
    int jrc;              /* a read of the recorded journal that failed (its RB_E*):
                             the replay stops with rb_journal_errmsg(src) */
};

/* replayer.c */

/* Reads recorded run id and what it answers; adds it to rp->recs.
 * NULL with rp->err on failure. */
rv_rec_t *rv_rec_load(rv_replay_t *rp, int64_t id);
void rv_rec_free(rv_rec_t *rec);
/* Lets the recorded events go once nothing reads them any more (what the
 * replay answers from them is indexed, their decision path taken): the
 * parsed run is most of a replay's memory, and the replayed run reuses it. */
void rv_rec_release(rv_rec_t *rec);
/* The run's recorded runbook version, compiled (dir: where relative paths
 * would resolve). NULL with rp->err. */
rb_runbook_t *rv_rec_runbook(rv_replay_t *rp, const rv_rec_t *rec);
/* Notes a value the journal lacks. */
void rv_missing(rv_replay_t *rp, const rv_rec_t *rec, const char *what, const char *step,
                const char *detail);
/* The replayed run of rec emitted an event: remember it and queue the
 * stimuli due after it (rp->pending). */
void rv_rec_saw(rv_rec_t *rec, const char *type, const char *step, int attempt, const json_t *data);
/* The clock a replay installs for now(): the recorded values in order. */
double rv_clock(void *arg);

/* decisions.c */

/* The decision one event made: D (see review.h), or NULL for an event
 * that decides nothing. New reference; it shares values with data. */
json_t *rv_decision(const char *type, const char *step, json_int_t attempt, const json_t *data);
/* The decision path of a run's events: [D…] (see review.h). New reference. */
json_t *rv_decisions(const json_t *events);
/* The first place two decision paths differ, lane by lane (parallel checks,
 * foreach items and notifications each keep their own order): null when
 * identical, else {lane, index, recorded: D | null, replayed: D | null}. */
json_t *rv_first_divergence(const json_t *recorded, const json_t *replayed);
/* What-if: the steps of both paths aligned by name:
 * [{step, recorded, replayed, change: "same" | "changed" | "added" |
 * "removed" | "not reached"}]; "not reached": the edit (NULL: unknown) has
 * the step, its run did not get to it (replayed "not reached"). */
json_t *rv_step_diff(const json_t *recorded, const json_t *replayed, const rb_runbook_t *edit);
/* One decision as a line for people ("step restart finished: ok (2 attempts)"). */
void rv_decision_text(const json_t *d, char *buf, size_t len);

/* report_fmt.c: what every report writer formats the same way */

/* A duration: "86ms", "1.25s", "1h2m". */
const char *rv_fmt_dur(json_int_t ms, char *buf, size_t len);
/* An offset from the run's start: "+86ms". */
const char *rv_fmt_offset(json_int_t ms, char *buf, size_t len);
/* A time (ms since the epoch) in UTC, ISO 8601: "2026-12-03T17:29:01Z". */
const char *rv_fmt_time(json_int_t epoch_ms, char *buf, size_t len);
/* o[k] as a string and its length (jansson's: it may hold NUL bytes);
 * *s NULL and 0 when it is not a string. */
size_t rv_jstrn(const json_t *o, const char *k, const char **s);
/* s[0..len) with control characters other than newline and tab (a NUL, an
 * escape, a carriage return) written as '?', as `runbook show` does. */
void rv_put_visible(FILE *f, const char *s, size_t len);

/* report_html.c: what the HTML pages share (the report, the runs list) */

/* s[0..len) as HTML text or attribute value: & < > " ' escaped, control
 * characters other than newline and tab written as '?'. */
void rv_html_esc_n(FILE *f, const char *s, size_t len);
/* The pages' one stylesheet (screen and print). */
extern const char rv_html_css[];
/* The CSS class of an outcome word: ok, bad, skip or other. */
const char *rv_html_cls(const char *st);

#endif
