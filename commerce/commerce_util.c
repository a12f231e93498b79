/*
 * commerce_util.c: cleaning outside text, "%s" templates and trimming for commerce/ (see
 * commerce_util.h), on common/utf8.h and common/money.h. Pure functions, no database.
 */
#include "commerce_util.h"

#include <stdlib.h>
#include <string.h>

#include "money.h"
#include "utf8.h"
#include "util.h"

int cm_utf8_valid(const char *s, size_t len)
{
	return utf8_valid(s, len);
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
		l = utf8_seq_len(s + i, len - i);
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
	money_format(minor, currency, out, outlen);
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
