/*
 * utf8.c: UTF-8 helpers (see utf8.h): strict checks for bytes from outside, cuts at sequence
 * and character-cluster boundaries, and decoding of text already known to be valid.
 */
#include "utf8.h"

#include <string.h>

#define UTF8_ZWJ 0x200D /* zero-width joiner: the code point after it belongs to the cluster */

/* 1 when c is a continuation byte (10xxxxxx). */
static int utf8_is_cont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

size_t utf8_seq_len(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned int c = p[0];
	size_t len, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if (!utf8_is_cont(p[i]))
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

int utf8_valid(const char *s, size_t len)
{
	size_t i = 0, l;

	while (i < len) {
		l = utf8_seq_len(s + i, len - i);
		if (!l)
			return 0;
		i += l;
	}
	return 1;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	len = max;
	for (int k = 0; k < 3 && len > 0 && utf8_is_cont((unsigned char)s[len]); k++)
		len--;
	return len;
}

uint32_t utf8_decode(const char *s, size_t *len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n, i;

	if (p[0] < 0x80) {
		*len = 1;
		return p[0];
	}
	if ((p[0] & 0xE0) == 0xC0) {
		n = 2;
		cp = p[0] & 0x1F;
	} else if ((p[0] & 0xF0) == 0xE0) {
		n = 3;
		cp = p[0] & 0x0F;
	} else if ((p[0] & 0xF8) == 0xF0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		*len = 1;
		return 0xFFFD;
	}
	for (i = 1; i < n; i++) {
		if (!utf8_is_cont(p[i])) { /* the NUL included: never read past it */
			*len = 1;
			return 0xFFFD;
		}
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	*len = n;
	return cp;
}

size_t utf8_count(const char *s)
{
	size_t n = 0, l;

	while (*s) {
		(void)utf8_decode(s, &l);
		s += l;
		n++;
	}
	return n;
}

size_t utf8_offset(const char *s, size_t n)
{
	size_t off = 0, l;

	while (n-- && s[off]) {
		(void)utf8_decode(s + off, &l);
		off += l;
	}
	return off;
}

/* Code points that continue the character before them: combining marks, joiners, variation
 * selectors, emoji skin tones and tags. A cut never goes just before one of them. */
static int utf8_is_extender(uint32_t cp)
{
	return (cp >= 0x0300 && cp <= 0x036F) || cp == UTF8_ZWJ || cp == 0x200C ||
	       (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0x1F3FB && cp <= 0x1F3FF) ||
	       (cp >= 0xE0020 && cp <= 0xE007F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
	       (cp >= 0x20D0 && cp <= 0x20FF);
}

size_t utf8_cut_back(const char *s, size_t off)
{
	while (off > 0) {
		size_t l, prev = off, pl = 0;
		uint32_t next = s[off] ? utf8_decode(s + off, &l) : 0;
		uint32_t before;

		/* find the code point before off */
		do {
			prev--;
		} while (prev > 0 && utf8_is_cont((unsigned char)s[prev]));
		before = utf8_decode(s + prev, &pl);
		if ((next && utf8_is_extender(next)) || before == UTF8_ZWJ)
			off = prev;
		else
			break;
	}
	return off;
}

size_t utf8_cut_forward(const char *s, size_t off)
{
	size_t l = 1;

	for (; s[off]; off += l) {
		uint32_t cp = utf8_decode(s + off, &l);

		/* not a mark, and not right after a zero-width joiner (E2 80 8D) */
		if (!utf8_is_extender(cp) &&
		    !(off >= 3 && memcmp(s + off - 3, "\xE2\x80\x8D", 3) == 0))
			break;
	}
	return off;
}
