/*
 * text.h — the few text transforms that both a message writer (the notify
 * action) and the masking of secrets (engine/run/secret.c) must agree on
 * byte for byte: a value made one line (every line break and control
 * character, ASCII or Unicode, becomes one space), cut with a marker, and
 * the & < > (" ') escaping of Slack mrkdwn and HTML. Masking looks for a
 * secret in each of these forms, so a transform added to a message writer
 * must be added here, not written again there.
 *
 * Touches only its arguments (any thread). Internal to the engine and the
 * built-in actions.
 */
#ifndef RB_BASE_TEXT_H
#define RB_BASE_TEXT_H

#include <stddef.h>

/* What a value cut short ends with (R-notify-cut): "[…]". */
#define RB_TEXT_CUT "[\xE2\x80\xA6]"

/* The length in bytes of the line break or control character at s (n bytes
 * left), 0 when s starts with none: ASCII controls and DEL, C1 controls
 * (U+0080–U+009F, among them U+0085 NEXT LINE), U+2028 LINE SEPARATOR,
 * U+2029 PARAGRAPH SEPARATOR and the bidirectional controls (U+200E,
 * U+200F, U+202A–U+202E, U+2066–U+2069, U+061C) that can make text read
 * otherwise. */
size_t rb_text_break_len(const char *s, size_t n);

/* s[0..len) with every such character replaced by one space, cut to at most
 * max bytes on a character boundary; when cut, it ends with RB_TEXT_CUT
 * (within max; max must be larger than it). malloc'd, NUL-ended, *outlen
 * (may be NULL) its length; NULL when out of memory. */
char *rb_text_one_line(const char *s, size_t len, size_t max, size_t *outlen);

/* The entity for c in Slack mrkdwn (html 0: & < >) or HTML (html 1: also
 * " and '); NULL when c stays as it is. */
const char *rb_text_entity(char c, int html);

/* s[0..len) escaped with rb_text_entity. malloc'd, NULL when out of
 * memory. */
char *rb_text_escape(const char *s, size_t len, int html, size_t *outlen);

#endif
