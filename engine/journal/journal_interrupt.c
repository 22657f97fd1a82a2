/*
 * journal_interrupt.c — crash recovery on open: the runs still open in the
 * file whose owning process is gone (journal_recover.c decides who is
 * alive) are marked `interrupted`, each with a run_interrupted event that
 * says where it stopped and which step was in flight, in one transaction.
 * rb_journal_recovered lists them for the caller to report;
 * rb_journal_runs_orphaned lists those a read-only open left unmarked.
 *
 * Owns: j->recovered. Must never: mark a run whose owner may still be
 * alive, or take the write lock when there is nothing to mark (a journal
 * another process is writing must still open).
 */
#include "journal_int.h"

#include <runbook/runbook.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t id;
    rb__owner_t owner;
} rb__jopen_t;

/* The open runs whose owner is gone. */
static int rb__j_dead_runs(rb__jconn_t *c, rb__jopen_t **out, size_t *n)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = rb__j_prepare_v2(c->db,
                                "SELECT id, owner_pid, owner_start, owner_boot FROM runs"
                                " WHERE ended_at IS NULL ORDER BY id", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    while ((rc = rb__j_step(st)) == SQLITE_ROW) {
        rb__jopen_t r = { .id = sqlite3_column_int64(st, 0) };
        r.owner.pid = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 1);
        r.owner.start = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1
                                                                   : sqlite3_column_int64(st, 2);
        const char *b = (const char *)sqlite3_column_text(st, 3);
        snprintf(r.owner.boot, sizeof r.owner.boot, "%s", b ? b : "");
        if (rb__owner_alive(&r.owner))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            rb__jopen_t *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                rc = SQLITE_NOMEM;
                break;
            }
            *out = p;
        }
        (*out)[(*n)++] = r;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Marks one dead run interrupted: an event that says where it stopped
 * (chained like any other), then the status. */
static int rb__j_interrupt(rb_journal_t *j, const rb__jopen_t *r)
{
    rb__jconn_t *c = j->c;
    sqlite3_stmt *st;
    int64_t last_seq = 0, last_wall = 0;
    char last_type[64] = "", step[256] = "", runbook[256] = "";
    int in_flight = 0;
    int rc = rb__j_prepare_v2(c->db,
                                "SELECT seq, type, wall_ms FROM events WHERE run_id = ?1"
                                " ORDER BY seq DESC LIMIT 1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "recovering runs");
    sqlite3_bind_int64(st, 1, r->id);
    if (rb__j_step(st) == SQLITE_ROW) {
        last_seq = sqlite3_column_int64(st, 0);
        snprintf(last_type, sizeof last_type, "%s", sqlite3_column_text(st, 1));
        last_wall = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    /* The step in flight: its intent is the newest step record. */
    rc = rb__j_prepare_v2(c->db,
                            "SELECT type, step FROM events WHERE run_id = ?1 AND type IN"
                            " ('step_started', 'step_finished', 'step_skipped')"
                            " ORDER BY seq DESC LIMIT 1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "recovering runs");
    sqlite3_bind_int64(st, 1, r->id);
    const char *t;
    if (rb__j_step(st) == SQLITE_ROW && (t = (const char *)sqlite3_column_text(st, 0)) &&
        strcmp(t, "step_started") == 0 && sqlite3_column_text(st, 1)) {
        in_flight = 1;
        snprintf(step, sizeof step, "%s", sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    rc = rb__j_prepare_v2(c->db, "SELECT runbook FROM runs WHERE id = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rb__j_failc(c, rc, "recovering runs");
    sqlite3_bind_int64(st, 1, r->id);
    if (rb__j_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(runbook, sizeof runbook, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);

    char reason[200];
    if (r->owner.pid > 0)
        snprintf(reason, sizeof reason, "the process that ran it (pid %lld) is gone",
                 (long long)r->owner.pid);
    else
        snprintf(reason, sizeof reason, "no owner was recorded (journal of an older version)");
    json_t *d = json_pack("{s:I,s:s,s:o,s:s,s:o}", "last_seq", (json_int_t)last_seq,
                          "last_event_type", last_type, "step",
                          in_flight ? json_string(step) : json_null(), "reason", reason,
                          "owner_pid", r->owner.pid > 0 ? json_integer(r->owner.pid)
                                                        : json_null());
    char *data = rb__j_dumps(d);
    json_decref(d);
    if (!data)
        return RB_ENOMEM;
    int64_t now = rb__j_wall_ms();
    rb__jrec_t ev = { .kind = RB__REC_EVENT, .run_id = r->id, .type = "run_interrupted",
                      .data = data, .wall_ms = now, .mono_ns = rb__j_mono_ns() };
    /* ended_at: when it was last heard of, not now. */
    rb__jrec_t stt = { .kind = RB__REC_STATUS, .run_id = r->id, .status = "interrupted",
                       .final = 1, .wall_ms = last_wall ? last_wall : now };
    int ret = rb__j_apply(c, &ev, NULL);
    if (ret == 0)
        ret = rb__j_apply(c, &stt, NULL);
    free(data);
    if (ret != 0)
        return ret;
    json_array_append_new(j->recovered,
                          json_pack("{s:I,s:s,s:I,s:s,s:o}", "id", (json_int_t)r->id, "runbook",
                                    runbook, "last_seq", (json_int_t)last_seq, "last_event_type",
                                    last_type, "step",
                                    in_flight ? json_string(step) : json_null()));
    return 0;
}

/*
 * Marks the open runs of dead processes interrupted, in one transaction.
 * Looks first without the write lock: the common case (nothing to do)
 * must not need it, so a journal another process is writing still opens.
 */
int rb__j_recover(rb_journal_t *j)
{
    rb__jconn_t *c = j->c;
    rb__jopen_t *dead = NULL;
    size_t n = 0;
    j->recovered = json_array();
    if (!j->recovered)
        return RB_ENOMEM;
    int rc = rb__j_dead_runs(c, &dead, &n);
    if (rc != SQLITE_OK) {
        free(dead);
        return rb__j_failc(c, rc, "recovering runs");
    }
    if (n == 0)
        return 0;
    free(dead);
    int ret = rb__j_txn_begin(c, "marking interrupted runs");
    if (ret != 0)
        return ret;
    /* Again under the lock: another process may have recovered them. */
    if ((rc = rb__j_dead_runs(c, &dead, &n)) != SQLITE_OK)
        ret = rb__j_failc(c, rc, "recovering runs");
    for (size_t i = 0; ret == 0 && i < n; i++)
        ret = rb__j_interrupt(j, &dead[i]);
    free(dead);
    if (ret != 0) {
        rb__j_txn_rollback(c);
        json_array_clear(j->recovered);
        return ret;
    }
    return rb__j_txn_commit(c, "marking interrupted runs");
}

int rb_journal_runs_orphaned(rb_journal_t *j, json_t **out)
{
    if (j->pg)
        return rb__pg_runs_orphaned(j, out);
    rb__jopen_t *dead = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = rb__j_dead_runs(j->c, &dead, &n);
    if (rc != SQLITE_OK) {
        free(dead);
        return rb__j_failc(j->c, rc, "reading the open runs");
    }
    json_t *ids = json_array();
    for (size_t i = 0; ids && i < n; i++)
        json_array_append_new(ids, json_integer(dead[i].id));
    free(dead);
    if (!ids)
        return RB_ENOMEM;
    *out = ids;
    return 0;
}

int rb_journal_recovered(rb_journal_t *j, json_t **out)
{
    RB__J_SQLITE_ONLY(j, "crash recovery");
    *out = j->recovered ? json_deep_copy(j->recovered) : json_array();
    return *out ? 0 : RB_ENOMEM;
}
