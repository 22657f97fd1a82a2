/*
 * exec_capture.c — what the `exec` action keeps of a command's stdout and
 * stderr: each pipe read on the loop into a buffer up to the output cap,
 * and the captured bytes turned into UTF-8 JSON text for the result.
 *
 * Owns: a stream's capture buffer, from the first read until
 * rb__exec_stream_release. The pipe handle and the scratch buffer for
 * bytes past the cap belong to exec.c, which closes and frees them.
 *
 * Must never:
 *   - keep more than the cap of a stream in memory: the rest is read into
 *     one scratch buffer that is overwritten, so a flooding child is drained
 *     (it neither blocks on a full pipe nor dies of SIGPIPE), still runs to
 *     its end and is reaped, without memory growing;
 *   - block the loop or close the handle: EOF is reported to the owner
 *     (on_eof), who decides when the command is over.
 */
#include "exec_int.h"
#include "utf8.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#define EXEC_DISCARD_SIZE 65536

/* pipe is the first member of exec_stream_t: the handle is the stream. */
static exec_stream_t *stream_of(void *h)
{
    return (exec_stream_t *)h;
}

/* Reads land straight in the capture buffer while it is under the cap, then
 * in one scratch buffer that is overwritten: the child is drained (so it
 * neither blocks on a full pipe nor dies of SIGPIPE) without memory growing. */
static void stream_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    exec_stream_t *st = stream_of(h);
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
            size_t room = st->alloc - st->len;
            *buf = uv_buf_init(st->buf + st->len, room > UINT_MAX ? UINT_MAX : (unsigned)room);
            return;
        }
    }
    if (!*st->discard)
        *st->discard = malloc(EXEC_DISCARD_SIZE);
    *buf = uv_buf_init(*st->discard, *st->discard ? EXEC_DISCARD_SIZE : 0);
}

static void stream_read_cb(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    exec_stream_t *st = stream_of(h);
    if (nread > 0) {
        if (buf->base == *st->discard)
            st->truncated = 1;
        else
            st->len += (size_t)nread;
        return;
    }
    if (nread == 0)
        return;
    st->eof = 1; /* EOF or a read error: nothing more will come either way */
    uv_read_stop(h);
    st->on_eof(st);
}

void rb__exec_stream_open(exec_stream_t *st, uv_loop_t *loop, int fd, size_t cap, char **discard,
                          exec_eof_cb on_eof, void *owner)
{
    _Static_assert(offsetof(exec_stream_t, pipe) == 0, "stream_of() needs pipe first");
    st->cap = cap;
    st->discard = discard;
    st->on_eof = on_eof;
    if (uv_pipe_init(loop, &st->pipe, 0) != 0) {
        close(fd);
        st->eof = 1;
        return;
    }
    st->inited = 1;
    st->pipe.data = owner;
    if (uv_pipe_open(&st->pipe, fd) != 0) {
        close(fd); /* not adopted by the handle */
        st->eof = 1;
        return;
    }
    if (uv_read_start((uv_stream_t *)&st->pipe, stream_alloc_cb, stream_read_cb) != 0)
        st->eof = 1;
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
