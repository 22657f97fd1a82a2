/*
 * cli_serve.c — `runbook serve`: reads the config file and the flags that
 * override it, loads the action modules, and hands over to the server
 * (engine/server/server.h). Also `runbook validate --config FILE`'s check
 * of a server config. Owns nothing past the call.
 */
#include "cli.h"
#include "cli_out.h"

#include "load/diag.h"
#include "server/config.h"
#include "server/server.h"
#include "server/server_check.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: runbook serve [--config FILE] [OPTIONS]\n\n"
            "Serves the runbooks of a folder over HTTP on the engine's loop: Prometheus\n"
            "Alertmanager posts its alerts to /hooks/alertmanager, each new alert is\n"
            "journaled and starts the runbooks whose triggers match it (docs/server.md,\n"
            "docs/webhooks.md). With neither --config nor --tokens it serves ./runbooks on\n"
            "127.0.0.1:9095 with the journal ./runbook.db and an operator token it keeps in\n"
            "./runbook.tokens. Flags override the config file.\n\n"
            "  -c, --config FILE      the server's config (YAML; `runbook validate --config FILE`\n"
            "                         checks it)\n"
            "      --listen ADDR:PORT where to listen (default 127.0.0.1:9095; port 0: any free)\n"
            "      --db FILE          journal: a file or a postgresql:// URL (default ./runbook.db)\n"
            "      --dir DIR          the runbooks folder (default ./runbooks)\n"
            "      --tokens FILE      bearer tokens, one `NAME ROLE SECRET` a line (ROLE: hook,\n"
            "                         operator or viewer); readable by its owner only\n"
            "      --log-format logfmt|json  one line per event on stderr (default logfmt)\n"
            "      --plugins DIR      load the action modules (*.so) in DIR ($RUNBOOK_PLUGINS)\n"
            "  -h, --help             this text\n\n"
            "Signals: SIGTERM or SIGINT stops (no new request; steps in flight finish within\n"
            "shutdown_grace; runs still open are marked interrupted and resumed at the next\n"
            "start); SIGHUP reloads the runbooks.\n\n"
            "exit codes: 0 stopped cleanly, 1 the journal failed while serving, 2 could not\n"
            "            start (a bad config, tokens file, folder, journal or address), 4\n"
            "            another `runbook serve` serves from the same journal.\n");
}

int rb_cli_config_check(const char *path)
{
    rb_srv_config_t *c = rb_srv_config_new();
    rb_diags_t *d = rb_diags_new();
    int rc = c && d ? rb_srv_config_load(c, path, d) : -1;
    /* and what serve would refuse at start: the files the config names */
    if (rc == 0)
        rc = rb_srv_config_check(c, d, NULL);
    rb_diags_print(d, stderr, rb_cli_color(2));
    if (rc < 0 && !rb_diags_errors(d))
        fprintf(stderr, "%s: error: cannot read the config file\n", path);
    rb_diags_free(d);
    rb_srv_config_free(c);
    return rc < 0 ? RB_EXIT_USAGE : RB_EXIT_OK;
}

int rb_cli_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'L'},
        {"db", required_argument, NULL, 'D'},     {"dir", required_argument, NULL, 'd'},
        {"tokens", required_argument, NULL, 'T'}, {"log-format", required_argument, NULL, 'F'},
        {"plugins", required_argument, NULL, 'P'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *listen = NULL, *db = NULL, *dir = NULL, *tokens = NULL;
    const char *logf = NULL, *plugins = NULL;
    int opt;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'L': listen = optarg; break;
        case 'D': db = optarg; break;
        case 'd': dir = optarg; break;
        case 'T': tokens = optarg; break;
        case 'F': logf = optarg; break;
        case 'P': plugins = optarg; break;
        case 'h': help(stdout); return RB_EXIT_OK;
        default: rb__cli_bad_option("serve", opt, argv); return RB_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "runbook serve: takes no arguments (\"%s\"); the runbooks folder is "
                        "--dir DIR\nTry 'runbook serve --help'.\n", argv[optind]);
        return RB_EXIT_USAGE;
    }
    if (logf && strcmp(logf, "logfmt") && strcmp(logf, "json")) {
        fprintf(stderr, "runbook serve: --log-format must be logfmt or json, not \"%s\"\n", logf);
        return RB_EXIT_USAGE;
    }
    rb_srv_config_t *c = rb_srv_config_new();
    if (!c)
        return RB_EXIT_FAILED;
    int rc = RB_EXIT_USAGE;
    if (config) {
        rb_diags_t *d = rb_diags_new();
        int lrc = rb_srv_config_load(c, config, d);
        rb_diags_print(d, stderr, rb_cli_color(2));
        rb_diags_free(d);
        if (lrc < 0) {
            fprintf(stderr, "runbook serve: the config %s is not valid (see above); not "
                            "started\n", config);
            goto out;
        }
    }
    char why[200];
    if (listen && rb_srv_config_listen(c, listen, why, sizeof why) < 0) {
        fprintf(stderr, "runbook serve: --listen %s\n", why);
        goto out;
    }
    if ((db && rb_srv_config_set(&c->db, db) < 0) || (dir && rb_srv_config_set(&c->dir, dir) < 0) ||
        (tokens && rb_srv_config_set(&c->tokens, tokens) < 0) ||
        (plugins && rb_srv_config_set(&c->plugins, plugins) < 0))
        goto out;
    if (logf)
        c->log_json = !strcmp(logf, "json");
    const char *env_plugins = getenv("RUNBOOK_PLUGINS");
    if (!c->plugins && env_plugins && *env_plugins &&
        rb_srv_config_set(&c->plugins, env_plugins) < 0)
        goto out;
    const char *env_key = getenv("RUNBOOK_SIGNING_KEY");
    if (!c->signing_key && env_key && *env_key && rb_srv_config_set(&c->signing_key, env_key) < 0)
        goto out;
    rc = rb_server_main(c, !config && !c->tokens);
out:
    rb_srv_config_free(c);
    return rc;
}
