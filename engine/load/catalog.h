/*
 * catalog.h — finding a runbook file by its `name:`. Used by `runbook run
 * NAME` and by the `runbook` action (a sub-runbook as one step).
 */
#ifndef RB_CATALOG_H
#define RB_CATALOG_H

/* The path of the runbook whose name is name, searched for below dir
 * (*.yaml, *.yml, recursively; files that do not load are passed over).
 * Returns a malloc'd path, or NULL. */
char *rb__runbook_find(const char *dir, const char *name);

/* what is a file path (returned as is) or a name looked up in dir, or when
 * dir is NULL in ./runbooks and then ".". Returns a malloc'd path or NULL. */
char *rb__runbook_locate(const char *what, const char *dir);

/* Appends to out (an array) {path, name} for every runbook below dir whose
 * triggers match alert (see rb_runbook_match_alert). */
#include <jansson.h>
void rb__runbooks_matching(const char *dir, const json_t *alert, json_t *out);

#endif
