/*
 * journal_rows.c — the JSON the reads of the journal return, whichever
 * backend read the row: the shapes of the rows (the key and kind of each
 * column a read's SELECT names), a column's value as JSON, which events
 * have their data parsed, the first and last event of a run's outline, and
 * a runbook version's text as it is handed over. journal_read.c (SQLite),
 * journal_pg_read.c and journal_pg_run.c (PostgreSQL) all build their
 * answers here, so `runbook show`, `report`, `replay` and the server's API
 * print the same bytes from a file and from its copy.
 *
 * Owns: nothing. Must never: touch a database; fail a row over a column
 * that a hand-edited journal made unparsable (it reads as the string it is).
 */
#include "journal_int.h"

#include <runbook/runbook.h>

#include <stdlib.h>
#include <string.h>

const rb__jcol_t rb__j_runs_row[] = {
    {"id", RB__JCOL_INT},       {"runbook", RB__JCOL_TEXT},
    {"sha256", RB__JCOL_TEXT},  {"status", RB__JCOL_TEXT},
    {"trigger", RB__JCOL_TEXT}, {"started_at", RB__JCOL_INT},
    {"ended_at", RB__JCOL_INT}, {NULL, 0},
};

const rb__jcol_t rb__j_run_row[] = {
    {"id", RB__JCOL_INT},         {"runbook", RB__JCOL_TEXT}, {"sha256", RB__JCOL_TEXT},
    {"status", RB__JCOL_TEXT},    {"trigger", RB__JCOL_TEXT}, {"params", RB__JCOL_JSON},
    {"started_at", RB__JCOL_INT}, {"ended_at", RB__JCOL_INT}, {NULL, 0},
};

const rb__jcol_t rb__j_event_row[] = {
    {"seq", RB__JCOL_INT},     {"wall_ms", RB__JCOL_INT},
    {"mono_ns", RB__JCOL_INT}, {"type", RB__JCOL_TEXT},
    {"step", RB__JCOL_TEXT},   {"attempt", RB__JCOL_INT},
    {"data", RB__JCOL_JSON},   {NULL, 0},
};

const rb__jcol_t rb__j_version_row[] = {
    {"sha256", RB__JCOL_TEXT},     {"path", RB__JCOL_TEXT}, {"recorded_at", RB__JCOL_INT},
    {"runs", RB__JCOL_INT},        {"last_run_at", RB__JCOL_INT}, {NULL, 0},
};

const rb__jcol_t rb__j_runs_find_row[] = {
    {"id", RB__JCOL_INT},       {"runbook", RB__JCOL_TEXT},
    {"sha256", RB__JCOL_TEXT},  {"status", RB__JCOL_TEXT},
    {"trigger", RB__JCOL_TEXT}, {"started_at", RB__JCOL_INT},
    {"ended_at", RB__JCOL_INT}, {"severity", RB__JCOL_TEXT}, {NULL, 0},
};

const rb__jcol_t rb__j_children_row[] = {
    {"id", RB__JCOL_INT},     {"runbook", RB__JCOL_TEXT},     {"sha256", RB__JCOL_TEXT},
    {"status", RB__JCOL_TEXT}, {"parent_step", RB__JCOL_TEXT}, {NULL, 0},
};

/* Column col of the row: SQL NULL is null; a JSON column whose text does
 * not parse (a hand-edited journal) is returned as the string it is rather
 * than lost. JSON_ALLOW_NUL: a string may hold U+0000 (a command's output
 * can), and the journal wrote it as "\u0000"; without the flag jansson
 * refuses the whole text, and the event would read back as a string. New
 * reference; NULL when out of memory (or a text that is not UTF-8). */
static json_t *rb__j_col(const rb__jrow_t *row, int col, rb__jcol_kind_t kind)
{
    if (row->is_null(row->ctx, col))
        return json_null();
    if (kind == RB__JCOL_INT)
        return json_integer(row->i64(row->ctx, col));
    size_t n = 0;
    const char *s = row->text(row->ctx, col, &n);
    if (!s)
        s = "";
    json_t *v = kind == RB__JCOL_JSON ? json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                                      : NULL;
    return v ? v : json_stringn(s, n);
}

json_t *rb__j_row(const rb__jrow_t *row, const rb__jcol_t *cols, int skip_json)
{
    json_t *obj = json_object();
    for (int i = 0; obj && cols[i].key; i++) {
        json_t *v = skip_json && cols[i].kind == RB__JCOL_JSON ? json_null()
                                                               : rb__j_col(row, i, cols[i].kind);
        /* the keys are the fixed ASCII of cols: set without jansson's UTF-8 check */
        if (!v || json_object_set_new_nocheck(obj, cols[i].key, v) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

int rb__j_skip_json(const rb__jrow_t *row, const rb__jpick_t *pick)
{
    if (!pick || !pick->names)
        return 0;
    size_t n = 0;
    const char *v = row->text(row->ctx, pick->col, &n);
    int listed = 0;
    for (size_t i = 0; v && !listed && pick->names[i]; i++)
        listed = strlen(pick->names[i]) == n && memcmp(v, pick->names[i], n) == 0;
    return listed == pick->except;
}

json_t *rb__j_outline_end(const char *type, int64_t wall_ms, const json_t *duration,
                          const json_t *labels)
{
    json_t *data = json_object();
    if (data && json_is_integer(duration))
        json_object_set_new(data, "duration_ms", json_integer(json_integer_value(duration)));
    if (data && json_is_object(labels))
        json_object_set_new(data, "alert", json_pack("{s:O}", "labels", (json_t *)labels));
    return json_pack("{s:s?,s:I,s:o}", "type", type, "wall_ms", (json_int_t)wall_ms, "data", data);
}

int rb__j_text_copy(const char *s, size_t n, char **out, size_t *len)
{
    char *copy = malloc(n + 1);
    if (!copy)
        return RB_ENOMEM;
    if (n)
        memcpy(copy, s, n);
    copy[n] = '\0';
    *out = copy;
    if (len)
        *len = n;
    return 0;
}
