/*
 * shop_faq.c: built-in question topics by their words, and the seller's questions by the
 * spelling of their example phrasings (see shop_faq.h). English and Swahili, and the mix.
 */
#include "shop_faq.h"

#include <stdio.h>
#include <string.h>

#include "nlp.h"
#include "shop_zones.h"

#define FAQ_TEXT_MAX 768

/* 1 when any of words (NULL-terminated, each one or more whole words) is in hay
 * (" words of the text "). */
static int has_any(const char *hay, const char *const *words)
{
	char needle[96];
	size_t i;

	for (i = 0; words[i]; i++) {
		snprintf(needle, sizeof(needle), " %s ", words[i]);
		if (strstr(hay, needle))
			return 1;
	}
	return 0;
}

/* 1 when any word of hay starts with one of prefixes. */
static int has_prefix(const char *hay, const char *const *prefixes)
{
	char needle[64];
	size_t i;

	for (i = 0; prefixes[i]; i++) {
		snprintf(needle, sizeof(needle), " %s", prefixes[i]);
		if (strstr(hay, needle))
			return 1;
	}
	return 0;
}

static const char *const q_words[] = {
    "do you",  "can you", "can i",   "how", "what", "when",     "where",    "which", "is it",
    "are you", "does",    "do",      "je",  "ni",   "gani",     "vipi",     "lini",  "wapi",
    "ngapi",   "naweza",  "mnaweza", "mna", "kuna", "how much", "how long", NULL,
};
static const char *const deliver_pre[] = {
    "deliver",      "delivery",    "deliveries",   "shipping",   "ship",
    "usafirishaji", "kusafirisha", "mnasafirisha", "mnaleta",    "mtaleta",
    "kuleta",       "mnapeleka",   "kupeleka",     "mnafikisha", "kufikisha",
    "rider",        "send to",     "courier",      NULL,
};
static const char *const fee_words[] = {
    "fee",   "fees",    "cost", "costs",      "charge",   "charges",        "how much",
    "price", "gharama", "bei",  "pesa ngapi", "ni ngapi", "shilingi ngapi", "ngapi",
    "rate",  "rates",   NULL,
};
static const char *const time_words[] = {
    "how long", "when",  "days",   "day",       "time",      "hours",     "siku ngapi",
    "siku",     "muda",  "lini",   "itachukua", "inachukua", "take",      "takes",
    "fast",     "quick", "kufika", "itafika",   "arrive",    "saa ngapi", NULL,
};
static const char *const hours_words[] = {
    "open",         "opening",   "opens",         "close",          "closing",
    "closes",       "hours",     "working hours", "business hours", "mnafungua",
    "mnafunga",     "mko wazi",  "wazi",          "masaa",          "saa za kazi",
    "muda wa kazi", "saa ngapi", "mnafanya kazi", "open now",       "are you open",
    NULL,
};
static const char *const pay_words[] = {
    "pay",   "payment", "payments", "paying",  "lipa", "kulipa", "malipo", "kulipia",
    "lipia", "mpesa",   "m pesa",   "paybill", "till", "card",   "cash",   NULL,
};
static const char *const pay_q[] = {
    "how",       "can i", "do you accept", "accept", "methods", "method", "vipi", "naweza",
    "mnakubali", "gani",  "which",         "what",   "options", "njia",   NULL,
};
static const char *const return_words[] = {
    "return",  "returns",   "refund",    "refunds",   "exchange", "return policy",
    "rudisha", "kurudisha", "nirudishe", "kurejesha", "rejesha",  "pesa yangu irudishwe",
    NULL,
};
static const char *const place_after[] = {"to",   "in", "hadi", "mpaka", "kwa",
                                          "huko", "at", "into", NULL};
static const char *const place_stop[] = {
    "?",   "please", "tafadhali", "today", "leo", "tomorrow", "kesho", "and",  "na",
    "how", "what",   "for",       "the",   "pia", "also",     "area",  "town", NULL,
};

static void find_place(const char *hay, char *place, size_t len)
{
	size_t i, o = 0;
	const char *best = NULL, *p;
	char needle[16];

	place[0] = '\0';
	/* the last "to X" / "hadi X" of the text */
	for (i = 0; place_after[i]; i++) {
		snprintf(needle, sizeof(needle), " %s ", place_after[i]);
		for (p = strstr(hay, needle); p; p = strstr(p + 1, needle))
			if (!best || p > best)
				best = p + strlen(needle);
	}
	if (!best)
		return;
	while (*best && o + 1 < len) {
		const char *end = strchr(best, ' ');
		size_t wl = end ? (size_t)(end - best) : strlen(best);
		char word[48];
		int stop = 0;

		snprintf(word, sizeof(word), "%.*s",
		         (int)(wl < sizeof(word) ? wl : sizeof(word) - 1), best);
		for (i = 0; place_stop[i]; i++)
			if (strcmp(word, place_stop[i]) == 0)
				stop = 1;
		if (stop || !wl)
			break;
		o += (size_t)snprintf(place + o, len - o, "%s%s", o ? " " : "", word);
		if (o >= len)
			o = len - 1;
		if (!end)
			break;
		best = end + 1;
	}
	place[o] = '\0';
}

const char *faq_topic(const char *text, int strict, char *place, size_t placelen)
{
	char words[FAQ_TEXT_MAX], hay[FAQ_TEXT_MAX + 2];
	int question, deliver;

	if (place && placelen)
		place[0] = '\0';
	zone_words(text, words, sizeof(words));
	if (!words[0])
		return NULL;
	snprintf(hay, sizeof(hay), " %s ", words);
	question = strchr(text, '?') != NULL || has_any(hay, q_words);
	if (strict && !question)
		return NULL;
	deliver = has_prefix(hay, deliver_pre);
	if (deliver && has_any(hay, time_words))
		return FAQ_TOPIC_DELIVERY_TIME;
	if (deliver && has_any(hay, fee_words)) {
		if (place)
			find_place(hay, place, placelen);
		return FAQ_TOPIC_DELIVERY_FEE;
	}
	if (deliver && (question || has_any(hay, place_after))) {
		if (place)
			find_place(hay, place, placelen);
		return FAQ_TOPIC_DELIVERY;
	}
	if (has_any(hay, return_words) && (question || strlen(words) < 40))
		return FAQ_TOPIC_RETURNS;
	if (has_any(hay, hours_words) && question)
		return FAQ_TOPIC_HOURS;
	if (has_prefix(hay, pay_words) && has_any(hay, pay_q) && question)
		return FAQ_TOPIC_PAYMENT;
	return NULL;
}

/* words without the small words every question has ("do you", "is the", "je", "ni"): what
 * is left says what it is about */
static const char *const faq_stop[] = {
    "do",  "you",  "your",   "yours",   "is",     "are",       "the", "a",    "an",  "i",
    "we",  "can",  "does",   "it",      "of",     "to",        "for", "my",   "me",  "there",
    "any", "have", "please", "je",      "ni",     "ya",        "wa",  "za",   "la",  "kwa",
    "na",  "yenu", "mna",    "mnaweza", "naweza", "tafadhali", "hii", "hizi", "huu", NULL,
};

static void content_words(const char *text, char *out, size_t len)
{
	char words[FAQ_TEXT_MAX], *p, *save = NULL;
	size_t o = 0, i;

	zone_words(text, words, sizeof(words));
	out[0] = '\0';
	for (p = strtok_r(words, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		for (i = 0; faq_stop[i] && strcmp(p, faq_stop[i]) != 0; i++)
			;
		if (faq_stop[i] || o + strlen(p) + 2 > len)
			continue;
		o += (size_t)snprintf(out + o, len - o, "%s%s", o ? " " : "", p);
	}
}

/* 1 when some word of a and some word of b begin with the same three characters (or are
 * the same shorter word): a phrasing sharing none cannot score FAQ_MATCH_MIN, so the costly
 * similarity is not computed for it. */
static int share_stem(const char *a, const char *b)
{
	const char *p, *q;

	for (p = a; *p; p++) {
		size_t la;

		if (p != a && p[-1] != ' ')
			continue;
		la = strcspn(p, " ");
		for (q = b; *q; q++) {
			size_t lb, n;

			if (q != b && q[-1] != ' ')
				continue;
			lb = strcspn(q, " ");
			n = la < 3 || lb < 3 ? (la > lb ? la : lb) : 3;
			if (n <= la && n <= lb && strncmp(p, q, n) == 0)
				return 1;
		}
	}
	return 0;
}

int faq_best(const json_t *faqs, const char *text, double *score)
{
	const char *names[1];
	const char *phrase[1];
	size_t i, j, k;
	struct nlp_match m[1];
	char words[FAQ_TEXT_MAX], ex_words[FAQ_TEXT_MAX];
	int best = -1;

	*score = 0;
	content_words(text, words, sizeof(words));
	if (!words[0])
		return -1;
	phrase[0] = words;
	/* one word is a product or an answer, unless asked as a question ("wholesale?") */
	if (!strchr(words, ' ') && !strchr(text, '?'))
		return -1;
	for (i = 0; i < json_array_size(faqs); i++) {
		const json_t *f = json_array_get(faqs, i), *ex = json_object_get(f, "examples");
		const json_t *ready = json_object_get(f, "_phrases"); /* faq_prepare's */

		for (j = 0; j <= json_array_size(ready ? ready : ex); j++) {
			const json_t *v = ready    ? json_array_get(ready, j)
			                  : j == 0 ? json_object_get(f, "question")
			                           : json_array_get(ex, j - 1);
			double there, back;

			if (!json_is_string(v))
				continue;
			if (ready)
				snprintf(ex_words, sizeof(ex_words), "%s", json_string_value(v));
			else
				content_words(json_string_value(v), ex_words, sizeof(ex_words));
			if (!ex_words[0] || !share_stem(words, ex_words))
				continue;
			/* both ways: the text must cover the phrasing and the phrasing the text, so
			 * that one word ("honey") is not taken for a question that has it */
			names[0] = ex_words;
			k = nlp_match_products(words, names, 1, 0.0, m, 1);
			there = k ? m[0].score : 0;
			names[0] = words;
			k = nlp_match_products(ex_words, phrase, 1, 0.0, m, 1);
			back = k ? m[0].score : 0;
			if (back < there)
				there = back;
			if (there > *score) {
				*score = there;
				best = (int)i;
			}
		}
	}
	return *score >= FAQ_MATCH_MIN ? best : -1;
}

void faq_prepare(json_t *faqs)
{
	char words[FAQ_TEXT_MAX];
	size_t i, j;
	json_t *f;

	json_array_foreach(faqs, i, f)
	{
		const json_t *ex = json_object_get(f, "examples");
		json_t *ready = json_array();

		for (j = 0; ready && j <= json_array_size(ex); j++) {
			const json_t *v =
			    j == 0 ? json_object_get(f, "question") : json_array_get(ex, j - 1);

			if (!json_is_string(v))
				continue;
			content_words(json_string_value(v), words, sizeof(words));
			if (words[0])
				json_array_append_new(ready, json_string(words));
		}
		if (ready)
			json_object_set_new(f, "_phrases", ready);
	}
}
