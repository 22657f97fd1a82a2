/*
 * test_journal_alerts.c — the server's alert claims in the journal
 * (journal.h, "alerts"): a claim is one UNIQUE insert and a second claim
 * of the same alert changes nothing; a run created for a claimed alert is
 * linked to it in its own record (never durable without the link, in
 * writer mode too); a claimed alert whose matched runbook has neither a
 * run nor an outcome is listed as unstarted (what a restart must start);
 * the first resolved notice stays; prune keeps a pruned run's link.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "journal_fixture.h"

static json_t *alert(const char *fp)
{
    return json_pack("{s:s,s:s,s:s,s:{s:s}}", "fingerprint", fp, "startsAt", "2026-01-01T00:00:00Z",
                     "status", "firing", "labels", "alertname", "NodeDown");
}

static void test_claim_once(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    json_t *a = alert("f1"), *names = json_pack("[s,s]", "one", "two"), *got = NULL;
    const char *sa = "2026-01-01T00:00:00Z";
    assert_int_equal(rb_journal_alert_get(j, "f1", sa, &got), RB_ENOTFOUND);
    assert_int_equal(rb_journal_alert_claim(j, "f1", sa, a, names, 0), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    /* the same alert again: ignored, the first claim stands */
    json_t *none = json_array();
    assert_int_equal(rb_journal_alert_claim(j, "f1", sa, a, none, 0), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM alerts"), 1);
    assert_int_equal(rb_journal_alert_get(j, "f1", sa, &got), 0);
    assert_string_equal(json_string_value(json_object_get(got, "status")), "claimed");
    assert_int_equal(json_array_size(json_object_get(got, "runbooks")), 2);
    assert_true(json_is_null(json_object_get(got, "resolved_at")));
    json_decref(got);
    /* the same fingerprint firing again later is a new alert */
    assert_int_equal(rb_journal_alert_claim(j, "f1", "2026-02-01T00:00:00Z", a, none, 0), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(rb_journal_alert_get(j, "f1", "2026-02-01T00:00:00Z", &got), 0);
    assert_string_equal(json_string_value(json_object_get(got, "status")), "unmatched");
    json_decref(got);
    /* no fingerprint: refused */
    assert_int_equal(rb_journal_alert_claim(j, "", sa, a, none, 0), RB_EINVAL);
    json_decref(none);
    json_decref(a);
    json_decref(names);
    rb_journal_close(j);
}

static void test_link_and_unstarted(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    const char *sa = "2026-01-01T00:00:00Z";
    json_t *a = alert("f2"), *names = json_pack("[s,s,s]", "one", "two", "three"), *v = NULL;
    char sha[65];
    assert_int_equal(rb_journal_put_version(j, "one", NULL, "x", 1, sha), 0);
    assert_int_equal(rb_journal_alert_claim(j, "f2", sa, a, names, 0), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(rb_journal_alerts_unstarted(j, 0, &v), 0);
    assert_int_equal(json_array_size(v), 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(v, 0), "missing")), 3);
    json_decref(v);
    int64_t id = 0;
    assert_int_equal(rb_journal_run_create_claimed(j, "one", sha, NULL, "alertmanager", "f2", sa,
                                                   &id), 0);
    assert_int_equal(rb_journal_alert_outcome(j, "f2", sa, "two", "busy: cools down"), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(rb_journal_alerts_unstarted(j, 0, &v), 0);
    assert_int_equal(json_array_size(v), 1);
    json_t *missing = json_object_get(json_array_get(v, 0), "missing");
    assert_int_equal(json_array_size(missing), 1);
    assert_string_equal(json_string_value(json_array_get(missing, 0)), "three");
    json_decref(v);
    json_t *got = NULL;
    assert_int_equal(rb_journal_alert_get(j, "f2", sa, &got), 0);
    json_t *runs = json_object_get(got, "runs");
    assert_int_equal(json_array_size(runs), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 0), "run_id")), id);
    assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 1), "outcome")),
                        "busy: cools down");
    json_decref(got);
    /* the last one: nothing unstarted */
    assert_int_equal(rb_journal_alert_outcome(j, "f2", sa, "three", "error: x"), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(rb_journal_alerts_unstarted(j, 0, &v), 0);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    /* prune keeps the link of a pruned run, without its run */
    assert_int_equal(rb_journal_run_status(j, id, "resolved", 1), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    json_t *out = NULL;
    assert_int_equal(rb_journal_prune(j, INT64_MAX / 2, 0, &out), 0);
    json_decref(out);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM runs"), 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM alert_runs WHERE run_id IS NULL"
                                     " AND runbook = 'one'"), 1);
    assert_int_equal(rb_journal_alerts_unstarted(j, 0, &v), 0);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    json_decref(a);
    json_decref(names);
    rb_journal_close(j);
}

static void test_resolved_first_stays(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    const char *sa = "2026-01-01T00:00:00Z";
    json_t *a = alert("f3"), *names = json_pack("[s]", "one");
    json_t *n1 = json_pack("{s:s}", "endsAt", "first"), *n2 = json_pack("{s:s}", "endsAt", "second");
    assert_int_equal(rb_journal_alert_claim(j, "f3", sa, a, names, 0), 0);
    assert_int_equal(rb_journal_alert_resolved(j, "f3", sa, n1), 0);
    assert_int_equal(rb_journal_alert_resolved(j, "f3", sa, n2), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(sql_int(fx->db, "SELECT resolved LIKE '%first%' FROM alerts"), 1);
    json_t *got = NULL;
    assert_int_equal(rb_journal_alert_get(j, "f3", sa, &got), 0);
    assert_true(json_is_integer(json_object_get(got, "resolved_at")));
    json_decref(got);
    /* the open claim of a fingerprint: the newest not resolved */
    assert_int_equal(rb_journal_alert_open(j, "f3", &got), RB_ENOTFOUND);
    assert_int_equal(rb_journal_alert_claim(j, "f3", "later", a, names, 0), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(rb_journal_alert_open(j, "f3", &got), 0);
    assert_string_equal(json_string_value(json_object_get(got, "starts_at")), "later");
    json_decref(got);
    /* first heard of as resolved: status resolved, nothing to start */
    assert_int_equal(rb_journal_alert_claim(j, "f4", sa, a, names, 1), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    json_t *v = NULL;
    assert_int_equal(rb_journal_alerts_unstarted(j, 0, &v), 0);
    assert_int_equal(json_array_size(v), 2); /* f3's two: their runs were never made */
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "fingerprint")),
                        "f3");
    json_decref(v);
    json_decref(n1);
    json_decref(n2);
    json_decref(a);
    json_decref(names);
    rb_journal_close(j);
}

/* Writer mode: a claim, then its run; whatever the writer cuts, the run is
 * never durable without its claim and link. */
typedef struct {
    int status, calls;
} flushed_t;

static void on_flush(int status, void *arg)
{
    flushed_t *f = arg;
    f->status = status;
    f->calls++;
}

static void test_writer_mode(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(rb_journal_attach_loop(j, &loop), 0);
    char sha[65];
    assert_int_equal(rb_journal_put_version(j, "one", NULL, "x", 1, sha), 0);
    json_t *names = json_pack("[s]", "one");
    char fp[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(fp, sizeof fp, "w%d", i);
        json_t *a = alert(fp);
        int64_t id;
        assert_int_equal(rb_journal_alert_claim(j, fp, "s", a, names, 0), 0);
        assert_int_equal(rb_journal_run_create_claimed(j, "one", sha, NULL, "alertmanager", fp,
                                                       "s", &id), 0);
        json_decref(a);
    }
    flushed_t f = {0, 0};
    assert_int_equal(rb_journal_flush(j, on_flush, &f), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.status, 0);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM alerts"), 2000);
    assert_int_equal(sql_int(fx->db, "SELECT count(*) FROM alert_runs r JOIN runs u"
                                     " ON u.id = r.run_id"), 2000);
    json_t *v = NULL;
    assert_int_equal(rb_journal_alerts_unstarted(j, 0, &v), 0);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    assert_int_equal(rb_journal_detach_loop(j), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    json_decref(names);
    rb_journal_close(j);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_claim_once),
        T(test_link_and_unstarted),
        T(test_resolved_first_stays),
        T(test_writer_mode),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
