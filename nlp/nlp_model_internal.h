/*
 * nlp_model_internal.h: the intent classifier's model, a C table generated at build time by
 * nlp/train/nlp_train.c from tests/data/nlp/corpus.tsv (nlp_model_data.c in the build
 * folder). A multinomial logistic regression: for each known feature hash (sorted, and found
 * through an open-addressing table), its weight for every intent; a bias per intent; and the
 * softmax temperature fitted on a held-back fifth of the corpus. Read-only.
 */
#ifndef CCGW_NLP_MODEL_INTERNAL_H
#define CCGW_NLP_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nlp.h"
#include "nlp_text_internal.h"

extern const size_t nlp_model_nfeat;
extern const uint32_t nlp_model_hash[]; /* nlp_model_nfeat hashes, ascending */
extern const float nlp_model_weight[];  /* NLP_INTENT_COUNT weights a feature, in its order */
extern const float nlp_model_bias[NLP_INTENT_COUNT];
extern const float nlp_model_temperature;
extern const uint32_t nlp_model_mask;   /* slots - 1, a power of two - 1 */
extern const uint32_t nlp_model_slot[]; /* feature index + 1 at hash & mask (or after); 0 */

/* Calibrated probabilities of every intent for the tokens (sum 1). Returns how many of the
 * message's features the model knows (0: the probabilities are the bias alone). Pure. */
size_t nlp_classify(const struct nlp_token *toks, size_t n, double prob[NLP_INTENT_COUNT]);

#endif
