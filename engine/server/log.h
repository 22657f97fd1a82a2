/*
 * log.h — the server's log: one line per event on stderr, logfmt
 * (`ts=… level=info event=request status=200 …`) or JSON lines, fit for
 * journald. Every line has ts (UTC, ms), level and event; the rest is the
 * caller's key/value pairs, in the order given.
 *
 * Owns: the format switch. Must never: write a line in more than one
 * write(2) (lines from one process never interleave), log a token's
 * secret. Loop thread (a value may be logged from any thread, but the
 * format is set once before).
 */
#ifndef RB_SRV_LOG_H
#define RB_SRV_LOG_H

/* 1: JSON lines; 0: logfmt (the default). */
void rb_slog_format(int json);

/* Logs one line: level ("info", "warn", "error"), event, then key, value
 * pairs (both strings; a NULL value is left out) ending with a NULL key. */
void rb_slog(const char *level, const char *event, ...) __attribute__((sentinel));

#endif
