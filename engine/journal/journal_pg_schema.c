/*
 * journal_pg_schema.c — the PostgreSQL journal's versions: creating the
 * schema (schemas/journal_pg.sql, compiled in as rb__journal_pg_sql) in a
 * database that has none, checking that a database holds a runbook journal
 * (journal_meta: application and schema_version) of a version this program
 * knows, and the migrations from older versions (none yet: 6 is the first
 * PostgreSQL version; a new one adds its step here, as journal_schema.c
 * does for the file).
 *
 * Owns: journal_meta. Must never: add tables to a database that holds
 * another program's tables; open a journal newer than it knows; leave a
 * half-created schema (one transaction, under an advisory lock so that
 * two engines creating it at once make it once).
 */
#include "journal_pg_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_pg_sql.h" /* rb__journal_pg_sql[]: schemas/journal_pg.sql + NUL, generated */

#define RB__PG_SCHEMA_LOCK 1381322306 /* 'RUNB', the advisory lock of creating the schema */

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

static int rb__pg_create(rb_journal_t *j)
{
    int ret = rb__pg_exec(j, "creating the journal", "BEGIN");
    if (ret != 0)
        return ret;
    j->pg->in_txn = 1;
    char lock[80];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%d)", RB__PG_SCHEMA_LOCK);
    int version = 0;
    int64_t others = 0;
    if ((ret = rb__pg_exec(j, "creating the journal", lock)) == 0 &&
        (ret = rb__pg_version(j, &version)) == 0 && version == 0 &&
        (ret = rb__pg_foreign_tables(j, &others)) == 0) {
        if (others > 0) {
            snprintf(j->err, sizeof j->err, "%s: not a runbook journal: the database has %lld"
                                            " other table%s and no journal_meta; a journal"
                                            " needs a database (or schema) of its own",
                     j->path, (long long)others, others == 1 ? "" : "s");
            ret = RB_EJOURNAL;
        } else {
            /* the whole schema, one statement list in one transaction */
            PGresult *res = PQexec(j->pg->conn, (const char *)rb__journal_pg_sql);
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                ret = rb__pg_fail(j, res, "creating the journal");
            PQclear(res);
        }
    }
    if (ret == 0)
        ret = rb__pg_exec(j, "creating the journal", "COMMIT");
    else
        PQclear(PQexec(j->pg->conn, "ROLLBACK"));
    j->pg->in_txn = 0;
    return ret;
}

int rb__pg_schema(rb_journal_t *j, int create)
{
    int version;
    int ret = rb__pg_version(j, &version);
    if (ret == 0 && version == 0 && create) {
        if ((ret = rb__pg_create(j)) == 0)
            ret = rb__pg_version(j, &version);
    }
    if (ret != 0)
        return ret;
    if (version == 0) {
        snprintf(j->err, sizeof j->err, "%s: no runbook journal in this database (fill one with"
                                        " `runbook journal copy --from FILE --to URL`)", j->path);
        return RB_EJOURNAL;
    }
    if (version > rb_journal_schema_version()) {
        snprintf(j->err, sizeof j->err, "%s: the journal's schema is version %d, newer than this"
                                        " runbook knows (%d): upgrade runbook", j->path, version,
                 rb_journal_schema_version());
        return RB_EJOURNAL;
    }
    if (version < rb_journal_schema_version()) {
        /* 6 is the first PostgreSQL version: nothing older exists */
        snprintf(j->err, sizeof j->err, "%s: the journal's schema is version %d, which no"
                                        " runbook wrote", j->path, version);
        return RB_EJOURNAL;
    }
    return 0;
}
