/*
 * test_doc.c — the YAML loader: scalar types, source marks of keys, values
 * and items, offsets inside strings, and the bounds on hostile input
 * (aliases, depth, size, several documents, bad UTF-8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "load/doc.h"

#include <runbook/runbook.h>

#include <stdlib.h>
#include <string.h>

static rb_doc_t *load_ok(const char *text)
{
    rb_diags_t *d = rb_diags_new();
    rb_doc_t *doc = NULL;
    int rc = rb_doc_load_string("t.yaml", text, strlen(text), d, &doc);
    if (rc)
        rb_diags_print(d, stderr, 0);
    assert_int_equal(rc, 0);
    assert_int_equal(rb_diags_errors(d), 0);
    rb_diags_free(d);
    return doc;
}

/* Loads text that must fail; returns the first diagnostic as JSON. */
static json_t *load_bad(const char *text, size_t len)
{
    rb_diags_t *d = rb_diags_new();
    rb_doc_t *doc = NULL;
    int rc = rb_doc_load_string("t.yaml", text, len, d, &doc);
    assert_true(rc < 0);
    assert_null(doc);
    json_t *all = rb_diags_json(d);
    assert_true(json_array_size(all) >= 1);
    json_t *first = json_incref(json_array_get(all, 0));
    json_decref(all);
    rb_diags_free(d);
    return first;
}

static const char *msg(const json_t *diag) { return json_string_value(json_object_get(diag, "message")); }
static int line(const json_t *diag) { return (int)json_integer_value(json_object_get(diag, "line")); }
static int col(const json_t *diag) { return (int)json_integer_value(json_object_get(diag, "col")); }

static void test_scalars_follow_yaml_1_2_core(void **state)
{
    rb_doc_t *doc = load_ok("a: true\nb: yes\nc: on\nd: ~\ne: 42\nf: -1.5\ng: '42'\nh: 0x1f\n"
                            "i: 1e3\nj: 12ab\nk:\nl: \"true\"\n");
    json_t *r = rb_doc_root(doc);
    assert_true(json_is_true(json_object_get(r, "a")));
    assert_string_equal(json_string_value(json_object_get(r, "b")), "yes"); /* not a boolean */
    assert_string_equal(json_string_value(json_object_get(r, "c")), "on");
    assert_true(json_is_null(json_object_get(r, "d")));
    assert_int_equal(json_integer_value(json_object_get(r, "e")), 42);
    assert_true(json_real_value(json_object_get(r, "f")) == -1.5);
    assert_string_equal(json_string_value(json_object_get(r, "g")), "42");
    assert_int_equal(json_integer_value(json_object_get(r, "h")), 31);
    assert_true(json_real_value(json_object_get(r, "i")) == 1000.0);
    assert_string_equal(json_string_value(json_object_get(r, "j")), "12ab");
    assert_true(json_is_null(json_object_get(r, "k")));
    assert_string_equal(json_string_value(json_object_get(r, "l")), "true");
    rb_doc_free(doc);
}

static void test_marks_of_keys_values_items(void **state)
{
    rb_doc_t *doc = load_ok("name: x\nsteps:\n  - name: a\n    run: [echo, \"hi\"]\n  - { name: b, when: 'x' }\n");
    json_t *r = rb_doc_root(doc);
    rb_mark_t m = rb_doc_key_mark(doc, r, "steps");
    assert_int_equal(m.line, 2);
    assert_int_equal(m.col, 1);
    json_t *steps = json_object_get(r, "steps");
    m = rb_doc_item_mark(doc, steps, 1);
    assert_int_equal(m.line, 5);
    assert_int_equal(m.col, 5);
    json_t *s0 = json_array_get(steps, 0);
    m = rb_doc_val_mark(doc, s0, "run");
    assert_int_equal(m.line, 4);
    assert_int_equal(m.col, 10);
    m = rb_doc_item_mark(doc, json_object_get(s0, "run"), 1);
    assert_int_equal(m.line, 4);
    assert_int_equal(m.col, 17);
    assert_int_equal(m.style, RB_STYLE_DQUOTE);
    /* an offset inside a quoted value skips the quote */
    rb_mark_t w = rb_doc_val_mark(doc, json_array_get(steps, 1), "when");
    assert_int_equal(w.col, 22);
    rb_mark_t in = rb_doc_offset_mark(doc, w, 0);
    assert_int_equal(in.col, 23);
    /* singletons (true/false/null) still have marks through their parent */
    rb_doc_free(doc);
    doc = load_ok("a:\n  b: true\n  c: null\n");
    json_t *a = json_object_get(rb_doc_root(doc), "a");
    assert_int_equal(rb_doc_val_mark(doc, a, "b").line, 2);
    assert_int_equal(rb_doc_val_mark(doc, a, "c").line, 3);
    assert_int_equal(rb_doc_val_mark(doc, a, "c").col, 6);
    rb_doc_free(doc);
}

static void test_offset_in_block_scalar(void **state)
{
    rb_doc_t *doc = load_ok("when: |\n  a &&\n    bad\n");
    json_t *r = rb_doc_root(doc);
    rb_mark_t m = rb_doc_val_mark(doc, r, "when");
    assert_int_equal(m.style, RB_STYLE_LITERAL);
    /* "a &&\n  bad\n": offset 7 is the 'b' of bad, on line 3 column 5 */
    rb_mark_t in = rb_doc_offset_mark(doc, m, 7);
    assert_int_equal(in.line, 3);
    assert_int_equal(in.col, 5);
    rb_doc_free(doc);
}

static void test_aliases_work_within_bounds(void **state)
{
    rb_doc_t *doc = load_ok("base: &b { attempts: 3 }\nuse: *b\n");
    json_t *r = rb_doc_root(doc);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "use"), "attempts")), 3);
    rb_doc_free(doc);
}

static void test_alias_bomb_is_refused(void **state)
{
    char buf[4096];
    size_t o = (size_t)snprintf(buf, sizeof(buf), "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++) {
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "a%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++)
            o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s*a%d", k ? ", " : "", i - 1);
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "]\n");
    }
    json_t *d = load_bad(buf, o);
    assert_non_null(strstr(msg(d), "alias"));
    assert_true(line(d) >= 5); /* refused where the expansion passes the bound */
    json_decref(d);
}

static void test_depth_is_bounded(void **state)
{
    size_t n = 5000;
    char *buf = malloc(2 * n + 1);
    memset(buf, '[', n);
    memset(buf + n, ']', n);
    buf[2 * n] = 0;
    json_t *d = load_bad(buf, 2 * n);
    assert_non_null(strstr(msg(d), "nesting"));
    assert_int_equal(line(d), 1);
    assert_int_equal(col(d), (int)RB_DOC_MAX_DEPTH + 1);
    json_decref(d);
    free(buf);
}

static void test_bad_inputs_point_at_the_problem(void **state)
{
    json_t *d = load_bad("a: 1\nb:\n\t- x\n", 12);
    assert_non_null(strstr(msg(d), "tab"));
    assert_int_equal(line(d), 3);
    json_decref(d);

    d = load_bad("a: 1\n---\nb: 2\n", 14);
    assert_non_null(strstr(msg(d), "more than one YAML document"));
    assert_int_equal(line(d), 2);
    json_decref(d);

    d = load_bad("a: 1\na: 2\n", 10);
    assert_non_null(strstr(msg(d), "duplicate key \"a\""));
    assert_int_equal(line(d), 2);
    json_decref(d);

    d = load_bad("a: \"\xff\xfe\"\n", 8);
    assert_non_null(strstr(msg(d), "YAML"));
    json_decref(d);

    d = load_bad("a: b\0c\n", 7);
    assert_int_equal(line(d), 1);
    json_decref(d);

    d = load_bad("   \n# only a comment\n", 21);
    assert_non_null(strstr(msg(d), "empty"));
    json_decref(d);

    d = load_bad("? [a, b]\n: c\n", 13);
    assert_non_null(strstr(msg(d), "keys must be plain strings"));
    json_decref(d);
}

static void test_size_limit(void **state)
{
    size_t n = RB_DOC_MAX_BYTES + 10;
    char *buf = malloc(n);
    memset(buf, ' ', n);
    json_t *d = load_bad(buf, n);
    assert_non_null(strstr(msg(d), "at most 4 MiB"));
    json_decref(d);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_follow_yaml_1_2_core),
        cmocka_unit_test(test_marks_of_keys_values_items),
        cmocka_unit_test(test_offset_in_block_scalar),
        cmocka_unit_test(test_aliases_work_within_bounds),
        cmocka_unit_test(test_alias_bomb_is_refused),
        cmocka_unit_test(test_depth_is_bounded),
        cmocka_unit_test(test_bad_inputs_point_at_the_problem),
        cmocka_unit_test(test_size_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
