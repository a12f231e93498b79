/*
 * tg_integration_test.c: the Telegram channel end to end: the real `ccgw serve` with a real
 * PostgreSQL database and a mock Bot API (tests/mock/telegram_mock.py) that records requests
 * and queues updates for getUpdates. A whole shopping conversation by pressing the inline
 * buttons ccgw sent, in webhook mode and in long polling mode (with ccgw killed and restarted
 * in the middle, and with two processes on one bot); a wrong secret, a body that is not an
 * Update, a redelivered update, a press on a button never sent, a blocked and unblocked bot,
 * a 403 on a send; the seller confirming an order from their Telegram chat.
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

#include "harness.h"

#define BOT_TOKEN     "7012345678:AAH-webhook-bot_token"
#define SECRET        "tg-secret-1"
#define POLL_TOKEN    "7099999999:AAH-polling-bot_token"
#define POLL_SECRET   "tg-secret-2"
#define SELLER_CHAT   "777000111"

static char poll_channel_id[64];
static long long update_seq = 5000000000LL; /* 64-bit update ids */

/* ---- helpers ---- */

static char *db_fingerprint(void)
{
	return hx_tscalar(hx.tenant_id,
	                  "SELECT (SELECT count(*) FROM inbound_messages) || '/' ||"
	                  " (SELECT count(*) FROM conversations) || '/' ||"
	                  " (SELECT count(*) FROM conversation_events) || '/' ||"
	                  " (SELECT count(*) FROM outbox) || '/' ||"
	                  " (SELECT count(*) FROM customers)",
	                  0, NULL);
}

static void mock_call(const char *method, const char *path, const char *body,
                      struct testhttp_resp *r)
{
	char url[256];
	const char *headers[2] = {"Content-Type: application/json", NULL};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", hx.mock_port, path);
	testhttp_request(method, url, headers, body, body ? strlen(body) : 0, r);
}

/* The Bot API requests the mock recorded, of one method (NULL: all). */
static json_t *mock_requests(const char *method)
{
	struct testhttp_resp r;
	char path[128];
	json_t *o;

	snprintf(path, sizeof(path), "/__requests%s%s", method ? "?method=" : "",
	         method ? method : "");
	mock_call("GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	testhttp_resp_clear(&r);
	return o;
}

/* The sendMessage / editMessageText bodies to chat, in order. */
static json_t *messages_to(const char *chat)
{
	json_t *all = mock_requests(NULL), *out = json_array(), *q;
	size_t i;

	json_array_foreach(all, i, q)
	{
		const char *m = json_string_value(json_object_get(q, "method"));
		json_t *b = json_object_get(q, "body");
		json_t *c = json_object_get(b, "chat_id");
		char id[64];

		if (!m || (strcmp(m, "sendMessage") != 0 && strcmp(m, "editMessageText") != 0))
			continue;
		if (json_is_integer(c))
			snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(c));
		else
			snprintf(id, sizeof(id), "%s", json_string_value(c) ? json_string_value(c) : "");
		if (strcmp(id, chat) == 0 && !json_object_get(q, "failed"))
			json_array_append(out, q);
	}
	json_decref(all);
	return out;
}

static size_t count_calls(const char *method)
{
	json_t *r = mock_requests(method);
	size_t n = json_array_size(r);

	json_decref(r);
	return n;
}

/* Waits until more than `before` messages went to chat and no more come for a while. */
static json_t *wait_messages(const char *chat, size_t before)
{
	size_t last = before, n;
	int i, quiet = 0;
	json_t *msgs = NULL;

	for (i = 0; i < 400; i++) {
		json_decref(msgs);
		msgs = messages_to(chat);
		n = json_array_size(msgs);
		if (n > before && n == last) {
			if (++quiet >= 8)
				return msgs;
		} else {
			quiet = 0;
		}
		last = n;
		usleep(50000);
	}
	fail_msg("no message to chat %s reached the mock Bot API (had %zu)", chat, before);
	return NULL;
}

/* The texts of the messages from index `from` on, one string. */
static char *texts_since(const json_t *msgs, size_t from)
{
	size_t i, len = 1;
	char *out = calloc(1, 1);

	for (i = from; i < json_array_size(msgs); i++) {
		const char *t = json_string_value(
		    json_object_get(json_object_get(json_array_get(msgs, i), "body"), "text"));

		if (!t)
			continue;
		len += strlen(t) + 1;
		out = realloc(out, len);
		strcat(out, t);
		strcat(out, "\n");
	}
	return out;
}

/* The callback_data of an inline button in the messages from `from` on whose data starts
 * with prefix (exact: equals it); "" when none. The last one offered wins. */
static void find_button(const json_t *msgs, size_t from, const char *prefix, int exact,
                        char *out, size_t outlen)
{
	size_t i, j, k;

	out[0] = '\0';
	for (i = from; i < json_array_size(msgs); i++) {
		const json_t *kb = json_object_get(
		    json_object_get(json_object_get(json_array_get(msgs, i), "body"), "reply_markup"),
		    "inline_keyboard");
		const json_t *row, *b;

		json_array_foreach(kb, j, row) json_array_foreach(row, k, b)
		{
			const char *d = json_string_value(json_object_get(b, "callback_data"));

			if (d && (exact ? strcmp(d, prefix) == 0 : strncmp(d, prefix, strlen(prefix)) == 0))
				snprintf(out, outlen, "%s", d);
		}
	}
}

static json_t *user(const char *id, const char *first)
{
	return json_pack("{s:I, s:b, s:s, s:s, s:s}", "id", (json_int_t)atoll(id), "is_bot", 0,
	                 "first_name", first, "last_name", "Wanjiru", "language_code", "en");
}

static json_t *chat_of(const char *id)
{
	return json_pack("{s:I, s:s}", "id", (json_int_t)atoll(id), "type", "private");
}

static json_t *update_new(void)
{
	return json_pack("{s:I}", "update_id", (json_int_t)++update_seq);
}

static json_t *text_update(const char *chat, const char *text)
{
	json_t *u = update_new();

	json_object_set_new(u, "message",
	                    json_pack("{s:i, s:o, s:o, s:i, s:s}", "message_id",
	                              (int)(update_seq % 100000), "from", user(chat, "Amina"),
	                              "chat", chat_of(chat), "date", (int)time(NULL), "text", text));
	return u;
}

static json_t *press_update(const char *chat, const char *data, long message_id)
{
	json_t *u = update_new();
	char id[32];

	snprintf(id, sizeof(id), "cq%lld", update_seq);
	json_object_set_new(
	    u, "callback_query",
	    json_pack("{s:s, s:o, s:{s:i, s:o, s:i, s:s}, s:s, s:s}", "id", id, "from",
	              user(chat, "Amina"), "message", "message_id", (int)message_id, "chat",
	              chat_of(chat), "date", (int)time(NULL), "text", "...", "chat_instance",
	              "-1234567", "data", data));
	return u;
}

static json_t *location_update(const char *chat)
{
	json_t *u = update_new();

	json_object_set_new(u, "message",
	                    json_pack("{s:i, s:o, s:o, s:i, s:{s:f, s:f}}", "message_id", 5,
	                              "from", user(chat, "Amina"), "chat", chat_of(chat), "date",
	                              (int)time(NULL), "location", "latitude", -1.2921,
	                              "longitude", 36.8219));
	return u;
}

static json_t *contact_update(const char *chat)
{
	json_t *u = update_new();

	json_object_set_new(u, "message",
	                    json_pack("{s:i, s:o, s:o, s:i, s:{s:s, s:s, s:I}}", "message_id", 6,
	                              "from", user(chat, "Amina"), "chat", chat_of(chat), "date",
	                              (int)time(NULL), "contact", "phone_number", "+254712345678",
	                              "first_name", "Amina", "user_id",
	                              (json_int_t)atoll(chat)));
	return u;
}

static json_t *member_update(const char *chat, const char *old_status, const char *new_status)
{
	json_t *u = update_new();

	json_object_set_new(
	    u, "my_chat_member",
	    json_pack("{s:o, s:o, s:i, s:{s:{s:I, s:b, s:s}, s:s}, s:{s:{s:I, s:b, s:s}, s:s}}",
	              "chat", chat_of(chat), "from", user(chat, "Amina"), "date", (int)time(NULL),
	              "old_chat_member", "user", "id", (json_int_t)7012345678LL, "is_bot", 1,
	              "first_name", "Shop", "status", old_status, "new_chat_member", "user", "id",
	              (json_int_t)7012345678LL, "is_bot", 1, "first_name", "Shop", "status",
	              new_status));
	return u;
}

/* POSTs an update (reference taken) to the channel's webhook with secret (NULL: none). */
static long post_update_to(const char *chan, json_t *u, const char *secret,
                           struct testhttp_resp *r)
{
	char url[256], hdr[128];
	const char *headers[3] = {"Content-Type: application/json", secret ? hdr : NULL, NULL};
	char *body = json_dumps(u, JSON_COMPACT);

	snprintf(url, sizeof(url), "%s/webhooks/telegram/%s", hx.srv.base_url, chan);
	snprintf(hdr, sizeof(hdr), "X-Telegram-Bot-Api-Secret-Token: %s", secret ? secret : "");
	testhttp_request("POST", url, headers, body, strlen(body), r);
	free(body);
	json_decref(u);
	return r->status;
}

/* Posts an update and expects 200 with handled (or duplicates) counted. */
static void post_ok(json_t *u, const char *what)
{
	struct testhttp_resp r;

	if (post_update_to(hx.channel_id, u, SECRET, &r) != 200)
		fail_msg("%s: the webhook answered %ld: %s", what, r.status, r.body);
	testhttp_resp_clear(&r);
}

static void register_channel(const char *token, const char *secret, const char *mode,
                             char *id_out, size_t idlen, json_t **answer)
{
	struct testhttp_resp r;
	char body[512];
	json_t *o;

	snprintf(body, sizeof(body),
	         "{\"type\": \"telegram\", \"name\": \"Asali bot\", \"bot_token\": \"%s\","
	         " \"secret_token\": \"%s\", \"mode\": \"%s\"}",
	         token, secret, mode);
	hx_api("POST", "/api/v1/channels", body, &r);
	if (r.status != 201)
		fail_msg("telegram channel registration answered %ld: %s", r.status, r.body);
	o = hx_json(&r);
	snprintf(id_out, idlen, "%s", json_string_value(json_object_get(o, "id")));
	if (answer)
		*answer = o;
	else
		json_decref(o);
	testhttp_resp_clear(&r);
}

static int group_setup(void **state)
{
	static const char *const env[] = {"CCGW_LOG_LEVEL=info", NULL};
	json_t *o;

	(void)state;
	hx_setup("telegram", "asali-shop");
	hx_serve("telegram_mock.py", "CCGW_TELEGRAM_API_BASE", env);
	register_channel(BOT_TOKEN, SECRET, "webhook", hx.channel_id, sizeof(hx.channel_id), &o);
	/* no https public address here: ccgw says so instead of calling setWebhook */
	assert_string_equal(json_string_value(json_object_get(o, "mode")), "webhook");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(o, "webhook_setup"), "action")),
	    "none");
	assert_non_null(strstr(json_string_value(json_object_get(o, "webhook_url")),
	                       "/webhooks/telegram/"));
	json_decref(o);
	hx_product_create("HN-ACA-500", "Acacia honey 500g", "Honey", 85000, 40);
	hx_product_create("HN-MAN-250", "Mangrove honey 250g", "Honey", 60000, 20);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	hx_teardown();
	return 0;
}

/* ---- a shopping conversation, through any way of delivering updates ---- */

typedef void (*deliver_fn)(json_t *update, const char *what);

/* Shops from "/start" to a placed order in chat by pressing what the bot offers; returns
 * the order id (heap). between(step) runs before each step (a restart in the middle). */
static char *shop_to_order(const char *chat, deliver_fn deliver, void (*between)(int step))
{
	static const struct {
		const char *data;
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
	int located = 0, phoned = 0, step;
	size_t before, p;
	json_t *msgs;
	char data[128], *text, *order = NULL;
	const char *params[1] = {chat};

	msgs = messages_to(chat);
	before = json_array_size(msgs);
	json_decref(msgs);
	deliver(text_update(chat, "/start"), "/start");
	for (step = 0; step < 30; step++) {
		msgs = wait_messages(chat, before);
		text = texts_since(msgs, before);
		order = hx_tscalar(hx.tenant_id,
		                   "SELECT o.id::text FROM orders o JOIN order_channel_meta m ON"
		                   " m.order_id = o.id WHERE m.external_chat_id = $1",
		                   1, params);
		if (order) {
			free(text);
			json_decref(msgs);
			return order;
		}
		data[0] = '\0';
		for (p = 0; p < sizeof(plan) / sizeof(plan[0]) && !data[0]; p++) {
			if (plan[p].once && pressed[p])
				continue;
			find_button(msgs, before, plan[p].data, plan[p].exact, data, sizeof(data));
			if (data[0])
				pressed[p] = 1;
		}
		if (getenv("TG_TEST_VERBOSE"))
			fprintf(stderr, "--- bot:\n%s--- shopper: %s\n", text, data[0] ? data : "(types)");
		before = json_array_size(msgs);
		json_decref(msgs);
		if (between)
			between(step);
		if (data[0]) {
			deliver(press_update(chat, data, 40 + step), data);
		} else if (!located && (strstr(text, "address") || strstr(text, "location"))) {
			deliver(location_update(chat), "location");
			located = 1;
		} else if (!phoned && strstr(text, "phone")) {
			deliver(contact_update(chat), "contact");
			phoned = 1;
		} else if (strstr(text, "name")) {
			deliver(text_update(chat, "Amina Wanjiru"), "name");
		} else {
			deliver(text_update(chat, "2 acacia honey"), "order text");
		}
		free(text);
	}
	fail_msg("no order after 30 steps in chat %s", chat);
	return NULL;
}

static void deliver_webhook(json_t *u, const char *what)
{
	post_ok(u, what);
}

/* ---- tests ---- */

static void test_wrong_secret_stores_nothing(void **state)
{
	struct testhttp_resp r;
	char *before, *after;

	(void)state;
	before = db_fingerprint();
	assert_int_equal(post_update_to(hx.channel_id, text_update("5100000001", "hi"), NULL, &r),
	                 401);
	testhttp_resp_clear(&r);
	assert_int_equal(
	    post_update_to(hx.channel_id, text_update("5100000001", "hi"), "not-the-secret", &r),
	    401);
	assert_non_null(strstr(r.body, "X-Telegram-Bot-Api-Secret-Token"));
	testhttp_resp_clear(&r);
	/* not an Update: 400, nothing stored */
	assert_int_equal(
	    post_update_to(hx.channel_id, json_pack("{s:s}", "hello", "world"), SECRET, &r), 400);
	testhttp_resp_clear(&r);
	/* an unknown channel id */
	assert_int_equal(post_update_to("6f1c1d4e-1111-4222-8333-944455556666",
	                                text_update("5100000001", "hi"), SECRET, &r),
	                 404);
	testhttp_resp_clear(&r);
	after = db_fingerprint();
	assert_string_equal(before, after);
	free(before);
	free(after);
	/* an update kind ccgw does not handle: 200, ignored, nothing stored */
	before = db_fingerprint();
	{
		json_t *u = update_new();

		json_object_set_new(u, "channel_post", json_pack("{s:i, s:s}", "message_id", 1,
		                                                 "text", "news"));
		assert_int_equal(post_update_to(hx.channel_id, u, SECRET, &r), 200);
		testhttp_resp_clear(&r);
	}
	after = db_fingerprint();
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void test_whole_conversation_webhook(void **state)
{
	const char *chat = "5123456789";
	char *order, *v, want[256];
	size_t answered;

	(void)state;
	answered = count_calls("answerCallbackQuery");
	order = shop_to_order(chat, deliver_webhook, NULL);
	/* the order remembers where it came from: telegram, this channel, this chat */
	v = hx_tscalar(hx.tenant_id,
	               "SELECT m.channel || '|' || m.channel_id || '|' || m.external_chat_id ||"
	               " '|' || m.external_user_id FROM order_channel_meta m WHERE m.order_id = $1",
	               1, (const char *const[]){order});
	snprintf(want, sizeof(want), "telegram|%s|%s|%s", hx.channel_id, chat, chat);
	assert_string_equal(v, want);
	free(v);
	/* every press was answered (the shopper's spinner stops) */
	assert_true(count_calls("answerCallbackQuery") > answered);
	free(order);
}

static void test_redelivered_update(void **state)
{
	const char *chat = "5200000002";
	struct testhttp_resp r;
	json_t *u = text_update(chat, "hi"), *o, *msgs;
	size_t n;

	(void)state;
	json_incref(u);
	assert_int_equal(post_update_to(hx.channel_id, u, SECRET, &r), 200);
	testhttp_resp_clear(&r);
	msgs = wait_messages(chat, 0);
	n = json_array_size(msgs);
	json_decref(msgs);
	/* Telegram delivers it again: no second effect */
	assert_int_equal(post_update_to(hx.channel_id, u, SECRET, &r), 200);
	o = hx_json(&r);
	assert_int_equal(json_integer_value(json_object_get(o, "duplicates")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "handled")), 0);
	json_decref(o);
	testhttp_resp_clear(&r);
	usleep(800000);
	msgs = messages_to(chat);
	assert_int_equal(json_array_size(msgs), n);
	json_decref(msgs);
}

static void test_press_never_sent(void **state)
{
	const char *chat = "5300000003";
	size_t answered = count_calls("answerCallbackQuery");
	json_t *msgs;
	char *text;

	(void)state;
	post_ok(press_update(chat, "zz:never-offered", 12), "a stale press");
	msgs = wait_messages(chat, 0);
	text = texts_since(msgs, 0);
	/* answered, and told politely */
	assert_true(count_calls("answerCallbackQuery") > answered);
	assert_non_null(strstr(text, "isn't available"));
	free(text);
	json_decref(msgs);
}

static void test_blocked_and_unblocked(void **state)
{
	const char *chat = "5400000004";
	const char *params[1] = {chat};
	json_t *msgs;
	size_t n;

	(void)state;
	post_ok(text_update(chat, "hi"), "hi");
	msgs = wait_messages(chat, 0);
	n = json_array_size(msgs);
	json_decref(msgs);
	post_ok(member_update(chat, "member", "kicked"), "blocked");
	assert_int_equal(hx_tcount("SELECT count(*) FROM conversations WHERE external_chat_id = $1"
	                           " AND blocked_at IS NOT NULL",
	                           1, params),
	                 1);
	assert_int_equal(hx_tcount("SELECT count(*) FROM conversation_events e JOIN conversations c"
	                           " ON c.id = e.conversation_id WHERE c.external_chat_id = $1"
	                           " AND e.event_type = 'bot_blocked'",
	                           1, params),
	                 1);
	/* a reply written while blocked is not sent */
	post_ok(text_update(chat, "menu"), "menu while blocked");
	{
		int i;

		for (i = 0; i < 100; i++) {
			if (hx_tcount(
			        "SELECT count(*) FROM outbox o JOIN conversations c ON"
			        " c.id = o.conversation_id WHERE c.external_chat_id = $1"
			        " AND o.status = 'undeliverable' AND o.last_error LIKE '%blocked%'",
			        1, params) > 0)
				break;
			usleep(50000);
		}
		assert_true(i < 100);
	}
	msgs = messages_to(chat);
	assert_int_equal(json_array_size(msgs), n);
	json_decref(msgs);
	/* allowed again: sending resumes */
	post_ok(member_update(chat, "kicked", "member"), "unblocked");
	assert_int_equal(hx_tcount("SELECT count(*) FROM conversations WHERE external_chat_id = $1"
	                           " AND blocked_at IS NULL",
	                           1, params),
	                 1);
	post_ok(text_update(chat, "menu"), "menu after unblock");
	msgs = wait_messages(chat, n);
	json_decref(msgs);
}

static void test_send_403_marks_blocked(void **state)
{
	const char *chat = "5500000005";
	const char *params[1] = {chat};
	struct testhttp_resp r;
	int i;

	(void)state;
	mock_call("POST", "/__fail",
	          "{\"method\": \"sendMessage\", \"status\": 403, \"description\": \"Forbidden: bot"
	          " was blocked by the user\", \"count\": 1}",
	          &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	post_ok(text_update(chat, "hi"), "hi to a blocked bot");
	for (i = 0; i < 100; i++) {
		if (hx_tcount("SELECT count(*) FROM conversations WHERE external_chat_id = $1"
		              " AND blocked_at IS NOT NULL",
		              1, params) == 1)
			break;
		usleep(50000);
	}
	assert_true(i < 100);
	/* not retried */
	assert_int_equal(hx_tcount("SELECT count(*) FROM outbox o JOIN conversations c ON"
	                           " c.id = o.conversation_id WHERE c.external_chat_id = $1"
	                           " AND o.status = 'failed' AND o.attempts = 1",
	                           1, params),
	                 1);
}

/* The sendMessage requests to chat the mock recorded, answered or failed, in order. */
static json_t *sends_to(const char *chat)
{
	json_t *all = mock_requests("sendMessage"), *out = json_array(), *q;
	size_t i;

	json_array_foreach(all, i, q)
	{
		json_t *c = json_object_get(json_object_get(q, "body"), "chat_id");

		if (json_is_integer(c) ? json_integer_value(c) == atoll(chat)
		                       : (json_is_string(c) && strcmp(json_string_value(c), chat) == 0))
			json_array_append(out, q);
	}
	json_decref(all);
	return out;
}

static char *channel_status(void)
{
	struct testhttp_resp r;
	char path[128], *out;
	json_t *o;

	snprintf(path, sizeof(path), "/api/v1/channels/%s", hx.channel_id);
	hx_api("GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	out = strdup(json_string_value(json_object_get(o, "status")));
	json_decref(o);
	testhttp_resp_clear(&r);
	return out;
}

/* Telegram answers a reply with 429 and retry_after 2: it is sent again, once, no sooner than
 * asked. Then it answers 401 (the bot's token was revoked): the channel is unhealthy in the
 * admin API, and the next send that goes through makes it active again. */
static void test_send_429_then_401(void **state)
{
	const char *chat = "5500000009", *chat2 = "5500000010";
	struct testhttp_resp r;
	json_t *sends, *first, *second;
	char *status;
	int i;

	(void)state;
	mock_call("POST", "/__fail",
	          "{\"method\": \"sendMessage\", \"status\": 429, \"retry_after\": 2, \"count\": 1}",
	          &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	post_ok(text_update(chat, "hi"), "hi met by a 429");
	json_decref(wait_messages(chat, 0));
	sends = sends_to(chat);
	assert_true(json_array_size(sends) >= 2);
	first = json_array_get(sends, 0);
	second = json_array_get(sends, 1);
	assert_int_equal(json_integer_value(json_object_get(first, "failed")), 429);
	assert_null(json_object_get(second, "failed"));
	if (json_real_value(json_object_get(second, "t")) -
	        json_real_value(json_object_get(first, "t")) < 1.9)
		fail_msg("sent again %.3f s after a 429 that asked for 2 s",
		         json_real_value(json_object_get(second, "t")) -
		             json_real_value(json_object_get(first, "t")));
	/* the same text went again, and only once */
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(first, "body"), "text")),
	    json_string_value(json_object_get(json_object_get(second, "body"), "text")));
	for (i = 2; i < (int)json_array_size(sends); i++)
		assert_string_not_equal(
		    json_string_value(json_object_get(json_object_get(first, "body"), "text")),
		    json_string_value(
		        json_object_get(json_object_get(json_array_get(sends, i), "body"), "text")));
	json_decref(sends);

	mock_call("POST", "/__fail", "{\"method\": \"sendMessage\", \"status\": 401, \"count\": 1}",
	          &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	post_ok(text_update(chat2, "hi"), "hi met by a 401");
	for (i = 0; i < 200; i++) {
		status = channel_status();
		if (strcmp(status, "unhealthy") == 0)
			break;
		free(status);
		status = NULL;
		usleep(50000);
	}
	if (!status)
		fail_msg("the channel did not become unhealthy after a 401");
	free(status);
	/* the seller fixed the token: the next send goes through and the channel is active */
	post_ok(text_update(chat2, "hello again"), "hi after the 401");
	json_decref(wait_messages(chat2, 0));
	status = channel_status();
	assert_string_equal(status, "active");
	free(status);
}

/* The seller's Telegram chat as the tenant's notification target (registered once). */
static void seller_target(void)
{
	static int done;
	struct testhttp_resp r;
	char body[256];

	if (done)
		return;
	snprintf(body, sizeof(body),
	         "{\"kind\": \"telegram\", \"channel_id\": \"%s\", \"chat_id\": \"" SELLER_CHAT
	         "\"}",
	         hx.channel_id);
	hx_api("POST", "/api/v1/notification-targets", body, &r);
	if (r.status != 201)
		fail_msg("target create answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
	done = 1;
}

static void test_seller_confirms_from_telegram(void **state)
{
	const char *chat = "5600000006";
	char body[256], confirm[128], *order, *v, *text;
	json_t *msgs, *seller;
	size_t n, shopper_before;

	(void)state;
	seller_target();
	order = shop_to_order(chat, deliver_webhook, NULL);
	/* the seller hears of it with buttons for what may come next */
	seller = wait_messages(SELLER_CHAT, 0);
	text = texts_since(seller, 0);
	assert_non_null(strstr(text, "New order #"));
	free(text);
	find_button(seller, 0, "ord:confirm:", 0, confirm, sizeof(confirm));
	assert_non_null(strstr(confirm, order));
	assert_non_null(strstr(confirm, ":1")); /* the version it was shown */
	find_button(seller, 0, "ord:cancel:", 0, body, sizeof(body));
	assert_true(body[0] != '\0');
	n = json_array_size(seller);
	json_decref(seller);
	msgs = messages_to(chat);
	shopper_before = json_array_size(msgs);
	json_decref(msgs);

	/* the seller presses Confirm in their chat */
	post_ok(press_update(SELLER_CHAT, confirm, 1), "seller confirm");
	seller = wait_messages(SELLER_CHAT, n);
	v = hx_tscalar(hx.tenant_id, "SELECT status || '|' || version FROM orders WHERE id = $1", 1,
	               (const char *const[]){order});
	assert_string_equal(v, "confirmed|2");
	free(v);
	/* the message pressed is edited to say who changed it, with the next steps */
	{
		json_t *last = json_array_get(seller, json_array_size(seller) - 1);
		const char *t = json_string_value(json_object_get(json_object_get(last, "body"),
		                                                  "text"));

		assert_string_equal(json_string_value(json_object_get(last, "method")),
		                    "editMessageText");
		assert_non_null(strstr(t, "is now confirmed"));
		assert_non_null(strstr(t, "Amina")); /* who pressed */
		find_button(seller, n, "ord:processing:", 0, body, sizeof(body));
		assert_non_null(strstr(body, ":2"));
	}
	n = json_array_size(seller);
	json_decref(seller);
	/* the shopper is told on their channel */
	msgs = wait_messages(chat, shopper_before);
	text = texts_since(msgs, shopper_before);
	assert_non_null(strstr(text, "confirmed"));
	free(text);
	json_decref(msgs);

	/* the same button again: stale, nothing changes */
	post_ok(press_update(SELLER_CHAT, confirm, 1), "stale confirm");
	seller = wait_messages(SELLER_CHAT, n);
	text = texts_since(seller, n);
	assert_non_null(strstr(text, "already changed to confirmed"));
	free(text);
	json_decref(seller);
	v = hx_tscalar(hx.tenant_id, "SELECT status || '|' || version FROM orders WHERE id = $1", 1,
	               (const char *const[]){order});
	assert_string_equal(v, "confirmed|2");
	free(v);
	/* a stranger's press on a seller button changes nothing */
	post_ok(press_update("5699999999", body, 1), "stranger press");
	usleep(500000);
	v = hx_tscalar(hx.tenant_id, "SELECT status FROM orders WHERE id = $1", 1,
	               (const char *const[]){order});
	assert_string_equal(v, "confirmed");
	free(v);
	free(order);
}

/* A text from chat that quotes (replies to) message_id of that chat. */
static json_t *reply_update(const char *chat, const char *text, long message_id)
{
	json_t *u = text_update(chat, text);

	json_object_set_new(json_object_get(u, "message"), "reply_to_message",
	                    json_pack("{s:i, s:o, s:i, s:s}", "message_id", (int)message_id,
	                              "chat", chat_of(chat), "date", (int)time(NULL), "text",
	                              "..."));
	return u;
}

/* The mock numbers each chat's sent messages 1, 2, ...: the number of the last message sent
 * to chat (sendMessage) whose text has needle, 0 when none. */
static long sent_message_id(const json_t *msgs, const char *needle)
{
	long k = 0, found = 0;
	size_t i;

	for (i = 0; i < json_array_size(msgs); i++) {
		const json_t *q = json_array_get(msgs, i);
		const char *t = json_string_value(json_object_get(json_object_get(q, "body"), "text"));

		if (strcmp(json_string_value(json_object_get(q, "method")), "sendMessage") != 0)
			continue;
		k++;
		if (t && strstr(t, needle))
			found = k;
	}
	return found;
}

static char *conversation_field(const char *chat, const char *field)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
	         "SELECT %s::text FROM conversations WHERE channel_id = $1 AND external_chat_id = $2",
	         field);
	return hx_tscalar(hx.tenant_id, sql, 2, (const char *const[]){hx.channel_id, chat});
}

/* A shopper asks for a person: the seller's Telegram chat hears of it with a Release button;
 * the seller's reply quoting that message reaches the shopper in the seller's words while
 * the bot stays quiet; a reply from a chat that is not the seller's reaches nobody; Release
 * gives the shopper back to the bot. */
static void test_seller_answers_handoff(void **state)
{
	const char *chat = "5600000008";
	char release[96], *text, *v;
	json_t *msgs, *seller;
	size_t n, before;
	long mid;

	(void)state;
	seller_target();
	post_ok(text_update(chat, "hello"), "greeting");
	msgs = wait_messages(chat, 0);
	before = json_array_size(msgs);
	json_decref(msgs);
	seller = messages_to(SELLER_CHAT);
	n = json_array_size(seller);
	json_decref(seller);

	post_ok(text_update(chat, "I want to talk to a real person please"), "ask for a person");
	seller = wait_messages(SELLER_CHAT, n);
	text = texts_since(seller, n);
	assert_non_null(strstr(text, "asked to talk to a person"));
	free(text);
	mid = sent_message_id(seller, "asked to talk to a person");
	assert_true(mid > 0);
	find_button(seller, n, "hr:", 0, release, sizeof(release));
	v = conversation_field(chat, "id");
	assert_non_null(strstr(release, v)); /* Release names this shopper's conversation */
	free(v);
	n = json_array_size(seller);
	json_decref(seller);
	msgs = wait_messages(chat, before);
	before = json_array_size(msgs);
	json_decref(msgs);
	v = conversation_field(chat, "handoff");
	assert_string_equal(v, "true");
	free(v);

	/* the seller answers by quoting the notification */
	post_ok(reply_update(SELLER_CHAT, "Hi Amina, the mangrove honey is back on Monday", mid),
	        "seller reply");
	msgs = wait_messages(chat, before);
	text = texts_since(msgs, before);
	assert_string_equal(text, "Hi Amina, the mangrove honey is back on Monday\n");
	free(text);
	before = json_array_size(msgs);
	json_decref(msgs);
	seller = wait_messages(SELLER_CHAT, n);
	text = texts_since(seller, n);
	assert_non_null(strstr(text, "Sent to the customer"));
	free(text);
	n = json_array_size(seller);
	json_decref(seller);

	/* a chat that is not the shop's quoting the same message number reaches nobody */
	post_ok(reply_update("5699999998", "let me in too", mid), "stranger reply");
	usleep(800000);
	msgs = messages_to(chat);
	assert_int_equal(json_array_size(msgs), before);
	json_decref(msgs);

	/* while a person has it, the shopper's words get no bot answer */
	post_ok(text_update(chat, "ok thank you, I will wait"), "shopper waits");
	usleep(800000);
	msgs = messages_to(chat);
	assert_int_equal(json_array_size(msgs), before);
	json_decref(msgs);

	/* Release: the message pressed says so, and the bot answers the shopper again */
	post_ok(press_update(SELLER_CHAT, release, mid), "release");
	seller = wait_messages(SELLER_CHAT, n);
	text = texts_since(seller, n);
	assert_non_null(strstr(text, "Released"));
	free(text);
	json_decref(seller);
	v = conversation_field(chat, "handoff");
	assert_string_equal(v, "false");
	free(v);
	post_ok(text_update(chat, "show me the honey"), "back to the bot");
	msgs = wait_messages(chat, before);
	text = texts_since(msgs, before);
	/* the shopper is told the bot is back, and the bot answers the search */
	if (!strstr(text, "back with the shop") || !strcasestr(text, "honey"))
		fail_msg("after Release the bot answered: %s", text);
	free(text);
	json_decref(msgs);
}

/* ---- long polling ---- */

static struct testsrv srv2;

static void queue_update(const char *token, json_t *u)
{
	struct testhttp_resp r;
	json_t *body = json_pack("{s:s, s:[o]}", "token", token, "updates", u);
	char *s = json_dumps(body, JSON_COMPACT);

	mock_call("POST", "/__updates", s, &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
	free(s);
	json_decref(body);
}

static void deliver_poll(json_t *u, const char *what)
{
	(void)what;
	queue_update(POLL_TOKEN, u);
}

/* Kills ccgw (SIGKILL, no goodbye) at the third step and starts it again. */
static void restart_at_3(int step)
{
	const char *env[3] = {hx.mock_env, "CCGW_LOG_LEVEL=info", NULL};

	if (step != 3)
		return;
	testsrv_kill(&hx.srv);
	testsrv_start(&hx.srv, &hx.db, env);
}

static json_t *polls_of(const char *token)
{
	struct testhttp_resp r;
	json_t *o, *t;

	mock_call("GET", "/__polls", NULL, &r);
	o = hx_json(&r);
	testhttp_resp_clear(&r);
	t = json_incref(json_object_get(o, token));
	json_decref(o);
	return t;
}

static void test_polling_with_restart(void **state)
{
	const char *chat = "5700000007";
	const char *params[1] = {chat};
	struct testhttp_resp r;
	char *order, path[128];
	json_t *o;
	long replies, inbound;

	(void)state;
	register_channel(POLL_TOKEN, POLL_SECRET, "polling", poll_channel_id,
	                 sizeof(poll_channel_id), &o);
	/* a polling bot has its webhook removed */
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(o, "webhook_setup"), "action")),
	    "deleteWebhook");
	assert_true(json_is_true(json_object_get(json_object_get(o, "webhook_setup"), "ok")));
	json_decref(o);
	/* its webhook URL takes nothing: the updates come by polling */
	order = shop_to_order(chat, deliver_poll, restart_at_3);
	/* nothing lost: every update handled once; nothing repeated: one reply per turn */
	inbound = hx_tcount("SELECT count(*) FROM inbound_messages i JOIN conversations c ON"
	                    " c.channel_id = i.channel_id WHERE c.external_chat_id = $1",
	                    1, params);
	replies = hx_tcount(
	    "SELECT count(*) FROM outbox o JOIN conversations c ON"
	    " c.id = o.conversation_id WHERE c.external_chat_id = $1 AND o.kind = 'reply'",
	    1, params);
	assert_true(inbound >= 5);
	assert_int_equal(replies, inbound);
	/* the offset confirms what was committed */
	assert_true(hx_tcount("SELECT next_offset FROM channel_poll_offsets WHERE channel_id = $1",
	                      1, (const char *const[]){poll_channel_id}) > 5000000000LL);
	snprintf(path, sizeof(path), "/webhooks/telegram/%s", poll_channel_id);
	free(order);
	(void)r;
}

static void test_two_processes_one_poller(void **state)
{
	const char *env[3] = {hx.mock_env, "CCGW_LOG_LEVEL=info", NULL};
	const char *chat = "5800000008";
	json_t *p, *msgs;
	long before_total;
	int i, max_in_flight = 0;

	(void)state;
	testsrv_start(&srv2, &hx.db, env);
	p = polls_of(POLL_TOKEN);
	before_total = (long)json_integer_value(json_object_get(p, "conflicts"));
	json_decref(p);
	/* for a few long polls: never two at once, and the bot keeps answering */
	queue_update(POLL_TOKEN, text_update(chat, "hi"));
	for (i = 0; i < 40; i++) {
		int n;

		p = polls_of(POLL_TOKEN);
		n = (int)json_integer_value(json_object_get(p, "in_flight"));
		max_in_flight = n > max_in_flight ? n : max_in_flight;
		json_decref(p);
		usleep(100000);
	}
	msgs = wait_messages(chat, 0);
	json_decref(msgs);
	p = polls_of(POLL_TOKEN);
	assert_int_equal((long)json_integer_value(json_object_get(p, "conflicts")), before_total);
	json_decref(p);
	assert_true(max_in_flight <= 1);
	/* the holder dies: the other process takes the bot over */
	testsrv_kill(&hx.srv);
	queue_update(POLL_TOKEN, text_update(chat, "menu"));
	msgs = messages_to(chat);
	i = (int)json_array_size(msgs);
	json_decref(msgs);
	msgs = wait_messages(chat, (size_t)i);
	json_decref(msgs);
	testsrv_start(&hx.srv, &hx.db, env);
	testsrv_stop(&srv2);
}

/* With an https public address ccgw points the bot's webhook at itself (setWebhook with the
 * secret token and the update kinds it handles), and a switch to polling removes it. */
static void test_set_webhook(void **state)
{
	const char *env[4] = {hx.mock_env, "CCGW_LOG_LEVEL=info",
	                      "CCGW_PUBLIC_URL=https://shop.example.test", NULL};
	struct testsrv s3, keep = hx.srv;
	struct testhttp_resp r;
	char id[64], want[160];
	json_t *o, *calls, *last;
	const json_t *allowed;
	size_t i, n;
	int has_cq = 0;

	(void)state;
	testsrv_start(&s3, &hx.db, env);
	hx.srv = s3; /* api() talks to it */
	register_channel("7055555555:AAH-https-bot", "tg-secret-3", "webhook", id, sizeof(id), &o);
	assert_true(json_is_true(json_object_get(json_object_get(o, "webhook_setup"), "ok")));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(o, "webhook_setup"), "action")),
	    "setWebhook");
	json_decref(o);
	calls = mock_requests("setWebhook");
	n = json_array_size(calls);
	assert_true(n >= 1);
	last = json_object_get(json_array_get(calls, n - 1), "body");
	snprintf(want, sizeof(want), "https://shop.example.test/webhooks/telegram/%s", id);
	assert_string_equal(json_string_value(json_object_get(last, "url")), want);
	assert_string_equal(json_string_value(json_object_get(last, "secret_token")), "tg-secret-3");
	allowed = json_object_get(last, "allowed_updates");
	for (i = 0; i < json_array_size(allowed); i++)
		has_cq |= strcmp(json_string_value(json_array_get(allowed, i)), "callback_query") == 0;
	assert_true(has_cq);
	json_decref(calls);
	/* switched to polling: the webhook is removed */
	n = count_calls("deleteWebhook");
	snprintf(want, sizeof(want), "/api/v1/channels/%s", id);
	hx_api("PATCH", want, "{\"mode\": \"polling\"}", &r);
	assert_int_equal(r.status, 200);
	o = hx_json(&r);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(o, "webhook_setup"), "action")),
	    "deleteWebhook");
	assert_string_equal(json_string_value(json_object_get(o, "mode")), "polling");
	json_decref(o);
	testhttp_resp_clear(&r);
	assert_int_equal(count_calls("deleteWebhook"), n + 1);
	/* not a mode */
	hx_api("PATCH", want, "{\"mode\": \"carrier-pigeon\"}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "mode"));
	testhttp_resp_clear(&r);
	hx_api("DELETE", want, NULL, &r);
	testhttp_resp_clear(&r);
	hx.srv = keep;
	testsrv_stop(&s3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wrong_secret_stores_nothing),
	    cmocka_unit_test(test_whole_conversation_webhook),
	    cmocka_unit_test(test_redelivered_update),
	    cmocka_unit_test(test_press_never_sent),
	    cmocka_unit_test(test_blocked_and_unblocked),
	    cmocka_unit_test(test_send_403_marks_blocked),
	    cmocka_unit_test(test_send_429_then_401),
	    cmocka_unit_test(test_seller_confirms_from_telegram),
	    cmocka_unit_test(test_seller_answers_handoff),
	    cmocka_unit_test(test_polling_with_restart),
	    cmocka_unit_test(test_two_processes_one_poller),
	    cmocka_unit_test(test_set_webhook),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
