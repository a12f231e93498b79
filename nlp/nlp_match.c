/*
 * nlp_match.c: product matching. Scores catalog names against a shopper's product phrase
 * by token similarity (plural-insensitive, typo-tolerant) and character trigrams, so
 * "red mugg" finds "Red Ceramic Mug" and "honey" finds "Organic Honey 500g". Stack
 * buffers only; safe to call from many threads.
 */
#include "nlp.h"
#include "nlp_match_internal.h"

#include <string.h>

#define MATCH_TEXT_MAX 256
#define MATCH_TOKENS_MAX 16
#define MATCH_TOKEN_LEN 32
#define MATCH_TRIGRAMS_MAX 96

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

static void match_text_build(const char *text, struct match_text *t)
{
	char norm[MATCH_TEXT_MAX];
	size_t n = nlp_normalize(text, text ? strnlen(text, MATCH_TEXT_MAX * 4) : 0, norm,
				 sizeof(norm));
	size_t i = 0;

	t->nw = 0;
	t->nsquash = 0;
	while (i < n) {
		size_t start;
		while (i < n && !match_is_alnum_byte((unsigned char)norm[i]))
			i++;
		start = i;
		while (i < n && match_is_alnum_byte((unsigned char)norm[i])) {
			if (t->nsquash + 1 < sizeof(t->squash))
				t->squash[t->nsquash++] = norm[i];
			i++;
		}
		if (i > start && t->nw < MATCH_TOKENS_MAX) {
			struct match_word *w = &t->w[t->nw++];
			w->len = min_sz(i - start, MATCH_TOKEN_LEN - 1);
			memcpy(w->s, norm + start, w->len);
			w->s[w->len] = '\0';
			match_stem(w);
		}
	}
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

static double match_score(const struct match_text *p, const unsigned *ptri, size_t nptri,
			  const struct match_text *c)
{
	unsigned ctri[MATCH_TRIGRAMS_MAX];
	size_t nctri;
	double recall = 0.0, precision = 0.0, wsum = 0.0, score;

	if (p->nw == 0 || c->nw == 0)
		return 0.0;
	if (p->nsquash == c->nsquash && memcmp(p->squash, c->squash, p->nsquash) == 0)
		return 1.0;
	for (size_t i = 0; i < p->nw; i++) {
		double best = 0.0, w = (p->w[i].s[0] >= '0' && p->w[i].s[0] <= '9') ? 0.5 : 1.0;
		for (size_t j = 0; j < c->nw; j++) {
			double s = match_word_sim(&p->w[i], &c->w[j]);
			if (s > best)
				best = s;
		}
		recall += best * w;
		wsum += w;
	}
	recall /= wsum;
	for (size_t j = 0; j < c->nw; j++) {
		double best = 0.0;
		for (size_t i = 0; i < p->nw; i++) {
			double s = match_word_sim(&p->w[i], &c->w[j]);
			if (s > best)
				best = s;
		}
		precision += best;
	}
	precision /= (double)c->nw;
	nctri = match_trigrams(c->squash, c->nsquash, ctri);
	score = 0.65 * recall + 0.15 * precision +
		0.20 * match_trigram_dice(ptri, nptri, ctri, nctri);
	return score > 1.0 ? 1.0 : score;
}

size_t nlp_match_products(const char *phrase, const char *const *names, size_t nnames,
			  double min_score, struct nlp_match *out, size_t max)
{
	struct match_text p, c;
	unsigned ptri[MATCH_TRIGRAMS_MAX];
	size_t nptri, nout = 0;

	if (!phrase || !names || !out || max == 0)
		return 0;
	match_text_build(phrase, &p);
	if (p.nw == 0)
		return 0;
	nptri = match_trigrams(p.squash, p.nsquash, ptri);
	for (size_t k = 0; k < nnames; k++) {
		double s;
		size_t pos;

		if (!names[k])
			continue;
		match_text_build(names[k], &c);
		s = match_score(&p, ptri, nptri, &c);
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
