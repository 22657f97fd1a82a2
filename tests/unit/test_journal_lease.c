/*
 * test_journal_lease.c — the lease calls on an SQLite file
 * (docs/high-availability.md, "On a file"): one engine owns every run, so
 * they succeed at once and touch nothing — a take gives epoch 1 and never
 * a takeover, renew and release succeed, no lease ever expires, the
 * counters stay 0 — and the file is not changed by them. The PostgreSQL
 * side is tests/e2e/pg_lease.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "journal_fixture.h"

static void test_file_leases_are_trivial(void **state)
{
    fx_t *fx = *state;
    rb_journal_t *j = open_ok(fx->db, 0);
    int64_t id = new_run(j, "x");
    assert_int_equal(rb_journal_sync(j), 0);
    const char *shape = "SELECT (SELECT count(*) FROM events) * 1000 + (SELECT count(*) FROM"
                        " sqlite_master)";
    int64_t before = sql_int(fx->db, shape);

    /* the engine id is checked the same way on both backends */
    assert_int_equal(rb_journal_set_engine(j, ""), RB_EINVAL);
    char big[RB_JOURNAL_ENGINE_MAX + 1];
    memset(big, 'e', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(rb_journal_set_engine(j, big), RB_EINVAL);
    assert_int_equal(rb_journal_set_engine(j, "bad\nid"), RB_EINVAL);
    assert_int_equal(rb_journal_set_engine(j, "engine-a"), 0);

    rb_journal_lease_t l;
    memset(&l, 0x55, sizeof l);
    assert_int_equal(rb_journal_lease_take(j, id, 1000, &l), 0);
    assert_int_equal(l.epoch, 1);
    assert_int_equal(l.takeover, 0);
    assert_string_equal(l.previous, "");
    assert_int_equal(rb_journal_lease_take(j, id, 1000, NULL), 0);
    assert_int_equal(rb_journal_lease_renew(j, id, 1000), 0);
    assert_int_equal(rb_journal_lease_release(j, id), 0);
    json_t *ex = NULL;
    assert_int_equal(rb_journal_leases_expired(j, &ex), 0);
    assert_true(json_is_array(ex));
    assert_int_equal(json_array_size(ex), 0);
    json_decref(ex);

    rb_journal_stats_t st;
    rb_journal_stats(j, &st);
    assert_int_equal(st.leases_held, 0);
    assert_int_equal(st.lease_takeovers, 0);
    assert_int_equal(st.fenced_writes, 0);
    /* nothing was written, and appends go on as before */
    assert_int_equal(rb_journal_sync(j), 0);
    assert_int_equal(sql_int(fx->db, shape), before);
    assert_int_equal(rb_journal_event(j, id, "log", NULL, 0, NULL), 0);
    assert_int_equal(rb_journal_sync(j), 0);
    rb_journal_close(j);
}

static void test_fenced_error_text(void **state)
{
    (void)state;
    assert_string_equal(rb_strerror(RB_EFENCED), "another engine took the run over");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_file_leases_are_trivial),
        T(test_fenced_error_text),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
