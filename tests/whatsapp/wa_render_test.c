/*
 * wa_render_test.c: unit tests of the WhatsApp renderer and classifier: text split at 4096
 * characters, reply buttons and lists within Meta's limits, the numbered-text fallback for 4
 * buttons or 11 rows, shortened titles, the 24-hour window (template or undeliverable),
 * mark-as-read, and the verdict for each Graph API error code.
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

#include "chantest.h"
#include "whatsapp.h"

#define PNID    "106540352242922"
#define SHOPPER "254712345678"

static json_t *test_config;

static int setup(void **state)
{
	(void)state;
	test_config = json_pack("{s:s, s:s, s:s}", "phone_number_id", PNID, "access_token",
	                        "EAAG-test-token", "app_secret", "s3cret");
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
	    .channel_id = "6f1c2f4e-8d9a-4c1b-9a57-2b3c4d5e6f70",
	    .api_base = "http://127.0.0.1:9/",
	    .api_version = "v21.0",
	    .config = test_config,
	    .recipient = SHOPPER,
	    .reply_to = NULL,
	    .window_age = 60,
	};
	return t;
}

static const char *jstr(const json_t *root, const char *path)
{
	/* a tiny dotted-path getter: "interactive.body.text" */
	char buf[128], *tok, *save = NULL;
	const json_t *v = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save))
		v = json_object_get(v, tok);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_text_request(void **state)
{
	struct channel_target t = target();
	struct channel_request *reqs;
	size_t n;
	json_t *bodies;
	json_t *b;

	(void)state;
	bodies = chantest_render(&whatsapp_channel_ops, &t,
	                         "{\"text\": \"Karibu! Welcome to the shop.\"}", &reqs, &n);
	assert_int_equal(n, 1);
	assert_string_equal(reqs[0].url, "http://127.0.0.1:9/v21.0/" PNID "/messages");
	assert_int_equal(reqs[0].nheaders, 2);
	assert_string_equal(reqs[0].headers[0], "Authorization: Bearer EAAG-test-token");
	assert_string_equal(reqs[0].headers[1], "Content-Type: application/json");
	assert_true(reqs[0].primary);
	assert_false(reqs[0].best_effort);
	b = json_array_get(bodies, 0);
	assert_string_equal(jstr(b, "messaging_product"), "whatsapp");
	assert_string_equal(jstr(b, "to"), SHOPPER);
	assert_string_equal(jstr(b, "type"), "text");
	assert_string_equal(jstr(b, "text.body"), "Karibu! Welcome to the shop.");
	channel_requests_free(reqs, n);
	json_decref(bodies);
}

/* A 5000-character text goes out as two messages of at most 4096 characters, nothing lost. */
static void test_text_split(void **state)
{
	struct channel_target t = target();
	char *text = calloc(1, 20000), *reply, *joined;
	json_t *bodies, *rj;
	size_t i, len = 0;

	(void)state;
	/* words with a multi-byte letter so the split is checked in characters, not bytes */
	while (chantest_chars(text) < 5000 || len == 0) {
		memcpy(text + len, "habari\xC3\xA9 ", 9);
		len += 9;
		text[len] = '\0';
	}
	rj = json_pack("{s:s}", "text", text);
	reply = json_dumps(rj, 0);
	bodies = chantest_render(&whatsapp_channel_ops, &t, reply, NULL, NULL);
	assert_int_equal(json_array_size(bodies), 2);
	joined = calloc(1, len + 1);
	for (i = 0; i < 2; i++) {
		const char *piece = jstr(json_array_get(bodies, i), "text.body");

		assert_non_null(piece);
		assert_true(chantest_chars(piece) <= WA_TEXT_MAX);
		assert_true(chantest_chars(piece) > 0);
		strcat(joined, piece);
	}
	assert_string_equal(joined, text);
	/* the cut is at a word boundary */
	assert_int_equal(jstr(json_array_get(bodies, 0), "text.body")[0], 'h');
	assert_int_equal(jstr(json_array_get(bodies, 1), "text.body")[0], 'h');
	free(joined);
	free(reply);
	json_decref(rj);
	free(text);
	json_decref(bodies);
}

static void test_three_buttons(void **state)
{
	struct channel_target t = target();
	json_t *bodies, *b, *btns;

	(void)state;
	bodies = chantest_render(&whatsapp_channel_ops, &t,
	                         "{\"text\": \"Your cart: 2 items\", \"buttons\": ["
	                         "{\"title\": \"Checkout\", \"payload\": \"checkout\"},"
	                         "{\"title\": \"Keep shopping\", \"payload\": \"browse\"},"
	                         "{\"title\": \"Clear cart\", \"payload\": \"cart:clear\"}]}",
	                         NULL, NULL);
	assert_int_equal(json_array_size(bodies), 1);
	b = json_array_get(bodies, 0);
	assert_string_equal(jstr(b, "type"), "interactive");
	assert_string_equal(jstr(b, "interactive.type"), "button");
	assert_string_equal(jstr(b, "interactive.body.text"), "Your cart: 2 items");
	btns = json_object_get(json_object_get(json_object_get(b, "interactive"), "action"),
	                       "buttons");
	assert_int_equal(json_array_size(btns), 3);
	assert_string_equal(jstr(json_array_get(btns, 0), "type"), "reply");
	assert_string_equal(jstr(json_array_get(btns, 0), "reply.id"), "checkout");
	assert_string_equal(jstr(json_array_get(btns, 2), "reply.title"), "Clear cart");
	json_decref(bodies);
}

/* Four buttons do not fit: one numbered text the shopper answers with a number. */
static void test_four_buttons_numbered(void **state)
{
	struct channel_target t = target();
	json_t *bodies;
	const char *body;

	(void)state;
	bodies = chantest_render(&whatsapp_channel_ops, &t,
	                         "{\"text\": \"How would you like to pay?\", \"buttons\": ["
	                         "{\"title\": \"Cash on delivery\", \"payload\": \"pay:cod\"},"
	                         "{\"title\": \"M-Pesa\", \"payload\": \"pay:mpesa\"},"
	                         "{\"title\": \"Card\", \"payload\": \"pay:card\"},"
	                         "{\"title\": \"Bank transfer\", \"payload\": \"pay:bank\"}]}",
	                         NULL, NULL);
	assert_int_equal(json_array_size(bodies), 1);
	assert_string_equal(jstr(json_array_get(bodies, 0), "type"), "text");
	body = jstr(json_array_get(bodies, 0), "text.body");
	assert_non_null(strstr(body, "How would you like to pay?"));
	assert_non_null(strstr(body, "\n1. Cash on delivery"));
	assert_non_null(strstr(body, "\n2. M-Pesa"));
	assert_non_null(strstr(body, "\n3. Card"));
	assert_non_null(strstr(body, "\n4. Bank transfer"));
	assert_non_null(strstr(body, "number"));
	assert_null(strstr(body, "pay:")); /* payloads are never shown */
	json_decref(bodies);
}

static char *list_reply(size_t nrows, size_t nsections, const char *lang)
{
	json_t *sections = json_array(), *reply;
	char *out;
	size_t i;

	for (i = 0; i < nsections; i++)
		json_array_append_new(
		    sections, json_pack("{s:s, s:[]}", "title", i ? "Audio" : "Phones", "rows"));
	for (i = 0; i < nrows; i++) {
		char title[32], payload[32];

		snprintf(title, sizeof(title), "Product %zu", i + 1);
		snprintf(payload, sizeof(payload), "prod:%zu", i + 1);
		json_array_append_new(
		    json_object_get(json_array_get(sections, i % nsections), "rows"),
		    json_pack("{s:s, s:s, s:s}", "title", title, "description", "KES 100",
		              "payload", payload));
	}
	reply = json_pack("{s:s, s:{s:s, s:o}}", "text", "Here is what we have:", "list", "button",
	                  "See products", "sections", sections);
	if (lang)
		json_object_set_new(reply, "lang", json_string(lang));
	out = json_dumps(reply, 0);
	json_decref(reply);
	return out;
}

static void test_ten_rows_list(void **state)
{
	struct channel_target t = target();
	char *reply = list_reply(10, 2, NULL);
	json_t *bodies, *b, *sections;
	size_t i, rows = 0;

	(void)state;
	bodies = chantest_render(&whatsapp_channel_ops, &t, reply, NULL, NULL);
	assert_int_equal(json_array_size(bodies), 1);
	b = json_array_get(bodies, 0);
	assert_string_equal(jstr(b, "interactive.type"), "list");
	assert_string_equal(jstr(b, "interactive.action.button"), "See products");
	assert_string_equal(jstr(b, "interactive.body.text"), "Here is what we have:");
	sections = json_object_get(json_object_get(json_object_get(b, "interactive"), "action"),
	                           "sections");
	assert_int_equal(json_array_size(sections), 2);
	for (i = 0; i < 2; i++) {
		assert_non_null(jstr(json_array_get(sections, i), "title"));
		rows += json_array_size(json_object_get(json_array_get(sections, i), "rows"));
	}
	assert_int_equal(rows, 10);
	assert_string_equal(
	    jstr(json_array_get(json_object_get(json_array_get(sections, 0), "rows"), 0), "id"),
	    "prod:1");
	free(reply);
	json_decref(bodies);
}

/* Eleven rows do not fit a list: numbered text, rows in order. */
static void test_eleven_rows_numbered(void **state)
{
	struct channel_target t = target();
	char *reply = list_reply(11, 1, NULL);
	json_t *bodies;
	const char *body;

	(void)state;
	bodies = chantest_render(&whatsapp_channel_ops, &t, reply, NULL, NULL);
	assert_int_equal(json_array_size(bodies), 1);
	assert_string_equal(jstr(json_array_get(bodies, 0), "type"), "text");
	body = jstr(json_array_get(bodies, 0), "text.body");
	assert_non_null(strstr(body, "\n1. Product 1 - KES 100"));
	assert_non_null(strstr(body, "\n11. Product 11"));
	assert_true(strstr(body, "\n2. Product 2") < strstr(body, "\n10. Product 10"));
	free(reply);
	json_decref(bodies);
	/* in Swahili the hint is Swahili */
	reply = list_reply(11, 1, "sw");
	bodies = chantest_render(&whatsapp_channel_ops, &t, reply, NULL, NULL);
	assert_non_null(strstr(jstr(json_array_get(bodies, 0), "text.body"), "Jibu kwa nambari"));
	free(reply);
	json_decref(bodies);
}

/* The numbered order is buttons, then list rows: the order the engine offered them. */
static void test_numbered_order(void **state)
{
	struct channel_target t = target();
	char *reply = list_reply(11, 1, NULL);
	json_t *rj = json_loads(reply, 0, NULL), *bodies;
	const char *body;
	char *r2;

	(void)state;
	json_object_set_new(rj, "buttons",
	                    json_pack("[{s:s, s:s}]", "title", "View cart", "payload", "cart"));
	r2 = json_dumps(rj, 0);
	bodies = chantest_render(&whatsapp_channel_ops, &t, r2, NULL, NULL);
	body = jstr(json_array_get(bodies, 0), "text.body");
	assert_non_null(strstr(body, "\n1. View cart"));
	assert_non_null(strstr(body, "\n2. Product 1"));
	assert_non_null(strstr(body, "\n12. Product 11"));
	free(reply);
	free(r2);
	json_decref(rj);
	json_decref(bodies);
}

/* A 25-character title is shortened with an ellipsis, never sent too long. */
static void test_long_titles_shortened(void **state)
{
	struct channel_target t = target();
	json_t *bodies, *btns, *rows;
	const char *title;

	(void)state;
	bodies =
	    chantest_render(&whatsapp_channel_ops, &t,
	                    "{\"text\": \"Add to cart?\", \"buttons\": ["
	                    "{\"title\": \"Samsung Galaxy A15 128GB!\", \"payload\": \"add:1\"},"
	                    "{\"title\": \"Samsung Galaxy A15 128GB?\", \"payload\": \"add:2\"}]}",
	                    NULL, NULL);
	btns = json_object_get(
	    json_object_get(json_object_get(json_array_get(bodies, 0), "interactive"), "action"),
	    "buttons");
	assert_int_equal(json_array_size(btns), 2);
	title = jstr(json_array_get(btns, 0), "reply.title");
	assert_int_equal(chantest_chars("Samsung Galaxy A15 128GB!"), 25);
	assert_true(chantest_chars(title) <= WA_BUTTON_TITLE_MAX);
	assert_non_null(strstr(title, "\xE2\x80\xA6"));
	assert_true(strncmp(title, "Samsung Galaxy", 14) == 0);
	/* two titles that shorten alike are still unique, as Meta requires */
	assert_string_not_equal(title, jstr(json_array_get(btns, 1), "reply.title"));
	assert_true(chantest_chars(jstr(json_array_get(btns, 1), "reply.title")) <=
	            WA_BUTTON_TITLE_MAX);
	json_decref(bodies);

	bodies = chantest_render(
	    &whatsapp_channel_ops, &t,
	    "{\"text\": \"Phones\", \"list\": {\"button\": \"A very long button label "
	    "here\", \"sections\": [{\"title\": \"A section title that is too long\", "
	    "\"rows\": [{\"title\": \"Tecno Spark 20 Pro+ 256GB Gold\", \"payload\": "
	    "\"p:1\"}]}]}}",
	    NULL, NULL);
	rows = json_object_get(
	    json_array_get(
	        json_object_get(
	            json_object_get(json_object_get(json_array_get(bodies, 0), "interactive"),
	                            "action"),
	            "sections"),
	        0),
	    "rows");
	title = jstr(json_array_get(rows, 0), "title");
	assert_true(chantest_chars(title) <= WA_ROW_TITLE_MAX);
	assert_non_null(strstr(title, "\xE2\x80\xA6"));
	/* the whole name is kept in the description under the cut title */
	assert_string_equal(jstr(json_array_get(rows, 0), "description"),
	                    "Tecno Spark 20 Pro+ 256GB Gold");
	assert_true(chantest_chars(jstr(json_array_get(bodies, 0), "interactive.action.button")) <=
	            WA_LIST_BUTTON_MAX);
	json_decref(bodies);
}

static void test_shorten_utf8(void **state)
{
	char *s;

	(void)state;
	s = wa_text_shorten("  short\ntitle ", 20);
	assert_string_equal(s, "short title");
	free(s);
	/* 25 two-byte characters: cut in characters, not bytes */
	s = wa_text_shorten(
	    "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
	    "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
	    "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9",
	    20);
	assert_int_equal(chantest_chars(s), 20);
	assert_int_equal(strlen(s), 19 * 2 + 3);
	free(s);
	/* never between an emoji and its skin tone */
	s = wa_text_shorten("abcdefghijklmnopqr\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD tail", 20);
	assert_string_equal(s, "abcdefghijklmnopqr\xE2\x80\xA6");
	free(s);
}

static void test_card_image(void **state)
{
	struct channel_target t = target();
	json_t *bodies, *b;

	(void)state;
	bodies = chantest_render(
	    &whatsapp_channel_ops, &t,
	    "{\"text\": \"\", \"card\": {\"title\": \"Black T-shirt\", \"subtitle\": "
	    "\"Cotton, size M\", \"image_url\": \"https://cdn.example.com/t.jpg\", "
	    "\"price_minor\": 125000, \"currency\": \"KES\"}}",
	    NULL, NULL);
	assert_int_equal(json_array_size(bodies), 1);
	b = json_array_get(bodies, 0);
	assert_string_equal(jstr(b, "type"), "image");
	assert_string_equal(jstr(b, "image.link"), "https://cdn.example.com/t.jpg");
	assert_string_equal(jstr(b, "image.caption"), "*Black T-shirt*\nCotton, size M\nKES 1,250");
	json_decref(bodies);
	/* without an image the card is text */
	bodies = chantest_render(
	    &whatsapp_channel_ops, &t,
	    "{\"text\": \"Found it:\", \"card\": {\"title\": \"Mug\", \"price_minor\": 45000, "
	    "\"currency\": \"KES\"}}",
	    NULL, NULL);
	assert_string_equal(jstr(json_array_get(bodies, 0), "text.body"),
	                    "Found it:\n\n*Mug*\nKES 450");
	json_decref(bodies);
}

/* Rows and buttons that fit together make one list, the buttons in a last section. */
static void test_list_with_buttons(void **state)
{
	struct channel_target t = target();
	char *reply = list_reply(4, 1, NULL);
	json_t *rj = json_loads(reply, 0, NULL), *bodies, *sections;
	char *r2;

	(void)state;
	json_object_set_new(rj, "buttons",
	                    json_pack("[{s:s, s:s}]", "title", "View cart", "payload", "cart"));
	r2 = json_dumps(rj, 0);
	bodies = chantest_render(&whatsapp_channel_ops, &t, r2, NULL, NULL);
	assert_int_equal(json_array_size(bodies), 1);
	sections = json_object_get(
	    json_object_get(json_object_get(json_array_get(bodies, 0), "interactive"), "action"),
	    "sections");
	assert_int_equal(json_array_size(sections), 2);
	assert_string_equal(
	    jstr(json_array_get(json_object_get(json_array_get(sections, 1), "rows"), 0), "id"),
	    "cart");
	assert_non_null(jstr(json_array_get(sections, 1), "title"));
	free(reply);
	free(r2);
	json_decref(rj);
	json_decref(bodies);
}

static void test_window(void **state)
{
	struct channel_target t = target();
	json_t *reply = json_pack("{s:s}", "text", "Your order #1042 has shipped.");
	json_t *cfg;
	struct channel_request *reqs = NULL;
	size_t n = 0;
	char err[256];
	json_t *b;

	(void)state;
	/* 25 hours after the shopper's last message: free-form is not sent */
	t.window_age = 25 * 3600;
	assert_int_equal(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)),
	                 CHANNEL_ERR_UNDELIVERABLE);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "24-hour"));
	/* a status update without a template: undeliverable too */
	t.event_type = "order.status_changed";
	assert_int_equal(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)),
	                 CHANNEL_ERR_UNDELIVERABLE);
	/* with the channel's template it goes as the template */
	cfg = json_deep_copy(test_config);
	json_object_set_new(cfg, "status_template",
	                    json_pack("{s:s, s:s}", "name", "order_update", "language", "en"));
	t.config = cfg;
	assert_int_equal(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	b = json_loads(reqs[0].body, 0, NULL);
	assert_string_equal(jstr(b, "type"), "template");
	assert_string_equal(jstr(b, "template.name"), "order_update");
	assert_string_equal(jstr(b, "template.language.code"), "en");
	assert_non_null(strstr(reqs[0].body, "Your order #1042 has shipped."));
	json_decref(b);
	channel_requests_free(reqs, n);
	/* inside the window (and when unknown) free-form goes out */
	t.window_age = 23 * 3600;
	assert_int_equal(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)), 0);
	b = json_loads(reqs[0].body, 0, NULL);
	assert_string_equal(jstr(b, "type"), "text");
	json_decref(b);
	channel_requests_free(reqs, n);
	t.window_age = -1;
	assert_int_equal(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)), 0);
	channel_requests_free(reqs, n);
	json_decref(cfg);
	json_decref(reply);
}

/* A seller notification (new order, complaint, ...) outside the window never goes out as the
 * shopper's order-update template: only as the channel's own notify_template, else it is
 * undeliverable. */
static void test_window_seller_notification(void **state)
{
	static const char *const events[] = {"order.placed", "order.cancelled", "complaint.filed",
	                                     "handoff.requested"};
	struct channel_target t = target();
	json_t *reply =
	    json_pack("{s:s, s:[{s:s, s:s}]}", "text", "New order #1042\nTotal: KES 900", "buttons",
	              "title", "Confirm", "payload", "ord:confirm:x");
	json_t *cfg = json_deep_copy(test_config), *b;
	struct channel_request *reqs = NULL;
	size_t n = 0, i;
	char err[256];

	(void)state;
	json_object_set_new(cfg, "status_template",
	                    json_pack("{s:s, s:s}", "name", "order_update", "language", "en"));
	t.config = cfg;
	t.window_age = 25 * 3600;
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		t.event_type = events[i];
		n = 0;
		assert_int_equal(
		    whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)),
		    CHANNEL_ERR_UNDELIVERABLE);
		assert_int_equal(n, 0);
		assert_non_null(strstr(err, "notify_template"));
	}
	/* the seller's own template, with the summary as {{1}} (buttons dropped) */
	json_object_set_new(cfg, "notify_template",
	                    json_pack("{s:s, s:s}", "name", "new_order_alert", "language", "sw"));
	t.event_type = "order.placed";
	assert_int_equal(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	b = json_loads(reqs[0].body, 0, NULL);
	assert_string_equal(jstr(b, "type"), "template");
	assert_string_equal(jstr(b, "template.name"), "new_order_alert");
	assert_string_equal(jstr(b, "template.language.code"), "sw");
	assert_non_null(strstr(reqs[0].body, "New order #1042"));
	assert_null(strstr(reqs[0].body, "ord:confirm"));
	json_decref(b);
	channel_requests_free(reqs, n);
	/* and a shopper's status update still uses the status template, not the seller's */
	t.event_type = "order.status_changed";
	assert_int_equal(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)), 0);
	b = json_loads(reqs[0].body, 0, NULL);
	assert_string_equal(jstr(b, "template.name"), "order_update");
	json_decref(b);
	channel_requests_free(reqs, n);
	/* inside the window a notification is the normal interactive message */
	t.event_type = "order.placed";
	t.window_age = 3600;
	assert_int_equal(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)), 0);
	b = json_loads(reqs[0].body, 0, NULL);
	assert_string_equal(jstr(b, "type"), "interactive");
	json_decref(b);
	channel_requests_free(reqs, n);
	/* a seller number that never wrote (no window known) gets the template too, so Meta
	 * does not refuse a free-form message with 131047 */
	t.window_age = -1;
	assert_int_equal(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)), 0);
	b = json_loads(reqs[0].body, 0, NULL);
	assert_string_equal(jstr(b, "type"), "template");
	assert_string_equal(jstr(b, "template.name"), "new_order_alert");
	json_decref(b);
	channel_requests_free(reqs, n);
	/* ... but without a notification template it is still tried as a normal message */
	json_object_del(cfg, "notify_template");
	assert_int_equal(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)), 0);
	b = json_loads(reqs[0].body, 0, NULL);
	assert_string_equal(jstr(b, "type"), "interactive");
	json_decref(b);
	channel_requests_free(reqs, n);
	json_decref(cfg);
	json_decref(reply);
}

static void test_mark_read(void **state)
{
	struct channel_target t = target();
	struct channel_request *reqs;
	size_t n;
	json_t *bodies;

	(void)state;
	t.reply_to = "wamid.INBOUND";
	bodies = chantest_render(&whatsapp_channel_ops, &t, "{\"text\": \"ok\"}", &reqs, &n);
	assert_int_equal(n, 1); /* off unless asked for */
	channel_requests_free(reqs, n);
	json_decref(bodies);
	t.mark_read = 1;
	bodies = chantest_render(&whatsapp_channel_ops, &t, "{\"text\": \"ok\"}", &reqs, &n);
	assert_int_equal(n, 2);
	assert_true(reqs[0].primary);
	assert_false(reqs[1].primary);
	assert_true(reqs[1].best_effort);
	assert_string_equal(jstr(json_array_get(bodies, 1), "status"), "read");
	assert_string_equal(jstr(json_array_get(bodies, 1), "message_id"), "wamid.INBOUND");
	channel_requests_free(reqs, n);
	json_decref(bodies);
}

static void test_render_errors(void **state)
{
	struct channel_target t = target();
	json_t *reply = json_pack("{s:s}", "text", "hi"), *empty = json_pack("{s:s}", "text", "");
	json_t *cfg = json_pack("{s:s}", "phone_number_id", PNID);
	json_t *bad = json_pack("{s:s, s:s}", "phone_number_id", "../../x", "access_token", "t");
	struct channel_request *reqs = NULL;
	size_t n = 0;
	char err[256];

	(void)state;
	assert_true(whatsapp_channel_ops.render(&t, empty, &reqs, &n, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "nothing to send"));
	t.config = cfg;
	assert_true(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "access_token"));
	t.config = bad;
	assert_true(whatsapp_channel_ops.render(&t, reply, &reqs, &n, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "phone_number_id"));
	assert_null(reqs);
	json_decref(reply);
	json_decref(empty);
	json_decref(cfg);
	json_decref(bad);
}

static void test_classify(void **state)
{
	static const struct {
		long http;
		const char *body;
		enum channel_verdict verdict;
		int recipient_scoped;
		long code;
	} cases[] = {
	    {200,
	     "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"254712345678\","
	     "\"wa_id\":\"254712345678\"}],\"messages\":[{\"id\":\"wamid.OUT1\"}]}",
	     CHANNEL_SENT, 0, 0},
	    {200, "{\"success\":true}", CHANNEL_SENT, 0, 0},
	    /* the same rate-limit code with 400 or 429: the code decides */
	    {400,
	     "{\"error\":{\"message\":\"(#130429) Rate limit hit\",\"type\":\"OAuthException\","
	     "\"code\":130429,\"fbtrace_id\":\"A1\"}}",
	     CHANNEL_RATE_LIMITED, 0, 130429},
	    {429, "{\"error\":{\"message\":\"(#130429) Rate limit hit\",\"code\":130429}}",
	     CHANNEL_RATE_LIMITED, 0, 130429},
	    {400,
	     "{\"error\":{\"message\":\"(#131056) (Business Account, Consumer Account) pair "
	     "rate limit hit\",\"type\":\"OAuthException\",\"code\":131056}}",
	     CHANNEL_RATE_LIMITED, 1, 131056},
	    {400,
	     "{\"error\":{\"message\":\"(#4) Application request limit reached\",\"type\":"
	     "\"OAuthException\",\"code\":4}}",
	     CHANNEL_RATE_LIMITED, 0, 4},
	    {400, "{\"error\":{\"message\":\"(#80007) Rate limit issues\",\"code\":80007}}",
	     CHANNEL_RATE_LIMITED, 0, 80007},
	    {400,
	     "{\"error\":{\"message\":\"(#131047) Re-engagement message\",\"type\":"
	     "\"OAuthException\",\"code\":131047,\"error_data\":{\"messaging_product\":"
	     "\"whatsapp\",\"details\":\"Message failed to send because more than 24 hours "
	     "have passed since the customer last replied to this number.\"}}}",
	     CHANNEL_PERMANENT, 0, 131047},
	    {401,
	     "{\"error\":{\"message\":\"Error validating access token: Session has expired\","
	     "\"type\":\"OAuthException\",\"code\":190,\"error_subcode\":463}}",
	     CHANNEL_AUTH_INVALID, 0, 190},
	    /* 190 even when it comes with 400 */
	    {400, "{\"error\":{\"message\":\"Invalid OAuth access token\",\"code\":190}}",
	     CHANNEL_AUTH_INVALID, 0, 190},
	    {400,
	     "{\"error\":{\"message\":\"(#131026) Message undeliverable\",\"type\":"
	     "\"OAuthException\",\"code\":131026}}",
	     CHANNEL_PERMANENT, 0, 131026},
	    {400,
	     "{\"error\":{\"message\":\"(#100) Invalid parameter\",\"type\":"
	     "\"OAuthException\",\"code\":100}}",
	     CHANNEL_PERMANENT, 0, 100},
	    {500, "{\"error\":{\"message\":\"(#131000) Something went wrong\",\"code\":131000}}",
	     CHANNEL_RETRY, 0, 131000},
	    {503, "<html>Service Unavailable</html>", CHANNEL_RETRY, 0, 0},
	    {502, NULL, CHANNEL_RETRY, 0, 0},
	    {0, NULL, CHANNEL_RETRY, 0, 0},
	    {404, "not json", CHANNEL_PERMANENT, 0, 0},
	    {401, NULL, CHANNEL_AUTH_INVALID, 0, 0},
	    {429, NULL, CHANNEL_RATE_LIMITED, 0, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct channel_outcome out;

		memset(&out, 0x55, sizeof(out));
		whatsapp_channel_ops.classify(cases[i].http, cases[i].body,
		                              cases[i].body ? strlen(cases[i].body) : 0, &out);
		if (out.verdict != cases[i].verdict)
			fail_msg("case %zu (HTTP %ld): verdict %d, expected %d", i, cases[i].http,
			         out.verdict, cases[i].verdict);
		assert_int_equal(out.recipient_scoped, cases[i].recipient_scoped);
		assert_int_equal(out.error_code, cases[i].code);
		if (cases[i].verdict == CHANNEL_SENT)
			assert_string_equal(out.error, "");
		else
			assert_true(out.error[0] != '\0');
	}
}

static void test_classify_details(void **state)
{
	struct channel_outcome out;
	const char *ok = "{\"messages\":[{\"id\":\"wamid.HBgMMjU0NzEyMzQ1Njc4FQIAERgSQUFBQUFB\"}]}";
	const char *rl = "{\"error\":{\"code\":131056,\"message\":\"pair rate limit hit\"}}";
	const char *w = "{\"error\":{\"code\":131047,\"message\":\"(#131047) Re-engagement "
	                "message\",\"error_data\":{\"details\":\"more than 24 hours\"}}}";

	(void)state;
	whatsapp_channel_ops.classify(200, ok, strlen(ok), &out);
	assert_string_equal(out.platform_message_id, "wamid.HBgMMjU0NzEyMzQ1Njc4FQIAERgSQUFBQUFB");
	whatsapp_channel_ops.classify(400, rl, strlen(rl), &out);
	assert_true(out.retry_after > 0);
	whatsapp_channel_ops.classify(400, w, strlen(w), &out);
	assert_non_null(strstr(out.error, "Re-engagement"));
	assert_non_null(strstr(out.error, "24 hours"));
	assert_string_equal(out.platform_message_id, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_request),      cmocka_unit_test(test_text_split),
	    cmocka_unit_test(test_three_buttons),     cmocka_unit_test(test_four_buttons_numbered),
	    cmocka_unit_test(test_ten_rows_list),     cmocka_unit_test(test_eleven_rows_numbered),
	    cmocka_unit_test(test_numbered_order),    cmocka_unit_test(test_long_titles_shortened),
	    cmocka_unit_test(test_shorten_utf8),      cmocka_unit_test(test_card_image),
	    cmocka_unit_test(test_list_with_buttons), cmocka_unit_test(test_window),
	    cmocka_unit_test(test_mark_read),         cmocka_unit_test(test_render_errors),
	    cmocka_unit_test(test_classify),          cmocka_unit_test(test_classify_details),
	    cmocka_unit_test(test_window_seller_notification),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
