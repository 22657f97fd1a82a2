/*
 * test_buf.c — the growable text buffer (engine/base/buf.h) and the server
 * log lines built with it (engine/server/log.h): a line that outgrows its
 * first memory is whole, printf appends grow it, and a logfmt line quotes
 * and escapes exactly as documented (a forged second line stays one value).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/buf.h"
#include "server/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_grows_past_first_memory(void **state)
{
    (void)state;
    char mem[8];
    rb_buf_t b;
    rb_buf_init(&b, mem, sizeof mem);
    rb_buf_adds(&b, "abc");
    assert_ptr_equal(b.p, mem);
    for (int i = 0; i < 100; i++)
        rb_buf_addc(&b, (char)('a' + i % 26));
    assert_true(b.p != mem);
    assert_int_equal(b.len, 103);
    assert_int_equal(strlen(b.p), 103);
    assert_memory_equal(b.p, "abcabcdef", 9);
    rb_buf_printf(&b, "[%d:%s]", 42, "x");
    assert_string_equal(b.p + 103, "[42:x]");
    assert_false(b.oom);
    rb_buf_free(&b);
}

static void test_printf_grows(void **state)
{
    (void)state;
    char mem[4];
    rb_buf_t b;
    rb_buf_init(&b, mem, sizeof mem);
    char big[600];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    rb_buf_printf(&b, "<%s>", big);
    assert_int_equal(b.len, 601);
    assert_int_equal(b.p[0], '<');
    assert_int_equal(b.p[600], '>');
    assert_int_equal(b.p[601], '\0');
    rb_buf_free(&b);
}

/* One rb_slog line, read back from a pipe put in stderr's place. */
static char *slog_line(const char *k, const char *v)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(2);
    dup2(fds[1], 2);
    rb_slog("info", "probe", k, v, "after", "ok", (char *)NULL);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    static char out[8192];
    ssize_t n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    assert_true(n > 0);
    out[n] = '\0';
    return out;
}

static void test_logfmt_line(void **state)
{
    (void)state;
    rb_slog_format(0);
    char *l = slog_line("plain", "v1");
    assert_non_null(strstr(l, " level=info event=probe plain=v1 after=ok\n"));
    assert_memory_equal(l, "ts=", 3);
    l = slog_line("q", "a b\"c\\d\ne\tf\x01g=h");
    assert_non_null(strstr(l, " q=\"a b\\\"c\\\\d\\ne\\tf\\x01g=h\" after=ok\n"));
    assert_ptr_equal(strchr(l, '\n'), l + strlen(l) - 1); /* one line */
    l = slog_line("empty", "");
    assert_non_null(strstr(l, " empty=\"\" after=ok\n"));
    /* longer than the line's first memory: still one whole line */
    char big[3000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    l = slog_line("big", big);
    assert_int_equal(strlen(l), strlen(strstr(l, " big=")) + (size_t)(strstr(l, " big=") - l));
    assert_non_null(strstr(l, big));
    assert_non_null(strstr(l, " after=ok\n"));
    rb_slog_format(1);
    l = slog_line("k", "v\"w");
    assert_non_null(strstr(l, "\"level\":\"info\",\"event\":\"probe\",\"k\":\"v\\\"w\",\"after\":\"ok\"}\n"));
    rb_slog_format(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_past_first_memory),
        cmocka_unit_test(test_printf_grows),
        cmocka_unit_test(test_logfmt_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
