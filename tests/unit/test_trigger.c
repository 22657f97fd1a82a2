/*
 * test_trigger.c — triggers: which alerts start a runbook. Label equality,
 * "=~" regular expressions matching the whole value, several triggers (any
 * one matches), missing labels, and a bad regex reported at load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "load/diag.h"
#include "load/runbook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rb_runbook_t *load_text(const char *yaml, rb_diags_t *d)
{
    rb_runbook_t *rb = NULL;
    rb_runbook_load_text("t.yaml", yaml, strlen(yaml), ".", d, &rb);
    return rb;
}

static int matches(const rb_runbook_t *rb, const char *labels_json)
{
    json_t *labels = json_loads(labels_json, 0, NULL);
    assert_non_null(labels);
    json_t *alert = json_pack("{s:o}", "labels", labels);
    int m = rb_runbook_match_alert(rb, alert);
    json_decref(alert);
    return m;
}

static void test_equality_regex_and_any_trigger(void **state)
{
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = load_text("apiVersion: runbook/v1\nname: t\n"
                                 "triggers:\n"
                                 "  - match: { alertname: NodeDown, team: \"=~ops|sre\" }\n"
                                 "  - match: { alertname: \"=~Disk.*Low\" }\n"
                                 "steps: [ { name: a, run: ['true'] } ]\n", d);
    assert_non_null(rb);
    assert_int_equal(rb_runbook_ntriggers(rb), 2);
    assert_true(matches(rb, "{\"alertname\":\"NodeDown\",\"team\":\"sre\"}"));
    assert_true(matches(rb, "{\"alertname\":\"NodeDown\",\"team\":\"ops\",\"extra\":\"x\"}"));
    /* the regex matches the whole value, not a part of it */
    assert_false(matches(rb, "{\"alertname\":\"NodeDown\",\"team\":\"devops\"}"));
    /* every matcher of a trigger must hold; a missing label does not */
    assert_false(matches(rb, "{\"alertname\":\"NodeDown\"}"));
    assert_false(matches(rb, "{\"alertname\":\"nodedown\",\"team\":\"sre\"}"));
    /* the second trigger */
    assert_true(matches(rb, "{\"alertname\":\"DiskSpaceLow\"}"));
    assert_false(matches(rb, "{\"alertname\":\"DiskSpaceLowish\"}"));
    json_t *no_labels = json_object();
    assert_false(rb_runbook_match_alert(rb, no_labels));
    json_decref(no_labels);
    rb_runbook_free(rb);
    rb_diags_free(d);
}

static void test_no_triggers_matches_nothing(void **state)
{
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = load_text("apiVersion: runbook/v1\nname: t\nsteps: [ { name: a, run: ['true'] } ]\n", d);
    assert_non_null(rb);
    assert_false(matches(rb, "{\"alertname\":\"NodeDown\"}"));
    rb_runbook_free(rb);
    rb_diags_free(d);
}

static void test_bad_regex_is_a_diagnostic(void **state)
{
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = load_text("apiVersion: runbook/v1\nname: t\n"
                                 "triggers:\n  - match: { alertname: \"=~(unclosed\" }\n"
                                 "steps: [ { name: a, run: ['true'] } ]\n", d);
    assert_null(rb);
    json_t *all = rb_diags_json(d);
    json_t *first = json_array_get(all, 0);
    assert_non_null(strstr(json_string_value(json_object_get(first, "message")), "invalid regular expression"));
    assert_int_equal(json_integer_value(json_object_get(first, "line")), 4);
    assert_int_equal(json_integer_value(json_object_get(first, "col")), 25); /* the value's opening quote */
    json_decref(all);
    rb_diags_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equality_regex_and_any_trigger),
        cmocka_unit_test(test_no_triggers_matches_nothing),
        cmocka_unit_test(test_bad_regex_is_a_diagnostic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
