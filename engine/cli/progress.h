/*
 * progress.h — a run's progress on the terminal (text on stderr, a live
 * status line on a TTY, a one-screen summary) or as JSON lines on stdout.
 * Loop thread only.
 */
#ifndef RB_PROGRESS_H
#define RB_PROGRESS_H

#include <jansson.h>
#include <uv.h>

#include "run/run.h"

typedef struct rb_progress rb_progress_t;

/* json: JSON lines on stdout; quiet: only the summary; color: ANSI colors;
 * live: a status line redrawn every 100 ms (a TTY). */
rb_progress_t *rb_progress_new(uv_loop_t *loop, int json, int quiet, int color, int live);

/* The top-level run: events of other runs (sub-runbooks) are shown indented. */
void rb_progress_set_run(rb_progress_t *p, rb_run_t *run);

/* An event as the run journaled it (the run's rb_run_event_cb). */
void rb_progress_event(rb_progress_t *p, rb_run_t *run, const char *type, const char *step,
                       int attempt, const json_t *data);

/* The one-screen summary once the run is done; stops the status line. */
void rb_progress_summary(rb_progress_t *p, rb_run_t *run);
/* A resumed run: what it did before it was interrupted (run: the journal's
 * record of it, rb_journal_run_get's {started_at, events}), taken into the
 * summary unprinted, so that it counts the steps of the whole run and the
 * times from its first start (docs/cli.md, `runbook resume`). */
void rb_progress_history(rb_progress_t *p, const json_t *run);

/* Closes the timer; the memory goes in its close callback. */
void rb_progress_free(rb_progress_t *p);

#endif
