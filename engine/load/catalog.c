/*
 * catalog.c — finds runbook files by name (see catalog.h). Reads the
 * directory tree and loads candidate files; owns nothing past the call.
 */
#define _GNU_SOURCE /* asprintf */
#include "catalog.h"

#include "diag.h"
#include "runbook.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_yaml(const char *nm)
{
    size_t l = strlen(nm);
    return (l > 5 && !strcmp(nm + l - 5, ".yaml")) || (l > 4 && !strcmp(nm + l - 4, ".yml"));
}

/* Calls visit for every runbook file below dir that loads, until it
 * returns non-zero; returns that value. */
static int each_runbook(const char *dir, int (*visit)(const char *path, rb_runbook_t *rb, void *arg),
                        void *arg)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return 0;
    int stop = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        char *p;
        if (!stop && nm[0] != '.' && strcmp(nm, "node_modules") && asprintf(&p, "%s/%s", dir, nm) >= 0) {
            struct stat st;
            if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                stop = each_runbook(p, visit, arg);
            } else if (is_yaml(nm)) {
                rb_diags_t *d = rb_diags_new();
                rb_runbook_t *rb = NULL;
                if (rb_runbook_load(p, d, &rb) == 0)
                    stop = visit(p, rb, arg);
                rb_runbook_free(rb);
                rb_diags_free(d);
            }
            free(p);
        }
        free(ents[i]);
    }
    free(ents);
    return stop;
}

typedef struct by_name {
    const char *name;
    char *found;
} by_name_t;

static int visit_name(const char *path, rb_runbook_t *rb, void *arg)
{
    by_name_t *b = arg;
    if (strcmp(rb_runbook_name(rb), b->name))
        return 0;
    b->found = strdup(path);
    return 1;
}

char *rb__runbook_find(const char *dir, const char *name)
{
    by_name_t b = {name, NULL};
    each_runbook(dir, visit_name, &b);
    return b.found;
}

typedef struct by_alert {
    const json_t *alert;
    json_t *out;
} by_alert_t;

static int visit_alert(const char *path, rb_runbook_t *rb, void *arg)
{
    by_alert_t *b = arg;
    if (rb_runbook_match_alert(rb, b->alert))
        json_array_append_new(b->out, json_pack("{s:s,s:s}", "path", path, "name", rb_runbook_name(rb)));
    return 0;
}

void rb__runbooks_matching(const char *dir, const json_t *alert, json_t *out)
{
    by_alert_t b = {alert, out};
    each_runbook(dir, visit_alert, &b);
}

char *rb__runbook_locate(const char *what, const char *dir)
{
    struct stat st;
    if (stat(what, &st) == 0 && S_ISREG(st.st_mode))
        return strdup(what);
    if (dir)
        return rb__runbook_find(dir, what);
    char *p = rb__runbook_find("runbooks", what);
    return p ? p : rb__runbook_find(".", what);
}
