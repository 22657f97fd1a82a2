/*
 * cli_actions.c — `runbook actions`: every action this engine has (built
 * in, and loaded from --plugins), with its summary, flags and parameter
 * map, as text, JSON, the Markdown tables of docs/actions.md, or the JSON
 * Schema of each action's `with` (the generated part of
 * schemas/runbook.schema.json). Also the --plugins / $RUNBOOK_PLUGINS
 * loading that every command shares.
 *
 * Owns nothing past the call. Must never describe an action from anything
 * but its descriptor: the parameter map is the one source, and
 * tests/e2e/actions_doc.sh and actions_schema.sh hold the docs and the
 * schema to this output.
 */
#include "host/action_host.h"
#include "cli.h"
#include "host/plugin.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: runbook actions [--format text|md|json|schema] [--plugins DIR] [NAME...]\n\n"
            "Lists the actions this engine has (built in, and from the modules in --plugins)\n"
            "with their summary, flags and parameters. NAME... lists only those.\n\n"
            "  --format text    one block per action (default)\n"
            "  --format md      the Markdown tables of docs/actions.md\n"
            "  --format json    the same as data\n"
            "  --format schema  JSON Schema definitions of each action's `with`, as in\n"
            "                   schemas/runbook.schema.json (all actions, NAME is ignored)\n"
            "  --plugins DIR    load the action modules (*.so) in DIR first\n"
            "                   (default: $RUNBOOK_PLUGINS)\n"
            "  -h, --help       this text\n\n"
            "exit codes: 0 listed, 2 unknown action, bad option or a module refused.\n");
}

int rb_cli_plugins(const char *cmd, const char *dir)
{
    if (!dir)
        dir = getenv("RUNBOOK_PLUGINS");
    if (!dir || !dir[0])
        return 0;
    char err[512];
    if (rb__plugins_load_dir(dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "runbook %s: %s\n", cmd, err);
        return -1;
    }
    return 0;
}

static const char *type_name(rb_param_type_t t)
{
    switch (t) {
    case RB_PARAM_STRING: return "string";
    case RB_PARAM_INT: return "integer";
    case RB_PARAM_BOOL: return "boolean";
    case RB_PARAM_DURATION: return "duration";
    case RB_PARAM_STRINGS: return "list of strings";
    case RB_PARAM_MAP: return "map of strings";
    case RB_PARAM_ANY: return "any";
    case RB_PARAM_SHELL: return "shell command";
    }
    return "?";
}

static const char *type_key(rb_param_type_t t)
{
    switch (t) {
    case RB_PARAM_STRING: return "string";
    case RB_PARAM_INT: return "integer";
    case RB_PARAM_BOOL: return "boolean";
    case RB_PARAM_DURATION: return "duration";
    case RB_PARAM_STRINGS: return "strings";
    case RB_PARAM_MAP: return "map";
    case RB_PARAM_ANY: return "any";
    case RB_PARAM_SHELL: return "shell";
    }
    return "?";
}

/* The default as a value (new reference), or NULL. The loader checked that
 * a plugin's default is JSON text; a built-in's is held to it by
 * unit.plugin. */
static json_t *default_value(const rb_action_param_t *p)
{
    return p->default_value ? json_loads(p->default_value, JSON_DECODE_ANY, NULL) : NULL;
}

/* The default as an operator writes it in YAML: strings bare. */
static char *default_text(const rb_action_param_t *p)
{
    json_t *v = default_value(p);
    if (!v)
        return NULL;
    char *s = json_is_string(v) ? strdup(json_string_value(v))
                                : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    return s;
}

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* ---- text ---- */

static void print_text(const rb_action_t *a)
{
    const char *src = rb__plugin_source(a);
    printf("%s — %s\n", a->name, a->summary);
    printf("  %s%s%s\n",
           a->flags & RB_ACTION_SIDE_EFFECTS
               ? "side effects (journaled first; simulated in a drill, --dry-run)"
               : "read-only (runs for real in a drill, --dry-run)",
           src ? "; module " : "", src ? src : "");
    size_t w = 0;
    for (const rb_action_param_t *p = a->params; p && p->name; p++)
        if (strlen(p->name) > w)
            w = strlen(p->name);
    for (const rb_action_param_t *p = a->params; p && p->name; p++) {
        char *d = default_text(p);
        printf("  %-*s  %s%s%s%s\n", (int)w, p->name, type_name(p->type),
               p->required ? ", required" : "", d ? ", default " : "", d ? d : "");
        printf("  %-*s  %s\n", (int)w, "", p->description);
        free(d);
    }
    if (!a->params || !a->params->name)
        printf("  (no parameters)\n");
}

/* ---- markdown ---- */

static void md_cell(const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", stdout);
        else if (*s == '\n')
            fputc(' ', stdout);
        else
            fputc(*s, stdout);
    }
}

static void print_md(const rb_action_t *a)
{
    const char *src = rb__plugin_source(a);
    printf("`%s` — ", a->name);
    md_cell(a->summary);
    printf(". %s", a->flags & RB_ACTION_SIDE_EFFECTS
                       ? "**Side effects**: the step's intent is journaled before it starts; "
                         "in a [drill](semantics.md#drills---dry-run) it is simulated."
                       : "**Read-only**: it runs for real in a [drill](semantics.md#drills---dry-run) too.");
    if (src)
        printf(" From the module `%s`.", basename_of(src));
    printf("\n\n");
    if (!a->params || !a->params->name) {
        printf("No parameters.\n");
        return;
    }
    printf("| parameter | type | default | meaning |\n|---|---|---|---|\n");
    for (const rb_action_param_t *p = a->params; p->name; p++) {
        char *d = default_text(p);
        printf("| `%s` | %s | ", p->name, type_name(p->type));
        if (p->required) {
            printf("**required**");
        } else if (d) {
            printf("`");
            md_cell(d);
            printf("`");
        }
        printf(" | ");
        md_cell(p->description);
        printf(" |\n");
        free(d);
    }
}

/* ---- json ---- */

static json_t *action_json(const rb_action_t *a)
{
    json_t *ps = json_array();
    for (const rb_action_param_t *p = a->params; p && p->name; p++) {
        json_t *d = default_value(p);
        json_array_append_new(ps,
                              json_pack("{s:s,s:s,s:b,s:o,s:s}", "name", p->name, "type",
                                        type_key(p->type), "required", p->required != 0, "default",
                                        d ? d : json_null(), "description", p->description));
    }
    const char *src = rb__plugin_source(a);
    return json_pack("{s:s,s:s,s:b,s:b,s:o,s:o}", "name", a->name, "summary", a->summary,
                     "side_effects", (a->flags & RB_ACTION_SIDE_EFFECTS) != 0, "read_only",
                     (a->flags & RB_ACTION_READ_ONLY) != 0, "module",
                     src ? json_string(src) : json_null(), "params", ps);
}

/* ---- JSON Schema ---- */

#define SCHEMA_TEMPLATE_REF "#/definitions/withTemplate"

/* A value of type t as written in `with:`; a string holding {{ }} may
 * stand for any type (it is checked once rendered), as in validate.c. */
static json_t *param_schema(const rb_action_param_t *p)
{
    json_t *t = NULL;
    switch (p->type) {
    case RB_PARAM_STRING:
    case RB_PARAM_SHELL: t = json_pack("{s:s}", "type", "string"); break;
    case RB_PARAM_INT: t = json_pack("{s:s}", "type", "integer"); break;
    case RB_PARAM_BOOL: t = json_pack("{s:s}", "type", "boolean"); break;
    case RB_PARAM_DURATION: t = json_pack("{s:s}", "$ref", "#/definitions/duration"); break;
    case RB_PARAM_STRINGS:
        t = json_pack("{s:s,s:{s:s}}", "type", "array", "items", "type", "string");
        break;
    case RB_PARAM_MAP: t = json_pack("{s:s}", "type", "object"); break;
    case RB_PARAM_ANY: break;
    }
    json_t *s = json_pack("{s:s}", "description", p->description);
    if (p->type == RB_PARAM_STRING || p->type == RB_PARAM_SHELL) {
        json_object_update(s, t); /* a template is a string already */
        json_decref(t);
    } else if (t) {
        json_object_set_new(s, "anyOf", json_pack("[o,{s:s}]", t, "$ref", SCHEMA_TEMPLATE_REF));
    }
    json_t *d = default_value(p);
    if (d)
        json_object_set_new(s, "default", d);
    return s;
}

static json_t *with_schema(const rb_action_t *a)
{
    json_t *props = json_object(), *req = json_array();
    for (const rb_action_param_t *p = a->params; p && p->name; p++) {
        json_object_set_new(props, p->name, param_schema(p));
        if (p->required)
            json_array_append_new(req, json_string(p->name));
    }
    char desc[512];
    snprintf(desc, sizeof(desc), "The `with` of the %s action: %s.", a->name, a->summary);
    json_t *s = json_pack("{s:s,s:s,s:b}", "description", desc, "type", "object",
                          "additionalProperties", 0);
    if (json_array_size(req))
        json_object_set_new(s, "required", req);
    else
        json_decref(req);
    json_object_set_new(s, "properties", props);
    return s;
}

static json_t *when_then(json_t *cond, const char *name)
{
    char ref[128];
    snprintf(ref, sizeof(ref), "#/definitions/with_%s", name);
    return json_pack("{s:o,s:{s:s,s:{s:{s:s}}}}", "if", cond, "then", "type", "object",
                     "properties", "with", "$ref", ref);
}

static json_t *schema_defs(const rb_action_t *const *all)
{
    json_t *defs = json_object(), *dispatch = json_array();
    json_object_set_new(
        defs, "actionWith",
        json_pack("{s:s,s:o}", "description",
                  "Generated by `runbook actions --format schema` from the actions' parameter "
                  "maps (tests/e2e/actions_schema.sh keeps it in step): `with` as each built-in "
                  "action takes it. A plugin's action takes any object here; `runbook validate "
                  "--plugins DIR` checks it.",
                  "allOf", dispatch));
    json_object_set_new(defs, "withTemplate",
                        json_pack("{s:s,s:s,s:s}", "description",
                                  "A {{ }} template: it may render to any type, and is checked "
                                  "once rendered.",
                                  "type", "string", "pattern", "\\{\\{"));
    for (size_t i = 0; all[i]; i++) {
        char key[96];
        snprintf(key, sizeof(key), "with_%s", all[i]->name);
        json_object_set_new(defs, key, with_schema(all[i]));
        json_array_append_new(
            dispatch, when_then(json_pack("{s:s,s:[s],s:{s:{s:s}}}", "type", "object", "required",
                                          "action", "properties", "action", "const", all[i]->name),
                                all[i]->name));
    }
    /* `run:` is the exec shorthand: its `with` holds exec's other
     * parameters (oneOfActionRun forbids argv and shell there). */
    if (rb__action_find("exec"))
        json_array_append_new(
            dispatch,
            when_then(json_pack("{s:s,s:[s]}", "type", "object", "required", "run"), "exec"));
    return defs;
}

int rb_cli_actions(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"plugins", required_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    enum { F_TEXT, F_MD, F_JSON, F_SCHEMA } fmt = F_TEXT;
    const char *plugins = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!strcmp(optarg, "text"))
                fmt = F_TEXT;
            else if (!strcmp(optarg, "md"))
                fmt = F_MD;
            else if (!strcmp(optarg, "json"))
                fmt = F_JSON;
            else if (!strcmp(optarg, "schema"))
                fmt = F_SCHEMA;
            else {
                fprintf(stderr, "runbook actions: --format must be text, md, json or schema\n");
                return RB_EXIT_USAGE;
            }
            break;
        case 'P': plugins = optarg; break;
        case 'h': help(stdout); return RB_EXIT_OK;
        default: help(stderr); return RB_EXIT_USAGE;
        }
    }
    if (rb_cli_plugins("actions", plugins) < 0)
        return RB_EXIT_USAGE;

    const rb_action_t *const *all = rb__action_list();
    size_t n = 0;
    while (all[n])
        n++;
    const rb_action_t **sel = calloc(n + 1, sizeof(*sel));
    if (!sel)
        return RB_EXIT_FAILED;
    size_t ns = 0;
    if (optind < argc && fmt != F_SCHEMA) {
        for (int i = optind; i < argc; i++) {
            const rb_action_t *a = rb__action_find(argv[i]);
            if (!a) {
                const char *sug = rb__action_suggest(argv[i]);
                fprintf(stderr, "runbook actions: unknown action \"%s\"", argv[i]);
                if (sug)
                    fprintf(stderr, " (did you mean \"%s\"?)", sug);
                fputc('\n', stderr);
                free(sel);
                return RB_EXIT_USAGE;
            }
            if (ns < n)
                sel[ns++] = a;
        }
    } else {
        for (; ns < n; ns++)
            sel[ns] = all[ns];
    }

    json_t *out = NULL;
    switch (fmt) {
    case F_TEXT:
        for (size_t i = 0; i < ns; i++) {
            if (i)
                putchar('\n');
            print_text(sel[i]);
        }
        break;
    case F_MD:
        for (size_t i = 0; i < ns; i++) {
            if (i)
                putchar('\n');
            print_md(sel[i]);
        }
        break;
    case F_JSON:
        out = json_array();
        for (size_t i = 0; i < ns; i++)
            json_array_append_new(out, action_json(sel[i]));
        out = json_pack("{s:o}", "actions", out);
        break;
    case F_SCHEMA: out = schema_defs((const rb_action_t *const *)sel); break;
    }
    if (out) {
        json_dumpf(out, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(out);
    }
    free(sel);
    return RB_EXIT_OK;
}
