/*
 * inventory.c — an inventory file (YAML) to the `inventory` object runs
 * read (inventory.h; the format is in docs/remote.md):
 *
 *   defaults: { user: neo, port: 22, identity: keys/id_ed25519 }
 *   hosts:
 *     node1: { address: 10.0.0.11, host_key: "ssh-ed25519 AAAA…", vars: { role: primary } }
 *     node2: { address: 10.0.0.12, port: 2222 }
 *   groups:
 *     validators: [node1, node2]
 *
 * Owns: the document while it is checked, and the object it returns.
 *
 * Must never: accept a host name or group member that a later lookup could
 * not find (a group names only hosts of the file), or leave a relative
 * identity relative to whatever folder the engine runs in.
 */
#define _GNU_SOURCE
#include "inventory.h"

#include "doc.h"
#include "host/action_host.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <runbook/runbook.h>

typedef struct inv {
    rb_doc_t *doc;
    rb_diags_t *d;
    const char *file;
    char *dir; /* the inventory's folder, absolute */
    int errors;
} inv_t;

#define IERR(iv, m, ...)                                                                           \
    do {                                                                                           \
        rb_diag_add((iv)->d, RB_DIAG_ERROR, (iv)->file, (m), __VA_ARGS__);                        \
        (iv)->errors++;                                                                            \
    } while (0)

static int name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._-", *p)))
            return 0;
    return 1;
}

json_t *rb_inventory_empty(void)
{
    return json_pack("{s:o,s:o}", "hosts", json_object(), "groups", json_object());
}

/* The keys a host (and `defaults`, but for address and vars) may have. */
static const char *const host_keys[] = {"address", "user", "port", "host_key", "identity", "vars",
                                        NULL};

/* Checks one host's (or the defaults') keys and copies them into out. */
static void host_fields(inv_t *iv, const json_t *h, const char *what, int defaults, json_t *out)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)h, k, v) {
        rb_mark_t km = rb_doc_key_mark(iv->doc, h, k), vm = rb_doc_val_mark(iv->doc, h, k);
        size_t i = 0;
        while (host_keys[i] && strcmp(host_keys[i], k))
            i++;
        if (!host_keys[i] || (defaults && (!strcmp(k, "address") || !strcmp(k, "vars")))) {
            IERR(iv, km, "unknown key \"%s\" in %s (keys: %s)", k, what,
                 defaults ? "user, port, host_key, identity"
                          : "address, user, port, host_key, identity, vars");
            continue;
        }
        if (!strcmp(k, "port")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
                IERR(iv, vm, "%s: port must be an integer from 1 to 65535", what);
            else
                json_object_set(out, k, v);
        } else if (!strcmp(k, "vars")) {
            if (!json_is_object(v))
                IERR(iv, vm, "%s: vars must be a mapping", what);
            else
                json_object_set_new(out, k, json_deep_copy(v));
        } else if (!json_is_string(v) || json_string_length(v) == 0 ||
                   strlen(json_string_value(v)) != json_string_length(v)) {
            IERR(iv, vm, "%s: %s must be a non-empty string", what, k);
        } else if (!strcmp(k, "identity") && json_string_value(v)[0] != '/' &&
                   json_string_value(v)[0] != '~') {
            char *p = NULL;
            if (asprintf(&p, "%s/%s", iv->dir, json_string_value(v)) >= 0)
                json_object_set_new(out, k, json_string(p));
            free(p);
        } else {
            json_object_set(out, k, v);
        }
    }
}

/* One host's problems as the ssh action's check reports them. */
typedef struct {
    inv_t *iv;
    const char *what, *name;
    const json_t *hosts, *hv, *dj;
} host_report_t;

/* The mark is the value's: in the host, else in defaults, else the host's name. */
static void host_problem(void *arg, const char *key, const char *msg)
{
    host_report_t *c = arg;
    const char *field = key && strcmp(key, "host") ? key : "address";
    rb_mark_t m = rb_doc_key_mark(c->iv->doc, c->hosts, c->name);
    if (c->hv && json_object_get(c->hv, field))
        m = rb_doc_val_mark(c->iv->doc, c->hv, field);
    else if (json_is_object(c->dj) && json_object_get(c->dj, field))
        m = rb_doc_val_mark(c->iv->doc, c->dj, field);
    IERR(c->iv, m, "%s: %s (the ssh action would refuse it)", c->what, msg);
}

/* Checks a host's connection fields with the ssh action's own validator, so
 * that a value the action would refuse (an address or user read as an ssh
 * option, a host_key that is no key) stops the load, not a remote step
 * halfway through a run: every problem of the host, each at its value. */
static void ssh_fields_ok(inv_t *iv, const json_t *h, const char *what, const json_t *hosts,
                          const char *name, const json_t *hv, const json_t *dj)
{
    const rb_action_t *ssh = rb__action_find("ssh");
    int (*all)(const json_t *, rb_action_report_fn, void *) = rb__action_validate_all(ssh);
    if (!ssh || (!all && !ssh->validate))
        return;
    /* the host's fields as the step's parameters, where the check reads them */
    json_t *with = json_pack("{s:O,s:[s]}", "host", h, "argv", "true");
    if (!with)
        return;
    host_report_t c = {iv, what, name, hosts, hv, dj};
    if (all) {
        all(with, host_problem, &c);
    } else {
        char msg[512] = "";
        const char *key = NULL;
        if (ssh->validate(with, msg, sizeof(msg), &key) < 0)
            host_problem(&c, key, msg);
    }
    json_decref(with);
}

static json_t *build(inv_t *iv, const json_t *root)
{
    json_t *inv = rb_inventory_empty();
    json_object_set_new(inv, "file", json_string(iv->file));
    json_t *hosts_out = json_object_get(inv, "hosts"), *groups_out = json_object_get(inv, "groups");
    if (!json_is_object(root)) {
        IERR(iv, rb_doc_root_mark(iv->doc), "an inventory is a mapping with hosts (and groups)");
        return inv;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)root, k, v) {
        if (strcmp(k, "hosts") && strcmp(k, "groups") && strcmp(k, "defaults"))
            IERR(iv, rb_doc_key_mark(iv->doc, root, k),
                 "unknown key \"%s\" in the inventory (keys: defaults, hosts, groups)", k);
    }
    json_t *defaults = json_object();
    const json_t *dj = json_object_get(root, "defaults");
    if (dj && !json_is_object(dj))
        IERR(iv, rb_doc_val_mark(iv->doc, root, "defaults"), "defaults must be a mapping");
    else if (dj)
        host_fields(iv, dj, "defaults", 1, defaults);

    const json_t *hosts = json_object_get(root, "hosts");
    if (!json_is_object(hosts)) {
        IERR(iv, hosts ? rb_doc_val_mark(iv->doc, root, "hosts") : rb_doc_root_mark(iv->doc),
             "an inventory needs hosts: a mapping of host names to their settings");
        json_decref(defaults);
        return inv;
    }
    json_object_foreach((json_t *)hosts, k, v) {
        char what[160];
        snprintf(what, sizeof(what), "host \"%s\"", k);
        if (!name_ok(k)) {
            IERR(iv, rb_doc_key_mark(iv->doc, hosts, k),
                 "host name \"%s\": letters, digits, '.', '_' and '-' only", k);
            continue;
        }
        json_t *h = json_deep_copy(defaults);
        json_object_set_new(h, "name", json_string(k));
        if (json_is_object(v))
            host_fields(iv, v, what, 0, h);
        else if (!json_is_null(v))
            IERR(iv, rb_doc_val_mark(iv->doc, hosts, k), "%s must be a mapping (or empty)", what);
        if (!json_object_get(h, "address"))
            json_object_set_new(h, "address", json_string(k));
        ssh_fields_ok(iv, h, what, hosts, k, json_is_object(v) ? v : NULL, dj);
        if (!json_object_get(h, "vars"))
            json_object_set_new(h, "vars", json_object());
        json_object_set_new(h, "groups", json_array());
        json_object_set_new(hosts_out, k, h);
    }
    json_decref(defaults);

    const json_t *groups = json_object_get(root, "groups");
    if (groups && !json_is_object(groups)) {
        IERR(iv, rb_doc_val_mark(iv->doc, root, "groups"),
             "groups must be a mapping of group names to lists of hosts");
        return inv;
    }
    json_object_foreach((json_t *)groups, k, v) {
        if (!name_ok(k)) {
            IERR(iv, rb_doc_key_mark(iv->doc, groups, k),
                 "group name \"%s\": letters, digits, '.', '_' and '-' only", k);
            continue;
        }
        if (!json_is_array(v)) {
            IERR(iv, rb_doc_val_mark(iv->doc, groups, k), "group \"%s\" must be a list of hosts", k);
            continue;
        }
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) {
            json_t *h = json_is_string(m) ? json_object_get(hosts_out, json_string_value(m)) : NULL;
            if (!h) {
                IERR(iv, rb_doc_item_mark(iv->doc, v, i), "group \"%s\": %s", k,
                     json_is_string(m) ? "no such host in hosts" : "a member is a host name");
                continue;
            }
            json_array_append_new(json_object_get(h, "groups"), json_string(k));
        }
    }
    /* Groups hold whole hosts, each with the full list of its groups. */
    json_object_foreach((json_t *)groups, k, v) {
        json_t *list = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) {
            json_t *h = json_is_string(m) ? json_object_get(hosts_out, json_string_value(m)) : NULL;
            if (h)
                json_array_append_new(list, json_deep_copy(h));
        }
        json_object_set_new(groups_out, k, list);
    }
    return inv;
}

int rb_inventory_load(const char *path, rb_diags_t *d, json_t **out)
{
    *out = NULL;
    inv_t iv = {.d = d, .file = path};
    int rc = rb_doc_load_file_as(path, "an inventory (a mapping with hosts, and groups or "
                                       "defaults: docs/remote.md)", d, &iv.doc);
    if (rc < 0)
        return rc;
    char *real = realpath(path, NULL);
    char *slash = real ? strrchr(real, '/') : NULL;
    if (slash)
        *slash = 0;
    iv.dir = real;
    if (!iv.dir) {
        rb_doc_free(iv.doc);
        return RB_ENOMEM;
    }
    json_t *inv = build(&iv, rb_doc_root(iv.doc));
    rb_doc_free(iv.doc);
    free(real);
    if (iv.errors) {
        json_decref(inv);
        return RB_EINVAL;
    }
    *out = inv;
    return 0;
}
