/*
 * test_kyc_unit.c: commerce/kyc.c's pure checks, table-driven: a document's type from its
 * first bytes (PDF, JPEG, PNG; anything short of a whole magic number is none) and ISO 3166-1
 * alpha-2 country codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kyc.h"

static void test_magic_bytes(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *want;
	} cases[] = {
	    {"%PDF-1.7\n", 9, "application/pdf"},
	    {"%PDF-", 5, "application/pdf"},
	    {"%PDF", 4, NULL},
	    {" %PDF-1.7", 9, NULL},
	    {"%pdf-1.7", 8, NULL},
	    {"\xFF\xD8\xFF\xE0\x00\x10JFIF", 10, "image/jpeg"},
	    {"\xFF\xD8\xFF", 3, "image/jpeg"},
	    {"\xFF\xD8\xFE\xE0", 4, NULL},
	    {"\xFF\xD8", 2, NULL},
	    {"\x89PNG\r\n\x1A\n\x00\x00", 10, "image/png"},
	    {"\x89PNG\r\n\x1A\n", 8, "image/png"},
	    {"\x89PNG\r\n\x1A", 7, NULL},
	    {"\x89PNG\n\n\x1A\n", 8, NULL},
	    {"GIF89a", 6, NULL},
	    {"PK\x03\x04", 4, NULL},
	    {"", 0, NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = kyc_doc_content_type(cases[i].bytes, cases[i].len);

		if (!cases[i].want && got)
			fail_msg("case %zu: expected no type, got %s", i, got);
		if (cases[i].want && (!got || strcmp(got, cases[i].want) != 0))
			fail_msg("case %zu: expected %s, got %s", i, cases[i].want,
			         got ? got : "none");
	}
	assert_null(kyc_doc_content_type(NULL, 10));
}

static void test_countries(void **state)
{
	static const char *const good[] = {"KE", "TZ", "UG", "RW", "US", "GB",
	                                   "AD", "ZW", "SS", "CW", NULL};
	static const char *const bad[] = {"ke", "XX", "UK", "EU", "KEN", "K",
	                                  "",   "K1", "ZZ", "AA", NULL};
	size_t i;

	(void)state;
	for (i = 0; good[i]; i++)
		if (!kyc_country_valid(good[i]))
			fail_msg("%s should be a country code", good[i]);
	for (i = 0; bad[i]; i++)
		if (kyc_country_valid(bad[i]))
			fail_msg("%s should not be a country code", bad[i]);
	assert_false(kyc_country_valid(NULL));
}

static void test_policy(void **state)
{
	(void)state;
	assert_int_equal(kyc_policy_required(), 0); /* off unless configured */
	assert_int_equal(kyc_policy_limit(), 20);
	kyc_policy_set(1, 3);
	assert_int_equal(kyc_policy_required(), 1);
	assert_int_equal(kyc_policy_limit(), 3);
	kyc_policy_set(0, -5);
	assert_int_equal(kyc_policy_required(), 0);
	assert_int_equal(kyc_policy_limit(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_magic_bytes),
	    cmocka_unit_test(test_countries),
	    cmocka_unit_test(test_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
