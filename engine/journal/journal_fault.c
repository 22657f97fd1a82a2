/*
 * journal_fault.c — the wrappers every SQLite call of the journal that can
 * fail (open, prepare, step, exec) goes through: they keep the errno behind
 * a failure (rb__j_sys_errno), and hold the test-only fault knob. They call
 * SQLite unchanged unless RUNBOOK_JOURNAL_FAULT is set. With RUNBOOK_JOURNAL_FAULT=N[:KIND], read
 * once at the process's first rb_journal_open, the Nth such call of the
 * process (counted from 1, over all threads) does not reach SQLite and
 * fails instead with KIND: ioerr (default, SQLITE_IOERR), full
 * (SQLITE_FULL), busy (SQLITE_BUSY), readonly (SQLITE_READONLY) or
 * corrupt (SQLITE_CORRUPT); every
 * other call goes through. The failing call prints one line on stderr
 * ("runbook: RUNBOOK_JOURNAL_FAULT: SQLite call N (step) fails: ioerr"),
 * so that a test sweeping N knows the fault fired and when N has passed
 * the last call. tests/e2e/journal_fault_sweep.sh sweeps it over every
 * command that touches the journal (docs/testing.md).
 *
 * It exists for the failures no real cause can make on demand (an I/O
 * error on one read in the middle of a transaction, a prepare that fails):
 * the real ones — full disk, read-only file, lock, corruption — are tested
 * for real (tests/e2e/journal_faults.sh).
 *
 * Owns: the knob's counter, the kept errno. Must never: change what a call does when the
 * variable is unset (one relaxed atomic load per call), or fail more than
 * the one call.
 */
#include "journal_int.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long rb__fault_at;  /* the call that fails; 0: none (written once, at the first open) */
static long rb__fault_calls;
static int rb__fault_rc = SQLITE_IOERR;
static const char *rb__fault_kind = "ioerr";
static _Thread_local int rb__fault_fired; /* the reason of this thread's next error */
static _Thread_local int rb__sys_errno;   /* the errno of this thread's last failed call */

/* The errno behind a failed call, kept right after it: a reset, a
 * rollback or a later call replaces SQLite's before the error is
 * described, and for a failed write (SQLITE_IOERR_WRITE: a file-size
 * limit, EIO) SQLite keeps none at all. */
static int rb__keep_errno(sqlite3 *db, int rc)
{
    int now = errno; /* the failed system call's, for a write SQLite does not keep */
    if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE && db) {
        int e = sqlite3_system_errno(db);
        if (!e && (rc & 0xff) == SQLITE_IOERR)
            e = now; /* a failed write (EFBIG, EIO …): SQLite kept no errno */
        if (e)
            rb__sys_errno = e;
    }
    return rc;
}

int rb__j_sys_errno(void)
{
    int e = rb__sys_errno;
    rb__sys_errno = 0;
    return e;
}

void rb__j_fault_arm(void)
{
    static int read;
    if (read)
        return;
    read = 1;
    const char *v = getenv("RUNBOOK_JOURNAL_FAULT");
    if (!v || !*v)
        return;
    char *end;
    long n = strtol(v, &end, 10);
    if (n <= 0)
        return;
    static const struct { const char *name; int rc; } kinds[] = {
        { "ioerr", SQLITE_IOERR }, { "full", SQLITE_FULL },
        { "busy", SQLITE_BUSY },   { "corrupt", SQLITE_CORRUPT },
        { "readonly", SQLITE_READONLY },
    };
    if (*end == ':')
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            if (!strcmp(end + 1, kinds[i].name)) {
                rb__fault_rc = kinds[i].rc;
                rb__fault_kind = kinds[i].name;
            }
    __atomic_store_n(&rb__fault_at, n, __ATOMIC_RELEASE);
}

/* 0, or the result code the current call fails with. */
static int rb__fault(const char *what)
{
    long at = __atomic_load_n(&rb__fault_at, __ATOMIC_RELAXED);
    if (!at)
        return 0;
    long n = __atomic_add_fetch(&rb__fault_calls, 1, __ATOMIC_RELAXED);
    if (n != at)
        return 0;
    fprintf(stderr, "runbook: RUNBOOK_JOURNAL_FAULT: SQLite call %ld (%s) fails: %s\n", n, what,
            rb__fault_kind);
    rb__fault_fired = 1;
    return rb__fault_rc;
}

int rb__j_fault_fired(void)
{
    int f = rb__fault_fired;
    rb__fault_fired = 0;
    return f;
}

int rb__j_open_v2(const char *path, sqlite3 **db, int flags, const char *vfs)
{
    int rc = rb__fault("open");
    if (rc) {
        *db = NULL;
        return SQLITE_CANTOPEN;
    }
    return sqlite3_open_v2(path, db, flags, vfs);
}

int rb__j_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **st, const char **tail)
{
    int rc = rb__fault("prepare");
    if (rc) {
        *st = NULL;
        return rc;
    }
    return sqlite3_prepare_v2(db, sql, n, st, tail);
}

int rb__j_prepare_v3(sqlite3 *db, const char *sql, int n, unsigned flags, sqlite3_stmt **st,
                     const char **tail)
{
    int rc = rb__fault("prepare");
    if (rc) {
        *st = NULL;
        return rc;
    }
    return sqlite3_prepare_v3(db, sql, n, flags, st, tail);
}

int rb__j_step(sqlite3_stmt *st)
{
    int rc = rb__fault("step");
    return rc ? rc : rb__keep_errno(sqlite3_db_handle(st), sqlite3_step(st));
}

int rb__j_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **), void *arg,
               char **errmsg)
{
    int rc = rb__fault("exec");
    if (rc) {
        if (errmsg)
            *errmsg = NULL;
        return rc;
    }
    return rb__keep_errno(db, sqlite3_exec(db, sql, cb, arg, errmsg));
}
