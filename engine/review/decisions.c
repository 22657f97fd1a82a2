/*
 * decisions.c — a run's decision path, and the comparison of two: what a
 * replay checks came out the same (confirm, severity and its rule, each
 * `when`, every attempt's judged outcome, retries and `until`, goto (the
 * order steps ran in), rollback and each undo, approvals, foreach items,
 * escalations, notifications, validation, the final status).
 *
 * A decision is an event reduced to what was decided: no times, no
 * durations, no output. Parallel work (checks, foreach items,
 * notifications) keeps its own order in a lane of its own, so that two
 * runs that decided the same in a different interleaving compare equal.
 *
 * Owns nothing past a call. Pure: reads JSON, returns JSON.
 */
#include "review_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* A result's outcome word: "outcome" where the action gave "status" a
 * meaning of its own (http), else "status". */
static const char *outcome(const json_t *res)
{
    const char *o = jstr(res, "outcome");
    if (o)
        return o;
    o = jstr(res, "status");
    return o ? o : json_is_true(json_object_get(res, "ok")) ? "ok" : "failed";
}

/* Copies the keys named (NULL-terminated) of src that are present. */
static json_t *pick(const json_t *src, const char *const *keys)
{
    json_t *o = json_object();
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(src, keys[i]);
        if (v) /* keys[i]: this file's ASCII */
            json_object_set_nocheck(o, keys[i], v);
    }
    return o;
}

/* What the event decided, or NULL for an event that decides nothing (the
 * start, an attempt starting, log lines, now() values, interruptions). */
static json_t *decision_of(const char *type, const json_t *data)
{
#define PICK(...) pick(data, (const char *const[]){__VA_ARGS__, NULL})
    if (!strcmp(type, "phase_started"))
        return PICK("phase");
    if (!strcmp(type, "check_finished") || !strcmp(type, "attempt_finished") ||
        !strcmp(type, "item_finished") || !strcmp(type, "undo_finished") ||
        !strcmp(type, "notification_sent")) {
        const json_t *res = json_object_get(data, "result");
        json_t *d = PICK("item");
        json_object_set_new_nocheck(d, "ok", json_boolean(json_is_true(json_object_get(res, "ok"))));
        json_object_set_new_nocheck(d, "status", json_string(outcome(res)));
        if (json_object_get(res, "replay_assumed")) /* a what-if's step that would run */
            json_object_set_nocheck(d, "would_run", json_object_get(res, "would_run"));
        return d;
    }
    if (!strcmp(type, "confirm"))
        return PICK("confirmed", "inconclusive", "error", "unrunnable");
    if (!strcmp(type, "severity_assigned"))
        return PICK("level", "rule", "errors");
    if (!strcmp(type, "expression_error"))
        return PICK("in", "key", "index");
    if (!strcmp(type, "step_started") || !strcmp(type, "undo_started"))
        return PICK("action", "with", "items", "item");
    if (!strcmp(type, "step_skipped"))
        return PICK("reason");
    if (!strcmp(type, "step_retry"))
        return PICK("next_attempt", "delay_ms", "reason", "item");
    if (!strcmp(type, "step_finished"))
        return PICK("ok", "status", "attempts");
    if (!strcmp(type, "approval_requested"))
        return PICK("timeout_ms");
    if (!strcmp(type, "approval_granted") || !strcmp(type, "approval_denied"))
        return PICK("by");
    if (!strcmp(type, "approval_timeout"))
        return PICK("outcome");
    if (!strcmp(type, "rollback_started"))
        return PICK("failed_step", "undo_steps");
    if (!strcmp(type, "rollback_finished"))
        return PICK("undos", "failed");
    if (!strcmp(type, "escalated") || !strcmp(type, "escalation_held"))
        return PICK("level");
    if (!strcmp(type, "alert_resolved"))
        return PICK("cancels");
    if (!strcmp(type, "run_finished"))
        return PICK("status", "severity", "error");
    if (!strcmp(type, "declared") || !strcmp(type, "cancel_requested"))
        return json_object();
#undef PICK
    return NULL;
}

/* Which order the event keeps: its check's, its foreach item's, its
 * notification's, or the run's own ("main"). */
static void lane_of(const char *type, const char *step, const json_t *data, char *buf, size_t len)
{
    const char *phase = jstr(data, "phase");
    const json_t *item = json_object_get(data, "item");
    if (!strcmp(type, "check_finished") || (phase && !strcmp(phase, "check")))
        snprintf(buf, len, "check %s", step ? step : "");
    else if (!strcmp(type, "notification_sent") || (phase && (!strcmp(phase, "notify") || !strcmp(phase, "escalate"))))
        snprintf(buf, len, "notify %s", step ? step : "");
    else if (json_is_integer(item) && (!phase || strcmp(phase, "undo")) && strcmp(type, "undo_started") &&
             strcmp(type, "undo_finished"))
        snprintf(buf, len, "item %s[%lld]", step ? step : "", (long long)json_integer_value(item));
    else
        snprintf(buf, len, "main");
}

json_t *rv_decision(const char *type, const char *step, json_int_t attempt, const json_t *data)
{
    json_t *d = type ? decision_of(type, data) : NULL;
    if (!d)
        return NULL;
    char lane[300];
    lane_of(type, step, data, lane, sizeof lane);
    /* {type, step (null when there is none), attempt, lane, decision}: built
     * as json_pack("{s:s,s:s?,s:I,s:s,s:o}") would, without parsing its
     * format once per event (a run of 10,000 events has as many) */
    json_t *out = json_object();
    if (!out || json_object_set_new_nocheck(out, "type", json_string(type)) != 0 ||
        json_object_set_new_nocheck(out, "step", step ? json_string(step) : json_null()) != 0 ||
        json_object_set_new_nocheck(out, "attempt", json_integer(attempt)) != 0 ||
        json_object_set_new_nocheck(out, "lane", json_string(lane)) != 0) {
        json_decref(d); /* a value set_new did not take is let go by it */
        json_decref(out);
        return NULL;
    }
    if (json_object_set_new_nocheck(out, "decision", d) != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *rv_decisions(const json_t *events)
{
    json_t *out = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        json_t *d = rv_decision(jstr(ev, "type"), jstr(ev, "step"),
                                json_integer_value(json_object_get(ev, "attempt")), json_object_get(ev, "data"));
        if (d)
            json_array_append_new(out, d);
    }
    return out;
}

static int same(const json_t *a, const json_t *b)
{
    const char *sa = jstr(a, "step"), *sb = jstr(b, "step");
    return !strcmp(jstr(a, "type"), jstr(b, "type")) && ((!sa && !sb) || (sa && sb && !strcmp(sa, sb))) &&
           json_equal(json_object_get(a, "attempt"), json_object_get(b, "attempt")) &&
           json_equal(json_object_get(a, "decision"), json_object_get(b, "decision"));
}

/* The decisions of list by lane: {lane: [indexes into list]}, in one pass. */
static json_t *by_lane(const json_t *list)
{
    json_t *lanes = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) {
        json_t *a = json_object_get(lanes, jstr(d, "lane"));
        if (!a)
            json_object_set_new(lanes, jstr(d, "lane"), a = json_array());
        json_array_append_new(a, json_integer((json_int_t)i));
    }
    return lanes;
}

json_t *rv_first_divergence(const json_t *recorded, const json_t *replayed)
{
    json_t *la = by_lane(recorded), *lb = by_lane(replayed);
    json_t *lanes = json_copy(la);
    json_object_update_missing(lanes, lb);
    json_t *best = NULL;
    size_t best_pos = (size_t)-1;
    const char *lane;
    json_t *v;
    json_object_foreach(lanes, lane, v) {
        json_t *a = json_object_get(la, lane), *b = json_object_get(lb, lane);
        size_t n = json_array_size(a) > json_array_size(b) ? json_array_size(a) : json_array_size(b);
        for (size_t k = 0; k < n; k++) {
            json_t *ia = json_array_get(a, k), *ib = json_array_get(b, k);
            json_t *da = ia ? json_array_get(recorded, (size_t)json_integer_value(ia)) : NULL;
            json_t *db = ib ? json_array_get(replayed, (size_t)json_integer_value(ib)) : NULL;
            if (da && db && same(da, db))
                continue;
            /* the earliest in the record wins (a decision only replayed:
             * where the replay made it) */
            size_t pos = (size_t)json_integer_value(ia ? ia : ib);
            if (pos < best_pos) {
                json_decref(best);
                best_pos = pos;
                best = json_pack("{s:s,s:I,s:O?,s:O?}", "lane", lane, "index", (json_int_t)k, "recorded",
                                 da, "replayed", db);
            }
            break;
        }
    }
    json_decref(lanes);
    json_decref(la);
    json_decref(lb);
    return best ? best : json_null();
}

/* The steps of a path, in the order they ran, each with how it came out:
 * [{step, text}], and the run's confirm, severity and final status as
 * pseudo-steps in parentheses. */
static json_t *step_summaries(const json_t *path)
{
    json_t *out = json_array();
    json_t *would = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(path, i, d) {
        const char *type = jstr(d, "type"), *step = jstr(d, "step");
        const json_t *dec = json_object_get(d, "decision");
        char text[400];
        if (strcmp(jstr(d, "lane"), "main") && !(step && !strcmp(type, "attempt_finished")))
            continue;
        if (!strcmp(type, "attempt_finished")) {
            if (step && json_object_get(dec, "would_run"))
                json_object_set_new(would, step, json_true());
            continue;
        }
        if (!strcmp(type, "step_finished") || !strcmp(type, "step_skipped")) {
            rv_decision_text(d, text, sizeof text);
            if (step && json_object_get(would, step)) {
                size_t n = strlen(text);
                snprintf(text + n, sizeof text - n, " — would run, no recorded result");
                json_object_del(would, step);
            }
        } else if (!strcmp(type, "confirm") || !strcmp(type, "severity_assigned") ||
                   !strcmp(type, "run_finished")) {
            rv_decision_text(d, text, sizeof text);
            step = !strcmp(type, "confirm") ? "(confirm)" : !strcmp(type, "run_finished") ? "(final status)" : "(severity)";
        } else {
            continue;
        }
        json_array_append_new(out, json_pack("{s:s,s:s}", "step", step ? step : "", "text", text));
    }
    json_decref(would);
    return out;
}

json_t *rv_step_diff(const json_t *recorded, const json_t *replayed, const rb_runbook_t *edit)
{
    json_t *a = step_summaries(recorded), *b = step_summaries(replayed);
    size_t n = json_array_size(a), m = json_array_size(b);
    /* longest common subsequence by step name, then walk it */
    size_t *L = calloc((n + 1) * (m + 1), sizeof(*L));
#define AT(i, j) L[(i) * (m + 1) + (j)]
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            AT(i, j) = !strcmp(jstr(json_array_get(a, i), "step"), jstr(json_array_get(b, j), "step"))
                           ? AT(i + 1, j + 1) + 1
                           : (AT(i + 1, j) > AT(i, j + 1) ? AT(i + 1, j) : AT(i, j + 1));
    json_t *out = json_array();
    size_t i = 0, j = 0;
    while (i < n || j < m) {
        const json_t *x = i < n ? json_array_get(a, i) : NULL, *y = j < m ? json_array_get(b, j) : NULL;
        if (x && y && !strcmp(jstr(x, "step"), jstr(y, "step"))) {
            const char *change = !strcmp(jstr(x, "text"), jstr(y, "text")) ? "same" : "changed";
            json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s}", "step", jstr(x, "step"), "recorded",
                                                 jstr(x, "text"), "replayed", jstr(y, "text"), "change", change));
            i++, j++;
        } else if (x && (!y || AT(i + 1, j) > AT(i, j + 1) ||
                         (AT(i + 1, j) == AT(i, j + 1) && !(edit && rb_runbook_step_index(edit, jstr(x, "step")) >= 0)))) {
            /* a step the edit still has but did not get to comes after
             * what the edit did instead */
            int kept = edit && rb_runbook_step_index(edit, jstr(x, "step")) >= 0;
            json_array_append_new(out, kept ? json_pack("{s:s,s:s,s:s,s:s}", "step", jstr(x, "step"), "recorded",
                                                        jstr(x, "text"), "replayed", "not reached", "change",
                                                        "not reached")
                                            : json_pack("{s:s,s:s,s:n,s:s}", "step", jstr(x, "step"), "recorded",
                                                        jstr(x, "text"), "replayed", "change", "removed"));
            i++;
        } else {
            json_array_append_new(out, json_pack("{s:s,s:n,s:s,s:s}", "step", jstr(y, "step"), "recorded",
                                                 "replayed", jstr(y, "text"), "change", "added"));
            j++;
        }
    }
#undef AT
    free(L);
    json_decref(a);
    json_decref(b);
    return out;
}

void rv_decision_text(const json_t *d, char *buf, size_t len)
{
    const char *type = jstr(d, "type"), *step = jstr(d, "step");
    const json_t *dec = json_object_get(d, "decision");
    if (!type) {
        snprintf(buf, len, "(nothing)");
        return;
    }
    long long attempt = (long long)json_integer_value(json_object_get(d, "attempt"));
    char *js = json_dumps(dec, JSON_COMPACT | JSON_SORT_KEYS);
    if (!strcmp(type, "step_finished"))
        snprintf(buf, len, "%s (%lld attempt%s)", jstr(dec, "status"), (long long)json_integer_value(json_object_get(dec, "attempts")),
                 json_integer_value(json_object_get(dec, "attempts")) == 1 ? "" : "s");
    else if (!strcmp(type, "step_skipped"))
        snprintf(buf, len, "skipped: %s", jstr(dec, "reason") ? jstr(dec, "reason") : "?");
    else if (!strcmp(type, "confirm"))
        snprintf(buf, len, "%s", json_is_true(json_object_get(dec, "confirmed")) ? "confirmed"
                                 : json_is_true(json_object_get(dec, "inconclusive")) ? "inconclusive"
                                                                                         : "not confirmed");
    else if (!strcmp(type, "severity_assigned") && json_is_integer(json_object_get(dec, "rule")))
        snprintf(buf, len, "%s (rule %lld)", jstr(dec, "level"), (long long)json_integer_value(json_object_get(dec, "rule")) + 1);
    else if (!strcmp(type, "severity_assigned"))
        snprintf(buf, len, "%s", jstr(dec, "level") ? jstr(dec, "level") : "?");
    else if (!strcmp(type, "run_finished"))
        snprintf(buf, len, "%s%s%s", jstr(dec, "status"), jstr(dec, "error") ? ": " : "",
                 jstr(dec, "error") ? jstr(dec, "error") : "");
    else {
        char at[32] = "";
        if (attempt)
            snprintf(at, sizeof at, " attempt %lld", attempt);
        snprintf(buf, len, "%s%s%s%s %s", type, step ? " " : "", step ? step : "", at, js ? js : "");
    }
    free(js);
}
