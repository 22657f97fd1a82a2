/*
 * fuzz_journal.c — libFuzzer target for the journal as replay reads it
 * (engine/journal/journal_read.c: rb_journal_run_get, run_children,
 * get_version; engine/review: rb_review_replay, which turns a recorded
 * run's events back into answers, stimuli, clock values and decision
 * paths and runs the engine again against them).
 *
 * The input is a JSON document describing what a journal holds:
 *
 *   {"runs": [{"runbook": NAME, "source": YAML, "params": {…},
 *              "trigger": T, "status": S,
 *              "events": [[TYPE, STEP|null, ATTEMPT, DATA], …]}, …]}
 *
 * Every run is written through the journal's own API (rb_journal_put_version,
 * run_create, event, run_status) into a fresh journal in memory, ids 1, 2,
 * …; a run whose trigger is "runbook:1" is a sub-run of run 1. Then run 1
 * is replayed and the result printed. Events may say anything: a journal
 * edited by hand, one from an older version or one cut short by a crash
 * must give an answer or an error, never a crash, a hang or a leak.
 * Besides the sanitizers it checks that a replay that answers gives the
 * fields its callers print.
 *
 * Owns: the journal in memory, per input. Never writes a file. Built with
 * -DRB_FUZZ=ON (clang); run by tests/fuzz/run.sh.
 */
#include "fuzz.h"

#include "journal/journal.h"
#include "review/review.h"

#include <stdio.h>
#include <string.h>

static FILE *devnull;

static const char *str(const json_t *o, const char *k, const char *def)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : def;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    json_t *doc = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
    const json_t *runs = json_object_get(doc, "runs");
    if (!json_is_array(runs) || !json_array_size(runs) || json_array_size(runs) > 16) {
        json_decref(doc);
        return 0;
    }
    rb_journal_t *j = NULL;
    char err[512];
    if (rb_journal_open(":memory:", RB_JOURNAL_NO_RECOVER, &j, err, sizeof err) < 0)
        abort();
    size_t i;
    const json_t *run;
    json_array_foreach(runs, i, run) {
        size_t len = 0;
        const char *src = json_string_value(json_object_get(run, "source"));
        if (src)
            len = json_string_length(json_object_get(run, "source"));
        char sha[65];
        int64_t id;
        const char *name = str(run, "runbook", "fuzz");
        if (rb_journal_put_version(j, name, "/books/fuzz.yaml", src ? src : "", len, sha) < 0 ||
            rb_journal_run_create(j, name, sha, json_object_get(run, "params"),
                                  str(run, "trigger", "manual"), &id) < 0)
            break;
        size_t k;
        const json_t *ev;
        json_array_foreach(json_object_get(run, "events"), k, ev) {
            const char *type = json_string_value(json_array_get(ev, 0));
            if (!type)
                continue;
            rb_journal_event(j, id, type, json_string_value(json_array_get(ev, 1)),
                             (int)json_integer_value(json_array_get(ev, 2)), json_array_get(ev, 3));
        }
        rb_journal_run_status(j, id, str(run, "status", "succeeded"), 1);
    }
    if (rb_journal_sync(j) < 0)
        abort();
    json_t *out = NULL;
    err[0] = '\0';
    if (rb_review_replay(j, 1, NULL, &out, err, sizeof err) == 0) {
        if (!json_is_object(out) || !json_object_get(out, "identical") ||
            !json_is_array(json_object_get(out, "recorded")))
            abort();
        rb_review_replay_print(out, devnull, 0);
    } else if (!err[0]) {
        abort();
    }
    json_decref(out);
    rb_journal_close(j);
    json_decref(doc);
    return 0;
}
