/*
 * nlp_train.c: the build-time trainer of the intent classifier. Reads the labelled corpus
 * (tests/data/nlp/corpus.tsv; lines read with an expectation are answers, not intents, and
 * are left out), turns each message into the features of nlp_features.c, trains a
 * multinomial logistic regression (AdaGrad, L2, a fixed shuffle: the same corpus gives the
 * same model; the weights averaged over the second half of the epochs), fits the softmax
 * temperature on the out-of-fold scores of a 5-fold cross-validation, trains again on
 * everything and writes the model as a C table. Each message is also learnt in a few
 * variants the corpus lacks (a typo, a greeting or thanks around a request, an emoji), made
 * by a fixed generator, so the model reads the long tail of real chat.
 * usage: nlp_train CORPUS.tsv [MORE.tsv...] OUT.c
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nlp.h"
#include "nlp_features_internal.h"
#include "nlp_text_internal.h"

#define TRAIN_LINE_MAX 2048
#ifndef TRAIN_EPOCHS
#define TRAIN_EPOCHS   40 /* 60 in the fourth and fifth rounds: with twice the lines, 40 do
			     (60 in the eighth round: cross-validation 93.5%, not 93.7) */
#endif
#ifndef TRAIN_RATE
#define TRAIN_RATE     0.5
#endif
#ifndef TRAIN_L2
#define TRAIN_L2       3e-6 /* 3e-4 in the fourth and fifth rounds (steadier than 1e-5 on
			     1,500 lines); with 3,000, less L2 reads unseen lines better (3e-5
			     in the sixth round); with 5,000, 1e-5 (the seventh); with 7,000,
			     3e-6 (cross-validation 93.2 -> 93.7%; 1e-6 93.4%) */
#endif
#ifndef TRAIN_AUGMENT
#define TRAIN_AUGMENT  3 /* variants of each message learnt besides the message itself */
#endif
#define TRAIN_PRUNE    0.02 /* a feature whose weights are all smaller is left out */
#define TRAIN_NC       NLP_INTENT_COUNT
#define TRAIN_FOLDS    5 /* cross-validation folds for the temperature */
#ifndef TRAIN_SKIP_PRODUCT
#define TRAIN_SKIP_PRODUCT 1 /* leave the labelled product words out of the features */
#endif
#ifndef TRAIN_AVERAGE
#define TRAIN_AVERAGE  1 /* average the weights of the second half of the epochs */
#endif

struct example {
	uint32_t *feat; /* indexes into the vocabulary */
	size_t nfeat;
	int label;
	size_t origin; /* the corpus message it was made from (its own index for a message) */
	int variant;   /* 0: the message as written; else an augmented copy */
};

struct trainer {
	struct example *ex;
	size_t nex, capex;
	size_t nmsg; /* corpus messages (the examples that are not variants) */
	uint32_t *vocab; /* hash of each feature index */
	size_t nvocab, capvocab;
	uint32_t *table; /* open addressing: feature index + 1, 0 empty */
	size_t tmask;
};

static int train_vocab_grow(struct trainer *tr)
{
	size_t cap = tr->tmask ? (tr->tmask + 1) * 2 : 1u << 15;
	uint32_t *t = calloc(cap, sizeof(*t));

	if (!t)
		return -1;
	for (size_t i = 0; i < tr->nvocab; i++) {
		size_t p = tr->vocab[i] & (cap - 1);
		while (t[p])
			p = (p + 1) & (cap - 1);
		t[p] = (uint32_t)i + 1;
	}
	free(tr->table);
	tr->table = t;
	tr->tmask = cap - 1;
	return 0;
}

/* The vocabulary index of hash h, added when new; -1 when out of memory. */
static long train_vocab_id(struct trainer *tr, uint32_t h)
{
	size_t p;

	if (!tr->table || (tr->nvocab + 1) * 2 > tr->tmask + 1)
		if (train_vocab_grow(tr))
			return -1;
	p = h & tr->tmask;
	while (tr->table[p]) {
		if (tr->vocab[tr->table[p] - 1] == h)
			return tr->table[p] - 1;
		p = (p + 1) & tr->tmask;
	}
	if (tr->nvocab == tr->capvocab) {
		size_t cap = tr->capvocab ? tr->capvocab * 2 : 4096;
		uint32_t *v = realloc(tr->vocab, cap * sizeof(*v));
		if (!v)
			return -1;
		tr->vocab = v;
		tr->capvocab = cap;
	}
	tr->vocab[tr->nvocab] = h;
	tr->table[p] = (uint32_t)tr->nvocab + 1;
	return (long)tr->nvocab++;
}

static int train_label(const char *name)
{
	for (int k = 0; k < TRAIN_NC; k++)
		if (strcmp(name, nlp_intent_name((enum nlp_intent)k)) == 0)
			return k;
	return -1;
}

/* The words of the labelled product phrase ("honey" in "i no want the honey again") are
 * left out of a line's features: what a shopper wants done is in the other words, and a
 * product named in training would pull every later message naming it toward that line's
 * intent ("tell me about the honey" read as a removal). */
static size_t train_drop_product(struct nlp_token *toks, size_t n, const char *product)
{
	char pnorm[1024];
	struct nlp_token ptoks[64];
	size_t pn = nlp_normalize(product, strlen(product), pnorm, sizeof(pnorm));
	size_t np = nlp_text_tokenize(pnorm, pn, ptoks, 64), k = 0;

	for (size_t i = 0; i < n; i++) {
		int drop = 0;
		for (size_t j = 0; j < np && !drop; j++)
			drop = toks[i].len == ptoks[j].len &&
			       memcmp(toks[i].s, ptoks[j].s, toks[i].len) == 0 &&
			       toks[i].type == NLP_TOK_WORD;
		if (!drop)
			toks[k++] = toks[i];
	}
	return k;
}

static uint64_t train_rand(uint64_t *rng)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	return *rng;
}

/* Wrappers shoppers put around a request, by language; none is an intent of its own
 * strong enough to change what is asked. */
static const char *const train_pre_en[] = { "hi ", "hello ", "hey ", "good morning ",
	"please ", "pls ", "hi, ", "excuse me ", "hello there, ", "sorry, ", "boss " };
static const char *const train_post_en[] = { " please", " pls", " thanks", " thank you",
	" 🙏", " 😊", " asap", " now", " ok", "?", " boss", " thanx" };
static const char *const train_pre_sw[] = { "habari ", "sasa ", "niaje ", "mambo ", "boss ",
	"tafadhali ", "naomba ", "hello ", "hi ", "samahani ", "uko aje " };
static const char *const train_post_sw[] = { " tafadhali", " asante", " boss", " bana",
	" 🙏", " 😊", " sasa hivi", " please", " basi", " mkuu", " bro" };
static const char *const train_emoji[] = { " 🙏", " 😊", " 😂", " 👍", " 😅", "!!" };

#define TRAIN_PICK(a, rng) ((a)[train_rand(rng) % (sizeof(a) / sizeof((a)[0]))])

/* Whether the word text[at..at+len) is one of the labelled product's words. */
static int train_in_product(const char *text, size_t at, size_t len, const char *product)
{
	const char *p = product;

	if (strcmp(product, "-") == 0)
		return 0;
	while (*p) {
		size_t wl = strcspn(p, " ");
		if (wl == len && strncasecmp(p, text + at, len) == 0)
			return 1;
		p += wl;
		p += strspn(p, " ");
	}
	return 0;
}

/* One typo in a word of five or more ASCII letters (not its first letter, not a product
 * word): a letter dropped, doubled or swapped with the next, as thumbs do; shorter words
 * are left alone, as the reader does ("cat" is no typo of "cart"). 0 when done. */
static int train_typo(const char *text, const char *product, uint64_t *rng, char *out,
		      size_t outlen)
{
	size_t len = strlen(text), starts[64], lens[64], nw = 0, at, wl, pos;
	int kind;

	for (size_t i = 0; i < len && nw < 64;) {
		size_t j = i;
		while (j < len && ((text[j] >= 'a' && text[j] <= 'z') ||
				   (text[j] >= 'A' && text[j] <= 'Z')))
			j++;
		if (j - i >= 5 && (j == len || (unsigned char)text[j] < 0x80) &&
		    (i == 0 || (unsigned char)text[i - 1] < 0x80) &&
		    !train_in_product(text, i, j - i, product)) {
			starts[nw] = i;
			lens[nw++] = j - i;
		}
		i = j > i ? j : i + 1;
	}
	if (nw == 0 || len + 2 > outlen)
		return -1;
	pos = (size_t)(train_rand(rng) % nw);
	at = starts[pos];
	wl = lens[pos];
	pos = at + 1 + (size_t)(train_rand(rng) % (wl - 1)); /* never the first letter */
	kind = (int)(train_rand(rng) % 3);
	if (kind == 0) { /* dropped */
		memcpy(out, text, pos);
		memcpy(out + pos, text + pos + 1, len - pos);
	} else if (kind == 1) { /* doubled */
		memcpy(out, text, pos + 1);
		memcpy(out + pos + 1, text + pos, len - pos + 1);
	} else { /* swapped with the next letter (the last one with the one before) */
		if (pos + 1 >= at + wl)
			pos--;
		memcpy(out, text, len + 1);
		out[pos] = text[pos + 1];
		out[pos + 1] = text[pos];
		if (pos == at)
			return -1; /* the first letter moved: thumbs rarely do that */
	}
	return 0;
}

/* Variant v (1..TRAIN_AUGMENT) of a corpus message, into out; 0 when made, -1 when this
 * message has no such variant. 1: a typo; 2: a greeting, "please" or thanks around a
 * request (an emoji on a greeting, thanks, yes, no or small talk); 3: both. */
static int train_augment(const char *text, const char *product, const char *lang, int label,
			 int v, uint64_t *rng, char *out, size_t outlen)
{
	char typo[TRAIN_LINE_MAX + 8];
	int sw = strcmp(lang, "sw") == 0;
	int action = label != NLP_INTENT_GREET && label != NLP_INTENT_THANKS &&
		     label != NLP_INTENT_CONFIRM && label != NLP_INTENT_DENY &&
		     label != NLP_INTENT_UNKNOWN;

	if (v == 1 || v == 3) {
		if (train_typo(text, product, rng, typo, sizeof(typo)))
			return -1;
		text = typo;
	}
	if (v == 1)
		return snprintf(out, outlen, "%s", text) < (int)outlen ? 0 : -1;
	if (!action) /* a wrapper would change what these say; an emoji does not */
		return snprintf(out, outlen, "%s%s", text, TRAIN_PICK(train_emoji, rng)) <
			       (int)outlen ? 0 : -1;
	if (train_rand(rng) % 2)
		return snprintf(out, outlen, "%s%s", sw ? TRAIN_PICK(train_pre_sw, rng)
							: TRAIN_PICK(train_pre_en, rng), text) <
			       (int)outlen ? 0 : -1;
	return snprintf(out, outlen, "%s%s", text, sw ? TRAIN_PICK(train_post_sw, rng)
						      : TRAIN_PICK(train_post_en, rng)) <
		       (int)outlen ? 0 : -1;
}

/* Reads one labelled file, adding to what earlier files gave; rng is the augmentation's
 * generator, carried from file to file. 0 or -1 with a message on stderr. */
static int train_read(struct trainer *tr, const char *path, uint64_t *rngp)
{
	FILE *fp = fopen(path, "r");
	char line[TRAIN_LINE_MAX];
	size_t lineno = 0;
	int rc = -1;
	uint64_t rng = *rngp;

	if (!fp) {
		fprintf(stderr, "nlp_train: cannot open %s\n", path);
		return -1;
	}

	while (fgets(line, sizeof(line), fp)) {
		char *f[8], *p = line, norm[4096], alt[TRAIN_LINE_MAX + 64];
		struct nlp_token toks[NLP_TOKENS_MAX];
		uint32_t feat[NLP_FEAT_MAX];
		size_t nf = 0, nn, nt, nh, origin;
		struct example *e;
		int label;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || (line[0] == '#' && line[1] == ' '))
			continue;
		while (nf < 8) {
			f[nf++] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (nf < 7) {
			fprintf(stderr, "%s:%zu: expected 7 or 8 columns\n", path, lineno);
			goto out;
		}
		label = train_label(f[1]);
		if (label < 0) {
			fprintf(stderr, "%s:%zu: unknown intent '%s'\n", path, lineno, f[1]);
			goto out;
		}
		if (strcmp(f[6], "-") != 0)
			continue; /* an answer to a question the bot asked, not an intent */
		origin = tr->nmsg++;
		for (int v = 0; v <= TRAIN_AUGMENT; v++) {
			const char *text = f[0];
			if (v > 0) {
				if (train_augment(f[0], f[3], f[5], label, v, &rng, alt, sizeof(alt)))
					continue;
				text = alt;
			}
			nn = nlp_normalize(text, strlen(text), norm, sizeof(norm));
			nt = nlp_text_tokenize(norm, nn, toks, NLP_TOKENS_MAX);
			if (TRAIN_SKIP_PRODUCT && strcmp(f[3], "-") != 0 &&
			    label != NLP_INTENT_SEARCH)
				nt = train_drop_product(toks, nt, f[3]);
			nh = nlp_features(toks, nt, feat, NLP_FEAT_MAX);
			if (tr->nex == tr->capex) {
				size_t cap = tr->capex ? tr->capex * 2 : 1024;
				struct example *ne = realloc(tr->ex, cap * sizeof(*ne));
				if (!ne)
					goto nomem;
				tr->ex = ne;
				tr->capex = cap;
			}
			e = &tr->ex[tr->nex];
			e->feat = malloc((nh ? nh : 1) * sizeof(*e->feat));
			if (!e->feat)
				goto nomem;
			e->nfeat = nh;
			e->label = label;
			e->origin = origin;
			e->variant = v;
			tr->nex++;
			for (size_t i = 0; i < nh; i++) {
				long id = train_vocab_id(tr, feat[i]);
				if (id < 0)
					goto nomem;
				e->feat[i] = (uint32_t)id;
			}
		}
	}
	rc = 0;
	goto out;
nomem:
	fprintf(stderr, "nlp_train: out of memory\n");
out:
	*rngp = rng;
	fclose(fp);
	return rc;
}

/* Scores z of example e under weights w (nvocab x NC) and bias b. */
static void train_scores(const struct trainer *tr, const struct example *e, const double *w,
                         const double *b, double *z)
{
	double x = e->nfeat ? 1.0 / sqrt((double)e->nfeat) : 0.0;
	(void)tr;
	for (int c = 0; c < TRAIN_NC; c++)
		z[c] = b[c];
	for (size_t i = 0; i < e->nfeat; i++)
		for (int c = 0; c < TRAIN_NC; c++)
			z[c] += x * w[(size_t)e->feat[i] * TRAIN_NC + c];
}

static void train_softmax(const double *z, double t, double *p)
{
	double m = z[0], s = 0.0;
	for (int c = 1; c < TRAIN_NC; c++)
		if (z[c] > m)
			m = z[c];
	for (int c = 0; c < TRAIN_NC; c++) {
		p[c] = exp((z[c] - m) / t);
		s += p[c];
	}
	for (int c = 0; c < TRAIN_NC; c++)
		p[c] /= s;
}

/* Trains on the examples not in the held-back fold (k % TRAIN_FOLDS == fold; fold -1: all).
 * The weights returned are the average of those after each epoch of the second half
 * (Polyak averaging): one line more or less in the corpus moves them less than the last
 * epoch's, so the model and its calibration are steadier. */
static int train_fit(const struct trainer *tr, int fold, double *w, double *b)
{
	size_t nw = tr->nvocab * TRAIN_NC;
	double *gw = calloc(nw ? nw : 1, sizeof(*gw)), gb[TRAIN_NC] = {0};
	double *aw = calloc(nw ? nw : 1, sizeof(*aw)), ab[TRAIN_NC] = {0};
	size_t *order = malloc((tr->nex ? tr->nex : 1) * sizeof(*order));
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	int navg = 0;

	if (!gw || !aw || !order) {
		free(gw);
		free(aw);
		free(order);
		return -1;
	}
	memset(w, 0, nw * sizeof(*w));
	memset(b, 0, TRAIN_NC * sizeof(*b));
	for (size_t k = 0; k < tr->nex; k++)
		order[k] = k;
	for (int epoch = 0; epoch < TRAIN_EPOCHS; epoch++) {
		for (size_t k = tr->nex; k > 1; k--) { /* Fisher-Yates with a fixed generator */
			size_t j, tmp;
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			j = (size_t)(rng % k);
			tmp = order[k - 1];
			order[k - 1] = order[j];
			order[j] = tmp;
		}
		for (size_t k = 0; k < tr->nex; k++) {
			const struct example *e = &tr->ex[order[k]];
			double z[TRAIN_NC], p[TRAIN_NC], x;
			if (fold >= 0 && e->origin % TRAIN_FOLDS == (size_t)fold)
				continue; /* with its variants */
			train_scores(tr, e, w, b, z);
			train_softmax(z, 1.0, p);
			p[e->label] -= 1.0; /* gradient of the log loss by score */
			x = e->nfeat ? 1.0 / sqrt((double)e->nfeat) : 0.0;
			for (int c = 0; c < TRAIN_NC; c++) {
				gb[c] += p[c] * p[c];
				b[c] -= TRAIN_RATE * p[c] / sqrt(gb[c] + 1e-8);
			}
			for (size_t i = 0; i < e->nfeat; i++)
				for (int c = 0; c < TRAIN_NC; c++) {
					size_t at = (size_t)e->feat[i] * TRAIN_NC + c;
					double g = x * p[c] + TRAIN_L2 * w[at];
					gw[at] += g * g;
					w[at] -= TRAIN_RATE * g / sqrt(gw[at] + 1e-8);
				}
		}
		if (TRAIN_AVERAGE && epoch >= TRAIN_EPOCHS / 2) {
			for (size_t i = 0; i < nw; i++)
				aw[i] += w[i];
			for (int c = 0; c < TRAIN_NC; c++)
				ab[c] += b[c];
			navg++;
		}
	}
	if (navg > 0) {
		for (size_t i = 0; i < nw; i++)
			w[i] = aw[i] / navg;
		for (int c = 0; c < TRAIN_NC; c++)
			b[c] = ab[c] / navg;
	}
	free(gw);
	free(aw);
	free(order);
	return 0;
}

/* Out-of-fold scores: each example scored by the model trained without its fold, into
 * z (nex x NC). */
static int train_crossval(const struct trainer *tr, double *w, double *b, double *z)
{
	for (int fold = 0; fold < TRAIN_FOLDS; fold++) {
		if (train_fit(tr, fold, w, b))
			return -1;
		for (size_t k = 0; k < tr->nex; k++)
			if (tr->ex[k].origin % TRAIN_FOLDS == (size_t)fold)
				train_scores(tr, &tr->ex[k], w, b, z + k * TRAIN_NC);
	}
	return 0;
}

/* The temperature that minimizes the log loss of the out-of-fold scores; also their
 * accuracy. */
static double train_temperature(const struct trainer *tr, const double *zall, double *acc)
{
	double best_t = 1.0, best_nll = INFINITY;
	size_t right = 0;

	for (double t = 0.2; t <= 10.0; t *= 1.03) {
		double nll = 0.0;
		for (size_t k = 0; k < tr->nex; k++) {
			double p[TRAIN_NC];
			if (tr->ex[k].variant)
				continue; /* calibrated on the messages as written */
			train_softmax(zall + k * TRAIN_NC, t, p);
			nll -= log(p[tr->ex[k].label] + 1e-12);
		}
		if (nll < best_nll) {
			best_nll = nll;
			best_t = t;
		}
	}
	for (size_t k = 0; k < tr->nex; k++) {
		const double *z = zall + k * TRAIN_NC;
		int top = 0;
		if (tr->ex[k].variant)
			continue;
		for (int c = 1; c < TRAIN_NC; c++)
			if (z[c] > z[top])
				top = c;
		right += top == tr->ex[k].label;
	}
	*acc = tr->nmsg ? 100.0 * (double)right / (double)tr->nmsg : 0.0;
	return best_t;
}

struct train_kept {
	uint32_t hash, index;
};

static int train_cmp_kept(const void *a, const void *b)
{
	uint32_t x = ((const struct train_kept *)a)->hash, y = ((const struct train_kept *)b)->hash;
	return x < y ? -1 : x > y;
}

/* The open-addressing table of the kept features: slot (hash & mask, then the next ones)
 * holds the feature's index + 1, 0 for empty; at most half full. */
static int train_write_slots(FILE *fp, const struct train_kept *kept, size_t nkept)
{
	size_t cap = 16;
	uint32_t *slot;

	while (cap < nkept * 2)
		cap *= 2;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -1;
	for (size_t i = 0; i < nkept; i++) {
		size_t p = kept[i].hash & (cap - 1);
		while (slot[p])
			p = (p + 1) & (cap - 1);
		slot[p] = (uint32_t)i + 1;
	}
	fprintf(fp, "const uint32_t nlp_model_mask = %zuu;\nconst uint32_t nlp_model_slot[] = {",
	        cap - 1);
	for (size_t i = 0; i < cap; i++)
		fprintf(fp, "%s%u,", i % 12 ? " " : "\n\t", slot[i]);
	fprintf(fp, "\n};\n");
	free(slot);
	return 0;
}

static int train_write(const struct trainer *tr, const char *path, const double *w, const double *b,
                       double temp, double acc)
{
	FILE *fp = fopen(path, "w");
	struct train_kept *kept = malloc((tr->nvocab ? tr->nvocab : 1) * sizeof(*kept));
	size_t nkept = 0;
	int rc = -1;

	if (!fp || !kept) {
		fprintf(stderr, "nlp_train: cannot write %s\n", path);
		goto out;
	}
	for (size_t f = 0; f < tr->nvocab; f++) {
		int any = 0;
		for (int c = 0; c < TRAIN_NC; c++)
			any |= fabs(w[f * TRAIN_NC + c]) >= TRAIN_PRUNE;
		if (any) {
			kept[nkept].hash = tr->vocab[f];
			kept[nkept++].index = (uint32_t)f;
		}
	}
	qsort(kept, nkept, sizeof(*kept), train_cmp_kept);
	fprintf(fp,
	        "/* Generated by nlp_train from the labelled corpus: do not edit.\n"
	        " * %zu messages (%zu with their variants), %zu features kept of %zu;\n"
	        " * temperature %.4f fitted on the "
	        "out-of-fold\n * scores of a %d-fold cross-validation (accuracy there %.1f%%). */\n"
	        "#include \"nlp_model_internal.h\"\n\n",
	        tr->nmsg, tr->nex, nkept, tr->nvocab, temp, TRAIN_FOLDS, acc);
	fprintf(fp, "const size_t nlp_model_nfeat = %zu;\n", nkept);
	fprintf(fp, "const uint32_t nlp_model_hash[] = {");
	for (size_t i = 0; i < nkept; i++)
		fprintf(fp, "%s%uu,", i % 8 ? " " : "\n\t", kept[i].hash);
	fprintf(fp, "\n\t0u\n};\nconst float nlp_model_weight[] = {");
	for (size_t i = 0; i < nkept; i++)
		for (int c = 0; c < TRAIN_NC; c++)
			fprintf(fp, "%s%.4ff,", (i * TRAIN_NC + (size_t)c) % 8 ? " " : "\n\t",
			        w[(size_t)kept[i].index * TRAIN_NC + c]);
	fprintf(fp, "\n\t0.0f\n};\nconst float nlp_model_bias[NLP_INTENT_COUNT] = {");
	for (int c = 0; c < TRAIN_NC; c++)
		fprintf(fp, "%s%.4ff,", c % 8 ? " " : "\n\t", b[c]);
	fprintf(fp, "\n};\nconst float nlp_model_temperature = %.4ff;\n", temp);
	if (train_write_slots(fp, kept, nkept))
		goto out;
	if (ferror(fp)) {
		fprintf(stderr, "nlp_train: cannot write %s\n", path);
		goto out;
	}
	rc = 0;
out:
	if (fp && fclose(fp) != 0)
		rc = -1;
	free(kept);
	return rc;
}

int main(int argc, char **argv)
{
	struct trainer tr;
	double *w = NULL, *z = NULL, b[TRAIN_NC], temp, acc;
	uint64_t rng = 0x2545f4914f6cdd1dull;
	int rc = 1;

	memset(&tr, 0, sizeof(tr));
	if (argc < 3) {
		fprintf(stderr, "usage: nlp_train CORPUS.tsv [MORE.tsv...] OUT.c\n");
		return 2;
	}
	for (int a = 1; a < argc - 1; a++)
		if (train_read(&tr, argv[a], &rng))
			goto out;
	w = malloc((tr.nvocab ? tr.nvocab : 1) * TRAIN_NC * sizeof(*w));
	z = malloc((tr.nex ? tr.nex : 1) * TRAIN_NC * sizeof(*z));
	if (!w || !z || train_crossval(&tr, w, b, z)) {
		fprintf(stderr, "nlp_train: out of memory\n");
		goto out;
	}
	temp = train_temperature(&tr, z, &acc);
	if (train_fit(&tr, -1, w, b) || train_write(&tr, argv[argc - 1], w, b, temp, acc))
		goto out;
	printf("nlp_train: %zu messages (%zu with their variants), %zu features; %d-fold "
	       "cross-validation %.1f%%, temperature %.3f\n",
	       tr.nmsg, tr.nex, tr.nvocab, TRAIN_FOLDS, acc, temp);
	rc = 0;
out:
	for (size_t k = 0; k < tr.nex; k++)
		free(tr.ex[k].feat);
	free(tr.ex);
	free(tr.vocab);
	free(tr.table);
	free(w);
	free(z);
	return rc;
}
