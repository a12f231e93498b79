/*
 * nlp.c: the life of a struct nlp (loading the lexicon folder chosen by the caller, the
 * CCGW_LEXICON_DIR environment variable or the built-in path) and the intent names of the
 * external contract. The reading itself is in nlp_parse.c.
 */
#include "nlp.h"
#include "nlp_lexicon_internal.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef CCGW_LEXICON_DIR
#define CCGW_LEXICON_DIR "nlp/lexicon"
#endif

static const char *const nlp_intent_names[NLP_INTENT_COUNT] = {
	[NLP_INTENT_UNKNOWN] = "unknown",
	[NLP_INTENT_GREET] = "greet",
	[NLP_INTENT_HELP] = "help",
	[NLP_INTENT_BROWSE] = "browse",
	[NLP_INTENT_SEARCH] = "search",
	[NLP_INTENT_ADD_TO_CART] = "add_to_cart",
	[NLP_INTENT_REMOVE_FROM_CART] = "remove_from_cart",
	[NLP_INTENT_VIEW_CART] = "view_cart",
	[NLP_INTENT_CLEAR_CART] = "clear_cart",
	[NLP_INTENT_CHECKOUT] = "checkout",
	[NLP_INTENT_CONFIRM] = "confirm",
	[NLP_INTENT_DENY] = "deny",
	[NLP_INTENT_ORDER_STATUS] = "order_status",
	[NLP_INTENT_CANCEL_ORDER] = "cancel_order",
	[NLP_INTENT_HUMAN] = "human",
	[NLP_INTENT_COMPLAINT] = "complaint",
	[NLP_INTENT_THANKS] = "thanks",
	[NLP_INTENT_QUESTION] = "question",
	[NLP_INTENT_PAID] = "paid",
};

const char *nlp_intent_name(enum nlp_intent intent)
{
	if ((int)intent < 0 || intent >= NLP_INTENT_COUNT)
		return "unknown";
	return nlp_intent_names[intent];
}

struct nlp *nlp_new(const char *dir, char *err, size_t errlen)
{
	struct nlp *nlp = NULL;

	if (!dir)
		dir = getenv("CCGW_LEXICON_DIR");
	if (!dir || !*dir)
		dir = CCGW_LEXICON_DIR;
	nlp = calloc(1, sizeof(*nlp));
	if (!nlp) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (nlp_lexicon_load(&nlp->lex, dir, err, errlen))
		goto fail;
	return nlp;
fail:
	free(nlp);
	return NULL;
}

void nlp_free(struct nlp *nlp)
{
	if (!nlp)
		return;
	nlp_lexicon_clear(&nlp->lex);
	free(nlp);
}
