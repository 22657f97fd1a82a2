/*
 * journal_read — prints what one read of the journal API returns, as JSON,
 * for the e2e tests that compare a journal file with its PostgreSQL copy
 * (tests/e2e/pg_read.sh): the reads no command prints whole (the server's
 * runbook versions and alert claims, the resume point, a concurrency key's
 * state) and the others as the API returns them.
 *
 *   journal_read DB runs LIMIT | versions NAME | run ID | row ID |
 *                some ID [-]TYPE… (only those types' data; -: all but) |
 *                walk ID | children ID | version SHA256 | verify ID |
 *                resume ID | key RUNBOOK KEY | alert FINGERPRINT STARTS_AT |
 *                alert-open FINGERPRINT | unstarted LIMIT
 *
 * Prints the answer (keys in the order the journal gave them) and exits 0;
 * on a failure prints "error CODE" (the same on either backend) and the
 * journal's message on stderr, exit 1; 2 on bad usage.
 */
#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal/journal.h"

static int put(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(1) | JSON_ENCODE_ANY);
    if (!s)
        return 1;
    puts(s);
    free(s);
    return 0;
}

static int outline(json_t *run, void *arg)
{
    (void)arg;
    return put(run);
}

static int event(json_t *ev, void *arg)
{
    (void)arg;
    char *s = json_dumps(ev, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return 1;
    puts(s);
    free(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: journal_read DB WHAT ARG…\n");
        return 2;
    }
    rb_journal_t *j = NULL;
    char err[512];
    if (rb_journal_open(argv[1], RB_JOURNAL_READONLY, &j, err, sizeof err) != 0) {
        fprintf(stderr, "journal_read: %s\n", err);
        return 2;
    }
    const char *what = argv[2];
    int64_t id = strtoll(argv[3], NULL, 10);
    json_t *v = NULL;
    int rc;
    if (!strcmp(what, "runs")) {
        rc = rb_journal_runs(j, (int)id, &v);
    } else if (!strcmp(what, "versions")) {
        rc = rb_journal_versions(j, argv[3], &v);
    } else if (!strcmp(what, "run")) {
        rc = rb_journal_run_get(j, id, &v);
    } else if (!strcmp(what, "row")) {
        rc = rb_journal_run_row(j, id, &v);
    } else if (!strcmp(what, "some")) {
        int except = argc > 4 && argv[4][0] == '-';
        const char *types[16] = {NULL};
        for (int i = 4, n = 0; i < argc && n < 15; i++, n++)
            types[n] = argv[i] + (argv[i][0] == '-');
        rc = rb_journal_run_get_some(j, id, types, except, &v);
    } else if (!strcmp(what, "walk")) {
        rc = rb_journal_run_walk(j, id, NULL, 0, outline, event, NULL);
    } else if (!strcmp(what, "children")) {
        rc = rb_journal_run_children(j, id, &v);
    } else if (!strcmp(what, "version")) {
        char *src = NULL;
        size_t len = 0;
        rc = rb_journal_get_version(j, argv[3], &src, &len);
        if (rc == 0)
            v = json_pack("{s:s%,s:I}", "source", src, len, "len", (json_int_t)len);
        free(src);
    } else if (!strcmp(what, "verify")) {
        rc = rb_journal_verify_run(j, id, &v);
    } else if (!strcmp(what, "resume")) {
        rc = rb_journal_run_resume_point(j, id, &v);
    } else if (!strcmp(what, "key") && argc > 4) {
        int64_t active = 0, last = 0;
        char *book = NULL;
        rc = rb_journal_key_state(j, argv[3], argv[4], &active, &book, &last);
        if (rc == 0)
            v = json_pack("{s:I,s:s?,s:I}", "active_run", (json_int_t)active, "active_runbook",
                          book, "last_end_ms", (json_int_t)last);
        free(book);
    } else if (!strcmp(what, "alert") && argc > 4) {
        rc = rb_journal_alert_get(j, argv[3], argv[4], &v);
    } else if (!strcmp(what, "alert-open")) {
        rc = rb_journal_alert_open(j, argv[3], &v);
    } else if (!strcmp(what, "unstarted")) {
        rc = rb_journal_alerts_unstarted(j, (int)id, &v);
    } else {
        fprintf(stderr, "journal_read: what is %s?\n", what);
        rb_journal_close(j);
        return 2;
    }
    int ex = 0;
    if (rc != 0) {
        printf("error %d\n", rc);
        fprintf(stderr, "journal_read: %s\n", rb_journal_errmsg(j));
        ex = 1;
    } else if (v && put(v) != 0) {
        ex = 1;
    }
    json_decref(v);
    rb_journal_close(j);
    return ex;
}
