/*
 * mpesa.c: M-Pesa transaction codes and confirmation messages in chat text (see mpesa.h).
 * Works on bytes: the parts it looks for are ASCII; anything else passes through untouched.
 */
#include "mpesa.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_code_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int mpesa_code_valid(const char *s)
{
	int letters = 0, digits = 0;
	size_t i;

	if (!s || strlen(s) != MPESA_CODE_LEN)
		return 0;
	for (i = 0; i < MPESA_CODE_LEN; i++) {
		int c = toupper((unsigned char)s[i]);

		if (!is_code_char(c))
			return 0;
		if (isdigit(c))
			digits++;
		else
			letters++;
	}
	return isalpha((unsigned char)s[0]) && letters >= 2 && digits >= 1;
}

/* Case-insensitive strstr over ASCII. */
static const char *find_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return hay;
	return NULL;
}

/* The first code word of text: ten code characters between non-alphanumeric bytes.
 * upper_only 0 also takes lower-case letters. Returns where it starts, or NULL. */
static const char *find_code(const char *text, int upper_only)
{
	const char *p = text;

	while (*p) {
		const char *w = p;
		size_t n = 0;

		while (isalnum((unsigned char)w[n]))
			n++;
		if (n == MPESA_CODE_LEN) {
			char word[MPESA_CODE_LEN + 1];
			size_t i;
			int ok = 1;

			memcpy(word, w, n);
			word[n] = '\0';
			for (i = 0; i < n && upper_only; i++)
				if (!is_code_char((unsigned char)word[i]))
					ok = 0;
			if (ok && mpesa_code_valid(word))
				return w;
		}
		p = n ? w + n : w + 1;
	}
	return NULL;
}

/* "Ksh1,250.00", "KES 1,250", "Ksh. 500" after from: the amount in cents, or -1. */
static long long find_amount(const char *from)
{
	const char *p = from;

	while ((p = strpbrk(p, "KkSs")) != NULL) {
		const char *q = NULL;
		long long whole = 0, cents = 0;
		int digits = 0, i;

		if (strncasecmp(p, "ksh", 3) == 0)
			q = p + 3;
		else if (strncasecmp(p, "kes", 3) == 0)
			q = p + 3;
		if (!q || (p > from && isalpha((unsigned char)p[-1]))) {
			p++;
			continue;
		}
		while (*q == '.' || *q == ' ')
			q++;
		while (isdigit((unsigned char)*q) || (*q == ',' && isdigit((unsigned char)q[1]))) {
			if (*q != ',') {
				if (whole > 100000000000000LL)
					return -1;
				whole = whole * 10 + (*q - '0');
				digits++;
			}
			q++;
		}
		if (!digits) {
			p++;
			continue;
		}
		if (*q == '.' && isdigit((unsigned char)q[1])) {
			q++;
			for (i = 0; i < 2; i++) {
				cents = cents * 10 + (isdigit((unsigned char)*q) ? *q - '0' : 0);
				if (isdigit((unsigned char)*q))
					q++;
			}
		}
		return whole * 100 + cents;
	}
	return -1;
}

/* Copies the words after marker up to " for account", " on ", a full stop or the end. */
static void copy_party(const char *start, char *out, size_t len)
{
	size_t n = 0;
	const char *p = start;

	while (*p == ' ')
		p++;
	while (p[n] && n + 1 < len && strncasecmp(p + n, " for account", 12) != 0 &&
	       strncasecmp(p + n, " on ", 4) != 0 && strncasecmp(p + n, " tarehe", 7) != 0 &&
	       !(p[n] == '.' && (p[n + 1] == ' ' || p[n + 1] == '\0')) && p[n] != '\n')
		n++;
	while (n > 0 && p[n - 1] == ' ')
		n--;
	snprintf(out, len, "%.*s", (int)n, p);
}

int mpesa_parse(const char *text, struct mpesa_ref *out)
{
	const char *code, *rest, *m;
	size_t words = 0, i;
	int in_word = 0;

	memset(out, 0, sizeof(*out));
	out->amount_minor = -1;
	if (!text)
		return 0;
	code = find_code(text, 1);
	if (!code) {
		/* a message that is only the code may be typed in lower case */
		for (i = 0; text[i]; i++) {
			if (isspace((unsigned char)text[i]))
				in_word = 0;
			else if (!in_word && ++words)
				in_word = 1;
		}
		if (words != 1 || !(code = find_code(text, 0)))
			return 0;
	}
	for (i = 0; i < MPESA_CODE_LEN; i++)
		out->code[i] = (char)toupper((unsigned char)code[i]);
	out->code[MPESA_CODE_LEN] = '\0';
	out->kind = MPESA_CODE;
	rest = code + MPESA_CODE_LEN;
	if (!find_ci(rest, "confirmed") && !find_ci(rest, "imethibitishwa"))
		return 1;
	out->kind = MPESA_CONFIRMED;
	out->amount_minor = find_amount(rest);
	if ((m = find_ci(rest, "sent to ")) != NULL) {
		out->kind = MPESA_SENT;
		copy_party(m + 8, out->party, sizeof(out->party));
	} else if ((m = find_ci(rest, "imetumwa kwa ")) != NULL) {
		out->kind = MPESA_SENT;
		copy_party(m + 13, out->party, sizeof(out->party));
	} else if ((m = find_ci(rest, "paid to ")) != NULL) {
		out->kind = MPESA_PAID;
		copy_party(m + 8, out->party, sizeof(out->party));
	} else if ((m = find_ci(rest, "imelipwa kwa ")) != NULL) {
		out->kind = MPESA_PAID;
		copy_party(m + 13, out->party, sizeof(out->party));
	} else if (find_ci(rest, "received") || find_ci(rest, "umepokea")) {
		out->kind = MPESA_RECEIVED;
		if ((m = find_ci(rest, " from ")) != NULL)
			copy_party(m + 6, out->party, sizeof(out->party));
		else if ((m = find_ci(rest, " kutoka kwa ")) != NULL)
			copy_party(m + 12, out->party, sizeof(out->party));
	}
	if ((m = find_ci(rest, "for account ")) != NULL) {
		size_t n = 0;

		m += 12;
		while (m[n] && !isspace((unsigned char)m[n]) && n + 1 < sizeof(out->account))
			n++;
		while (n > 0 && (m[n - 1] == '.' || m[n - 1] == ','))
			n--;
		snprintf(out->account, sizeof(out->account), "%.*s", (int)n, m);
	}
	return 1;
}

int mpesa_says_paid(const char *text)
{
	static const char *const sw[] = {
	    "nimelipa",        "nimeshalipa",   "nimelipia", "nimetuma pesa",
	    "nimetuma malipo", "nimetuma hela", "nishalipa",
	};
	static const char *const en[] = {
	    "i have paid",  "i've paid",    "ive paid",       "i paid",     "already paid",
	    "payment done", "payment sent", "sent the money", "money sent", "have paid",
	};
	size_t i;

	if (!text)
		return 0;
	for (i = 0; i < sizeof(sw) / sizeof(sw[0]); i++)
		if (find_ci(text, sw[i]))
			return 2;
	for (i = 0; i < sizeof(en) / sizeof(en[0]); i++)
		if (find_ci(text, en[i]))
			return 1;
	return 0;
}
