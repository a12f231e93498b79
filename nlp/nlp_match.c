/*
 * nlp_match.c: product matching. Scores catalog names against a shopper's product phrase
 * by token similarity (plural-insensitive, typo-tolerant) and character trigrams, so
 * "red mugg" finds "Red Ceramic Mug" and "honey" finds "Organic Honey 500g". With the
 * lexicon, each phrase word may also stand for its synonyms ("asali" for "honey") and its
 * singular under the plural prefix rules ("vikoi" for "kikoi"). Stack buffers only; safe
 * to call from many threads.
 */
#include "nlp.h"
#include "nlp_lexicon_internal.h"
#include "nlp_match_internal.h"

#include <string.h>

#define MATCH_TEXT_MAX 256
#define MATCH_TOKENS_MAX 16
#define MATCH_TOKEN_LEN 32
#define MATCH_TRIGRAMS_MAX 96
#define MATCH_ALTS_MAX 6       /* meanings of one phrase word or phrase */
#define MATCH_ALT_WORDS_MAX 32 /* words of all the meanings of a phrase */

struct match_word {
	char s[MATCH_TOKEN_LEN];
	size_t len;
};

struct match_text {
	struct match_word w[MATCH_TOKENS_MAX];
	size_t nw;
	char squash[MATCH_TEXT_MAX]; /* letters and digits only: "t-shirt" == "tshirt" */
	size_t nsquash;
};

/* Another meaning of some phrase words: the words alt[first .. first + n). exact: counts
 * only where a name has the very word (a singular made by a prefix rule). */
struct match_alt {
	unsigned char first, n, exact;
};

/* Phrase words w[first .. first + n) read as one: a word, or a synonym's phrase
 * ("majani ya chai"), with its other meanings. */
struct match_slot {
	unsigned char first, n, nalt, stop; /* stop: a function word ("ya", "in", "size") */
	struct match_alt alt[MATCH_ALTS_MAX];
};

struct match_phrase {
	struct match_text t;
	struct match_slot slot[MATCH_TOKENS_MAX];
	size_t nslot;
	struct match_word alt[MATCH_ALT_WORDS_MAX];
	size_t nalt;
	unsigned tri[MATCH_TRIGRAMS_MAX], tri2[MATCH_TRIGRAMS_MAX];
	size_t ntri, ntri2;
	char squash2[MATCH_TEXT_MAX]; /* each word replaced by its first other meaning */
	size_t nsquash2;
	int expanded;
};

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

int nlp_match_distance(const char *a, size_t alen, const char *b, size_t blen, int maxd)
{
	int prev2[NLP_DIST_MAX_LEN + 1], prev[NLP_DIST_MAX_LEN + 1], cur[NLP_DIST_MAX_LEN + 1];
	int diff = (int)alen - (int)blen;

	if (diff < 0)
		diff = -diff;
	if (diff > maxd || alen > NLP_DIST_MAX_LEN || blen > NLP_DIST_MAX_LEN)
		return maxd + 1;
	for (size_t j = 0; j <= blen; j++)
		prev[j] = (int)j;
	memset(prev2, 0, sizeof(prev2));
	for (size_t i = 1; i <= alen; i++) {
		int rowmin;
		cur[0] = (int)i;
		rowmin = cur[0];
		for (size_t j = 1; j <= blen; j++) {
			int cost = a[i - 1] == b[j - 1] ? 0 : 1;
			int v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
			if (v < rowmin)
				rowmin = v;
		}
		if (rowmin > maxd)
			return maxd + 1;
		memcpy(prev2, prev, sizeof(int) * (blen + 1));
		memcpy(prev, cur, sizeof(int) * (blen + 1));
	}
	return prev[blen] > maxd ? maxd + 1 : prev[blen];
}

/* English plural endings: mugs -> mug, dresses -> dress, berries -> berry. */
static void match_stem(struct match_word *w)
{
	size_t n = w->len;
	char *s = w->s;

	if (n > 4 && memcmp(s + n - 3, "ies", 3) == 0) {
		s[n - 3] = 'y';
		n -= 2;
	} else if (n > 4 && (memcmp(s + n - 4, "sses", 4) == 0 || memcmp(s + n - 4, "ches", 4) == 0 ||
			     memcmp(s + n - 4, "shes", 4) == 0 || memcmp(s + n - 3, "xes", 3) == 0)) {
		n -= 2;
	} else if (n > 3 && s[n - 1] == 's' && s[n - 2] != 's' && s[n - 2] != 'u' &&
		   s[n - 2] != 'i') {
		n -= 1;
	}
	s[n] = '\0';
	w->len = n;
}

static int match_is_alnum_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Splits normalized text (n bytes) into stemmed words; raw, when given, gets the words as
 * written (for lexicon look-ups). Appends letters and digits to squash when given. */
static size_t match_split(const char *norm, size_t n, struct match_word *w, size_t maxw,
			  struct match_word *raw, char *squash, size_t *nsquash, size_t squashlen)
{
	size_t i = 0, nw = 0;

	while (i < n) {
		size_t start;
		while (i < n && !match_is_alnum_byte((unsigned char)norm[i]))
			i++;
		start = i;
		while (i < n && match_is_alnum_byte((unsigned char)norm[i])) {
			if (squash && *nsquash + 1 < squashlen)
				squash[(*nsquash)++] = norm[i];
			i++;
		}
		if (i > start && nw < maxw) {
			struct match_word *mw = &w[nw];
			mw->len = min_sz(i - start, MATCH_TOKEN_LEN - 1);
			memcpy(mw->s, norm + start, mw->len);
			mw->s[mw->len] = '\0';
			if (raw)
				raw[nw] = *mw;
			match_stem(mw);
			nw++;
		}
	}
	return nw;
}

static void match_text_build(const char *text, struct match_text *t, struct match_word *raw)
{
	char norm[MATCH_TEXT_MAX];
	size_t n = nlp_normalize(text, text ? strnlen(text, MATCH_TEXT_MAX * 4) : 0, norm,
				 sizeof(norm));

	t->nsquash = 0;
	t->nw = match_split(norm, n, t->w, MATCH_TOKENS_MAX, raw, t->squash, &t->nsquash,
			    sizeof(t->squash));
	t->squash[t->nsquash] = '\0';
}

/* Similarity of two stemmed words, 0..1. */
static double match_word_sim(const struct match_word *a, const struct match_word *b)
{
	size_t lo = min_sz(a->len, b->len), hi = a->len + b->len - lo;
	int maxd, d;

	if (a->len == b->len && memcmp(a->s, b->s, a->len) == 0)
		return 1.0;
	if (lo >= 3 && memcmp(a->s, b->s, lo) == 0) /* "mugg" ~ "mug", "choc" ~ "chocolate" */
		return 0.5 + 0.5 * (double)lo / (double)hi;
	if (hi <= 3)
		return 0.0;
	maxd = hi <= 5 ? 1 : hi <= 8 ? 2 : 3;
	d = nlp_match_distance(a->s, a->len, b->s, b->len, maxd);
	if (d > maxd)
		return 0.0;
	return 1.0 - (double)d / (double)hi;
}

static size_t match_trigrams(const char *s, size_t n, unsigned tri[MATCH_TRIGRAMS_MAX])
{
	char buf[MATCH_TEXT_MAX + 2];
	size_t m = 0;

	if (n == 0)
		return 0;
	n = min_sz(n, MATCH_TEXT_MAX - 1);
	buf[0] = '^';
	memcpy(buf + 1, s, n);
	buf[n + 1] = '$';
	for (size_t i = 0; i + 3 <= n + 2 && m < MATCH_TRIGRAMS_MAX; i++)
		tri[m++] = (unsigned)(unsigned char)buf[i] << 16 |
			   (unsigned)(unsigned char)buf[i + 1] << 8 | (unsigned char)buf[i + 2];
	return m;
}

/* Dice coefficient of the two trigram multisets. */
static double match_trigram_dice(const unsigned *a, size_t na, const unsigned *b, size_t nb)
{
	unsigned char used[MATCH_TRIGRAMS_MAX] = { 0 };
	size_t common = 0;

	if (na == 0 || nb == 0)
		return 0.0;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (!used[j] && a[i] == b[j]) {
				used[j] = 1;
				common++;
				break;
			}
	return 2.0 * (double)common / (double)(na + nb);
}

/* Adds to slot sl a meaning made of the normalized text (n bytes). */
static void match_alt_add(struct match_phrase *p, struct match_slot *sl, const char *text,
			  size_t n, int exact)
{
	struct match_alt *a;
	size_t nw;

	if (sl->nalt >= MATCH_ALTS_MAX || p->nalt >= MATCH_ALT_WORDS_MAX)
		return;
	nw = match_split(text, n, p->alt + p->nalt, MATCH_ALT_WORDS_MAX - p->nalt, NULL, NULL,
			 NULL, 0);
	if (nw == 0)
		return;
	a = &sl->alt[sl->nalt++];
	a->first = (unsigned char)p->nalt;
	a->n = (unsigned char)nw;
	a->exact = (unsigned char)exact;
	p->nalt += nw;
	p->expanded = 1;
}

/* Adds the synonyms of the lexicon phrase ph, if any; returns how many. */
static size_t match_syn_add(const struct nlp_lexicon *lex, const struct nlp_lex_phrase *ph,
			    struct match_phrase *p, struct match_slot *sl)
{
	size_t k = 0;

	if (!ph)
		return 0;
	for (uint32_t e = ph->first; e != NLP_LEX_NONE; e = lex->entries[e].next) {
		const char *t = lex->strings + lex->entries[e].value;
		if (lex->entries[e].kind != NLP_LEX_SYN)
			continue;
		match_alt_add(p, sl, t, strlen(t), 0);
		k++;
	}
	return k;
}

static const struct nlp_lex_phrase *match_lex_find(const struct nlp_lexicon *lex,
						   const struct match_word *w, size_t n)
{
	const char *s[NLP_LEX_PHRASE_TOKENS_MAX];
	unsigned short l[NLP_LEX_PHRASE_TOKENS_MAX];
	uint32_t h = NLP_LEX_HASH_INIT;

	for (size_t k = 0; k < n; k++) {
		s[k] = w[k].s;
		l[k] = (unsigned short)w[k].len;
		if (k > 0)
			h = nlp_lexicon_hash(h, " ", 1);
		h = nlp_lexicon_hash(h, s[k], l[k]);
	}
	return nlp_lexicon_find(lex, h, s, l, n);
}

/* A function word of the lexicon (stop, ref, conj or size): not a product word. */
static int match_is_stop(const struct nlp_lexicon *lex, const struct nlp_lex_phrase *ph)
{
	return nlp_lexicon_entry(lex, ph, NLP_LEX_STOP) || nlp_lexicon_entry(lex, ph, NLP_LEX_REF) ||
	       nlp_lexicon_entry(lex, ph, NLP_LEX_CONJ) || nlp_lexicon_entry(lex, ph, NLP_LEX_SIZE);
}

/* Cuts the phrase into slots: the longest phrase of the lexicon with synonyms, else one
 * word with the singulars its prefix rules give and their synonyms. */
static void match_expand(const struct nlp_lexicon *lex, struct match_phrase *p,
			 const struct match_word *raw)
{
	size_t i = 0;

	p->nslot = 0;
	p->nalt = 0;
	p->expanded = 0;
	while (i < p->t.nw) {
		struct match_slot *sl = &p->slot[p->nslot++];
		size_t maxn = min_sz(p->t.nw - i, NLP_LEX_PHRASE_TOKENS_MAX);

		sl->first = (unsigned char)i;
		sl->n = 1;
		sl->nalt = 0;
		sl->stop = 0;
		if (lex) {
			maxn = min_sz(maxn, lex->max_ntok);
			for (size_t n = maxn; n >= 1 && sl->nalt == 0; n--)
				if (match_syn_add(lex, match_lex_find(lex, raw + i, n), p, sl))
					sl->n = (unsigned char)n;
			if (sl->nalt == 0 && raw[i].len != p->t.w[i].len) /* "cups" -> "cup" */
				match_syn_add(lex, match_lex_find(lex, &p->t.w[i], 1), p, sl);
			if (sl->nalt == 0)
				sl->stop = match_is_stop(lex, match_lex_find(lex, raw + i, 1));
			for (size_t k = 0; sl->nalt == 0 && k < lex->naffix; k++) {
				struct match_word v;
				const struct nlp_lex_affix *a = &lex->affix[k];
				if (a->suffix)
					continue;
				v.len = nlp_lexicon_affix_apply(a, raw[i].s, raw[i].len, v.s,
								sizeof(v.s));
				if (v.len == 0)
					continue;
				match_alt_add(p, sl, v.s, v.len, 1); /* "vikoi" -> "kikoi" */
				match_syn_add(lex, match_lex_find(lex, &v, 1), p, sl);
			}
		}
		i += sl->n;
	}
	p->ntri = match_trigrams(p->t.squash, p->t.nsquash, p->tri);
	p->nsquash2 = 0;
	p->ntri2 = 0;
	if (!p->expanded)
		return;
	/* the phrase said with the first other meaning of each slot: "asali" -> "honey" */
	for (size_t k = 0; k < p->nslot; k++) {
		const struct match_slot *sl = &p->slot[k];
		const struct match_word *w = p->t.w + sl->first;
		size_t n = sl->n;
		if (sl->nalt > 0) {
			const struct match_alt *a = &sl->alt[0];
			for (size_t j = 1; a->exact && j < sl->nalt; j++)
				if (!sl->alt[j].exact)
					a = &sl->alt[j];
			w = p->alt + a->first;
			n = a->n;
		}
		for (size_t j = 0; j < n; j++) {
			size_t m = min_sz(w[j].len, sizeof(p->squash2) - 1 - p->nsquash2);
			memcpy(p->squash2 + p->nsquash2, w[j].s, m);
			p->nsquash2 += m;
		}
	}
	p->squash2[p->nsquash2] = '\0';
	p->ntri2 = match_trigrams(p->squash2, p->nsquash2, p->tri2);
}

static double match_score(const struct match_phrase *p, const struct match_text *c)
{
	double simw[MATCH_TOKENS_MAX][MATCH_TOKENS_MAX], sima[MATCH_ALT_WORDS_MAX][MATCH_TOKENS_MAX];
	double bestw[MATCH_TOKENS_MAX], besta[MATCH_ALT_WORDS_MAX];
	unsigned ctri[MATCH_TRIGRAMS_MAX];
	size_t nctri;
	double recall = 0.0, precision = 0.0, wsum = 0.0, score, tri;
	double recall_ns = 0.0, wsum_ns = 0.0; /* function words left out: "asali ya 1kg" */

	if (p->t.nw == 0 || c->nw == 0)
		return 0.0;
	if ((p->t.nsquash == c->nsquash && memcmp(p->t.squash, c->squash, c->nsquash) == 0) ||
	    (p->expanded && p->nsquash2 == c->nsquash &&
	     memcmp(p->squash2, c->squash, c->nsquash) == 0))
		return 1.0;
	for (size_t i = 0; i < p->t.nw; i++) {
		bestw[i] = 0.0;
		for (size_t j = 0; j < c->nw; j++) {
			simw[i][j] = match_word_sim(&p->t.w[i], &c->w[j]);
			if (simw[i][j] > bestw[i])
				bestw[i] = simw[i][j];
		}
	}
	for (size_t k = 0; k < p->nalt; k++) {
		besta[k] = 0.0;
		for (size_t j = 0; j < c->nw; j++) {
			sima[k][j] = match_word_sim(&p->alt[k], &c->w[j]);
			if (sima[k][j] > besta[k])
				besta[k] = sima[k][j];
		}
	}
	for (size_t s = 0; s < p->nslot; s++) {
		const struct match_slot *sl = &p->slot[s];
		double best = 0.0, w = 1.0;
		if (sl->n == 1 && p->t.w[sl->first].s[0] >= '0' && p->t.w[sl->first].s[0] <= '9')
			w = 0.5; /* digits count half */
		for (size_t i = sl->first; i < (size_t)sl->first + sl->n; i++)
			best += bestw[i];
		best /= (double)sl->n;
		for (size_t a = 0; a < sl->nalt; a++) {
			const struct match_alt *al = &sl->alt[a];
			double v = 0.0;
			for (size_t k = al->first; k < (size_t)al->first + al->n; k++)
				v += al->exact ? (besta[k] >= 1.0 ? 1.0 : 0.0) : besta[k];
			v /= (double)al->n;
			if (v > best)
				best = v;
		}
		recall += best * w;
		wsum += w;
		if (!sl->stop) {
			recall_ns += best * w;
			wsum_ns += w;
		}
	}
	recall /= wsum;
	if (wsum_ns > 0.0 && wsum_ns < wsum && recall_ns / wsum_ns > recall)
		recall = recall_ns / wsum_ns;
	for (size_t j = 0; j < c->nw; j++) {
		double best = 0.0;
		for (size_t i = 0; i < p->t.nw; i++)
			if (simw[i][j] > best)
				best = simw[i][j];
		for (size_t s = 0; s < p->nslot; s++)
			for (size_t a = 0; a < p->slot[s].nalt; a++) {
				const struct match_alt *al = &p->slot[s].alt[a];
				for (size_t k = al->first; k < (size_t)al->first + al->n; k++) {
					double v = al->exact ? (sima[k][j] >= 1.0 ? 1.0 : 0.0)
							     : sima[k][j];
					if (v > best)
						best = v;
				}
			}
		precision += best;
	}
	precision /= (double)c->nw;
	nctri = match_trigrams(c->squash, c->nsquash, ctri);
	tri = match_trigram_dice(p->tri, p->ntri, ctri, nctri);
	if (p->expanded) {
		double tri2 = match_trigram_dice(p->tri2, p->ntri2, ctri, nctri);
		if (tri2 > tri)
			tri = tri2;
	}
	score = 0.65 * recall + 0.15 * precision + 0.20 * tri;
	return score > 1.0 ? 1.0 : score;
}

size_t nlp_match_products_nlp(const struct nlp *nlp, const char *phrase,
			      const char *const *names, size_t nnames, double min_score,
			      struct nlp_match *out, size_t max)
{
	struct match_phrase p;
	struct match_word raw[MATCH_TOKENS_MAX];
	struct match_text c;
	size_t nout = 0;

	if (!phrase || !names || !out || max == 0)
		return 0;
	match_text_build(phrase, &p.t, raw);
	if (p.t.nw == 0)
		return 0;
	match_expand(nlp ? &nlp->lex : NULL, &p, raw);
	for (size_t k = 0; k < nnames; k++) {
		double s;
		size_t pos;

		if (!names[k])
			continue;
		match_text_build(names[k], &c, NULL);
		s = match_score(&p, &c);
		if (s < min_score || s <= 0.0)
			continue;
		/* insert keeping out[] sorted, best first; equal scores keep catalog order */
		pos = nout;
		while (pos > 0 && out[pos - 1].score < s)
			pos--;
		if (pos >= max)
			continue;
		if (nout < max)
			nout++;
		memmove(&out[pos + 1], &out[pos], (nout - 1 - pos) * sizeof(out[0]));
		out[pos].index = k;
		out[pos].score = s;
	}
	return nout;
}

size_t nlp_match_products(const char *phrase, const char *const *names, size_t nnames,
			  double min_score, struct nlp_match *out, size_t max)
{
	return nlp_match_products_nlp(NULL, phrase, names, nnames, min_score, out, max);
}
