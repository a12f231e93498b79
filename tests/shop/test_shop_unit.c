/*
 * test_shop_unit.c: the pure parts of issue 16: M-Pesa confirmation messages and codes
 * (commerce/mpesa.c), delivery zone matching by words, spelling and distance
 * (commerce/shop_zones.c), question topics and the seller's questions (commerce/shop_faq.c)
 * and the settings' checks (commerce/shop_settings_check.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mpesa.h"
#include "shop_faq.h"
#include "shop_settings.h"
#include "shop_zones.h"

static void test_mpesa_messages(void **state)
{
	static const struct {
		const char *text;
		int found;
		enum mpesa_kind kind;
		const char *code;
		long long amount;
		const char *party, *account;
	} cases[] = {
	    {"QGH7XK2M1P Confirmed. Ksh1,250.00 sent to HONEY SHOP for account 1042 on 6/12/26 at "
	     "1:05 PM New M-PESA balance is Ksh3,402.50. Transaction cost, Ksh0.00.",
	     1, MPESA_SENT, "QGH7XK2M1P", 125000, "HONEY SHOP", "1042"},
	    {"RKT4AB9ZQ2 Confirmed. Ksh850.00 paid to DUKA LA DEMO. on 6/12/26 at 9:14 AM.New "
	     "M-PESA balance is Ksh12.00.",
	     1, MPESA_PAID, "RKT4AB9ZQ2", 85000, "DUKA LA DEMO", ""},
	    {"SBC1DE2FG3 Confirmed.You have received Ksh2,000.00 from JOHN DOE 0712345678 on "
	     "6/12/26 at 3:00 PM",
	     1, MPESA_RECEIVED, "SBC1DE2FG3", 200000, "JOHN DOE 0712345678", ""},
	    {"TXY9PL0MN4 Imethibitishwa. Ksh 500 imetumwa kwa MAMA MBOGA tarehe 6/12/26", 1,
	     MPESA_SENT, "TXY9PL0MN4", 50000, "MAMA MBOGA", ""},
	    {"nimelipa, code ni QGH7XK2M1P", 1, MPESA_CODE, "QGH7XK2M1P", -1, "", ""},
	    {"qgh7xk2m1p", 1, MPESA_CODE, "QGH7XK2M1P", -1, "", ""},
	    {"CONFIRMED. thanks", 0, MPESA_NONE, "", -1, "", ""},
	    {"call me on 0712345678", 0, MPESA_NONE, "", -1, "", ""},
	    {"ABCDEFGHIJ", 0, MPESA_NONE, "", -1, "", ""},            /* no digit */
	    {"1234567890", 0, MPESA_NONE, "", -1, "", ""},            /* no letter */
	    {"my code is qgh7xk2m1p", 0, MPESA_NONE, "", -1, "", ""}, /* lower case in a sentence */
	    {"QGH7XK2M1PX Confirmed", 0, MPESA_NONE, "", -1, "", ""}, /* eleven */
	};
	struct mpesa_ref r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = mpesa_parse(cases[i].text, &r);

		if (got != cases[i].found)
			fail_msg("case %zu \"%s\": found %d", i, cases[i].text, got);
		if (!got)
			continue;
		assert_int_equal(r.kind, cases[i].kind);
		assert_string_equal(r.code, cases[i].code);
		if (r.amount_minor != cases[i].amount)
			fail_msg("case %zu: amount %lld, want %lld", i, r.amount_minor,
			         cases[i].amount);
		assert_string_equal(r.party, cases[i].party);
		assert_string_equal(r.account, cases[i].account);
	}
	assert_int_equal(mpesa_says_paid("nimelipa na mpesa"), 2);
	assert_int_equal(mpesa_says_paid("I have paid"), 1);
	assert_int_equal(mpesa_says_paid("Nimetuma pesa sasa hivi"), 2);
	assert_false(mpesa_says_paid("how do I pay?"));
	assert_false(mpesa_says_paid("nataka kulipa"));
}

static json_t *zones(void)
{
	json_t *z = json_loads(
	    "[{\"name\": \"Nairobi CBD\", \"aliases\": [\"town\", \"mjini\", \"cbd\"], "
	    "\"fee_minor\": 15000, \"latitude\": -1.2864, \"longitude\": 36.8172, \"radius_km\": "
	    "4},"
	    " {\"name\": \"Westlands\", \"aliases\": [\"sarit\"], \"fee_minor\": 25000,"
	    "  \"latitude\": -1.2676, \"longitude\": 36.8108, \"radius_km\": 3},"
	    " {\"name\": \"Mombasa\", \"aliases\": [\"nyali\", \"mvita\"], \"fee_minor\": 60000,"
	    "  \"min_order_minor\": 200000, \"delivery_time\": \"2-3 days\"},"
	    " {\"name\": \"Nairobi\", \"fee_minor\": 30000}]",
	    0, NULL);

	assert_non_null(z);
	return z;
}

static void test_zone_text(void **state)
{
	json_t *z = zones();
	struct zone_match m;

	(void)state;
	zone_match_text(z, "Moi Avenue 14, Nairobi CBD", &m);
	assert_int_equal(m.result, ZONE_MATCHED);
	assert_int_equal(m.index, 0); /* "nairobi cbd" is longer than "nairobi" */
	zone_match_text(z, "Nyali Links Road, house 4", &m);
	assert_int_equal(m.result, ZONE_MATCHED);
	assert_int_equal(m.index, 2);
	zone_match_text(z, "Ngong Road, NAIROBI", &m);
	assert_int_equal(m.result, ZONE_MATCHED);
	assert_int_equal(m.index, 3);
	zone_match_text(z, "Mombasaa, near the ferry", &m); /* a typo: ask */
	assert_int_equal(m.result, ZONE_UNSURE);
	assert_int_equal(m.candidates[0], 2);
	zone_match_text(z, "Westland, Sarit Centre", &m); /* "sarit" is an alias: matched */
	assert_int_equal(m.result, ZONE_MATCHED);
	assert_int_equal(m.index, 1);
	zone_match_text(z, "Westlnds mall", &m);
	assert_int_equal(m.result, ZONE_UNSURE);
	assert_int_equal(m.candidates[0], 1);
	zone_match_text(z, "Kisumu, Oginga Odinga Street", &m);
	assert_int_equal(m.result, ZONE_NONE);
	zone_match_text(z, "Mombasa or Westlands", &m); /* two zones named: ask */
	assert_int_equal(m.result, ZONE_UNSURE);
	assert_int_equal(m.ncandidates, 2);
	json_decref(z);
}

static void test_zone_point(void **state)
{
	json_t *z = zones(), *none = json_loads("[{\"name\": \"A\", \"fee_minor\": 1}]", 0, NULL);
	struct zone_match m;
	double d;

	(void)state;
	d = zone_distance_km(-1.2864, 36.8172, -4.0435, 39.6682); /* Nairobi - Mombasa */
	assert_true(d > 430 && d < 450);
	assert_int_equal(zone_match_point(z, -1.2841, 36.8233, &m), 0); /* Kenyatta Avenue */
	assert_int_equal(m.result, ZONE_MATCHED);
	assert_int_equal(m.index, 0);
	assert_int_equal(zone_match_point(z, -1.2630, 36.8040, &m), 0); /* Westlands */
	assert_int_equal(m.index, 1);
	assert_int_equal(zone_match_point(z, -0.0917, 34.7680, &m), 0); /* Kisumu: none */
	assert_int_equal(m.result, ZONE_NONE);
	assert_int_equal(zone_match_point(none, -1.2, 36.8, &m), -1); /* no coordinates */
	json_decref(none);
	json_decref(z);
}

static void test_topics(void **state)
{
	static const struct {
		const char *text;
		int strict;
		const char *topic, *place;
	} cases[] = {
	    {"do you deliver to Mombasa?", 0, FAQ_TOPIC_DELIVERY, "mombasa"},
	    {"Mnaleta hadi Nyali?", 0, FAQ_TOPIC_DELIVERY, "nyali"},
	    {"delivery fee?", 0, FAQ_TOPIC_DELIVERY_FEE, ""},
	    {"how much is delivery to Westlands", 0, FAQ_TOPIC_DELIVERY_FEE, "westlands"},
	    {"bei ya delivery ni ngapi", 0, FAQ_TOPIC_DELIVERY_FEE, ""},
	    {"how long does delivery take?", 0, FAQ_TOPIC_DELIVERY_TIME, ""},
	    {"itachukua siku ngapi kuleta?", 0, FAQ_TOPIC_DELIVERY_TIME, ""},
	    {"what time do you open?", 0, FAQ_TOPIC_HOURS, ""},
	    {"mnafungua saa ngapi?", 0, FAQ_TOPIC_HOURS, ""},
	    {"how can I pay?", 0, FAQ_TOPIC_PAYMENT, ""},
	    {"naweza kulipa na mpesa?", 0, FAQ_TOPIC_PAYMENT, ""},
	    {"can I return an item?", 0, FAQ_TOPIC_RETURNS, ""},
	    {"do you deliver to Mombasa?", 1, FAQ_TOPIC_DELIVERY, "mombasa"},
	    {"Nyali, Mombasa", 1, NULL, ""}, /* an address, not a question */
	    {"Amina Wanjiru", 1, NULL, ""},  /* a name */
	    {"2 honey", 0, NULL, ""},
	    {"show my cart", 0, NULL, ""},
	    {"mpesa", 0, NULL, ""}, /* a payment answer, not a question */
	};
	char place[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = faq_topic(cases[i].text, cases[i].strict, place, sizeof(place));

		if ((t == NULL) != (cases[i].topic == NULL) ||
		    (t && strcmp(t, cases[i].topic) != 0))
			fail_msg("\"%s\": topic %s, want %s", cases[i].text, t ? t : "none",
			         cases[i].topic ? cases[i].topic : "none");
		if (t && strcmp(place, cases[i].place) != 0)
			fail_msg("\"%s\": place \"%s\", want \"%s\"", cases[i].text, place,
			         cases[i].place);
	}
}

static void test_faq_best(void **state)
{
	json_t *faqs = json_loads(
	    "[{\"id\": \"a\", \"question\": \"Is the honey raw?\", \"examples\": [\"is your honey "
	    "pure\", \"asali ni safi\", \"je asali yenu ni halisi\"], \"answer\": \"Yes\"},"
	    " {\"id\": \"b\", \"question\": \"Do you sell wholesale?\", \"examples\": [\"bulk "
	    "orders\", \"mnauza jumla\"], \"answer\": \"Yes, from 20\"}]",
	    0, NULL);
	double score;

	(void)state;
	assert_int_equal(faq_best(faqs, "is the honey raw?", &score), 0);
	assert_int_equal(faq_best(faqs, "Je, asali yenu ni safi?", &score), 0);
	assert_int_equal(faq_best(faqs, "mnauza kwa jumla?", &score), 1);
	assert_int_equal(faq_best(faqs, "do you do bulk orders", &score), 1);
	assert_int_equal(faq_best(faqs, "show my cart", &score), -1);
	assert_int_equal(faq_best(faqs, "Amina Wanjiru", &score), -1);
	json_decref(faqs);
}

static void test_settings_check(void **state)
{
	static const struct {
		const char *json, *field; /* field NULL: valid */
	} cases[] = {
	    {"{\"tax_bp\": 1600, \"delivery_fee_minor\": 20000, \"name\": \"Duka\"}", NULL},
	    {"{\"tax_bp\": 10001}", "tax_bp"},
	    {"{\"tax_bp\": \"16\"}", "tax_bp"},
	    {"{\"delivery_fee_minor\": -1}", "delivery_fee_minor"},
	    {"{\"name\": \"\"}", "name"},
	    {"{\"name\": null}", "name"},
	    {"{\"tax_bp\": null}", NULL},
	    {"{\"colour\": \"red\"}", "colour"},
	    {"{\"handoff_timeout_minutes\": 10081}", "handoff_timeout_minutes"},
	    {"{\"business_hours\": {\"mon\": \"08:00-18:00\", \"sun\": \"closed\"}}", NULL},
	    {"{\"business_hours\": {\"mon\": \"18:00-08:00\"}}", "business_hours.mon"},
	    {"{\"business_hours\": {\"monday\": \"08:00-18:00\"}}", "business_hours.monday"},
	    {"{\"payment_methods\": [\"mpesa\", {\"code\": \"cash_on_delivery\"}]}", NULL},
	    {"{\"payment_methods\": []}", "payment_methods"},
	    {"{\"payment_methods\": [\"mpesa\", \"mpesa\"]}", "payment_methods[1].code"},
	    {"{\"payment_methods\": [{\"code\": \"m pesa\"}]}", "payment_methods[0].code"},
	    {"{\"delivery_zones\": [{\"name\": \"Kisumu\", \"aliases\": [\"kisumu town\"], "
	     "\"fee_minor\": 35000}]}",
	     NULL},
	    {"{\"delivery_zones\": [{\"name\": \"Kisumu\"}]}", "delivery_zones[0].fee_minor"},
	    {"{\"delivery_zones\": [{\"name\": \"Kisumu\", \"fee_minor\": 1}, {\"name\": "
	     "\"kisumu\", \"fee_minor\": 2}]}",
	     "delivery_zones[1].name"},
	    {"{\"delivery_zones\": [{\"name\": \"A\", \"fee_minor\": 1, \"aliases\": [\"\"]}]}",
	     "delivery_zones[0].aliases[0]"},
	    {"{\"delivery_zones\": [{\"name\": \"A\", \"fee_minor\": 1, \"latitude\": 1.5}]}",
	     "delivery_zones[0].longitude"},
	    {"{\"delivery_zones\": [{\"name\": \"A\", \"fee_minor\": 1, \"latitude\": 91, "
	     "\"longitude\": 3}]}",
	     "delivery_zones[0].latitude"},
	    {"{\"returns_text\": \"Returns within 7 days.\", \"pickup_address\": \"Shop 4\"}",
	     NULL},
	};
	struct jfield_error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_loads(cases[i].json, 0, NULL);
		int rc;

		assert_non_null(j);
		memset(&err, 0, sizeof(err));
		rc = shop_settings_check(j, &err);
		json_decref(j);
		if (!cases[i].field && rc != 0)
			fail_msg("%s: refused (%s: %s)", cases[i].json, err.field, err.message);
		if (cases[i].field && (rc == 0 || strcmp(err.field, cases[i].field) != 0))
			fail_msg("%s: want an error on %s, got rc %d field \"%s\"", cases[i].json,
			         cases[i].field, rc, err.field);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mpesa_messages), cmocka_unit_test(test_zone_text),
	    cmocka_unit_test(test_zone_point),     cmocka_unit_test(test_topics),
	    cmocka_unit_test(test_faq_best),       cmocka_unit_test(test_settings_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
