/*
 * ssh_int.h — what the files of the `ssh` action share and nothing else
 * sees:
 *
 *   ssh.c       the descriptor, start (an exec of the OpenSSH client through
 *               actions/exec.c), cancel, and the result: the remote
 *               command's outcome told apart from ssh's own failures.
 *   ssh_spec.c  `with` to the client's argv: the checks validate() and
 *               start() share, the host (a name or an inventory host), the
 *               options that make it safe (BatchMode, strict host keys, a
 *               pinned key), the control socket in the private runtime
 *               directory, and the remote command line (ssh_remote.c).
 *   ssh_remote.c  the line the remote shell runs: the command's words quoted
 *               for it, its environment, and the small POSIX sh wrapper that
 *               ends the command when the connection goes and reports how
 *               it ended.
 *
 * Must never: be included outside actions/ssh*.c.
 */
#ifndef RB_SSH_INT_H
#define RB_SSH_INT_H

#include "exec_int.h"

#include <stddef.h>
#include <stdint.h>

#define SSH_NONCE_LEN 16 /* hex characters of the per-run marker */

/* The checks validate() runs at load time and start() runs again on the
 * rendered values (rendered says which). 0, or RB_EINVAL with msg and *key. */
int rb__ssh_check(const json_t *with, int rendered, char *msg, size_t msglen, const char **key);

/* Fills *sp with the OpenSSH client's argv and environment for the rendered
 * with, stdin held open (the remote side's cue to stop), the time limit and
 * grace; host gets the host's name for the result (allocated), nonce the
 * marker the remote wrapper writes (SSH_NONCE_LEN + 1 bytes). 0, or a
 * negative error logged to ctx (*sp is then empty). Loop thread: creates
 * the runtime directory and a pinned key's known_hosts file if missing. */
int rb__ssh_build(rb_action_ctx_t *ctx, const json_t *with, exec_spec_t *sp, char **host,
                  char *nonce);

/* The command line for the remote login shell: the wrapper (see
 * ssh_remote.c) with the nonce, grace (seconds) and the command's argv,
 * every word single-quoted. NULL when out of memory. */
char *rb__ssh_remote_line(const char *nonce, uint64_t grace_s, char *const *argv);

/* What the session's stdin starts with: `export NAME='value'` for each
 * name (NULL-terminated, shell names) and value, then the marker line the
 * wrapper reads up to. NULL when out of memory. */
char *rb__ssh_env_text(const char *nonce, char *const *names, char *const *values);

/* The most bytes env may take on stdin: it is written into the pipe before
 * the client starts, and a pipe holds 64 KiB. */
#define SSH_ENV_MAX (48 * 1024)

#endif
