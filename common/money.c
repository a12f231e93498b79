/*
 * money.c: formatting amounts in minor units for people, and the table of currencies
 * without minor units (see money.h). Pure functions.
 */
#include "money.h"

#include <stdio.h>
#include <string.h>

void money_format(long long minor, const char *currency, char *out, size_t outlen)
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

int money_currency_decimals(const char *currency)
{
	static const char *const zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
	                                   "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
	                                   "VUV", "XAF", "XOF", "XPF", NULL};
	size_t i;

	for (i = 0; currency && zero[i]; i++)
		if (strcmp(currency, zero[i]) == 0)
			return 0;
	return 2;
}
