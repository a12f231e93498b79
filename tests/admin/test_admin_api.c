/*
 * test_admin_api.c: the seller's admin API over real HTTP against the real `ccgw serve` and a
 * real PostgreSQL: every route's success case and validation errors, tenant B's key on
 * tenant A's objects (404 everywhere), If-Match (428, 412, 409), idempotent replay, and that
 * no secret ever shows in an answer, in the server log or in plain text in the database.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "channel.h"
#include "pg.h"
#include "secrets.h"
#include "testsrv.h"

static struct testdb db;
static struct testsrv srv;
static char *tenant_a, *key_a, *tenant_b, *key_b;

#define PUBLIC_URL "https://gw.example.test"

/* Every secret the tests hand to the server: none may come back or reach the log. */
static const char *secrets_seen[64];
static size_t nsecrets;

static void secret_add(const char *s)
{
	assert_true(nsecrets < sizeof(secrets_seen) / sizeof(secrets_seen[0]));
	secrets_seen[nsecrets++] = s;
}

/* ---- HTTP ---- */

struct ans {
	long status;
	json_t *json; /* NULL when the body is empty */
	char *body;
	char *headers;
};

static void ans_free(struct ans *a)
{
	json_decref(a->json);
	free(a->body);
	free(a->headers);
	memset(a, 0, sizeof(*a));
}

/* One request; key NULL sends no Authorization. extra: NULL-terminated header lines. */
static void api(struct ans *a, const char *method, const char *path, const char *key,
                const char *body, const char *const *extra)
{
	const char *hdrs[12];
	char auth[256], url[512];
	struct testhttp_resp r;
	size_t n = 0, i;

	if (key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
		hdrs[n++] = auth;
	}
	if (body)
		hdrs[n++] = "Content-Type: application/json";
	for (i = 0; extra && extra[i] && n < 11; i++)
		hdrs[n++] = extra[i];
	hdrs[n] = NULL;
	snprintf(url, sizeof(url), "%s%s", srv.base_url, path);
	testhttp_request(method, url, hdrs, body, body ? strlen(body) : 0, &r);
	memset(a, 0, sizeof(*a));
	a->status = r.status;
	a->body = r.body;
	a->headers = r.headers;
	for (i = 0; i < nsecrets; i++)
		if (strstr(a->body, secrets_seen[i]) || strstr(a->headers, secrets_seen[i]))
			fail_msg("%s %s answered a secret: %s", method, path, a->body);
	if (r.body_len) {
		a->json = json_loads(a->body, 0, NULL);
		if (!a->json)
			fail_msg("%s %s: the answer is not JSON: %s", method, path, a->body);
	}
	if (a->status >= 400) {
		json_t *e = json_object_get(a->json, "error");

		if (!json_is_string(json_object_get(e, "code")) ||
		    !json_is_string(json_object_get(e, "message")))
			fail_msg("%s %s: error answer without code/message: %s", method, path,
			         a->body);
	}
}

static void expect_status(const struct ans *a, long status)
{
	if (a->status != status)
		fail_msg("expected %ld, got %ld: %s", status, a->status, a->body);
}

/* An error answer with this status and code that names field (in "field" and the message). */
static void expect_error(const struct ans *a, long status, const char *code, const char *field)
{
	json_t *e = json_object_get(a->json, "error");

	expect_status(a, status);
	if (code && strcmp(json_string_value(json_object_get(e, "code")), code) != 0)
		fail_msg("expected code %s: %s", code, a->body);
	if (field) {
		const char *f = json_string_value(json_object_get(e, "field"));

		if (!f || strcmp(f, field) != 0 ||
		    !strstr(json_string_value(json_object_get(e, "message")), field))
			fail_msg("expected the error to name %s: %s", field, a->body);
	}
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	assert_true(json_is_integer(v));
	return (long long)json_integer_value(v);
}

/* 1 when the list answer's data holds an object with this id. */
static int list_has(const struct ans *a, const char *id)
{
	json_t *data = json_object_get(a->json, "data"), *it;
	size_t i;

	assert_true(json_is_array(data));
	assert_true(json_object_get(a->json, "next_cursor") != NULL);
	json_array_foreach(data, i,
	                   it) if (jstr(it, "id") && strcmp(jstr(it, "id"), id) == 0) return 1;
	return 0;
}

/* ---- database helpers ---- */

struct app_q {
	const char *sql;
	int n;
	const char *const *params;
	char *out;
};

static int app_q_tx(PGconn *c, void *arg)
{
	struct app_q *q = arg;
	PGresult *r = pg_exec(c, q->sql, q->n, q->params);

	if (!r)
		return -1;
	free(q->out);
	q->out = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
	PQclear(r);
	return 0;
}

/* Runs sql as the application role in tenant's transaction; the first value (heap) or NULL. */
static char *app_scalar(const char *tenant, const char *sql, int n, const char *const *params)
{
	PGconn *c = testdb_connect_app(&db);
	struct app_q q = {sql, n, params, NULL};

	if (pg_tx_run(c, tenant, app_q_tx, &q) != 0)
		fail_msg("query failed: %s", sql);
	PQfinish(c);
	return q.out;
}

static long app_count(const char *tenant, const char *sql, int n, const char *const *params)
{
	char *v = app_scalar(tenant, sql, n, params);
	long x = v ? atol(v) : -1;

	free(v);
	return x;
}

/* ---- fixtures ---- */

static char *channel_create_tg(const char *key, const char *bot_token, const char *secret_token)
{
	struct ans a;
	char body[512];
	char *id;

	snprintf(body, sizeof(body),
	         "{\"type\":\"telegram\",\"bot_token\":\"%s\",\"secret_token\":\"%s\"}", bot_token,
	         secret_token);
	api(&a, "POST", "/api/v1/channels", key, body, NULL);
	expect_status(&a, 201);
	id = strdup(jstr(a.json, "id"));
	ans_free(&a);
	return id;
}

static char *product_create(const char *key, const char *sku, long price)
{
	struct ans a;
	char body[512];
	char *id;

	snprintf(body, sizeof(body), "{\"sku\":\"%s\",\"name\":\"Item %s\",\"price_minor\":%ld}",
	         sku, sku, price);
	api(&a, "POST", "/api/v1/products", key, body, NULL);
	expect_status(&a, 201);
	id = strdup(jstr(a.json, "id"));
	ans_free(&a);
	return id;
}

struct seed {
	const char *channel_id, *product_id, *number;
	char order_id[37], conv_id[37];
};

static int seed_tx(PGconn *c, void *arg)
{
	struct seed *s = arg;
	const char *p[4];
	char customer[37];
	PGresult *r;

	r = pg_exec(c,
	            "INSERT INTO customers (tenant_id, name, phone) VALUES (app_tenant_id(), "
	            "'Amina', '254700000001') RETURNING id",
	            0, NULL);
	if (!r)
		return -1;
	snprintf(customer, sizeof(customer), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	/* one shopper chat per order: the chat id is 777 and the order number */
	p[0] = s->channel_id;
	p[1] = customer;
	p[2] = s->number;
	r = pg_exec(c,
	            "INSERT INTO conversations (tenant_id, channel_id, customer_id, "
	            "external_chat_id, external_user_id, state) VALUES (app_tenant_id(), $1, $2, "
	            "'777' || $3, '777' || $3, 'menu') RETURNING id",
	            3, p);
	if (!r)
		return -1;
	snprintf(s->conv_id, sizeof(s->conv_id), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	p[0] = s->number;
	p[1] = customer;
	r = pg_exec(c,
	            "INSERT INTO orders (tenant_id, order_number, customer_id, subtotal_minor, "
	            "total_minor, currency, customer_name, customer_phone, delivery_address) "
	            "VALUES (app_tenant_id(), $1::bigint, $2, 5000, 5000, 'KES', 'Amina', "
	            "'254700000001', '{\"text\": \"Moi Avenue 1\"}') RETURNING id",
	            2, p);
	if (!r)
		return -1;
	snprintf(s->order_id, sizeof(s->order_id), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	p[0] = s->order_id;
	p[1] = s->product_id;
	if (pg_cmd(c,
	           "INSERT INTO order_items (tenant_id, order_id, product_id, sku, name, "
	           "quantity, unit_price_minor, subtotal_minor) SELECT app_tenant_id(), $1, id, "
	           "sku, name, 2, price_minor, 2 * price_minor FROM products WHERE id = $2",
	           2, p) < 0)
		return -1;
	p[1] = s->channel_id;
	p[2] = s->conv_id;
	p[3] = s->number;
	if (pg_cmd(
	        c,
	        "INSERT INTO order_channel_meta (tenant_id, order_id, channel, channel_id, "
	        "external_chat_id, external_user_id, external_message_id, conversation_id) "
	        "VALUES (app_tenant_id(), $1, 'telegram', $2, '777' || $4, '777' || $4, '42', $3)",
	        4, p) < 0)
		return -1;
	return 0;
}

/* An order of tenant A placed through a Telegram conversation, as the engine would leave it. */
static void order_seed(struct seed *s)
{
	PGconn *c = testdb_connect_app(&db);

	assert_int_equal(pg_tx_run(c, tenant_a, seed_tx, s), 0);
	PQfinish(c);
}

/* ---- tests ---- */

static void test_auth(void **state)
{
	struct ans a;
	char bad[128];

	(void)state;
	api(&a, "GET", "/api/v1/products", NULL, NULL, NULL);
	expect_error(&a, 401, "unauthorized", NULL);
	assert_non_null(strcasestr(a.headers, "WWW-Authenticate: Bearer"));
	ans_free(&a);

	snprintf(bad, sizeof(bad), "%sx", key_a);
	api(&a, "GET", "/api/v1/products", bad, NULL, NULL);
	expect_error(&a, 401, "unauthorized", NULL);
	ans_free(&a);

	api(&a, "GET", "/api/v1/orders", NULL, NULL,
	    (const char *const[]){"Authorization: Basic dXNlcjpwYXNz", NULL});
	expect_error(&a, 401, "unauthorized", NULL);
	ans_free(&a);

	/* a revoked key stops working */
	{
		char *other, *tid;

		tid = testdb_tenant_create(&db, "shop-revoked", &other);
		secret_add(other);
		api(&a, "GET", "/api/v1/channels", other, NULL, NULL);
		expect_status(&a, 200);
		ans_free(&a);
		assert_int_equal(app_count(tid,
		                           "WITH r AS (UPDATE api_keys SET revoked_at = now() "
		                           "RETURNING 1) SELECT count(*) FROM r",
		                           0, NULL),
		                 1);
		api(&a, "GET", "/api/v1/channels", other, NULL, NULL);
		expect_error(&a, 401, "unauthorized", NULL);
		ans_free(&a);
		free(tid);
	}

	api(&a, "GET", "/api/v1/products", key_a, NULL, NULL);
	expect_status(&a, 200);
	assert_true(json_is_array(json_object_get(a.json, "data")));
	assert_true(json_is_null(json_object_get(a.json, "next_cursor")));
	ans_free(&a);
}

static void test_channels(void **state)
{
	static const char *wa_body =
	    "{\"type\":\"whatsapp\",\"name\":\"Main number\",\"phone_number_id\":\"1098765432\","
	    "\"access_token\":\"EAAGwaAccessTok3nSECRET\",\"app_secret\":\"appSecretWA9876\","
	    "\"verify_token\":\"verifyTokWA5555\"}";
	struct ans a;
	char path[128], expect_url[256], *wa_id, *tg_id, *v, *plain = NULL;
	const char *p[2];
	unsigned char key[32], *sealed = NULL;
	size_t sealed_len;

	(void)state;
	api(&a, "POST", "/api/v1/channels", key_a, wa_body, NULL);
	expect_status(&a, 201);
	wa_id = strdup(jstr(a.json, "id"));
	assert_string_equal(jstr(a.json, "type"), "whatsapp");
	snprintf(expect_url, sizeof(expect_url), PUBLIC_URL "/webhooks/whatsapp/%s", wa_id);
	assert_string_equal(jstr(a.json, "webhook_url"), expect_url);
	ans_free(&a);

	tg_id = channel_create_tg(key_a, "123456789:AAHtgBotTokenSECRETxyz", "tgSecretTok_0001");

	/* the same number twice is refused */
	api(&a, "POST", "/api/v1/channels", key_a, wa_body, NULL);
	expect_error(&a, 409, "already_registered", "phone_number_id");
	ans_free(&a);

	/* validation names the field */
	{
		static const struct {
			const char *body, *field;
		} bad[] = {
		    {"{\"phone_number_id\":\"1\"}", "type"},
		    {"{\"type\":\"sms\"}", "type"},
		    {"{\"type\":\"whatsapp\",\"access_token\":\"a\",\"app_secret\":\"b\","
		     "\"verify_token\":\"c\"}",
		     "phone_number_id"},
		    {"{\"type\":\"whatsapp\",\"phone_number_id\":\"12ab\",\"access_token\":\"a\","
		     "\"app_secret\":\"b\",\"verify_token\":\"c\"}",
		     "phone_number_id"},
		    {"{\"type\":\"whatsapp\",\"phone_number_id\":\"12\",\"app_secret\":\"b\","
		     "\"verify_token\":\"c\"}",
		     "access_token"},
		    {"{\"type\":\"whatsapp\",\"phone_number_id\":\"12\",\"access_token\":\"a\","
		     "\"verify_token\":\"c\"}",
		     "app_secret"},
		    {"{\"type\":\"whatsapp\",\"phone_number_id\":\"12\",\"access_token\":\"a\","
		     "\"app_secret\":\"b\",\"verify_token\":\"\"}",
		     "verify_token"},
		    {"{\"type\":\"telegram\",\"secret_token\":\"abc\"}", "bot_token"},
		    {"{\"type\":\"telegram\",\"bot_token\":\"nocolon\",\"secret_token\":\"abc\"}",
		     "bot_token"},
		    {"{\"type\":\"telegram\",\"bot_token\":\"1:abc\"}", "secret_token"},
		    {"{\"type\":\"telegram\",\"bot_token\":\"1:abc\",\"secret_token\":\"a b\"}",
		     "secret_token"},
		    {"{\"type\":\"telegram\",\"bot_token\":\"1:abc\",\"secret_token\":\"ab\","
		     "\"phone_number_id\":\"1\"}",
		     "phone_number_id"},
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			api(&a, "POST", "/api/v1/channels", key_a, bad[i].body, NULL);
			expect_error(&a, 400, "validation", bad[i].field);
			ans_free(&a);
		}
		api(&a, "POST", "/api/v1/channels", key_a, "{not json", NULL);
		expect_error(&a, 400, "invalid_json", NULL);
		ans_free(&a);
	}

	/* listed and read without secrets, with status and health */
	api(&a, "GET", "/api/v1/channels", key_a, NULL, NULL);
	expect_status(&a, 200);
	assert_true(list_has(&a, wa_id));
	assert_true(list_has(&a, tg_id));
	ans_free(&a);
	snprintf(path, sizeof(path), "/api/v1/channels/%s", wa_id);
	api(&a, "GET", path, key_a, NULL, NULL);
	expect_status(&a, 200);
	assert_string_equal(jstr(a.json, "status"), "active");
	assert_true(json_is_null(json_object_get(a.json, "health_error")));
	assert_string_equal(jstr(a.json, "phone_number_id"), "1098765432");
	assert_string_equal(jstr(a.json, "webhook_url"), expect_url);
	ans_free(&a);

	/* stored sealed: not the plain text, and it opens to the secrets under the key */
	p[0] = wa_id;
	p[1] = "EAAGwaAccessTok3nSECRET";
	v = testdb_owner_scalar(&db,
	                        "SELECT position(convert_to($2, 'UTF8') IN secrets) "
	                        "FROM channels WHERE id = $1",
	                        2, p);
	assert_string_equal(v, "0");
	free(v);
	v = testdb_owner_scalar(&db, "SELECT secrets FROM channels WHERE id = $1", 1, p);
	assert_non_null(v);
	assert_null(strstr(v, "verifyTokWA5555"));
	assert_int_equal(secrets_key_parse(db.secret_key, key), 0);
	assert_int_equal(secrets_bytea_decode(v, &sealed, &sealed_len), 0);
	assert_int_equal(secrets_open(key, tenant_a, sealed, sealed_len, &plain), 0);
	assert_non_null(strstr(plain, "\"access_token\":\"EAAGwaAccessTok3nSECRET\""));
	assert_non_null(strstr(plain, "\"verify_token\":\"verifyTokWA5555\""));
	/* bound to the tenant: does not open as tenant B's */
	free(plain);
	plain = NULL;
	assert_int_equal(secrets_open(key, tenant_b, sealed, sealed_len, &plain), -1);
	free(sealed);
	free(v);
	v = testdb_owner_scalar(&db, "SELECT external_id FROM channels WHERE id = $1", 1, p);
	assert_string_equal(v, "1098765432");
	free(v);

	/* the dispatcher marked it unhealthy: the seller sees why, and new secrets revive it */
	p[1] = "invalid access token (190)";
	assert_int_equal(
	    app_count(tenant_a,
	              "WITH u AS (UPDATE channels SET status = 'unhealthy', "
	              "health_error = $2 WHERE id = $1 RETURNING 1) SELECT count(*) FROM u",
	              2, p),
	    1);
	api(&a, "GET", path, key_a, NULL, NULL);
	assert_string_equal(jstr(a.json, "status"), "unhealthy");
	assert_string_equal(jstr(a.json, "health_error"), "invalid access token (190)");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"access_token\":\"EAAGrotatedTokenSECRET2\"}", NULL);
	expect_status(&a, 200);
	assert_string_equal(jstr(a.json, "status"), "active");
	assert_true(json_is_null(json_object_get(a.json, "health_error")));
	ans_free(&a);
	v = testdb_owner_scalar(&db, "SELECT secrets FROM channels WHERE id = $1", 1, p);
	assert_int_equal(secrets_bytea_decode(v, &sealed, &sealed_len), 0);
	assert_int_equal(secrets_open(key, tenant_a, sealed, sealed_len, &plain), 0);
	assert_non_null(strstr(plain, "\"access_token\":\"EAAGrotatedTokenSECRET2\""));
	assert_non_null(strstr(plain, "\"app_secret\":\"appSecretWA9876\"")); /* kept */
	free(plain);
	free(sealed);
	free(v);

	/* PATCH validation */
	api(&a, "PATCH", path, key_a, "{\"status\":\"unhealthy\"}", NULL);
	expect_error(&a, 400, "validation", "status");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"bot_token\":\"1:abc\"}", NULL);
	expect_error(&a, 400, "validation", "bot_token");
	ans_free(&a);

	/* tenant B sees none of it */
	api(&a, "GET", path, key_b, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "PATCH", path, key_b, "{\"status\":\"disabled\"}", NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "DELETE", path, key_b, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "GET", "/api/v1/channels", key_b, NULL, NULL);
	expect_status(&a, 200);
	assert_false(list_has(&a, wa_id));
	assert_false(list_has(&a, tg_id));
	ans_free(&a);

	/* disable with PATCH, enable again, disable with DELETE */
	api(&a, "PATCH", path, key_a, "{\"status\":\"disabled\",\"name\":\"Old number\"}", NULL);
	expect_status(&a, 200);
	assert_string_equal(jstr(a.json, "status"), "disabled");
	assert_string_equal(jstr(a.json, "name"), "Old number");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"status\":\"active\"}", NULL);
	expect_status(&a, 200);
	assert_string_equal(jstr(a.json, "status"), "active");
	ans_free(&a);
	api(&a, "DELETE", path, key_a, NULL, NULL);
	expect_status(&a, 204);
	assert_null(a.json);
	ans_free(&a);
	api(&a, "GET", path, key_a, NULL, NULL);
	assert_string_equal(jstr(a.json, "status"), "disabled");
	ans_free(&a);
	/* a disabled number may be registered again */
	api(&a, "POST", "/api/v1/channels", key_a, wa_body, NULL);
	expect_status(&a, 201);
	ans_free(&a);

	free(wa_id);
	free(tg_id);
}

/* The channel's stored config, rendered by the WhatsApp adapter as the dispatcher would for an
 * order status update 25 hours after the shopper's last message; the Graph API body or the
 * error (heap). */
static char *render_event(const char *channel_id, const char *event_type)
{
	const struct channel_ops *ops = channel_ops_find("whatsapp");
	struct channel_target t;
	struct channel_request *reqs = NULL;
	size_t nreqs = 0;
	json_t *cfg, *reply;
	char err[256] = "", *v, *out;
	int rc;

	v = app_scalar(tenant_a, "SELECT config::text FROM channels WHERE id = $1", 1,
	               (const char *const[]){channel_id});
	cfg = v ? json_loads(v, 0, NULL) : NULL;
	free(v);
	assert_non_null(cfg);
	json_object_set_new(cfg, "access_token", json_string("EAAGtemplateTest"));
	reply = json_pack("{s:s}", "text", "Your order #1001 is on its way.");
	memset(&t, 0, sizeof(t));
	t.channel_id = channel_id;
	t.api_base = "http://127.0.0.1:9";
	t.api_version = "v21.0";
	t.config = cfg;
	t.recipient = "254700000001";
	t.window_age = 25 * 3600;
	t.event_type = event_type;
	assert_non_null(ops);
	rc = ops->render(&t, reply, &reqs, &nreqs, err, sizeof(err));
	out = strdup(rc == 0 && nreqs == 1 ? reqs[0].body : err);
	channel_requests_free(reqs, nreqs);
	json_decref(reply);
	json_decref(cfg);
	return out;
}

static char *render_status_update(const char *channel_id)
{
	return render_event(channel_id, "order.status_changed");
}

/* A WhatsApp channel's status template: accepted on POST and PATCH (validated), stored in
 * channels.config where the adapter reads it, shown by GET, replaced or removed by PATCH. */
static void test_channel_status_template(void **state)
{
	static const char *wa_body =
	    "{\"type\":\"whatsapp\",\"phone_number_id\":\"2098765432\","
	    "\"access_token\":\"EAAGtplAccessTokSECRET\",\"app_secret\":\"appSecretTpl1\","
	    "\"verify_token\":\"verifyTokTpl1\",\"status_template\":{\"name\":\"order_update\","
	    "\"language\":\"en_US\"}}";
	struct ans a;
	char path[128], *id, *tg, *v;
	json_t *tpl;

	(void)state;
	secret_add("EAAGtplAccessTokSECRET");
	secret_add("appSecretTpl1");
	secret_add("verifyTokTpl1");
	api(&a, "POST", "/api/v1/channels", key_a, wa_body, NULL);
	expect_status(&a, 201);
	id = strdup(jstr(a.json, "id"));
	tpl = json_object_get(a.json, "status_template");
	assert_string_equal(jstr(tpl, "name"), "order_update");
	assert_string_equal(jstr(tpl, "language"), "en_US");
	ans_free(&a);
	snprintf(path, sizeof(path), "/api/v1/channels/%s", id);

	/* stored where the adapter reads it: a status update outside the window goes out as it */
	v = app_scalar(tenant_a, "SELECT config->>'status_template' FROM channels WHERE id = $1", 1,
	               (const char *const[]){id});
	assert_non_null(v);
	assert_non_null(strstr(v, "\"name\": \"order_update\""));
	free(v);
	v = render_status_update(id);
	assert_non_null(strstr(v, "\"type\":\"template\""));
	assert_non_null(strstr(v, "\"name\":\"order_update\""));
	assert_non_null(strstr(v, "\"code\":\"en_US\""));
	assert_non_null(strstr(v, "Your order #1001 is on its way."));
	free(v);

	/* GET shows it (it is not a secret) */
	api(&a, "GET", path, key_a, NULL, NULL);
	expect_status(&a, 200);
	tpl = json_object_get(a.json, "status_template");
	assert_string_equal(jstr(tpl, "name"), "order_update");
	assert_string_equal(jstr(tpl, "language"), "en_US");
	assert_string_equal(jstr(a.json, "phone_number_id"), "2098765432");
	ans_free(&a);

	/* validation names the field */
	{
		static const struct {
			const char *body, *field;
		} bad[] = {
		    {"{\"status_template\":\"order_update\"}", "status_template"},
		    {"{\"status_template\":{\"language\":\"en\"}}", "status_template.name"},
		    {"{\"status_template\":{\"name\":\"\",\"language\":\"en\"}}",
		     "status_template.name"},
		    {"{\"status_template\":{\"name\":\"Order Update\",\"language\":\"en\"}}",
		     "status_template.name"},
		    {"{\"status_template\":{\"name\":\"order-update\",\"language\":\"en\"}}",
		     "status_template.name"},
		    {"{\"status_template\":{\"name\":\"order_update\"}}",
		     "status_template.language"},
		    {"{\"status_template\":{\"name\":\"order_update\",\"language\":\"english\"}}",
		     "status_template.language"},
		    {"{\"status_template\":{\"name\":\"order_update\",\"language\":\"en_us\"}}",
		     "status_template.language"},
		    {"{\"status_template\":{\"name\":\"order_update\",\"language\":\"e\"}}",
		     "status_template.language"},
		    {"{\"status_template\":{\"name\":\"order_update\",\"language\":\"en\","
		     "\"body_param\":\"no\"}}",
		     "status_template.body_param"},
		    {"{\"status_template\":{\"name\":\"order_update\",\"language\":\"en\","
		     "\"components\":[]}}",
		     "status_template.components"},
		};
		char name513[600];
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			api(&a, "PATCH", path, key_a, bad[i].body, NULL);
			expect_error(&a, 400, "validation", bad[i].field);
			ans_free(&a);
		}
		{
			char body[700];

			memset(name513, 'a', 513);
			name513[513] = '\0';
			snprintf(body, sizeof(body),
			         "{\"status_template\":{\"name\":\"%s\",\"language\":\"en\"}}",
			         name513);
			api(&a, "PATCH", path, key_a, body, NULL);
			expect_error(&a, 400, "validation", "status_template.name");
			ans_free(&a);
			name513[512] = '\0';
			snprintf(body, sizeof(body),
			         "{\"status_template\":{\"name\":\"%s\",\"language\":\"en\"}}",
			         name513);
			api(&a, "PATCH", path, key_a, body, NULL);
			expect_status(&a, 200);
			ans_free(&a);
		}
		/* POST checks it too, and nothing is registered */
		api(&a, "POST", "/api/v1/channels", key_a,
		    "{\"type\":\"whatsapp\",\"phone_number_id\":\"2098765433\","
		    "\"access_token\":\"EAAGtplAccessTokSECRET\",\"app_secret\":\"appSecretTpl1\","
		    "\"verify_token\":\"verifyTokTpl1\",\"status_template\":{\"name\":\"x y\","
		    "\"language\":\"en\"}}",
		    NULL);
		expect_error(&a, 400, "validation", "status_template.name");
		ans_free(&a);
		assert_int_equal(
		    app_count(tenant_a,
		              "SELECT count(*) FROM channels WHERE external_id = '2098765433'", 0,
		              NULL),
		    0);
		/* a Telegram bot has no such thing */
		api(&a, "POST", "/api/v1/channels", key_a,
		    "{\"type\":\"telegram\",\"bot_token\":\"777:AAtplBotTok\",\"secret_token\":"
		    "\"tplSecret1\",\"status_template\":{\"name\":\"a\",\"language\":\"en\"}}",
		    NULL);
		expect_error(&a, 400, "validation", "status_template");
		ans_free(&a);
	}

	/* PATCH replaces it whole (body_param kept only when sent), other keys stay */
	api(&a, "PATCH", path, key_a,
	    "{\"status_template\":{\"name\":\"order_update_sw\",\"language\":\"sw\","
	    "\"body_param\":false}}",
	    NULL);
	expect_status(&a, 200);
	tpl = json_object_get(a.json, "status_template");
	assert_string_equal(jstr(tpl, "name"), "order_update_sw");
	assert_string_equal(jstr(tpl, "language"), "sw");
	assert_true(json_is_false(json_object_get(tpl, "body_param")));
	ans_free(&a);
	v = render_status_update(id);
	assert_non_null(strstr(v, "\"name\":\"order_update_sw\""));
	assert_null(strstr(v, "components")); /* body_param false: no parameter */
	free(v);
	api(&a, "PATCH", path, key_a, "{\"name\":\"Renamed\"}", NULL);
	expect_status(&a, 200);
	assert_string_equal(jstr(json_object_get(a.json, "status_template"), "name"),
	                    "order_update_sw");
	ans_free(&a);
	v = app_scalar(tenant_a, "SELECT config->>'phone_number_id' FROM channels WHERE id = $1", 1,
	               (const char *const[]){id});
	assert_string_equal(v, "2098765432");
	free(v);

	/* null removes it: a status update outside the window is undeliverable again */
	api(&a, "PATCH", path, key_a, "{\"status_template\":null}", NULL);
	expect_status(&a, 200);
	assert_true(json_is_null(json_object_get(a.json, "status_template")));
	ans_free(&a);
	v = render_status_update(id);
	assert_non_null(strstr(v, "no status_template"));
	free(v);

	/* another tenant cannot set it */
	api(&a, "PATCH", path, key_b,
	    "{\"status_template\":{\"name\":\"order_update\",\"language\":\"en\"}}", NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	/* a Telegram channel's PATCH refuses it */
	tg = channel_create_tg(key_a, "778:AAtplBotTokTwo", "tplSecret2");
	snprintf(path, sizeof(path), "/api/v1/channels/%s", tg);
	api(&a, "PATCH", path, key_a,
	    "{\"status_template\":{\"name\":\"order_update\",\"language\":\"en\"}}", NULL);
	expect_error(&a, 400, "validation", "status_template");
	ans_free(&a);
	api(&a, "GET", path, key_a, NULL, NULL);
	assert_null(json_object_get(a.json, "status_template"));
	ans_free(&a);
	free(tg);
	free(id);
}

/* A WhatsApp channel's notify_template (seller notifications outside the window) lives beside
 * the status template and never stands in for it, nor it for the notify template. */
static void test_channel_notify_template(void **state)
{
	static const char *wa_body =
	    "{\"type\":\"whatsapp\",\"phone_number_id\":\"2098765440\","
	    "\"access_token\":\"EAAGtplAccessTokSECRET\",\"app_secret\":\"appSecretTpl1\","
	    "\"verify_token\":\"verifyTokTpl1\",\"status_template\":{\"name\":\"order_update\","
	    "\"language\":\"en\"},\"notify_template\":{\"name\":\"seller_alert\","
	    "\"language\":\"sw\"}}";
	struct ans a;
	char path[128], *id, *v;

	(void)state;
	api(&a, "POST", "/api/v1/channels", key_a, wa_body, NULL);
	expect_status(&a, 201);
	id = strdup(jstr(a.json, "id"));
	assert_string_equal(jstr(json_object_get(a.json, "notify_template"), "name"),
	                    "seller_alert");
	assert_string_equal(jstr(json_object_get(a.json, "status_template"), "name"),
	                    "order_update");
	ans_free(&a);
	snprintf(path, sizeof(path), "/api/v1/channels/%s", id);
	v = render_event(id, "order.placed");
	assert_non_null(strstr(v, "\"name\":\"seller_alert\""));
	assert_non_null(strstr(v, "\"code\":\"sw\""));
	free(v);
	v = render_status_update(id);
	assert_non_null(strstr(v, "\"name\":\"order_update\""));
	free(v);

	/* validated like the status template */
	api(&a, "PATCH", path, key_a,
	    "{\"notify_template\":{\"name\":\"a b\",\"language\":\"en\"}}", NULL);
	expect_error(&a, 400, "validation", "notify_template.name");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"notify_template\":[]}", NULL);
	expect_error(&a, 400, "validation", "notify_template");
	ans_free(&a);

	/* removing one leaves the other; a seller notification then is undeliverable */
	api(&a, "PATCH", path, key_a, "{\"notify_template\":null}", NULL);
	expect_status(&a, 200);
	assert_true(json_is_null(json_object_get(a.json, "notify_template")));
	assert_string_equal(jstr(json_object_get(a.json, "status_template"), "name"),
	                    "order_update");
	ans_free(&a);
	v = render_event(id, "order.placed");
	assert_non_null(strstr(v, "no notify_template"));
	free(v);
	v = render_status_update(id);
	assert_non_null(strstr(v, "\"name\":\"order_update\""));
	free(v);

	/* both in one PATCH: one set, the other removed */
	api(&a, "PATCH", path, key_a,
	    "{\"status_template\":null,\"notify_template\":{\"name\":\"seller_alert_2\","
	    "\"language\":\"en_US\",\"body_param\":true}}",
	    NULL);
	expect_status(&a, 200);
	assert_true(json_is_null(json_object_get(a.json, "status_template")));
	assert_string_equal(jstr(json_object_get(a.json, "notify_template"), "name"),
	                    "seller_alert_2");
	ans_free(&a);
	api(&a, "GET", path, key_a, NULL, NULL);
	expect_status(&a, 200);
	assert_string_equal(jstr(json_object_get(a.json, "notify_template"), "language"), "en_US");
	assert_true(json_is_null(json_object_get(a.json, "status_template")));
	ans_free(&a);
	v = render_status_update(id);
	assert_non_null(strstr(v, "no status_template"));
	free(v);
	v = app_scalar(tenant_a, "SELECT config->>'phone_number_id' FROM channels WHERE id = $1", 1,
	               (const char *const[]){id});
	assert_string_equal(v, "2098765440");
	free(v);
	free(id);
}

static void test_no_secret_key(void **state)
{
	struct testsrv s2, keep = srv;
	struct ans a;
	const char *env[] = {"CCGW_SECRET_KEY=", "CCGW_DISPATCH_WORKERS=0", NULL};

	(void)state;
	testsrv_start(&s2, &db, env);
	srv = s2;
	api(&a, "POST", "/api/v1/channels", key_a,
	    "{\"type\":\"telegram\",\"bot_token\":\"5550001:AAnokeySECRET\",\"secret_token\":"
	    "\"nokey\"}",
	    NULL);
	expect_error(&a, 500, "secret_key_missing", NULL);
	ans_free(&a);
	api(&a, "POST", "/api/v1/notification-targets", key_a,
	    "{\"kind\":\"webhook\",\"url\":\"https://hooks.example.test/"
	    "x\",\"secret\":\"nokeyhook\"}",
	    NULL);
	expect_error(&a, 500, "secret_key_missing", NULL);
	ans_free(&a);
	srv = keep;
	testsrv_stop(&s2);
	assert_int_equal(app_count(tenant_a,
	                           "SELECT count(*) FROM channels WHERE external_id = '5550001'", 0,
	                           NULL),
	                 0);
}

static void test_products(void **state)
{
	struct ans a;
	char path[128], *id, *id2;
	json_t *p;

	(void)state;
	api(&a, "POST", "/api/v1/products", key_a,
	    "{\"sku\":\"TEA-1\",\"name\":\"Kericho Gold Tea\",\"description\":\"500 g\","
	    "\"category\":\"Drinks\",\"price_minor\":45000,\"currency\":\"KES\",\"stock\":12,"
	    "\"active\":true}",
	    NULL);
	expect_status(&a, 201);
	p = a.json;
	id = strdup(jstr(p, "id"));
	assert_string_equal(jstr(p, "sku"), "TEA-1");
	assert_string_equal(jstr(p, "name"), "Kericho Gold Tea");
	assert_string_equal(jstr(p, "category"), "Drinks");
	assert_int_equal(jint(p, "price_minor"), 45000);
	assert_string_equal(jstr(p, "currency"), "KES");
	assert_int_equal(jint(p, "stock"), 12);
	assert_true(json_is_true(json_object_get(p, "active")));
	ans_free(&a);

	/* defaults: the tenant's currency, General, no stock, active */
	api(&a, "POST", "/api/v1/products", key_a,
	    "{\"sku\":\"SUGAR-2\",\"name\":\"Sugar 2 kg\",\"price_minor\":30000}", NULL);
	expect_status(&a, 201);
	id2 = strdup(jstr(a.json, "id"));
	assert_string_equal(jstr(a.json, "currency"), "KES");
	assert_string_equal(jstr(a.json, "category"), "General");
	assert_int_equal(jint(a.json, "stock"), 0);
	assert_true(json_is_true(json_object_get(a.json, "active")));
	ans_free(&a);

	/* validation */
	{
		static const struct {
			const char *body, *field, *code;
		} bad[] = {
		    {"{\"sku\":\"X1\",\"name\":\"\",\"price_minor\":1}", "name", "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"   \",\"price_minor\":1}", "name", "validation"},
		    {"{\"sku\":\"X1\",\"price_minor\":1}", "name", "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"N\",\"price_minor\":-1}", "price_minor",
		     "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"N\",\"price_minor\":\"10\"}", "price_minor",
		     "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"N\",\"price_minor\":1.5}", "price_minor",
		     "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"N\"}", "price_minor", "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"N\",\"price_minor\":1,\"currency\":\"XYZ\"}",
		     "currency", "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"N\",\"price_minor\":1,\"currency\":\"kes\"}",
		     "currency", "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"N\",\"price_minor\":1,\"currency\":\"KESH\"}",
		     "currency", "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"N\",\"price_minor\":1,\"currency\":\"XAU\"}",
		     "currency", "validation"},
		    {"{\"name\":\"N\",\"price_minor\":1}", "sku", "validation"},
		    {"{\"sku\":\"\",\"name\":\"N\",\"price_minor\":1}", "sku", "validation"},
		    {"{\"sku\":\"TEA-1\",\"name\":\"Again\",\"price_minor\":1}", "sku",
		     "duplicate"},
		    {"{\"sku\":\"X1\",\"name\":\"N\",\"price_minor\":1,\"stock\":-3}", "stock",
		     "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"N\",\"price_minor\":1,\"active\":\"yes\"}",
		     "active", "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"N\",\"price_minor\":1,\"image_url\":\"ftp://x\"}",
		     "image_url", "validation"},
		    {"{\"sku\":\"X1\",\"name\":\"N\",\"price\":1}", "price", "validation"},
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			api(&a, "POST", "/api/v1/products", key_a, bad[i].body, NULL);
			expect_error(&a, 400, bad[i].code, bad[i].field);
			ans_free(&a);
		}
		api(&a, "POST", "/api/v1/products", key_a, "[1,2]", NULL);
		expect_error(&a, 400, "invalid_json", NULL);
		ans_free(&a);
		assert_int_equal(
		    app_count(tenant_a, "SELECT count(*) FROM products WHERE sku = 'X1'", 0, NULL),
		    0);
	}

	/* get, patch */
	snprintf(path, sizeof(path), "/api/v1/products/%s", id);
	api(&a, "GET", path, key_a, NULL, NULL);
	expect_status(&a, 200);
	assert_string_equal(jstr(a.json, "id"), id);
	assert_string_equal(jstr(a.json, "description"), "500 g");
	ans_free(&a);
	api(&a, "PATCH", path, key_a,
	    "{\"price_minor\":47500,\"stock\":3,\"image_url\":\"https://img.example.test/"
	    "tea.jpg\"}",
	    NULL);
	expect_status(&a, 200);
	assert_int_equal(jint(a.json, "price_minor"), 47500);
	assert_int_equal(jint(a.json, "stock"), 3);
	assert_string_equal(jstr(a.json, "name"), "Kericho Gold Tea");
	assert_string_equal(jstr(a.json, "image_url"), "https://img.example.test/tea.jpg");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"name\":\"\"}", NULL);
	expect_error(&a, 400, "validation", "name");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"price_minor\":-5}", NULL);
	expect_error(&a, 400, "validation", "price_minor");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"currency\":\"ABC\"}", NULL);
	expect_error(&a, 400, "validation", "currency");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"sku\":\"SUGAR-2\"}", NULL);
	expect_error(&a, 400, "duplicate", "sku");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"name\":null}", NULL);
	expect_error(&a, 400, "validation", "name");
	ans_free(&a);
	api(&a, "GET", path, key_a, NULL, NULL);
	assert_int_equal(jint(a.json, "price_minor"), 47500); /* failed patches changed nothing */
	assert_string_equal(jstr(a.json, "sku"), "TEA-1");
	ans_free(&a);

	/* tenant B: 404 everywhere, and not listed */
	api(&a, "GET", path, key_b, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "PATCH", path, key_b, "{\"price_minor\":1}", NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "DELETE", path, key_b, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "GET", "/api/v1/products", key_b, NULL, NULL);
	assert_false(list_has(&a, id));
	ans_free(&a);
	/* B may use the same sku in its own shop */
	free(product_create(key_b, "TEA-1", 100));
	api(&a, "GET", path, key_a, NULL, NULL);
	assert_int_equal(jint(a.json, "price_minor"), 47500);
	ans_free(&a);

	/* soft delete */
	api(&a, "GET", "/api/v1/products", key_a, NULL, NULL);
	assert_true(list_has(&a, id));
	ans_free(&a);
	api(&a, "DELETE", path, key_a, NULL, NULL);
	expect_status(&a, 204);
	ans_free(&a);
	api(&a, "GET", path, key_a, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"stock\":1}", NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "DELETE", path, key_a, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "GET", "/api/v1/products", key_a, NULL, NULL);
	assert_false(list_has(&a, id));
	assert_true(list_has(&a, id2));
	ans_free(&a);
	{
		const char *pp[1] = {id};
		char *v = app_scalar(tenant_a,
		                     "SELECT active::text || ',' || (deleted_at IS NOT NULL)::text "
		                     "FROM products WHERE id = $1",
		                     1, pp);

		assert_string_equal(v, "false,true");
		free(v);
	}
	/* the sku is free again */
	free(product_create(key_a, "TEA-1", 46000));

	/* malformed ids name no object */
	api(&a, "GET", "/api/v1/products/not-a-uuid", key_a, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	free(id);
	free(id2);
}

static void test_products_paging(void **state)
{
	char *ids[7], sku[16], path[256], cursor[128] = "";
	json_t *seen = json_object(), *it;
	struct ans a;
	int pages = 0, i;
	size_t k;

	(void)state;
	/* in tenant B, whose catalog is small */
	for (i = 0; i < 7; i++) {
		snprintf(sku, sizeof(sku), "PG-%d", i);
		ids[i] = product_create(key_b, sku, 100 + i);
	}
	for (;;) {
		if (cursor[0])
			snprintf(path, sizeof(path), "/api/v1/products?limit=3&cursor=%s", cursor);
		else
			snprintf(path, sizeof(path), "/api/v1/products?limit=3");
		api(&a, "GET", path, key_b, NULL, NULL);
		expect_status(&a, 200);
		assert_true(json_array_size(json_object_get(a.json, "data")) <= 3);
		json_array_foreach(json_object_get(a.json, "data"), k, it)
		{
			assert_null(json_object_get(seen, jstr(it, "id"))); /* no repeats */
			json_object_set_new(seen, jstr(it, "id"), json_true());
		}
		pages++;
		if (json_is_null(json_object_get(a.json, "next_cursor"))) {
			ans_free(&a);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", jstr(a.json, "next_cursor"));
		ans_free(&a);
		assert_true(pages < 10);
	}
	for (i = 0; i < 7; i++) {
		assert_non_null(json_object_get(seen, ids[i]));
		free(ids[i]);
	}
	assert_true(pages >= 3);
	json_decref(seen);

	api(&a, "GET", "/api/v1/products?limit=0", key_b, NULL, NULL);
	expect_error(&a, 400, "validation", "limit");
	ans_free(&a);
	api(&a, "GET", "/api/v1/products?limit=abc", key_b, NULL, NULL);
	expect_error(&a, 400, "validation", "limit");
	ans_free(&a);
	api(&a, "GET", "/api/v1/products?limit=1000", key_b, NULL, NULL);
	expect_error(&a, 400, "validation", "limit");
	ans_free(&a);
	api(&a, "GET", "/api/v1/products?cursor=garbage", key_b, NULL, NULL);
	expect_error(&a, 400, "validation", "cursor");
	ans_free(&a);
}

static void test_products_bulk(void **state)
{
	struct ans a;
	json_t *data;

	(void)state;
	api(&a, "POST", "/api/v1/products/bulk", key_a,
	    "[{\"sku\":\"BK-1\",\"name\":\"Maize flour\",\"price_minor\":18000,\"stock\":40},"
	    "{\"sku\":\"BK-2\",\"name\":\"Rice 1 "
	    "kg\",\"price_minor\":22000,\"category\":\"Grains\"},"
	    "{\"sku\":\"BK-3\",\"name\":\"Beans\",\"price_minor\":15000,\"currency\":\"KES\"}]",
	    NULL);
	expect_status(&a, 201);
	assert_int_equal(jint(a.json, "created"), 3);
	data = json_object_get(a.json, "data");
	assert_int_equal(json_array_size(data), 3);
	assert_string_equal(jstr(json_array_get(data, 0), "sku"), "BK-1");
	assert_string_equal(jstr(json_array_get(data, 1), "category"), "Grains");
	assert_string_equal(jstr(json_array_get(data, 2), "sku"), "BK-3");
	assert_non_null(jstr(json_array_get(data, 2), "id"));
	ans_free(&a);

	/* all or nothing: an error names the index and the field, nothing is stored */
	{
		static const struct {
			const char *body, *field, *code;
		} bad[] = {
		    {"[{\"sku\":\"BN-1\",\"name\":\"A\",\"price_minor\":1},"
		     "{\"sku\":\"BN-2\",\"name\":\"B\",\"price_minor\":-1}]",
		     "[1].price_minor", "validation"},
		    {"[{\"sku\":\"BN-1\",\"name\":\"A\",\"price_minor\":1},"
		     "{\"sku\":\"BN-2\",\"name\":\"\",\"price_minor\":1}]",
		     "[1].name", "validation"},
		    {"[{\"sku\":\"BN-1\",\"name\":\"A\",\"price_minor\":1,\"currency\":\"QQQ\"}]",
		     "[0].currency", "validation"},
		    {"[{\"sku\":\"BN-1\",\"name\":\"A\",\"price_minor\":1},"
		     "{\"sku\":\"BN-2\",\"name\":\"B\",\"price_minor\":1},"
		     "{\"sku\":\"BN-1\",\"name\":\"C\",\"price_minor\":1}]",
		     "[2].sku", "validation"},
		    {"[{\"sku\":\"BN-1\",\"name\":\"A\",\"price_minor\":1},"
		     "{\"sku\":\"BK-2\",\"name\":\"B\",\"price_minor\":1}]",
		     "[1].sku", "duplicate"},
		    {"[{\"sku\":\"BN-1\",\"name\":\"A\",\"price_minor\":1}, 7]", "[1]",
		     "validation"},
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			api(&a, "POST", "/api/v1/products/bulk", key_a, bad[i].body, NULL);
			expect_error(&a, 400, bad[i].code, bad[i].field);
			ans_free(&a);
		}
		assert_int_equal(app_count(tenant_a,
		                           "SELECT count(*) FROM products WHERE sku LIKE 'BN-%'", 0,
		                           NULL),
		                 0);
		api(&a, "POST", "/api/v1/products/bulk", key_a, "{\"sku\":\"BN-1\"}", NULL);
		expect_error(&a, 400, "invalid_json", NULL);
		ans_free(&a);
		api(&a, "POST", "/api/v1/products/bulk", key_a, "[]", NULL);
		expect_error(&a, 400, "validation", NULL);
		ans_free(&a);
	}

	/* upsert: existing skus are updated, fields left out keep their values */
	api(&a, "POST", "/api/v1/products/bulk?upsert=true", key_a,
	    "[{\"sku\":\"BK-1\",\"name\":\"Maize flour 2 kg\",\"price_minor\":19000},"
	    "{\"sku\":\"BK-4\",\"name\":\"Salt\",\"price_minor\":5000}]",
	    NULL);
	expect_status(&a, 201);
	assert_int_equal(jint(a.json, "created"), 1);
	assert_int_equal(jint(a.json, "updated"), 1);
	data = json_object_get(a.json, "data");
	assert_string_equal(jstr(json_array_get(data, 0), "name"), "Maize flour 2 kg");
	assert_int_equal(jint(json_array_get(data, 0), "price_minor"), 19000);
	assert_int_equal(jint(json_array_get(data, 0), "stock"), 40);
	ans_free(&a);

	/* B's import does not see A's skus */
	api(&a, "POST", "/api/v1/products/bulk", key_b,
	    "[{\"sku\":\"BK-1\",\"name\":\"B's own\",\"price_minor\":1}]", NULL);
	expect_status(&a, 201);
	ans_free(&a);
}

static void test_orders(void **state)
{
	struct seed s = {0};
	struct ans a;
	char path[128], *tg, *prod;
	json_t *o;
	const char *p[1];

	(void)state;
	tg = channel_create_tg(key_a, "222333444:AAordersBotSECRET", "ordersSecretTok");
	prod = product_create(key_a, "ORD-1", 2500);
	s.channel_id = tg;
	s.product_id = prod;
	s.number = "1042";
	order_seed(&s);
	snprintf(path, sizeof(path), "/api/v1/orders/%s", s.order_id);

	/* one order, in the contract's shape */
	api(&a, "GET", path, key_a, NULL, NULL);
	expect_status(&a, 200);
	o = a.json;
	assert_string_equal(jstr(o, "id"), s.order_id);
	assert_int_equal(jint(o, "order_number"), 1042);
	assert_string_equal(jstr(o, "status"), "pending");
	assert_int_equal(jint(o, "version"), 1);
	assert_int_equal(json_array_size(json_object_get(o, "items")), 1);
	assert_string_equal(jstr(json_array_get(json_object_get(o, "items"), 0), "sku"), "ORD-1");
	assert_int_equal(jint(json_array_get(json_object_get(o, "items"), 0), "subtotal_minor"),
	                 5000);
	assert_int_equal(jint(json_object_get(o, "totals"), "total_minor"), 5000);
	assert_string_equal(jstr(json_object_get(o, "customer"), "name"), "Amina");
	assert_string_equal(jstr(json_object_get(o, "channel_meta"), "channel"), "telegram");
	assert_string_equal(jstr(json_object_get(o, "channel_meta"), "conversation_id"), s.conv_id);
	assert_non_null(strcasestr(a.headers, "ETag: \"1\""));
	ans_free(&a);

	/* lists by status */
	api(&a, "GET", "/api/v1/orders", key_a, NULL, NULL);
	assert_true(list_has(&a, s.order_id));
	ans_free(&a);
	api(&a, "GET", "/api/v1/orders?status=pending", key_a, NULL, NULL);
	assert_true(list_has(&a, s.order_id));
	ans_free(&a);
	api(&a, "GET", "/api/v1/orders?status=shipped", key_a, NULL, NULL);
	expect_status(&a, 200);
	assert_false(list_has(&a, s.order_id));
	ans_free(&a);
	api(&a, "GET", "/api/v1/orders?status=lost", key_a, NULL, NULL);
	expect_error(&a, 400, "validation", "status");
	ans_free(&a);

	/* tenant B */
	api(&a, "GET", path, key_b, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "PATCH", path, key_b, "{\"status\":\"confirmed\"}",
	    (const char *const[]){"If-Match: 1", NULL});
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "PATCH", path, key_b, "{\"status\":\"confirmed\"}", NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "GET", "/api/v1/orders", key_b, NULL, NULL);
	assert_false(list_has(&a, s.order_id));
	ans_free(&a);

	/* If-Match: missing 428, malformed 400, stale 412; unknown status 400 */
	api(&a, "PATCH", path, key_a, "{\"status\":\"confirmed\"}", NULL);
	expect_error(&a, 428, "precondition_required", "If-Match");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"status\":\"confirmed\"}",
	    (const char *const[]){"If-Match: one", NULL});
	expect_error(&a, 400, "validation", "If-Match");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"status\":\"confirmed\"}",
	    (const char *const[]){"If-Match: 7", NULL});
	expect_error(&a, 412, "version_mismatch", "If-Match");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"status\":\"teleported\"}",
	    (const char *const[]){"If-Match: 1", NULL});
	expect_error(&a, 400, "validation", "status");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{}", (const char *const[]){"If-Match: 1", NULL});
	expect_error(&a, 400, "validation", "status");
	ans_free(&a);

	/* the change: new version, event, and the shopper's message on the order's channel */
	api(&a, "PATCH", path, key_a, "{\"status\":\"confirmed\"}",
	    (const char *const[]){"If-Match: 1", NULL});
	expect_status(&a, 200);
	assert_string_equal(jstr(a.json, "status"), "confirmed");
	assert_int_equal(jint(a.json, "version"), 2);
	assert_non_null(strcasestr(a.headers, "ETag: \"2\""));
	ans_free(&a);
	p[0] = s.conv_id;
	assert_int_equal(app_count(tenant_a,
	                           "SELECT count(*) FROM conversation_events WHERE "
	                           "conversation_id = $1 AND event_type = 'order_status_changed'",
	                           1, p),
	                 1);
	{
		char *text =
		    app_scalar(tenant_a,
		               "SELECT payload->>'text' FROM outbox WHERE "
		               "conversation_id = $1 AND kind = 'reply' ORDER BY seq DESC LIMIT 1",
		               1, p);
		char *ch = app_scalar(tenant_a,
		                      "SELECT channel_id::text || ' ' || recipient FROM outbox "
		                      "WHERE conversation_id = $1 ORDER BY seq DESC LIMIT 1",
		                      1, p);
		char expect[128];

		assert_non_null(text);
		assert_non_null(strstr(text, "#1042"));
		snprintf(expect, sizeof(expect), "%s 7771042", tg);
		assert_string_equal(ch, expect);
		free(text);
		free(ch);
	}
	/* the old version is stale now; a forbidden transition is 409 */
	api(&a, "PATCH", path, key_a, "{\"status\":\"processing\"}",
	    (const char *const[]){"If-Match: 1", NULL});
	expect_error(&a, 412, "version_mismatch", NULL);
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"status\":\"delivered\"}",
	    (const char *const[]){"If-Match: \"2\"", NULL});
	expect_error(&a, 409, "transition_forbidden", "status");
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"status\":\"pending\"}",
	    (const char *const[]){"If-Match: 2", NULL});
	expect_error(&a, 409, "transition_forbidden", NULL);
	ans_free(&a);
	api(&a, "PATCH", path, key_a, "{\"status\":\"processing\"}",
	    (const char *const[]){"If-Match: \"2\"", NULL});
	expect_status(&a, 200);
	assert_int_equal(jint(a.json, "version"), 3);
	ans_free(&a);
	api(&a, "GET", "/api/v1/orders?status=processing", key_a, NULL, NULL);
	assert_true(list_has(&a, s.order_id));
	ans_free(&a);

	/* a deleted product leaves the order's snapshot alone */
	{
		char ppath[128];

		snprintf(ppath, sizeof(ppath), "/api/v1/products/%s", prod);
		api(&a, "DELETE", ppath, key_a, NULL, NULL);
		expect_status(&a, 204);
		ans_free(&a);
		api(&a, "GET", path, key_a, NULL, NULL);
		assert_string_equal(
		    jstr(json_array_get(json_object_get(a.json, "items"), 0), "name"),
		    "Item ORD-1");
		ans_free(&a);
	}
	free(tg);
	free(prod);
}

static void test_orders_paging(void **state)
{
	struct seed s[3];
	struct ans a;
	char *tg, *prod, path[256];
	const char *numbers[3] = {"2001", "2002", "2003"};
	int i;

	(void)state;
	tg = channel_create_tg(key_a, "333444555:AApagingBotSECRET", "pagingSecretTok");
	prod = product_create(key_a, "ORD-P", 100);
	for (i = 0; i < 3; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].channel_id = tg;
		s[i].product_id = prod;
		s[i].number = numbers[i];
		order_seed(&s[i]);
	}
	/* newest first, two per page */
	api(&a, "GET", "/api/v1/orders?limit=2", key_a, NULL, NULL);
	expect_status(&a, 200);
	assert_int_equal(json_array_size(json_object_get(a.json, "data")), 2);
	assert_int_equal(jint(json_array_get(json_object_get(a.json, "data"), 0), "order_number"),
	                 2003);
	assert_true(json_is_string(json_object_get(a.json, "next_cursor")));
	snprintf(path, sizeof(path), "/api/v1/orders?limit=2&cursor=%s",
	         jstr(a.json, "next_cursor"));
	ans_free(&a);
	api(&a, "GET", path, key_a, NULL, NULL);
	expect_status(&a, 200);
	assert_int_equal(jint(json_array_get(json_object_get(a.json, "data"), 0), "order_number"),
	                 2001);
	ans_free(&a);
	free(tg);
	free(prod);
}

static void test_conversations(void **state)
{
	struct seed s = {0};
	struct ans a;
	char path[160], *tg, *prod;
	const char *p[1];
	json_t *data;
	long long last_seq = 0;
	size_t i;

	(void)state;
	tg = channel_create_tg(key_a, "444555666:AAconvBotSECRET", "convSecretTok");
	prod = product_create(key_a, "CONV-1", 700);
	s.channel_id = tg;
	s.product_id = prod;
	s.number = "3001";
	order_seed(&s);
	p[0] = s.conv_id;
	assert_int_equal(
	    app_count(tenant_a,
	              "WITH e AS (INSERT INTO conversation_events (tenant_id, "
	              "conversation_id, event_type, payload) SELECT app_tenant_id(), $1, "
	              "t, jsonb_build_object('n', n) FROM unnest(ARRAY['message_received',"
	              "'intent','message_sent']) WITH ORDINALITY AS x(t, n) RETURNING 1) "
	              "SELECT count(*) FROM e",
	              1, p),
	    3);

	/* events, oldest first */
	snprintf(path, sizeof(path), "/api/v1/conversations/%s/events", s.conv_id);
	api(&a, "GET", path, key_a, NULL, NULL);
	expect_status(&a, 200);
	data = json_object_get(a.json, "data");
	assert_int_equal(json_array_size(data), 3);
	assert_string_equal(jstr(json_array_get(data, 0), "event_type"), "message_received");
	assert_string_equal(jstr(json_array_get(data, 2), "event_type"), "message_sent");
	for (i = 0; i < json_array_size(data); i++) {
		assert_true(jint(json_array_get(data, i), "seq") > last_seq);
		last_seq = jint(json_array_get(data, i), "seq");
	}
	assert_int_equal(jint(json_object_get(json_array_get(data, 1), "payload"), "n"), 2);
	ans_free(&a);
	/* paged */
	snprintf(path, sizeof(path), "/api/v1/conversations/%s/events?limit=2", s.conv_id);
	api(&a, "GET", path, key_a, NULL, NULL);
	assert_int_equal(json_array_size(json_object_get(a.json, "data")), 2);
	snprintf(path, sizeof(path), "/api/v1/conversations/%s/events?limit=2&cursor=%s", s.conv_id,
	         jstr(a.json, "next_cursor"));
	ans_free(&a);
	api(&a, "GET", path, key_a, NULL, NULL);
	expect_status(&a, 200);
	data = json_object_get(a.json, "data");
	assert_int_equal(json_array_size(data), 1);
	assert_string_equal(jstr(json_array_get(data, 0), "event_type"), "message_sent");
	assert_true(json_is_null(json_object_get(a.json, "next_cursor")));
	ans_free(&a);

	/* the conversation itself, and the handoff list */
	snprintf(path, sizeof(path), "/api/v1/conversations/%s", s.conv_id);
	api(&a, "GET", path, key_a, NULL, NULL);
	expect_status(&a, 200);
	assert_true(json_is_false(json_object_get(a.json, "handoff")));
	assert_string_equal(jstr(a.json, "channel"), "telegram");
	ans_free(&a);

	/* a person writes: handoff, and the text goes to the outbox on the conversation's channel
	 */
	snprintf(path, sizeof(path), "/api/v1/conversations/%s/messages", s.conv_id);
	api(&a, "POST", path, key_a, "{\"text\":\"Hello Amina, this is Wanjiru from the shop.\"}",
	    NULL);
	expect_status(&a, 201);
	assert_true(json_is_true(json_object_get(a.json, "handoff")));
	ans_free(&a);
	{
		char *text = app_scalar(tenant_a,
		                        "SELECT payload->>'text' FROM outbox WHERE "
		                        "conversation_id = $1 ORDER BY seq DESC LIMIT 1",
		                        1, p);

		assert_string_equal(text, "Hello Amina, this is Wanjiru from the shop.");
		free(text);
	}
	api(&a, "GET", "/api/v1/conversations?handoff=true", key_a, NULL, NULL);
	assert_true(list_has(&a, s.conv_id));
	ans_free(&a);
	api(&a, "POST", path, key_a, "{\"text\":\"\"}", NULL);
	expect_error(&a, 400, "validation", "text");
	ans_free(&a);
	api(&a, "POST", path, key_a, "{\"text\":\"  \"}", NULL);
	expect_error(&a, 400, "validation", "text");
	ans_free(&a);
	api(&a, "POST", path, key_a, "{}", NULL);
	expect_error(&a, 400, "validation", "text");
	ans_free(&a);
	api(&a, "POST", path, key_a, "{\"text\":42}", NULL);
	expect_error(&a, 400, "validation", "text");
	ans_free(&a);

	/* tenant B */
	api(&a, "POST", path, key_b, "{\"text\":\"hi\"}", NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	snprintf(path, sizeof(path), "/api/v1/conversations/%s/events", s.conv_id);
	api(&a, "GET", path, key_b, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	snprintf(path, sizeof(path), "/api/v1/conversations/%s/release", s.conv_id);
	api(&a, "POST", path, key_b, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	snprintf(path, sizeof(path), "/api/v1/conversations/%s", s.conv_id);
	api(&a, "GET", path, key_b, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "GET", "/api/v1/conversations", key_b, NULL, NULL);
	assert_false(list_has(&a, s.conv_id));
	ans_free(&a);

	/* release: back to the bot */
	snprintf(path, sizeof(path), "/api/v1/conversations/%s/release", s.conv_id);
	api(&a, "POST", path, key_a, NULL, NULL);
	expect_status(&a, 200);
	assert_true(json_is_false(json_object_get(a.json, "handoff")));
	assert_true(json_is_true(json_object_get(a.json, "released")));
	ans_free(&a);
	assert_int_equal(app_count(tenant_a,
	                           "SELECT count(*) FROM conversations WHERE id = $1 "
	                           "AND NOT handoff",
	                           1, p),
	                 1);
	assert_int_equal(app_count(tenant_a,
	                           "SELECT count(*) FROM conversation_events WHERE "
	                           "conversation_id = $1 AND event_type = 'handoff_released'",
	                           1, p),
	                 1);
	api(&a, "GET", "/api/v1/conversations?handoff=true", key_a, NULL, NULL);
	assert_false(list_has(&a, s.conv_id));
	ans_free(&a);
	free(tg);
	free(prod);
}

static void test_targets(void **state)
{
	struct ans a;
	char body[512], path[128], *tg, *wa_id, *t_tg, *t_wa, *t_wh;
	const char *p[2];
	char *v;

	(void)state;
	tg = channel_create_tg(key_a, "555666777:AAtargetsBotSECRET", "targetsSecretTok");
	api(&a, "POST", "/api/v1/channels", key_a,
	    "{\"type\":\"whatsapp\",\"phone_number_id\":\"2223334445\",\"access_token\":"
	    "\"EAAtargetsWaSECRET\","
	    "\"app_secret\":\"targetsAppSecret\",\"verify_token\":\"targetsVerify\"}",
	    NULL);
	expect_status(&a, 201);
	wa_id = strdup(jstr(a.json, "id"));
	ans_free(&a);

	snprintf(body, sizeof(body),
	         "{\"kind\":\"telegram\",\"channel_id\":\"%s\",\"chat_id\":-100123}", tg);
	api(&a, "POST", "/api/v1/notification-targets", key_a, body, NULL);
	expect_status(&a, 201);
	t_tg = strdup(jstr(a.json, "id"));
	assert_string_equal(jstr(a.json, "chat_id"), "-100123");
	ans_free(&a);
	snprintf(body, sizeof(body),
	         "{\"kind\":\"whatsapp\",\"channel_id\":\"%s\",\"to\":\"+254 712-345678\"}", wa_id);
	api(&a, "POST", "/api/v1/notification-targets", key_a, body, NULL);
	expect_status(&a, 201);
	t_wa = strdup(jstr(a.json, "id"));
	assert_string_equal(jstr(a.json, "to"), "254712345678");
	ans_free(&a);
	api(&a, "POST", "/api/v1/notification-targets", key_a,
	    "{\"kind\":\"webhook\",\"url\":\"https://hooks.example.test/"
	    "orders\",\"secret\":\"whSecretSigning42\"}",
	    NULL);
	expect_status(&a, 201);
	t_wh = strdup(jstr(a.json, "id"));
	assert_string_equal(jstr(a.json, "url"), "https://hooks.example.test/orders");
	assert_true(json_is_true(json_object_get(a.json, "has_secret")));
	ans_free(&a);

	/* the webhook secret is sealed */
	p[0] = t_wh;
	v = app_scalar(tenant_a, "SELECT secret FROM notification_targets WHERE id = $1", 1, p);
	assert_non_null(v);
	{
		unsigned char key[32], *sealed;
		size_t len;
		char *plain;
		const char *pp[2] = {t_wh, "whSecretSigning42"};
		char *pos = app_scalar(tenant_a,
		                       "SELECT position(convert_to($2, 'UTF8') IN secret) "
		                       "FROM notification_targets WHERE id = $1",
		                       2, pp);

		assert_string_equal(pos, "0");
		free(pos);
		assert_int_equal(secrets_key_parse(db.secret_key, key), 0);
		assert_int_equal(secrets_bytea_decode(v, &sealed, &len), 0);
		assert_int_equal(secrets_open(key, tenant_a, sealed, len, &plain), 0);
		assert_string_equal(plain, "whSecretSigning42");
		free(plain);
		free(sealed);
	}
	free(v);

	api(&a, "GET", "/api/v1/notification-targets", key_a, NULL, NULL);
	expect_status(&a, 200);
	assert_true(list_has(&a, t_tg));
	assert_true(list_has(&a, t_wa));
	assert_true(list_has(&a, t_wh));
	ans_free(&a);

	/* validation */
	{
		char b[16][256];
		const char *field[16];
		int n = 0, i;

		snprintf(b[n], 256, "{\"channel_id\":\"%s\",\"chat_id\":\"1\"}", tg),
		    field[n++] = "kind";
		snprintf(b[n], 256, "{\"kind\":\"email\"}"), field[n++] = "kind";
		snprintf(b[n], 256, "{\"kind\":\"telegram\",\"chat_id\":\"1\"}"),
		    field[n++] = "channel_id";
		snprintf(b[n], 256,
		         "{\"kind\":\"telegram\",\"channel_id\":\"nope\",\"chat_id\":\"1\"}"),
		    field[n++] = "channel_id";
		snprintf(b[n], 256, "{\"kind\":\"telegram\",\"channel_id\":\"%s\"}", tg),
		    field[n++] = "chat_id";
		snprintf(b[n], 256,
		         "{\"kind\":\"telegram\",\"channel_id\":\"%s\",\"chat_id\":\"abc\"}", tg),
		    field[n++] = "chat_id";
		snprintf(b[n], 256,
		         "{\"kind\":\"telegram\",\"channel_id\":\"%s\",\"chat_id\":\"1\"}", wa_id),
		    field[n++] = "channel_id";
		snprintf(b[n], 256, "{\"kind\":\"whatsapp\",\"channel_id\":\"%s\",\"to\":\"12\"}",
		         wa_id),
		    field[n++] = "to";
		snprintf(b[n], 256, "{\"kind\":\"whatsapp\",\"channel_id\":\"%s\"}", wa_id),
		    field[n++] = "to";
		snprintf(b[n], 256,
		         "{\"kind\":\"webhook\",\"url\":\"ftp://x.example\",\"secret\":\"s\"}"),
		    field[n++] = "url";
		snprintf(b[n], 256, "{\"kind\":\"webhook\",\"secret\":\"s\"}"), field[n++] = "url";
		snprintf(b[n], 256, "{\"kind\":\"webhook\",\"url\":\"https://x.example/h\"}"),
		    field[n++] = "secret";
		snprintf(b[n], 256,
		         "{\"kind\":\"webhook\",\"url\":\"https://x.example/h\",\"secret\":\"\"}"),
		    field[n++] = "secret";
		snprintf(b[n], 256,
		         "{\"kind\":\"webhook\",\"url\":\"https://x.example/"
		         "h\",\"secret\":\"s\",\"chat_id\":\"1\"}"),
		    field[n++] = "chat_id";
		for (i = 0; i < n; i++) {
			api(&a, "POST", "/api/v1/notification-targets", key_a, b[i], NULL);
			expect_error(&a, 400, "validation", field[i]);
			ans_free(&a);
		}
	}

	/* a webhook URL cannot reach inside the operator's network, in any spelling; nothing is
	 * stored (the list below still has only the first webhook target) */
	{
		static const char *const inside[] = {
		    "http://127.0.0.1:8080/hook", "http://2130706433/", "http://0x7f.1/",
		    "http://[::ffff:127.0.0.1]/", "http://[::1]/", "http://localhost/h",
		    "http://10.1.2.3/", "http://172.16.0.9/", "http://192.168.1.20/",
		    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/",
		    "http://[fd00::5]/", "http://0.0.0.0/",
		};
		size_t k;

		for (k = 0; k < sizeof(inside) / sizeof(inside[0]); k++) {
			snprintf(body, sizeof(body),
			         "{\"kind\":\"webhook\",\"url\":\"%s\",\"secret\":\"s\"}", inside[k]);
			api(&a, "POST", "/api/v1/notification-targets", key_a, body, NULL);
			expect_error(&a, 400, "validation", "url");
			ans_free(&a);
		}
		api(&a, "GET", "/api/v1/notification-targets", key_a, NULL, NULL);
		{
			json_t *row;
			size_t j;

			json_array_foreach(json_object_get(a.json, "data"), j, row)
			{
				const char *u = jstr(row, "url");

				assert_true(!u || strncmp(u, "https://hooks.example.test/", 27) == 0);
			}
		}
		ans_free(&a);
	}

	/* tenant B: A's channel is not B's, A's target is not B's */
	snprintf(body, sizeof(body),
	         "{\"kind\":\"telegram\",\"channel_id\":\"%s\",\"chat_id\":\"5\"}", tg);
	api(&a, "POST", "/api/v1/notification-targets", key_b, body, NULL);
	expect_error(&a, 404, "not_found", "channel_id");
	ans_free(&a);
	snprintf(path, sizeof(path), "/api/v1/notification-targets/%s", t_wh);
	api(&a, "DELETE", path, key_b, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "GET", "/api/v1/notification-targets", key_b, NULL, NULL);
	assert_false(list_has(&a, t_wh));
	ans_free(&a);

	api(&a, "DELETE", path, key_a, NULL, NULL);
	expect_status(&a, 204);
	ans_free(&a);
	api(&a, "DELETE", path, key_a, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "GET", "/api/v1/notification-targets", key_a, NULL, NULL);
	assert_false(list_has(&a, t_wh));
	assert_true(list_has(&a, t_tg));
	ans_free(&a);
	free(tg);
	free(wa_id);
	free(t_tg);
	free(t_wa);
	free(t_wh);
}

struct race {
	struct ans a;
	const char *body;
};

static void *race_post(void *arg)
{
	struct race *r = arg;
	char url[256];
	struct testhttp_resp resp;
	char auth[256];
	const char *h[] = {auth, "Content-Type: application/json", "Idempotency-Key: race-1", NULL};

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key_a);
	snprintf(url, sizeof(url), "%s/api/v1/products", srv.base_url);
	testhttp_request("POST", url, h, r->body, strlen(r->body), &resp);
	r->a.status = resp.status;
	r->a.json = json_loads(resp.body, 0, NULL);
	r->a.body = resp.body;
	r->a.headers = resp.headers;
	return NULL;
}

static void test_idempotency(void **state)
{
	static const char *body = "{\"sku\":\"IDEM-1\",\"name\":\"Once only\",\"price_minor\":990}";
	const char *const key1[] = {"Idempotency-Key: create-idem-1", NULL};
	struct ans a, b;
	char *id;

	(void)state;
	api(&a, "POST", "/api/v1/products", key_a, body, key1);
	expect_status(&a, 201);
	id = strdup(jstr(a.json, "id"));
	/* the same request again: the first answer, no second product */
	api(&b, "POST", "/api/v1/products", key_a, body, key1);
	expect_status(&b, 201);
	assert_string_equal(b.body, a.body);
	assert_non_null(strcasestr(b.headers, "Idempotent-Replayed: true"));
	assert_null(strcasestr(a.headers, "Idempotent-Replayed"));
	ans_free(&a);
	ans_free(&b);
	assert_int_equal(
	    app_count(tenant_a, "SELECT count(*) FROM products WHERE sku = 'IDEM-1'", 0, NULL), 1);

	/* the same key with another body: 422, nothing done */
	api(&a, "POST", "/api/v1/products", key_a,
	    "{\"sku\":\"IDEM-2\",\"name\":\"Other\",\"price_minor\":1}", key1);
	expect_error(&a, 422, "idempotency_key_reused", "Idempotency-Key");
	ans_free(&a);
	assert_int_equal(
	    app_count(tenant_a, "SELECT count(*) FROM products WHERE sku = 'IDEM-2'", 0, NULL), 0);

	/* keys are per tenant */
	api(&a, "POST", "/api/v1/products", key_b, body, key1);
	expect_status(&a, 201);
	assert_string_not_equal(jstr(a.json, "id"), id);
	ans_free(&a);

	/* a failed request is not remembered: the same key may carry the corrected request */
	{
		const char *const k2[] = {"Idempotency-Key: fix-me", NULL};

		api(&a, "POST", "/api/v1/products", key_a,
		    "{\"sku\":\"IDEM-3\",\"name\":\"\",\"price_minor\":1}", k2);
		expect_error(&a, 400, "validation", "name");
		ans_free(&a);
		api(&a, "POST", "/api/v1/products", key_a,
		    "{\"sku\":\"IDEM-3\",\"name\":\"Fixed\",\"price_minor\":1}", k2);
		expect_status(&a, 201);
		ans_free(&a);
	}

	/* a key older than 24 hours is forgotten */
	assert_int_equal(
	    app_count(tenant_a,
	              "WITH u AS (UPDATE idempotency_keys SET created_at = "
	              "now() - interval '25 hours' WHERE key = 'create-idem-1' RETURNING 1) "
	              "SELECT count(*) FROM u",
	              0, NULL),
	    1);
	api(&a, "POST", "/api/v1/products", key_a,
	    "{\"sku\":\"IDEM-4\",\"name\":\"Later\",\"price_minor\":1}", key1);
	expect_status(&a, 201);
	assert_null(strcasestr(a.headers, "Idempotent-Replayed"));
	ans_free(&a);

	/* other POST routes: a channel (its stored answer holds no secret), a handoff message */
	{
		const char *const k3[] = {"Idempotency-Key: chan-1", NULL};
		const char *chan =
		    "{\"type\":\"telegram\",\"bot_token\":\"777888999:AAidemBotSECRET\","
		    "\"secret_token\":\"idemSecretTok\"}";
		char *stored;

		api(&a, "POST", "/api/v1/channels", key_a, chan, k3);
		expect_status(&a, 201);
		api(&b, "POST", "/api/v1/channels", key_a, chan, k3);
		expect_status(&b, 201); /* not 409: the first answer again */
		assert_string_equal(a.body, b.body);
		ans_free(&a);
		ans_free(&b);
		stored = app_scalar(
		    tenant_a, "SELECT response_body FROM idempotency_keys WHERE key = 'chan-1'", 0,
		    NULL);
		assert_non_null(stored);
		assert_null(strstr(stored, "AAidemBotSECRET"));
		assert_null(strstr(stored, "idemSecretTok"));
		free(stored);
	}

	/* two at once with the same key: one effect, the same answer */
	{
		struct race r1 = {.body =
		                      "{\"sku\":\"RACE-1\",\"name\":\"Race\",\"price_minor\":5}"};
		struct race r2 = r1;
		pthread_t t1, t2;

		pthread_create(&t1, NULL, race_post, &r1);
		pthread_create(&t2, NULL, race_post, &r2);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		expect_status(&r1.a, 201);
		expect_status(&r2.a, 201);
		assert_string_equal(jstr(r1.a.json, "id"), jstr(r2.a.json, "id"));
		ans_free(&r1.a);
		ans_free(&r2.a);
		assert_int_equal(app_count(tenant_a,
		                           "SELECT count(*) FROM products WHERE sku = 'RACE-1'", 0,
		                           NULL),
		                 1);
	}

	/* an over-long key is refused */
	{
		char h[400];

		memset(h, 'k', sizeof(h));
		memcpy(h, "Idempotency-Key: ", 17);
		h[sizeof(h) - 1] = '\0';
		api(&a, "POST", "/api/v1/products", key_a, body, (const char *const[]){h, NULL});
		expect_error(&a, 400, "validation", "Idempotency-Key");
		ans_free(&a);
	}
	free(id);
}

/* API keys: listed without their secret, created with the secret shown once, revoked with
 * immediate effect; the last active key cannot be revoked; another tenant's key is 404. */
static void test_api_keys(void **state)
{
	struct ans a;
	char *key_c, *tid, *id_c, *id_new, *key_new, path[128];
	json_t *row;
	size_t i;

	(void)state;
	tid = testdb_tenant_create(&db, "shop-keys", &key_c);
	secret_add(key_c);

	api(&a, "GET", "/api/v1/api-keys", key_c, NULL, NULL);
	expect_status(&a, 200);
	assert_int_equal(json_array_size(json_object_get(a.json, "data")), 1);
	row = json_array_get(json_object_get(a.json, "data"), 0);
	assert_true(json_is_true(json_object_get(row, "active")));
	assert_null(json_object_get(row, "api_key"));
	assert_int_equal(strncmp(jstr(row, "prefix"), key_c, 12), 0);
	id_c = strdup(jstr(row, "id"));
	ans_free(&a);

	api(&a, "POST", "/api/v1/api-keys", key_c, "{\"name\":\"ops laptop\"}", NULL);
	expect_status(&a, 201);
	assert_string_equal(jstr(a.json, "name"), "ops laptop");
	assert_int_equal(strncmp(jstr(a.json, "api_key"), "ccgw_", 5), 0);
	key_new = strdup(jstr(a.json, "api_key"));
	id_new = strdup(jstr(a.json, "id"));
	ans_free(&a);
	secret_add(key_new);

	/* the new key works; the list has both, neither with its secret */
	api(&a, "GET", "/api/v1/products", key_new, NULL, NULL);
	expect_status(&a, 200);
	ans_free(&a);
	api(&a, "GET", "/api/v1/api-keys", key_new, NULL, NULL);
	assert_int_equal(json_array_size(json_object_get(a.json, "data")), 2);
	json_array_foreach(json_object_get(a.json, "data"), i, row)
		assert_null(json_object_get(row, "api_key"));
	ans_free(&a);

	/* validation; another tenant's key; an unknown id */
	api(&a, "POST", "/api/v1/api-keys", key_c, "{\"name\":\"\"}", NULL);
	expect_error(&a, 400, "validation", "name");
	ans_free(&a);
	api(&a, "POST", "/api/v1/api-keys", key_c, "{\"scope\":\"all\"}", NULL);
	expect_error(&a, 400, "validation", "scope");
	ans_free(&a);
	snprintf(path, sizeof(path), "/api/v1/api-keys/%s", id_new);
	api(&a, "DELETE", path, key_b, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "DELETE", "/api/v1/api-keys/5d1c0e2a-1111-4111-8111-000000000000", key_c, NULL, NULL);
	expect_error(&a, 404, "not_found", NULL);
	ans_free(&a);
	api(&a, "GET", "/api/v1/products", key_new, NULL, NULL);
	expect_status(&a, 200); /* B's attempt changed nothing */
	ans_free(&a);

	/* revoked: 401 at once */
	api(&a, "DELETE", path, key_c, NULL, NULL);
	expect_status(&a, 204);
	ans_free(&a);
	api(&a, "GET", "/api/v1/products", key_new, NULL, NULL);
	expect_error(&a, 401, "unauthorized", NULL);
	ans_free(&a);

	/* the last active key stays */
	snprintf(path, sizeof(path), "/api/v1/api-keys/%s", id_c);
	api(&a, "DELETE", path, key_c, NULL, NULL);
	expect_error(&a, 409, "last_key", NULL);
	ans_free(&a);
	api(&a, "GET", "/api/v1/api-keys", key_c, NULL, NULL);
	expect_status(&a, 200);
	json_array_foreach(json_object_get(a.json, "data"), i, row)
		assert_true(json_is_true(json_object_get(row, "active")) ==
		            (strcmp(jstr(row, "id"), id_c) == 0));
	ans_free(&a);
	free(id_c);
	free(id_new);
	free(tid);
}

/* Last: the server's log (at debug level) never held a secret. */
static void test_log_has_no_secret(void **state)
{
	FILE *f;
	char *log;
	long n;
	size_t i;

	(void)state;
	testsrv_stop(&srv);
	f = fopen(srv.log_path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	log = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(log, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	assert_true(n > 0);
	for (i = 0; i < nsecrets; i++)
		if (strstr(log, secrets_seen[i]))
			fail_msg("the server log holds the secret %s", secrets_seen[i]);
	free(log);
}

static int group_setup(void **state)
{
	static const char *const env[] = {"CCGW_LOG_LEVEL=debug", "CCGW_DISPATCH_WORKERS=0",
	                                  "CCGW_PUBLIC_URL=" PUBLIC_URL "/", NULL};
	static const char *const fixed[] = {
	    "EAAGwaAccessTok3nSECRET",
	    "appSecretWA9876",
	    "verifyTokWA5555",
	    "AAHtgBotTokenSECRETxyz",
	    "tgSecretTok_0001",
	    "EAAGrotatedTokenSECRET2",
	    "AAordersBotSECRET",
	    "ordersSecretTok",
	    "AApagingBotSECRET",
	    "pagingSecretTok",
	    "AAconvBotSECRET",
	    "convSecretTok",
	    "AAtargetsBotSECRET",
	    "targetsSecretTok",
	    "EAAtargetsWaSECRET",
	    "targetsAppSecret",
	    "targetsVerify",
	    "whSecretSigning42",
	    "AAidemBotSECRET",
	    "idemSecretTok",
	    "AAnokeySECRET",
	    "nokeyhook",
	    NULL,
	};
	size_t i;

	(void)state;
	testdb_setup(&db, "admin_api");
	tenant_a = testdb_tenant_create(&db, "shop-a", &key_a);
	tenant_b = testdb_tenant_create(&db, "shop-b", &key_b);
	assert_non_null(key_a);
	assert_non_null(key_b);
	secret_add(key_a);
	secret_add(key_b);
	for (i = 0; fixed[i]; i++)
		secret_add(fixed[i]);
	testsrv_start(&srv, &db, env);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (srv.pid)
		testsrv_stop(&srv);
	free(tenant_a);
	free(tenant_b);
	free(key_a);
	free(key_b);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auth),
	    cmocka_unit_test(test_channels),
	    cmocka_unit_test(test_channel_status_template),
	    cmocka_unit_test(test_channel_notify_template),
	    cmocka_unit_test(test_no_secret_key),
	    cmocka_unit_test(test_products),
	    cmocka_unit_test(test_products_paging),
	    cmocka_unit_test(test_products_bulk),
	    cmocka_unit_test(test_orders),
	    cmocka_unit_test(test_orders_paging),
	    cmocka_unit_test(test_conversations),
	    cmocka_unit_test(test_targets),
	    cmocka_unit_test(test_idempotency),
	    cmocka_unit_test(test_api_keys),
	    cmocka_unit_test(test_log_has_no_secret),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
