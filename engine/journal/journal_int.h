/*
 * journal_int.h — what the files of the journal share and nobody else sees:
 * the journal handle, the record an append becomes, the hash chain's
 * encoding and verification rules, the writer thread's entry points, the
 * owner of a run, and the connection and helpers of the files that touch
 * SQLite.
 *
 * The files that touch SQLite (and are the only code in the project that
 * may include <sqlite3.h>):
 *   journal.c           the handle and its connections: open, close, errors,
 *                       the statement cache, the writer's WAL checkpoints.
 *   journal_schema.c    creating the schema, migrating older files.
 *   journal_append.c    the write transaction and the chain head, records
 *                       into rows: direct-mode appends and sync, the writer's
 *                       batches.
 *   journal_interrupt.c on open, marking dead processes' runs interrupted.
 *   journal_read.c      runs, a run with its events, runbook versions.
 *   journal_audit.c     audit verify, prune and the checkpoints.
 *   journal_seal.c      signed checkpoints: signing the head; the file's
 *                       signature rows for journal_seal_check.c.
 *   journal_fault.c     the wrappers every SQLite call that can fail goes
 *                       through, and the test-only fault knob in them.
 *   journal_export.c    reading every row of a file, table by table, for
 *                       journal copy.
 * The files that touch PostgreSQL (the only ones that may include
 * <libpq-fe.h>, through journal_pg_int.h):
 *   journal_pg.c        the connection: URL, open, close, errors, queries.
 *   journal_pg_schema.c creating the schema (schemas/journal_pg.sql),
 *                       checking its version, migrations.
 *   journal_pg_audit.c  audit verify, with journal_chain.c's rules.
 *   journal_pg_copy.c   journal copy: a file's rows into an empty database.
 *   journal_pg_append.c the write transaction (the chain head's row lock),
 *                       records into rows: direct mode, sync, the writer's
 *                       batches on a connection of their own.
 *   journal_pg_read.c   the listings: runs, runbook versions, sub-runs,
 *                       a version's text, a concurrency key's runs.
 *   journal_pg_run.c    one run: its row, its events, its walk.
 *   journal_pg_alerts.c the reads of the alert claims.
 *   journal_pg_lease.c  the runs' leases (run_leases): take, renew, release,
 *                       the expired ones, and the fence of the append path.
 * The files that do not:
 *   journal_rows.c      the JSON every read returns, from either backend's rows.
 *   journal_chain.c     the canonical encoding, SHA-256, the verify rules
 *                       (the events' and the records' around them: both
 *                       backends' verify feed them, so findings match).
 *   journal_key.c       Ed25519 key files, signing and checking (libcrypto).
 *   journal_seal_check.c  audit verify --pubkey/--anchor: the signatures and
 *                       anchors against the chain, rows from either backend.
 *   journal_writer.c    the writer thread, its queue, flush callbacks.
 *   journal_recover.c   who owns a run, whether it is alive, resume points.
 *
 * Two backends, one API (journal.h): the path picks one (see "the
 * backends" below). The seam is the public function: each either serves
 * both (rb_journal_open, close, verify) or refuses a PostgreSQL handle
 * with RB__J_SQLITE_ONLY. Every read is served on both (journal_pg_read.c,
 * journal_pg_run.c, journal_pg_alerts.c; the JSON built once, in
 * journal_rows.c), and every write (rb__j_write and rb_journal_sync
 * dispatch to journal_pg_append.c; the writer thread runs on either), the
 * append checking the run's lease epoch (rb__pg_fence, journal_pg_lease.c:
 * journal_pg_int.h says how). What the PostgreSQL side still lacks is the
 * server's use of leases: takeover. Both backends share the
 * chain's encoding and the verify rules (journal_chain.c), so a chain is
 * byte-identical on either.
 *
 * Must never: be included outside engine/journal*.c; include <sqlite3.h>
 * or <libpq-fe.h> (the files that touch a database include them
 * themselves).
 */
#ifndef RB_JOURNAL_INT_H
#define RB_JOURNAL_INT_H

#include "journal.h"

#include <stdarg.h>
#include <stdint.h>
#include <uv.h>

#define RB__J_HASH_LEN 32
#define RB__J_ERRLEN   512

/* A growing text buffer, reused from one event to the next. */
typedef struct {
    char *p;
    size_t len, cap;
} rb__buf_t;

typedef struct rb__jconn rb__jconn_t;     /* one sqlite3 connection (journal.c) */
struct rb__jpg;                           /* one PostgreSQL connection (journal_pg_int.h) */
typedef struct rb__jwriter rb__jwriter_t; /* writer-thread state (journal_writer.c) */

struct rb_journal {
    char *path;
    int flags;
    rb__jconn_t *c;       /* the caller's connection: direct writes, every read; NULL
                           * on PostgreSQL */
    struct rb__jpg *pg;   /* the PostgreSQL backend's connection, or NULL: the SQLite file */
    char err[RB__J_ERRLEN];
    json_t *recovered;    /* runs open() marked interrupted: [{id, …}] */
    uv_mutex_t mu;        /* guards stats, and the writer's shared state */
    rb_journal_stats_t stats;
    rb__jwriter_t *w;     /* writer mode; NULL in direct mode */
    rb__buf_t enc;        /* the caller's thread: an event's data, encoded */
    rb_journal_key_t *sign_key; /* signs checkpoints (rb_journal_seal), or NULL; set
                           * before the writer starts, then only read */
    int lock_fd;          /* RB_JOURNAL_EXCLUSIVE: the flock's descriptor, else -1; closed
                           * after every connection (closing a descriptor of the file
                           * drops the process's POSIX locks, SQLite's included) */
};

/* ---- the backends ------------------------------------------------------------
 * rb_journal_open picks one by the path: a postgresql:// or postgres:// URL
 * is PostgreSQL (j->pg; the journal_pg*.c files), anything else the SQLite
 * file (j->c; today's files, which never see a PostgreSQL handle). Each
 * public function of journal.h either serves both or begins with
 * RB__J_SQLITE_ONLY, which answers a PostgreSQL handle with one message
 * ("not supported on a PostgreSQL journal yet: …") before any SQLite code
 * runs. Porting a function means giving it its journal_pg*.c twin and
 * replacing the guard with a dispatch. The SQLite path pays one pointer
 * test per call. */

/* journal_pg.c: connects j to the PostgreSQL journal at url (j->path
 * becomes the URL without its password) and checks its schema; create:
 * makes the schema in a database with none, and the connection may write
 * (else it is read-only). On failure j->err says why; rb__pg_close frees
 * what was made. */
int rb__pg_open(rb_journal_t *j, const char *url, int create);
void rb__pg_close(rb_journal_t *j);
/* Says in j->err that what is not supported on PostgreSQL yet; RB_EJOURNAL. */
int rb__pg_unsupported(rb_journal_t *j, const char *what);
#define RB__J_SQLITE_ONLY(j, what)                                                            \
    do {                                                                                      \
        if ((j)->pg)                                                                          \
            return rb__pg_unsupported((j), (what));                                           \
    } while (0)
/* journal_pg_audit.c: rb_journal_verify_with on PostgreSQL, in one snapshot. */
int rb__pg_verify_with(rb_journal_t *j, const rb_journal_verify_opts_t *o, json_t **out);
/* journal_pg_read.c: the listings on PostgreSQL, as journal_read.c's
 * functions of the same names (no run is orphaned by a process there:
 * none). */
int rb__pg_runs_find(rb_journal_t *j, const rb_journal_runs_filter_t *f, json_t **out);
int rb__pg_runs_orphaned(rb_journal_t *j, json_t **out);
int rb__pg_runs(rb_journal_t *j, int limit, json_t **out);
int rb__pg_versions(rb_journal_t *j, const char *name, json_t **out);
int rb__pg_run_children(rb_journal_t *j, int64_t run_id, json_t **out);
int rb__pg_get_version(rb_journal_t *j, const char *sha256, char **source, size_t *len);
int rb__pg_key_state(rb_journal_t *j, const char *runbook, const char *key, int64_t *active_run,
                     char **active_runbook, int64_t *last_end_ms);
/* journal_pg_run.c: one run, as journal_read.c's rb_journal_run_row,
 * run_get_some and run_walk. */
int rb__pg_run_row(rb_journal_t *j, int64_t run_id, json_t **out);
int rb__pg_run_get_some(rb_journal_t *j, int64_t run_id, const char *const *types, int except,
                        json_t **out);
int rb__pg_run_walk(rb_journal_t *j, int64_t run_id, const char *const *types, int except,
                    rb_journal_outline_fn outline, rb_journal_event_fn event, void *arg);
/* journal_pg_audit.c: rb_journal_verify_run on PostgreSQL, in one snapshot. */
int rb__pg_verify_run(rb_journal_t *j, int64_t run_id, json_t **out);
/* journal_pg_alerts.c: the reads of the alert claims, as journal_alerts.c's. */
int rb__pg_alert_get(rb_journal_t *j, const char *fingerprint, const char *starts_at,
                     json_t **out);
int rb__pg_alert_open(rb_journal_t *j, const char *fingerprint, json_t **out);
int rb__pg_alerts_unstarted(rb_journal_t *j, int limit, json_t **out);

/* ---- the rows the reads return (journal_rows.c) -------------------------------
 * Both backends turn their rows into JSON here, so that a read answers the
 * same bytes from a file and from its PostgreSQL copy. */

/* How a column reads as JSON. */
typedef enum { RB__JCOL_INT, RB__JCOL_TEXT, RB__JCOL_JSON } rb__jcol_kind_t;

/* The shape of a row: the key and kind of columns 0, 1, … of a SELECT, in
 * the order it names them; a NULL key ends it. */
typedef struct {
    const char *key;
    rb__jcol_kind_t kind;
} rb__jcol_t;

/* rb_journal_runs; rb_journal_run_row (and run_get's, before "events");
 * an event of run_get and run_walk (seq, wall_ms, mono_ns, type, step,
 * attempt, data); rb_journal_versions; rb_journal_runs_find;
 * rb_journal_run_children. */
extern const rb__jcol_t rb__j_runs_row[], rb__j_run_row[], rb__j_event_row[],
    rb__j_version_row[], rb__j_runs_find_row[], rb__j_children_row[];

/* A row as a backend reads it: whether column col is SQL NULL, it as an
 * integer, its bytes (*len their count; NULL for SQL NULL, valid until the
 * row moves on). */
typedef struct {
    void *ctx;
    int (*is_null)(void *ctx, int col);
    int64_t (*i64)(void *ctx, int col);
    const char *(*text)(void *ctx, int col, size_t *len);
} rb__jrow_t;

/* The row as an object of the shape cols; with skip_json its JSON columns
 * are null, unparsed. SQL NULL is null; a JSON column whose text does not
 * parse is the string it is. New reference; NULL when out of memory (a
 * missing key would be a wrong answer). */
json_t *rb__j_row(const rb__jrow_t *row, const rb__jcol_t *cols, int skip_json);

/* Which rows' JSON columns are parsed: those whose column col (a text) is
 * one of names (NULL-terminated), or, with except, is none of them. NULL
 * names: every row's. */
typedef struct {
    int col;
    const char *const *names;
    int except;
} rb__jpick_t;
/* 1 when pick (may be NULL) leaves row's JSON columns unparsed. */
int rb__j_skip_json(const rb__jrow_t *row, const rb__jpick_t *pick);

/* The first or last event of rb_journal_run_walk's outline: {type, wall_ms,
 * data: {duration_ms, alert: {labels}}}, duration_ms only when duration is
 * an integer, alert.labels only when labels is an object (both borrowed,
 * may be NULL). New reference; NULL when out of memory. */
json_t *rb__j_outline_end(const char *type, int64_t wall_ms, const json_t *duration,
                          const json_t *labels);

/* rb_journal_get_version's answer: n bytes of s (a column's, may be NULL
 * when n is 0) copied into *out, NUL-terminated, *len (may be NULL) n.
 * 0 or RB_ENOMEM. */
int rb__j_text_copy(const char *s, size_t n, char **out, size_t *len);

/* ---- copying a journal: journal_export.c reads the file's rows, journal_pg_copy.c
 * writes them into PostgreSQL ---------------------------------------------------- */

typedef enum { RB__JVAL_NULL, RB__JVAL_INT, RB__JVAL_TEXT, RB__JVAL_BLOB } rb__jval_kind_t;
typedef struct {
    rb__jval_kind_t kind;
    int64_t i;     /* RB__JVAL_INT */
    const char *p; /* TEXT (NUL-terminated), BLOB */
    size_t len;
} rb__jval_t;

typedef struct {
    const char *name;  /* the table, the same on both backends */
    const char *cols;  /* its columns, in the order of the values */
    int ncols;
    const char *order; /* the order rows are read in */
} rb__jtable_t;

#define RB__J_COPY_MAXCOLS 11
/* The tables a copy carries, in the order it writes them (a row refers
 * only to rows of the tables before it; the checkpoints come before the
 * events, whose chain resumes at the newest cut); {NULL} ends it.
 * "chain_head" is the one row the target's is set to; "sqlite_sequence"
 * (name, seq) the ids runs and alerts have handed out. */
extern const rb__jtable_t rb__j_copy_tables[];

/* journal_export.c: calls row(t, vals, arg) for every row of the file's
 * tables, in rb__j_copy_tables' order, in one read snapshot; vals hold
 * t->ncols values, valid during the call. A nonzero return of row ends
 * the walk and is returned. */
int rb__j_export(rb_journal_t *j,
                 int (*row)(const rb__jtable_t *t, const rb__jval_t *vals, void *arg), void *arg);

/* ---- records ---------------------------------------------------------------
 * Every append becomes one record. Direct mode applies it at once, with the
 * caller's strings borrowed; writer mode copies it, strings included, into
 * the queue (journal_writer.c), and the writer thread applies a whole queue
 * in one transaction. */

typedef enum {
    RB__REC_VERSION = 1, /* sha256, name, path, source/source_len */
    RB__REC_RUN,         /* run_id (0: SQLite picks), runbook, sha256, trigger, params */
    RB__REC_EVENT,       /* run_id, type, step, attempt, data (canonical JSON) */
    RB__REC_STATUS,      /* run_id, status, final */
    RB__REC_ALERT,       /* fingerprint, starts_at, data (the alert), status, runbooks */
    RB__REC_ALERT_RUN,   /* fingerprint, starts_at, runbook, outcome (a run not started) */
    RB__REC_ALERT_RESOLVED, /* fingerprint, starts_at, data (the resolved notice) */
    RB__REC_SEAL,        /* a signed checkpoint of the head as it is then (journal_seal.c) */
} rb__rec_kind_t;

typedef struct rb__jrec {
    struct rb__jrec *next;
    rb__rec_kind_t kind;
    uint64_t ticket;      /* writer mode: the order it was appended in */
    int64_t run_id;
    int64_t wall_ms;      /* taken when it was appended, on the caller's thread */
    int64_t started_ms;   /* a status record: the run's start (runs.started_at), or 0 */
    int64_t mono_ns;
    int attempt;
    int final;
    const char *type, *step, *data;
    const char *sha256, *name, *path, *source;
    size_t source_len;
    const char *runbook, *trigger, *params;
    const char *status;
    /* alerts (journal_alerts.c); a RUN record with a fingerprint also
     * links the run to that claimed alert, in the same statement group */
    const char *fingerprint, *starts_at, *runbooks, *outcome;
} rb__jrec_t;

/* ---- journal.c and journal_append.c, for the writer thread ---------------- */

/* Opens another connection to j's file, set up for writing like the first. */
int rb__j_conn_open(rb_journal_t *j, rb__jconn_t **out, char *err, size_t errlen);
void rb__j_conn_close(rb__jconn_t *c);
/* How long a busy file is waited for: 2 s while a caller waits (like the
 * caller's own connection), 10 s on the writer thread (the default). */
void rb__j_conn_patience(rb__jconn_t *c, int caller_waits);
/* The message of the connection's last failure. */
const char *rb__j_conn_err(const rb__jconn_t *c);

typedef struct {
    uint64_t records, events;
    int64_t ids_lo, ids_hi; /* the run ids reserved, when asked */
} rb__jbatch_t;

/* journal_append.c: counts one commit of records (events among them) that
 * took commit_ns in j's rb_journal_stats. Any thread. */
void rb__j_stats_commit(rb_journal_t *j, int64_t commit_ns, uint64_t records, uint64_t events);

/*
 * Applies recs (a list, may be NULL) in one IMMEDIATE transaction and
 * commits it; with reserve > 0 also reserves that many run ids (moves
 * sqlite_sequence past them so that no other writer takes them). All or
 * nothing: on failure everything is rolled back and the message is in
 * rb__j_conn_err(c).
 */
int rb__j_batch(rb__jconn_t *c, const rb__jrec_t *recs, int64_t reserve, rb__jbatch_t *out);

/* The writer has nothing queued: a good moment to checkpoint the WAL. */
void rb__j_idle(rb__jconn_t *c);

/* Gives back the run ids above new_seq that were reserved up to top and
 * never used, when no other writer reserved or took one since (the
 * sequence still stands at top). Best effort. */
void rb__j_release_ids(rb__jconn_t *c, int64_t top, int64_t new_seq);

/* journal_pg_append.c: the writes (see journal_append.c's twins).
 * rb__pg_write: one record into the open transaction of the caller's
 * connection (direct mode; begun by the first, with the chain head's row
 * lock); rb__pg_sync commits it. rb__pg_run_id: the next run id
 * (nextval, on the caller's connection) for a run the writer will insert.
 * rb__pg_writer_open: the writer thread's own connection, a handle of its
 * own (its err is the writer's; its commits count in j's stats);
 * rb__pg_batch: recs in one transaction on it, as rb__j_batch (no run ids
 * to reserve: the sequence hands them out). */
int rb__pg_write(rb_journal_t *j, const rb__jrec_t *r, int64_t *run_id);
int rb__pg_sync(rb_journal_t *j);
/* 1 when direct-mode appends of j are pending (a write transaction is open). */
int rb__pg_pending(const rb_journal_t *j);
int rb__pg_run_id(rb_journal_t *j, int64_t *id);
int rb__pg_writer_open(rb_journal_t *j, rb_journal_t **out);
void rb__pg_writer_close(rb_journal_t *c);
int rb__pg_batch(rb_journal_t *c, const rb__jrec_t *recs, rb__jbatch_t *out);

/* ---- journal_writer.c, for journal_append.c --------------------------------- */

int rb__jw_submit(rb_journal_t *j, const rb__jrec_t *r);
int rb__jw_sync(rb_journal_t *j);
int rb__jw_run_id(rb_journal_t *j, int64_t *id);

/* ---- journal_chain.c ---------------------------------------------------------- */

typedef struct {
    void *ctx; /* EVP_MD_CTX */
    void *md;  /* EVP_MD */
} rb__hasher_t;

int rb__hasher_init(rb__hasher_t *h);
void rb__hasher_free(rb__hasher_t *h);

/* One event as the chain sees it. Strings need not be NUL-terminated. */
typedef struct {
    int64_t id, run_id, seq, wall_ms, mono_ns, attempt;
    const char *type;
    size_t type_len;
    const char *step; /* NULL: a run-level event */
    size_t step_len;
    const char *data;
    size_t data_len;
    const unsigned char *prev_hash; /* RB__J_HASH_LEN bytes */
} rb__jev_t;

/* hash = SHA-256 of the canonical encoding of e (docs/journal.md). */
int rb__chain_event_hash(rb__hasher_t *h, const rb__jev_t *e, unsigned char out[RB__J_HASH_LEN]);

typedef struct {
    int64_t id, created_at, before_ms, cut_event_id, pruned_runs, pruned_events;
    const unsigned char *cut_hash;  /* RB__J_HASH_LEN */
    const unsigned char *prev_hash; /* RB__J_HASH_LEN: the previous checkpoint's hash */
} rb__jcp_t;

int rb__chain_checkpoint_hash(rb__hasher_t *h, const rb__jcp_t *cp,
                              unsigned char out[RB__J_HASH_LEN]);

/* A signed checkpoint as the signature sees it. */
#define RB__J_SIG_LEN    64 /* Ed25519 */
#define RB__J_SIGMSG_LEN 96 /* tag (29) + NUL + 8 + 8 + 32 + 8, rounded up */
typedef struct {
    int64_t id, event_id, signed_at;
    const unsigned char *hash; /* RB__J_HASH_LEN */
} rb__jsig_t;

/* The bytes signed (docs/journal.md); returns their length. */
size_t rb__chain_sig_message(const rb__jsig_t *s, unsigned char out[RB__J_SIGMSG_LEN]);

/* SHA-256 of n bytes. */
int rb__j_sha256(const void *p, size_t n, unsigned char out[RB__J_HASH_LEN]);

/* journal_key.c: Ed25519. sign: 0 or RB_EINVAL (a public key) / RB_EJOURNAL.
 * check: 1 when sig is k's signature of msg. */
int rb__key_sign(const rb_journal_key_t *k, const unsigned char *msg, size_t n,
                 unsigned char sig[RB__J_SIG_LEN]);
int rb__key_check(const rb_journal_key_t *k, const unsigned char *msg, size_t n,
                  const void *sig, size_t siglen);
const unsigned char *rb__key_raw_id(const rb_journal_key_t *k); /* RB__J_HASH_LEN bytes */
int rb__key_is_private(const rb_journal_key_t *k);

void rb__buf_free(rb__buf_t *b);

#define RB__J_JSON_DEPTH 2048 /* jansson's own parser limit */

/* b := the canonical text of v (NULL: "{}"), NUL-terminated: compact JSON
 * with sorted keys, byte for byte what jansson's json_dumps(v,
 * JSON_COMPACT | JSON_SORT_KEYS) writes. RB_EINVAL: invalid UTF-8 in a
 * string, or nested deeper than RB__J_JSON_DEPTH. */
int rb__canon_json(rb__buf_t *b, const json_t *v);

/* 64 lowercase hex digits + NUL. */
void rb__hex(const unsigned char *b, size_t n, char *out);

/* A small int64 → int64 map (keys > 0). */
typedef struct {
    int64_t *keys, *vals;
    size_t cap, len;
} rb__i64map_t;

int rb__map_get(const rb__i64map_t *m, int64_t key, int64_t *val);
int rb__map_put(rb__i64map_t *m, int64_t key, int64_t val); /* 0 or RB_ENOMEM */
void rb__map_clear(rb__i64map_t *m);
void rb__map_free(rb__i64map_t *m);

/* The rules of `audit verify`, fed one event at a time in chain order. */
#define RB__JV_MAX_PROBLEMS 20

typedef struct {
    json_t *problems;  /* the first RB__JV_MAX_PROBLEMS, in chain order */
    int64_t nproblems; /* all found */
    int64_t events;
    int64_t expect_id; /* the id the next event must have */
    unsigned char expect_prev[RB__J_HASH_LEN];
    int64_t last_id;
    unsigned char last_hash[RB__J_HASH_LEN];
    rb__i64map_t seqs; /* run → last seq seen */
    rb__hasher_t h;
    int oom;
} rb__jverify_t;

int rb__jv_init(rb__jverify_t *v, int64_t first_id, const unsigned char start[RB__J_HASH_LEN]);
void rb__jv_free(rb__jverify_t *v);
/* hash/prev are the stored columns (any length: a wrong one is a finding). */
void rb__jv_event(rb__jverify_t *v, const rb__jev_t *e, const void *hash, size_t hash_len,
                  int run_exists);
/* Records a finding; e may be NULL (then only event_id, when > 0, is given). */
void rb__jv_problem(rb__jverify_t *v, const rb__jev_t *e, int64_t event_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The event whose prev_hash is not 32 bytes (no hash could have been
 * computed over it): a finding, and the walk goes on from it. */
void rb__jv_event_bad_prev(rb__jverify_t *v, const rb__jev_t *e, const void *hash,
                           size_t hash_len);

/* The checkpoints' own chain, fed in id order: cp's hash pointers may be
 * NULL (a column that is not 32 bytes), stored is its hash column (NULL:
 * not 32 bytes). Appends the checkpoint to list as audit verify reports it. */
typedef struct {
    unsigned char prev[RB__J_HASH_LEN]; /* the previous checkpoint's hash */
    int64_t cut;                        /* the newest cut so far (0: none) */
    unsigned char cut_hash[RB__J_HASH_LEN];
} rb__jvcp_t;
void rb__jv_checkpoint(rb__jverify_t *v, rb__jvcp_t *s, const rb__jcp_t *cp,
                       const unsigned char *stored, json_t *list);
/* The chain head record (head_id >= 0) against the newest event, last
 * (the cut when there is none), whose stored hash is last_hash. */
void rb__jv_head(rb__jverify_t *v, int64_t head_id, const unsigned char head_hash[RB__J_HASH_LEN],
                 int64_t last, const unsigned char last_hash[RB__J_HASH_LEN]);
/* A runbook version's text (len bytes; src NULL: none) against its SHA-256. */
void rb__jv_version(rb__jverify_t *v, const char *sha, const char *name, const char *src,
                    size_t len);
/* A run whose runs row says have but whose events end want. */
void rb__jv_run_status(rb__jverify_t *v, int64_t run_id, const char *have, const char *want);
/* The report of audit verify (rb_journal_verify's *out without the seals):
 * a new reference, NULL when out of memory. */
json_t *rb__jv_report(const rb__jverify_t *v, const char *path, int64_t runs, int64_t versions,
                      int64_t first_id, const json_t *cps, int64_t head_id,
                      const unsigned char head_hash[RB__J_HASH_LEN], int64_t head_wall_ms);
/* journal_seal_check.c: the checks of rb_journal_verify_with o (signatures,
 * anchors), after the chain walk, on rows a backend reads through io (in
 * the walk's snapshot): cut is the newest checkpoint's cut, end the newest
 * event (cut when none is left). Findings go to v; out gets "signatures"
 * and "anchors". io's functions return 0 or the backend's failure
 * (described in its journal's message). */
typedef struct {
    int64_t id, event_id, signed_at;
    const unsigned char *hash;   /* RB__J_HASH_LEN bytes, or NULL: not a hash */
    const unsigned char *key_id; /* RB__J_HASH_LEN bytes, or NULL */
    const void *sig;
    size_t sig_len;
} rb__jsigrow_t;
typedef struct {
    int found;
    int64_t event_id, checkpoint;    /* cut_at: the cut and its checkpoint's id */
    const unsigned char *hash;       /* NULL: not a 32-byte hash */
    unsigned char buf[RB__J_HASH_LEN];
} rb__jseal_at_t;
typedef struct {
    void *ctx;
    /* every signature row in id order; row's nonzero return ends it */
    int (*signatures)(void *ctx, int (*row)(void *arg, const rb__jsigrow_t *r), void *arg);
    /* the event id as stored now */
    int (*event_hash)(void *ctx, int64_t id, rb__jseal_at_t *at);
    /* the first checkpoint whose cut is at or after id */
    int (*cut_at)(void *ctx, int64_t id, rb__jseal_at_t *at);
    /* how many run_finished events have an id above from */
    int (*ended_after)(void *ctx, int64_t from, int64_t *n);
} rb__jseal_io_t;
int rb__jv_seals(rb__jverify_t *v, const rb__jseal_io_t *io, const rb_journal_verify_opts_t *o,
                 int64_t cut, int64_t end, json_t *out);

/* 64 hex digits + NUL of the SHA-256 of len bytes of s (journal.c). */
int rb__j_sha256_hex(const char *s, size_t len, char hex[65]);

/* ---- the files that touch SQLite --------------------------------------------------
 * What the files of the journal that include <sqlite3.h> (the list at the
 * top) share. This header does not include it: the types are only named here, so
 * the files that must not touch SQLite still cannot. */

struct sqlite3;
struct sqlite3_stmt;

/* The statements a connection prepares once and keeps (rb__j_stmt). */
enum {
    RB__JST_VERSION_PUT,
    RB__JST_VERSION_GET,
    RB__JST_RUN_CREATE,
    RB__JST_RUN_STATUS,
    RB__JST_EVENT,
    RB__JST_SEQ_MAX,
    RB__JST_HEAD_GET,
    RB__JST_HEAD_SET,
    RB__JST_RUNS,
    RB__JST_RUN_GET,
    RB__JST_RUN_EVENTS,
    RB__JST_KEY_RUNS,
    RB__JST_ALERT_PUT,
    RB__JST_ALERT_RUN_PUT,
    RB__JST_ALERT_RESOLVE,
    RB__JST_ALERT_GET,
    RB__JST_ALERT_RUNS_GET,
    RB__JST_VERSIONS,
    RB__JST_SIG_LAST, /* journal_seal.c */
    RB__JST_SIG_PUT,
    RB__JST_BEGIN,  /* BEGIN IMMEDIATE and COMMIT, prepared once: parsing */
    RB__JST_COMMIT, /* them again on every group commit cost as much as an insert */
    RB__JST_COUNT
};

/* Their SQL text (journal.c). */
extern const char *const rb__j_sql[RB__JST_COUNT];

struct rb__jconn {
    rb_journal_t *j;
    struct sqlite3 *db;
    struct sqlite3_stmt *st[RB__JST_COUNT];
    char *err;                   /* where failures are described */
    size_t errlen;
    char own_err[RB__J_ERRLEN];  /* the writer's (not the caller's) buffer */
    int in_txn;                  /* a BEGIN IMMEDIATE is open */
    int pending;                 /* direct mode: writes in it */
    int lost;                    /* direct mode: an error rolled back writes that had returned 0 */
    /* The chain inside the open transaction: read at BEGIN, moved by each
     * event, written to chain_head just before COMMIT. */
    int64_t head_id;
    unsigned char head_hash[RB__J_HASH_LEN];
    int head_dirty;
    uint64_t txn_records, txn_events;
    /* Each run's last seq, so that an append need not look it up. Valid
     * while nobody else appended: checked at BEGIN against the head this
     * connection last committed (the head only moves forward). */
    rb__i64map_t seqs;
    int seqs_valid;
    int64_t seqs_head_id;
    unsigned char seqs_head_hash[RB__J_HASH_LEN];
    rb__hasher_t hasher;         /* not set up on a read-only connection */
    int wal_frames;              /* the writer's: WAL size after its last commit */
};

/* journal.c: errors. Both describe the failure in c->err (the file, what
 * was being done, the reason) and return the RB_E* code: rb__j_failc for
 * SQLite's result code rc, rb__j_say for a failure of our own making. */
int rb__j_failc(rb__jconn_t *c, int rc, const char *what);
int rb__j_say(rb__jconn_t *c, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* journal_fault.c: the only way the journal calls sqlite3_open_v2,
 * sqlite3_prepare_v2/v3, sqlite3_step and sqlite3_exec (same arguments,
 * same results), so that RUNBOOK_JOURNAL_FAULT=N[:KIND] can make the Nth
 * of them fail. rb__j_fault_arm reads the variable (rb_journal_open, once
 * per process); rb__j_fault_fired says, once, whether this thread's last
 * failure was the injected one (for the reason the user reads). */
struct sqlite3;
struct sqlite3_stmt;
void rb__j_fault_arm(void);
int rb__j_fault_fired(void);
/* The errno SQLite saw when this thread's last failed step or exec failed
 * (0: none), once: what rb__j_reason says when the connection no longer
 * holds it. */
int rb__j_sys_errno(void);
int rb__j_open_v2(const char *path, struct sqlite3 **db, int flags, const char *vfs);
int rb__j_prepare_v2(struct sqlite3 *db, const char *sql, int n, struct sqlite3_stmt **st,
                     const char **tail);
int rb__j_prepare_v3(struct sqlite3 *db, const char *sql, int n, unsigned flags,
                     struct sqlite3_stmt **st, const char **tail);
int rb__j_step(struct sqlite3_stmt *st);
int rb__j_exec(struct sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **),
               void *arg, char **errmsg);

/* journal.c: helpers. */
int64_t rb__j_wall_ms(void);
int64_t rb__j_mono_ns(void);
/* The cached statement id of c, prepared on first use. Give it back with
 * rb__j_release as soon as its rows are read. */
int rb__j_stmt(rb__jconn_t *c, int id, struct sqlite3_stmt **out);
void rb__j_release(struct sqlite3_stmt *st);
/* One integer from a one-row PRAGMA or query (0 when no row or NULL);
 * returns an SQLite result code. */
int rb__j_int(struct sqlite3 *db, const char *sql, int64_t *out);
/* The canonical text of v, malloc'd; NULL when it cannot be encoded. */
char *rb__j_dumps(const json_t *v);
/* A BLOB column as exactly RB__J_HASH_LEN bytes, or NULL. */
const unsigned char *rb__j_col_hash(struct sqlite3_stmt *st, int col);
/* Binds e (prev_hash included) and its hash to the RB__JST_EVENT insert. */
void rb__j_bind_event(struct sqlite3_stmt *st, const rb__jev_t *e,
                      const unsigned char hash[RB__J_HASH_LEN]);
/* Reads an event's run_id, seq, wall_ms, mono_ns, type, step, attempt and
 * data, in that order from column col on, into e (the strings are st's,
 * until it steps on; a NULL type or data reads as "", a NULL step as
 * NULL). e->id and e->prev_hash are left alone. */
void rb__j_col_event(struct sqlite3_stmt *st, int col, rb__jev_t *e);

/* journal_append.c: the write transaction. rb__j_txn_begin takes the write
 * lock (BEGIN IMMEDIATE) and reads the chain head; rb__j_txn_commit writes
 * the head and commits; both roll back on failure. what names the
 * operation in the error. */
int rb__j_txn_begin(rb__jconn_t *c, const char *what);
int rb__j_txn_commit(rb__jconn_t *c, const char *what);
void rb__j_txn_rollback(rb__jconn_t *c);
/* Writes one record inside the open transaction: 0, RB_ENOTFOUND (a status
 * for no such run: nothing written) or the failure, described in c->err.
 * *run_id (may be NULL): the id of a run it created. */
int rb__j_apply(rb__jconn_t *c, const rb__jrec_t *r, int64_t *run_id);

/* journal_append.c: one record into the journal, as every append does:
 * into the open transaction (direct mode) or the writer's queue. */
int rb__j_write(rb_journal_t *j, const rb__jrec_t *r, int64_t *run_id);

/* journal_alerts.c: writes an RB__REC_ALERT* record, or the claim link of a
 * RUN record (run_id: the run just inserted), inside the open transaction. */
int rb__j_apply_alert(rb__jconn_t *c, const rb__jrec_t *r, int64_t run_id);

/* journal_seal.c: writes an RB__REC_SEAL record: signs the head of the
 * open transaction with c->j->sign_key and inserts the signature. */
int rb__j_apply_seal(rb__jconn_t *c);
/* journal_seal.c: the checks of rb_journal_verify_with o (signatures,
 * anchors) in the open read snapshot, after the chain walk: cut is the
 * newest checkpoint's cut, end the newest event (cut when none is left).
 * Findings go to v; out gets "signatures" and "anchors". */
int rb__j_verify_seals(rb__jconn_t *c, rb__jverify_t *v, const rb_journal_verify_opts_t *o,
                       int64_t cut, int64_t end, json_t *out);

/* journal_schema.c: checks that j's file is a runbook journal, creates the
 * schema in a new one and migrates an older one (see rb_journal_open). */
int rb__j_migrate(rb_journal_t *j);

/* journal_interrupt.c: marks the open runs of dead processes interrupted
 * (see rb_journal_open); fills j->recovered. */
int rb__j_recover(rb_journal_t *j);

/* ---- journal_recover.c --------------------------------------------------------- */

typedef struct {
    int64_t pid;
    int64_t start;   /* start time, clock ticks after boot (/proc/PID/stat field 22); -1 unknown */
    char boot[40];   /* /proc/sys/kernel/random/boot_id; "" unknown */
} rb__owner_t;

/* This process. Any thread. */
const rb__owner_t *rb__owner_self(void);

/* 1 when the process that owned a run is still running: the same boot,
 * the pid exists, is not a zombie and started at the same time (so a
 * reused pid is not mistaken for it). pid <= 0 (unknown) is not alive. */
int rb__owner_alive(const rb__owner_t *o);

#endif
