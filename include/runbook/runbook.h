/*
 * runbook.h — the public face of the engine: error codes and the few helpers
 * that action modules and embedders share with it.
 *
 * Owns: the RB_E* error numbers and their text. Every function in the project
 * returns 0 for success or a negative RB_E* (a failed syscall passes -errno).
 */
#ifndef RUNBOOK_RUNBOOK_H
#define RUNBOOK_RUNBOOK_H

#include <stddef.h>
#include <stdint.h>

#define RB_VERSION "0.1.0"

/* Engine error codes. They sit below -4096 so they never collide with -errno. */
#define RB_EINVAL    (-5001) /* invalid input (a diagnostic says where) */
#define RB_ENOMEM    (-5002) /* out of memory */
#define RB_EIO       (-5003) /* I/O error reading a file */
#define RB_ENOTFOUND (-5004) /* no such runbook, run or step */
#define RB_EJOURNAL  (-5005) /* the journal refused a write or could not be opened */
#define RB_EABI      (-5006) /* an action module has a different ABI */
#define RB_ECANCELED (-5007) /* cancelled by the operator or a timeout */
#define RB_ETOOBIG   (-5008) /* input larger than its limit */
#define RB_EEXPR     (-5009) /* an expression failed to evaluate */
#define RB_EBUSY     (-5010) /* another run holds the concurrency key, or it cools down;
                                * another engine holds the run's lease */
#define RB_EFENCED   (-5011) /* another engine took the run over: this engine's write or
                                * renewal was refused, and it must stop the run */

/* Text for an RB_E* code or a -errno. Never NULL; static storage. Any thread. */
const char *rb_strerror(int err);

/*
 * Parses a duration such as "250ms", "30s", "5m", "1h30m", "2d" into
 * milliseconds. A bare integer means seconds. Returns 0, RB_EINVAL for
 * text that is no duration, or RB_ETOOBIG for one longer than 366 days.
 * Any thread.
 */
int rb_duration_parse(const char *s, uint64_t *out_ms);

/* Formats milliseconds as the shortest duration text ("1m30s", "250ms").
 * Writes at most len bytes including the NUL; returns buf. Any thread. */
char *rb_duration_format(uint64_t ms, char *buf, size_t len);

/* Formats milliseconds for people, as precise as is useful at that size:
 * "850 ms", "12.4 s", "3 min 05 s", "2 h 05 min", "3 d 04 h" (not meant to
 * be parsed back: rb_duration_format is). Writes at most len bytes with
 * the NUL; returns buf. Any thread. */
char *rb_duration_human(uint64_t ms, char *buf, size_t len);

#endif
