/*
 * catalog.h — finding runbook files: by their `name:`, by the alert their
 * triggers match, and the one bounded walk of a folder that `runbook
 * validate DIR` shares. Used by `runbook run NAME`, `run --alert`, the
 * `runbook` action (a sub-runbook as one step) and the validator's check of
 * a sub-runbook's name.
 *
 * The walk never follows a link to a directory (a `sub/up -> ..` link
 * cannot loop it or show a file twice), goes at most RB_CATALOG_MAX_DEPTH
 * folders down and reads at most RB_CATALOG_MAX_ENTRIES directory entries,
 * so that a lookup started in `/` ends quickly. Links to files are followed;
 * a file reached by two paths is visited once.
 */
#ifndef RB_CATALOG_H
#define RB_CATALOG_H

#include <jansson.h>

#include "diag.h"

#define RB_CATALOG_MAX_DEPTH 8
#define RB_CATALOG_MAX_ENTRIES 20000

/* Calls visit(path, arg) for every regular *.yaml / *.yml file below dir,
 * in name order, skipping names that start with '.' and node_modules, and
 * once per file: links to files come after the files, and a link to a file
 * already visited is not visited again.
 * Stops when visit returns non-zero and returns that value; returns
 * RB_ETOOBIG when a bound above left something out, else 0. A folder deeper
 * than RB_CATALOG_MAX_DEPTH is skipped and the walk goes on beside it, so
 * every file within the depth bound is visited; past RB_CATALOG_MAX_ENTRIES
 * the walk ends. A dir that cannot be read is no file. Any thread. */
int rb__runbook_walk(const char *dir, int (*visit)(const char *path, void *arg), void *arg);

/* 1 when the file at path (links followed) is one seen already: its device
 * and inode are keys of seen; else adds them and returns 0. A path that
 * cannot be stat'ed is never seen. */
int rb__file_seen(json_t *seen, const char *path);

/* Adds the warning for a walk of dir that returned RB_ETOOBIG, with hint
 * ("" or " (…)") after it. */
void rb__runbook_walk_warn(rb_diags_t *d, const char *dir, const char *hint);

/*
 * The runbook named name below dir. Returns 0 and *path (malloc'd) when
 * exactly one file has that name and it is valid. RB_ENOTFOUND when no
 * file has it. RB_EINVAL when a file of that name is invalid (its
 * diagnostics are added to d) or when two files have it (a diagnostic
 * naming both). A file whose YAML cannot be read has the name of its file
 * name (`NAME.yaml`), so a broken file is still found and reported.
 */
int rb__runbook_lookup(const char *dir, const char *name, rb_diags_t *d, char **path);

/* rb__runbook_lookup without the diagnostics: the path, or NULL. */
char *rb__runbook_find(const char *dir, const char *name);

/*
 * The runbooks below dir whose triggers match alert (see
 * rb_runbook_match_alert): appends {path, name} to out for each valid one,
 * and returns the number of matching files that are invalid (their
 * diagnostics added to d).
 */
size_t rb__runbooks_matching(const char *dir, const json_t *alert, json_t *out, rb_diags_t *d);

/* The document root of the runbook named name below dir, read but not
 * compiled (a new reference), or NULL when there is none, several, or its
 * YAML cannot be read; *found is how many files have the name; *path (when
 * path is not NULL) the file's path (malloc'd) when a root is returned, else
 * NULL. Used at load time to check a sub-runbook's name and params without
 * loading it (so two runbooks that name each other cannot recurse). */
json_t *rb__runbook_peek(const char *dir, const char *name, size_t *found, char **path);

#endif
