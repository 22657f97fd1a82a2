/*
 * journal_fixture.h — what the journal's unit tests share: a temporary
 * directory per test, opening a journal or failing the test with its
 * message, and SQLite on a separate connection to look at (or tamper with)
 * the file as another process would. Production code never includes
 * <sqlite3.h> outside engine/journal*.c; tests may.
 *
 * Include after <cmocka.h>.
 */
#ifndef RB_TEST_JOURNAL_FIXTURE_H
#define RB_TEST_JOURNAL_FIXTURE_H

#include "journal/journal.h"
#include <runbook/runbook.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    char db[128];
} fx_t;

static inline int fx_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/rb-test-journal-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->db, sizeof fx->db, "%s/runbook.db", fx->dir);
    *state = fx;
    return 0;
}

static inline int fx_teardown(void **state)
{
    fx_t *fx = *state;
    DIR *d = opendir(fx->dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(fx->dir);
    free(fx);
    unsetenv("RUNBOOK_JOURNAL_MAX_PAGES");
    return 0;
}

static inline rb_journal_t *open_ok(const char *path, int flags)
{
    rb_journal_t *j = NULL;
    char err[512];
    int rc = rb_journal_open(path, flags, &j, err, sizeof err);
    if (rc != 0)
        fail_msg("rb_journal_open(%s): %d: %s", path, rc, err);
    assert_non_null(j);
    return j;
}

/* One integer from a query on a separate connection, as another process
 * would see the file. */
static inline int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Runs SQL on a separate connection, as an attacker with the sqlite3 tool
 * would (no foreign keys, triggers as the file has them). */
static inline void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* The SQLite error text of sql, or NULL when it succeeded (malloc'd). */
static inline char *sql_refused(const char *path, const char *sql)
{
    sqlite3 *db;
    char *msg = NULL, *copy = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        copy = strdup(msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    return copy;
}

static inline int64_t new_run(rb_journal_t *j, const char *name)
{
    char sha[65];
    const char *src = "apiVersion: runbook/v1\nname: x\n";
    assert_int_equal(rb_journal_put_version(j, name, "runbooks/x.yaml", src, strlen(src), sha), 0);
    json_t *params = json_pack("{s:s}", "instance", "10.0.0.1");
    int64_t id = 0;
    assert_int_equal(rb_journal_run_create(j, name, sha, params, "cli", &id), 0);
    json_decref(params);
    assert_true(id > 0);
    return id;
}

/* rb_journal_verify's verdict, with its report for a failing test. */
static inline json_t *verify(rb_journal_t *j)
{
    json_t *r = NULL;
    int rc = rb_journal_verify(j, &r);
    if (rc != 0)
        fail_msg("rb_journal_verify: %d: %s", rc, rb_journal_errmsg(j));
    assert_non_null(r);
    return r;
}

static inline int verify_path_ok(const char *path, json_t **report)
{
    rb_journal_t *j = open_ok(path, RB_JOURNAL_READONLY);
    json_t *r = verify(j);
    rb_journal_close(j);
    int ok = json_is_true(json_object_get(r, "ok"));
    if (report)
        *report = r;
    else
        json_decref(r);
    return ok;
}

/* The first finding's text ("" when none). Borrowed from r. */
static inline const char *first_problem(const json_t *r)
{
    const char *w = json_string_value(
        json_object_get(json_array_get(json_object_get(r, "problems"), 0), "what"));
    return w ? w : "";
}

static inline int64_t first_problem_int(const json_t *r, const char *key)
{
    json_t *v = json_object_get(json_array_get(json_object_get(r, "problems"), 0), key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

#endif
