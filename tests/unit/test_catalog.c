/*
 * test_catalog.c — finding runbooks: the walk does not follow links to
 * directories and stays within its bounds, a lookup by name reports an
 * invalid file of that name and two files of one name, and parameter
 * values are parsed by their declared type (load/param.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "load/catalog.h"
#include "load/param.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void put(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/rb-test-catalog-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int count(const char *path, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

static void test_walk_does_not_follow_directory_links(void **state)
{
    char p[256];
    put("one.yaml", "x: 1\n");
    snprintf(p, sizeof(p), "%s/sub", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/sub/up", dir);
    assert_int_equal(symlink("..", p), 0); /* a loop */
    snprintf(p, sizeof(p), "%s/sub/link.yaml", dir);
    assert_int_equal(symlink("../one.yaml", p), 0); /* the same file again: not visited twice */
    snprintf(p, sizeof(p), "%s/.hidden", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    put(".hidden/two.yaml", "x: 2\n");
    snprintf(p, sizeof(p), "%s/sub/two.yaml", dir);
    assert_int_equal(symlink("../.hidden/two.yaml", p), 0); /* a link to a file is followed */
    int n = 0;
    assert_int_equal(rb__runbook_walk(dir, count, &n), 0);
    assert_int_equal(n, 2);
}

static void test_walk_is_bounded_in_depth(void **state)
{
    char p[512];
    int len = snprintf(p, sizeof(p), "%s", dir);
    for (int i = 0; i <= RB_CATALOG_MAX_DEPTH + 1; i++) {
        len += snprintf(p + len, sizeof(p) - (size_t)len, "/d");
        assert_int_equal(mkdir(p, 0755), 0);
    }
    int n = 0;
    assert_int_equal(rb__runbook_walk(dir, count, &n), RB_ETOOBIG);
}

#define GOOD "apiVersion: runbook/v1\nname: %s\nsteps:\n  - { name: a, run: [x] }\n"

static void test_lookup_reports_invalid_and_duplicates(void **state)
{
    char text[256];
    snprintf(text, sizeof(text), GOOD, "fine");
    put("fine.yaml", text);
    put("broken.yaml",
        "apiVersion: runbook/v1\nname: broken\nsteps:\n  - { name: a, run: [x], retyr: 1 }\n");
    put("garbled.yaml", "name: [unclosed\n");
    snprintf(text, sizeof(text), GOOD, "twice");
    put("a.yaml", text);
    put("b.yml", text);

    rb_diags_t *d = rb_diags_new();
    char *path = NULL;
    assert_int_equal(rb__runbook_lookup(dir, "fine", d, &path), 0);
    assert_non_null(strstr(path, "/fine.yaml"));
    free(path);
    assert_int_equal(rb_diags_errors(d), 0);

    assert_int_equal(rb__runbook_lookup(dir, "nothing", d, &path), RB_ENOTFOUND);
    assert_null(path);

    assert_int_equal(rb__runbook_lookup(dir, "broken", d, &path), RB_EINVAL);
    assert_null(path);
    assert_int_equal(rb_diags_errors(d), 1);

    /* YAML that cannot be read has the name of its file */
    assert_int_equal(rb__runbook_lookup(dir, "garbled", d, &path), RB_EINVAL);
    assert_int_equal(rb_diags_errors(d), 2);

    assert_int_equal(rb__runbook_lookup(dir, "twice", d, &path), RB_EINVAL);
    json_t *all = rb_diags_json(d);
    const char *msg = json_string_value(json_object_get(json_array_get(all, 2), "message"));
    assert_non_null(strstr(msg, "is also used by"));
    json_decref(all);
    assert_null(rb__runbook_find(dir, "twice"));
    rb_diags_free(d);
}

/* v parsed as type t, compared as compact JSON with want (NULL: refused). */
static void parses(rb_ptype_t t, json_t *v, const char *want)
{
    char err[200] = "";
    json_t *got = rb__param_value(t, v, err, sizeof(err));
    if (!want) {
        assert_null(got);
        assert_non_null(strstr(err, rb__ptype_names[t]));
    } else {
        assert_non_null(got);
        char *txt = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);
        assert_string_equal(txt, want);
        free(txt);
    }
    json_decref(got);
    json_decref(v);
}

static void test_param_types(void **state)
{
    parses(RB_PTYPE_STRING, json_string(""), "\"\"");
    parses(RB_PTYPE_STRING, json_integer(5), "\"5\"");
    parses(RB_PTYPE_INT, json_string("42"), "42");
    parses(RB_PTYPE_INT, json_string("-3"), "-3");
    parses(RB_PTYPE_INT, json_string("4.2"), NULL);
    parses(RB_PTYPE_INT, json_string(""), NULL);
    parses(RB_PTYPE_INT, json_real(1.5), NULL);
    parses(RB_PTYPE_NUMBER, json_string("2.5"), "2.5");
    parses(RB_PTYPE_NUMBER, json_string("nan"), NULL);
    parses(RB_PTYPE_BOOL, json_string("true"), "true");
    parses(RB_PTYPE_BOOL, json_string("yes"), NULL);
    parses(RB_PTYPE_LIST, json_string("a, b ,c"), "[\"a\",\"b\",\"c\"]");
    parses(RB_PTYPE_LIST, json_string(" [1, \"x\"]"), "[1,\"x\"]");
    parses(RB_PTYPE_LIST, json_string(""), "[]");
    parses(RB_PTYPE_LIST, json_string("[1,"), NULL);
    parses(RB_PTYPE_DURATION, json_string("1h30m"), "\"1h30m\"");
    parses(RB_PTYPE_DURATION, json_string("5x"), NULL);
    parses(RB_PTYPE_DURATION, json_integer(30), "30");
    assert_int_equal(rb__ptype_find("list"), RB_PTYPE_LIST);
    assert_int_equal(rb__ptype_find("integer"), -1);
    json_t *empty = json_array(), *one = json_string("x");
    assert_true(rb__param_empty(NULL) && rb__param_empty(json_null()) && rb__param_empty(empty));
    assert_false(rb__param_empty(one));
    json_decref(empty);
    json_decref(one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_walk_does_not_follow_directory_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk_is_bounded_in_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_reports_invalid_and_duplicates, setup,
                                        teardown),
        cmocka_unit_test(test_param_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
