/*
 * wa_did_you_mean_test.c: reading that degrades gracefully, end to end on WhatsApp: the real
 * `ccgw serve`, a real PostgreSQL and the mock Graph API (tests/mock/graph_mock.py). A
 * message the reader is unsure of gets "did you mean ...?" with its two likeliest readings as
 * buttons instead of "Sorry, I didn't understand"; pressing one does that thing with the
 * text that was sent (the main menu; a search that finds the honey; in Swahili, a complaint);
 * a button pressed again later is refused as a stale choice.
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

#define PNID         "106540352242933"
#define APP_SECRET   "wa-app-secret-dym"
#define VERIFY_TOKEN "wa-verify-token-dym"

/* ---- helpers (the shared ones are in tests/support/harness_wa.h) ---- */

static int group_setup(void **state)
{
	static const char *const env[] = {"CCGW_MAX_BODY=65536", NULL};
	json_t *o;

	(void)state;
	hx.wa_pnid = PNID;
	hx.wa_app_secret = APP_SECRET;
	hx_setup("wa_dym", "dym-shop");
	hx_serve("graph_mock.py", "CCGW_WHATSAPP_API_BASE", env);
	o = hx_wa_register("EAAG-test-token", VERIFY_TOKEN);
	json_decref(o);
	hx_product_create("PH-TEC-01", "Tecno Spark 20", "Phones", 1899900, 12);
	hx_product_create("HN-ACA-500", "Acacia Honey 500g", "Phones", 85000, 30);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	hx_teardown();
	return 0;
}

/* The "did you mean" buttons of the messages to wa_id after index from: their ids and titles
 * in order; returns how many (at most 3). */
static size_t dym_buttons(const json_t *reqs, const char *wa_id, size_t from, char id[3][64],
                          char title[3][64], char *ctx, size_t ctxlen)
{
	size_t i, j, seen = 0, n = 0;
	const json_t *q, *x;

	json_array_foreach(reqs, i, q)
	{
		const json_t *b = json_object_get(q, "body");
		const char *to = json_string_value(json_object_get(b, "to"));
		const json_t *buttons = json_object_get(
		    json_object_get(json_object_get(b, "interactive"), "action"), "buttons");

		if (!to || strcmp(to, wa_id) != 0 || !json_object_get(q, "wamid") || seen++ < from)
			continue;
		json_array_foreach(buttons, j, x)
		{
			const json_t *reply = json_object_get(x, "reply");
			const char *bid = json_string_value(json_object_get(reply, "id"));

			if (!bid || strncmp(bid, "dym:", 4) != 0 || n >= 3)
				continue;
			snprintf(id[n], 64, "%s", bid);
			snprintf(title[n], 64, "%s",
			         json_string_value(json_object_get(reply, "title")));
			snprintf(ctx, ctxlen, "%s", json_string_value(json_object_get(q, "wamid")));
			n++;
		}
	}
	return n;
}

/* Sends text from wa_id; when the answer is "did you mean" with exactly two different
 * buttons, one of them want, fills that button's title and the message's wamid and returns
 * 1. Any "did you mean" answer must have that form and no "didn't understand". */
static int did_you_mean(const char *wa_id, const char *text, const char *want, char *title_out,
                        char *ctx)
{
	char wamid[64], id[3][64], title[3][64], *texts;
	size_t before, n;
	json_t *reqs;
	int found = 0;

	hx_wa_next_wamid(wamid, sizeof(wamid));
	reqs = hx_wa_say(wa_id, hx_wa_text_webhook(wa_id, wamid, text), &before);
	texts = hx_wa_texts_since(reqs, wa_id, before);
	n = dym_buttons(reqs, wa_id, before, id, title, ctx, 128);
	if (strstr(texts, "Did you mean") || strstr(texts, "Ulimaanisha")) {
		assert_null(strstr(texts, "didn't understand"));
		assert_null(strstr(texts, "sijaelewa"));
		assert_int_equal(n, 2);
		assert_string_not_equal(id[0], id[1]);
	} else {
		assert_int_equal(n, 0);
	}
	for (size_t k = 0; k < n; k++) {
		assert_true(title[k][0] != '\0' && strlen(title[k]) <= 20);
		if (strcmp(id[k], want) == 0) {
			snprintf(title_out, 64, "%s", title[k]);
			found = 1;
		}
	}
	if (!found)
		printf("'%s' (%s) answered: %s\n", text, want, texts);
	free(texts);
	json_decref(reqs);
	return found;
}

/* The first of the unclear texts (each from a new shopper, written into wa_id) that gets
 * "did you mean" with want among its two buttons; fails when none does. The reader's model
 * is trained from the corpus, so more than one phrasing is tried. */
static void expect_did_you_mean(char *wa_id, const char *const *texts, size_t n, const char *want,
                                char *title_out, char *ctx)
{
	for (size_t k = 0; k < n; k++) {
		wa_id[strlen(wa_id) - 1] = (char)('0' + (int)k);
		if (did_you_mean(wa_id, texts[k], want, title_out, ctx))
			return;
	}
	fail_msg("none of %zu unclear messages was answered with \"did you mean\" and %s", n, want);
}

/* Presses button id (title, in message ctx) and returns the texts of the answer (heap). */
static char *press(const char *wa_id, const char *id, const char *title, const char *ctx)
{
	char wamid[64], *texts;
	size_t before;
	json_t *reqs;

	hx_wa_next_wamid(wamid, sizeof(wamid));
	reqs = hx_wa_say(wa_id, hx_wa_press_webhook(wa_id, wamid, 0, id, title, ctx), &before);
	texts = hx_wa_texts_since(reqs, wa_id, before);
	json_decref(reqs);
	return texts;
}

/* ---- tests ---- */

/* A plea for help that names a problem, unclear for a reason (the reader weighs "help" and
 * "problem" alike: help with the shop, or a complaint?): "did you mean" Help or Report a
 * problem; Help opens the menu. */
static void test_did_you_mean_help(void **state)
{
	static const char *const unclear[] = {"i have an issue, please help",
	                                      "i have a problem here, can you help"};
	char shopper[] = "254722000110", title[64], ctx[128], *texts;

	(void)state;
	expect_did_you_mean(shopper, unclear, 2, "dym:help", title, ctx);
	texts = press(shopper, "dym:help", title, ctx);
	if (!strstr(texts, "What would you like to do?"))
		fail_msg("pressing Help answered: %s", texts);
	free(texts);
	/* the choice was for that message only: pressed again, it is refused */
	texts = press(shopper, "dym:help", title, ctx);
	if (!strstr(texts, "isn't available any more"))
		fail_msg("a stale did-you-mean press answered: %s", texts);
	free(texts);
}

/* A product named in a sentence the reader cannot read: "did you mean" Search (or add it);
 * the search runs on what was written and finds the honey. */
static void test_did_you_mean_search(void **state)
{
	static const char *const unclear[] = {"tell me about the honey",
	                                      "i am curious about the honey"};
	char shopper[] = "254722000220", title[64], ctx[128], *texts;

	(void)state;
	expect_did_you_mean(shopper, unclear, 2, "dym:search", title, ctx);
	texts = press(shopper, "dym:search", title, ctx);
	if (!strstr(texts, "Acacia Honey"))
		fail_msg("pressing Search answered: %s", texts);
	free(texts);
}

/* In Swahili: "Ulimaanisha" with Swahili buttons, for messages the reader weighs alike
 * between a complaint and another request ("nina shida, sielewi": a problem, or "I don't
 * understand", help?; "kuna shida na kulipa": a problem with paying, or asking to pay?);
 * "Ripoti tatizo" records the text that was sent as a complaint, and says so in Swahili. */
static void test_did_you_mean_swahili(void **state)
{
	static const char *const unclear[] = {"nina shida, sielewi", "kuna shida na kulipa"};
	char shopper[] = "254722000330", title[64], ctx[128], *texts;

	(void)state;
	expect_did_you_mean(shopper, unclear, 2, "dym:complaint", title, ctx);
	assert_string_equal(title, "Ripoti tatizo");
	texts = press(shopper, "dym:complaint", title, ctx);
	if (!strstr(texts, "Nimerekodi malalamiko yako"))
		fail_msg("pressing Ripoti tatizo answered: %s", texts);
	free(texts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_did_you_mean_help),
	    cmocka_unit_test(test_did_you_mean_search),
	    cmocka_unit_test(test_did_you_mean_swahili),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
