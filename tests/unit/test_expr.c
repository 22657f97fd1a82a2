/*
 * test_expr.c — unit tests of the expression language and templates
 * (engine/expr/expr_lex.c, expr_parse.c, expr_eval.c, expr_func.c, template.c).
 *
 * Each test pins down a behaviour an operator relies on: precedence, types,
 * comparisons across types, missing paths, every function, escapes,
 * compile-error offsets, references for the validator, templates keeping a
 * single value's type, and — run through a real /bin/sh — that no hostile
 * value can become a command.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "expr/expr.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static json_t *ctx;

static const char *CTX_JSON =
    "{"
    " \"alert\": {\"labels\": {\"instance\": \"node1:20332\", \"team-name\": \"chain\","
    "                        \"severity\": \"critical\"}, \"status\": \"firing\"},"
    " \"params\": {\"unit\": \"neo-node\", \"validators\": [\"v1\", \"v2\", \"v3\"], \"n\": 3,"
    "             \"ratio\": 0.5, \"empty\": \"\", \"list\": [], \"obj\": {}, \"pat\": \"b+\","
    "             \"badpat\": \"(\", \"key\": \"severity\", \"zero\": 0, \"big\": 9223372036854775807},"
    " \"checks\": {\"rpc\": {\"ok\": false, \"status\": 503, \"json\": {\"result\": {\"height\": 12345}}}},"
    " \"steps\": {\"restart\": {\"ok\": true, \"exit_code\": 0, \"stdout\": \"42\\n\", \"attempt\": 2},"
    "            \"restore-backup\": {\"ok\": false}},"
    " \"item\": \"v2\","
    " \"run\": {\"severity\": \"P1\", \"status\": \"running\", \"dry_run\": false}"
    "}";

static int setup(void **state)
{
    json_error_t je;
    ctx = json_loads(CTX_JSON, 0, &je);
    if (!ctx) {
        fprintf(stderr, "bad test context: %s at %d\n", je.text, je.position);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    json_decref(ctx);
    return 0;
}

/* ---------------------------------------------------------------- helpers */

static void fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_at(const char *file, int line, const char *fmt, ...)
{
    char b[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof(b), fmt, ap);
    va_end(ap);
    print_error("%s:%d: %s\n", file, line, b);
    fail();
}


static json_t *eval_in(const char *src, const json_t *c)
{
    rb_expr_error_t err;
    rb_expr_t *e = rb_expr_compile(src, strlen(src), &err);
    if (!e)
        fail_msg("compile '%s': %s at %zu", src, err.msg, err.offset);
    char msg[256];
    json_t *v = rb_expr_eval(e, c, msg, sizeof(msg));
    if (!v)
        fail_msg("eval '%s': %s", src, msg);
    rb_expr_free(e);
    return v;
}

static json_t *eval(const char *src) { return eval_in(src, ctx); }

/* Asserts src evaluates to exactly the JSON `want` (1 and 1.0 differ). */
#define assert_eval(src, want) assert_eval_at(src, want, __FILE__, __LINE__)
static void assert_eval_at(const char *src, const char *want, const char *file, int line)
{
    json_t *v = eval(src);
    json_error_t je;
    json_t *w = json_loads(want, JSON_DECODE_ANY, &je);
    if (!w)
        fail_msg("%s:%d: bad expected JSON %s", file, line, want);
    // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): fail_msg above does not return
    if (!json_equal(v, w) || json_typeof(v) != json_typeof(w)) {
        char *got = json_dumps(v, JSON_ENCODE_ANY);
        fail_at(file, line, "'%s' gave %s, want %s", src, got, want);
    }
    json_decref(v);
    json_decref(w);
}

#define assert_runtime_error(src, part) assert_runtime_error_at(src, part, __FILE__, __LINE__)
static void assert_runtime_error_at(const char *src, const char *part, const char *file, int line)
{
    rb_expr_error_t err;
    rb_expr_t *e = rb_expr_compile(src, strlen(src), &err);
    if (!e)
        fail_at(file, line, "compile '%s' failed: %s", src, err.msg);
    char msg[256];
    json_t *v = rb_expr_eval(e, ctx, msg, sizeof(msg));
    rb_expr_free(e);
    if (v) {
        char *got = json_dumps(v, JSON_ENCODE_ANY);
        fail_at(file, line, "'%s' gave %s, want an error containing \"%s\"", src, got, part);
    }
    if (!strstr(msg, part))
        fail_at(file, line, "'%s': error \"%s\" lacks \"%s\"", src, msg, part);
}

#define assert_compile_error(src, off, part) assert_compile_error_at(src, off, part, __FILE__, __LINE__)
static void assert_compile_error_at(const char *src, size_t off, const char *part, const char *file, int line)
{
    rb_expr_error_t err;
    rb_expr_t *e = rb_expr_compile(src, strlen(src), &err);
    if (e) {
        rb_expr_free(e);
        fail_at(file, line, "'%s' compiled, want error \"%s\"", src, part);
    }
    if (!strstr(err.msg, part))
        fail_at(file, line, "'%s': error \"%s\" lacks \"%s\"", src, err.msg, part);
    if (err.offset != off)
        fail_at(file, line, "'%s': error \"%s\" at offset %zu, want %zu", src, err.msg, err.offset, off);
}

/* ---------------------------------------------------------------- operators */

static void test_precedence(void **state)
{
    assert_eval("1 + 2 * 3", "7");
    assert_eval("(1 + 2) * 3", "9");
    assert_eval("10 - 4 - 3", "3");         /* left-associative */
    assert_eval("2 * 3 % 4", "2");          /* (2*3)%4, not 2*(3%4)=6 */
    assert_eval("100 / 10 / 5", "2");
    assert_eval("true || false && false", "true"); /* && binds tighter */
    assert_eval("(true || false) && false", "false");
    assert_eval("!false && false", "false");      /* ! binds tighter than && */
    assert_eval("1 < 2 == true", "true");         /* < binds tighter than == */
    assert_eval("1 + 2 < 4", "true");             /* + binds tighter than < */
    assert_eval("'v2' in params.validators == true", "true");
    assert_eval("-2 * 3", "-6");
    assert_eval("- 2 + 3", "1");
    assert_eval("-params.n + 1", "-2");           /* postfix binds tighter than unary - */
    assert_eval("!params.empty", "true");
    assert_eval("!!params.unit", "true");
    assert_eval("2 - -2", "4");
    assert_eval("params.n * params.n - 1", "8");
    assert_eval("!steps.restart.ok || checks.rpc.status == 503 && !checks.rpc.ok", "true");
}

static void test_arithmetic_types(void **state)
{
    assert_eval("7 / 2", "3.5");     /* not integer division */
    assert_eval("6 / 3", "2");       /* exact: stays an integer */
    assert_eval("7 % 3", "1");
    assert_eval("-7 % 3", "-1");
    assert_eval("7.5 % 2", "1.5");
    assert_eval("1 + 1.5", "2.5");
    assert_eval("params.ratio * 4", "2.0");
    assert_eval("0.1 + 0.2 > 0.3", "true");
    assert_eval("1e3", "1000.0");
    assert_eval("2.5e-1", "0.25");
    assert_eval("'a' + \"b\"", "\"ab\"");
    assert_eval("'n=' + params.n", "\"n=3\"");
    assert_eval("params.n + 'x'", "\"3x\"");
    assert_eval("'r=' + params.ratio", "\"r=0.5\"");
    assert_eval("[1] + [2, 3]", "[1, 2, 3]");
    assert_eval("params.big - 1", "9223372036854775806");
    assert_runtime_error("params.n + true", "cannot apply '+' to number and boolean");
    assert_runtime_error("params.unit - 'b'", "cannot apply '-' to string and string");
    assert_runtime_error("'host-' + params.missing", "cannot apply '+' to string and null");
    assert_runtime_error("params.big + 1", "integer overflow");
    assert_runtime_error("-params.big - 2", "integer overflow");
    assert_runtime_error("params.n / 0", "division by zero");
    assert_runtime_error("params.n / params.zero", "division by zero");
    assert_runtime_error("params.n % 0", "division by zero");
    assert_runtime_error("params.ratio / 0.0", "division by zero");
    assert_runtime_error("params.ratio * 1e308 * 1e308", "out of range");
    assert_runtime_error("-params.unit", "cannot apply unary '-' to string");
    /* constant operands are computed at compile time, so errors show at load */
    assert_compile_error("1 / 0", 2, "division by zero");
    assert_compile_error("-'x'", 0, "unary '-'");
    assert_compile_error("1 + 99999999999999999999", 4, "integer literal out of range");
}

static void test_logic_short_circuit(void **state)
{
    assert_eval("params.unit && params.n", "true"); /* booleans, not the operand */
    assert_eval("null || ''", "false");
    assert_eval("params.n || 0", "true");
    assert_eval("false && params.n / 0", "false"); /* right side never evaluated */
    assert_eval("true || params.n / 0", "true");
    assert_runtime_error("true && params.n / 0", "division by zero");
}

static void test_comparisons_across_types(void **state)
{
    assert_eval("1 == 1.0", "true");
    assert_eval("1 == '1'", "false");
    assert_eval("'1' != 1", "true");
    assert_eval("null == null", "true");
    assert_eval("params.missing == null", "true");
    assert_eval("true == 1", "false");
    assert_eval("false == null", "false");
    assert_eval("'' == null", "false");
    assert_eval("[1, 2] == [1, 2.0]", "true");
    assert_eval("[1, 2] == [2, 1]", "false");
    assert_eval("params.validators == ['v1', 'v2', 'v3']", "true");
    assert_eval("alert.labels == alert.labels", "true");
    assert_eval("params.obj == params.list", "false");
    assert_eval("'abc' < 'abd'", "true");
    assert_eval("'ab' < 'abc'", "true");
    assert_eval("'B' < 'a'", "true"); /* bytewise */
    assert_eval("'b' >= 'b'", "true");
    assert_eval("3 >= 3", "true");
    assert_eval("2.5 > 2", "true");
    assert_eval("2 <= 1.5", "false");
    /* ordering across types is false every way, never an error */
    assert_eval("1 < '2'", "false");
    assert_eval("1 >= '2'", "false");
    assert_eval("null < 1", "false");
    assert_eval("null >= 1", "false");
    assert_eval("params.missing > 3", "false");
    assert_eval("[1] < [2]", "false");
}

static void test_in_operator(void **state)
{
    assert_eval("'v2' in params.validators", "true");
    assert_eval("'v9' in params.validators", "false");
    assert_eval("2 in [1, 2.0]", "true");
    assert_eval("'ell' in 'hello'", "true");
    assert_eval("'xyz' in 'hello'", "false");
    assert_eval("'' in 'hello'", "true");
    assert_eval("'team-name' in alert.labels", "true");
    assert_eval("'nope' in alert.labels", "false");
    assert_eval("'x' in params.missing", "false");
    assert_runtime_error("1 in params.n", "cannot look for a number in a number");
    assert_runtime_error("params.n in params.unit", "in: cannot look for a number in a string");
}

/* ---------------------------------------------------------------- paths */

static void test_paths(void **state)
{
    assert_eval("checks.rpc.json.result.height", "12345");
    assert_eval("alert.labels[\"team-name\"]", "\"chain\"");
    assert_eval("alert.labels['team-name']", "\"chain\"");
    assert_eval("params.validators[0]", "\"v1\"");
    assert_eval("params.validators[-1]", "\"v3\"");
    assert_eval("params.validators[-3]", "\"v1\"");
    assert_eval("params.validators[params.n - 1]", "\"v3\"");
    assert_eval("params['validators'][1]", "\"v2\"");
    assert_eval("alert.labels[params.key]", "\"critical\"");
    assert_eval("steps.restore-backup.ok", "false"); /* '-' inside a member name */
    assert_eval("steps['restore-backup'].ok", "false");
    assert_eval("steps.restart.attempt - 1", "1");   /* spaced '-' is minus */
    assert_eval("split('a,b,c', ',')[1]", "\"b\"");
    assert_eval("[10, 20, 30][-1]", "30");
    assert_eval("(params.validators)[2]", "\"v3\"");
    assert_eval("params . unit", "\"neo-node\"");
    assert_eval("run.dry_run", "false");
}

static void test_missing_paths_are_null(void **state)
{
    assert_eval("nothing", "null");
    assert_eval("nothing.here.at.all", "null");
    assert_eval("params.unit.x", "null");        /* member of a string */
    assert_eval("params.unit[0]", "null");       /* index of a string */
    assert_eval("params.validators.x", "null");  /* member of a list */
    assert_eval("params.validators[3]", "null");
    assert_eval("params.validators[-4]", "null");
    assert_eval("params.validators[9223372036854775807]", "null");
    assert_eval("params.validators['0']", "null"); /* key of a list */
    assert_eval("alert.labels[0]", "null");         /* index of an object */
    assert_eval("alert.labels[item]", "null");
    assert_eval("alert.labels[null]", "null");
    assert_eval("alert.labels[[1]]", "null");
    assert_eval("null.x", "null");
    assert_eval("params.validators[1.5]", "null");
    assert_eval("params.validators[1.0]", "\"v2\"");
    assert_eval("len(nothing.x.y)", "0");
    assert_eval("checks.nope.ok || false", "false");
    /* no context at all, or a context that is not an object */
    json_t *v = eval_in("steps.restart.ok", NULL);
    assert_true(json_is_null(v));
    json_decref(v);
    json_t *arr = json_pack("[i]", 1);
    v = eval_in("steps.restart.ok", arr);
    assert_true(json_is_null(v));
    json_decref(v);
    json_decref(arr);
}

/* A path returns the context's own value (borrowed and increfed), not a copy. */
static void test_paths_borrow_context(void **state)
{
    json_t *want = json_object_get(json_object_get(ctx, "params"), "validators");
    size_t before = want->refcount;
    json_t *v = eval("params.validators");
    assert_ptr_equal(v, want);
    assert_int_equal(want->refcount, before + 1);
    json_decref(v);
    assert_int_equal(want->refcount, before);
    /* a path into a value the evaluation made itself keeps that value alive */
    v = eval("split('x,y', ',')[0]");
    assert_string_equal(json_string_value(v), "x");
    json_decref(v);
}

/* ---------------------------------------------------------------- literals */

static void test_string_escapes(void **state)
{
    assert_eval("'it\\'s'", "\"it's\"");
    assert_eval("\"say \\\"hi\\\"\"", "\"say \\\"hi\\\"\"");
    assert_eval("'a\\nb\\tc\\\\d\\re\\/'", "\"a\\nb\\tc\\\\d\\re/\"");
    assert_eval("'\\u00e9'", "\"\\u00e9\"");
    assert_eval("'\\ud83d\\ude00'", "\"\\ud83d\\ude00\"");
    assert_eval("\"it's\"", "\"it's\"");  /* the other quote needs no escape */
    assert_eval("'é'", "\"\\u00e9\"");    /* raw UTF-8 passes through */
    json_t *v = eval("'a\\u0000b'");
    assert_int_equal(json_string_length(v), 3);
    assert_memory_equal(json_string_value(v), "a\0b", 3);
    json_decref(v);
    assert_compile_error("'a\\qb'", 2, "unknown escape '\\q'");
    assert_compile_error("'\\u12'", 1, "invalid \\u escape");
    assert_compile_error("'x\\ud800'", 2, "lone surrogate");
    assert_compile_error("'\\udc00'", 1, "lone surrogate");
    assert_compile_error("\"abc", 0, "unterminated string");
    assert_compile_error("'x' + \"y", 6, "unterminated string");
    assert_compile_error("'abc\\", 0, "unterminated string");
    assert_compile_error("'\xff'", 0, "not valid UTF-8");
}

static void test_literals(void **state)
{
    assert_eval("[]", "[]");
    assert_eval("[1, 'a', null, true, [2]]", "[1, \"a\", null, true, [2]]");
    assert_eval("[params.n, item,]", "[3, \"v2\"]"); /* trailing comma allowed */
    assert_eval("42", "42");
    assert_eval("-9223372036854775807", "-9223372036854775807");
    assert_eval("3.25", "3.25");
    assert_eval("null", "null");
    assert_eval("false", "false");
}

/* ---------------------------------------------------------------- functions */

static void test_fn_len(void **state)
{
    assert_eval("len('héllo')", "5"); /* characters, not bytes */
    assert_eval("len(params.validators)", "3");
    assert_eval("len(alert.labels)", "3");
    assert_eval("len(params.obj)", "0");
    assert_eval("len(params.missing)", "0");
    assert_eval("len('')", "0");
    assert_runtime_error("len(params.n)", "len: expected a string, list or object, got number");
    assert_compile_error("len(true)", 0, "len: expected");
}

static void test_fn_contains_starts_ends(void **state)
{
    assert_eval("contains('hello', 'ell')", "true");
    assert_eval("contains(params.validators, 'v2')", "true");
    assert_eval("contains(params.validators, 'v')", "false"); /* elements, not substrings */
    assert_eval("contains(alert.labels, 'instance')", "true");
    assert_eval("contains(params.missing, 'x')", "false");
    assert_runtime_error("contains(params.n, 3)", "contains: cannot look for a number in a number");
    assert_eval("startsWith(alert.labels.instance, 'node1')", "true");
    assert_eval("startsWith(alert.labels.instance, 'node2')", "false");
    assert_eval("startsWith('ab', 'abc')", "false");
    assert_eval("startsWith(params.missing, 'x')", "false");
    assert_eval("endsWith(alert.labels.instance, ':20332')", "true");
    assert_eval("endsWith(alert.labels.instance, 'node1')", "false");
    assert_eval("endsWith('b', 'ab')", "false");
    assert_eval("endsWith(params.missing, 'x')", "false");
    assert_runtime_error("startsWith(params.n, 'x')", "startsWith: expected two strings");
    assert_runtime_error("endsWith(params.unit, params.n)", "endsWith: expected two strings");
}

static void test_fn_matches(void **state)
{
    assert_eval("matches(alert.labels.instance, '^node[0-9]+:[0-9]+$')", "true");
    assert_eval("matches(alert.labels.instance, '^node[a-z]')", "false");
    assert_eval("matches('xxbbbyy', 'b+')", "true");      /* unanchored search */
    assert_eval("matches('abc', params.pat)", "true");    /* pattern known only at run time */
    assert_eval("matches('ac', params.pat)", "false");
    assert_eval("matches(params.missing, 'x')", "false");
    assert_eval("matches('a|b', 'a\\\\|b')", "true");     /* escaped | is literal */
    assert_runtime_error("matches('x', params.badpat)", "matches: invalid regular expression");
    assert_runtime_error("matches(params.n, 'x')", "matches: expected a string, got number");
    assert_runtime_error("matches('x', params.n)", "matches: the pattern must be a string");
    /* literal patterns compile with the expression: a bad one is a load error at the pattern */
    assert_compile_error("matches(item, '(')", 14, "invalid regular expression");
    assert_compile_error("matches(item, 5)", 14, "the pattern must be a string");
    assert_compile_error("matches(item, '(a)\\\\1')", 14, "back-references are not supported");
    assert_compile_error("matches(item, '((a{255}){255}){255}')", 14, "too large");
    assert_compile_error("matches(item, '((((((((((a+)+)+)+)+)+)+)+)+)+)+')", 14, "too large");
    assert_compile_error("matches(item, 'a+*')", 14, "stacks repetitions");
    assert_compile_error("matches(item, 'a{2}?')", 14, "stacks repetitions");
    assert_eval("matches('10.0.0.1', '^([0-9]{1,3}\\\\.){3}[0-9]{1,3}$')", "true");
    assert_eval("matches('aaa', '^a{1,3}$')", "true");
}

static void test_fn_conversions(void **state)
{
    assert_eval("int(steps.restart.stdout)", "42"); /* command output with "\n" */
    assert_eval("int(3.9)", "3");
    assert_eval("int(-3.9)", "-3");
    assert_eval("int(' 3.7 ')", "3");
    assert_eval("int('-12')", "-12");
    assert_eval("int('1e3')", "1000");
    assert_eval("int(true)", "1");
    assert_eval("int(params.n)", "3");
    assert_eval("float('2.5')", "2.5");
    assert_eval("float(2)", "2.0");
    assert_eval("float(params.n) / 2", "1.5");
    assert_compile_error("int('abc')", 0, "int: cannot convert \"abc\" to a number");
    assert_compile_error("int('nan')", 0, "cannot convert");
    assert_compile_error("float('0x10')", 0, "cannot convert");
    assert_compile_error("int('12\\u0000')", 0, "cannot convert"); /* not 12 */
    assert_compile_error("int(1e300)", 0, "out of range");
    assert_runtime_error("int(params.unit)", "int: cannot convert \"neo-node\"");
    assert_runtime_error("int(params.missing)", "int: cannot convert null to a number");
    assert_runtime_error("float(params.validators)", "float: cannot convert list");
    /* a script's "cannot assess" reason is shown whole, without its newline */
    json_object_set_new(json_object_get(ctx, "params"), "reason",
                        json_string("cannot assess: rollback of a RocksDB chain needs the node's own tool\n"));
    assert_runtime_error("int(params.reason)",
                         "int: cannot convert \"cannot assess: rollback of a RocksDB chain needs the "
                         "node's own tool\" to a number");
    /* a long one is cut at 400 bytes, on a character boundary (é is 2 bytes) */
    char big[1024] = "";
    for (int i = 0; i < 300; i++)
        strcat(big, "é");
    json_object_set_new(json_object_get(ctx, "params"), "reason", json_string(big));
    {
        rb_expr_error_t ce;
        rb_expr_t *e = rb_expr_compile("int(params.reason)", 18, &ce);
        char msg[1024];
        assert_null(rb_expr_eval(e, ctx, msg, sizeof(msg)));
        rb_expr_free(e);
        json_t *ok = json_string(msg); /* valid UTF-8 */
        assert_non_null(ok);
        json_decref(ok);
        assert_non_null(strstr(msg, "éé…\" to a number"));
        assert_true(strlen(msg) < 400 + 60);
        /* and a small buffer cuts it on a character boundary too */
        e = rb_expr_compile("int(params.reason)", 18, &ce);
        assert_null(rb_expr_eval(e, ctx, msg, 100));
        rb_expr_free(e);
        ok = json_string(msg);
        assert_non_null(ok);
        json_decref(ok);
    }
    json_object_del(json_object_get(ctx, "params"), "reason");
    assert_eval("string(42)", "\"42\"");
    assert_eval("string(-7)", "\"-7\"");
    assert_eval("string(0.5)", "\"0.5\"");
    assert_eval("string(0.1)", "\"0.1\"");
    assert_eval("string(2.0)", "\"2.0\"");
    assert_eval("string(true)", "\"true\"");
    assert_eval("string(params.missing)", "\"\"");
    assert_eval("string(params.unit)", "\"neo-node\"");
    assert_eval("string([1, 'a'])", "\"[1,\\\"a\\\"]\"");
    assert_eval("string(checks.rpc.json)", "\"{\\\"result\\\":{\\\"height\\\":12345}}\"");
}

static void test_fn_default(void **state)
{
    assert_eval("default(params.missing, 'x')", "\"x\"");
    assert_eval("default(params.unit, 'x')", "\"neo-node\"");
    assert_eval("default(params.empty, 'x')", "\"\"");  /* only null falls back */
    assert_eval("default(run.dry_run, true)", "false");
    assert_eval("default(params.zero, 5)", "0");
    assert_eval("default(params.unit, params.n / 0)", "\"neo-node\""); /* fallback is lazy */
    assert_runtime_error("default(params.missing, params.n / 0)", "division by zero");
    assert_eval("default(null, 1)", "1");
}

static void test_fn_strings(void **state)
{
    assert_eval("lower('AbC-9')", "\"abc-9\"");
    assert_eval("upper(alert.labels.severity)", "\"CRITICAL\"");
    assert_eval("upper('straße')", "\"STRAßE\""); /* ASCII letters only */
    assert_runtime_error("lower(params.missing)", "lower: expected a string, got null");
    assert_runtime_error("upper(params.n)", "upper: expected a string, got number");
    assert_eval("join(params.validators, ',')", "\"v1,v2,v3\"");
    assert_eval("join([1, true, null, 'x', 0.5], '-')", "\"1-true--x-0.5\"");
    assert_eval("join([], ',')", "\"\"");
    assert_eval("join(['a'], ', ')", "\"a\"");
    assert_runtime_error("join(params.unit, ',')", "join: expected a list and a string");
    assert_eval("split('a,b,,c', ',')", "[\"a\", \"b\", \"\", \"c\"]");
    assert_eval("split('a::b', '::')", "[\"a\", \"b\"]");
    assert_eval("split('', ',')", "[\"\"]");
    assert_eval("split('abc', ',')", "[\"abc\"]");
    assert_eval("len(split(steps.restart.stdout, '\\n'))", "2");
    assert_compile_error("split('abc', '')", 0, "split: the separator is empty");
    assert_runtime_error("split(params.n, ',')", "split: expected two strings");
    assert_eval("shell_quote(\"a'b\")", "\"'a'\\\\''b'\"");
    assert_eval("shell_quote(params.n)", "\"'3'\"");
    assert_eval("shell_quote('')", "\"''\"");
    assert_compile_error("shell_quote('a\\u0000b')", 0, "NUL byte");
}

static void test_fn_time(void **state)
{
    time_t before = time(NULL);
    json_t *v = eval("now()");
    assert_true(json_is_real(v));
    assert_true(json_real_value(v) >= (double)before - 1 && json_real_value(v) <= (double)time(NULL) + 1);
    json_decref(v);
    assert_eval("now() > 1600000000", "true");
    assert_eval("duration('5m')", "300");
    assert_eval("duration('1h30m')", "5400");
    assert_eval("duration('250ms')", "0.25");
    assert_eval("duration('45')", "45");
    assert_eval("duration(30)", "30");
    assert_eval("steps.restart.attempt * 10 < duration('1m')", "true");
    assert_compile_error("duration('5x')", 0, "duration: invalid duration \"5x\"");
    assert_runtime_error("duration(params.unit)", "duration: invalid duration \"neo-node\"");
    assert_runtime_error("duration(params.missing)", "duration: expected a string");
}

static void test_unknown_function_and_arity(void **state)
{
    assert_compile_error("lenn(x)", 0, "unknown function 'lenn' (did you mean 'len'?)");
    assert_compile_error("1 + startswith(a, 'b')", 4, "(did you mean 'startsWith'?)");
    assert_compile_error("a && frobnicate(1)", 5, "unknown function 'frobnicate'");
    rb_expr_error_t err;
    assert_null(rb_expr_compile("frobnicate(1)", 13, &err));
    assert_null(strstr(err.msg, "did you mean"));
    assert_compile_error("len(1, 2)", 0, "len() takes 1 argument but was given 2");
    assert_compile_error("x || join(a)", 5, "join() takes 2 arguments but was given 1");
    assert_compile_error("now(1)", 0, "now() takes 0 arguments but was given 1");
    assert_compile_error("default()", 0, "default() takes 2 arguments but was given 0");
    assert_compile_error("params.len(1)", 10, "only built-in functions can be called");
}

/* ---------------------------------------------------------------- syntax errors */

static void test_syntax_error_offsets(void **state)
{
    assert_compile_error("(1 + 2", 6, "expected ')' but found end of expression");
    assert_compile_error("len(x", 5, "expected ',' or ')' but found end of expression");
    assert_compile_error("1 + # 2", 4, "unexpected character '#'");
    assert_compile_error("a = b", 2, "unexpected character '=' (did you mean '=='?)");
    assert_compile_error("a & b", 2, "did you mean '&&'?");
    assert_compile_error("a | b", 2, "did you mean '||'?");
    assert_compile_error("1 +", 3, "expected a value but found end of expression");
    assert_compile_error("a b", 2, "expected an operator or end of expression but found 'b'");
    assert_compile_error("[1, 2", 5, "expected ',' or ']' but found end of expression");
    assert_compile_error("x.", 2, "expected a name after '.'");
    assert_compile_error("x.[1]", 2, "expected a name after '.' but found '['");
    assert_compile_error("x[1", 3, "expected ']' but found end of expression");
    assert_compile_error("(a))", 3, "but found ')'");
    assert_compile_error("a in", 4, "expected a value");
    assert_compile_error("", 0, "empty expression");
    assert_compile_error("   ", 3, "empty expression");
    assert_compile_error("a }} b", 2, "unexpected character '}'"); /* only templates end at }} */
    assert_compile_error("a\x01", 1, "unexpected byte 0x01");
    assert_compile_error("steps.restart.ok &&\n  (checks.rpc.ok ||", 39, "expected a value");
    /* not NUL-terminated: the length bounds the source */
    rb_expr_error_t err;
    rb_expr_t *e = rb_expr_compile("1 + 2 garbage", 5, &err);
    assert_non_null(e);
    json_t *v = rb_expr_eval(e, NULL, NULL, 0);
    assert_int_equal(json_integer_value(v), 3);
    json_decref(v);
    rb_expr_free(e);
    assert_null(rb_expr_compile("(", 1, NULL)); /* err may be NULL */
}

static char *repeat(const char *s, int n, const char *tail)
{
    size_t l = strlen(s), t = strlen(tail);
    char *b = malloc(l * (size_t)n + t + 1);
    for (int i = 0; i < n; i++)
        memcpy(b + l * (size_t)i, s, l);
    memcpy(b + l * (size_t)n, tail, t + 1);
    return b;
}

static void test_limits(void **state)
{
    rb_expr_error_t err;
    /* 60 levels of parentheses are fine; 65 are refused at the 65th */
    char *s = repeat("(", 60, "x");
    char *s2 = repeat(")", 60, "");
    char *ok = malloc(strlen(s) + strlen(s2) + 1);
    strcpy(ok, s);
    strcat(ok, s2);
    rb_expr_t *e = rb_expr_compile(ok, strlen(ok), &err);
    assert_non_null(e);
    rb_expr_free(e);
    free(s), free(s2), free(ok);
    s = repeat("(", 100, "x");
    assert_null(rb_expr_compile(s, strlen(s), &err));
    assert_non_null(strstr(err.msg, "nested too deeply"));
    assert_int_equal(err.offset, 64);
    free(s);
    s = repeat("!", 1000, "x");
    assert_null(rb_expr_compile(s, strlen(s), &err));
    assert_non_null(strstr(err.msg, "nested too deeply"));
    free(s);
    s = repeat("[", 100000, "");
    assert_null(rb_expr_compile(s, strlen(s), &err));
    assert_non_null(strstr(err.msg, "longer than"));
    assert_int_equal(err.offset, 65536);
    free(s);
    s = repeat("f(", 100, "");
    assert_null(rb_expr_compile(s, strlen(s), &err));
    free(s);
    /* a long chain has no nesting but a deep tree: bounded too */
    s = repeat("a+", 200, "a");
    assert_non_null(e = rb_expr_compile(s, strlen(s), &err));
    rb_expr_free(e);
    free(s);
    s = repeat("a+", 300, "a");
    assert_null(rb_expr_compile(s, strlen(s), &err));
    assert_non_null(strstr(err.msg, "too complex"));
    free(s);
    /* constant chains fold as they parse, so they never grow a tree */
    s = repeat("1+", 5000, "1");
    json_t *v = eval(s);
    assert_int_equal(json_integer_value(v), 5001);
    json_decref(v);
    free(s);
}

/* ---------------------------------------------------------------- truthiness */

static void test_truthiness(void **state)
{
    struct {
        const char *src;
        int want;
    } cases[] = {
        {"null", 0}, {"false", 0}, {"0", 0}, {"0.0", 0}, {"''", 0}, {"[]", 0}, {"params.obj", 0},
        {"params.list", 0}, {"params.missing", 0}, {"true", 1}, {"1", 1}, {"-1", 1}, {"0.5", 1},
        {"'0'", 1}, {"'false'", 1}, {"[0]", 1}, {"alert.labels", 1}, {"params.validators", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rb_expr_error_t err;
        rb_expr_t *e = rb_expr_compile(cases[i].src, strlen(cases[i].src), &err);
        assert_non_null(e);
        char msg[128];
        if (rb_expr_test(e, ctx, msg, sizeof(msg)) != cases[i].want)
            fail_msg("truthiness of %s: want %d", cases[i].src, cases[i].want);
        rb_expr_free(e);
    }
    rb_expr_error_t err;
    rb_expr_t *e = rb_expr_compile("params.n / 0", 12, &err);
    char msg[128];
    assert_int_equal(rb_expr_test(e, ctx, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "division by zero"));
    rb_expr_free(e);
}

/* ---------------------------------------------------------------- references */

typedef struct ref {
    char root[32], first[32];
    int has_first;
    size_t off;
} ref;

typedef struct refs {
    ref r[16];
    int n;
} refs;

static void collect(const char *root, const char *first, size_t off, void *arg)
{
    refs *rs = arg;
    assert_true(rs->n < 16);
    ref *r = &rs->r[rs->n++];
    snprintf(r->root, sizeof(r->root), "%s", root);
    r->has_first = first != NULL;
    snprintf(r->first, sizeof(r->first), "%s", first ? first : "");
    r->off = off;
}

static void assert_ref(const refs *rs, int i, const char *root, const char *first, size_t off)
{
    assert_true(i < rs->n);
    assert_string_equal(rs->r[i].root, root);
    if (first) {
        assert_true(rs->r[i].has_first);
        assert_string_equal(rs->r[i].first, first);
    } else {
        assert_false(rs->r[i].has_first);
    }
    assert_int_equal(rs->r[i].off, off);
}

static void test_refs(void **state)
{
    const char *src = "steps.restart.ok && checks[\"rpc\"].ok || alert.labels[params.key] == item"
                      " || len(steps.restore-backup.stdout) > 0 || steps[0] || split(x, ',')[0]";
    rb_expr_error_t err;
    rb_expr_t *e = rb_expr_compile(src, strlen(src), &err);
    assert_non_null(e);
    refs rs = {0};
    rb_expr_refs(e, collect, &rs);
    assert_int_equal(rs.n, 8);
    assert_ref(&rs, 0, "steps", "restart", 0);
    assert_ref(&rs, 1, "checks", "rpc", 20);
    assert_ref(&rs, 2, "alert", "labels", 40);
    assert_ref(&rs, 3, "params", "key", 53);
    assert_ref(&rs, 4, "item", NULL, 68);
    assert_ref(&rs, 5, "steps", "restore-backup", 80);
    assert_ref(&rs, 6, "steps", NULL, 116);
    assert_ref(&rs, 7, "x", NULL, 134);
    rb_expr_free(e);
    /* constants and literal paths report nothing */
    e = rb_expr_compile("[1, 2][0] + len('abc')", 22, &err);
    rs.n = 0;
    rb_expr_refs(e, collect, &rs);
    assert_int_equal(rs.n, 0);
    rb_expr_free(e);
}

/* ---------------------------------------------------------------- templates */

static json_t *render(const char *src, int flags)
{
    rb_expr_error_t err;
    rb_tmpl_t *t = rb_tmpl_compile(src, strlen(src), &err);
    if (!t)
        fail_msg("template '%s': %s at %zu", src, err.msg, err.offset);
    char msg[256];
    json_t *v = rb_tmpl_render(t, ctx, flags, msg, sizeof(msg));
    if (!v)
        fail_msg("render '%s': %s", src, msg);
    rb_tmpl_free(t);
    return v;
}

#define assert_render(src, flags, want) assert_render_at(src, flags, want, __FILE__, __LINE__)
static void assert_render_at(const char *src, int flags, const char *want, const char *file, int line)
{
    json_t *v = render(src, flags);
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    if (!w)
        fail_at(file, line, "bad expected JSON %s", want);
    // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): fail_at above does not return
    if (!json_equal(v, w) || json_typeof(v) != json_typeof(w)) {
        char *got = json_dumps(v, JSON_ENCODE_ANY);
        fail_at(file, line, "template '%s' gave %s, want %s", src, got, want);
    }
    json_decref(v);
    json_decref(w);
}

#define assert_tmpl_error(src, off, part) assert_tmpl_error_at(src, off, part, __FILE__, __LINE__)
static void assert_tmpl_error_at(const char *src, size_t off, const char *part, const char *file, int line)
{
    rb_expr_error_t err;
    rb_tmpl_t *t = rb_tmpl_compile(src, strlen(src), &err);
    if (t) {
        rb_tmpl_free(t);
        fail_at(file, line, "template '%s' compiled, want \"%s\"", src, part);
    }
    if (!strstr(err.msg, part) || err.offset != off)
        fail_at(file, line, "template '%s': \"%s\" at %zu, want \"%s\" at %zu", src, err.msg, err.offset,
                     part, off);
}

static void test_template_keeps_type(void **state)
{
    assert_render("{{ params.n }}", 0, "3");
    assert_render("{{params.validators}}", 0, "[\"v1\", \"v2\", \"v3\"]");
    assert_render("{{\n  checks.rpc.ok\n}}", 0, "false");
    assert_render("{{ params.missing }}", 0, "null");
    assert_render("{{ params.ratio }}", 0, "0.5");
    /* anything around the {{ }}, or a flag, makes a string */
    assert_render(" {{ params.n }}", 0, "\" 3\"");
    assert_render("{{ params.n }} ", 0, "\"3 \"");
    assert_render("{{ params.n }}{{ params.n }}", 0, "\"33\"");
    assert_render("{{ params.n }}", RB_TMPL_STRING, "\"3\"");
    assert_render("{{ params.n }}", RB_TMPL_SHELL_QUOTE, "\"'3'\"");
}

static void test_template_text(void **state)
{
    assert_render("http://{{ params.unit }}:20332/health", 0, "\"http://neo-node:20332/health\"");
    assert_render("x {{ params.ratio }} y", 0, "\"x 0.5 y\"");
    assert_render("[{{ params.missing }}]", 0, "\"[]\"");
    assert_render("ok={{ checks.rpc.ok }}", 0, "\"ok=false\"");
    assert_render("v={{ params.validators }}", 0, "\"v=[\\\"v1\\\",\\\"v2\\\",\\\"v3\\\"]\"");
    assert_render("{{ '}}' }}", 0, "\"}}\"");        /* }} inside a string does not close */
    assert_render("a {{ \"{{\" }} b", 0, "\"a {{ b\""); /* how to write a literal {{ */
    assert_render("a }} b", 0, "\"a }} b\"");
    assert_render("", 0, "\"\"");
    assert_render("{{ len(alert.labels['team-name']) * 2 }}", 0, "10");
    rb_expr_error_t err;
    rb_tmpl_t *t = rb_tmpl_compile("no braces at all", 16, &err);
    assert_true(rb_tmpl_is_literal(t));
    json_t *v = rb_tmpl_render(t, ctx, 0, NULL, 0);
    assert_string_equal(json_string_value(v), "no braces at all");
    json_decref(v);
    rb_tmpl_free(t);
    t = rb_tmpl_compile("a {{ b }}", 9, &err);
    assert_false(rb_tmpl_is_literal(t));
    rb_tmpl_free(t);
    /* a NUL in a value survives plain rendering */
    v = render("<{{ 'a\\u0000b' }}>", 0);
    assert_int_equal(json_string_length(v), 5);
    assert_memory_equal(json_string_value(v), "<a\0b>", 5);
    json_decref(v);
}

static void test_template_errors(void **state)
{
    assert_tmpl_error("abc {{ params.n", 4, "unclosed '{{'");
    assert_tmpl_error("abc {{ (params.n", 4, "unclosed '{{'");
    assert_tmpl_error("{{ a }} and {{ b", 12, "unclosed '{{'");
    assert_tmpl_error("x {{ }}", 2, "empty '{{ }}'");
    assert_tmpl_error("hello {{ (1 + }}", 14, "expected a value but found '}}'");
    assert_tmpl_error("x {{ a # }}", 7, "unexpected character '#'");
    assert_tmpl_error("x {{ a b }}", 7, "expected an operator or '}}' but found 'b'");
    assert_tmpl_error("x {{ lenn(a) }}", 5, "did you mean 'len'?");
    assert_tmpl_error("x {{ 'abc }}", 5, "unterminated string");
    assert_tmpl_error("x {{ a } }}", 7, "unexpected character '}'");
    assert_tmpl_error("ok\xc3(", 2, "invalid UTF-8");
    char *many = repeat("{{a}}", 4097, "");
    assert_tmpl_error(many, 4096 * 5, "more than 4096 '{{ }}'");
    free(many);
    /* runtime errors name the {{ }} */
    rb_expr_error_t err;
    rb_tmpl_t *t = rb_tmpl_compile("n={{ params.n / 0 }}", 20, &err);
    char msg[256];
    assert_null(rb_tmpl_render(t, ctx, 0, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "{{ params.n / 0 }}: division by zero"));
    rb_tmpl_free(t);
}

static void test_template_refs(void **state)
{
    const char *src = "run {{ steps.a.ok }} and {{ checks[\"b\"].x + item }}";
    rb_expr_error_t err;
    rb_tmpl_t *t = rb_tmpl_compile(src, strlen(src), &err);
    assert_non_null(t);
    refs rs = {0};
    rb_tmpl_refs(t, collect, &rs);
    assert_int_equal(rs.n, 3);
    assert_ref(&rs, 0, "steps", "a", 7);  /* offsets into the template */
    assert_ref(&rs, 1, "checks", "b", 28);
    assert_ref(&rs, 2, "item", NULL, 44);
    rb_tmpl_free(t);
}

/* rb_expr_fields: what `confirm` reads of each check (R-probe-error). */
static void collect_field(const char *name, const char *field, void *arg)
{
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%s%s.%s", n ? " " : "", name ? name : "*", field ? field : "*");
}

static void assert_fields(const char *src, const char *want)
{
    rb_expr_error_t err;
    rb_expr_t *e = rb_expr_compile(src, strlen(src), &err);
    assert_non_null(e);
    char got[256] = "";
    rb_expr_fields(e, "checks", collect_field, got);
    assert_string_equal(got, want);
    rb_expr_free(e);
}

static void test_expr_fields(void **state)
{
    (void)state;
    assert_fields("!checks.a.ok || checks.b.status == 'error'", "a.ok b.status");
    assert_fields("checks[\"c\"].json.x > 1 && steps.s.ok", "c.json");
    assert_fields("len(checks.d) > 0", "d.*");
    assert_fields("checks[params.which].ok", "*.*");
    assert_fields("checks.e[params.k]", "e.*");
    assert_fields("!params.x", "");
}

/* ---------------------------------------------------------------- shell quoting */

static void test_shell_quote_function(void **state)
{
    char *q = rb_shell_quote("", 0);
    assert_string_equal(q, "''");
    free(q);
    q = rb_shell_quote("a'b", 3);
    assert_string_equal(q, "'a'\\''b'");
    free(q);
    q = rb_shell_quote("''", 2);
    assert_string_equal(q, "''\\'''\\'''");
    free(q);
    q = rb_shell_quote("$(id) `id` \\ \"", 14);
    assert_string_equal(q, "'$(id) `id` \\ \"'");
    free(q);
    assert_null(rb_shell_quote("a\0b", 3));
}

/* Runs /bin/sh -c cmd and returns its stdout (malloc'd, *len bytes). */
static char *run_sh(const char *cmd, size_t *len)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    close(fd[1]);
    size_t cap = 256, n = 0;
    char *out = malloc(cap);
    for (;;) {
        if (n == cap)
            // cppcheck-suppress memleakOnRealloc -- a test: out of memory fails it anyway
            out = realloc(out, cap *= 2);
        ssize_t k = read(fd[0], out + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *len = n;
    return out;
}

static char tmpdir[64], pwned[128];

/* Hostile values: each tries to run `touch <pwned>`. */
static json_t *hostile_values(void)
{
    const char *fmts[] = {
        "$(touch @)",
        "`touch @`",
        "; touch @",
        "x && touch @",
        "| touch @",
        "a'b\"c; touch @",
        "'; touch @; '",
        "\"; touch @; \"",
        "'$(touch @)'",
        "\"$(touch @)\"",
        "\\'; touch @ #",
        "line1\ntouch @\nline3",
        "\n\ntouch @\n",
        "${IFS}touch${IFS}@",
        "$((1))$(touch @)",
        "') ; touch @ ; ('",
        "\\\"$(touch @)\\\"",
        "EOF\ntouch @\nEOF",
        "*  ?  [a] ~ @",
        "-n",
        "",
        " leading and trailing ",
        "$HOME $PATH $1 $@",
        "tab\there",
        "\\",
        "'",
        "''",
        "\"",
        "#not a comment",
        "naïve ünïcødé ✓",
    };
    json_t *vals = json_array();
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        char b[256];
        const char *at = strchr(fmts[i], '@');
        if (at)
            snprintf(b, sizeof(b), "%.*s%s%s", (int)(at - fmts[i]), fmts[i], pwned, at + 1);
        else
            snprintf(b, sizeof(b), "%s", fmts[i]);
        json_array_append_new(vals, json_string(b));
    }
    return vals;
}

/* The placements an author may write; expected output = pre + value + post. */
static const struct {
    const char *tmpl, *pre, *post;
    int strip_nl; /* $( ) drops trailing newlines */
} placements[] = {
    {"printf %s {{ v }}", "", "", 0},
    {"printf %s '{{ v }}'", "", "", 0},
    {"printf %s \"{{ v }}\"", "", "", 0},
    {"printf %s \"pre-{{ v }}-post\"", "pre-", "-post", 0},
    {"printf %s 'pre {{ v }} post'", "pre ", " post", 0},
    {"printf %s x{{ v }}y", "x", "y", 0},
    {"printf %s \"$(printf %s {{ v }})\"", "", "", 1},
    {"printf %s \"$(printf %s \"{{ v }}\")\"", "", "", 1},
    {"# a comment with 'quotes\nprintf %s {{ v }}", "", "", 0},
    {"cat <<EOF\nhello world\nEOF\nprintf %s {{ v }}", "hello world\n", "", 0},
    {"cat <<-'END'\n\tbody\n\tEND\nprintf %s {{ v }}", "body\n", "", 0},
    {"(printf %s {{ v }})", "", "", 0},
    {"printf %s {{ v }}; printf %s {{ v }}", "", "", 0},
    {"printf %s $(printf a)#{{ v }}", "a#", "", 0}, /* '#' inside a word: not a comment */
    {"printf %s $((1+1))#{{ v }}", "2#", "", 0},
    {"printf %s 2>&1 {{ v }} 2>&1", "", "", 0},   /* a word after the >& target is fine */
    {"printf %s x\\\n{{ v }}", "x", "", 0},          /* backslash-newline joins the word */
};

static void test_shell_hostile_values(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/rb_expr_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(pwned, sizeof(pwned), "%s/pwned", tmpdir);
    json_t *vals = hostile_values();
    for (size_t p = 0; p < sizeof(placements) / sizeof(placements[0]); p++) {
        rb_expr_error_t err;
        rb_tmpl_t *t = rb_tmpl_compile(placements[p].tmpl, strlen(placements[p].tmpl), &err);
        assert_non_null(t);
        assert_int_equal(rb_tmpl_shell_check(t, &err), 0);
        for (size_t i = 0; i < json_array_size(vals); i++) {
            const char *raw = json_string_value(json_array_get(vals, i));
            json_t *c = json_pack("{s:s}", "v", raw);
            char msg[256];
            json_t *cmd = rb_tmpl_render(t, c, RB_TMPL_SHELL_QUOTE, msg, sizeof(msg));
            assert_non_null(cmd);
            assert_true(json_is_string(cmd));
            size_t n;
            char *out = run_sh(json_string_value(cmd), &n);
            /* expected: what the author wrote around the value, and the value verbatim */
            char want[1024];
            size_t vl = strlen(raw);
            if (placements[p].strip_nl)
                while (vl && raw[vl - 1] == '\n')
                    vl--;
            int k = snprintf(want, sizeof(want), "%s%.*s%s", placements[p].pre, (int)vl, raw, placements[p].post);
            if (strstr(placements[p].tmpl, "; printf")) /* the value twice */
                snprintf(want + k, sizeof(want) - (size_t)k, "%.*s", (int)vl, raw);
            if (n != strlen(want) || memcmp(out, want, n))
                fail_msg("placement %zu (%s), value %zu: ran [%s], got [%.*s], want [%s]", p,
                         placements[p].tmpl, i, json_string_value(cmd), (int)n, out, want);
            assert_int_not_equal(access(pwned, F_OK), 0);
            free(out);
            json_decref(cmd);
            json_decref(c);
        }
        rb_tmpl_free(t);
    }
    json_decref(vals);
    rmdir(tmpdir);
}

static void test_shell_quote_rendering(void **state)
{
    /* exact text: the value is quoted, the author's text is verbatim */
    json_t *c = json_pack("{s:s}", "v", "a'b");
    struct {
        const char *tmpl, *want;
    } cases[] = {
        {"echo {{ v }} $HOME", "echo 'a'\\''b' $HOME"},
        {"echo '{{ v }}'", "echo '''a'\\''b'''"},
        {"echo \"{{ v }}\"", "echo \"\"'a'\\''b'\"\""},
        {"echo \"x\\{{ v }}\"", NULL}, /* right after a backslash: refused */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rb_expr_error_t err;
        rb_tmpl_t *t = rb_tmpl_compile(cases[i].tmpl, strlen(cases[i].tmpl), &err);
        assert_non_null(t);
        char msg[256];
        json_t *v = rb_tmpl_render(t, c, RB_TMPL_SHELL_QUOTE, msg, sizeof(msg));
        if (cases[i].want) {
            assert_non_null(v);
            assert_string_equal(json_string_value(v), cases[i].want);
        } else {
            assert_null(v);
            assert_non_null(strstr(msg, "backslash"));
        }
        json_decref(v);
        /* without the flag nothing is quoted */
        v = rb_tmpl_render(t, c, 0, msg, sizeof(msg));
        assert_non_null(strstr(json_string_value(v), "a'b"));
        json_decref(v);
        rb_tmpl_free(t);
    }
    json_decref(c);
    /* a NUL cannot pass through argv: refused for the shell only */
    c = json_pack("{s:s%}", "v", "a\0b", (size_t)3);
    rb_expr_error_t err;
    rb_tmpl_t *t = rb_tmpl_compile("echo {{ v }}", 12, &err);
    char msg[256];
    assert_null(rb_tmpl_render(t, c, RB_TMPL_SHELL_QUOTE, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "value contains a NUL byte"));
    json_t *v = rb_tmpl_render(t, c, 0, msg, sizeof(msg));
    assert_int_equal(json_string_length(v), 8);
    json_decref(v);
    rb_tmpl_free(t);
    json_decref(c);
}

/* Placements where no quoting makes a value inert are refused, at load
 * (rb_tmpl_shell_check) and at render. */
static void test_shell_unsafe_placements(void **state)
{
    struct {
        const char *tmpl;
        size_t off;
        const char *why;
    } cases[] = {
        {"echo `{{ v }}`", 6, "inside `"},
        {"echo \\{{ v }}", 6, "after a backslash"},
        {"echo ${{ v }}", 6, "after '$'"},
        {"echo \"${{ v }}\"", 7, "after '$'"},
        {"echo ${X:-{{ v }}}", 10, "inside ${"},
        {"echo $(( {{ v }} + 1 ))", 9, "inside $(("},
        {"ls # {{ v }}\necho", 5, "inside a comment"},
        {"cat <<EOF\n{{ v }}\nEOF", 10, "here-document"},
        {"cat <<{{ v }}\nx\n", 6, "here-document delimiter"},
        {"cat <<EOF\nEOFX\n{{ v }}\nEOF", 15, "here-document"},
        {"echo $'a' {{ v }}", 10, "$'"},
        {"echo \"$(case x in x) echo; esac)\" {{ v }}", 34, "case"},
        {"echo \"`echo {{ v }}`\"", 12, "inside `"},
        {"((x = {{ v }}))", 6, "inside $(("},
        {"echo \"$[1]\" {{ v }}", 12, "$["},
        {"(true)#{{ v }}", 7, "inside a comment"},   /* after a subshell a new word starts */
        {"((1))#{{ v }}", 6, "inside a comment"},    /* so it does after bash's ((…)) */
        {"echo \"$$(\" {{ v }}", 11, "'$$'"},
        {"echo $${{ v }}", 7, "after '$'"},
        {"echo hi >&{{ v }}", 10, "target of >&"},
        {"echo hi 2>& x{{ v }}", 13, "target of >&"},
        {"cat <&'x'{{ v }}", 9, "target of >&"},
        {"true \\\n# {{ v }}", 9, "inside a comment"},    /* the continuation is invisible */
        {"cat <<E\nx\\\nE\n{{ v }}\nE", 13, "here-document"}, /* E after \\-newline is not the end */
    };
    json_t *c = json_pack("{s:s}", "v", "x");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rb_expr_error_t err;
        rb_tmpl_t *t = rb_tmpl_compile(cases[i].tmpl, strlen(cases[i].tmpl), &err);
        assert_non_null(t);
        if (rb_tmpl_shell_check(t, &err) != -1)
            fail_msg("'%s' passed the shell check", cases[i].tmpl);
        if (!strstr(err.msg, cases[i].why) || err.offset != cases[i].off)
            fail_msg("'%s': \"%s\" at %zu, want \"%s\" at %zu", cases[i].tmpl, err.msg, err.offset, cases[i].why,
                     cases[i].off);
        char msg[256];
        assert_null(rb_tmpl_render(t, c, RB_TMPL_SHELL_QUOTE, msg, sizeof(msg)));
        assert_non_null(strstr(msg, "cannot be quoted safely"));
        json_t *v = rb_tmpl_render(t, c, 0, msg, sizeof(msg)); /* not for the shell: fine */
        assert_non_null(v);
        json_decref(v);
        rb_tmpl_free(t);
    }
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_arithmetic_types),
        cmocka_unit_test(test_logic_short_circuit),
        cmocka_unit_test(test_comparisons_across_types),
        cmocka_unit_test(test_in_operator),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_missing_paths_are_null),
        cmocka_unit_test(test_paths_borrow_context),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_fn_len),
        cmocka_unit_test(test_fn_contains_starts_ends),
        cmocka_unit_test(test_fn_matches),
        cmocka_unit_test(test_fn_conversions),
        cmocka_unit_test(test_fn_default),
        cmocka_unit_test(test_fn_strings),
        cmocka_unit_test(test_fn_time),
        cmocka_unit_test(test_unknown_function_and_arity),
        cmocka_unit_test(test_syntax_error_offsets),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_truthiness),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_template_keeps_type),
        cmocka_unit_test(test_template_text),
        cmocka_unit_test(test_template_errors),
        cmocka_unit_test(test_template_refs),
        cmocka_unit_test(test_expr_fields),
        cmocka_unit_test(test_shell_quote_function),
        cmocka_unit_test(test_shell_hostile_values),
        cmocka_unit_test(test_shell_quote_rendering),
        cmocka_unit_test(test_shell_unsafe_placements),
    };
    return cmocka_run_group_tests_name("unit.expr", tests, setup, teardown);
}
