/*
 * inventory.h — the inventory: the hosts remote steps run on, and their
 * groups (docs/remote.md, "Inventory"), read from a YAML file and given to
 * runs as the expression root `inventory`.
 */
#ifndef RB_INVENTORY_H
#define RB_INVENTORY_H

#include <jansson.h>

#include "diag.h"

/*
 * Reads and checks the inventory file path. On success *out is a new
 * object
 *   {"file": PATH,
 *    "hosts":  {NAME: HOST, …},
 *    "groups": {GROUP: [HOST, …], …}}
 * where HOST is {"name", "address", "user"?, "port"?, "host_key"?,
 * "identity"? (absolute: a relative one is resolved against the
 * inventory's folder), "vars": {…}, "groups": [GROUP, …]} — so that
 * `foreach: "{{ inventory.groups.G }}"` gives the ssh action whole hosts.
 * On failure returns RB_EINVAL (or RB_EIO / RB_ENOMEM) with diagnostics in
 * d (file:line:col) and *out NULL. Any thread.
 */
int rb_inventory_load(const char *path, rb_diags_t *d, json_t **out);

/* An empty inventory ({"hosts": {}, "groups": {}}): a new reference. */
json_t *rb_inventory_empty(void);

#endif
