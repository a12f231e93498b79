/*
 * engine_fixture.c: the engine tests' shop and message helpers (see engine_fixture.h).
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

#include "engine_fixture.h"
#include "nlp.h"
#include "pg.h"
#include "tenant.h"
#include "util.h"

struct q_call {
	const char *sql;
	int n;
	const char *const *p;
	char *out;
	int exec;
};

static int q_tx(PGconn *conn, void *arg)
{
	struct q_call *q = arg;
	PGresult *r = pg_exec(conn, q->sql, q->n, q->p);

	if (!r)
		return -1;
	if (!q->exec)
		q->out =
		    strdup(PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return 0;
}

char *efx_q(struct efx *f, const char *tenant, const char *sql, int n, const char *const *p)
{
	struct q_call q = {sql, n, p, NULL, 0};

	if (pg_tx_run(f->conn, tenant ? tenant : f->tenant, q_tx, &q) < 0)
		fail_msg("query failed: %s: %s", sql, PQerrorMessage(f->conn));
	return q.out;
}

long efx_qlong(struct efx *f, const char *sql, int n, const char *const *p)
{
	char *s = efx_q(f, NULL, sql, n, p);
	long v = atol(s);

	free(s);
	return v;
}

void efx_exec(struct efx *f, const char *sql, int n, const char *const *p)
{
	struct q_call q = {sql, n, p, NULL, 1};

	if (pg_tx_run(f->conn, f->tenant, q_tx, &q) < 0)
		fail_msg("statement failed: %s: %s", sql, PQerrorMessage(f->conn));
}

static void product_add(struct efx *f, const char *tenant, const char *sku, const char *name,
                        const char *category, const char *price, const char *stock, char *id)
{
	char *s =
	    efx_q(f, tenant,
	          "INSERT INTO products (tenant_id, sku, name, category, price_minor, currency,"
	          " stock) VALUES (app_tenant_id(), $1, $2, $3, $4::bigint, 'KES', $5::int)"
	          " RETURNING id",
	          5, (const char *const[]){sku, name, category, price, stock});

	snprintf(id, 37, "%s", s);
	free(s);
}

void efx_setup(struct efx *f, const char *dbname)
{
	char err[512], key[TENANT_API_KEY_MAX], *s;

	memset(f, 0, sizeof(*f));
	testdb_setup(&f->db, dbname);
	f->conn = testdb_connect_app(&f->db);
	f->nlp = nlp_new(NULL, err, sizeof(err));
	if (!f->nlp)
		fail_msg("nlp: %s", err);
	f->engine = engine_new(f->nlp);
	assert_non_null(f->engine);
	assert_int_equal(
	    tenant_create(f->conn, "shop", "Test Shop", "KES", f->tenant, key, err, sizeof(err)),
	    0);
	assert_int_equal(tenant_create(f->conn, "other", "Other Shop", "KES", f->other_tenant, key,
	                               err, sizeof(err)),
	                 0);
	efx_exec(
	    f,
	    "UPDATE tenants SET settings = '{\"tax_bp\": 1600, \"delivery_fee_minor\": 20000,"
	    " \"payment_methods\": [{\"code\": \"cash_on_delivery\", \"label\": \"Cash on "
	    "delivery\","
	    " \"instructions\": \"Pay the rider in cash.\"}, {\"code\": \"mpesa\", \"label\":"
	    " \"M-Pesa\", \"instructions\": \"Till 123456.\"}]}'::jsonb WHERE id = app_tenant_id()",
	    0, NULL);
	s = efx_q(f, NULL, "SELECT id FROM channels WHERE type = 'webchat'", 0, NULL);
	snprintf(f->channel, sizeof(f->channel), "%s", s);
	free(s);
	product_add(f, NULL, "HNY-500", "Acacia Honey 500g", "Honey", "85000", "40", f->honey);
	product_add(f, NULL, "HNY-1K", "Forest Honey 1kg", "Honey", "160000", "1", f->forest);
	product_add(f, NULL, "MUG-1", "Enamel Chai Mug", "Kitchen", "55000", "100", f->mug);
	product_add(f, NULL, "SOAP-1", "Shea Butter Soap", "Beauty", "30000", "0", f->soap);
	product_add(f, f->other_tenant, "X-1", "Acacia Honey 500g", "Honey", "1000", "50",
	            f->other_product);
}

void efx_teardown(struct efx *f)
{
	engine_free(f->engine);
	nlp_free(f->nlp);
	PQfinish(f->conn);
}

struct send_call {
	struct engine *engine;
	const struct msg_inbound *m;
	struct engine_result res;
	int rc;
};

static int send_tx(PGconn *conn, void *arg)
{
	struct send_call *c = arg;

	c->rc = engine_handle(c->engine, conn, c->m, &c->res);
	return c->rc < 0 ? c->rc : 0;
}

void esent_clear(struct esent *s)
{
	free(s->text);
	free(s->last_reply);
	memset(s, 0, sizeof(*s));
}

void efx_send_msg(struct efx *f, PGconn *conn, struct msg_inbound *m, struct esent *out)
{
	struct send_call c;
	char mid[37];
	PGresult *r;
	int i, rc;
	struct sbuf b;

	memset(out, 0, sizeof(*out));
	if (!conn)
		conn = f->conn;
	if (!m->tenant_id[0])
		snprintf(m->tenant_id, sizeof(m->tenant_id), "%s", f->tenant);
	if (!m->channel_id[0]) {
		snprintf(m->channel_id, sizeof(m->channel_id), "%s", f->channel);
		m->channel = MSG_CHANNEL_WEBCHAT;
	}
	if (!m->message_id) {
		util_uuid_new(mid);
		m->message_id = strdup(mid);
	}
	snprintf(out->message_id, sizeof(out->message_id), "%s", m->message_id);
	memset(&c, 0, sizeof(c));
	c.engine = f->engine;
	c.m = m;
	rc = pg_tx_run(conn, m->tenant_id, send_tx, &c);
	out->rc = rc < 0 ? rc : c.rc;
	out->res = c.res;
	/* the replies this message caused, as the dispatcher would see them */
	PQclear(PQexec(conn, "BEGIN"));
	r = PQexecParams(conn, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL,
	                 (const char *const[]){m->tenant_id}, NULL, NULL, 0);
	PQclear(r);
	r = PQexecParams(conn,
	                 "SELECT payload->>'text', payload::text FROM outbox WHERE kind = 'reply'"
	                 " AND reply_to = $1 ORDER BY seq",
	                 1, NULL, (const char *const[]){out->message_id}, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("reading replies: %s", PQerrorMessage(conn));
	sbuf_init(&b);
	sbuf_puts(&b, "");
	for (i = 0; i < PQntuples(r); i++) {
		if (i)
			sbuf_puts(&b, "\n---\n");
		sbuf_puts(&b, PQgetvalue(r, i, 0));
	}
	out->nreplies = PQntuples(r);
	if (out->nreplies)
		out->last_reply = strdup(PQgetvalue(r, out->nreplies - 1, 1));
	out->text = sbuf_take(&b);
	PQclear(r);
	PQclear(PQexec(conn, "COMMIT"));
	msg_inbound_free(m);
}

void efx_send(struct efx *f, PGconn *conn, const char *chat, enum msg_kind kind,
              const char *text_or_payload, const char *message_id, struct esent *out)
{
	struct msg_inbound *m = msg_inbound_new();

	assert_non_null(m);
	m->chat_id = strdup(chat);
	m->user_id = strdup(chat);
	m->kind = kind;
	if (kind == MSG_KIND_POSTBACK)
		m->payload = strdup(text_or_payload);
	else if (text_or_payload)
		m->text = strdup(text_or_payload);
	if (message_id)
		m->message_id = strdup(message_id);
	efx_send_msg(f, conn, m, out);
}

void efx_text(struct efx *f, const char *chat, const char *text, struct esent *out)
{
	efx_send(f, NULL, chat, MSG_KIND_TEXT, text, NULL, out);
	if (out->rc < 0)
		fail_msg("engine failed (%d) on \"%s\"", out->rc, text);
}

void efx_postback(struct efx *f, const char *chat, const char *payload, struct esent *out)
{
	efx_send(f, NULL, chat, MSG_KIND_POSTBACK, payload, NULL, out);
	if (out->rc < 0)
		fail_msg("engine failed (%d) on postback %s", out->rc, payload);
}

void efx_step(struct efx *f, const char *chat, const char *text, const char *expect)
{
	struct esent s;

	efx_text(f, chat, text, &s);
	assert_int_equal(s.rc, 0);
	if (expect && !strstr(s.text, expect))
		assert_contains(s.last_reply, expect); /* in a button or list row */
	esent_clear(&s);
}

void efx_tap(struct efx *f, const char *chat, const char *payload, const char *expect)
{
	struct esent s;

	efx_postback(f, chat, payload, &s);
	assert_int_equal(s.rc, 0);
	if (expect && !strstr(s.text, expect))
		assert_contains(s.last_reply, expect);
	esent_clear(&s);
}

char *efx_conv_of(struct efx *f, const char *chat)
{
	return efx_q(f, NULL, "SELECT id FROM conversations WHERE external_chat_id = $1", 1,
	             (const char *const[]){chat});
}
