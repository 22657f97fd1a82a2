/*
 * catalog.c — finds runbook files by name or by alert, and walks a folder
 * for them (see catalog.h). Reads the directory tree and the candidate
 * files; owns nothing past the call.
 *
 * A lookup reads each file's YAML only to learn its `name:` (or whether its
 * triggers match), then loads in full only the files that match: a broken
 * file that has the name asked for is reported, not passed over.
 */
#define _GNU_SOURCE /* asprintf */
#include "catalog.h"

#include "doc.h"
#include "runbook.h"

#include <runbook/runbook.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_yaml(const char *nm)
{
    size_t l = strlen(nm);
    return (l > 5 && !strcmp(nm + l - 5, ".yaml")) || (l > 4 && !strcmp(nm + l - 4, ".yml"));
}

typedef struct walk {
    int (*visit)(const char *path, void *arg);
    void *arg;
    size_t entries;
    int full; /* past RB_CATALOG_MAX_ENTRIES: the walk ends */
    int deep;    /* a folder deeper than RB_CATALOG_MAX_DEPTH was skipped */
    json_t *seen;  /* the files visited, by device and inode (rb__file_seen) */
    json_t *links; /* links to files, visited after the files themselves */
} walk_t;

int rb__file_seen(json_t *seen, const char *path)
{
    struct stat st;
    char key[64];
    if (stat(path, &st) < 0)
        return 0;
    snprintf(key, sizeof(key), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
    if (json_object_get(seen, key))
        return 1;
    json_object_set_new(seen, key, json_true());
    return 0;
}

/* A folder too deep is skipped and the walk goes on beside it, so a file
 * within the bounds is always visited; only the entry bound ends the walk. */
static int walk_dir(walk_t *w, const char *dir, int depth)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return 0;
    int stop = 0;
    size_t dl = strlen(dir);
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        char *p = NULL;
        if (!stop && w->entries++ >= RB_CATALOG_MAX_ENTRIES)
            w->full = 1;
        if (!stop && !w->full && nm[0] != '.' && strcmp(nm, "node_modules") &&
            asprintf(&p, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", nm) >= 0) {
            struct stat st;
            /* lstat: a link to a directory is not walked into; a link to
             * a file is followed, after the walk (rb__runbook_walk). */
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                if (depth < RB_CATALOG_MAX_DEPTH)
                    stop = walk_dir(w, p, depth + 1);
                else
                    w->deep = 1;
            } else if (is_yaml(nm) && S_ISLNK(st.st_mode)) {
                json_array_append_new(w->links, json_string(p));
            } else if (is_yaml(nm) && S_ISREG(st.st_mode) && !rb__file_seen(w->seen, p)) {
                stop = w->visit(p, w->arg);
            }
        }
        free(p);
        free(ents[i]);
    }
    free(ents);
    return stop;
}

int rb__runbook_walk(const char *dir, int (*visit)(const char *path, void *arg), void *arg)
{
    walk_t w = {visit, arg, 0, 0, 0, json_object(), json_array()};
    int stop = walk_dir(&w, dir, 0);
    /* A file and a link to it are one file, found by its own path: the
     * links come last, and only those to files not visited yet count. */
    size_t i;
    json_t *l;
    json_array_foreach(w.links, i, l) {
        const char *p = json_string_value(l);
        struct stat st;
        if (!stop && stat(p, &st) == 0 && S_ISREG(st.st_mode) && !rb__file_seen(w.seen, p))
            stop = visit(p, arg);
    }
    json_decref(w.links);
    json_decref(w.seen);
    return stop ? stop : w.full || w.deep ? RB_ETOOBIG : 0;
}

void rb__runbook_walk_warn(rb_diags_t *d, const char *dir, const char *hint)
{
    rb_diag_add(d, RB_DIAG_WARNING, dir, (rb_mark_t){0, 0, 0},
                "did not look in folders deeper than %d or past %d entries%s",
                RB_CATALOG_MAX_DEPTH, RB_CATALOG_MAX_ENTRIES, hint);
}

/* The document at path (diagnostics dropped), or NULL when its YAML cannot
 * be read. */
static rb_doc_t *peek_doc(const char *path)
{
    rb_diags_t *d = rb_diags_new();
    rb_doc_t *doc = NULL;
    rb_doc_load_file(path, d, &doc);
    rb_diags_free(d);
    return doc;
}

/* 1 when the file at path says it is the runbook called name; a file
 * whose YAML cannot be read says so by its file name. */
static int has_name(const char *path, rb_doc_t *doc, const char *name)
{
    if (doc) {
        const char *nm = json_string_value(json_object_get(rb_doc_root(doc), "name"));
        if (nm)
            return !strcmp(nm, name);
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(name);
    return !strncmp(base, name, n) && (!strcmp(base + n, ".yaml") || !strcmp(base + n, ".yml"));
}

typedef struct by_name {
    const char *name;
    json_t *paths; /* the files of that name */
    json_t *root;  /* the first one's document root */
} by_name_t;

static int visit_name(const char *path, void *arg)
{
    by_name_t *b = arg;
    rb_doc_t *doc = peek_doc(path);
    if (has_name(path, doc, b->name)) {
        json_array_append_new(b->paths, json_string(path));
        if (!b->root && doc)
            b->root = json_incref(rb_doc_root(doc));
    }
    rb_doc_free(doc);
    return 0;
}

int rb__runbook_lookup(const char *dir, const char *name, rb_diags_t *d, char **path)
{
    *path = NULL;
    by_name_t b = {name, json_array(), NULL};
    if (rb__runbook_walk(dir, visit_name, &b) == RB_ETOOBIG)
        rb__runbook_walk_warn(d, dir, " (name the folder with --dir)");
    json_decref(b.root);
    size_t n = json_array_size(b.paths);
    int rc = n ? 0 : RB_ENOTFOUND;
    for (size_t i = 1; i < n; i++)
        rb_diag_add(d, RB_DIAG_ERROR, json_string_value(json_array_get(b.paths, i)),
                    (rb_mark_t){1, 1, 0}, "runbook name \"%s\" is also used by %s: rename one",
                    name, json_string_value(json_array_get(b.paths, 0)));
    if (n > 1)
        rc = RB_EINVAL;
    for (size_t i = 0; i < n; i++) {
        rb_runbook_t *rb = NULL;
        const char *p = json_string_value(json_array_get(b.paths, i));
        if (rb_runbook_load(p, d, &rb) < 0)
            rc = RB_EINVAL;
        rb_runbook_free(rb);
    }
    if (rc == 0)
        *path = strdup(json_string_value(json_array_get(b.paths, 0)));
    json_decref(b.paths);
    return rc == 0 && !*path ? RB_ENOMEM : rc;
}

char *rb__runbook_find(const char *dir, const char *name)
{
    rb_diags_t *d = rb_diags_new();
    char *path = NULL;
    rb__runbook_lookup(dir, name, d, &path);
    rb_diags_free(d);
    return path;
}

json_t *rb__runbook_peek(const char *dir, const char *name, size_t *found, char **path)
{
    by_name_t b = {name, json_array(), NULL};
    rb__runbook_walk(dir, visit_name, &b);
    *found = json_array_size(b.paths);
    json_t *root = json_array_size(b.paths) == 1 ? b.root : NULL;
    if (!root)
        json_decref(b.root);
    if (path)
        *path = root ? strdup(json_string_value(json_array_get(b.paths, 0))) : NULL;
    json_decref(b.paths);
    return root;
}

typedef struct by_alert {
    const json_t *alert;
    json_t *out;
    rb_diags_t *d;
    size_t invalid;
} by_alert_t;

static int visit_alert(const char *path, void *arg)
{
    by_alert_t *b = arg;
    rb_doc_t *doc = peek_doc(path);
    int match = doc && rb__triggers_match(json_object_get(rb_doc_root(doc), "triggers"), b->alert);
    rb_doc_free(doc);
    if (!match)
        return 0;
    rb_runbook_t *rb = NULL;
    if (rb_runbook_load(path, b->d, &rb) == 0)
        json_array_append_new(b->out,
                              json_pack("{s:s,s:s}", "path", path, "name", rb_runbook_name(rb)));
    else
        b->invalid++;
    rb_runbook_free(rb);
    return 0;
}

size_t rb__runbooks_matching(const char *dir, const json_t *alert, json_t *out, rb_diags_t *d)
{
    by_alert_t b = {alert, out, d, 0};
    rb__runbook_walk(dir, visit_alert, &b);
    return b.invalid;
}
