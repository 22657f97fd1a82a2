/*
 * test_secret.c — engine/run/secret.c: masking works on the string values
 * of a JSON tree and never on its keys, numbers, booleans or shape
 * (R-secret-mask); a secret shorter than RB_SECRET_MIN_LEN characters is
 * refused, naming the parameter or variable (R-secret-min-length).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "load/diag.h"
#include "load/runbook.h"
#include "run/secret.h"

#include <stdlib.h>
#include <string.h>

/* The compact, sorted text of v (for comparing whole trees). */
static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void assert_masks_to(rb_secrets_t *s, const char *in, const char *want)
{
    json_t *v = json_loads(in, JSON_ALLOW_NUL, NULL);
    assert_non_null(v);
    json_t *m = rb_secrets_mask(s, v);
    char *got = dump(m);
    assert_string_equal(got, want);
    free(got);
    json_decref(m);
    json_decref(v);
}

/* A secret that a message writer transformed (base/text.h) is masked in
 * every form: escaped for Slack or HTML, made one line, printed as JSON
 * text, and its beginning when a cut left it before "[…]". */
static void test_mask_transformed_forms(void **state)
{
    (void)state;
    rb_secrets_t *s = rb_secrets_new();
    json_t *js = json_loads("\"S3cr&t<Tok>en\\tA\\nB\\u2028C'\\\"\"", JSON_DECODE_ANY, NULL);
    assert_non_null(js);
    rb_secrets_add(s, json_string_value(js), json_string_length(js));
    json_decref(js);
    assert_masks_to(s, "[\"S3cr&amp;t&lt;Tok&gt;en A B C'\\\"\"]", "[\"***\"]");
    assert_masks_to(s, "[\"x S3cr&amp;t&lt;Tok&gt;en A B C&#39;&quot; y\"]", "[\"x *** y\"]");
    assert_masks_to(s, "[\"S3cr&t<Tok>en A B C'\\\"\"]", "[\"***\"]");
    assert_masks_to(s, "[\"[\\\"S3cr&t<Tok>en\\\\tA\\\\nB\u2028C'\\\\\\\"\\\"]\"]", "[\"[\\\"***\\\"]\"]");
    assert_masks_to(s, "[\"S3cr&t<Tok>en\\tA\\nB\u2028C'\\\"\"]", "[\"***\"]");
    assert_masks_to(s, "[\"token S3cr&amp;t&l[\u2026] end\"]", "[\"token ***[\u2026] end\"]");
    assert_masks_to(s, "[\"a S[\u2026]\"]", "[\"a ***[\u2026]\"]");
    assert_masks_to(s, "[\"a Q[\u2026]\"]", "[\"a Q[\u2026]\"]");
    rb_secrets_free(s);
}

/* A secret that is also a key, a part of a key, and the text of a number
 * or a boolean: only the string values change. */
static void test_mask_values_only(void **state)
{
    (void)state;
    rb_secrets_t *s = rb_secrets_new();
    rb_secrets_add(s, "token", 5);
    rb_secrets_add(s, "true", 4);
    rb_secrets_add(s, "1234", 4);
    assert_masks_to(s,
                    "{\"token\":\"my token\",\"tokens\":[\"token-token\",1234,true],"
                    "\"ok\":true,\"n\":12345,\"x\":null,\"s\":\"true 1234\"}",
                    "{\"n\":12345,\"ok\":true,\"s\":\"*** ***\",\"token\":\"my ***\","
                    "\"tokens\":[\"***-***\",1234,true],\"x\":null}");
    rb_secrets_free(s);
}

/* Nothing to mask: the very same value comes back; a change deep inside
 * copies only its way down, and the original is left as it was. */
static void test_mask_shares_what_did_not_change(void **state)
{
    (void)state;
    rb_secrets_t *s = rb_secrets_new();
    rb_secrets_add(s, "hunter22", 8);
    json_t *v = json_pack("{s:{s:s},s:[s,s]}", "a", "k", "plain", "b", "x", "pw=hunter22");
    json_t *m = rb_secrets_mask(s, v);
    assert_ptr_not_equal(m, v);
    assert_ptr_equal(json_object_get(m, "a"), json_object_get(v, "a"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "b"), 1)), "pw=***");
    assert_string_equal(json_string_value(json_array_get(json_object_get(v, "b"), 1)),
                        "pw=hunter22");
    json_decref(m);
    json_t *clean = json_pack("{s:[i,s]}", "a", 1, "nothing here");
    m = rb_secrets_mask(s, clean);
    assert_ptr_equal(m, clean);
    json_decref(m);
    json_decref(clean);
    json_decref(v);
    rb_secrets_free(s);
}

/* Strings holding NUL bytes are masked by their length, not their C text. */
static void test_mask_string_with_nul(void **state)
{
    (void)state;
    rb_secrets_t *s = rb_secrets_new();
    rb_secrets_add(s, "hunter22", 8);
    json_t *v = json_stringn("a\0hunter22", 10);
    json_t *m = rb_secrets_mask(s, v);
    assert_int_equal(json_string_length(m), 5);
    assert_memory_equal(json_string_value(m), "a\0***", 5);
    json_decref(m);
    json_decref(v);
    rb_secrets_free(s);
}

/* The password of a URL's userinfo is masked in every string, with or
 * without secrets; a URL without one, and what is not a URL, stay. */
static void test_mask_url_password(void **state)
{
    (void)state;
    assert_masks_to(NULL,
                    "{\"url\":\"https://user:pa55word@host:8443/p?q=1\","
                    "\"cmd\":\"curl ftp://a:b@c@h/x 'http://u:p%40ss@h'\","
                    "\"plain\":[\"http://user@host/\",\"a:b@c\",\"mailto:x@y\","
                    "\"http://u:***@h\",\"://u:p@h\",\"http://h/a:b@c\"]}",
                    "{\"cmd\":\"curl ftp://a:***@h/x 'http://u:***@h'\","
                    "\"plain\":[\"http://user@host/\",\"a:b@c\",\"mailto:x@y\","
                    "\"http://u:***@h\",\"://u:p@h\",\"http://h/a:b@c\"],"
                    "\"url\":\"https://user:***@host:8443/p?q=1\"}");
    rb_secrets_t *s = rb_secrets_new();
    rb_secrets_add(s, "hunter22", 8);
    assert_masks_to(s, "[\"http://hunter22:pw-hunter22x@h\"]", "[\"http://***:***@h\"]");
    char *m = rb_secrets_mask_str(s, "GET https://ops:Zz9-long@lb/ failed");
    assert_string_equal(m, "GET https://ops:***@lb/ failed");
    free(m);
    rb_secrets_free(s);
}

static rb_runbook_t *secret_runbook(void)
{
    static const char text[] = "apiVersion: runbook/v1\n"
                               "name: sec\n"
                               "params:\n"
                               "  token: { secret: true }\n"
                               "  user: {}\n"
                               "steps:\n"
                               "  - { name: s, run: [echo, \"{{ params.token }}\"] }\n";
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    assert_int_equal(rb_runbook_load_text("sec.yaml", text, sizeof(text) - 1, NULL, d, &rb), 0);
    rb_diags_free(d);
    return rb;
}

/* Short secret values are refused, naming the parameter; the limit is in
 * characters (é is one), empty is allowed, other parameters are free. */
static void test_collect_refuses_short(void **state)
{
    (void)state;
    rb_runbook_t *rb = secret_runbook();
    static const char *const refused[] = {"e", "ok", "l", "abc", "\xc3\xa9\xc3\xa9\xc3\xa9"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
        rb_secrets_t *s = rb_secrets_new();
        json_t *params = json_pack("{s:s,s:s}", "token", refused[i], "user", "x");
        char err[300] = "";
        assert_int_equal(rb_secrets_collect(s, rb, params, NULL, NULL, err, sizeof(err)),
                         RB_EINVAL);
        assert_non_null(strstr(err, "parameter \"token\""));
        assert_false(rb_secrets_any(s));
        json_decref(params);
        rb_secrets_free(s);
    }
    static const char *const taken[] = {"", "null", "abcd", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"};
    for (size_t i = 0; i < sizeof(taken) / sizeof(*taken); i++) {
        rb_secrets_t *s = rb_secrets_new();
        json_t *params = json_pack("{s:s,s:s}", "token", taken[i], "user", "x");
        char err[300] = "";
        assert_int_equal(rb_secrets_collect(s, rb, params, NULL, NULL, err, sizeof(err)), 0);
        assert_int_equal(rb_secrets_any(s), taken[i][0] != 0);
        json_decref(params);
        rb_secrets_free(s);
    }
    rb_runbook_free(rb);
}

/* A secret environment variable: the same rule, naming the variable; an
 * env variable not marked secret is not collected at all. */
static void test_collect_env(void **state)
{
    (void)state;
    rb_runbook_t *rb = secret_runbook();
    json_t *params = json_object();
    json_t *env = json_pack("{s:s,s:s}", "API_TOKEN", "xy", "PLAIN", "z");
    json_t *secret_env = json_pack("{s:b}", "API_TOKEN", 1);
    rb_secrets_t *s = rb_secrets_new();
    char err[300] = "";
    assert_int_equal(rb_secrets_collect(s, rb, params, env, secret_env, err, sizeof(err)),
                     RB_EINVAL);
    assert_non_null(strstr(err, "API_TOKEN"));
    rb_secrets_free(s);

    json_object_set_new(env, "API_TOKEN", json_string("tok_9f3b"));
    s = rb_secrets_new();
    assert_int_equal(rb_secrets_collect(s, rb, params, env, secret_env, err, sizeof(err)), 0);
    char *m = rb_secrets_mask_str(s, "tok_9f3b and z");
    assert_string_equal(m, "*** and z");
    free(m);
    rb_secrets_free(s);
    json_decref(secret_env);
    json_decref(env);
    json_decref(params);
    rb_runbook_free(rb);
}

/* A secret parameter that is not a string (a YAML default of 123456) is
 * masked whole where the parameters are written down; other parameters,
 * and numbers elsewhere, are left as they are. */
static void test_mask_params(void **state)
{
    (void)state;
    static const char text[] = "apiVersion: runbook/v1\n"
                               "name: sec\n"
                               "params:\n"
                               "  pin: { secret: true, default: 123456 }\n"
                               "  token: { secret: true }\n"
                               "  count: { default: 123456 }\n"
                               "steps:\n"
                               "  - { name: s, run: [echo, \"{{ params.pin }}\"] }\n";
    rb_diags_t *d = rb_diags_new();
    rb_runbook_t *rb = NULL;
    assert_int_equal(rb_runbook_load_text("sec.yaml", text, sizeof(text) - 1, NULL, d, &rb), 0);
    rb_diags_free(d);
    json_t *params =
        json_pack("{s:i,s:s,s:i}", "pin", 123456, "token", "tok-1234", "count", 123456);
    rb_secrets_t *s = rb_secrets_new();
    char err[300] = "";
    assert_int_equal(rb_secrets_collect(s, rb, params, NULL, NULL, err, sizeof(err)), 0);
    json_t *m = rb_secrets_mask_params(s, rb, params);
    char *got = dump(m);
    assert_string_equal(got, "{\"count\":123456,\"pin\":\"***\",\"token\":\"***\"}");
    free(got);
    assert_int_equal(json_integer_value(json_object_get(params, "pin")), 123456); /* untouched */
    json_decref(m);
    char *str = rb_secrets_mask_str(s, "pin=123456");
    assert_string_equal(str, "pin=***");
    free(str);
    rb_secrets_free(s);
    json_decref(params);
    rb_runbook_free(rb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_values_only),
        cmocka_unit_test(test_mask_transformed_forms),
        cmocka_unit_test(test_mask_shares_what_did_not_change),
        cmocka_unit_test(test_mask_string_with_nul),
        cmocka_unit_test(test_mask_url_password),
        cmocka_unit_test(test_collect_refuses_short),
        cmocka_unit_test(test_collect_env),
        cmocka_unit_test(test_mask_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
