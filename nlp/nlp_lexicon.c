/*
 * nlp_lexicon.c: loads the lexicon files (one *.tsv per language, named by its two-letter
 * code) into one hash table of canonical phrases, plus the plural rules (prefix, suffix), so
 * that a new language is a new file. Line format: phrase<TAB>kind[<TAB>value[<TAB>weight]];
 * '#' starts a comment line. Phrases pass through the same normalizer as shopper text, so
 * files may use any case.
 */
#include "nlp_lexicon_internal.h"
#include "nlp_match_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEX_FILE_MAX (4u << 20)
#define LEX_FILES_MAX 32
#define LEX_LINE_MAX 512

const char *const nlp_lex_payment_names[] = { "cash_on_delivery", "mpesa", "bank_transfer",
					      NULL };

static const char *const lex_kind_names[NLP_LEX_KIND_COUNT] = {
	[NLP_LEX_WORD] = "word",   [NLP_LEX_ALIAS] = "alias",   [NLP_LEX_INTENT] = "intent",
	[NLP_LEX_YES] = "yes",     [NLP_LEX_NO] = "no",         [NLP_LEX_NUM] = "num",
	[NLP_LEX_MUL] = "mul",     [NLP_LEX_COUNT] = "count",   [NLP_LEX_UNIT] = "unit",
	[NLP_LEX_ORD] = "ord",     [NLP_LEX_PAY] = "pay",       [NLP_LEX_STOP] = "stop",
	[NLP_LEX_REF] = "ref",     [NLP_LEX_ORDERREF] = "orderref", [NLP_LEX_CONJ] = "conj",
	[NLP_LEX_SYN] = "syn",     [NLP_LEX_SIZE] = "size",     [NLP_LEX_PREFIX] = "prefix",
	[NLP_LEX_SUFFIX] = "suffix", [NLP_LEX_TOPIC] = "topic",
};

const char *const nlp_lex_topic_names[] = { "delivery", "fee",	   "time",  "hours",
					    "payment",	"returns", "other", NULL };

struct lex_file {
	char name[64];
	char *data;
	size_t len;
	uint8_t lang;
};

__attribute__((format(printf, 3, 4))) static void lex_err(char *err, size_t errlen,
							   const char *fmt, ...)
{
	va_list ap;
	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

uint32_t nlp_lexicon_hash(uint32_t h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static int lex_grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;
	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * size);
	if (!np)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

static int lex_phrase_equal(const struct nlp_lexicon *lex, const struct nlp_lex_phrase *ph,
			    const char *const *w, const unsigned short *wlen, size_t n)
{
	const char *s = lex->strings + ph->off;
	size_t pos = 0;

	if (ph->ntok != n)
		return 0;
	for (size_t k = 0; k < n; k++) {
		if (k > 0) {
			if (pos >= ph->len || s[pos] != ' ')
				return 0;
			pos++;
		}
		if (pos + wlen[k] > ph->len || memcmp(s + pos, w[k], wlen[k]) != 0)
			return 0;
		pos += wlen[k];
	}
	return pos == ph->len;
}

const struct nlp_lex_phrase *nlp_lexicon_find(const struct nlp_lexicon *lex, uint32_t hash,
					      const char *const *w, const unsigned short *wlen,
					      size_t n)
{
	size_t i;
	if (!lex->table)
		return NULL;
	for (i = hash & lex->tmask; lex->table[i] != NLP_LEX_NONE; i = (i + 1) & lex->tmask) {
		const struct nlp_lex_phrase *ph = &lex->phrases[lex->table[i]];
		if (ph->hash == hash && lex_phrase_equal(lex, ph, w, wlen, n))
			return ph;
	}
	return NULL;
}

static int lex_table_rebuild(struct nlp_lexicon *lex, size_t size)
{
	uint32_t *t = malloc(size * sizeof(*t));
	if (!t)
		return -1;
	for (size_t i = 0; i < size; i++)
		t[i] = NLP_LEX_NONE;
	for (size_t p = 0; p < lex->nphrases; p++) {
		size_t i = lex->phrases[p].hash & (size - 1);
		while (t[i] != NLP_LEX_NONE)
			i = (i + 1) & (size - 1);
		t[i] = (uint32_t)p;
	}
	free(lex->table);
	lex->table = t;
	lex->tmask = size - 1;
	return 0;
}

static uint32_t lex_hash_words(const char *const *w, const unsigned short *wlen, size_t n)
{
	uint32_t h = NLP_LEX_HASH_INIT;
	for (size_t k = 0; k < n; k++) {
		if (k > 0)
			h = nlp_lexicon_hash(h, " ", 1);
		h = nlp_lexicon_hash(h, w[k], wlen[k]);
	}
	return h;
}

/* Finds or adds the phrase of words w; returns its index or -1 on allocation failure. */
static long lex_phrase_intern(struct nlp_lexicon *lex, const char *const *w,
			      const unsigned short *wlen, size_t n)
{
	uint32_t h = lex_hash_words(w, wlen, n);
	const struct nlp_lex_phrase *found = nlp_lexicon_find(lex, h, w, wlen, n);
	struct nlp_lex_phrase *ph;
	size_t total = 0;

	if (found)
		return (long)(found - lex->phrases);
	for (size_t k = 0; k < n; k++)
		total += wlen[k] + (k > 0);
	if (lex_grow((void **)&lex->strings, &lex->capstrings, lex->nstrings + total + 1, 1) ||
	    lex_grow((void **)&lex->phrases, &lex->capphrases, lex->nphrases + 1, sizeof(*ph)))
		return -1;
	ph = &lex->phrases[lex->nphrases];
	ph->off = (uint32_t)lex->nstrings;
	for (size_t k = 0; k < n; k++) {
		if (k > 0)
			lex->strings[lex->nstrings++] = ' ';
		memcpy(lex->strings + lex->nstrings, w[k], wlen[k]);
		lex->nstrings += wlen[k];
	}
	lex->strings[lex->nstrings++] = '\0';
	ph->len = (uint16_t)total;
	ph->ntok = (uint8_t)n;
	ph->hash = h;
	ph->first = NLP_LEX_NONE;
	lex->nphrases++;
	if (n > lex->max_ntok)
		lex->max_ntok = n;
	if (lex->nphrases * 2 > lex->tmask + 1 || !lex->table) {
		size_t size = lex->table ? (lex->tmask + 1) * 2 : 1024;
		if (lex_table_rebuild(lex, size))
			return -1;
	} else {
		size_t i = h & lex->tmask;
		while (lex->table[i] != NLP_LEX_NONE)
			i = (i + 1) & lex->tmask;
		lex->table[i] = (uint32_t)(lex->nphrases - 1);
	}
	return (long)(lex->nphrases - 1);
}

const struct nlp_lex_entry *nlp_lexicon_entry(const struct nlp_lexicon *lex,
					      const struct nlp_lex_phrase *ph, int kind)
{
	if (!ph)
		return NULL;
	for (uint32_t e = ph->first; e != NLP_LEX_NONE; e = lex->entries[e].next)
		if (lex->entries[e].kind == kind)
			return &lex->entries[e];
	return NULL;
}

/* Normalizes and tokenizes a phrase from a file, replacing aliased words. The words are
 * copied into out (outlen bytes), so they stay valid while the lexicon grows. */
static size_t lex_phrase_words(const struct nlp_lexicon *lex, const char *text, size_t len,
			       char *out, size_t outlen, const char **w, unsigned short *wlen)
{
	struct nlp_token toks[NLP_LEX_PHRASE_TOKENS_MAX + 1];
	char norm[LEX_LINE_MAX * 2];
	size_t n = nlp_normalize(text, len, norm, sizeof(norm));
	size_t nt = nlp_text_tokenize(norm, n, toks, NLP_LEX_PHRASE_TOKENS_MAX + 1);
	size_t o = 0;

	for (size_t k = 0; k < nt; k++) {
		const struct nlp_lex_phrase *ph;
		const struct nlp_lex_entry *alias;
		const char *s = toks[k].s;
		unsigned short sl = toks[k].len;

		ph = nlp_lexicon_find(lex, lex_hash_words(&s, &sl, 1), &s, &sl, 1);
		alias = ph ? nlp_lexicon_entry(lex, ph, NLP_LEX_ALIAS) : NULL;
		if (alias) {
			s = lex->strings + alias->value;
			sl = (unsigned short)strlen(s);
		}
		if (o + sl + 1 > outlen)
			return 0;
		memcpy(out + o, s, sl);
		w[k] = out + o;
		wlen[k] = sl;
		o += sl;
		out[o++] = '\0';
	}
	return nt;
}

static int lex_parse_value(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* One side of a plural rule: "vi-" (prefix) or "-ies" (suffix), or "-" for nothing. */
static int lex_affix_side(const char *s, int suffix, int may_be_empty, char *out, uint8_t *len)
{
	size_t n = strlen(s), a = suffix ? 1 : 0, b = suffix ? n : n - 1;

	if (n < 1 || (suffix ? s[0] != '-' : s[n - 1] != '-'))
		return -1;
	if (n == 1) { /* "-": nothing */
		out[0] = '\0';
		*len = 0;
		return may_be_empty ? 0 : -1;
	}
	if (b - a >= NLP_LEX_AFFIX_LEN)
		return -1;
	for (size_t i = a; i < b; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return -1;
	memcpy(out, s + a, b - a);
	out[b - a] = '\0';
	*len = (uint8_t)(b - a);
	return 0;
}

static int lex_affix_add(struct nlp_lexicon *lex, const struct lex_file *f, size_t lineno,
			 char *const *field, int kind, char *err, size_t errlen)
{
	struct nlp_lex_affix a;
	int suffix = kind == NLP_LEX_SUFFIX;

	memset(&a, 0, sizeof(a));
	if (!field[2] || (field[3] && *field[3]) ||
	    lex_affix_side(field[0], suffix, 0, a.from, &a.flen) ||
	    lex_affix_side(field[2], suffix, 1, a.to, &a.tlen)) {
		lex_err(err, errlen,
			"%s:%zu: a %s rule is %s<TAB>%s<TAB>%s (lowercase a-z, up to %d letters; "
			"'-' alone for nothing)",
			f->name, lineno, lex_kind_names[kind], suffix ? "-ies" : "vi-",
			lex_kind_names[kind], suffix ? "-y" : "ki-", NLP_LEX_AFFIX_LEN - 1);
		return -1;
	}
	if (lex->naffix >= NLP_LEX_AFFIX_MAX) {
		lex_err(err, errlen, "%s:%zu: more than %d prefix and suffix rules", f->name,
			lineno, NLP_LEX_AFFIX_MAX);
		return -1;
	}
	a.suffix = (uint8_t)suffix;
	a.lang = f->lang;
	lex->affix[lex->naffix++] = a;
	return 0;
}

size_t nlp_lexicon_affix_apply(const struct nlp_lex_affix *a, const char *s, size_t len,
			       char *out, size_t outlen)
{
	size_t keep, n;

	if (len < (size_t)a->flen + 3)
		return 0;
	keep = len - a->flen;
	n = keep + a->tlen;
	if (n + 1 > outlen)
		return 0;
	if (a->suffix) {
		if (memcmp(s + keep, a->from, a->flen) != 0)
			return 0;
		memcpy(out, s, keep);
		memcpy(out + keep, a->to, a->tlen);
	} else {
		if (memcmp(s, a->from, a->flen) != 0)
			return 0;
		memcpy(out, a->to, a->tlen);
		memcpy(out + a->tlen, s + a->flen, keep);
	}
	out[n] = '\0';
	return n;
}

/* Stores the normalized catalog word(s) of a synonym; returns the string offset or -1. */
static long lex_syn_target(struct nlp_lexicon *lex, const char *text)
{
	char norm[NLP_LEX_SYN_MAX];
	size_t n = nlp_normalize(text, strlen(text), norm, sizeof(norm)), has = 0;
	long off;

	for (size_t i = 0; i < n; i++)
		has |= (norm[i] >= 'a' && norm[i] <= 'z') || (norm[i] >= '0' && norm[i] <= '9');
	if (!has || n + 1 >= sizeof(norm))
		return -2;
	if (lex_grow((void **)&lex->strings, &lex->capstrings, lex->nstrings + n + 1, 1))
		return -1;
	off = (long)lex->nstrings;
	memcpy(lex->strings + lex->nstrings, norm, n + 1);
	lex->nstrings += n + 1;
	return off;
}

/* What a line says about its phrase: the kind, its value, the weight and flags. */
struct lex_def {
	int kind;
	long value;
	double weight;
	unsigned flags;
};

/* Splits line at tabs into up to four fields (unused ones stay NULL); returns how many. */
static size_t lex_fields(char *line, char *field[4])
{
	size_t nf = 0;
	char *p = line;

	while (nf < 4) {
		field[nf++] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p++ = '\0';
	}
	return nf;
}

/* The kind named s, or -1. */
static int lex_kind_find(const char *s)
{
	int kind = -1;

	for (int k = 0; k < NLP_LEX_KIND_COUNT; k++)
		if (strcmp(s, lex_kind_names[k]) == 0)
			kind = k;
	return kind;
}

/* The value column (field[2]) of a line of kind d->kind into d->value. */
static int lex_value(struct nlp_lexicon *lex, const struct lex_file *f, size_t lineno,
		     char *const *field, struct lex_def *d, char *err, size_t errlen)
{
	long idx;

	switch (d->kind) {
	case NLP_LEX_ALIAS: {
		const char *tw[NLP_LEX_PHRASE_TOKENS_MAX + 1];
		unsigned short twlen[NLP_LEX_PHRASE_TOKENS_MAX + 1];
		char tnorm[LEX_LINE_MAX * 2];
		if (!field[2] || lex_phrase_words(lex, field[2], strlen(field[2]), tnorm,
						  sizeof(tnorm), tw, twlen) != 1) {
			lex_err(err, errlen, "%s:%zu: an alias needs one replacement word",
				f->name, lineno);
			return -1;
		}
		idx = lex_phrase_intern(lex, tw, twlen, 1);
		if (idx < 0)
			goto nomem;
		d->value = (long)lex->phrases[idx].off;
		break;
	}
	case NLP_LEX_INTENT:
		d->value = -1;
		for (int k = 0; field[2] && k < NLP_INTENT_COUNT; k++)
			if (strcmp(field[2], nlp_intent_name((enum nlp_intent)k)) == 0)
				d->value = k;
		if (d->value < 0) {
			lex_err(err, errlen, "%s:%zu: unknown intent '%s'", f->name, lineno,
				field[2] ? field[2] : "");
			return -1;
		}
		break;
	case NLP_LEX_NUM:
	case NLP_LEX_MUL:
	case NLP_LEX_COUNT:
	case NLP_LEX_ORD:
		if (!field[2] || lex_parse_value(field[2], 0, 100000, &d->value)) {
			lex_err(err, errlen, "%s:%zu: '%s' needs a number from 0 to 100000",
				f->name, lineno, lex_kind_names[d->kind]);
			return -1;
		}
		break;
	case NLP_LEX_SYN:
		d->value = field[2] ? lex_syn_target(lex, field[2]) : -2;
		if (d->value == -1)
			goto nomem;
		if (d->value < 0) {
			lex_err(err, errlen,
				"%s:%zu: a synonym needs the catalog word(s) it means, up to "
				"%d bytes",
				f->name, lineno, NLP_LEX_SYN_MAX - 2);
			return -1;
		}
		break;
	case NLP_LEX_PAY:
		d->value = -1;
		for (int k = 0; field[2] && nlp_lex_payment_names[k]; k++)
			if (strcmp(field[2], nlp_lex_payment_names[k]) == 0)
				d->value = k;
		if (d->value < 0) {
			lex_err(err, errlen,
				"%s:%zu: payment must be cash_on_delivery, mpesa or bank_transfer",
				f->name, lineno);
			return -1;
		}
		break;
	case NLP_LEX_TOPIC:
		d->value = -1;
		for (int k = 0; field[2] && nlp_lex_topic_names[k]; k++)
			if (strcmp(field[2], nlp_lex_topic_names[k]) == 0)
				d->value = k;
		if (d->value < 0) {
			lex_err(err, errlen,
				"%s:%zu: topic must be delivery, fee, time, hours, payment, "
				"returns or other",
				f->name, lineno);
			return -1;
		}
		break;
	default:
		if (field[2] && *field[2]) {
			lex_err(err, errlen, "%s:%zu: kind '%s' takes no value (got '%s')",
				f->name, lineno, lex_kind_names[d->kind], field[2]);
			return -1;
		}
		break;
	}
	return 0;
nomem:
	lex_err(err, errlen, "%s:%zu: out of memory", f->name, lineno);
	return -1;
}

/* The weight column (field[3]): "weak", "clause", "chat", "amount" or a weight in (0, 10]. */
static int lex_weight(const struct lex_file *f, size_t lineno, const char *s,
		      struct lex_def *d, char *err, size_t errlen)
{
	char *end;

	if (!s || !*s)
		return 0;
	if (strcmp(s, "weak") == 0) {
		d->flags |= NLP_LEX_FLAG_WEAK;
	} else if (strcmp(s, "clause") == 0) {
		d->flags |= NLP_LEX_FLAG_CLAUSE;
	} else if (strcmp(s, "chat") == 0) {
		d->flags |= NLP_LEX_FLAG_CHAT;
	} else if (strcmp(s, "amount") == 0) {
		d->flags |= NLP_LEX_FLAG_AMOUNT;
	} else {
		d->weight = strtod(s, &end);
		if (*end || !(d->weight > 0.0 && d->weight <= 10.0)) {
			lex_err(err, errlen, "%s:%zu: weight must be a number in (0, 10]",
				f->name, lineno);
			return -1;
		}
	}
	return 0;
}

/* Interns the phrase (and each of its words) and appends the entry d to it, keeping file
 * order among the entries of one phrase. */
static int lex_entry_add(struct nlp_lexicon *lex, const struct lex_file *f, size_t lineno,
			 const char *phrase, const struct lex_def *d, char *err, size_t errlen)
{
	char norm[LEX_LINE_MAX * 2];
	const char *w[NLP_LEX_PHRASE_TOKENS_MAX + 1];
	unsigned short wlen[NLP_LEX_PHRASE_TOKENS_MAX + 1];
	size_t nw;
	long idx;
	struct nlp_lex_entry *e;

	nw = lex_phrase_words(lex, phrase, strlen(phrase), norm, sizeof(norm), w, wlen);
	if (nw == 0 || nw > NLP_LEX_PHRASE_TOKENS_MAX) {
		lex_err(err, errlen, "%s:%zu: a phrase has 1 to %d words", f->name, lineno,
			NLP_LEX_PHRASE_TOKENS_MAX);
		return -1;
	}
	if (d->kind == NLP_LEX_ALIAS && nw != 1) {
		lex_err(err, errlen, "%s:%zu: an alias replaces one word", f->name, lineno);
		return -1;
	}
	for (size_t k = 0; nw > 1 && k < nw; k++)
		if (lex_phrase_intern(lex, &w[k], &wlen[k], 1) < 0)
			goto nomem;
	idx = lex_phrase_intern(lex, w, wlen, nw);
	if (idx < 0 || lex_grow((void **)&lex->entries, &lex->capentries, lex->nentries + 1,
				sizeof(*e)))
		goto nomem;
	e = &lex->entries[lex->nentries];
	e->kind = (uint8_t)d->kind;
	e->lang = f->lang;
	e->flags = (uint8_t)d->flags;
	e->value = (int32_t)d->value;
	e->weight = (float)d->weight;
	e->next = NLP_LEX_NONE;
	/* append, keeping file order */
	if (lex->phrases[idx].first == NLP_LEX_NONE) {
		lex->phrases[idx].first = (uint32_t)lex->nentries;
	} else {
		uint32_t t = lex->phrases[idx].first;
		while (lex->entries[t].next != NLP_LEX_NONE)
			t = lex->entries[t].next;
		lex->entries[t].next = (uint32_t)lex->nentries;
	}
	lex->nentries++;
	return 0;
nomem:
	lex_err(err, errlen, "%s:%zu: out of memory", f->name, lineno);
	return -1;
}

/* Handles one line; pass 0 takes only aliases, pass 1 everything else. */
static int lex_line(struct nlp_lexicon *lex, const struct lex_file *f, size_t lineno,
		    char *line, int pass, char *err, size_t errlen)
{
	char *field[4] = { NULL, NULL, NULL, NULL };
	struct lex_def d = { .kind = -1, .value = 0, .weight = 1.0, .flags = 0 };
	size_t nf = lex_fields(line, field);

	if (nf < 2 || !*field[0] || !*field[1]) {
		lex_err(err, errlen, "%s:%zu: expected phrase<TAB>kind[<TAB>value[<TAB>weight]]",
			f->name, lineno);
		return -1;
	}
	d.kind = lex_kind_find(field[1]);
	if (d.kind < 0) {
		lex_err(err, errlen, "%s:%zu: unknown kind '%s'", f->name, lineno, field[1]);
		return -1;
	}
	if ((pass == 0) != (d.kind == NLP_LEX_ALIAS))
		return 0;
	if (d.kind == NLP_LEX_PREFIX || d.kind == NLP_LEX_SUFFIX)
		return lex_affix_add(lex, f, lineno, field, d.kind, err, errlen);
	if (lex_value(lex, f, lineno, field, &d, err, errlen) ||
	    lex_weight(f, lineno, field[3], &d, err, errlen))
		return -1;
	return lex_entry_add(lex, f, lineno, field[0], &d, err, errlen);
}

static int lex_file_pass(struct nlp_lexicon *lex, const struct lex_file *f, int pass, char *err,
			 size_t errlen)
{
	size_t pos = 0, lineno = 0;
	while (pos < f->len) {
		char line[LEX_LINE_MAX];
		size_t end = pos, n;
		while (end < f->len && f->data[end] != '\n')
			end++;
		n = end - pos;
		lineno++;
		if (n >= sizeof(line)) {
			lex_err(err, errlen, "%s:%zu: line longer than %d bytes", f->name, lineno,
				LEX_LINE_MAX - 1);
			return -1;
		}
		memcpy(line, f->data + pos, n);
		line[n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		pos = end + 1;
		if (n == 0 || line[0] == '#')
			continue;
		if (memchr(line, '\0', n)) {
			lex_err(err, errlen, "%s:%zu: NUL byte in line", f->name, lineno);
			return -1;
		}
		if (lex_line(lex, f, lineno, line, pass, err, errlen))
			return -1;
	}
	return 0;
}

static int lex_read_file(const char *dir, struct lex_file *f, char *err, size_t errlen)
{
	char path[4096];
	FILE *fp = NULL;
	long size;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, f->name);
	fp = fopen(path, "rb");
	if (!fp) {
		lex_err(err, errlen, "cannot open lexicon file %s: %s", path, strerror(errno));
		goto out;
	}
	if (fseek(fp, 0, SEEK_END) || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET)) {
		lex_err(err, errlen, "cannot read lexicon file %s: %s", path, strerror(errno));
		goto out;
	}
	if ((unsigned long)size > LEX_FILE_MAX) {
		lex_err(err, errlen, "lexicon file %s is larger than 4 MiB", path);
		goto out;
	}
	f->data = malloc((size_t)size + 1);
	if (!f->data) {
		lex_err(err, errlen, "out of memory reading %s", path);
		goto out;
	}
	f->len = fread(f->data, 1, (size_t)size, fp);
	if (f->len != (size_t)size) {
		lex_err(err, errlen, "cannot read lexicon file %s", path);
		goto out;
	}
	f->data[f->len] = '\0';
	rc = 0;
out:
	if (fp)
		fclose(fp);
	return rc;
}

static int lex_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lex_file *)a)->name, ((const struct lex_file *)b)->name);
}

#define LEX_FUZZY_WEIGHT 0.9f

static int lex_fuzzy_eligible(const struct nlp_lexicon *lex, const struct nlp_lex_phrase *ph)
{
	const char *s = lex->strings + ph->off;
	if (ph->ntok != 1 || ph->len < 4 || ph->len > NLP_DIST_MAX_LEN)
		return 0;
	for (size_t i = 0; i < ph->len; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return 0;
	for (uint32_t e = ph->first; e != NLP_LEX_NONE; e = lex->entries[e].next) {
		switch (lex->entries[e].kind) {
		case NLP_LEX_INTENT:
		case NLP_LEX_YES:
		case NLP_LEX_NO:
			if (lex->entries[e].weight >= LEX_FUZZY_WEIGHT)
				return 1;
			break;
		case NLP_LEX_PAY:
		case NLP_LEX_TOPIC:
			return 1;
		default:
			break;
		}
	}
	return 0;
}

int nlp_lexicon_load(struct nlp_lexicon *lex, const char *dir, char *err, size_t errlen)
{
	struct lex_file files[LEX_FILES_MAX];
	size_t nfiles = 0;
	DIR *d = NULL;
	struct dirent *de;
	int rc = -1;

	memset(files, 0, sizeof(files));
	d = opendir(dir);
	if (!d) {
		lex_err(err, errlen, "cannot open lexicon folder %s: %s", dir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".tsv") != 0 || de->d_name[0] == '.')
			continue;
		if (n != 6 || de->d_name[0] < 'a' || de->d_name[0] > 'z' || de->d_name[1] < 'a' ||
		    de->d_name[1] > 'z') {
			lex_err(err, errlen,
				"lexicon file %s/%s: name it after a two-letter language code, "
				"like sw.tsv",
				dir, de->d_name);
			goto out;
		}
		if (nfiles >= NLP_LEX_LANGS_MAX) {
			lex_err(err, errlen, "lexicon folder %s: more than %d languages", dir,
				NLP_LEX_LANGS_MAX);
			goto out;
		}
		memcpy(files[nfiles].name, de->d_name, n + 1);
		nfiles++;
	}
	if (nfiles == 0) {
		lex_err(err, errlen, "lexicon folder %s has no *.tsv files", dir);
		goto out;
	}
	qsort(files, nfiles, sizeof(files[0]), lex_name_cmp);
	for (size_t i = 0; i < nfiles; i++) {
		files[i].lang = (uint8_t)i;
		memcpy(lex->langs[i], files[i].name, 2);
		lex->langs[i][2] = '\0';
		if (lex_read_file(dir, &files[i], err, errlen))
			goto out;
	}
	lex->nlangs = nfiles;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nfiles; i++)
			if (lex_file_pass(lex, &files[i], pass, err, errlen))
				goto out;
	lex->fuzzy = malloc((lex->nphrases + 1) * sizeof(*lex->fuzzy));
	if (!lex->fuzzy) {
		lex_err(err, errlen, "out of memory");
		goto out;
	}
	/* grouped by first letter (a typo keeps it), in lexicon order within a group */
	for (int c = 0; c < 26; c++) {
		lex->fuzzy_at[c] = (uint32_t)lex->nfuzzy;
		for (size_t p = 0; p < lex->nphrases; p++)
			if (lex->strings[lex->phrases[p].off] == 'a' + c &&
			    lex_fuzzy_eligible(lex, &lex->phrases[p]))
				lex->fuzzy[lex->nfuzzy++] = (uint32_t)p;
	}
	lex->fuzzy_at[26] = (uint32_t)lex->nfuzzy;
	rc = 0;
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i].data);
	if (rc)
		nlp_lexicon_clear(lex);
	return rc;
}

void nlp_lexicon_clear(struct nlp_lexicon *lex)
{
	if (!lex)
		return;
	free(lex->strings);
	free(lex->phrases);
	free(lex->entries);
	free(lex->table);
	free(lex->fuzzy);
	memset(lex, 0, sizeof(*lex));
}

/* True when a and b (n bytes each) differ by one swap of neighbouring letters. */
static int lex_is_swap(const char *a, const char *b, size_t n)
{
	size_t i = 0;
	while (i < n && a[i] == b[i])
		i++;
	return i + 1 < n && a[i] == b[i + 1] && a[i + 1] == b[i] &&
	       memcmp(a + i + 2, b + i + 2, n - i - 2) == 0;
}

/* Four letters: too many real words lie one letter apart ("card" and "cart", "care"), so
 * only a swap ("hepl") or a dropped letter ("chek") is corrected, and only to one word. */
static const struct nlp_lex_phrase *lex_fuzzy4(const struct nlp_lexicon *lex, const char *s)
{
	const struct nlp_lex_phrase *found = NULL;
	int c = s[0] - 'a';

	if (c < 0 || c >= 26)
		return NULL;
	for (size_t i = lex->fuzzy_at[c]; i < lex->fuzzy_at[c + 1]; i++) {
		const struct nlp_lex_phrase *ph = &lex->phrases[lex->fuzzy[i]];
		const char *w = lex->strings + ph->off;
		if (w[0] != s[0] || (ph->len != 4 && ph->len != 5))
			continue;
		if (ph->len == 4 ? !lex_is_swap(s, w, 4) : nlp_match_distance(s, 4, w, 5, 1) != 1)
			continue;
		if (found)
			return NULL; /* two words are that close: leave it */
		found = ph;
	}
	return found;
}

const struct nlp_lex_phrase *nlp_lexicon_fuzzy(const struct nlp_lexicon *lex, const char *s,
					       size_t len, int maxd_cap)
{
	const struct nlp_lex_phrase *best = NULL;
	int maxd = len <= 4 ? 0 : len <= 7 ? 1 : 2, bestd;

	if (len == 4)
		return lex_fuzzy4(lex, s);
	if (maxd > maxd_cap)
		maxd = maxd_cap;
	if (maxd <= 0 || len > NLP_DIST_MAX_LEN || s[0] < 'a' || s[0] > 'z')
		return NULL;
	bestd = maxd + 1;
	/* the bytes of s by count: a word within edit distance d of s shares at least
	 * max(lengths) - d of them (an insertion, deletion or substitution loses at most one, a
	 * transposition none), a bound far cheaper than the distance itself */
	unsigned char have[256] = {0}, used[256] = {0};
	for (size_t k = 0; k < len; k++)
		have[(unsigned char)s[k]]++;
	for (size_t i = lex->fuzzy_at[s[0] - 'a']; i < lex->fuzzy_at[s[0] - 'a' + 1]; i++) {
		const struct nlp_lex_phrase *ph = &lex->phrases[lex->fuzzy[i]];
		const char *w = lex->strings + ph->off;
		int d, diff = (int)ph->len - (int)len, common = 0;
		if (w[0] != s[0] || ph->len < 5 || diff > maxd || -diff > maxd)
			continue;
		for (size_t k = 0; k < ph->len; k++) {
			unsigned char c = (unsigned char)w[k];

			if (used[c] < have[c]) {
				used[c]++;
				common++;
			}
		}
		for (size_t k = 0; k < ph->len; k++)
			used[(unsigned char)w[k]] = 0;
		if (common < (int)(ph->len > len ? ph->len : len) - (bestd - 1))
			continue;
		d = nlp_match_distance(s, len, w, ph->len, bestd - 1);
		if (d < bestd) {
			bestd = d;
			best = ph;
		}
	}
	return best;
}
