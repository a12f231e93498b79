/*
 * commerce_util.h: small text helpers of commerce/: making outside text safe to store
 * (valid UTF-8, bounded length, no control characters), formatting money in minor units,
 * filling "%s" templates from the reply tables, and trimming.
 */
#ifndef CCGW_COMMERCE_UTIL_H
#define CCGW_COMMERCE_UTIL_H

#include <stddef.h>

/* A heap copy of s (len bytes) as valid UTF-8: invalid sequences become U+FFFD, NUL and
 * control characters other than newline and tab become spaces, cut at a character boundary
 * so the result has at most max bytes. NULL only when out of memory (s NULL gives ""). */
char *cm_utf8_clean(const char *s, size_t len, size_t max) __attribute__((warn_unused_result));

/* 1 when s (len bytes) is valid UTF-8. */
int cm_utf8_valid(const char *s, size_t len);

/* Formats minor units as "KES 1,250" or "KES 1,250.50" into out. */
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
