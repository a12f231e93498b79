/*
 * test_trust.c: trust and safety end to end (docs/TRUST.md): the real `ccgw serve` with a
 * real PostgreSQL database, shoppers on the WhatsApp path (signed webhooks, a mock Graph API
 * that records what the shoppers receive) and a seller's webhook receiver (the sink mock).
 * Each pattern fires at its threshold and not just under it; evidence rows point at the
 * events that triggered it; throttle and block are seen from the shopper's side; dismissing
 * lifts a block; complaints are answered and the shopper told in their language; another
 * tenant's key gets 404.
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

#define PNID       "106540352242933"
#define APP_SECRET "trust-app-secret-1"

static char *other_tenant, *other_key;
static pid_t sink_pid;
static int sink_port;

/* ---- helpers (the shared ones are in tests/support/harness_wa.h) ---- */

/* The answer of an admin call as JSON; fails unless its status is want. */
static json_t *api_json(const char *method, const char *path, const char *body, long want)
{
	struct testhttp_resp r;
	json_t *o;

	hx_api_as(hx.api_key, method, path, body, &r);
	if (r.status != want)
		fail_msg("%s %s answered %ld, not %ld: %s", method, path, r.status, want, r.body);
	o = hx_json(&r);
	testhttp_resp_clear(&r);
	return o;
}

/* Posts a signed webhook (taken) and expects 200. */
static void post_webhook(char *body)
{
	struct testhttp_resp r;

	if (hx_wa_post(body, &r) != 200)
		fail_msg("webhook answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
	free(body);
}

/* The texts the Graph API was asked to send to wa_id, in order (caller decrefs). */
static json_t *texts_to(const char *wa_id)
{
	json_t *reqs = hx_mock_get(hx.mock_port), *out = json_array();
	const json_t *q;
	size_t i;

	json_array_foreach(reqs, i, q)
	{
		const json_t *b = json_object_get(q, "body");
		const char *to = json_string_value(json_object_get(b, "to")), *t;

		if (!to || strcmp(to, wa_id) != 0 || !json_object_get(q, "wamid"))
			continue;
		t = json_string_value(json_object_get(json_object_get(b, "text"), "body"));
		if (!t)
			t = json_string_value(json_object_get(
			    json_object_get(json_object_get(b, "interactive"), "body"), "text"));
		json_array_append_new(out, json_string(t ? t : ""));
	}
	json_decref(reqs);
	return out;
}

static size_t sent_to(const char *wa_id)
{
	json_t *t = texts_to(wa_id);
	size_t n = json_array_size(t);

	json_decref(t);
	return n;
}

/* Waits until more than before messages went to wa_id and none came for 400 ms; returns
 * the count. Fails after 15 s. */
static size_t wait_sent(const char *wa_id, size_t before)
{
	json_t *reqs = hx_wa_wait_replies(wa_id, before);
	size_t n = hx_wa_count_to(reqs, wa_id, 1);

	json_decref(reqs);
	return n;
}

/* The texts sent to wa_id from index from on, joined (heap). */
static char *texts_since(const char *wa_id, size_t from)
{
	json_t *t = texts_to(wa_id);
	struct sbuf b;
	size_t i;
	char *out;

	sbuf_init(&b);
	for (i = from; i < json_array_size(t); i++) {
		sbuf_puts(&b, json_string_value(json_array_get(t, i)));
		sbuf_puts(&b, "\n");
	}
	json_decref(t);
	out = sbuf_take(&b);
	assert_non_null(out);
	return out;
}

/* Nothing more goes to wa_id for 1.5 s (the dispatcher had time to send a reply). */
static void assert_nothing_sent(const char *wa_id, size_t before)
{
	char *text;

	usleep(1500000);
	if (sent_to(wa_id) == before)
		return;
	text = texts_since(wa_id, before);
	fail_msg("%s was sent:\n%s", wa_id, text);
	free(text);
}

/* Waits until at least n messages went to wa_id (15 s at most). */
static void wait_count(const char *wa_id, size_t n)
{
	int i;

	for (i = 0; i < 300 && sent_to(wa_id) < n; i++)
		usleep(50000);
	if (sent_to(wa_id) < n)
		fail_msg("%s got %zu messages, not %zu", wa_id, sent_to(wa_id), n);
}

/* How many of the texts sent to wa_id contain needle. */
static size_t texts_with(const char *wa_id, const char *needle)
{
	json_t *t = texts_to(wa_id);
	size_t i, n = 0;

	for (i = 0; i < json_array_size(t); i++)
		if (strstr(json_string_value(json_array_get(t, i)), needle))
			n++;
	json_decref(t);
	return n;
}

/* A button or list row id starting with prefix among what was sent to wa_id since from. */
static int choice_since(const char *wa_id, size_t from, const char *prefix, int exact, char *id,
                        size_t len)
{
	json_t *reqs = hx_mock_get(hx.mock_port);
	size_t i, j, k, seen = 0;
	const json_t *q, *x, *sec;
	int found = 0;

	json_array_foreach(reqs, i, q)
	{
		const json_t *b = json_object_get(q, "body");
		const json_t *action = json_object_get(json_object_get(b, "interactive"), "action");
		const char *to = json_string_value(json_object_get(b, "to")), *cid;

		if (!to || strcmp(to, wa_id) != 0 || !json_object_get(q, "wamid") || seen++ < from)
			continue;
		json_array_foreach(json_object_get(action, "buttons"), j, x)
		{
			cid = json_string_value(json_object_get(json_object_get(x, "reply"), "id"));
			if (cid && (exact ? strcmp(cid, prefix) == 0
			                  : strncmp(cid, prefix, strlen(prefix)) == 0)) {
				snprintf(id, len, "%s", cid);
				found = 1;
			}
		}
		json_array_foreach(json_object_get(action, "sections"), j, sec)
		    json_array_foreach(json_object_get(sec, "rows"), k, x)
		{
			cid = json_string_value(json_object_get(x, "id"));
			if (cid && (exact ? strcmp(cid, prefix) == 0
			                  : strncmp(cid, prefix, strlen(prefix)) == 0)) {
				snprintf(id, len, "%s", cid);
				found = 1;
			}
		}
	}
	json_decref(reqs);
	return found;
}

/* The shopper writes text (or presses id when press); returns the count of messages sent to
 * them before it, and waits for the answer. */
static size_t say(const char *wa_id, const char *text, int press)
{
	char wamid[64];
	size_t before = sent_to(wa_id);

	hx_wa_next_wamid(wamid, sizeof(wamid));
	post_webhook(press ? hx_wa_press_webhook(wa_id, wamid, 0, text, "x", NULL)
	                   : hx_wa_text_webhook(wa_id, wamid, text));
	wait_sent(wa_id, before);
	return before;
}

/* A whole cash-on-delivery checkout of one "Tecno Spark 20" over WhatsApp; returns the new
 * order's id (heap). */
static char *place_order(const char *wa_id)
{
	static const char *const plan[] = {"ck:yes", "pay:cash_on_delivery", "phone:use",
	                                   "addr:saved", "name:use"};
	char id[160], *text = NULL, *order;
	long orders = hx_tcount("SELECT count(*) FROM orders", 0, NULL);
	size_t before, p;
	int step, chosen;

	before = say(wa_id, "add 1 tecno spark 20", 0);
	text = texts_since(wa_id, before);
	if (!strstr(text, "Added 1 x Tecno Spark 20"))
		fail_msg("not added:\n%s", text);
	free(text);
	before = say(wa_id, "ck", 1);
	for (step = 0; step < 10; step++) {
		text = texts_since(wa_id, before);
		if (strstr(text, "has been placed"))
			break;
		for (p = 0, chosen = 0; p < sizeof(plan) / sizeof(plan[0]) && !chosen; p++)
			chosen = choice_since(wa_id, before, plan[p], 1, id, sizeof(id));
		if (chosen)
			before = say(wa_id, id, 1);
		else if (strstr(text, "address"))
			before = say(wa_id, "Kenyatta Avenue 12, Nairobi", 0);
		else if (strstr(text, "phone"))
			before = say(wa_id, "0712345678", 0);
		else if (strstr(text, "name"))
			before = say(wa_id, "Amina Njeri", 0);
		else
			fail_msg("checkout step %d: nothing to press and no question I know:\n%s",
			         step, text);
		free(text);
		text = NULL;
	}
	assert_non_null(text);
	assert_non_null(strstr(text, "has been placed"));
	free(text);
	assert_int_equal(hx_tcount("SELECT count(*) FROM orders", 0, NULL), orders + 1);
	order = hx_tscalar(hx.tenant_id,
	                   "SELECT o.id FROM orders o JOIN customer_identities i ON"
	                   " i.customer_id = o.customer_id WHERE i.external_user_id = $1"
	                   " ORDER BY o.created_at DESC, o.order_number DESC LIMIT 1",
	                   1, (const char *const[]){wa_id});
	assert_non_null(order);
	return order;
}

/* The pattern's id by name (heap). */
static char *pattern_id(const char *name)
{
	char *id = hx_tscalar(hx.tenant_id, "SELECT id FROM behavior_patterns WHERE name = $1", 1,
	                      (const char *const[]){name});

	assert_non_null(id);
	return id;
}

static void pattern_patch(const char *name, const char *body)
{
	char path[128], *id = pattern_id(name);
	json_t *o;

	snprintf(path, sizeof(path), "/api/v1/behavior-patterns/%s", id);
	o = api_json("PATCH", path, body, 200);
	json_decref(o);
	free(id);
}

/* The live violation of the shopper wa_id of kind as JSON (GET /api/v1/violations/{id}),
 * or NULL when there is none. */
static json_t *violation_of(const char *wa_id, const char *kind)
{
	char *id = hx_tscalar(hx.tenant_id,
	                      "SELECT v.id FROM violations v JOIN customer_identities i ON"
	                      " i.customer_id = v.customer_id WHERE i.external_user_id = $1"
	                      " AND v.kind = $2 AND v.status <> 'dismissed'",
	                      2, (const char *const[]){wa_id, kind});
	char path[128];
	json_t *o;

	if (!id)
		return NULL;
	snprintf(path, sizeof(path), "/api/v1/violations/%s", id);
	o = api_json("GET", path, NULL, 200);
	free(id);
	return o;
}

static long violations_of(const char *wa_id)
{
	return hx_tcount("SELECT count(*) FROM violations v JOIN customer_identities i ON"
	                 " i.customer_id = v.customer_id WHERE i.external_user_id = $1",
	                 1, (const char *const[]){wa_id});
}

/* The seller's webhook events of type event received so far. */
static size_t seller_events(const char *event, const char *id_key, const char *id)
{
	json_t *reqs = hx_mock_get(sink_port);
	const json_t *q;
	size_t i, n = 0;

	json_array_foreach(reqs, i, q)
	{
		json_t *b = json_loads(json_string_value(json_object_get(q, "body")), 0, NULL);
		const json_t *body = b ? b : json_object_get(q, "body");
		const char *ev = json_string_value(json_object_get(body, "event"));
		const json_t *obj = json_object_get(body, id_key);

		if (ev && strcmp(ev, event) == 0 &&
		    (!id || strcmp(json_string_value(json_object_get(obj, "id")), id) == 0) &&
		    json_is_true(json_object_get(q, "sig_ok")))
			n++;
		json_decref(b);
	}
	json_decref(reqs);
	return n;
}

static size_t wait_seller_event(const char *event, const char *id_key, const char *id)
{
	size_t n = 0;
	int i;

	for (i = 0; i < 150 && n == 0; i++) {
		n = seller_events(event, id_key, id);
		if (!n)
			usleep(100000);
	}
	return n;
}

/* ---- set-up ---- */

static int group_setup(void **state)
{
	static const char *const env[] = {
	    "CCGW_WEBHOOK_ALLOW_PRIVATE=1",
	    "CCGW_WHATSAPP_RECIPIENT_RATE=1000", /* a flood's replies go out at once */
	    NULL};
	json_t *o;

	(void)state;
	hx.wa_pnid = PNID;
	hx.wa_app_secret = APP_SECRET;
	hx.wa_id_prefix = "TRUST";
	hx_setup("trust", "trust-shop");
	other_tenant = testdb_tenant_create(&hx.db, "trust-other", &other_key);
	hx_serve("graph_mock.py", "CCGW_WHATSAPP_API_BASE", env);
	o = hx_wa_register("EAAG-trust", "vt");
	json_decref(o);
	o = api_json("POST", "/api/v1/products",
	             "{\"sku\": \"PH-TEC-20\", \"name\": \"Tecno Spark 20\", \"description\": "
	             "\"A phone\", \"category\": \"Phones\", \"price_minor\": 1899900, "
	             "\"currency\": \"KES\", \"stock\": 100, \"active\": true}",
	             201);
	json_decref(o);
	/* the seller's webhook receiver, which checks the signature */
	sink_pid = hx_sink_start("seller-secret-1", &sink_port);
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

/* Every tenant has the four built-in patterns, each naming threshold, window and action;
 * a bad definition is 400 naming the field and changes nothing. */
static void test_patterns_listed_and_checked(void **state)
{
	json_t *o = api_json("GET", "/api/v1/behavior-patterns", NULL, 200), *p;
	const char *names[] = {"flooding", "abusive_language", "unpaid_orders", "order_burst"};
	char path[128], *id, *before, *after;
	struct testhttp_resp r;
	size_t i, j;
	int found;

	(void)state;
	assert_true(json_is_null(json_object_get(o, "next_cursor")));
	assert_int_equal(json_array_size(json_object_get(o, "data")), 4);
	for (i = 0; i < 4; i++) {
		found = 0;
		json_array_foreach(json_object_get(o, "data"), j, p)
		{
			const json_t *def = json_object_get(p, "definition");

			if (strcmp(json_string_value(json_object_get(p, "name")), names[i]) != 0)
				continue;
			found = 1;
			assert_true(json_is_true(json_object_get(p, "active")));
			assert_true(json_integer_value(json_object_get(def, "threshold")) > 0);
			assert_true(json_integer_value(json_object_get(def, "window_seconds")) > 0);
			assert_non_null(json_string_value(json_object_get(def, "action")));
		}
		if (!found)
			fail_msg("no built-in pattern %s", names[i]);
	}
	json_decref(o);
	/* the defaults */
	before =
	    hx_tscalar(hx.tenant_id,
	               "SELECT definition->>'threshold' || '/' || (definition->>'window_seconds')"
	               " FROM behavior_patterns WHERE name = 'flooding'",
	               0, NULL);
	assert_string_equal(before, "20/60");
	free(before);

	id = pattern_id("flooding");
	before =
	    hx_tscalar(hx.tenant_id, "SELECT definition::text FROM behavior_patterns WHERE id = $1",
	               1, (const char *const[]){id});
	snprintf(path, sizeof(path), "/api/v1/behavior-patterns/%s", id);
	hx_api_as(hx.api_key, "PATCH", path, "{\"definition\": {\"threshold\": 0}}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"definition.threshold\""));
	testhttp_resp_clear(&r);
	hx_api_as(hx.api_key, "PATCH", path, "{\"definition\": {\"action\": \"shout\"}}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"definition.action\""));
	testhttp_resp_clear(&r);
	hx_api_as(hx.api_key, "PATCH", path, "{\"active\": \"yes\"}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"active\""));
	testhttp_resp_clear(&r);
	after =
	    hx_tscalar(hx.tenant_id, "SELECT definition::text FROM behavior_patterns WHERE id = $1",
	               1, (const char *const[]){id});
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(id);
}

/* 20 messages in a minute are fine; the 21st opens a flooding violation whose evidence is
 * exactly those 21 messages, and the shopper is throttled: one answer with a polite note,
 * then silence while every message is still recorded; after the interval one more answer;
 * dismissing lifts it at once. Another shopper is never affected. */
static void test_flooding_throttle(void **state)
{
	const char *shopper = "254711000001", *bystander = "254711000002";
	char wamids[21][64], *text, *v;
	size_t before, i, n;
	json_t *viol, *ev;
	const json_t *e;

	(void)state;
	/* a short throttle interval keeps the test fast */
	pattern_patch("flooding", "{\"definition\": {\"interval_seconds\": 3}}");
	/* each delivered twice: a redelivery is not a message more */
	for (i = 0; i < 20; i++) {
		hx_wa_next_wamid(wamids[i], sizeof(wamids[i]));
		post_webhook(hx_wa_text_webhook(shopper, wamids[i], "hi"));
		post_webhook(hx_wa_text_webhook(shopper, wamids[i], "hi"));
	}
	assert_int_equal(violations_of(shopper), 0);
	wait_count(shopper, 20); /* one answer each */
	before = wait_sent(shopper, 19);
	assert_int_equal(before, 20);
	assert_int_equal(texts_with(shopper, "at most once"), 0);
	hx_wa_next_wamid(wamids[20], sizeof(wamids[20]));
	post_webhook(hx_wa_text_webhook(shopper, wamids[20], "hi"));
	viol = violation_of(shopper, "flooding");
	assert_non_null(viol);
	assert_string_equal(json_string_value(json_object_get(viol, "status")), "open");
	assert_string_equal(json_string_value(json_object_get(viol, "action")), "throttle");
	/* the evidence: the 21 messages, each once */
	ev = json_object_get(viol, "evidence");
	assert_int_equal(json_array_size(ev), 21);
	for (i = 0; i < 21; i++) {
		int hits = 0;

		json_array_foreach(ev, n, e)
		{
			const char *mid = json_string_value(
			    json_object_get(json_object_get(e, "payload"), "message_id"));

			assert_string_equal(json_string_value(json_object_get(e, "event_type")),
			                    "message_received");
			if (mid && strcmp(mid, wamids[i]) == 0)
				hits++;
		}
		if (hits != 1)
			fail_msg("message %zu (%s) is evidence %d times", i, wamids[i], hits);
	}
	/* the 21st message's answer starts with the note */
	n = wait_sent(shopper, before);
	text = texts_since(shopper, before);
	if (!strstr(text, "at most once every 3 seconds"))
		fail_msg("no throttle note:\n%s", text);
	free(text);
	/* the seller heard of it */
	assert_true(wait_seller_event("violation.opened", "violation",
	                              json_string_value(json_object_get(viol, "id"))) >= 1);
	/* within the interval: recorded, not answered */
	for (i = 0; i < 3; i++) {
		char wamid[64];

		hx_wa_next_wamid(wamid, sizeof(wamid));
		post_webhook(hx_wa_text_webhook(shopper, wamid, "hello??"));
		v = hx_tscalar(hx.tenant_id,
		               "SELECT count(*) FROM conversation_events WHERE event_type ="
		               " 'message_received' AND payload->>'message_id' = $1",
		               1, (const char *const[]){wamid});
		assert_string_equal(v, "1");
		free(v);
	}
	assert_nothing_sent(shopper, n);
	/* a bystander is answered as usual */
	before = say(bystander, "hi", 0);
	text = texts_since(bystander, before);
	assert_null(strstr(text, "at most once"));
	free(text);
	assert_int_equal(violations_of(bystander), 0);
	/* after the interval: one more answer, with the note */
	sleep(3);
	before = say(shopper, "menu", 0);
	text = texts_since(shopper, before);
	assert_non_null(strstr(text, "at most once every 3 seconds"));
	free(text);
	/* dismissed: answered at once, without the note */
	{
		char path[128];
		json_t *o;

		snprintf(path, sizeof(path), "/api/v1/violations/%s",
		         json_string_value(json_object_get(viol, "id")));
		o = api_json("PATCH", path, "{\"status\": \"dismissed\"}", 200);
		assert_string_equal(json_string_value(json_object_get(o, "status")), "dismissed");
		json_decref(o);
		/* dismissed is final */
		{
			struct testhttp_resp r;

			hx_api_as(hx.api_key, "PATCH", path, "{\"status\": \"confirmed\"}", &r);
			assert_int_equal(r.status, 409);
			testhttp_resp_clear(&r);
		}
	}
	before = say(shopper, "hi", 0);
	text = texts_since(shopper, before);
	assert_null(strstr(text, "at most once"));
	free(text);
	json_decref(viol);
	pattern_patch("flooding", "{\"definition\": {\"interval_seconds\": 30}}");
}

/* A clean message (and a word that only contains an abusive one) opens nothing; an
 * English insult and a Swahili one each open (then extend) the shopper's one
 * abusive_language violation, with the message as evidence. */
static void test_abusive_language(void **state)
{
	const char *shopper = "254711000003";
	char wamid[64];
	json_t *viol, *ev;

	(void)state;
	say(shopper, "hello, do you have shitake mushrooms?", 0);
	assert_int_equal(violations_of(shopper), 0);
	hx_wa_next_wamid(wamid, sizeof(wamid));
	post_webhook(hx_wa_text_webhook(shopper, wamid, "You are an IDIOT bot"));
	viol = violation_of(shopper, "abusive_language");
	assert_non_null(viol);
	assert_string_equal(json_string_value(json_object_get(viol, "action")), "flag");
	ev = json_object_get(viol, "evidence");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(json_array_get(ev, 0), "payload"), "message_id")),
	                    wamid);
	assert_int_equal(json_integer_value(json_object_get(viol, "detections")), 1);
	json_decref(viol);
	/* flag only: the shopper is still answered */
	wait_sent(shopper, 1);
	hx_wa_next_wamid(wamid, sizeof(wamid));
	post_webhook(hx_wa_text_webhook(shopper, wamid, "wewe ni mjinga kabisa"));
	viol = violation_of(shopper, "abusive_language");
	assert_int_equal(json_integer_value(json_object_get(viol, "detections")), 2);
	ev = json_object_get(viol, "evidence");
	assert_int_equal(json_array_size(ev), 2);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(json_array_get(ev, 1), "payload"), "message_id")),
	                    wamid);
	assert_int_equal(violations_of(shopper), 1);
	json_decref(viol);

	/* threshold 2: one insult is just under it, the second fires */
	pattern_patch("abusive_language", "{\"definition\": {\"threshold\": 2}}");
	say("254711000006", "stupid bot", 0);
	assert_int_equal(violations_of("254711000006"), 0);
	say("254711000006", "hello", 0);
	assert_int_equal(violations_of("254711000006"), 0);
	hx_wa_next_wamid(wamid, sizeof(wamid));
	post_webhook(hx_wa_text_webhook("254711000006", wamid, "you fucking idiot"));
	viol = violation_of("254711000006", "abusive_language");
	assert_non_null(viol);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(viol, "details"), "messages")), 2);
	/* the evidence: both insults, not the clean message between them */
	ev = json_object_get(viol, "evidence");
	assert_int_equal(json_array_size(ev), 2);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(json_array_get(ev, 0), "payload"), "text")),
	                    "stupid bot");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(json_array_get(ev, 1), "payload"), "text")),
	                    "you fucking idiot");
	json_decref(viol);
	pattern_patch("abusive_language", "{\"definition\": {\"threshold\": 1}}");
}

/* order_burst (threshold 2 here): two orders in the hour are fine, the third opens a
 * violation with the three order_placed events as evidence. unpaid_orders: two cash orders
 * cancelled by the seller are fine, the third opens a block: the shopper's messages are
 * recorded and not answered, no cart and no order; dismissing lifts the block at once. */
static void test_order_patterns_and_block(void **state)
{
	const char *shopper = "254711000004";
	char *orders[3], path[128], *v;
	json_t *viol, *ev, *o;
	const json_t *e;
	size_t i, n, before;

	(void)state;
	/* a checkout is many messages: flooding is off for this test */
	pattern_patch("flooding", "{\"active\": false}");
	pattern_patch("order_burst", "{\"definition\": {\"threshold\": 2}}");
	for (i = 0; i < 3; i++) {
		orders[i] = place_order(shopper);
		if (i < 2)
			assert_int_equal(violations_of(shopper), 0);
	}
	viol = violation_of(shopper, "order_burst");
	assert_non_null(viol);
	ev = json_object_get(viol, "evidence");
	assert_int_equal(json_array_size(ev), 3);
	json_array_foreach(ev, n, e)
	{
		const char *oid =
		    json_string_value(json_object_get(json_object_get(e, "payload"), "order_id"));

		assert_string_equal(json_string_value(json_object_get(e, "event_type")),
		                    "order_placed");
		assert_true(strcmp(oid, orders[0]) == 0 || strcmp(oid, orders[1]) == 0 ||
		            strcmp(oid, orders[2]) == 0);
	}
	json_decref(viol);

	/* the seller cancels them one by one (If-Match: the order's version) */
	for (i = 0; i < 3; i++) {
		struct testhttp_resp r;
		char auth[256], url[256];
		const char *headers[4] = {auth, "Content-Type: application/json", "If-Match: 1",
		                          NULL};

		snprintf(url, sizeof(url), "%s/api/v1/orders/%s", hx.srv.base_url, orders[i]);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", hx.api_key);
		testhttp_request("PATCH", url, headers, "{\"status\": \"cancelled\"}",
		                 strlen("{\"status\": \"cancelled\"}"), &r);
		if (r.status != 200)
			fail_msg("cancel answered %ld: %s", r.status, r.body);
		testhttp_resp_clear(&r);
		if (i < 2)
			assert_null(violation_of(shopper, "unpaid_orders"));
	}
	viol = violation_of(shopper, "unpaid_orders");
	assert_non_null(viol);
	assert_string_equal(json_string_value(json_object_get(viol, "action")), "block");
	assert_string_equal(json_string_value(json_object_get(viol, "severity")), "high");
	ev = json_object_get(viol, "evidence");
	assert_int_equal(json_array_size(ev), 3);
	json_array_foreach(ev, n, e)
	{
		const json_t *pl = json_object_get(e, "payload");

		assert_string_equal(json_string_value(json_object_get(e, "event_type")),
		                    "order_status_changed");
		assert_string_equal(json_string_value(json_object_get(pl, "status")), "cancelled");
	}
	/* blocked: recorded, not answered, no cart, no order (the seller's cancellations are
	 * still told to the shopper) */
	for (i = 0; i < 300 && texts_with(shopper, "has been cancelled") < 3; i++)
		usleep(50000);
	assert_int_equal(texts_with(shopper, "has been cancelled"), 3);
	n = sent_to(shopper);
	{
		char wamid[64];

		hx_wa_next_wamid(wamid, sizeof(wamid));
		post_webhook(hx_wa_text_webhook(shopper, wamid, "add 1 tecno spark 20"));
		hx_wa_next_wamid(wamid, sizeof(wamid));
		post_webhook(hx_wa_press_webhook(shopper, wamid, 0, "ck", "x", NULL));
		v = hx_tscalar(hx.tenant_id,
		               "SELECT count(*) FROM conversation_events WHERE event_type ="
		               " 'message_received' AND payload->>'message_id' = $1",
		               1, (const char *const[]){wamid});
		assert_string_equal(v, "1");
		free(v);
	}
	assert_nothing_sent(shopper, n);
	assert_int_equal(
	    hx_tcount("SELECT count(*) FROM cart_items i JOIN carts c ON c.id = i.cart_id"
	              " WHERE c.status = 'open'",
	              0, NULL),
	    0);
	assert_int_equal(hx_tcount("SELECT count(*) FROM orders", 0, NULL), 3);
	/* dismissed: answered at once */
	snprintf(path, sizeof(path), "/api/v1/violations/%s",
	         json_string_value(json_object_get(viol, "id")));
	o = api_json("PATCH", path, "{\"status\": \"dismissed\"}", 200);
	json_decref(o);
	before = say(shopper, "hi", 0);
	assert_true(sent_to(shopper) > before);
	json_decref(viol);
	/* the list filters by status */
	o = api_json("GET", "/api/v1/violations?status=dismissed", NULL, 200);
	{
		int seen = 0;

		json_array_foreach(json_object_get(o, "data"), n, e)
		{
			assert_string_equal(json_string_value(json_object_get(e, "status")),
			                    "dismissed");
			if (strcmp(json_string_value(json_object_get(e, "kind")),
			           "unpaid_orders") == 0)
				seen = 1;
		}
		assert_true(seen);
	}
	json_decref(o);
	for (i = 0; i < 3; i++)
		free(orders[i]);
	pattern_patch("order_burst", "{\"definition\": {\"threshold\": 5}}");
	pattern_patch("flooding", "{\"active\": true}");
}

/* A complaint filed in chat is listed with its evidence; the seller's answers reach the
 * shopper on WhatsApp in their language (Swahili here), are recorded as events and sent
 * to the seller's webhook as complaint.updated; a final complaint cannot change; bad
 * input is 400 naming the field and changes nothing. */
static void test_complaint_answered(void **state)
{
	const char *shopper = "254711000005";
	const char *complaint = "nina malalamiko, mpanda pikipiki alikuwa mkorofi";
	char path[128], *id, *v, *text;
	json_t *o, *ev;
	struct testhttp_resp r;
	size_t before, i;
	const json_t *e;
	int message_seen = 0;

	(void)state;
	before = say(shopper, complaint, 0);
	text = texts_since(shopper, before);
	assert_non_null(strstr(text, "malalamiko"));
	free(text);
	id = hx_tscalar(hx.tenant_id,
	                "SELECT k.id FROM complaints k JOIN customer_identities i ON"
	                " i.customer_id = k.customer_id WHERE i.external_user_id = $1",
	                1, (const char *const[]){shopper});
	assert_non_null(id);
	o = api_json("GET", "/api/v1/complaints?status=open", NULL, 200);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(json_object_get(o, "data"), 0), "id")),
	    id);
	json_decref(o);
	snprintf(path, sizeof(path), "/api/v1/complaints/%s", id);
	o = api_json("GET", path, NULL, 200);
	assert_string_equal(json_string_value(json_object_get(o, "text")), complaint);
	assert_non_null(json_string_value(json_object_get(o, "conversation_id")));
	ev = json_object_get(o, "evidence");
	json_array_foreach(ev, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "event_type")),
		           "message_received") == 0) {
			assert_string_equal(json_string_value(json_object_get(
			                        json_object_get(e, "payload"), "text")),
			                    complaint);
			message_seen = 1;
		}
	}
	assert_true(message_seen);
	json_decref(o);

	/* bad input: 400 naming the field, nothing changed */
	hx_api_as(hx.api_key, "PATCH", path, "{\"status\": \"closed\"}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"status\""));
	testhttp_resp_clear(&r);
	hx_api_as(hx.api_key, "PATCH", path, "{\"status\": \"resolved\", \"resolution\": 5}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"resolution\""));
	testhttp_resp_clear(&r);
	v = hx_tscalar(hx.tenant_id, "SELECT status FROM complaints WHERE id = $1", 1,
	               (const char *const[]){id});
	assert_string_equal(v, "open");
	free(v);

	before = sent_to(shopper);
	o = api_json("PATCH", path, "{\"status\": \"in_review\"}", 200);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "in_review");
	json_decref(o);
	wait_sent(shopper, before);
	text = texts_since(shopper, before);
	if (!strstr(text, "Tunashughulikia malalamiko yako"))
		fail_msg("not told in Swahili:\n%s", text);
	free(text);
	before = sent_to(shopper);
	o = api_json("PATCH", path,
	             "{\"status\": \"resolved\", \"resolution\": \"Tumemwonya mpanda pikipiki.\"}",
	             200);
	assert_string_equal(json_string_value(json_object_get(o, "resolution")),
	                    "Tumemwonya mpanda pikipiki.");
	json_decref(o);
	wait_sent(shopper, before);
	text = texts_since(shopper, before);
	assert_non_null(strstr(text, "yametatuliwa"));
	assert_non_null(strstr(text, "Tumemwonya mpanda pikipiki."));
	free(text);
	assert_int_equal(hx_tcount("SELECT count(*) FROM conversation_events WHERE event_type ="
	                           " 'complaint_updated' AND payload->>'complaint_id' = $1",
	                           1, (const char *const[]){id}),
	                 2);
	assert_true(wait_seller_event("complaint.updated", "complaint", id) >= 1);
	assert_true(wait_seller_event("complaint.filed", "complaint", id) >= 1);
	/* resolved is final */
	hx_api_as(hx.api_key, "PATCH", path, "{\"status\": \"rejected\"}", &r);
	assert_int_equal(r.status, 409);
	testhttp_resp_clear(&r);
	free(id);
}

/* Another tenant's key: 404 on this tenant's complaints, violations and patterns, and its
 * own lists hold nothing of them. */
static void test_other_tenant_404(void **state)
{
	char *complaint = hx_tscalar(hx.tenant_id, "SELECT id FROM complaints LIMIT 1", 0, NULL);
	char *violation = hx_tscalar(hx.tenant_id, "SELECT id FROM violations LIMIT 1", 0, NULL);
	char *pattern = pattern_id("flooding"), path[160];
	struct testhttp_resp r;
	json_t *o;
	const char *lists[] = {"/api/v1/complaints", "/api/v1/violations"};
	size_t i;

	(void)state;
	assert_non_null(complaint);
	assert_non_null(violation);
	snprintf(path, sizeof(path), "/api/v1/complaints/%s", complaint);
	hx_api_as(other_key, "GET", path, NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	hx_api_as(other_key, "PATCH", path, "{\"status\": \"rejected\"}", &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	snprintf(path, sizeof(path), "/api/v1/violations/%s", violation);
	hx_api_as(other_key, "GET", path, NULL, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	hx_api_as(other_key, "PATCH", path, "{\"status\": \"dismissed\"}", &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	snprintf(path, sizeof(path), "/api/v1/behavior-patterns/%s", pattern);
	hx_api_as(other_key, "PATCH", path, "{\"active\": false}", &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	for (i = 0; i < 2; i++) {
		hx_api_as(other_key, "GET", lists[i], NULL, &r);
		assert_int_equal(r.status, 200);
		o = hx_json(&r);
		assert_int_equal(json_array_size(json_object_get(o, "data")), 0);
		json_decref(o);
		testhttp_resp_clear(&r);
	}
	/* unchanged */
	assert_int_equal(hx_tcount("SELECT count(*) FROM behavior_patterns WHERE active", 0, NULL),
	                 4);
	/* and the other tenant has its own built-in patterns */
	{
		char *n =
		    hx_tscalar(other_tenant, "SELECT count(*) FROM behavior_patterns", 0, NULL);

		assert_string_equal(n, "4");
		free(n);
	}
	free(complaint);
	free(violation);
	free(pattern);
}

/* The seller's own chat (a WhatsApp notification target) is not a shopper: pressing order
 * buttons or relaying to shoppers quickly never floods. */
static void test_seller_chat_exempt(void **state)
{
	const char *seller = "254711000009";
	char body[256], wamid[64];
	json_t *o;
	int i;

	(void)state;
	snprintf(body, sizeof(body),
	         "{\"kind\": \"whatsapp\", \"channel_id\": \"%s\", \"to\": \"+%s\"}", hx.channel_id,
	         seller);
	o = api_json("POST", "/api/v1/notification-targets", body, 201);
	json_decref(o);
	for (i = 0; i < 22; i++) {
		hx_wa_next_wamid(wamid, sizeof(wamid));
		post_webhook(hx_wa_text_webhook(seller, wamid, "hi"));
	}
	assert_int_equal(hx_tcount("SELECT count(*) FROM conversation_events e JOIN conversations c"
	                           " ON c.id = e.conversation_id WHERE c.external_chat_id = $1"
	                           " AND e.event_type = 'message_received'",
	                           1, (const char *const[]){seller}),
	                 22);
	assert_int_equal(violations_of(seller), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_patterns_listed_and_checked),
	    cmocka_unit_test(test_flooding_throttle),
	    cmocka_unit_test(test_abusive_language),
	    cmocka_unit_test(test_order_patterns_and_block),
	    cmocka_unit_test(test_complaint_answered),
	    cmocka_unit_test(test_other_tenant_404),
	    cmocka_unit_test(test_seller_chat_exempt),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
