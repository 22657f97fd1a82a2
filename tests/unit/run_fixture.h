/*
 * run_fixture.h — what the run tests share: a temp dir with a journal, a
 * runbook written from text, and a run taken to its end on a real loop
 * (which must then close with no handle left).
 */
#ifndef RB_TEST_RUN_FIXTURE_H
#define RB_TEST_RUN_FIXTURE_H

#include "load/diag.h"
#include "journal/journal.h"
#include "run/run.h"
#include "load/runbook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
    char dir[64];
    char path[128];
    rb_journal_t *j;
    int done_calls;
    int events;
    int approve;        /* on approval_requested: 1 approve, -1 deny, 0 leave it */
    int writer;         /* run with the journal's writer thread (group commit) */
    char order[256];    /* step names in the order their steps started */
    uv_timer_t later;
    rb_run_t *run;
    void (*at_done)(void *); /* called when the run ends (e.g. to close a test server) */
    void *at_done_arg;
} fixture_t;

static inline int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/rb-test-run-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char db[128], err[256];
    snprintf(db, sizeof(db), "%s/j.db", f->dir);
    assert_int_equal(rb_journal_open(db, 0, &f->j, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

/* The same, with the journal's writer thread: every run goes through the
 * asynchronous flush path. */
static inline int setup_writer(void **state)
{
    int rc = setup(state);
    ((fixture_t *)*state)->writer = 1;
    return rc;
}

static inline int teardown(void **state)
{
    fixture_t *f = *state;
    rb_journal_close(f->j);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static inline rb_runbook_t *load(fixture_t *f, const char *yaml)
{
    snprintf(f->path, sizeof(f->path), "%s/rb.yaml", f->dir);
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs(yaml, fp);
    fclose(fp);
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    int rc = rb_runbook_load(f->path, d, &rb);
    if (rc != 0)
        rb_diags_print(d, stderr, 0);
    rb_diags_free(d);
    assert_int_equal(rc, 0);
    return rb;
}

static inline void on_done(rb_run_t *r, void *arg)
{
    fixture_t *f = arg;
    f->done_calls++;
    if (f->at_done)
        f->at_done(f->at_done_arg);
}
static inline void on_later(uv_timer_t *t)
{
    fixture_t *f = t->data;
    rb_run_approve(f->run, NULL, f->approve > 0, "test");
}

static inline void on_ev(rb_run_t *r, const char *t, const char *s, int a, const json_t *d, void *arg)
{
    fixture_t *f = arg;
    f->events++;
    if (!strcmp(t, "approval_requested") && f->approve)
        uv_timer_start(&f->later, on_later, 0, 0); /* not from inside the run's own call */
    if (s && (!strcmp(t, "step_started") || !strcmp(t, "undo_started")) &&
        strlen(f->order) + strlen(s) + 2 < sizeof(f->order)) {
        strcat(f->order, s);
        strcat(f->order, !strcmp(t, "undo_started") ? "~ " : " ");
    }
}

/* Runs rb to the end; returns the final context (a new reference) and the
 * status in *status (static string). */
/* Runs rb on loop (which the caller owns and closes) to its end. */
static inline json_t *run_on(fixture_t *f, uv_loop_t *loop, rb_runbook_t *rb, json_t *params,
                             const char **status, int64_t *id)
{
    if (f->writer)
        assert_int_equal(rb_journal_attach_loop(f->j, loop), 0);
    rb_run_opts_t o = {.params = params, .trigger = "test"};
    rb_run_t *r = NULL;
    char err[256] = "";
    int rc = rb_run_new(loop, rb, f->j, &o, &r, err, sizeof(err));
    if (rc)
        fprintf(stderr, "rb_run_new: %s\n", err);
    assert_int_equal(rc, 0);
    f->done_calls = 0;
    f->order[0] = 0;
    f->run = r;
    uv_timer_init(loop, &f->later);
    f->later.data = f;
    assert_int_equal(rb_run_start(r, on_ev, on_done, f), 0);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(f->done_calls, 1);
    *status = rb_run_status(r);
    if (id)
        *id = rb_run_id(r);
    json_t *ctx = json_deep_copy(rb_run_context(r));
    uv_close((uv_handle_t *)&f->later, NULL);
    rb_run_free(r);
    if (f->writer)
        assert_int_equal(rb_journal_detach_loop(f->j), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    return ctx;
}

static inline json_t *run_it(fixture_t *f, rb_runbook_t *rb, json_t *params, const char **status,
                             int64_t *id)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    json_t *ctx = run_on(f, &loop, rb, params, status, id);
    assert_int_equal(uv_loop_close(&loop), 0);
    return ctx;
}

static inline const json_t *step(const json_t *ctx, const char *name)
{
    return json_object_get(json_object_get(ctx, "steps"), name);
}

static inline void count_events(fixture_t *f, int64_t id, const char *type, int want)
{
    json_t *run = NULL;
    assert_int_equal(rb_journal_run_get(f->j, id, &run), 0);
    json_t *evs = json_object_get(run, "events");
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e) n += !strcmp(json_string_value(json_object_get(e, "type")), type);
    json_decref(run);
    assert_int_equal(n, want);
}


#endif
