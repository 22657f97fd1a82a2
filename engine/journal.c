/*
 * journal.c — the SQLite journal (DESIGN §5): opening and migrating the
 * file, appending versions, runs and events, and reading them back.
 *
 * Owns: the only sqlite3 connection of a journal handle and its cached
 * prepared statements; the write transaction that is open between the first
 * append and rb_journal_sync(). This is the only file in the project that
 * touches SQLite; nothing else may include <sqlite3.h>.
 *
 * Must never: update or delete an event (the schema refuses it anyway);
 * let an append become durable out of order; carry the connection across
 * fork(); block anything but its caller's thread.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal_sql.h" /* rb__journal_sql[]: schemas/journal.sql + NUL, generated */

#define RB__J_APP_ID      0x52554e42 /* 'RUNB', set by journal.sql */
#define RB__J_BUSY_MS     2000

/*
 * Migrations from one schema version to the next, applied in order to a
 * journal whose user_version is lower than .version, each in the same
 * transaction as the version bump. journal.sql is version 1 (or, when it is
 * updated for a new version, that version: it sets user_version itself, and
 * only the migrations above what it set are then run). End: .sql == NULL.
 */
static const struct {
    int version;
    const char *sql;
} rb__j_migrations[] = {
    /* { 2, "ALTER TABLE events ADD COLUMN prev_hash BLOB; ..." }, */
    { 0, NULL },
};

enum {
    ST_VERSION_PUT,
    ST_VERSION_GET,
    ST_RUN_CREATE,
    ST_RUN_STATUS,
    ST_EVENT,
    ST_RUNS,
    ST_RUN_GET,
    ST_RUN_EVENTS,
    ST__COUNT
};

static const char *const rb__j_sql[ST__COUNT] = {
    [ST_VERSION_PUT] =
        "INSERT OR IGNORE INTO versions(sha256, name, path, source, recorded_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_VERSION_GET] = "SELECT source FROM versions WHERE sha256 = ?1",
    [ST_RUN_CREATE] =
        "INSERT INTO runs(runbook, sha256, status, trigger, params, started_at)"
        " VALUES (?1, ?2, 'running', ?3, ?4, ?5)",
    [ST_RUN_STATUS] =
        "UPDATE runs SET status = ?2,"
        " ended_at = CASE WHEN ?3 THEN ?4 ELSE ended_at END WHERE id = ?1",
    /* The seq comes from the file, not from memory: inside the IMMEDIATE
     * transaction no other process can append, so this is right however
     * many processes take turns writing the same run (server, resume …).
     * ORDER BY … LIMIT 1 is one seek on the primary key. */
    [ST_EVENT] =
        "INSERT INTO events(run_id, seq, wall_ms, mono_ns, type, step, attempt, data)"
        " VALUES (?1, coalesce((SELECT seq FROM events WHERE run_id = ?1"
        " ORDER BY seq DESC LIMIT 1), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_RUNS] =
        "SELECT id, runbook, sha256, status, trigger, started_at, ended_at"
        " FROM runs ORDER BY id DESC LIMIT ?1",
    [ST_RUN_GET] =
        "SELECT id, runbook, sha256, status, trigger, params, started_at, ended_at"
        " FROM runs WHERE id = ?1",
    [ST_RUN_EVENTS] =
        "SELECT seq, wall_ms, mono_ns, type, step, attempt, data"
        " FROM events WHERE run_id = ?1 ORDER BY seq",
};

struct rb_journal {
    sqlite3 *db;
    char *path;
    int flags;
    int in_txn;   /* a BEGIN IMMEDIATE is open */
    int pending;  /* writes in the open transaction */
    int lost;     /* an error rolled back writes that had returned 0 */
    sqlite3_stmt *st[ST__COUNT];
    char err[512];
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
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR: {
        /* SQLite's text alone ("disk I/O error") hides the cause the
         * operator can fix; the errno says it (permissions, a directory,
         * no space). */
        int e = db ? sqlite3_system_errno(db) : 0;
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
        reason = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        break;
    }
    if (err && errlen) {
        if (what)
            snprintf(err, errlen, "%s: %s: %s", path, what, reason);
        else
            snprintf(err, errlen, "%s: %s", path, reason);
    }
    return (rc & 0xff) == SQLITE_NOMEM ? RB_ENOMEM : RB_EJOURNAL;
}

static int rb__j_fail(rb_journal_t *j, int rc, const char *what)
{
    return rb__j_reason(j->db, j->path, rc, what, j->err, sizeof j->err);
}

const char *rb_journal_errmsg(const rb_journal_t *j)
{
    return j ? j->err : "";
}

/* ---- small helpers -------------------------------------------------------- */

static int64_t rb__j_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t rb__j_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int rb__j_stmt(rb_journal_t *j, int id, sqlite3_stmt **out)
{
    if (!j->st[id]) {
        int rc = sqlite3_prepare_v3(j->db, rb__j_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &j->st[id], NULL);
        if (rc != SQLITE_OK)
            return rb__j_fail(j, rc, "preparing a statement");
    }
    *out = j->st[id];
    return 0;
}

/* Every cached statement goes back to idle after use: a statement left
 * mid-step would hold a read snapshot open, and bound text pointers are
 * often freed right after. */
static void rb__j_release(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* One integer from a one-row PRAGMA or query. */
static int rb__j_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
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

static char *rb__j_dumps(const json_t *v)
{
    if (!v)
        return strdup("{}");
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- open, migrate, close ------------------------------------------------- */

static int rb__j_latest_version(void)
{
    int v = 1;
    for (int i = 0; rb__j_migrations[i].sql; i++)
        if (rb__j_migrations[i].version > v)
            v = rb__j_migrations[i].version;
    return v;
}

/* Checks the file is ours and brings its schema up to date. Runs in one
 * IMMEDIATE transaction so that two processes opening a new file at the same
 * moment cannot both create the tables. */
static int rb__j_migrate(rb_journal_t *j)
{
    const int latest = rb__j_latest_version();
    int64_t uv = 0, app = 0, objects = 0;
    int rc;

    if ((rc = rb__j_int(j->db, "PRAGMA user_version", &uv)) != SQLITE_OK)
        return rb__j_fail(j, rc, NULL);
    if (uv > latest) {
        snprintf(j->err, sizeof j->err,
                 "%s: journal schema version %lld is newer than this runbook (%s) knows (%d);"
                 " upgrade runbook", j->path, (long long)uv, RB_VERSION, latest);
        return RB_EJOURNAL;
    }
    if (uv == latest)
        goto check_app;
    if (j->flags & RB_JOURNAL_READONLY) {
        if (uv == 0)
            snprintf(j->err, sizeof j->err, "%s: empty database, not a runbook journal", j->path);
        else
            snprintf(j->err, sizeof j->err,
                     "%s: journal schema version %lld is older than %d; open it once"
                     " read-write to upgrade it", j->path, (long long)uv, latest);
        return RB_EJOURNAL;
    }

    if ((rc = sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
        return rb__j_fail(j, rc, NULL);
    /* Read again under the write lock: another process may have won. */
    if ((rc = rb__j_int(j->db, "PRAGMA user_version", &uv)) != SQLITE_OK)
        goto fail;
    if (uv == 0) {
        /* A database with tables but no version is somebody else's file:
         * adding our tables to it would be worse than refusing. */
        if ((rc = rb__j_int(j->db, "SELECT count(*) FROM sqlite_master", &objects)) != SQLITE_OK)
            goto fail;
        if (objects) {
            sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
            snprintf(j->err, sizeof j->err,
                     "%s: an SQLite database, but not a runbook journal", j->path);
            return RB_EJOURNAL;
        }
        if ((rc = sqlite3_exec(j->db, (const char *)rb__journal_sql, NULL, NULL, NULL)) != SQLITE_OK)
            goto fail;
        if ((rc = rb__j_int(j->db, "PRAGMA user_version", &uv)) != SQLITE_OK)
            goto fail;
    }
    for (int i = 0; rb__j_migrations[i].sql; i++) {
        if (rb__j_migrations[i].version <= uv)
            continue;
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", rb__j_migrations[i].version);
        if ((rc = sqlite3_exec(j->db, rb__j_migrations[i].sql, NULL, NULL, NULL)) != SQLITE_OK ||
            (rc = sqlite3_exec(j->db, bump, NULL, NULL, NULL)) != SQLITE_OK)
            goto fail;
        uv = rb__j_migrations[i].version;
    }
    if ((rc = sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
        goto fail;

check_app:
    if ((rc = rb__j_int(j->db, "PRAGMA application_id", &app)) != SQLITE_OK)
        return rb__j_fail(j, rc, NULL);
    if (app != RB__J_APP_ID) {
        snprintf(j->err, sizeof j->err,
                 "%s: an SQLite database, but not a runbook journal (application_id %#llx)",
                 j->path, (unsigned long long)app);
        return RB_EJOURNAL;
    }
    return 0;

fail: {
        int ret = rb__j_fail(j, rc, "creating the schema");
        if (!sqlite3_get_autocommit(j->db))
            sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        return ret;
    }
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
    if (!j || !(j->path = strdup(path))) {
        free(j);
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", path);
        return RB_ENOMEM;
    }
    j->flags = flags;

    const int ro = flags & RB_JOURNAL_READONLY;
    int rc = sqlite3_open_v2(path, &j->db,
                             ro ? SQLITE_OPEN_READONLY
                                : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                             NULL);
    int ret = 0;
    if (rc != SQLITE_OK) {
        ret = rb__j_fail(j, rc, NULL);
        goto fail;
    }
    sqlite3_extended_result_codes(j->db, 1);
    /* A short wait rides out another process's commit; longer than this,
     * the operator should hear that something holds the file. */
    sqlite3_busy_timeout(j->db, RB__J_BUSY_MS);

    /* The first read of the header: a non-database or a locked file shows
     * up here, before we change anything. */
    int64_t uv;
    if ((rc = rb__j_int(j->db, "PRAGMA user_version", &uv)) != SQLITE_OK) {
        ret = rb__j_fail(j, rc, NULL);
        goto fail;
    }
    if (!ro) {
        /* WAL: readers (runbook show, the server's API) never block the
         * writer. FULL: a commit is on the disk when sync returns, which
         * is the promise rb_journal_sync() makes. */
        static const char *const pragmas[] = {
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = FULL",
        };
        for (size_t i = 0; i < sizeof pragmas / sizeof *pragmas; i++) {
            if ((rc = sqlite3_exec(j->db, pragmas[i], NULL, NULL, NULL)) != SQLITE_OK) {
                ret = rb__j_fail(j, rc, NULL);
                goto fail;
            }
        }
    }
    if ((rc = sqlite3_exec(j->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL)) != SQLITE_OK) {
        ret = rb__j_fail(j, rc, NULL);
        goto fail;
    }
    if ((ret = rb__j_migrate(j)) != 0)
        goto fail;
    *out = j;
    return 0;

fail:
    if (err && errlen)
        snprintf(err, errlen, "%s", j->err);
    sqlite3_close(j->db);
    free(j->path);
    free(j);
    return ret;
}

void rb_journal_close(rb_journal_t *j)
{
    if (!j)
        return;
    if (j->in_txn)
        rb_journal_sync(j); /* nobody to tell if it fails: the caller chose not to sync */
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(j->st[i]);
    sqlite3_close(j->db);
    free(j->path);
    free(j);
}

/* ---- writing -------------------------------------------------------------- */

/* Opens the write transaction on the first append after a sync. IMMEDIATE
 * takes the write lock now, so a busy file fails here, at a clear point,
 * and never halfway through a group of appends. */
static int rb__j_begin(rb_journal_t *j, const char *what)
{
    if (j->flags & RB_JOURNAL_READONLY) {
        snprintf(j->err, sizeof j->err,
                 "%s: %s: attempt to write a readonly database (opened read-only)",
                 j->path, what);
        return RB_EJOURNAL;
    }
    if (j->in_txn)
        return 0;
    int rc = sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rb__j_fail(j, rc, what);
    j->in_txn = 1;
    j->pending = 0;
    return 0;
}

/* After a failed write: some errors (disk full, I/O) make SQLite roll the
 * whole transaction back. The appends before this one had returned 0, so
 * remember that they are gone and say so at the next sync. */
static int rb__j_write_failed(rb_journal_t *j, int rc, const char *what)
{
    int ret = rb__j_fail(j, rc, what);
    if (j->in_txn && sqlite3_get_autocommit(j->db)) {
        if (j->pending) {
            char reason[sizeof j->err];
            memcpy(reason, j->err, sizeof reason);
            snprintf(j->err, sizeof j->err, "%.440s; %d earlier write(s) were rolled back",
                     reason, j->pending);
            j->lost = 1;
        }
        j->in_txn = 0;
        j->pending = 0;
    }
    return ret;
}

static int rb__j_exec_write(rb_journal_t *j, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    rb__j_release(st);
    if (rc != SQLITE_DONE)
        return rb__j_write_failed(j, rc, what);
    j->pending++;
    return 0;
}

int rb_journal_sync(rb_journal_t *j)
{
    if (j->lost) {
        /* j->err still says what was lost and why (rb__j_write_failed). */
        j->lost = 0;
        return RB_EJOURNAL;
    }
    if (!j->in_txn)
        return 0;
    int rc = sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int ret = rb__j_fail(j, rc, "commit");
        /* A failed COMMIT may leave the transaction open (BUSY) or not;
         * either way what was pending is not durable, and carrying it into
         * the next commit would break the order the caller relies on. */
        if (!sqlite3_get_autocommit(j->db))
            sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        j->in_txn = 0;
        j->pending = 0;
        return ret;
    }
    j->in_txn = 0;
    j->pending = 0;
    return 0;
}

int rb_journal_put_version(rb_journal_t *j, const char *name, const char *path,
                           const char *source, size_t len, char sha256_hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(source, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        snprintf(j->err, sizeof j->err, "%s: SHA-256 failed", j->path);
        return RB_EJOURNAL;
    }
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        sha256_hex[2 * i] = hex[md[i] >> 4];
        sha256_hex[2 * i + 1] = hex[md[i] & 0xf];
    }
    sha256_hex[64] = '\0';
    if (len > INT32_MAX) {
        snprintf(j->err, sizeof j->err, "%s: runbook source too large", j->path);
        return RB_ETOOBIG;
    }

    sqlite3_stmt *st;
    int ret;
    if ((ret = rb__j_begin(j, "recording a runbook version")) != 0 ||
        (ret = rb__j_stmt(j, ST_VERSION_PUT, &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, sha256_hex, 64, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
    if (path)
        sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, source, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, rb__j_wall_ms());
    return rb__j_exec_write(j, st, "recording a runbook version");
}

int rb_journal_run_create(rb_journal_t *j, const char *runbook, const char *sha256,
                          const json_t *params, const char *trigger, int64_t *run_id)
{
    sqlite3_stmt *st;
    int ret;
    if ((ret = rb__j_begin(j, "creating a run")) != 0 ||
        (ret = rb__j_stmt(j, ST_RUN_CREATE, &st)) != 0)
        return ret;
    char *p = rb__j_dumps(params);
    if (!p) {
        snprintf(j->err, sizeof j->err, "%s: creating a run: params are not JSON", j->path);
        return RB_EINVAL;
    }
    sqlite3_bind_text(st, 1, runbook ? runbook : "", -1, SQLITE_STATIC);
    if (sha256)
        sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
    if (trigger)
        sqlite3_bind_text(st, 3, trigger, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, p, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, rb__j_wall_ms());
    ret = rb__j_exec_write(j, st, "creating a run");
    free(p);
    if (ret == 0 && run_id)
        *run_id = sqlite3_last_insert_rowid(j->db);
    return ret;
}

int rb_journal_event(rb_journal_t *j, int64_t run_id, const char *type, const char *step,
                     int attempt, const json_t *data)
{
    sqlite3_stmt *st;
    int ret;
    if (!type || !*type) {
        snprintf(j->err, sizeof j->err, "%s: appending an event: no type", j->path);
        return RB_EINVAL;
    }
    if ((ret = rb__j_begin(j, "appending an event")) != 0 ||
        (ret = rb__j_stmt(j, ST_EVENT, &st)) != 0)
        return ret;
    char *d = rb__j_dumps(data);
    if (!d) {
        snprintf(j->err, sizeof j->err, "%s: appending %s: data is not JSON", j->path, type);
        return RB_EINVAL;
    }
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, rb__j_wall_ms());
    sqlite3_bind_int64(st, 3, rb__j_mono_ns());
    sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
    if (step)
        sqlite3_bind_text(st, 5, step, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, attempt);
    sqlite3_bind_text(st, 7, d, -1, SQLITE_STATIC);
    ret = rb__j_exec_write(j, st, "appending an event");
    free(d);
    return ret;
}

int rb_journal_run_status(rb_journal_t *j, int64_t run_id, const char *status, int final)
{
    sqlite3_stmt *st;
    int ret;
    if ((ret = rb__j_begin(j, "setting a run's status")) != 0 ||
        (ret = rb__j_stmt(j, ST_RUN_STATUS, &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, final ? 1 : 0);
    sqlite3_bind_int64(st, 4, rb__j_wall_ms());
    if ((ret = rb__j_exec_write(j, st, "setting a run's status")) != 0)
        return ret;
    if (sqlite3_changes(j->db) == 0) {
        snprintf(j->err, sizeof j->err, "%s: no run %lld", j->path, (long long)run_id);
        return RB_ENOTFOUND;
    }
    return 0;
}

/* ---- reading -------------------------------------------------------------- */

static json_t *rb__j_col_text(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    const char *s = (const char *)sqlite3_column_text(st, col);
    return json_stringn(s ? s : "", (size_t)sqlite3_column_bytes(st, col));
}

static json_t *rb__j_col_int(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    return json_integer(sqlite3_column_int64(st, col));
}

/* A JSON column; text that does not parse (a hand-edited file) is returned
 * as the string it is rather than lost. */
static json_t *rb__j_col_json(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    const char *s = (const char *)sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    json_t *v = json_loadb(s ? s : "", n, JSON_DECODE_ANY, NULL);
    return v ? v : json_stringn(s ? s : "", n);
}

/* Sets key on obj; a NULL value (out of memory) marks the whole read failed. */
static void rb__j_set(json_t *obj, const char *key, json_t *v, int *oom)
{
    if (!v || json_object_set_new(obj, key, v) != 0)
        *oom = 1;
}

int rb_journal_runs(rb_journal_t *j, int limit, json_t **out)
{
    sqlite3_stmt *st;
    int ret, rc, oom = 0;
    *out = NULL;
    if ((ret = rb__j_stmt(j, ST_RUNS, &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    json_t *arr = json_array();
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *r = json_object();
        if (!r || json_array_append_new(arr, r) != 0) {
            oom = 1;
            break;
        }
        rb__j_set(r, "id", rb__j_col_int(st, 0), &oom);
        rb__j_set(r, "runbook", rb__j_col_text(st, 1), &oom);
        rb__j_set(r, "sha256", rb__j_col_text(st, 2), &oom);
        rb__j_set(r, "status", rb__j_col_text(st, 3), &oom);
        rb__j_set(r, "trigger", rb__j_col_text(st, 4), &oom);
        rb__j_set(r, "started_at", rb__j_col_int(st, 5), &oom);
        rb__j_set(r, "ended_at", rb__j_col_int(st, 6), &oom);
    }
    if (!arr || oom) {
        rb__j_release(st);
        json_decref(arr);
        return RB_ENOMEM;
    }
    rb__j_release(st);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return rb__j_fail(j, rc, "listing runs");
    }
    *out = arr;
    return 0;
}

static int rb__j_events(rb_journal_t *j, int64_t run_id, json_t *events)
{
    sqlite3_stmt *st;
    int ret, rc, oom = 0;
    if ((ret = rb__j_stmt(j, ST_RUN_EVENTS, &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, run_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *e = json_object();
        if (!e || json_array_append_new(events, e) != 0) {
            oom = 1;
            break;
        }
        rb__j_set(e, "seq", rb__j_col_int(st, 0), &oom);
        rb__j_set(e, "wall_ms", rb__j_col_int(st, 1), &oom);
        rb__j_set(e, "mono_ns", rb__j_col_int(st, 2), &oom);
        rb__j_set(e, "type", rb__j_col_text(st, 3), &oom);
        rb__j_set(e, "step", rb__j_col_text(st, 4), &oom);
        rb__j_set(e, "attempt", rb__j_col_int(st, 5), &oom);
        rb__j_set(e, "data", rb__j_col_json(st, 6), &oom);
    }
    rb__j_release(st);
    if (oom)
        return RB_ENOMEM;
    if (rc != SQLITE_DONE)
        return rb__j_fail(j, rc, "reading events");
    return 0;
}

int rb_journal_run_get(rb_journal_t *j, int64_t run_id, json_t **out)
{
    sqlite3_stmt *st;
    int ret, rc, oom = 0;
    *out = NULL;
    if ((ret = rb__j_stmt(j, ST_RUN_GET, &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, run_id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rb__j_release(st);
        if (rc == SQLITE_DONE) {
            snprintf(j->err, sizeof j->err, "%s: no run %lld", j->path, (long long)run_id);
            return RB_ENOTFOUND;
        }
        return rb__j_fail(j, rc, "reading a run");
    }
    json_t *r = json_object();
    if (!r) {
        rb__j_release(st);
        return RB_ENOMEM;
    }
    rb__j_set(r, "id", rb__j_col_int(st, 0), &oom);
    rb__j_set(r, "runbook", rb__j_col_text(st, 1), &oom);
    rb__j_set(r, "sha256", rb__j_col_text(st, 2), &oom);
    rb__j_set(r, "status", rb__j_col_text(st, 3), &oom);
    rb__j_set(r, "trigger", rb__j_col_text(st, 4), &oom);
    rb__j_set(r, "params", rb__j_col_json(st, 5), &oom);
    rb__j_set(r, "started_at", rb__j_col_int(st, 6), &oom);
    rb__j_set(r, "ended_at", rb__j_col_int(st, 7), &oom);
    rb__j_release(st);
    json_t *events = json_array();
    rb__j_set(r, "events", events, &oom);
    if (oom) {
        json_decref(r);
        return RB_ENOMEM;
    }
    /* The run row and its events come from two statements; outside a write
     * transaction each takes its own snapshot, so a run being written
     * concurrently may show events newer than its row. That is harmless for
     * reading, and cheaper than a read transaction around both. */
    if ((ret = rb__j_events(j, run_id, events)) != 0) {
        json_decref(r);
        return ret;
    }
    *out = r;
    return 0;
}

int rb_journal_get_version(rb_journal_t *j, const char *sha256, char **source, size_t *len)
{
    sqlite3_stmt *st;
    int ret;
    *source = NULL;
    if (len)
        *len = 0;
    if ((ret = rb__j_stmt(j, ST_VERSION_GET, &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rb__j_release(st);
        if (rc == SQLITE_DONE) {
            snprintf(j->err, sizeof j->err, "%s: no runbook version %s", j->path, sha256);
            return RB_ENOTFOUND;
        }
        return rb__j_fail(j, rc, "reading a runbook version");
    }
    const char *s = (const char *)sqlite3_column_text(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    char *copy = malloc(n + 1);
    if (!copy) {
        rb__j_release(st);
        return RB_ENOMEM;
    }
    if (n)
        memcpy(copy, s, n);
    copy[n] = '\0';
    rb__j_release(st);
    *source = copy;
    if (len)
        *len = n;
    return 0;
}
