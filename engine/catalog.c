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

char *rb__runbook_find(const char *dir, const char *name)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return NULL;
    char *found = NULL;
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        char *p;
        if (!found && nm[0] != '.' && strcmp(nm, "node_modules") && asprintf(&p, "%s/%s", dir, nm) >= 0) {
            struct stat st;
            if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                found = rb__runbook_find(p, name);
            } else if (is_yaml(nm)) {
                rb_diags_t *d = rb_diags_new();
                rb_runbook_t *rb = NULL;
                if (rb_runbook_load(p, d, &rb) == 0 && !strcmp(rb_runbook_name(rb), name))
                    found = strdup(p);
                rb_runbook_free(rb);
                rb_diags_free(d);
            }
            free(p);
        }
        free(ents[i]);
    }
    free(ents);
    return found;
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
