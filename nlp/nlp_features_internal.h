/*
 * nlp_features_internal.h: the features of the statistical intent classifier. A message's
 * tokens become hashed features: each word, each pair of neighbouring words (with the start
 * and end of the message) and the character 3- and 4-grams of each word. The build-time
 * trainer (nlp/train/nlp_train.c) and nlp_classify.c call the same function, so the model
 * and the reader always see the same features. Pure: no allocation, no state.
 */
#ifndef CCGW_NLP_FEATURES_INTERNAL_H
#define CCGW_NLP_FEATURES_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nlp_text_internal.h"

#define NLP_FEAT_MAX        768 /* features of one message; more are ignored */
#define NLP_FEAT_TOKENS_MAX 48  /* tokens of one message that give features */

/* Writes the feature hashes of tokens toks[0..n-1] into out (at most max; a feature may
 * appear more than once) and returns how many were written. */
size_t nlp_features(const struct nlp_token *toks, size_t n, uint32_t *out, size_t max);

#endif
