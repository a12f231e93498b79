/*
 * nlp_lexicon_internal.h: the loaded lexicon. Every *.tsv file of the lexicon folder is one
 * language; its lines map a phrase (one to five words, or an emoji) to a kind (intent word,
 * number, unit, payment method, stop word, alias, product synonym ...), or give a plural
 * rule (word prefix or suffix). Read-only after nlp_new().
 */
#ifndef CCGW_NLP_LEXICON_INTERNAL_H
#define CCGW_NLP_LEXICON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nlp.h"
#include "nlp_text_internal.h"

#define NLP_LEX_LANGS_MAX 8
#define NLP_LEX_AFFIX_MAX 64
#define NLP_LEX_AFFIX_LEN 8
#define NLP_LEX_SYN_MAX 64 /* bytes of a synonym's normalized text */
#define NLP_LEX_PHRASE_TOKENS_MAX 5
#define NLP_LEX_NONE UINT32_MAX

enum nlp_lex_kind {
	NLP_LEX_WORD = 0, /* part of longer phrases only; as a line: a real word, not a typo */
	NLP_LEX_ALIAS,    /* spelling variant: value is the string offset of the replacement */
	NLP_LEX_INTENT,   /* value: enum nlp_intent */
	NLP_LEX_YES,      /* confirm word; also sets yes_no */
	NLP_LEX_NO,       /* deny word; also sets yes_no */
	NLP_LEX_NUM,      /* number word; flag WEAK for "one" */
	NLP_LEX_MUL,      /* "dozen": multiplies a number before it, else is its value */
	NLP_LEX_COUNT,    /* "pair": after a number a unit, else its value */
	NLP_LEX_UNIT,     /* "pcs", "vipande": marks the number before it as a quantity */
	NLP_LEX_ORD,      /* ordinal, for choices: "second", "pili" */
	NLP_LEX_PAY,      /* value: index into nlp_lex_payment_names */
	NLP_LEX_STOP,     /* function word, skipped in product phrases */
	NLP_LEX_REF,      /* "it", "those", "hiyo": refers to a product already shown */
	NLP_LEX_ORDERREF, /* "order", "oda": a number after it is an order number */
	NLP_LEX_CONJ,     /* "and", "na": joins "kumi na mbili", splits items */
	NLP_LEX_SYN,      /* product word: value is the string offset of the catalog word(s) */
	NLP_LEX_SIZE,     /* "size": a product word; the number after it is no quantity */
	NLP_LEX_PREFIX,   /* plural rule, not a phrase: "vi-" -> "ki-" (kept in affix[]) */
	NLP_LEX_SUFFIX,   /* plural rule, not a phrase: "-ies" -> "-y" (kept in affix[]) */
	NLP_LEX_TOPIC,    /* what a shop question is about: value enum nlp_lex_topic */
	NLP_LEX_KIND_COUNT
};

/* Topics of shop questions ("topic" lines): a message may name several ("delivery" and
 * "fee"); nlp_parse settles them into the reading's topic string. */
enum nlp_lex_topic {
	NLP_LEX_TOPIC_DELIVERY = 0,
	NLP_LEX_TOPIC_FEE,
	NLP_LEX_TOPIC_TIME,
	NLP_LEX_TOPIC_HOURS,
	NLP_LEX_TOPIC_PAYMENT,
	NLP_LEX_TOPIC_RETURNS,
	NLP_LEX_TOPIC_OTHER,
	NLP_LEX_TOPIC_COUNT
};

#define NLP_LEX_FLAG_WEAK 1u   /* num: a quantity only before a product or alone */
#define NLP_LEX_FLAG_CLAUSE 2u /* stop: a sentence word, so the text is not a product name */
#define NLP_LEX_FLAG_CHAT 4u   /* stop: small talk ("lol", "brb", "baadaye"): no action */
#define NLP_LEX_FLAG_AMOUNT 8u /* stop: "ksh", "weeks": a number next to it is an amount or a
				  duration, neither a quantity nor an order number */

struct nlp_lex_entry {
	uint8_t kind;
	uint8_t lang;
	uint8_t flags;
	int32_t value;
	float weight;
	uint32_t next; /* next entry of the same phrase, or NLP_LEX_NONE */
};

struct nlp_lex_phrase {
	uint32_t off; /* canonical text in strings: words joined by one space */
	uint16_t len;
	uint8_t ntok;
	uint32_t hash;
	uint32_t first; /* first entry, or NLP_LEX_NONE for NLP_LEX_WORD */
};

/* A plural rule: a word starting (prefix) or ending (suffix) with from may be the word
 * with to in its place: "vikombe" -> "kikombe", "orders" -> "order". */
struct nlp_lex_affix {
	char from[NLP_LEX_AFFIX_LEN], to[NLP_LEX_AFFIX_LEN];
	uint8_t flen, tlen, suffix, lang;
};

struct nlp_lexicon {
	char *strings;
	size_t nstrings, capstrings;
	struct nlp_lex_phrase *phrases;
	size_t nphrases, capphrases;
	struct nlp_lex_entry *entries;
	size_t nentries, capentries;
	uint32_t *table; /* open addressing, phrase index or NLP_LEX_NONE */
	size_t tmask;
	uint32_t *fuzzy; /* single words that typos may be corrected to, by first letter */
	size_t nfuzzy;
	uint32_t fuzzy_at[27]; /* words starting with 'a' + k: fuzzy[fuzzy_at[k] .. at[k + 1]) */
	struct nlp_lex_affix affix[NLP_LEX_AFFIX_MAX]; /* in file order */
	size_t naffix;
	char langs[NLP_LEX_LANGS_MAX][3];
	size_t nlangs;
	size_t max_ntok;
};

/* The handle of nlp.h: the lexicon, read-only once loaded. */
struct nlp {
	struct nlp_lexicon lex;
};

extern const char *const nlp_lex_payment_names[];
extern const char *const nlp_lex_topic_names[]; /* NLP_LEX_TOPIC_COUNT names, then NULL */

/* Loads every *.tsv in dir into lex (zeroed by the caller). 0 or -1 with err filled. */
int nlp_lexicon_load(struct nlp_lexicon *lex, const char *dir, char *err,
		     size_t errlen) __attribute__((warn_unused_result));
void nlp_lexicon_clear(struct nlp_lexicon *lex);

/* FNV-1a, continued from h. */
uint32_t nlp_lexicon_hash(uint32_t h, const char *s, size_t len);
#define NLP_LEX_HASH_INIT 2166136261u

/* Finds the phrase made of the words (ptr, len pairs) w[0..n-1] with precomputed hash. */
const struct nlp_lex_phrase *nlp_lexicon_find(const struct nlp_lexicon *lex, uint32_t hash,
					      const char *const *w, const unsigned short *wlen,
					      size_t n);

/* The closest fuzzy-eligible word within a small edit distance of s (1 for 5 to 7 letters,
 * 2 from 8, never above maxd_cap), or NULL. Words of four letters are corrected only by one
 * swap of neighbours or one missing letter, and only when a single word is that close
 * ("hepl" -> "help", "chek" -> "check"). */
const struct nlp_lex_phrase *nlp_lexicon_fuzzy(const struct nlp_lexicon *lex, const char *s,
					       size_t len, int maxd_cap);

/* The entry of the given kind of a phrase, or NULL. */
const struct nlp_lex_entry *nlp_lexicon_entry(const struct nlp_lexicon *lex,
					      const struct nlp_lex_phrase *ph, int kind);

/* Writes into out (outlen bytes) the word s (len bytes) with plural rule a undone:
 * "vikombe" -> "kikombe". Returns the new length, or 0 when the rule does not apply (the
 * word must keep at least three letters of its own). */
size_t nlp_lexicon_affix_apply(const struct nlp_lex_affix *a, const char *s, size_t len,
			       char *out, size_t outlen);

#endif
