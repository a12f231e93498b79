/*
 * commerce_util.h: small text helpers of commerce/: making outside text safe to store
 * (valid UTF-8, bounded length, no control characters), filling "%s" templates from the
 * reply tables, and trimming. UTF-8 checks and money formatting live in common/utf8.h and
 * common/money.h; the two cm_ names below only forward to them.
 */
#ifndef CCGW_COMMERCE_UTIL_H
#define CCGW_COMMERCE_UTIL_H

#include <stddef.h>

/* A heap copy of s (len bytes) as valid UTF-8: invalid sequences become U+FFFD, NUL and
 * control characters other than newline and tab become spaces, cut at a character boundary
 * so the result has at most max bytes. NULL only when out of memory (s NULL gives ""). */
char *cm_utf8_clean(const char *s, size_t len, size_t max) __attribute__((warn_unused_result));

/* utf8_valid() and money_format() under their older names (tests/engine uses them); new
 * code calls common/ directly. */
int cm_utf8_valid(const char *s, size_t len);
void cm_money_format(long long minor, const char *currency, char *out, size_t outlen);

/* Replaces each "%s" of tmpl in order with args[i] (NULL or missing: ""), "%%" with "%".
 * Never interprets anything else: templates come from our own tables, arguments from anyone.
 * Returns a heap string or NULL when out of memory. */
char *cm_template(const char *tmpl, const char *const *args, size_t nargs)
    __attribute__((warn_unused_result));

/* Trims ASCII white space at both ends in place; returns s. */
char *cm_trim(char *s);

/* 1 when s is 1..digits long and only ASCII digits; the value goes to *out. */
int cm_parse_uint(const char *s, size_t maxdigits, long *out);

#endif
