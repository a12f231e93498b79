/*
 * nlp_features.c: hashed features of a tokenized message for the intent classifier:
 * "w" + word, "b" + word pair (message start and end included), "c" + character 3- and
 * 4-grams of each word padded with '<' and '>'. Numbers are one feature ("#"), so "add 2"
 * and "add 7" look alike. FNV-1a hashes; no allocation.
 */
#include "nlp_features_internal.h"

#include <string.h>

#define FEAT_HASH_INIT 2166136261u

static uint32_t feat_hash(uint32_t h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* The text a token stands for in features: numbers are all "#". */
static void feat_word(const struct nlp_token *t, const char **s, size_t *len)
{
	if (t->type == NLP_TOK_NUM) {
		*s = "#";
		*len = 1;
	} else {
		*s = t->s;
		*len = t->len;
	}
}

size_t nlp_features(const struct nlp_token *toks, size_t n, uint32_t *out, size_t max)
{
	size_t k = 0;
	const char *prev = "^";
	size_t prevlen = 1;

	if (n > NLP_FEAT_TOKENS_MAX)
		n = NLP_FEAT_TOKENS_MAX;
	for (size_t i = 0; i < n && k < max; i++) {
		const char *w;
		size_t wl;
		uint32_t h;

		feat_word(&toks[i], &w, &wl);
		out[k++] = feat_hash(feat_hash(FEAT_HASH_INIT, "w\x1f", 2), w, wl);
		if (k < max) {
			h = feat_hash(FEAT_HASH_INIT, "b\x1f", 2);
			h = feat_hash(h, prev, prevlen);
			h = feat_hash(h, "\x1f", 1);
			out[k++] = feat_hash(h, w, wl);
		}
		if (toks[i].type == NLP_TOK_WORD && wl >= 2 && wl <= 40) {
			char pad[48];
			size_t pl = wl + 2;
			pad[0] = '<';
			memcpy(pad + 1, w, wl);
			pad[wl + 1] = '>';
			for (size_t g = 3; g <= 4; g++)
				for (size_t j = 0; j + g <= pl && k < max; j++)
					out[k++] = feat_hash(feat_hash(FEAT_HASH_INIT, "c\x1f", 2),
					                     pad + j, g);
		}
		prev = w;
		prevlen = wl;
	}
	if (n > 0 && k < max) {
		uint32_t h = feat_hash(FEAT_HASH_INIT, "b\x1f", 2);
		h = feat_hash(h, prev, prevlen);
		out[k++] = feat_hash(h, "\x1f$", 2);
	}
	return k;
}
