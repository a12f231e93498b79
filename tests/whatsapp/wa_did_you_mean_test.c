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

#include "testsrv.h"
#include "util.h"

#define PNID         "106540352242933"
#define APP_SECRET   "wa-app-secret-dym"
#define VERIFY_TOKEN "wa-verify-token-dym"

static struct testdb db;
static struct testsrv srv;
static char *tenant_id, *api_key;
static char channel_id[64];
static pid_t mock_pid;
static int mock_port;
static int wamid_seq;

/* ---- helpers (as in wa_integration_test.c) ---- */

static json_t *resp_json(const struct testhttp_resp *r)
{
	json_t *o = json_loads(r->body ? r->body : "", 0, NULL);

	if (!o)
		fail_msg("answer is not JSON (HTTP %ld): %s", r->status, r->body ? r->body : "");
	return o;
}

static void api(const char *method, const char *path, const char *body, struct testhttp_resp *r)
{
	char url[512], auth[256];
	const char *headers[3] = {auth, "Content-Type: application/json", NULL};

	snprintf(url, sizeof(url), "%s%s", srv.base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
	testhttp_request(method, url, headers, body, body ? strlen(body) : 0, r);
}

static void next_wamid(char *out, size_t len)
{
	snprintf(out, len, "wamid.TEST%d%08d", (int)getpid(), ++wamid_seq);
}

/* The Cloud API envelope around one value object (reference taken). */
static char *envelope(json_t *value)
{
	json_t *root = json_pack("{s:s, s:[{s:s, s:[{s:o, s:s}]}]}", "object",
	                         "whatsapp_business_account", "entry", "id", "102290129340398",
	                         "changes", "value", value, "field", "messages");
	char *s = json_dumps(root, JSON_COMPACT);

	json_decref(root);
	return s;
}

static json_t *value_for(const char *pnid, const char *wa_id, const char *name, json_t *message)
{
	return json_pack("{s:s, s:{s:s, s:s}, s:[{s:{s:s}, s:s}], s:[o]}", "messaging_product",
	                 "whatsapp", "metadata", "display_phone_number", "15550783881",
	                 "phone_number_id", pnid, "contacts", "profile", "name", name, "wa_id",
	                 wa_id, "messages", message);
}

static json_t *msg_base(const char *wa_id, const char *wamid, const char *type)
{
	char ts[24];

	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	return json_pack("{s:s, s:s, s:s, s:s}", "from", wa_id, "id", wamid, "timestamp", ts,
	                 "type", type);
}

static char *text_webhook(const char *wa_id, const char *wamid, const char *text)
{
	json_t *m = msg_base(wa_id, wamid, "text");

	json_object_set_new(m, "text", json_pack("{s:s}", "body", text));
	return envelope(value_for(PNID, wa_id, "Amina Njeri", m));
}

/* A press of a reply button or list row the shopper saw in message ctx_wamid. */
static char *press_webhook(const char *wa_id, const char *wamid, int is_list, const char *id,
                           const char *title, const char *ctx_wamid)
{
	json_t *m = msg_base(wa_id, wamid, "interactive");
	const char *kind = is_list ? "list_reply" : "button_reply";

	json_object_set_new(
	    m, "interactive",
	    json_pack("{s:s, s:{s:s, s:s}}", "type", kind, kind, "id", id, "title", title));
	if (ctx_wamid)
		json_object_set_new(
		    m, "context", json_pack("{s:s, s:s}", "from", "15550783881", "id", ctx_wamid));
	return envelope(value_for(PNID, wa_id, "Amina Njeri", m));
}

enum sig_mode { SIG_GOOD, SIG_NONE, SIG_WRONG, SIG_OTHER_SECRET };

static void post_webhook_to(const char *chan, const char *body, size_t len, enum sig_mode mode,
                            struct testhttp_resp *r)
{
	char url[256], sig[128], hex[65];
	const char *headers[3] = {"Content-Type: application/json", NULL, NULL};

	snprintf(url, sizeof(url), "%s/webhooks/whatsapp/%s", srv.base_url, chan);
	if (mode != SIG_NONE) {
		const char *secret = mode == SIG_OTHER_SECRET ? "not-the-app-secret" : APP_SECRET;

		util_hmac_sha256_hex(secret, strlen(secret), body, len, hex);
		if (mode == SIG_WRONG)
			hex[10] = hex[10] == 'a' ? 'b' : 'a';
		snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", hex);
		headers[1] = sig;
	}
	testhttp_request("POST", url, headers, body, len, r);
}

static long post_webhook(const char *body, struct testhttp_resp *r)
{
	post_webhook_to(channel_id, body, strlen(body), SIG_GOOD, r);
	return r->status;
}

static json_t *mock_requests(void)
{
	char url[128];
	struct testhttp_resp r;
	json_t *arr;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__requests", mock_port);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	arr = resp_json(&r);
	testhttp_resp_clear(&r);
	return arr;
}

static size_t count_to(const json_t *reqs, const char *wa_id, int messages_only)
{
	size_t i, n = 0;
	const json_t *q;

	json_array_foreach(reqs, i, q)
	{
		const json_t *b = json_object_get(q, "body");
		const char *to = json_string_value(json_object_get(b, "to"));

		if (to && strcmp(to, wa_id) == 0 && (!messages_only || json_object_get(q, "wamid")))
			n++;
	}
	return n;
}

/* Waits until the mock got more than `before` messages for wa_id and no new one came for
 * 400 ms; returns the requests (caller decrefs). Fails after 15 s. */
static json_t *wait_replies(const char *wa_id, size_t before)
{
	size_t last = before, n;
	int i, quiet = 0;
	json_t *reqs = NULL;

	for (i = 0; i < 300; i++) {
		json_decref(reqs);
		reqs = mock_requests();
		n = count_to(reqs, wa_id, 1);
		if (n > before && n == last) {
			if (++quiet >= 8)
				return reqs;
		} else {
			quiet = 0;
		}
		last = n;
		usleep(50000);
	}
	fail_msg("no reply to %s reached the mock Graph API (had %zu)", wa_id, before);
	return NULL;
}

/* The text of the messages sent to wa_id after index `from`, joined (heap). */
static char *texts_since(const json_t *reqs, const char *wa_id, size_t from)
{
	struct sbuf b;
	size_t i, seen = 0;
	const json_t *q;
	char *out;

	sbuf_init(&b);
	json_array_foreach(reqs, i, q)
	{
		const json_t *body = json_object_get(q, "body");
		const char *to = json_string_value(json_object_get(body, "to"));
		const char *t;

		if (!to || strcmp(to, wa_id) != 0 || !json_object_get(q, "wamid") || seen++ < from)
			continue;
		t = json_string_value(json_object_get(json_object_get(body, "text"), "body"));
		if (!t)
			t = json_string_value(json_object_get(
			    json_object_get(json_object_get(body, "interactive"), "body"), "text"));
		if (!t)
			t = json_string_value(
			    json_object_get(json_object_get(body, "image"), "caption"));
		if (t) {
			sbuf_puts(&b, t);
			sbuf_puts(&b, "\n");
		}
	}
	out = sbuf_take(&b);
	assert_non_null(out);
	return out;
}

/* Sends body (a webhook from wa_id), expects 200, and waits for the bot's answer. */
static json_t *say(const char *wa_id, char *body, size_t *before)
{
	struct testhttp_resp r;
	json_t *reqs = mock_requests(), *ans;

	*before = count_to(reqs, wa_id, 1);
	json_decref(reqs);
	if (post_webhook(body, &r) != 200)
		fail_msg("webhook answered %ld: %s", r.status, r.body);
	ans = resp_json(&r);
	assert_int_equal(json_integer_value(json_object_get(ans, "handled")), 1);
	json_decref(ans);
	testhttp_resp_clear(&r);
	free(body);
	return wait_replies(wa_id, *before);
}

static void create_product(const char *sku, const char *name, long price, int stock)
{
	struct testhttp_resp r;
	char body[512];

	snprintf(
	    body, sizeof(body),
	    "{\"sku\": \"%s\", \"name\": \"%s\", \"description\": \"A fine %s\", \"category\": "
	    "\"Phones\", \"price_minor\": %ld, \"currency\": \"KES\", \"stock\": %d, "
	    "\"active\": true}",
	    sku, name, name, price, stock);
	api("POST", "/api/v1/products", body, &r);
	if (r.status != 201)
		fail_msg("product create answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
}

static int group_setup(void **state)
{
	char env_base[96];
	struct testhttp_resp r;
	json_t *o;
	const char *env[3];

	(void)state;
	testdb_setup(&db, "wa_dym");
	tenant_id = testdb_tenant_create(&db, "dym-shop", &api_key);
	mock_pid = testsrv_spawn_mock("graph_mock.py", NULL, &mock_port);
	snprintf(env_base, sizeof(env_base), "CCGW_WHATSAPP_API_BASE=http://127.0.0.1:%d",
	         mock_port);
	env[0] = env_base;
	env[1] = "CCGW_MAX_BODY=65536";
	env[2] = NULL;
	testsrv_start(&srv, &db, env);

	api("POST", "/api/v1/channels",
	    "{\"type\": \"whatsapp\", \"phone_number_id\": \"" PNID "\", \"access_token\": "
	    "\"EAAG-test-token\", \"app_secret\": \"" APP_SECRET
	    "\", \"verify_token\": \"" VERIFY_TOKEN "\"}",
	    &r);
	if (r.status != 201)
		fail_msg("channel registration answered %ld: %s", r.status, r.body);
	o = resp_json(&r);
	snprintf(channel_id, sizeof(channel_id), "%s", json_string_value(json_object_get(o, "id")));
	json_decref(o);
	testhttp_resp_clear(&r);
	create_product("PH-TEC-01", "Tecno Spark 20", 1899900, 12);
	create_product("HN-ACA-500", "Acacia Honey 500g", 85000, 30);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	testsrv_stop(&srv);
	testsrv_stop_pid(mock_pid);
	free(tenant_id);
	free(api_key);
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

	next_wamid(wamid, sizeof(wamid));
	reqs = say(wa_id, text_webhook(wa_id, wamid, text), &before);
	texts = texts_since(reqs, wa_id, before);
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

	next_wamid(wamid, sizeof(wamid));
	reqs = say(wa_id, press_webhook(wa_id, wamid, 0, id, title, ctx), &before);
	texts = texts_since(reqs, wa_id, before);
	json_decref(reqs);
	return texts;
}

/* ---- tests ---- */

/* An unclear plea for help: "did you mean" Help or something else; Help opens the menu. */
static void test_did_you_mean_help(void **state)
{
	static const char *const unclear[] = {"can i get some help here",
	                                      "can i get some help over here pls"};
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

/* An unclear mention of a product: "did you mean" Search; the search runs on what was
 * written and finds the phone. */
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

/* In Swahili: "Ulimaanisha" with Swahili buttons; "Ripoti tatizo" records the text that was
 * sent as a complaint, and says so in Swahili. */
static void test_did_you_mean_swahili(void **state)
{
	static const char *const unclear[] = {"sijaelewa kitu hapa", "sijaelewa kitu hapa boss"};
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
