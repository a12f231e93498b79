/*
 * nlp_text.c: text handling for nlp/. Normalizes shopper text with utf8proc (NFKC,
 * case folding, accents stripped, punctuation lumped to ASCII, repeated letters squeezed,
 * whitespace collapsed) and splits it into tokens. Works in caller-supplied buffers only:
 * no allocation, no global state, safe on invalid UTF-8 and embedded NUL bytes.
 */
#include "nlp.h"
#include "nlp_text_internal.h"

#include <stdint.h>
#include <utf8proc.h>

/* Code points held while normalizing; input beyond this many is ignored. */
#define NLP_NORM_CP_MAX 4096
/* Room kept free for the longest single-character decomposition. */
#define NLP_NORM_CP_SLACK 32

#define NLP_NORM_OPTIONS                                                                       \
	((utf8proc_option_t)(UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD |          \
			     UTF8PROC_STRIPMARK | UTF8PROC_IGNORE | UTF8PROC_LUMP |              \
			     UTF8PROC_STRIPCC))

int nlp_text_is_alnum(int cp)
{
	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		       (cp >= '0' && cp <= '9');
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return 1;
	default:
		return 0;
	}
}

static int text_is_letter(int cp)
{
	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z');
	return nlp_text_is_alnum(cp) && utf8proc_category(cp) != UTF8PROC_CATEGORY_ND;
}

static int text_is_space(int cp)
{
	if (cp < 0x80)
		return cp <= 0x20 || cp == 0x7f;
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_ZS:
	case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP:
	case UTF8PROC_CATEGORY_CC:
	case UTF8PROC_CATEGORY_CF:
	case UTF8PROC_CATEGORY_CS:
	case UTF8PROC_CATEGORY_CO:
	case UTF8PROC_CATEGORY_CN:
		return 1;
	default:
		return 0;
	}
}

/* Emoji skin-tone modifiers carry no meaning for us: 👍🏽 reads as 👍. */
static int text_is_dropped(int cp)
{
	return (cp >= 0x1F3FB && cp <= 0x1F3FF) || cp == '\'' || cp == '`' || cp == 0xB4;
}

size_t nlp_normalize(const char *text, size_t len, char *out, size_t outlen)
{
	utf8proc_int32_t cps[NLP_NORM_CP_MAX];
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
	const utf8proc_uint8_t *end = p + (text ? len : 0);
	size_t ncp = 0, o = 0;
	int nonascii = 0, last = ' ', run = 0;

	if (!out || outlen == 0)
		return 0;
	out[0] = '\0';
	if (!text)
		return 0;

	while (p < end && ncp < NLP_NORM_CP_MAX - NLP_NORM_CP_SLACK) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n;
		int bound = 0;

		if (*p < 0x80) {
			cps[ncp++] = *p++;
			continue;
		}
		n = utf8proc_iterate(p, end - p, &cp);
		if (n <= 0) { /* invalid UTF-8: one byte becomes a space */
			cps[ncp++] = ' ';
			p++;
			continue;
		}
		p += n;
		if (text_is_dropped(cp))
			continue;
		n = utf8proc_decompose_char(cp, cps + ncp,
					    (utf8proc_ssize_t)(NLP_NORM_CP_MAX - ncp), NLP_NORM_OPTIONS,
					    &bound);
		if (n < 0 || (size_t)n > NLP_NORM_CP_MAX - ncp) {
			cps[ncp++] = ' ';
			continue;
		}
		ncp += (size_t)n;
		nonascii = 1;
	}
	if (nonascii) {
		utf8proc_ssize_t n = utf8proc_normalize_utf32(cps, (utf8proc_ssize_t)ncp,
							      UTF8PROC_COMPOSE | UTF8PROC_STABLE);
		if (n >= 0)
			ncp = (size_t)n;
	}

	for (size_t i = 0; i < ncp; i++) {
		int cp = cps[i];
		utf8proc_uint8_t enc[4];
		utf8proc_ssize_t n;

		if (cp >= 'A' && cp <= 'Z')
			cp += 'a' - 'A';
		if (text_is_dropped(cp))
			continue;
		if (text_is_space(cp)) {
			if (last != ' ' && o + 1 < outlen)
				out[o++] = ' ';
			last = ' ';
			run = 0;
			continue;
		}
		if (cp == last && text_is_letter(cp)) {
			if (++run >= 2) /* "pleeease" -> "pleease", "goood" -> "good" */
				continue;
		} else {
			run = 0;
		}
		n = utf8proc_encode_char(cp, enc);
		if (n <= 0 || o + (size_t)n + 1 > outlen)
			break;
		for (utf8proc_ssize_t k = 0; k < n; k++)
			out[o++] = (char)enc[k];
		last = cp;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	if (o > 0 && out[0] == ' ') {
		size_t k;
		for (k = 0; k + 1 < o; k++)
			out[k] = out[k + 1];
		o--;
	}
	out[o] = '\0';
	return o;
}

/* Decodes the code point at s[i] (valid UTF-8 from nlp_normalize); sets *n to its size. */
static int text_cp_at(const char *s, size_t len, size_t i, size_t *n)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
					      (utf8proc_ssize_t)(len - i), &cp);
	if (k <= 0) {
		*n = 1;
		return ' ';
	}
	*n = (size_t)k;
	return cp;
}

static int text_is_symbol(int cp)
{
	if (cp < 0x80)
		return 0;
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_SO:
	case UTF8PROC_CATEGORY_SM:
	case UTF8PROC_CATEGORY_SC:
		return 1;
	default:
		return 0;
	}
}

size_t nlp_text_tokenize(const char *norm, size_t len, struct nlp_token *toks, size_t max)
{
	size_t i = 0, nt = 0;
	char pending = 0; /* '#', '+' or '-' just before the next token */

	while (i < len && nt < max) {
		size_t n, start = i;
		int cp = text_cp_at(norm, len, i, &n);

		if (nlp_text_is_alnum(cp)) {
			int digits_only = 1;
			while (i < len) {
				cp = text_cp_at(norm, len, i, &n);
				if (nlp_text_is_alnum(cp)) {
					if (cp < '0' || cp > '9')
						digits_only = 0;
					i += n;
				} else if (cp == '-' && i + 1 < len) {
					size_t n2;
					int next = text_cp_at(norm, len, i + 1, &n2);
					if (!nlp_text_is_alnum(next))
						break;
					digits_only = 0; /* "t-shirt" stays one word */
					i += 1;
				} else {
					break;
				}
			}
			if (i - start > 0xffff)
				i = start + 0xffff;
			toks[nt].s = norm + start;
			toks[nt].len = (unsigned short)(i - start);
			toks[nt].type = digits_only ? NLP_TOK_NUM : NLP_TOK_WORD;
			toks[nt].prefix = pending;
			nt++;
			pending = 0;
			continue;
		}
		i += n;
		if (text_is_symbol(cp)) {
			toks[nt].s = norm + start;
			toks[nt].len = (unsigned short)n;
			toks[nt].type = NLP_TOK_SYM;
			toks[nt].prefix = 0;
			nt++;
			pending = 0;
		} else if (cp == '#' || cp == '+' || cp == '-') {
			pending = (char)cp;
		} else {
			pending = 0;
		}
	}
	return nt;
}
