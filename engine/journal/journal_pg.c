/*
 * journal_pg.c — the PostgreSQL backend's connection (libpq): telling a
 * PostgreSQL URL from a file path, connecting and checking the schema,
 * closing, the name a journal is shown by (its URL without the password),
 * errors, queries in the binary result format and reading their columns
 * (and their rows, as journal_rows.c reads them), the read snapshot of a
 * read of several statements, and the one message of what the backend
 * cannot do yet.
 *
 * Owns: the PGconn of a journal handle (j->pg). Must never: show a
 * password (in an error, a report or a path); leave a transaction open on
 * close; let an unsupported operation fall through to the SQLite code.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "journal_pg_int.h"

#include <runbook/runbook.h>

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rb_journal_is_url(const char *path)
{
    return path && (!strncmp(path, "postgresql://", 13) || !strncmp(path, "postgres://", 11));
}

/* "postgresql://USER@HOST:PORT/DB" from what libpq reads in url (its own
 * parser), without the password and the other options; NULL when url is
 * not one libpq can read (*why: its message, to be freed with PQfreemem). */
static char *rb__pg_display(const char *url, char **why)
{
    PQconninfoOption *opts = PQconninfoParse(url, why);
    if (!opts)
        return NULL;
    const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (!strcmp(o->keyword, "user"))
            user = o->val;
        else if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            db = o->val;
    }
    char *s = NULL;
    if (asprintf(&s, "postgresql://%s%s%s%s%s/%s", user ? user : "", user ? "@" : "",
                 host ? host : "", port ? ":" : "", port ? port : "", db ? db : "") < 0)
        s = NULL;
    PQconninfoFree(opts);
    return s;
}

/* The first line of a libpq message, without "ERROR:  " and the newline. */
static void rb__pg_reason(const char *msg, char *out, size_t len)
{
    if (!msg || !*msg)
        msg = "unknown error";
    if (!strncmp(msg, "ERROR:  ", 8) || !strncmp(msg, "FATAL:  ", 8))
        msg += 8;
    size_t n = strcspn(msg, "\n");
    snprintf(out, len, "%.*s", (int)n, msg);
}

int rb__pg_fail(rb_journal_t *j, const PGresult *res, const char *what)
{
    char why[400];
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (!msg || !*msg)
        msg = j->pg && j->pg->conn ? PQerrorMessage(j->pg->conn) : NULL;
    rb__pg_reason(msg, why, sizeof why);
    snprintf(j->err, sizeof j->err, "%s: %s: %s", j->path, what, why);
    return RB_EJOURNAL;
}

int rb__pg_unsupported(rb_journal_t *j, const char *what)
{
    snprintf(j->err, sizeof j->err, "%s: not supported on a PostgreSQL journal yet: %s",
             j->path, what);
    return RB_EJOURNAL;
}

int rb__pg_open(rb_journal_t *j, const char *url, int create)
{
    char *why = NULL;
    char *shown = rb__pg_display(url, &why);
    if (!shown) {
        char reason[400];
        rb__pg_reason(why, reason, sizeof reason);
        PQfreemem(why);
        /* not even the URL can be shown: it may hold a password */
        snprintf(j->err, sizeof j->err, "not a PostgreSQL URL libpq can read: %s", reason);
        return RB_EINVAL;
    }
    free(j->path);
    j->path = shown;
    j->pg = calloc(1, sizeof *j->pg);
    if (!j->pg || !(j->pg->conninfo = strdup(url))) {
        snprintf(j->err, sizeof j->err, "%s: out of memory", j->path);
        return RB_ENOMEM;
    }
    /* the URL's own settings win over these (expand_dbname) */
    static const char *const keys[] = { "connect_timeout", "dbname", "fallback_application_name",
                                        NULL };
    const char *const vals[] = { "10", url, "runbook", NULL };
    j->pg->conn = PQconnectdbParams(keys, vals, 1);
    if (!j->pg->conn || PQstatus(j->pg->conn) != CONNECTION_OK)
        return rb__pg_fail(j, NULL, "connecting");
    /* Quiet: the server's notices (a trigger's, an IF NOT EXISTS's) are
     * not the user's business. */
    int ret = rb__pg_exec(j, "connecting", "SET client_min_messages = warning");
    if (ret == 0 && !create)
        ret = rb__pg_exec(j, "connecting", "SET default_transaction_read_only = on");
    if (ret == 0)
        ret = rb__pg_schema(j, create);
    return ret;
}

void rb__pg_close(rb_journal_t *j)
{
    if (!j->pg)
        return;
    if (j->pg->conn) {
        if (j->pg->in_txn)
            PQclear(PQexec(j->pg->conn, "ROLLBACK"));
        PQfinish(j->pg->conn);
    }
    rb__pg_append_free(j);
    free(j->pg->conninfo);
    rb__pg_leases_free(j->pg);
    free(j->pg);
    j->pg = NULL;
}

PGresult *rb__pg_result(rb_journal_t *j, PGresult *res, const char *what)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    rb__pg_fail(j, res, what);
    PQclear(res);
    return NULL;
}

PGresult *rb__pg_query(rb_journal_t *j, const char *what, const char *sql, int n,
                       const char *const *vals, const int *lens, const int *fmts)
{
    return rb__pg_result(j, PQexecParams(j->pg->conn, sql, n, NULL, vals, lens, fmts, 1), what);
}

int rb__pg_pipeline_sync(rb_journal_t *j, const char *what)
{
    PGconn *conn = j->pg->conn;
    if (!PQpipelineSync(conn))
        return rb__pg_fail(j, NULL, what);
    int ret = 0;
    for (;;) {
        PGresult *res = PQgetResult(conn);
        if (!res) {
            if (PQstatus(conn) != CONNECTION_OK)
                return ret ? ret : rb__pg_fail(j, NULL, what);
            continue; /* the end of one query's results */
        }
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            return ret;
        }
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_PIPELINE_ABORTED &&
            !ret)
            ret = rb__pg_fail(j, res, what);
        PQclear(res);
    }
}

int rb__pg_exec(rb_journal_t *j, const char *what, const char *sql)
{
    PGresult *res = rb__pg_query(j, what, sql, 0, NULL, NULL, NULL);
    PQclear(res);
    return res ? 0 : RB_EJOURNAL;
}

int rb__pg_each(rb_journal_t *j, const char *what, const char *sql, int n,
                const char *const *vals, int (*row)(const PGresult *res, void *arg), void *arg)
{
    PGconn *conn = j->pg->conn;
    if (!PQsendQueryParams(conn, sql, n, NULL, vals, NULL, NULL, 1))
        return rb__pg_fail(j, NULL, what);
    PQsetSingleRowMode(conn);
    int ret = 0;
    PGresult *res;
    while ((res = PQgetResult(conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE) {
            if (ret == 0)
                ret = row(res, arg);
        } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && ret == 0) {
            ret = rb__pg_fail(j, res, what);
        }
        PQclear(res);
    }
    return ret;
}

int64_t rb__pg_i64(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 0;
    const char *p = PQgetvalue(res, row, col);
    switch (PQgetlength(res, row, col)) {
    case 8: {
        uint64_t u;
        memcpy(&u, p, 8);
        return (int64_t)be64toh(u);
    }
    case 4: {
        uint32_t u;
        memcpy(&u, p, 4);
        return (int32_t)be32toh(u);
    }
    case 2: {
        uint16_t u;
        memcpy(&u, p, 2);
        return (int16_t)be16toh(u);
    }
    case 1: /* bool */
        return (unsigned char)p[0];
    default:
        return 0;
    }
}

const char *rb__pg_bytes(const PGresult *res, int row, int col, size_t *len)
{
    if (PQgetisnull(res, row, col)) {
        *len = 0;
        return NULL;
    }
    *len = (size_t)PQgetlength(res, row, col);
    return PQgetvalue(res, row, col);
}

const char *rb__pg_text(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

const unsigned char *rb__pg_hash(const PGresult *res, int row, int col)
{
    size_t n;
    const char *p = rb__pg_bytes(res, row, col, &n);
    return p && n == RB__J_HASH_LEN ? (const unsigned char *)p : NULL;
}

const char *rb__pg_num(rb__pgnum_t *n, int64_t v)
{
    snprintf(n->s, sizeof n->s, "%lld", (long long)v);
    return n->s;
}

/* ---- rows as journal_rows.c reads them ------------------------------------------ */

static int rb__pg_row_null(void *ctx, int col)
{
    const rb__pgrow_t *at = ctx;
    return PQgetisnull(at->res, at->row, col);
}

static int64_t rb__pg_row_i64(void *ctx, int col)
{
    const rb__pgrow_t *at = ctx;
    return rb__pg_i64(at->res, at->row, col);
}

static const char *rb__pg_row_text(void *ctx, int col, size_t *len)
{
    const rb__pgrow_t *at = ctx;
    return rb__pg_bytes(at->res, at->row, col, len);
}

rb__jrow_t rb__pg_row(rb__pgrow_t *at, const PGresult *res, int row)
{
    at->res = res;
    at->row = row;
    return (rb__jrow_t){at, rb__pg_row_null, rb__pg_row_i64, rb__pg_row_text};
}

/* ---- one snapshot for a read of several statements -------------------------------- */

int rb__pg_read_begin(rb_journal_t *j, const char *what, int *opened)
{
    *opened = 0;
    if (j->pg->in_txn)
        return 0;
    int ret = rb__pg_exec(j, what, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (ret == 0)
        *opened = j->pg->in_txn = 1;
    return ret;
}

int rb__pg_read_end(rb_journal_t *j, const char *what, int opened)
{
    if (!opened)
        return 0;
    int ret = rb__pg_exec(j, what, "COMMIT");
    j->pg->in_txn = 0;
    return ret;
}
