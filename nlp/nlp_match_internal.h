/*
 * nlp_match_internal.h: string distance shared by the parser's typo tolerance and the
 * product scorer. Bounded optimal-string-alignment (Damerau) distance on bytes.
 */
#ifndef CCGW_NLP_MATCH_INTERNAL_H
#define CCGW_NLP_MATCH_INTERNAL_H

#include <stddef.h>

/* Longest strings nlp_match_distance() compares; longer ones are "far". */
#define NLP_DIST_MAX_LEN 48

/* Edit distance (insert, delete, substitute, swap neighbours) between a and b, or
 * maxd + 1 when it is larger than maxd. */
int nlp_match_distance(const char *a, size_t alen, const char *b, size_t blen, int maxd);

#endif
