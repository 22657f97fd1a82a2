/*
 * journal_pg_int.h — what the files of the PostgreSQL backend share
 * (engine/journal/journal_pg*.c, the only files in the project that include
 * <libpq-fe.h>): the connection, the queries in libpq's binary result
 * format, and the reading of their columns.
 *
 * Must never: be included outside engine/journal/journal_pg*.c.
 */
#ifndef RB_JOURNAL_PG_INT_H
#define RB_JOURNAL_PG_INT_H

#include "journal_int.h"

#include <libpq-fe.h>

typedef struct rb__jpgw rb__jpgw_t; /* a connection's write state (journal_pg_append.c) */

struct rb__jpg {
    PGconn *conn;
    char *conninfo; /* the URL as given (it may hold a password: never shown) */
    int in_txn;     /* a BEGIN is open */
    rb__jpgw_t *w;  /* made by the first write; NULL until then */
};

/* Describes the failure of what (the URL without its password, what was
 * being done, the server's reason, one line) in j->err; returns
 * RB_EJOURNAL. res may be NULL: the connection's message. */
int rb__pg_fail(rb_journal_t *j, const PGresult *res, const char *what);

/*
 * Runs sql with n parameters, every result column in binary: vals[i] is
 * text (lens and fmts NULL or 0 for it) or, fmts[i] 1, lens[i] bytes of
 * binary (a bytea). NULL vals[i]: SQL NULL. Returns the result when it is
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK, else NULL with the failure in
 * j->err (what names the operation).
 */
PGresult *rb__pg_query(rb_journal_t *j, const char *what, const char *sql, int n,
                       const char *const *vals, const int *lens, const int *fmts);
/* res when it is PGRES_COMMAND_OK or PGRES_TUPLES_OK; else clears it and
 * returns NULL with the failure in j->err (res NULL: the connection's). */
PGresult *rb__pg_result(rb_journal_t *j, PGresult *res, const char *what);
/* In pipeline mode: sends a sync and reads every answer up to it. 0, or
 * the first failure (described as what's, in j->err). */
int rb__pg_pipeline_sync(rb_journal_t *j, const char *what);
/* rb__pg_query without parameters or rows wanted: 0 or RB_EJOURNAL. */
int rb__pg_exec(rb_journal_t *j, const char *what, const char *sql);

/*
 * Runs sql (parameters as rb__pg_query's) and calls row(res, arg) for each
 * row as it arrives (libpq's single-row mode: a table of any size is read
 * in constant memory); res holds that one row (row 0). A nonzero return of
 * row stops the walk (the rest of the result is drained) and is returned.
 */
int rb__pg_each(rb_journal_t *j, const char *what, const char *sql, int n,
                const char *const *vals, int (*row)(const PGresult *res, void *arg), void *arg);

/* Columns of a binary result. NULL reads as 0, NULL, NULL. */
int64_t rb__pg_i64(const PGresult *res, int row, int col);
/* The bytes of a text or bytea column (*len their count), or NULL. */
const char *rb__pg_bytes(const PGresult *res, int row, int col, size_t *len);
/* A text column as a NUL-terminated string (libpq terminates every value), or NULL. */
const char *rb__pg_text(const PGresult *res, int row, int col);
/* A bytea column of exactly RB__J_HASH_LEN bytes, or NULL. */
const unsigned char *rb__pg_hash(const PGresult *res, int row, int col);

/* journal_pg_schema.c: checks that the database holds a runbook journal of
 * a version this program knows; creates the schema in a database with no
 * journal when create is set (refused when it holds tables of another
 * program's). */
int rb__pg_schema(rb_journal_t *j, int create);

/* journal_pg_audit.c: rb_journal_verify_with on j's connection, inside
 * the transaction open there (the caller's; one snapshot). */
int rb__pg_verify_in_txn(rb_journal_t *j, const rb_journal_verify_opts_t *o, json_t **out);

/* journal_pg_append.c: frees the write state of j's connection (rb__pg_close). */
void rb__pg_append_free(rb_journal_t *j);

#endif
