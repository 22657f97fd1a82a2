/*
 * exec_capture.c — what the `exec` action keeps of a command's stdout and
 * stderr: each pipe read on the loop into a buffer up to the output cap,
 * and the captured bytes turned into UTF-8 JSON text for the result.
 *
 * The pipe is watched with a uv_poll_t and read here, not through a
 * uv_pipe_t stream, so that the owner can also read it to the end at a
 * moment of its choosing (rb__exec_stream_drain): exec.c keeps the write
 * ends open until the child is reaped, so a command that exits costs one
 * wake-up of the loop (its pidfd) instead of one per pipe reaching EOF,
 * and then reads what is left straight away.
 *
 * Owns: a stream's capture buffer, from the first read until
 * rb__exec_stream_release, and its read end from rb__exec_stream_open
 * until rb__exec_stream_closed. The scratch buffer for bytes past the cap
 * belongs to exec.c, which also closes the handle.
 *
 * Must never:
 *   - keep more than the cap of a stream in memory: the rest is read into
 *     one scratch buffer that is overwritten, so a flooding child is drained
 *     (it neither blocks on a full pipe nor dies of SIGPIPE), still runs to
 *     its end and is reaped, without memory growing;
 *   - read without bound in one callback (a flooding child must not starve
 *     the loop: the poll is level-triggered and comes back);
 *   - block the loop or close the handle: EOF is reported to the owner
 *     (on_eof), who decides when the command is over.
 */
#include "exec_int.h"
#include "utf8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXEC_DISCARD_SIZE 65536
/* Reads per wake-up before the loop gets to run something else. */
#define EXEC_READS_PER_CALL 32

/* poll is the first member of exec_stream_t: the handle is the stream. */
static exec_stream_t *stream_of(void *h)
{
    return (exec_stream_t *)h;
}

/* Where the next read goes: straight into the capture buffer while it is
 * under the cap, then into one scratch buffer that is overwritten. */
static char *read_room(exec_stream_t *st, size_t *room)
{
    if (st->len < st->cap) {
        if (st->alloc == st->len) {
            size_t na = st->alloc ? st->alloc * 2 : 4096;
            if (na > st->cap)
                na = st->cap;
            char *nb = realloc(st->buf, na);
            if (nb) {
                st->buf = nb;
                st->alloc = na;
            }
        }
        if (st->alloc > st->len) {
            *room = st->alloc - st->len;
            return st->buf + st->len;
        }
    }
    if (!*st->discard)
        *st->discard = malloc(EXEC_DISCARD_SIZE);
    *room = *st->discard ? EXEC_DISCARD_SIZE : 0;
    return *st->discard;
}

/* The last EXEC_TAIL_SIZE bytes of the stream, whatever the cap. */
static void keep_tail(exec_stream_t *st, const char *p, size_t n)
{
    if (n >= EXEC_TAIL_SIZE) {
        memcpy(st->tail, p + n - EXEC_TAIL_SIZE, EXEC_TAIL_SIZE);
        st->tail_len = EXEC_TAIL_SIZE;
        return;
    }
    size_t keep = st->tail_len + n > EXEC_TAIL_SIZE ? EXEC_TAIL_SIZE - n : st->tail_len;
    memmove(st->tail, st->tail + st->tail_len - keep, keep);
    memcpy(st->tail + keep, p, n);
    st->tail_len = keep + n;
}

void rb__exec_stream_stop(exec_stream_t *st)
{
    if (st->inited)
        uv_poll_stop(&st->poll);
}

int rb__exec_stream_drain(exec_stream_t *st, int max_reads)
{
    if (st->eof)
        return 1;
    for (int i = 0; i < max_reads; i++) {
        size_t room;
        char *p = read_room(st, &room);
        if (!room) { /* out of memory: stop capturing rather than spin */
            st->eof = 1;
            return 1;
        }
        ssize_t n = read(st->fd, p, room);
        if (n > 0) {
            keep_tail(st, p, (size_t)n);
            if (p == *st->discard)
                st->truncated = 1;
            else
                st->len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        st->eof = 1; /* EOF or a read error: nothing more will come either way */
        return 1;
    }
    return 0;
}

static void stream_poll_cb(uv_poll_t *h, int status, int events)
{
    (void)events;
    exec_stream_t *st = stream_of(h);
    if (st->eof)
        return;
    if (status < 0)
        st->eof = 1;
    if (st->eof || rb__exec_stream_drain(st, EXEC_READS_PER_CALL)) {
        rb__exec_stream_stop(st); /* level-triggered: EOF would come back */
        st->on_eof(st);
    }
}

void rb__exec_stream_open(exec_stream_t *st, uv_loop_t *loop, int fd, size_t cap, char **discard,
                          exec_eof_cb on_eof, void *owner)
{
    _Static_assert(offsetof(exec_stream_t, poll) == 0, "stream_of() needs poll first");
    st->cap = cap;
    st->discard = discard;
    st->on_eof = on_eof;
    st->fd = -1;
    /* uv_poll_init makes the read end non-blocking (only this end: the
     * child's write end is another open file and stays blocking). */
    if (uv_poll_init(loop, &st->poll, fd) != 0) {
        close(fd);
        st->eof = 1;
        return;
    }
    st->inited = 1;
    st->fd = fd;
    st->poll.data = owner;
    if (uv_poll_start(&st->poll, UV_READABLE, stream_poll_cb) != 0)
        st->eof = 1;
}

void rb__exec_stream_closed(exec_stream_t *st)
{
    /* uv_close does not close a polled fd: the read end is ours. */
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
}

json_t *rb__exec_stream_text(const exec_stream_t *st)
{
    return rb__exec_text(st->buf, st->len, st->truncated);
}

void rb__exec_stream_release(exec_stream_t *st)
{
    free(st->buf);
    st->buf = NULL;
    st->len = st->alloc = 0;
}

json_t *rb__exec_text(const char *buf, size_t len, int truncated)
{
    json_t *s = rb__utf8_json(buf, len, truncated);
    return s ? s : json_string("");
}
