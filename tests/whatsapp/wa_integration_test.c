/*
 * wa_integration_test.c: the WhatsApp channel end to end: the real `ccgw serve` with a real
 * PostgreSQL database and a mock Graph API (tests/mock/graph_mock.py). Signed webhooks drive a
 * whole shopping conversation from "hi" to a placed order by pressing the ids ccgw sent;
 * every failure answer (401, 400, 404, 413, 503) stores nothing; redelivery, two shoppers in
 * one POST, statuses (forward-only), a failed status with 131047, unknown and foreign numbers.
 * The shared harness (tests/support/harness_wa.h) starts the server and posts the webhooks.
 */
#include <pthread.h>
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

#define PNID         "106540352242922"
#define APP_SECRET   "wa-app-secret-1"
#define VERIFY_TOKEN "wa-verify-token-1"

/* ---- helpers ---- */

/* Everything a webhook could have written, as one fingerprint string. */
static char *db_fingerprint(void)
{
	return hx_tscalar(hx.tenant_id,
	                  "SELECT (SELECT count(*) FROM inbound_messages) || '/' ||"
	                  " (SELECT count(*) FROM conversations) || '/' ||"
	                  " (SELECT count(*) FROM conversation_events) || '/' ||"
	                  " (SELECT count(*) FROM outbox) || '/' ||"
	                  " (SELECT count(*) FROM channel_events) || '/' ||"
	                  " (SELECT count(*) FROM customers)",
	                  0, NULL);
}

/* The fingerprint once earlier work (the dispatcher recording sends) has settled. */
static char *db_quiet_fingerprint(void)
{
	char *a = db_fingerprint(), *b = NULL;
	int i;

	for (i = 0; i < 40; i++) {
		usleep(250000);
		b = db_fingerprint();
		if (strcmp(a, b) == 0)
			break;
		free(a);
		a = b;
		b = NULL;
	}
	free(b);
	return a;
}

static char *location_webhook(const char *wa_id, const char *wamid)
{
	json_t *m = hx_wa_msg_base(wa_id, wamid, "location");

	json_object_set_new(m, "location",
	                    json_pack("{s:f, s:f, s:s, s:s}", "latitude", -1.292066, "longitude",
	                              36.821945, "name", "Kenyatta Avenue", "address",
	                              "Kenyatta Ave 12, Nairobi"));
	return hx_wa_envelope(hx_wa_value_for(PNID, wa_id, "Amina Njeri", m));
}

static void mock_fail(const char *spec)
{
	char url[128];
	struct testhttp_resp r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__fail", hx.mock_port);
	testhttp_request("POST", url, NULL, spec, strlen(spec), &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
}

#define GROUP_POOL "4" /* the shared server's database connections */

static int group_setup(void **state)
{
	/* a pool much smaller than the 16 workers, whatever the machine's cores (the default):
	 * test_group_commit's groups hold more messages than it has connections */
	static const char *const env[] = {"CCGW_MAX_BODY=65536", "CCGW_WHATSAPP_MARK_READ=1",
	                                  "CCGW_DB_POOL_SIZE=" GROUP_POOL, NULL};
	json_t *o;

	(void)state;
	hx.wa_pnid = PNID;
	hx.wa_app_secret = APP_SECRET;
	hx_setup("whatsapp", "wa-shop");
	hx_serve("graph_mock.py", "CCGW_WHATSAPP_API_BASE", env);
	o = hx_wa_register("EAAG-test-token", VERIFY_TOKEN);
	assert_non_null(
	    strstr(json_string_value(json_object_get(o, "webhook_url")), hx.channel_id));
	json_decref(o);
	hx_product_create("PH-TEC-01", "Tecno Spark 20", "Phones", 1899900, 12);
	hx_product_create("PH-SAM-15", "Samsung Galaxy A15", "Phones", 2499900, 8);
	hx_product_create("PH-NOK-105", "Nokia 105", "Phones", 299900, 30);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	hx_teardown();
	return 0;
}

/* ---- tests ---- */

static void test_verification(void **state)
{
	char url[512];
	struct testhttp_resp r;

	(void)state;
	snprintf(url, sizeof(url),
	         "%s/webhooks/whatsapp/"
	         "%s?hub.mode=subscribe&hub.verify_token=%s&hub.challenge=1158201444",
	         hx.srv.base_url, hx.channel_id, VERIFY_TOKEN);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "1158201444");
	assert_non_null(strstr(r.headers, "text/plain"));
	testhttp_resp_clear(&r);

	snprintf(
	    url, sizeof(url),
	    "%s/webhooks/whatsapp/%s?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
	    hx.srv.base_url, hx.channel_id);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "\"error\""));
	testhttp_resp_clear(&r);

	snprintf(url, sizeof(url),
	         "%s/webhooks/whatsapp/%s?hub.mode=unsubscribe&hub.verify_token=%s&hub.challenge=1",
	         hx.srv.base_url, hx.channel_id, VERIFY_TOKEN);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 403);
	testhttp_resp_clear(&r);

	snprintf(url, sizeof(url),
	         "%s/webhooks/whatsapp/0b5f3c1e-7a2d-4e8f-9c6b-1d2e3f4a5b6c?hub.mode=subscribe&"
	         "hub.verify_token=%s&hub.challenge=1",
	         hx.srv.base_url, VERIFY_TOKEN);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 403);
	testhttp_resp_clear(&r);
}

/* From "hi" to a placed order, pressing what ccgw sent, by id. */
static void test_whole_conversation(void **state)
{
	const char *shopper = "254712345678";
	/* what to press, in order of preference: the furthest step of the checkout first */
	static const struct {
		const char *id;
		int exact;
		int once;
	} plan[] = {
	    {"ck:yes", 1, 1},   {"pay:cash_on_delivery", 1, 1},
	    {"pay:", 0, 1},     {"phone:use", 1, 1},
	    {"name:use", 1, 1}, {"ck", 1, 1},
	    {"add:", 0, 1},     {"prod:", 0, 1},
	    {"cat:", 0, 1},     {"cart", 1, 0},
	    {"browse", 1, 0},
	};
	int pressed[sizeof(plan) / sizeof(plan[0])] = {0};
	char wamid[64], confirm_wamid[64] = "", *text, *order_number = NULL, *v;
	size_t before, step, p;
	json_t *reqs;
	int located = 0, placed = 0;

	(void)state;
	hx_wa_next_wamid(wamid, sizeof(wamid));
	reqs = hx_wa_say(shopper, hx_wa_text_webhook(shopper, wamid, "hi"), &before);
	for (step = 0; step < 25 && !placed; step++) {
		struct hx_wa_choice c = {0};
		char *body = NULL;

		text = hx_wa_texts_since(reqs, shopper, before);
		if (strstr(text, "#") && hx_tcount("SELECT count(*) FROM orders", 0, NULL) > 0) {
			placed = 1;
			free(text);
			break;
		}
		for (p = 0; p < sizeof(plan) / sizeof(plan[0]) && !c.found; p++) {
			if (plan[p].once && pressed[p])
				continue;
			hx_wa_find_choice(reqs, shopper, before, plan[p].id, plan[p].exact, &c);
			if (c.found)
				pressed[p] = 1;
		}
		hx_wa_next_wamid(wamid, sizeof(wamid));
		if (getenv("WA_TEST_VERBOSE"))
			fprintf(stderr, "--- bot:\n%s--- shopper: %s\n", text,
			        c.found ? c.id : "(types)");
		if (c.found) {
			body = hx_wa_press_webhook(shopper, wamid, c.is_list, c.id, c.title, c.ctx);
			if (strcmp(c.id, "ck:yes") == 0)
				snprintf(confirm_wamid, sizeof(confirm_wamid), "%s", wamid);
		} else if (!located && (strstr(text, "address") || strstr(text, "location"))) {
			body = location_webhook(shopper, wamid);
			located = 1;
		} else if (strstr(text, "phone")) {
			body = hx_wa_text_webhook(shopper, wamid, "0712345678");
		} else if (strstr(text, "name")) {
			body = hx_wa_text_webhook(shopper, wamid, "Amina Njeri");
		} else {
			fail_msg("step %zu: nothing to press and no question I know:\n%s", step,
			         text);
		}
		free(text);
		json_decref(reqs);
		reqs = hx_wa_say(shopper, body, &before);
	}
	assert_true(placed);
	assert_true(confirm_wamid[0]);
	text = hx_wa_texts_since(reqs, shopper, before);
	order_number = hx_tscalar(hx.tenant_id, "SELECT order_number::text FROM orders", 0, NULL);
	assert_non_null(order_number);
	{
		char tag[32];

		snprintf(tag, sizeof(tag), "#%s", order_number);
		if (!strstr(text, tag))
			fail_msg("the confirmation does not name %s:\n%s", tag, text);
	}
	/* the order remembers where it came from */
	v = hx_tscalar(
	    hx.tenant_id,
	    "SELECT m.channel || '|' || m.channel_id || '|' || m.external_chat_id || '|' ||"
	    " m.external_user_id || '|' || m.external_message_id FROM order_channel_meta m",
	    0, NULL);
	assert_non_null(v);
	{
		char want[512];

		snprintf(want, sizeof(want), "whatsapp|%s|%s|%s|%s", hx.channel_id, shopper,
		         shopper, confirm_wamid);
		assert_string_equal(v, want);
	}
	free(v);
	v = hx_tscalar(hx.tenant_id, "SELECT customer_name FROM orders", 0, NULL);
	assert_string_equal(v, "Amina Njeri");
	free(v);
	/* the replies went out with the channel's token, to the channel's number */
	{
		const json_t *q = json_array_get(reqs, 0);
		const char *auth = json_string_value(
		    json_object_get(json_object_get(q, "headers"), "authorization"));

		assert_string_equal(auth, "Bearer EAAG-test-token");
		assert_string_equal(json_string_value(json_object_get(q, "path")),
		                    "/v21.0/" PNID "/messages");
	}
	/* mark-as-read (CCGW_WHATSAPP_MARK_READ=1) went out for the shopper's messages */
	{
		size_t i, reads = 0;
		const json_t *q;

		json_array_foreach(reqs, i, q) if (json_is_string(json_object_get(
		                                       json_object_get(q, "body"), "status")))
		    reads++;
		assert_true(reads > 0);
	}
	/* every reply row carries the wamid the Graph API answered */
	assert_int_equal(hx_tcount("SELECT count(*) FROM outbox WHERE status = 'sent' AND "
	                           "platform_message_id IS NULL",
	                           0, NULL),
	                 0);
	free(text);
	free(order_number);
	json_decref(reqs);
}

static void api_if_match(const char *method, const char *path, const char *version,
                         const char *body, struct testhttp_resp *r)
{
	char url[512], auth[256], match[64];
	const char *headers[4] = {auth, "Content-Type: application/json", match, NULL};

	snprintf(url, sizeof(url), "%s%s", hx.srv.base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", hx.api_key);
	snprintf(match, sizeof(match), "If-Match: %s", version);
	testhttp_request(method, url, headers, body, strlen(body), r);
}

/* Waits for the shopper's status-update row to reach a final state; returns it (heap). */
static char *wait_status_row(const char *after_seq)
{
	const char *params[1] = {after_seq};
	char *v = NULL;
	int i;

	for (i = 0; i < 200; i++) {
		v = hx_tscalar(hx.tenant_id,
		               "SELECT status || '|' || id FROM outbox WHERE event_type ="
		               " 'order.status_changed' AND kind = 'reply' AND seq > $1::bigint"
		               " AND status NOT IN ('pending', 'sending') ORDER BY seq LIMIT 1",
		               1, params);
		if (v)
			return v;
		usleep(50000);
	}
	fail_msg("the status update was never sent nor given up");
	return NULL;
}

/* Outside the 24-hour window: a status update is undeliverable without a template, and goes
 * as the channel's template with one. */
static void test_window_template(void **state)
{
	const char *shopper = "254712345678";
	char *order = hx_tscalar(hx.tenant_id,
	                         "SELECT id || '|' || version || '|' || order_number"
	                         " FROM orders ORDER BY created_at LIMIT 1",
	                         0, NULL);
	char path[128], version[32], number[32], *seq, *v, tag[40];
	const char *params[2];
	struct testhttp_resp r;
	size_t before, i, templates = 0;
	json_t *reqs;
	const json_t *q;

	(void)state;
	assert_non_null(order);
	*strchr(order, '|') = '\0';
	snprintf(version, sizeof(version), "%s", order + strlen(order) + 1);
	*strchr(version, '|') = '\0';
	snprintf(number, sizeof(number), "%s", strrchr(order + strlen(order) + 1, '|') + 1);
	snprintf(path, sizeof(path), "/api/v1/orders/%s", order);
	params[0] = shopper;
	v = hx_tscalar(hx.tenant_id,
	               "WITH u AS (UPDATE conversations SET last_inbound_at = now() -"
	               " interval '25 hours' WHERE external_chat_id = $1 RETURNING 1)"
	               " SELECT count(*) FROM u",
	               1, params);
	assert_string_equal(v, "1");
	free(v);
	seq = hx_tscalar(hx.tenant_id, "SELECT coalesce(max(seq), 0)::text FROM outbox", 0, NULL);
	reqs = hx_wa_requests();
	before = hx_wa_count_to(reqs, shopper, 1);
	json_decref(reqs);

	api_if_match("PATCH", path, version, "{\"status\": \"confirmed\"}", &r);
	if (r.status != 200)
		fail_msg("PATCH answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
	v = wait_status_row(seq);
	assert_true(strncmp(v, "undeliverable|", 14) == 0);
	params[0] = strchr(v, '|') + 1;
	assert_int_equal(hx_tcount("SELECT count(*) FROM conversation_events WHERE event_type ="
	                           " 'message_failed' AND payload->>'outbox_id' = $1"
	                           " AND payload->>'status' = 'undeliverable'",
	                           1, params),
	                 1);
	free(v);
	reqs = hx_wa_requests();
	assert_int_equal(hx_wa_count_to(reqs, shopper, 1), before); /* nothing free-form went out */
	json_decref(reqs);

	/* the seller configures a template: the next update goes as that template */
	params[0] = hx.channel_id;
	v = hx_tscalar(hx.tenant_id,
	               "WITH u AS (UPDATE channels SET config = config ||"
	               " '{\"status_template\": {\"name\": \"order_update\","
	               " \"language\": \"en\"}}'::jsonb WHERE id = $1 RETURNING 1)"
	               " SELECT count(*) FROM u",
	               1, params);
	assert_string_equal(v, "1");
	free(v);
	free(seq);
	seq = hx_tscalar(hx.tenant_id, "SELECT coalesce(max(seq), 0)::text FROM outbox", 0, NULL);
	snprintf(version, sizeof(version), "%ld", atol(version) + 1);
	api_if_match("PATCH", path, version, "{\"status\": \"processing\"}", &r);
	if (r.status != 200)
		fail_msg("PATCH answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
	v = wait_status_row(seq);
	assert_true(strncmp(v, "sent|", 5) == 0);
	free(v);
	reqs = hx_wa_requests();
	snprintf(tag, sizeof(tag), "#%s", number);
	json_array_foreach(reqs, i, q)
	{
		const json_t *b = json_object_get(q, "body");
		const json_t *t = json_object_get(b, "template");
		char *dump;

		if (!json_is_object(t))
			continue;
		templates++;
		assert_string_equal(json_string_value(json_object_get(b, "to")), shopper);
		assert_string_equal(json_string_value(json_object_get(t, "name")), "order_update");
		dump = json_dumps(t, 0);
		assert_non_null(strstr(dump, tag)); /* the update's text is the body parameter */
		free(dump);
	}
	assert_int_equal(templates, 1);
	json_decref(reqs);
	/* back inside the window for the tests after this one */
	params[0] = shopper;
	v = hx_tscalar(hx.tenant_id,
	               "WITH u AS (UPDATE conversations SET last_inbound_at = now()"
	               " WHERE external_chat_id = $1 RETURNING 1) SELECT count(*) FROM u",
	               1, params);
	free(v);
	free(seq);
	free(order);
}

/* Every failure answer, and none of them stores anything. */
static void test_failures_store_nothing(void **state)
{
	char wamid[64], *body, *big, *before, *after;
	struct testhttp_resp r;
	json_t *o;
	size_t blen = 70000;

	(void)state;
	hx_wa_next_wamid(wamid, sizeof(wamid));
	body = hx_wa_text_webhook("254700000001", wamid, "hi");
	before = db_quiet_fingerprint();

	hx_wa_post_to(hx.channel_id, body, strlen(body), HX_WA_SIG_NONE, &r);
	assert_int_equal(r.status, 401);
	o = hx_json(&r);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "error"), "code")),
	                    "bad_signature");
	json_decref(o);
	testhttp_resp_clear(&r);
	hx_wa_post_to(hx.channel_id, body, strlen(body), HX_WA_SIG_WRONG, &r);
	assert_int_equal(r.status, 401);
	testhttp_resp_clear(&r);
	hx_wa_post_to(hx.channel_id, body, strlen(body), HX_WA_SIG_OTHER_SECRET, &r);
	assert_int_equal(r.status, 401);
	testhttp_resp_clear(&r);

	/* correctly signed, but not Cloud API JSON */
	{
		const char *tg = "{\"update_id\": 1, \"message\": {\"text\": \"hi\"}}";

		hx_wa_post_to(hx.channel_id, tg, strlen(tg), HX_WA_SIG_GOOD, &r);
	}
	assert_int_equal(r.status, 400);
	o = hx_json(&r);
	assert_non_null(
	    strstr(json_string_value(json_object_get(json_object_get(o, "error"), "message")),
	           "whatsapp_business_account"));
	json_decref(o);
	testhttp_resp_clear(&r);
	hx_wa_post_to(hx.channel_id, "{not json", 9, HX_WA_SIG_GOOD, &r);
	assert_int_equal(r.status, 400);
	testhttp_resp_clear(&r);

	/* unknown channel, and a channel id that is not a uuid */
	hx_wa_post_to("0b5f3c1e-7a2d-4e8f-9c6b-1d2e3f4a5b6c", body, strlen(body), HX_WA_SIG_GOOD,
	              &r);
	assert_int_equal(r.status, 404);
	o = hx_json(&r);
	assert_non_null(json_object_get(o, "error"));
	json_decref(o);
	testhttp_resp_clear(&r);
	hx_wa_post_to("not-a-uuid", body, strlen(body), HX_WA_SIG_GOOD, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);

	/* over CCGW_MAX_BODY */
	big = malloc(blen);
	memset(big, ' ', blen);
	memcpy(big, body, strlen(body));
	hx_wa_post_to(hx.channel_id, big, blen, HX_WA_SIG_GOOD, &r);
	assert_int_equal(r.status, 413);
	testhttp_resp_clear(&r);

	after = db_quiet_fingerprint();
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(big);
	free(body);
}

/* The same wamid twice: 200 both times, one effect. */
static void test_redelivery(void **state)
{
	const char *shopper = "254700000002";
	char wamid[64], *body;
	const char *params[1];
	struct testhttp_resp r;
	json_t *o, *reqs;
	size_t before;
	long outbox_rows;

	(void)state;
	hx_wa_next_wamid(wamid, sizeof(wamid));
	body = hx_wa_text_webhook(shopper, wamid, "hi");
	reqs = hx_wa_requests();
	before = hx_wa_count_to(reqs, shopper, 1);
	json_decref(reqs);
	assert_int_equal(hx_wa_post(body, &r), 200);
	testhttp_resp_clear(&r);
	json_decref(hx_wa_wait_replies(shopper, before));
	params[0] = shopper;
	outbox_rows = hx_tcount("SELECT count(*) FROM outbox WHERE recipient = $1", 1, params);
	assert_true(outbox_rows > 0);

	assert_int_equal(hx_wa_post(body, &r), 200);
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "duplicates")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "handled")), 0);
	json_decref(o);
	testhttp_resp_clear(&r);
	usleep(500000);
	assert_int_equal(hx_tcount("SELECT count(*) FROM outbox WHERE recipient = $1", 1, params),
	                 outbox_rows);
	params[0] = wamid;
	assert_int_equal(
	    hx_tcount("SELECT count(*) FROM inbound_messages WHERE platform_message_id = $1", 1,
	              params),
	    1);
	reqs = hx_wa_requests();
	assert_int_equal(hx_wa_count_to(reqs, shopper, 1), (size_t)outbox_rows);
	json_decref(reqs);
	free(body);
}

static void owner_exec(const char *sql)
{
	PGconn *c = testdb_connect_owner(&hx.db);
	PGresult *res = PQexec(c, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

/* A message that passes the signature but cannot be processed (here a trigger refuses its
 * event, standing in for a constraint or an engine bug) in a batch with a good message: the
 * good one is handled once; the bad one is tried on Meta's first three deliveries (503), then
 * recorded as failed and answered 200, and later deliveries are duplicates. */
static void test_poison_message(void **state)
{
	const char *shopper = "254700000077";
	char bad[64], good[64], *body;
	const char *params[2];
	struct testhttp_resp r;
	json_t *value, *msgs, *m, *o, *row;
	size_t i;
	int found = 0;

	(void)state;
	owner_exec("CREATE OR REPLACE FUNCTION t_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	           " IF NEW.payload->>'text' = 'POISON PILL' THEN"
	           " RAISE EXCEPTION 'refused by the test' USING ERRCODE = '23514'; END IF;"
	           " RETURN NEW; END $$");
	owner_exec("DROP TRIGGER IF EXISTS t_poison ON conversation_events");
	owner_exec("CREATE TRIGGER t_poison BEFORE INSERT ON conversation_events FOR EACH ROW"
	           " EXECUTE FUNCTION t_poison()");
	hx_wa_next_wamid(bad, sizeof(bad));
	hx_wa_next_wamid(good, sizeof(good));
	m = hx_wa_msg_base(shopper, bad, "text");
	json_object_set_new(m, "text", json_pack("{s:s}", "body", "POISON PILL"));
	value = hx_wa_value_for(PNID, shopper, "Baraka", m);
	msgs = json_object_get(value, "messages");
	m = hx_wa_msg_base(shopper, good, "text");
	json_object_set_new(m, "text", json_pack("{s:s}", "body", "hi"));
	json_array_append_new(msgs, m);
	body = hx_wa_envelope(value);

	params[0] = good;
	params[1] = bad;
	for (i = 1; i <= 2; i++) {
		assert_int_equal(hx_wa_post(body, &r), 503);
		testhttp_resp_clear(&r);
		assert_int_equal(hx_tcount("SELECT count(*) FROM inbound_messages WHERE"
		                           " platform_message_id = $1",
		                           1, params),
		                 1);
		assert_int_equal(hx_tcount("SELECT count(*) FROM inbound_failures WHERE"
		                           " platform_message_id = $2 AND status = 'retrying'"
		                           " AND attempts = $1::int",
		                           2, (const char *const[]){i == 1 ? "1" : "2", bad}),
		                 1);
	}
	assert_int_equal(hx_wa_post(body, &r), 200);
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "failed")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "duplicates")), 1);
	json_decref(o);
	testhttp_resp_clear(&r);
	assert_int_equal(hx_wa_post(body, &r), 200); /* from now on: a duplicate */
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "duplicates")), 2);
	assert_int_equal(json_integer_value(json_object_get(o, "failed")), 0);
	json_decref(o);
	testhttp_resp_clear(&r);
	assert_int_equal(hx_tcount("SELECT count(*) FROM inbound_messages WHERE platform_message_id"
	                           " IN ($1, $2)",
	                           2, params),
	                 2);
	assert_int_equal(hx_tcount("SELECT count(*) FROM channel_events WHERE event_type ="
	                           " 'message_failed' AND payload->>'platform_message_id' = $2"
	                           " AND payload->>'error' LIKE $1",
	                           2, (const char *const[]){"%23514%", bad}),
	                 1);
	/* the seller sees it through the admin API; /metrics counts it */
	hx_api("GET", "/api/v1/inbound-failures", NULL, &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	json_array_foreach(json_object_get(o, "data"), i, row)
		if (strcmp(json_string_value(json_object_get(row, "platform_message_id")), bad) == 0 &&
		    strcmp(json_string_value(json_object_get(row, "status")), "failed") == 0 &&
		    json_integer_value(json_object_get(row, "attempts")) == 3)
			found = 1;
	assert_true(found);
	json_decref(o);
	testhttp_resp_clear(&r);
	{
		char url[200];

		snprintf(url, sizeof(url), "%s/metrics", hx.srv.base_url);
		testhttp_request("GET", url, NULL, NULL, 0, &r);
		assert_non_null(strstr(r.body,
		                       "ccgw_inbound_messages_total{channel=\"whatsapp\",outcome=\"failed\"} 1\n"));
		testhttp_resp_clear(&r);
	}
	owner_exec("DROP TRIGGER t_poison ON conversation_events");
	owner_exec("DROP FUNCTION t_poison()");
	free(body);
}

/* ---- group commit ---- */

#define GROUP_SHOPPERS 24

struct group_post {
	char wa_id[32], wamid[64];
	char *body;
	long status;
	long handled;
	int done; /* set last, atomically */
	pthread_t thread;
};

static void *group_post_main(void *arg)
{
	struct group_post *g = arg;
	struct testhttp_resp r;
	json_t *o;

	g->status = hx_wa_post(g->body, &r);
	o = r.status == 200 ? hx_json(&r) : NULL;
	g->handled = o ? (long)json_integer_value(json_object_get(o, "handled")) : -1;
	json_decref(o);
	testhttp_resp_clear(&r);
	__atomic_store_n(&g->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static unsigned long long metric_value(const char *name)
{
	struct testhttp_resp r;
	char url[200], line[128];
	const char *at;
	unsigned long long v = 0;

	snprintf(url, sizeof(url), "%s/metrics", hx.srv.base_url);
	snprintf(line, sizeof(line), "\n%s ", name); /* the sample, not its # HELP line */
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	at = r.body ? strstr(r.body, line) : NULL;
	if (at)
		v = strtoull(at + strlen(line), NULL, 10);
	testhttp_resp_clear(&r);
	return v;
}

static double metric_double(const char *name)
{
	struct testhttp_resp r;
	char url[200], line[128];
	const char *at;
	double v = 0;

	snprintf(url, sizeof(url), "%s/metrics", hx.srv.base_url);
	snprintf(line, sizeof(line), "\n%s ", name);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	at = r.body ? strstr(r.body, line) : NULL;
	if (at)
		v = strtod(at + strlen(line), NULL);
	testhttp_resp_clear(&r);
	return v;
}

/* Requests over latency.h's threshold, whatever stage took most of their time. */
static unsigned long long slow_total(void)
{
	static const char *const stages[] = {"queue", "pool", "group_wait", "transaction",
	                                     "commit", "alone", "other", "write"};
	char name[96];
	unsigned long long n = 0;
	size_t i;

	for (i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
		snprintf(name, sizeof(name), "ccgw_request_slow_total{stage=\"%s\"}", stages[i]);
		n += metric_value(name);
	}
	return n;
}

/* Seconds requests spent queued for group commit, in transactions and written alone. */
static double db_wait_seconds(void)
{
	return metric_double("ccgw_request_stage_seconds_total{stage=\"group_wait\"}") +
	       metric_double("ccgw_request_stage_seconds_total{stage=\"transaction\"}") +
	       metric_double("ccgw_request_stage_seconds_total{stage=\"alone\"}");
}

/* Seconds requests spent waiting for a worker. */
static double queue_seconds(void)
{
	return metric_double("ccgw_request_stage_seconds_total{stage=\"queue\"}");
}

/* Messages that queue up while the database is busy are written together (group commit):
 * each is answered 200 only after its commit, each is stored once with its reply, and one
 * that fails is rolled back alone while the others in its transaction are kept. The queue is
 * made by holding a lock the first writers wait on. */
static void test_group_commit(void **state)
{
	struct group_post posts[GROUP_SHOPPERS] = {0};
	unsigned long long groups0 = metric_value("ccgw_group_commits_total"), grouped;
	unsigned long long held0 = metric_value("ccgw_group_commit_messages_total");
	/* where requests' time went (latency.h): each waits on the locks in its transaction or
	 * queued for its group */
	double db0 = db_wait_seconds(), q0 = queue_seconds();
	unsigned long long jobs0 = metric_value("ccgw_request_jobs_total"), slow0 = slow_total();
	PGconn *lock, *row_lock;
	PGresult *res;
	const char *params[1];
	int i, waiting = 0;

	(void)state;
	owner_exec("CREATE OR REPLACE FUNCTION t_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	           " IF NEW.payload->>'text' = 'POISON PILL' THEN"
	           " RAISE EXCEPTION 'refused by the test' USING ERRCODE = '23514'; END IF;"
	           " RETURN NEW; END $$");
	owner_exec("DROP TRIGGER IF EXISTS t_poison ON conversation_events");
	owner_exec("CREATE TRIGGER t_poison BEFORE INSERT ON conversation_events FOR EACH ROW"
	           " EXECUTE FUNCTION t_poison()");
	/* shopper 7 has written before, and someone else holds its conversation's row: in a
	 * group its message may not wait for it (it is written alone once the row is free) */
	{
		char wamid[64], *body;
		struct testhttp_resp r;

		hx_wa_next_wamid(wamid, sizeof(wamid));
		body = hx_wa_text_webhook("254700900007", wamid, "hi");
		assert_int_equal(hx_wa_post(body, &r), 200);
		testhttp_resp_clear(&r);
		free(body);
	}
	row_lock = PQconnectdb(hx.db.owner_url);
	assert_int_equal(PQstatus(row_lock), CONNECTION_OK);
	PQclear(PQexec(row_lock, "BEGIN"));
	PQclear(PQexecParams(row_lock, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL,
	                     (const char *const[]){hx.tenant_id}, NULL, NULL, 0));
	res = PQexec(row_lock, "SELECT id FROM conversations WHERE external_chat_id = '254700900007'"
	                       " FOR UPDATE");
	assert_int_equal(PQntuples(res), 1);
	PQclear(res);
	/* the queue: every other writer waits while the table is held (SHARE lets the row lock
	 * above be) */
	lock = PQconnectdb(hx.db.owner_url);
	assert_int_equal(PQstatus(lock), CONNECTION_OK);
	PQclear(PQexec(lock, "BEGIN"));
	res = PQexec(lock, "LOCK TABLE conversations IN SHARE MODE");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);

	for (i = 0; i < GROUP_SHOPPERS; i++) {
		struct group_post *g = &posts[i];

		snprintf(g->wa_id, sizeof(g->wa_id), "2547009%05d", i);
		hx_wa_next_wamid(g->wamid, sizeof(g->wamid));
		g->body = hx_wa_text_webhook(g->wa_id, g->wamid, i == 5 ? "POISON PILL" : "hi");
		assert_int_equal(pthread_create(&g->thread, NULL, group_post_main, g), 0);
	}
	/* the first writers wait on the lock; the rest queue behind them in ccgw */
	for (i = 0; i < 200 && waiting < 2; i++) {
		char *v = testdb_owner_scalar(&hx.db,
		                              "SELECT count(*) FROM pg_locks WHERE NOT granted"
		                              " AND relation = 'conversations'::regclass",
		                              0, NULL);

		waiting = v ? atoi(v) : 0;
		free(v);
		usleep(20000);
	}
	assert_true(waiting >= 1);
	/* held a second after the first waiter: every worker's message has reached its
	 * transaction or its group by then, even under the sanitizers with other suites running
	 * beside this one (a half second there left some workers less than 0.45 s of waiting) */
	usleep(1000000);
	PQclear(PQexec(lock, "ROLLBACK"));
	PQfinish(lock);
	usleep(500000); /* the groups run; shopper 7 waits alone for its row */
	assert_int_equal(__atomic_load_n(&posts[7].done, __ATOMIC_ACQUIRE), 0);
	PQclear(PQexec(row_lock, "ROLLBACK"));
	PQfinish(row_lock);

	for (i = 0; i < GROUP_SHOPPERS; i++)
		pthread_join(posts[i].thread, NULL);
	for (i = 0; i < GROUP_SHOPPERS; i++) {
		params[0] = posts[i].wamid;
		if (i == 5) { /* refused: 503 so that Meta sends it again; nothing of it kept */
			assert_int_equal(posts[i].status, 503);
			assert_int_equal(hx_tcount("SELECT count(*) FROM inbound_messages"
			                           " WHERE platform_message_id = $1",
			                           1, params),
			                 0);
			assert_int_equal(hx_tcount("SELECT count(*) FROM inbound_failures WHERE"
			                           " platform_message_id = $1 AND attempts = 1",
			                           1, params),
			                 1);
			continue;
		}
		assert_int_equal(posts[i].status, 200);
		assert_int_equal(posts[i].handled, 1);
		assert_int_equal(hx_tcount("SELECT count(*) FROM inbound_messages"
		                           " WHERE platform_message_id = $1",
		                           1, params),
		                 1);
		assert_int_equal(hx_tcount("SELECT count(*) FROM outbox WHERE kind = 'reply'"
		                           " AND reply_to = $1",
		                           1, params),
		                 1);
		assert_int_equal(
		    hx_tcount("SELECT count(*) FROM conversation_events WHERE event_type ="
		              " 'message_received' AND payload->>'message_id' = $1",
		              1, params),
		    1);
	}
	grouped = metric_value("ccgw_group_commits_total");
	assert_true(grouped > groups0); /* they were written in shared transactions */
	/* and more of them to a group than the pool has connections: a message waiting for its
	 * group gives its connection back, so every worker's message could join (without that,
	 * at most GROUP_POOL could wait at once, so no group could hold more) */
	assert_true(metric_value("ccgw_group_commit_messages_total") - held0 >
	            (grouped - groups0) * strtoull(GROUP_POOL, NULL, 10));
	/* every webhook was timed; shopper 7 waited over half a second for its row, written
	 * alone after its group (the stage /metrics names for it) */
	assert_true(metric_value("ccgw_request_jobs_total") >= jobs0 + GROUP_SHOPPERS);
	assert_true(slow_total() >= slow0 + GROUP_SHOPPERS); /* each waited over 500 ms */
	/* the 16 that had a worker (the default workers) waited in the database's stages, the
	 * rest first for a worker: with warm connections (warm.h) the queue is most of theirs */
	assert_true(db_wait_seconds() >= db0 + 0.45 * 16);
	assert_true(db_wait_seconds() + queue_seconds() >= db0 + q0 + 0.45 * GROUP_SHOPPERS);
	owner_exec("DROP TRIGGER t_poison ON conversation_events");
	owner_exec("DROP FUNCTION t_poison()");
	for (i = 0; i < GROUP_SHOPPERS; i++)
		free(posts[i].body);
}

/* The gateway keeps channel rows in memory between webhooks; a change made through the admin
 * API is seen by the very next webhook (059's NOTIFY), not after some expiry. */
static void test_channel_change_seen_at_once(void **state)
{
	const char *shopper = "254700000066";
	char path[128], wamid[64], *body;
	struct testhttp_resp r;
	int i;

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/channels/%s", hx.channel_id);
	hx_wa_next_wamid(wamid, sizeof(wamid));
	body = hx_wa_text_webhook(shopper, wamid, "hi");
	assert_int_equal(hx_wa_post(body, &r), 200); /* read, and kept */
	testhttp_resp_clear(&r);
	free(body);

	hx_api("PATCH", path, "{\"status\": \"disabled\"}", &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	hx_wa_next_wamid(wamid, sizeof(wamid));
	body = hx_wa_text_webhook(shopper, wamid, "hi");
	/* the change reaches the server asynchronously (NOTIFY after the commit): allow it the
	 * time a notification takes, which is milliseconds */
	for (i = 0; i < 50; i++) {
		hx_wa_post(body, &r);
		if (r.status == 404)
			break;
		testhttp_resp_clear(&r);
		usleep(10000);
	}
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	assert_true(i < 50);

	hx_api("PATCH", path, "{\"status\": \"active\"}", &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	for (i = 0; i < 50; i++) {
		hx_wa_post(body, &r);
		if (r.status == 200)
			break;
		testhttp_resp_clear(&r);
		usleep(10000);
	}
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	free(body);
}

/* One POST from two shoppers: two conversations, each answered. */
static void test_two_shoppers(void **state)
{
	char path[512], *body;
	FILE *f;
	long n;
	struct testhttp_resp r;
	json_t *o, *reqs;
	const char *params[1];

	(void)state;
	snprintf(path, sizeof(path), "%s/whatsapp/two_shoppers.json", CCGW_TEST_DATA);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	body = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(body, 1, (size_t)n, f), (size_t)n);
	fclose(f);

	assert_int_equal(hx_wa_post(body, &r), 200);
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "handled")), 2);
	json_decref(o);
	testhttp_resp_clear(&r);
	reqs = hx_wa_wait_replies("254798765432", 0);
	json_decref(reqs);
	reqs = hx_wa_requests();
	assert_true(hx_wa_count_to(reqs, "254712345678", 1) > 0);
	assert_true(hx_wa_count_to(reqs, "254798765432", 1) > 0);
	json_decref(reqs);
	params[0] = "254798765432";
	assert_int_equal(
	    hx_tcount("SELECT count(*) FROM conversations WHERE external_chat_id = $1", 1, params),
	    1);
	free(body);
}

/* Sends "hi" from wa_id and returns the wamid of the first reply (heap). */
static char *reply_wamid_for(const char *wa_id)
{
	char wamid[64], *out = NULL;
	size_t before, i;
	json_t *reqs;
	const json_t *q;

	hx_wa_next_wamid(wamid, sizeof(wamid));
	reqs = hx_wa_say(wa_id, hx_wa_text_webhook(wa_id, wamid, "hi"), &before);
	json_array_foreach(reqs, i, q)
	{
		const char *to =
		    json_string_value(json_object_get(json_object_get(q, "body"), "to"));

		if (to && strcmp(to, wa_id) == 0 && json_is_string(json_object_get(q, "wamid")) &&
		    !out)
			out = strdup(json_string_value(json_object_get(q, "wamid")));
	}
	json_decref(reqs);
	assert_non_null(out);
	/* the dispatcher records the wamid once the send is recorded */
	for (i = 0; i < 100; i++) {
		const char *params[1] = {out};

		if (hx_tcount("SELECT count(*) FROM outbox WHERE platform_message_id = $1", 1,
		              params) == 1)
			return out;
		usleep(50000);
	}
	fail_msg("the outbox never recorded %s", out);
	return NULL;
}

static char *status_webhook(const char *wamid, const char *wa_id, const char *status, long code,
                            const char *title)
{
	json_t *st = json_pack("{s:s, s:s, s:s, s:s}", "id", wamid, "status", status, "timestamp",
	                       "1718600100", "recipient_id", wa_id);
	json_t *value;

	if (code)
		json_object_set_new(st, "errors",
		                    json_pack("[{s:i, s:s, s:s, s:{s:s}}]", "code", (int)code,
		                              "title", title, "message", title, "error_data",
		                              "details",
		                              "Message failed to send because more than 24 hours "
		                              "have passed since the customer last replied to this "
		                              "number."));
	value = json_pack("{s:s, s:{s:s, s:s}, s:[o]}", "messaging_product", "whatsapp", "metadata",
	                  "display_phone_number", "15550783881", "phone_number_id", PNID,
	                  "statuses", st);
	return hx_wa_envelope(value);
}

static void post_ok(char *body)
{
	struct testhttp_resp r;

	if (hx_wa_post(body, &r) != 200)
		fail_msg("webhook answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
	free(body);
}

/* A "delivered" status that arrives while the send it is about is still waiting for Meta's
 * answer (the mock holds it 1.5 s): kept, then applied when the dispatcher writes the
 * outcome; the row ends delivered, with its event, and nothing is left pending. */
static void test_status_before_outcome(void **state)
{
	const char *shopper = "254700000088";
	const char *early = "wamid.EARLYSTATUS0001";
	char wamid[64], url[128];
	const char *params[1] = {early};
	struct testhttp_resp r;
	int i;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__hold", hx.mock_port);
	testhttp_request("POST", url, NULL, "{\"wamid\": \"wamid.EARLYSTATUS0001\", \"delay_ms\": 1500}",
	                 strlen("{\"wamid\": \"wamid.EARLYSTATUS0001\", \"delay_ms\": 1500}"), &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	hx_wa_next_wamid(wamid, sizeof(wamid));
	post_ok(hx_wa_text_webhook(shopper, wamid, "hi"));
	usleep(400000); /* the reply's send is at the mock, held */
	post_ok(status_webhook(early, shopper, "delivered", 0, NULL));
	assert_int_equal(
	    hx_tcount("SELECT count(*) FROM outbox WHERE platform_message_id = $1", 1, params), 0);
	assert_int_equal(hx_tcount("SELECT count(*) FROM pending_statuses WHERE"
	                           " platform_message_id = $1 AND status = 'delivered'",
	                           1, params),
	                 1);
	for (i = 0; i < 100; i++) {
		if (hx_tcount("SELECT count(*) FROM outbox WHERE platform_message_id = $1"
		              " AND status = 'delivered'",
		              1, params) == 1)
			break;
		usleep(100000);
	}
	assert_int_equal(hx_tcount("SELECT count(*) FROM outbox WHERE platform_message_id = $1"
	                           " AND status = 'delivered'",
	                           1, params),
	                 1);
	assert_int_equal(hx_tcount("SELECT count(*) FROM pending_statuses WHERE"
	                           " platform_message_id = $1",
	                           1, params),
	                 0);
	assert_int_equal(
	    hx_tcount("SELECT count(*) FROM conversation_events e JOIN outbox o ON"
	              " o.id::text = e.payload->>'outbox_id' WHERE"
	              " o.platform_message_id = $1 AND e.event_type = 'message_delivered'",
	              1, params),
	    1);
	/* the same status again, now that the id is known: no second event */
	post_ok(status_webhook(early, shopper, "delivered", 0, NULL));
	assert_int_equal(
	    hx_tcount("SELECT count(*) FROM conversation_events e JOIN outbox o ON"
	              " o.id::text = e.payload->>'outbox_id' WHERE"
	              " o.platform_message_id = $1 AND e.event_type = 'message_delivered'",
	              1, params),
	    1);
}

/* delivered, read, then a late delivered: the row stays read; each event once. */
static void test_statuses(void **state)
{
	const char *shopper = "254700000003";
	char *wamid = reply_wamid_for(shopper), *v;
	const char *params[1] = {wamid};

	(void)state;
	post_ok(status_webhook(wamid, shopper, "sent", 0, NULL));
	post_ok(status_webhook(wamid, shopper, "delivered", 0, NULL));
	v = hx_tscalar(hx.tenant_id, "SELECT status FROM outbox WHERE platform_message_id = $1", 1,
	               params);
	assert_string_equal(v, "delivered");
	free(v);
	post_ok(status_webhook(wamid, shopper, "read", 0, NULL));
	post_ok(status_webhook(wamid, shopper, "delivered", 0, NULL)); /* late */
	post_ok(status_webhook(wamid, shopper, "read", 0, NULL));      /* redelivered */
	v = hx_tscalar(hx.tenant_id, "SELECT status FROM outbox WHERE platform_message_id = $1", 1,
	               params);
	assert_string_equal(v, "read");
	free(v);
	assert_int_equal(hx_tcount("SELECT count(*) FROM conversation_events WHERE event_type = "
	                           "'message_delivered' AND payload->>'platform_message_id' = $1",
	                           1, params),
	                 1);
	assert_int_equal(hx_tcount("SELECT count(*) FROM conversation_events WHERE event_type = "
	                           "'message_read' AND payload->>'platform_message_id' = $1",
	                           1, params),
	                 1);
	/* a failure after delivery does not undo it */
	post_ok(status_webhook(wamid, shopper, "failed", 131026, "Message undeliverable"));
	v = hx_tscalar(hx.tenant_id, "SELECT status FROM outbox WHERE platform_message_id = $1", 1,
	               params);
	assert_string_equal(v, "read");
	free(v);
	free(wamid);
}

static void test_failed_131047(void **state)
{
	const char *shopper = "254700000004";
	char *wamid = reply_wamid_for(shopper), *v;
	const char *params[1] = {wamid};

	(void)state;
	post_ok(status_webhook(wamid, shopper, "failed", 131047, "Re-engagement message"));
	v = hx_tscalar(hx.tenant_id,
	               "SELECT status || '|' || error_code || '|' || last_error FROM outbox"
	               " WHERE platform_message_id = $1",
	               1, params);
	assert_string_equal(v, "failed|131047|Re-engagement message");
	free(v);
	v = hx_tscalar(hx.tenant_id,
	               "SELECT payload->>'error_code' FROM conversation_events WHERE event_type ="
	               " 'message_failed' AND payload->>'platform_message_id' = $1",
	               1, params);
	assert_non_null(v);
	assert_string_equal(v, "131047");
	free(v);
	free(wamid);
}

/* A change for a number no channel has is skipped with 200, logged and recorded. */
static void test_unknown_number(void **state)
{
	char wamid[64], *body;
	struct testhttp_resp r;
	json_t *m, *o;
	const char *params[1] = {wamid};

	(void)state;
	hx_wa_next_wamid(wamid, sizeof(wamid));
	m = hx_wa_msg_base("254700000005", wamid, "text");
	json_object_set_new(m, "text", json_pack("{s:s}", "body", "hi"));
	body = hx_wa_envelope(hx_wa_value_for("999000111222", "254700000005", "X", m));
	assert_int_equal(hx_wa_post(body, &r), 200);
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "skipped")), 1);
	json_decref(o);
	testhttp_resp_clear(&r);
	assert_int_equal(
	    hx_tcount("SELECT count(*) FROM inbound_messages WHERE platform_message_id = $1", 1,
	              params),
	    0);
	assert_int_equal(hx_tcount("SELECT count(*) FROM channel_events WHERE event_type ="
	                           " 'whatsapp_unknown_number' AND payload->>'phone_number_id' = "
	                           "'999000111222'",
	                           0, NULL),
	                 1);
	free(body);
}

/* Another tenant's number (another Meta app) cannot be fed through this app's signature. */
static void test_foreign_number(void **state)
{
	char *other_key = NULL, *other = testdb_tenant_create(&hx.db, "wa-other", &other_key);
	char *saved_key = hx.api_key, wamid[64], *body, *v;
	struct testhttp_resp r;
	json_t *m, *o;

	(void)state;
	hx.api_key = other_key;
	hx_api("POST", "/api/v1/channels",
	       "{\"type\": \"whatsapp\", \"phone_number_id\": \"222333444555\", \"access_token\": "
	       "\"EAAG-other\", \"app_secret\": \"other-app-secret\", \"verify_token\": \"v2\"}",
	       &r);
	hx.api_key = saved_key;
	assert_int_equal(r.status, 201);
	testhttp_resp_clear(&r);

	hx_wa_next_wamid(wamid, sizeof(wamid));
	m = hx_wa_msg_base("254700000006", wamid, "text");
	json_object_set_new(m, "text", json_pack("{s:s}", "body", "hi"));
	body = hx_wa_envelope(hx_wa_value_for("222333444555", "254700000006", "Mallory", m));
	assert_int_equal(hx_wa_post(body, &r), 200); /* signed with channel 1's secret */
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "skipped")), 1);
	json_decref(o);
	testhttp_resp_clear(&r);
	v = hx_tscalar(other, "SELECT count(*) FROM inbound_messages", 0, NULL);
	assert_string_equal(v, "0");
	free(v);
	free(body);
	free(other);
	free(other_key);
}

/* A photo gets a polite answer, and no crash. */
static void test_media_answered(void **state)
{
	const char *shopper = "254700000007";
	char wamid[64];
	size_t before;
	json_t *m, *reqs;

	(void)state;
	hx_wa_next_wamid(wamid, sizeof(wamid));
	m = hx_wa_msg_base(shopper, wamid, "image");
	json_object_set_new(m, "image",
	                    json_pack("{s:s, s:s, s:s}", "id", "1188459325460153", "mime_type",
	                              "image/jpeg", "caption", "this one?"));
	reqs = hx_wa_say(shopper, hx_wa_envelope(hx_wa_value_for(PNID, shopper, "Photo Person", m)),
	                 &before);
	assert_true(hx_wa_count_to(reqs, shopper, 1) > before);
	json_decref(reqs);
}

/* 503 while the database is away; nothing half-written; the retry works. */
static void test_database_down(void **state)
{
	struct testsrv s2;
	struct testdb through = hx.db;
	char listen[16], target[64], wamid[64], *body, url[128];
	const char *p, *params[1] = {wamid};
	int control, lport = testsrv_free_port();
	pid_t proxy;
	struct testhttp_resp r;
	char env_base[96];
	const char *env[3];

	(void)state;
	p = strstr(hx.db.app_url, "port='");
	assert_non_null(p);
	snprintf(listen, sizeof(listen), "%d", lport);
	snprintf(target, sizeof(target), "127.0.0.1:%d", atoi(p + 6));
	proxy = testsrv_spawn_mock(
	    "tcp_proxy.py", (const char *const[]){"--listen", listen, "--target", target, NULL},
	    &control);
	{
		const char *e = strchr(p + 6, '\'');

		snprintf(through.app_url, sizeof(through.app_url), "%.*sport='%d'%s",
		         (int)(p - hx.db.app_url), hx.db.app_url, lport, e + 1);
	}
	snprintf(env_base, sizeof(env_base), "CCGW_WHATSAPP_API_BASE=http://127.0.0.1:%d",
	         hx.mock_port);
	env[0] = env_base;
	env[1] = "CCGW_DISPATCH_WORKERS=0";
	env[2] = NULL;
	testsrv_start(&s2, &through, env);

	hx_wa_next_wamid(wamid, sizeof(wamid));
	body = hx_wa_text_webhook("254700000008", wamid, "hi");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__down", control);
	testhttp_request("POST", url, NULL, "", 0, &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	{
		char hex[65], sig[96], u[256];
		const char *h[3] = {"Content-Type: application/json", sig, NULL};

		util_hmac_sha256_hex(APP_SECRET, strlen(APP_SECRET), body, strlen(body), hex);
		snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", hex);
		snprintf(u, sizeof(u), "%s/webhooks/whatsapp/%s", s2.base_url, hx.channel_id);
		testhttp_request("POST", u, h, body, strlen(body), &r);
		assert_int_equal(r.status, 503);
		assert_non_null(strstr(r.body, "\"error\""));
		testhttp_resp_clear(&r);
		assert_int_equal(hx_tcount("SELECT count(*) FROM inbound_messages WHERE"
		                           " platform_message_id = $1",
		                           1, params),
		                 0);

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/__up", control);
		testhttp_request("POST", url, NULL, "", 0, &r);
		testhttp_resp_clear(&r);
		/* Meta retries; once the database is back the message is taken, once */
		for (int i = 0; i < 50; i++) {
			testhttp_request("POST", u, h, body, strlen(body), &r);
			if (r.status == 200)
				break;
			testhttp_resp_clear(&r);
			usleep(100000);
		}
		assert_int_equal(r.status, 200);
		testhttp_resp_clear(&r);
	}
	assert_int_equal(
	    hx_tcount("SELECT count(*) FROM inbound_messages WHERE platform_message_id = $1", 1,
	              params),
	    1);
	testsrv_stop(&s2);
	testsrv_stop_pid(proxy);
	free(body);
}

/* A rate-limit answer from the Graph API is retried; the reply still arrives. */
static void test_rate_limited_then_sent(void **state)
{
	const char *shopper = "254700000009";
	char wamid[64];
	size_t before, i, failed = 0;
	json_t *reqs;
	const json_t *q;

	(void)state;
	mock_fail("{\"status\": 400, \"code\": 130429, \"message\": \"(#130429) Rate limit hit\"}");
	hx_wa_next_wamid(wamid, sizeof(wamid));
	reqs = hx_wa_say(shopper, hx_wa_text_webhook(shopper, wamid, "hi"), &before);
	json_array_foreach(reqs, i, q) if (json_integer_value(json_object_get(q, "failed")) == 400)
	    failed++;
	assert_true(failed >= 1);
	assert_true(hx_wa_count_to(reqs, shopper, 1) > before);
	json_decref(reqs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verification),    cmocka_unit_test(test_whole_conversation),
	    cmocka_unit_test(test_window_template), cmocka_unit_test(test_failures_store_nothing),
	    cmocka_unit_test(test_redelivery),
	    cmocka_unit_test(test_poison_message),      cmocka_unit_test(test_two_shoppers),
	    cmocka_unit_test(test_statuses),
	    cmocka_unit_test(test_status_before_outcome),        cmocka_unit_test(test_failed_131047),
	    cmocka_unit_test(test_unknown_number),  cmocka_unit_test(test_foreign_number),
	    cmocka_unit_test(test_media_answered),  cmocka_unit_test(test_rate_limited_then_sent),
	    cmocka_unit_test(test_group_commit),
	    cmocka_unit_test(test_channel_change_seen_at_once),
	    cmocka_unit_test(test_database_down),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
