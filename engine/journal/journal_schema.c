/*
 * journal_schema.c — the file format's versions: creating the schema in a
 * new file (schemas/journal.sql, compiled in as rb__journal_sql), checking
 * that an existing file is a runbook journal (application_id) of a version
 * this program knows, and migrating an older one step by step.
 *
 * Owns: PRAGMA user_version and application_id, and the migrations table
 * (a new schema version adds its step here). Must never: add tables to
 * another program's database, write to a file opened read-only, open a
 * file newer than it knows, or leave a half-migrated file (the steps and
 * the version bump commit together, or not at all).
 */
#include "journal_int.h"

#include <runbook/runbook.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_sql.h" /* rb__journal_sql[]: schemas/journal.sql + NUL, generated */

#define RB__J_APP_ID 0x52554e42 /* 'RUNB', set by journal.sql */

/*
 * Version 1 → 2: the hash chain and run owners. The new objects' DDL comes
 * from the compiled-in schema (read from a scratch in-memory database), so
 * it is written once; a test checks that a migrated file and a new one
 * have the same shape. (A later version that changes these objects must
 * give this migration its own text.) The events of version 1 are chained
 * in the order they were inserted (rowid order).
 */
static int rb__j_fresh_sql(sqlite3 *fresh, const char *name, char **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int rc = rb__j_prepare_v2(fresh, "SELECT sql FROM sqlite_master WHERE name = ?1", -1, &st,
                                NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if ((rc = rb__j_step(st)) == SQLITE_ROW) {
        *out = strdup((const char *)sqlite3_column_text(st, 0));
        rc = *out ? SQLITE_OK : SQLITE_NOMEM;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_INTERNAL;
    }
    sqlite3_finalize(st);
    return rc;
}

static int rb__j_exec_fresh(rb__jconn_t *c, sqlite3 *fresh, const char *name)
{
    char *sql;
    int rc = rb__j_fresh_sql(fresh, name, &sql);
    if (rc == SQLITE_OK)
        rc = rb__j_exec(c->db, sql, NULL, NULL, NULL);
    free(sql);
    return rc;
}

static int rb__j_migrate_2(rb__jconn_t *c)
{
    sqlite3 *fresh = NULL;
    sqlite3_stmt *rd = NULL, *wr = NULL;
    int rc = rb__j_open_v2(":memory:", &fresh, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = rb__j_exec(fresh, (const char *)rb__journal_sql, NULL, NULL, NULL);
    static const char *const cols[] = {
        "ALTER TABLE runs ADD COLUMN owner_pid INTEGER",
        "ALTER TABLE runs ADD COLUMN owner_start INTEGER",
        "ALTER TABLE runs ADD COLUMN owner_boot TEXT",
        "DROP TRIGGER events_no_update",
        "DROP TRIGGER events_no_delete",
        "ALTER TABLE events RENAME TO events_v1",
    };
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof cols / sizeof *cols; i++)
        rc = rb__j_exec(c->db, cols[i], NULL, NULL, NULL);
    static const char *const objects[] = { "runs_open", "events", "chain_head", "checkpoints" };
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof objects / sizeof *objects; i++)
        rc = rb__j_exec_fresh(c, fresh, objects[i]);
    if (rc == SQLITE_OK)
        rc = rb__j_exec(c->db, "INSERT INTO chain_head(one, event_id, hash)"
                                 " VALUES (1, 0, zeroblob(32))", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = rb__j_prepare_v2(c->db,
                                "SELECT run_id, seq, wall_ms, mono_ns, type, step, attempt, data"
                                " FROM events_v1 ORDER BY rowid", -1, &rd, NULL);
    if (rc == SQLITE_OK)
        rc = rb__j_prepare_v2(c->db, rb__j_sql[RB__JST_EVENT], -1, &wr, NULL);
    int64_t id = 0;
    unsigned char prev[RB__J_HASH_LEN] = { 0 }, hash[RB__J_HASH_LEN];
    while (rc == SQLITE_OK && (rc = rb__j_step(rd)) == SQLITE_ROW) {
        // cppcheck-suppress unknownEvaluationOrder -- the one side effect of the initializer
        rb__jev_t e = {.id = ++id, .prev_hash = prev};
        rb__j_col_event(rd, 0, &e);
        if (rb__chain_event_hash(&c->hasher, &e, hash) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        rb__j_bind_event(wr, &e, hash);
        rc = rb__j_step(wr);
        sqlite3_reset(wr);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        memcpy(prev, hash, RB__J_HASH_LEN);
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(rd);
    sqlite3_finalize(wr);
    if (rc == SQLITE_OK)
        rc = rb__j_exec(c->db, "DROP TABLE events_v1", NULL, NULL, NULL);
    static const char *const triggers[] = {
        "events_no_update", "events_no_delete", "chain_head_follows", "chain_head_no_delete",
        "checkpoints_cut", "checkpoints_no_update", "checkpoints_no_delete",
    };
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof triggers / sizeof *triggers; i++)
        rc = rb__j_exec_fresh(c, fresh, triggers[i]);
    if (rc == SQLITE_OK && id > 0) {
        sqlite3_stmt *st;
        rc = rb__j_prepare_v2(c->db, rb__j_sql[RB__JST_HEAD_SET], -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_blob(st, 2, prev, RB__J_HASH_LEN, SQLITE_STATIC);
            rc = rb__j_step(st);
            if (rc == SQLITE_DONE)
                rc = SQLITE_OK;
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(fresh);
    return rc;
}

/* 2 → 3: the index of runs by concurrency key. */
static int rb__j_migrate_3(rb__jconn_t *c)
{
    sqlite3 *fresh = NULL;
    int rc = rb__j_open_v2(":memory:", &fresh, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = rb__j_exec(fresh, (const char *)rb__journal_sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = rb__j_exec_fresh(c, fresh, "events_concurrency");
    sqlite3_close(fresh);
    return rc;
}

/* 3 → 4: the server's alert claims: the alerts table's new columns and
 * alert_runs. */
static int rb__j_migrate_4(rb__jconn_t *c)
{
    static const char *const cols[] = {
        "ALTER TABLE alerts ADD COLUMN status TEXT NOT NULL DEFAULT 'claimed'",
        "ALTER TABLE alerts ADD COLUMN runbooks TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE alerts ADD COLUMN resolved_at INTEGER",
        "ALTER TABLE alerts ADD COLUMN resolved TEXT",
    };
    sqlite3 *fresh = NULL;
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof cols / sizeof *cols; i++)
        rc = rb__j_exec(c->db, cols[i], NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = rb__j_open_v2(":memory:", &fresh, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = rb__j_exec(fresh, (const char *)rb__journal_sql, NULL, NULL, NULL);
    static const char *const objects[] = {"alert_runs", "alert_runs_run", "alerts_open"};
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof objects / sizeof *objects; i++)
        rc = rb__j_exec_fresh(c, fresh, objects[i]);
    sqlite3_close(fresh);
    return rc;
}

/* Creates the named objects (NULL-terminated) as the compiled-in schema
 * has them. */
static int rb__j_add_fresh(rb__jconn_t *c, const char *const *objects)
{
    sqlite3 *fresh = NULL;
    int rc = rb__j_open_v2(":memory:", &fresh, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = rb__j_exec(fresh, (const char *)rb__journal_sql, NULL, NULL, NULL);
    for (size_t i = 0; rc == SQLITE_OK && objects[i]; i++)
        rc = rb__j_exec_fresh(c, fresh, objects[i]);
    sqlite3_close(fresh);
    return rc;
}

/* 4 → 5: signed checkpoints (the signatures table and its triggers). */
static int rb__j_migrate_5(rb__jconn_t *c)
{
    static const char *const objects[] = {"signatures", "signatures_no_update",
                                          "signatures_no_delete", NULL};
    return rb__j_add_fresh(c, objects);
}

/* 5 → 6: the index of runs by start time (the listings' order: newest
 * first by start, which ids handed out in blocks per process are not). */
static int rb__j_migrate_6(rb__jconn_t *c)
{
    static const char *const objects[] = {"runs_started", NULL};
    return rb__j_add_fresh(c, objects);
}

/*
 * Migrations from one schema version to the next, applied in order to a
 * journal whose user_version is lower than .version, each in the same
 * transaction as the version bump. journal.sql is the newest version: it
 * sets user_version itself, and only the migrations above what it set are
 * then run.
 */
static const struct {
    int version;
    int (*run)(rb__jconn_t *c); /* an SQLite result code */
} rb__j_migrations[] = {
    { 2, rb__j_migrate_2 },
    { 3, rb__j_migrate_3 },
    { 4, rb__j_migrate_4 },
    { 5, rb__j_migrate_5 },
    { 6, rb__j_migrate_6 },
    { 0, NULL },
};

static int rb__j_latest_version(void)
{
    int v = 1;
    for (int i = 0; rb__j_migrations[i].run; i++)
        if (rb__j_migrations[i].version > v)
            v = rb__j_migrations[i].version;
    return v;
}

int rb_journal_schema_version(void)
{
    return rb__j_latest_version();
}

/* Checks the file is ours and brings its schema up to date. Runs in one
 * IMMEDIATE transaction so that two processes opening a new file at the same
 * moment cannot both create the tables. */
/* A file with no tables at all is a journal whose first writer died between
 * creating the file and committing the schema (a kill -9 at the wrong
 * moment): nothing in it was ever acknowledged. A reader sees it as what it
 * is, an empty journal — through an in-memory database with the schema, so
 * that every read finds its tables and answers "nothing" — instead of
 * refusing it. The next writer creates the schema in the file itself. */
static int rb__j_empty_readonly(rb_journal_t *j)
{
    rb__jconn_t *c = j->c;
    sqlite3 *mem = NULL;
    int rc = rb__j_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = rb__j_exec(mem, (const char *)rb__journal_sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(j->err, sizeof j->err, "%s: empty journal: %s", j->path,
                 mem ? sqlite3_errmsg(mem) : sqlite3_errstr(rc));
        sqlite3_close(mem);
        return RB_EJOURNAL;
    }
    sqlite3_extended_result_codes(mem, 1);
    sqlite3_close(c->db);
    c->db = mem;
    return 0;
}

int rb__j_migrate(rb_journal_t *j)
{
    rb__jconn_t *c = j->c;
    const int latest = rb__j_latest_version();
    int64_t uv = 0, app = 0, objects = 0;
    int rc;

    if ((rc = rb__j_int(c->db, "PRAGMA user_version", &uv)) != SQLITE_OK)
        return rb__j_failc(c, rc, NULL);
    if (uv > latest) {
        snprintf(j->err, sizeof j->err,
                 "%s: journal schema version %lld is newer than this runbook (%s) knows (%d);"
                 " upgrade runbook", j->path, (long long)uv, RB_VERSION, latest);
        return RB_EJOURNAL;
    }
    if (uv == latest)
        goto check_app;
    if (j->flags & RB_JOURNAL_READONLY) {
        if (uv == 0 && (rc = rb__j_int(c->db, "SELECT count(*) FROM sqlite_master", &objects)) !=
                           SQLITE_OK)
            return rb__j_failc(c, rc, NULL);
        if (uv == 0 && objects == 0)
            return rb__j_empty_readonly(j);
        if (uv == 0)
            snprintf(j->err, sizeof j->err, "%s: an SQLite database, but not a runbook journal",
                     j->path);
        else
            snprintf(j->err, sizeof j->err,
                     "%s: journal schema version %lld is older than %d; open it once"
                     " read-write to upgrade it (any `runbook run`)", j->path, (long long)uv,
                     latest);
        return RB_EJOURNAL;
    }

    if ((rc = rb__j_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
        return rb__j_failc(c, rc, NULL);
    /* Read again under the write lock: another process may have won. */
    if ((rc = rb__j_int(c->db, "PRAGMA user_version", &uv)) != SQLITE_OK)
        goto fail;
    if (uv == 0) {
        /* A database with tables but no version is somebody else's file:
         * adding our tables to it would be worse than refusing. */
        if ((rc = rb__j_int(c->db, "SELECT count(*) FROM sqlite_master", &objects)) != SQLITE_OK)
            goto fail;
        if (objects) {
            rb__j_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            snprintf(j->err, sizeof j->err,
                     "%s: an SQLite database, but not a runbook journal", j->path);
            return RB_EJOURNAL;
        }
        if ((rc = rb__j_exec(c->db, (const char *)rb__journal_sql, NULL, NULL, NULL)) !=
            SQLITE_OK)
            goto fail;
        if ((rc = rb__j_int(c->db, "PRAGMA user_version", &uv)) != SQLITE_OK)
            goto fail;
    } else {
        if ((rc = rb__j_int(c->db, "PRAGMA application_id", &app)) != SQLITE_OK)
            goto fail;
        if (app != RB__J_APP_ID) {
            rb__j_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            goto check_app;
        }
    }
    for (int i = 0; rb__j_migrations[i].run; i++) {
        if (rb__j_migrations[i].version <= uv)
            continue;
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", rb__j_migrations[i].version);
        if ((rc = rb__j_migrations[i].run(c)) != SQLITE_OK ||
            (rc = rb__j_exec(c->db, bump, NULL, NULL, NULL)) != SQLITE_OK)
            goto fail;
        uv = rb__j_migrations[i].version;
    }
    if ((rc = rb__j_exec(c->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
        goto fail;

check_app:
    if ((rc = rb__j_int(c->db, "PRAGMA application_id", &app)) != SQLITE_OK)
        return rb__j_failc(c, rc, NULL);
    if (app != RB__J_APP_ID) {
        snprintf(j->err, sizeof j->err,
                 "%s: an SQLite database, but not a runbook journal (application_id %#llx)",
                 j->path, (unsigned long long)app);
        return RB_EJOURNAL;
    }
    return 0;

fail: {
        int ret = rb__j_failc(c, rc, uv == 0 ? "creating the schema" : "upgrading the schema");
        if (!sqlite3_get_autocommit(c->db))
            rb__j_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return ret;
    }
}
