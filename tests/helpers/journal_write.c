/*
 * journal_write — the journal's direct mode (appends in one open
 * transaction until rb_journal_sync) driven through the API, for the e2e
 * tests of a PostgreSQL journal (tests/e2e/pg_run.sh): `runbook run` and
 * `runbook serve` write through the writer thread, and no command appends
 * directly.
 *
 *   journal_write URL direct
 *       a run of three events appended and not synced: verify on that
 *       handle is refused (it would end the transaction), a second handle
 *       sees none of it (verify) and its own append waits for the chain
 *       head's lock, then gives up (lock_timeout); synced, they are there
 *       and the second handle appends after them; an append that fails
 *       (an event of no run) takes the appends before it, which returned
 *       0, and the next sync says so; nothing of them is in the journal.
 *   journal_write URL hold FILE
 *       appends a run and an event, writes FILE when they are appended
 *       (the head's lock is held), waits until FILE is removed (at most
 *       60 s), then syncs.
 *   journal_write URL claim FINGERPRINT STARTS_AT RUNBOOK
 *       claims the alert (matching RUNBOOK) and syncs.
 *
 * Prints "ok WHAT" for each expectation met and "FAIL WHAT" for each not;
 * exit 0 when all were met, 1 if not, 2 on bad usage.
 */
#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal/journal.h"

static int failed;

static void expect(int cond, const char *what, rb_journal_t *j)
{
    printf("%s %s", cond ? "ok" : "FAIL", what);
    if (!cond && j)
        printf(" (%s)", rb_journal_errmsg(j));
    printf("\n");
    failed |= !cond;
}

static rb_journal_t *open_or_die(const char *url, int flags)
{
    char err[512];
    rb_journal_t *j = NULL;
    if (rb_journal_open(url, flags, &j, err, sizeof err) != 0) {
        printf("FAIL open: %s\n", err);
        exit(1);
    }
    return j;
}

/* The events verify counts (-1: verify failed or found a problem). */
static long long events(rb_journal_t *j)
{
    json_t *v = NULL;
    if (rb_journal_verify(j, &v) != 0)
        return -1;
    long long n = json_is_true(json_object_get(v, "ok"))
                      ? (long long)json_integer_value(json_object_get(v, "events"))
                      : -1;
    json_decref(v);
    return n;
}

static int run_of(rb_journal_t *j, int nev, int64_t *id)
{
    static const char src[] = "apiVersion: runbook/v1\nname: direct\nsteps: []\n";
    char sha[65];
    int rc = rb_journal_put_version(j, "direct", NULL, src, sizeof src - 1, sha);
    if (rc == 0)
        rc = rb_journal_run_create(j, "direct", sha, NULL, "cli", id);
    for (int i = 0; rc == 0 && i < nev; i++)
        rc = rb_journal_event(j, *id, i ? "step_started" : "run_started", i ? "s" : NULL, 0,
                              NULL);
    return rc;
}

static int direct(const char *url)
{
    rb_journal_t *a = open_or_die(url, 0), *b = open_or_die(url, 0);
    long long before = events(b);
    expect(before >= 0, "verify before", b);
    int64_t id = 0, id2 = 0;
    expect(run_of(a, 3, &id) == 0, "three appends in direct mode", a);
    json_t *v = NULL;
    expect(rb_journal_verify(a, &v) == RB_EINVAL && !v, "no verify while they are pending", a);
    expect(events(b) == before, "not visible before the sync", b);
    time_t t0 = time(NULL);
    int rc = rb_journal_event(b, id, "step_started", "x", 0, NULL);
    expect(rc != 0 && strstr(rb_journal_errmsg(b), "lock timeout"),
           "another handle's append waits for the head's lock, then gives up", b);
    expect(time(NULL) - t0 >= 1, "it waited", NULL);
    expect(rb_journal_sync(b) == 0, "nothing of it is pending", b);
    expect(rb_journal_sync(a) == 0, "sync", a);
    expect(events(b) == before + 3, "visible after the sync", b);
    expect(run_of(b, 2, &id2) == 0 && rb_journal_sync(b) == 0, "the other handle appends after",
           b);
    expect(id2 > id, "run ids from the sequence", NULL);
    /* appends that returned 0, then one that fails */
    expect(rb_journal_event(a, id, "step_finished", "s", 0, NULL) == 0, "an append", a);
    expect(rb_journal_run_status(a, id, "resolved", 1) == 0, "a status", a);
    expect(rb_journal_event(a, 1 << 30, "step_started", "s", 0, NULL) != 0,
           "an event of no run fails", a);
    rc = rb_journal_sync(a);
    expect(rc != 0 && strstr(rb_journal_errmsg(a), "2 earlier write(s) were rolled back"),
           "the next sync says what was lost", a);
    expect(events(b) == before + 5, "nothing of them was committed", b);
    expect(rb_journal_sync(a) == 0, "said once", a);
    rb_journal_close(b);
    rb_journal_close(a);
    return failed;
}

static int hold(const char *url, const char *file)
{
    rb_journal_t *j = open_or_die(url, 0);
    int64_t id = 0;
    expect(run_of(j, 1, &id) == 0, "appended", j);
    FILE *f = fopen(file, "w");
    if (f)
        fclose(f);
    for (int i = 0; i < 600 && access(file, F_OK) == 0; i++)
        usleep(100000);
    expect(rb_journal_sync(j) == 0, "synced", j);
    rb_journal_close(j);
    return failed;
}

static int claim(const char *url, const char *fp, const char *sa, const char *runbook)
{
    rb_journal_t *j = open_or_die(url, 0);
    json_t *alert = json_pack("{s:s}", "fingerprint", fp), *rbs = json_pack("[s]", runbook);
    expect(rb_journal_alert_claim(j, fp, sa, alert, rbs, 0) == 0 && rb_journal_sync(j) == 0,
           "claimed", j);
    json_decref(alert);
    json_decref(rbs);
    rb_journal_close(j);
    return failed;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && !strcmp(argv[2], "direct"))
        return direct(argv[1]);
    if (argc == 4 && !strcmp(argv[2], "hold"))
        return hold(argv[1], argv[3]);
    if (argc == 6 && !strcmp(argv[2], "claim"))
        return claim(argv[1], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: journal_write URL direct | hold FILE |"
                    " claim FINGERPRINT STARTS_AT RUNBOOK\n");
    return 2;
}
