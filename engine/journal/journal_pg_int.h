/*
 * journal_pg_int.h — what the files of the PostgreSQL backend share
 * (engine/journal/journal_pg*.c, the only files in the project that include
 * <libpq-fe.h>): the connection, the queries in libpq's binary result
 * format, the reading of their columns, and the fence of the append path
 * (journal_pg_lease.c).
 *
 * Must never: be included outside engine/journal/journal_pg*.c (and the
 * white-box test of the fence, tests/e2e/pg_lease.c).
 */
#ifndef RB_JOURNAL_PG_INT_H
#define RB_JOURNAL_PG_INT_H

#include "journal_int.h"

#include <libpq-fe.h>

/* The schema version this program writes on PostgreSQL (journal_pg_schema.c):
 * the file's 6 plus run_leases. */
#define RB__PG_SCHEMA_VERSION 7
typedef struct rb__jpgw rb__jpgw_t; /* a connection's write state (journal_pg_append.c) */

struct rb__jpg {
    PGconn *conn;
    char *conninfo; /* the URL as given (it may hold a password: never shown) */
    int in_txn;     /* a BEGIN is open */
    int version;    /* the journal's schema version (older only when opened read-only) */
    /* journal_pg_lease.c: this engine's id (rb_journal_set_engine) and the
     * epoch it holds each run at (run → epoch; 0: none any more). Guarded
     * by j->mu, as the lease counters in j->stats: the fence may run on
     * another thread than the lease calls. */
    char *engine;
    rb__i64map_t epochs;
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

/* An integer parameter: v in decimal, in n's buffer (returned). */
typedef struct {
    char s[24];
} rb__pgnum_t;
const char *rb__pg_num(rb__pgnum_t *n, int64_t v);

/* Row row of res as journal_rows.c reads it (at holds where; it must
 * outlive the returned reader). */
typedef struct {
    const PGresult *res;
    int row;
} rb__pgrow_t;
rb__jrow_t rb__pg_row(rb__pgrow_t *at, const PGresult *res, int row);

/* A read of several statements in one snapshot (REPEATABLE READ, READ
 * ONLY): rb__pg_read_begin opens the transaction unless one is open on the
 * connection already (*opened 0: the caller's, left alone);
 * rb__pg_read_end commits what begin opened. 0 or RB_EJOURNAL (j->err). */
int rb__pg_read_begin(rb_journal_t *j, const char *what, int *opened);
int rb__pg_read_end(rb_journal_t *j, const char *what, int opened);

/* journal_pg_schema.c: checks that the database holds a runbook journal of
 * a version this program knows; creates the schema in a database with no
 * journal when create is set (refused when it holds tables of another
 * program's). */
int rb__pg_schema(rb_journal_t *j, int create);

/*
 * journal_pg_lease.c: the fence of the append path. Before the first
 * record of a run that a write transaction writes (an event, a status, a
 * seal does not belong to a run and needs none), the append path calls
 *
 *     ret = rb__pg_fence(j, conn, run_id, err, errlen);
 *
 * inside that transaction, on its connection (conn NULL: j->pg->conn; err
 * NULL: j->err), and, when ret is not 0, rolls the whole transaction back
 * and fails the append with ret: RB_EFENCED, "X: run 5: fenced: engine-b
 * holds the run (epoch 3; this engine held epoch 2)", or RB_EJOURNAL
 * (the query failed; the transaction is aborted either way). Once per run
 * per transaction is enough (a batch of many records of one run calls it
 * once): it takes the run's lease row FOR SHARE, held to COMMIT or
 * ROLLBACK, so a takeover (an UPDATE of that row) waits until the
 * transaction has ended and then bumps the epoch after it; a write that
 * committed under the old epoch is thus always before the new owner's
 * reads. Call it before the transaction locks anything else (the chain
 * head), so that it never waits on a takeover while holding what other
 * appends wait for (takeovers hold nothing else: rb_journal_lease_take is
 * its own transaction).
 *
 * It passes (0) when the run's lease is held by this engine (j->pg->engine)
 * at the epoch this handle took it at and is not released; and when the
 * run has no lease row and this handle holds no epoch for it (a run nobody
 * leases: `runbook run` on PostgreSQL, or a run created in this very
 * transaction before its lease). Anything else is RB_EFENCED: counted in
 * j->stats.fenced_writes, and the run is forgotten by the handle (the
 * engine must stop it: it never runs another action for it).
 * A write whose lease has expired but that nobody took over passes (the
 * epoch is current: nobody else can have written).
 *
 * Any thread (the writer's): it reads j->pg->engine and the epochs under
 * j->mu.
 */
int rb__pg_fence(rb_journal_t *j, PGconn *conn, int64_t run_id, char *err, size_t errlen);

/* journal_pg_lease.c: frees the handle's lease state (rb__pg_close). */
void rb__pg_leases_free(struct rb__jpg *pg);

/* journal_pg_audit.c: rb_journal_verify_with on j's connection, inside
 * the transaction open there (the caller's; one snapshot). */
int rb__pg_verify_in_txn(rb_journal_t *j, const rb_journal_verify_opts_t *o, json_t **out);

/* journal_pg_append.c: frees the write state of j's connection (rb__pg_close). */
void rb__pg_append_free(rb_journal_t *j);

#endif
