/*
 * journal_pg_schema.c — the PostgreSQL journal's versions: creating the
 * schema (schemas/journal_pg.sql, compiled in as rb__journal_pg_sql) in a
 * database that has none, checking that a database holds a runbook journal
 * (journal_meta: application and schema_version) of a version this program
 * knows, and migrating an older one. 6 is the first PostgreSQL version;
 * each later one is a section at the end of journal_pg.sql ("-- ---- version
 * N:"), which a new journal runs after the rest and an older journal runs
 * as its migration: one text, so both get the same shape. The PostgreSQL
 * versions go their own way from the file's from 7 on (7: run_leases, which
 * a file, served by one engine, does not need).
 *
 * Owns: journal_meta, and RB__PG_SCHEMA_VERSION. Must never: add tables to
 * a database that holds another program's tables; open a journal newer
 * than it knows; leave a half-created or half-migrated schema (one
 * transaction, under an advisory lock so that two engines creating or
 * migrating it at once do it once); migrate through a read-only
 * connection (a reader reads an older journal as it is).
 */
#include "journal_pg_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_pg_sql.h" /* rb__journal_pg_sql[]: schemas/journal_pg.sql + NUL, generated */

#define RB__PG_SCHEMA_LOCK 1381322306 /* 'RUNB', the advisory lock of creating the schema */
#define RB__PG_SCHEMA_FIRST 6         /* the first PostgreSQL version */

/* The step to version v: journal_pg.sql from its "-- ---- version V:"
 * line to the next such line or the end, malloc'd; NULL when there is none
 * (or no memory). */
static char *rb__pg_step_sql(int v)
{
    const char *all = (const char *)rb__journal_pg_sql;
    char mark[40];
    snprintf(mark, sizeof mark, "\n-- ---- version %d:", v);
    const char *p = strstr(all, mark);
    if (!p)
        return NULL;
    p++;
    const char *e = strstr(p, "\n-- ---- version ");
    return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

/* The journal's version, 0 when the database has no journal_meta table;
 * -1 (and j->err) when it has one that is not a runbook journal's. */
static int rb__pg_version(rb_journal_t *j, int *version)
{
    *version = 0;
    PGresult *res = rb__pg_query(j, "reading the schema version",
                                 "SELECT to_regclass('journal_meta') IS NOT NULL", 0, NULL, NULL,
                                 NULL);
    if (!res)
        return RB_EJOURNAL;
    int has = PQntuples(res) == 1 && rb__pg_i64(res, 0, 0);
    PQclear(res);
    if (!has)
        return 0;
    res = rb__pg_query(j, "reading the schema version",
                       "SELECT (SELECT value FROM journal_meta WHERE key = 'application'),"
                       " (SELECT value FROM journal_meta WHERE key = 'schema_version')",
                       0, NULL, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    const char *app = rb__pg_text(res, 0, 0), *ver = rb__pg_text(res, 0, 1);
    char *end = NULL;
    long n = ver ? strtol(ver, &end, 10) : 0;
    int ret = 0;
    if (!app || strcmp(app, "runbook-journal") != 0 || !end || *end || n <= 0 || n > 100000) {
        snprintf(j->err, sizeof j->err, "%s: not a runbook journal (its journal_meta table is"
                                        " another program's)", j->path);
        ret = RB_EJOURNAL;
    } else {
        *version = (int)n;
    }
    PQclear(res);
    return ret;
}

/* Other tables where the journal's would go: another program's database. */
static int rb__pg_foreign_tables(rb_journal_t *j, int64_t *n)
{
    PGresult *res = rb__pg_query(j, "reading the schema",
                                 "SELECT count(*) FROM pg_tables WHERE schemaname ="
                                 " current_schema()", 0, NULL, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    *n = rb__pg_i64(res, 0, 0);
    PQclear(res);
    return 0;
}

/* Runs sql, a list of statements, inside the open transaction. */
static int rb__pg_script(rb_journal_t *j, const char *sql, const char *what)
{
    PGresult *res = PQexec(j->pg->conn, sql);
    int ret = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : rb__pg_fail(j, res, what);
    PQclear(res);
    return ret;
}

/* Creates the schema in a database with no journal, or migrates an older
 * journal to RB__PG_SCHEMA_VERSION: one transaction, under the advisory
 * lock, the version read again under it (another engine may have done it
 * meanwhile). */
static int rb__pg_upgrade(rb_journal_t *j)
{
    const char *what = "creating the journal";
    int ret = rb__pg_exec(j, what, "BEGIN");
    if (ret != 0)
        return ret;
    j->pg->in_txn = 1;
    char lock[80];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d)", RB__PG_SCHEMA_LOCK);
    int version = 0;
    int64_t others = 0;
    if ((ret = rb__pg_exec(j, what, lock)) == 0 && (ret = rb__pg_version(j, &version)) == 0 &&
        version == 0 && (ret = rb__pg_foreign_tables(j, &others)) == 0) {
        if (others > 0) {
            snprintf(j->err, sizeof j->err, "%s: not a runbook journal: the database has %lld"
                                            " other table%s and no journal_meta; a journal"
                                            " needs a database (or schema) of its own",
                     j->path, (long long)others, others == 1 ? "" : "s");
            ret = RB_EJOURNAL;
        } else {
            /* the whole schema, one statement list in one transaction */
            ret = rb__pg_script(j, (const char *)rb__journal_pg_sql, what);
        }
    } else if (ret == 0 && version >= RB__PG_SCHEMA_FIRST) {
        char step[64];
        for (int v = version + 1; ret == 0 && v <= RB__PG_SCHEMA_VERSION; v++) {
            char *sql = rb__pg_step_sql(v);
            snprintf(step, sizeof step, "migrating the journal to version %d", v);
            ret = sql ? rb__pg_script(j, sql, step) : rb__pg_unsupported(j, step);
            free(sql);
        }
    }
    if (ret == 0)
        ret = rb__pg_exec(j, what, "COMMIT");
    else
        PQclear(PQexec(j->pg->conn, "ROLLBACK"));
    j->pg->in_txn = 0;
    return ret;
}

int rb__pg_schema(rb_journal_t *j, int create)
{
    int version;
    int ret = rb__pg_version(j, &version);
    if (ret == 0 && create &&
        (version == 0 || (version >= RB__PG_SCHEMA_FIRST && version < RB__PG_SCHEMA_VERSION))) {
        if ((ret = rb__pg_upgrade(j)) == 0)
            ret = rb__pg_version(j, &version);
    }
    if (ret != 0)
        return ret;
    if (version == 0) {
        snprintf(j->err, sizeof j->err, "%s: no runbook journal in this database (fill one with"
                                        " `runbook journal copy --from FILE --to URL`)", j->path);
        return RB_EJOURNAL;
    }
    if (version > RB__PG_SCHEMA_VERSION) {
        snprintf(j->err, sizeof j->err, "%s: the journal's schema is version %d, newer than this"
                                        " runbook knows (%d): upgrade runbook", j->path, version,
                 RB__PG_SCHEMA_VERSION);
        return RB_EJOURNAL;
    }
    if (version < RB__PG_SCHEMA_FIRST) {
        snprintf(j->err, sizeof j->err, "%s: the journal's schema is version %d, which no"
                                        " runbook wrote", j->path, version);
        return RB_EJOURNAL;
    }
    /* an older one opened read-only is read as it is: what a reader reads
     * is in every version */
    j->pg->version = version;
    return 0;
}
