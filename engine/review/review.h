/*
 * review.h — replay and the post-incident review, from the journal
 * (DESIGN §6, docs/review.md). What the command line (and the server) call:
 *
 *   rb_review_replay   run a recorded run again with every action answered
 *                      from the journal and nothing executed, and compare
 *                      every decision (verify); or run an edited runbook
 *                      against the recorded incident (what-if);
 *   rb_review_report   the post-incident review of a run as data (JSON),
 *                      with writers for Markdown, the terminal and one
 *                      self-contained HTML file;
 *   rb_review_runs_html  the list of runs as an HTML page (the server's).
 *
 * Reads the journal only through engine/journal/journal.h; writes nothing
 * to it. Loop: a replay runs its own uv loop on the calling thread, to the
 * end, so call it from a thread that runs no other loop (the CLI's).
 */
#ifndef RB_REVIEW_H
#define RB_REVIEW_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "journal/journal.h"

typedef struct rb_replay_opts {
    /* what-if: the edited runbook file run against the recorded incident
     * (NULL: verify, the recorded version) */
    const char *with_path;
    /* what-if: how a step with no recorded answer comes out: {"*": "ok" |
     * "failed", STEP: "ok" | "failed"} (borrowed; NULL: all ok) */
    const json_t *assume;
    /* what-if: edited sub-runbook files, NULL-terminated (NULL: none);
     * each replaces the recorded version of the sub-runbook of its name
     * in every recorded sub-run of that name */
    const char *const *with_subs;
} rb_replay_opts_t;

/*
 * Replays run run_id of j (a top-level run: its sub-runbooks replay with
 * it). *out (new reference):
 *   {run, runbook, mode: "verify" | "what-if", identical,
 *    status: {recorded, replayed},
 *    divergence: null | {run, lane, index, recorded: D | null, replayed: D | null},
 *    recorded: [D…], replayed: [D…]   (the decision paths of the top run),
 *    steps: [{step, recorded, replayed, change}]  (what-if: step by step),
 *    missing: [{run, what, step?, detail}]  (values the journal lacks),
 *    runs: [{recorded, runbook, replayed_status}]}
 * where D = {type, step, attempt, lane, decision}. Returns 0 (whatever the
 * comparison found), or a negative RB_E* with a message in err (no such
 * run, the recorded version or the edited file does not load).
 */
int rb_review_replay(rb_journal_t *j, int64_t run_id, const rb_replay_opts_t *o, json_t **out,
                     char *err, size_t errlen);

/* Prints a replay's result (rb_review_replay's *out) for people: the
 * verdict, the first divergence, the missing values; what-if: both paths
 * side by side. color: ANSI colors. */
void rb_review_replay_print(const json_t *res, FILE *f, int color);

/*
 * The post-incident review of run_id as data (new reference in *out):
 * {run, runbook, title, status, severity, severity_rule, trigger, params,
 *  started_at, ended_at, duration_ms, targets: {respond_ms, resolve_ms,
 *  respond_met, resolve_met}, summary, timeline: [{t_ms, phase, what,
 *  step?, status?}], steps: [{name, status, attempts, t_ms, duration_ms,
 *  action, command, output?, stderr?, error?, exit_code?, assumed?,
 *  items?: [{index, item, command, status, attempts, duration_ms, output?,
 *  …}] (a foreach step)}], approvals: [{step, requested_ms, answer,
 *  by (null: nobody answered), at_ms (null: no answer recorded), comment?,
 *  reason?}], notifications, escalations, skipped: [{step, reason}],
 *  chain: {ok, problems}, subruns: [...], people: [...],
 *  missing: [{what, detail}] (what an older journal did not record)}. duration_ms is
 *  the one the run's end recorded; outputs keep their bytes (a NUL too).
 * 0, or a negative RB_E* with err.
 */
int rb_review_report(rb_journal_t *j, int64_t run_id, json_t **out, char *err, size_t errlen);

/* The report as Markdown (the seeds' template, with empty sections for
 * people to fill in), for the terminal (text, colors when asked), and as
 * one self-contained HTML file: every value from the journal escaped, no
 * external asset, no script, an inline SVG timeline, print styles. */
void rb_review_report_md(const json_t *rep, FILE *f);
void rb_review_report_text(const json_t *rep, FILE *f, int color);
void rb_review_report_html(const json_t *rep, FILE *f);

/* One page of the list of runs, for GET /runs of `runbook serve`. */
#define RB_RUNS_PAGE_LIMIT 50 /* runs a page, unless ?limit= says */
typedef struct rb_runs_page {
    const json_t *runs;  /* rb_journal_runs_find's rows, newest first (borrowed) */
    /* the filters in force, as the query gave them (NULL: none); they
     * stay in the links to other pages */
    const char *status, *runbook, *severity, *trigger, *drill; /* drill: "no" | "only" */
    int limit;           /* runs a page */
    int64_t before;      /* this page lists ids below it (0: the newest) */
    int64_t next_before; /* > 0: older runs exist, below this id */
} rb_runs_page_t;
/* The page as one self-contained HTML document: every value escaped, no
 * script, no external asset, print styles; each run links to its report
 * (relative links: the page works under a path prefix). */
void rb_review_runs_html(const rb_runs_page_t *p, FILE *f);

#endif
