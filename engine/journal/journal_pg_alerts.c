/*
 * journal_pg_alerts.c — the reads of the server's alert claims on a
 * PostgreSQL journal (journal.h, "alerts"): one alert with what each
 * matched runbook did with it, the newest unresolved alert of a
 * fingerprint, and the claimed alerts whose runbooks have not all started,
 * in the JSON journal_alerts.c answers from the file (which checks the
 * keys before it dispatches here).
 *
 * Owns: nothing written. Must never: write; paste a value into SQL (every
 * value is a parameter).
 */
#include "journal_pg_int.h"

#include <runbook/runbook.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A text column parsed as JSON (as journal_alerts.c's col_json: null when
 * it is NULL or does not parse), and as a string (null when NULL). */
static json_t *rb__pga_json(const PGresult *res, int row, int col)
{
    const char *t = rb__pg_text(res, row, col);
    json_t *v = t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : json_null();
}

static json_t *rb__pga_text(const PGresult *res, int row, int col)
{
    const char *t = rb__pg_text(res, row, col);
    return t ? json_string(t) : json_null();
}

static json_t *rb__pga_int(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_integer(rb__pg_i64(res, row, col));
}

int rb__pg_alert_get(rb_journal_t *j, const char *fingerprint, const char *starts_at,
                     json_t **out)
{
    *out = NULL;
    const char *vals[2] = {fingerprint, starts_at};
    int opened, ret = rb__pg_read_begin(j, "reading an alert", &opened);
    if (ret != 0)
        return ret;
    PGresult *res = rb__pg_query(j, "reading an alert",
                                 "SELECT status, runbooks, resolved_at, received_at, payload"
                                 " FROM alerts WHERE fingerprint = $1::text"
                                 " AND starts_at = $2::text", 2, vals, NULL, NULL);
    json_t *a = NULL;
    if (!res)
        ret = RB_EJOURNAL;
    else if (PQntuples(res) != 1)
        ret = RB_ENOTFOUND;
    else if (!(a = json_pack("{s:s,s:s,s:o,s:o,s:I,s:o,s:o,s:[]}", "fingerprint", fingerprint,
                             "starts_at", starts_at, "status", rb__pga_text(res, 0, 0),
                             "runbooks", rb__pga_json(res, 0, 1), "received_at",
                             (json_int_t)rb__pg_i64(res, 0, 3), "resolved_at",
                             rb__pga_int(res, 0, 2), "alert", rb__pga_json(res, 0, 4), "runs")))
        ret = RB_ENOMEM;
    PQclear(res);
    /* what each matched runbook did with it */
    res = ret ? NULL
              : rb__pg_query(j, "reading an alert's runs",
                             "SELECT runbook, run_id, outcome FROM alert_runs"
                             " WHERE fingerprint = $1::text AND starts_at = $2::text"
                             " ORDER BY runbook COLLATE \"C\"", 2, vals, NULL, NULL);
    if (!ret && !res)
        ret = RB_EJOURNAL;
    json_t *runs = json_object_get(a, "runs");
    for (int i = 0; !ret && i < PQntuples(res); i++)
        json_array_append_new(runs, json_pack("{s:o,s:o,s:o}", "runbook", rb__pga_text(res, i, 0),
                                              "run_id", rb__pga_int(res, i, 1), "outcome",
                                              rb__pga_text(res, i, 2)));
    PQclear(res);
    int end = rb__pg_read_end(j, "reading an alert", opened);
    if (ret == 0)
        ret = end;
    if (ret != 0) {
        json_decref(a);
        return ret;
    }
    *out = a;
    return 0;
}

int rb__pg_alert_open(rb_journal_t *j, const char *fingerprint, json_t **out)
{
    *out = NULL;
    const char *vals[1] = {fingerprint};
    PGresult *res = rb__pg_query(j, "reading an alert",
                                 "SELECT starts_at FROM alerts WHERE fingerprint = $1::text"
                                 " AND resolved_at IS NULL ORDER BY id DESC LIMIT 1",
                                 1, vals, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    const char *t = PQntuples(res) == 1 ? rb__pg_text(res, 0, 0) : NULL;
    char *sa = t ? strdup(t) : NULL;
    int found = PQntuples(res) == 1;
    PQclear(res);
    if (!sa)
        return found ? RB_ENOMEM : RB_ENOTFOUND;
    int ret = rb__pg_alert_get(j, fingerprint, sa, out);
    free(sa);
    return ret;
}

int rb__pg_alerts_unstarted(rb_journal_t *j, int limit, json_t **out)
{
    rb__pgnum_t num;
    const char *vals[1] = {limit > 0 ? rb__pg_num(&num, limit) : NULL}; /* LIMIT NULL: all */
    *out = NULL;
    /* The claimed alerts (alerts_open), each with the matched runbooks that
     * have no alert_runs row, in the order the alert names them. */
    PGresult *res = rb__pg_query(
        j, "reading unstarted alerts",
        "SELECT a.fingerprint, a.starts_at, a.payload, json_agg(m.value ORDER BY m.n)"
        " FROM alerts a CROSS JOIN LATERAL json_array_elements_text(CASE"
        "   WHEN json_typeof(a.runbooks::json) = 'array' THEN a.runbooks::json"
        "   ELSE '[]'::json END) WITH ORDINALITY AS m(value, n)"
        " WHERE a.status = 'claimed' AND NOT EXISTS (SELECT 1 FROM alert_runs r"
        "   WHERE r.fingerprint = a.fingerprint AND r.starts_at = a.starts_at"
        "   AND r.runbook = m.value)"
        " GROUP BY a.id ORDER BY a.id LIMIT $1::bigint",
        1, vals, NULL, NULL);
    if (!res)
        return RB_EJOURNAL;
    json_t *v = json_array();
    for (int i = 0; v && i < PQntuples(res); i++)
        json_array_append_new(v, json_pack("{s:o,s:o,s:o,s:o}", "fingerprint",
                                           rb__pga_text(res, i, 0), "starts_at",
                                           rb__pga_text(res, i, 1), "alert",
                                           rb__pga_json(res, i, 2), "missing",
                                           rb__pga_json(res, i, 3)));
    PQclear(res);
    if (!v)
        return RB_ENOMEM;
    *out = v;
    return 0;
}
