/*
 * test_journal_recover.c — crash recovery: a run left open by a process
 * that is gone (faked: an owner pid that cannot exist, a pid whose start
 * time differs — reused —, another boot, no owner at all) is marked
 * interrupted on the next open for writing, with a chained run_interrupted
 * event saying where it stopped; a live owner's run is left alone; and
 * rb_journal_run_resume_point returns what a resume needs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "journal_fixture.h"

static const char src[] = "apiVersion: runbook/v1\nname: node-crash\nsteps: [a, b, c, d]\n";

/* A run that got as far as the intent of step b (and its first attempt),
 * owned by this process. Returns its id. */
static int64_t crashed_run(fx_t *fx, int with_steps)
{
    rb_journal_t *j = open_ok(fx->db, 0);
    char sha[65];
    assert_int_equal(rb_journal_put_version(j, "node-crash", "nc.yaml", src, strlen(src), sha), 0);
    json_t *params = json_pack("{s:s}", "instance", "10.0.0.7");
    int64_t r;
    assert_int_equal(rb_journal_run_create(j, "node-crash", sha, params, "alert", &r), 0);
    json_t *d = json_pack("{s:s,s:s,s:O,s:b,s:{s:{s:s}}}", "runbook", "node-crash", "sha256",
                          sha, "params", params, "dry_run", 1, "alert", "labels", "instance",
                          "10.0.0.7");
    if (with_steps)
        json_object_set_new(d, "steps", json_pack("[s,s,s,s]", "a", "b", "c", "d"));
    assert_int_equal(rb_journal_event(j, r, "run_started", NULL, 0, d), 0);
    json_decref(d);
    json_decref(params);
    assert_int_equal(rb_journal_run_status(j, r, "running", 0), 0);
    d = json_pack("{s:s,s:{s:[s,s]}}", "action", "exec", "with", "argv", "echo", "a");
    assert_int_equal(rb_journal_event(j, r, "step_started", "a", 0, d), 0);
    json_decref(d);
    assert_int_equal(rb_journal_event(j, r, "attempt_started", "a", 1, NULL), 0);
    d = json_pack("{s:{s:b,s:s,s:s}}", "result", "ok", 1, "status", "ok", "stdout", "a\n");
    assert_int_equal(rb_journal_event(j, r, "step_finished", "a", 1, d), 0);
    json_decref(d);
    d = json_pack("{s:s,s:{s:[s,s]},s:b}", "action", "exec", "with", "argv", "restart",
                  "node", "side_effects", 1);
    assert_int_equal(rb_journal_event(j, r, "step_started", "b", 0, d), 0);
    json_decref(d);
    assert_int_equal(rb_journal_event(j, r, "attempt_started", "b", 1, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);
    return r;
}

static void set_owner(fx_t *fx, int64_t run, const char *set)
{
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE runs SET %s WHERE id = %lld", set, (long long)run);
    sql_exec(fx->db, sql);
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_t *last_event(rb_journal_t *j, int64_t run)
{
    json_t *r = NULL;
    assert_int_equal(rb_journal_run_get(j, run, &r), 0);
    json_t *ev = json_object_get(r, "events");
    json_t *e = json_incref(json_array_get(ev, json_array_size(ev) - 1));
    json_decref(r);
    return e;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_dead_owner_interrupted(void **state)
{
    fx_t *fx = *state;
    int64_t r = crashed_run(fx, 1);
    int64_t last_wall = sql_int(fx->db, "SELECT max(wall_ms) FROM events");
    /* Above any pid_max: no such process. */
    set_owner(fx, r, "owner_pid = 2147483000");

    /* Read-only and NO_RECOVER opens leave it alone. */
    rb_journal_close(open_ok(fx->db, RB_JOURNAL_READONLY));
    rb_journal_close(open_ok(fx->db, RB_JOURNAL_NO_RECOVER));
    assert_int_equal(sql_int(fx->db, "SELECT status = 'running' FROM runs"), 1);

    rb_journal_t *j = open_ok(fx->db, 0);
    json_t *rec = NULL;
    assert_int_equal(rb_journal_recovered(j, &rec), 0);
    assert_int_equal(json_array_size(rec), 1);
    json_t *one = json_array_get(rec, 0);
    assert_int_equal(json_integer_value(json_object_get(one, "id")), r);
    assert_string_equal(jstr(one, "runbook"), "node-crash");
    assert_string_equal(jstr(one, "step"), "b");
    assert_int_equal(json_integer_value(json_object_get(one, "last_seq")), 6);
    json_decref(rec);

    json_t *e = last_event(j, r);
    assert_string_equal(jstr(e, "type"), "run_interrupted");
    assert_int_equal(json_integer_value(json_object_get(e, "seq")), 7);
    json_t *d = json_object_get(e, "data");
    assert_int_equal(json_integer_value(json_object_get(d, "last_seq")), 6);
    assert_string_equal(jstr(d, "last_event_type"), "attempt_started");
    assert_string_equal(jstr(d, "step"), "b");
    assert_non_null(strstr(jstr(d, "reason"), "pid 2147483000"));
    json_decref(e);
    rb_journal_close(j);
    assert_int_equal(sql_int(fx->db, "SELECT status = 'interrupted' FROM runs"), 1);
    /* Ended when it was last heard of. */
    assert_int_equal(sql_int(fx->db, "SELECT ended_at FROM runs"), last_wall);
    /* Recovery writes into the chain like anything else. */
    assert_true(verify_path_ok(fx->db, NULL));

    /* Once is enough: the next open finds nothing to do. */
    j = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_recovered(j, &rec), 0);
    assert_int_equal(json_array_size(rec), 0);
    json_decref(rec);
    rb_journal_close(j);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM events WHERE type = 'run_interrupted'"),
                     1);
}

static void test_resume_point(void **state)
{
    fx_t *fx = *state;
    int64_t r = crashed_run(fx, 1);
    set_owner(fx, r, "owner_pid = 2147483000");
    rb_journal_t *j = open_ok(fx->db, 0);
    json_t *p = NULL;
    assert_int_equal(rb_journal_run_resume_point(j, r, &p), 0);
    assert_int_equal(json_integer_value(json_object_get(p, "run_id")), r);
    assert_string_equal(jstr(p, "status"), "interrupted");
    assert_string_equal(jstr(p, "runbook"), "node-crash");
    assert_string_equal(jstr(p, "source"), src);
    assert_int_equal(strlen(jstr(p, "sha256")), 64);
    assert_string_equal(jstr(json_object_get(p, "params"), "instance"), "10.0.0.7");
    assert_string_equal(jstr(p, "trigger"), "alert");
    assert_true(json_is_true(json_object_get(p, "dry_run")));
    assert_string_equal(
        jstr(json_object_get(json_object_get(p, "alert"), "labels"), "instance"), "10.0.0.7");
    /* a finished, b started and not finished. */
    json_t *res = json_object_get(p, "results");
    assert_int_equal(json_object_size(res), 1);
    assert_string_equal(jstr(json_object_get(res, "a"), "stdout"), "a\n");
    assert_int_equal(json_array_size(json_object_get(p, "finished")), 1);
    assert_string_equal(jstr(p, "last_step"), "a");
    assert_string_equal(jstr(p, "next_step"), "b");
    assert_true(json_is_true(json_object_get(p, "next_step_started")));
    assert_int_equal(json_integer_value(json_object_get(p, "next_step_attempts")), 1);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_object_get(p, "next_step_with"),
                                                         "argv"), 0)),
        "restart");
    assert_int_equal(json_integer_value(json_object_get(p, "last_seq")), 7);
    json_decref(p);

    /* b finishes, c is skipped: nothing in flight, the next step comes from
     * the step list run_started recorded. */
    json_t *d = json_pack("{s:{s:b,s:s}}", "result", "ok", 1, "status", "ok");
    assert_int_equal(rb_journal_event(j, r, "step_finished", "b", 1, d), 0);
    json_decref(d);
    d = json_pack("{s:n,s:s,s:s}", "ok", "status", "skipped", "reason", "when is false");
    assert_int_equal(rb_journal_event(j, r, "step_skipped", "c", 0, d), 0);
    json_decref(d);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(rb_journal_run_resume_point(j, r, &p), 0);
    assert_string_equal(jstr(p, "next_step"), "d");
    assert_false(json_is_true(json_object_get(p, "next_step_started")));
    assert_true(json_is_null(json_object_get(p, "next_step_with")));
    assert_string_equal(jstr(p, "last_step"), "c");
    assert_string_equal(jstr(json_object_get(json_object_get(p, "results"), "c"), "status"),
                        "skipped");
    assert_int_equal(json_array_size(json_object_get(p, "finished")), 3);
    json_decref(p);

    json_t *none = (json_t *)1;
    assert_int_equal(rb_journal_run_resume_point(j, 999, &none), RB_ENOTFOUND);
    assert_null(none);
    rb_journal_close(j);

    /* The recorded text edited: resuming from it is refused. */
    sql_exec(fx->db, "DROP TRIGGER versions_no_update; UPDATE versions SET source = source || '#'");
    j = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_run_resume_point(j, r, &p), RB_EJOURNAL);
    assert_non_null(strstr(rb_journal_errmsg(j), "does not match its SHA-256"));
    rb_journal_close(j);
}

/* Without a recorded step list and nothing in flight, next_step is null:
 * the resumer takes the step after last_step from the runbook. */
static void test_resume_point_without_steps(void **state)
{
    fx_t *fx = *state;
    int64_t r = crashed_run(fx, 0);
    rb_journal_t *j = open_ok(fx->db, 0);
    json_t *d = json_pack("{s:{s:b}}", "result", "ok", 1);
    assert_int_equal(rb_journal_event(j, r, "step_finished", "b", 1, d), 0);
    json_decref(d);
    assert_int_equal(rb_journal_sync(j), 0);
    json_t *p = NULL;
    assert_int_equal(rb_journal_run_resume_point(j, r, &p), 0);
    assert_true(json_is_null(json_object_get(p, "next_step")));
    assert_string_equal(jstr(p, "last_step"), "b");
    json_decref(p);
    rb_journal_close(j);
}

static void test_live_owner_left_alone(void **state)
{
    fx_t *fx = *state;
    int64_t r = crashed_run(fx, 1); /* owned by this process: alive */
    rb_journal_close(open_ok(fx->db, 0));
    assert_int_equal(sql_int(fx->db, "SELECT status = 'running' FROM runs"), 1);

    /* Another live process (our parent), with its real start time. */
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)getppid());
    FILE *f = fopen(path, "r");
    if (!f)
        skip();
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')') + 2;
    long long start = 0;
    for (int field = 3; field <= 22 && p; field++) {
        if (field == 22)
            start = atoll(p);
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    char set[160];
    snprintf(set, sizeof set, "owner_pid = %d, owner_start = %lld", (int)getppid(), start);
    set_owner(fx, r, set);
    rb_journal_close(open_ok(fx->db, 0));
    assert_int_equal(sql_int(fx->db, "SELECT status = 'running' FROM runs"), 1);

    /* Same pid, another start time: the pid was reused, the owner is gone. */
    snprintf(set, sizeof set, "owner_pid = %d, owner_start = %lld", (int)getppid(), start + 1);
    set_owner(fx, r, set);
    rb_journal_close(open_ok(fx->db, 0));
    assert_int_equal(sql_int(fx->db, "SELECT status = 'interrupted' FROM runs"), 1);
}

static void test_other_boot_and_unknown_owner(void **state)
{
    fx_t *fx = *state;
    int64_t r = crashed_run(fx, 1);
    /* Our own pid and start, but recorded before a reboot. */
    set_owner(fx, r, "owner_boot = '00000000-0000-0000-0000-000000000000'");
    rb_journal_close(open_ok(fx->db, 0));
    assert_int_equal(sql_int(fx->db, "SELECT status = 'interrupted' FROM runs"), 1);

    /* A run from a journal of version 1: no owner recorded. */
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t r2 = new_run(j, "old");
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);
    set_owner(fx, r2, "owner_pid = NULL, owner_start = NULL, owner_boot = NULL");
    j = open_ok(fx->db, 0);
    json_t *e = last_event(j, r2);
    assert_string_equal(jstr(e, "type"), "run_interrupted");
    assert_true(json_is_null(json_object_get(json_object_get(e, "data"), "step")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "data"), "last_seq")),
                     0);
    json_decref(e);
    rb_journal_close(j);
    assert_true(verify_path_ok(fx->db, NULL));
}

/* A resumed run is claimed: running again, owned by the resumer, and not
 * interrupted while the resumer lives. */
static void test_resumed_run_is_claimed(void **state)
{
    fx_t *fx = *state;
    int64_t r = crashed_run(fx, 1);
    set_owner(fx, r, "owner_pid = 2147483000");
    rb_journal_t *j = open_ok(fx->db, 0);
    assert_int_equal(rb_journal_event(j, r, "run_resumed", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_run_status(j, r, "running", 0), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(sql_int(fx->db, "SELECT ended_at IS NULL FROM runs"), 1);
    assert_int_equal(sql_int(fx->db, "SELECT owner_pid FROM runs"), (int64_t)getpid());
    rb_journal_close(open_ok(fx->db, 0));
    assert_int_equal(sql_int(fx->db, "SELECT status = 'running' FROM runs"), 1);
    rb_journal_close(j);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_dead_owner_interrupted),
        T(test_resume_point),
        T(test_resume_point_without_steps),
        T(test_live_owner_left_alone),
        T(test_other_boot_and_unknown_owner),
        T(test_resumed_run_is_claimed),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
