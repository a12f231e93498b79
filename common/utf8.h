/*
 * utf8.h: UTF-8 helpers every folder may use: checking untrusted bytes (sequence length,
 * validity), cutting at most N bytes at a sequence boundary, and, for text already known to
 * be valid (jansson strings, cleaned text), decoding, counting and finding code points and
 * cutting between character clusters. No allocation, no global state.
 */
#ifndef CCGW_UTF8_H
#define CCGW_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* ---- untrusted bytes: a length, embedded NUL bytes allowed ---- */

/* Length (1 to 4) of the valid UTF-8 sequence at s (n >= 1 bytes left), or 0 when it is not
 * one: a bad lead or continuation byte, cut short, overlong, a surrogate or past U+10FFFF. */
size_t utf8_seq_len(const char *s, size_t n);

/* 1 when s (len bytes) is valid UTF-8, else 0. */
int utf8_valid(const char *s, size_t len);

/* The length to keep of s (len bytes) so it has at most max bytes and does not end inside a
 * sequence: len when it fits, else max moved back over at most three continuation bytes (so
 * invalid input is still cut near max). */
size_t utf8_cut(const char *s, size_t len, size_t max);

/* ---- text known to be valid UTF-8, NUL-terminated ---- */

/* The code point at s; *len gets its byte length (1 to 4). A bad lead byte or a missing
 * continuation byte gives U+FFFD and length 1; overlong forms and surrogates are not
 * checked. Never reads past the NUL. */
uint32_t utf8_decode(const char *s, size_t *len);

/* The number of code points in s, stepping as utf8_decode does. */
size_t utf8_count(const char *s);

/* The byte offset after the first n code points of s (or of its end). */
size_t utf8_offset(const char *s, size_t n);

/* Moves a cut at byte offset off of s back so it does not split a character cluster: never
 * just before a combining mark, joiner, variation selector, emoji skin tone or tag, never
 * right after a zero-width joiner. May return 0. */
size_t utf8_cut_back(const char *s, size_t off);

/* Moves a cut at byte offset off of s forward to the start of the next character cluster
 * (the same rule as utf8_cut_back), or to the end of s. */
size_t utf8_cut_forward(const char *s, size_t off);

#endif
