/*
 * test_shop_api.c: issue 16 end to end, through the real `ccgw serve`, a real PostgreSQL
 * database, signed WhatsApp webhooks against the mock Graph API (tests/mock/graph_mock.py)
 * and a seller's webhook receiver (tests/mock/sink_mock.py): the settings routes (validation
 * naming the field and changing nothing, another shop's key, a change seen by the next
 * message), the FAQ routes, a whole WhatsApp checkout with delivery zones (matched, unsure
 * -> picked from the list, none -> polite refusal and pick-up), questions in English and
 * Swahili in the middle of a checkout with the step asked again, an M-Pesa confirmation
 * pasted in the chat that lands on the order and reaches the seller's webhook, a duplicate
 * code refused, and the payment PATCH (If-Match, paid, the shopper told).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "harness_wa.h"
#include "util.h"

#define PNID         "106540352242977"
#define APP_SECRET   "wa-app-secret-16"
#define VERIFY_TOKEN "wa-verify-token-16"
#define HOOK_SECRET  "hook-secret-16"

static char *other_tenant, *other_key;
static pid_t sink_pid;
static int sink_port;
static char faq_id[64];

/* ---- this test's own helpers (the shared ones are in tests/support/harness_wa.h) ---- */

/* The shopper's conversation with the bot, step by step: the replies since the last send. */
struct chat {
	const char *wa_id;
	json_t *reqs;
	size_t before;
};

static void chat_send(struct chat *c, char *body)
{
	json_decref(c->reqs);
	c->reqs = hx_wa_say(c->wa_id, body, &c->before);
}

static void chat_text(struct chat *c, const char *text)
{
	char wamid[64];

	hx_wa_next_wamid(wamid, sizeof(wamid));
	chat_send(c, hx_wa_text_webhook(c->wa_id, wamid, text));
}

/* Presses the choice whose payload starts with (or is, exact) id in the last replies. */
static void chat_press(struct chat *c, const char *id, int exact)
{
	struct hx_wa_choice ch;
	char wamid[64];

	hx_wa_find_choice(c->reqs, c->wa_id, c->before, id, exact, &ch);
	if (!ch.found) {
		char *t = hx_wa_texts_since(c->reqs, c->wa_id, c->before);

		fail_msg("no choice \"%s\" offered to %s after:\n%s", id, c->wa_id, t);
	}
	hx_wa_next_wamid(wamid, sizeof(wamid));
	chat_send(c, hx_wa_press_webhook(c->wa_id, wamid, ch.is_list, ch.id, ch.title, ch.ctx));
}

/* The text of the last replies (heap). */
static char *chat_said(struct chat *c)
{
	return hx_wa_texts_since(c->reqs, c->wa_id, c->before);
}

static void chat_expect(struct chat *c, const char *needle)
{
	char *t = chat_said(c);

	if (!strstr(t, needle))
		fail_msg("expected \"%s\" in the bot's answer to %s:\n%s", needle, c->wa_id, t);
	free(t);
}

static void chat_free(struct chat *c)
{
	json_decref(c->reqs);
	c->reqs = NULL;
}

/* From a product search to the delivery address question: the cart, the checkout, the name
 * offered from the WhatsApp profile. */
static void chat_to_address(struct chat *c, const char *quantity_payload_prefix)
{
	chat_text(c, "acacia honey");
	chat_expect(c, "Acacia Honey 500g");
	chat_press(c, quantity_payload_prefix, 0);
	chat_press(c, "ck", 1);
	chat_expect(c, "What name");
	chat_press(c, "name:use", 1);
	chat_expect(c, "delivery address");
}

/* From the phone question to the summary, paying with pay. */
static void chat_phone_pay(struct chat *c, const char *pay)
{
	chat_expect(c, "phone number");
	chat_press(c, "phone:use", 1);
	chat_expect(c, "How would you like to pay");
	chat_press(c, pay, 1);
	chat_expect(c, "Please confirm your order");
}

static char *order_of(const char *wa_id, const char *expr)
{
	char sql[512];
	const char *params[1] = {wa_id};

	snprintf(sql, sizeof(sql),
	         "SELECT %s FROM orders o JOIN order_channel_meta m ON m.order_id = o.id"
	         " WHERE m.external_chat_id = $1 ORDER BY o.created_at DESC LIMIT 1",
	         expr);
	return hx_tscalar(hx.tenant_id, sql, 1, params);
}

/* Waits for the seller's webhook to receive event about order_id; returns its body (new
 * reference) after checking the signature. */
static json_t *wait_webhook(const char *event, const char *order_id)
{
	int i;
	size_t k;
	const json_t *q;

	for (i = 0; i < 200; i++) {
		json_t *reqs = hx_mock_get(sink_port);

		json_array_foreach(reqs, k, q)
		{
			json_t *b =
			    json_loads(json_string_value(json_object_get(q, "body")), 0, NULL);
			const char *ev = json_string_value(json_object_get(b, "event"));
			const char *oid =
			    json_string_value(json_object_get(json_object_get(b, "order"), "id"));

			if (ev && oid && strcmp(ev, event) == 0 && strcmp(oid, order_id) == 0) {
				assert_true(json_is_true(json_object_get(q, "sig_ok")));
				assert_string_equal(json_string_value(json_object_get(q, "path")),
				                    "/hook");
				json_decref(reqs);
				return b;
			}
			json_decref(b);
		}
		json_decref(reqs);
		usleep(50000);
	}
	fail_msg("the seller's webhook never received %s for order %s", event, order_id);
	return NULL;
}

static const char shop_settings[] =
    "{\"tax_bp\": 1600, \"delivery_fee_minor\": 20000,"
    " \"payment_methods\": [\"cash_on_delivery\", {\"code\": \"mpesa\", \"instructions\":"
    "  \"Pay to till 123456.\", \"instructions_sw\": \"Lipa kwa till 123456.\"}],"
    " \"pickup_address\": \"Shop 4, Moi Avenue\","
    " \"returns_text\": \"Unopened items can be returned within 7 days.\","
    " \"delivery_zones\": ["
    "  {\"name\": \"Nairobi CBD\", \"aliases\": [\"town\", \"mjini\"], \"fee_minor\": 15000,"
    "   \"delivery_time\": \"same day\", \"delivery_time_sw\": \"siku hiyo hiyo\"},"
    "  {\"name\": \"Westlands\", \"aliases\": [\"sarit\"], \"fee_minor\": 25000},"
    "  {\"name\": \"Mombasa\", \"aliases\": [\"nyali\"], \"fee_minor\": 60000,"
    "   \"delivery_time\": \"2-3 days\"}]}";

static int group_setup(void **state)
{
	static const char *const env[] = {"CCGW_WEBHOOK_ALLOW_PRIVATE=1", NULL};
	struct testhttp_resp r;
	json_t *o;

	(void)state;
	hx.wa_pnid = PNID;
	hx.wa_app_secret = APP_SECRET;
	hx_setup("shop_api", "zone-shop");
	other_tenant = testdb_tenant_create(&hx.db, "other-shop", &other_key);
	hx_serve("graph_mock.py", "CCGW_WHATSAPP_API_BASE", env);
	o = hx_wa_register("EAAG-test-token", VERIFY_TOKEN);
	json_decref(o);
	hx_product_create("HNY-ACA-500", "Acacia Honey 500g", "Honey", 85000, 200);

	/* the seller's webhook receiver checks the signature with the target's secret */
	sink_pid = hx_sink_start(HOOK_SECRET, &sink_port);

	hx_api("PATCH", "/api/v1/settings", shop_settings, &r);
	if (r.status != 200)
		fail_msg("settings PATCH answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
	hx_api("POST", "/api/v1/faqs",
	       "{\"question\": \"Is your honey raw?\", \"examples\": [\"is the honey pure\","
	       " \"asali ni safi\", \"je asali yenu ni halisi\"], \"answer\": \"Yes: raw, straight "
	       "from our hives in Baringo.\", \"answer_sw\": \"Ndiyo: asali halisi kutoka mizinga "
	       "yetu ya Baringo.\"}",
	       &r);
	if (r.status != 201)
		fail_msg("faq POST answered %ld: %s", r.status, r.body);
	o = hx_json(&r);
	snprintf(faq_id, sizeof(faq_id), "%s", json_string_value(json_object_get(o, "id")));
	json_decref(o);
	testhttp_resp_clear(&r);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	hx_teardown();
	testsrv_stop_pid(sink_pid);
	free(other_tenant);
	free(other_key);
	return 0;
}

/* ---- tests ---- */

/* Bad values get 400 naming the field and change nothing; good ones are stored. */
static void test_settings_validation(void **state)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
	    {"{\"tax_bp\": 10001}", "tax_bp"},
	    {"{\"tax_bp\": 1600, \"delivery_fee_minor\": -5}", "delivery_fee_minor"},
	    {"{\"delivery_zones\": [{\"name\": \"Kisumu\"}]}", "delivery_zones[0].fee_minor"},
	    {"{\"delivery_zones\": [{\"name\": \"Kisumu\", \"fee_minor\": 100, \"aliases\": "
	     "[7]}]}",
	     "delivery_zones[0].aliases[0]"},
	    {"{\"business_hours\": {\"mon\": \"9 to 5\"}}", "business_hours.mon"},
	    {"{\"time_zone\": \"Africa/Atlantis\"}", "time_zone"},
	    {"{\"payment_methods\": []}", "payment_methods"},
	    {"{\"welcome\": \"hi\"}", "welcome"},
	    {"{\"name\": \"\"}", "name"},
	    {"{\"returns_text\": 5}", "returns_text"},
	};
	struct testhttp_resp r;
	char *before;
	size_t i;
	json_t *o;

	(void)state;
	hx_api("GET", "/api/v1/settings", NULL, &r);
	assert_int_equal(r.status, 200);
	before = strdup(r.body);
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "tax_bp")), 1600);
	assert_string_equal(json_string_value(json_object_get(o, "currency")), "KES");
	assert_int_equal(json_array_size(json_object_get(o, "delivery_zones")), 3);
	assert_string_equal(json_string_value(json_object_get(o, "pickup_address")),
	                    "Shop 4, Moi Avenue");
	json_decref(o);
	testhttp_resp_clear(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hx_api("PATCH", "/api/v1/settings", bad[i].body, &r);
		if (r.status != 400)
			fail_msg("%s answered %ld: %s", bad[i].body, r.status, r.body);
		o = hx_json(&r);
		assert_string_equal(
		    json_string_value(json_object_get(json_object_get(o, "error"), "field")),
		    bad[i].field);
		json_decref(o);
		testhttp_resp_clear(&r);
	}
	hx_api("PATCH", "/api/v1/settings", "not json", &r);
	assert_int_equal(r.status, 400);
	testhttp_resp_clear(&r);
	hx_api("GET", "/api/v1/settings", NULL, &r);
	assert_string_equal(r.body, before); /* nothing changed */
	testhttp_resp_clear(&r);
	free(before);

	/* a good change, then null puts a key back to its default */
	hx_api("PATCH", "/api/v1/settings",
	       "{\"handoff_timeout_minutes\": 45, \"time_zone\": \"Africa/Nairobi\"}", &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "handoff_timeout_minutes")), 45);
	json_decref(o);
	testhttp_resp_clear(&r);
	hx_api("PATCH", "/api/v1/settings", "{\"handoff_timeout_minutes\": null}", &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "handoff_timeout_minutes")), 30);
	assert_string_equal(json_string_value(json_object_get(o, "time_zone")), "Africa/Nairobi");
	json_decref(o);
	testhttp_resp_clear(&r);
	{
		char *v =
		    hx_tscalar(hx.tenant_id,
		               "SELECT settings ? 'handoff_timeout_minutes' FROM tenants", 0, NULL);

		assert_string_equal(v, "f");
		free(v);
	}
}

/* Another shop's key reads and changes only its own settings and questions. */
static void test_settings_isolation(void **state)
{
	struct testhttp_resp r;
	char path[128], *mine;
	json_t *o;

	(void)state;
	hx_api("GET", "/api/v1/settings", NULL, &r);
	mine = strdup(r.body);
	testhttp_resp_clear(&r);
	hx_api_as(other_key, "GET", "/api/v1/settings", NULL, &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	assert_int_equal(json_array_size(json_object_get(o, "delivery_zones")), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "tax_bp")), 0);
	json_decref(o);
	testhttp_resp_clear(&r);
	hx_api_as(other_key, "PATCH", "/api/v1/settings", "{\"tax_bp\": 500, \"name\": \"Other\"}",
	          &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	hx_api("GET", "/api/v1/settings", NULL, &r);
	assert_string_equal(r.body, mine);
	testhttp_resp_clear(&r);
	free(mine);

	snprintf(path, sizeof(path), "/api/v1/faqs/%s", faq_id);
	hx_api_as(other_key, "GET", path, NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	hx_api_as(other_key, "PATCH", path, "{\"answer\": \"No\"}", &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	hx_api_as(other_key, "DELETE", path, NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	hx_api_as(other_key, "GET", "/api/v1/faqs", NULL, &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	assert_int_equal(json_array_size(json_object_get(o, "data")), 0);
	json_decref(o);
	testhttp_resp_clear(&r);
	hx_api("GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "Baringo"));
	testhttp_resp_clear(&r);
	hx_api_as("ccgw_not-a-key", "GET", "/api/v1/settings", NULL, &r);
	assert_int_equal(r.status, 401);
	testhttp_resp_clear(&r);
}

/* The FAQ routes: validation, a paged list, a change, a removal. */
static void test_faq_routes(void **state)
{
	struct testhttp_resp r;
	char path[128], id[64];
	json_t *o;

	(void)state;
	hx_api("POST", "/api/v1/faqs", "{\"question\": \"Wholesale?\"}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"field\":\"answer\""));
	testhttp_resp_clear(&r);
	hx_api("POST", "/api/v1/faqs",
	       "{\"question\": \"Wholesale?\", \"answer\": \"Yes\", \"examples\": [\"\"]}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"field\":\"examples[0]\""));
	testhttp_resp_clear(&r);
	hx_api("POST", "/api/v1/faqs",
	       "{\"question\": \"Do you sell wholesale?\", \"answer\": \"From 20 jars.\","
	       " \"examples\": [\"bulk orders\", \"mnauza jumla\"]}",
	       &r);
	assert_int_equal(r.status, 201);
	o = hx_json(&r);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(o, "id")));
	assert_true(json_is_null(json_object_get(o, "answer_sw")));
	json_decref(o);
	testhttp_resp_clear(&r);
	hx_api("GET", "/api/v1/faqs?limit=1", NULL, &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	assert_int_equal(json_array_size(json_object_get(o, "data")), 1);
	assert_true(json_is_string(json_object_get(o, "next_cursor")));
	json_decref(o);
	testhttp_resp_clear(&r);
	snprintf(path, sizeof(path), "/api/v1/faqs/%s", id);
	hx_api("PATCH", path, "{\"answer_sw\": \"Kuanzia mitungi 20.\", \"bogus\": 1}", &r);
	assert_int_equal(r.status, 400);
	testhttp_resp_clear(&r);
	hx_api("PATCH", path, "{\"answer_sw\": \"Kuanzia mitungi 20.\"}", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "Kuanzia mitungi 20."));
	assert_non_null(strstr(r.body, "From 20 jars."));
	testhttp_resp_clear(&r);
	hx_api("DELETE", path, NULL, &r);
	assert_int_equal(r.status, 204);
	testhttp_resp_clear(&r);
	hx_api("GET", path, NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
}

/* A change of the settings is seen by the very next message. */
static void test_settings_take_effect(void **state)
{
	struct chat c = {.wa_id = "254700000101"};
	struct testhttp_resp r;

	(void)state;
	hx_api("PATCH", "/api/v1/settings", "{\"welcome_text\": \"Jambo from the zone shop!\"}",
	       &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	chat_text(&c, "hi");
	chat_expect(&c, "Jambo from the zone shop!");
	hx_api("PATCH", "/api/v1/settings", "{\"welcome_text\": \"Karibu again, new greeting.\"}",
	       &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	chat_text(&c, "hello");
	chat_expect(&c, "Karibu again, new greeting.");
	chat_free(&c);
}

/* A whole checkout whose address names a zone: its fee is charged. */
static void test_zone_matched(void **state)
{
	struct chat c = {.wa_id = "254700000201"};
	char *v;

	(void)state;
	chat_to_address(&c, "add:");
	chat_text(&c, "Moi Avenue 14, Nairobi CBD");
	chat_phone_pay(&c, "pay:cash_on_delivery");
	chat_expect(&c, "Delivery fee: KES 150");
	chat_expect(&c, "Delivery area: Nairobi CBD (same day)");
	chat_press(&c, "ck:yes", 1);
	chat_expect(&c, "has been placed");
	v = order_of(c.wa_id,
	             "o.delivery_fee_minor || '|' || (o.delivery_address->>'zone') || '|' ||"
	             " (o.total_minor = o.subtotal_minor + o.tax_minor + 15000)");
	assert_non_null(v);
	assert_string_equal(v, "15000|Nairobi CBD|true");
	free(v);
	chat_free(&c);
}

/* An address the bot is unsure of: the shopper picks the zone from the list. */
static void test_zone_unsure_pick(void **state)
{
	struct chat c = {.wa_id = "254700000202"};
	char *v;

	(void)state;
	chat_to_address(&c, "add:");
	chat_text(&c, "Westlnds mall, 2nd floor");
	chat_expect(&c, "Which of our delivery areas is \"Westlnds mall, 2nd floor\" in?");
	chat_press(&c, "zone:1", 1); /* Westlands, offered first */
	chat_phone_pay(&c, "pay:cash_on_delivery");
	chat_expect(&c, "Delivery fee: KES 250");
	chat_press(&c, "ck:yes", 1);
	chat_expect(&c, "has been placed");
	v = order_of(c.wa_id, "o.delivery_fee_minor || '|' || (o.delivery_address->>'zone')");
	assert_string_equal(v, "25000|Westlands");
	free(v);
	chat_free(&c);
}

/* An address in no zone: a polite refusal with pick-up, which then works. */
static void test_zone_none_pickup(void **state)
{
	struct chat c = {.wa_id = "254700000203"};
	char *v;

	(void)state;
	chat_to_address(&c, "add:");
	chat_text(&c, "Oginga Odinga Street, Kisumu");
	chat_expect(&c, "Sorry, we don't deliver to Oginga Odinga Street, Kisumu yet");
	chat_expect(&c, "Mombasa: KES 600, 2-3 days");
	chat_expect(&c, "pick up your order at Shop 4, Moi Avenue");
	assert_int_equal(hx_tcount("SELECT count(*) FROM conversations WHERE state = 'ck_address'"
	                           " AND external_chat_id = '254700000203'",
	                           0, NULL),
	                 1);
	chat_press(&c, "pickup", 1);
	chat_phone_pay(&c, "pay:cash_on_delivery");
	chat_expect(&c, "Delivery fee: KES 0");
	chat_expect(&c, "Pick-up: Shop 4, Moi Avenue");
	chat_press(&c, "ck:yes", 1);
	chat_expect(&c, "has been placed");
	v = order_of(c.wa_id, "o.delivery_fee_minor || '|' || (o.delivery_address->>'pickup')");
	assert_string_equal(v, "0|true");
	free(v);
	chat_free(&c);
}

static void chat_location(struct chat *c, double lat, double lon, const char *name,
                          const char *address)
{
	char wamid[64];
	json_t *m;

	hx_wa_next_wamid(wamid, sizeof(wamid));
	m = hx_wa_msg_base(c->wa_id, wamid, "location");
	json_object_set_new(m, "location",
	                    json_pack("{s:f, s:f, s:s, s:s}", "latitude", lat, "longitude", lon,
	                              "name", name, "address", address));
	chat_send(c, hx_wa_envelope(hx_wa_value_for(PNID, c->wa_id, "Amina Njeri", m)));
}

/* A shared location: the nearest zone with coordinates that holds it; a pin in none of them
 * (while a zone has no coordinates) is asked about, and "None of these" is refused. */
static void test_zone_location(void **state)
{
	struct chat c = {.wa_id = "254700000204"}, d = {.wa_id = "254700000205"};
	struct testhttp_resp r;
	char *v;

	(void)state;
	hx_api(
	    "PATCH", "/api/v1/settings",
	    "{\"delivery_zones\": ["
	    " {\"name\": \"Nairobi CBD\", \"aliases\": [\"town\", \"mjini\"], \"fee_minor\": 15000,"
	    "  \"delivery_time\": \"same day\", \"delivery_time_sw\": \"siku hiyo hiyo\","
	    "  \"latitude\": -1.2864, \"longitude\": 36.8172, \"radius_km\": 4},"
	    " {\"name\": \"Westlands\", \"aliases\": [\"sarit\"], \"fee_minor\": 25000,"
	    "  \"latitude\": -1.2676, \"longitude\": 36.8108, \"radius_km\": 3},"
	    " {\"name\": \"Mombasa\", \"aliases\": [\"nyali\"], \"fee_minor\": 60000,"
	    "  \"delivery_time\": \"2-3 days\"}]}",
	    &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	chat_to_address(&c, "add:");
	chat_location(&c, -1.2841, 36.8233, "Kencom House", "Moi Avenue");
	chat_phone_pay(&c, "pay:cash_on_delivery");
	chat_expect(&c, "Delivery area: Nairobi CBD (same day)");
	chat_press(&c, "ck:yes", 1);
	chat_expect(&c, "has been placed");
	v = order_of(c.wa_id, "o.delivery_fee_minor || '|' || (o.delivery_address->>'zone')");
	assert_string_equal(v, "15000|Nairobi CBD");
	free(v);
	chat_free(&c);

	chat_to_address(&d, "add:");
	chat_location(&d, -0.0917, 34.7680, "Jubilee Market", "Oginga Odinga St");
	chat_expect(&d, "Which of our delivery areas is");
	chat_press(&d, "zone:none", 1);
	chat_expect(&d, "Sorry, we don't deliver to Jubilee Market, Oginga Odinga St yet");
	chat_expect(&d, "Please type another delivery address.");
	chat_free(&d);
}

/* Questions in the middle of a checkout, in English and Swahili: answered, then the pending
 * step is asked again and the checkout goes on. */
static void test_questions_mid_checkout(void **state)
{
	struct chat c = {.wa_id = "254700000301"};
	char *v;
	const char *params[2] = {"254700000301", faq_id};

	(void)state;
	chat_to_address(&c, "add:");
	chat_text(&c, "do you deliver to Mombasa?");
	chat_expect(&c, "Yes, we deliver to Mombasa.");
	chat_expect(&c, "Delivery fee: KES 600");
	chat_expect(&c, "What is your delivery address?");
	chat_text(&c, "how long does delivery take?");
	chat_expect(&c, "Mombasa: 2-3 days");
	chat_expect(&c, "What is your delivery address?");
	chat_text(&c, "delivery fee?");
	chat_expect(&c, "Westlands: KES 250");
	chat_text(&c, "is the honey pure?");
	chat_expect(&c, "Yes: raw, straight from our hives in Baringo.");
	chat_expect(&c, "What is your delivery address?");
	chat_text(&c, "Je, asali yenu ni safi?");
	chat_expect(&c, "Ndiyo: asali halisi kutoka mizinga yetu ya Baringo.");
	chat_expect(&c, "anwani yako ya kusafirisha"); /* the step again, in Swahili */
	chat_text(&c, "can I return an item?");
	chat_expect(&c, "Unopened items can be returned within 7 days.");
	/* the matched question is in the event */
	v = hx_tscalar(hx.tenant_id,
	               "SELECT count(*) FROM conversation_events e JOIN conversations c ON"
	               " c.id = e.conversation_id WHERE c.external_chat_id = $1 AND e.event_type ="
	               " 'intent_detected' AND e.payload->>'intent' = 'question' AND"
	               " e.payload->'entities'->'faq'->>'id' = $2",
	               2, params);
	assert_string_equal(v, "2");
	free(v);
	/* and the checkout goes on where it was */
	chat_text(&c, "Nyali Links Road, house 4");
	chat_phone_pay(&c, "pay:cash_on_delivery");
	chat_expect(&c, "Delivery fee: KES 600");
	chat_expect(&c, "Delivery area: Mombasa (2-3 days)");
	chat_free(&c);
}

static void patch_json(const char *url, const char *const *headers, const char *body,
                       struct testhttp_resp *r)
{
	testhttp_request("PATCH", url, headers, body, strlen(body), r);
}

/* An M-Pesa order: the pasted confirmation lands on the order and reaches the seller's
 * webhook; the seller marks it paid with If-Match and the shopper is told. */
static void test_mpesa_claim_and_paid(void **state)
{
	struct chat c = {.wa_id = "254700000401"};
	struct testhttp_resp r;
	char *order_id, *v, path[128], version[16];
	json_t *body, *o;
	const char *headers[4];
	char url[256], auth[256], match[64];

	(void)state;
	chat_to_address(&c, "add:");
	chat_text(&c, "Sarit Centre, Westlands");
	chat_phone_pay(&c, "pay:mpesa");
	chat_press(&c, "ck:yes", 1);
	chat_expect(&c, "has been placed");
	chat_expect(&c, "paste the M-Pesa confirmation message here");
	order_id = order_of(c.wa_id, "o.id::text");
	v = order_of(c.wa_id, "o.payment_status");
	assert_string_equal(v, "awaiting");
	free(v);
	chat_text(&c, "nimelipa na mpesa");
	chat_expect(&c, "bandika hapa ujumbe wa uthibitisho wa M-Pesa");
	chat_text(&c, "QGH7XK2M1P Confirmed. Ksh1,000.00 sent to ZONE SHOP for account 1 on "
	              "6/12/26 at 1:05 PM New M-PESA balance is Ksh3,402.50. Transaction cost, "
	              "Ksh0.00.");
	chat_expect(&c, "QGH7XK2M1P");
	v = order_of(c.wa_id, "o.payment_ref || '|' || o.payment_status || '|' ||"
	                      " o.payment_amount_minor");
	assert_string_equal(v, "QGH7XK2M1P|claimed|100000");
	free(v);
	body = wait_webhook("order.payment_claimed", order_id);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(body, "payment"), "reference")),
	    "QGH7XK2M1P");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(body, "payment"), "amount_minor")),
	    100000);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(body, "order"), "payment_reference")),
	    "QGH7XK2M1P");
	json_decref(body);

	/* the seller's verdict: If-Match required, a stale version refused, then paid */
	snprintf(path, sizeof(path), "/api/v1/orders/%s", order_id);
	hx_api("PATCH", path, "{\"payment_status\": \"paid\"}", &r);
	assert_int_equal(r.status, 428);
	testhttp_resp_clear(&r);
	hx_api("PATCH", path, "{\"payment_status\": \"settled\"}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"field\":\"payment_status\""));
	testhttp_resp_clear(&r);
	hx_api("GET", path, NULL, &r);
	o = hx_json(&r);
	snprintf(version, sizeof(version), "%lld",
	         (long long)json_integer_value(json_object_get(o, "version")));
	assert_string_equal(json_string_value(json_object_get(o, "payment_status")), "claimed");
	json_decref(o);
	testhttp_resp_clear(&r);
	snprintf(url, sizeof(url), "%s%s", hx.srv.base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", hx.api_key);
	headers[0] = auth;
	headers[1] = "Content-Type: application/json";
	headers[2] = match;
	headers[3] = NULL;
	snprintf(match, sizeof(match), "If-Match: %ld", atol(version) + 5);
	patch_json(url, headers, "{\"payment_status\": \"paid\"}", &r);
	assert_int_equal(r.status, 412);
	testhttp_resp_clear(&r);
	{
		size_t before;
		json_t *reqs = hx_wa_requests();

		before = hx_wa_count_to(reqs, c.wa_id, 1);
		json_decref(reqs);
		snprintf(match, sizeof(match), "If-Match: %s", version);
		patch_json(url, headers, "{\"payment_status\": \"paid\"}", &r);
		assert_int_equal(r.status, 200);
		o = hx_json(&r);
		assert_string_equal(json_string_value(json_object_get(o, "payment_status")),
		                    "paid");
		assert_int_equal(json_integer_value(json_object_get(o, "version")),
		                 atol(version) + 1);
		assert_string_equal(json_string_value(json_object_get(o, "status")), "pending");
		json_decref(o);
		testhttp_resp_clear(&r);
		reqs = hx_wa_wait_replies(c.wa_id, before);
		v = hx_wa_texts_since(reqs, c.wa_id, before);
		if (!strstr(v, "We have received your payment for order #"))
			fail_msg("the shopper was not told: %s", v);
		free(v);
		json_decref(reqs);
	}
	body = wait_webhook("order.payment_changed", order_id);
	json_decref(body);
	/* paid is final; the status PATCH works as before */
	snprintf(match, sizeof(match), "If-Match: %ld", atol(version) + 1);
	patch_json(url, headers, "{\"payment_status\": \"rejected\"}", &r);
	assert_int_equal(r.status, 409);
	testhttp_resp_clear(&r);
	patch_json(url, headers, "{\"status\": \"confirmed\"}", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"status\":\"confirmed\""));
	testhttp_resp_clear(&r);
	free(order_id);
	chat_free(&c);
}

/* The same code for a second order is refused politely and stored nowhere; a code the seller
 * rejects can be replaced by another. */
static void test_mpesa_duplicate(void **state)
{
	struct chat c = {.wa_id = "254700000402"};
	char *v;

	(void)state;
	chat_to_address(&c, "add:");
	chat_text(&c, "Mjini, Tom Mboya Street");
	chat_phone_pay(&c, "pay:mpesa");
	chat_press(&c, "ck:yes", 1);
	chat_expect(&c, "has been placed");
	chat_text(&c, "QGH7XK2M1P"); /* the code of the order in test_mpesa_claim_and_paid */
	chat_expect(&c, "has already been used for another order");
	v = order_of(c.wa_id, "o.payment_status || '|' || coalesce(o.payment_ref, 'none')");
	assert_string_equal(v, "awaiting|none");
	free(v);
	assert_int_equal(
	    hx_tcount("SELECT count(*) FROM orders WHERE payment_ref = 'QGH7XK2M1P'", 0, NULL), 1);
	chat_text(&c, "RKT4AB9ZQ2");
	chat_expect(&c, "RKT4AB9ZQ2");
	v = order_of(c.wa_id, "o.payment_status || '|' || o.payment_ref");
	assert_string_equal(v, "claimed|RKT4AB9ZQ2");
	free(v);

	/* the seller does not find it: the shopper is told and may send another code */
	{
		char *id = order_of(c.wa_id, "o.id::text"),
		     *ver = order_of(c.wa_id, "o.version::text");
		char url[256], auth[256], match[64];
		const char *headers[4] = {auth, "Content-Type: application/json", match, NULL};
		struct testhttp_resp r;
		size_t before;
		json_t *reqs = hx_wa_requests();

		before = hx_wa_count_to(reqs, c.wa_id, 1);
		json_decref(reqs);
		snprintf(url, sizeof(url), "%s/api/v1/orders/%s", hx.srv.base_url, id);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", hx.api_key);
		snprintf(match, sizeof(match), "If-Match: %s", ver);
		testhttp_request("PATCH", url, headers, "{\"payment_status\": \"rejected\"}",
		                 strlen("{\"payment_status\": \"rejected\"}"), &r);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "\"payment_status\":\"rejected\""));
		testhttp_resp_clear(&r);
		reqs = hx_wa_wait_replies(c.wa_id, before);
		v = hx_wa_texts_since(reqs, c.wa_id, before);
		if (!strstr(v, "couldn't find an M-Pesa payment with the code RKT4AB9ZQ2"))
			fail_msg("the shopper was not told of the rejection: %s", v);
		free(v);
		json_decref(reqs);
		free(id);
		free(ver);
	}
	chat_text(&c, "SBC1DE2FG3");
	chat_expect(&c, "SBC1DE2FG3");
	v = order_of(c.wa_id, "o.payment_status || '|' || o.payment_ref");
	assert_string_equal(v, "claimed|SBC1DE2FG3");
	free(v);
	chat_free(&c);
}

/* A seller reached on WhatsApp gets the code with Paid / Not found buttons; Paid closes it. */
static void test_mpesa_seller_button(void **state)
{
	struct chat c = {.wa_id = "254700000403"}, seller = {.wa_id = "254711000999"};
	struct testhttp_resp r;
	char body[256], *v;

	(void)state;
	snprintf(body, sizeof(body),
	         "{\"kind\": \"whatsapp\", \"channel_id\": \"%s\", \"to\": \"%s\"}", hx.channel_id,
	         seller.wa_id);
	hx_api("POST", "/api/v1/notification-targets", body, &r);
	if (r.status != 201)
		fail_msg("whatsapp target answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
	chat_text(&seller, "hi"); /* the seller's 24-hour window is open */
	chat_to_address(&c, "add:");
	chat_text(&c, "Nyali, Links Road");
	chat_phone_pay(&c, "pay:mpesa");
	chat_press(&c, "ck:yes", 1);
	chat_expect(&c, "has been placed");
	chat_text(&c, "TXY9PL0MN4 Imethibitishwa. Ksh 2,572.00 imetumwa kwa ZONE SHOP tarehe "
	              "6/12/26 saa 1:05 PM.");
	chat_expect(&c, "TXY9PL0MN4");
	/* the seller's notification: the code, then the Paid button pressed from their chat */
	{
		int i;
		struct hx_wa_choice ch = {0};

		for (i = 0; i < 200 && !ch.found; i++) {
			json_decref(seller.reqs);
			seller.reqs = hx_wa_requests();
			hx_wa_find_choice(seller.reqs, seller.wa_id, 0, "pm:paid:", 0, &ch);
			if (!ch.found)
				usleep(50000);
		}
		assert_true(ch.found);
		seller.before = 0;
		v = chat_said(&seller);
		assert_non_null(strstr(v, "says they paid by M-Pesa, code TXY9PL0MN4"));
		free(v);
		seller.before = hx_wa_count_to(seller.reqs, seller.wa_id, 1) - 1;
		chat_press(&seller, "pm:paid:", 0);
	}
	chat_expect(&seller, "payment marked paid");
	v = order_of(c.wa_id, "o.payment_status || '|' || o.payment_ref");
	assert_string_equal(v, "paid|TXY9PL0MN4");
	free(v);
	chat_free(&seller);
	chat_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_settings_validation),
	    cmocka_unit_test(test_settings_isolation),
	    cmocka_unit_test(test_faq_routes),
	    cmocka_unit_test(test_settings_take_effect),
	    cmocka_unit_test(test_zone_matched),
	    cmocka_unit_test(test_zone_unsure_pick),
	    cmocka_unit_test(test_zone_none_pickup),
	    cmocka_unit_test(test_zone_location),
	    cmocka_unit_test(test_questions_mid_checkout),
	    cmocka_unit_test(test_mpesa_claim_and_paid),
	    cmocka_unit_test(test_mpesa_duplicate),
	    cmocka_unit_test(test_mpesa_seller_button),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
