/*
 * journal_writer.c — the journal's writer thread (DESIGN §5: "the loop
 * never waits on disk: a writer thread commits in groups").
 *
 * The loop thread turns each append into a record and queues it (a mutex
 * held for a pointer swap, never across I/O). The writer thread takes the
 * whole queue at each wake-up and writes it in one transaction through its
 * own connection (journal_append.c's rb__j_batch; on PostgreSQL a
 * connection of its own too, journal_pg_append.c's rb__pg_batch), so the
 * more the loop
 * appends while a commit is on its way to the disk, the bigger the next
 * group. Records carry
 * tickets 1, 2, 3 … in append order; after each commit the writer
 * publishes the highest durable ticket and pokes the loop (uv_async_send;
 * sends coalesce, so the loop drains every flush request that the ticket
 * now covers).
 *
 * When to commit: a flush asked for during a turn of the loop wakes the
 * writer once, just before the loop would next wait for I/O (a uv_prepare
 * handle), so that everything appended and flushed in one turn of the
 * loop — all the runs a batch of I/O woke up, and what their close
 * callbacks did — is one group; the writer then commits at once when
 * somebody waits (a flush or a sync asked for a ticket still queued), when
 * the queue is large, when stopping, and otherwise at most
 * RB__JW_LINGER_MS after the oldest queued record — so the events between
 * two intents ride in the next intent's commit (one disk flush per step)
 * and still reach the disk soon without one. Appending alone does not
 * wake the writer (a wake that finds nothing due is two context switches
 * for nothing): after a commit the writer waits one linger with a
 * deadline and sees whatever was queued meanwhile when it ends; after that
 * it rests with no deadline, and the first record queued signals it, so
 * the linger holds whether or not the loop turns. The writer publishes a
 * commit and lets go of the mutex before it pokes the loop, so that the
 * loop does not wake only to wait for the mutex.
 *
 * Run ids: a run needs its id at once, so the writer keeps a block of ids
 * reserved in the file (journal_append.c moves sqlite_sequence past it in a
 * commit) and the loop hands them out; the writer reserves the next block
 * when the current one runs low. Seqs and the hash chain are assigned by
 * the writer inside each transaction, from the file, so they are right
 * whoever else writes the journal. On PostgreSQL no block is reserved: the
 * loop takes each run's id from the sequence (rb__pg_run_id), which no two
 * engines share.
 *
 * RUNBOOK_JOURNAL_COMMIT_DELAY_MS=N (a test knob, read at attach): the
 * writer waits N ms after taking each group and before writing it, as a
 * slow disk would, so that tests can see groups form and kill the process
 * while one is on its way.
 *
 * Owns: the thread, the queue and the chunks its records live in, the
 * tickets, the flush requests, and the loop handles (uv_async_t,
 * uv_prepare_t, uv_idle_t: one allocation, freed by the last close
 * callback, after the journal may be gone). Must never: touch SQLite or jansson
 * (except through rb__j_batch or rb__pg_batch) on the writer thread;
 * hold the mutex across I/O; call a flush callback from inside
 * rb_journal_flush; report a ticket durable before its commit returned.
 */
#include "journal_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB__JW_LINGER_MS   100
#define RB__JW_MAX_RECORDS 8192
#define RB__JW_MAX_BYTES   (8u << 20)
#define RB__JW_GROUP       1024 /* records that wake the writer before the iteration ends */
#define RB__JW_IDS_FIRST   64   /* run ids reserved at first */
#define RB__JW_IDS_MAX     4096 /* a block grows 4x each time the loop had to wait */

/* Queued records live in chunks: one allocation for many records, freed
 * by the writer after the commit that wrote them (a malloc and a free from
 * another thread per event cost more than the insert's own bookkeeping). */
typedef struct rb__jchunk {
    struct rb__jchunk *next;
    size_t used, cap;
    max_align_t data[];
} rb__jchunk_t;

#define RB__JW_CHUNK (64u << 10)

typedef struct rb__jflush {
    struct rb__jflush *next;
    uint64_t ticket;
    rb_journal_flush_cb cb;
    void *arg;
} rb__jflush_t;

/* The loop-side handles, one allocation: freed when the last of the three
 * close callbacks has run, which may be after the journal is gone. */
typedef struct {
    uv_async_t async;     /* the writer's "committed" */
    uv_prepare_t prepare; /* before the loop waits for I/O: wake the writer */
    uv_idle_t idle;       /* keeps the poll from blocking while a wake is due */
    int open;
} rb__jhandles_t;

struct rb__jwriter {
    rb_journal_t *j;
    uv_loop_t *loop;
    rb__jhandles_t *h;
    uv_async_t *async; /* &h->async */
    uv_thread_t thread;
    rb__jconn_t *conn; /* the writer's connection: the file's, or */
    rb_journal_t *pg;  /* PostgreSQL's (journal_pg_append.c): one of the two */

    /* Guarded by j->mu. */
    uv_cond_t work; /* the writer waits here for records */
    uv_cond_t done; /* sync and a starved run_create wait here for commits */
    rb__jrec_t *q_head, *q_tail;
    rb__jchunk_t *c_head, *c_tail; /* the chunks the queued records live in */
    size_t q_len, q_bytes;
    uint64_t q_since; /* uv_hrtime() of the oldest queued record */
    uint64_t appended; /* the last ticket handed out */
    uint64_t want;     /* the highest ticket a flush or sync waits for */
    uint64_t durable;  /* every ticket up to this one is committed */
    int failed;        /* sticky: the first failure */
    char werr[RB__J_ERRLEN];
    int stop;
    int resting;       /* the writer waits with no deadline: a record must signal */
    uint64_t active;   /* uv_hrtime() of the writer's last commit */
    int reserve;       /* the loop asks for a block of run ids */
    int64_t block;
    int64_t id_next, id_end;       /* ids to hand out: [next, end] */
    int64_t spare_next, spare_end; /* the block reserved ahead */
    int64_t last_lo, last_hi;      /* the newest block reserved */
    int64_t id_top;                /* the highest id handed out */
    unsigned delay_ms; /* RUNBOOK_JOURNAL_COMMIT_DELAY_MS: a test knob */

    /* Loop thread only. */
    rb__jflush_t *f_head, *f_tail;
    int refd;
    int wake_due; /* the prepare handle will wake the writer */
};

/* ---- records ------------------------------------------------------------------ */

static size_t slen(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static const char *put(char **p, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = *p;
    memcpy(d, s, n);
    *p += n;
    return d;
}

static size_t rec_size(const rb__jrec_t *r)
{
    return sizeof *r + slen(r->type) + slen(r->step) + slen(r->data) + slen(r->sha256) +
           slen(r->name) + slen(r->path) + (r->source ? r->source_len + 1 : 0) +
           slen(r->runbook) + slen(r->trigger) + slen(r->params) + slen(r->status) +
           slen(r->fingerprint) + slen(r->starts_at) + slen(r->runbooks) + slen(r->outcome);
}

/* Copies r and its strings into mem (rec_size(r) bytes). */
static rb__jrec_t *rec_copy_into(const rb__jrec_t *r, void *mem)
{
    rb__jrec_t *c = mem;
    *c = *r;
    c->next = NULL;
    char *p = (char *)(c + 1);
    c->type = put(&p, r->type, slen(r->type));
    c->step = put(&p, r->step, slen(r->step));
    c->data = put(&p, r->data, slen(r->data));
    c->sha256 = put(&p, r->sha256, slen(r->sha256));
    c->name = put(&p, r->name, slen(r->name));
    c->path = put(&p, r->path, slen(r->path));
    if (r->source) {
        memcpy(p, r->source, r->source_len);
        p[r->source_len] = '\0';
        c->source = p;
        p += r->source_len + 1;
    }
    c->runbook = put(&p, r->runbook, slen(r->runbook));
    c->trigger = put(&p, r->trigger, slen(r->trigger));
    c->params = put(&p, r->params, slen(r->params));
    c->status = put(&p, r->status, slen(r->status));
    c->fingerprint = put(&p, r->fingerprint, slen(r->fingerprint));
    c->starts_at = put(&p, r->starts_at, slen(r->starts_at));
    c->runbooks = put(&p, r->runbooks, slen(r->runbooks));
    c->outcome = put(&p, r->outcome, slen(r->outcome));
    return c;
}

static void free_chunks(rb__jchunk_t *c)
{
    while (c) {
        rb__jchunk_t *next = c->next;
        free(c);
        c = next;
    }
}

/* Caller holds j->mu: the writer's message becomes the caller's. */
static int failed_locked(rb_journal_t *j)
{
    memcpy(j->err, j->w->werr, sizeof j->err);
    return j->w->failed;
}

/* ---- the writer's connection: the file's or PostgreSQL's ------------------------- */

static int conn_batch(rb__jwriter_t *w, const rb__jrec_t *recs, int64_t reserve,
                      rb__jbatch_t *out)
{
    return w->pg ? rb__pg_batch(w->pg, recs, out) : rb__j_batch(w->conn, recs, reserve, out);
}

static const char *conn_err(const rb__jwriter_t *w)
{
    return w->pg ? w->pg->err : rb__j_conn_err(w->conn);
}

static void conn_close(rb__jwriter_t *w)
{
    if (w->pg)
        rb__pg_writer_close(w->pg);
    else
        rb__j_conn_close(w->conn);
}

/* ---- the writer thread ---------------------------------------------------------- */

static void writer_main(void *arg)
{
    rb__jwriter_t *w = arg;
    rb_journal_t *j = w->j;
    const uint64_t linger = (uint64_t)RB__JW_LINGER_MS * 1000000u;

    uv_mutex_lock(&j->mu);
    for (;;) {
        if (w->failed && w->q_head) {
            /* Nothing more is written after a failure (see attach). */
            free_chunks(w->c_head);
            w->q_head = w->q_tail = NULL;
            w->c_head = w->c_tail = NULL;
            w->q_len = w->q_bytes = 0;
        }
        uint64_t now = uv_hrtime();
        int due = w->q_head && (w->stop || w->want > w->durable || w->q_len >= RB__JW_MAX_RECORDS ||
                                w->q_bytes >= RB__JW_MAX_BYTES || now - w->q_since >= linger);
        int reserve = w->reserve && !w->failed && !w->stop;
        if (!due && !reserve) {
            if (w->stop)
                break;
            if (w->q_head) {
                uv_cond_timedwait(&w->work, &j->mu, linger - (now - w->q_since));
            } else if (now - w->active < linger) {
                /* Just committed: a record queued in the next linger is
                 * seen when this wait ends, so appending needs no signal. */
                uv_cond_timedwait(&w->work, &j->mu, linger - (now - w->active));
            } else {
                /* Resting: the next record signals (rb__jw_submit), so an
                 * event reaches the disk within the linger whether or not
                 * the loop turns to wake us. */
                w->resting = 1;
                uv_cond_wait(&w->work, &j->mu);
                w->resting = 0;
            }
            continue;
        }
        rb__jrec_t *batch = w->q_head;
        rb__jchunk_t *chunks = w->c_head;
        uint64_t last = w->q_tail ? w->q_tail->ticket : w->durable;
        w->q_head = w->q_tail = NULL;
        w->c_head = w->c_tail = NULL;
        w->q_len = w->q_bytes = 0;
        int64_t nres = reserve ? w->block : 0;
        uv_mutex_unlock(&j->mu);

        rb__jbatch_t out;
        if (w->delay_ms)
            uv_sleep(w->delay_ms); /* the group is taken: what comes now waits for the next */
        int rc = conn_batch(w, batch, nres, &out);
        free_chunks(chunks);

        uv_mutex_lock(&j->mu);
        if (rc != 0) {
            w->failed = rc;
            memcpy(w->werr, conn_err(w), sizeof w->werr);
        } else {
            w->durable = last;
            if (nres) {
                if (w->id_next > w->id_end) {
                    w->id_next = out.ids_lo;
                    w->id_end = out.ids_hi;
                } else {
                    w->spare_next = out.ids_lo;
                    w->spare_end = out.ids_hi;
                }
                w->last_lo = out.ids_lo;
                w->last_hi = out.ids_hi;
                w->reserve = 0;
            }
        }
        w->active = uv_hrtime();
        uv_cond_broadcast(&w->done);
        int idle = !rc && !w->q_head && !w->reserve && !w->stop;
        /* Poke the loop with the mutex let go: its on_async takes it. */
        uv_mutex_unlock(&j->mu);
        uv_async_send(w->async);
        if (idle && w->conn)
            rb__j_idle(w->conn); /* nothing waiting: checkpoint now, not inside a commit */
        uv_mutex_lock(&j->mu);
    }
    /* Give back the unused tail of the newest block, so that a journal
     * used by one process at a time keeps its run ids 1, 2, 3 … */
    int64_t top = w->last_hi, keep = w->last_lo - 1;
    if (w->id_top >= w->last_lo && w->id_top <= w->last_hi)
        keep = w->id_top;
    int failed = w->failed;
    uv_mutex_unlock(&j->mu);
    if (top && !failed && w->conn)
        rb__j_release_ids(w->conn, top, keep);
}

/* ---- loop side ---------------------------------------------------------------------- */

/* Pops the flush requests the durable ticket now covers (all of them after
 * a failure), and calls them in order. The list is cut first: a callback
 * may flush again (that one waits for the next wake-up), detach, or even
 * close the journal. */
static void on_async(uv_async_t *h)
{
    rb_journal_t *j = h->data;
    rb__jwriter_t *w = j ? j->w : NULL;
    if (!w)
        return;
    uv_mutex_lock(&j->mu);
    uint64_t durable = w->durable;
    int failed = w->failed;
    if (failed)
        failed_locked(j);
    uv_mutex_unlock(&j->mu);

    rb__jflush_t *ready = NULL, **tail = &ready;
    while (w->f_head && (w->f_head->ticket <= durable || failed)) {
        rb__jflush_t *f = w->f_head;
        w->f_head = f->next;
        f->next = NULL;
        *tail = f;
        tail = &f->next;
    }
    if (!w->f_head) {
        w->f_tail = NULL;
        if (w->refd) {
            uv_unref((uv_handle_t *)w->async);
            w->refd = 0;
        }
    }
    while (ready) {
        rb__jflush_t *f = ready;
        ready = f->next;
        f->cb(f->ticket <= durable ? 0 : failed, f->arg);
        free(f);
    }
}

/* The loop is about to wait for I/O after a turn in which a flush was
 * asked for: one wake-up for all of them. It runs before the poll timeout
 * is computed, so stopping the idle handle here costs no extra turn. The
 * flush raised `want` under the mutex before this, so the signal needs no
 * mutex: a writer that has not seen `want` yet is waiting, or will see it
 * before it waits. */
static void on_prepare(uv_prepare_t *h)
{
    rb_journal_t *j = h->data;
    rb__jwriter_t *w = j ? j->w : NULL;
    uv_prepare_stop(h);
    if (!w)
        return;
    uv_idle_stop(&w->h->idle);
    w->wake_due = 0;
    uv_cond_signal(&w->work);
}

/* Only there so that the poll does not block before on_prepare has run (a
 * flush asked for in another prepare callback, after ours). */
static void on_idle(uv_idle_t *h)
{
    (void)h;
}

static void wake_before_poll(rb__jwriter_t *w)
{
    if (w->wake_due)
        return;
    w->wake_due = 1;
    uv_prepare_start(&w->h->prepare, on_prepare);
    uv_idle_start(&w->h->idle, on_idle);
}

static void on_handle_closed(uv_handle_t *h)
{
    rb__jhandles_t *hs = h->data;
    if (--hs->open == 0)
        free(hs);
}

static void close_handles(rb__jhandles_t *hs)
{
    hs->async.data = hs->prepare.data = hs->idle.data = hs;
    hs->open = 3;
    uv_close((uv_handle_t *)&hs->async, on_handle_closed);
    uv_close((uv_handle_t *)&hs->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&hs->idle, on_handle_closed);
}

int rb_journal_attach_loop(rb_journal_t *j, uv_loop_t *loop)
{
    if (!j || !loop || j->w || (j->flags & RB_JOURNAL_READONLY)) {
        if (j)
            snprintf(j->err, sizeof j->err, "%s: attach: %s", j->path,
                     j->w ? "already attached to a loop" : "the journal is read-only");
        return RB_EINVAL;
    }
    int ret = rb_journal_sync(j);
    if (ret != 0)
        return ret;
    rb__jwriter_t *w = calloc(1, sizeof *w);
    if (!w)
        return RB_ENOMEM;
    w->j = j;
    w->loop = loop;
    w->block = RB__JW_IDS_FIRST;
    const char *delay = getenv("RUNBOOK_JOURNAL_COMMIT_DELAY_MS");
    if (delay && *delay)
        w->delay_ms = (unsigned)strtoul(delay, NULL, 10) % 10000;
    w->id_next = 1; /* empty: next > end */
    w->spare_next = 1;
    if (j->pg) {
        /* PostgreSQL: run ids come from the sequence (rb__pg_run_id), no
         * block to reserve */
        if ((ret = rb__pg_writer_open(j, &w->pg)) != 0) {
            free(w);
            return ret;
        }
    } else if ((ret = rb__j_conn_open(j, &w->conn, j->err, sizeof j->err)) != 0) {
        free(w);
        return ret;
    } else {
        /* The first block of run ids now, while the caller is setting up (and
         * waiting: a locked file is said to be locked as soon as on open). */
        rb__jbatch_t out;
        rb__j_conn_patience(w->conn, 1);
        ret = rb__j_batch(w->conn, NULL, w->block, &out);
        rb__j_conn_patience(w->conn, 0);
        if (ret != 0) {
            memcpy(j->err, rb__j_conn_err(w->conn), sizeof j->err);
            rb__j_conn_close(w->conn);
            free(w);
            return ret;
        }
        w->id_next = out.ids_lo;
        w->id_end = out.ids_hi;
        w->last_lo = out.ids_lo;
        w->last_hi = out.ids_hi;
    }
    w->h = calloc(1, sizeof *w->h);
    if (!w->h || uv_async_init(loop, &w->h->async, on_async) != 0) {
        free(w->h);
        conn_close(w);
        free(w);
        return RB_ENOMEM;
    }
    uv_prepare_init(loop, &w->h->prepare);
    uv_idle_init(loop, &w->h->idle);
    w->async = &w->h->async;
    w->h->async.data = w->h->prepare.data = w->h->idle.data = j;
    /* Only a waiting flush keeps the loop alive (see rb_journal_flush). */
    uv_unref((uv_handle_t *)w->async);
    uv_cond_init(&w->work);
    uv_cond_init(&w->done);
    j->w = w;
    if (uv_thread_create(&w->thread, writer_main, w) != 0) {
        j->w = NULL;
        uv_cond_destroy(&w->work);
        uv_cond_destroy(&w->done);
        close_handles(w->h);
        conn_close(w);
        free(w);
        snprintf(j->err, sizeof j->err, "%s: cannot start the writer thread", j->path);
        return RB_ENOMEM;
    }
    return 0;
}

int rb_journal_detach_loop(rb_journal_t *j)
{
    rb__jwriter_t *w = j ? j->w : NULL;
    if (!w)
        return 0;
    uv_mutex_lock(&j->mu);
    w->stop = 1;
    uv_cond_signal(&w->work);
    uv_mutex_unlock(&j->mu);
    uv_thread_join(&w->thread);

    /* The thread is gone: everything is committed, or failed. */
    int failed = w->failed;
    uint64_t durable = w->durable;
    if (failed)
        failed_locked(j);
    rb__jflush_t *f = w->f_head;
    j->w = NULL;
    conn_close(w);
    uv_cond_destroy(&w->work);
    uv_cond_destroy(&w->done);
    close_handles(w->h);
    free(w);
    while (f) {
        rb__jflush_t *next = f->next;
        f->cb(f->ticket <= durable ? 0 : failed, f->arg);
        free(f);
        f = next;
    }
    return failed;
}

int rb_journal_flush(rb_journal_t *j, rb_journal_flush_cb cb, void *arg)
{
    rb__jwriter_t *w = j ? j->w : NULL;
    if (!w || !cb) {
        if (j)
            snprintf(j->err, sizeof j->err, "%s: flush: %s", j->path,
                     w ? "no callback" : "the journal is not attached to a loop");
        return RB_EINVAL;
    }
    rb__jflush_t *f = malloc(sizeof *f);
    if (!f)
        return RB_ENOMEM;
    f->next = NULL;
    f->cb = cb;
    f->arg = arg;
    if (w->f_tail)
        w->f_tail->next = f;
    else
        w->f_head = f;
    w->f_tail = f;
    if (!w->refd) {
        uv_ref((uv_handle_t *)w->async);
        w->refd = 1;
    }
    uv_mutex_lock(&j->mu);
    f->ticket = w->appended;
    int answered = w->durable >= f->ticket || w->failed;
    if (!answered && w->want < f->ticket)
        w->want = f->ticket;
    uv_mutex_unlock(&j->mu);
    if (!answered)
        wake_before_poll(w);
    /* Already durable (or failed): the writer will not poke the loop for
     * it, so poke it ourselves; the callback still runs from the loop. */
    if (answered)
        uv_async_send(w->async);
    return 0;
}

/* ---- for journal_append.c ------------------------------------------------------------- */

int rb__jw_submit(rb_journal_t *j, const rb__jrec_t *r)
{
    rb__jwriter_t *w = j->w;
    size_t bytes = rec_size(r);
    size_t need = (bytes + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    uv_mutex_lock(&j->mu);
    if (w->failed) {
        int ret = failed_locked(j);
        uv_mutex_unlock(&j->mu);
        return ret;
    }
    rb__jchunk_t *k = w->c_tail;
    if (!k || k->cap - k->used < need) {
        size_t cap = need > RB__JW_CHUNK ? need : RB__JW_CHUNK;
        k = malloc(sizeof *k + cap);
        if (!k) {
            uv_mutex_unlock(&j->mu);
            snprintf(j->err, sizeof j->err, "%s: out of memory", j->path);
            return RB_ENOMEM;
        }
        k->next = NULL;
        k->used = 0;
        k->cap = cap;
        if (w->c_tail)
            w->c_tail->next = k;
        else
            w->c_head = k;
        w->c_tail = k;
    }
    rb__jrec_t *c = rec_copy_into(r, (char *)k->data + k->used);
    k->used += need;
    c->ticket = ++w->appended;
    if (w->q_tail) {
        w->q_tail->next = c;
    } else {
        w->q_head = c;
        w->q_since = uv_hrtime();
    }
    w->q_tail = c;
    w->q_len++;
    w->q_bytes += bytes;
    /* A full queue is due now, and a large group need not wait for the end
     * of the iteration: the writer starts on it while the loop goes on. A
     * resting writer has no deadline to wake at, so it must hear of the
     * record now (its linger starts). Otherwise the writer is lingering
     * after a commit, or already waiting out the oldest record's linger,
     * and sees this one when that wait ends: no signal, no wake-up. */
    int full = w->q_len == RB__JW_GROUP || w->q_len >= RB__JW_MAX_RECORDS ||
               w->q_bytes >= RB__JW_MAX_BYTES;
    if (full || w->resting) {
        w->resting = 0;
        uv_cond_signal(&w->work);
    }
    uv_mutex_unlock(&j->mu);
    return 0;
}

int rb__jw_sync(rb_journal_t *j)
{
    rb__jwriter_t *w = j->w;
    uv_mutex_lock(&j->mu);
    uint64_t ticket = w->appended;
    if (w->want < ticket) {
        w->want = ticket;
        uv_cond_signal(&w->work);
    }
    while (w->durable < ticket && !w->failed)
        uv_cond_wait(&w->done, &j->mu);
    int ret = w->durable >= ticket ? 0 : failed_locked(j);
    uv_mutex_unlock(&j->mu);
    return ret;
}

int rb__jw_run_id(rb_journal_t *j, int64_t *id)
{
    rb__jwriter_t *w = j->w;
    int ret = 0;
    uv_mutex_lock(&j->mu);
    for (;;) {
        if (w->failed) {
            ret = failed_locked(j);
            break;
        }
        if (w->id_next > w->id_end && w->spare_next <= w->spare_end) {
            w->id_next = w->spare_next;
            w->id_end = w->spare_end;
            w->spare_next = 1;
            w->spare_end = 0;
        }
        if (w->id_next <= w->id_end) {
            *id = w->id_next++;
            w->id_top = *id;
            /* Low: have the next block reserved before this one runs out. */
            if (!w->reserve && w->spare_next > w->spare_end &&
                (w->id_end - w->id_next + 1) * 2 < w->block) {
                w->reserve = 1;
                uv_cond_signal(&w->work);
            }
            break;
        }
        /* A burst bigger than the block: wait for the writer (rare; the
         * blocks grow so that it stays rare). */
        if (w->block < RB__JW_IDS_MAX)
            w->block *= 4;
        w->reserve = 1;
        uv_cond_signal(&w->work);
        uv_cond_wait(&w->done, &j->mu);
    }
    uv_mutex_unlock(&j->mu);
    return ret;
}
