/*
 * money.h: money as people read it. Amounts are integers in minor units (cents) everywhere;
 * this formats them for a reply ("KES 1,250.50") and says how many decimals an ISO 4217
 * currency has, for converting a platform's major-unit price into minor units.
 */
#ifndef CCGW_MONEY_H
#define CCGW_MONEY_H

#include <stddef.h>

/* Formats minor units as "KES 1,250" or "KES 1,250.50" into out (outlen bytes; cut when it
 * does not fit): thousands grouped with ',', two decimals shown only when not zero, a
 * leading '-' for a negative amount. currency may be NULL (nothing before the space). The
 * amount is always read as hundredths, whatever money_currency_decimals says. */
void money_format(long long minor, const char *currency, char *out, size_t outlen);

/* Digits after the decimal point of an ISO 4217 currency: 0 for those without minor units
 * (BIF, CLP, DJF, GNF, ISK, JPY, KMF, KRW, PYG, RWF, UGX, VND, VUV, XAF, XOF, XPF), else 2
 * (NULL included). */
int money_currency_decimals(const char *currency);

#endif
