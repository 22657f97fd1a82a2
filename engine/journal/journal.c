/*
 * journal.c — the SQLite journal (DESIGN §5): the journal handle and its
 * connections. Opening (a connection set up for WAL, the synchronous level,
 * the busy timeout; then the schema, journal_schema.c, and the recovery of
 * dead processes' runs, journal_interrupt.c), closing, the writer thread's
 * own connection and its WAL checkpoints, the cached prepared statements,
 * and the one-line errors an operator reads.
 *
 * The engine/journal*.c files are the only code in the project that
 * touches SQLite; nothing else may include <sqlite3.h>. Of them, writing
 * is journal_append.c, reading journal_read.c, verify and prune
 * journal_audit.c (journal_int.h lists them all).
 *
 * Owns: the sqlite3 connections of a journal handle (the caller's, and in
 * writer mode the writer thread's) with their cached prepared statements.
 * Must never: use one connection from two threads; carry a connection
 * across fork(); hide the cause an operator can fix behind SQLite's
 * generic text.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_int.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RB__J_BUSY_MS     2000       /* the caller's connection: then say "locked" */
#define RB__J_W_BUSY_MS   10000      /* the writer thread: nobody waits on it */
#define RB__J_WAL_IDLE    1000       /* WAL pages the writer checkpoints when idle */
#define RB__J_WAL_BUSY    10000      /* … and when busy (SQLite's own default: 1000) */

const char *const rb__j_sql[RB__JST_COUNT] = {
    [RB__JST_VERSION_PUT] =
        "INSERT OR IGNORE INTO versions(sha256, name, path, source, recorded_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
    [RB__JST_VERSION_GET] = "SELECT source FROM versions WHERE sha256 = ?1",
    /* the newest runs, of any runbook, with a concurrency key (events_concurrency) */
    [RB__JST_KEY_RUNS] =
        "SELECT r.id, r.ended_at, r.runbook FROM events e JOIN runs r ON r.id = e.run_id"
        " WHERE e.type = 'run_started' AND json_extract(e.data, '$.concurrency_key') = ?1"
        " ORDER BY r.id DESC LIMIT 64",
    /* ?1 NULL: SQLite picks the id; else an id the writer reserved. */
    [RB__JST_RUN_CREATE] =
        "INSERT INTO runs(id, runbook, sha256, status, trigger, params, started_at,"
        " owner_pid, owner_start, owner_boot)"
        " VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7, ?8, ?9)",
    [RB__JST_RUN_STATUS] =
        "UPDATE runs SET status = ?2,"
        " ended_at = CASE WHEN ?3 THEN ?4 ELSE NULL END,"
        " owner_pid = CASE WHEN ?3 THEN owner_pid ELSE ?5 END,"
        " owner_start = CASE WHEN ?3 THEN owner_start ELSE ?6 END,"
        " owner_boot = CASE WHEN ?3 THEN owner_boot ELSE ?7 END,"
        " started_at = coalesce(?8, started_at)"
        " WHERE id = ?1",
    [RB__JST_EVENT] =
        "INSERT INTO events(id, run_id, seq, wall_ms, mono_ns, type, step, attempt, data,"
        " prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    /* One seek on UNIQUE(run_id, seq). */
    [RB__JST_SEQ_MAX] = "SELECT max(seq) FROM events WHERE run_id = ?1",
    [RB__JST_HEAD_GET] = "SELECT event_id, hash FROM chain_head WHERE one = 1",
    [RB__JST_HEAD_SET] = "UPDATE chain_head SET event_id = ?1, hash = ?2 WHERE one = 1",
    [RB__JST_RUNS] =
        "SELECT id, runbook, sha256, status, trigger, started_at, ended_at"
        " FROM runs ORDER BY id DESC LIMIT ?1",
    [RB__JST_RUN_GET] =
        "SELECT id, runbook, sha256, status, trigger, params, started_at, ended_at"
        " FROM runs WHERE id = ?1",
    /* the server's alert claims (journal_alerts.c): the UNIQUE insert is the claim */
    [RB__JST_ALERT_PUT] =
        "INSERT OR IGNORE INTO alerts(fingerprint, starts_at, received_at, payload, status,"
        " runbooks, resolved_at, resolved)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?5 = 'resolved' THEN ?3 END,"
        " CASE WHEN ?5 = 'resolved' THEN ?4 END)",
    [RB__JST_ALERT_RUN_PUT] =
        "INSERT OR IGNORE INTO alert_runs(fingerprint, starts_at, runbook, run_id, outcome,"
        " recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [RB__JST_ALERT_RESOLVE] =
        "UPDATE alerts SET resolved_at = ?3, resolved = ?4"
        " WHERE fingerprint = ?1 AND starts_at = ?2 AND resolved_at IS NULL",
    [RB__JST_ALERT_GET] =
        "SELECT status, runbooks, resolved_at, received_at, payload FROM alerts"
        " WHERE fingerprint = ?1 AND starts_at = ?2",
    [RB__JST_ALERT_RUNS_GET] =
        "SELECT runbook, run_id, outcome FROM alert_runs WHERE fingerprint = ?1 AND starts_at = ?2"
        " ORDER BY runbook",
    [RB__JST_VERSIONS] =
        "SELECT v.sha256, v.path, v.recorded_at,"
        " (SELECT count(*) FROM runs r WHERE r.sha256 = v.sha256),"
        " (SELECT max(started_at) FROM runs r WHERE r.sha256 = v.sha256)"
        " FROM versions v WHERE v.name = ?1 ORDER BY v.recorded_at DESC, v.rowid DESC",
    [RB__JST_SIG_LAST] = "SELECT id, event_id, key_id FROM signatures ORDER BY id DESC LIMIT 1",
    [RB__JST_SIG_PUT] =
        "INSERT INTO signatures(id, event_id, hash, signed_at, key_id, signature)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [RB__JST_BEGIN] = "BEGIN IMMEDIATE",
    [RB__JST_COMMIT] = "COMMIT",
    [RB__JST_RUN_EVENTS] =
        "SELECT seq, wall_ms, mono_ns, type, step, attempt, data"
        " FROM events WHERE run_id = ?1 ORDER BY seq",
};

/* ---- errors -------------------------------------------------------------- */

/*
 * Turns an SQLite failure into the one line an operator reads: the file,
 * what we were doing, and a reason worded so the fix is obvious. Returns the
 * RB_E* code for rc.
 */
static int rb__j_reason(sqlite3 *db, const char *path, int rc, const char *what,
                        char *err, size_t errlen)
{
    char buf[320];
    const char *reason;
    /* A failure of RUNBOOK_JOURNAL_FAULT (journal_fault.c): SQLite did not
     * run, so neither its errno nor its message belongs to it. */
    const int injected = rb__j_fault_fired();
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
        reason = "file is not a database (not a runbook journal?)";
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        reason = "database is locked by another process";
        break;
    case SQLITE_READONLY:
        reason = "attempt to write a readonly database";
        break;
    case SQLITE_FULL:
        reason = "database or disk is full";
        break;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR: {
        /* SQLite's text alone ("disk I/O error") hides the cause the
         * operator can fix; the errno says it (permissions, a directory,
         * no space). */
        int kept = rb__j_sys_errno();
        int e = db && !injected ? sqlite3_system_errno(db) : 0;
        if (!e && !injected)
            e = kept;
        const char *base = (rc & 0xff) == SQLITE_CANTOPEN ? "unable to open database file"
                                                           : "disk I/O error";
        if (e)
            snprintf(buf, sizeof buf, "%s: %s", base, strerror(e));
        else
            snprintf(buf, sizeof buf, "%s", base);
        reason = buf;
        break;
    }
    default:
        /* The connection's message is the specific one ("FOREIGN KEY
         * constraint failed", "events are append-only" …). */
        reason = db && !injected ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        break;
    }
    if (injected && reason != buf) {
        snprintf(buf, sizeof buf, "%s", reason);
        reason = buf;
    }
    if (injected)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), " (RUNBOOK_JOURNAL_FAULT)");
    if (err && errlen) {
        if (what)
            snprintf(err, errlen, "%s: %s: %s", path, what, reason);
        else
            snprintf(err, errlen, "%s: %s", path, reason);
    }
    return (rc & 0xff) == SQLITE_NOMEM ? RB_ENOMEM : RB_EJOURNAL;
}

int rb__j_failc(rb__jconn_t *c, int rc, const char *what)
{
    return rb__j_reason(c->db, c->j->path, rc, what, c->err, c->errlen);
}

/* A failure of our own making (not SQLite's), in the same shape. */
int rb__j_say(rb__jconn_t *c, int ret, const char *fmt, ...)
{
    char msg[RB__J_ERRLEN - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s", c->j->path, msg);
    return ret;
}

const char *rb_journal_errmsg(const rb_journal_t *j)
{
    return j ? j->err : "";
}

const char *rb_journal_name(const rb_journal_t *j)
{
    return j && j->path ? j->path : "";
}

const char *rb__j_conn_err(const rb__jconn_t *c)
{
    return c->err;
}

/* ---- small helpers -------------------------------------------------------- */

int64_t rb__j_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rb__j_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int rb__j_stmt(rb__jconn_t *c, int id, sqlite3_stmt **out)
{
    if (!c->st[id]) {
        int rc = rb__j_prepare_v3(c->db, rb__j_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->st[id], NULL);
        if (rc != SQLITE_OK)
            return rb__j_failc(c, rc, "preparing a statement");
    }
    *out = c->st[id];
    return 0;
}

/* Every cached statement goes back to idle after use: a statement left
 * mid-step would hold a read snapshot open, and bound text pointers are
 * often freed right after. */
void rb__j_release(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* One integer from a one-row PRAGMA or query (0 when no row or NULL). */
int rb__j_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = rb__j_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = rb__j_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        *out = 0;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The canonical text of a JSON value (journal_chain.c), malloc'd: compact,
 * keys sorted, so that the same data always hashes the same. */
char *rb__j_dumps(const json_t *v)
{
    rb__buf_t b = { 0 };
    if (rb__canon_json(&b, v) != 0) {
        rb__buf_free(&b);
        return NULL;
    }
    return b.p;
}

/* A BLOB column as exactly RB__J_HASH_LEN bytes, or NULL. */
const unsigned char *rb__j_col_hash(sqlite3_stmt *st, int col)
{
    const void *b = sqlite3_column_blob(st, col);
    return b && sqlite3_column_bytes(st, col) == RB__J_HASH_LEN ? b : NULL;
}

/* An event's row, both ways: the same columns, in the same order, whether
 * an append writes it, the migration re-chains it or verify reads it. */

void rb__j_bind_event(sqlite3_stmt *st, const rb__jev_t *e,
                      const unsigned char hash[RB__J_HASH_LEN])
{
    sqlite3_bind_int64(st, 1, e->id);
    sqlite3_bind_int64(st, 2, e->run_id);
    sqlite3_bind_int64(st, 3, e->seq);
    sqlite3_bind_int64(st, 4, e->wall_ms);
    sqlite3_bind_int64(st, 5, e->mono_ns);
    sqlite3_bind_text(st, 6, e->type, (int)e->type_len, SQLITE_STATIC);
    if (e->step)
        sqlite3_bind_text(st, 7, e->step, (int)e->step_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_int64(st, 8, e->attempt);
    sqlite3_bind_text(st, 9, e->data, (int)e->data_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 10, e->prev_hash, RB__J_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 11, hash, RB__J_HASH_LEN, SQLITE_STATIC);
}

void rb__j_col_event(sqlite3_stmt *st, int col, rb__jev_t *e)
{
    e->run_id = sqlite3_column_int64(st, col);
    e->seq = sqlite3_column_int64(st, col + 1);
    e->wall_ms = sqlite3_column_int64(st, col + 2);
    e->mono_ns = sqlite3_column_int64(st, col + 3);
    /* The text first, then its length: the length of the text SQLite made. */
    e->type = (const char *)sqlite3_column_text(st, col + 4);
    e->type_len = (size_t)sqlite3_column_bytes(st, col + 4);
    e->step = sqlite3_column_type(st, col + 5) == SQLITE_NULL
                  ? NULL
                  : (const char *)sqlite3_column_text(st, col + 5);
    e->step_len = (size_t)sqlite3_column_bytes(st, col + 5);
    e->attempt = sqlite3_column_int64(st, col + 6);
    e->data = (const char *)sqlite3_column_text(st, col + 7);
    e->data_len = (size_t)sqlite3_column_bytes(st, col + 7);
    if (!e->type)
        e->type = "";
    if (!e->data)
        e->data = "";
}

int rb__j_sha256_hex(const char *s, size_t len, char hex[65])
{
    unsigned char md[RB__J_HASH_LEN];
    if (rb__j_sha256(s, len, md) != 0)
        return RB_EJOURNAL;
    rb__hex(md, RB__J_HASH_LEN, hex);
    return 0;
}

/* ---- connections ------------------------------------------------------------ */

static void rb__j_conn_free(rb__jconn_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < RB__JST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    rb__map_free(&c->seqs);
    rb__hasher_free(&c->hasher);
    free(c);
}

/*
 * SQLite's reason for a journal on a read-only file system misleads ("unable
 * to open database file: No such file or directory" — the file it could
 * not create is the -wal beside the journal). When the journal exists and
 * its directory cannot be written, say that instead.
 */
static void rb__j_explain_ro(const char *path, int rc, int ro, char *err, size_t errlen)
{
    int code = rc & 0xff;
    if (code != SQLITE_CANTOPEN && code != SQLITE_READONLY && code != SQLITE_IOERR)
        return;
    if (access(path, F_OK) != 0)
        return;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    if (access(dir, W_OK) == 0 && (ro || access(path, W_OK) == 0))
        return;
    int e = errno;
    if (ro)
        snprintf(err, errlen,
                 "%s: cannot read the journal: its directory is read-only (%s), and a journal"
                 " (SQLite WAL) needs its -wal and -shm files beside it; copy the file"
                 " somewhere writable, or mount it read-write", path, strerror(e));
    else
        snprintf(err, errlen,
                 "%s: cannot write the journal: %s (%s); the journal and its directory must be"
                 " writable", path, access(dir, W_OK) == 0 ? "the file is read-only"
                                                           : "its directory is read-only",
                 strerror(e));
}

/* Opens path and sets the connection up: WAL and the synchronous level for
 * writing, foreign keys, the busy timeout, the page cap of
 * RUNBOOK_JOURNAL_MAX_PAGES. The first read of the header happens here, so
 * that a non-database or a locked file fails before anything changes. */
static int rb__j_conn_new(rb_journal_t *j, int ro, int busy_ms, char *errbuf, size_t errlen,
                          rb__jconn_t **out)
{
    *out = NULL;
    rb__jconn_t *c = calloc(1, sizeof *c);
    if (!c)
        return RB_ENOMEM;
    c->j = j;
    c->err = errbuf;
    c->errlen = errlen;
    /* A read-only connection hashes nothing (verify has its own hasher);
     * OpenSSL's first fetch of SHA-256 costs a `runbook show` about 1 ms. */
    if (!ro && rb__hasher_init(&c->hasher) != 0) {
        free(c);
        return RB_ENOMEM;
    }
    /* NOMUTEX: a connection is only ever used by one thread (the caller's,
     * or the writer's), so SQLite need not lock it on every call. */
    int rc = rb__j_open_v2(j->path, &c->db,
                             (ro ? SQLITE_OPEN_READONLY
                                 : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    int ret;
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_extended_result_codes(c->db, 1);
    /* A short wait rides out another process's commit; longer than this,
     * the operator should hear that something holds the file. */
    sqlite3_busy_timeout(c->db, busy_ms);
    int64_t v = 0;
    if ((rc = rb__j_int(c->db, "PRAGMA user_version", &v)) != SQLITE_OK)
        goto fail;
    if (!ro) {
        /* WAL: readers (runbook show, the server's API) never block the
         * writer. FULL: a commit is on the disk when it returns. NORMAL:
         * the WAL is synced only at checkpoints — a power failure may lose
         * the newest commits, never the file's consistency. */
        const char *sync = (j->flags & RB_JOURNAL_SYNC_NORMAL) ? "PRAGMA synchronous = NORMAL"
                                                                : "PRAGMA synchronous = FULL";
        if ((rc = rb__j_exec(c->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)) !=
                SQLITE_OK ||
            (rc = rb__j_exec(c->db, sync, NULL, NULL, NULL)) != SQLITE_OK)
            goto fail;
        /* A group commit of thousands of events must not spill: with the
         * default 2 MiB the (run_id, seq) index pages are written out and
         * read back within one transaction. Memory, not disk, is cheap. */
        if ((rc = rb__j_exec(c->db, "PRAGMA cache_size = -16384", NULL, NULL, NULL)) !=
            SQLITE_OK)
            goto fail;
        if ((rc = rb__j_int(c->db, "PRAGMA synchronous", &v)) != SQLITE_OK)
            goto fail;
        j->stats.synchronous = (int)v;
        /* A test and operations knob: a full disk on demand. */
        const char *cap = getenv("RUNBOOK_JOURNAL_MAX_PAGES");
        if (cap && *cap) {
            char sql[64];
            snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", strtoll(cap, NULL, 10));
            if ((rc = rb__j_int(c->db, sql, &v)) != SQLITE_OK)
                goto fail;
        }
    }
    /* A reader maps the file rather than copying each page it reads
     * (a run of 10,000 events is over 300 pages, read twice by `show` and
     * `report`: the events, then their hash chain). */
    if (ro && (rc = rb__j_exec(c->db, "PRAGMA mmap_size = 268435456", NULL, NULL, NULL)) != SQLITE_OK)
        goto fail;
    if ((rc = rb__j_exec(c->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL)) != SQLITE_OK)
        goto fail;
    *out = c;
    return 0;

fail:
    ret = rb__j_failc(c, rc, NULL);
    rb__j_explain_ro(j->path, rc, ro, errbuf, errlen);
    rb__j_conn_free(c);
    return ret;
}

static int rb__j_wal_hook(void *arg, sqlite3 *db, const char *name, int frames);

int rb__j_conn_open(rb_journal_t *j, rb__jconn_t **out, char *err, size_t errlen)
{
    rb__jconn_t *c;
    int ret = rb__j_conn_new(j, 0, RB__J_W_BUSY_MS, err, errlen, &c);
    if (ret != 0)
        return ret;
    /* From now on the writer thread describes its failures in its own
     * buffer; the caller's belongs to the caller's thread. */
    c->err = c->own_err; // NOLINT(clang-analyzer-core.NullDereference): rb__j_conn_new sets c when it returns 0
    c->errlen = sizeof c->own_err;
    sqlite3_wal_hook(c->db, rb__j_wal_hook, c);
    *out = c;
    return 0;
}

void rb__j_conn_close(rb__jconn_t *c)
{
    rb__j_conn_free(c);
}

void rb__j_conn_patience(rb__jconn_t *c, int caller_waits)
{
    sqlite3_busy_timeout(c->db, caller_waits ? RB__J_BUSY_MS : RB__J_W_BUSY_MS);
}

/*
 * The writer's WAL: SQLite's automatic checkpoint would run inside a
 * commit every 1000 pages, copying back the same hot index pages again and
 * again while a group commit waits. The writer checkpoints when it is idle
 * instead (rb__j_idle), and inside a commit only when the WAL has grown
 * large.
 */
static int rb__j_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    rb__jconn_t *c = arg;
    c->wal_frames = frames;
    if (frames >= RB__J_WAL_BUSY &&
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) == SQLITE_OK)
        c->wal_frames = 0;
    return SQLITE_OK;
}

void rb__j_idle(rb__jconn_t *c)
{
    if (c->wal_frames >= RB__J_WAL_IDLE &&
        sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) == SQLITE_OK)
        c->wal_frames = 0;
}

/* ---- open, close ------------------------------------------------------------- */

/* The journal holds what runbooks did, their parameters (secrets masked)
 * and alerts: readable by its owner alone. A missing file is made here,
 * mode 0600 whatever the umask; SQLite gives the -wal and -shm files the
 * database file's mode. An existing file keeps its mode. */
static int rb__j_create_private(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return 0; /* there already, or SQLite says why it cannot be made */
    int rc = fchmod(fd, 0600); /* a umask may have taken the owner's bits */
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot make the journal private: %s", path, strerror(errno));
        return RB_EIO;
    }
    return 0;
}

/* RB_JOURNAL_EXCLUSIVE: the flock, before SQLite reads a byte. */
static int rb__j_lock(rb_journal_t *j, char *err, size_t errlen)
{
    j->lock_fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (j->lock_fd < 0) {
        snprintf(err, errlen, "%s: %s", j->path, strerror(errno));
        return RB_EIO;
    }
    if (flock(j->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    int e = errno;
    close(j->lock_fd);
    j->lock_fd = -1;
    if (e == EWOULDBLOCK) {
        snprintf(err, errlen, "%s: another `runbook serve` serves from this journal; one "
                              "server per journal", j->path);
        return RB_EBUSY;
    }
    snprintf(err, errlen, "%s: cannot lock the journal: %s", j->path, strerror(e));
    return RB_EIO;
}

int rb_journal_open(const char *path, int flags, rb_journal_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!path || !*path) {
        if (err && errlen)
            snprintf(err, errlen, "no journal path given");
        return RB_EINVAL;
    }
    rb_journal_t *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path)) || uv_mutex_init(&j->mu) != 0) {
        if (j)
            free(j->path);
        free(j);
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", path);
        return RB_ENOMEM;
    }
    j->flags = flags;
    j->lock_fd = -1;
    const int ro = flags & RB_JOURNAL_READONLY;
    int ret = 0;
    if (rb_journal_is_url(path)) {
        /* PostgreSQL (journal_pg.c): a writable open makes the schema in a
         * database that has none, as a new file gets it. No file lock
         * (RB_JOURNAL_EXCLUSIVE) and no crash recovery here: engines share
         * the database. */
        ret = rb__pg_open(j, path, !ro);
        goto opened;
    }
    rb__j_fault_arm();
    ret = ro || !strcmp(path, ":memory:") ? 0 : rb__j_create_private(path, j->err, sizeof j->err);
    if (ret == 0 && (flags & RB_JOURNAL_EXCLUSIVE))
        ret = rb__j_lock(j, j->err, sizeof j->err);
    if (ret == 0)
        ret = rb__j_conn_new(j, ro, RB__J_BUSY_MS, j->err, sizeof j->err, &j->c);
    if (ret == 0)
        ret = rb__j_migrate(j);
    if (ret == 0 && !ro && !(flags & RB_JOURNAL_NO_RECOVER))
        ret = rb__j_recover(j);
opened:
    if (ret != 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s", j->err[0] ? j->err : rb_strerror(ret));
        rb__pg_close(j);
        rb__j_conn_free(j->c);
        if (j->lock_fd >= 0)
            close(j->lock_fd);
        json_decref(j->recovered);
        uv_mutex_destroy(&j->mu);
        free(j->path);
        free(j);
        return ret;
    }
    *out = j;
    return 0;
}

void rb_journal_close(rb_journal_t *j)
{
    if (!j)
        return;
    if (j->w)
        rb_journal_detach_loop(j); /* nobody to tell if it fails: the caller chose not to */
    if ((j->c && j->c->in_txn) || j->pg)
        rb_journal_sync(j); /* PostgreSQL: commits an open write transaction, if any */
    rb__pg_close(j);
    rb__j_conn_free(j->c);
    if (j->lock_fd >= 0)
        close(j->lock_fd); /* after the connections: see lock_fd */
    json_decref(j->recovered);
    rb_journal_key_free(j->sign_key);
    rb__buf_free(&j->enc);
    uv_mutex_destroy(&j->mu);
    free(j->path);
    free(j);
}
