/*
 * test_admin_unit.c: the admin API's ISO 4217 table: every currency a shop in our markets
 * prices in is accepted (the binary search only finds them when the table is sorted), and
 * withdrawn codes, non-currencies, lower case and malformed codes are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "admin.h"

static void test_currency_known(void **state)
{
	/* every code of the table, in the table's order, so a sorting slip shows up */
	static const char *const codes[] = {
	    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD",
	    "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN",
	    "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF",
	    "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
	    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
	    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
	    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA",
	    "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD",
	    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN",
	    "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
	    "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
	    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED",
	    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW",
	    "ZWG",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!admin_currency_valid(codes[i]))
			fail_msg("%s should be a known currency", codes[i]);
}

static void test_currency_refused(void **state)
{
	static const char *const bad[] = {
	    "kes", "Kes", "KE",  "KESS", "",    "XYZ", "QQQ", "HRK", "SLL", "ZWL",   "CUC",
	    "VEF", "XAU", "XAG", "XDR",  "XTS", "XXX", "BOV", "USN", "K S", "KES\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (admin_currency_valid(bad[i]))
			fail_msg("\"%s\" should be refused", bad[i]);
	assert_false(admin_currency_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_currency_known),
	    cmocka_unit_test(test_currency_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
