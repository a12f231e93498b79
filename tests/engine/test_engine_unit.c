/*
 * test_engine_unit.c: the engine's pure helpers, no database: money formatting, UTF-8
 * cleaning, templates, the order lifecycle table, and the numbered text rendering of a
 * normalized reply (the order must match what the engine remembers as offered).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "commerce_util.h"
#include "order_status.h"
#include "reply_text.h"
#include "shop_settings.h"

static void test_money(void **state)
{
	static const struct {
		long long minor;
		const char *want;
	} cases[] = {
	    {0, "KES 0"},
	    {85000, "KES 850"},
	    {123456, "KES 1,234.56"},
	    {100000000, "KES 1,000,000"},
	    {5, "KES 0.05"},
	    {-25000, "-KES 250"},
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cm_money_format(cases[i].minor, "KES", out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
}

static void test_utf8_clean(void **state)
{
	char *s;

	(void)state;
	s = cm_utf8_clean("ok \xff\xfe caf\xc3\xa9", 11, 100);
	assert_string_equal(s, "ok \xef\xbf\xbd\xef\xbf\xbd caf\xc3\xa9");
	assert_true(cm_utf8_valid(s, strlen(s)));
	free(s);
	/* cut at a character boundary, never inside one */
	s = cm_utf8_clean("ab\xc3\xa9", 4, 3);
	assert_string_equal(s, "ab");
	free(s);
	s = cm_utf8_clean("a\x01"
	                  "b\nc",
	                  5, 100);
	assert_string_equal(s, "a b\nc");
	free(s);
	assert_false(cm_utf8_valid("\xed\xa0\x80", 3)); /* a surrogate */
	assert_false(cm_utf8_valid("\xc0\xaf", 2));     /* overlong */
}

static void test_template(void **state)
{
	char *s;

	(void)state;
	s = cm_template("Added %s x %s (100%%)", (const char *const[]){"2", "%s %n"}, 2);
	assert_string_equal(s, "Added 2 x %s %n (100%)");
	free(s);
	s = cm_template("a %s b %s", (const char *const[]){"x"}, 1);
	assert_string_equal(s, "a x b ");
	free(s);
}

static void test_lifecycle_table(void **state)
{
	(void)state;
	assert_true(order_status_allowed("pending", "confirmed"));
	assert_true(order_status_allowed("pending", "cancelled"));
	assert_true(order_status_allowed("processing", "cancelled"));
	assert_true(order_status_allowed("delivered", "returned"));
	assert_false(order_status_allowed("pending", "shipped"));
	assert_false(order_status_allowed("shipped", "cancelled"));
	assert_false(order_status_allowed("cancelled", "pending"));
	assert_false(order_status_allowed("returned", "delivered"));
	assert_true(order_status_valid("processing"));
	assert_false(order_status_valid("lost"));
}

static void test_reply_text(void **state)
{
	json_t *r = json_loads(
	    "{\"text\": \"Pick one\", \"lang\": \"en\","
	    " \"buttons\": [{\"title\": \"Checkout\", \"payload\": \"ck\"},"
	    "              {\"title\": \"No payload\"}],"
	    " \"list\": {\"button\": \"Menu\", \"sections\": ["
	    "   {\"title\": \"A\", \"rows\": [{\"title\": \"Honey\", \"description\": \"KES 850\","
	    "                                 \"payload\": \"prod:1\"}]},"
	    "   {\"title\": \"B\", \"rows\": [{\"title\": \"Mug\", \"payload\": \"prod:2\"}]}]}}",
	    0, NULL);
	char *s;

	(void)state;
	assert_non_null(r);
	assert_int_equal(reply_text_choices(r), 3);
	s = reply_text_render(r);
	assert_string_equal(s, "Pick one\n\n1. Checkout\nA:\n2. Honey - KES 850\nB:\n3. Mug\n"
	                       "(Reply with the number of your choice.)");
	free(s);
	json_object_set_new(r, "lang", json_string("sw"));
	json_object_del(r, "list");
	s = reply_text_render(r);
	assert_string_equal(s, "Pick one\n\n1. Checkout\n(Jibu kwa nambari ya chaguo lako.)");
	free(s);
	json_decref(r);
	r = json_pack("{s:s}", "text", "Plain");
	s = reply_text_render(r);
	assert_string_equal(s, "Plain");
	free(s);
	json_decref(r);
	assert_null(reply_text_render(NULL));
}

/* Tax rounds half up, and a large subtotal does not overflow (a product may cost 10^15). */
static void test_tax(void **state)
{
	struct shop_settings s;
	long long sub;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.tax_bp = 1600;
	assert_int_equal(shop_settings_tax(&s, 170000), 27200);
	assert_int_equal(shop_settings_tax(&s, 3), 0);  /* 0.48 */
	assert_int_equal(shop_settings_tax(&s, 4), 1);  /* 0.64 */
	s.tax_bp = 1250;
	assert_int_equal(shop_settings_tax(&s, 4), 1);  /* 0.5 rounds up */
	for (sub = 0; sub < 30000; sub += 7)
		assert_int_equal(shop_settings_tax(&s, sub), (sub * 1250 + 5000) / 10000);
	s.tax_bp = 10000;
	assert_true(shop_settings_tax(&s, 1000000000000000000LL) == 1000000000000000000LL);
	s.tax_bp = 1600;
	assert_true(shop_settings_tax(&s, 1000000000000000LL) == 160000000000000LL);
	assert_true(shop_settings_tax(&s, 9000000000000000001LL) == 1440000000000000000LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_money),      cmocka_unit_test(test_utf8_clean),
	    cmocka_unit_test(test_template),   cmocka_unit_test(test_lifecycle_table),
	    cmocka_unit_test(test_reply_text), cmocka_unit_test(test_tax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
