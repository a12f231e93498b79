/*
 * dispatch_fixture.c: rows and mock helpers for the dispatcher's integration tests (see
 * dispatch_fixture.h). Rows are written as the application role with app.tenant_id set, the
 * way the engine and the admin API write them; secrets are sealed with the test's key.
 */
#include "dispatch_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "secrets.h"
#include "testsrv.h"
#include "util.h"

void fx_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

void fx_setup(struct fx *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	testdb_setup(&f->db, name);
	f->conn = testdb_connect_app(&f->db);
	f->mock_pid = testsrv_spawn_mock("sink_mock.py", NULL, &f->mock_port);
	snprintf(f->mock_url, sizeof(f->mock_url), "http://127.0.0.1:%d", f->mock_port);
}

void fx_teardown(struct fx *f)
{
	if (f->mock_pid > 0)
		testsrv_stop_pid(f->mock_pid);
	f->mock_pid = 0;
	PQfinish(f->conn);
	f->conn = NULL;
}

static void fx_cmd(struct fx *f, const char *sql, int n, const char *const *p)
{
	PGresult *r = PQexecParams(f->conn, sql, n, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(f->conn));
	PQclear(r);
}

char *fx_q(struct fx *f, const char *tenant, const char *sql, int n, const char *const *p)
{
	const char *tp[1] = {tenant ? tenant : ""};
	PGresult *r;
	char *v;

	fx_cmd(f, "BEGIN", 0, NULL);
	fx_cmd(f, "SELECT set_config('app.tenant_id', $1, true)", 1, tp);
	r = PQexecParams(f->conn, sql, n, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(f->conn));
		PQclear(r);
		fx_cmd(f, "ROLLBACK", 0, NULL);
		fail_msg("%s: %s", sql, msg);
	}
	v = strdup(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)
	               ? PQgetvalue(r, 0, 0)
	               : "");
	PQclear(r);
	fx_cmd(f, "COMMIT", 0, NULL);
	return v;
}

long fx_ql(struct fx *f, const char *tenant, const char *sql, int n, const char *const *p)
{
	char *v = fx_q(f, tenant, sql, n, p);
	long l = atol(v);

	free(v);
	return l;
}

char *fx_tenant(struct fx *f, const char *slug)
{
	char id[37];
	const char *p[2] = {id, slug};

	util_uuid_new(id);
	return fx_q(
	    f, id,
	    "INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'Shop ' || $2) RETURNING id", 2,
	    p);
}

static char *sealed_bytea(struct fx *f, const char *tenant, const char *plain)
{
	unsigned char key[32], *sealed = NULL;
	size_t len = 0;
	char *text;

	assert_int_equal(secrets_key_parse(f->db.secret_key, key), 0);
	assert_int_equal(secrets_seal(key, tenant, plain, strlen(plain), &sealed, &len), 0);
	text = secrets_bytea_encode(sealed, len);
	free(sealed);
	assert_non_null(text);
	return text;
}

char *fx_wa_channel(struct fx *f, const char *tenant, const char *pnid)
{
	char config[128], secrets[128], *bytea, *id;
	const char *p[4];

	snprintf(config, sizeof(config), "{\"phone_number_id\": \"%s\"}", pnid);
	snprintf(secrets, sizeof(secrets),
	         "{\"access_token\": \"tok-%s\", \"app_secret\": \"as-%s\"}", pnid, pnid);
	bytea = sealed_bytea(f, tenant, secrets);
	p[0] = tenant;
	p[1] = pnid;
	p[2] = config;
	p[3] = bytea;
	id = fx_q(f, tenant,
	          "INSERT INTO channels (tenant_id, type, name, external_id, config, secrets)"
	          " VALUES ($1, 'whatsapp', 'wa ' || $2, $2, $3::jsonb, $4::bytea) RETURNING id",
	          4, p);
	free(bytea);
	return id;
}

char *fx_channel(struct fx *f, const char *tenant, const char *type, const char *external_id)
{
	const char *p[3] = {tenant, type, external_id};

	return fx_q(
	    f, tenant,
	    "INSERT INTO channels (tenant_id, type, external_id) VALUES ($1, $2, $3) RETURNING id",
	    3, p);
}

char *fx_conversation(struct fx *f, const char *tenant, const char *channel, const char *chat)
{
	const char *p[3] = {tenant, channel, chat};

	return fx_q(
	    f, tenant,
	    "INSERT INTO conversations (tenant_id, channel_id, external_chat_id, external_user_id,"
	    " last_inbound_at) VALUES ($1, $2, $3, $3, now() - interval '1 minute') RETURNING id",
	    3, p);
}

char *fx_reply(struct fx *f, const char *tenant, const char *conv, const char *channel,
               const char *chat, const char *text)
{
	const char *p[5] = {tenant, conv, channel, chat, text};

	return fx_q(
	    f, tenant,
	    "INSERT INTO outbox (tenant_id, kind, conversation_id, channel_id, recipient, payload)"
	    " VALUES ($1, 'reply', $2, $3, $4, jsonb_build_object('text', $5::text)) RETURNING id",
	    5, p);
}

static char *text_array(char **v, int n)
{
	struct sbuf b;
	int i;

	sbuf_init(&b);
	sbuf_puts(&b, "{");
	for (i = 0; i < n; i++)
		sbuf_printf(&b, "%s\"%s\"", i ? "," : "", v[i]); /* uuids and digits only */
	sbuf_puts(&b, "}");
	return sbuf_take(&b);
}

void fx_replies_bulk(struct fx *f, const char *tenant, const char *channel, char **convs,
                     char **chats, int nconv, int nmsg, const char *prefix)
{
	char *ca = text_array(convs, nconv), *ch = text_array(chats, nconv), nm[16];
	const char *p[6] = {tenant, channel, ca, ch, nm, prefix};

	snprintf(nm, sizeof(nm), "%d", nmsg);
	free(fx_q(
	    f, tenant,
	    "INSERT INTO outbox (tenant_id, kind, conversation_id, channel_id, recipient, payload)"
	    " SELECT $1, 'reply', c.conv::uuid, $2, c.chat,"
	    "   jsonb_build_object('text', $6 || c.ord || '-' || m)"
	    " FROM generate_series(1, $5::integer) AS m,"
	    "   unnest($3::text[], $4::text[]) WITH ORDINALITY AS c(conv, chat, ord)"
	    " ORDER BY m, c.ord",
	    6, p));
	free(ca);
	free(ch);
}

char *fx_webhook_target(struct fx *f, const char *tenant, const char *url, const char *secret)
{
	char *bytea = sealed_bytea(f, tenant, secret), *id;
	const char *p[3] = {tenant, url, bytea};

	id = fx_q(f, tenant,
	          "INSERT INTO notification_targets (tenant_id, kind, url, secret) VALUES ($1, "
	          "'webhook', $2,"
	          " $3::bytea) RETURNING id",
	          3, p);
	free(bytea);
	return id;
}

char *fx_webhook(struct fx *f, const char *tenant, const char *target, const char *url,
                 const char *event_id)
{
	const char *p[5] = {tenant, target, url, event_id, tenant};

	return fx_q(
	    f, tenant,
	    "INSERT INTO outbox (tenant_id, kind, target_id, recipient, event_type, payload)"
	    " VALUES ($1, 'webhook', $2, $3, 'order.placed', jsonb_build_object('event', "
	    "'order.placed',"
	    " 'event_id', $4::text, 'tenant_id', $5::text, 'order', "
	    "jsonb_build_object('order_number', 1001,"
	    " 'status', 'pending', 'note', 'caf\u00e9 \"quoted\" <b>'))) RETURNING id",
	    5, p);
}

long fx_count(struct fx *f, const char *tenant, const char *status)
{
	const char *p[1] = {status};

	if (!status)
		return fx_ql(f, tenant, "SELECT count(*) FROM outbox", 0, NULL);
	return fx_ql(f, tenant, "SELECT count(*) FROM outbox WHERE status = $1", 1, p);
}

int fx_wait_count(struct fx *f, const char *tenant, const char *status, long n, int timeout_s)
{
	int i;

	for (i = 0; i < timeout_s * 20; i++) {
		if (fx_count(f, tenant, status) == n)
			return 0;
		fx_sleep_ms(50);
	}
	return -1;
}

static void mock_post(struct fx *f, const char *path, const char *body)
{
	char url[128];
	struct testhttp_resp r;

	snprintf(url, sizeof(url), "%s%s", f->mock_url, path);
	testhttp_request("POST", url, NULL, body, strlen(body), &r);
	assert_int_equal(r.status, 200);
	testhttp_resp_clear(&r);
}

void fx_mock_reset(struct fx *f)
{
	mock_post(f, "/__reset", "{}");
}

void fx_mock_rules(struct fx *f, const char *rules_json)
{
	mock_post(f, "/__rules", rules_json);
}

void fx_mock_clear_rules(struct fx *f)
{
	mock_post(f, "/__clear_rules", "{}");
}

void fx_mock_secret(struct fx *f, const char *prefix, const char *secret)
{
	json_t *o = json_pack("{s:s, s:s}", "prefix", prefix, "secret", secret);
	char *s = json_dumps(o, 0);

	mock_post(f, "/__secret", s);
	free(s);
	json_decref(o);
}

json_t *fx_mock_requests(struct fx *f)
{
	char url[128];
	struct testhttp_resp r;
	json_t *v;

	snprintf(url, sizeof(url), "%s/__requests", f->mock_url);
	testhttp_request("GET", url, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	v = json_loads(r.body, 0, NULL);
	testhttp_resp_clear(&r);
	assert_true(json_is_array(v));
	return v;
}

const char *fx_req_text(const json_t *req, char *buf, size_t len)
{
	json_t *body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
	const char *t = json_string_value(json_object_get(json_object_get(body, "text"), "body"));

	if (!t) {
		json_decref(body);
		return NULL;
	}
	snprintf(buf, len, "%s", t);
	json_decref(body);
	return buf;
}

int fx_assert_in_order(const json_t *reqs, const char *prefix, int nmsg)
{
	int last[1024] = {0}, seen = 0, c, m;
	size_t i, plen = strlen(prefix);
	json_t *r;
	char buf[256];

	json_array_foreach(reqs, i, r)
	{
		const char *t = fx_req_text(r, buf, sizeof(buf));

		if (!t || strncmp(t, prefix, plen) != 0)
			continue;
		if (sscanf(t + plen, "%d-%d", &c, &m) != 2 || c < 1 || c >= 1024)
			fail_msg("unexpected text %s", t);
		if (m <= last[c])
			continue; /* a repeat of a message already seen (at least once) */
		if (m != last[c] + 1)
			fail_msg("conversation %d: message %d arrived before message %d", c, m,
			         last[c] + 1);
		if (last[c] == 0)
			seen++;
		last[c] = m;
	}
	for (c = 1; c < 1024; c++)
		if (last[c] && last[c] != nmsg)
			fail_msg("conversation %d: only %d of %d messages arrived", c, last[c],
			         nmsg);
	return seen;
}

void fx_conversations(struct fx *f, const char *tenant, const char *channel,
                      const char *chat_prefix, int n, char **convs, char **chats)
{
	char chat[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(chat, sizeof(chat), "%s%04d", chat_prefix, i + 1);
		chats[i] = strdup(chat);
		convs[i] = fx_conversation(f, tenant, channel, chat);
	}
}

void fx_strings_free(char **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i]);
}

json_t *fx_mock_requests_for(struct fx *f, const char *part)
{
	json_t *all = fx_mock_requests(f), *out = json_array(), *r;
	size_t i;

	json_array_foreach(all, i, r) if (strstr(json_string_value(json_object_get(r, "path")),
	                                         part)) json_array_append(out, r);
	json_decref(all);
	return out;
}
