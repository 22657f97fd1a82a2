/*
 * cli.c — what the subcommands share: the default journal path and the
 * terminal's color policy. Owns no state.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *rb_cli_default_db(void)
{
    const char *e = getenv("RUNBOOK_DB");
    return e && *e ? e : "runbook.db";
}

int rb_cli_color(int fd)
{
    const char *nc = getenv("NO_COLOR");
    if (nc && *nc)
        return 0;
    const char *term = getenv("TERM");
    if (term && !strcmp(term, "dumb"))
        return 0;
    return isatty(fd);
}
