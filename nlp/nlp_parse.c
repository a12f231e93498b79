/*
 * nlp_parse.c: reads one shopper message. Normalizes and tokenizes it, corrects spelling
 * variants, plural forms, typos and split words against the lexicon, matches the longest
 * lexicon phrases, adds up the intent weights, pulls out quantities, order numbers, phone,
 * payment, yes/no and the product phrase, and settles the intent with what the conversation
 * expects. Stack memory only.
 */
#include "nlp.h"
#include "nlp_lexicon_internal.h"
#include "nlp_model_internal.h"
#include "nlp_text_internal.h"
#include "utf8.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define PARSE_IN_MAX 2048   /* bytes of a message that are read; the rest is ignored */
#define PARSE_NORM_MAX 4096
#define PARSE_SCRATCH 1024
#define PARSE_NUMS_MAX 16
#define PARSE_BIG 1000000000000L
#define PARSE_PAYREF_LEN 10     /* an M-Pesa transaction code: "QGH7XK2M1P" */
#define PARSE_QUESTION_BONUS 1.5f /* a topic named by two question phrases */
#define PARSE_PAYREF_WEIGHT 3.0f  /* a transaction code: the shopper is telling of a payment */
#define PARSE_POLITE 0.25f        /* greetings and thanks around a request weigh this much */
/* The statistical classifier behind the rules (docs/NLP.md): asked when the rules read
 * nothing, only a product phrase, or a keyword with less confidence than PARSE_SURE (since
 * the sixth round, trained on some 3,000 messages, every keyword reading). */
#ifndef PARSE_UNSURE
#define PARSE_UNSURE 0.5
#endif
#ifndef PARSE_CLF_ACCEPT
#define PARSE_CLF_ACCEPT 0.55   /* its intent is taken where the rules read nothing */
#endif
#ifndef PARSE_CLF_OVERRIDE
#define PARSE_CLF_OVERRIDE 0.5  /* ... and over a weak reading of the rules (0.6 until the
				   sixth round, 0.8 in the third) */
#endif
#ifndef PARSE_CLF_PHRASE
#define PARSE_CLF_PHRASE 0.7    /* ... and over a product phrase of one or two words (0.8
				   until the sixth round) */
#endif
#ifndef PARSE_LONGP
#define PARSE_LONGP 3           /* a "product phrase" of this many words ... */
#endif
#ifndef PARSE_CLF_LONGP
#define PARSE_CLF_LONGP 0.55    /* ... is more likely a sentence the lexicon lacks ("kikombe
				   kina ufa", "tshirt imepungua baada ya kufua"): this will do */
#endif
#ifndef PARSE_SURE
#define PARSE_SURE 1.01         /* a keyword read with less is asked too (0.8 until the
				   sixth round) ... */
#endif
#ifndef PARSE_CLF_STRONG
#define PARSE_CLF_STRONG 0.8    /* ... and yields to a model this sure of another intent
				   (0.9 until the sixth round) */
#endif
#ifndef PARSE_CLF_TIE
#define PARSE_CLF_TIE 0.95      /* two intents the rules weigh alike: the model settles it
				   (0.9 until the seventh round) */
#endif
#ifndef PARSE_CLF_CHAT
#define PARSE_CLF_CHAT 0.8      /* a product phrase of two words or more, with no catalogue
				   word and no quantity, that the model reads as small talk this
				   surely is small talk ("ngoja nimuulize bibi kwanza"; the
				   eighth round: 0.6 to 0.8 read the same, 0.7 made "blorf quux
				   zing" small talk, not a search) */
#endif
#ifndef PARSE_CLF_CHATKW
#define PARSE_CLF_CHATKW 0.9    /* a keyword reading the model reads as small talk this surely
				   is small talk ("nimechoka na kazi leo", "uko single?"; the
				   eighth round: 0.7 to 0.9 read the same) */
#endif
#ifndef PARSE_CLF_PRODUCT
#define PARSE_CLF_PRODUCT 0.8   /* a product intent over a sentence the rules cannot read is
				   taken at this, else only offered ("i'll carry the wild forest
				   honey, just one"; "im interested in the soap" stays offered;
				   the eighth round: 0.7 and 0.8 read the same) */
#endif
#ifndef PARSE_CLF_PAYREF
#define PARSE_CLF_PAYREF 0.8   /* a transaction code in a message the model reads as a
				   complaint this surely is a complaint ("QKT4HX82LM ilikatwa
				   mara mbili"; the eighth round: 0.6 to 0.9 read the same) */
#endif
#ifndef PARSE_RIVAL
#define PARSE_RIVAL 1.0         /* a second intent weighing this much of the first rivals it */
#endif
#define PARSE_CLF_ALT 0.15      /* the likeliest offered as "did you mean" at least this */
#define PARSE_CLF_ALT2 0.05     /* and the second at least this */

enum parse_role {
	ROLE_CONTENT = 0, /* a word the lexicon does not know: part of a product phrase */
	ROLE_STOP,        /* function word: skipped, does not split a product phrase */
	ROLE_KEY,         /* intent, yes/no, payment or order word */
	ROLE_NUM,
	ROLE_ORD,
	ROLE_UNIT,
	ROLE_CONJ,
	ROLE_SYM, /* an emoji the lexicon does not know */
	ROLE_PHONE
};

struct parse_tok {
	const char *w; /* the word as the lexicon knows it (alias or typo corrected) */
	const char *orig;
	unsigned short wlen, olen;
	unsigned char type, role, span; /* span: tokens in the phrase this one starts, or 0 */
	char prefix;
	unsigned char fuzzy, orderref, weak, mul, count, marked, numword, known, size;
	unsigned char amount; /* "ksh", "weeks": a number next to it is no quantity or order */
	long num;
};

struct parse_num {
	long v;
	size_t head, last;
	int marked, weak, order, dropped;
	int amount; /* next to "ksh", "weeks": an amount or a duration */
};

struct parse_state {
	const struct nlp_lexicon *lex;
	enum nlp_expect expect;
	struct parse_tok t[NLP_TOKENS_MAX];
	size_t n;
	float score[NLP_INTENT_COUNT];
	float votes[NLP_LEX_LANGS_MAX];
	float noun_votes[NLP_LEX_LANGS_MAX]; /* product words: only when nothing else tells */
	struct parse_num nums[PARSE_NUMS_MAX];
	size_t nnums;
	int yes_no, pay, clause, ref, gibberish;
	int chat; /* small-talk words ("lol", "brb", "baadaye") */
	unsigned topics; /* bit 1 << enum nlp_lex_topic for each topic word */
	int qphrases;    /* phrases that point to the question intent */
	int payref;      /* a transaction code was found */
	int qmark;       /* the message has a question mark */
	const struct nlp_token *toks; /* the message's tokens as written, for the classifier */
	size_t ntoks;
	long ordinal;
	size_t ncontent;
	char scratch[PARSE_SCRATCH];
	size_t nscratch;
};

/* Ties between intents go to the one that matters more to the shopper. */
static const enum nlp_intent parse_priority[] = {
	NLP_INTENT_COMPLAINT,   NLP_INTENT_CANCEL_ORDER,	NLP_INTENT_HUMAN,
	NLP_INTENT_PAID,	NLP_INTENT_ORDER_STATUS,	NLP_INTENT_QUESTION,
	NLP_INTENT_CLEAR_CART,	NLP_INTENT_REMOVE_FROM_CART,
	NLP_INTENT_CHECKOUT,	NLP_INTENT_ADD_TO_CART,		NLP_INTENT_VIEW_CART,
	NLP_INTENT_SEARCH,	NLP_INTENT_BROWSE,		NLP_INTENT_HELP,
	NLP_INTENT_DENY,	NLP_INTENT_THANKS,		NLP_INTENT_CONFIRM,
	NLP_INTENT_GREET,
};

static const struct nlp_lex_phrase *parse_find1(const struct nlp_lexicon *lex, const char *s,
						unsigned short len)
{
	uint32_t h = nlp_lexicon_hash(NLP_LEX_HASH_INIT, s, len);
	return nlp_lexicon_find(lex, h, &s, &len, 1);
}

static const struct nlp_lex_entry *parse_entry(const struct nlp_lexicon *lex,
					       const struct nlp_lex_phrase *ph, int kind)
{
	if (!ph)
		return NULL;
	for (uint32_t e = ph->first; e != NLP_LEX_NONE; e = lex->entries[e].next)
		if (lex->entries[e].kind == kind)
			return &lex->entries[e];
	return NULL;
}

static int parse_is_ascii_letters(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return 0;
	return n > 0;
}

static long parse_digits(const char *s, size_t n)
{
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		v = v * 10 + (s[i] - '0');
		if (v >= PARSE_BIG)
			return PARSE_BIG;
	}
	return v;
}

/* Follows an alias; returns the phrase of the resulting word. */
static const struct nlp_lex_phrase *parse_alias(const struct nlp_lexicon *lex,
						const struct nlp_lex_phrase *ph,
						struct parse_tok *pt)
{
	const struct nlp_lex_entry *a = parse_entry(lex, ph, NLP_LEX_ALIAS);
	if (!a)
		return ph;
	pt->w = lex->strings + a->value;
	pt->wlen = (unsigned short)strlen(pt->w);
	return parse_find1(lex, pt->w, pt->wlen);
}

/* Word forms of numbers: "x2", "2x", "2pcs", "3rd". Returns 1 when the token is one. */
static int parse_number_word(struct parse_state *st, struct parse_tok *pt)
{
	const char *s = pt->orig;
	size_t n = pt->olen, d = 0;

	if (n >= 2 && s[0] == 'x') {
		for (d = 1; d < n && s[d] >= '0' && s[d] <= '9'; d++)
			;
		if (d == n && n - 1 <= 12) {
			pt->role = ROLE_NUM;
			pt->num = parse_digits(s + 1, n - 1);
			pt->marked = 1;
			return 1;
		}
		return 0;
	}
	while (d < n && s[d] >= '0' && s[d] <= '9')
		d++;
	if (d == 0 || d == n || d > 12)
		return 0;
	if (n - d == 1 && s[d] == 'x') {
		pt->role = ROLE_NUM;
		pt->num = parse_digits(s, d);
		pt->marked = 1;
		return 1;
	}
	if (n - d == 2 && (!memcmp(s + d, "st", 2) || !memcmp(s + d, "nd", 2) ||
			   !memcmp(s + d, "rd", 2) || !memcmp(s + d, "th", 2))) {
		pt->role = ROLE_ORD;
		pt->num = parse_digits(s, d);
		return 1;
	}
	if (parse_is_ascii_letters(s + d, n - d)) {
		struct parse_tok tmp = *pt;
		const struct nlp_lex_phrase *ph = parse_find1(st->lex, s + d, (unsigned short)(n - d));
		ph = parse_alias(st->lex, ph, &tmp);
		if (parse_entry(st->lex, ph, NLP_LEX_UNIT) || parse_entry(st->lex, ph, NLP_LEX_COUNT)) {
			pt->role = ROLE_NUM;
			pt->num = parse_digits(s, d);
			pt->marked = 1;
			return 1;
		}
	}
	return 0;
}

/* Plural rules of the lexicon: "orders" -> "order", "vikombe" -> "kikombe", taken only
 * when the result is a word the lexicon gives a meaning. */
static int parse_affix(struct parse_state *st, struct parse_tok *pt)
{
	const struct nlp_lexicon *lex = st->lex;

	for (size_t k = 0; k < lex->naffix; k++) {
		char *dd = st->scratch + st->nscratch;
		size_t room = sizeof(st->scratch) - st->nscratch;
		size_t n = nlp_lexicon_affix_apply(&lex->affix[k], pt->w, pt->wlen, dd, room);
		const struct nlp_lex_phrase *ph;

		if (n == 0)
			continue;
		if (n > 1 && dd[0] == '-' && !lex->affix[k].suffix) {
			memmove(dd, dd + 1, n - 1); /* "ku-cancel", "nime-order" */
			n--;
		}
		ph = parse_find1(lex, dd, (unsigned short)n);
		if (!ph || ph->first == NLP_LEX_NONE)
			continue;
		st->nscratch += n;
		pt->w = dd;
		pt->wlen = (unsigned short)n;
		parse_alias(lex, ph, pt);
		pt->known = 1;
		return 1;
	}
	return 0;
}

static void parse_resolve(struct parse_state *st, struct parse_tok *pt)
{
	const struct nlp_lexicon *lex = st->lex;
	const struct nlp_lex_phrase *ph;

	pt->w = pt->orig;
	pt->wlen = pt->olen;
	if (pt->type == NLP_TOK_NUM) {
		pt->role = ROLE_NUM;
		pt->num = parse_digits(pt->orig, pt->olen);
		if (pt->prefix == '-')
			pt->num = -pt->num;
		return;
	}
	if (pt->type == NLP_TOK_SYM) {
		pt->role = ROLE_SYM;
		return;
	}
	if (parse_number_word(st, pt))
		return;
	ph = parse_alias(lex, parse_find1(lex, pt->w, pt->wlen), pt);
	pt->known = ph != NULL;
	if (ph)
		return;
	if (!parse_is_ascii_letters(pt->w, pt->wlen)) {
		if (memchr(pt->w, '-', pt->wlen))
			parse_affix(st, pt); /* "ku-cancel": a Sheng prefix written apart */
		return;
	}
	/* "cartt" -> "cart", "yess" -> "yes", "pleease" -> "please" */
	if (st->nscratch + pt->wlen <= sizeof(st->scratch)) {
		char *dd = st->scratch + st->nscratch;
		size_t k = 0;
		for (size_t i = 0; i < pt->wlen; i++)
			if (k == 0 || dd[k - 1] != pt->w[i])
				dd[k++] = pt->w[i];
		if (k < pt->wlen) {
			ph = parse_find1(lex, dd, (unsigned short)k);
			if (ph) {
				st->nscratch += k;
				pt->w = dd;
				pt->wlen = (unsigned short)k;
				parse_alias(lex, ph, pt);
				pt->known = 1;
				return;
			}
		}
	}
	if (parse_affix(st, pt))
		return;
	ph = nlp_lexicon_fuzzy(lex, pt->w, pt->wlen, 2);
	if (ph) {
		pt->w = lex->strings + ph->off;
		pt->wlen = ph->len;
		pt->fuzzy = 1;
	}
}

static size_t parse_next(const struct parse_state *st, size_t i)
{
	return i + (st->t[i].span ? st->t[i].span : 1);
}

/* Joins two words, one of which the lexicon does not know, when together they make an
 * intent, yes/no or payment word, exactly or within the typo distance: "chek out",
 * "can cel", "thank s" ("check out" is a phrase of its own). */
static void parse_join(struct parse_state *st)
{
	const struct nlp_lexicon *lex = st->lex;

	for (size_t i = 0; i + 1 < st->n; i++) {
		struct parse_tok *a = &st->t[i], *b = &st->t[i + 1];
		const struct nlp_lex_phrase *ph;
		char *dd = st->scratch + st->nscratch;
		size_t n = (size_t)a->olen + b->olen;
		int fuzzy = 0;

		if ((a->known && b->known) || a->type != NLP_TOK_WORD ||
		    b->type != NLP_TOK_WORD || b->prefix || a->role != ROLE_CONTENT ||
		    b->role != ROLE_CONTENT || !parse_is_ascii_letters(a->orig, a->olen) ||
		    !parse_is_ascii_letters(b->orig, b->olen) ||
		    st->nscratch + n > sizeof(st->scratch))
			continue;
		memcpy(dd, a->orig, a->olen);
		memcpy(dd + a->olen, b->orig, b->olen);
		ph = parse_find1(lex, dd, (unsigned short)n);
		/* one typo inside a split word: one half is a word we know ("chek|out",
		 * "can|cel") or a scrap; two unknown words ("red mugs") are a product */
		if (!ph && (a->known != b->known || a->olen <= 2 || b->olen <= 2)) {
			ph = nlp_lexicon_fuzzy(lex, dd, n, 1);
			fuzzy = 1;
		}
		if (!ph || !(parse_entry(lex, ph, NLP_LEX_INTENT) ||
			     parse_entry(lex, ph, NLP_LEX_YES) || parse_entry(lex, ph, NLP_LEX_NO) ||
			     parse_entry(lex, ph, NLP_LEX_PAY)))
			continue;
		st->nscratch += n;
		a->w = lex->strings + ph->off;
		a->wlen = ph->len;
		a->olen = (unsigned short)(b->orig + b->olen - a->orig);
		a->fuzzy = (unsigned char)fuzzy;
		a->known = 1;
		memmove(b, b + 1, (st->n - i - 2) * sizeof(*b));
		st->n--;
	}
}

/* "size 42": the number after a size word describes the product; it is no quantity. */
static void parse_sizes(struct parse_state *st)
{
	for (size_t i = 0; i < st->n; i = parse_next(st, i)) {
		size_t j = parse_next(st, i);
		if (!st->t[i].size)
			continue;
		while (j < st->n && st->t[j].role == ROLE_NUM && !st->t[j].marked &&
		       (j == parse_next(st, i) || st->t[j].numword)) {
			size_t nx = parse_next(st, j);
			for (size_t k = j; k < nx; k++)
				st->t[k].role = ROLE_STOP;
			j = nx;
		}
	}
}

static void parse_apply_phrase(struct parse_state *st, size_t i, size_t len,
			       const struct nlp_lex_phrase *ph)
{
	const struct nlp_lexicon *lex = st->lex;
	float local[NLP_INTENT_COUNT] = { 0 };
	float vote[NLP_LEX_LANGS_MAX] = { 0 };
	int has_num = 0, has_ord = 0, has_stop = 0, has_key = 0, has_unit = 0, has_conj = 0;
	int has_noun = 0;
	int fuzzy = 0, sym = len == 1 && st->t[i].type == NLP_TOK_SYM;
	struct parse_tok *pt = &st->t[i];

	for (size_t k = i; k < i + len; k++)
		fuzzy |= st->t[k].fuzzy;
	for (uint32_t ei = ph->first; ei != NLP_LEX_NONE; ei = lex->entries[ei].next) {
		const struct nlp_lex_entry *e = &lex->entries[ei];
		float v = (e->kind == NLP_LEX_STOP || e->kind == NLP_LEX_REF ||
			   e->kind == NLP_LEX_CONJ) ? 0.5f : 1.0f;
		if (e->kind == NLP_LEX_SYN || e->kind == NLP_LEX_SIZE || e->kind == NLP_LEX_WORD) {
			/* a product word: shared by shoppers of every language ("word": a real
			 * word that is not a typo of an intent word, casting no vote) */
			if (e->lang < NLP_LEX_LANGS_MAX && !sym && e->kind != NLP_LEX_WORD)
				st->noun_votes[e->lang] += 1.0f;
			has_noun = 1;
			pt->size |= e->kind == NLP_LEX_SIZE;
			continue;
		}
		if (e->lang < NLP_LEX_LANGS_MAX && vote[e->lang] < v)
			vote[e->lang] = v;
		switch (e->kind) {
		case NLP_LEX_INTENT:
			if (local[e->value] < e->weight)
				local[e->value] = e->weight;
			has_key = 1;
			break;
		case NLP_LEX_YES:
		case NLP_LEX_NO: {
			int in = e->kind == NLP_LEX_YES ? NLP_INTENT_CONFIRM : NLP_INTENT_DENY;
			if (local[in] < e->weight)
				local[in] = e->weight;
			st->yes_no = e->kind == NLP_LEX_YES ? NLP_YN_YES : NLP_YN_NO;
			has_key = 1;
			break;
		}
		case NLP_LEX_NUM:
		case NLP_LEX_MUL:
		case NLP_LEX_COUNT:
			has_num = 1;
			pt->num = e->value;
			pt->weak = (e->flags & NLP_LEX_FLAG_WEAK) != 0;
			pt->mul = e->kind == NLP_LEX_MUL;
			pt->count = e->kind == NLP_LEX_COUNT;
			break;
		case NLP_LEX_ORD:
			has_ord = 1;
			pt->num = e->value;
			break;
		case NLP_LEX_UNIT:
			has_unit = 1;
			break;
		case NLP_LEX_PAY:
			if (st->pay < 0)
				st->pay = e->value;
			has_key = 1;
			break;
		case NLP_LEX_STOP:
			has_stop = 1;
			if (e->flags & NLP_LEX_FLAG_CLAUSE)
				st->clause = 1;
			if (e->flags & NLP_LEX_FLAG_CHAT) {
				st->chat++;
				st->clause = 1;
			}
			if (e->flags & NLP_LEX_FLAG_AMOUNT)
				pt->amount = 1;
			break;
		case NLP_LEX_REF:
			has_stop = 1;
			st->ref = 1;
			break;
		case NLP_LEX_ORDERREF:
			pt->orderref = 1;
			has_key = 1;
			break;
		case NLP_LEX_CONJ:
			has_conj = 1;
			break;
		case NLP_LEX_TOPIC:
			st->topics |= 1u << e->value;
			has_key = 1;
			break;
		default:
			break;
		}
	}
	for (int k = 0; k < NLP_INTENT_COUNT; k++)
		st->score[k] += fuzzy ? local[k] * 0.8f : local[k];
	if (local[NLP_INTENT_QUESTION] > 0.0f)
		st->qphrases++;
	for (size_t l = 0; !sym && l < st->lex->nlangs; l++)
		st->votes[l] += vote[l];
	pt->span = (unsigned char)len;
	pt->role = has_num ? ROLE_NUM
		 : has_ord ? ROLE_ORD
		 : has_stop ? ROLE_STOP
		 : has_key ? ROLE_KEY
		 : has_unit ? ROLE_UNIT
		 : has_conj ? ROLE_CONJ
		 : has_noun ? ROLE_CONTENT
			    : ROLE_STOP;
	if (has_num)
		pt->numword = 1;
	for (size_t k = i + 1; k < i + len; k++) {
		st->t[k].role = pt->role;
		st->t[k].orderref = pt->orderref;
		st->t[k].amount = pt->amount;
		st->t[k].span = 0;
	}
}

static void parse_phrases(struct parse_state *st)
{
	size_t i = 0;
	while (i < st->n) {
		size_t maxn = st->lex->max_ntok, len;
		int matched = 0;

		if (st->t[i].role == ROLE_NUM || st->t[i].role == ROLE_ORD) {
			st->t[i].span = 1;
			i++;
			continue;
		}
		if (maxn > st->n - i)
			maxn = st->n - i;
		for (size_t k = 1; k < maxn; k++)
			if (st->t[i + k].role == ROLE_NUM || st->t[i + k].role == ROLE_ORD) {
				maxn = k;
				break;
			}
		for (len = maxn; len >= 1 && !matched; len--) {
			const char *w[NLP_LEX_PHRASE_TOKENS_MAX + 1];
			unsigned short wl[NLP_LEX_PHRASE_TOKENS_MAX + 1];
			uint32_t h = NLP_LEX_HASH_INIT;
			const struct nlp_lex_phrase *ph;
			for (size_t k = 0; k < len; k++) {
				w[k] = st->t[i + k].w;
				wl[k] = st->t[i + k].wlen;
				if (k > 0)
					h = nlp_lexicon_hash(h, " ", 1);
				h = nlp_lexicon_hash(h, w[k], wl[k]);
			}
			ph = nlp_lexicon_find(st->lex, h, w, wl, len);
			if (ph && ph->first != NLP_LEX_NONE) {
				parse_apply_phrase(st, i, len, ph);
				i += len;
				matched = 1;
			}
		}
		if (!matched) {
			st->t[i].span = 1;
			i++;
		}
	}
}

static int parse_gibberish(const char *s, size_t n)
{
	static const char *const rows[] = { "asdf", "qwer", "zxcv", "hjkl", "sdfg", "wert", "dfgh" };
	size_t vowels = 0;
	if (n < 4 || !parse_is_ascii_letters(s, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		vowels += strchr("aeiouy", s[i]) != NULL;
	if (vowels == 0)
		return 1;
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
		for (size_t i = 0; i + 4 <= n; i++)
			if (memcmp(s + i, rows[r], 4) == 0)
				return 1;
	return 0;
}

/* An M-Pesa transaction code: a word of ten letters and digits with at least one of each
 * ("QGH7XK2M1P", typed in any case). The first goes to the reading, upper case; every such
 * word is taken out of the product phrase. */
static void parse_payref(struct parse_state *st, struct nlp_reading *out)
{
	for (size_t i = 0; i < st->n; i++) {
		struct parse_tok *pt = &st->t[i];
		size_t letters = 0, digits = 0;

		if (pt->type != NLP_TOK_WORD || pt->olen != PARSE_PAYREF_LEN || pt->role != ROLE_CONTENT)
			continue;
		for (size_t k = 0; k < pt->olen; k++) {
			char c = pt->orig[k];
			letters += c >= 'a' && c <= 'z';
			digits += c >= '0' && c <= '9';
		}
		if (letters + digits != PARSE_PAYREF_LEN || !letters || !digits)
			continue;
		pt->role = ROLE_STOP;
		if (st->payref)
			continue;
		st->payref = 1;
		for (size_t k = 0; k < PARSE_PAYREF_LEN; k++) {
			char c = pt->orig[k];
			out->payment_ref[k] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
		}
		out->payment_ref[PARSE_PAYREF_LEN] = '\0';
	}
}

/* Digits of a phone number: "+254 712 345678", "0712345678". */
static void parse_phone(struct parse_state *st, struct nlp_reading *out)
{
	for (size_t i = 0; i < st->n; i++) {
		size_t j = i, digits = 0, o = 0;
		if (st->t[i].type != NLP_TOK_NUM)
			continue;
		while (j < st->n && st->t[j].type == NLP_TOK_NUM && (j == i || !st->t[j].prefix ||
								     st->t[j].prefix == '-')) {
			digits += st->t[j].olen;
			j++;
		}
		if (digits > 15 || digits < 7)
			continue;
		if (!(st->t[i].prefix == '+' || (digits >= 9 && st->t[i].orig[0] == '0') ||
		      digits >= 11 || st->expect == NLP_EXPECT_PHONE))
			continue;
		if (st->t[i].prefix == '+')
			out->phone[o++] = '+';
		for (size_t k = i; k < j; k++) {
			memcpy(out->phone + o, st->t[k].orig, st->t[k].olen);
			o += st->t[k].olen;
			st->t[k].role = ROLE_PHONE;
		}
		out->phone[o] = '\0';
		return;
	}
}

static void parse_numbers(struct parse_state *st)
{
	size_t i = 0;
	while (i < st->n && st->nnums < PARSE_NUMS_MAX) {
		struct parse_tok *pt = &st->t[i];
		struct parse_num *pn;
		size_t j;

		if (pt->role != ROLE_NUM) {
			i = parse_next(st, i);
			continue;
		}
		pn = &st->nums[st->nnums++];
		memset(pn, 0, sizeof(*pn));
		pn->head = i;
		pn->v = pt->num;
		pn->marked = pt->marked || pt->count;
		pn->weak = pt->weak;
		j = parse_next(st, i);
		for (;;) {
			size_t k = j;
			int conj = 0;
			struct parse_tok *nt;
			if (k < st->n && st->t[k].role == ROLE_CONJ && pt->numword) {
				k = parse_next(st, k);
				conj = 1;
			}
			if (k >= st->n || st->t[k].role != ROLE_NUM || !st->t[k].numword)
				break;
			nt = &st->t[k];
			if (nt->mul && !conj) {
				pn->v = pn->v * nt->num > PARSE_BIG ? PARSE_BIG : pn->v * nt->num;
			} else if (nt->count && !conj) {
				pn->marked = 1;
			} else if (pt->numword && pn->v >= 10 && pn->v % 10 == 0 && nt->num > 0 &&
				   nt->num < 10) {
				pn->v += nt->num; /* "twenty five", "kumi na mbili" */
			} else {
				break;
			}
			pn->weak = 0;
			j = parse_next(st, k);
		}
		pn->last = j - 1;
		pn->amount = (j < st->n && st->t[j].amount) || (i > 0 && st->t[i - 1].amount);
		if (j < st->n && st->t[j].role == ROLE_UNIT)
			pn->marked = 1;
		if (i > 0 && st->t[i - 1].role == ROLE_UNIT)
			pn->marked = 1;
		i = j;
	}
}

/* Index of the token before i that is not a stop word, or st->n when none. */
static size_t parse_prev_key(const struct parse_state *st, size_t i)
{
	while (i > 0) {
		i--;
		if (st->t[i].role != ROLE_STOP)
			return i;
	}
	return st->n;
}

static size_t parse_next_key(const struct parse_state *st, size_t i)
{
	while (i < st->n && st->t[i].role == ROLE_STOP)
		i++;
	return i;
}

/* The product phrase: the first run of unknown words, stop words inside it kept. */
static void parse_product(const struct parse_state *st, char *out, size_t outlen)
{
	size_t start = st->n, last = 0, o = 0;
	for (size_t i = 0; i < st->n; i = parse_next(st, i)) {
		if (st->t[i].role == ROLE_CONTENT) {
			if (start == st->n)
				start = i;
			last = parse_next(st, i) - 1; /* "majani ya chai" is one phrase */
		} else if (st->t[i].role != ROLE_STOP && start != st->n) {
			break;
		}
	}
	out[0] = '\0';
	if (start == st->n)
		return;
	for (size_t i = start; i <= last; i++) {
		size_t need = st->t[i].olen + (o > 0);
		if (o + need + 1 > outlen)
			break;
		if (o > 0)
			out[o++] = ' ';
		memcpy(out + o, st->t[i].orig, st->t[i].olen);
		o += st->t[i].olen;
	}
	out[o] = '\0';
}

#ifndef PARSE_MID_PRODUCT
#define PARSE_MID_PRODUCT 1 /* a keyword of another intent yields to a product intent only at
			       PARSE_CLF_TIE: a product named pulls the model toward it
			       ("sandals ziko tight sana, hazinitoshi" is a complaint) */
#endif
#ifndef PARSE_MID_RANK
#define PARSE_MID_RANK 0 /* 1: only to an intent that matters as much (until the sixth round) */
#endif
/* Where an intent stands in parse_priority: lower matters more to the shopper. */
static size_t parse_rank(enum nlp_intent in)
{
	for (size_t k = 0; k < sizeof(parse_priority) / sizeof(parse_priority[0]); k++)
		if (parse_priority[k] == in)
			return k;
	return sizeof(parse_priority) / sizeof(parse_priority[0]);
}

static enum nlp_intent parse_best(const float *score, float *best, float *second)
{
	enum nlp_intent b = NLP_INTENT_UNKNOWN;
	*best = 0.0f;
	*second = 0.0f;
	for (size_t k = 0; k < sizeof(parse_priority) / sizeof(parse_priority[0]); k++) {
		enum nlp_intent in = parse_priority[k];
		if (score[in] > *best + 1e-4f) {
			*second = *best;
			*best = score[in];
			b = in;
		} else if (score[in] > *second) {
			*second = score[in];
		}
	}
	return b;
}

/* Whether the message names a word of the catalogue's lexicon ("coffee", "shea butter"). */
static int parse_names_product(const struct parse_state *st)
{
	for (size_t l = 0; l < NLP_LEX_LANGS_MAX; l++)
		if (st->noun_votes[l] > 0.0f)
			return 1;
	return 0;
}

static int parse_product_intent(enum nlp_intent in)
{
	return in == NLP_INTENT_SEARCH || in == NLP_INTENT_ADD_TO_CART ||
	       in == NLP_INTENT_REMOVE_FROM_CART;
}

static void parse_lang(const struct parse_state *st, const char *hint, struct nlp_reading *out)
{
	const struct nlp_lexicon *lex = st->lex;
	int best = -1, tie = 0, hinted = -1;
	float bv = 0.0f;

	for (size_t l = 0; l < lex->nlangs; l++) {
		if (hint && strncmp(hint, lex->langs[l], 3) == 0)
			hinted = (int)l;
		if (st->votes[l] > bv + 1e-4f) {
			bv = st->votes[l];
			best = (int)l;
			tie = 0;
		} else if (bv > 0.0f && st->votes[l] > bv - 1e-4f) {
			tie = 1;
		}
	}
	if (best < 0 || tie) {
		if (hinted >= 0 && (best < 0 || st->votes[hinted] > bv - 1e-4f)) {
			best = hinted;
		} else if (tie) {
			/* a tie between English and another language is a mixed message: the
			 * other language is the shopper's own (Sheng borrows English words) */
			for (size_t l = 0; l < lex->nlangs; l++)
				if (st->votes[l] > bv - 1e-4f && strcmp(lex->langs[l], "en") != 0) {
					best = (int)l;
					break;
				}
		}
	}
	if (best < 0 && hinted < 0) {
		/* only product words ("asali", "viatu"): they tell when nothing else does */
		for (size_t l = 0; l < lex->nlangs; l++)
			if (st->noun_votes[l] > 0.0f && (best < 0 || st->noun_votes[l] > bv)) {
				bv = st->noun_votes[l];
				best = (int)l;
			}
	}
	if (best < 0) {
		memcpy(out->lang, "en", 3);
		return;
	}
	memcpy(out->lang, lex->langs[best], 3);
}

static double parse_round(double x)
{
	if (x < 0.0)
		x = 0.0;
	if (x > 1.0)
		x = 1.0;
	return floor(x * 100.0 + 0.5) / 100.0;
}

/* The reading being settled by parse_decide and its helpers. */
struct parse_verdict {
	enum nlp_intent in;
	double conf;
	float bs, ss;          /* the best and second-best intent scores */
	struct parse_num *qty; /* the quantity, or NULL */
	int nnums;             /* numbers left that are not order numbers */
	int implicit;          /* the intent comes from the product phrase, not a keyword */
	int smalltalk;         /* small talk: unknown, and no "did you mean" */
	int free_text;         /* a name, an address or a phone number is expected */
	enum nlp_intent rival; /* an intent the rules weigh (nearly) as much as in, or UNKNOWN */
};

/* Behind the rules: when they read nothing, only a product phrase or a keyword they are
 * unsure of, the classifier's calibrated probabilities decide. A likely intent is taken
 * (a product intent only offered over a sentence the rules cannot read: "im interested in
 * the soap" is a search for what?);
 * otherwise the reading stays (or becomes) unknown with the two likeliest intents in
 * out->alt, for the engine to ask "did you mean ...?". A product phrase the classifier
 * does not clearly read otherwise stays a search. */
static void parse_fallback(const struct parse_state *st, struct parse_verdict *v,
			   struct nlp_reading *out)
{
	double p[NLP_INTENT_COUNT], rank[NLP_INTENT_COUNT];
	int weak = !v->implicit && v->in != NLP_INTENT_UNKNOWN && v->conf < PARSE_UNSURE;
	int mid = !v->implicit && v->in != NLP_INTENT_UNKNOWN && !weak && v->conf < PARSE_SURE &&
		  v->in != NLP_INTENT_CONFIRM && v->in != NLP_INTENT_DENY;
	enum nlp_intent top = NLP_INTENT_UNKNOWN;
	size_t na = 0;

	if (st->payref && !v->free_text && v->in == NLP_INTENT_PAID &&
	    nlp_classify(st->toks, st->ntoks, p) > 0 &&
	    p[NLP_INTENT_COMPLAINT] >= PARSE_CLF_PAYREF) {
		/* a code pasted in a complaint ("QKT4HX82LM ilikatwa mara mbili") */
		v->in = NLP_INTENT_COMPLAINT;
		v->conf = p[NLP_INTENT_COMPLAINT];
		return;
	}
	if (v->free_text || st->payref || v->smalltalk ||
	    (v->in == NLP_INTENT_UNKNOWN && v->conf >= 0.9) ||
	    !(v->in == NLP_INTENT_UNKNOWN || v->implicit || weak || mid))
		return;
	if (nlp_classify(st->toks, st->ntoks, p) == 0)
		return; /* nothing the model has seen */
	for (int c = 1; c < NLP_INTENT_COUNT; c++)
		if (p[c] > p[top])
			top = (enum nlp_intent)c;
	if (v->rival != NLP_INTENT_UNKNOWN && !v->implicit) {
		/* two intents the rules weigh alike ("nina shida, nisaidie": a problem, or help?):
		 * the model settles it only when very sure, else the shopper is asked which */
		enum nlp_intent a = v->in, b = v->rival;
		if (top != NLP_INTENT_UNKNOWN && p[top] >= PARSE_CLF_TIE) {
			v->in = top;
			v->conf = p[top];
			return;
		}
		if (p[b] > p[a]) {
			a = v->rival;
			b = v->in;
		}
		out->alt[0] = a;
		out->alt[1] = b;
		out->alt_confidence[0] = parse_round(p[a] > 0.34 ? p[a] : 0.34);
		out->alt_confidence[1] = parse_round(p[b] > 0.33 ? p[b] : 0.33);
		if (out->alt_confidence[1] > out->alt_confidence[0])
			out->alt_confidence[1] = out->alt_confidence[0];
		v->in = NLP_INTENT_UNKNOWN;
		if (v->conf > 0.3)
			v->conf = 0.3;
		return;
	}
	if (top == v->in && !(top == NLP_INTENT_UNKNOWN && out->product[0])) {
		if (top != NLP_INTENT_UNKNOWN && p[top] > v->conf)
			v->conf = p[top];
		return;
	}
	if (st->ntoks == 1 && (v->implicit || mid))
		return; /* one word the lexicon reads as a keyword, or a product: the model
			   knows a word it never saw only by its pieces ("card", "commandes") */
	if (v->implicit && top == NLP_INTENT_UNKNOWN && p[top] >= PARSE_CLF_CHAT && !v->qty &&
	    !parse_names_product(st)) {
		/* "ngoja nimuulize bibi kwanza": small talk, not a search (a product named or a
		 * quantity stays one: "cold brew coffee?", "twende na shea butter 3") */
		v->in = NLP_INTENT_UNKNOWN;
		v->conf = 0.3;
		v->implicit = 0;
		v->smalltalk = 1;
		return;
	}
	if ((v->in != NLP_INTENT_UNKNOWN && parse_product_intent(top) &&
	     !parse_product_intent(v->in) && st->ncontent == 0 && !st->ref) ||
	    (top == NLP_INTENT_CLEAR_CART && out->product[0] && p[top] < PARSE_CLF_TIE))
		return; /* the model's reading has nothing to act on ("i no want the order
			   again" is no removal) or a product ("futa shea butter kwa cart" is no
			   emptying, unless the model is very sure: "kila item", "all the things
			   i added" are no product): the rules' stays */
	if (mid && top == NLP_INTENT_UNKNOWN && p[top] >= PARSE_CLF_CHATKW &&
	    !(parse_product_intent(v->in) && out->product[0])) {
		/* a keyword in small talk the model knows ("nimechoka na kazi leo" is no
		 * complaint, "uko single?" no browsing) */
		v->in = NLP_INTENT_UNKNOWN;
		v->conf = 0.3;
		v->smalltalk = 1;
		return;
	}
	if (mid) {
		/* a keyword the rules read (since the sixth round, however surely) yields only
		 * to a model that is sure of another intent (PARSE_CLF_STRONG; until the sixth
		 * round 0.9, and only for an intent that matters at least as much), a product
		 * intent never to another one, and a question about a shop topic or a product
		 * intent with a product and a quantity named only to a model very sure of another
		 * (PARSE_CLF_TIE: "add 2 honey and checkout" adds first; "do you refund if it arrives damaged" asks
		 * about returns, a long story of waiting that ends "any idea where it is?" asks
		 * after the order) */
		if (top != NLP_INTENT_UNKNOWN && p[top] >= PARSE_CLF_STRONG &&
		    !(parse_product_intent(v->in) && out->product[0] && v->qty &&
		      p[top] < PARSE_CLF_TIE) &&
		    !(parse_product_intent(v->in) && parse_product_intent(top)) &&
		    !(PARSE_MID_PRODUCT && !parse_product_intent(v->in) &&
		      parse_product_intent(top) && p[top] < PARSE_CLF_TIE) &&
		    !(PARSE_MID_RANK && parse_rank(top) > parse_rank(v->in)) &&
		    !(v->in == NLP_INTENT_QUESTION && st->topics && p[top] < PARSE_CLF_TIE)) {
			v->in = top;
			v->conf = p[top];
		}
		return;
	}
	if (top != NLP_INTENT_UNKNOWN &&
	    p[top] >= (v->in == NLP_INTENT_UNKNOWN ? PARSE_CLF_ACCEPT
			: v->implicit && st->ncontent >= PARSE_LONGP ? PARSE_CLF_LONGP
			: v->implicit		  ? PARSE_CLF_PHRASE
						  : PARSE_CLF_OVERRIDE) &&
	    !(v->implicit && parse_product_intent(top)) &&
	    !(v->in == NLP_INTENT_UNKNOWN && parse_product_intent(top) && st->clause &&
	      st->ncontent > 0 && p[top] < PARSE_CLF_PRODUCT)) {
		v->in = top;
		v->conf = p[top];
		v->implicit = 0;
		return;
	}
	if (v->implicit)
		return; /* "red mugs": a search unless clearly something else */
	/* unsure: the two likeliest intents (the rules' own counts with its confidence) */
	for (int c = 0; c < NLP_INTENT_COUNT; c++)
		rank[c] = c == NLP_INTENT_UNKNOWN ? -1.0 : p[c];
	if (v->in != NLP_INTENT_UNKNOWN && rank[v->in] < v->conf)
		rank[v->in] = v->conf;
	for (size_t k = 0; k < NLP_ALTS; k++) {
		int best = -1;
		for (int c = 1; c < NLP_INTENT_COUNT; c++)
			if (rank[c] >= 0.0 && (best < 0 || rank[c] > rank[best]))
				best = c;
		if (best < 0 || rank[best] < (k == 0 ? PARSE_CLF_ALT : PARSE_CLF_ALT2))
			break;
		out->alt[k] = (enum nlp_intent)best;
		out->alt_confidence[k] = parse_round(rank[best]);
		rank[best] = -1.0;
		na++;
	}
	if (na >= 1 && out->product[0] &&
	    (out->alt[0] == NLP_INTENT_SEARCH || out->alt[0] == NLP_INTENT_ADD_TO_CART) &&
	    (na == 1 || out->alt[1] == NLP_INTENT_REMOVE_FROM_CART ||
	     out->alt_confidence[1] < PARSE_CLF_ALT)) {
		/* a product named in a sentence the reader cannot read ("tell me about the
		 * honey"): to look at it or to buy it (not to take it out of a cart, nor an
		 * unlikely other intent) */
		enum nlp_intent other = out->alt[0] == NLP_INTENT_SEARCH ? NLP_INTENT_ADD_TO_CART
									 : NLP_INTENT_SEARCH;
		out->alt[1] = other;
		out->alt_confidence[1] = parse_round(p[other] > 0.01 ? p[other] : 0.01);
		na = 2;
	}
	if (na > 0) {
		v->in = NLP_INTENT_UNKNOWN;
		if (v->conf > 0.3)
			v->conf = 0.3;
	}
}

/* Whether the conversation waits for a number or a choice: a number is then the answer. */
static int parse_answer_expected(enum nlp_expect ex)
{
	return ex == NLP_EXPECT_QUANTITY || ex == NLP_EXPECT_CHOICE;
}

/* Intents that are about an order already placed. */
static int parse_order_intent(enum nlp_intent in)
{
	return in == NLP_INTENT_ORDER_STATUS || in == NLP_INTENT_CANCEL_ORDER ||
	       in == NLP_INTENT_COMPLAINT;
}

/* Intents an answer to "how many?", "which one?" or "how will you pay?" may be worded with:
 * "make it four", "nataka ile ya pili", "ok 2", "i'll go with the second one". Any other
 * intent word (cancel, help, a person, a question) is a new request, not the answer. */
static int parse_answer_intent(enum nlp_intent in)
{
	return in == NLP_INTENT_UNKNOWN || in == NLP_INTENT_ADD_TO_CART ||
	       in == NLP_INTENT_CONFIRM || in == NLP_INTENT_SEARCH || in == NLP_INTENT_BROWSE;
}

/* Order numbers: "#1042", "order 1042", "oda namba 1042"; the first goes to the reading. */
static void parse_order_numbers(struct parse_state *st, const struct parse_verdict *v,
				struct nlp_reading *out)
{
	enum nlp_expect ex = st->expect;

	for (size_t k = 0; k < st->nnums; k++) {
		struct parse_num *pn = &st->nums[k];
		size_t p = parse_prev_key(st, pn->head), nx = parse_next_key(st, pn->last + 1);
		if (pn->amount && st->t[pn->head].prefix != '#')
			continue; /* "sent ksh 3200": an amount */
		if (st->t[pn->head].prefix == '#')
			pn->order = 1;
		else if (p < st->n && st->t[p].orderref &&
			 (nx >= st->n || st->t[nx].role != ROLE_CONTENT) &&
			 !(parse_answer_expected(ex) && !parse_order_intent(v->in)))
			pn->order = 1; /* "number 2" answering "which one?" is a choice */
		else if (!pn->marked && pn->v >= 100 && !parse_answer_expected(ex) &&
			 (v->in == NLP_INTENT_ORDER_STATUS || v->in == NLP_INTENT_CANCEL_ORDER ||
			  v->in == NLP_INTENT_COMPLAINT))
			pn->order = 1;
		if (pn->order && !out->order_number && pn->v > 0)
			out->order_number = pn->v;
	}
}

/* The quantity among the numbers that are not order numbers: the first marked one ("x3",
 * "3 pcs"), else the first. "one" is a quantity before a product or alone ("one more"), not a
 * pronoun after a word ("the blue one", "the last one"). */
static void parse_quantity(struct parse_state *st, struct parse_verdict *v)
{
	enum nlp_expect ex = st->expect;

	for (size_t k = 0; k < st->nnums; k++) {
		struct parse_num *pn = &st->nums[k];
		size_t nx = pn->last + 1;
		int before = pn->head > 0 && (st->t[pn->head - 1].role == ROLE_STOP ||
					      st->t[pn->head - 1].role == ROLE_CONTENT);
		if (pn->amount && !pn->order)
			pn->dropped = 1; /* "ksh 3200", "two weeks" */
		if (pn->order || !pn->weak)
			continue;
		if (ex == NLP_EXPECT_QUANTITY || ex == NLP_EXPECT_CHOICE ||
		    (nx < st->n && st->t[nx].role == ROLE_CONTENT) ||
		    (st->ncontent == 0 && !before))
			continue;
		pn->dropped = 1;
	}
	for (size_t k = 0; k < st->nnums; k++) {
		struct parse_num *pn = &st->nums[k];
		if (pn->order || pn->dropped)
			continue;
		v->nnums++;
		if (!v->qty || (pn->marked && !v->qty->marked))
			v->qty = pn;
	}
}

/* Whether an order word ("order", "oda") is among the message's words. */
static int parse_has_orderref(const struct parse_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->t[i].orderref)
			return 1;
	return 0;
}

/* Small talk ("lol", "brb", "ok cool", "sawa nitarudi baadaye", "nitakuambia baadaye"):
 * no more unknown words than chat words, and no intent word but a yes or no that answers
 * nothing, read as unknown, and the classifier is not asked. Greetings, thanks and every
 * action word stay ("lol thanks", "haha ok add 2 mugs"). A chat word also marks a sentence,
 * so its text is no product name. */
static void parse_smalltalk(const struct parse_state *st, struct parse_verdict *v)
{
	int yes_no = v->in == NLP_INTENT_CONFIRM || v->in == NLP_INTENT_DENY;

	if (!st->chat || v->free_text)
		return;
	if (st->ncontent <= (size_t)st->chat &&
	    (v->in == NLP_INTENT_UNKNOWN || (yes_no && st->expect != NLP_EXPECT_YES_NO))) {
		v->in = NLP_INTENT_UNKNOWN;
		v->conf = 0.3;
		v->smalltalk = 1;
	}
}

/* The intent from the scores and the product phrase, and how sure we are of it. */
static void parse_intent(const struct parse_state *st, struct parse_verdict *v,
			 const struct nlp_reading *out)
{
	enum nlp_expect ex = st->expect;

	if (v->in == NLP_INTENT_CLEAR_CART && out->product[0])
		v->in = NLP_INTENT_REMOVE_FROM_CART; /* "remove all mugs" */
	if (v->in == NLP_INTENT_BROWSE && out->product[0])
		v->in = NLP_INTENT_SEARCH; /* "show me mugs" */
	if ((v->in == NLP_INTENT_REMOVE_FROM_CART || v->in == NLP_INTENT_DENY ||
	     v->in == NLP_INTENT_CLEAR_CART) &&
	    !out->product[0] && !st->ref && ex != NLP_EXPECT_YES_NO && parse_has_orderref(st))
		v->in = NLP_INTENT_CANCEL_ORDER; /* "sitaki tena hiyo oda", "remove my order",
						    "ile order yangu ifute" */
	if (v->in == NLP_INTENT_SEARCH && !out->product[0] && !st->ref)
		v->in = NLP_INTENT_BROWSE; /* "what products do you have": nothing to search for */
	if (v->in == NLP_INTENT_QUESTION && !st->topics && st->pay < 0 && out->product[0] &&
	    st->score[NLP_INTENT_SEARCH] > 0.0f)
		v->in = NLP_INTENT_SEARCH; /* "naomba kujua kama mna kikoi": asking for a product */
	if (v->bs < 0.75f && out->product[0] && !v->free_text && v->in != NLP_INTENT_QUESTION &&
	    v->in != NLP_INTENT_PAID) {
		if (v->qty && ex != NLP_EXPECT_CHOICE) {
			v->in = NLP_INTENT_ADD_TO_CART; /* "x3 honey pls" */
			v->implicit = 1;
		} else if (st->ncontent <= 4 && !st->clause && !st->gibberish) {
			v->in = NLP_INTENT_SEARCH; /* "red mugs" */
			v->implicit = 1;
		}
	}
	if (v->implicit) {
		v->conf = v->in == NLP_INTENT_ADD_TO_CART ? 0.65 : 0.55;
	} else if (v->bs <= 0.0f) {
		v->in = NLP_INTENT_UNKNOWN;
		v->conf = 0.0;
		if (out->order_number && !v->free_text) {
			v->in = NLP_INTENT_ORDER_STATUS; /* "#1042" */
			v->conf = 0.6;
		}
	} else {
		v->conf = (v->bs / (v->bs + v->ss)) * (1.0 - exp(-1.6 * v->bs));
		if (st->ncontent > 0 && !parse_product_intent(v->in))
			v->conf *= 0.85;
		if (v->in == NLP_INTENT_PAID && st->payref)
			v->conf = 0.95; /* a transaction code, pasted or typed */
		if (v->in == NLP_INTENT_QUESTION && !st->topics && st->pay < 0 && v->bs < 0.75f) {
			v->in = NLP_INTENT_UNKNOWN; /* "who are you": a question, but about what? */
			v->conf = 0.3;
		}
		if ((v->in == NLP_INTENT_GREET || v->in == NLP_INTENT_THANKS ||
		     v->in == NLP_INTENT_CONFIRM || v->in == NLP_INTENT_DENY) &&
		    st->ncontent >= 2) {
			v->in = NLP_INTENT_UNKNOWN; /* small talk around something we cannot read */
			v->conf = 0.3;
		}
	}
	parse_smalltalk(st, v);
}

/* A bare answer to what the conversation expects reads as UNKNOWN with the entity filled. */
static void parse_expected(const struct parse_state *st, struct parse_verdict *v,
			   struct nlp_reading *out)
{
	enum nlp_expect ex = st->expect;

	switch (ex) {
	case NLP_EXPECT_QUANTITY:
		if (v->qty && st->ncontent == 0 && (v->bs < 0.75f || parse_answer_intent(v->in))) {
			v->in = NLP_INTENT_UNKNOWN;
			v->conf = 0.9;
		}
		break;
	case NLP_EXPECT_CHOICE:
		if ((st->ordinal > 0 || v->qty) && st->ncontent == 0 &&
		    (v->bs < 0.75f || parse_answer_intent(v->in))) {
			long c = st->ordinal > 0 ? st->ordinal : v->qty->v;
			if (c >= 1 && c <= NLP_QTY_MAX) {
				out->choice = c;
				v->in = NLP_INTENT_UNKNOWN;
				v->conf = 0.9;
				out->quantity_state = NLP_QTY_NONE;
				out->quantity = 0;
			}
		}
		break;
	case NLP_EXPECT_PAYMENT:
		/* a method named is the answer ("nitalipa kwa mpesa", "cash when it arrives")
		 * unless the message asks or reports something else ("do you take mpesa?",
		 * "nimelipa na mpesa", "cancel") */
		if (st->pay >= 0 && v->in != NLP_INTENT_QUESTION && v->in != NLP_INTENT_PAID &&
		    v->in != NLP_INTENT_CANCEL_ORDER && v->in != NLP_INTENT_HUMAN &&
		    v->in != NLP_INTENT_COMPLAINT && v->in != NLP_INTENT_HELP &&
		    v->in != NLP_INTENT_DENY) {
			v->in = NLP_INTENT_UNKNOWN;
			v->conf = 0.9;
		}
		break;
	case NLP_EXPECT_NAME:
	case NLP_EXPECT_ADDRESS:
	case NLP_EXPECT_PHONE:
		/* the text is an answer unless it is only a command: "menu", "cancel", or a
		 * question about a shop topic with a question mark ("kabla nikupe location,
		 * mnaleta mpaka ngong?": no address ends so); a phone number given when one is
		 * asked is the answer ("call me on 0722334455") */
		if ((!(v->bs >= 1.0f && st->ncontent == 0 && v->nnums == 0 && !v->implicit) &&
		     !(v->in == NLP_INTENT_QUESTION && st->topics && st->qmark && v->bs >= 1.0f &&
		       !out->phone[0])) ||
		    (ex == NLP_EXPECT_PHONE && out->phone[0])) {
			v->in = NLP_INTENT_UNKNOWN;
			v->conf = (ex == NLP_EXPECT_PHONE && out->phone[0]) ? 0.9 : 0.0;
			out->quantity_state = NLP_QTY_NONE;
			out->quantity = 0;
			out->order_number = 0;
		}
		break;
	default:
		break;
	}
}

/* The topic of a question, and for delivery questions the place (the words the lexicon does
 * not know: "mombasa" in "do you deliver to Mombasa?"). Reads out->product before it is
 * cleared. */
static void parse_topic(const struct parse_state *st, struct nlp_reading *out)
{
	unsigned t = st->topics;
	const char *topic = "other";
	int delivery = 0;

	if (t & (1u << NLP_LEX_TOPIC_DELIVERY)) {
		topic = (t & (1u << NLP_LEX_TOPIC_FEE))    ? "delivery_fee"
		      : (t & (1u << NLP_LEX_TOPIC_TIME)) ? "delivery_time"
							   : "delivery";
		delivery = 1;
	} else if (t & (1u << NLP_LEX_TOPIC_RETURNS)) {
		topic = "returns";
	} else if (t & (1u << NLP_LEX_TOPIC_HOURS)) {
		topic = "hours";
	} else if ((t & (1u << NLP_LEX_TOPIC_PAYMENT)) || st->pay >= 0) {
		topic = "payment";
	} else if (t & (1u << NLP_LEX_TOPIC_TIME)) {
		topic = "delivery_time"; /* "how many days?" */
		delivery = 1;
	}
	snprintf(out->topic, sizeof(out->topic), "%s", topic);
	if (delivery && out->product[0]) {
		size_t n = utf8_cut(out->product, strlen(out->product), sizeof(out->place) - 1);
		memcpy(out->place, out->product, n);
		out->place[n] = '\0';
	}
}

/* Greetings and thanks wrap a request ("hello good morning, please i want to ask if you
 * deliver to kisumu, thanks"): when another intent weighs at least 1, they step aside
 * (thanks not for help: "asante kwa msaada" is thanks), and so does "ok" before a clear
 * request (at least 1.5, or 1 with a number) when no yes or no is expected. */
static void parse_polite(struct parse_state *st)
{
	float act = 0.0f, act_help = 0.0f;

	for (int k = 0; k < NLP_INTENT_COUNT; k++) {
		if (k == NLP_INTENT_UNKNOWN || k == NLP_INTENT_GREET || k == NLP_INTENT_THANKS ||
		    k == NLP_INTENT_CONFIRM || k == NLP_INTENT_DENY)
			continue;
		if (st->score[k] > act_help)
			act_help = st->score[k];
		if (k != NLP_INTENT_HELP && st->score[k] > act)
			act = st->score[k];
	}
	if (act_help >= 1.0f)
		st->score[NLP_INTENT_GREET] *= PARSE_POLITE;
	if (act >= 1.0f)
		st->score[NLP_INTENT_THANKS] *= PARSE_POLITE;
	if ((act >= 1.5f || (act >= 1.0f && st->nnums > 0)) && st->expect != NLP_EXPECT_YES_NO)
		st->score[NLP_INTENT_CONFIRM] *= PARSE_POLITE; /* "alright, i'm ready to buy",
								  "sawa nipe 2", not "ndio nataka" */
}

/* The intent that weighs as much as the best one, when the two are different requests
 * ("nina shida, sielewi": complaint or help): both at least 1, the second at least
 * PARSE_RIVAL of the first (1: a tie). Greetings, thanks, yes and no are wrappers
 * (parse_polite), not rivals, and so is a question about a shop topic; UNKNOWN when there is
 * none. */
static enum nlp_intent parse_rival(const struct parse_state *st, enum nlp_intent best, float bs,
				   float ss)
{
	if (best == NLP_INTENT_UNKNOWN || ss < 1.0f || ss < PARSE_RIVAL * bs)
		return NLP_INTENT_UNKNOWN;
	if (st->topics && (best == NLP_INTENT_QUESTION || st->score[NLP_INTENT_QUESTION] == ss))
		return NLP_INTENT_UNKNOWN; /* a question about a topic: "is there a warranty on
					      the mugs" asks about the mugs */
	for (size_t k = 0; k < sizeof(parse_priority) / sizeof(parse_priority[0]); k++) {
		enum nlp_intent in = parse_priority[k];
		if (in == best || st->score[in] != ss)
			continue;
		if (in == NLP_INTENT_GREET || in == NLP_INTENT_THANKS || in == NLP_INTENT_CONFIRM ||
		    in == NLP_INTENT_DENY || best == NLP_INTENT_GREET ||
		    best == NLP_INTENT_THANKS || best == NLP_INTENT_CONFIRM ||
		    best == NLP_INTENT_DENY)
			return NLP_INTENT_UNKNOWN;
		return in;
	}
	return NLP_INTENT_UNKNOWN;
}

static void parse_decide(struct parse_state *st, struct nlp_reading *out)
{
	enum nlp_expect ex = st->expect;
	struct parse_verdict v;

	memset(&v, 0, sizeof(v));
	v.free_text = ex == NLP_EXPECT_NAME || ex == NLP_EXPECT_ADDRESS || ex == NLP_EXPECT_PHONE;
	parse_product(st, out->product, sizeof(out->product));
	if (st->ncontent > 0 || st->ref)
		for (int k = NLP_INTENT_SEARCH; k <= NLP_INTENT_REMOVE_FROM_CART; k++)
			if (st->score[k] > 0.0f)
				st->score[k] += 0.3f;
	if (st->topics && st->qphrases >= 2)
		st->score[NLP_INTENT_QUESTION] += PARSE_QUESTION_BONUS; /* "delivery fee?" */
	if ((st->topics & (1u << NLP_LEX_TOPIC_RETURNS)) &&
		 st->score[NLP_INTENT_QUESTION] >= 1.0f && st->score[NLP_INTENT_COMPLAINT] > 0.0f)
		st->score[NLP_INTENT_QUESTION] += st->score[NLP_INTENT_COMPLAINT]; /* asking about
		   returns for a problem: "can i exchange a shirt that doesnt fit" */
	if (st->payref)
		st->score[NLP_INTENT_PAID] += PARSE_PAYREF_WEIGHT;
	parse_polite(st);
	if (st->score[NLP_INTENT_DENY] > 0.0f && st->score[NLP_INTENT_REMOVE_FROM_CART] > 0.0f &&
	    ex != NLP_EXPECT_YES_NO) {
		/* "don't want": with a product a removal ("i don't want coffee"), without one
		 * (and no "it" or order named) a plain no ("sitaki") */
		if (st->ncontent > 0)
			st->score[NLP_INTENT_DENY] *= 0.5f;
		else if (!st->ref && !parse_has_orderref(st))
			st->score[NLP_INTENT_REMOVE_FROM_CART] *= 0.5f;
	}
	if (st->ncontent > 0 && st->score[NLP_INTENT_CHECKOUT] > 0.0f &&
	    (st->score[NLP_INTENT_ADD_TO_CART] >= 1.0f ||
	     st->score[NLP_INTENT_REMOVE_FROM_CART] >= 1.0f))
		st->score[NLP_INTENT_CHECKOUT] *= 0.5f; /* "add 2 honey and checkout": first */
	if (ex == NLP_EXPECT_YES_NO) {
		st->score[NLP_INTENT_CONFIRM] *= 1.5f;
		st->score[NLP_INTENT_DENY] *= 1.5f;
		if (st->score[NLP_INTENT_CANCEL_ORDER] >= 1.0f && parse_has_orderref(st))
			st->score[NLP_INTENT_DENY] = 0.0f; /* "no wait, cancel the whole order":
							      more than a no */
	}
	v.in = parse_best(st->score, &v.bs, &v.ss);
	v.rival = parse_rival(st, v.in, v.bs, v.ss);
	if (v.rival != NLP_INTENT_UNKNOWN && st->ncontent == 0 && !st->ref &&
	    parse_product_intent(v.in) != parse_product_intent(v.rival)) {
		/* "can i get some help", "get me an agent": a product intent with no product
		 * is no rival to the other request */
		if (parse_product_intent(v.in)) {
			v.in = v.rival;
			v.bs = v.ss;
		}
		v.ss = 0.0f;
		v.rival = NLP_INTENT_UNKNOWN;
	} else if (v.rival != NLP_INTENT_UNKNOWN && (st->ncontent > 0 || st->ref) &&
		   (v.in == NLP_INTENT_HELP || v.rival == NLP_INTENT_HELP) &&
		   parse_product_intent(v.in == NLP_INTENT_HELP ? v.rival : v.in)) {
		/* "help me add 2 ankara skirts", "nisaidie kupata olive wood spoon": asking
		 * for help with an action on a product named is that action */
		if (v.in == NLP_INTENT_HELP) {
			v.in = v.rival;
			v.bs = v.ss;
		}
		v.ss = 0.0f;
		v.rival = NLP_INTENT_UNKNOWN;
	}
	parse_order_numbers(st, &v, out);
	parse_quantity(st, &v);
	parse_intent(st, &v, out);
	if (v.qty) {
		out->quantity = v.qty->v;
		out->quantity_state = (v.qty->v >= 1 && v.qty->v <= NLP_QTY_MAX) ? NLP_QTY_OK
										  : NLP_QTY_INVALID;
	}
	parse_expected(st, &v, out);
	parse_fallback(st, &v, out);
	if (v.in == NLP_INTENT_QUESTION)
		parse_topic(st, out);
	if (!parse_product_intent(v.in) &&
	    !(v.in == NLP_INTENT_UNKNOWN && (parse_product_intent(out->alt[0]) ||
					    parse_product_intent(out->alt[1])))) {
		out->product[0] = '\0'; /* kept for a "did you mean" search or add */
		if (v.in != NLP_INTENT_UNKNOWN) {
			out->quantity_state = NLP_QTY_NONE;
			out->quantity = 0;
		}
	}
	if (st->pay >= 0)
		snprintf(out->payment, sizeof(out->payment), "%s", nlp_lex_payment_names[st->pay]);
	out->yes_no = (enum nlp_yes_no)st->yes_no;
	out->intent = v.in;
	out->confidence = parse_round(v.conf);
}

void nlp_parse(const struct nlp *nlp, const char *text, size_t len, const char *lang_hint,
	       enum nlp_expect expect, struct nlp_reading *out)
{
	struct parse_state st;
	char norm[PARSE_NORM_MAX];
	struct nlp_token toks[NLP_TOKENS_MAX];
	size_t nn;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	memcpy(out->lang, "en", 3);
	if (lang_hint && (!strcmp(lang_hint, "en") || !strcmp(lang_hint, "sw")))
		memcpy(out->lang, lang_hint, 3);
	if (!nlp)
		return;
	if (!text)
		len = 0;
	len = utf8_cut(text, len, PARSE_IN_MAX); /* on a character boundary */
	nn = nlp_normalize(text, len, norm, sizeof(norm));

	memset(&st, 0, offsetof(struct parse_state, scratch));
	st.nscratch = 0;
	st.lex = &nlp->lex;
	st.expect = expect;
	st.qmark = len > 0 && memchr(text, '?', len) != NULL;
	st.pay = -1;
	st.n = nlp_text_tokenize(norm, nn, toks, NLP_TOKENS_MAX);
	st.toks = toks;
	st.ntoks = st.n;
	for (size_t i = 0; i < st.n; i++) {
		st.t[i].orig = toks[i].s;
		st.t[i].olen = toks[i].len;
		st.t[i].type = toks[i].type;
		st.t[i].prefix = toks[i].prefix;
		parse_resolve(&st, &st.t[i]);
	}
	parse_join(&st);
	parse_phrases(&st);
	parse_sizes(&st);
	parse_phone(&st, out);
	parse_payref(&st, out);
	for (size_t i = 0; i < st.n; i = parse_next(&st, i)) {
		if (st.t[i].role == ROLE_CONTENT) {
			st.ncontent++;
			st.gibberish |= parse_gibberish(st.t[i].orig, st.t[i].olen);
		} else if (st.t[i].role == ROLE_ORD && st.ordinal == 0) {
			st.ordinal = st.t[i].num;
		}
	}
	parse_numbers(&st);
	parse_decide(&st, out);
	parse_lang(&st, lang_hint, out);
}
