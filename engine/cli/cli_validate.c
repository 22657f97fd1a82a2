/*
 * cli_validate.c — `runbook validate PATH…`: loads every runbook file given
 * (directories are walked for *.yaml / *.yml as load/catalog.h walks them)
 * and prints compiler-style diagnostics. Owns nothing past the call.
 */
#define _GNU_SOURCE /* asprintf, strndup */
#include "cli.h"
#include "cli_out.h"
#include "load/catalog.h"
#include "load/diag.h"
#include "load/runbook.h"

#include <runbook/runbook.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: runbook validate [--format text|json] [--quiet] [--plugins DIR] PATH...\n"
            "       runbook validate --config FILE [PATH...]\n\n"
            "Checks runbook files (a directory: every *.yaml and *.yml below it) and prints\n"
            "each problem as FILE:LINE:COL: error: MESSAGE.\n\n"
            "  --format text|json  diagnostics as text on stderr (default) or JSON on stdout\n"
            "  -q, --quiet         print nothing when everything is valid\n"
            "      --plugins DIR   load the action modules (*.so) in DIR ($RUNBOOK_PLUGINS)\n"
            "      --config FILE   check a `runbook serve` config file (docs/server.md)\n"
            "  -h, --help          this text\n\n"
            "exit codes: 0 all valid, 2 some file is invalid or cannot be read.\n");
}

typedef struct vstate {
    rb_diags_t *d;
    json_t *files;
    size_t nfiles, nbad;
    char **names; /* runbook names seen, for duplicates across files */
    char **paths;
    size_t nnames;
    int cut; /* a folder walk left something out (a warning says what) */
    json_t *seen; /* the files checked, by device and inode */
} vstate_t;

static void check_file(vstate_t *v, const char *path)
{
    /* One file is checked once, however many paths name it (ok.yaml
     * ./ok.yaml, a link in a folder given): never a duplicate of itself. */
    if (rb__file_seen(v->seen, path))
        return;
    rb_runbook_t *rb = NULL;
    size_t before = rb_diags_errors(v->d);
    int rc = rb_runbook_load(path, v->d, &rb);
    if (rc == 0 && rb) {
        const char *nm = rb_runbook_name(rb);
        for (size_t i = 0; i < v->nnames; i++)
            if (!strcmp(v->names[i], nm)) {
                rb_diag_add(v->d, RB_DIAG_ERROR, path, (rb_mark_t){1, 1, 0},
                            "runbook name \"%s\" is also used by %s", nm, v->paths[i]);
                break;
            }
        char **nn = realloc(v->names, (v->nnames + 1) * sizeof(char *));
        if (nn)
            v->names = nn;
        char **np = nn ? realloc(v->paths, (v->nnames + 1) * sizeof(char *)) : NULL;
        if (np) {
            v->paths = np;
            v->names[v->nnames] = strdup(nm);
            v->paths[v->nnames] = strdup(path);
            v->nnames++;
        }
    }
    int valid = rb_diags_errors(v->d) == before;
    v->nfiles++;
    v->nbad += !valid;
    json_array_append_new(v->files, json_pack("{s:s,s:b}", "file", path, "valid", valid));
    rb_runbook_free(rb);
}

static int visit(const char *path, void *arg)
{
    check_file(arg, path);
    return 0;
}

/* A file given is checked whatever its name; a directory is walked as a
 * lookup walks it (catalog.h: links to directories are not followed). */
static void walk(vstate_t *v, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        rb_diag_add(v->d, RB_DIAG_ERROR, path, (rb_mark_t){0, 0, 0}, "no such file or directory");
        v->nfiles++;
        v->nbad++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        check_file(v, path);
        return;
    }
    if (rb__runbook_walk(path, visit, v) == RB_ETOOBIG) {
        rb__runbook_walk_warn(v->d, path, "");
        v->cut = 1;
    }
}

int rb_cli_validate(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"plugins", required_argument, NULL, 'P'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int json = 0, quiet = 0, c;
    const char *plugins = NULL, *config = NULL;
    optind = 0;
    opterr = 0; /* our own words for a bad option (rb__cli_bad_option) */
    while ((c = getopt_long(argc, argv, ":f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!strcmp(optarg, "json"))
                json = 1;
            else if (strcmp(optarg, "text")) {
                fprintf(stderr, "runbook validate: --format must be text or json\n");
                return RB_EXIT_USAGE;
            }
            break;
        case 'q': quiet = 1; break;
        case 'P': plugins = optarg; break;
        case 'c': config = optarg; break;
        case 'h': help(stdout); return RB_EXIT_OK;
        default: return rb__cli_bad_option("validate", c, argv);
        }
    }
    /* A server config: checked alone, or before the runbook files. */
    if (config) {
        int crc = rb_cli_config_check(config);
        if (optind >= argc || crc != RB_EXIT_OK)
            return crc;
    }
    if (rb_cli_plugins("validate", plugins) < 0)
        return RB_EXIT_USAGE;
    if (optind >= argc) {
        fprintf(stderr, "runbook validate: give at least one file or directory\n"
                        "Try 'runbook validate --help'.\n");
        return RB_EXIT_USAGE;
    }
    vstate_t v = {rb_diags_new(), json_array(), 0, 0, NULL, NULL, 0, 0, json_object()};
    for (int i = optind; i < argc; i++)
        walk(&v, argv[i]);
    size_t errs = rb_diags_errors(v.d);
    if (json) {
        json_t *out = json_pack("{s:o,s:o,s:b}", "files", v.files, "diagnostics", rb_diags_json(v.d),
                                "valid", errs == 0);
        json_dumpf(out, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(out);
    } else {
        rb_diags_print(v.d, stderr, rb_cli_color(2));
        if (!quiet || errs || v.cut)
            fprintf(errs ? stderr : stdout,
                    "%zu file%s checked: %zu valid, %zu invalid (%zu error%s)%s\n", v.nfiles,
                    v.nfiles == 1 ? "" : "s", v.nfiles - v.nbad, v.nbad, errs,
                    errs == 1 ? "" : "s", v.cut ? "; not every folder was searched" : "");
        json_decref(v.files);
    }
    for (size_t i = 0; i < v.nnames; i++) {
        free(v.names[i]);
        free(v.paths[i]);
    }
    free(v.names);
    free(v.paths);
    json_decref(v.seen);
    rb_diags_free(v.d);
    return errs || v.nbad ? RB_EXIT_USAGE : RB_EXIT_OK;
}
