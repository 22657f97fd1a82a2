/*
 * journal_export.c — reading every row of an SQLite journal, table by table
 * in the order a copy writes them (rb__j_copy_tables), in one read
 * snapshot, as plain values: what `runbook journal copy` moves into
 * PostgreSQL (journal_pg_copy.c), with no SQL of either backend crossing
 * over.
 *
 * Owns: the list of the tables and columns a copy carries (a column added
 * to the schema of both backends is added here). Must never: write; hand
 * out a value of a different type than the file holds (the stored hashes
 * go over byte for byte).
 */
#include "journal_int.h"

#include <runbook/runbook.h>

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

const rb__jtable_t rb__j_copy_tables[] = {
    { "versions", "sha256, name, path, source, recorded_at", 5, "rowid" },
    { "runs",
      "id, runbook, sha256, status, trigger, params, started_at, ended_at, owner_pid,"
      " owner_start, owner_boot",
      11, "id" },
    { "checkpoints",
      "id, created_at, before_ms, cut_event_id, cut_hash, pruned_runs, pruned_events,"
      " prev_hash, hash",
      9, "id" },
    { "events", "id, run_id, seq, wall_ms, mono_ns, type, step, attempt, data, prev_hash, hash",
      11, "id" },
    { "chain_head", "event_id, hash", 2, "one" },
    { "signatures", "id, event_id, hash, signed_at, key_id, signature", 6, "id" },
    { "alerts",
      "id, fingerprint, starts_at, received_at, payload, run_id, status, runbooks, resolved_at,"
      " resolved",
      10, "id" },
    { "alert_runs", "fingerprint, starts_at, runbook, run_id, outcome, recorded_at", 6, "rowid" },
    { "sqlite_sequence", "name, seq", 2, "name" },
    { NULL, NULL, 0, NULL },
};

static int rb__j_export_table(rb__jconn_t *c, const rb__jtable_t *t,
                              int (*row)(const rb__jtable_t *, const rb__jval_t *, void *),
                              void *arg)
{
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s%s ORDER BY %s", t->cols, t->name,
             !strcmp(t->name, "sqlite_sequence") ? " WHERE name IN ('runs', 'alerts')" : "",
             t->order);
    sqlite3_stmt *st;
    int rc = rb__j_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "reading the journal");
    int ret = 0;
    rb__jval_t vals[RB__J_COPY_MAXCOLS];
    while (ret == 0 && (rc = rb__j_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < t->ncols; i++) {
            rb__jval_t *v = &vals[i];
            memset(v, 0, sizeof *v);
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_NULL:
                v->kind = RB__JVAL_NULL;
                break;
            case SQLITE_INTEGER:
                v->kind = RB__JVAL_INT;
                v->i = sqlite3_column_int64(st, i);
                break;
            case SQLITE_BLOB:
                v->kind = RB__JVAL_BLOB;
                v->p = sqlite3_column_blob(st, i);
                v->len = (size_t)sqlite3_column_bytes(st, i);
                break;
            default: /* text, and a real read as its text */
                v->kind = RB__JVAL_TEXT;
                v->p = (const char *)sqlite3_column_text(st, i);
                v->len = (size_t)sqlite3_column_bytes(st, i);
                if (!v->p)
                    v->p = "";
                break;
            }
        }
        ret = row(t, vals, arg);
    }
    sqlite3_finalize(st);
    if (ret != 0)
        return ret;
    return rc == SQLITE_DONE ? 0 : rb__j_failc(c, rc, "reading the journal");
}

int rb__j_export(rb_journal_t *j,
                 int (*row)(const rb__jtable_t *t, const rb__jval_t *vals, void *arg), void *arg)
{
    rb__jconn_t *c = j->c;
    int rc = rb__j_exec(c->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "reading the journal");
    int ret = 0;
    for (const rb__jtable_t *t = rb__j_copy_tables; ret == 0 && t->name; t++)
        ret = rb__j_export_table(c, t, row, arg);
    rb__j_exec(c->db, "COMMIT", NULL, NULL, NULL);
    return ret;
}
