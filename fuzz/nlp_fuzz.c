/*
 * nlp_fuzz.c: libFuzzer target for the NLP reader. Feeds arbitrary bytes to nlp_parse()
 * under every expectation, to nlp_normalize() with small output buffers and to the product
 * matcher with and without the lexicon's synonyms, checking that each reading is well
 * formed. Built by fuzz/run-nlp.sh with clang.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nlp *fuzz_nlp;

static void fuzz_check(const struct nlp_reading *r)
{
	if (r->intent < NLP_INTENT_UNKNOWN || r->intent >= NLP_INTENT_COUNT ||
	    !(r->confidence >= 0.0 && r->confidence <= 1.0) ||
	    !memchr(r->product, '\0', sizeof(r->product)) ||
	    !memchr(r->phone, '\0', sizeof(r->phone)) ||
	    !memchr(r->payment, '\0', sizeof(r->payment)) || r->lang[2] != '\0' ||
	    (r->quantity_state == NLP_QTY_OK && (r->quantity < 1 || r->quantity > NLP_QTY_MAX)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlp_reading r;
	char out[64];
	const char *names[3];
	struct nlp_match m[2];
	char *copy;

	if (!fuzz_nlp) {
		char err[256];
		fuzz_nlp = nlp_new(NULL, err, sizeof(err));
		if (!fuzz_nlp) {
			fprintf(stderr, "nlp_new: %s\n", err);
			abort();
		}
	}
	for (int ex = NLP_EXPECT_NONE; ex <= NLP_EXPECT_CHOICE; ex++) {
		nlp_parse(fuzz_nlp, (const char *)data, size, ex % 2 ? "sw" : NULL,
			  (enum nlp_expect)ex, &r);
		fuzz_check(&r);
	}
	if (nlp_normalize((const char *)data, size, out, 1 + size % sizeof(out)) >= sizeof(out))
		abort();

	/* the matcher takes NUL-terminated names */
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	names[0] = copy;
	names[1] = "Red Ceramic Mug";
	names[2] = copy + size / 2;
	if (nlp_match_products(copy, names, 3, 0.0, m, 2) > 2)
		abort();
	if (nlp_match_products("red mug", names, 3, 0.3, m, 2) > 2)
		abort();
	if (nlp_match_products_nlp(fuzz_nlp, copy, names, 3, 0.0, m, 2) > 2)
		abort();
	names[1] = "Organic Honey 500g";
	if (nlp_match_products_nlp(fuzz_nlp, "majani ya chai vikombe asali", names, 3, 0.0, m, 2) >
	    2)
		abort();
	free(copy);
	return 0;
}
