/*
 * demo_target.c — the local service that `make demo` and the end-to-end
 * tests break and recover: it listens on 127.0.0.1:PORT, answers every
 * connection with a fixed "200 ok" reply (it reads the request and never
 * parses it), and keeps a pid file.
 *
 * --fail-file F: while F holds a number above 0, the process decrements it
 * and exits 1 at start-up — a service that needs a few restarts to come back.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 3\r\nConnection: close\r\n\r\nok\n";
static const char *pidfile;

typedef struct conn {
    uv_tcp_t tcp;
    uv_write_t wr;
    int replied;
} conn_t;

static void on_close(uv_handle_t *h) { free(h->data); }

static void on_written(uv_write_t *w, int status)
{
    conn_t *c = w->data;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    static char buf[4096];
    b->base = buf;
    b->len = sizeof(buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    conn_t *c = s->data;
    if (n < 0) {
        if (!c->replied)
            uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (n > 0 && !c->replied) {
        c->replied = 1;
        uv_read_stop(s);
        uv_buf_t out = uv_buf_init((char *)reply, sizeof(reply) - 1);
        c->wr.data = c;
        uv_write(&c->wr, s, &out, 1, on_written);
    }
}

static void on_conn(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    conn_t *c = calloc(1, sizeof(*c));
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_term(uv_signal_t *s, int sig)
{
    if (pidfile)
        unlink(pidfile);
    uv_stop(s->loop);
}

static int consume_failure(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0;
    if (fscanf(f, "%d", &n) != 1)
        n = 0;
    fclose(f);
    if (n <= 0)
        return 0;
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d\n", n - 1);
        fclose(f);
    }
    return 1;
}

int main(int argc, char **argv)
{
    int port = 0;
    const char *fail_file = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pidfile"))
            pidfile = argv[i + 1];
        else if (!strcmp(argv[i], "--fail-file"))
            fail_file = argv[i + 1];
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: demo-target --port N [--pidfile F] [--fail-file F]\n");
        return 2;
    }
    if (fail_file && consume_failure(fail_file)) {
        fprintf(stderr, "demo-target: simulated start-up failure (%s)\n", fail_file);
        return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 64, on_conn);
    if (rc < 0) {
        fprintf(stderr, "demo-target: cannot listen on 127.0.0.1:%d: %s\n", port, uv_strerror(rc));
        return 1;
    }
    if (pidfile) {
        FILE *f = fopen(pidfile, "w");
        if (f) {
            fprintf(f, "%ld\n", (long)getpid());
            fclose(f);
        }
    }
    uv_signal_t sterm, sint;
    uv_signal_init(loop, &sterm);
    uv_signal_init(loop, &sint);
    uv_signal_start(&sterm, on_term, SIGTERM);
    uv_signal_start(&sint, on_term, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
