/*
 * server.h — `runbook serve` (DESIGN §7): the HTTP server on the engine's
 * uv loop that starts runbooks from alert webhooks, journals every alert,
 * survives restarts and stops cleanly on SIGTERM. docs/server.md and
 * docs/webhooks.md say what it does from the outside.
 *
 * The parts, one file each (server_int.h lists them): config, auth, log,
 * http (libh2o glue and the route table's type), routes (the table),
 * books (the runbooks in force, hot reload), runs (the runs in flight),
 * hook_alertmanager, recover (what a restart picks up), server (this: the
 * life of the process).
 */
#ifndef RB_SERVER_H
#define RB_SERVER_H

#include "config.h"

/* The exit code of a server that did not start because another `runbook
 * serve` holds its journal (the "busy" code of docs/semantics.md). */
#define RB_SRV_EXIT_BUSY 4

/* Serves until SIGTERM or SIGINT (then stops accepting, lets running steps
 * finish within the grace, marks the rest interrupted) and returns the
 * process exit code: 0 after a clean stop, 1 when the journal failed, 2
 * when it could not start (why is logged), RB_SRV_EXIT_BUSY when another
 * server holds the journal. cfg is borrowed. no_config: the
 * server was started without a config file or --tokens: it makes (or
 * reuses) ./runbook.tokens with an operator token and says so. */
int rb_server_main(rb_srv_config_t *cfg, int no_config);

#endif
