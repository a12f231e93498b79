/*
 * tg_adapter_test.c: unit tests of the Telegram adapter through telegram_channel_ops only: every
 * Update fixture parsed into the batch the inbound flow reads (messages, postbacks, chat
 * events, ignored kinds, refusals), getUpdates answers, the secret-token header, replies
 * rendered into Bot API calls (inline keyboards, split texts, answered and edited presses,
 * the numbered fallback), answers classified, and the polling and webhook set-up calls.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "chantest.h"
#include "reply_text.h"
#include "telegram.h"

#define SHOPPER   "5123456789"
#define MOCK_BASE "http://mock"
#define BOT_URL   MOCK_BASE "/bot123:abc/"
#define PRESS     "900000010:4382bfdwdsb323b2d9:77"

static json_t *test_config;

static int setup(void **state)
{
	(void)state;
	test_config = json_pack("{s:s}", "bot_token", "123:abc");
	return test_config ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(test_config);
	return 0;
}

static struct channel_target target(void)
{
	struct channel_target t = {
	    .channel_id = "0b8e6f8a-3c1d-4e2f-9a7b-5c6d7e8f9a01",
	    .api_base = MOCK_BASE,
	    .config = test_config,
	    .recipient = SHOPPER,
	    .reply_to = NULL,
	    .window_age = -1,
	};
	return t;
}

/* ---- helpers ---- */

/* A fixture as a JSON object, to change a field of. */
static json_t *fixture_json(const char *name)
{
	size_t len;
	char *body = chantest_read(TG_TEST_DATA, name, &len);
	json_error_t jerr;
	json_t *j = json_loadb(body, len, 0, &jerr);

	if (!j)
		fail_msg("%s is not JSON: %s", name, jerr.text);
	free(body);
	return j;
}

static struct channel_batch *parse_text(const char *body)
{
	char err[256] = "";
	struct channel_batch *b = telegram_channel_ops.parse(body, strlen(body), err, sizeof(err));

	if (!b)
		fail_msg("parse failed: %s", err);
	return b;
}

static struct channel_batch *parse_fixture(const char *name)
{
	size_t len;
	char *body = chantest_read(TG_TEST_DATA, name, &len);
	char err[256] = "";
	struct channel_batch *b = telegram_channel_ops.parse(body, len, err, sizeof(err));

	if (!b)
		fail_msg("%s: parse failed: %s", name, err);
	free(body);
	return b;
}

static struct channel_batch *parse_json(const json_t *update)
{
	char *body = json_dumps(update, JSON_COMPACT);
	struct channel_batch *b;

	assert_non_null(body);
	b = parse_text(body);
	free(body);
	return b;
}

/* The one message of a batch that holds nothing else. */
static struct msg_inbound *only_message(const struct channel_batch *b)
{
	assert_int_equal(b->nmessages, 1);
	assert_int_equal(b->nchats, 0);
	assert_int_equal(b->nstatuses, 0);
	assert_int_equal(b->nnotices, 0);
	assert_int_equal(b->nignored, 0);
	assert_non_null(b->messages[0].msg);
	assert_int_equal(b->messages[0].msg->channel, MSG_CHANNEL_TELEGRAM);
	return b->messages[0].msg;
}

static const struct channel_chat_event *only_chat(const struct channel_batch *b)
{
	assert_int_equal(b->nmessages, 0);
	assert_int_equal(b->nchats, 1);
	assert_int_equal(b->nignored, 0);
	return &b->chats[0];
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- inbound: every fixture ---- */

struct fixture_case {
	const char *file;
	int refused; /* parse answers NULL with a reason */
	size_t nmessages, nchats, nignored;
	enum msg_kind kind; /* of the one message, when there is one */
};

static const struct fixture_case fixtures[] = {
    {"text.json", 0, 1, 0, 0, MSG_KIND_TEXT},
    {"text_sw.json", 0, 1, 0, 0, MSG_KIND_TEXT},
    {"start.json", 0, 1, 0, 0, MSG_KIND_TEXT},
    {"group_message.json", 0, 1, 0, 0, MSG_KIND_TEXT},
    {"location.json", 0, 1, 0, 0, MSG_KIND_LOCATION},
    {"venue.json", 0, 1, 0, 0, MSG_KIND_LOCATION},
    {"contact.json", 0, 1, 0, 0, MSG_KIND_CONTACT},
    {"callback_query.json", 0, 1, 0, 0, MSG_KIND_POSTBACK},
    {"callback_query_no_message.json", 0, 1, 0, 0, MSG_KIND_POSTBACK},
    {"photo.json", 0, 1, 0, 0, MSG_KIND_MEDIA},
    {"sticker.json", 0, 1, 0, 0, MSG_KIND_MEDIA},
    {"voice.json", 0, 1, 0, 0, MSG_KIND_MEDIA},
    {"edited_message.json", 0, 0, 1, 0, MSG_KIND_TEXT},
    {"my_chat_member_blocked.json", 0, 0, 1, 0, MSG_KIND_TEXT},
    {"my_chat_member_unblocked.json", 0, 0, 1, 0, MSG_KIND_TEXT},
    {"channel_post.json", 0, 0, 0, 1, MSG_KIND_TEXT},
    {"poll.json", 0, 0, 0, 1, MSG_KIND_TEXT},
    {"not_an_update.json", 1, 0, 0, 0, MSG_KIND_TEXT},
    /* a getUpdates answer is not an Update: poll_parse reads it */
    {"getupdates_two.json", 1, 0, 0, 0, MSG_KIND_TEXT},
};

#define NFIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

/* Every payload file parses as the table says, and the table names every file there is. */
static void test_parse_every_fixture(void **state)
{
	DIR *d = opendir(TG_TEST_DATA);
	struct dirent *e;
	size_t i, seen = 0;

	(void)state;
	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (l < 5 || strcmp(e->d_name + l - 5, ".json") != 0)
			continue;
		for (i = 0; i < NFIXTURES; i++)
			if (strcmp(fixtures[i].file, e->d_name) == 0)
				break;
		if (i == NFIXTURES)
			fail_msg("%s has no row in the fixture table", e->d_name);
		seen++;
	}
	closedir(d);
	assert_int_equal(seen, NFIXTURES);

	for (i = 0; i < NFIXTURES; i++) {
		const struct fixture_case *c = &fixtures[i];
		size_t len, j;
		char *body = chantest_read(TG_TEST_DATA, c->file, &len);
		char err[256] = "";
		struct channel_batch *b = telegram_channel_ops.parse(body, len, err, sizeof(err));

		if (c->refused) {
			if (b)
				fail_msg("%s: parsed, expected a refusal", c->file);
			if (!err[0])
				fail_msg("%s: refused without a reason", c->file);
			free(body);
			continue;
		}
		if (!b)
			fail_msg("%s: parse failed: %s", c->file, err);
		if (b->nmessages != c->nmessages || b->nchats != c->nchats ||
		    b->nignored != c->nignored || b->nstatuses || b->nnotices)
			fail_msg("%s: %zu messages, %zu chat events, %zu ignored; expected %zu, "
			         "%zu, %zu",
			         c->file, b->nmessages, b->nchats, b->nignored, c->nmessages,
			         c->nchats, c->nignored);
		for (j = 0; j < b->nmessages; j++) {
			const struct msg_inbound *m = b->messages[j].msg;

			assert_non_null(m);
			if (m->kind != c->kind)
				fail_msg("%s: kind %s, expected %s", c->file,
				         msg_kind_name(m->kind), msg_kind_name(c->kind));
			assert_int_equal(m->channel, MSG_CHANNEL_TELEGRAM);
			assert_non_null(m->chat_id);
			assert_non_null(m->user_id);
			assert_non_null(m->message_id);
			assert_null(b->messages[j].route); /* the webhook URL names the channel */
		}
		for (j = 0; j < b->nchats; j++) {
			assert_non_null(b->chats[j].chat_id);
			assert_non_null(b->chats[j].event_id);
			assert_non_null(b->chats[j].payload);
		}
		channel_batch_free(b);
		free(body);
	}
}

/* ---- inbound: what each kind carries ---- */

static void test_parse_text(void **state)
{
	struct channel_batch *b;
	struct msg_inbound *m;

	(void)state;
	b = parse_fixture("text.json");
	m = only_message(b);
	assert_int_equal(m->kind, MSG_KIND_TEXT);
	assert_string_equal(m->text, "hi");
	/* ids beyond 32 bits kept whole */
	assert_string_equal(m->chat_id, "5123456789");
	assert_string_equal(m->user_id, "5123456789");
	assert_string_equal(m->display_name, "Wanjiru Kamau");
	/* de-duplicated per channel by the update, not the per-chat message_id */
	assert_string_equal(m->message_id, "900000001");
	assert_int_equal(m->timestamp, 1717401600);
	assert_null(m->phone); /* Telegram does not give it with a text */
	channel_batch_free(b);

	b = parse_fixture("text_sw.json");
	m = only_message(b);
	assert_string_equal(m->text, "nataka asali mbili");
	assert_string_equal(m->chat_id, "412345678");
	assert_string_equal(m->display_name, "Otieno Ochieng");
	assert_string_equal(m->message_id, "900000002");
	channel_batch_free(b);

	/* in a group the chat is the group and the user is the sender */
	b = parse_fixture("group_message.json");
	m = only_message(b);
	assert_string_equal(m->chat_id, "-987654321");
	assert_string_equal(m->user_id, "5123456789");
	channel_batch_free(b);
}

static void test_parse_start_command(void **state)
{
	struct channel_batch *b;
	struct msg_inbound *m;
	json_t *u;

	(void)state;
	b = parse_fixture("start.json");
	m = only_message(b);
	assert_int_equal(m->kind, MSG_KIND_TEXT);
	assert_string_equal(m->text, "hi"); /* /start greets */
	assert_string_equal(m->message_id, "900000003");
	channel_batch_free(b);

	/* another command is its word, without the bot's name */
	u = fixture_json("start.json");
	json_object_set_new(json_object_get(u, "message"), "text",
	                    json_string("/Menu@asali_shop_bot"));
	b = parse_json(u);
	assert_string_equal(only_message(b)->text, "menu");
	channel_batch_free(b);
	json_decref(u);
}

static void test_parse_places(void **state)
{
	struct channel_batch *b;
	struct msg_inbound *m;

	(void)state;
	b = parse_fixture("location.json");
	m = only_message(b);
	assert_int_equal(m->kind, MSG_KIND_LOCATION);
	assert_float_equal(m->latitude, -1.292066, 1e-9);
	assert_float_equal(m->longitude, 36.821946, 1e-9);
	assert_null(m->location_name);
	assert_null(m->location_address);
	assert_string_equal(m->message_id, "900000004");
	channel_batch_free(b);

	b = parse_fixture("venue.json");
	m = only_message(b);
	assert_int_equal(m->kind, MSG_KIND_LOCATION);
	assert_float_equal(m->latitude, -1.283253, 1e-9);
	assert_float_equal(m->longitude, 36.822353, 1e-9);
	assert_string_equal(m->location_name, "Kenyatta International Convention Centre");
	assert_string_equal(m->location_address, "Harambee Avenue, Nairobi");
	channel_batch_free(b);
}

static void test_parse_contact(void **state)
{
	struct channel_batch *b;
	struct msg_inbound *m;
	json_t *u;

	(void)state;
	b = parse_fixture("contact.json");
	m = only_message(b);
	assert_int_equal(m->kind, MSG_KIND_CONTACT);
	assert_string_equal(m->contact_phone, "254712345678"); /* "+254712345678", digits only */
	assert_string_equal(m->contact_name, "Wanjiru Kamau");
	/* shared with Telegram's "share my number" button: the contact is the sender */
	assert_string_equal(m->phone, "254712345678");
	channel_batch_free(b);

	/* someone else's card is a contact, not the shopper's own number */
	u = fixture_json("contact.json");
	json_object_set_new(json_object_get(json_object_get(u, "message"), "contact"), "user_id",
	                    json_integer(412345678));
	b = parse_json(u);
	m = only_message(b);
	assert_int_equal(m->kind, MSG_KIND_CONTACT);
	assert_string_equal(m->contact_phone, "254712345678");
	assert_null(m->phone);
	channel_batch_free(b);
	json_decref(u);
}

static void test_parse_callback(void **state)
{
	struct channel_batch *b;
	struct msg_inbound *m;

	(void)state;
	b = parse_fixture("callback_query.json");
	m = only_message(b);
	assert_int_equal(m->kind, MSG_KIND_POSTBACK);
	assert_string_equal(m->payload, "cat:3f2a");
	assert_string_equal(m->message_id, "900000007:4382bfdwdsb323b2d9:105");
	assert_string_equal(m->chat_id, "5123456789");
	assert_string_equal(m->user_id, "5123456789");
	assert_string_equal(m->display_name, "Wanjiru Kamau");
	assert_string_equal(m->reply_to, "105"); /* the message pressed */
	channel_batch_free(b);

	/* a press on an inline message has no chat: the presser's private chat answers */
	b = parse_fixture("callback_query_no_message.json");
	m = only_message(b);
	assert_int_equal(m->kind, MSG_KIND_POSTBACK);
	assert_string_equal(m->payload, "cat:3f2a");
	assert_string_equal(m->chat_id, "5123456789");
	assert_string_equal(m->user_id, "5123456789");
	assert_true(strncmp(m->message_id, "900000008:4382bfdwdsb323b2e1:", 29) == 0);
	channel_batch_free(b);
}

/* A press we cannot have offered (callback_data with a space, or longer than 64 bytes) is a
 * postback "tg:unknown" whose reply still answers the press. */
static void test_parse_callback_unknown_payload(void **state)
{
	static const char *const bad[] = {
	    "cat 3f2a",
	    /* 65 bytes */
	    "p:0123456789012345678901234567890123456789012345678901234567890AB",
	};
	struct channel_target t = target();
	struct channel_request *reqs;
	struct channel_batch *b;
	json_t *u, *bodies;
	size_t i, n;

	(void)state;
	assert_int_equal(strlen(bad[1]), 65);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct msg_inbound *m;

		u = fixture_json("callback_query.json");
		json_object_set_new(json_object_get(u, "callback_query"), "data",
		                    json_string(bad[i]));
		b = parse_json(u);
		m = only_message(b);
		assert_int_equal(m->kind, MSG_KIND_POSTBACK);
		assert_string_equal(m->payload, "tg:unknown");
		assert_string_equal(m->message_id, "900000007:4382bfdwdsb323b2d9:105");

		/* the engine's answer to it still stops the shopper's spinner */
		t.reply_to = m->message_id;
		bodies = chantest_render(&telegram_channel_ops, &t,
		                         "{\"text\":\"That choice is no longer available.\"}",
		                         &reqs, &n);
		assert_true(n >= 1);
		assert_string_equal(reqs[0].url, BOT_URL "answerCallbackQuery");
		assert_string_equal(jstr(json_array_get(bodies, 0), "callback_query_id"),
		                    "4382bfdwdsb323b2d9");
		channel_requests_free(reqs, n);
		json_decref(bodies);
		channel_batch_free(b);
		json_decref(u);
	}
	/* exactly 64 bytes is still ours */
	u = fixture_json("callback_query.json");
	json_object_set_new(
	    json_object_get(u, "callback_query"), "data",
	    json_string("p:0123456789012345678901234567890123456789012345678901234567890A"));
	b = parse_json(u);
	assert_string_equal(only_message(b)->payload,
	                    "p:0123456789012345678901234567890123456789012345678901234567890A");
	channel_batch_free(b);
	json_decref(u);
}

static void test_parse_chat_events(void **state)
{
	struct channel_batch *b;
	const struct channel_chat_event *e;

	(void)state;
	b = parse_fixture("edited_message.json");
	e = only_chat(b);
	assert_int_equal(e->kind, CHANNEL_CHAT_EDITED);
	assert_string_equal(e->chat_id, "5123456789");
	assert_string_equal(e->event_id, "900000009");
	assert_string_equal(jstr(e->payload, "text"), "hi there");
	assert_int_equal(json_integer_value(json_object_get(e->payload, "message_id")), 101);
	channel_batch_free(b);

	b = parse_fixture("my_chat_member_blocked.json");
	e = only_chat(b);
	assert_int_equal(e->kind, CHANNEL_CHAT_BLOCKED);
	assert_string_equal(e->chat_id, "5123456789");
	assert_string_equal(e->event_id, "900000010");
	assert_string_equal(jstr(e->payload, "old_status"), "member");
	assert_string_equal(jstr(e->payload, "new_status"), "kicked");
	channel_batch_free(b);

	b = parse_fixture("my_chat_member_unblocked.json");
	e = only_chat(b);
	assert_int_equal(e->kind, CHANNEL_CHAT_UNBLOCKED);
	assert_string_equal(e->chat_id, "5123456789");
	assert_string_equal(e->event_id, "900000011");
	assert_string_equal(jstr(e->payload, "new_status"), "member");
	channel_batch_free(b);
}

static void test_parse_media(void **state)
{
	struct channel_batch *b;
	struct msg_inbound *m;

	(void)state;
	b = parse_fixture("photo.json");
	m = only_message(b);
	assert_int_equal(m->kind, MSG_KIND_MEDIA);
	assert_string_equal(m->media_type, "image");
	assert_string_equal(m->text, "Do you have this one?"); /* the caption */
	channel_batch_free(b);

	b = parse_fixture("sticker.json");
	m = only_message(b);
	assert_int_equal(m->kind, MSG_KIND_MEDIA);
	assert_string_equal(m->media_type, "sticker");
	assert_null(m->text);
	channel_batch_free(b);

	b = parse_fixture("voice.json");
	m = only_message(b);
	assert_int_equal(m->kind, MSG_KIND_MEDIA);
	assert_string_equal(m->media_type, "audio");
	assert_string_equal(m->chat_id, "412345678");
	channel_batch_free(b);
}

/* Updates of kinds the adapter does not handle are answered and counted, not stored. */
static void test_parse_ignored(void **state)
{
	static const char *const files[] = {"channel_post.json", "poll.json"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct channel_batch *b = parse_fixture(files[i]);

		assert_int_equal(b->nmessages, 0);
		assert_int_equal(b->nchats, 0);
		assert_int_equal(b->nignored, 1);
		channel_batch_free(b);
	}
}

static void test_parse_refused(void **state)
{
	static const char *const bodies[] = {"not json at all", "", "[1,2]",
	                                     "{\"update_id\":\"7\"}"};
	struct channel_batch *b;
	char err[256];
	size_t i, len;
	char *body;

	(void)state;
	body = chantest_read(TG_TEST_DATA, "not_an_update.json", &len);
	err[0] = '\0';
	b = telegram_channel_ops.parse(body, len, err, sizeof(err));
	assert_null(b);
	assert_true(err[0] != '\0');
	assert_non_null(strstr(err, "update_id"));
	free(body);
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		err[0] = '\0';
		b = telegram_channel_ops.parse(bodies[i], strlen(bodies[i]), err, sizeof(err));
		assert_null(b);
		if (!err[0])
			fail_msg("\"%s\": refused without a reason", bodies[i]);
	}
}

/* ---- long polling ---- */

static void test_poll_parse(void **state)
{
	size_t len;
	char *body = chantest_read(TG_TEST_DATA, "getupdates_two.json", &len);
	const char *conflict = "{\"ok\":false,\"error_code\":409,\"description\":\"Conflict: "
	                       "terminated by other getUpdates request\"}";
	const char *empty = "{\"ok\":true,\"result\":[]}";
	long long next = 0;
	char err[256] = "";
	struct channel_batch *b;

	(void)state;
	b = telegram_channel_ops.poll_parse(body, len, &next, err, sizeof(err));
	if (!b)
		fail_msg("poll_parse failed: %s", err);
	assert_int_equal(b->nmessages, 2);
	assert_int_equal(b->nignored, 0);
	assert_int_equal(b->messages[0].msg->kind, MSG_KIND_TEXT);
	assert_string_equal(b->messages[0].msg->text, "asali");
	assert_string_equal(b->messages[0].msg->message_id, "900000018");
	assert_int_equal(b->messages[1].msg->kind, MSG_KIND_POSTBACK);
	assert_string_equal(b->messages[1].msg->payload, "cat:3f2a");
	assert_string_equal(b->messages[1].msg->message_id, "900000019:4382bfdwdsb323b2f7:105");
	assert_int_equal(next, 900000020LL); /* the highest update_id + 1 confirms both */
	channel_batch_free(b);
	free(body);

	/* nothing new: the offset stays */
	next = 900000020LL;
	b = telegram_channel_ops.poll_parse(empty, strlen(empty), &next, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(b->nmessages, 0);
	assert_int_equal(next, 900000020LL);
	channel_batch_free(b);

	/* another process polls the same bot */
	err[0] = '\0';
	next = 0;
	b = telegram_channel_ops.poll_parse(conflict, strlen(conflict), &next, err, sizeof(err));
	assert_null(b);
	assert_non_null(strstr(err, "Conflict"));
	assert_int_equal(next, 0);

	err[0] = '\0';
	b = telegram_channel_ops.poll_parse("<html>", 6, &next, err, sizeof(err));
	assert_null(b);
	assert_true(err[0] != '\0');
}

/* One update the adapter cannot use is skipped and confirmed with the rest (telegram.c:
 * "one bad update must not stop the bot for ever"). */
static void test_poll_skips_unusable_update(void **state)
{
	const char *body =
	    "{\"ok\":true,\"result\":["
	    "{\"update_id\":900000030,\"edited_message\":{\"message_id\":1,\"chat\":{},"
	    "\"text\":\"x\"}},"
	    "{\"update_id\":900000031,\"message\":{\"message_id\":2,\"from\":{\"id\":5123456789,"
	    "\"first_name\":\"Wanjiru\"},\"chat\":{\"id\":5123456789,\"type\":\"private\"},"
	    "\"date\":1717402560,\"text\":\"asali\"}}]}";
	const char *one = "{\"update_id\":900000030,\"edited_message\":{\"message_id\":1,"
	                  "\"chat\":{},\"text\":\"x\"}}";
	long long next = 0;
	char err[256] = "";
	struct channel_batch *b;

	(void)state;
	/* BUG: telegram.c parse_chat_event (line 353) checks only that "chat" is an object, so a
	 * chat without an id gives chat_id NULL and returns -2 (line 372), which parse_update
	 * reports as "out of memory"; tg_poll_parse then drops the whole batch (lines 469-471)
	 * and the poller retries the same offset for ever. parse_callback (lines 312, 326) does
	 * the same for a press without a message whose "from" has no id, and parse_message
	 * (line 344) for a chat id that is neither an integer nor a non-empty string. Expected:
	 * -1, the update skipped and counted as ignored, the others kept, the offset past all
	 * of them. */
	b = telegram_channel_ops.poll_parse(body, strlen(body), &next, err, sizeof(err));
	if (!b)
		fail_msg("poll_parse dropped the whole answer: %s", err);
	assert_int_equal(b->nmessages, 1);
	assert_int_equal(b->nchats, 0);
	assert_int_equal(b->nignored, 1);
	assert_string_equal(b->messages[0].msg->message_id, "900000031");
	assert_int_equal(next, 900000032LL);
	channel_batch_free(b);

	/* BUG (same cause): a webhook with that update is refused as "out of memory" rather
	 * than with a reason about the update */
	err[0] = '\0';
	b = telegram_channel_ops.parse(one, strlen(one), err, sizeof(err));
	assert_null(b);
	assert_null(strstr(err, "out of memory"));
}

static void test_poll_request(void **state)
{
	struct channel_target t = target();
	struct channel_request req;
	const json_t *allowed, *v;
	char err[256] = "";
	json_t *body;
	size_t i;
	int cq = 0, mcm = 0, msg = 0;

	(void)state;
	assert_true(
	    telegram_channel_ops.poll_request(&t, 900000020LL, 25, &req, err, sizeof(err)) == 0);
	assert_string_equal(req.url, BOT_URL "getUpdates");
	body = json_loads(req.body, 0, NULL);
	assert_non_null(body);
	assert_true(json_is_integer(json_object_get(body, "offset")));
	assert_int_equal(json_integer_value(json_object_get(body, "offset")), 900000020LL);
	assert_int_equal(json_integer_value(json_object_get(body, "timeout")), 25);
	allowed = json_object_get(body, "allowed_updates");
	assert_true(json_is_array(allowed));
	json_array_foreach(allowed, i, v)
	{
		cq |= json_string_value(v) && strcmp(json_string_value(v), "callback_query") == 0;
		mcm |= json_string_value(v) && strcmp(json_string_value(v), "my_chat_member") == 0;
		msg |= json_string_value(v) && strcmp(json_string_value(v), "message") == 0;
	}
	assert_true(cq);
	assert_true(mcm);
	assert_true(msg);
	json_decref(body);
	channel_request_clear(&req);

	/* the default API base when the setting is empty */
	t.api_base = NULL;
	assert_true(telegram_channel_ops.poll_request(&t, 0, 25, &req, err, sizeof(err)) == 0);
	assert_string_equal(req.url, "https://api.telegram.org/bot123:abc/getUpdates");
	channel_request_clear(&req);
}

static void test_webhook_request(void **state)
{
	struct channel_target t = target();
	json_t *cfg = json_pack("{s:s, s:s}", "bot_token", "123:abc", "secret_token", "s3cr3t-_x");
	struct channel_request req;
	char err[256] = "";
	json_t *body;
	const json_t *v;
	size_t i;
	int cq = 0, mcm = 0;

	(void)state;
	t.config = cfg;
	assert_true(telegram_channel_ops.webhook_request(
	                &t, "https://shop.example/webhooks/telegram/0b8e6f8a", &req, err,
	                sizeof(err)) == 0);
	assert_string_equal(req.url, BOT_URL "setWebhook");
	body = json_loads(req.body, 0, NULL);
	assert_non_null(body);
	assert_string_equal(jstr(body, "url"), "https://shop.example/webhooks/telegram/0b8e6f8a");
	assert_string_equal(jstr(body, "secret_token"), "s3cr3t-_x");
	json_array_foreach(json_object_get(body, "allowed_updates"), i, v)
	{
		cq |= json_string_value(v) && strcmp(json_string_value(v), "callback_query") == 0;
		mcm |= json_string_value(v) && strcmp(json_string_value(v), "my_chat_member") == 0;
	}
	assert_true(cq);
	assert_true(mcm);
	json_decref(body);
	channel_request_clear(&req);

	/* switching to polling removes the webhook */
	assert_true(telegram_channel_ops.webhook_request(&t, NULL, &req, err, sizeof(err)) == 0);
	assert_string_equal(req.url, BOT_URL "deleteWebhook");
	assert_non_null(req.body);
	channel_request_clear(&req);
	json_decref(cfg);
}

/* ---- the secret header ---- */

struct fake_req {
	const char *secret; /* x-telegram-bot-api-secret-token, or NULL */
};

static const char *fake_header(const void *req, const char *name)
{
	const struct fake_req *r = req;

	return strcmp(name, "x-telegram-bot-api-secret-token") == 0 ? r->secret : NULL;
}

static int fake_query(const void *req, const char *name, char *out, size_t outlen)
{
	(void)req;
	(void)name;
	(void)out;
	(void)outlen;
	return -1;
}

static void test_authenticate(void **state)
{
	size_t len;
	char *body = chantest_read(TG_TEST_DATA, "text.json", &len);
	json_t *cfg = json_pack("{s:s, s:s}", "bot_token", "123:abc", "secret_token", "s3cr3t-_x");
	struct fake_req fr = {NULL};
	struct channel_http in = {body, len, &fr, fake_header, fake_query};

	(void)state;
	assert_int_equal(telegram_channel_ops.authenticate(&in, cfg), CHANNEL_AUTH_MISSING);
	fr.secret = "s3cr3t-_x";
	assert_int_equal(telegram_channel_ops.authenticate(&in, cfg), CHANNEL_AUTH_OK);
	fr.secret = "s3cr3t-_y";
	assert_int_equal(telegram_channel_ops.authenticate(&in, cfg), CHANNEL_AUTH_WRONG);
	fr.secret = "s3cr3t-_";
	assert_int_equal(telegram_channel_ops.authenticate(&in, cfg), CHANNEL_AUTH_WRONG);
	fr.secret = "";
	assert_int_equal(telegram_channel_ops.authenticate(&in, cfg), CHANNEL_AUTH_WRONG);
	json_decref(cfg);
	free(body);
}

/* ---- outbound: rendering ---- */

static void test_render_text(void **state)
{
	struct channel_target t = target();
	struct channel_request *reqs;
	size_t n;
	json_t *bodies, *b;

	(void)state;
	bodies = chantest_render(&telegram_channel_ops, &t,
	                         "{\"text\":\"Karibu! Welcome to Asali Shop. *Raw* honey_2kg\"}",
	                         &reqs, &n);
	assert_int_equal(n, 1);
	assert_string_equal(reqs[0].url, BOT_URL "sendMessage");
	assert_int_equal(reqs[0].nheaders, 1);
	assert_string_equal(reqs[0].headers[0], "Content-Type: application/json");
	assert_true(reqs[0].primary);
	assert_false(reqs[0].best_effort);
	b = json_array_get(bodies, 0);
	assert_true(json_is_integer(json_object_get(b, "chat_id")));
	assert_int_equal(json_integer_value(json_object_get(b, "chat_id")), 5123456789LL);
	/* plain text, nothing escaped */
	assert_string_equal(jstr(b, "text"), "Karibu! Welcome to Asali Shop. *Raw* honey_2kg");
	assert_null(json_object_get(b, "parse_mode"));
	/* BUG: telegram.c render_messages packs the keyboard with "s:O?" (lines 690-692 and
	 * 704-705), which jansson writes as "reply_markup":null when there is no keyboard; the
	 * Bot API answers that with 400 "Bad Request: object expected as reply markup", so every
	 * message without buttons (and every part but the last of a long text, the numbered
	 * fallback, an edit without buttons) fails for good. tests/mock/telegram_mock.py accepts
	 * null, which hides it. Expected: the key left out ("s:O*"). */
	assert_null(json_object_get(b, "reply_markup"));
	channel_requests_free(reqs, n);
	json_decref(bodies);
}

static void test_render_buttons(void **state)
{
	struct channel_target t = target();
	struct channel_request *reqs;
	size_t n;
	json_t *bodies, *kb, *row;

	(void)state;
	bodies = chantest_render(&telegram_channel_ops, &t,
	                         "{\"text\":\"Pick a category:\",\"buttons\":["
	                         "{\"title\":\"Honey\",\"payload\":\"cat:3f2a\"},"
	                         "{\"title\":\"Beeswax\",\"payload\":\"cat:91c0\"},"
	                         "{\"title\":\"Cart\",\"payload\":\"cart:view\"}]}",
	                         &reqs, &n);
	assert_int_equal(n, 1);
	assert_string_equal(jstr(json_array_get(bodies, 0), "text"), "Pick a category:");
	kb = json_object_get(json_object_get(json_array_get(bodies, 0), "reply_markup"),
	                     "inline_keyboard");
	assert_true(json_is_array(kb));
	/* three short buttons side by side */
	assert_int_equal(json_array_size(kb), 1);
	row = json_array_get(kb, 0);
	assert_int_equal(json_array_size(row), 3);
	assert_string_equal(jstr(json_array_get(row, 0), "text"), "Honey");
	assert_string_equal(jstr(json_array_get(row, 0), "callback_data"), "cat:3f2a");
	assert_string_equal(jstr(json_array_get(row, 1), "text"), "Beeswax");
	assert_string_equal(jstr(json_array_get(row, 1), "callback_data"), "cat:91c0");
	assert_string_equal(jstr(json_array_get(row, 2), "callback_data"), "cart:view");
	channel_requests_free(reqs, n);
	json_decref(bodies);
}

static void test_render_list(void **state)
{
	static const char *const payloads[] = {"p:1", "p:2", "p:3"};
	static const char *const titles[] = {"Raw honey 500 g", "Honeycomb", "Beeswax candle"};
	struct channel_target t = target();
	struct channel_request *reqs;
	size_t n, i;
	json_t *bodies, *kb;

	(void)state;
	bodies = chantest_render(
	    &telegram_channel_ops, &t,
	    "{\"text\":\"Our products\",\"list\":{\"button\":\"Products\",\"sections\":["
	    "{\"title\":\"Honey\",\"rows\":["
	    "{\"title\":\"Raw honey 500 g\",\"description\":\"KES 850\",\"payload\":\"p:1\"},"
	    "{\"title\":\"Honeycomb\",\"payload\":\"p:2\"}]},"
	    "{\"title\":\"Wax\",\"rows\":[{\"title\":\"Beeswax candle\",\"payload\":\"p:3\"}]}"
	    "]}}",
	    &reqs, &n);
	assert_int_equal(n, 1);
	kb = json_object_get(json_object_get(json_array_get(bodies, 0), "reply_markup"),
	                     "inline_keyboard");
	assert_int_equal(json_array_size(kb), 3); /* one row per list row */
	for (i = 0; i < 3; i++) {
		const json_t *row = json_array_get(kb, i);

		assert_int_equal(json_array_size(row), 1);
		assert_string_equal(jstr(json_array_get(row, 0), "text"), titles[i]);
		assert_string_equal(jstr(json_array_get(row, 0), "callback_data"), payloads[i]);
	}
	channel_requests_free(reqs, n);
	json_decref(bodies);
}

static int is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* A 9000-character text goes out as three messages of at most 4096 characters, cut between
 * words and never inside a character, the keyboard on the last, nothing lost. */
static void test_render_long_text(void **state)
{
	struct channel_target t = target();
	const char *unit = "asali \xF0\x9F\x8D\xAF "; /* "asali 🍯 ": 8 characters, 11 bytes */
	char *text = calloc(1, 1125 * 11 + 1);
	const char *pos;
	struct channel_request *reqs;
	size_t n, i;
	json_t *reply, *bodies;
	char *reply_s;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < 1125; i++)
		strcat(text, unit);
	assert_int_equal(chantest_chars(text), 9000);
	reply = json_pack("{s:s, s:[{s:s, s:s}]}", "text", text, "buttons", "title", "Add to cart",
	                  "payload", "add:3f2a");
	reply_s = json_dumps(reply, JSON_COMPACT);
	bodies = chantest_render(&telegram_channel_ops, &t, reply_s, &reqs, &n);
	assert_int_equal(n, 3);
	pos = text;
	for (i = 0; i < n; i++) {
		const json_t *b = json_array_get(bodies, i);
		const char *part = jstr(b, "text");
		size_t start = 0, end;

		assert_string_equal(reqs[i].url, BOT_URL "sendMessage");
		assert_non_null(part);
		if (chantest_chars(part) > 4096)
			fail_msg("part %zu has %zu characters", i, chantest_chars(part));
		assert_true(chantest_chars(part) > 0);
		if (i + 1 < n) /* BUG: "reply_markup":null, see test_render_text */
			assert_null(json_object_get(b, "reply_markup"));
		else
			assert_string_equal(
			    jstr(json_array_get(
			             json_array_get(
			                 json_object_get(json_object_get(b, "reply_markup"),
			                                 "inline_keyboard"),
			                 0),
			             0),
			         "callback_data"),
			    "add:3f2a");
		/* the part is the next stretch of the text, up to the whitespace at a cut */
		end = strlen(part);
		while (start < end && is_space(part[start]))
			start++;
		while (end > start && is_space(part[end - 1]))
			end--;
		while (is_space(*pos))
			pos++;
		if (strncmp(pos, part + start, end - start) != 0)
			fail_msg("part %zu is not the text at offset %zu", i, (size_t)(pos - text));
		pos += end - start;
	}
	while (is_space(*pos))
		pos++;
	assert_int_equal(*pos, '\0');
	/* the first part's answer identifies the reply; so does the last, with the keyboard */
	assert_true(reqs[0].primary);
	assert_true(reqs[n - 1].primary);
	channel_requests_free(reqs, n);
	json_decref(bodies);
	free(reply_s);
	json_decref(reply);
	free(text);
}

/* An answer to a press answers the callback query first, best effort, then says its text. */
static void test_render_answers_press(void **state)
{
	struct channel_target t = target();
	struct channel_request *reqs;
	size_t n;
	json_t *bodies, *b;

	(void)state;
	t.reply_to = PRESS;
	bodies = chantest_render(&telegram_channel_ops, &t,
	                         "{\"text\":\"Added Raw honey 500 g to your cart.\"}", &reqs, &n);
	assert_int_equal(n, 2);
	assert_string_equal(reqs[0].url, BOT_URL "answerCallbackQuery");
	b = json_array_get(bodies, 0);
	assert_string_equal(jstr(b, "callback_query_id"), "4382bfdwdsb323b2d9");
	assert_true(reqs[0].best_effort);
	assert_false(reqs[0].primary);
	assert_string_equal(reqs[1].url, BOT_URL "sendMessage");
	assert_false(reqs[1].best_effort);
	assert_true(reqs[1].primary);
	assert_string_equal(jstr(json_array_get(bodies, 1), "text"),
	                    "Added Raw honey 500 g to your cart.");
	channel_requests_free(reqs, n);
	json_decref(bodies);

	/* a reply to a plain message (its platform id is the update id) answers no press */
	t.reply_to = "900000001";
	bodies = chantest_render(&telegram_channel_ops, &t, "{\"text\":\"ok\"}", &reqs, &n);
	assert_int_equal(n, 1);
	assert_string_equal(reqs[0].url, BOT_URL "sendMessage");
	channel_requests_free(reqs, n);
	json_decref(bodies);
}

/* A reply that replaces the message pressed edits it in place. */
static void test_render_replace(void **state)
{
	struct channel_target t = target();
	struct channel_request *reqs;
	size_t n;
	json_t *bodies, *b;

	(void)state;
	t.reply_to = PRESS;
	bodies = chantest_render(&telegram_channel_ops, &t, "{\"text\":\"x\",\"replace\":true}",
	                         &reqs, &n);
	assert_int_equal(n, 2);
	assert_string_equal(reqs[0].url, BOT_URL "answerCallbackQuery");
	assert_true(reqs[0].best_effort);
	assert_string_equal(reqs[1].url, BOT_URL "editMessageText");
	assert_true(reqs[1].primary);
	b = json_array_get(bodies, 1);
	assert_int_equal(json_integer_value(json_object_get(b, "message_id")), 77);
	assert_int_equal(json_integer_value(json_object_get(b, "chat_id")), 5123456789LL);
	assert_string_equal(jstr(b, "text"), "x");
	/* BUG: "reply_markup":null (telegram.c line 690-692), see test_render_text */
	assert_null(json_object_get(b, "reply_markup"));
	channel_requests_free(reqs, n);
	json_decref(bodies);

	/* with nothing pressed there is nothing to edit: a new message */
	t.reply_to = NULL;
	bodies = chantest_render(&telegram_channel_ops, &t, "{\"text\":\"x\",\"replace\":true}",
	                         &reqs, &n);
	assert_int_equal(n, 1);
	assert_string_equal(reqs[0].url, BOT_URL "sendMessage");
	channel_requests_free(reqs, n);
	json_decref(bodies);
}

/* A choice whose payload cannot be callback_data (over 64 bytes): no keyboard at all, the
 * numbered text the shopper answers with a number. */
static void test_render_numbered_fallback(void **state)
{
	const char *reply_s =
	    "{\"text\":\"Pick one:\",\"buttons\":["
	    "{\"title\":\"Honey\",\"payload\":\"cat:3f2a\"},"
	    "{\"title\":\"Beeswax\",\"payload\":"
	    "\"cat:0123456789012345678901234567890123456789012345678901234567890123\"}]}";
	struct channel_target t = target();
	struct channel_request *reqs;
	size_t n;
	json_t *bodies, *reply, *b;
	char *want;

	(void)state;
	reply = json_loads(reply_s, 0, NULL);
	assert_non_null(reply);
	want = reply_text_render(reply);
	assert_non_null(want);
	bodies = chantest_render(&telegram_channel_ops, &t, reply_s, &reqs, &n);
	assert_int_equal(n, 1);
	b = json_array_get(bodies, 0);
	/* BUG: "reply_markup":null, see test_render_text */
	assert_null(json_object_get(b, "reply_markup"));
	assert_string_equal(jstr(b, "text"), want);
	assert_non_null(strstr(jstr(b, "text"), "1. Honey"));
	assert_non_null(strstr(jstr(b, "text"), "2. Beeswax"));
	free(want);
	channel_requests_free(reqs, n);
	json_decref(bodies);
	json_decref(reply);
}

static void test_render_channel_recipient(void **state)
{
	struct channel_target t = target();
	struct channel_request *reqs;
	size_t n;
	json_t *bodies, *b;

	(void)state;
	t.recipient = "@shop_channel";
	bodies =
	    chantest_render(&telegram_channel_ops, &t, "{\"text\":\"New order #1042\"}", &reqs, &n);
	assert_int_equal(n, 1);
	b = json_array_get(bodies, 0);
	assert_true(json_is_string(json_object_get(b, "chat_id")));
	assert_string_equal(jstr(b, "chat_id"), "@shop_channel");
	channel_requests_free(reqs, n);
	json_decref(bodies);

	/* a group's negative id is a number */
	t.recipient = "-1001987654321";
	bodies =
	    chantest_render(&telegram_channel_ops, &t, "{\"text\":\"New order #1042\"}", &reqs, &n);
	b = json_array_get(bodies, 0);
	assert_true(json_is_integer(json_object_get(b, "chat_id")));
	assert_int_equal(json_integer_value(json_object_get(b, "chat_id")), -1001987654321LL);
	channel_requests_free(reqs, n);
	json_decref(bodies);
}

/* Telegram refuses an empty text: buttons alone come with a prompt. */
static void test_render_buttons_without_text(void **state)
{
	static const char *const replies[] = {
	    "{\"text\":\"\",\"buttons\":[{\"title\":\"Yes\",\"payload\":\"y\"}]}",
	    "{\"buttons\":[{\"title\":\"Yes\",\"payload\":\"y\"}]}",
	};
	struct channel_target t = target();
	struct channel_request *reqs;
	size_t n, i;
	json_t *bodies, *b;

	(void)state;
	for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		bodies = chantest_render(&telegram_channel_ops, &t, replies[i], &reqs, &n);
		assert_int_equal(n, 1);
		b = json_array_get(bodies, 0);
		assert_string_equal(jstr(b, "text"), "Please choose:");
		assert_non_null(
		    json_object_get(json_object_get(b, "reply_markup"), "inline_keyboard"));
		channel_requests_free(reqs, n);
		json_decref(bodies);
	}
}

static void test_render_errors(void **state)
{
	static const char *const tokens[] = {"123/abc", "123:a/../b", "123:abc?x=1"};
	struct channel_target t = target();
	struct channel_request *reqs;
	json_t *reply = json_pack("{s:s}", "text", "hi"), *cfg;
	char err[256];
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		cfg = json_pack("{s:s}", "bot_token", tokens[i]);
		t.config = cfg;
		err[0] = '\0';
		reqs = NULL;
		n = 0;
		assert_true(telegram_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)) <
		            0);
		assert_true(err[0] != '\0');
		assert_null(reqs);
		assert_int_equal(n, 0);
		json_decref(cfg);
	}
	/* no token at all, and no chat */
	cfg = json_object();
	t.config = cfg;
	err[0] = '\0';
	assert_true(telegram_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)) < 0);
	assert_true(err[0] != '\0');
	json_decref(cfg);
	t = target();
	t.recipient = "";
	err[0] = '\0';
	assert_true(telegram_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)) < 0);
	assert_true(err[0] != '\0');
	json_decref(reply);
}

/* ---- outbound: classifying the Bot API's answers ---- */

static void classify(long status, const char *body, struct channel_outcome *out)
{
	telegram_channel_ops.classify(status, body, body ? strlen(body) : 0, out);
}

static void test_classify(void **state)
{
	struct channel_outcome out;

	(void)state;
	classify(200, "{\"ok\":true,\"result\":{\"message_id\":42,\"chat\":{\"id\":5123456789}}}",
	         &out);
	assert_int_equal(out.verdict, CHANNEL_SENT);
	assert_string_equal(out.platform_message_id, "42");

	classify(
	    429,
	    "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after "
	    "7\",\"parameters\":{\"retry_after\":7}}",
	    &out);
	assert_int_equal(out.verdict, CHANNEL_RATE_LIMITED);
	assert_int_equal(out.retry_after, 7);
	assert_int_equal(out.error_code, 429);
	assert_non_null(strstr(out.error, "Too Many Requests"));

	classify(403,
	         "{\"ok\":false,\"error_code\":403,\"description\":\"Forbidden: bot was blocked by "
	         "the user\"}",
	         &out);
	assert_int_equal(out.verdict, CHANNEL_PERMANENT);
	assert_int_equal(out.recipient_blocked, 1);
	assert_int_equal(out.error_code, 403);
	assert_string_equal(out.error, "Forbidden: bot was blocked by the user");
	assert_string_equal(out.platform_message_id, "");

	/* a 403 about a channel the bot is not in is the seller's set-up, not a blocked shopper */
	classify(
	    403,
	    "{\"ok\":false,\"error_code\":403,\"description\":\"Forbidden: bot is not a member "
	    "of the channel chat\"}",
	    &out);
	assert_int_equal(out.verdict, CHANNEL_PERMANENT);
	assert_int_equal(out.recipient_blocked, 0);

	classify(401, "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized\"}", &out);
	assert_int_equal(out.verdict, CHANNEL_AUTH_INVALID);
	assert_int_equal(out.error_code, 401);

	classify(
	    400,
	    "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}",
	    &out);
	assert_int_equal(out.verdict, CHANNEL_PERMANENT);
	assert_int_equal(out.recipient_blocked, 0);
	assert_int_equal(out.error_code, 400);
	assert_string_equal(out.error, "Bad Request: chat not found");

	classify(502, "<html>Bad Gateway</html>", &out);
	assert_int_equal(out.verdict, CHANNEL_RETRY);
	assert_true(out.error[0] != '\0');

	/* no answer at all (timeout, connection refused) */
	classify(0, NULL, &out);
	assert_int_equal(out.verdict, CHANNEL_RETRY);
	assert_int_equal(out.error_code, 0);
	assert_true(out.error[0] != '\0');

	/* a 200 that is not ok is not a success */
	classify(200, "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request\"}", &out);
	assert_true(out.verdict != CHANNEL_SENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_every_fixture),
	    cmocka_unit_test(test_parse_text),
	    cmocka_unit_test(test_parse_start_command),
	    cmocka_unit_test(test_parse_places),
	    cmocka_unit_test(test_parse_contact),
	    cmocka_unit_test(test_parse_callback),
	    cmocka_unit_test(test_parse_callback_unknown_payload),
	    cmocka_unit_test(test_parse_chat_events),
	    cmocka_unit_test(test_parse_media),
	    cmocka_unit_test(test_parse_ignored),
	    cmocka_unit_test(test_parse_refused),
	    cmocka_unit_test(test_poll_parse),
	    cmocka_unit_test(test_poll_skips_unusable_update),
	    cmocka_unit_test(test_poll_request),
	    cmocka_unit_test(test_webhook_request),
	    cmocka_unit_test(test_authenticate),
	    cmocka_unit_test(test_render_text),
	    cmocka_unit_test(test_render_buttons),
	    cmocka_unit_test(test_render_list),
	    cmocka_unit_test(test_render_long_text),
	    cmocka_unit_test(test_render_answers_press),
	    cmocka_unit_test(test_render_replace),
	    cmocka_unit_test(test_render_numbered_fallback),
	    cmocka_unit_test(test_render_channel_recipient),
	    cmocka_unit_test(test_render_buttons_without_text),
	    cmocka_unit_test(test_render_errors),
	    cmocka_unit_test(test_classify),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
