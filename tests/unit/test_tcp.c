/*
 * test_tcp.c — the `tcp` connect probe on a real uv loop against loopback
 * sockets: a listening port (connects), a bound port nothing listens on
 * (refused), a listener whose accept queue is full (times out, and cancel),
 * "localhost" tried address after address, and parameter checks. Every case
 * ends with uv_loop_close() == 0. Only 127.0.0.1 / localhost, ever. No timing
 * assertions.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "host/action_host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern const rb_action_t rb_action_tcp;

typedef struct harness {
    uv_loop_t loop;
    rb_action_ctx_t *ctx;
    json_t *result;
    int done_calls;
    uv_timer_t cancel_timer;
    int cancel_armed;
} harness_t;

static void done_cb(rb_action_ctx_t *ctx, json_t *result, void *arg)
{
    harness_t *h = arg;
    h->done_calls++;
    json_decref(h->result);
    h->result = result;
    if (h->cancel_armed)
        uv_close((uv_handle_t *)&h->cancel_timer, NULL);
}

static void h_start(harness_t *h, json_t *with)
{
    memset(h, 0, sizeof(*h));
    assert_int_equal(uv_loop_init(&h->loop), 0);
    h->ctx = rb__action_ctx_new(&h->loop, &rb_action_tcp, "/", 0, done_cb, h);
    assert_non_null(h->ctx);
    assert_non_null(with);
    assert_int_equal(rb__action_start(h->ctx, with), 0);
    json_decref(with);
    assert_int_equal(h->done_calls, 0); /* never from inside start */
}

static json_t *h_finish(harness_t *h)
{
    assert_int_equal(uv_run(&h->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(h->done_calls, 1);
    rb__action_ctx_free(h->ctx);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    assert_true(json_is_object(h->result));
    return h->result;
}

static const char *str(const json_t *r, const char *k)
{
    const char *s = json_string_value(json_object_get(r, k));
    assert_non_null(s);
    return s;
}

static int flag(const json_t *r, const char *k)
{
    const json_t *v = json_object_get(r, k);
    assert_true(json_is_boolean(v));
    return json_is_true(v);
}

/* A TCP socket bound to 127.0.0.1 on an ephemeral port; listening with
 * the given backlog when backlog >= 0. */
static int loopback_socket(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (backlog >= 0)
        assert_int_equal(listen(fd, backlog), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_connect_ok(void **state)
{
    int port, fd = loopback_socket(16, &port); /* the kernel accepts; nobody needs to */
    harness_t h;
    h_start(&h, json_pack("{s:s,s:i}", "host", "127.0.0.1", "port", port));
    json_t *r = h_finish(&h);
    assert_true(flag(r, "ok"));
    assert_string_equal(str(r, "status"), "ok");
    assert_true(json_integer_value(json_object_get(r, "connect_ms")) >= 0);
    assert_true(json_is_integer(json_object_get(r, "connect_ms")));
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    assert_string_equal(str(r, "address"), want);
    assert_null(json_object_get(r, "error"));
    json_decref(r);
    close(fd);
}

static void test_port_as_text(void **state)
{
    /* "{{ alert.labels.port }}" renders to a string: digits are accepted. */
    int port, fd = loopback_socket(16, &port);
    char p[16];
    snprintf(p, sizeof(p), "%d", port);
    harness_t h;
    h_start(&h, json_pack("{s:s,s:s,s:s}", "host", "localhost", "port", p, "timeout", "2s"));
    json_t *r = h_finish(&h);
    /* localhost may resolve to ::1 first (refused: we listen on IPv4 only),
     * then 127.0.0.1: the probe tries each address in turn. */
    assert_true(flag(r, "ok"));
    assert_non_null(strstr(str(r, "address"), "127.0.0.1:"));
    json_decref(r);
    close(fd);
}

static void test_refused(void **state)
{
    int port, fd = loopback_socket(-1, &port); /* bound, not listening: RST */
    harness_t h;
    h_start(&h, json_pack("{s:s,s:i}", "host", "127.0.0.1", "port", port));
    json_t *r = h_finish(&h);
    assert_false(flag(r, "ok"));
    assert_string_equal(str(r, "status"), "failed");
    assert_true(json_is_null(json_object_get(r, "connect_ms")));
    assert_non_null(strstr(str(r, "error"), "refused"));
    json_decref(r);
    close(fd);
}

/*
 * A listener with backlog 0 that never accepts: once its accept queue holds
 * a connection, Linux drops further SYNs, so a connect stays pending. Fills
 * the queue with non-blocking connects until one stays pending. Returns the
 * listener, or -1 when this kernel does not behave so (the caller skips).
 */
static int full_listener(int *port, int *fillers, int *nfill)
{
    int lfd = loopback_socket(0, port);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *nfill = 0;
    for (int i = 0; i < 8; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        fillers[(*nfill)++] = fd;
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            continue;
        assert_int_equal(errno, EINPROGRESS);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, 200) == 0)
            return lfd; /* pending: the queue is full */
    }
    return -1;
}

static void close_all(int lfd, int *fillers, int n)
{
    for (int i = 0; i < n; i++)
        close(fillers[i]);
    if (lfd >= 0)
        close(lfd);
}

static void test_timeout(void **state)
{
    int port, fillers[8], n;
    int lfd = full_listener(&port, fillers, &n);
    if (lfd < 0) {
        close_all(-1, fillers, n);
        print_message("skipped: cannot make a loopback connect hang on this kernel\n");
        skip();
    }
    harness_t h;
    h_start(&h, json_pack("{s:s,s:i,s:s}", "host", "127.0.0.1", "port", port, "timeout", "300ms"));
    json_t *r = h_finish(&h);
    assert_false(flag(r, "ok"));
    assert_string_equal(str(r, "status"), "timeout");
    assert_non_null(strstr(str(r, "error"), "timed out"));
    json_decref(r);
    close_all(lfd, fillers, n);
}

static void cancel_cb(uv_timer_t *t)
{
    harness_t *h = t->data;
    rb__action_cancel(h->ctx);
    assert_int_equal(h->done_calls, 0); /* never from inside cancel */
}

static void test_cancel(void **state)
{
    int port, fillers[8], n;
    int lfd = full_listener(&port, fillers, &n);
    if (lfd < 0) {
        close_all(-1, fillers, n);
        print_message("skipped: cannot make a loopback connect hang on this kernel\n");
        skip();
    }
    harness_t h;
    h_start(&h, json_pack("{s:s,s:i,s:s}", "host", "127.0.0.1", "port", port, "timeout", "1h"));
    uv_timer_init(&h.loop, &h.cancel_timer);
    h.cancel_timer.data = &h;
    h.cancel_armed = 1;
    uv_timer_start(&h.cancel_timer, cancel_cb, 50, 0);
    json_t *r = h_finish(&h);
    assert_false(flag(r, "ok"));
    assert_string_equal(str(r, "status"), "cancelled");
    json_decref(r);
    close_all(lfd, fillers, n);
}

static int validate_with(json_t *with, const char **key)
{
    char msg[256] = "";
    *key = NULL;
    int rc = rb_action_tcp.validate(with, msg, sizeof(msg), key);
    if (rc < 0)
        assert_true(msg[0] != '\0');
    json_decref(with);
    return rc;
}

static void test_validate(void **state)
{
    const char *key;
    assert_int_equal(validate_with(json_pack("{s:s,s:i}", "host", "db1", "port", 5432), &key), 0);
    assert_int_equal(validate_with(json_pack("{s:s,s:s}", "host", "{{ params.host }}", "port",
                                             "{{ params.port }}"),
                                   &key),
                     0);
    assert_true(validate_with(json_pack("{s:i}", "port", 80), &key) < 0);
    assert_string_equal(key, "host");
    assert_true(validate_with(json_pack("{s:s}", "host", "x"), &key) < 0);
    assert_string_equal(key, "port");
    assert_true(validate_with(json_pack("{s:s,s:i}", "host", "x", "port", 0), &key) < 0);
    assert_string_equal(key, "port");
    assert_true(validate_with(json_pack("{s:s,s:i}", "host", "x", "port", 65536), &key) < 0);
    assert_true(validate_with(json_pack("{s:s,s:s}", "host", "x", "port", "80a"), &key) < 0);
    assert_true(validate_with(json_pack("{s:s,s:i}", "host", "", "port", 80), &key) < 0);
    assert_string_equal(key, "host");
    assert_true(
        validate_with(json_pack("{s:s,s:i,s:s}", "host", "x", "port", 80, "timeout", "later"),
                      &key) < 0);
    assert_string_equal(key, "timeout");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_ok),
        cmocka_unit_test(test_port_as_text),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
