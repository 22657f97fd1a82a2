/*
 * utf8.h — bytes from outside (a command's output, an HTTP body or header,
 * an error message holding a name from an alert) to a JSON string that is
 * always well-formed UTF-8, so any output journals and prints (actions/utf8.c).
 *
 * Internal to the built-in actions (rb__ prefix). Any thread: it touches
 * nothing but its arguments.
 */
#ifndef RB_ACTIONS_UTF8_H
#define RB_ACTIONS_UTF8_H

#include <jansson.h>
#include <stddef.h>

/* A JSON string of the len bytes at buf (which may hold NUL bytes): each
 * ill-formed UTF-8 sequence (its maximal ill-formed subpart, as Unicode
 * recommends) becomes one U+FFFD, so binary or Latin-1 text survives.
 * When truncated (the bytes were cut by a cap), a character cut in half by
 * the end of the buffer is dropped rather than replaced. Returns a new
 * reference, or NULL only when memory ran out. */
json_t *rb__utf8_json(const char *buf, size_t len, int truncated);

#endif
