/*
 * test_webchat.c: the web chat's WebSocket protocol against the real `ccgw serve` and a real
 * PostgreSQL: a whole conversation to a placed order (order_channel_meta says webchat),
 * resuming after a reconnect with what was missed, tampered, expired and foreign tokens, a
 * repeated client_msg_id, an oversized frame, too many messages per second, a wrong Origin,
 * and a reply written by a second process reaching the socket the first one holds. Also the
 * page and its files, and the settings API.
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

#include "secrets.h"
#include "testsrv.h"
#include "util.h"
#include "webchat_gw.h"
#include "wsclient.h"

static struct testdb db;
static struct testsrv srv;
static char *tenant_id, *api_key, *other_tenant, *other_key;
static PGconn *app_conn;

/* ---- helpers ---- */

static json_t *jparse(const char *s)
{
	json_t *o = json_loads(s ? s : "", 0, NULL);

	if (!o)
		fail_msg("not JSON: %s", s ? s : "(null)");
	return o;
}

static void api(const char *key, const char *method, const char *path, const char *body,
                struct testhttp_resp *r)
{
	char url[512], auth[256];
	const char *headers[3] = {auth, "Content-Type: application/json", NULL};

	snprintf(url, sizeof(url), "%s%s", srv.base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
	testhttp_request(method, url, headers, body, body ? strlen(body) : 0, r);
}

static char *tscalar(const char *tenant, const char *sql, int n, const char *const *params)
{
	const char *tp[1] = {tenant};
	PGresult *res;
	char *out = NULL;

	res = PQexecParams(app_conn, "SELECT set_config('app.tenant_id', $1, false)", 1, NULL, tp,
	                   NULL, NULL, 0);
	PQclear(res);
	res = PQexecParams(app_conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("query failed: %s: %s", sql, PQerrorMessage(app_conn));
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		out = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return out;
}

static int port_of(const struct testsrv *s)
{
	return s->port;
}

/* Connects to slug's chat on s with origin; asserts the upgrade. */
static void connect_to(struct wsc_client *c, const struct testsrv *s, const char *slug,
                       const char *origin)
{
	char path[128];

	snprintf(path, sizeof(path), "/ws/chat/%s", slug);
	if (wsc_connect(c, port_of(s), path, origin) != 0)
		fail_msg("the WebSocket upgrade to %s failed", path);
}

/* The next frame (parsed) within ms; NULL with *close_code on a close or timeout. */
static json_t *next_frame(struct wsc_client *c, int ms, int *close_code)
{
	char *t = wsc_recv(c, ms, close_code);
	json_t *o;

	if (!t)
		return NULL;
	o = jparse(t);
	free(t);
	return o;
}

/* hello with token (NULL: none); returns the welcome frame. */
static json_t *hello(struct wsc_client *c, const char *token)
{
	json_t *h = json_pack("{s:s, s:s?}", "type", "hello", "session", token);
	char *t = json_dumps(h, JSON_COMPACT);
	json_t *w;
	int cc;

	assert_int_equal(wsc_send_text(c, t), 0);
	free(t);
	json_decref(h);
	w = next_frame(c, 5000, &cc);
	if (!w)
		fail_msg("no welcome (close %d)", cc);
	if (strcmp(json_string_value(json_object_get(w, "type")), "welcome") != 0)
		fail_msg("not a welcome: %s", json_dumps(w, 0));
	return w;
}

static void send_frame(struct wsc_client *c, const char *type, const char *key,
                       const char *value, const char *client_id)
{
	json_t *f = json_pack("{s:s, s:s, s:s}", "type", type, key, value, "client_msg_id",
	                      client_id);
	char *t = json_dumps(f, JSON_COMPACT);

	assert_int_equal(wsc_send_text(c, t), 0);
	free(t);
	json_decref(f);
}

/* The message frames that arrive within ms, and then until 600 ms of quiet (an array). */
static json_t *collect(struct wsc_client *c, int ms)
{
	json_t *out = json_array(), *f;
	int cc, waited = 0;

	while ((f = next_frame(c, json_array_size(out) ? 600 : ms - waited, &cc)) != NULL)
		json_array_append_new(out, f);
	return out;
}

static int id_seq;

static char *next_id(void)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "c-%d-%d", (int)getpid(), ++id_seq);
	return buf;
}

/* The payload of a button or list row in frames whose payload starts with prefix. */
static int find_payload(const json_t *frames, const char *prefix, int exact, char *out,
                        size_t outlen)
{
	size_t i, j, k, l;
	const json_t *f, *b, *sec, *row;

	out[0] = '\0';
	json_array_foreach(frames, i, f)
	{
		json_array_foreach(json_object_get(f, "buttons"), j, b)
		{
			const char *p = json_string_value(json_object_get(b, "payload"));

			if (p && (exact ? strcmp(p, prefix) == 0 : strncmp(p, prefix, strlen(prefix)) == 0))
				snprintf(out, outlen, "%s", p);
		}
		json_array_foreach(json_object_get(json_object_get(f, "list"), "sections"), k, sec)
		    json_array_foreach(json_object_get(sec, "rows"), l, row)
		{
			const char *p = json_string_value(json_object_get(row, "payload"));

			if (p && (exact ? strcmp(p, prefix) == 0 : strncmp(p, prefix, strlen(prefix)) == 0))
				snprintf(out, outlen, "%s", p);
		}
	}
	return out[0] != '\0';
}

static char *frames_text(const json_t *frames)
{
	struct sbuf b;
	size_t i;
	const json_t *f;

	sbuf_init(&b);
	json_array_foreach(frames, i, f)
	{
		const char *t = json_string_value(json_object_get(f, "text"));

		if (t)
			sbuf_printf(&b, "%s\n", t);
	}
	return sbuf_take(&b);
}

static void create_product(const char *sku, const char *name, long price)
{
	struct testhttp_resp r;
	char body[512];

	snprintf(body, sizeof(body),
	         "{\"sku\": \"%s\", \"name\": \"%s\", \"description\": \"%s\", \"category\":"
	         " \"Honey\", \"price_minor\": %ld, \"currency\": \"KES\", \"stock\": 50,"
	         " \"active\": true}",
	         sku, name, name, price);
	api(api_key, "POST", "/api/v1/products", body, &r);
	if (r.status != 201)
		fail_msg("product create answered %ld: %s", r.status, r.body);
	testhttp_resp_clear(&r);
}

static int group_setup(void **state)
{
	const char *env[] = {"CCGW_LOG_LEVEL=info", NULL};

	(void)state;
	testdb_setup(&db, "webchat");
	tenant_id = testdb_tenant_create(&db, "asali", &api_key);
	other_tenant = testdb_tenant_create(&db, "other-shop", &other_key);
	testsrv_start(&srv, &db, env);
	app_conn = testdb_connect_app(&db);
	create_product("HN-ACA-500", "Acacia honey 500g", 85000);
	create_product("HN-MAN-250", "Mangrove honey 250g", 60000);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	testsrv_stop(&srv);
	PQfinish(app_conn);
	free(tenant_id);
	free(api_key);
	free(other_tenant);
	free(other_key);
	return 0;
}

/* ---- tests ---- */

static void test_whole_conversation(void **state)
{
	static const struct {
		const char *p;
		int exact, once;
	} plan[] = {
	    {"ck:yes", 1, 1}, {"pay:cash_on_delivery", 1, 1}, {"pay:", 0, 1}, {"phone:use", 1, 1},
	    {"name:use", 1, 1}, {"ck", 1, 1}, {"add:", 0, 1}, {"prod:", 0, 1}, {"cat:", 0, 1},
	    {"browse", 1, 0},
	};
	int pressed[sizeof(plan) / sizeof(plan[0])] = {0};
	struct wsc_client c;
	json_t *w, *frames;
	char conv[64], payload[128], *text, *v, want[256];
	const char *params[1] = {conv};
	size_t p;
	int step, placed = 0;

	(void)state;
	connect_to(&c, &srv, "asali", NULL);
	w = hello(&c, NULL);
	snprintf(conv, sizeof(conv), "%s", json_string_value(json_object_get(w, "conversation_id")));
	assert_true(strlen(json_string_value(json_object_get(w, "session"))) > 100);
	json_decref(w);
	send_frame(&c, "text", "text", "hi", next_id());
	for (step = 0; step < 30 && !placed; step++) {
		frames = collect(&c, 15000);
		assert_true(json_array_size(frames) > 0);
		text = frames_text(frames);
		payload[0] = '\0';
		for (p = 0; p < sizeof(plan) / sizeof(plan[0]) && !payload[0]; p++) {
			if (plan[p].once && pressed[p])
				continue;
			if (find_payload(frames, plan[p].p, plan[p].exact, payload, sizeof(payload)))
				pressed[p] = 1;
		}
		if (getenv("WC_TEST_VERBOSE"))
			fprintf(stderr, "--- bot:\n%s--- shopper: %s\n", text, payload);
		if (pressed[0] && strstr(text, "#")) {
			placed = 1;
		} else if (payload[0]) {
			send_frame(&c, "postback", "payload", payload, next_id());
		} else if (strstr(text, "address") || strstr(text, "location")) {
			send_frame(&c, "text", "text", "Moi Avenue 12, Nairobi", next_id());
		} else if (strstr(text, "phone")) {
			send_frame(&c, "text", "text", "0712345678", next_id());
		} else if (strstr(text, "name")) {
			send_frame(&c, "text", "text", "Amina Wanjiru", next_id());
		} else {
			send_frame(&c, "text", "text", "browse", next_id());
		}
		free(text);
		json_decref(frames);
	}
	assert_true(placed);
	v = tscalar(tenant_id,
	            "SELECT m.channel || '|' || m.channel_id || '|' || m.external_chat_id"
	            " FROM order_channel_meta m WHERE m.conversation_id = $1",
	            1, params);
	assert_non_null(v);
	{
		char *chan = tscalar(tenant_id,
		                     "SELECT channel_id || '|' || external_chat_id FROM conversations"
		                     " WHERE id = $1",
		                     1, params);

		snprintf(want, sizeof(want), "webchat|%s", chan);
		assert_string_equal(v, want);
		free(chan);
	}
	free(v);
	wsc_close(&c);
}

static void test_resume_after_reconnect(void **state)
{
	struct wsc_client c;
	json_t *w, *frames;
	char token[400], conv[64], *text, *v;
	const char *params[2] = {conv, NULL};

	(void)state;
	connect_to(&c, &srv, "asali", NULL);
	w = hello(&c, NULL);
	snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(w, "session")));
	snprintf(conv, sizeof(conv), "%s", json_string_value(json_object_get(w, "conversation_id")));
	json_decref(w);
	send_frame(&c, "text", "text", "hi", next_id());
	json_decref(collect(&c, 15000));
	wsc_close(&c);
	usleep(300000);
	/* while the shopper is away, the shop writes to them (a person from the shop) */
	{
		struct testhttp_resp r;
		char path[128];

		snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", conv);
		api(api_key, "POST", path, "{\"text\": \"We have fresh honey today\"}", &r);
		assert_true(r.status == 200 || r.status == 201);
		testhttp_resp_clear(&r);
	}
	usleep(500000);
	v = tscalar(tenant_id,
	            "SELECT count(*) FROM outbox WHERE conversation_id = $1 AND status = 'pending'", 1,
	            params);
	assert_string_equal(v, "1"); /* kept for the shopper, not failed by the dispatcher */
	free(v);
	/* back with the same token: the same conversation, and what was missed */
	connect_to(&c, &srv, "asali", NULL);
	w = hello(&c, token);
	assert_string_equal(json_string_value(json_object_get(w, "conversation_id")), conv);
	assert_true(json_is_true(json_object_get(w, "resumed")));
	json_decref(w);
	frames = collect(&c, 3000);
	text = frames_text(frames);
	assert_non_null(strstr(text, "We have fresh honey today"));
	free(text);
	json_decref(frames);
	wsc_close(&c);
}

/* The chat open twice with one session (the shop's page and its widget, two tabs, or a page
 * the shopper left whose socket the server has not seen close yet): a reply reaches every
 * socket of the conversation, the one that wrote and the other. */
static void test_two_sockets_one_session(void **state)
{
	struct wsc_client a, b;
	json_t *w, *fa, *fb;
	char token[400], *ta, *tb;

	(void)state;
	connect_to(&a, &srv, "asali", NULL);
	w = hello(&a, NULL);
	snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(w, "session")));
	json_decref(w);
	connect_to(&b, &srv, "asali", NULL);
	json_decref(hello(&b, token));
	send_frame(&b, "text", "text", "show my cart", next_id());
	fb = collect(&b, 15000);
	fa = collect(&a, 2000);
	tb = frames_text(fb);
	ta = frames_text(fa);
	assert_non_null(strstr(tb, "cart"));
	assert_string_equal(ta, tb); /* the same replies, in the same order */
	free(ta);
	free(tb);
	json_decref(fa);
	json_decref(fb);
	wsc_close(&a);
	wsc_close(&b);
}

/* Asks for the cart on c; the frames of the answer, which must name the cart. */
static json_t *cart_answer(struct wsc_client *c)
{
	json_t *frames;
	char *t;

	send_frame(c, "text", "text", "show my cart", next_id());
	frames = collect(c, 15000);
	t = frames_text(frames);
	assert_non_null(strstr(t, "cart"));
	free(t);
	return frames;
}

/* Two hellos written at once race past the "hello was already said" check: the socket ends
 * in the conversation of the last welcome, gets each reply once, and once it is closed a new
 * socket of that conversation is answered (the closed one is no longer a recipient). */
static void test_two_hellos_at_once(void **state)
{
	struct wsc_client a, b;
	json_t *w, *f, *frames;
	char token0[400], last[400] = "", conv[64] = "", *t;
	int cc, welcomes = 0;
	size_t i, j;

	(void)state;
	connect_to(&a, &srv, "asali", NULL);
	w = hello(&a, NULL);
	snprintf(token0, sizeof(token0), "%s", json_string_value(json_object_get(w, "session")));
	json_decref(w);
	wsc_close(&a);

	connect_to(&a, &srv, "asali", NULL);
	assert_int_equal(wsc_send_text(&a, "{\"type\":\"hello\",\"session\":null}"), 0);
	w = json_pack("{s:s, s:s}", "type", "hello", "session", token0);
	t = json_dumps(w, JSON_COMPACT);
	json_decref(w);
	assert_int_equal(wsc_send_text(&a, t), 0);
	free(t);
	while ((f = next_frame(&a, welcomes ? 1500 : 5000, &cc)) != NULL) {
		if (strcmp(json_string_value(json_object_get(f, "type")), "welcome") == 0) {
			welcomes++;
			snprintf(last, sizeof(last), "%s",
			         json_string_value(json_object_get(f, "session")));
			snprintf(conv, sizeof(conv), "%s",
			         json_string_value(json_object_get(f, "conversation_id")));
		}
		json_decref(f);
	}
	assert_true(welcomes >= 1);

	frames = cart_answer(&a);
	for (i = 0; i < json_array_size(frames); i++)
		for (j = i + 1; j < json_array_size(frames); j++) {
			const char *x = json_string_value(json_object_get(json_array_get(frames, i), "id"));
			const char *y = json_string_value(json_object_get(json_array_get(frames, j), "id"));

			if (x && y && strcmp(x, y) == 0)
				fail_msg("reply %s came twice on one socket", x);
		}
	json_decref(frames);
	wsc_close(&a);

	connect_to(&b, &srv, "asali", NULL);
	w = hello(&b, last);
	assert_string_equal(json_string_value(json_object_get(w, "conversation_id")), conv);
	json_decref(w);
	json_decref(cart_answer(&b));
	wsc_close(&b);
}

/* Replies are pushed from memory right after their turn and recorded as sent in batches:
 * each message frame carries its outbox id, no id comes twice, they come in outbox order,
 * every reply ends up recorded sent with one message_sent event, and a resume sends nothing
 * that was shown already. The five messages, sent at once, are handled in the order sent. */
static void test_reply_ids_once(void **state)
{
	static const char *texts[] = {"hi", "menu", "show my cart", "help", "hello"};
	struct wsc_client c;
	json_t *w, *frames, *more, *f;
	char token[400], conv[64], seen[64][37], *v;
	const char *params[1] = {conv};
	size_t i, k, nmsg = 0;
	long long last_seq = -1;

	(void)state;
	connect_to(&c, &srv, "asali", NULL);
	w = hello(&c, NULL);
	snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(w, "session")));
	snprintf(conv, sizeof(conv), "%s", json_string_value(json_object_get(w, "conversation_id")));
	json_decref(w);
	for (i = 0; i < 5; i++)
		send_frame(&c, "text", "text", texts[i], next_id());
	frames = collect(&c, 15000);
	more = collect(&c, 1500);
	json_array_extend(frames, more);
	json_decref(more);
	json_array_foreach(frames, i, f)
	{
		const char *id = json_string_value(json_object_get(f, "id"));
		const char *idp[1] = {id};

		if (strcmp(json_string_value(json_object_get(f, "type")), "message") != 0)
			continue;
		assert_non_null(id);
		assert_int_equal(strlen(id), 36);
		for (k = 0; k < nmsg; k++)
			if (strcmp(seen[k], id) == 0)
				fail_msg("reply %s came twice", id);
		assert_true(nmsg < 64);
		memcpy(seen[nmsg++], id, 37);
		v = tscalar(tenant_id, "SELECT seq FROM outbox WHERE id = $1", 1, idp);
		assert_non_null(v);
		assert_true(atoll(v) > last_seq); /* in outbox order */
		last_seq = atoll(v);
		free(v);
	}
	json_decref(frames);
	assert_true(nmsg >= 5); /* at least one reply to each message */
	usleep(500000);
	v = tscalar(tenant_id,
	            "SELECT count(*) FROM outbox WHERE conversation_id = $1 AND kind = 'reply'", 1,
	            params);
	assert_int_equal(atoi(v), (int)nmsg); /* every reply written reached the socket */
	free(v);
	v = tscalar(tenant_id,
	            "SELECT count(*) FROM outbox WHERE conversation_id = $1 AND kind = 'reply'"
	            " AND status = 'sent' AND sent_at IS NOT NULL",
	            1, params);
	assert_int_equal(atoi(v), (int)nmsg); /* recorded as sent */
	free(v);
	v = tscalar(tenant_id,
	            "SELECT string_agg(payload->>'text', '|' ORDER BY seq) FROM conversation_events"
	            " WHERE conversation_id = $1 AND event_type = 'message_received'",
	            1, params);
	assert_non_null(v);
	assert_string_equal(v, "hi|menu|show my cart|help|hello"); /* one turn after another */
	free(v);
	v = tscalar(tenant_id,
	            "SELECT count(*) || '/' || count(DISTINCT payload->>'outbox_id')"
	            " FROM conversation_events WHERE conversation_id = $1"
	            " AND event_type = 'message_sent'",
	            1, params);
	{
		char want[32];

		snprintf(want, sizeof(want), "%d/%d", (int)nmsg, (int)nmsg);
		assert_string_equal(v, want); /* one event per reply */
	}
	free(v);
	wsc_close(&c);
	/* back with the same token: nothing shown before comes again */
	connect_to(&c, &srv, "asali", NULL);
	w = hello(&c, token);
	assert_true(json_is_true(json_object_get(w, "resumed")));
	json_decref(w);
	frames = collect(&c, 1500);
	json_array_foreach(frames, i, f)
	    assert_string_not_equal(json_string_value(json_object_get(f, "type")), "message");
	json_decref(frames);
	wsc_close(&c);
}

static void test_bad_tokens(void **state)
{
	struct wsc_client c;
	json_t *w;
	char token[400], conv[64], bad[400], key_hex[65], other_conv[64];
	unsigned char secret[32], key[32];
	const char *sk = getenv("CCGW_TEST_SECRET_KEY");

	(void)state;
	(void)sk;
	connect_to(&c, &srv, "asali", NULL);
	w = hello(&c, NULL);
	snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(w, "session")));
	snprintf(conv, sizeof(conv), "%s", json_string_value(json_object_get(w, "conversation_id")));
	json_decref(w);
	wsc_close(&c);
	/* tampered: one character of the mac changed */
	snprintf(bad, sizeof(bad), "%s", token);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'a' ? 'b' : 'a';
	connect_to(&c, &srv, "asali", NULL);
	w = hello(&c, bad);
	assert_string_not_equal(json_string_value(json_object_get(w, "conversation_id")), conv);
	json_decref(w);
	wsc_close(&c);
	/* tampered: another conversation id with the old mac */
	snprintf(bad, sizeof(bad), "%s", token);
	bad[3 + 37] = bad[3 + 37] == '0' ? '1' : '0';
	connect_to(&c, &srv, "asali", NULL);
	w = hello(&c, bad);
	assert_string_not_equal(json_string_value(json_object_get(w, "conversation_id")), conv);
	json_decref(w);
	wsc_close(&c);
	/* expired: a token signed with the server's key, but past its time */
	assert_int_equal(secrets_key_parse(db.secret_key, secret), 0);
	util_hmac_sha256_hex(secret, 32, "ccgw webchat token v1", 21, key_hex);
	assert_int_equal(util_hex_decode(key_hex, key, 32), 32);
	{
		char chat[64], *v;
		const char *params[1] = {conv};

		v = tscalar(tenant_id, "SELECT external_chat_id FROM conversations WHERE id = $1", 1,
		            params);
		snprintf(chat, sizeof(chat), "%s", v);
		free(v);
		webchat_token_make(key, tenant_id, conv, chat, (long long)time(NULL) - 10, bad,
		                   sizeof(bad));
		connect_to(&c, &srv, "asali", NULL);
		w = hello(&c, bad);
		assert_string_not_equal(json_string_value(json_object_get(w, "conversation_id")),
		                        conv);
		json_decref(w);
		wsc_close(&c);
		/* the same, unexpired, does resume: the key is the server's */
		webchat_token_make(key, tenant_id, conv, chat, (long long)time(NULL) + 600, bad,
		                   sizeof(bad));
		connect_to(&c, &srv, "asali", NULL);
		w = hello(&c, bad);
		assert_string_equal(json_string_value(json_object_get(w, "conversation_id")), conv);
		json_decref(w);
		wsc_close(&c);
	}
	/* foreign: a good token of another shop opens a new conversation here, never that one */
	connect_to(&c, &srv, "other-shop", NULL);
	w = hello(&c, NULL);
	snprintf(bad, sizeof(bad), "%s", json_string_value(json_object_get(w, "session")));
	snprintf(other_conv, sizeof(other_conv), "%s",
	         json_string_value(json_object_get(w, "conversation_id")));
	json_decref(w);
	wsc_close(&c);
	connect_to(&c, &srv, "asali", NULL);
	w = hello(&c, bad);
	assert_string_not_equal(json_string_value(json_object_get(w, "conversation_id")),
	                        other_conv);
	assert_string_not_equal(json_string_value(json_object_get(w, "conversation_id")), conv);
	json_decref(w);
	wsc_close(&c);
}

static void test_duplicate_client_msg_id(void **state)
{
	struct wsc_client c;
	json_t *frames;
	size_t i;
	int messages = 0, acks = 0;

	(void)state;
	connect_to(&c, &srv, "asali", NULL);
	json_decref(hello(&c, NULL));
	send_frame(&c, "text", "text", "hi", "same-id-1");
	frames = collect(&c, 15000);
	assert_true(json_array_size(frames) >= 1);
	json_decref(frames);
	send_frame(&c, "text", "text", "hi", "same-id-1");
	frames = collect(&c, 3000);
	for (i = 0; i < json_array_size(frames); i++) {
		const char *t = json_string_value(json_object_get(json_array_get(frames, i), "type"));

		messages += strcmp(t, "message") == 0;
		acks += strcmp(t, "ack") == 0 &&
		        json_is_true(json_object_get(json_array_get(frames, i), "duplicate"));
	}
	assert_int_equal(messages, 0);
	assert_int_equal(acks, 1);
	json_decref(frames);
	wsc_close(&c);
}

static void test_oversized_frame(void **state)
{
	struct wsc_client c;
	json_t *f;
	char *big = malloc(17000);
	int cc = 0;

	(void)state;
	memset(big, 'a', 17000);
	connect_to(&c, &srv, "asali", NULL);
	json_decref(hello(&c, NULL));
	assert_int_equal(wsc_send_frame(&c, 1, big, 17000), 0);
	f = next_frame(&c, 5000, &cc);
	assert_non_null(f);
	assert_string_equal(json_string_value(json_object_get(f, "type")), "error");
	assert_string_equal(json_string_value(json_object_get(f, "code")), "frame_too_large");
	json_decref(f);
	assert_null(next_frame(&c, 5000, &cc));
	assert_int_equal(cc, 1009);
	wsc_close(&c);
	free(big);
}

static void test_message_rate(void **state)
{
	struct wsc_client c;
	json_t *frames;
	size_t i;
	int limited = 0;

	(void)state;
	connect_to(&c, &srv, "asali", NULL);
	json_decref(hello(&c, NULL));
	for (i = 0; i < 25; i++)
		send_frame(&c, "text", "text", "menu", next_id());
	frames = collect(&c, 15000);
	for (i = 0; i < json_array_size(frames); i++)
		limited += strcmp(json_string_value(json_object_get(json_array_get(frames, i), "code"))
		                      ? json_string_value(
		                            json_object_get(json_array_get(frames, i), "code"))
		                      : "",
		                  "rate_limited") == 0;
	assert_true(limited >= 10);
	/* each refusal names the message it refused, so the page can send that one again */
	for (i = 0; i < json_array_size(frames); i++) {
		json_t *f = json_array_get(frames, i);

		if (json_string_value(json_object_get(f, "code")) &&
		    strcmp(json_string_value(json_object_get(f, "code")), "rate_limited") == 0)
			assert_non_null(json_string_value(json_object_get(f, "client_msg_id")));
	}
	json_decref(frames);
	wsc_close(&c);
}

static void test_origin(void **state)
{
	struct wsc_client c;
	struct testhttp_resp r;
	json_t *f, *o;
	int cc = 0;

	(void)state;
	/* a page elsewhere may not open the shop's chat */
	connect_to(&c, &srv, "asali", "https://evil.example");
	assert_int_equal(wsc_send_text(&c, "{\"type\":\"hello\",\"session\":null}"), 0);
	f = next_frame(&c, 5000, &cc);
	assert_non_null(f);
	assert_string_equal(json_string_value(json_object_get(f, "code")), "origin_not_allowed");
	json_decref(f);
	assert_null(next_frame(&c, 5000, &cc));
	assert_int_equal(cc, 1008);
	wsc_close(&c);
	/* the gateway's own page may */
	connect_to(&c, &srv, "asali", srv.base_url);
	json_decref(hello(&c, NULL));
	wsc_close(&c);
	/* the seller allows their site; a bad origin is refused by the API */
	api(api_key, "PUT", "/api/v1/webchat", "{\"allowed_origins\": [\"https://asali.example\"],"
	    " \"theme\": {\"name\": \"Asali Honey\", \"primary\": \"#aa6600\"}}", &r);
	assert_int_equal(r.status, 200);
	o = jparse(r.body);
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(o, "allowed_origins"), 0)),
	    "https://asali.example");
	json_decref(o);
	testhttp_resp_clear(&r);
	api(api_key, "PUT", "/api/v1/webchat", "{\"allowed_origins\": [\"https://a.example/path\"]}",
	    &r);
	assert_int_equal(r.status, 400);
	testhttp_resp_clear(&r);
	connect_to(&c, &srv, "asali", "https://asali.example");
	json_decref(hello(&c, NULL));
	wsc_close(&c);
	/* the other shop did not allow it */
	connect_to(&c, &srv, "other-shop", "https://asali.example");
	assert_int_equal(wsc_send_text(&c, "{\"type\":\"hello\",\"session\":null}"), 0);
	f = next_frame(&c, 5000, &cc);
	assert_string_equal(json_string_value(json_object_get(f, "code")), "origin_not_allowed");
	json_decref(f);
	wsc_close(&c);
}

static void test_page_and_files(void **state)
{
	struct testhttp_resp r;
	char url[256];
	json_t *o;

	(void)state;
	snprintf(url, sizeof(url), "%s/chat/asali", srv.base_url);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "Content-Security-Policy: default-src 'none'"));
	assert_non_null(strstr(r.body, "/chat/asali/chat.js"));
	assert_null(strstr(r.body, "{{SLUG}}"));
	testhttp_resp_clear(&r);
	snprintf(url, sizeof(url), "%s/chat/asali/config.json", srv.base_url);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	o = jparse(r.body);
	assert_string_equal(json_string_value(json_object_get(o, "ws_path")), "/ws/chat/asali");
	json_decref(o);
	testhttp_resp_clear(&r);
	snprintf(url, sizeof(url), "%s/chat/asali/widget.js", srv.base_url);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, srv.base_url));
	testhttp_resp_clear(&r);
	snprintf(url, sizeof(url), "%s/chat/no-such-shop", srv.base_url);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
	snprintf(url, sizeof(url), "%s/chat/asali/..%%2fsecret", srv.base_url);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 404);
	testhttp_resp_clear(&r);
}

/* The ccgw_local notifications for conversation conv that arrived on l within ms. */
static int local_notices(PGconn *l, const char *conv, int ms)
{
	PGnotify *n;
	int found = 0, waited;

	for (waited = 0; waited <= ms; waited += 50) {
		assert_int_equal(PQconsumeInput(l), 1);
		while ((n = PQnotifies(l)) != NULL) {
			if (strcmp(n->relname, "ccgw_local") == 0 &&
			    (n->extra[0] == '\0' || strstr(n->extra, conv)))
				found++;
			PQfreemem(n);
		}
		usleep(50 * 1000);
	}
	return found;
}

/* A shopper's turn is pushed to the socket by the process that ran it, from memory: its
 * replies are written without a ccgw_local NOTIFY (sql/102), which only made that process look
 * for them again. A reply another writer makes (the shop's API) is still announced, and
 * reaches the socket. */
static void test_turn_replies_not_announced(void **state)
{
	struct wsc_client c;
	struct testhttp_resp r;
	PGconn *l = testdb_connect_owner(&db);
	json_t *w, *frames;
	char conv[64], path[128], *text;
	PGresult *res;

	(void)state;
	assert_int_equal(PQstatus(l), CONNECTION_OK);
	res = PQexec(l, "LISTEN ccgw_local");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	connect_to(&c, &srv, "asali", NULL);
	w = hello(&c, NULL);
	snprintf(conv, sizeof(conv), "%s", json_string_value(json_object_get(w, "conversation_id")));
	json_decref(w);
	(void)local_notices(l, conv, 0); /* the hello's own */
	send_frame(&c, "text", "text", "menu", next_id());
	frames = collect(&c, 15000);
	assert_true(json_array_size(frames) >= 1);
	json_decref(frames);
	assert_int_equal(local_notices(l, conv, 500), 0);

	snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", conv);
	api(api_key, "POST", path, "{\"text\": \"A word from the shop\"}", &r);
	assert_true(r.status == 200 || r.status == 201);
	testhttp_resp_clear(&r);
	frames = collect(&c, 15000);
	text = frames_text(frames);
	assert_non_null(strstr(text, "A word from the shop"));
	free(text);
	json_decref(frames);
	assert_true(local_notices(l, conv, 500) >= 1);
	wsc_close(&c);
	PQfinish(l);
}

/* A server that starts rehearses a few turns on each of its pool connections, in transactions
 * it rolls back (gateway/core/warm.c): it says so in its log, and no conversation, message or
 * event of the rehearsal is left in any shop. */
static void test_warm_rehearsal_leaves_nothing(void **state)
{
	const char *env[] = {"CCGW_LOG_LEVEL=info", NULL};
	const char *tenants[2] = {tenant_id, other_tenant};
	struct testsrv srv2;
	char line[512], *n;
	FILE *f;
	int found = 0, i;

	(void)state;
	testsrv_start(&srv2, &db, env);
	f = fopen(srv2.log_path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "database pool:") && strstr(line, "rehearsed)")) {
			const char *p = strstr(line, "open (");

			assert_non_null(p);
			found = atoi(p + 6);
		}
	fclose(f);
	testsrv_stop(&srv2);
	assert_true(found >= 1);
	for (i = 0; i < 2; i++) {
		n = tscalar(tenants[i],
		            "SELECT (SELECT count(*) FROM conversations WHERE external_chat_id LIKE"
		            " 'ccgw-warm-%') + (SELECT count(*) FROM inbound_messages WHERE"
		            " platform_message_id LIKE 'ccgw-warm-%') + (SELECT count(*) FROM customers"
		            " c JOIN customer_identities ci ON ci.customer_id = c.id WHERE"
		            " ci.external_user_id LIKE 'ccgw-warm-%')",
		            0, NULL);
		assert_string_equal(n, "0");
		free(n);
	}
}

static void test_second_process(void **state)
{
	const char *env[] = {"CCGW_LOG_LEVEL=info", NULL};
	struct testsrv srv2, keep = srv;
	struct wsc_client c;
	struct testhttp_resp r;
	json_t *w, *frames;
	char conv[64], path[128], *text;

	(void)state;
	testsrv_start(&srv2, &db, env);
	connect_to(&c, &srv, "asali", NULL);
	w = hello(&c, NULL);
	snprintf(conv, sizeof(conv), "%s", json_string_value(json_object_get(w, "conversation_id")));
	json_decref(w);
	/* the other process writes to this shopper (a person from the shop, through its API) */
	srv = srv2;
	snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", conv);
	api(api_key, "POST", path, "{\"text\": \"Hello from the other process\"}", &r);
	srv = keep;
	assert_true(r.status == 200 || r.status == 201);
	testhttp_resp_clear(&r);
	frames = collect(&c, 15000);
	text = frames_text(frames);
	assert_non_null(strstr(text, "Hello from the other process"));
	free(text);
	json_decref(frames);
	wsc_close(&c);
	testsrv_stop(&srv2);
}

/* Ping/pong and the idle timeout, on a server with short intervals (a ping after 1 s without a
 * frame, a close after 3 s): a page that answers pings stays open and is answered; one that
 * never answers is closed with 1001 once the idle time has passed, not before. */
static void test_keepalive(void **state)
{
	const char *env[] = {"CCGW_LOG_LEVEL=info", "CCGW_WS_PING_SECS=1", "CCGW_WS_IDLE_SECS=3",
	                     NULL};
	struct testsrv srv2;
	struct wsc_client a, b;
	char *t;
	int cc = 0, waited = 0;
	int64_t start;

	(void)state;
	testsrv_start(&srv2, &db, env);
	connect_to(&a, &srv2, "asali", NULL);
	json_decref(hello(&a, NULL));
	connect_to(&b, &srv2, "asali", NULL);
	b.ws.answer_pings = 0;
	json_decref(hello(&b, NULL));
	start = util_now_ms();

	/* b says nothing and answers no ping: closed, 1001, after about 3 s; a, read (and so
	 * answering pings) in between, stays open */
	while (util_now_ms() - start < 10000) {
		int ca = 0;

		t = wsc_recv(&a, 100, &ca);
		if (t)
			fail_msg("an unexpected frame on the quiet socket: %s", t);
		if (ca != 0)
			fail_msg("the socket that answers pings was closed (%d)", ca);
		cc = 0;
		t = wsc_recv(&b, 100, &cc);
		assert_null(t);
		if (cc != 0)
			break;
	}
	assert_int_equal(cc, 1001);
	assert_true(b.ws.pings >= 1);
	waited = (int)(util_now_ms() - start);
	if (waited < 2500 || waited > 7000)
		fail_msg("the silent socket was closed after %d ms (idle timeout 3 s)", waited);
	wsc_close(&b);

	/* a answered every ping meanwhile: it was pinged more than once and is still open */
	cc = 0;
	t = wsc_recv(&a, 1500, &cc);
	assert_null(t);
	assert_int_equal(cc, 0); /* a timeout, not a close */
	assert_true(a.ws.pings >= 2);
	json_decref(cart_answer(&a));
	wsc_close(&a);
	testsrv_stop(&srv2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_page_and_files),
	    cmocka_unit_test(test_whole_conversation),
	    cmocka_unit_test(test_resume_after_reconnect),
	    cmocka_unit_test(test_two_sockets_one_session),
	    cmocka_unit_test(test_two_hellos_at_once),
	    cmocka_unit_test(test_reply_ids_once),
	    cmocka_unit_test(test_bad_tokens),
	    cmocka_unit_test(test_duplicate_client_msg_id),
	    cmocka_unit_test(test_oversized_frame),
	    cmocka_unit_test(test_message_rate),
	    cmocka_unit_test(test_origin),
	    cmocka_unit_test(test_second_process),
	    cmocka_unit_test(test_turn_replies_not_announced),
	    cmocka_unit_test(test_warm_rehearsal_leaves_nothing),
	    cmocka_unit_test(test_keepalive),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
