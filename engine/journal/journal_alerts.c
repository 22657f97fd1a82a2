/*
 * journal_alerts.c — the server's alert claims (journal.h, "alerts"): the
 * alerts table (one row per alert, fingerprint + startsAt, its UNIQUE
 * insert the claim) and alert_runs (what each matched runbook did with it:
 * the run it started, or why none). Writes are records like every append
 * (direct mode or the writer's queue, in order; on PostgreSQL
 * journal_pg_append.c writes the same rows, ON CONFLICT DO NOTHING for
 * INSERT OR IGNORE); reads go through the caller's connection and see what
 * is committed.
 *
 * Owns: the SQL of both tables. Must never: delete a claim (only `journal
 * prune` removes the rows of pruned runs); turn a repeated claim into an
 * error (INSERT OR IGNORE: the first one stands).
 */
#include "journal_int.h"

#include <runbook/runbook.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rb__j_apply_alert(rb__jconn_t *c, const rb__jrec_t *r, int64_t run_id)
{
    sqlite3_stmt *st;
    int ret, rc;
    const char *what = r->kind == RB__REC_RUN ? "linking a run to its alert" : "claiming an alert";
    switch (r->kind) {
    case RB__REC_ALERT:
        if ((ret = rb__j_stmt(c, RB__JST_ALERT_PUT, &st)) != 0)
            return ret;
        sqlite3_bind_text(st, 1, r->fingerprint, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->starts_at, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, r->wall_ms);
        sqlite3_bind_text(st, 4, r->data ? r->data : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, r->status, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, r->runbooks ? r->runbooks : "[]", -1, SQLITE_STATIC);
        break;
    case RB__REC_RUN:
    case RB__REC_ALERT_RUN:
        if ((ret = rb__j_stmt(c, RB__JST_ALERT_RUN_PUT, &st)) != 0)
            return ret;
        sqlite3_bind_text(st, 1, r->fingerprint, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->starts_at, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->runbook ? r->runbook : "", -1, SQLITE_STATIC);
        if (run_id > 0)
            sqlite3_bind_int64(st, 4, run_id);
        sqlite3_bind_text(st, 5, r->kind == RB__REC_RUN ? "started" : r->outcome, -1,
                          SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, r->wall_ms);
        break;
    case RB__REC_ALERT_RESOLVED:
        if ((ret = rb__j_stmt(c, RB__JST_ALERT_RESOLVE, &st)) != 0)
            return ret;
        sqlite3_bind_text(st, 1, r->fingerprint, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->starts_at, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, r->wall_ms);
        sqlite3_bind_text(st, 4, r->data ? r->data : "{}", -1, SQLITE_STATIC);
        break;
    default:
        return rb__j_say(c, RB_EINVAL, "unknown record");
    }
    rc = rb__j_step(st);
    rb__j_release(st);
    return rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, what);
}

static int bad_key(rb_journal_t *j, const char *fp, const char *sa)
{
    if (fp && *fp && sa && *sa)
        return 0;
    snprintf(j->err, sizeof j->err, "%s: an alert needs a fingerprint and a startsAt", j->path);
    return RB_EINVAL;
}

int rb_journal_alert_claim(rb_journal_t *j, const char *fingerprint, const char *starts_at,
                           const json_t *alert, const json_t *runbooks, int resolved)
{
    if (bad_key(j, fingerprint, starts_at))
        return RB_EINVAL;
    char *a = rb__j_dumps(alert);
    char *rbs = runbooks ? rb__j_dumps(runbooks) : strdup("[]");
    int ret;
    if (!a || !rbs) {
        snprintf(j->err, sizeof j->err, "%s: claiming an alert: not JSON", j->path);
        ret = RB_EINVAL;
    } else {
        rb__jrec_t r = {
            .kind = RB__REC_ALERT, .fingerprint = fingerprint, .starts_at = starts_at,
            .data = a, .runbooks = rbs, .wall_ms = rb__j_wall_ms(),
            .status = resolved ? "resolved" : json_array_size(runbooks) ? "claimed" : "unmatched",
        };
        ret = rb__j_write(j, &r, NULL);
    }
    free(a);
    free(rbs);
    return ret;
}

int rb_journal_alert_outcome(rb_journal_t *j, const char *fingerprint, const char *starts_at,
                             const char *runbook, const char *outcome)
{
    if (bad_key(j, fingerprint, starts_at))
        return RB_EINVAL;
    rb__jrec_t r = {
        .kind = RB__REC_ALERT_RUN, .fingerprint = fingerprint, .starts_at = starts_at,
        .runbook = runbook, .outcome = outcome ? outcome : "not started",
        .wall_ms = rb__j_wall_ms(),
    };
    return rb__j_write(j, &r, NULL);
}

int rb_journal_alert_resolved(rb_journal_t *j, const char *fingerprint, const char *starts_at,
                              const json_t *notice)
{
    if (bad_key(j, fingerprint, starts_at))
        return RB_EINVAL;
    char *d = rb__j_dumps(notice);
    if (!d) {
        snprintf(j->err, sizeof j->err, "%s: recording a resolved alert: not JSON", j->path);
        return RB_EINVAL;
    }
    rb__jrec_t r = {
        .kind = RB__REC_ALERT_RESOLVED, .fingerprint = fingerprint, .starts_at = starts_at,
        .data = d, .wall_ms = rb__j_wall_ms(),
    };
    int ret = rb__j_write(j, &r, NULL);
    free(d);
    return ret;
}

static json_t *col_json(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    json_t *v = t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : json_null();
}

static json_t *col_text(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    return t ? json_string(t) : json_null();
}

/* The alert_runs rows of one alert. */
static int runs_of(rb__jconn_t *c, const char *fp, const char *sa, json_t *runs)
{
    sqlite3_stmt *st;
    int ret = rb__j_stmt(c, RB__JST_ALERT_RUNS_GET, &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, fp, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, sa, -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = rb__j_step(st)) == SQLITE_ROW)
        json_array_append_new(
            runs, json_pack("{s:o,s:o,s:o}", "runbook", col_text(st, 0), "run_id",
                            sqlite3_column_type(st, 1) == SQLITE_NULL
                                ? json_null()
                                : json_integer(sqlite3_column_int64(st, 1)),
                            "outcome", col_text(st, 2)));
    rb__j_release(st);
    return rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, "reading an alert's runs");
}

int rb_journal_alert_get(rb_journal_t *j, const char *fingerprint, const char *starts_at,
                         json_t **out)
{
    *out = NULL;
    if (bad_key(j, fingerprint, starts_at))
        return RB_EINVAL;
    if (j->pg)
        return rb__pg_alert_get(j, fingerprint, starts_at, out);
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    int ret = rb__j_stmt(c, RB__JST_ALERT_GET, &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, fingerprint, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, starts_at, -1, SQLITE_TRANSIENT);
    int rc = rb__j_step(st);
    if (rc != SQLITE_ROW) {
        rb__j_release(st);
        if (rc == SQLITE_DONE)
            return RB_ENOTFOUND;
        return rb__j_failc(c, rc, "reading an alert");
    }
    json_t *a = json_pack("{s:s,s:s,s:o,s:o,s:I,s:o,s:o,s:[]}", "fingerprint", fingerprint,
                          "starts_at", starts_at, "status", col_text(st, 0), "runbooks",
                          col_json(st, 1), "received_at", (json_int_t)sqlite3_column_int64(st, 3),
                          "resolved_at",
                          sqlite3_column_type(st, 2) == SQLITE_NULL
                              ? json_null()
                              : json_integer(sqlite3_column_int64(st, 2)),
                          "alert", col_json(st, 4), "runs");
    rb__j_release(st);
    if (!a)
        return RB_ENOMEM;
    if ((ret = runs_of(c, fingerprint, starts_at, json_object_get(a, "runs"))) != 0) {
        json_decref(a);
        return ret;
    }
    *out = a;
    return 0;
}

int rb_journal_alert_open(rb_journal_t *j, const char *fingerprint, json_t **out)
{
    *out = NULL;
    if (bad_key(j, fingerprint, "-"))
        return RB_EINVAL;
    if (j->pg)
        return rb__pg_alert_open(j, fingerprint, out);
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    int rc = rb__j_prepare_v2(c->db,
                                "SELECT starts_at FROM alerts WHERE fingerprint = ?1"
                                " AND resolved_at IS NULL ORDER BY id DESC LIMIT 1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "reading an alert");
    sqlite3_bind_text(st, 1, fingerprint, -1, SQLITE_TRANSIENT);
    rc = rb__j_step(st);
    char *sa = rc == SQLITE_ROW && sqlite3_column_text(st, 0)
                   ? strdup((const char *)sqlite3_column_text(st, 0))
                   : NULL;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return rb__j_failc(c, rc, "reading an alert");
    if (!sa)
        return rc == SQLITE_ROW ? RB_ENOMEM : RB_ENOTFOUND;
    int ret = rb_journal_alert_get(j, fingerprint, sa, out);
    free(sa);
    return ret;
}

int rb_journal_alerts_unstarted(rb_journal_t *j, int limit, json_t **out)
{
    if (j->pg)
        return rb__pg_alerts_unstarted(j, limit, out);
    *out = NULL;
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    /* The claimed alerts (alerts_open), each with the matched runbooks that
     * have no alert_runs row. */
    int rc = rb__j_prepare_v2(
        c->db,
        "SELECT a.fingerprint, a.starts_at, a.payload, json_group_array(m.value)"
        " FROM alerts a, json_each(a.runbooks) m"
        " WHERE a.status = 'claimed' AND NOT EXISTS (SELECT 1 FROM alert_runs r"
        "   WHERE r.fingerprint = a.fingerprint AND r.starts_at = a.starts_at"
        "   AND r.runbook = m.value)"
        " GROUP BY a.id ORDER BY a.id LIMIT ?1",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "reading unstarted alerts");
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    json_t *v = json_array();
    while ((rc = rb__j_step(st)) == SQLITE_ROW)
        json_array_append_new(v, json_pack("{s:o,s:o,s:o,s:o}", "fingerprint", col_text(st, 0),
                                           "starts_at", col_text(st, 1), "alert",
                                           col_json(st, 2), "missing", col_json(st, 3)));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(v);
        return rb__j_failc(c, rc, "reading unstarted alerts");
    }
    *out = v;
    return 0;
}
