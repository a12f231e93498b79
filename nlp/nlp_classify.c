/*
 * nlp_classify.c: the statistical intent classifier behind the rules. Scores a tokenized
 * message with the generated model (nlp_model_internal.h): each feature's weights by intent
 * are found in an open-addressing table and summed with the bias, and the
 * softmax of the scores divided by the fitted temperature gives calibrated probabilities.
 * Pure: reads only the constant table, allocates nothing.
 */
#include "nlp_features_internal.h"
#include "nlp_model_internal.h"

#include <math.h>

/* Index of hash h in the model, or nlp_model_nfeat when it is not there. */
static size_t classify_find(uint32_t h)
{
	for (uint32_t p = h & nlp_model_mask;; p = (p + 1) & nlp_model_mask) {
		uint32_t s = nlp_model_slot[p];
		if (s == 0)
			return nlp_model_nfeat;
		if (nlp_model_hash[s - 1] == h)
			return s - 1;
	}
}

size_t nlp_classify(const struct nlp_token *toks, size_t n, double prob[NLP_INTENT_COUNT])
{
	uint32_t feat[NLP_FEAT_MAX];
	double z[NLP_INTENT_COUNT], zmax, sum = 0.0, x;
	size_t nf = nlp_features(toks, n, feat, NLP_FEAT_MAX), known = 0;

	x = nf ? 1.0 / sqrt((double)nf) : 0.0;
	for (int c = 0; c < NLP_INTENT_COUNT; c++)
		z[c] = nlp_model_bias[c];
	for (size_t i = 0; i < nf; i++) {
		size_t f = classify_find(feat[i]);
		if (f == nlp_model_nfeat)
			continue;
		known++;
		for (int c = 0; c < NLP_INTENT_COUNT; c++)
			z[c] += x * nlp_model_weight[f * NLP_INTENT_COUNT + (size_t)c];
	}
	zmax = z[0];
	for (int c = 1; c < NLP_INTENT_COUNT; c++)
		if (z[c] > zmax)
			zmax = z[c];
	for (int c = 0; c < NLP_INTENT_COUNT; c++) {
		prob[c] = exp((z[c] - zmax) / nlp_model_temperature);
		sum += prob[c];
	}
	for (int c = 0; c < NLP_INTENT_COUNT; c++)
		prob[c] /= sum;
	return known;
}
