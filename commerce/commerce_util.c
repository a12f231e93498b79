/*
 * commerce_util.c: UTF-8 cleaning, money formatting, "%s" templates and trimming for
 * commerce/ (see commerce_util.h). Pure functions, no database.
 */
#include "commerce_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 when invalid. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
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
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

int cm_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, l;

	while (i < len) {
		l = utf8_seq_len(p + i, len - i);
		if (!l)
			return 0;
		i += l;
	}
	return 1;
}

char *cm_utf8_clean(const char *s, size_t len, size_t max)
{
	static const char repl[] = "\xEF\xBF\xBD";
	const unsigned char *p = (const unsigned char *)s;
	struct sbuf b;
	size_t i = 0, l;

	sbuf_init(&b);
	sbuf_append(&b, "", 0);
	while (s && i < len) {
		l = utf8_seq_len(p + i, len - i);
		if (!l) {
			if (b.len + 3 > max)
				break;
			sbuf_append(&b, repl, 3);
			i++;
			continue;
		}
		if (b.len + l > max)
			break;
		if (l == 1 && (p[i] < 0x20 || p[i] == 0x7F) && p[i] != '\n' && p[i] != '\t')
			sbuf_append(&b, " ", 1);
		else
			sbuf_append(&b, p + i, l);
		i += l;
	}
	return sbuf_take(&b);
}

void cm_money_format(long long minor, const char *currency, char *out, size_t outlen)
{
	char digits[32], grouped[48];
	long long whole, cents;
	int neg = minor < 0;
	size_t n, i, j = 0;

	if (neg)
		minor = -minor;
	whole = minor / 100;
	cents = minor % 100;
	snprintf(digits, sizeof(digits), "%lld", whole);
	n = strlen(digits);
	for (i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			grouped[j++] = ',';
		grouped[j++] = digits[i];
	}
	grouped[j] = '\0';
	if (cents)
		snprintf(out, outlen, "%s%s %s.%02lld", neg ? "-" : "", currency ? currency : "",
		         grouped, cents);
	else
		snprintf(out, outlen, "%s%s %s", neg ? "-" : "", currency ? currency : "", grouped);
}

char *cm_template(const char *tmpl, const char *const *args, size_t nargs)
{
	struct sbuf b;
	size_t argi = 0;
	const char *p;

	sbuf_init(&b);
	sbuf_append(&b, "", 0);
	for (p = tmpl; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			if (argi < nargs && args[argi])
				sbuf_puts(&b, args[argi]);
			argi++;
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			sbuf_append(&b, "%", 1);
			p++;
		} else {
			sbuf_append(&b, p, 1);
		}
	}
	return sbuf_take(&b);
}

char *cm_trim(char *s)
{
	size_t n;
	char *start = s;

	while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
		start++;
	n = strlen(start);
	while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t' || start[n - 1] == '\n' ||
	                 start[n - 1] == '\r'))
		n--;
	memmove(s, start, n);
	s[n] = '\0';
	return s;
}

int cm_parse_uint(const char *s, size_t maxdigits, long *out)
{
	size_t n = 0;
	long v = 0;

	if (!s || !*s)
		return 0;
	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= maxdigits)
			return 0;
		v = v * 10 + (s[n] - '0');
	}
	*out = v;
	return 1;
}
